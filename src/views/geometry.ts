/**
 * Pure geometry for the scatter view: point-in-polygon with the filter language's semantics,
 * the box/lasso selection mask, lasso simplification, the pixel <-> data mapping of a zoomed
 * view, and a uniform grid for hover look-ups. No DOM, no JupyterLab: tests call these directly.
 */

import type { Point } from './types';

// Point in polygon and the shapes' mask are the model's too: they live in the leaf module table/.
export { axisAlignedBox, BandedPolygon, boxPolygon, pointInPolygon, polygonBounds, shapesMask } from '../table/mask';

// ---------------------------------------------------------------------------------------------
// Lasso

/** Pixels between kept lasso vertices while drawing: finer detail is jitter of the hand. */
export const LASSO_MIN_DISTANCE = 2;
/** Most vertices a lasso keeps: bounds both the mask's cost and the saved filter string. */
export const LASSO_MAX_VERTICES = 500;

/**
 * Append `p` to a lasso being drawn unless it is closer than `minDistance` to the last kept
 * vertex. Returns whether it was kept. Coordinates are pixels, so the threshold is visual.
 */
export function appendLassoPoint(
  points: Point[],
  p: Point,
  minDistance: number = LASSO_MIN_DISTANCE
): boolean {
  const last = points[points.length - 1];
  if (last && Math.hypot(p[0] - last[0], p[1] - last[1]) < minDistance) {
    return false;
  }
  points.push(p);
  return true;
}

/**
 * A lasso with no two consecutive vertices closer than `minDistance` (nor the last one closer
 * than that to the first: the polygon closes itself) and at most `maxVertices` vertices: when
 * it has more, the distance doubles until it fits, which thins the path evenly along its length.
 */
export function simplifyLasso(
  points: readonly Point[],
  minDistance: number = LASSO_MIN_DISTANCE,
  maxVertices: number = LASSO_MAX_VERTICES
): Point[] {
  let d = Math.max(minDistance, 0);
  for (;;) {
    const kept = thinPath(points, d);
    if (kept.length <= maxVertices) {
      return kept;
    }
    d = d > 0 ? d * 2 : 1;
    if (!Number.isFinite(d)) {
      return kept.slice(0, Math.max(maxVertices, 0));
    }
  }
}

/** The vertices of a closed path kept by appendLassoPoint at distance d, closing gap included. */
function thinPath(points: readonly Point[], d: number): Point[] {
  const kept: Point[] = [];
  for (const p of points) {
    appendLassoPoint(kept, p, d);
  }
  if (kept.length > 3) {
    const first = kept[0];
    const last = kept[kept.length - 1];
    if (Math.hypot(last[0] - first[0], last[1] - first[1]) < d) {
      kept.pop();
    }
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Zoomed view: which data rectangle fills the plot area

/**
 * What the plot shows: the data rectangle [x0, x1] x [y0, y1] mapped onto a plot area of
 * width x height CSS pixels, y growing upwards. Zoom and pan change the rectangle only, so the
 * shapes, kept in data units, select the same rows at every zoom.
 */
export interface IView {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  width: number;
  height: number;
}

/** Pixel position (from the plot area's top left) of a data point. */
export function dataToPixel(view: IView, x: number, y: number): Point {
  return [
    ((x - view.x0) / (view.x1 - view.x0)) * view.width,
    view.height - ((y - view.y0) / (view.y1 - view.y0)) * view.height
  ];
}

/** Data point at a pixel position of the plot area: the inverse of dataToPixel. */
export function pixelToData(view: IView, px: number, py: number): Point {
  return [
    view.x0 + (px / view.width) * (view.x1 - view.x0),
    view.y0 + ((view.height - py) / view.height) * (view.y1 - view.y0)
  ];
}

/** Pixels per data unit along x and y (positive). */
export function viewScale(view: IView): [number, number] {
  return [view.width / (view.x1 - view.x0), view.height / (view.y1 - view.y0)];
}

/**
 * The view zoomed by `factor` (> 1 zooms in) about the pixel (px, py), which keeps showing the
 * same data point. A zoom that would make a span too small to represent, or not finite, is
 * refused (the view is returned unchanged) rather than collapsing the plot.
 */
export function zoomView(view: IView, px: number, py: number, factor: number): IView {
  if (!(factor > 0) || !Number.isFinite(factor)) {
    return view;
  }
  const [cx, cy] = pixelToData(view, px, py);
  const next: IView = {
    ...view,
    x0: cx - (cx - view.x0) / factor,
    x1: cx + (view.x1 - cx) / factor,
    y0: cy - (cy - view.y0) / factor,
    y1: cy + (view.y1 - cy) / factor
  };
  return spanOk(next.x0, next.x1) && spanOk(next.y0, next.y1) ? next : view;
}

/** A span that float32 data and doubles can still resolve into pixels. */
function spanOk(a: number, b: number): boolean {
  const span = b - a;
  return Number.isFinite(a) && Number.isFinite(b) && span > 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

/** The view moved so that the content follows a drag of (dx, dy) pixels. */
export function panView(view: IView, dx: number, dy: number): IView {
  const [sx, sy] = viewScale(view);
  const ddx = dx / sx;
  const ddy = dy / sy;
  return { ...view, x0: view.x0 - ddx, x1: view.x1 - ddx, y0: view.y0 + ddy, y1: view.y1 + ddy };
}

/** Wheel zoom factor for a wheel event's deltaY and deltaMode (0 pixels, 1 lines, 2 pages). */
export function wheelFactor(deltaY: number, deltaMode: number): number {
  const pixels = deltaY * (deltaMode === 1 ? 16 : deltaMode === 2 ? 400 : 1);
  return Math.pow(2, -pixels / 500);
}

/**
 * The view that shows every finite point with a `pad` fraction of margin on each side. A
 * single value gets a unit-wide span around it, no finite value at all the span [0, 1].
 */
export function homeView(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  width: number,
  height: number,
  pad = 0.04
): IView {
  const [x0, x1] = paddedExtent(x, pad);
  const [y0, y1] = paddedExtent(y, pad);
  return { x0, x1, y0, y1, width, height };
}

function paddedExtent(v: ArrayLike<number>, pad: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const a = v[i];
    if (a < lo && a > -Infinity) lo = a;
    if (a > hi && a < Infinity) hi = a;
  }
  if (lo > hi) {
    return [0, 1];
  }
  if (lo === hi) {
    const half = Math.max(Math.abs(lo) * 0.05, 0.5);
    return [lo - half, hi + half];
  }
  const m = (hi - lo) * pad;
  return [lo - m, hi + m];
}

// ---------------------------------------------------------------------------------------------
// Hover look-up

/**
 * A uniform grid over the finite points, in data units, built once per data set in two O(n)
 * passes (counting sort into CSR arrays: 4 bytes a point, no per-point objects, so 1M rows
 * build in milliseconds). Being in data units it survives zoom and resize; the nearest-point
 * query takes the current pixels-per-unit so that "within 8 px" is measured on screen.
 */
export class PointGrid {
  readonly size: number;
  private readonly x0: number;
  private readonly y0: number;
  private readonly cw: number;
  private readonly ch: number;
  private readonly start: Int32Array;
  private readonly rows: Int32Array;

  constructor(
    private readonly x: ArrayLike<number>,
    private readonly y: ArrayLike<number>
  ) {
    const n = x.length;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const a = x[i];
      const b = y[i];
      // a - a === 0 is false exactly for NaN and +-Infinity.
      if (a - a === 0 && b - b === 0) {
        count++;
        if (a < x0) x0 = a;
        if (a > x1) x1 = a;
        if (b < y0) y0 = b;
        if (b > y1) y1 = b;
      }
    }
    // About one point a cell on average, at most 1024 x 1024 cells.
    const size = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(count))));
    this.size = size;
    this.x0 = count ? x0 : 0;
    this.y0 = count ? y0 : 0;
    this.cw = count && x1 > x0 ? (x1 - x0) / size : 1;
    this.ch = count && y1 > y0 ? (y1 - y0) / size : 1;
    const cell = new Int32Array(n);
    const start = new Int32Array(size * size + 1);
    for (let i = 0; i < n; i++) {
      const a = x[i];
      const b = y[i];
      if (a - a === 0 && b - b === 0) {
        const c = this.cellY(b) * size + this.cellX(a);
        cell[i] = c;
        start[c + 1]++;
      } else {
        cell[i] = -1;
      }
    }
    for (let c = 0; c < size * size; c++) {
      start[c + 1] += start[c];
    }
    const fill = start.slice(0, size * size);
    const rows = new Int32Array(count);
    for (let i = 0; i < n; i++) {
      const c = cell[i];
      if (c >= 0) {
        rows[fill[c]++] = i;
      }
    }
    this.start = start;
    this.rows = rows;
  }

  private cellX(v: number): number {
    return Math.max(0, Math.min(this.size - 1, Math.floor((v - this.x0) / this.cw)));
  }

  private cellY(v: number): number {
    return Math.max(0, Math.min(this.size - 1, Math.floor((v - this.y0) / this.ch)));
  }

  /**
   * The row nearest to the data point (qx, qy) within `radius` screen pixels, given `sx`, `sy`
   * pixels per data unit, among the rows `accept` admits (the visible ones); -1 if none. Ties
   * go to the lower row number, so the answer does not depend on the grid.
   */
  nearest(
    qx: number,
    qy: number,
    sx: number,
    sy: number,
    radius: number,
    accept?: (row: number) => boolean
  ): number {
    if (!(sx > 0) || !(sy > 0) || Number.isNaN(qx) || Number.isNaN(qy)) {
      return -1;
    }
    const rx = radius / sx;
    const ry = radius / sy;
    const cx0 = this.cellX(qx - rx);
    const cx1 = this.cellX(qx + rx);
    const cy0 = this.cellY(qy - ry);
    const cy1 = this.cellY(qy + ry);
    let best = -1;
    let bestD2 = radius * radius;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * this.size + cx;
        for (let k = this.start[c]; k < this.start[c + 1]; k++) {
          const r = this.rows[k];
          const dx = (this.x[r] - qx) * sx;
          const dy = (this.y[r] - qy) * sy;
          const d2 = dx * dx + dy * dy;
          if ((d2 < bestD2 || (d2 === bestD2 && r < best)) && (!accept || accept(r))) {
            best = r;
            bestD2 = d2;
          }
        }
      }
    }
    return best;
  }
}

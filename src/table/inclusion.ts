/**
 * A polygon's inclusion table: which rows a lasso keeps, with one table look-up per row and
 * the exact point-in-polygon test only for the rows near its edges.
 *
 * The polygon's bounding box is cut into a grid of cells. A cell that an edge passes through,
 * or next to one, is a boundary cell: its rows are tested exactly (BandedPolygon, PNPOLY with
 * the filter language's arithmetic). Every other cell lies at least a whole cell away from all
 * edges, so no edge separates its points: they are all inside or all outside, as its centre is
 * (PNPOLY's rounding, an ulp or so, is far smaller than a cell), and rounding a row into the
 * neighbouring cell lands it in a cell of the same answer or a boundary cell. So the table
 * selects exactly the rows pointInPolygon selects, points on edges included, while a lasso of
 * hundreds of vertices over a million rows costs a look-up per row and a few exact tests.
 */
import { BandedPolygon, polygonBounds } from './mask';
import type { Point } from './types';

/** Cell states. */
const OUTSIDE = 0;
const INSIDE = 1;
const BOUNDARY = 2;

/** Cells per side at most (the table is cells^2 bytes, rebuilt per lasso move). */
export const MAX_CELLS = 256;

export class InclusionTable {
  /**
   * @param polygon the lasso's vertices (at least 3 for it to contain anything)
   * @param cells cells per side of the grid over its bounding box
   */
  constructor(polygon: readonly Point[], cells: number = MAX_CELLS) {
    this._exact = new BandedPolygon(polygon);
    const [x0, y0, x1, y1] = polygonBounds(polygon);
    this._x0 = x0;
    this._y0 = y0;
    this._x1 = x1;
    this._y1 = y1;
    const n = Math.max(1, Math.min(MAX_CELLS, Math.floor(cells)));
    this._n = n;
    this._kx = x1 > x0 ? n / (x1 - x0) : 0;
    this._ky = y1 > y0 ? n / (y1 - y0) : 0;
    this._cells = new Uint8Array(n * n);
    if (polygon.length >= 3 && this._kx > 0 && this._ky > 0) {
      this._markEdges(polygon);
      this._classify();
    }
  }

  /** The number of cells per side. */
  get size(): number {
    return this._n;
  }

  /** pointInPolygon(x, y, polygon): a look-up, or the exact test near an edge. */
  contains(x: number, y: number): boolean {
    // Outside the bounding box (NaN included): the exact test's own first rejection.
    if (!(x >= this._x0 && x <= this._x1 && y >= this._y0 && y <= this._y1)) {
      return this._exact.contains(x, y);
    }
    const state = this._cells[this._cellOf(x, y)];
    return state === BOUNDARY ? this._exact.contains(x, y) : state === INSIDE;
  }

  /**
   * Sets out[i] = value for the rows inside the polygon whose entry differs from it (an add
   * skips rows already in, a subtract rows already out), as mask.ts's applyPolygon.
   */
  apply(x: ArrayLike<number>, y: ArrayLike<number>, out: Uint8Array, value: 0 | 1): void {
    const { _x0: x0, _y0: y0, _x1: x1, _y1: y1, _kx: kx, _ky: ky, _n: n, _cells: cells } = this;
    if (kx === 0 || ky === 0) {
      // A degenerate box (no width or height): PNPOLY keeps nothing strictly inside it, but the
      // exact test decides, as always.
      for (let i = 0, rows = out.length; i < rows; i++) {
        if (out[i] !== value && this._exact.contains(x[i], y[i])) {
          out[i] = value;
        }
      }
      return;
    }
    const last = n - 1;
    const margin = 8 * Number.EPSILON * (Math.abs(x0) + Math.abs(x1));
    const xa = x0 - margin;
    const xb = x1 + margin;
    for (let i = 0, rows = out.length; i < rows; i++) {
      if (out[i] === value) {
        continue;
      }
      const px = x[i];
      const py = y[i];
      // Outside the bounding box nothing is inside (NaN fails these tests too). Along x a
      // crossing abscissa can round an ulp past the vertices: a row within that margin of the
      // box is tested exactly, as BandedPolygon keeps the same margin.
      if (!(py >= y0 && py <= y1 && px >= xa && px <= xb)) {
        continue;
      }
      if (px < x0 || px > x1) {
        if (this._exact.contains(px, py)) {
          out[i] = value;
        }
        continue;
      }
      let cx = ((px - x0) * kx) | 0;
      let cy = ((py - y0) * ky) | 0;
      cx = cx > last ? last : cx;
      cy = cy > last ? last : cy;
      const state = cells[cy * n + cx];
      if (state === INSIDE || (state === BOUNDARY && this._exact.contains(px, py))) {
        out[i] = value;
      }
    }
  }

  private _cellOf(x: number, y: number): number {
    const last = this._n - 1;
    const cx = Math.min(last, Math.max(0, ((x - this._x0) * this._kx) | 0));
    const cy = Math.min(last, Math.max(0, ((y - this._y0) * this._ky) | 0));
    return cy * this._n + cx;
  }

  /**
   * Marks as BOUNDARY every cell an edge passes through and its 8 neighbours: per row of cells
   * the edge spans, the cells under the edge's x-extent within that row's band, one more on
   * either side, in that row and the rows above and below.
   */
  private _markEdges(polygon: readonly Point[]): void {
    const n = this._n;
    const cells = this._cells;
    const toX = (x: number): number => (x - this._x0) * this._kx;
    const toY = (y: number): number => (y - this._y0) * this._ky;
    const mark = (row: number, from: number, to: number): void => {
      for (let r = row - 1; r <= row + 1; r++) {
        if (r < 0 || r >= n) {
          continue;
        }
        const a = Math.max(0, from - 1);
        const b = Math.min(n - 1, to + 1);
        cells.fill(BOUNDARY, r * n + a, r * n + b + 1);
      }
    };
    let [xj, yj] = polygon[polygon.length - 1];
    for (const [xi, yi] of polygon) {
      const ax = toX(xj);
      const ay = toY(yj);
      const bx = toX(xi);
      const by = toY(yi);
      const lowY = Math.min(ay, by);
      const highY = Math.max(ay, by);
      const r0 = Math.floor(lowY);
      const r1 = Math.floor(highY);
      for (let r = r0; r <= r1; r++) {
        // The edge's x-extent where its y lies within row r's band [r, r + 1].
        const ya = Math.max(lowY, r);
        const yb = Math.min(highY, r + 1);
        let xa: number;
        let xb: number;
        if (by === ay) {
          xa = Math.min(ax, bx);
          xb = Math.max(ax, bx);
        } else {
          const ta = (ya - ay) / (by - ay);
          const tb = (yb - ay) / (by - ay);
          const pa = ax + ta * (bx - ax);
          const pb = ax + tb * (bx - ax);
          xa = Math.min(pa, pb);
          xb = Math.max(pa, pb);
        }
        mark(r, Math.floor(xa), Math.floor(xb));
      }
      xj = xi;
      yj = yi;
    }
  }

  /** Every cell not on the boundary takes its centre's answer. */
  private _classify(): void {
    const n = this._n;
    const cells = this._cells;
    for (let r = 0; r < n; r++) {
      const cy = this._y0 + (r + 0.5) / this._ky;
      for (let c = 0; c < n; c++) {
        const k = r * n + c;
        if (cells[k] !== BOUNDARY) {
          const cx = this._x0 + (c + 0.5) / this._kx;
          cells[k] = this._exact.contains(cx, cy) ? INSIDE : OUTSIDE;
        }
      }
    }
  }

  private readonly _exact: BandedPolygon;
  private readonly _x0: number;
  private readonly _y0: number;
  private readonly _x1: number;
  private readonly _y1: number;
  private readonly _n: number;
  private readonly _kx: number;
  private readonly _ky: number;
  private readonly _cells: Uint8Array;
}

/** The cells per side for a polygon tested against `rows` rows: fewer for few rows. */
export function inclusionCells(rows: number): number {
  return Math.max(8, Math.min(MAX_CELLS, Math.round(Math.sqrt(rows) / 4)));
}

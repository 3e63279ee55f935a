/**
 * A lasso as a person would write it (issue 14): a hand-drawn path has hundreds of vertices
 * with ten significant digits; its filter string should have a couple dozen, rounded to the
 * data's precision, and select the same rows. Ramer–Douglas–Peucker from the top down (the
 * vertex farthest from the polygon kept so far joins it next), in units of each axis's extent,
 * stopping at the fewest vertices that keep the selected set of the data on screen; then the
 * vertices are rounded to the coarsest step of the axis's extent that still keeps it.
 */
import { boxPolygon, pointInPolygon, polygonBounds } from '../table/mask';
import type { Point } from '../table/types';
import { roundRange } from './filterString';

/** Most vertices a lasso's filter string keeps. */
export const MAX_LASSO_VERTICES = 24;

/**
 * The first `count` vertices that top-down RDP keeps, in the polygon's order. `sx` and `sy`
 * scale the axes to comparable units (their extents), so a distance means the same on both.
 */
export function simplifyPolygon(polygon: readonly Point[], count: number, sx = 1, sy = 1): Point[] {
  const n = polygon.length;
  if (n <= Math.max(count, 3)) {
    return polygon.map(p => [p[0], p[1]]);
  }
  const px = polygon.map(p => p[0] / sx);
  const py = polygon.map(p => p[1] / sy);
  // Start from vertex 0 and the vertex farthest from it: a closed polygon has no end points.
  let far = 0;
  let best = -1;
  for (let i = 1; i < n; i++) {
    const d = Math.hypot(px[i] - px[0], py[i] - py[0]);
    if (d > best) {
      best = d;
      far = i;
    }
  }
  const kept = [0, far];
  const distance = (i: number, a: number, b: number): number => {
    const dx = px[b] - px[a];
    const dy = py[b] - py[a];
    const len = Math.hypot(dx, dy);
    return len === 0 ? Math.hypot(px[i] - px[a], py[i] - py[a]) : Math.abs(dx * (py[i] - py[a]) - dy * (px[i] - px[a])) / len;
  };
  while (kept.length < count) {
    // The vertex farthest from the segment of kept vertices it lies between (cyclically).
    let pick = -1;
    let pickDistance = -1;
    for (let k = 0; k < kept.length; k++) {
      const a = kept[k];
      const b = kept[(k + 1) % kept.length];
      for (let i = (a + 1) % n; i !== b; i = (i + 1) % n) {
        const d = distance(i, a, b);
        if (d > pickDistance) {
          pickDistance = d;
          pick = i;
        }
      }
    }
    if (pick < 0 || pickDistance === 0) {
      break; // every vertex left lies on the polygon kept
    }
    kept.push(pick);
    kept.sort((a, b) => a - b);
  }
  return kept.map(i => [polygon[i][0], polygon[i][1]]);
}

/** `value` rounded to a multiple of `step`, without binary noise. */
function roundTo(value: number, step: number): number {
  return Number((Math.round(value / step) * step).toPrecision(12));
}

/** Powers of ten from 4 down to 7 significant digits of an extent (coarsest first). */
function steps(extent: number): number[] {
  if (!(extent > 0) || !Number.isFinite(extent)) {
    return [];
  }
  const top = Math.floor(Math.log10(extent));
  return [3, 4, 5, 6].map(k => Math.pow(10, top - k));
}

/**
 * The lasso's filter polygon: at most `maxVertices` vertices rounded to the data's precision,
 * selecting the same rows of (x, y) as `polygon` where some such polygon does (else the closest
 * one found: the most vertices, the finest rounding). `x` and `y` are the points on screen.
 */
export function readableLasso(
  polygon: readonly Point[],
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  maxVertices = MAX_LASSO_VERTICES
): Point[] {
  if (polygon.length < 3) {
    return polygon.map(p => [p[0], p[1]]);
  }
  const [bx0, by0, bx1, by1] = polygonBounds(polygon);
  const sx = bx1 - bx0 || 1;
  const sy = by1 - by0 || 1;
  // Rows that matter: inside the lasso's box, padded by a rounding step (rounding may move an edge there).
  const pad = 1e-3;
  const rows: number[] = [];
  for (let i = 0, n = Math.min(x.length, y.length); i < n; i++) {
    const px = x[i];
    const py = y[i];
    if (px >= bx0 - pad * sx && px <= bx1 + pad * sx && py >= by0 - pad * sy && py <= by1 + pad * sy) {
      rows.push(i);
    }
  }
  const wanted = rows.map(i => pointInPolygon(x[i], y[i], polygon));
  const keeps = (candidate: readonly Point[]): boolean =>
    rows.every((i, k) => pointInPolygon(x[i], y[i], candidate) === wanted[k]);

  // The data's precision: the axes' extents over all the points, as brushes round to.
  const extent = (v: ArrayLike<number>): number => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < v.length; i++) {
      const value = v[i];
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
    return hi > lo ? hi - lo : Math.max(Math.abs(hi), 1);
  };
  const xSteps = steps(extent(x));
  const ySteps = steps(extent(y));
  const rounded = (p: readonly Point[], k: number): Point[] =>
    p.map(([px, py]) => [xSteps[k] ? roundTo(px, xSteps[k]) : px, ySteps[k] ? roundTo(py, ySteps[k]) : py]);

  // The fewest vertices that keep the rows at the finest rounding (a binary search: more
  // vertices follow the path more closely), then the coarsest rounding that still keeps them.
  const limit = Math.max(3, Math.min(maxVertices, polygon.length));
  const finest = Math.max(xSteps.length, ySteps.length) - 1;
  const at = (count: number, k: number): Point[] => {
    const simple = simplifyPolygon(polygon, count, sx, sy);
    return k >= 0 ? rounded(simple, k) : simple;
  };
  if (!keeps(at(limit, finest))) {
    return at(limit, finest); // no short polygon keeps every row: the closest one
  }
  let lo = 3;
  let hi = limit;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keeps(at(mid, finest))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  for (let k = 0; k < finest; k++) {
    const candidate = at(lo, k);
    if (keeps(candidate)) {
      return candidate;
    }
  }
  return at(lo, finest);
}

/** A box's ranges rounded outward to 4 significant digits of each axis's extent, as brushes are. */
export function roundBox(polygon: readonly Point[], xExtent: number, yExtent: number): Point[] {
  const [x0, y0, x1, y1] = polygonBounds(polygon);
  const [xa, xb] = roundRange(x0, x1, xExtent);
  const [ya, yb] = roundRange(y0, y1, yExtent);
  return boxPolygon(xa, ya, xb, yb);
}

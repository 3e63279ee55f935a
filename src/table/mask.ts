/**
 * Which rows a selection keeps, as typed-array scans: the axis brushes (AND across axes, OR
 * within one) and the scatter's boxes and lassos. A leaf module: the model, the filter language
 * and the views all use it, and it imports nothing but the table's types.
 */
import { InclusionTable, RowCells } from './inclusion';
import type { AxisBrush, ICategoricalColumn, IRange, IShape, ITable, Point } from './types';

/** From this many rows a lasso's mask goes through an inclusion table (inclusion.ts). */
export const INCLUSION_TABLE_ROWS = 4096;

/**
 * The rows' cells for the last columns lassoed. Columns are never written once made (a new
 * step, a new weight: new arrays), so the same pair of arrays has the same cells; the length
 * is checked too.
 */
let lastRowCells: RowCells | null = null;

function rowCells(x: ArrayLike<number>, y: ArrayLike<number>, rows: number): RowCells {
  const known = lastRowCells;
  if (known && known.x === x && known.y === y && known.cells.length === rows) {
    return known;
  }
  lastRowCells = new RowCells(x, y, rows);
  return lastRowCells;
}

/** The level codes a brush keeps on a categorical axis (a numeric brush keeps the levels whose
 * numeric value lies in its ranges: how a filter string's `between` lands on a level axis). */
export function brushCodes(levels: readonly (string | number)[], brush: AxisBrush): number[] {
  if (brush.kind === 'categorical') {
    return brush.codes.filter(code => code >= 0 && code < levels.length);
  }
  const codes: number[] = [];
  levels.forEach((level, code) => {
    const v = Number(level);
    if (brush.ranges.some(r => v >= r.lo && v <= r.hi)) {
      codes.push(code);
    }
  });
  return codes;
}

// ---------------------------------------------------------------------------------------------
// Selection mask
// ---------------------------------------------------------------------------------------------

/**
 * The rows that pass every brush: AND across axes, OR across the ranges (or levels) of one
 * axis; a missing value passes only where its axis brush keeps `missing`. An empty map keeps
 * every row. A brush on a column the table lacks constrains nothing. Writes 1/0 into `out`
 * (length >= table.rows) and returns it: a typed-array scan, about 6 ms per million rows.
 */
export function brushMask(
  table: ITable,
  brushes: ReadonlyMap<string, AxisBrush>,
  out: Uint8Array
): Uint8Array {
  out.fill(1, 0, table.rows);
  for (const [name, brush] of brushes) {
    const column = table.columns.find(c => c.name === name);
    if (column?.kind === 'numeric' && brush.kind === 'numeric') {
      andNumeric(column.values, brush.ranges, !!brush.missing, out);
    } else if (column?.kind === 'categorical') {
      andCategorical(column, brush, out);
    }
    // A categorical brush on a numeric column has no meaning: it constrains nothing.
  }
  return out;
}

/**
 * ANDs one numeric axis into the mask. The tests are written without branches (comparisons
 * turned into 0/1 and combined bitwise): on noisy data a branch per row mispredicts half the
 * time, which made this scan 5x slower. Several ranges OR together in a scratch mask first.
 */
function andNumeric(
  values: Float32Array,
  ranges: readonly IRange[],
  missing: boolean,
  out: Uint8Array
): void {
  const n = values.length;
  const keepMissing = missing ? 1 : 0;
  if (ranges.length === 1) {
    const { lo, hi } = ranges[0];
    for (let row = 0; row < n; row++) {
      const v = values[row];
      out[row] &= (+(v >= lo) & +(v <= hi)) | (keepMissing & +(v !== v));
    }
    return;
  }
  const inAny = new Uint8Array(n);
  for (const { lo, hi } of ranges) {
    for (let row = 0; row < n; row++) {
      const v = values[row];
      inAny[row] |= +(v >= lo) & +(v <= hi);
    }
  }
  for (let row = 0; row < n; row++) {
    const v = values[row];
    out[row] &= inAny[row] | (keepMissing & +(v !== v));
  }
}

function andCategorical(column: ICategoricalColumn, brush: AxisBrush, out: Uint8Array): void {
  // A lookup table per code turns the test into one array read; slot 0 is "missing" (code -1).
  const n = column.levels.length;
  const keep = new Uint8Array(n + 1);
  keep[0] = brush.missing ? 1 : 0;
  brushCodes(column.levels, brush).forEach(code => (keep[code + 1] = 1));
  const { codes } = column;
  for (let row = 0; row < codes.length; row++) {
    // code + 1 as unsigned: -1 and every out-of-range code land outside [0, n], on slot 0.
    const slot = (codes[row] + 1) >>> 0;
    out[row] &= keep[slot <= n ? slot : 0];
  }
}

// ---------------------------------------------------------------------------------------------
// Point in polygon

/**
 * Whether (x, y) is inside `polygon` by the even-odd rule.
 *
 * This is `in_polygon` of jupyterlab_dsi/filter.py operation for operation (PNPOLY, edges from
 * the last vertex to the first, the crossing abscissa computed as
 * `(xj - xi) * (py - yi) / (yj - yi) + xi` in doubles), so the panel's mask and the saved
 * filter string select the same rows, points on edges included: for an axis-aligned box that
 * means min <= v < max on both axes. A NaN coordinate is never inside (the Python rule for a
 * missing value); a polygon of fewer than 3 vertices contains nothing (Python refuses it).
 */
export function pointInPolygon(x: number, y: number, polygon: readonly Point[]): boolean {
  const n = polygon.length;
  if (n < 3 || Number.isNaN(x) || Number.isNaN(y)) {
    return false;
  }
  let inside = false;
  let [xj, yj] = polygon[n - 1];
  for (let i = 0; i < n; i++) {
    const [xi, yi] = polygon[i];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
    xj = xi;
    yj = yi;
  }
  return inside;
}

/** [minX, minY, maxX, maxY] of a polygon's vertices. */
export function polygonBounds(polygon: readonly Point[]): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of polygon) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/**
 * [minX, minY, maxX, maxY] when `polygon` is an axis-aligned rectangle (4 vertices, edges
 * alternately vertical and horizontal), else null. For such a rectangle PNPOLY reduces exactly
 * to minX <= x < maxX && minY <= y < maxY: horizontal edges never count, and a vertical edge's
 * crossing abscissa is `0 * t / d + xi`, which is xi with no rounding.
 */
export function axisAlignedBox(polygon: readonly Point[]): [number, number, number, number] | null {
  if (polygon.length !== 4) {
    return null;
  }
  const vertical = (a: Point, b: Point): boolean => a[0] === b[0];
  const horizontal = (a: Point, b: Point): boolean => a[1] === b[1];
  const [a, b, c, d] = polygon;
  const startsVertical = vertical(a, b) && horizontal(b, c) && vertical(c, d) && horizontal(d, a);
  const startsHorizontal = horizontal(a, b) && vertical(b, c) && horizontal(c, d) && vertical(d, a);
  return startsVertical || startsHorizontal ? polygonBounds(polygon) : null;
}

/** The four corners of the box spanned by two opposite corners, in any order. */
export function boxPolygon(x0: number, y0: number, x1: number, y1: number): Point[] {
  const xa = Math.min(x0, x1);
  const xb = Math.max(x0, x1);
  const ya = Math.min(y0, y1);
  const yb = Math.max(y0, y1);
  return [
    [xa, ya],
    [xb, ya],
    [xb, yb],
    [xa, yb]
  ];
}

// ---------------------------------------------------------------------------------------------
// Selection mask

/**
 * The rows the shapes select, written into `out` (1 in, 0 out); returns `out`.
 *
 * The shapes apply in order to a running set that starts as "no constraint yet" (every row):
 * - 'replace' sets it to the rows inside its polygon;
 * - 'add' unites its polygon with the set, or, on "no constraint yet", sets it to the polygon;
 * - 'subtract' removes its polygon's rows from the set, from every row when it comes first.
 *
 * So no shapes select every row, missing coordinates included, as an empty filter string
 * means "everything"; [A, +B, -C, +D] is `((A or B) and not C) or D`; and a leading subtract is
 * `not C`, which keeps the rows with a missing coordinate (`not` matches a missing value in
 * the filter language). This is the string src/model/filterString.ts (shapesClause) writes,
 * so the panel's mask and the saved filter select the same rows. Otherwise a row with a NaN
 * coordinate is never in: it is inside no polygon.
 *
 * A box is said as `x between x0 and x1 and y between y0 and y1` (what a person would write),
 * so it keeps its edges (inclusive on both axes, bounds compared as float32 as the filter's
 * mask does for `between` on a float32 column); a lasso is a polygon (PNPOLY).
 *
 * `out.length` rows are computed; x and y must be at least that long.
 */
export function shapesMask(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  shapes: readonly IShape[],
  out: Uint8Array
): Uint8Array {
  out.fill(1);
  let constrained = false;
  for (const shape of shapes) {
    const apply = shape.kind === 'box' ? applyBox : applyPolygon;
    if (shape.op === 'subtract') {
      apply(x, y, shape.polygon, out, 0);
    } else {
      if (shape.op === 'replace' || !constrained) {
        out.fill(0);
      }
      apply(x, y, shape.polygon, out, 1);
    }
    constrained = true;
  }
  return out;
}

/** Set out[i] = value for the rows in a box's ranges (both inclusive), as `between` selects them. */
function applyBox(x: ArrayLike<number>, y: ArrayLike<number>, polygon: readonly Point[], out: Uint8Array, value: 0 | 1): void {
  if (polygon.length === 0) {
    return;
  }
  const [bx0, by0, bx1, by1] = polygonBounds(polygon);
  const [x0, y0, x1, y1] = [Math.fround(bx0), Math.fround(by0), Math.fround(bx1), Math.fround(by1)];
  for (let i = 0, n = out.length; i < n; i++) {
    if (out[i] !== value) {
      const px = x[i];
      const py = y[i];
      if (px >= x0 && px <= x1 && py >= y0 && py <= y1) {
        out[i] = value;
      }
    }
  }
}

/**
 * Set out[i] = value for the rows inside `polygon`, testing only rows whose value would change
 * (an add skips rows already in, a subtract rows already out).
 */
function applyPolygon(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  polygon: readonly Point[],
  out: Uint8Array,
  value: 0 | 1
): void {
  const n = out.length;
  if (polygon.length < 3) {
    return;
  }
  const box = axisAlignedBox(polygon);
  if (box) {
    // Exact equivalent of PNPOLY for a rectangle (see axisAlignedBox); NaN fails every test.
    const [x0, y0, x1, y1] = box;
    for (let i = 0; i < n; i++) {
      if (out[i] !== value) {
        const px = x[i];
        const py = y[i];
        if (px >= x0 && px < x1 && py >= y0 && py < y1) {
          out[i] = value;
        }
      }
    }
    return;
  }
  if (n >= INCLUSION_TABLE_ROWS) {
    // Many rows: a table look-up per row, the exact test only near the edges (inclusion.ts),
    // over a grid of the rows' extent whose cells per row are kept for these columns.
    const rows = rowCells(x, y, n);
    new InclusionTable(polygon, rows.grid).apply(x, y, out, value, rows);
    return;
  }
  const banded = new BandedPolygon(polygon);
  for (let i = 0; i < n; i++) {
    if (out[i] !== value && banded.contains(x[i], y[i])) {
      out[i] = value;
    }
  }
}

/**
 * A polygon prepared for many point tests, with exactly pointInPolygon's answers.
 *
 * Only edges that straddle the point's horizontal (yi > py differs from yj > py) can toggle
 * PNPOLY's parity, so the edges are bucketed by horizontal band and a point tests only the
 * edges of its band, each with the same arithmetic in the same orientation: a 500-vertex lasso
 * costs a few edge tests per point instead of 500. An edge is listed in every band from that
 * of its lower to that of its upper end; `band()` is monotonic, so an edge straddling py is
 * always in py's band. Rows outside the bounding box are rejected first: the y test is exact
 * for PNPOLY (no edge straddles outside [minY, maxY)); along x a crossing abscissa is an
 * interpolation that rounding can push an ulp or so past the vertices, so that test keeps a
 * margin well above that error.
 */
export class BandedPolygon {
  private readonly y0: number;
  private readonly y1: number;
  private readonly xa: number;
  private readonly xb: number;
  private readonly bands: number;
  private readonly bandHeight: number;
  /** Edges of band b: edges[4k .. 4k + 4) = xi, yi, xj, yj for k in start[b] .. start[b + 1). */
  private readonly start: Int32Array;
  private readonly edges: Float64Array;

  constructor(polygon: readonly Point[]) {
    const [x0, y0, x1, y1] = polygonBounds(polygon);
    const margin = 8 * Number.EPSILON * (Math.abs(x0) + Math.abs(x1));
    this.xa = x0 - margin;
    this.xb = x1 + margin;
    this.y0 = y0;
    this.y1 = y1;
    const n = polygon.length;
    this.bands = Math.max(1, Math.min(1024, n));
    this.bandHeight = y1 > y0 ? (y1 - y0) / this.bands : 1;
    // Two passes over the edges (count per band, then fill): CSR arrays, no per-band objects.
    const start = new Int32Array(this.bands + 1);
    const forEachEdge = (f: (xi: number, yi: number, xj: number, yj: number, lo: number, hi: number) => void): void => {
      if (n < 3) return;
      let [xj, yj] = polygon[n - 1];
      for (let i = 0; i < n; i++) {
        const [xi, yi] = polygon[i];
        if (yi !== yj) {
          f(xi, yi, xj, yj, this.band(Math.min(yi, yj)), this.band(Math.max(yi, yj)));
        }
        xj = xi;
        yj = yi;
      }
    };
    forEachEdge((_xi, _yi, _xj, _yj, lo, hi) => {
      for (let b = lo; b <= hi; b++) start[b + 1]++;
    });
    for (let b = 0; b < this.bands; b++) start[b + 1] += start[b];
    const fill = start.slice(0, this.bands);
    const edges = new Float64Array(4 * start[this.bands]);
    forEachEdge((xi, yi, xj, yj, lo, hi) => {
      for (let b = lo; b <= hi; b++) {
        const k = 4 * fill[b]++;
        edges[k] = xi;
        edges[k + 1] = yi;
        edges[k + 2] = xj;
        edges[k + 3] = yj;
      }
    });
    this.start = start;
    this.edges = edges;
  }

  private band(y: number): number {
    const b = Math.floor((y - this.y0) / this.bandHeight);
    return b < 0 ? 0 : b >= this.bands ? this.bands - 1 : b;
  }

  /** pointInPolygon(px, py, polygon), faster. */
  contains(px: number, py: number): boolean {
    // NaN fails these comparisons too.
    if (!(py >= this.y0 && py < this.y1 && px >= this.xa && px <= this.xb)) {
      return false;
    }
    const b = this.band(py);
    const e = this.edges;
    let inside = false;
    for (let k = 4 * this.start[b], end = 4 * this.start[b + 1]; k < end; k += 4) {
      const xi = e[k];
      const yi = e[k + 1];
      const xj = e[k + 2];
      const yj = e[k + 3];
      if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }
}

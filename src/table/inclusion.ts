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

/**
 * A grid of cells: `n` x `n` equal cells over [x0, x1] x [y0, y1]. The rows' cells are computed
 * once per pair of columns (RowCells), the table per polygon over the same grid.
 */
export interface IGrid {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  readonly n: number;
}

/** The grid over a polygon's bounding box, `cells` cells per side. */
export function polygonGrid(polygon: readonly Point[], cells: number = MAX_CELLS): IGrid {
  const [x0, y0, x1, y1] = polygonBounds(polygon);
  return { x0, y0, x1, y1, n: Math.max(1, Math.min(MAX_CELLS, Math.floor(cells))) };
}

/** The cell of (x, y) in a grid (clamped to it), or -1 outside it (NaN included). */
function cellOf(grid: IGrid, kx: number, ky: number, x: number, y: number): number {
  if (!(x >= grid.x0 && x <= grid.x1 && y >= grid.y0 && y <= grid.y1)) {
    return -1;
  }
  const last = grid.n - 1;
  const cx = Math.min(last, ((x - grid.x0) * kx) | 0);
  const cy = Math.min(last, ((y - grid.y0) * ky) | 0);
  return cy * grid.n + cx;
}

/** Cells per data unit along x and y (0 for a grid of no width or height). */
function density(grid: IGrid): [number, number] {
  return [grid.x1 > grid.x0 ? grid.n / (grid.x1 - grid.x0) : 0, grid.y1 > grid.y0 ? grid.n / (grid.y1 - grid.y0) : 0];
}

/**
 * Every row's cell in a grid over the rows' finite extent (-1 for a row with a NaN): computed
 * once per pair of columns, so that a lasso move costs one look-up per row, no arithmetic.
 */
export class RowCells {
  constructor(
    readonly x: ArrayLike<number>,
    readonly y: ArrayLike<number>,
    rows: number,
    cells: number = MAX_CELLS
  ) {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < rows; i++) {
      const px = x[i];
      const py = y[i];
      if (px === px && py === py) {
        x0 = px < x0 ? px : x0;
        x1 = px > x1 ? px : x1;
        y0 = py < y0 ? py : y0;
        y1 = py > y1 ? py : y1;
      }
    }
    if (!(x0 <= x1)) {
      [x0, y0, x1, y1] = [0, 0, 1, 1]; // no finite row: every cell is -1 anyway
    }
    this.grid = { x0, y0, x1, y1, n: Math.max(1, Math.min(MAX_CELLS, Math.floor(cells))) };
    const [kx, ky] = density(this.grid);
    this.cells = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      this.cells[i] = cellOf(this.grid, kx, ky, x[i], y[i]);
    }
  }

  readonly grid: IGrid;
  readonly cells: Int32Array;
}

export class InclusionTable {
  /**
   * @param polygon the lasso's vertices (at least 3 for it to contain anything)
   * @param grid the cells to classify: over the polygon's box (polygonGrid) or over the rows'
   *   (RowCells.grid); any grid gives exact answers
   */
  constructor(polygon: readonly Point[], grid: IGrid = polygonGrid(polygon)) {
    this._exact = new BandedPolygon(polygon);
    this._grid = grid;
    const [kx, ky] = density(grid);
    this._kx = kx;
    this._ky = ky;
    const n = grid.n;
    this._cells = new Uint8Array(n * n);
    if (polygon.length < 3) {
      return; // contains nothing: every cell OUTSIDE
    }
    if (kx === 0 || ky === 0) {
      this._cells.fill(BOUNDARY); // a grid of no width or height: the exact test decides
      return;
    }
    this._markEdges(polygon);
    this._classify(polygon);
  }

  /** pointInPolygon(x, y, polygon): a look-up, or the exact test near an edge or off the grid. */
  contains(x: number, y: number): boolean {
    const cell = cellOf(this._grid, this._kx, this._ky, x, y);
    const state = cell < 0 ? BOUNDARY : this._cells[cell];
    return state === BOUNDARY ? this._exact.contains(x, y) : state === INSIDE;
  }

  /**
   * Sets out[i] = value for the rows inside the polygon whose entry differs from it (an add
   * skips rows already in, a subtract rows already out), as mask.ts's applyPolygon. `rows`:
   * the rows' cells in this table's grid, when computed beforehand (RowCells).
   */
  apply(x: ArrayLike<number>, y: ArrayLike<number>, out: Uint8Array, value: 0 | 1, rows?: RowCells): void {
    if (rows && rows.grid === this._grid) {
      this._applyCells(x, y, rows.cells, out, value);
      return;
    }
    for (let i = 0, n = out.length; i < n; i++) {
      if (out[i] !== value && this.contains(x[i], y[i])) {
        out[i] = value;
      }
    }
  }

  /** apply() with the rows' cells known: a look-up per row, the exact test in boundary cells. */
  private _applyCells(x: ArrayLike<number>, y: ArrayLike<number>, rowCells: Int32Array, out: Uint8Array, value: 0 | 1): void {
    const cells = this._cells;
    for (let i = 0, n = out.length; i < n; i++) {
      const cell = rowCells[i];
      // -1: a row with a NaN coordinate, inside nothing.
      if (out[i] === value || cell < 0) {
        continue;
      }
      const state = cells[cell];
      if (state === INSIDE || (state === BOUNDARY && this._exact.contains(x[i], y[i]))) {
        out[i] = value;
      }
    }
  }

  /**
   * Marks as BOUNDARY every cell an edge passes through and its 8 neighbours: per row of cells
   * the edge spans, the cells under the edge's x-extent within that row's band, one more on
   * either side, in that row and the rows above and below.
   */
  private _markEdges(polygon: readonly Point[]): void {
    const n = this._grid.n;
    const cells = this._cells;
    const toX = (x: number): number => (x - this._grid.x0) * this._kx;
    const toY = (y: number): number => (y - this._grid.y0) * this._ky;
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
      // Rows beyond the grid (a polygon wider than the rows' extent) hold no cell.
      const r0 = Math.max(-1, Math.floor(lowY));
      const r1 = Math.min(n, Math.floor(highY));
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
        mark(r, Math.max(-1, Math.floor(xa)), Math.min(n, Math.floor(xb)));
      }
      xj = xi;
      yj = yi;
    }
  }

  /**
   * Every cell not on the boundary takes its centre's answer, by scanline: per row of cells,
   * the abscissas where edges cross the row's centre line (PNPOLY's crossings), sorted; a
   * centre is inside when an odd number of them lie to its right. (Boundary cells are left to
   * the exact test, so the rounding of these crossings does not matter.)
   */
  private _classify(polygon: readonly Point[]): void {
    const { n, x0, y0 } = this._grid;
    const cells = this._cells;
    const m = polygon.length;
    const crossings = new Float64Array(m);
    for (let r = 0; r < n; r++) {
      const cy = y0 + (r + 0.5) / this._ky;
      let count = 0;
      let [xj, yj] = polygon[m - 1];
      for (let i = 0; i < m; i++) {
        const [xi, yi] = polygon[i];
        if (yi > cy !== yj > cy) {
          crossings[count++] = ((xj - xi) * (cy - yi)) / (yj - yi) + xi;
        }
        xj = xi;
        yj = yi;
      }
      const sorted = crossings.subarray(0, count).sort();
      // k: the crossings at or left of the centre so far; inside when count - k is odd.
      let k = 0;
      for (let c = 0; c < n; c++) {
        const at = r * n + c;
        if (cells[at] === BOUNDARY) {
          continue;
        }
        const cx = x0 + (c + 0.5) / this._kx;
        while (k < count && sorted[k] <= cx) {
          k++;
        }
        cells[at] = (count - k) % 2 === 1 ? INSIDE : OUTSIDE;
      }
    }
  }

  private readonly _exact: BandedPolygon;
  private readonly _grid: IGrid;
  private readonly _kx: number;
  private readonly _ky: number;
  private readonly _cells: Uint8Array;
}

/** The cells per side for a polygon tested against `rows` rows: fewer for few rows. */
export function inclusionCells(rows: number): number {
  return Math.max(8, Math.min(MAX_CELLS, Math.round(Math.sqrt(rows) / 4)));
}

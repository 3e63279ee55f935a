/**
 * The table a selection is made over: typed-array columns, one row per simulation (DESIGN.md
 * rule 7), and the brushes and shapes that select its rows. A leaf module that the model, the
 * filter language and the views import; it imports nothing.
 */

/** A numeric column: Float32Array values, NaN where missing (a NULL distance). */
export interface INumericColumn {
  readonly kind: 'numeric';
  readonly name: string;
  readonly values: Float32Array;
  readonly unit?: string | null;
}

/** A categorical column: Int32Array codes into `levels` (in their order), -1 where missing. */
export interface ICategoricalColumn {
  readonly kind: 'categorical';
  readonly name: string;
  readonly codes: Int32Array;
  readonly levels: readonly (string | number)[];
  readonly unit?: string | null;
}

export type Column = INumericColumn | ICategoricalColumn;

/** The rows the views show: every column has `rows` entries; `ids` are the sim_ids. */
export interface ITable {
  readonly rows: number;
  readonly ids: readonly string[];
  readonly columns: readonly Column[];
}

/** One brushed interval of a numeric axis, inclusive, in data units (lo <= hi). */
export interface IRange {
  lo: number;
  hi: number;
}

/**
 * The brushes of one axis: numeric axes hold ranges (several allowed, OR-ed), categorical axes
 * the set of level codes kept. `missing` keeps rows whose value is missing (the NULL band).
 */
export type AxisBrush =
  | { kind: 'numeric'; ranges: IRange[]; missing?: boolean }
  | { kind: 'categorical'; codes: number[]; missing?: boolean };

/** A point of the scatter in data units: [x, y]. */
export type Point = [number, number];

/** A box or lasso in the scatter, combined in order: add (shift) or subtract (alt). */
export interface IShape {
  kind: 'box' | 'lasso';
  op: 'replace' | 'add' | 'subtract';
  /** Closed polygon in data units; a box is its four corners. */
  polygon: Point[];
}

/** How rows are coloured: a column, a palette per level or a sequential ramp. */
export interface IColorBy {
  column: string;
}

/** A per-row color: index into a palette of at most 256 colors (0 = context/grey). */
export interface IRowColors {
  /** CSS colors, [0] is the context color of unselected rows. */
  palette: string[];
  /** One palette index per row. */
  index: Uint8Array;
}

/**
 * The current selection as one string in the filter language (DESIGN.md): axis brushes AND-ed
 * across axes, OR-ed within an axis, then the scatter's boxes and lassos as polygons over
 * the scatter's two axes (d_feature, d_density unless chosen otherwise). `jupyter dsi select --where` and `%dsi select --where` accept it.
 */
import type { AxisBrush, IShape, Point } from '../table/types';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'between', 'polygon']);

/** A name as the language reads it: backquoted when it is not a plain identifier. */
export function formatName(name: string): string {
  if (IDENTIFIER.test(name) && !KEYWORDS.has(name.toLowerCase())) {
    return name;
  }
  return '`' + name.replace(/`/g, '``') + '`';
}

/** A number without binary noise (0.30000000000000004 -> 0.3), exact for what it prints. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new Error(`cannot write ${value} in a filter`);
  }
  return String(Number(value.toPrecision(12)));
}

export function formatLiteral(value: string | number): string {
  return typeof value === 'number' ? formatNumber(value) : '"' + value.replace(/"/g, '""') + '"';
}

/**
 * Round a brushed interval outward to 4 significant digits of the axis extent, so the string
 * reads like a decision ("d_density between 0.012 and 0.5") and never lands on a stored value
 * by accident of binary representation.
 */
export function roundRange(lo: number, hi: number, extent: number): [number, number] {
  if (!(extent > 0) || !Number.isFinite(extent)) {
    return [lo, hi];
  }
  const step = Math.pow(10, Math.floor(Math.log10(extent)) - 3);
  const down = Number((Math.floor(lo / step) * step).toPrecision(12));
  const up = Number((Math.ceil(hi / step) * step).toPrecision(12));
  return [down, up];
}

/** Points of a drawn shape rounded to 6 significant digits (what the string will say). */
export function roundPolygon(polygon: Point[]): Point[] {
  return polygon.map(([x, y]) => [Number(x.toPrecision(6)), Number(y.toPrecision(6))]);
}

/** A clause no row satisfies: every sim_id is text, and every text is >= "". */
const NOTHING = 'not (sim_id >= "")';

/** Rows whose value is missing: no comparison holds for them, so they are `not (x >= 0 or x < 0)`. */
function missingClause(name: string): string {
  const n = formatName(name);
  return `not (${n} >= 0 or ${n} < 0)`;
}

function missingTextClause(name: string, levels: readonly (string | number)[]): string {
  return `not (${formatName(name)} in (${levels.map(formatLiteral).join(', ')}))`;
}

function orJoin(parts: string[]): string {
  return parts.length === 1 ? parts[0] : `(${parts.join(' or ')})`;
}

/** The clause of one axis, or null when its brush keeps every row. */
export function brushClause(
  name: string,
  brush: AxisBrush,
  levels: readonly (string | number)[] = []
): string | null {
  const n = formatName(name);
  const parts: string[] = [];
  if (brush.kind === 'numeric') {
    for (const { lo, hi } of brush.ranges) {
      parts.push(`${n} between ${formatNumber(lo)} and ${formatNumber(hi)}`);
    }
    if (brush.missing) {
      parts.push(missingClause(name));
    }
  } else {
    const kept = brush.codes.filter(c => c >= 0 && c < levels.length).sort((a, b) => a - b);
    if (kept.length > 0) {
      parts.push(
        kept.length === 1
          ? `${n} == ${formatLiteral(levels[kept[0]])}`
          : `${n} in (${kept.map(c => formatLiteral(levels[c])).join(', ')})`
      );
    }
    if (brush.missing) {
      parts.push(
        levels.some(l => typeof l === 'string')
          ? missingTextClause(name, levels)
          : missingClause(name)
      );
    }
  }
  if (parts.length === 0) {
    return NOTHING; // an emptied brush keeps nothing; never reached from the views
  }
  return orJoin(parts);
}

function polygonClause(x: string, y: string, polygon: readonly Point[]): string {
  const points = polygon.map(([px, py]) => `(${formatNumber(px)}, ${formatNumber(py)})`).join(', ');
  return `(${formatName(x)}, ${formatName(y)}) in polygon (${points})`;
}

/** A box as a person writes it: a `between` on each axis (both inclusive, as the mask keeps them). */
function boxClause(x: string, y: string, polygon: readonly Point[]): string {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [px, py] of polygon) {
    [x0, x1, y0, y1] = [Math.min(x0, px), Math.max(x1, px), Math.min(y0, py), Math.max(y1, py)];
  }
  return `${formatName(x)} between ${formatNumber(x0)} and ${formatNumber(x1)} and ${formatName(y)} between ${formatNumber(y0)} and ${formatNumber(y1)}`;
}

/** The shapes of the scatter, applied in order: replace/add = union, subtract = minus. */
export function shapesClause(shapes: readonly IShape[], x = 'd_feature', y = 'd_density'): string | null {
  let clause: string | null = null;
  let alone: string | null = null; // the clause's parenthesised form while it is one box
  for (const shape of shapes) {
    const box = shape.kind === 'box';
    const term = box ? boxClause(x, y, shape.polygon) : polygonClause(x, y, shape.polygon);
    // A box is an `and` of two terms: parenthesised under `not` and beside an `or`, for the reader.
    const atom = box ? wrap(term) : term;
    if (shape.op === 'subtract') {
      // Subtracting from "no shape yet" (every row) leaves every row but the shape.
      clause = clause === null ? `not ${atom}` : `${/ or /.test(clause) ? wrap(clause) : clause} and not ${atom}`;
      alone = null;
    } else if (shape.op === 'add' && clause !== null) {
      clause = `${alone ?? clause} or ${atom}`; // `and` binds tighter than `or`
      alone = null;
    } else {
      clause = term;
      alone = atom;
    }
  }
  return clause;
}

function wrap(clause: string): string {
  return `(${clause})`;
}

export interface ISelectionSpec {
  /** Brushes by axis, in axis order. */
  brushes: ReadonlyArray<[string, AxisBrush]>;
  levels: ReadonlyMap<string, readonly (string | number)[]>;
  shapes: readonly IShape[];
  /** The scatter's (x, y) column names: the shapes are polygons over them. */
  scatter?: readonly [string, string];
  /** Only these simulations (a dataset's members), as `sim_id in (...)`. */
  members?: readonly string[] | null;
}

/** The whole selection as one filter string ('' when nothing is selected: every row). */
export function selectionFilter(spec: ISelectionSpec): string {
  const clauses: string[] = [];
  for (const [name, brush] of spec.brushes) {
    const clause = brushClause(name, brush, spec.levels.get(name) ?? []);
    if (clause) {
      clauses.push(clause);
    }
  }
  if (spec.members) {
    clauses.push(
      spec.members.length === 0
        ? NOTHING
        : `sim_id in (${spec.members.map(formatLiteral).join(', ')})`
    );
  }
  const shapes = shapesClause(spec.shapes, ...(spec.scatter ?? (['d_feature', 'd_density'] as const)));
  if (shapes) {
    // A chain of shapes may end in a top-level `or`: parenthesise it before and-ing.
    clauses.push(clauses.length > 0 && / or /.test(shapes) ? wrap(shapes) : shapes);
  }
  return clauses.join(' and ');
}

/**
 * A filter string (from `%dsi select --where`) back into what the views can draw: brushes on
 * axes and shapes in the scatter, plus whatever they cannot draw as a term of its own. Only
 * exact translations are made (`between` ranges, `in`/`==` on categorical axes, polygons over
 * the scatter's axes), so the drawn selection and the text select the same rows.
 */
import {
  FilterNode,
  IPolygon,
  Literal,
  and,
  literalValue,
  numberValue
} from '../filter';
import { boxPolygon } from '../table/mask';
import type { AxisBrush, Column, IShape, Point } from '../table/types';

export interface IDrawnFilter {
  brushes: Map<string, AxisBrush>;
  shapes: IShape[];
  /** The part no brush or shape can say (null: none). */
  rest: FilterNode | null;
}

const isNumber = (lit: Literal): boolean => typeof lit !== 'string';

/** Ranges of `x between a and b [or x between c and d ...]` on a numeric column. */
function numericRanges(node: FilterNode, column: Column | undefined): { name: string; ranges: { lo: number; hi: number }[] } | null {
  const parts = node.type === 'or' ? node.operands : [node];
  let name: string | null = null;
  const ranges: { lo: number; hi: number }[] = [];
  for (const part of parts) {
    if (part.type !== 'between' || !isNumber(part.low) || !isNumber(part.high)) {
      return null;
    }
    if (name !== null && part.name !== name) {
      return null;
    }
    name = part.name;
    const lo = numberValue(part.low as Exclude<Literal, string>);
    const hi = numberValue(part.high as Exclude<Literal, string>);
    if (!(lo <= hi)) {
      return null; // an empty range: leave it to the filter term, which says so exactly
    }
    ranges.push({ lo, hi });
  }
  if (name === null || column?.kind !== 'numeric' || column.name !== name) {
    return null;
  }
  return { name, ranges: ranges.sort((a, b) => a.lo - b.lo) };
}

/** Codes of `x in (...)` or `x == v` on a categorical column, when every value is a level. */
function categoricalCodes(node: FilterNode, column: Column | undefined): number[] | null {
  if (column?.kind !== 'categorical') {
    return null;
  }
  let values: readonly Literal[];
  if (node.type === 'in' && node.name === column.name) {
    values = node.values;
  } else if (node.type === 'compare' && node.op === '==' && node.name === column.name) {
    values = [node.value];
  } else {
    return null;
  }
  const codes: number[] = [];
  for (const value of values) {
    const v = literalValue(value);
    const code = column.levels.findIndex(level => level === v);
    if (code < 0) {
      return null;
    }
    codes.push(code);
  }
  return [...new Set(codes)].sort((a, b) => a - b);
}

function polygonPoints(node: IPolygon): Point[] {
  return node.points.map(([x, y]) => [numberValue(x), numberValue(y)] as Point);
}

/** The box of `x between a and b and y between c and d` (either order), else null. */
function boxOf(node: FilterNode, x: string, y: string): Point[] | null {
  if (node.type !== 'and' || node.operands.length !== 2) {
    return null;
  }
  const range = (name: string): [number, number] | null => {
    const term = node.operands.find(o => o.type === 'between' && o.name === name);
    if (term?.type !== 'between' || !isNumber(term.low) || !isNumber(term.high)) {
      return null;
    }
    const lo = numberValue(term.low as Exclude<Literal, string>);
    const hi = numberValue(term.high as Exclude<Literal, string>);
    return lo <= hi ? [lo, hi] : null;
  };
  const [rx, ry] = [range(x), range(y)];
  return x !== y && rx && ry ? boxPolygon(rx[0], ry[0], rx[1], ry[1]) : null;
}

/** A box or a polygon over (x, y), as the scatter draws it; else null. */
function shapeOf(node: FilterNode, x: string, y: string): Pick<IShape, 'kind' | 'polygon'> | null {
  if (node.type === 'polygon' && node.x === x && node.y === y) {
    return { kind: 'lasso', polygon: polygonPoints(node as IPolygon) };
  }
  const box = boxOf(node, x, y);
  return box ? { kind: 'box', polygon: box } : null;
}

/** Shapes of `shape`, `shape or shape ...` or `not shape` over (x, y): polygons and boxes. */
function scatterShapes(node: FilterNode, x: string, y: string): IShape[] | null {
  if (node.type === 'not') {
    const shape = shapeOf(node.operand, x, y);
    return shape ? [{ ...shape, op: 'subtract' }] : null;
  }
  const parts = node.type === 'or' ? node.operands : [node];
  const shapes = parts.map(p => shapeOf(p, x, y));
  if (shapes.some(s => s === null)) {
    return null;
  }
  return shapes.map((s, i) => ({ ...s!, op: i === 0 ? 'replace' : 'add' }));
}

/**
 * Split `node` into brushes, shapes and the rest. Each axis takes one brush and the scatter one
 * group of shapes; a second clause on the same axis stays in the rest, which the selection ANDs.
 */
export function drawFilter(
  node: FilterNode | null,
  columns: readonly Column[],
  scatter: [string, string] = ['d_feature', 'd_density']
): IDrawnFilter {
  const brushes = new Map<string, AxisBrush>();
  let shapes: IShape[] = [];
  const rest: FilterNode[] = [];
  const byName = new Map(columns.map(c => [c.name, c]));
  const operands = node === null ? [] : node.type === 'and' ? node.operands : [node];
  for (const operand of operands) {
    const name =
      operand.type === 'or' ? (operand.operands[0] as { name?: string }).name : (operand as { name?: string }).name;
    const column = name !== undefined ? byName.get(name) : undefined;
    if (column && !brushes.has(column.name)) {
      const numeric = numericRanges(operand, column);
      if (numeric) {
        brushes.set(numeric.name, { kind: 'numeric', ranges: numeric.ranges });
        continue;
      }
      const codes = categoricalCodes(operand, column);
      if (codes) {
        brushes.set(column.name, { kind: 'categorical', codes });
        continue;
      }
    }
    if (shapes.length === 0) {
      const drawn = scatterShapes(operand, scatter[0], scatter[1]);
      if (drawn) {
        shapes = drawn;
        continue;
      }
    }
    rest.push(operand);
  }
  return { brushes, shapes, rest: rest.length === 0 ? null : rest.length === 1 ? rest[0] : and(...rest) };
}

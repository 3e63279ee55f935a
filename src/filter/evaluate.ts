/**
 * What a filter matches: `evaluate` on one row with exactly the semantics of Python's
 * `evaluate` / `compile_sql` (jupyterlab_dsi/filter.py), and `compileMask`, the fast path the
 * panel runs on every brush move over the typed-array columns of an `ITable`.
 *
 * Semantics (held to Python by tests/vectors/filter.json):
 * - a missing value (null, undefined, NaN; in a table: NaN or code -1) never satisfies a
 *   comparison, `!=` included;
 * - `not` is the complement of the set its operand matches (so it does match missing values);
 * - values compare as SQLite compares values without type affinity: numbers numerically, text
 *   by Unicode code point (case-sensitive), every number before every text, so a number never
 *   equals a text ('1' is not 1); `between` is inclusive;
 * - a polygon test is even-odd ray casting (PNPOLY, edges from the last point to the first, in
 *   doubles); a point with a missing or non-numeric coordinate is not inside.
 *
 * Float32 columns (`compileMask` only). Numeric columns hold float32 values, while Python and
 * SQL compare the stored doubles. The mask is computed on the float32 values, and every number
 * literal of a comparison, `in` or `between` on a numeric column is rounded to float32 too
 * (`Math.fround`) before comparing: value and bound are then both what a float32 holds, and the
 * test is the one the double data would give whenever rounding to float32 keeps the order of
 * the two (it never reverses it; it can only make two close values equal). This is what makes
 * brushes round-trip: a bound written as the shortest decimal of a float32 value (the axis
 * shows 0.1 for 0.1f) reads back as a double that rounds to the same float32, so the row at the
 * bound is still selected; comparing the float32 0.1f (0.10000000149...) with the double 0.1
 * would drop it, and `cs == 0.1` would match nothing. Categorical levels keep their JavaScript
 * values (doubles or strings) and are compared exactly, as `evaluate` does; polygon vertices
 * stay doubles (a point on an edge may fall either way, in Python too).
 */
import type { Column, ITable } from '../table/types';

import {
  FilterError,
  FilterNode,
  IPolygon,
  Leaf,
  Literal,
  Op,
  at,
  checkKnown,
  formatName,
  leafNames,
  leaves,
  literalValue,
  numberValue,
  show,
  sortCodePoints,
  compareText,
  unknownName
} from './ast';
import { formatLiteral } from './format';

export { names } from './ast';

// ---------------------------------------------------------------------------------------------
// One value

/** Rank of a value in SQLite's order: numbers (0) < text (1) < blobs (2); -1 when missing. */
type Ranked = [0, number] | [1, string] | [2, Uint8Array] | null;

function rank(value: unknown): Ranked {
  if (value === null || value === undefined) {
    return null;
  }
  switch (typeof value) {
    case 'number':
      return value !== value ? null : [0, value]; // SQLite stores NaN as NULL
    case 'string':
      return [1, value];
    case 'boolean':
      return [0, value ? 1 : 0];
    case 'bigint':
      return [0, Number(value)];
  }
  if (value instanceof Uint8Array) {
    return [2, value];
  }
  if (value instanceof ArrayBuffer) {
    return [2, new Uint8Array(value)];
  }
  throw new TypeError(`cannot filter on a value of type ${typeof value}`);
}

/** -1, 0 or 1 comparing a row value with a literal; null when the value is missing. */
function cmp(value: Ranked, literal: string | number): number | null {
  if (value === null) {
    return null;
  }
  const lr = typeof literal === 'string' ? 1 : 0;
  if (value[0] !== lr) {
    return value[0] < lr ? -1 : 1;
  }
  if (lr === 0) {
    const v = value[1] as number;
    const l = literal as number;
    return v < l ? -1 : v > l ? 1 : 0;
  }
  return compareText(value[1] as string, literal as string);
}

function opHolds(op: Op, c: number | null): boolean {
  if (c === null) {
    return false;
  }
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

function toNumber(value: unknown): number | null {
  const r = rank(value);
  return r !== null && r[0] === 0 ? r[1] : null;
}

/**
 * 1 if (x, y) is inside the polygon by the even-odd rule, else 0; null if x or y is missing
 * (null or undefined). A coordinate that is not a number (text, NaN) gives 0. The arithmetic is
 * Python's `in_polygon`, operation for operation.
 */
export function inPolygon(
  x: unknown,
  y: unknown,
  points: readonly (readonly [number, number])[]
): 0 | 1 | null {
  if (x === null || x === undefined || y === null || y === undefined) {
    return null;
  }
  const px = toNumber(x);
  const py = toNumber(y);
  if (px === null || py === null) {
    return 0;
  }
  let inside = false;
  let [xj, yj] = points[points.length - 1];
  for (const [xi, yi] of points) {
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
    xj = xi;
    yj = yi;
  }
  return inside ? 1 : 0;
}

function polygonPoints(node: IPolygon): [number, number][] {
  return node.points.map(p => [numberValue(p[0]), numberValue(p[1])]);
}

/** Whether a leaf other than a polygon holds for one value. */
function leafHolds(leaf: Exclude<Leaf, IPolygon>, value: Ranked): boolean {
  switch (leaf.type) {
    case 'compare':
      return opHolds(leaf.op, cmp(value, literalValue(leaf.value)));
    case 'in':
      for (const v of leaf.values) {
        if (cmp(value, literalValue(v)) === 0) {
          return true;
        }
      }
      return false;
    case 'between': {
      const lo = cmp(value, literalValue(leaf.low));
      const hi = cmp(value, literalValue(leaf.high));
      return lo !== null && hi !== null && lo >= 0 && hi <= 0;
    }
  }
}

function evalNode(node: FilterNode, row: Record<string, unknown>): boolean {
  switch (node.type) {
    case 'or':
      for (const o of node.operands) {
        if (evalNode(o, row)) {
          return true;
        }
      }
      return false;
    case 'and':
      for (const o of node.operands) {
        if (!evalNode(o, row)) {
          return false;
        }
      }
      return true;
    case 'not':
      return !evalNode(node.operand, row);
    case 'polygon':
      return inPolygon(row[node.x], row[node.y], polygonPoints(node)) === 1;
    default:
      return leafHolds(node, rank(row[node.name]));
  }
}

/**
 * Whether `row` (name -> value; null, undefined or NaN for missing) matches, as Python's
 * `evaluate` and `compile_sql` say. A name the filter uses that `row` lacks (as an own key) is
 * a FilterError of kind "unknown_name" listing the row's names. null matches everything.
 */
export function evaluate(node: FilterNode | null, row: Record<string, unknown>): boolean {
  if (node === null) {
    return true;
  }
  checkKnown(node, Object.keys(row));
  return evalNode(node, row);
}

// ---------------------------------------------------------------------------------------------
// Masks over an ITable

/** Fills `out` (one byte per row of the table) with 1 where the row matches, else 0. */
export type MaskFunction = (out: Uint8Array) => void;

type Source =
  | { kind: 'numeric'; values: Float32Array }
  | { kind: 'categorical'; codes: Int32Array; levels: readonly (string | number)[] }
  | { kind: 'text'; values: readonly string[] };

/**
 * Fills `dst` with a node's mask. `and`, where a kernel has it, ANDs the node's mask into `dst`
 * instead, testing only the rows still selected: polygons, whose per-row test is dear.
 */
type Kernel = ((dst: Uint8Array) => void) & { and?: (dst: Uint8Array) => void };

/** The name the table's `ids` answer to. */
export const SIM_ID = 'sim_id';

function tableSources(table: ITable): Map<string, Source> {
  const out = new Map<string, Source>();
  out.set(SIM_ID, { kind: 'text', values: table.ids });
  for (const col of table.columns as readonly Column[]) {
    if (col.kind === 'numeric') {
      out.set(col.name, { kind: 'numeric', values: col.values });
    } else {
      out.set(col.name, { kind: 'categorical', codes: col.codes, levels: col.levels });
    }
  }
  return out;
}

// The loops are top-level functions taking everything as arguments, not closures over their
// data: every mask run calls the same few functions, so V8 optimizes each loop once, with
// monomorphic typed-array accesses, whatever the tree. (Loops inside per-node closures run once
// per call and were several times slower.) Uint8Array stores true as 1 and false as 0, so the
// loops write comparisons directly; `&` of two comparisons avoids a branch per row.
/* eslint-disable @typescript-eslint/no-explicit-any */

const EQ = 0;
const NE = 1;
const LT = 2;
const LE = 3;
const GT = 4;
const GE = 5;
const OP_CODE: Record<Op, number> = { '==': EQ, '!=': NE, '<': LT, '<=': LE, '>': GT, '>=': GE };

function compareLoop(dst: Uint8Array, v: Float32Array, op: number, b: number, n: number): void {
  switch (op) {
    case EQ:
      for (let i = 0; i < n; i++) {
        dst[i] = (v[i] === b) as any;
      }
      break;
    case NE:
      // NaN (missing) is neither below nor above.
      for (let i = 0; i < n; i++) {
        const x = v[i];
        dst[i] = ((x < b) as any) | ((x > b) as any);
      }
      break;
    case LT:
      for (let i = 0; i < n; i++) {
        dst[i] = (v[i] < b) as any;
      }
      break;
    case LE:
      for (let i = 0; i < n; i++) {
        dst[i] = (v[i] <= b) as any;
      }
      break;
    case GT:
      for (let i = 0; i < n; i++) {
        dst[i] = (v[i] > b) as any;
      }
      break;
    case GE:
      for (let i = 0; i < n; i++) {
        dst[i] = (v[i] >= b) as any;
      }
      break;
  }
}

function presentLoop(dst: Uint8Array, v: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = v[i];
    dst[i] = (x === x) as any;
  }
}

function betweenLoop(dst: Uint8Array, v: Float32Array, lo: number, hi: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = v[i];
    dst[i] = ((x >= lo) as any) & ((x <= hi) as any);
  }
}

function oneOfLoop(dst: Uint8Array, v: Float32Array, set: Float64Array, n: number): void {
  const m = set.length;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    let hit = 0;
    for (let k = 0; k < m; k++) {
      hit |= (x === set[k]) as any;
    }
    dst[i] = hit;
  }
}

function setLoop(dst: Uint8Array, v: Float32Array, set: Set<number>, n: number): void {
  for (let i = 0; i < n; i++) {
    dst[i] = set.has(v[i]) as any;
  }
}

function lookupLoop(dst: Uint8Array, codes: Int32Array, lut: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) {
    dst[i] = lut[codes[i] + 1];
  }
}

/** `dst` and `src` as 32-bit words where both are aligned (4 rows per operation), else null. */
function words(dst: Uint8Array, src: Uint8Array | null, n: number): [Int32Array, Int32Array] | null {
  if (dst.byteOffset % 4 !== 0 || (src !== null && src.byteOffset % 4 !== 0)) {
    return null;
  }
  const m = n >> 2;
  return [
    new Int32Array(dst.buffer, dst.byteOffset, m),
    src === null ? new Int32Array(0) : new Int32Array(src.buffer, src.byteOffset, m)
  ];
}

function andLoop(dst: Uint8Array, src: Uint8Array, n: number): void {
  let i = 0;
  const w = words(dst, src, n);
  if (w !== null) {
    const [d, s] = w;
    const m = d.length;
    for (let k = 0; k < m; k++) {
      d[k] &= s[k];
    }
    i = m << 2;
  }
  for (; i < n; i++) {
    dst[i] &= src[i];
  }
}

function orLoop(dst: Uint8Array, src: Uint8Array, n: number): void {
  let i = 0;
  const w = words(dst, src, n);
  if (w !== null) {
    const [d, s] = w;
    const m = d.length;
    for (let k = 0; k < m; k++) {
      d[k] |= s[k];
    }
    i = m << 2;
  }
  for (; i < n; i++) {
    dst[i] |= src[i];
  }
}

function flipLoop(dst: Uint8Array, n: number): void {
  let i = 0;
  const w = words(dst, null, n);
  if (w !== null) {
    const d = w[0];
    const m = d.length;
    for (let k = 0; k < m; k++) {
      d[k] ^= 0x01010101;
    }
    i = m << 2;
  }
  for (; i < n; i++) {
    dst[i] ^= 1;
  }
}

function textSetLoop(dst: Uint8Array, values: readonly string[], set: Set<string>, n: number): void {
  for (let i = 0; i < n; i++) {
    dst[i] = set.has(values[i]) as any;
  }
}

/**
 * PNPOLY over every edge without a branch per edge: a polygon of a few points (a box, a
 * triangle), where unpredictable branches cost more than computing every edge. An edge that
 * does not straddle the row's y is masked out of the count whatever its quotient (even NaN from
 * 0 / 0); straddling edges use Python's arithmetic, so the result is the same.
 */
function smallPolygonLoop(
  dst: Uint8Array,
  x: Float32Array | Float64Array,
  y: Float32Array | Float64Array,
  px: Float64Array,
  py: Float64Array,
  n: number,
  and: boolean
): void {
  const m = px.length;
  for (let i = 0; i < n; i++) {
    if (and && dst[i] === 0) {
      continue;
    }
    const cx = x[i];
    const cy = y[i];
    let inside = 0;
    let xj = px[m - 1];
    let yj = py[m - 1];
    for (let k = 0; k < m; k++) {
      const xi = px[k];
      const yi = py[k];
      const straddles = ((yi > cy) as any) ^ ((yj > cy) as any);
      inside ^= straddles & ((cx < ((xj - xi) * (cy - yi)) / (yj - yi) + xi) as any);
      xj = xi;
      yj = yi;
    }
    dst[i] = inside; // NaN (missing) straddles nothing
  }
}

/** Polygons with at most this many points are tested edge by edge (smallPolygonLoop). */
const SMALL_POLYGON = 6;

/**
 * A polygon prepared for PNPOLY by horizontal slabs. Python's test counts, for each edge (i, j)
 * that straddles the row's y ((yi > y) != (yj > y), i.e. min <= y < max), whether
 * x < (xj - xi) * (y - yi) / (yj - yi) + xi. Which edges straddle depends only on the slab
 * [Y[s], Y[s + 1]) of the sorted distinct vertex ys that holds y (pure comparisons, so exact),
 * so each slab lists its edges once, and a row binary-searches its slab and tests only those
 * edges with Python's arithmetic, operation for operation: same result, and a lasso of hundreds
 * of points costs a few edges per row instead of all of them. Rows below Y[0] or at or above
 * the last Y straddle no edge: outside. The slab is found through a uniform grid of buckets over
 * [Y[0], Y[last]) (a guess) then corrected by comparisons with Y (exact): a binary search's
 * unpredictable branches cost more than the edges.
 */
interface ISlabs {
  /** Sorted distinct vertex ys. */
  ys: Float64Array;
  /** Edges of slab s: edge[start[s]] .. edge[start[s + 1] - 1], as vertex indices i (j = i - 1). */
  start: Int32Array;
  edge: Int32Array;
  px: Float64Array;
  py: Float64Array;
  /** Buckets per unit of y, and the slab at the bottom of each bucket. */
  scale: number;
  bucket: Int32Array;
}

function slabs(px: Float64Array, py: Float64Array): ISlabs {
  const m = px.length;
  const ys = Float64Array.from(new Set(py)).sort();
  const index = new Map<number, number>();
  ys.forEach((v, k) => index.set(v, k));
  // Edge i (from vertex i - 1 to i) lies in the slabs from its lower y to below its upper y.
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  const count = new Int32Array(ys.length + 1);
  for (let i = 0; i < m; i++) {
    const j = i === 0 ? m - 1 : i - 1;
    lo[i] = index.get(Math.min(py[i], py[j]))!;
    hi[i] = index.get(Math.max(py[i], py[j]))!;
    for (let s = lo[i]; s < hi[i]; s++) {
      count[s + 1]++;
    }
  }
  const start = new Int32Array(Math.max(ys.length, 1));
  for (let s = 1; s < start.length; s++) {
    start[s] = start[s - 1] + count[s];
  }
  const edge = new Int32Array(start[start.length - 1]);
  const next = start.slice();
  for (let i = 0; i < m; i++) {
    for (let s = lo[i]; s < hi[i]; s++) {
      edge[next[s]++] = i;
    }
  }
  const top = Math.max(ys.length - 1, 0);
  const buckets = Math.min(4096, Math.max(16, 4 * top));
  const span = ys[top] - ys[0];
  const scale = span > 0 && Number.isFinite(buckets / span) ? buckets / span : 0;
  const bucket = new Int32Array(buckets);
  for (let b = 0, s = 0; b < buckets; b++) {
    const y0 = ys[0] + (b * span) / buckets;
    while (s + 1 < top && ys[s + 1] <= y0) {
      s++;
    }
    bucket[b] = s;
  }
  return { ys, start, edge, px, py, scale, bucket };
}

function polygonLoop(
  dst: Uint8Array,
  x: Float32Array | Float64Array,
  y: Float32Array | Float64Array,
  poly: ISlabs,
  n: number,
  and: boolean
): void {
  const { ys, start, edge, px, py, scale, bucket } = poly;
  const last = bucket.length - 1;
  const m = px.length;
  const top = ys.length - 1;
  const ymin = ys[0];
  const ymax = ys[top];
  for (let i = 0; i < n; i++) {
    if (and && dst[i] === 0) {
      continue;
    }
    const cx = x[i];
    const cy = y[i];
    if (!(cy >= ymin && cy < ymax) || cx !== cx) {
      dst[i] = 0; // no edge straddles (NaN: missing)
      continue;
    }
    // The slab a with ys[a] <= cy < ys[a + 1]: a guess from the grid, made exact.
    const g = ((cy - ymin) * scale) | 0;
    let a = bucket[g < last ? g : last];
    while (a + 1 < top && ys[a + 1] <= cy) {
      a++;
    }
    while (a > 0 && ys[a] > cy) {
      a--;
    }
    let inside = 0;
    const end = start[a + 1];
    for (let e = start[a]; e < end; e++) {
      const k = edge[e];
      const j = k === 0 ? m - 1 : k - 1;
      const xi = px[k];
      const yi = py[k];
      inside ^= (cx < ((px[j] - xi) * (cy - yi)) / (py[j] - yi) + xi) as any;
    }
    dst[i] = inside;
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function fill(value: 0 | 1): Kernel {
  return dst => {
    dst.fill(value);
  };
}

/** A leaf (not a polygon) on a float32 column; literals rounded to float32 (see the top). */
function numericLeaf(leaf: Exclude<Leaf, IPolygon>, v: Float32Array, n: number): Kernel {
  switch (leaf.type) {
    case 'compare': {
      const lit = leaf.value;
      if (typeof lit === 'string') {
        // Every number sorts before every text: the comparison is that of -1 for any value.
        return opHolds(leaf.op, -1) ? dst => presentLoop(dst, v, n) : fill(0);
      }
      const op = OP_CODE[leaf.op];
      const b = Math.fround(numberValue(lit));
      return dst => compareLoop(dst, v, op, b, n);
    }
    case 'in': {
      const set: number[] = [];
      for (const lit of leaf.values) {
        if (typeof lit !== 'string') {
          const b = Math.fround(numberValue(lit));
          if (!set.includes(b)) {
            set.push(b);
          }
        }
      }
      if (!set.length) {
        return fill(0);
      }
      if (set.length === 1) {
        return dst => compareLoop(dst, v, EQ, set[0], n);
      }
      if (set.length <= 8) {
        const values = Float64Array.from(set);
        return dst => oneOfLoop(dst, v, values, n);
      }
      const lookup = new Set(set);
      return dst => setLoop(dst, v, lookup, n);
    }
    case 'between': {
      if (typeof leaf.low === 'string' || typeof leaf.high === 'string') {
        return fill(0); // a number is below any text bound
      }
      const lo = Math.fround(numberValue(leaf.low));
      const hi = Math.fround(numberValue(leaf.high));
      return dst => betweenLoop(dst, v, lo, hi, n);
    }
  }
}

/** A leaf on a categorical column: its test on each level, then one lookup per row. */
function categoricalLeaf(
  leaf: Exclude<Leaf, IPolygon>,
  codes: Int32Array,
  levels: readonly (string | number)[],
  n: number
): Kernel {
  // lut[code + 1]: code -1 (missing) reads lut[0] = 0; a code past the levels reads undefined,
  // which a Uint8Array stores as 0.
  const lut = new Uint8Array(levels.length + 1);
  let any = 0;
  for (let k = 0; k < levels.length; k++) {
    lut[k + 1] = leafHolds(leaf, rank(levels[k])) ? 1 : 0;
    any |= lut[k + 1];
  }
  return any ? dst => lookupLoop(dst, codes, lut, n) : fill(0);
}

function textLeaf(leaf: Exclude<Leaf, IPolygon>, values: readonly string[], n: number): Kernel {
  if (leaf.type === 'in' || (leaf.type === 'compare' && leaf.op === '==')) {
    const lits = leaf.type === 'in' ? leaf.values : [leaf.value];
    const set = new Set<string>();
    for (const lit of lits) {
      if (typeof lit === 'string') {
        set.add(lit);
      }
    }
    return dst => textSetLoop(dst, values, set, n);
  }
  return dst => {
    for (let i = 0; i < n; i++) {
      dst[i] = leafHolds(leaf, rank(values[i])) ? 1 : 0;
    }
  };
}

/** Per-row coordinates of a polygon test: numbers, NaN where missing or not a number. */
function coordinates(source: Source, n: number): Float32Array | Float64Array {
  if (source.kind === 'numeric') {
    return source.values;
  }
  const out = new Float64Array(n);
  if (source.kind === 'text') {
    out.fill(NaN);
    return out;
  }
  const lut = new Float64Array(source.levels.length + 1);
  lut[0] = NaN;
  source.levels.forEach((level, k) => {
    lut[k + 1] = typeof level === 'number' ? level : NaN;
  });
  const codes = source.codes;
  for (let i = 0; i < n; i++) {
    const c = codes[i] + 1;
    out[i] = c >= 0 && c < lut.length ? lut[c] : NaN;
  }
  return out;
}

function polygonLeaf(leaf: IPolygon, xs: Source, ys: Source, n: number): Kernel {
  if (xs.kind === 'text' || ys.kind === 'text') {
    return fill(0);
  }
  const pts = polygonPoints(leaf);
  const px = Float64Array.from(pts, p => p[0]);
  const py = Float64Array.from(pts, p => p[1]);
  const poly = pts.length > SMALL_POLYGON ? slabs(px, py) : null;
  let x: Float32Array | Float64Array | null = null;
  let y: Float32Array | Float64Array | null = null;
  const run = (dst: Uint8Array, and: boolean): void => {
    // Built on first use and kept: categorical coordinates are expanded once.
    x = x ?? coordinates(xs, n);
    y = y ?? coordinates(ys, n);
    if (poly === null) {
      smallPolygonLoop(dst, x, y, px, py, n, and);
    } else {
      polygonLoop(dst, x, y, poly, n, and);
    }
  };
  const kernel: Kernel = dst => run(dst, false);
  kernel.and = dst => run(dst, true);
  return kernel;
}

/**
 * Compile a filter into a function that fills a mask of the table's rows (1 = the row
 * matches). Names resolve once, here: the table's columns by name, and `sim_id` to `ids` (unless
 * a column has that name). A name not in the table is a FilterError of kind "unknown_name" (the
 * leftmost one, like Python) listing `known` sorted, or the table's names when `known` is not
 * given; pass the names the filter may use elsewhere (every parameter and distance) for a
 * listing that matches the other parsers'.
 *
 * Each leaf is one tight loop over a typed array: comparisons on float32 columns against
 * float32-rounded literals (see the top of this module), categorical leaves through a lookup
 * table of one byte per level (`cs in (0.1, 0.2)` is a boolean per level), polygons by PNPOLY
 * (edge by edge for a few points, by horizontal slabs for a lasso). and/or combine byte masks
 * four rows at a time with scratch buffers reused between calls (one per level of and/or
 * nesting, allocated on first use), an and tests its polygons last and only on the rows still
 * selected, `not` flips its operand's mask. null (everything) fills ones. The function may be
 * called again after the table's arrays change in place, not after they are replaced.
 */
export function compileMask(
  node: FilterNode | null,
  table: ITable,
  known?: Iterable<string>
): MaskFunction {
  const n = table.rows;
  const sources = tableSources(table);
  if (node !== null) {
    for (const leaf of leaves(node)) {
      for (const [name, pos] of leafNames(leaf)) {
        if (!sources.has(name)) {
          if (known === undefined) {
            throw unknownName(name, pos, sources.keys());
          }
          const set = new Set(known);
          if (set.has(name)) {
            // A name the caller knows that is not among the loaded columns.
            const loaded = sortCodePoints(Array.from(sources.keys()))
              .map(k => show(formatName(k)))
              .join(', ');
            throw new FilterError(
              `'${show(name)}'${at(pos)} is not among the columns shown: ${loaded}`,
              pos,
              'unknown_name'
            );
          }
          throw unknownName(name, pos, set);
        }
      }
    }
  }
  const scratch: Uint8Array[] = [];
  const build = (nd: FilterNode, level: number): Kernel => {
    switch (nd.type) {
      case 'not': {
        const k = build(nd.operand, level);
        return dst => {
          k(dst);
          flipLoop(dst, n);
        };
      }
      case 'and':
      case 'or': {
        const kernels = nd.operands.map(o => build(o, level + 1));
        const isAnd = nd.type === 'and';
        // and/or have no side effects: an and runs its dear operands (polygons) last, on the
        // rows the others left.
        const cheap = isAnd ? kernels.filter(k => !k.and) : kernels;
        const dear = isAnd ? kernels.filter(k => k.and).map(k => k.and!) : [];
        const [first, ...rest] = cheap.length ? cheap : [kernels[0]];
        const inPlace = cheap.length ? dear : dear.slice(1);
        return dst => {
          first(dst);
          if (rest.length) {
            const tmp = (scratch[level] = scratch[level] ?? new Uint8Array(n));
            for (const k of rest) {
              k(tmp);
              if (isAnd) {
                andLoop(dst, tmp, n);
              } else {
                orLoop(dst, tmp, n);
              }
            }
          }
          for (const k of inPlace) {
            k(dst);
          }
        };
      }
      case 'polygon':
        return polygonLeaf(nd, sources.get(nd.x)!, sources.get(nd.y)!, n);
      default: {
        const src = sources.get(nd.name)!;
        if (src.kind === 'numeric') {
          return numericLeaf(nd, src.values, n);
        }
        if (src.kind === 'categorical') {
          return categoricalLeaf(nd, src.codes, src.levels, n);
        }
        return textLeaf(nd, src.values, n);
      }
    }
  };
  const root = node === null ? fill(1) : build(node, 0);
  return (out: Uint8Array) => {
    if (out.length !== n) {
      throw new RangeError(`the mask has ${out.length} entries for ${n} rows`);
    }
    root(out);
  };
}

/** The mask of a filter over a table (1 = the row matches); see `compileMask`. */
export function mask(table: ITable, node: FilterNode | null, known?: Iterable<string>): Uint8Array {
  const out = new Uint8Array(table.rows);
  compileMask(node, table, known)(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Optional static check against what each name holds (Python's check_types).

/**
 * Refuse comparisons that can never do what was meant, as FilterError(kind "type"). `kinds`
 * maps a name to "number" or "text"; names not in it are not checked. A number name compared
 * with a quoted text, a text name compared with a number or a text name in a polygon is an
 * error: without it the filter would silently match nothing.
 */
export function checkTypes(
  node: FilterNode | null,
  kinds: ReadonlyMap<string, 'number' | 'text'> | Readonly<Record<string, 'number' | 'text'>>
): void {
  if (node === null) {
    return;
  }
  const kindOf = (name: string): string | undefined =>
    kinds instanceof Map
      ? kinds.get(name)
      : Object.prototype.hasOwnProperty.call(kinds, name)
        ? (kinds as Record<string, string>)[name]
        : undefined;
  for (const leaf of leaves(node)) {
    if (leaf.type === 'polygon') {
      for (const [name, pos] of leafNames(leaf)) {
        if (kindOf(name) === 'text') {
          throw new FilterError(
            `'${show(formatName(name))}' holds text and cannot be a polygon coordinate${at(pos)}`,
            pos,
            'type'
          );
        }
      }
      continue;
    }
    const kind = kindOf(leaf.name);
    if (kind !== 'number' && kind !== 'text') {
      continue;
    }
    const values: readonly Literal[] =
      leaf.type === 'compare' ? [leaf.value] : leaf.type === 'in' ? leaf.values : [leaf.low, leaf.high];
    const pos = leaf.pos ?? null;
    const shown = show(formatName(leaf.name));
    for (const v of values) {
      if (kind === 'number' && typeof v === 'string') {
        const trimmed = v.trim();
        const hint = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(trimmed)
          ? `: remove the quotes, ${trimmed}`
          : '';
        throw new FilterError(
          `'${shown}' holds numbers but is compared with the text ${show(formatLiteral(v))}${at(pos)}${hint}`,
          pos,
          'type'
        );
      }
      if (kind === 'text' && typeof v !== 'string') {
        throw new FilterError(
          `'${shown}' holds text but is compared with the number ${formatLiteral(v)}${at(pos)}: ` +
            `put it in quotes, '${formatLiteral(v)}'`,
          pos,
          'type'
        );
      }
    }
  }
}

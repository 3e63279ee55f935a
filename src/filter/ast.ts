/**
 * The syntax tree of the filter language, mirroring the dataclasses of
 * `jupyterlab_dsi/filter.py` (Or, And, Not, Compare, In, Between, Polygon).
 *
 * Nodes are plain, immutable-by-convention objects discriminated by `type`. `pos` (and `yPos` of
 * a polygon) is where the node started in the filter text, in Unicode code points like Python;
 * it is absent for nodes built in code and is never part of a node's identity (`equals`).
 *
 * Numbers. The language tells integers from doubles (`1` and `1.0` print differently, as in
 * Python), which a JavaScript `number` cannot. A literal is therefore:
 *
 * - a `string`;
 * - a plain `number`: an integer when `Number.isSafeInteger(n)` and `n` is not -0, otherwise a
 *   double (0.5, 1e300, -0, 2**53);
 * - an `IDouble` (`{ double: n }`): a double whose value happens to be a safe integer (`1000.0`
 *   from `1e3`, `0.0`). Build one with `double(n)`, which returns a plain number when the
 *   wrapper is not needed; the parser emits the same normal form, so trees built with
 *   `double()` and parsed trees compare equal with `equals`.
 */

/** An explicit double whose value is a safe integer (`1000.0`, `0.0`). */
export interface IDouble {
  readonly double: number;
}

export type NumberLiteral = number | IDouble;
export type Literal = string | NumberLiteral;

export type Op = '==' | '!=' | '<' | '<=' | '>' | '>=';
export const OPS: readonly Op[] = ['==', '!=', '<', '<=', '>', '>='];

export const KEYWORDS: ReadonlySet<string> = new Set([
  'and',
  'or',
  'not',
  'in',
  'between',
  'polygon'
]);

/** Longest filter text, in code points. */
export const MAX_LENGTH = 100_000;
/** Deepest nesting of '(' and 'not' in a filter text. */
export const MAX_DEPTH = 200;
/** Integer literals beyond this magnitude become doubles (as in Python). */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

export interface IOr {
  readonly type: 'or';
  readonly operands: readonly FilterNode[];
}

export interface IAnd {
  readonly type: 'and';
  readonly operands: readonly FilterNode[];
}

export interface INot {
  readonly type: 'not';
  readonly operand: FilterNode;
  readonly pos?: number | null;
}

export interface ICompare {
  readonly type: 'compare';
  readonly name: string;
  readonly op: Op;
  readonly value: Literal;
  readonly pos?: number | null;
}

export interface IIn {
  readonly type: 'in';
  readonly name: string;
  readonly values: readonly Literal[];
  readonly pos?: number | null;
}

export interface IBetween {
  readonly type: 'between';
  readonly name: string;
  readonly low: Literal;
  readonly high: Literal;
  readonly pos?: number | null;
}

export type Point = readonly [NumberLiteral, NumberLiteral];

export interface IPolygon {
  readonly type: 'polygon';
  readonly x: string;
  readonly y: string;
  readonly points: readonly Point[];
  /** Where the x name starts. */
  readonly pos?: number | null;
  /** Where the y name starts. */
  readonly yPos?: number | null;
}

export type FilterNode = IOr | IAnd | INot | ICompare | IIn | IBetween | IPolygon;
export type Leaf = ICompare | IIn | IBetween | IPolygon;

export type FilterErrorKind = 'syntax' | 'unknown_name' | 'type';

/**
 * A filter that cannot be used. `message` is one line, `"filter: " + detail` like Python's
 * `str(FilterError)`; `detail` is the message without that prefix (Python's `.message`).
 * `position` is the 0-based offset in code points of the problem in the filter text, or null
 * when unknown (a tree built in code, a filter that is too long).
 */
export class FilterError extends Error {
  readonly detail: string;
  readonly position: number | null;
  readonly kind: FilterErrorKind;

  constructor(detail: string, position: number | null = null, kind: FilterErrorKind = 'syntax') {
    super(`filter: ${detail}`);
    this.name = 'FilterError';
    this.detail = detail;
    this.position = position;
    this.kind = kind;
    // Keep instanceof working whatever the compilation target.
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

// ---------------------------------------------------------------------------------------------
// Literals

/** A double literal: a plain number unless its value is a safe integer (then `{double}`). */
export function double(value: number): NumberLiteral {
  if (!Number.isFinite(value)) {
    throw new RangeError(`a filter number must be finite, got ${value}`);
  }
  return Number.isSafeInteger(value) && !Object.is(value, -0) ? { double: value } : value;
}

/** The value of a number literal. */
export function numberValue(lit: NumberLiteral): number {
  return typeof lit === 'number' ? lit : lit.double;
}

/** Whether a literal is an integer (prints without ".0"). */
export function isInteger(lit: Literal): boolean {
  return typeof lit === 'number' && Number.isSafeInteger(lit) && !Object.is(lit, -0);
}

/** The value of a literal: its string or its number. */
export function literalValue(lit: Literal): string | number {
  return typeof lit === 'string' || typeof lit === 'number' ? lit : lit.double;
}

export function isDouble(value: unknown): value is IDouble {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IDouble).double === 'number' &&
    Object.keys(value).length === 1
  );
}

/** The normal form of a number literal: `{double}` only where a plain number would read as an integer. */
function normalNumber(lit: unknown): NumberLiteral {
  if (isDouble(lit)) {
    return double(lit.double);
  }
  if (typeof lit !== 'number') {
    throw new TypeError(`expected a number, got ${describe(lit)}`);
  }
  if (!Number.isFinite(lit)) {
    throw new RangeError(`a filter number must be finite, got ${lit}`);
  }
  return lit;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The index (UTF-16) of the first lone surrogate of `text`, or -1. */
export function loneSurrogate(text: string): number {
  const m = LONE_SURROGATE.exec(text);
  return m ? m.index : -1;
}

function normalLiteral(lit: unknown): Literal {
  if (typeof lit === 'string') {
    if (loneSurrogate(lit) >= 0) {
      throw new RangeError('a filter string may not hold a lone surrogate');
    }
    return lit;
  }
  if (typeof lit === 'number' || isDouble(lit)) {
    return normalNumber(lit);
  }
  throw new TypeError(`a filter value must be a number or a string, got ${describe(lit)}`);
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !name || loneSurrogate(name) >= 0) {
    throw new TypeError(`a filter name must be a non-empty string, got ${describe(name)}`);
  }
  return name;
}

function checkNode(node: unknown): FilterNode {
  const t = (node as FilterNode | null)?.type;
  if (
    t !== 'or' &&
    t !== 'and' &&
    t !== 'not' &&
    t !== 'compare' &&
    t !== 'in' &&
    t !== 'between' &&
    t !== 'polygon'
  ) {
    throw new TypeError(`not a filter node: ${describe(node)}`);
  }
  return node as FilterNode;
}

// ---------------------------------------------------------------------------------------------
// Constructors: they validate like Python's __post_init__ and normalize literals.

export function or(...operands: FilterNode[]): IOr {
  if (operands.length < 2) {
    throw new RangeError("'or' needs at least two operands");
  }
  return { type: 'or', operands: operands.map(checkNode) };
}

export function and(...operands: FilterNode[]): IAnd {
  if (operands.length < 2) {
    throw new RangeError("'and' needs at least two operands");
  }
  return { type: 'and', operands: operands.map(checkNode) };
}

export function not(operand: FilterNode): INot {
  return { type: 'not', operand: checkNode(operand) };
}

export function compare(name: string, op: Op, value: Literal): ICompare {
  if (!OPS.includes(op)) {
    throw new RangeError(`unknown operator ${describe(op)}`);
  }
  return { type: 'compare', name: checkName(name), op, value: normalLiteral(value) };
}

export function inList(name: string, values: readonly Literal[]): IIn {
  if (!values.length) {
    throw new RangeError("'in' needs at least one value");
  }
  return { type: 'in', name: checkName(name), values: values.map(normalLiteral) };
}

export function between(name: string, low: Literal, high: Literal): IBetween {
  checkName(name);
  const lo = normalLiteral(low);
  const hi = normalLiteral(high);
  if ((typeof lo === 'string') !== (typeof hi === 'string')) {
    throw new FilterError(mixedBetween(name, null), null, 'type');
  }
  return { type: 'between', name, low: lo, high: hi };
}

export function polygon(
  x: string,
  y: string,
  points: readonly (readonly [NumberLiteral, NumberLiteral])[]
): IPolygon {
  checkName(x);
  checkName(y);
  if (points.length < 3) {
    throw new RangeError('a polygon needs at least 3 points');
  }
  const pts = points.map(p => {
    if (!Array.isArray(p) || p.length !== 2) {
      throw new TypeError(`a polygon point has two coordinates, got ${describe(p)}`);
    }
    return [normalNumber(p[0]), normalNumber(p[1])] as const;
  });
  return { type: 'polygon', x, y, points: pts };
}

// ---------------------------------------------------------------------------------------------
// Names and messages shared by the parser, the evaluator and the mask.

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name as the canonical text writes it: bare, or in backquotes with a backquote doubled. */
export function formatName(name: string): string {
  if (IDENT.test(name) && !KEYWORDS.has(name.toLowerCase())) {
    return name;
  }
  return '`' + name.split('`').join('``') + '`';
}

const NOT_PRINTABLE = /[\p{C}\p{Z}]/u;

function escapeCodePoint(c: string): string {
  const cp = c.codePointAt(0)!;
  if (c === '\t') {
    return '\\t';
  }
  if (c === '\n') {
    return '\\n';
  }
  if (c === '\r') {
    return '\\r';
  }
  if (cp < 0x100) {
    return '\\x' + cp.toString(16).padStart(2, '0');
  }
  if (cp < 0x10000) {
    return '\\u' + cp.toString(16).padStart(4, '0');
  }
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/**
 * User text for a one-line message: at most `limit` code points (an ellipsis when cut), every
 * character that is not printable (controls, line breaks, spaces other than ' ') escaped.
 */
export function show(text: string, limit = 40): string {
  let cps = Array.from(text);
  if (cps.length > limit) {
    cps = cps.slice(0, limit - 1);
    cps.push('\u2026');
  }
  let out = '';
  for (const c of cps) {
    out += c !== ' ' && NOT_PRINTABLE.test(c) ? escapeCodePoint(c) : c;
  }
  return out;
}

/** " at N", or "" when the position is unknown. */
export function at(pos: number | null | undefined): string {
  return pos === null || pos === undefined ? '' : ` at ${pos}`;
}

export function mixedBetween(name: string, pos: number | null | undefined): string {
  return (
    `the bounds of '${show(formatName(name))} between'${at(pos)} mix a number and a text; ` +
    'use two numbers or two quoted texts'
  );
}

// Ratcliff/Obershelp similarity, as difflib.SequenceMatcher.ratio (no junk: names are short).
function matchingChars(a: string[], b: string[], alo: number, ahi: number, blo: number, bhi: number): number {
  let best = 0;
  let bi = alo;
  let bj = blo;
  // Longest common run: dynamic programming over b for each a (earliest in a, then in b).
  let prev = new Int32Array(bhi - blo + 1);
  for (let i = alo; i < ahi; i++) {
    const cur = new Int32Array(bhi - blo + 1);
    for (let j = blo; j < bhi; j++) {
      if (a[i] === b[j]) {
        const k = prev[j - blo] + 1;
        cur[j - blo + 1] = k;
        if (k > best) {
          best = k;
          bi = i - k + 1;
          bj = j - k + 1;
        }
      }
    }
    prev = cur;
  }
  if (!best) {
    return 0;
  }
  return (
    best +
    matchingChars(a, b, alo, bi, blo, bj) +
    matchingChars(a, b, bi + best, ahi, bj + best, bhi)
  );
}

function ratio(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const total = x.length + y.length;
  return total ? (2 * matchingChars(x, y, 0, x.length, 0, y.length)) / total : 1;
}

/** The FilterError for a name that is not among `known` (listed sorted, with a hint). */
export function unknownName(
  name: string,
  pos: number | null | undefined,
  known: Iterable<string>
): FilterError {
  const sorted = sortCodePoints(Array.from(new Set(known)));
  let close: string | undefined = sorted.find(k => k.toLowerCase() === name.toLowerCase());
  if (close === undefined) {
    // difflib.get_close_matches(name, known, n=1, cutoff=0.5): best ratio, ties to the largest.
    let score = 0.5;
    for (const k of sorted) {
      const r = ratio(k, name); // difflib: seq1 is the candidate, seq2 the typed name
      if (r > score || (r === score && (close === undefined || compareText(k, close) > 0))) {
        score = r;
        close = k;
      }
    }
  }
  const hint = close === undefined ? '' : ` (did you mean '${show(formatName(close))}'?)`;
  const listing = sorted.length ? sorted.map(k => show(formatName(k))).join(', ') : '(none)';
  return new FilterError(
    `unknown name '${show(name)}'${at(pos)}${hint}; known names: ${listing}`,
    pos ?? null,
    'unknown_name'
  );
}

/** -1, 0 or 1 comparing two strings by Unicode code point (Python's and SQLite's order). */
export function compareText(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca !== cb) {
      // UTF-16 order differs from code point order only where a surrogate meets U+E000-U+FFFF:
      // move the surrogates above that range (the first differing unit decides).
      if (ca >= 0xd800 && cb >= 0xd800) {
        ca += ca >= 0xe000 ? -0x800 : 0x2000;
        cb += cb >= 0xe000 ? -0x800 : 0x2000;
      }
      return ca < cb ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : 1;
}

export function sortCodePoints(names: string[]): string[] {
  return names.sort(compareText);
}

// ---------------------------------------------------------------------------------------------
// Walkers

/** The leaves (Compare, In, Between, Polygon) in text order; iterative, any depth. */
export function leaves(node: FilterNode): Leaf[] {
  const out: Leaf[] = [];
  const stack: FilterNode[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'or' || n.type === 'and') {
      for (let k = n.operands.length - 1; k >= 0; k--) {
        stack.push(n.operands[k]);
      }
    } else if (n.type === 'not') {
      stack.push(n.operand);
    } else {
      out.push(n);
    }
  }
  return out;
}

/** The names of a leaf with where each starts. */
export function leafNames(leaf: Leaf): [string, number | null][] {
  if (leaf.type === 'polygon') {
    return [
      [leaf.x, leaf.pos ?? null],
      [leaf.y, leaf.yPos ?? null]
    ];
  }
  return [[leaf.name, leaf.pos ?? null]];
}

/** The names a filter uses, in the order they first appear. */
export function names(node: FilterNode | null): Set<string> {
  const out = new Set<string>();
  if (node) {
    for (const leaf of leaves(node)) {
      for (const [name] of leafNames(leaf)) {
        out.add(name);
      }
    }
  }
  return out;
}

/** Throw the unknown_name FilterError of the leftmost name not in `known`. */
export function checkKnown(node: FilterNode | null, known: Iterable<string>): void {
  if (!node) {
    return;
  }
  const set = known instanceof Set ? (known as Set<string>) : new Set(known);
  for (const leaf of leaves(node)) {
    for (const [name, pos] of leafNames(leaf)) {
      if (!set.has(name)) {
        throw unknownName(name, pos, set);
      }
    }
  }
}

function literalEquals(a: Literal, b: Literal): boolean {
  if (typeof a === 'string' || typeof b === 'string') {
    return a === b;
  }
  return isInteger(a) === isInteger(b) && Object.is(numberValue(a), numberValue(b));
}

/**
 * Structural equality, positions ignored; literals compare by kind and value (1 is not 1.0,
 * 0.0 is not -0.0), like Python's dataclass equality on the parsed values.
 */
export function equals(a: FilterNode | null, b: FilterNode | null): boolean {
  const stack: [FilterNode | null, FilterNode | null][] = [[a, b]];
  while (stack.length) {
    const [x, y] = stack.pop()!;
    if (x === null || y === null) {
      if (x !== y) {
        return false;
      }
      continue;
    }
    if (x.type !== y.type) {
      return false;
    }
    switch (x.type) {
      case 'or':
      case 'and': {
        const yo = (y as IOr | IAnd).operands;
        if (x.operands.length !== yo.length) {
          return false;
        }
        x.operands.forEach((o, k) => stack.push([o, yo[k]]));
        break;
      }
      case 'not':
        stack.push([x.operand, (y as INot).operand]);
        break;
      case 'compare': {
        const c = y as ICompare;
        if (x.name !== c.name || x.op !== c.op || !literalEquals(x.value, c.value)) {
          return false;
        }
        break;
      }
      case 'in': {
        const c = y as IIn;
        if (
          x.name !== c.name ||
          x.values.length !== c.values.length ||
          !x.values.every((v, k) => literalEquals(v, c.values[k]))
        ) {
          return false;
        }
        break;
      }
      case 'between': {
        const c = y as IBetween;
        if (x.name !== c.name || !literalEquals(x.low, c.low) || !literalEquals(x.high, c.high)) {
          return false;
        }
        break;
      }
      case 'polygon': {
        const c = y as IPolygon;
        if (
          x.x !== c.x ||
          x.y !== c.y ||
          x.points.length !== c.points.length ||
          !x.points.every(
            (p, k) => literalEquals(p[0], c.points[k][0]) && literalEquals(p[1], c.points[k][1])
          )
        ) {
          return false;
        }
        break;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The language-neutral JSON form of tests/vectors/filter.json

export type FilterJSON =
  | { or: FilterJSON[] }
  | { and: FilterJSON[] }
  | { not: FilterJSON }
  | { compare: [string, Op, string | number] }
  | { in: [string, (string | number)[]] }
  | { between: [string, string | number, string | number] }
  | { polygon: [string, string, [number, number][]] };

/**
 * The vectors' `ast` form: {"or": [...]}, {"and": [...]}, {"not": node}, {"compare": [name,
 * op, value]}, {"in": [name, [values]]}, {"between": [name, low, high]}, {"polygon": [x, y,
 * [[x, y], ...]]}. Numbers become plain JSON numbers (1.0 and 1 are the same there).
 */
export function toJSON(node: FilterNode): FilterJSON {
  switch (node.type) {
    case 'or':
      return { or: node.operands.map(toJSON) };
    case 'and':
      return { and: node.operands.map(toJSON) };
    case 'not':
      return { not: toJSON(node.operand) };
    case 'compare':
      return { compare: [node.name, node.op, literalValue(node.value)] };
    case 'in':
      return { in: [node.name, node.values.map(literalValue)] };
    case 'between':
      return { between: [node.name, literalValue(node.low), literalValue(node.high)] };
    case 'polygon':
      return {
        polygon: [node.x, node.y, node.points.map(p => [numberValue(p[0]), numberValue(p[1])])]
      };
  }
}

/**
 * A tree from the JSON form, validated. A literal may be a number (an integer when it is a safe
 * integer, else a double), an `IDouble` or a string.
 */
export function fromJSON(json: unknown): FilterNode {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TypeError(`not a filter node: ${describe(json)}`);
  }
  const keys = Object.keys(json);
  if (keys.length !== 1) {
    throw new TypeError(`a filter node has one key, got ${keys.join(', ')}`);
  }
  const key = keys[0];
  const body = (json as Record<string, unknown>)[key];
  const list = (v: unknown): unknown[] => {
    if (!Array.isArray(v)) {
      throw new TypeError(`expected a list in '${key}', got ${describe(v)}`);
    }
    return v;
  };
  switch (key) {
    case 'or':
      return or(...list(body).map(fromJSON));
    case 'and':
      return and(...list(body).map(fromJSON));
    case 'not':
      return not(fromJSON(body));
    case 'compare': {
      const [name, op, value] = list(body);
      return compare(name as string, op as Op, value as Literal);
    }
    case 'in': {
      const [name, values] = list(body);
      return inList(name as string, list(values) as Literal[]);
    }
    case 'between': {
      const [name, low, high] = list(body);
      return between(name as string, low as Literal, high as Literal);
    }
    case 'polygon': {
      const [x, y, points] = list(body);
      return polygon(
        x as string,
        y as string,
        list(points).map(p => list(p) as unknown as [NumberLiteral, NumberLiteral])
      );
    }
  }
  throw new TypeError(`unknown filter node '${key}'`);
}

/**
 * The TypeScript filter language against the shared vectors (tests/vectors/filter.json, read
 * from the file itself, so the Python and TypeScript parsers are held to one file), plus seeded
 * randomized round trips and agreement between `evaluate` and `compileMask`.
 */
import * as fs from 'fs';
import * as path from 'path';

import type { Column, ITable } from '../../table/types';
import {
  FilterError,
  FilterNode,
  Literal,
  NumberLiteral,
  OPS,
  Op,
  and,
  between,
  checkKnown,
  checkTypes,
  compare,
  compileMask,
  double,
  equals,
  evaluate,
  formatDouble,
  fromJSON,
  inList,
  inPolygon,
  mask,
  names,
  not,
  or,
  parse,
  polygon,
  toJSON,
  toString
} from '../index';
import { mulberry32 as random } from '../../../tests/js/random';

// ---------------------------------------------------------------------------------------------
// The vectors, read twice: with JSON.parse (the plain `ast` form) and with a reader that keeps
// a number's kind as written (Python's json writes floats with '.' or an exponent, ints
// without), so that 1000.0 is a double and 1000 an integer.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TEXT = fs.readFileSync(path.join(ROOT, 'tests', 'vectors', 'filter.json'), 'utf-8');

function readExact(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) {
      i++;
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const key = value() as string;
        ws();
        expect(text[i]).toBe(':');
        i++;
        out[key] = value();
        ws();
        if (text[i++] === '}') {
          return out;
        }
      }
    }
    if (c === '[') {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i++] === ']') {
          return out;
        }
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/s.exec(text.slice(i, i + 200_000))!;
      i += m[0].length;
      return JSON.parse(m[0]);
    }
    const m = /^(?:true|false|null|-?[0-9][0-9.eE+-]*)/.exec(text.slice(i, i + 400))!;
    i += m[0].length;
    const v = JSON.parse(m[0]);
    return typeof v === 'number' && /[.eE]/.test(m[0]) ? double(v) : v;
  };
  return value();
}

interface IParseVector {
  input: string;
  canonical?: string;
  ast?: unknown;
  error?: 'syntax' | 'unknown_name' | 'type';
  position?: number;
}

interface IEvalCase {
  input: string;
  match: number[];
}

interface IVectors {
  parse: IParseVector[];
  eval: { names: string[]; rows: Record<string, unknown>[]; cases: IEvalCase[] };
}

const VECTORS = JSON.parse(TEXT) as IVectors;
const EXACT = readExact(TEXT) as IVectors;
const KNOWN = VECTORS.eval.names;
const ROWS = VECTORS.eval.rows;
const PARSE_OK = VECTORS.parse.map((v, k) => [k, v] as const).filter(([, v]) => 'canonical' in v);
const PARSE_ERR = VECTORS.parse.map((v, k) => [k, v] as const).filter(([, v]) => 'error' in v);

function label(text: string): string {
  const s = JSON.stringify(text);
  return s.length <= 60 ? s : s.slice(0, 57) + '...';
}

// ---------------------------------------------------------------------------------------------
// Tables

/**
 * An ITable from rows: a column whose non-null values are all numbers becomes a numeric
 * (Float32Array, NaN missing) column, any other (text, or numbers and text mixed) a
 * categorical one with its levels in order of appearance; with `allCategorical` numeric
 * columns are categorical too (levels sorted descending, to shuffle codes). `sim_id` -> ids.
 */
function tableFrom(
  rows: Record<string, unknown>[],
  columns: string[],
  allCategorical = false
): ITable {
  const cols: Column[] = [];
  for (const name of columns) {
    if (name === 'sim_id') {
      continue;
    }
    const values = rows.map(r => r[name]);
    const numeric = values.every(v => v === null || typeof v === 'number');
    if (numeric && !allCategorical) {
      cols.push({
        kind: 'numeric',
        name,
        values: Float32Array.from(values, v => (v === null ? NaN : (v as number)))
      });
    } else {
      const levels: (string | number)[] = [];
      for (const v of values) {
        if (v !== null && !levels.includes(v as string | number)) {
          levels.push(v as string | number);
        }
      }
      if (allCategorical) {
        levels.reverse();
      }
      cols.push({
        kind: 'categorical',
        name,
        levels,
        codes: Int32Array.from(values, v => (v === null ? -1 : levels.indexOf(v as string | number)))
      });
    }
  }
  return { rows: rows.length, ids: rows.map(r => String(r.sim_id)), columns: cols };
}

function matches(m: Uint8Array): number[] {
  const out: number[] = [];
  m.forEach((v, i) => {
    if (v !== 0 && v !== 1) {
      throw new Error(`mask value ${v} at ${i}`);
    }
    if (v) {
      out.push(i);
    }
  });
  return out;
}

function rowsMatching(node: FilterNode | null, rows: Record<string, unknown>[]): number[] {
  const out: number[] = [];
  rows.forEach((r, i) => {
    if (evaluate(node, r)) {
      out.push(i);
    }
  });
  return out;
}

function errorOf(fn: () => unknown): FilterError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FilterError);
    return err as FilterError;
  }
  throw new Error('expected a FilterError');
}

// ---------------------------------------------------------------------------------------------
// Vectors

describe('the vectors file', () => {
  it('is what the tests expect', () => {
    expect(PARSE_OK.length).toBeGreaterThanOrEqual(40);
    expect(PARSE_ERR.length).toBeGreaterThanOrEqual(40);
    expect(new Set(PARSE_ERR.map(([, v]) => v.error))).toEqual(
      new Set(['syntax', 'unknown_name', 'type'])
    );
    expect(VECTORS.eval.cases.length).toBeGreaterThanOrEqual(30);
    for (const row of ROWS) {
      expect(new Set(Object.keys(row))).toEqual(new Set(KNOWN));
    }
  });
});

describe('parse vectors', () => {
  it.each(PARSE_OK.map(([k, v]) => [label(v.input), k, v] as const))('%s', (_, k, v) => {
    const node = parse(v.input);
    const text = toString(node);
    expect(text).toBe(v.canonical);
    if (v.canonical === '') {
      expect(node).toBeNull();
      expect('ast' in v).toBe(false);
      return;
    }
    // The plain JSON form, and the exact tree (integers and doubles told apart).
    expect(toJSON(node!)).toEqual(v.ast);
    const exact = fromJSON(EXACT.parse[k].ast);
    expect(equals(node, exact)).toBe(true);
    expect(toString(exact)).toBe(text);
    // The canonical text parses to the same tree and prints the same.
    const again = parse(text);
    expect(toString(again)).toBe(text);
    expect(equals(again, node)).toBe(true);
    expect(names(again)).toEqual(names(node));
  });
});

describe('error vectors', () => {
  const table = tableFrom(ROWS, KNOWN);
  it.each(PARSE_ERR.map(([, v]) => [label(v.input), v] as const))('%s', (_, v) => {
    const err = errorOf(() => {
      const node = parse(v.input);
      expect(v.error).toBe('unknown_name'); // parse should have failed otherwise
      checkKnown(node, KNOWN);
    });
    expect([err.kind, err.position]).toEqual([v.error, v.position]);
    expect(err.message.startsWith('filter: ')).toBe(true);
    expect(err.message).toBe(`filter: ${err.detail}`);
    expect(err.message).not.toMatch(/[\n\r]/);
    if (err.kind === 'unknown_name') {
      const node = parse(v.input);
      // The same error from evaluate and from the mask, listing the known names sorted.
      const listing = 'known names: cs, d_density, d_shock, level, mrg, `run label`, sim_id, x, y';
      expect(err.message).toContain(listing);
      for (const again of [
        errorOf(() => evaluate(node, ROWS[0])),
        errorOf(() => compileMask(node, table)),
        errorOf(() => mask(table, node, KNOWN))
      ]) {
        expect([again.kind, again.position]).toEqual([err.kind, err.position]);
        expect(again.message).toContain(listing);
      }
    }
  });
});

describe('eval vectors', () => {
  const mixed = tableFrom(ROWS, KNOWN);
  const categorical = tableFrom(ROWS, KNOWN, true);

  it('builds numeric and categorical columns from the rows', () => {
    const kinds = Object.fromEntries(mixed.columns.map(c => [c.name, c.kind]));
    expect(kinds).toEqual({
      cs: 'numeric',
      mrg: 'categorical',
      d_density: 'numeric',
      d_shock: 'numeric',
      x: 'numeric',
      y: 'numeric',
      level: 'categorical', // numbers and text mixed
      'run label': 'categorical'
    });
  });

  it.each(VECTORS.eval.cases.map(c => [label(c.input), c] as const))('%s', (_, c) => {
    const node = parse(c.input);
    expect(rowsMatching(node, ROWS)).toEqual(c.match);
    expect(matches(mask(mixed, node))).toEqual(c.match);
    expect(matches(mask(categorical, node, KNOWN))).toEqual(c.match);
    // A compiled mask can be run again (scratch buffers are reused), and not is the complement.
    const fn = compileMask(node, mixed);
    const out = new Uint8Array(ROWS.length).fill(7);
    fn(out);
    fn(out);
    expect(matches(out)).toEqual(c.match);
    if (node) {
      const complement = ROWS.map((_r, i) => i).filter(i => !c.match.includes(i));
      expect(rowsMatching(not(node), ROWS)).toEqual(complement);
      expect(matches(mask(mixed, not(node)))).toEqual(complement);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// API details

describe('api', () => {
  it('writes one-line messages like Python', () => {
    expect(errorOf(() => parse('cs >= ')).message).toBe(
      "filter: expected a value after '>=' at 6, found end of filter"
    );
    expect(errorOf(() => checkKnown(parse('cz == 1'), KNOWN)).message).toMatch(
      /^filter: unknown name 'cz' at 0 \(did you mean 'cs'\?\); known names: cs, /
    );
    expect(errorOf(() => parse('cs = 1')).message).toBe(
      "filter: unexpected '=' at 3: write '==' to test equality"
    );
    expect(errorOf(() => parse('(x, y) in polygon((0, 0), (1, 0))')).message).toBe(
      'filter: a polygon needs at least 3 points at 10, it has 2'
    );
    const err = errorOf(() => checkKnown(parse('`a\nb\u0000` == 1'), ['cs']));
    expect(err.message).not.toMatch(/[\n\u0000]/);
    expect(err.position).toBe(0);
    expect(errorOf(() => parse("cs == '\ud800'")).position).toBe(7);
    expect(errorOf(() => parse("mrg == '😀😀' and $")).position).toBe(16);
  });

  it('keeps the limits without overflowing the stack', () => {
    let ok = Array(9091).fill('cs == 1').join(' or ').slice(0, 100_000);
    ok = ok.slice(0, ok.lastIndexOf(' or '));
    // Every term of the longest text that fits is kept.
    const terms = ok.split(' or ');
    const longest = parse(ok) as { type: string; operands: FilterNode[] };
    expect(longest.type).toBe('or');
    expect(longest.operands).toHaveLength(terms.length);
    expect(longest.operands.every(t => equals(t, compare('cs', '==', 1)))).toBe(true);
    const long = errorOf(() => parse('cs == 1' + ' '.repeat(100_000)));
    expect([long.kind, long.position]).toEqual(['syntax', null]);
    expect(long.message).toContain('too long');
    // 100,000 code points in more UTF-16 units is not too long.
    expect(parse("mrg == '" + '😀'.repeat(99_990) + "'")).toMatchObject({
      type: 'compare',
      name: 'mrg',
      op: '==',
      value: '😀'.repeat(99_990)
    });
    for (const text of ['('.repeat(50_000), 'not '.repeat(25_000), 'not ('.repeat(20_000), '('.repeat(201) + ')'.repeat(201)]) {
      expect(errorOf(() => parse(text)).message).toContain('nested too deeply');
    }
    let deepest = 'cs == 1';
    for (let k = 0; k < 200; k++) {
      deepest = `(cs == 1 or mrg == 'lo' and ${deepest})`;
    }
    const table = tableFrom(ROWS, KNOWN);
    for (const text of [deepest, 'not ('.repeat(100) + 'cs < 1' + ')'.repeat(100), 'not '.repeat(200) + 'cs < 1']) {
      const node = parse(text);
      const canonical = toString(node);
      expect(toString(parse(canonical))).toBe(canonical);
      expect(equals(parse(canonical), node)).toBe(true);
      expect(names(node)).toEqual(new Set(text.includes('mrg') ? ['cs', 'mrg'] : ['cs']));
      expect(matches(mask(table, node))).toEqual(rowsMatching(node, ROWS));
    }
  });

  it('prints doubles like Python repr', () => {
    const cases: [number, string][] = [
      [0, '0.0'],
      [-0, '-0.0'],
      [1, '1.0'],
      [-1.5, '-1.5'],
      [1e16, '1e+16'],
      [9999999999999998, '9999999999999998.0'],
      [1e-4, '0.0001'],
      [9.999e-5, '9.999e-05'],
      [1e-5, '1e-05'],
      [123.456, '123.456'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [2 ** 53, '9007199254740992.0'],
      [0.1 + 0.2, '0.30000000000000004'],
      [1e22, '1e+22'],
      [1.5e-7, '1.5e-07'],
      [123456789.125, '123456789.125']
    ];
    for (const [x, s] of cases) {
      expect(formatDouble(x)).toBe(s);
    }
    // Literals: plain numbers are integers when they are safe integers, doubles otherwise.
    expect(toString(compare('cs', '==', 3))).toBe('cs == 3');
    expect(toString(compare('cs', '==', double(3)))).toBe('cs == 3.0');
    expect(toString(compare('cs', '==', -0))).toBe('cs == -0.0');
    expect(toString(compare('cs', '==', 2 ** 60))).toBe('cs == 1.152921504606847e+18');
    expect(toString(compare('cs', '==', 0.5))).toBe('cs == 0.5');
  });

  it('validates trees built in code', () => {
    const a = compare('a', '==', 1);
    expect(() => or(a)).toThrow(RangeError);
    expect(() => compare('a', '=' as Op, 1)).toThrow(RangeError);
    expect(() => compare('a', '==', true as unknown as Literal)).toThrow(TypeError);
    expect(() => compare('a', '==', Infinity)).toThrow(RangeError);
    expect(() => compare('', '==', 1)).toThrow(TypeError);
    expect(() => polygon('x', 'y', [[0, 0], [1, 1]])).toThrow(RangeError);
    expect(errorOf(() => between('a', 1, 'b')).kind).toBe('type');
    expect(() => inList('a', [])).toThrow(RangeError);
    expect(equals(inList('a', [1, 'b']), parse("a in (1, 'b')"))).toBe(true);
    expect(equals(compare('a', '==', 1), compare('a', '==', double(1)))).toBe(false);
    expect(equals(compare('a', '==', 0.0), compare('a', '==', -0))).toBe(false);
    // Positions are not part of a node's identity.
    expect(equals(parse('   a == 1'), a)).toBe(true);
    expect(evaluate(null, {})).toBe(true);
    expect(names(null)).toEqual(new Set());
    expect(toString(null)).toBe('');
    expect(parse('   ')).toBeNull();
  });

  it('evaluates values like SQLite without affinity', () => {
    const node = parse('cs >= 1');
    expect(evaluate(node, { cs: true })).toBe(true);
    expect(evaluate(node, { cs: NaN })).toBe(false);
    expect(evaluate(node, { cs: undefined })).toBe(false);
    expect(evaluate(node, { cs: '0' })).toBe(true);
    expect(evaluate(parse('cs == 5'), { cs: '5' })).toBe(false);
    expect(evaluate(parse("cs < 'a'"), { cs: 1e30 })).toBe(true);
    expect(evaluate(parse('cs != 5'), { cs: null })).toBe(false);
    expect(evaluate(parse('not cs == 5'), { cs: null })).toBe(true);
    // Code point order, not UTF-16 order: U+FFFF sorts before U+1F600.
    expect(evaluate(parse("mrg < '😀'"), { mrg: '\uffff' })).toBe(true);
    expect(evaluate(parse("mrg > '\uffff'"), { mrg: '😀' })).toBe(true);
    expect(errorOf(() => evaluate(node, { cz: 1 })).kind).toBe('unknown_name');
    expect(() => evaluate(node, { cs: {} })).toThrow(TypeError);
  });

  it('tests polygons like Python in_polygon', () => {
    const square: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1]
    ];
    expect(inPolygon(0.5, 0.5, square)).toBe(1);
    expect(inPolygon(2, 0.5, square)).toBe(0);
    expect(inPolygon(null, 0.5, square)).toBeNull();
    expect(inPolygon(0.5, null, square)).toBeNull();
    expect(inPolygon('0.5', 0.5, square)).toBe(0);
    expect(inPolygon(NaN, 0.5, square)).toBe(0);
  });

  it('checks types like Python check_types', () => {
    const kinds = { cs: 'number', mrg: 'text', x: 'number', y: 'number' } as const;
    checkTypes(parse("cs < 1 and mrg in ('a', 'b') and (x, y) in polygon((0, 0), (1, 0), (0, 1))"), kinds);
    checkTypes(parse("unknown == 'a' or unknown == 1"), kinds);
    const bad: [string, number][] = [
      ["cs == '5'", 0],
      ['d == 1 and mrg == 1', 11],
      ["cs between 'a' and 'b'", 0],
      ['(mrg, x) in polygon((0, 0), (1, 0), (0, 1))', 1]
    ];
    for (const [text, pos] of bad) {
      const err = errorOf(() => checkTypes(parse(text), new Map(Object.entries(kinds))));
      expect([err.kind, err.position]).toEqual(['type', pos]);
    }
    expect(errorOf(() => checkTypes(parse("cs == '5'"), kinds)).message).toContain(
      'remove the quotes, 5'
    );
  });

  it('lists the known names of the caller for a name not loaded', () => {
    const table = tableFrom(ROWS, KNOWN);
    const err = errorOf(() => compileMask(parse('t == 1'), table, [...KNOWN, 't']));
    expect([err.kind, err.position]).toEqual(['unknown_name', 0]);
    expect(err.message).toContain('not among the columns shown');
    expect(() => compileMask(parse('cs == 1'), table)(new Uint8Array(3))).toThrow(RangeError);
    expect(matches(mask(table, null))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

// ---------------------------------------------------------------------------------------------
// Float32 columns

/** The shortest decimal that reads back to the float32 `f` (what an axis would show). */
function shortestFloat32(f: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) {
      return String(Number(s));
    }
  }
  throw new Error(`no float32 decimal for ${f}`);
}

describe('float32 columns', () => {
  it('compare with literals rounded to float32, so brush bounds round-trip', () => {
    const rnd = random(7);
    const n = 5000;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      values[i] = i % 97 === 0 ? NaN : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 8 - 4);
    }
    const table: ITable = {
      rows: n,
      ids: Array.from({ length: n }, (_, i) => `s${i}`),
      columns: [{ kind: 'numeric', name: 'v', values }]
    };
    for (let trial = 0; trial < 200; trial++) {
      let lo = values[Math.floor(rnd() * n)];
      let hi = values[Math.floor(rnd() * n)];
      if (lo !== lo || hi !== hi) {
        continue;
      }
      if (lo > hi) {
        [lo, hi] = [hi, lo];
      }
      const text = `v between ${shortestFloat32(lo)} and ${shortestFloat32(hi)}`;
      const got = mask(table, parse(text));
      let expected = 0;
      for (let i = 0; i < n; i++) {
        const inside = values[i] >= lo && values[i] <= hi ? 1 : 0;
        expected += inside;
        if (got[i] !== inside) {
          throw new Error(`${text}: row ${i} (${values[i]}) is ${got[i]}`);
        }
      }
      expect(expected).toBeGreaterThanOrEqual(lo === hi ? 1 : 2);
      // The bound itself, with ==.
      const eq = mask(table, parse(`v == ${shortestFloat32(lo)}`));
      expect(eq[values.indexOf(lo)]).toBe(1);
    }
    const tenth: ITable = { rows: 1, ids: ['a'], columns: [{ kind: 'numeric', name: 'v', values: Float32Array.of(0.1) }] };
    expect(matches(mask(tenth, parse('v == 0.1 and v <= 0.1 and v >= 0.1 and v in (0.1, 7)')))).toEqual([0]);
    expect(matches(mask(tenth, parse("v < 'a' and v != 'a' and not v > 'a' and not v between 'a' and 'b'")))).toEqual([0]);
  });

  it('tests polygons of any size like inPolygon, rows on vertices and edges included', () => {
    const rnd = random(5);
    const n = 4000;
    // Coordinates on a coarse grid, so that rows share ys and xs with vertices and edges.
    const grid = () => Math.floor(rnd() * 9) / 4 - 1;
    const x = Float32Array.from({ length: n }, (_, i) => (i % 211 === 0 ? NaN : grid()));
    const y = Float32Array.from({ length: n }, (_, i) => (i % 307 === 0 ? NaN : rnd() < 0.7 ? grid() : rnd() * 2 - 1));
    const codes = Int32Array.from({ length: n }, () => Math.floor(rnd() * 4) - 1);
    const levels = [0.5, 'p', -0.25];
    const table: ITable = {
      rows: n,
      ids: Array.from({ length: n }, (_, i) => `s${i}`),
      columns: [
        { kind: 'numeric', name: 'x', values: x },
        { kind: 'numeric', name: 'y', values: y },
        { kind: 'categorical', name: 'c', codes, levels }
      ]
    };
    const value = (name: string, i: number): unknown =>
      name === 'c' ? (codes[i] < 0 ? null : levels[codes[i]]) : name === 'x' ? x[i] : y[i];
    for (let trial = 0; trial < 300; trial++) {
      const m = 3 + Math.floor(rnd() * (trial % 3 === 0 ? 80 : 12));
      const pts = Array.from({ length: m }, () =>
        rnd() < 0.5 ? ([grid(), grid()] as [number, number]) : ([rnd() * 2.4 - 1.2, grid()] as [number, number])
      );
      const [a, b] = [['x', 'y'], ['y', 'x'], ['x', 'c'], ['c', 'y']][trial % 4];
      const node = polygon(a, b, pts);
      const got = mask(table, node);
      for (let i = 0; i < n; i++) {
        const want = inPolygon(value(a, i), value(b, i), pts) === 1 ? 1 : 0;
        if (got[i] !== want) {
          throw new Error(`${toString(node)}: row ${i} (${value(a, i)}, ${value(b, i)}) is ${got[i]}`);
        }
      }
    }
  });

  it('computes a mask over 1M rows', () => {
    const n = 1_000_000;
    const rnd = random(11);
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    const codes = new Int32Array(n);
    const levels = [0.1, 0.2, 0.3, 'p', 'q'];
    for (let i = 0; i < n; i++) {
      a[i] = i % 1009 === 0 ? NaN : Math.floor(rnd() * 64) / 64;
      b[i] = Math.floor(rnd() * 256) / 128 - 1;
      codes[i] = i % 997 === 0 ? -1 : Math.floor(rnd() * levels.length);
    }
    const table: ITable = {
      rows: n,
      ids: Array.from({ length: n }, (_, i) => `s${i}`),
      columns: [
        { kind: 'numeric', name: 'a', values: a },
        { kind: 'numeric', name: 'b', values: b },
        { kind: 'categorical', name: 'cs', codes, levels }
      ]
    };
    const node = parse(
      "a between 0.25 and 0.75 and cs in (0.1, 0.2, 'q') or not b < 0.5 and (a, b) in polygon((0, -1), (1, -1), (1, 1), (0.5, 0.25)) or sim_id == 's12345'"
    );
    const got = mask(table, node);
    const row: Record<string, unknown> = { a: 0, b: 0, cs: 0, sim_id: '' };
    let count = 0;
    for (let i = 0; i < n; i++) {
      row.a = a[i];
      row.b = b[i];
      row.cs = codes[i] < 0 ? null : levels[codes[i]];
      row.sim_id = table.ids[i];
      const want = evaluate(node, row) ? 1 : 0;
      count += want;
      if (got[i] !== want) {
        throw new Error(`row ${i}: mask ${got[i]}, evaluate ${want}`);
      }
    }
    expect(count).toBeGreaterThan(n / 10);
    expect(count).toBeLessThan(n);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized round trips (seeded; no dependencies)


const ODD_NAMES = ['and', 'IN', 'Polygon', 'a`b', 'not_', 'x y', '1x', 'ρ_max', '😀', "it's", '"q"', '`', ' ', 'a\nb'];
const ODD_TEXT = ['', "'", "''", '"', '`', 'it\'s', 'ü', '😀', '\u00a0', 'and', '\n', '\\', 'a b', '\uffff', '\u0000'];

class Gen {
  constructor(
    readonly rnd: () => number,
    readonly nameOf: () => string,
    readonly literal: () => Literal,
    readonly number: () => NumberLiteral
  ) {}

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)];
  }

  leaf(): FilterNode {
    switch (Math.floor(this.rnd() * 4)) {
      case 0:
        return compare(this.nameOf(), this.pick(OPS), this.literal());
      case 1:
        return inList(this.nameOf(), Array.from({ length: 1 + Math.floor(this.rnd() * 4) }, () => this.literal()));
      case 2:
        if (this.rnd() < 0.5) {
          return between(this.nameOf(), this.number(), this.number());
        }
        return between(this.nameOf(), this.pick(ODD_TEXT), this.pick(['a', 'z', '']));
      default:
        return polygon(
          this.nameOf(),
          this.nameOf(),
          Array.from({ length: 3 + Math.floor(this.rnd() * 10) }, () => [this.number(), this.number()] as const)
        );
    }
  }

  node(budget: number): FilterNode {
    if (budget <= 1 || this.rnd() < 0.3) {
      return this.leaf();
    }
    const r = this.rnd();
    if (r < 0.25) {
      return not(this.node(budget - 1));
    }
    const kids = Array.from({ length: 2 + Math.floor(this.rnd() * 2) }, () => this.node(Math.floor(budget / 2)));
    return r < 0.6 ? and(...kids) : or(...kids);
  }
}

function anyNumber(rnd: () => number): NumberLiteral {
  const r = rnd();
  if (r < 0.2) {
    return Math.floor(rnd() * 11) - 5;
  }
  if (r < 0.35) {
    return Math.floor((rnd() * 2 - 1) * Number.MAX_SAFE_INTEGER);
  }
  if (r < 0.5) {
    return double(Math.floor(rnd() * 2001) - 1000); // integral doubles: 3.0, -0.0 is below
  }
  if (r < 0.55) {
    return rnd() < 0.5 ? -0 : double(0);
  }
  // Any finite double from random bits.
  const bits = new DataView(new ArrayBuffer(8));
  for (;;) {
    bits.setUint32(0, Math.floor(rnd() * 2 ** 32));
    bits.setUint32(4, Math.floor(rnd() * 2 ** 32));
    const x = bits.getFloat64(0);
    if (Number.isFinite(x)) {
      return double(x);
    }
  }
}

function anyText(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 6);
  for (let k = 0; k < n; k++) {
    s += ODD_TEXT[Math.floor(rnd() * ODD_TEXT.length)];
  }
  return s;
}

describe('randomized round trips', () => {
  it('parse(toString(ast)) is the ast, for 3000 random trees', () => {
    const rnd = random(1234);
    const gen = new Gen(
      rnd,
      () => (rnd() < 0.5 ? KNOWN[Math.floor(rnd() * KNOWN.length)] : ODD_NAMES[Math.floor(rnd() * ODD_NAMES.length)]),
      () => (rnd() < 0.5 ? anyNumber(rnd) : anyText(rnd)),
      () => anyNumber(rnd)
    );
    for (let k = 0; k < 3000; k++) {
      const node = gen.node(12);
      const text = toString(node);
      const again = parse(text);
      if (!equals(again, node)) {
        throw new Error(`round trip changed ${JSON.stringify(text)} into ${JSON.stringify(toString(again))}`);
      }
      expect(toString(again)).toBe(text);
      expect(names(again)).toEqual(names(node));
      expect(toJSON(fromJSON(toJSON(node)))).toEqual(toJSON(node));
    }
  });

  it('any text parses or raises a FilterError with a position inside it', () => {
    const rnd = random(99);
    const tokens = ['cs', 'mrg', '`x y`', '`', 'and', 'AND', 'or', 'not', 'in', 'between', 'polygon', '(', ')', ',', '==', '!=', '<', '<=', '>', '>=', '=', '1', '-2.5e3', '0.', "'a'", "'", '"b""c"', ' ', '\n', 'x', 'y', '$', '{', '\u00a0', '\u00e9', '\ud800', '-', '1e999', '--', ';', '😀'];
    for (let k = 0; k < 3000; k++) {
      const parts = Array.from({ length: Math.floor(rnd() * 25) }, () => tokens[Math.floor(rnd() * tokens.length)]);
      const text = parts.join(rnd() < 0.5 ? ' ' : '');
      let node: FilterNode | null;
      try {
        node = parse(text);
      } catch (err) {
        expect(err).toBeInstanceOf(FilterError);
        const e = err as FilterError;
        expect(['syntax', 'type']).toContain(e.kind);
        expect(e.position).not.toBeNull();
        expect(e.position!).toBeGreaterThanOrEqual(0);
        expect(e.position!).toBeLessThanOrEqual(Array.from(text).length);
        expect(e.message).not.toMatch(/[\n\r]/);
        continue;
      }
      const canonical = toString(node);
      expect(equals(parse(canonical), node)).toBe(true);
    }
  });

  it('compileMask agrees with evaluate on random trees and tables', () => {
    const rnd = random(2024);
    // Values and literals that float32 holds exactly, so that float32 columns change nothing.
    const numbers = [0, 1, -1, 0.5, 0.25, -1.5, 2, 3.5, 1000, -0];
    const texts = ['lo', 'hi', 'Lo', 'lo ', '1', '10', 'b', '', 'a', 'z', '😀', '\uffff'];
    const cols = ['n1', 'n2', 'c1', 'c2', 'sim_id'];
    const pickNumber = (): NumberLiteral => {
      const v = numbers[Math.floor(rnd() * numbers.length)];
      return rnd() < 0.3 ? double(v) : v;
    };
    const gen = new Gen(
      rnd,
      () => cols[Math.floor(rnd() * cols.length)],
      () => (rnd() < 0.6 ? pickNumber() : texts[Math.floor(rnd() * texts.length)]),
      pickNumber
    );
    for (let t = 0; t < 40; t++) {
      const rows: Record<string, unknown>[] = [];
      const nrows = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < nrows; i++) {
        const num = () => (rnd() < 0.15 ? null : numbers[Math.floor(rnd() * numbers.length)]);
        const any = () => (rnd() < 0.5 ? num() : texts[Math.floor(rnd() * texts.length)]);
        rows.push({ sim_id: rnd() < 0.5 ? texts[Math.floor(rnd() * texts.length)] : `s${i}`, n1: num(), n2: num(), c1: any(), c2: any() });
      }
      const tables = [tableFrom(rows, cols), tableFrom(rows, cols, true)];
      for (let k = 0; k < 50; k++) {
        const node = gen.node(10);
        const want = rowsMatching(node, rows);
        for (const table of tables) {
          const got = matches(mask(table, node));
          if (got.join() !== want.join()) {
            throw new Error(`${toString(node)}: mask ${got}, evaluate ${want}`);
          }
        }
      }
    }
  });
});

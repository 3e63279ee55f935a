/**
 * The filter parser fuzzed with fast-check (issue 7): any text, any Unicode, and mutations of
 * the shared vectors either parse to a tree that prints and parses back to itself and masks a
 * table, or raise a one-line FilterError with a position inside the text. Never another error,
 * never a hang. Shrunk counterexamples are printed by fast-check when this fails.
 */
import * as fs from 'fs';
import * as path from 'path';

import fc from 'fast-check';

import type { ITable } from '../../table/types';
import { FilterError, FilterNode, compileMask, equals, parse, toString } from '../index';

const VECTORS = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'filter.json'), 'utf-8')
);
const SEEDS: string[] = Object.values(VECTORS.parse as Record<string, { input: string }>).map(v => v.input);

const TABLE: ITable = {
  rows: 3,
  ids: ['s0', 's1', 's2'],
  columns: [
    { kind: 'numeric', name: 'cs', values: Float32Array.from([0.1, 0.2, NaN]) },
    { kind: 'categorical', name: 'mrg', codes: Int32Array.from([0, 1, -1]), levels: ['a', 'b'] },
    { kind: 'numeric', name: 'd_density', values: Float32Array.from([1, 2, 3]) }
  ]
};

/** What every input must do: parse and round-trip, or fail as a FilterError. */
function check(text: string): void {
  let node: FilterNode | null;
  try {
    node = parse(text);
  } catch (error) {
    if (!(error instanceof FilterError)) {
      throw error;
    }
    expect(error.message).not.toMatch(/[\n\r]/);
    if (error.position !== null) {
      expect(error.position).toBeGreaterThanOrEqual(0);
      expect(error.position).toBeLessThanOrEqual(Array.from(text).length);
    }
    return;
  }
  const canonical = toString(node);
  expect(equals(parse(canonical), node)).toBe(true);
  try {
    compileMask(node, TABLE)(new Uint8Array(TABLE.rows));
  } catch (error) {
    // A tree may name columns this table lacks: that, and only that, is an error here.
    expect(error).toBeInstanceOf(FilterError);
    expect((error as FilterError).kind).toBe('unknown_name');
  }
}

/** Tokens of the language and characters that have broken parsers elsewhere. */
const TOKEN = fc.constantFrom(
  'cs', 'mrg', 'd_density', 'sim_id', '`a b`', '`', '``', 'and', 'or', 'not', 'in', 'between',
  'polygon', '(', ')', ',', '==', '!=', '<', '<=', '>', '>=', '=', '1', '-0', '1e308', '1e999',
  '0.1', '.5', "'x'", "'", '"', '"a""b"', ' ', '\t', '\n', '\u0000', '\u202e', '\u200f', '\ud800',
  '😀', '$x', '{x}', '<script>', "'; DROP TABLE jdsi_dataset; --"
);

describe('the filter parser, fuzzed', () => {
  it('takes any string', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 3000, seed: 7 });
  });

  it('takes any Unicode, lone surrogates included', () => {
    fc.assert(fc.property(fc.fullUnicodeString({ maxLength: 120 }), check), { numRuns: 2000, seed: 11 });
    fc.assert(fc.property(fc.string16bits({ maxLength: 120 }), check), { numRuns: 2000, seed: 13 });
  });

  it('takes sequences of its own tokens', () => {
    fc.assert(
      fc.property(fc.array(TOKEN, { maxLength: 40 }), fc.constantFrom(' ', ''), (tokens, glue) => check(tokens.join(glue))),
      { numRuns: 4000, seed: 17 }
    );
  });

  it('takes the shared vectors with characters inserted, deleted and repeated', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...SEEDS), fc.nat(), fc.nat(), fc.string({ maxLength: 6 }), fc.nat({ max: 3 }))
      .map(([seed, at, cut, insert, times]) => {
        const chars = Array.from(seed);
        const i = chars.length ? at % (chars.length + 1) : 0;
        const j = Math.min(chars.length, i + (cut % 4));
        return (chars.slice(0, i).join('') + insert.repeat(times) + chars.slice(j).join('')).slice(0, 400);
      });
    fc.assert(fc.property(mutated, check), { numRuns: 4000, seed: 23 });
  });

  it('refuses deep nesting and very long text with a FilterError, not a stack overflow', () => {
    for (const text of ['('.repeat(100_000), 'not '.repeat(50_000) + 'cs > 1', 'cs > 1 and '.repeat(20_000) + 'cs > 1', 'x'.repeat(10_000_000)]) {
      expect(() => parse(text)).toThrow(FilterError);
    }
  });
});

/** tests/vectors/filter_fuzz.json: Python's answer to 2,000 fuzzed inputs (tests/stress/filter_fuzz_gen.py). */
interface IFuzzVector {
  input: string;
  canonical?: string;
  error?: 'syntax' | 'type';
  position?: number | null;
}

describe('the two parsers agree', () => {
  const fuzz = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'filter_fuzz.json'), 'utf-8')
  ) as { vectors: IFuzzVector[] };

  it('on every fuzzed input: the same canonical text, or the same kind of error at the same place', () => {
    expect(fuzz.vectors.length).toBeGreaterThanOrEqual(2000);
    const disagree: string[] = [];
    for (const v of fuzz.vectors) {
      let answer: IFuzzVector;
      try {
        answer = { input: v.input, canonical: toString(parse(v.input)) };
      } catch (error) {
        if (!(error instanceof FilterError)) {
          throw error;
        }
        answer = { input: v.input, error: error.kind as 'syntax' | 'type', position: error.position };
      }
      const expected = 'canonical' in v ? { input: v.input, canonical: v.canonical } : v;
      if (JSON.stringify(answer) !== JSON.stringify(expected)) {
        disagree.push(`${JSON.stringify(v.input)}: python ${JSON.stringify(expected)} ts ${JSON.stringify(answer)}`);
      }
    }
    expect(disagree.slice(0, 10)).toEqual([]);
  });
});

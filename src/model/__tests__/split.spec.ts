/**
 * Splits give the same parts in TypeScript as in Python: both suites read
 * tests/vectors/split.json, written from the Python implementation (tests/test_splits.py).
 */
import * as fs from 'fs';
import * as path from 'path';

import { assignParts, partSizes, StratumValue } from '../split';

interface AssignVector {
  seed: number;
  names: string[];
  fractions: number[];
  ids: string[];
  strata: Record<string, StratumValue> | null;
  parts: Record<string, string>;
}

const vectors = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'vectors', 'split.json'), 'utf8')
) as { sizes: { n: number; fractions: number[]; sizes: number[] }[]; assign: AssignVector[] };

const asObject = (parts: Map<string, string>) => Object.fromEntries(parts);

describe('the shared split vectors', () => {
  it.each(vectors.sizes)('partSizes($n, $fractions)', ({ n, fractions, sizes }) => {
    expect(partSizes(n, fractions)).toEqual(sizes);
  });

  it.each(vectors.assign.map((v, i) => ({ i, ...v })))(
    'vector $i: $ids.length ids, seed $seed',
    v => {
      for (const ids of [v.ids, [...v.ids].reverse(), [...v.ids, ...v.ids.slice(0, 3)]]) {
        expect(asObject(assignParts(ids, v.names, v.fractions, v.seed, v.strata))).toEqual(v.parts);
      }
      if (v.strata) {
        // A Map gives the same parts as the plain object.
        const map = new Map(Object.entries(v.strata));
        expect(asObject(assignParts(v.ids, v.names, v.fractions, v.seed, map))).toEqual(v.parts);
      }
    }
  );

  it('covers stratified and astral-plane vectors', () => {
    expect(vectors.assign.some(v => v.strata && Object.keys(v.strata).length > 10)).toBe(true);
    expect(vectors.assign.some(v => v.ids.some(id => Array.from(id).some(c => c.codePointAt(0)! > 0xffff)))).toBe(
      true
    );
    expect(vectors.assign.some(v => new Set(Object.values(v.parts)).size === 3)).toBe(true);
  });
});

describe('assignParts', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `sim${String(i).padStart(5, '0')}`);

  it('does not depend on the order of the input and keeps the sizes', () => {
    const parts = assignParts(ids, ['train', 'val', 'test'], [0.8, 0.1, 0.1], 3);
    expect(asObject(assignParts([...ids].reverse(), ['train', 'val', 'test'], [0.8, 0.1, 0.1], 3))).toEqual(
      asObject(parts)
    );
    const counts: Record<string, number> = {};
    parts.forEach(part => (counts[part] = (counts[part] ?? 0) + 1));
    expect(counts).toEqual({ train: 800, val: 100, test: 100 });
  });

  it('refuses impossible arguments', () => {
    expect(() => assignParts(ids, ['a', 'b'], [0.5, 0.6], 0)).toThrow(RangeError);
    expect(() => assignParts(ids, ['a', 'a'], [0.5, 0.5], 0)).toThrow(RangeError);
    expect(() => assignParts(ids, ['a', 'b'], [1], 0)).toThrow(RangeError);
    expect(() => assignParts(ids, ['a', 'b'], [1.5, -0.5], 0)).toThrow(RangeError);
    expect(() => assignParts(ids, ['a'], [1], -1)).toThrow(RangeError);
    expect(() => partSizes(-1, [1])).toThrow(RangeError);
  });
});

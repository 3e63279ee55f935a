/**
 * Subsampling picks the same members in TypeScript as in Python: both suites read
 * tests/vectors/sampling.json, written from the Python implementation.
 */
import * as fs from 'fs';
import * as path from 'path';

import { compareIds, sampleN, sampleP, unit } from '../sampling';

const vectors = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'vectors', 'sampling.json'), 'utf8')
);

describe('the shared sampling vectors', () => {
  it.each(vectors.unit as { seed: number; sim_id: string; unit: number }[])(
    'unit($seed, $sim_id)',
    ({ seed, sim_id, unit: expected }) => {
      expect(unit(seed, sim_id)).toBe(expected);
    }
  );

  it('keeps the same members by probability', () => {
    const cases = vectors.p as { seed: number; p: number; ids: string[]; members: string[] }[];
    // Not vacuous: some vector keeps a proper, non-empty part of its ids.
    expect(cases.some(v => v.members.length > 0 && v.members.length < v.ids.length)).toBe(true);
    for (const v of cases) {
      expect(sampleP(v.ids, v.p, v.seed)).toEqual(v.members);
    }
  });

  it('keeps the same members by target size', () => {
    const cases = vectors.n as { seed: number; n: number; ids: string[]; members: string[] }[];
    // Not vacuous: some vector keeps a proper, non-empty part of its ids.
    expect(cases.some(v => v.members.length > 0 && v.members.length < v.ids.length)).toBe(true);
    for (const v of cases) {
      expect(sampleN(v.ids, v.n, v.seed)).toEqual(v.members);
    }
  });
});

describe('sampling', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `sim${String(i).padStart(5, '0')}`);

  it('does not depend on the order of the input', () => {
    const shuffled = [...ids].reverse();
    expect(sampleP(shuffled, 0.3, 7)).toEqual(sampleP(ids, 0.3, 7));
    expect(sampleN(shuffled, 100, 7)).toEqual(sampleN(ids, 100, 7));
  });

  it('keeps about p of the members, and a smaller p keeps a subset', () => {
    const big = sampleP(ids, 0.5, 1);
    const small = sampleP(ids, 0.2, 1);
    expect(big.length).toBeGreaterThan(900);
    expect(big.length).toBeLessThan(1100);
    expect(small.every(id => big.includes(id))).toBe(true);
  });

  it('refuses impossible arguments', () => {
    expect(() => sampleP(ids, 1.5, 0)).toThrow(RangeError);
    expect(() => sampleN(ids, -1, 0)).toThrow(RangeError);
    expect(() => unit(-1, 'x')).toThrow(RangeError);
  });

  it('sorts ids by code point, as Python does', () => {
    expect(['\u{1F600}', '\uFFFF', 'a'].sort(compareIds)).toEqual(['a', '\uFFFF', '\u{1F600}']);
  });
});

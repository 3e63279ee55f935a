/**
 * d_feature's terms say what Python says: both suites read tests/vectors/feature.json (checked
 * terms and the exact refusal, the formula's text, a dataset row's stored terms).
 */
import * as fs from 'fs';
import * as path from 'path';

import { checkTerms, FeatureError, featureFormula, parseTerms, storedTerms, weightText } from '../feature';

const vectors = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'vectors', 'feature.json'), 'utf8')
);

/** {"$number": "NaN" | "Infinity" | "-Infinity"} as that number; the rest as it is. */
function decode(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(decode);
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === '$number') {
      return Number(entries[0][1]);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

interface ITermsVector {
  input?: unknown;
  input_json?: string;
  terms?: Record<string, number>;
  error?: string;
  error_prefix?: string;
}

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a FeatureError');
}

describe('the shared feature vectors', () => {
  it.each((vectors.terms as ITermsVector[]).map(v => [JSON.stringify(v.input ?? 'json').slice(0, 40), v]))(
    'terms %s',
    (_, v) => {
      const input = v.input_json !== undefined ? JSON.parse(v.input_json) : decode(v.input);
      if (v.terms) {
        const got = checkTerms(input);
        expect(got).toEqual(v.terms);
        expect(Object.keys(got)).toEqual(Object.keys(v.terms)); // the user's order too
        expect(parseTerms(input)).toEqual(v.terms);
        return;
      }
      const error = thrown(() => checkTerms(input));
      expect(error).toBeInstanceOf(FeatureError);
      if (v.error !== undefined) {
        expect(error.message).toBe(v.error);
      } else {
        expect(error.message.startsWith(v.error_prefix!)).toBe(true);
      }
      expect(parseTerms(input)).toBeNull(); // refused whole: no term is silently dropped
    }
  );

  it.each((vectors.weight_text as { weight: number; text: string }[]).map(v => [v.text, v]))(
    'weight text %s',
    (_, v) => {
      expect(weightText(v.weight)).toBe(v.text);
    }
  );

  it('writes the formula as Python does', () => {
    expect(vectors.formula.length).toBeGreaterThan(0);
    for (const v of vectors.formula as { terms: Record<string, number>; text: string }[]) {
      expect(featureFormula(v.terms)).toBe(v.text);
    }
  });

  it('reads stored terms as Python does', () => {
    // Not vacuous: the vectors hold terms read back and terms that read as none.
    expect(vectors.stored.some((v: { terms: unknown }) => v.terms === null)).toBe(true);
    expect(vectors.stored.some((v: { terms: unknown }) => v.terms !== null)).toBe(true);
    for (const v of vectors.stored as {
      feature: string | null;
      w_shock: number;
      w_edge: number;
      method: string | null;
      terms: Record<string, number> | null;
    }[]) {
      const got = storedTerms(v.feature, v.w_shock, v.w_edge, v.method);
      expect(got).toEqual(v.terms);
      if (got !== null) {
        expect(Object.keys(got)).toEqual(Object.keys(v.terms!));
      }
    }
  });
});

describe('checkTerms and parseTerms', () => {
  it('gives the default for null, as Python does, and parseTerms says none', () => {
    expect(checkTerms(null)).toEqual({ d_shock: 1, d_edge: 1 });
    expect(checkTerms(undefined)).toEqual({ d_shock: 1, d_edge: 1 });
    expect(parseTerms(null)).toBeNull();
    expect(parseTerms(undefined)).toBeNull();
  });

  it('never returns the default object itself', () => {
    const a = checkTerms(null);
    a.d_shock = 7;
    expect(checkTerms(null)).toEqual({ d_shock: 1, d_edge: 1 });
  });
});

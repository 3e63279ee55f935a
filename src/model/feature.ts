/**
 * d_feature: a weighted sum of any number columns. Seed 000's implosions weigh d_shock and
 * d_edge; an ensemble without those coefficients (CloverLeaf) weighs what it has (d_density, a
 * per-step scalar). The terms are an ordered object {column: weight}, the form they travel in
 * (kernel messages, the save request, the dataset's `feature` column) and Python reads
 * (jupyterlab_dsi/feature.py).
 */
import type { Column } from '../table/types';

export type FeatureTerms = Record<string, number>;

export const FEATURE = 'd_feature';

/** Seed 000's feature, and what a missing or legacy [w_shock, w_edge] pair means. */
export const SHOCK_EDGE: Readonly<FeatureTerms> = { d_shock: 1, d_edge: 1 };

/** Terms that are not {column: finite number}; the message is Python's (FeatureError) word for word. */
export class FeatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureError';
  }
}

/** A value in a message, as JSON (Python's feature._short writes the same). */
function short(value: unknown): string {
  let text: string;
  if (typeof value === 'number' && !Number.isFinite(value)) {
    text = String(value); // NaN, Infinity: as Python's json.dumps writes them
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length <= 60 ? text : text.slice(0, 57) + '...';
}

function weight(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FeatureError(`the weight of ${name} in d_feature must be a finite number, not ${short(value)}`);
  }
  return value;
}

/**
 * Checked terms from any form they may arrive in, as Python's feature.terms checks them:
 * {column: weight}; the version-1 settings' {shock, edge}; the legacy pair [w_shock, w_edge];
 * null or undefined: the default, d_shock + d_edge. Anything else throws a FeatureError: a bad
 * term is refused, never dropped (a feature that silently lost a term is another feature).
 */
export function checkTerms(value: unknown): FeatureTerms {
  if (value === null || value === undefined) {
    return { ...SHOCK_EDGE };
  }
  if (Array.isArray(value)) {
    if (value.length === 2) {
      return { d_shock: weight('d_shock', value[0]), d_edge: weight('d_edge', value[1]) };
    }
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.map(([k]) => k).sort().join() === 'edge,shock') {
      const v = value as { shock: unknown; edge: unknown };
      return { d_shock: weight('d_shock', v.shock), d_edge: weight('d_edge', v.edge) };
    }
    const terms: FeatureTerms = {};
    for (const [name, w] of entries) {
      if (!name) {
        throw new FeatureError(`d_feature's terms are named by columns, not ${short(name)}`);
      }
      if (name === FEATURE) {
        throw new FeatureError('d_feature cannot be one of its own terms');
      }
      terms[name] = weight(name, w);
    }
    if (Object.keys(terms).length === 0) {
      throw new FeatureError('d_feature needs at least one term, e.g. {"d_density": 1}');
    }
    return terms;
  }
  throw new FeatureError(
    `d_feature's weights must be {column: weight} or two numbers [w_shock, w_edge], not ${short(value)}`
  );
}

/**
 * Terms as {@link checkTerms} gives them, or null when there are none (null, undefined) or the
 * value is not terms: all or nothing, for callers that fall back to other terms.
 */
export function parseTerms(value: unknown): FeatureTerms | null {
  if (value === null || value === undefined) {
    return null;
  }
  try {
    return checkTerms(value);
  } catch (e) {
    if (e instanceof FeatureError) {
      return null;
    }
    throw e;
  }
}

/**
 * A dataset's terms from its columns, as Python's feature.stored reads them: `feature` (schema
 * 3), else (schema 2) the two weights a dataset with a method had; null when there are none or
 * the column holds something that is not terms.
 */
export function storedTerms(
  featureText: unknown,
  wShock: unknown,
  wEdge: unknown,
  methodId: unknown
): FeatureTerms | null {
  if (featureText === null || featureText === undefined) {
    return methodId === null || methodId === undefined ? null : parseTerms([wShock, wEdge]);
  }
  if (typeof featureText !== 'string') {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(featureText);
  } catch {
    return null;
  }
  return value && typeof value === 'object' && !Array.isArray(value) ? parseTerms(value) : null;
}

/**
 * A weight in full, as Python's feature.weight_text writes it (repr without a `.0`): the
 * shortest digits that read back as the same number, positional from 1e-4 up to 1e16, else
 * `1e-07`, `1.5e+16` (two exponent digits at least, with a sign).
 */
export function weightText(w: number): string {
  if (!Number.isFinite(w)) {
    return w > 0 ? 'inf' : w < 0 ? '-inf' : 'nan';
  }
  if (w === 0) {
    return Object.is(w, -0) ? '-0' : '0';
  }
  const [mantissa, exponent] = w.toExponential().split('e'); // shortest round-trip digits
  const e = Number(exponent);
  if (e < -4 || e >= 16) {
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (e < 0) {
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  }
  if (digits.length <= e + 1) {
    return sign + digits + '0'.repeat(e + 1 - digits.length);
  }
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

/** Readable, as Python's feature.formula: `d_feature = 1 · d_shock + 0.5 · d_edge`. */
export function featureFormula(terms: FeatureTerms): string {
  const parts = Object.entries(terms).map(([name, w]) => `${weightText(w)} · ${name}`);
  return `${FEATURE} = ${parts.length > 0 ? parts.join(' + ') : 'nothing (no terms)'}`;
}

/**
 * Σ weight · column over the rows; NaN where any term is missing, and NaN everywhere for a term
 * naming no column (so a feature never silently leaves a term out). `values(name)` gives a
 * column's numbers.
 */
export function computeFeature(
  terms: FeatureTerms,
  values: (name: string) => Float32Array | null,
  rows: number,
  out: Float32Array = new Float32Array(rows)
): Float32Array {
  const entries = Object.entries(terms);
  if (entries.length === 0) {
    return out.fill(NaN);
  }
  out.fill(0);
  for (const [name, w] of entries) {
    const column = values(name);
    if (!column) {
      return out.fill(NaN);
    }
    for (let i = 0; i < rows; i++) {
      out[i] += w * column[i]; // NaN propagates: a missing term leaves the row missing
    }
  }
  return out;
}

/** Whether a categorical column's levels are all numbers (it can be plotted at those values). */
export function hasNumericLevels(column: Column): boolean {
  return column.kind === 'categorical' && column.levels.length > 0 && column.levels.every(l => typeof l === 'number');
}

/** A column's values as numbers, cached per column: categorical ones at their numeric levels. */
const asNumbers = new WeakMap<Column, Float32Array>();
export function numericValues(column: Column): Float32Array | null {
  if (column.kind === 'numeric') {
    return column.values;
  }
  if (!hasNumericLevels(column)) {
    return null;
  }
  let values = asNumbers.get(column);
  if (!values) {
    const levels = column.levels as readonly number[];
    values = Float32Array.from(column.codes, c => (c >= 0 && c < levels.length ? levels[c] : NaN));
    asNumbers.set(column, values);
  }
  return values;
}

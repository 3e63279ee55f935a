/**
 * d_feature: a weighted sum of any number columns. Seed 000's implosions weigh d_shock and
 * d_edge; an ensemble without those coefficients (CloverLeaf) weighs what it has (d_density, a
 * per-step scalar). The terms are an ordered object {column: weight}, the form they travel in
 * (kernel messages, the save request, the dataset's `feature` column) and Python reads
 * (jupyterlab_dsi/feature.py).
 */
import type { Column } from '../views/types';

export type FeatureTerms = Record<string, number>;

export const FEATURE = 'd_feature';

/** Seed 000's feature, and what a missing or legacy [w_shock, w_edge] pair means. */
export const SHOCK_EDGE: Readonly<FeatureTerms> = { d_shock: 1, d_edge: 1 };

/**
 * Terms from any form they may arrive in: {column: weight}; the version-1 settings' {shock,
 * edge}; the legacy pair [w_shock, w_edge]. Weights that are not finite numbers are dropped;
 * null when nothing usable is there.
 */
export function parseTerms(value: unknown): FeatureTerms | null {
  if (Array.isArray(value)) {
    const [ws, we] = value;
    return value.length === 2 && Number.isFinite(ws) && Number.isFinite(we)
      ? { d_shock: Number(ws), d_edge: Number(we) }
      : null;
  }
  if (!value || typeof value !== 'object') {
    return null;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const keys = entries.map(([k]) => k).sort().join();
  if (keys === 'edge,shock') {
    const v = value as { shock: unknown; edge: unknown };
    return parseTerms([v.shock, v.edge]);
  }
  const terms: FeatureTerms = {};
  for (const [name, weight] of entries) {
    if (name && name !== FEATURE && typeof weight === 'number' && Number.isFinite(weight)) {
      terms[name] = weight;
    }
  }
  return Object.keys(terms).length > 0 ? terms : null;
}

/** A weight as Python's `{w:g}` writes it for the usual weights (1, 0.5, 2.25). */
function formatWeight(w: number): string {
  return String(Number(w.toPrecision(6)));
}

/** Readable, as Python's feature.formula: `d_feature = 1 · d_shock + 0.5 · d_edge`. */
export function featureFormula(terms: FeatureTerms): string {
  const parts = Object.entries(terms).map(([name, w]) => `${formatWeight(w)} · ${name}`);
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

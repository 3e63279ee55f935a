/**
 * Row colors for the color-by choice: one palette index per row, so the views can batch their
 * drawing per color. Index 0 is the context color of unselected rows, 1 the color of a missing
 * value; categorical levels follow, or the bins of a sequential ramp for numbers.
 */
import { interpolateViridis, schemeTableau10 } from 'd3-scale-chromatic';

import type { Column, IRowColors } from '../table/types';

export const CONTEXT = 0;
export const MISSING = 1;
const RAMP_BINS = 32;

export interface ILegendItem {
  label: string;
  color: string;
}

export interface ILegend {
  column: string;
  kind: 'categorical' | 'numeric';
  items: ILegendItem[];
  /** Numeric ramps: the domain the colors span. */
  domain?: [number, number];
}

export interface IColoring {
  colors: IRowColors;
  legend: ILegend;
}

function levelColors(n: number): string[] {
  if (n <= schemeTableau10.length) {
    return schemeTableau10.slice(0, n);
  }
  return Array.from({ length: n }, (_, i) => interpolateViridis(n === 1 ? 0.5 : i / (n - 1)));
}

/** [min, max] of the finite values; [0, 1] for a column with none. */
export function extent(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) {
      lo = v;
    }
    if (v > hi) {
      hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/**
 * Colors of every row by `column`; rows not `selected` get the context color.
 * `context` and `missing` are CSS colors read from the theme by the caller.
 */
export function colorRows(
  column: Column,
  selected: Uint8Array,
  theme: { context: string; missing: string }
): IColoring {
  const rows = selected.length;
  const base = baseIndex(column, rows);
  // A selected row takes its column color, the others the context color (0): a mask per row,
  // without a branch ((v + 255) >> 8 is 1 for any non-zero byte, negated it masks all bits).
  // This runs on every brush move; the per-row colors it masks are computed once per column.
  const index = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    index[i] = base[i] & -((selected[i] + 255) >> 8);
  }
  if (column.kind === 'categorical') {
    const colors = levelColors(column.levels.length);
    return {
      colors: { palette: [theme.context, theme.missing, ...colors], index },
      legend: {
        column: column.name,
        kind: 'categorical',
        items: column.levels.map((level, i) => ({ label: String(level), color: colors[i] }))
      }
    };
  }
  const [lo, hi] = extent(column.values);
  const ramp = Array.from({ length: RAMP_BINS }, (_, i) => interpolateViridis(i / (RAMP_BINS - 1)));
  return {
    colors: { palette: [theme.context, theme.missing, ...ramp], index },
    legend: {
      column: column.name,
      kind: 'numeric',
      domain: [lo, hi],
      items: [0, 0.5, 1].map(f => ({
        label: String(Number((lo + f * (hi - lo)).toPrecision(3))),
        color: interpolateViridis(f)
      }))
    }
  };
}

/** Every row's palette index as if selected, per column object (columns are not mutated). */
const baseIndices = new WeakMap<Column, Uint8Array>();

/**
 * The palette index of every row when selected: MISSING, or its level's (categorical) or its
 * ramp bin's (numeric) color. Cached per column: a brush move recolors with the same columns.
 */
function baseIndex(column: Column, rows: number): Uint8Array {
  const known = baseIndices.get(column);
  if (known && known.length === rows) {
    return known;
  }
  const base = new Uint8Array(rows);
  if (column.kind === 'categorical') {
    const codes = column.codes;
    for (let i = 0; i < rows; i++) {
      base[i] = codes[i] < 0 ? MISSING : codes[i] + 2;
    }
  } else {
    const [lo, hi] = extent(column.values);
    const scale = hi > lo ? (RAMP_BINS - 1) / (hi - lo) : 0;
    const values = column.values;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      base[i] = Number.isNaN(v) ? MISSING : 2 + Math.round((v - lo) * scale);
    }
  }
  baseIndices.set(column, base);
  return base;
}

/**
 * The explorer's columns as values: extents, the one value a column has for every run (kept
 * aside), the replica's parameters as view columns, and which columns a scatter can plot.
 */
import type { IParameterColumn } from '../db/slices';
import type { Column } from '../table/types';
import { extent } from './colors';
import { hasNumericLevels } from './feature';

/** A column kept aside: the same for every run, shown as one line of text, never an axis. */
export interface IAsideColumn {
  name: string;
  /** Its value as text ('' when every run misses it). */
  value: string;
}

/** Extent of a column's finite values, cached per array: brush moves ask for it every time. */
const spans = new WeakMap<Float32Array, number>();
export function columnSpan(values: Float32Array): number {
  let span = spans.get(values);
  if (span === undefined) {
    const [lo, hi] = extent(values);
    span = hi > lo ? hi - lo : 0;
    spans.set(values, span);
  }
  return span;
}

/**
 * A column's one value when every run has the same one, missing runs aside ('' for none at
 * all); null when two runs differ. With one run nothing is "the same for every run".
 */
export function sameValue(column: Column, rows: number): string | null {
  if (rows < 2) {
    return null;
  }
  if (column.kind === 'categorical') {
    let code = -1;
    for (const c of column.codes) {
      if (c >= 0 && code >= 0 && c !== code) {
        return null;
      }
      code = c >= 0 ? c : code;
    }
    return code >= 0 ? String(column.levels[code]) : '';
  }
  let value = NaN;
  for (const v of column.values) {
    if (v === v && value === value && v !== value) {
      return null;
    }
    value = v === v ? v : value;
  }
  return value === value ? String(Number(value.toPrecision(6))) : '';
}

export function toColumn(p: IParameterColumn): Column {
  return p.kind === 'categorical'
    ? { kind: 'categorical', name: p.name, codes: p.codes!, levels: p.levels ?? [], unit: p.unit }
    : { kind: 'numeric', name: p.name, values: p.values!, unit: p.unit };
}

/** Whether a column can be a scatter axis: numbers, or categories whose levels are all numbers. */
export function isScatterable(column: Column): boolean {
  return column.kind === 'numeric' || hasNumericLevels(column);
}

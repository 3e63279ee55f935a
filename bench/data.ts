/**
 * Deterministic synthetic tables for the benchmark: 7 categorical parameters of 3 to 5 levels
 * and 4 distance columns, the shape of a simulation ensemble after post-processing.
 *
 * The distances depend on the parameters (each level adds an offset) plus noise, so a brush on
 * a distance axis selects a structured, not uniform, subset: like real data, and like real
 * data the number of selected rows changes as the brush moves.
 */
import type { Column, ITable } from '../src/views/types';
import { mulberry32 as prng } from '../tests/js/random';

/** The tests' seeded PRNG: the same seed gives the same table everywhere. */
export { prng };

/** The parameters: name and levels (numbers and strings, as ingested ensembles have). */
export const PARAMETERS: { name: string; levels: (string | number)[] }[] = [
  { name: 'material', levels: ['Al', 'Cu', 'Fe'] },
  { name: 'velocity', levels: [1, 2, 3, 4, 5] },
  { name: 'angle', levels: [0, 15, 30, 45] },
  { name: 'thickness', levels: [0.5, 1, 2] },
  { name: 'shape', levels: ['sphere', 'rod', 'plate', 'cone'] },
  { name: 'eos', levels: ['ideal', 'mie', 'sesame', 'jwl', 'tab'] },
  { name: 'resolution', levels: [64, 128, 256] }
];

export const DISTANCES = ['d_shock', 'd_edge', 'd_density', 'd_feature'] as const;

/** The axis every library's brush moves on. */
export const BRUSH_AXIS = 'd_density';
/** The column the selected rows are colored by (the panel's default: the first parameter). */
export const COLOR_BY = 'material';

/** Columnar synthetic table: what the jupyterlab-dsi views take (ITable). */
export function makeTable(rows: number, seed = 42): ITable {
  const random = prng(seed);
  const columns: Column[] = [];
  // Per-level effects on the distances, drawn once per table.
  const effects = PARAMETERS.map(p => p.levels.map(() => [random(), random(), random()]));
  const codes = PARAMETERS.map(() => new Int32Array(rows));
  const shock = new Float32Array(rows);
  const edge = new Float32Array(rows);
  const density = new Float32Array(rows);
  const feature = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    let e = 0;
    let d = 0;
    for (let p = 0; p < PARAMETERS.length; p++) {
      const code = Math.floor(random() * PARAMETERS[p].levels.length);
      codes[p][i] = code;
      const fx = effects[p][code];
      s += fx[0];
      e += fx[1];
      d += fx[2];
    }
    s = Math.exp(0.4 * s + 0.6 * gaussian(random));
    e = Math.exp(0.4 * e + 0.6 * gaussian(random));
    d = 0.5 * d + 0.5 * gaussian(random);
    shock[i] = s;
    edge[i] = e;
    density[i] = d;
    feature[i] = s + e;
  }
  PARAMETERS.forEach((p, j) =>
    columns.push({ kind: 'categorical', name: p.name, codes: codes[j], levels: p.levels })
  );
  columns.push({ kind: 'numeric', name: 'd_shock', values: shock });
  columns.push({ kind: 'numeric', name: 'd_edge', values: edge });
  columns.push({ kind: 'numeric', name: 'd_density', values: density });
  columns.push({ kind: 'numeric', name: 'd_feature', values: feature });
  const ids = new Array<string>(rows);
  for (let i = 0; i < rows; i++) {
    ids[i] = 'sim' + String(i).padStart(7, '0');
  }
  return { rows, ids, columns };
}

function gaussian(random: () => number): number {
  // Box-Muller, one value per call (the other one is thrown away: simplicity over speed).
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** One row per object, levels as their values: what parcoord-es and a plain D3 chart take. */
export type RowObject = Record<string, string | number>;

export function toObjects(table: ITable): RowObject[] {
  const out = new Array<RowObject>(table.rows);
  const cols = table.columns;
  for (let i = 0; i < table.rows; i++) {
    const row: RowObject = {};
    for (const c of cols) {
      row[c.name] = c.kind === 'categorical' ? String(c.levels[c.codes[i]]) : c.values[i];
    }
    out[i] = row;
  }
  return out;
}

/** [min, max] of a numeric column of the table. */
export function extentOf(table: ITable, name: string): [number, number] {
  const c = table.columns.find(col => col.name === name);
  if (!c || c.kind !== 'numeric') {
    throw new Error(`no numeric column ${name}`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of c.values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * The brush window of move `step` as fractions [lo, hi] of the axis's data extent: a window of
 * 30% of the extent whose centre sweeps 0.25 -> 0.75 -> 0.25 in 24 moves, so the selection
 * grows and shrinks the way a user's drag does. Identical for every library.
 */
export const BRUSH_WIDTH = 0.3;
export function brushCenter(step: number): number {
  const period = 24;
  const phase = (step % period) / period; // 0..1
  const tri = phase < 0.5 ? phase * 2 : 2 - phase * 2; // 0..1..0
  return 0.25 + 0.5 * tri;
}
export function brushWindow(step: number): [number, number] {
  const c = brushCenter(step);
  return [c - BRUSH_WIDTH / 2, c + BRUSH_WIDTH / 2];
}

/**
 * Small in-memory ensembles for the model and panel tests (issue 9): what the replica would
 * answer for a CloverLeaf-like database and for seed 000's implosions.
 */
import type { IBaseTable, IMethodInfo, ISlice } from '../../src/db/slices';
import type { ISliceSource } from '../../src/model/explorer';

export const method = (id: string) => ({ id, groundTruth: '1', norm: 'L2' as const, gtTime: null, matchTime: 'index' as const, geometry: null, field: 'density', description: '', createdAt: '2026-01-01' });

/** `rows` runs s0, s1, …, one numeric parameter (energy = the row's index), no metrics, four steps. */
export function energyTable(rows: number): IBaseTable {
  return {
    ids: Array.from({ length: rows }, (_, i) => `s${i}`),
    parameters: [{ name: 'energy', kind: 'numeric', levels: null, unit: null, values: Float32Array.from({ length: rows }, (_, i) => i) }],
    runMetrics: [],
    stepMetrics: [],
    metricSteps: 0,
    times: [0, 1, 2, 3]
  };
}

/** Eight runs; state2_density 2..9 (levels as numbers); d_density grows with it; no shock/edge. */
export function clover(): ISliceSource {
  const rows = 8;
  const ids = Array.from({ length: rows }, (_, i) => String(i + 1));
  const f = (fn: (i: number) => number) => Float32Array.from({ length: rows }, (_, i) => fn(i));
  const base: IBaseTable = {
    ids,
    parameters: [
      { name: 'state2_density', kind: 'categorical', levels: [2, 3, 4, 5, 6, 7, 8, 9], unit: null, codes: Int32Array.from(ids, (_, i) => i) },
      { name: 'deck', kind: 'categorical', levels: ['clover.in'], unit: null, codes: new Int32Array(rows) }
    ],
    runMetrics: [
      { name: 'x_cells', kind: 'numeric', levels: null, unit: null, values: f(() => 60) },
      { name: 'xmin', kind: 'numeric', levels: null, unit: 'cm', values: f(() => 0) },
      { name: 'state2_geometry', kind: 'categorical', levels: ['rectangle'], unit: null, codes: new Int32Array(rows) },
      { name: 'end_step', kind: 'numeric', levels: null, unit: null, values: f(i => 100 + i) },
      { name: 'nothing', kind: 'numeric', levels: null, unit: null, values: f(() => NaN) }
    ],
    stepMetrics: [
      { name: 'wall_clock', unit: 's', perStep: true, varies: true, empty: false },
      { name: 'step', unit: null, perStep: true, varies: false, empty: false },
      { name: 'blank', unit: null, perStep: true, varies: false, empty: true }
    ],
    metricSteps: 3,
    times: [0, 1, 2]
  };
  return {
    table: async () => base,
    methodInfo: async (): Promise<IMethodInfo> => ({ steps: 3, distances: ['d_density'] }),
    slice: async (methodId, t): Promise<ISlice> => ({
      methodId,
      t,
      dShock: f(() => NaN),
      dEdge: f(() => NaN),
      dDensity: methodId ? f(i => (i === 7 ? NaN : 0.13 * i * t)) : f(() => NaN),
      metrics: [
        { name: 'wall_clock', values: f(i => 0.5 * t + 0.01 * i) },
        { name: 'step', values: f(() => 100 * t) },
        { name: 'blank', values: f(() => NaN) }
      ]
    })
  };
}

/** Seed 000's shape: shock and edge coefficients, one numeric parameter. */
export function implosions(): ISliceSource {
  const rows = 6;
  const f = (fn: (i: number) => number) => Float32Array.from({ length: rows }, (_, i) => fn(i));
  return {
    table: async () => ({
      ids: Array.from({ length: rows }, (_, i) => `sim${i}`),
      parameters: [{ name: 'energy', kind: 'numeric', levels: null, unit: 'J', values: f(i => i * 10) }],
      runMetrics: [],
      stepMetrics: [],
      metricSteps: 0,
      times: [0, 1]
    }),
    methodInfo: async () => ({ steps: 2, distances: ['d_shock', 'd_edge', 'd_density'] }),
    slice: async (methodId, t) => ({
      methodId,
      t,
      dShock: f(i => i),
      dEdge: f(i => (i === 2 ? NaN : 2 * i)),
      dDensity: f(i => i / 10),
      metrics: []
    })
  };
}

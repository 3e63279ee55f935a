/**
 * A scratch method: a ground truth's distances computed on the fly by the server (POST
 * /distances, issue 17 §2) and shown as a method of the replica without being written anywhere.
 *
 * The worker's replica is a copy of the file in memory, so the scratch becomes ordinary rows there
 * (a jdsi_ground_truth, a jdsi_method and its jdsi_distance rows, in one transaction): every reader
 * of methods and slices (the picker, the time slider, the views, the CSV export) shows it as it
 * shows a stored method. The rows die with the replica; the panel injects them again after each
 * catch-up (which replaces the replica) until the scratch is replaced, kept or discarded.
 *
 * No DOM here: the worker runs it (api.ts) and jest drives it with Node's sql.js.
 */
import type { Database } from 'sql.js';

import type { IFrame, IFrameHeader } from './frameCodec';

/** Every scratch method's id starts so; no stored method's can (they are UUIDs). */
export const SCRATCH_PREFIX = 'scratch:';

/** The distance columns of a frame, in this order (the server's `columns`). */
export const SCRATCH_COLUMNS = ['d_shock', 'd_edge', 'd_density'] as const;

/** What the server holds in memory to compute on the fly (resident.Resident.report()). */
export interface IResidentReport {
  budget_bytes: number;
  resident_bytes: number;
  simulations: number;
  databases: number;
  [key: string]: unknown;
}

/** The header of POST /distances' frame; its data is (S, T, 3) float32, NaN where undefined. */
export interface IDistancesHeader extends IFrameHeader {
  sim_ids: string[];
  steps: number[];
  columns: string[];
  ground_truth: string;
  norm: 'L1' | 'L2' | 'Linf';
  gt_time: number | null;
  match_time: 'index' | 'nearest';
  field: string;
  /** The server's computing time. */
  seconds: number;
  resident: IResidentReport;
  /** The job that computed it, when it took long enough to become one. */
  job?: string;
}

/** What the replica needs to show a scratch method (plain data: it crosses to the worker). */
export interface IScratch {
  id: string;
  groundTruth: string;
  norm: 'L1' | 'L2' | 'Linf';
  gtTime: number | null;
  matchTime: 'index' | 'nearest';
  field: string;
  simIds: string[];
  steps: number[];
  /** (S, T, 3) in C order: sim i, step j, column k at (i * T + j) * 3 + k. */
  values: Float32Array;
  /** The server's computing time, seconds. */
  seconds: number;
  /** When it was computed (ISO): its created_at, which puts it first among the methods. */
  createdAt: string;
}

/** The scratch id of a request: the same request gives the same id (and the same values). */
export function scratchId(
  groundTruth: string,
  norm: string,
  gtTime: number | null,
  matchTime: 'index' | 'nearest' = 'index',
  field = 'density'
): string {
  const time = gtTime !== null ? String(gtTime) : matchTime === 'nearest' ? 'nearest' : 'matched';
  return `${SCRATCH_PREFIX}${groundTruth}:${norm}:${time}${field !== 'density' ? `:${field}` : ''}`;
}

/** Whether a method (or a method id) is a scratch: computed on the fly, not in the file. */
export function isScratch(method: { id: string } | string | null | undefined): boolean {
  const id = typeof method === 'string' ? method : method?.id;
  return typeof id === 'string' && id.startsWith(SCRATCH_PREFIX);
}

/** The picker's words for a scratch: "scratch · <gt> · <norm>", and its step when fixed. */
export function scratchLabel(m: { groundTruth: string; norm: string; gtTime: number | null; matchTime?: string; field?: string }): string {
  const time = m.gtTime !== null ? ` · step ${m.gtTime}` : m.matchTime === 'nearest' ? ' · nearest in time' : '';
  const field = m.field && m.field !== 'density' ? ` · ${m.field}` : '';
  return `scratch · ${m.groundTruth} · ${m.norm}${time}${field}`;
}

/** The description the replica gives a scratch (the picker shows it under the method). */
export const SCRATCH_DESCRIPTION = 'Computed on the fly, not saved: Keep stores it as a method.';

/** A frame of POST /distances as a scratch; throws a line when the frame is not one. */
export function scratchFromFrame(frame: IFrame<IDistancesHeader>, now = new Date()): IScratch {
  const { header, data } = frame;
  const simIds = header.sim_ids;
  const steps = header.steps;
  const shape = header.shape;
  if (
    !Array.isArray(simIds) ||
    !Array.isArray(steps) ||
    shape.length !== 3 ||
    shape[0] !== simIds.length ||
    shape[1] !== steps.length ||
    shape[2] !== SCRATCH_COLUMNS.length ||
    SCRATCH_COLUMNS.some((c, k) => header.columns?.[k] !== c)
  ) {
    throw new Error(`not a distances frame: shape [${shape}] for ${simIds?.length} simulations, ${steps?.length} steps and columns ${header.columns}`);
  }
  return {
    id: scratchId(header.ground_truth, header.norm, header.gt_time, header.match_time, header.field),
    groundTruth: header.ground_truth,
    norm: header.norm,
    gtTime: header.gt_time,
    matchTime: header.match_time === 'nearest' ? 'nearest' : 'index',
    field: header.field || 'density',
    simIds: simIds.map(String),
    steps: steps.map(Number),
    values: data,
    seconds: Number(header.seconds) || 0,
    createdAt: now.toISOString()
  };
}

/** Delete every scratch's rows (any left by an earlier injection). */
function dropRows(db: Database): void {
  // The ids from the small method table, then each one's distances by their key: a LIKE on
  // jdsi_distance would scan every stored method's rows (160,000 for the sample).
  const ids: string[] = [];
  const stmt = db.prepare('SELECT id FROM jdsi_method WHERE substr(id, 1, ?) = ?');
  try {
    stmt.bind([SCRATCH_PREFIX.length, SCRATCH_PREFIX]);
    while (stmt.step()) {
      ids.push(String(stmt.get()[0]));
    }
  } finally {
    stmt.free();
  }
  for (const id of ids) {
    db.run('DELETE FROM jdsi_distance WHERE method_id = ?', [id]);
    db.run('DELETE FROM jdsi_method WHERE id = ?', [id]);
    db.run('DELETE FROM jdsi_ground_truth WHERE id = ?', [id]);
  }
}

/**
 * Put `scratch` into the replica as a method (null: take every scratch out), replacing any
 * scratch there, in one transaction: a failure leaves the replica as it was.
 */
export function injectScratch(db: Database, scratch: IScratch | null): void {
  db.run('BEGIN');
  try {
    dropRows(db);
    if (scratch) {
      insertRows(db, scratch);
    }
    db.run('COMMIT');
  } catch (error) {
    db.run('ROLLBACK');
    throw error;
  }
}

function insertRows(db: Database, s: IScratch): void {
  const S = s.simIds.length;
  const T = s.steps.length;
  if (s.values.length !== S * T * 3) {
    throw new Error(`a scratch of ${S} simulations and ${T} steps needs ${S * T * 3} values, not ${s.values.length}`);
  }
  db.run('INSERT INTO jdsi_ground_truth (id, sim_id, description, created_at) VALUES (?, ?, ?, ?)', [
    s.id,
    s.groundTruth,
    'ground truth chosen on the fly',
    s.createdAt
  ]);
  db.run(
    `INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description, code_version, created_at, match_time, field)
     VALUES (?, ?, ?, ?, ?, 'scratch', ?, ?, ?)`,
    [s.id, s.id, s.norm, s.gtTime, SCRATCH_DESCRIPTION, s.createdAt, s.matchTime, s.field]
  );
  // In the table's key order (t, sim_id): each row lands after the last, no page splits.
  const order = Array.from({ length: S }, (_, i) => i).sort((a, b) =>
    s.simIds[a] < s.simIds[b] ? -1 : s.simIds[a] > s.simIds[b] ? 1 : 0
  );
  const steps = Array.from({ length: T }, (_, j) => j).sort((a, b) => s.steps[a] - s.steps[b]);
  const value = (x: number) => (Number.isNaN(x) ? null : x);
  const stmt = db.prepare('INSERT INTO jdsi_distance (method_id, t, sim_id, d_shock, d_edge, d_density) VALUES (?, ?, ?, ?, ?, ?)');
  try {
    for (const j of steps) {
      const t = s.steps[j];
      for (const i of order) {
        const at = (i * T + j) * 3;
        const shock = s.values[at];
        const edge = s.values[at + 1];
        const density = s.values[at + 2];
        // A run without the step (shorter than the ground truth) has no row, as postprocess writes none.
        if (Number.isNaN(shock) && Number.isNaN(edge) && Number.isNaN(density)) {
          continue;
        }
        stmt.run([s.id, t, s.simIds[i], value(shock), value(edge), value(density)]);
      }
    }
  } finally {
    stmt.free();
  }
}

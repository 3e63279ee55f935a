/**
 * A scratch method: a ground truth's distances computed on the fly by the server (POST
 * /distances, issue 17 §2) and shown as a method of the replica without being written anywhere.
 *
 * The scratch becomes a method of the worker's replica (a jdsi_ground_truth, a jdsi_method and a
 * jdsi_replica_method row, in one transaction), so that every reader of methods (the picker, the
 * time slider, the CSV export) shows it as it shows a stored method; its distances become a
 * distance cube (cubes.ts), as a stored method's frame does (issue 18: no jdsi_distance rows).
 * The rows die with the replica; the worker injects them again after each catch-up (which
 * replaces the replica) until the scratch is replaced, kept or discarded.
 *
 * No DOM here: the worker runs it (api.ts) and jest drives it with Node's sql.js.
 */
import type { Database } from 'sql.js';

import { checkDistanceFrame, DISTANCE_COLUMNS, IDistanceFrameHeader } from './cubes';
import type { IFrame } from './frameCodec';

/** Every scratch method's id starts so; no stored method's can (they are UUIDs). */
export const SCRATCH_PREFIX = 'scratch:';

/** What the server holds in memory to compute on the fly (resident.Resident.report()). */
export interface IResidentReport {
  budget_bytes: number;
  resident_bytes: number;
  simulations: number;
  databases: number;
  [key: string]: unknown;
}

/** The header of POST /distances' frame; its data is (S, T, 3) float32, NaN where undefined. */
export interface IDistancesHeader extends IDistanceFrameHeader {
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
  checkDistanceFrame(header);
  const simIds = header.sim_ids;
  const steps = header.steps;
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

/** The replica's table of what each method holds (the server creates it; a full file lacks it). */
const REPLICA_METHOD_DDL = `CREATE TABLE IF NOT EXISTS jdsi_replica_method (
  method_id TEXT PRIMARY KEY, steps TEXT NOT NULL, columns TEXT NOT NULL)`;

/** Delete every scratch's rows (any left by an earlier injection). */
function dropRows(db: Database): void {
  const prefix = [SCRATCH_PREFIX.length, SCRATCH_PREFIX];
  // The small tables only: a scratch's distances are a cube, never rows (issue 18).
  db.run('DELETE FROM jdsi_replica_method WHERE substr(method_id, 1, ?) = ?', prefix);
  db.run('DELETE FROM jdsi_method WHERE substr(id, 1, ?) = ?', prefix);
  db.run('DELETE FROM jdsi_ground_truth WHERE substr(id, 1, ?) = ?', prefix);
}

/**
 * Put `scratch` into the replica as a method (null: take every scratch out), replacing any
 * scratch there, in one transaction: a failure leaves the replica as it was. Its distances are
 * the caller's to hold (api.ts makes them a cube).
 */
export function injectScratch(db: Database, scratch: IScratch | null): void {
  db.run('BEGIN');
  try {
    db.run(REPLICA_METHOD_DDL); // a full file opened directly has none
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

/** The steps and the columns with a value, as the server's jdsi_replica_method records them. */
function replicaRow(s: IScratch): { steps: number[]; columns: string[] } {
  const T = s.steps.length;
  const filled = [false, false, false];
  // A step whose every value is NaN has no rows, as postprocess writes none: it is not listed.
  const held = new Set<number>();
  for (let at = 0; at < s.values.length; at++) {
    if (!Number.isNaN(s.values[at])) {
      filled[at % 3] = true;
      held.add(s.steps[Math.floor(at / 3) % T]);
    }
  }
  return {
    steps: [...held].sort((a, b) => a - b),
    columns: DISTANCE_COLUMNS.filter((_, k) => filled[k])
  };
}

function insertRows(db: Database, s: IScratch): void {
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
  const { steps, columns } = replicaRow(s);
  db.run('INSERT INTO jdsi_replica_method (method_id, steps, columns) VALUES (?, ?, ?)', [
    s.id,
    JSON.stringify(steps),
    JSON.stringify(columns)
  ]);
}

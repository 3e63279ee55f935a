/**
 * Distance cubes: a method's three distance columns at every step, held by the worker as typed
 * arrays aligned with the base table's rows (issue 18 §3).
 *
 * The panel's replica no longer carries jdsi_distance rows (the server leaves them out: each
 * method adds ~35 MB to a file). A method's distances arrive as one frame (GET distances), as a
 * scratch (POST distances), or, for a full database file opened directly, from the file's own
 * rows. Whatever the source, they are stored step-major per column (step j's rows at
 * [j*N, (j+1)*N)) so that a time step's slice is three contiguous copies, no SQL and no joins.
 *
 * No DOM here: the worker (api.ts) uses it and jest drives it with Node's sql.js.
 */
import type { Database } from 'sql.js';

import { decodeFrame, IFrameHeader } from './frameCodec';

/** The distance columns of a frame and of a cube, in this order (the server's `columns`). */
export const DISTANCE_COLUMNS = ['d_shock', 'd_edge', 'd_density'] as const;

/** The header of a distances frame (GET or POST distances): its data is (S, T, 3) float32. */
export interface IDistanceFrameHeader extends IFrameHeader {
  /** GET distances names the stored method it holds; POST (a scratch) does not. */
  method?: string;
  sim_ids: string[];
  steps: number[];
  columns: string[];
}

/** A method's distances at every step it has, aligned with the rows of `ids`. */
export interface ICube {
  readonly methodId: string;
  /**
   * The base table's ids the rows are aligned with. A catch-up replaces the base table (new
   * simulations): the cube is realigned to the new ids on its next use (`alignCube`).
   */
  readonly ids: readonly string[];
  /** The steps held, in storage order, and where each is. */
  readonly steps: readonly number[];
  readonly stepIndex: ReadonlyMap<number, number>;
  /** d_shock, d_edge, d_density: T*N values each, step j's rows at [j*N, (j+1)*N); NaN: none. */
  readonly columns: readonly [Float32Array, Float32Array, Float32Array];
}

/** The three distance columns of one step, each of N rows. */
export interface ICubeSlice {
  dShock: Float32Array;
  dEdge: Float32Array;
  dDensity: Float32Array;
}

/** Bytes a cube holds (for the panel's size limit). */
export function cubeBytes(cube: ICube): number {
  return cube.columns.reduce((sum, c) => sum + c.byteLength, 0);
}

function newCube(methodId: string, ids: readonly string[], steps: readonly number[]): ICube {
  const size = steps.length * ids.length;
  return {
    methodId,
    ids,
    steps,
    stepIndex: new Map(steps.map((t, j) => [t, j])),
    columns: [new Float32Array(size).fill(NaN), new Float32Array(size).fill(NaN), new Float32Array(size).fill(NaN)]
  };
}

/**
 * A cube from (S, T, 3) values in C order (sim i, step j, column k at (i * T + j) * 3 + k), the
 * layout of a frame and of a scratch. Simulations the base table lacks are left out (a run
 * deleted since); base rows the values lack are NaN. Throws one line when the sizes disagree.
 */
export function cubeFromValues(
  methodId: string,
  ids: readonly string[],
  simIds: readonly string[],
  steps: readonly number[],
  values: Float32Array
): ICube {
  const S = simIds.length;
  const T = steps.length;
  if (values.length !== S * T * 3) {
    throw new Error(`distances of ${S} simulations × ${T} steps: the data needs ${S * T * 3} values, not ${values.length}`);
  }
  if (new Set(steps).size !== T) {
    throw new Error(`distances of method ${methodId.slice(0, 8)}: a step is listed twice in [${steps.join(', ')}]`);
  }
  const cube = newCube(methodId, ids, steps.map(Number));
  const N = ids.length;
  const rowOf = new Map(ids.map((id, r) => [id, r]));
  const [shock, edge, density] = cube.columns;
  for (let i = 0; i < S; i++) {
    const r = rowOf.get(String(simIds[i]));
    if (r === undefined) {
      continue;
    }
    for (let j = 0, at = i * T * 3; j < T; j++, at += 3) {
      const to = j * N + r;
      shock[to] = values[at];
      edge[to] = values[at + 1];
      density[to] = values[at + 2];
    }
  }
  return cube;
}

/**
 * Check a distances frame's header against its data: one line naming what is wrong (a frame cut
 * short or from another endpoint must not become wrong distances), else nothing.
 */
export function checkDistanceFrame(header: IDistanceFrameHeader): void {
  const { sim_ids: simIds, steps, columns, shape } = header;
  if (
    !Array.isArray(simIds) ||
    !Array.isArray(steps) ||
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    shape[0] !== simIds.length ||
    shape[1] !== steps.length ||
    shape[2] !== DISTANCE_COLUMNS.length ||
    DISTANCE_COLUMNS.some((c, k) => columns?.[k] !== c)
  ) {
    throw new Error(
      `not a distances frame: shape [${shape}] for ${simIds?.length} simulations, ${steps?.length} steps and columns ${columns}`
    );
  }
}

/** A cube from a frame of GET distances for `methodId`; throws one line when it is not one. */
export function cubeFromFrame(methodId: string, buffer: ArrayBuffer, ids: readonly string[]): ICube {
  const { header, data } = decodeFrame<IDistanceFrameHeader>(buffer);
  checkDistanceFrame(header);
  if (header.method !== undefined && header.method !== methodId) {
    throw new Error(`the distances frame is of method ${String(header.method).slice(0, 8)}, not ${methodId.slice(0, 8)}`);
  }
  return cubeFromValues(methodId, ids, header.sim_ids, header.steps, data);
}

/**
 * The distinct steps of a method's rows in jdsi_distance, ascending, by a loose index scan of its
 * (method_id, t, sim_id) key: one seek per step, not a read of every row.
 */
export function readRowSteps(db: Database, methodId: string): number[] {
  const stmt = db.prepare(
    `WITH RECURSIVE steps(t) AS (
       SELECT (SELECT MIN(t) FROM jdsi_distance WHERE method_id = ?1)
       UNION ALL
       SELECT (SELECT MIN(t) FROM jdsi_distance WHERE method_id = ?1 AND t > steps.t) FROM steps WHERE steps.t IS NOT NULL
     )
     SELECT t FROM steps WHERE t IS NOT NULL`
  );
  const out: number[] = [];
  try {
    stmt.bind([methodId]);
    while (stmt.step()) {
      out.push(Number(stmt.get()[0]));
    }
  } finally {
    stmt.free();
  }
  return out;
}

/** Whether jdsi_distance holds any row of the method (a full file, not the server's replica). */
export function hasRows(db: Database, methodId: string): boolean {
  const stmt = db.prepare('SELECT EXISTS (SELECT 1 FROM jdsi_distance WHERE method_id = ?)');
  try {
    stmt.bind([methodId]);
    return stmt.step() && Number(stmt.get()[0]) === 1;
  } finally {
    stmt.free();
  }
}

/** A cube from the method's own jdsi_distance rows (a full database file opened directly). */
export function cubeFromRows(db: Database, methodId: string, ids: readonly string[]): ICube {
  const cube = newCube(methodId, ids, readRowSteps(db, methodId));
  const N = ids.length;
  const rowOf = new Map(ids.map((id, r) => [id, r]));
  const [shock, edge, density] = cube.columns;
  const value = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));
  const stmt = db.prepare('SELECT t, sim_id, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?');
  try {
    stmt.bind([methodId]);
    while (stmt.step()) {
      const [t, simId, s, e, d] = stmt.get();
      const r = rowOf.get(String(simId));
      const j = cube.stepIndex.get(Number(t));
      if (r === undefined || j === undefined) {
        continue;
      }
      shock[j * N + r] = value(s);
      edge[j * N + r] = value(e);
      density[j * N + r] = value(d);
    }
  } finally {
    stmt.free();
  }
  return cube;
}

/**
 * The cube aligned with `ids`: itself when it already is, else a copy with each row moved to the
 * row of its id (ids new to the table are NaN: a method's distances are written once, in the
 * transaction that creates it, so a run ingested later has none).
 */
export function alignCube(cube: ICube, ids: readonly string[]): ICube {
  if (cube.ids === ids) {
    return cube;
  }
  if (cube.ids.length === ids.length && cube.ids.every((id, r) => id === ids[r])) {
    return { ...cube, ids }; // the same rows: nothing to move
  }
  const aligned = newCube(cube.methodId, ids, cube.steps);
  const rowOf = new Map(cube.ids.map((id, r) => [id, r]));
  const from = ids.map(id => rowOf.get(id) ?? -1);
  const M = cube.ids.length;
  const N = ids.length;
  for (let k = 0; k < 3; k++) {
    const source = cube.columns[k];
    const target = aligned.columns[k];
    for (let j = 0; j < cube.steps.length; j++) {
      for (let r = 0; r < N; r++) {
        if (from[r] >= 0) {
          target[j * N + r] = source[j * M + from[r]];
        }
      }
    }
  }
  return aligned;
}

/**
 * The distances of step `t` (fresh arrays: the worker transfers them), all NaN for a step the
 * cube does not hold or without a cube (no method, or a method without distances).
 */
export function cubeSlice(cube: ICube | null, t: number, rows: number): ICubeSlice {
  const j = cube?.stepIndex.get(t);
  if (!cube || j === undefined) {
    return {
      dShock: new Float32Array(rows).fill(NaN),
      dEdge: new Float32Array(rows).fill(NaN),
      dDensity: new Float32Array(rows).fill(NaN)
    };
  }
  const N = cube.ids.length;
  const [shock, edge, density] = cube.columns;
  return {
    dShock: shock.slice(j * N, (j + 1) * N),
    dEdge: edge.slice(j * N, (j + 1) * N),
    dDensity: density.slice(j * N, (j + 1) * N)
  };
}

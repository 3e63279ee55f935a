/**
 * The replica's answers as typed-array columns (DESIGN.md rule 7): the parameters once per
 * database, the distances once per (method, time step). Rows are simulations in sim_id order;
 * every slice uses that same order, so the panel can swap distance columns without a join.
 */
import type { Database } from 'sql.js';

/** Parameters of every simulation: categorical as Int32 codes, numeric as Float32 (NaN = missing). */
export interface IParameterColumn {
  name: string;
  kind: 'categorical' | 'numeric';
  levels: (string | number)[] | null;
  unit: string | null;
  codes?: Int32Array;
  values?: Float32Array;
}

export interface IBaseTable {
  ids: string[];
  parameters: IParameterColumn[];
  /** Simulated time of each step (of the longest simulation), for the time slider's label. */
  times: number[];
}

export interface ISlice {
  methodId: string;
  t: number;
  dShock: Float32Array;
  dEdge: Float32Array;
  dDensity: Float32Array;
}

function parseLevels(text: unknown): (string | number)[] | null {
  if (typeof text !== 'string') {
    return null;
  }
  const parsed = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : null;
}

/** The key a level is looked up by: 1 and 1.0 are the same level, '1' is not. */
function levelKey(value: unknown): string {
  return typeof value === 'number' ? `n${value}` : `s${String(value)}`;
}

export function readBaseTable(db: Database): IBaseTable {
  const ids: string[] = [];
  let times: number[] = [];
  const sims = db.prepare('SELECT sim_id, times FROM jdsi_simulation ORDER BY sim_id');
  try {
    while (sims.step()) {
      const [id, timesJson] = sims.get();
      ids.push(String(id));
      const parsed = JSON.parse(String(timesJson ?? '[]'));
      if (Array.isArray(parsed) && parsed.length > times.length) {
        times = parsed.map(Number);
      }
    }
  } finally {
    sims.free();
  }
  const row = new Map(ids.map((id, i) => [id, i]));

  const parameters: IParameterColumn[] = [];
  const params = db.prepare('SELECT name, kind, levels, unit FROM jdsi_parameter ORDER BY position');
  try {
    while (params.step()) {
      const [name, kind, levels, unit] = params.get();
      const column: IParameterColumn = {
        name: String(name),
        kind: kind === 'categorical' ? 'categorical' : 'numeric',
        levels: parseLevels(levels),
        unit: unit === null ? null : String(unit)
      };
      if (column.kind === 'categorical') {
        column.codes = new Int32Array(ids.length).fill(-1);
        column.levels = column.levels ?? [];
      } else {
        column.values = new Float32Array(ids.length).fill(NaN);
      }
      parameters.push(column);
    }
  } finally {
    params.free();
  }

  const byName = new Map(parameters.map(p => [p.name, p]));
  const codeOf = new Map(
    parameters.map(p => [p.name, new Map((p.levels ?? []).map((level, i) => [levelKey(level), i]))])
  );
  const values = db.prepare('SELECT sim_id, name, value FROM jdsi_param_value');
  try {
    while (values.step()) {
      const [simId, name, value] = values.get();
      const i = row.get(String(simId));
      const column = byName.get(String(name));
      if (i === undefined || !column || value === null) {
        continue;
      }
      if (column.codes) {
        column.codes[i] = codeOf.get(column.name)!.get(levelKey(value)) ?? -1;
      } else if (column.values) {
        column.values[i] = Number(value);
      }
    }
  } finally {
    values.free();
  }
  return { ids, parameters, times };
}

/** The distances of every simulation at step `t` of a method, aligned with `ids`. */
export function readSlice(
  db: Database,
  row: ReadonlyMap<string, number>,
  methodId: string,
  t: number
): ISlice {
  const dShock = new Float32Array(row.size).fill(NaN);
  const dEdge = new Float32Array(row.size).fill(NaN);
  const dDensity = new Float32Array(row.size).fill(NaN);
  const stmt = db.prepare(
    'SELECT sim_id, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? AND t = ?'
  );
  try {
    stmt.bind([methodId, t]);
    while (stmt.step()) {
      const [simId, shock, edge, density] = stmt.get();
      const i = row.get(String(simId));
      if (i === undefined) {
        continue;
      }
      dShock[i] = shock === null ? NaN : Number(shock);
      dEdge[i] = edge === null ? NaN : Number(edge);
      dDensity[i] = density === null ? NaN : Number(density);
    }
  } finally {
    stmt.free();
  }
  return { methodId, t, dShock, dEdge, dDensity };
}

/** The time steps (0..n-1) that a method has distances for. */
export function readMethodSteps(db: Database, methodId: string): number {
  const stmt = db.prepare('SELECT max(t) FROM jdsi_distance WHERE method_id = ?');
  try {
    stmt.bind([methodId]);
    stmt.step();
    const [max] = stmt.get();
    return max === null ? 0 : Number(max) + 1;
  } finally {
    stmt.free();
  }
}

/** A saved training dataset as the replica holds it. */
export interface IDatasetInfo {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  author: string;
  methodId: string | null;
  t: number | null;
  weights: { shock: number; edge: number };
  filter: string;
  selectionKind: string;
  sampling: unknown;
  settings: unknown;
  parentId: string | null;
  size: number;
  digest: string;
  deleted: boolean;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Every dataset, newest first, with whether a tombstone hides it. */
export function readDatasets(db: Database): IDatasetInfo[] {
  const stmt = db.prepare(
    `SELECT id, name, description, created_at, author, method_id, t, w_shock, w_edge, filter,
            selection_kind, sampling, settings, parent_id, size, digest,
            id IN (SELECT record_id FROM jdsi_tombstone) AS deleted
     FROM jdsi_dataset ORDER BY created_at DESC, id`
  );
  const out: IDatasetInfo[] = [];
  try {
    while (stmt.step()) {
      const r = stmt.getAsObject();
      out.push({
        id: String(r.id),
        name: String(r.name),
        description: String(r.description),
        createdAt: String(r.created_at),
        author: String(r.author),
        methodId: r.method_id === null ? null : String(r.method_id),
        t: r.t === null ? null : Number(r.t),
        weights: { shock: Number(r.w_shock), edge: Number(r.w_edge) },
        filter: String(r.filter),
        selectionKind: String(r.selection_kind),
        sampling: parseJson(r.sampling),
        settings: parseJson(r.settings),
        parentId: r.parent_id === null ? null : String(r.parent_id),
        size: Number(r.size),
        digest: String(r.digest),
        deleted: Number(r.deleted) === 1
      });
    }
  } finally {
    stmt.free();
  }
  return out;
}

/** The sim_ids of a dataset, sorted. */
export function readDatasetMembers(db: Database, datasetId: string): string[] {
  const stmt = db.prepare('SELECT sim_id FROM jdsi_dataset_member WHERE dataset_id = ? ORDER BY sim_id');
  const out: string[] = [];
  try {
    stmt.bind([datasetId]);
    while (stmt.step()) {
      out.push(String(stmt.get()[0]));
    }
  } finally {
    stmt.free();
  }
  return out;
}

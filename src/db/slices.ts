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

/**
 * The replica's answers as typed-array columns (DESIGN.md rule 7): the parameters and per-run
 * metrics once per database, the distances and per-step metrics once per (method, time step).
 * Rows are simulations in sim_id order; every slice uses that same order, so the panel can swap
 * step columns without a join.
 */
import type { Database } from 'sql.js';

import { FeatureTerms, storedTerms } from '../model/feature';
import { cubeSlice, DISTANCE_COLUMNS, ICube, readRowSteps } from './cubes';
import { jsonArray, parseJson } from './json';

/** Parameters of every simulation: categorical as Int32 codes, numeric as Float32 (NaN = missing). */
export interface IParameterColumn {
  name: string;
  kind: 'categorical' | 'numeric';
  levels: (string | number)[] | null;
  unit: string | null;
  codes?: Int32Array;
  values?: Float32Array;
}

/**
 * A number metric an ingested source measured (jdsi_metric). A per-run one holds at every step,
 * so its values come with the base table; a per-step one comes with each slice.
 */
export interface IMetricInfo {
  name: string;
  unit: string | null;
  perStep: boolean;
  /** Some step has two runs with different values (false: the same for every run at each step). */
  varies: boolean;
  /** No run has a value at any step. */
  empty: boolean;
}

export interface IBaseTable {
  ids: string[];
  parameters: IParameterColumn[];
  /**
   * Per-run metrics as columns (numbers numeric; text metrics categorical, levels sorted), in
   * jdsi_metric's order. Per-step metrics are not here: each slice carries them.
   */
  runMetrics: IParameterColumn[];
  /** Every number metric measured per step, in jdsi_metric's order (their values: slices). */
  stepMetrics: IMetricInfo[];
  /** Steps of the per-step metrics (max t + 1; 0 without any): the steps when no method is open. */
  metricSteps: number;
  /** Simulated time of each step (of the longest simulation), for the time slider's label. */
  times: number[];
}

/** A per-step metric's values at one step, aligned with the base table's ids. */
export interface IStepMetric {
  name: string;
  values: Float32Array;
}

export interface ISlice {
  /** null: no method (a database of parameters and metrics only): the distances are all NaN. */
  methodId: string | null;
  t: number;
  dShock: Float32Array;
  dEdge: Float32Array;
  dDensity: Float32Array;
  /** Every per-step number metric at step t, in `IBaseTable.stepMetrics` order. */
  metrics: IStepMetric[];
}

/** Which distance columns of a method hold any value, and how many steps it has. */
export interface IMethodInfo {
  steps: number;
  /** Names among d_shock, d_edge, d_density with at least one non-NULL value. */
  distances: string[];
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

/**
 * Run ids made of digits in numeric order (1, 2, 10, not 1, 10, 2), then the others as text: the
 * order `jupyter dsi select` lists them in (SIM_ORDER of jupyterlab_dsi/query.py).
 */
const TEXT_ID = "(sim_id = '' OR sim_id GLOB '*[^0-9]*')";
export const SIM_ORDER =
  `${TEXT_ID}, CASE WHEN ${TEXT_ID} THEN 0 ELSE length(ltrim(sim_id, '0')) END, ` +
  `CASE WHEN ${TEXT_ID} THEN sim_id ELSE ltrim(sim_id, '0') END, sim_id`;

export function readBaseTable(db: Database): IBaseTable {
  const ids: string[] = [];
  let times: number[] = [];
  const sims = db.prepare(`SELECT sim_id, times FROM jdsi_simulation ORDER BY ${SIM_ORDER}`);
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
  const { runMetrics, stepMetrics, metricSteps } = readMetrics(db, ids, row);
  return { ids, parameters, runMetrics, stepMetrics, metricSteps, times };
}

/**
 * What `readBaseTable` (and the per-step metrics) read, in one short string: the row counts of
 * the simulations, parameter values and metric values, the simulations' largest rowid, and the
 * whole of the small jdsi_parameter and jdsi_metric tables (ingest rewrites a parameter's levels
 * in place). Counts run inside SQLite (no row crosses into JS): a few ms where reading the table
 * takes hundreds. Two replicas with equal signatures and only writes of other tables between
 * them (`tablesUnchanged`) give the same base table.
 */
export function baseTableSignature(db: Database): string {
  const stmt = db.prepare(
    `SELECT (SELECT count(*) FROM jdsi_simulation), (SELECT max(rowid) FROM jdsi_simulation),
            (SELECT count(*) FROM jdsi_param_value), (SELECT count(*) FROM jdsi_metric_value),
            (SELECT json_group_array(json_array(name, kind, levels, unit, position)) FROM jdsi_parameter),
            (SELECT json_group_array(json_array(name, kind, per_step, unit, position)) FROM jdsi_metric)`
  );
  try {
    stmt.step();
    return JSON.stringify(stmt.get());
  } finally {
    stmt.free();
  }
}

/**
 * The kinds of events (jdsi_event, written in the transaction of each write: DESIGN.md) that
 * change none of the tables the base table is read from: a dataset, split, proposal, staleness
 * mark, method or run written. Any other kind (`source.ingested`, or one this code does not know)
 * means the base table is read again.
 */
const BASE_UNCHANGED_BY: ReadonlySet<string> = new Set([
  'dataset.created',
  'dataset.deleted',
  'dataset.restored',
  'split.save',
  'proposal.save',
  'stale.mark',
  'stale.clear',
  'method.created',
  'run.start',
  'run.log',
  'run.end'
]);

/** Of those, the kinds that leave the runs' predictions as they were too (no run wrote). */
const PREDICTIONS_UNCHANGED_BY: ReadonlySet<string> = new Set(
  [...BASE_UNCHANGED_BY].filter(kind => !kind.startsWith('run.'))
);

/** What a catch-up's new replica leaves as the last one had it. */
export interface IUnchanged {
  /** The base table, its row map and the per-step metrics read. */
  base: boolean;
  /** The runs' predictions. */
  predictions: boolean;
}

/**
 * Compare a catch-up's replica `db` with the last one (its last event seq and base signature):
 * the base table is kept when every event after `sinceSeq` is of a kind that writes none of its
 * tables AND the signature is equal (a file replaced by another fails one or the other); the
 * predictions when, on top of that, no run wrote. A log that went backwards (another file) keeps
 * nothing.
 */
export function tablesUnchanged(db: Database, sinceSeq: number, signature: string): IUnchanged {
  const stmt = db.prepare('SELECT DISTINCT kind FROM jdsi_event WHERE seq > ?');
  const kinds: string[] = [];
  try {
    stmt.bind([sinceSeq]);
    while (stmt.step()) {
      kinds.push(String(stmt.get()[0]));
    }
  } finally {
    stmt.free();
  }
  const last = db.exec('SELECT COALESCE(MAX(seq), 0) FROM jdsi_event')[0]?.values[0]?.[0];
  if (Number(last ?? 0) < sinceSeq || !kinds.every(k => BASE_UNCHANGED_BY.has(k)) || baseTableSignature(db) !== signature) {
    return { base: false, predictions: false };
  }
  return { base: true, predictions: kinds.every(k => PREDICTIONS_UNCHANGED_BY.has(k)) };
}

function rowValue(value: unknown): number {
  return value === null || value === undefined ? NaN : Number(value);
}

/**
 * The metrics of jdsi_metric: per-run number ones as numeric columns, per-run text ones as
 * categorical columns (file metrics are paths, not values to plot), and the list of per-step
 * number ones with how many steps they span.
 */
function readMetrics(
  db: Database,
  ids: string[],
  row: ReadonlyMap<string, number>
): Pick<IBaseTable, 'runMetrics' | 'stepMetrics' | 'metricSteps'> {
  const runMetrics: IParameterColumn[] = [];
  const stepMetrics: IMetricInfo[] = [];
  const texts = new Map<string, (string | null)[]>();
  const list = db.prepare(
    "SELECT name, kind, per_step, unit FROM jdsi_metric WHERE kind IN ('number', 'text') ORDER BY position, name"
  );
  try {
    while (list.step()) {
      const [name, kind, perStep, unit] = list.get();
      const info = { name: String(name), unit: unit === null ? null : String(unit) };
      if (Number(perStep) === 1) {
        if (kind === 'number') {
          stepMetrics.push({ ...info, perStep: true, varies: false, empty: true });
        }
      } else if (kind === 'number') {
        runMetrics.push({ ...info, kind: 'numeric', levels: null, values: new Float32Array(ids.length).fill(NaN) });
      } else {
        runMetrics.push({ ...info, kind: 'categorical', levels: [], codes: new Int32Array(ids.length).fill(-1) });
        texts.set(info.name, new Array(ids.length).fill(null));
      }
    }
  } finally {
    list.free();
  }
  // A per-run metric is stored at t = 0 (schema.sql): one indexed read per metric.
  const values = db.prepare('SELECT sim_id, value FROM jdsi_metric_value WHERE name = ? AND t = 0');
  try {
    for (const column of runMetrics) {
      values.bind([column.name]);
      const text = texts.get(column.name);
      while (values.step()) {
        const [simId, value] = values.get();
        const i = row.get(String(simId));
        if (i === undefined || value === null) {
          continue;
        }
        if (text) {
          text[i] = String(value);
        } else {
          column.values![i] = Number(value);
        }
      }
      values.reset();
    }
  } finally {
    values.free();
  }
  for (const column of runMetrics) {
    const text = texts.get(column.name);
    if (text) {
      const levels = [...new Set(text.filter((v): v is string => v !== null))].sort();
      const code = new Map(levels.map((level, k) => [level, k]));
      column.levels = levels;
      text.forEach((v, i) => (column.codes![i] = v === null ? -1 : code.get(v)!));
    }
  }
  let metricSteps = 0;
  if (stepMetrics.length > 0) {
    // Decided once per database over every step, so that an axis does not come and go as the
    // time slider moves. max(t) is one seek on the (name, t, sim_id) key; the EXISTS queries
    // stop at the first value, or at the first step where two runs differ.
    const stmt = db.prepare(
      `SELECT (SELECT max(t) FROM jdsi_metric_value WHERE name = ?1),
              EXISTS (SELECT 1 FROM jdsi_metric_value WHERE name = ?1 AND value IS NOT NULL),
              EXISTS (SELECT 1 FROM jdsi_metric_value WHERE name = ?1 GROUP BY t HAVING count(DISTINCT value) > 1)`
    );
    try {
      for (const metric of stepMetrics) {
        stmt.bind([metric.name]);
        if (stmt.step()) {
          const [max, filled, varies] = stmt.get();
          metricSteps = Math.max(metricSteps, max === null ? 0 : Number(max) + 1);
          metric.empty = Number(filled) !== 1;
          metric.varies = Number(varies) === 1;
        }
        stmt.reset();
      }
    } finally {
      stmt.free();
    }
  }
  return { runMetrics, stepMetrics, metricSteps };
}

/** The per-step number metrics at step `t`, one indexed read per metric. */
export function readStepMetrics(
  db: Database,
  row: ReadonlyMap<string, number>,
  metrics: readonly IMetricInfo[],
  t: number
): IStepMetric[] {
  if (metrics.length === 0) {
    return [];
  }
  const out: IStepMetric[] = [];
  const stmt = db.prepare('SELECT sim_id, value FROM jdsi_metric_value WHERE name = ? AND t = ?');
  try {
    for (const metric of metrics) {
      const values = new Float32Array(row.size).fill(NaN);
      stmt.bind([metric.name, t]);
      while (stmt.step()) {
        const [simId, value] = stmt.get();
        const i = row.get(String(simId));
        if (i !== undefined) {
          values[i] = rowValue(value);
        }
      }
      stmt.reset();
      out.push({ name: metric.name, values });
    }
  } finally {
    stmt.free();
  }
  return out;
}

/**
 * The distances of every simulation at step `t` from a method's cube (all NaN without one: no
 * method, or a method without distances) and the per-step metrics at that step, aligned with
 * `row`. The metrics' t is the distances' step index.
 */
export function readSlice(
  db: Database,
  row: ReadonlyMap<string, number>,
  methodId: string | null,
  t: number,
  stepMetrics: readonly IMetricInfo[] = [],
  cube: ICube | null = null
): ISlice {
  return { methodId, t, ...cubeSlice(cube, t, row.size), metrics: readStepMetrics(db, row, stepMetrics, t) };
}

/** What the server's replica records of a method (jdsi_replica_method), its rows left out. */
export interface IReplicaMethod {
  /** The distinct steps it has distances at, ascending. */
  steps: number[];
  /** Those of d_shock, d_edge, d_density with at least one value. */
  columns: string[];
}

/** Whether the open file is the server's replica (or holds a scratch): it has jdsi_replica_method. */
export function hasReplicaTable(db: Database): boolean {
  const stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jdsi_replica_method'");
  try {
    return stmt.step();
  } finally {
    stmt.free();
  }
}

/** The method's row of jdsi_replica_method; null without the table or the row (read its rows then). */
export function readReplicaMethod(db: Database, methodId: string): IReplicaMethod | null {
  if (!hasReplicaTable(db)) {
    return null;
  }
  const stmt = db.prepare('SELECT steps, columns FROM jdsi_replica_method WHERE method_id = ?');
  try {
    stmt.bind([methodId]);
    if (!stmt.step()) {
      return null;
    }
    const [steps, columns] = stmt.get();
    return { steps: jsonArray(steps).map(Number), columns: jsonArray(columns).map(String) };
  } finally {
    stmt.free();
  }
}

/** A method's steps and the distance columns it has values for (ensembles without shock or edge coefficients leave those NULL). */
export function readMethodInfo(db: Database, methodId: string): IMethodInfo {
  const replica = readReplicaMethod(db, methodId);
  if (replica) {
    return { steps: stepCount(replica.steps), distances: DISTANCE_COLUMNS.filter(c => replica.columns.includes(c)) };
  }
  const distances: string[] = [];
  // EXISTS stops at the first value: one row read when a column is filled, as it usually is.
  // The column names come from this fixed list, never from data (DESIGN.md rule 3).
  for (const name of DISTANCE_COLUMNS) {
    const stmt = db.prepare(
      `SELECT EXISTS (SELECT 1 FROM jdsi_distance WHERE method_id = ? AND ${name} IS NOT NULL)`
    );
    try {
      stmt.bind([methodId]);
      if (stmt.step() && Number(stmt.get()[0]) === 1) {
        distances.push(name);
      }
    } finally {
      stmt.free();
    }
  }
  return { steps: readMethodSteps(db, methodId), distances };
}

/** Steps of the per-step metrics (max t + 1, one seek per metric on its key; 0 without any). */
export function readMetricSteps(db: Database): number {
  const names: string[] = [];
  const list = db.prepare('SELECT name FROM jdsi_metric WHERE per_step = 1');
  try {
    while (list.step()) {
      names.push(String(list.get()[0]));
    }
  } finally {
    list.free();
  }
  let steps = 0;
  const max = db.prepare('SELECT max(t) FROM jdsi_metric_value WHERE name = ?');
  try {
    for (const name of names) {
      max.bind([name]);
      if (max.step()) {
        const [m] = max.get();
        steps = Math.max(steps, m === null ? 0 : Number(m) + 1);
      }
      max.reset();
    }
  } finally {
    max.free();
  }
  return steps;
}

/** The panel's steps 0..n-1 of a list of steps: n = max + 1. */
function stepCount(steps: readonly number[]): number {
  return steps.length === 0 ? 0 : Math.max(...steps) + 1;
}

/** The time steps (0..n-1) that a method has distances for. */
export function readMethodSteps(db: Database, methodId: string): number {
  const replica = readReplicaMethod(db, methodId);
  if (replica) {
    return stepCount(replica.steps);
  }
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

/** The distinct steps a method has distances at: its replica row, else its rows. */
export function readMethodStepList(db: Database, methodId: string): number[] {
  return readReplicaMethod(db, methodId)?.steps ?? readRowSteps(db, methodId);
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
  /** d_feature's terms {column: weight}, in the order they were given; null: none saved. */
  weights: FeatureTerms | null;
  filter: string;
  selectionKind: string;
  sampling: unknown;
  settings: unknown;
  parentId: string | null;
  size: number;
  digest: string;
  deleted: boolean;
  /** Why it is stale (jdsi_stale: an upstream source, simulation or method changed); empty when it is not. */
  stale: string[];
  /**
   * One line naming the stored column (settings, sampling) that is not JSON, when one is not:
   * such a column reads as null, and restoring the dataset says this instead of guessing.
   */
  unreadable?: string;
}

/** A JSON column of a dataset; text that does not parse is null, and `problems` gets a line naming `column`. */
function storedJson(text: unknown, column: string, problems: string[]): unknown {
  return parseJson(text, message => {
    problems.push(`its stored ${column} is not JSON (${message})`);
    return null;
  });
}

/**
 * A dataset's feature terms: the `feature` column (schema 3), else the two weights of d_shock
 * and d_edge that datasets with a method had before (schema 2); null when none were saved or
 * the column holds something that is not terms. As Python reads them (feature.stored): both are
 * held to tests/vectors/feature.json.
 */
export function datasetTerms(feature: unknown, wShock: unknown, wEdge: unknown, methodId: unknown): FeatureTerms | null {
  return storedTerms(feature, wShock, wEdge, methodId);
}

/** Every dataset, newest first, with whether a tombstone hides it. */
export function readDatasets(db: Database): IDatasetInfo[] {
  const stmt = db.prepare(
    `SELECT id, name, description, created_at, author, method_id, t, w_shock, w_edge, feature, filter,
            selection_kind, sampling, settings, parent_id, size, digest,
            id IN (SELECT record_id FROM jdsi_tombstone) AS deleted,
            (SELECT json_group_array(reason) FROM jdsi_stale WHERE record_id = jdsi_dataset.id) AS stale
     FROM jdsi_dataset ORDER BY created_at DESC, id`
  );
  const out: IDatasetInfo[] = [];
  try {
    while (stmt.step()) {
      const r = stmt.getAsObject();
      const problems: string[] = [];
      out.push({
        id: String(r.id),
        name: String(r.name),
        description: String(r.description),
        createdAt: String(r.created_at),
        author: String(r.author),
        methodId: r.method_id === null ? null : String(r.method_id),
        t: r.t === null ? null : Number(r.t),
        weights: datasetTerms(r.feature, r.w_shock, r.w_edge, r.method_id),
        filter: String(r.filter),
        selectionKind: String(r.selection_kind),
        sampling: storedJson(r.sampling, 'sampling', problems),
        settings: storedJson(r.settings, 'settings', problems),
        parentId: r.parent_id === null ? null : String(r.parent_id),
        size: Number(r.size),
        digest: String(r.digest),
        deleted: Number(r.deleted) === 1,
        stale: jsonArray(r.stale).map(String),
        ...(problems.length > 0 ? { unreadable: `Dataset “${String(r.name)}”: ${problems.join('; ')}.` } : {})
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

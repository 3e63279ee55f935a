/**
 * Training runs as the replica reads them (schema 4: jdsi_run, jdsi_run_param, jdsi_run_metric,
 * jdsi_split, jdsi_stale): one query per concern, bound parameters, plain JSON out. The worker
 * calls these; the Runs page only shapes what they return.
 */
import type { Database, SqlValue } from 'sql.js';

import { jsonObject, parseJson } from './json';
import { queryAll } from './query';

/** How a run is shown. A stored 'running' without a heartbeat for this long is interrupted. */
export type RunStatus = 'running' | 'finished' | 'failed' | 'interrupted';

/**
 * Seconds without a heartbeat after which a running run shows as interrupted: the rule of
 * jupyterlab_dsi/runs.py, without its pid check (a browser cannot see processes).
 */
export const INTERRUPTED_AFTER_S = 600;

/** A metric is named by its name and context: "val/mse", or "mse" without a context. */
export function metricKey(name: string, context: string): string {
  return context ? `${context}/${name}` : name;
}

/** One metric's last value in a run: the highest step, the latest logged among equal steps (as runs.py). */
export interface IMetricLast {
  name: string;
  context: string;
  step: number;
  /** null: a NaN or an infinity was logged. */
  value: number | null;
  /** The step of its first point: a metric logged once has firstStep === step (no curve). */
  firstStep: number;
}

/** A split as a short label: its part names and fractions, and its seed. */
export interface ISplitLabel {
  id: string;
  /** "train 80%, val 10%, test 10% · seed 0" (formatSplitParts, as the Datasets page shows parts). */
  label: string;
}

/**
 * A split's parts as both pages show them: "train 80%, val 10%, test 10%" (to 0.1%).
 * The one formatter of split fractions: the Runs table and the Datasets page's splits.
 */
export function formatSplitParts(parts: readonly { name: string; fraction: number }[]): string {
  return parts.map(p => `${p.name} ${Number((p.fraction * 100).toFixed(1))}%`).join(', ');
}

export interface IRunInfo {
  id: string;
  name: string;
  description: string;
  datasetId: string | null;
  /** The dataset's name (also when it was deleted: the reference stays readable). */
  datasetName: string | null;
  datasetDeleted: boolean;
  split: ISplitLabel | null;
  status: RunStatus;
  /** The last line of a failed run's exception. */
  error: string | null;
  startedAt: string;
  endedAt: string | null;
  heartbeatAt: string | null;
  /** Seconds from start to end (to the last heartbeat when interrupted, to now while running). */
  durationS: number | null;
  author: string;
  host: string;
  /** Parameters as logged (JSON values). */
  params: Record<string, unknown>;
  /** The last value of each metric, keyed by metricKey(name, context). */
  metrics: Record<string, IMetricLast>;
  /** Energy used in kWh, when measured (resources.energy_kwh, else the GPUs' energy). */
  energyKwh: number | null;
  resources: Record<string, unknown>;
  /**
   * Why the run is stale (jdsi_stale; staleness.py marks a run whose dataset, split or sources
   * changed, as `jupyter dsi runs` reads it); empty when it is not.
   */
  stale: string[];
  /**
   * The targets of its predictions with at least one predictive variance (sigma2) logged: what a
   * proposal can be drawn from (`jupyter dsi propose --run`), by name.
   */
  sigma2Targets: string[];
}

/** A run's points of one metric, in step order. */
export interface IRunCurve {
  runId: string;
  steps: number[];
  /** null: missing (a NaN or an infinity was logged). */
  values: (number | null)[];
}

/** min, mean and max of a parameter over a dataset's members. */
export interface IRange {
  min: number;
  mean: number;
  max: number;
}

/** What the efficacy view can put on its x axis, for a dataset that runs used. */
export interface IDatasetStats {
  id: string;
  name: string;
  size: number;
  createdAt: string;
  /** The sampling's probability (kind p) or target size (kind n), when it had one. */
  samplingP: number | null;
  samplingN: number | null;
  /** Numeric parameters over the members, by parameter name. */
  params: Record<string, IRange>;
}

function text(value: SqlValue): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A param value as logged; text that is not JSON is shown as it is rather than lost. */
function jsonValue(value: SqlValue): unknown {
  return parseJson(value, () => String(value));
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function millis(iso: string | null): number | null {
  if (iso === null) {
    return null;
  }
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** The status shown for a stored one: 'running' without a recent heartbeat is interrupted. */
export function derivedStatus(stored: string, heartbeatAt: string | null, startedAt: string, nowMs: number): RunStatus {
  if (stored === 'finished' || stored === 'failed') {
    return stored;
  }
  const last = heartbeatAt !== null ? millis(heartbeatAt) : millis(startedAt);
  // A stamp that does not parse (edited by hand) is no sign of life, as in runs.py.
  return last === null || nowMs - last > INTERRUPTED_AFTER_S * 1000 ? 'interrupted' : 'running';
}

/**
 * Energy in kWh from a run's resources: `energy_kwh` (codecarbon), else the sum of the GPUs'
 * `energy_kwh` (or `energy_j`, NVML's joules); null when nothing was measured.
 */
export function energyOf(resources: Record<string, unknown>): number | null {
  const direct = finite(resources.energy_kwh);
  if (direct !== null) {
    return direct;
  }
  const gpus = resources.gpus;
  const list = Array.isArray(gpus) ? gpus : typeof gpus === 'object' && gpus !== null ? [gpus] : [];
  let total: number | null = null;
  for (const gpu of list) {
    if (typeof gpu !== 'object' || gpu === null) {
      continue;
    }
    const g = gpu as Record<string, unknown>;
    const kwh = finite(g.energy_kwh) ?? (finite(g.energy_j) === null ? null : finite(g.energy_j)! / 3.6e6);
    if (kwh !== null) {
      total = (total ?? 0) + kwh;
    }
  }
  return total;
}

function splitLabel(id: string, names: SqlValue, fractions: SqlValue, seed: SqlValue): string {
  const n = jsonValue(names);
  const f = jsonValue(fractions);
  const parts =
    Array.isArray(n) && Array.isArray(f) && n.length === f.length && f.every(x => typeof x === 'number')
      ? formatSplitParts(n.map((name, i) => ({ name: String(name), fraction: f[i] as number })))
      : id.slice(0, 8);
  return `${parts} · seed ${String(seed)}`;
}

/**
 * The last point of each (name, context) of each run: the highest step, the latest logged among
 * equal steps (as runs.py). Index seeks only, as runs.py does it: a skip scan over the groups of
 * jdsi_run_metric_by_run, then a seek each for the last and the first step. A run of a million
 * points reads as fast as one of ten, which matters here: the tab re-reads on every catch-up.
 */
function lastValues(db: Database, runIds: readonly string[]): Map<string, Record<string, IMetricLast>> {
  const seek = (sql: string) => db.prepare(sql);
  const firstGroup = seek('SELECT name, context FROM jdsi_run_metric WHERE run_id = ? ORDER BY name, context LIMIT 1');
  const laterContext = seek(
    'SELECT context FROM jdsi_run_metric WHERE run_id = ? AND name = ? AND context > ? ORDER BY context LIMIT 1'
  );
  const nextName = seek('SELECT name, context FROM jdsi_run_metric WHERE run_id = ? AND name > ? ORDER BY name, context LIMIT 1');
  const lastPoint = seek(
    'SELECT step, value FROM jdsi_run_metric WHERE run_id = ? AND name = ? AND context = ? ORDER BY step DESC, rowid DESC LIMIT 1'
  );
  const firstStep = seek('SELECT step FROM jdsi_run_metric WHERE run_id = ? AND name = ? AND context = ? ORDER BY step LIMIT 1');
  const one = (stmt: ReturnType<typeof seek>, params: SqlValue[]): SqlValue[] | null => {
    stmt.bind(params);
    const row = stmt.step() ? stmt.get() : null;
    stmt.reset();
    return row;
  };
  const out = new Map<string, Record<string, IMetricLast>>();
  try {
    for (const runId of runIds) {
      const values: Record<string, IMetricLast> = {};
      let group = one(firstGroup, [runId]);
      while (group !== null) {
        const name = String(group[0]);
        const context = String(group[1] ?? '');
        const [step, value] = one(lastPoint, [runId, name, context])!;
        const [first] = one(firstStep, [runId, name, context])!;
        values[metricKey(name, context)] = { name, context, step: Number(step), value: finite(value), firstStep: Number(first) };
        // The next group: a later context of this name, else the next name (each one seek).
        const later = one(laterContext, [runId, name, context]);
        group = later !== null ? [name, later[0]] : one(nextName, [runId, name]);
      }
      out.set(runId, values);
    }
  } finally {
    [firstGroup, laterContext, nextName, lastPoint, firstStep].forEach(s => s.free());
  }
  return out;
}

/**
 * Each run's targets with a non-null sigma2, by index seeks: the run's next target on the
 * (run_id, target, sim_id) key, then the first of its rows with a sigma2 (a model logs one for
 * every simulation or for none, so the answer is usually the first row).
 */
function sigma2Targets(db: Database, runIds: readonly string[]): Map<string, string[]> {
  const firstTarget = db.prepare('SELECT target FROM jdsi_prediction WHERE run_id = ? ORDER BY target LIMIT 1');
  const nextTarget = db.prepare('SELECT target FROM jdsi_prediction WHERE run_id = ? AND target > ? ORDER BY target LIMIT 1');
  const withSigma2 = db.prepare('SELECT 1 FROM jdsi_prediction WHERE run_id = ? AND target = ? AND sigma2 IS NOT NULL LIMIT 1');
  const one = (stmt: ReturnType<typeof db.prepare>, params: SqlValue[]): SqlValue | undefined => {
    stmt.bind(params);
    const value = stmt.step() ? stmt.get()[0] : undefined;
    stmt.reset();
    return value;
  };
  const out = new Map<string, string[]>();
  try {
    for (const runId of runIds) {
      const targets: string[] = [];
      let target = one(firstTarget, [runId]);
      while (target !== undefined && target !== null) {
        if (one(withSigma2, [runId, target]) !== undefined) {
          targets.push(String(target));
        }
        target = one(nextTarget, [runId, target]);
      }
      out.set(runId, targets);
    }
  } finally {
    [firstTarget, nextTarget, withSigma2].forEach(s => s.free());
  }
  return out;
}

/** Every live run (no tombstone), newest first, with its status as shown at `nowMs`. */
export function readRuns(db: Database, nowMs: number): IRunInfo[] {
  const runs = queryAll(
    db,
    `SELECT r.id, r.name, r.description, r.dataset_id, d.name AS dataset_name,
            r.dataset_id IN (SELECT record_id FROM jdsi_tombstone) AS dataset_deleted,
            r.split_id, s.names AS split_names, s.fractions AS split_fractions, s.seed AS split_seed,
            r.status, r.error, r.started_at, r.ended_at, r.heartbeat_at, r.author, r.host, r.resources
       FROM jdsi_run r
       LEFT JOIN jdsi_dataset d ON d.id = r.dataset_id
       LEFT JOIN jdsi_split s ON s.id = r.split_id
      WHERE r.id NOT IN (SELECT record_id FROM jdsi_tombstone)
      ORDER BY r.started_at DESC, r.id`
  );
  const params = new Map<string, Record<string, unknown>>();
  for (const p of queryAll(db, 'SELECT run_id, name, value FROM jdsi_run_param ORDER BY run_id, name')) {
    const id = String(p.run_id);
    params.set(id, { ...params.get(id), [String(p.name)]: jsonValue(p.value) });
  }
  const metrics = lastValues(db, runs.map(r => String(r.id)));
  const withSigma2 = sigma2Targets(db, runs.map(r => String(r.id)));
  const stale = new Map<string, string[]>();
  for (const s of queryAll(db, 'SELECT record_id, reason FROM jdsi_stale ORDER BY found_at, cause_id')) {
    const id = String(s.record_id);
    stale.set(id, [...(stale.get(id) ?? []), String(s.reason)]);
  }
  return runs.map(r => {
    const id = String(r.id);
    const startedAt = String(r.started_at);
    const endedAt = text(r.ended_at);
    const heartbeatAt = text(r.heartbeat_at);
    const status = derivedStatus(String(r.status), heartbeatAt, startedAt, nowMs);
    const datasetId = text(r.dataset_id);
    const splitId = text(r.split_id);
    const resources = jsonObject(r.resources);
    const start = millis(startedAt);
    const end =
      status === 'running' ? nowMs : status === 'interrupted' ? millis(heartbeatAt) ?? start : millis(endedAt);
    return {
      id,
      name: String(r.name),
      description: String(r.description ?? ''),
      datasetId,
      datasetName: text(r.dataset_name),
      datasetDeleted: Number(r.dataset_deleted) === 1,
      split: splitId === null ? null : { id: splitId, label: splitLabel(splitId, r.split_names, r.split_fractions, r.split_seed) },
      status,
      error: text(r.error),
      startedAt,
      endedAt,
      heartbeatAt,
      durationS: start !== null && end !== null ? Math.max(0, (end - start) / 1000) : null,
      author: String(r.author),
      host: String(r.host),
      params: params.get(id) ?? {},
      metrics: metrics.get(id) ?? {},
      energyKwh: energyOf(resources),
      resources,
      stale: stale.get(id) ?? [],
      sigma2Targets: withSigma2.get(id) ?? []
    };
  });
}

/**
 * Points a curve crosses from the worker with at most (about): a longer one is thinned there by
 * thinIndices to half as many step buckets, so a run of a million points reaches the page as a
 * few thousand, each spike and gap still in it (the page thins again to its pixel width).
 */
export const CURVE_POINTS = 8192;

/**
 * Which points of a curve (steps ascending) to keep for `buckets` equal step ranges: in each,
 * the lowest and the highest value (in step order), so a spike stays as tall as it was, and the
 * first missing value (a gap stays a gap); plus the last point. All of them when there are no
 * more than about two per bucket. The one thinning of curves: the worker's and the chart's.
 */
export function thinIndices(steps: ArrayLike<number>, values: ArrayLike<number | null>, buckets: number): number[] {
  const n = steps.length;
  const columns = Math.max(1, Math.floor(buckets));
  if (n <= 2 * columns + 1) {
    return Array.from({ length: n }, (_, i) => i);
  }
  const lo = steps[0];
  const span = steps[n - 1] - lo || 1;
  const keep: number[] = [];
  let bucket = -1;
  let min = -1;
  let max = -1;
  let gap = -1;
  const flush = () => {
    keep.push(...[...new Set([min, max, gap])].filter(i => i >= 0).sort((a, b) => a - b));
  };
  for (let i = 0; i < n; i++) {
    const b = Math.min(columns - 1, Math.floor(((steps[i] - lo) / span) * columns));
    if (b !== bucket) {
      flush();
      bucket = b;
      min = max = gap = -1;
    }
    const v = values[i];
    if (v === null) {
      gap = gap < 0 ? i : gap;
    } else {
      if (min < 0 || v < (values[min] as number)) {
        min = i;
      }
      if (max < 0 || v > (values[max] as number)) {
        max = i;
      }
    }
  }
  flush();
  if (keep[keep.length - 1] !== n - 1) {
    keep.push(n - 1);
  }
  return keep;
}

/**
 * The points of one metric (name and context) of each run in `runIds`, in step order; a curve
 * of more than `maxPoints` is thinned (thinIndices). Read row by row into two arrays, not as a
 * million row objects.
 */
export function readRunCurves(db: Database, runIds: readonly string[], name: string, context: string, maxPoints = CURVE_POINTS): IRunCurve[] {
  const stmt = db.prepare(
    `SELECT step, value FROM jdsi_run_metric
      WHERE run_id = ? AND name = ? AND context = ?
      ORDER BY step, rowid`
  );
  try {
    return runIds.map(runId => {
      const steps: number[] = [];
      const values: (number | null)[] = [];
      stmt.bind([runId, name, context]);
      while (stmt.step()) {
        const [step, value] = stmt.get();
        steps.push(Number(step));
        values.push(finite(value));
      }
      stmt.reset();
      if (steps.length <= maxPoints) {
        return { runId, steps, values };
      }
      const keep = thinIndices(steps, values, maxPoints / 2);
      return { runId, steps: keep.map(i => steps[i]), values: keep.map(i => values[i]) };
    });
  } finally {
    stmt.free();
  }
}

/**
 * The datasets that runs used, with what the efficacy view can plot: size, creation time,
 * sampling, and min / mean / max of each numeric parameter over the members.
 */
export function readDatasetStats(db: Database): IDatasetStats[] {
  const datasets = queryAll(
    db,
    `SELECT id, name, size, created_at, sampling FROM jdsi_dataset
      WHERE id IN (SELECT dataset_id FROM jdsi_run)
      ORDER BY created_at, id`
  );
  const ranges = new Map<string, Record<string, IRange>>();
  // Only values stored as numbers: a text level cannot be averaged.
  for (const r of queryAll(
    db,
    `SELECT m.dataset_id, v.name, MIN(v.value) AS lo, AVG(v.value) AS mean, MAX(v.value) AS hi
       FROM jdsi_dataset_member m
       JOIN jdsi_param_value v ON v.sim_id = m.sim_id
      WHERE m.dataset_id IN (SELECT dataset_id FROM jdsi_run)
        AND typeof(v.value) IN ('integer', 'real')
      GROUP BY m.dataset_id, v.name`
  )) {
    const id = String(r.dataset_id);
    ranges.set(id, { ...ranges.get(id), [String(r.name)]: { min: Number(r.lo), mean: Number(r.mean), max: Number(r.hi) } });
  }
  return datasets.map(d => {
    const sampling = jsonObject(d.sampling);
    return {
      id: String(d.id),
      name: String(d.name),
      size: Number(d.size),
      createdAt: String(d.created_at),
      samplingP: sampling.kind === 'p' ? finite(sampling.p) : null,
      samplingN: sampling.kind === 'n' ? finite(sampling.n) : null,
      params: ranges.get(String(d.id)) ?? {}
    };
  });
}

/**
 * Training runs' predictions (jdsi_prediction) as typed-array columns aligned with the base
 * table's ids, and the explorer columns they become: `error of <run>` (prediction - truth, when
 * the target names a parameter or a number metric) or `prediction of <run>`, and
 * `sigma2 of <run>`, so that users can brush where a model is wrong or unsure.
 */
import type { Database } from 'sql.js';

import type { Column } from '../table/types';

/** One run's predictions of one target, aligned with the base table (NaN: not predicted). */
export interface IPredictionSet {
  runId: string;
  runName: string;
  target: string;
  values: Float32Array;
  /** The predictive variance per simulation; null when the run logged none. */
  sigma2: Float32Array | null;
}

/** Every live run's predictions, runs in the order they started, targets by name. */
export function readPredictions(db: Database, row: ReadonlyMap<string, number>): IPredictionSet[] {
  const sets: IPredictionSet[] = [];
  const list = db.prepare(
    `SELECT p.run_id, r.name, p.target, count(p.sigma2) AS with_sigma2
       FROM jdsi_prediction p JOIN jdsi_run r ON r.id = p.run_id
      WHERE NOT EXISTS (SELECT 1 FROM jdsi_tombstone WHERE record_id = p.run_id)
      GROUP BY p.run_id, p.target
      ORDER BY r.started_at, r.id, p.target`
  );
  try {
    while (list.step()) {
      const [runId, name, target, withSigma2] = list.get();
      sets.push({
        runId: String(runId),
        runName: String(name),
        target: String(target),
        values: new Float32Array(row.size).fill(NaN),
        sigma2: Number(withSigma2) > 0 ? new Float32Array(row.size).fill(NaN) : null
      });
    }
  } finally {
    list.free();
  }
  // One read per set on the (run_id, target, sim_id) key.
  const values = db.prepare('SELECT sim_id, value, sigma2 FROM jdsi_prediction WHERE run_id = ? AND target = ?');
  try {
    for (const set of sets) {
      values.bind([set.runId, set.target]);
      while (values.step()) {
        const [simId, value, sigma2] = values.get();
        const i = row.get(String(simId));
        if (i === undefined) {
          continue;
        }
        set.values[i] = value === null ? NaN : Number(value);
        if (set.sigma2) {
          set.sigma2[i] = sigma2 === null ? NaN : Number(sigma2);
        }
      }
      values.reset();
    }
  } finally {
    values.free();
  }
  return sets;
}

/**
 * The name each set's columns carry: the run's name, with its id's first 8 characters when two
 * runs share a name, and the target when the run predicted more than one.
 */
export function predictionLabels(sets: readonly IPredictionSet[]): string[] {
  const runsByName = new Map<string, Set<string>>();
  const targetsByRun = new Map<string, number>();
  for (const s of sets) {
    runsByName.set(s.runName, (runsByName.get(s.runName) ?? new Set()).add(s.runId));
    targetsByRun.set(s.runId, (targetsByRun.get(s.runId) ?? 0) + 1);
  }
  return sets.map(s => {
    const run = runsByName.get(s.runName)!.size > 1 ? `${s.runName} (${s.runId.slice(0, 8)})` : s.runName;
    return targetsByRun.get(s.runId)! > 1 ? `${run}: ${s.target}` : run;
  });
}

/**
 * The explorer columns of the predictions: `error of <label>` = prediction - truth where
 * `truth(target)` has the target's values at the explorer's step (a parameter or a number
 * metric), else `prediction of <label>`; `sigma2 of <label>` when the run logged variances.
 * A name already taken by another column is skipped (the first stays, as for metrics).
 */
export function predictionColumns(
  sets: readonly IPredictionSet[],
  truth: (target: string) => Float32Array | null,
  taken: ReadonlySet<string> = new Set()
): Column[] {
  const labels = predictionLabels(sets);
  const out: Column[] = [];
  const names = new Set(taken);
  const add = (name: string, values: Float32Array) => {
    if (!names.has(name)) {
      names.add(name);
      out.push({ kind: 'numeric', name, values });
    }
  };
  sets.forEach((set, k) => {
    const known = truth(set.target);
    if (known && known.length === set.values.length) {
      const error = new Float32Array(set.values.length);
      for (let i = 0; i < error.length; i++) {
        error[i] = set.values[i] - known[i]; // NaN where either is missing
      }
      add(`error of ${labels[k]}`, error);
    } else {
      add(`prediction of ${labels[k]}`, set.values);
    }
    if (set.sigma2) {
      add(`sigma2 of ${labels[k]}`, set.sigma2);
    }
  });
  return out;
}

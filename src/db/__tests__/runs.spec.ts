/**
 * The replica's reading of training runs (schema 4) against a real sql.js database built from
 * jupyterlab_dsi/schema.sql: what the Runs tab shows for each run, its curves, and the dataset
 * properties of the efficacy view.
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs, { Database } from 'sql.js';

import { derivedStatus, energyOf, formatSplitParts, INTERRUPTED_AFTER_S, metricKey, readDatasetStats, readRunCurves, readRuns } from '../runs';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

const NOW = Date.parse('2026-03-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW - m * 60000).toISOString();

let db: Database;

beforeAll(async () => {
  const SQL = await initSqlJs();
  db = new SQL.Database();
  db.exec(SCHEMA_SQL);
  const run = (sql: string, rows: unknown[][]) => {
    const stmt = db.prepare(sql);
    rows.forEach(r => stmt.run(r as never));
    stmt.free();
  };
  run('INSERT INTO jdsi_parameter (name, kind, position) VALUES (?, ?, ?)', [
    ['velocity', 'numeric', 0],
    ['material', 'categorical', 1]
  ]);
  run("INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES ('src1', 'csv', 'ens.csv', 'x', 1, '2026-01-01')", [[]]);
  run("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, 'src1')", [['s1'], ['s2'], ['s3']]);
  run('INSERT INTO jdsi_param_value (sim_id, name, value) VALUES (?, ?, ?)', [
    ['s1', 'velocity', 1.0],
    ['s2', 'velocity', 2.0],
    ['s3', 'velocity', 6.0],
    ['s1', 'material', 'Al'],
    ['s2', 'material', 'Cu'],
    ['s3', 'material', 'Al']
  ]);
  run(
    `INSERT INTO jdsi_dataset (id, name, description, created_at, author, size, digest, sampling)
     VALUES (?, ?, 'd', ?, 'me', ?, 'sha256:0', ?)`,
    [
      ['dA', 'small', '2026-01-01T00:00:00Z', 2, '{"kind": "p", "p": 0.5, "seed": 1}'],
      ['dB', 'large', '2026-01-02T00:00:00Z', 3, null],
      ['dC', 'unused', '2026-01-03T00:00:00Z', 1, null]
    ]
  );
  run('INSERT INTO jdsi_dataset_member (dataset_id, sim_id) VALUES (?, ?)', [
    ['dA', 's1'],
    ['dA', 's2'],
    ['dB', 's1'],
    ['dB', 's2'],
    ['dB', 's3'],
    ['dC', 's3']
  ]);
  run(
    `INSERT INTO jdsi_split (id, dataset_id, names, fractions, seed, digest, created_at, author)
     VALUES ('sp1', 'dB', '["train","test"]', '[0.8,0.2]', 7, 'sha256:1', '2026-01-02', 'me')`,
    [[]]
  );
  run(
    `INSERT INTO jdsi_run (id, name, dataset_id, split_id, status, error, started_at, ended_at, heartbeat_at,
                           author, host, resources)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'me', 'box', ?)`,
    [
      ['r1', 'gp-small', 'dA', null, 'finished', null, minutesAgo(60), minutesAgo(58), minutesAgo(58), '{"wall_s": 120, "energy_kwh": 0.002}'],
      ['r2', 'gp-large', 'dB', 'sp1', 'finished', null, minutesAgo(50), minutesAgo(45), minutesAgo(45), '{"gpus": [{"energy_j": 3600000}, {"energy_j": 1800000}]}'],
      ['r3', 'live', 'dB', null, 'running', null, minutesAgo(20), null, minutesAgo(2), '{}'],
      ['r4', 'killed', 'dA', null, 'running', null, minutesAgo(40), null, minutesAgo(30), 'not json'],
      ['r5', 'broke', 'dA', null, 'failed', 'ValueError: bad lr', minutesAgo(10), minutesAgo(9), null, '{}'],
      ['r6', 'gone', 'dA', null, 'finished', null, minutesAgo(5), minutesAgo(4), null, '{}']
    ]
  );
  run("INSERT INTO jdsi_tombstone (record_id, kind, deleted_at, author) VALUES ('r6', 'run', '2026-03-01', 'me')", [[]]);
  run('INSERT INTO jdsi_run_param (run_id, name, value) VALUES (?, ?, ?)', [
    ['r1', 'lr', '0.001'],
    ['r1', 'kernel', '"rbf"']
  ]);
  run('INSERT INTO jdsi_run_metric (run_id, name, context, step, value, at) VALUES (?, ?, ?, ?, ?, ?)', [
    ['r1', 'mse', 'val', 0, 0.5, 1],
    ['r1', 'mse', 'val', 2, 0.2, 3],
    ['r1', 'mse', 'val', 1, 0.3, 2],
    ['r1', 'mse', 'train', 2, 0.1, 3],
    ['r2', 'mse', 'val', 0, 0.4, 1],
    ['r2', 'mse', 'val', 1, null, 2],
    ['r2', 'r2', '', 0, 0.9, 1],
    // Re-logged at the same step: the later point is the last value.
    ['r2', 'r2', '', 0, 0.95, 5]
  ]);
  run(
    "INSERT INTO jdsi_stale (record_id, kind, cause_id, reason, found_at) VALUES (?, ?, 'src1', 'source ens.csv changed', '2026-02-01')",
    [
      ['dB', 'dataset'],
      ['r2', 'run']
    ]
  );
});

afterAll(() => db.close());

describe('readRuns', () => {
  it('lists live runs newest first, without tombstoned ones', () => {
    expect(readRuns(db, NOW).map(r => r.name)).toEqual(['broke', 'live', 'killed', 'gp-large', 'gp-small']);
  });

  it('shows a running run without a heartbeat for 10 minutes as interrupted', () => {
    const byName = new Map(readRuns(db, NOW).map(r => [r.name, r]));
    expect(byName.get('live')!.status).toBe('running');
    expect(byName.get('killed')!.status).toBe('interrupted');
    expect(byName.get('broke')!.status).toBe('failed');
    expect(byName.get('broke')!.error).toBe('ValueError: bad lr');
    // The same run read 11 minutes later: no heartbeat since, interrupted.
    const later = readRuns(db, NOW + 11 * 60000).find(r => r.name === 'live')!;
    expect(later.status).toBe('interrupted');
  });

  it('gives each metric its last value (highest step, then the latest logged) under context/name', () => {
    const [r2, r1] = readRuns(db, NOW).filter(r => r.name.startsWith('gp')).map(r => r.metrics);
    expect(r1['val/mse']).toEqual({ name: 'mse', context: 'val', step: 2, value: 0.2, firstStep: 0 });
    expect(r1['train/mse'].value).toBe(0.1);
    expect(r2['val/mse']).toEqual({ name: 'mse', context: 'val', step: 1, value: null, firstStep: 0 });
    expect(r2.r2.value).toBe(0.95);
  });

  it('reads dataset, split, params, duration, energy and stale reasons', () => {
    const byName = new Map(readRuns(db, NOW).map(r => [r.name, r]));
    const small = byName.get('gp-small')!;
    expect(small.datasetName).toBe('small');
    expect(small.split).toBeNull();
    expect(small.params).toEqual({ lr: 0.001, kernel: 'rbf' });
    expect(small.durationS).toBe(120);
    expect(small.energyKwh).toBe(0.002);
    expect(small.stale).toEqual([]);
    const large = byName.get('gp-large')!;
    expect(large.split).toEqual({ id: 'sp1', label: 'train 80%, test 20% · seed 7' }); // as the Datasets page says parts
    expect(formatSplitParts([{ name: 'train', fraction: 0.8 }, { name: 'val', fraction: 0.125 }, { name: 'test', fraction: 0.075 }])).toBe(
      'train 80%, val 12.5%, test 7.5%'
    );
    expect(large.energyKwh).toBeCloseTo(1.5);
    // Its dataset's source changed: staleness.py marked the run too.
    expect(large.stale).toEqual(['source ens.csv changed']);
    expect(byName.get('killed')!.energyKwh).toBeNull();
    expect(byName.get('killed')!.durationS).toBe(600); // started 40 min ago, last heard 30 min ago
    expect(byName.get('live')!.durationS).toBe(1200); // running: until now
  });
});

describe('sigma2Targets', () => {
  beforeAll(() => {
    const stmt = db.prepare('INSERT INTO jdsi_prediction (run_id, sim_id, target, value, sigma2) VALUES (?, ?, ?, ?, ?)');
    for (const row of [
      // r1: sigma2 for velocity (after a NULL one), none for material.
      ['r1', 's1', 'velocity', 1.1, null],
      ['r1', 's2', 'velocity', 2.1, 0.04],
      ['r1', 's1', 'material', 0, null],
      ['r1', 's2', 'material', 1, null],
      // r2: two targets with sigma2, read in name order; '' is a name too.
      ['r2', 's1', 'zeta', 1, 0.5],
      ['r2', 's1', 'alpha', 1, 0.5],
      ['r2', 's1', '', 1, 0.1]
    ]) {
      stmt.run(row as never);
    }
    stmt.free();
  });

  it('names the targets with at least one non-null sigma2, per run', () => {
    const byName = new Map(readRuns(db, NOW).map(r => [r.name, r.sigma2Targets]));
    expect(byName.get('gp-small')).toEqual(['velocity']);
    expect(byName.get('gp-large')).toEqual(['', 'alpha', 'zeta']);
    expect(byName.get('live')).toEqual([]);
  });
});

describe('readRunCurves', () => {
  it('gives the points of one metric and context per run, in step order, gaps as null', () => {
    expect(readRunCurves(db, ['r1', 'r2', 'r3'], 'mse', 'val')).toEqual([
      { runId: 'r1', steps: [0, 1, 2], values: [0.5, 0.3, 0.2] },
      { runId: 'r2', steps: [0, 1], values: [0.4, null] },
      { runId: 'r3', steps: [], values: [] }
    ]);
  });

  it('binds names as values: a quote in a name is just a name', () => {
    expect(readRunCurves(db, ["r1' OR 1=1 --"], "mse' --", '')).toEqual([{ runId: "r1' OR 1=1 --", steps: [], values: [] }]);
  });
});

describe('readDatasetStats', () => {
  it('gives the datasets runs used, with size, sampling and numeric parameter ranges', () => {
    const stats = readDatasetStats(db);
    expect(stats.map(s => s.name)).toEqual(['small', 'large']);
    expect(stats[0]).toMatchObject({ size: 2, samplingP: 0.5, samplingN: null, params: { velocity: { min: 1, mean: 1.5, max: 2 } } });
    expect(stats[1].params).toEqual({ velocity: { min: 1, mean: 3, max: 6 } });
  });
});

describe('helpers', () => {
  it('names a metric context/name, or name alone', () => {
    expect(metricKey('mse', 'val')).toBe('val/mse');
    expect(metricKey('mse', '')).toBe('mse');
  });

  it('derives the status at the 10-minute edge', () => {
    const start = new Date(NOW - 3600000).toISOString();
    const beat = new Date(NOW - INTERRUPTED_AFTER_S * 1000).toISOString();
    expect(derivedStatus('running', beat, start, NOW)).toBe('running');
    expect(derivedStatus('running', beat, start, NOW + 1)).toBe('interrupted');
    expect(derivedStatus('running', null, start, NOW)).toBe('interrupted');
    expect(derivedStatus('running', 'yesterday-ish', start, NOW)).toBe('interrupted');
    expect(derivedStatus('finished', null, start, NOW)).toBe('finished');
  });

  it('reads energy from energy_kwh, else the GPUs', () => {
    expect(energyOf({})).toBeNull();
    expect(energyOf({ energy_kwh: 0.5, gpus: [{ energy_kwh: 3 }] })).toBe(0.5);
    expect(energyOf({ gpus: [{ energy_kwh: 1 }, { name: 'H100' }] })).toBe(1);
    expect(energyOf({ gpus: { energy_j: 7.2e6 } })).toBe(2);
  });
});

describe('long curves', () => {
  it('thins a curve of more than maxPoints in the worker, keeping its spike, its gap and its last point', () => {
    const SQL_ROWS = 20000;
    db.run('BEGIN');
    const insert = db.prepare('INSERT INTO jdsi_run_metric (run_id, name, context, step, value, at) VALUES (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < SQL_ROWS; i++) {
      insert.run(['r1', 'loss', 'train', i, i === 12345 ? 99 : i === 4321 ? null : Math.cos(i / 500), 0]);
    }
    insert.free();
    db.run('COMMIT');
    const [curve] = readRunCurves(db, ['r1'], 'loss', 'train', 1000);
    expect(curve.steps.length).toBeLessThanOrEqual(1000 + 500 + 1);
    expect(curve.steps.length).toBeGreaterThan(500);
    expect(curve.values).toContain(99);
    expect(curve.values).toContain(null);
    expect(curve.steps[curve.steps.length - 1]).toBe(SQL_ROWS - 1);
    expect(readRunCurves(db, ['r1'], 'loss', 'train', SQL_ROWS)[0].steps).toHaveLength(SQL_ROWS);
  });
});

/**
 * The prediction columns the explorer offers (`error of <run>`, `prediction of <run>`,
 * `sigma2 of <run>`), held to tests/vectors/prediction_columns.json, which pytest
 * (tests/test_predictions.py) holds Python's select to as well: the filter a brush writes on
 * such a column must read the same in `jupyter dsi select`, the kernel bridge and `verify`.
 * Each case is a sql.js database made from schema.sql, read as the panel reads it (readBaseTable,
 * readSlice, readPredictions) into an ExplorerModel, which decides what is truth and what is taken.
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs, { Database, SqlJsStatic } from 'sql.js';

import { ExplorerModel, ISliceSource } from '../../model/explorer';
import { FEATURE } from '../../model/feature';
import { readPredictions } from '../predictions';
import { readBaseTable, readSlice } from '../slices';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

interface ITarget {
  target: string;
  sigma2: boolean;
  values?: Record<string, [number | null, number | null]>;
}

interface ICase {
  name: string;
  parameters: { name: string; kind: string; levels: unknown[] | null }[];
  metrics: { name: string; kind: string; per_step: boolean }[];
  sims?: { id: string; params?: Record<string, unknown>; metrics?: Record<string, Record<string, number>> }[];
  runs: { id: string; name: string; started_at: string; deleted: boolean; targets: ITarget[] }[];
  columns: [string, string][];
  values?: Record<string, Record<string, (number | null)[]>>;
}

const VECTORS: { reserved: string[]; cases: ICase[] } = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'tests', 'vectors', 'prediction_columns.json'), 'utf8')
);

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

/** The case as a database (tests/test_predictions.py builds the same one with sqlite3). */
function build(c: ICase): Database {
  const db = new SQL.Database();
  db.exec(SCHEMA_SQL);
  db.run("INSERT INTO jdsi_source VALUES ('src', 'csv', '/data/a.csv', 'x', 1, '2026-01-01T00:00:00Z')");
  c.parameters.forEach((p, k) =>
    db.run('INSERT INTO jdsi_parameter VALUES (?, ?, ?, NULL, ?)', [p.name, p.kind, p.levels === null ? null : JSON.stringify(p.levels), k])
  );
  c.metrics.forEach((m, k) => db.run('INSERT INTO jdsi_metric VALUES (?, ?, ?, NULL, ?)', [m.name, m.kind, m.per_step ? 1 : 0, k]));
  for (const sim of c.sims ?? [{ id: '1' }]) {
    db.run("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, 'src')", [sim.id]);
    for (const [name, value] of Object.entries(sim.params ?? {})) {
      db.run('INSERT INTO jdsi_param_value VALUES (?, ?, ?)', [sim.id, name, value as number | string]);
    }
    for (const [name, steps] of Object.entries(sim.metrics ?? {})) {
      for (const [t, value] of Object.entries(steps)) {
        db.run('INSERT INTO jdsi_metric_value VALUES (?, ?, ?, ?)', [name, Number(t), sim.id, value]);
      }
    }
  }
  for (const run of c.runs) {
    db.run("INSERT INTO jdsi_run (id, name, status, started_at, author, host) VALUES (?, ?, 'finished', ?, 'me', 'h')", [
      run.id,
      run.name,
      run.started_at
    ]);
    if (run.deleted) {
      db.run("INSERT INTO jdsi_tombstone VALUES (?, 'run', '2026-12-01T00:00:00Z', 'me')", [run.id]);
    }
    for (const t of run.targets) {
      const values = t.values ?? { '1': [1, t.sigma2 ? 0.5 : null] };
      for (const [sim, [value, sigma2]] of Object.entries(values)) {
        db.run('INSERT INTO jdsi_prediction VALUES (?, ?, ?, ?, ?)', [run.id, sim, t.target, value, sigma2]);
      }
    }
  }
  return db;
}

/** The panel's reads of the database, as the worker answers them. */
function sourceOf(db: Database): ISliceSource {
  const base = readBaseTable(db);
  const row = new Map(base.ids.map((id, i) => [id, i]));
  return {
    table: async () => base,
    slice: async (methodId, t) => readSlice(db, row, methodId, t, base.stepMetrics),
    methodInfo: async () => ({ steps: 0, distances: [] }),
    predictions: async () => readPredictions(db, row)
  };
}

async function explorer(db: Database): Promise<ExplorerModel> {
  const m = new ExplorerModel(sourceOf(db), () => ({ context: '#ccc', missing: '#999' }));
  await m.load([]);
  return m;
}

const KIND = /^(error|prediction|sigma2) of /;

describe('prediction columns (tests/vectors/prediction_columns.json)', () => {
  it('reserve the names the explorer always has', () => {
    expect(VECTORS.reserved).toEqual(['d_shock', 'd_edge', 'd_density', FEATURE]);
  });

  it.each(VECTORS.cases.map(c => [c.name, c] as const))('%s', async (_, c) => {
    const db = build(c);
    try {
      const m = await explorer(db);
      const names = m.columnNames.filter(n => m.isPrediction(n));
      expect(names.map(n => [n, KIND.exec(n)?.[1]])).toEqual(c.columns);
      for (const [t, expected] of Object.entries(c.values ?? {})) {
        await m.setTime(Number(t));
        const ids = readBaseTable(db).ids;
        const order = (c.sims ?? [{ id: '1' }]).map(s => ids.indexOf(s.id));
        for (const [name, want] of Object.entries(expected)) {
          const column = m.column(name);
          const values = column?.kind === 'numeric' ? Array.from(column.values) : [];
          expect([name, order.map(i => (Number.isNaN(values[i]) ? null : values[i]))]).toEqual([name, want]);
        }
      }
    } finally {
      db.close();
    }
  });
});

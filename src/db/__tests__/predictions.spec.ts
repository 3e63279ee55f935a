/**
 * The loop's records as the replica reads them (issue 15 §3, §4), on a sql.js database made from
 * schema.sql with rows inserted: run predictions as explorer columns (`error of <run>`,
 * `sigma2 of <run>`), a dataset's splits and stale reasons, and the simulations ingested after
 * a dataset that its filter now matches.
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs, { Database } from 'sql.js';

import { countNewMatches, readSplitPart, readSplits } from '../datasetRecords';
import { predictionColumns, predictionLabels, readPredictions } from '../predictions';
import { cubeFromRows } from '../cubes';
import { readBaseTable, readDatasets, readSlice } from '../slices';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

/** Four simulations (cs 1..4, first source), one more ingested later (cs 5); m1 distances at t 0. */
async function ensemble(): Promise<Database> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.exec(SCHEMA_SQL);
  db.exec(`
    INSERT INTO jdsi_source VALUES ('src1', 'csv', '/data/a.csv', 'x', 1, '2026-01-01T00:00:00Z'),
                                   ('src2', 'csv', '/data/b.csv', 'y', 1, '2026-03-01T00:00:00Z');
    INSERT INTO jdsi_parameter VALUES ('cs', 'numeric', NULL, NULL, 0);
    INSERT INTO jdsi_metric VALUES ('yield', 'number', 1, NULL, 0);
    INSERT INTO jdsi_ground_truth VALUES ('g', '1', '', '2026-01-01');
    INSERT INTO jdsi_method (id, ground_truth_id, norm, code_version, created_at) VALUES ('m1', 'g', 'L2', 'v', '2026-01-01');
  `);
  for (const [sim, cs, source] of [['1', 1, 'src1'], ['2', 2, 'src1'], ['3', 3, 'src1'], ['4', 4, 'src1'], ['5', 5, 'src2']] as const) {
    db.run("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, ?)", [sim, source]);
    db.run("INSERT INTO jdsi_param_value VALUES (?, 'cs', ?)", [sim, cs]);
    db.run('INSERT INTO jdsi_distance VALUES (?, 0, ?, ?, ?, ?)', ['m1', sim, cs / 10, cs / 10, cs]);
    db.run("INSERT INTO jdsi_metric_value VALUES ('yield', 0, ?, ?)", [sim, cs * 100]);
  }
  return db;
}

function rowsOf(db: Database) {
  const base = readBaseTable(db);
  const row = new Map(base.ids.map((id, i) => [id, i]));
  // The worker's slices: the method's cube, here from the file's own rows.
  const sliceAt = (methodId: string | null, t: number) =>
    readSlice(db, row, methodId, t, base.stepMetrics, methodId === null ? null : cubeFromRows(db, methodId, base.ids));
  return { base, row, sliceAt };
}

function run(db: Database, id: string, name: string, started: string): void {
  db.run(
    "INSERT INTO jdsi_run (id, name, status, started_at, author, host) VALUES (?, ?, 'finished', ?, 'me', 'h')",
    [id, name, started]
  );
}

describe('predictions', () => {
  it('become error columns against a parameter and sigma2 columns, aligned with the base table', async () => {
    const db = await ensemble();
    run(db, 'r1', 'gp', '2026-02-01');
    // Predicts cs for simulations 1..3 (4 and 5 not predicted), with variances.
    for (const [sim, value, sigma2] of [['1', 1.5, 0.1], ['2', 2, 0.2], ['3', 2, null]] as const) {
      db.run("INSERT INTO jdsi_prediction VALUES ('r1', ?, 'cs', ?, ?)", [sim, value, sigma2]);
    }
    const { base, row } = rowsOf(db);
    const sets = readPredictions(db, row);
    expect(sets.map(s => [s.runName, s.target])).toEqual([['gp', 'cs']]);
    const cs = base.parameters[0].values!;
    const columns = predictionColumns(sets, target => (target === 'cs' ? cs : null));
    expect(columns.map(c => c.name)).toEqual(['error of gp', 'sigma2 of gp']);
    const [error, sigma2] = columns.map(c => (c.kind === 'numeric' ? Array.from(c.values) : []));
    expect(error.slice(0, 3)).toEqual([0.5, 0, -1]);
    expect(error.slice(3).every(Number.isNaN)).toBe(true);
    expect(sigma2[0]).toBeCloseTo(0.1);
    expect(Number.isNaN(sigma2[2])).toBe(true);
    db.close();
  });

  it('name the prediction itself when the target is not a column, and leave out deleted runs', async () => {
    const db = await ensemble();
    run(db, 'r1', 'net', '2026-02-01');
    run(db, 'r2', 'gone', '2026-02-02');
    db.run("INSERT INTO jdsi_prediction VALUES ('r1', '1', 'temperature', 7, NULL)");
    db.run("INSERT INTO jdsi_prediction VALUES ('r2', '1', 'cs', 7, NULL)");
    db.run("INSERT INTO jdsi_tombstone VALUES ('r2', 'run', '2026-02-03', 'me')");
    const { row } = rowsOf(db);
    const sets = readPredictions(db, row);
    const columns = predictionColumns(sets, () => null);
    expect(columns.map(c => c.name)).toEqual(['prediction of net']);
    db.close();
  });

  it('tell runs of one name apart by id and a run of several targets by target', () => {
    const set = (runId: string, runName: string, target: string) => ({ runId, runName, target, values: new Float32Array(1), sigma2: null });
    expect(
      predictionLabels([set('aaaaaaaa-1', 'gp', 'cs'), set('bbbbbbbb-2', 'gp', 'cs'), set('cccccccc-3', 'net', 'cs'), set('cccccccc-3', 'net', 'yield')])
    ).toEqual(['gp (aaaaaaaa)', 'gp (bbbbbbbb)', 'net: cs', 'net: yield']);
  });

  it('skip a name another column already has', () => {
    const sets = [{ runId: 'r', runName: 'gp', target: 'x', values: new Float32Array(2), sigma2: null }];
    expect(predictionColumns(sets, () => null, new Set(['prediction of gp']))).toEqual([]);
  });
});

describe('datasets: splits, stale marks, new matches', () => {
  async function withDataset(filter: string): Promise<Database> {
    const db = await ensemble();
    db.run(
      `INSERT INTO jdsi_dataset (id, name, description, created_at, author, method_id, t, filter, size, digest, feature)
       VALUES ('d1', 'small cs', 'why', '2026-02-01T00:00:00Z', 'me', 'm1', 0, ?, 2, 'sha256:0', '{"d_shock": 1}')`,
      [filter]
    );
    db.run("INSERT INTO jdsi_dataset_member VALUES ('d1', '1'), ('d1', '2')");
    return db;
  }

  it('lists splits with part sizes and the members of a part', async () => {
    const db = await withDataset('cs <= 2');
    db.run(
      `INSERT INTO jdsi_split VALUES ('s1', 'd1', '["train", "test"]', '[0.5, 0.5]', 7, NULL, 'sha256:1', '2026-02-02', 'me')`
    );
    db.run("INSERT INTO jdsi_split_member VALUES ('s1', '1', 'train'), ('s1', '2', 'test')");
    const [split] = readSplits(db, 'd1');
    expect(split).toMatchObject({ id: 's1', seed: 7, stratify: null, deleted: false });
    expect(split.parts).toEqual([
      { name: 'train', fraction: 0.5, size: 1 },
      { name: 'test', fraction: 0.5, size: 1 }
    ]);
    expect(readSplitPart(db, 's1', 'test')).toEqual(['2']);
    expect(readSplits(db, 'other')).toEqual([]);
    db.close();
  });

  it('reads the reasons a dataset is stale', async () => {
    const db = await withDataset('cs <= 2');
    db.run("INSERT INTO jdsi_stale VALUES ('d1', 'dataset', 'src1', 'source a.csv changed', '2026-03-02')");
    const [d] = readDatasets(db);
    expect(d.stale).toEqual(['source a.csv changed']);
    db.close();
  });

  it('counts simulations ingested later that the filter matches at its method and step, members aside', async () => {
    // Simulation 5 came later: cs 5 > 2 is not matched by "cs <= 2", is by "cs >= 2".
    const later = async (filter: string) => {
      const db = await withDataset(filter);
      const { base, row, sliceAt } = rowsOf(db);
      const n = countNewMatches(db, base, row, readDatasets(db)[0], sliceAt);
      db.close();
      return n;
    };
    expect(await later('cs <= 2')).toBe(0);
    // 3 and 4 match too, but were there when the dataset was saved (sampled out or unchosen).
    expect(await later('cs >= 2')).toBe(1);
    expect(await later('d_density > 4.5 and d_feature > 0.45')).toBe(1);
    expect(await later('')).toBe(1);
    expect(await later('nonexistent > 1')).toBeNull();
  });

  it('counts only the later simulations with distances at the method and step of the dataset, as Python does', async () => {
    const db = await withDataset('cs >= 2');
    db.run("DELETE FROM jdsi_distance WHERE sim_id = '5'");
    const { base, row, sliceAt } = rowsOf(db);
    expect(countNewMatches(db, base, row, readDatasets(db)[0], sliceAt)).toBe(0);
    db.close();
  });
});

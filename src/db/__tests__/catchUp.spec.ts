/**
 * A catch-up (open with keepScratch: the same file read again after a write) keeps the base table
 * and the predictions read from the last replica when the write touched none of their tables
 * (issue 18: a save shown within 0.5 s; reading the base table again took 110-360 ms at 1,000
 * simulations), and reads them again when it did: a simulation or a metric ingested, a parameter's
 * levels rewritten in place, a run's predictions, or another file.
 */
import initSqlJs, { Database, SqlJsStatic } from 'sql.js';

import { DatabaseApi } from '../api';
import { sampleBytes } from './frames';

let SQL: SqlJsStatic;
let SAMPLE: Uint8Array;

/** The sample with a finished run that predicted `cs` of its first three simulations. */
function withRun(db: Database): void {
  db.exec(`
    INSERT INTO jdsi_run (id, name, status, started_at, author, host) VALUES ('r1', 'gp', 'finished', '2026-01-01', 'me', 'h');
    INSERT INTO jdsi_prediction (run_id, sim_id, target, value, sigma2)
      SELECT 'r1', sim_id, 'cs', 1.0, 0.5 FROM jdsi_simulation ORDER BY sim_id LIMIT 3;
    INSERT INTO jdsi_event (at, kind, record_id) VALUES ('2026-01-01', 'run.end', 'r1');`);
}

/** The bytes of `bytes` after `sql` ran on them (a writer between two catch-ups). */
function written(bytes: Uint8Array, sql: string): Uint8Array {
  const db = new SQL.Database(bytes);
  try {
    db.exec(sql);
    return db.export();
  } finally {
    db.close();
  }
}

/** A dataset saved as the server logs it (the rows the Datasets tab reads are not needed here). */
const SAVE = "INSERT INTO jdsi_event (at, kind, record_id) VALUES ('2026-02-01', 'dataset.created', 'd-new');";

/** A simulation ingested with its parameters, as ingest.py writes it. */
const NEW_SIMULATION = `
  INSERT INTO jdsi_simulation (sim_id, times, source_id) SELECT 'zz-new', times, source_id FROM jdsi_simulation LIMIT 1;
  INSERT INTO jdsi_param_value (sim_id, name, value) SELECT 'zz-new', name, value FROM jdsi_param_value
    WHERE sim_id = (SELECT min(sim_id) FROM jdsi_simulation);
  INSERT INTO jdsi_event (at, kind, record_id) VALUES ('2026-02-01', 'source.ingested', 's2');`;

/** A per-run number metric ingested for every simulation. */
const NEW_METRIC = `
  INSERT INTO jdsi_metric (name, kind, per_step, unit, position) VALUES ('yield', 'number', 0, NULL, 0);
  INSERT INTO jdsi_metric_value (name, t, sim_id, value) SELECT 'yield', 0, sim_id, 7 FROM jdsi_simulation;
  INSERT INTO jdsi_event (at, kind, record_id) VALUES ('2026-02-01', 'source.ingested', 's2');`;

let base: Uint8Array;

beforeAll(async () => {
  SQL = await initSqlJs();
  SAMPLE = new Uint8Array(sampleBytes());
  const db = new SQL.Database(SAMPLE);
  try {
    withRun(db);
    base = db.export();
  } finally {
    db.close();
  }
});

/** The sample with its run opened, its base table and predictions read once. */
function opened(): DatabaseApi {
  const api = new DatabaseApi(SQL);
  api.open(base);
  api.table();
  api.predictions();
  expect([api.baseReads, api.predictionReads]).toEqual([1, 1]);
  return api;
}

describe('a catch-up', () => {
  it('after a save keeps the base table, its rows and the predictions', () => {
    const api = opened();
    const ids = api.table().ids;
    const summary = api.open(written(base, SAVE), true);
    expect(summary.lastEventSeq).toBeGreaterThan(0);
    expect(api.table().ids).toBe(ids); // the same object: not read again
    expect(api.predictions()).toHaveLength(1);
    api.newMatches([]);
    expect([api.baseReads, api.predictionReads]).toEqual([1, 1]);
  });

  it('adding a simulation reads the base table and the predictions again', () => {
    const api = opened();
    const before = api.table().ids.length;
    api.open(written(base, NEW_SIMULATION), true);
    const after = api.table();
    expect(after.ids).toContain('zz-new');
    expect(after.ids).toHaveLength(before + 1);
    expect(api.predictions()[0].values).toHaveLength(before + 1); // aligned with the new rows
    expect([api.baseReads, api.predictionReads]).toEqual([2, 2]);
  });

  it('adding a metric reads the base table again', () => {
    const api = opened();
    expect(api.table().runMetrics.map(m => m.name)).not.toContain('yield');
    api.open(written(base, NEW_METRIC), true);
    const column = api.table().runMetrics.find(m => m.name === 'yield');
    expect(column?.values?.every(v => v === 7)).toBe(true);
    expect(api.baseReads).toBe(2);
  });

  it('reads it again when the tables changed under events that do not say so (another writer, a replaced file)', () => {
    const api = opened();
    const ids = api.table().ids;
    // A simulation removed and another added: the same count and the same largest rowid.
    const swapped = written(
      base,
      `DELETE FROM jdsi_param_value WHERE sim_id = (SELECT sim_id FROM jdsi_simulation ORDER BY rowid DESC LIMIT 1);
       DELETE FROM jdsi_prediction WHERE sim_id = (SELECT sim_id FROM jdsi_simulation ORDER BY rowid DESC LIMIT 1);
       DELETE FROM jdsi_simulation WHERE rowid = (SELECT max(rowid) FROM jdsi_simulation);
       INSERT INTO jdsi_simulation (sim_id, times, source_id) SELECT 'zz-swapped', times, source_id FROM jdsi_simulation LIMIT 1;
       ${SAVE}`
    );
    api.open(swapped, true);
    // Its param values are gone: the count differs, and the base table is read again.
    expect(api.table().ids).toContain('zz-swapped');
    expect(api.table().ids).not.toBe(ids);
    // A parameter's levels rewritten in place (ingest widens them): same counts, other rows.
    const api2 = opened();
    api2.open(written(base, `UPDATE jdsi_parameter SET unit = 'm/s' WHERE position = 0; ${SAVE}`), true);
    expect(api2.table().parameters[0].unit).toBe('m/s');
    expect(api2.baseReads).toBe(2);
  });

  it('after a run logged predictions keeps the base table and reads the predictions again', () => {
    const api = opened();
    const ids = api.table().ids;
    api.open(
      written(
        base,
        `INSERT INTO jdsi_prediction (run_id, sim_id, target, value, sigma2)
           SELECT 'r1', sim_id, 'cs', 2.0, NULL FROM jdsi_simulation ORDER BY sim_id LIMIT 3 OFFSET 3;
         INSERT INTO jdsi_event (at, kind, record_id) VALUES ('2026-02-01', 'run.log', 'r1');`
      ),
      true
    );
    expect(api.table().ids).toBe(ids);
    const [set] = api.predictions();
    expect(Array.from(set.values.slice(0, 6))).toEqual([1, 1, 1, 2, 2, 2]);
    expect([api.baseReads, api.predictionReads]).toEqual([1, 2]);
  });

  it('keeps nothing when another file is opened, or the log went backwards', () => {
    const api = opened();
    api.open(written(base, SAVE)); // not a catch-up: Reload, another file
    api.table();
    expect(api.baseReads).toBe(2);
    api.open(SAMPLE, true); // the sample without the run: its log ends before the last one's
    api.table();
    expect(api.baseReads).toBe(3);
    expect(api.predictions()).toEqual([]);
  });
});

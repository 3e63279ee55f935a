/**
 * The replica's reading of recorded proposals (schema 5, and schema 6's links to simulations)
 * and of the parameter ranges the Propose form offers, against real sql.js databases built from
 * jupyterlab_dsi/schema.sql.
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs, { Database, SqlJsStatic } from 'sql.js';

import { listProposals, parameterRanges, proposalPoints, smallestGap } from '../proposals';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

/** Schema 6's link table, as the contract gives it (schema.sql may not have it yet). */
const SIM_PROPOSAL = `CREATE TABLE IF NOT EXISTS jdsi_sim_proposal (
  sim_id      TEXT PRIMARY KEY REFERENCES jdsi_simulation (sim_id),
  proposal_id TEXT NOT NULL REFERENCES jdsi_proposal (id),
  point_id    TEXT NOT NULL
) WITHOUT ROWID`;

let SQL: SqlJsStatic;
let db: Database;
/** The same records in a schema-5 file: no jdsi_sim_proposal. */
let db5: Database;

function fill(target: Database): void {
  const run = (sql: string, rows: unknown[][]) => {
    const stmt = target.prepare(sql);
    rows.forEach(r => stmt.run(r as never));
    stmt.free();
  };
  run('INSERT INTO jdsi_parameter (name, kind, levels, position) VALUES (?, ?, ?, ?)', [
    ['velocity', 'numeric', null, 0],
    ['cs', 'categorical', '[0.1, 0.2, 0.3]', 1],
    ['material', 'categorical', '["Al", "Cu"]', 2],
    ['lonely', 'numeric', null, 3],
    ['never', 'numeric', null, 4]
  ]);
  run("INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES ('src1', 'csv', 'ens.csv', 'x', 1, '2026-01-01')", [[]]);
  run("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, 'src1')", [['s1'], ['s2'], ['s3'], ['s4'], ['s5']]);
  run('INSERT INTO jdsi_param_value (sim_id, name, value) VALUES (?, ?, ?)', [
    ['s1', 'velocity', 1.0],
    ['s2', 'velocity', 1.5],
    ['s3', 'velocity', 4.0],
    ['s4', 'velocity', 1.5], // a repeated value is no gap of 0
    ['s5', 'velocity', 'n/a'], // text in a numeric column is not a number
    ['s1', 'cs', 0.1],
    ['s2', 'cs', 0.3],
    ['s1', 'material', 'Al'],
    ['s1', 'lonely', 7]
  ]);
  run(
    `INSERT INTO jdsi_run (id, name, dataset_id, split_id, status, started_at, author, host, resources)
     VALUES ('r1', 'gp', NULL, NULL, 'finished', '2026-01-01T00:00:00Z', 'me', 'box', '{}')`,
    [[]]
  );
  run(
    `INSERT INTO jdsi_proposal (id, created_at, author, policy, study_digest, run_id, dataset_id, n)
     VALUES (?, ?, 'me', ?, 'sha256:0', ?, ?, ?)`,
    [
      ['pA', '2026-02-01T00:00:00Z', '{"alpha": 1.0, "seed": 3, "tau": {"velocity": 0.5}}', 'r1', null, 3],
      ['pB', '2026-02-02T00:00:00Z', 'not json', null, null, 1],
      ['pGone', '2026-02-03T00:00:00Z', '{}', null, null, 0]
    ]
  );
  run("INSERT INTO jdsi_tombstone (record_id, kind, deleted_at, author) VALUES ('pGone', 'proposal', '2026-02-04', 'me')", [[]]);
  run('INSERT INTO jdsi_proposal_point (proposal_id, point_id, component, "values") VALUES (?, ?, ?, ?)', [
    ['pA', 'pA000000-00001', 2, '{"velocity": 1.25, "cs": 0.2, "material": "Cu"}'],
    ['pA', 'pA000000-00000', 0, '{"velocity": 3.5, "cs": 0.1, "material": "Al", "odd": [1]}'],
    ['pA', 'pA000000-00002', 1, '{"velocity": 2.0, "cs": 0.3, "material": "Al"}'],
    ['pB', 'pB000000-00000', 0, '{"velocity": 9}']
  ]);
}

beforeAll(async () => {
  SQL = await initSqlJs();
  db = new SQL.Database();
  db.exec(SCHEMA_SQL);
  db.exec(SIM_PROPOSAL);
  fill(db);
  db.run("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES ('s9', 'src1')");
  db.run("INSERT INTO jdsi_sim_proposal (sim_id, proposal_id, point_id) VALUES ('s9', 'pA', 'pA000000-00001')");
  db5 = new SQL.Database();
  db5.exec(SCHEMA_SQL);
  db5.exec('DROP TABLE IF EXISTS jdsi_sim_proposal');
  fill(db5);
});

afterAll(() => {
  db.close();
  db5.close();
});

describe('listProposals', () => {
  it('lists live proposals newest first with their run, policy and links', () => {
    const records = listProposals(db);
    expect(records.map(r => r.id)).toEqual(['pB', 'pA']);
    const [b, a] = records;
    expect(a).toEqual({
      id: 'pA',
      createdAt: '2026-02-01T00:00:00Z',
      author: 'me',
      runId: 'r1',
      runName: 'gp',
      datasetId: null,
      n: 3,
      policy: { alpha: 1, seed: 3, tau: { velocity: 0.5 } },
      linked: 1
    });
    // A policy that is not JSON reads as {}, not as an error for the whole list.
    expect(b.policy).toEqual({});
    expect(b.runId).toBeNull();
    expect(b.runName).toBeNull();
    expect(b.linked).toBe(0);
  });

  it('reads a schema-5 file (no jdsi_sim_proposal) with nothing linked', () => {
    expect(listProposals(db5).map(r => [r.id, r.linked])).toEqual([
      ['pB', 0],
      ['pA', 0]
    ]);
  });

  it('reads a file without the proposal tables as no proposals', () => {
    const bare = new SQL.Database();
    try {
      expect(listProposals(bare)).toEqual([]);
      expect(proposalPoints(bare, 'pA')).toEqual([]);
    } finally {
      bare.close();
    }
  });
});

describe('proposalPoints', () => {
  it('gives the points in point-id order with their values and linked simulation', () => {
    const points = proposalPoints(db, 'pA');
    expect(points.map(p => p.pointId)).toEqual(['pA000000-00000', 'pA000000-00001', 'pA000000-00002']);
    // A value that is neither a number nor text is dropped.
    expect(points[0]).toEqual({ pointId: 'pA000000-00000', component: 0, values: { velocity: 3.5, cs: 0.1, material: 'Al' }, simId: null });
    expect(points[1].simId).toBe('s9');
    expect(points[1].values).toEqual({ velocity: 1.25, cs: 0.2, material: 'Cu' });
  });

  it('binds the id (no SQL from user text) and answers [] for an unknown one', () => {
    expect(proposalPoints(db, "pA' OR '1'='1")).toEqual([]);
    expect(proposalPoints(db, 'nope')).toEqual([]);
  });

  it('reads points of a schema-5 file without links', () => {
    expect(proposalPoints(db5, 'pA').map(p => p.simId)).toEqual([null, null, null]);
  });
});

describe('parameterRanges', () => {
  it('gives numeric parameters and numeric levels min, max and the smallest positive gap; text levels nulls', () => {
    expect(parameterRanges(db)).toEqual([
      { name: 'velocity', kind: 'numeric', min: 1, max: 4, spacing: 0.5 },
      // Levels that are all numbers can be spread between (propose's continuous).
      { name: 'cs', kind: 'categorical', min: 0.1, max: 0.3, spacing: expect.closeTo(0.2, 12) },
      { name: 'material', kind: 'categorical', min: null, max: null, spacing: null },
      // One distinct value: a range of one point, no spacing.
      { name: 'lonely', kind: 'numeric', min: 7, max: 7, spacing: null },
      { name: 'never', kind: 'numeric', min: null, max: null, spacing: null }
    ]);
  });

  it('finds the smallest positive gap between sorted distinct values', () => {
    expect(smallestGap([0, 0.25, 1, 1.1, 3])).toBeCloseTo(0.1);
    expect(smallestGap([2])).toBeNull();
    expect(smallestGap([])).toBeNull();
  });
});

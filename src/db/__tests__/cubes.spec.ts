/**
 * Distance cubes (issue 18 §3): the worker answers slices from per-method typed arrays, whether
 * the distances came as a frame of GET distances (the server's replica leaves the rows out), as a
 * scratch, or from a full file's own rows; and the replica answers what the full file answers.
 *
 * The sample database (1,000 runs × 40 steps × 3 methods) is the "full file"; its replica is
 * built here as the server builds it (every table, jdsi_distance emptied, jdsi_replica_method
 * filled), and each method's frame as GET distances writes it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import initSqlJs, { Database, SqlJsStatic } from 'sql.js';

import { DatabaseApi, errorKind, ISummary } from '../api';
import { decodeFrame } from '../frameCodec';
import { IDistancesHeader, scratchFromFrame } from '../scratch';
import { encodeFrame, sampleBytes } from './frames';

let SQL: SqlJsStatic;
/** The sample with d_edge NULL for one method (an ensemble without edge coefficients). */
let FULL: Uint8Array;
let REPLICA: Uint8Array;
let METHODS: string[];
/** The method without d_edge. */
let NO_EDGE: string;

/** Rows of `sql` as arrays. */
function rows(db: Database, sql: string, params: (string | number)[] = []): unknown[][] {
  const result = db.exec(sql, params);
  return result.length === 0 ? [] : result[0].values;
}

/** The replica of `bytes` as the server builds it: no distance rows, jdsi_replica_method filled. */
function replicaOf(bytes: Uint8Array, edit = ''): Uint8Array {
  const db = new SQL.Database(bytes);
  try {
    db.exec(`
      CREATE TABLE jdsi_replica_method (method_id TEXT PRIMARY KEY, steps TEXT NOT NULL, columns TEXT NOT NULL);
      INSERT INTO jdsi_replica_method
        SELECT m.id,
               (SELECT json_group_array(t) FROM (SELECT DISTINCT t FROM jdsi_distance WHERE method_id = m.id ORDER BY t)),
               (SELECT json_group_array(c) FROM (
                  SELECT 'd_shock' AS c, 1 AS k WHERE EXISTS (SELECT 1 FROM jdsi_distance WHERE method_id = m.id AND d_shock IS NOT NULL)
                  UNION ALL SELECT 'd_edge', 2 WHERE EXISTS (SELECT 1 FROM jdsi_distance WHERE method_id = m.id AND d_edge IS NOT NULL)
                  UNION ALL SELECT 'd_density', 3 WHERE EXISTS (SELECT 1 FROM jdsi_distance WHERE method_id = m.id AND d_density IS NOT NULL)
                  ORDER BY k))
          FROM jdsi_method m;
      DELETE FROM jdsi_distance;
      ${edit}`);
    return db.export();
  } finally {
    db.close();
  }
}

/**
 * A method's frame as GET distances writes it: sim_ids with a row sorted as text, distinct steps
 * ascending, (S, T, 3) float32 NaN where a row is missing or a value NULL.
 */
function frameOf(bytes: Uint8Array, methodId: string, except: string[] = []): ArrayBuffer {
  const db = new SQL.Database(bytes);
  try {
    const data = rows(db, 'SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?', [methodId]).filter(
      r => !except.includes(String(r[0]))
    );
    const simIds = [...new Set(data.map(r => String(r[0])))].sort();
    const steps = [...new Set(data.map(r => Number(r[1])))].sort((a, b) => a - b);
    const S = simIds.length;
    const T = steps.length;
    const values = new Float32Array(S * T * 3).fill(NaN);
    const simAt = new Map(simIds.map((id, i) => [id, i]));
    const stepAt = new Map(steps.map((t, j) => [t, j]));
    for (const [sim, t, ...d] of data) {
      const at = (simAt.get(String(sim))! * T + stepAt.get(Number(t))!) * 3;
      d.forEach((v, k) => (values[at + k] = v === null ? NaN : Number(v)));
    }
    const header = { method: methodId, sim_ids: simIds, steps, columns: ['d_shock', 'd_edge', 'd_density'], rows: data.length };
    return encodeFrame(header, [S, T, 3], values);
  } finally {
    db.close();
  }
}

/** Every value the slices of a method show, by `sim@t`, as the views read them. */
function shown(api: DatabaseApi, methodId: string, steps: number): Map<string, number[]> {
  const ids = api.table().ids;
  const out = new Map<string, number[]>();
  for (let t = 0; t < steps; t++) {
    const s = api.slice(methodId, t);
    ids.forEach((id, i) => out.set(`${id}@${t}`, [s.dShock[i], s.dEdge[i], s.dDensity[i]]));
  }
  return out;
}

/**
 * The first cells where two `shown` maps differ (NaN equals NaN), `sim@t: got vs expected`: a
 * failure says where, without printing 40,000 cells.
 */
function differences(got: Map<string, number[]>, expected: Map<string, number[]>): string[] {
  const out: string[] = [];
  const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));
  for (const key of new Set([...got.keys(), ...expected.keys()])) {
    const [a, b] = [got.get(key), expected.get(key)];
    if (!a || !b || a.some((v, k) => !same(v, b[k]))) {
      out.push(`${key}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      if (out.length === 5) {
        break;
      }
    }
  }
  return out;
}

function opened(bytes: Uint8Array): DatabaseApi {
  const api = new DatabaseApi(SQL);
  api.open(new Uint8Array(bytes));
  return api;
}

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('nothing was thrown');
}

beforeAll(async () => {
  SQL = await initSqlJs();
  const db = new SQL.Database(sampleBytes());
  METHODS = rows(db, 'SELECT id FROM jdsi_method ORDER BY id').map(r => String(r[0]));
  NO_EDGE = METHODS[1];
  db.run('UPDATE jdsi_distance SET d_edge = NULL WHERE method_id = ?', [NO_EDGE]);
  FULL = db.export();
  db.close();
  REPLICA = replicaOf(FULL);
});

describe('the replica answers what the full file answers', () => {
  it('has the same summary, method info and steps, before any distances are loaded', () => {
    const full = opened(FULL);
    const replica = opened(REPLICA);
    const summary: ISummary = replica.summary();
    expect(summary).toEqual(full.summary());
    expect(summary.timeSteps).toBe(40);
    expect(summary.methods).toHaveLength(3);
    for (const id of METHODS) {
      expect([id, replica.methodInfo(id)]).toEqual([id, full.methodInfo(id)]);
      expect(replica.methodSteps(id)).toBe(40);
    }
    expect(replica.methodInfo(NO_EDGE).distances).toEqual(['d_shock', 'd_density']);
  });

  it('says a stored method is not loaded, until its frame is put; then its slices equal the file rows', () => {
    const full = opened(FULL);
    const replica = opened(REPLICA);
    const [id] = METHODS;
    expect(replica.hasDistances(id)).toBe(false);
    const error = thrown(() => replica.slice(id, 3));
    expect(errorKind(error)).toBe('not-loaded');
    expect(error.message).toBe(`The distances of method ${id.slice(0, 8)} are not loaded yet.`);
    // As the panel sees it after comlink: a plain Error whose name carries the kind.
    expect(errorKind({ name: error.name, message: error.message })).toBe('not-loaded');
    // The full file holds the rows itself: nothing to fetch.
    expect(full.hasDistances(id)).toBe(true);

    replica.putDistances(id, frameOf(FULL, id));
    expect(replica.hasDistances(id)).toBe(true);
    expect(replica.distanceBytes()).toBe(1000 * 40 * 3 * 4);
    expect(differences(shown(replica, id, 40), shown(full, id, 40))).toEqual([]);
    // A step the method lacks: every distance missing, never 0.
    expect(Array.from(replica.slice(id, 40).dShock).every(Number.isNaN)).toBe(true);
  });

  it('answers every method from frames as from rows, NULL columns as NaN', () => {
    const full = opened(FULL);
    const replica = opened(REPLICA);
    for (const id of METHODS) {
      replica.putDistances(id, frameOf(FULL, id));
      expect(differences(shown(replica, id, 40), shown(full, id, 40))).toEqual([]);
    }
    expect(Array.from(replica.slice(NO_EDGE, 7).dEdge).every(Number.isNaN)).toBe(true);
    expect(replica.distanceBytes()).toBe(3 * 1000 * 40 * 3 * 4);
    // Forgetting all but one: the others need their frames again, the kept one answers.
    replica.dropDistances([METHODS[2]]);
    expect(METHODS.map(id => replica.hasDistances(id))).toEqual([false, false, true]);
    expect(replica.distanceBytes()).toBe(1000 * 40 * 3 * 4);
    expect(errorKind(thrown(() => replica.slice(METHODS[0], 0)))).toBe('not-loaded');
  });

  it('refuses a frame that is not the method distances, keeping what it held', () => {
    const replica = opened(REPLICA);
    const [a, b] = METHODS;
    expect(() => replica.putDistances(a, frameOf(FULL, b))).toThrow(
      `the distances frame is of method ${b.slice(0, 8)}, not ${a.slice(0, 8)}`
    );
    const wrongShape = encodeFrame({ sim_ids: ['sim00000'], steps: [0, 1], columns: ['d_shock', 'd_edge', 'd_density'] }, [1, 3, 3], new Float32Array(9));
    expect(() => replica.putDistances(a, wrongShape)).toThrow(/^not a distances frame: shape \[1,3,3\] for 1 simulations, 2 steps/);
    expect(() => replica.putDistances(a, new ArrayBuffer(2))).toThrow(/^not a frame/);
    expect(replica.hasDistances(a)).toBe(false);
  });

  it('a method without any distances needs no frame: its slices are NaN', () => {
    const replica = opened(
      replicaOf(FULL, `INSERT INTO jdsi_method (id, ground_truth_id, norm, code_version, created_at)
                         SELECT 'empty-method', ground_truth_id, 'L1', 'v', '2000-01-01' FROM jdsi_method LIMIT 1;
                       INSERT INTO jdsi_replica_method VALUES ('empty-method', '[]', '[]');`)
    );
    expect(replica.hasDistances('empty-method')).toBe(true);
    expect(replica.methodInfo('empty-method')).toEqual({ steps: 0, distances: [] });
    expect(Array.from(replica.slice('empty-method', 0).dDensity).every(Number.isNaN)).toBe(true);
  });
});

describe('per-step metrics in a slice', () => {
  it('come with each step, read once per step, each slice its own arrays (the worker transfers them)', () => {
    const api = opened(
      replicaOf(FULL, `INSERT INTO jdsi_metric VALUES ('energy', 'number', 1, 'J', 0);
                       INSERT INTO jdsi_metric_value SELECT 'energy', t.value, s.sim_id, t.value * 10 + 0.5
                         FROM jdsi_simulation s, json_each('[0, 1, 2]') t WHERE s.sim_id != 'sim00001';`)
    );
    const [id] = METHODS;
    api.putDistances(id, frameOf(FULL, id));
    const first = api.slice(id, 2);
    expect(first.metrics.map(m => m.name)).toEqual(['energy']);
    expect(first.metrics[0].values[0]).toBe(20.5);
    expect(Number.isNaN(first.metrics[0].values[1])).toBe(true); // sim00001 has none
    first.metrics[0].values.fill(0); // as if transferred away
    const again = api.slice(id, 2);
    expect(again.metrics[0].values[0]).toBe(20.5);
    expect(api.slice(null, 1).metrics[0].values[0]).toBe(10.5);
    expect(Array.from(api.slice(id, 3).metrics[0].values).every(Number.isNaN)).toBe(true);
  });
});

describe('cubes across a catch-up', () => {
  // A run ingested after the first replica: it sorts in the middle, so every later row moves.
  const LATE = 'sim00500';
  const withoutLate = `DELETE FROM jdsi_param_value WHERE sim_id = '${LATE}'; DELETE FROM jdsi_simulation WHERE sim_id = '${LATE}';`;

  it('survive open(keepScratch) with new ids, realigned to the new rows; another file drops them', () => {
    const full = opened(FULL);
    const api = opened(replicaOf(FULL, withoutLate));
    const [id] = METHODS;
    api.putDistances(id, frameOf(FULL, id, [LATE]));
    expect(api.table().ids).not.toContain(LATE);

    api.open(new Uint8Array(REPLICA), true); // the catch-up: LATE is there now
    expect(api.table().ids).toEqual(full.table().ids);
    expect(api.hasDistances(id)).toBe(true);
    const expected = shown(full, id, 40);
    for (let t = 0; t < 40; t++) {
      expected.set(`${LATE}@${t}`, [NaN, NaN, NaN]); // it had no distances when the frame came
    }
    expect(differences(shown(api, id, 40), expected)).toEqual([]);

    api.open(new Uint8Array(REPLICA)); // another file, or a Reload
    expect(api.hasDistances(id)).toBe(false);
    expect(api.distanceBytes()).toBe(0);
  });

  it('are built from a full file own rows on first use, and kept by its catch-up', () => {
    const full = opened(FULL);
    const [id] = METHODS;
    expect(full.distanceBytes()).toBe(0);
    full.slice(id, 0);
    expect(full.distanceBytes()).toBe(1000 * 40 * 3 * 4);
    full.open(new Uint8Array(FULL), true);
    expect(full.distanceBytes()).toBe(1000 * 40 * 3 * 4);
  });
});

describe('a scratch in the replica', () => {
  function scratchFrom(methodId: string): ReturnType<typeof scratchFromFrame> {
    const buffer = frameOf(FULL, methodId);
    const frame = decodeFrame<IDistancesHeader>(buffer);
    const header = { ...frame.header, ground_truth: 'sim00042', norm: 'L2', gt_time: null, match_time: 'index', field: 'density', seconds: 0.1 };
    return scratchFromFrame(decodeFrame<IDistancesHeader>(encodeFrame(header, frame.header.shape, frame.data)), new Date('2030-01-01T00:00:00Z'));
  }

  it('is a method with its steps and columns, slices equal to its values, kept by catch-ups and drops', () => {
    const full = opened(FULL);
    const api = opened(REPLICA);
    const scratch = scratchFrom(NO_EDGE);
    const summary = api.injectScratch(scratch);
    expect(summary.methods[0].id).toBe(scratch.id);
    expect(summary.timeSteps).toBe(40);
    expect(api.methodInfo(scratch.id)).toEqual({ steps: 40, distances: ['d_shock', 'd_density'] });
    expect(api.hasDistances(scratch.id)).toBe(true);
    expect(differences(shown(api, scratch.id, 40), shown(full, NO_EDGE, 40))).toEqual([]);

    api.dropDistances([]); // the scratch is not in the file: nothing could fetch it again
    api.open(new Uint8Array(REPLICA), true);
    expect(api.methods()[0].id).toBe(scratch.id);
    expect(differences(shown(api, scratch.id, 40), shown(full, NO_EDGE, 40))).toEqual([]);

    expect(api.injectScratch(null).methods.map(m => m.id)).toEqual(full.methods().map(m => m.id));
    expect(api.distanceBytes()).toBe(0);
  });

  it('joins a full file, whose stored methods still read their own rows, and leaves it as it was', () => {
    const api = opened(FULL);
    const reference = opened(FULL);
    const before = api.summary();
    const scratch = scratchFrom(METHODS[0]);
    api.injectScratch(scratch);
    expect(differences(shown(api, scratch.id, 40), shown(reference, METHODS[0], 40))).toEqual([]);
    for (const id of METHODS) {
      expect(api.methodInfo(id)).toEqual(reference.methodInfo(id));
      expect(api.hasDistances(id)).toBe(true);
    }
    expect(differences(shown(api, NO_EDGE, 40), shown(reference, NO_EDGE, 40))).toEqual([]);
    expect(api.injectScratch(null)).toEqual(before);
  });
});

describe('new matches of a dataset', () => {
  // Saved before the sample's only source was ingested: every run is new to it.
  const dataset = (methodId: string) => `
    INSERT INTO jdsi_dataset (id, name, description, created_at, author, method_id, t, filter, size, digest)
    VALUES ('d1', 'early', 'saved before the runs', '2000-01-01T00:00:00Z', 'me', '${methodId}', 5, 'd_density < 0.5', 0, 'sha256:0');
    INSERT INTO jdsi_dataset (id, name, description, created_at, author, method_id, t, filter, size, digest)
    VALUES ('d2', 'by hand', 'chosen by hand', '2000-01-01T00:00:00Z', 'me', NULL, NULL, '', 0, 'sha256:1');`;

  it('names the methods to load, then counts as the full file does', () => {
    const [id] = METHODS;
    const fullDb = new SQL.Database(FULL);
    fullDb.exec(dataset(id));
    const fullBytes = fullDb.export();
    fullDb.close();
    const full = opened(fullBytes);
    const density = full.slice(id, 5).dDensity;
    const expected = Array.from(density).filter(v => v < 0.5).length;
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(1000);
    expect(full.newMatches(['d1', 'd2', 'gone'])).toEqual({ counts: { d1: expected, d2: 0, gone: null }, missing: [] });

    const replica = opened(replicaOf(fullBytes));
    expect(replica.newMatches(['d1', 'd2', 'gone'])).toEqual({ counts: { d2: 0, gone: null }, missing: [id] });
    replica.putDistances(id, frameOf(fullBytes, id));
    expect(replica.newMatches(['d1', 'd2', 'gone'])).toEqual({ counts: { d1: expected, d2: 0, gone: null }, missing: [] });
  });
});

describe("the server's replica (jupyterlab_dsi.replica)", () => {
  const PYTHON = path.resolve(__dirname, '..', '..', '..', '.venv', 'bin', 'python');
  /** Builds the replica and every method's frame with the server's own code. */
  const BUILD = `
import pathlib, sys
from jupyterlab_dsi.replica import build_replica, method_frame
from jupyterlab_dsi.store import Store
db, out = sys.argv[1], pathlib.Path(sys.argv[2])
with Store(db) as store:
    data, seq = build_replica(store)
    (out / "replica.sqlite").write_bytes(data)
    for (method_id,) in store.conn.execute("SELECT id FROM jdsi_method").fetchall():
        (out / f"{method_id}.frame").write_bytes(method_frame(store, method_id))
`;

  it('opens like the full file and, given the method frames, shows the same slices', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-replica-'));
    try {
      fs.writeFileSync(path.join(dir, 'full.sqlite'), FULL);
      execFileSync(PYTHON, ['-c', BUILD, path.join(dir, 'full.sqlite'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const full = opened(FULL);
      const replica = opened(fs.readFileSync(path.join(dir, 'replica.sqlite')));
      expect(replica.summary()).toEqual(full.summary());
      for (const id of METHODS) {
        expect([id, replica.methodInfo(id)]).toEqual([id, full.methodInfo(id)]);
        expect(replica.hasDistances(id)).toBe(false);
        const bytes = fs.readFileSync(path.join(dir, `${id}.frame`));
        replica.putDistances(id, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        expect(differences(shown(replica, id, 40), shown(full, id, 40))).toEqual([]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Tests of the worker's API, driven directly with the Node build of sql.js (jsdom runs no real
 * Worker), on databases built here from the real jupyterlab_dsi/schema.sql.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MessageChannel, MessagePort } from 'worker_threads';

import * as Comlink from 'comlink';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic } from 'sql.js';

import {
  DatabaseApi,
  DatabaseError,
  IDatabaseWorkerApi,
  createWorkerApi,
  errorKind,
  isDatabaseError
} from '../db/api';
import { APPLICATION_ID, ALL_TABLES, SCHEMA_VERSION, formatApplicationId } from '../db/schema';
import { datasetTerms } from '../db/slices';

const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');
const STORE_PY = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'store.py'), 'utf8');

let SQL: SqlJsStatic;

beforeAll(async () => {
  // jest.config.js maps 'sql.js' to its Node build, which reads dist/sql-wasm.wasm from disk.
  SQL = await initSqlJs();
});

interface IBuildOptions {
  applicationId?: number;
  userVersion?: number;
  /** Insert the fixture rows (simulations, parameters, methods, ...). */
  fixture?: boolean;
  /** Insert distances (fixture only). */
  distances?: boolean;
  /** More SQL to run before exporting. */
  extra?: string;
}

/**
 * A database as the Python Store writes it: the schema, then the pragmas.
 *
 * Fixture: simulations s1, s2, s3 (times of 5, 5 and 4 steps); parameters velocity (numeric,
 * position 0), material (categorical, position 1), angle (categorical numbers, position 2);
 * methods m-old (2024-01) and m-new (2024-02) and the deleted m-gone (2024-03); distances for
 * t 0..3 (m-old), 0..4 (m-new), 0..9 (m-gone); datasets d1 and the deleted d2; 3 events.
 */
function build(options: IBuildOptions = {}): Uint8Array {
  const {
    applicationId = APPLICATION_ID,
    userVersion = SCHEMA_VERSION,
    fixture = true,
    distances = true,
    extra = ''
  } = options;
  const db = new SQL.Database();
  try {
    db.exec(SCHEMA_SQL);
    db.exec(`PRAGMA application_id = ${applicationId}; PRAGMA user_version = ${userVersion};`);
    if (fixture) {
      insertFixture(db, distances);
    }
    if (extra) {
      db.exec(extra);
    }
    return db.export();
  } finally {
    db.close();
  }
}

function insertFixture(db: Database, distances: boolean): void {
  db.exec(`
    INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at)
      VALUES ('src-1', 'ensemble', '/data/ens', 'abc', 10, '2024-01-01T00:00:00Z');
    INSERT INTO jdsi_parameter (name, kind, levels, unit, position) VALUES
      ('material', 'categorical', '["Al","Cu"]', NULL, 1),
      ('velocity', 'numeric', NULL, 'km/s', 0),
      ('angle', 'categorical', '[0,15,30]', 'deg', 2);
    INSERT INTO jdsi_simulation (sim_id, path, times, source_id) VALUES
      ('s1', 's1.npz', '[0,1,2,3,4]', 'src-1'),
      ('s2', 's2.npz', '[0,1,2,3,4]', 'src-1'),
      ('s3', 's3.npz', '[0,1,2,3]', 'src-1');
    INSERT INTO jdsi_param_value (sim_id, name, value) VALUES
      ('s1', 'material', 'Al'), ('s1', 'velocity', 1.5), ('s1', 'angle', 0),
      ('s2', 'material', 'Cu'), ('s2', 'velocity', 2.5), ('s2', 'angle', 15),
      ('s3', 'material', 'Al'), ('s3', 'velocity', 3.5), ('s3', 'angle', 30);
    INSERT INTO jdsi_ground_truth (id, sim_id, description, created_at) VALUES
      ('gt-1', 's1', 'baseline', '2024-01-01T00:00:00Z'),
      ('gt-2', 's2', '', '2024-01-15T00:00:00Z');
    INSERT INTO jdsi_method
      (id, ground_truth_id, norm, gt_time, description, code_version, created_at, parent_id, match_time, geometry) VALUES
      ('m-old', 'gt-1', 'L2', NULL, 'matched steps', 'v0.1', '2024-01-02T00:00:00Z', NULL, 'nearest', 'cartesian'),
      ('m-new', 'gt-2', 'Linf', 3, 'against step 3', 'v0.1', '2024-02-01T00:00:00Z', 'm-old', 'index', NULL),
      ('m-gone', 'gt-1', 'L1', NULL, 'deleted', 'v0.1', '2024-03-01T00:00:00Z', NULL, 'index', NULL);
    INSERT INTO jdsi_dataset
      (id, name, description, created_at, author, method_id, t, size, digest) VALUES
      ('d1', 'first', 'the first', '2024-02-02T00:00:00Z', 'ada', 'm-new', 2, 2, 'sha256:1'),
      ('d2', 'second', 'deleted', '2024-02-03T00:00:00Z', 'ada', 'm-new', 2, 1, 'sha256:2');
    INSERT INTO jdsi_dataset_member (dataset_id, sim_id) VALUES ('d1', 's1'), ('d1', 's2'), ('d2', 's3');
    INSERT INTO jdsi_tombstone (record_id, kind, deleted_at, author) VALUES
      ('m-gone', 'method', '2024-03-02T00:00:00Z', 'ada'),
      ('d2', 'dataset', '2024-03-02T00:00:00Z', 'ada');
    INSERT INTO jdsi_event (at, kind, record_id) VALUES
      ('2024-01-01T00:00:00Z', 'ingest', 'src-1'),
      ('2024-02-02T00:00:00Z', 'dataset', 'd1'),
      ('2024-03-02T00:00:00Z', 'tombstone', 'd2');
  `);
  if (distances) {
    const insert = db.prepare(
      'INSERT INTO jdsi_distance (method_id, t, sim_id, d_shock, d_edge, d_density) VALUES (?, ?, ?, ?, ?, ?)'
    );
    const steps: [string, number][] = [
      ['m-old', 4],
      ['m-new', 5],
      ['m-gone', 10]
    ];
    for (const [method, count] of steps) {
      for (let t = 0; t < count; t++) {
        for (const sim of ['s1', 's2', 's3']) {
          insert.run([method, t, sim, t * 0.1, t * 0.2, null]);
        }
      }
    }
    insert.free();
  }
}

/** The DatabaseError `fn` throws. */
function thrown(fn: () => unknown): DatabaseError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DatabaseError);
    return e as DatabaseError;
  }
  throw new Error('expected a DatabaseError, nothing was thrown');
}

describe('schema constants', () => {
  it('SCHEMA_VERSION is the schema_version of schema.sql', () => {
    const match = /^--\s*schema_version:\s*(\d+)\s*$/m.exec(SCHEMA_SQL);
    expect(match).not.toBeNull();
    expect(SCHEMA_VERSION).toBe(Number(match![1]));
  });

  it("APPLICATION_ID is 'JDSI', the id the Python Store writes and schema.sql says", () => {
    // The writer's constant (jupyterlab_dsi/store.py) is the reader's.
    const written = /^APPLICATION_ID\s*=\s*(0x[0-9A-Fa-f]+)\b/m.exec(STORE_PY);
    expect(written).not.toBeNull();
    expect(APPLICATION_ID).toBe(Number(written![1]));
    expect(SCHEMA_SQL).toContain(`application_id = ${formatApplicationId(APPLICATION_ID)}`);
    // A file marked with it says 'JDSI' at bytes 68-71 of its header and opens; one marked
    // with any other id is refused as another application's.
    const bytes = build({ fixture: false });
    expect(new TextDecoder().decode(bytes.slice(68, 72))).toBe('JDSI');
    const api = new DatabaseApi(SQL);
    try {
      expect(api.open(bytes).schemaVersion).toBe(SCHEMA_VERSION);
      expect(thrown(() => api.open(build({ fixture: false, applicationId: APPLICATION_ID + 1 }))).kind).toBe('not-ours');
    } finally {
      api.close();
    }
  });

  it('ALL_TABLES are the tables schema.sql creates', () => {
    const created = [...SCHEMA_SQL.matchAll(/CREATE TABLE (\w+)/g)].map(m => m[1]);
    expect([...ALL_TABLES].sort()).toEqual(created.sort());
  });
});

describe('DatabaseApi', () => {
  let api: DatabaseApi;

  beforeEach(() => {
    api = new DatabaseApi(SQL);
  });

  afterEach(() => {
    api.close();
  });

  describe('summary', () => {
    it('counts simulations, live datasets and the last event', () => {
      const summary = api.open(build());
      expect(summary.simulations).toBe(3);
      expect(summary.datasets).toBe(1);
      expect(summary.lastEventSeq).toBe(3);
      expect(summary.schemaVersion).toBe(SCHEMA_VERSION);
      expect(api.summary()).toEqual(summary);
    });

    it('orders parameters by position and parses their levels', () => {
      const { parameters } = api.open(build());
      expect(parameters).toEqual([
        { name: 'velocity', kind: 'numeric', levels: null, unit: 'km/s' },
        { name: 'material', kind: 'categorical', levels: ['Al', 'Cu'], unit: null },
        { name: 'angle', kind: 'categorical', levels: [0, 15, 30], unit: 'deg' }
      ]);
    });

    it('counts the distinct time steps with distances of live methods', () => {
      // m-old has t 0..3, m-new 0..4; the deleted m-gone (0..9) does not count.
      expect(api.open(build()).timeSteps).toBe(5);
    });

    it('falls back on the longest times array without distances', () => {
      expect(api.open(build({ distances: false })).timeSteps).toBe(5);
      const summary = api.open(
        build({ distances: false, extra: "UPDATE jdsi_simulation SET times = '[0,1,2,3,4,5,6]' WHERE sim_id = 's3'" })
      );
      expect(summary.timeSteps).toBe(7);
    });

    it('summarises an empty database', () => {
      const summary = api.open(build({ fixture: false }));
      expect(summary).toEqual({
        simulations: 0,
        timeSteps: 0,
        parameters: [],
        methods: [],
        datasets: 0,
        runs: 0,
        lastEventSeq: 0,
        schemaVersion: SCHEMA_VERSION
      });
    });

    it('reports malformed levels as a damaged database', () => {
      const error = thrown(() =>
        api.open(build({ extra: "UPDATE jdsi_parameter SET levels = '{oops' WHERE name = 'material'" }))
      );
      expect(error.kind).toBe('corrupt');
      expect(error.message).toContain('material');
    });
  });

  describe('methods', () => {
    it('lists live methods newest first', () => {
      const summary = api.open(build());
      const methods = api.methods();
      expect(methods).toEqual([
        {
          id: 'm-new',
          groundTruth: 's2',
          norm: 'Linf',
          gtTime: 3,
          matchTime: 'index',
          geometry: null,
          field: 'density',
          description: 'against step 3',
          createdAt: '2024-02-01T00:00:00Z'
        },
        {
          id: 'm-old',
          groundTruth: 's1',
          norm: 'L2',
          gtTime: null,
          matchTime: 'nearest',
          geometry: 'cartesian',
          field: 'density',
          description: 'matched steps',
          createdAt: '2024-01-02T00:00:00Z'
        }
      ]);
      expect(summary.methods).toEqual(methods);
    });

    it('shows a method again when its tombstone is removed (undo)', () => {
      api.open(build({ extra: "DELETE FROM jdsi_tombstone WHERE record_id = 'm-gone'" }));
      expect(api.methods().map(m => m.id)).toEqual(['m-gone', 'm-new', 'm-old']);
      expect(api.summary().timeSteps).toBe(10);
    });
  });

  describe('open rejects', () => {
    it('an empty file', () => {
      const error = thrown(() => api.open(new Uint8Array(0)));
      expect(error.kind).toBe('empty');
      expect(error.name).toBe('DatabaseError [empty]');
      expect(error.message).toMatch(/empty/);
      expect(error.message).toContain('jupyter dsi ingest');
    });

    it('random bytes', () => {
      const bytes = new Uint8Array(4096);
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = (i * 7919 + 13) % 251;
      }
      const error = thrown(() => api.open(bytes));
      expect(error.kind).toBe('not-sqlite');
      expect(error.message).toMatch(/not an SQLite database/);
    });

    it('an SQLite header followed by garbage', () => {
      const bytes = new Uint8Array(4096).fill(0xff);
      bytes.set(Array.from('SQLite format 3\u0000', c => c.charCodeAt(0)));
      const error = thrown(() => api.open(bytes));
      expect(['not-sqlite', 'corrupt']).toContain(error.kind);
      expect(error.message).toContain('SQLite');
    });

    it('a truncated database', () => {
      const bytes = build();
      const error = thrown(() => api.open(bytes.slice(0, Math.floor(bytes.length / 2))));
      expect(['not-sqlite', 'corrupt']).toContain(error.kind);
    });

    it("another application's SQLite database", () => {
      const other = new SQL.Database();
      other.exec('CREATE TABLE simulation (id TEXT); INSERT INTO simulation VALUES (1);');
      const bytes = other.export();
      other.close();
      const error = thrown(() => api.open(bytes));
      expect(error.kind).toBe('not-ours');
      expect(error.message).toContain('not a jupyterlab-dsi database');
      expect(error.message).toContain('application_id 0x00000000');
      expect(error.message).toContain('jupyter dsi ingest ENSEMBLE_DIR --db FILE');
    });

    it('a database written by a newer schema', () => {
      const error = thrown(() => api.open(build({ userVersion: SCHEMA_VERSION + 1 })));
      expect(error.kind).toBe('newer-version');
      expect(error.message).toContain(`newer jupyterlab-dsi (schema ${SCHEMA_VERSION + 1}, this one reads ${SCHEMA_VERSION})`);
      expect(error.message).toContain('upgrade the extension');
    });

    it('a database of an older schema', () => {
      const error = thrown(() => api.open(build({ userVersion: 0 })));
      expect(error.kind).toBe('older-version');
      expect(error.message).toContain(`schema 0, this one reads ${SCHEMA_VERSION}`);
    });

    it('a database lacking tables', () => {
      const error = thrown(() =>
        api.open(build({ fixture: false, extra: 'DROP TABLE jdsi_event; DROP TABLE jdsi_tombstone;' }))
      );
      expect(error.kind).toBe('corrupt');
      expect(error.message).toContain('jdsi_tombstone, jdsi_event');
    });
  });

  describe('reopen', () => {
    it('replaces the open database', () => {
      expect(api.open(build()).simulations).toBe(3);
      const summary = api.open(
        build({ fixture: false, extra: "INSERT INTO jdsi_simulation (sim_id, path, times, source_id) VALUES ('x', NULL, '[0]', 'src');" })
      );
      expect(summary.simulations).toBe(1);
      expect(api.summary().simulations).toBe(1);
      expect(api.methods()).toEqual([]);
    });

    it('keeps the open database when the new file is rejected', () => {
      api.open(build());
      expect(thrown(() => api.open(build({ userVersion: 9 }))).kind).toBe('newer-version');
      expect(api.isOpen).toBe(true);
      expect(api.summary().simulations).toBe(3);
    });

    it('does not keep the bytes it was given', () => {
      const bytes = build();
      api.open(bytes);
      bytes.fill(0);
      expect(api.summary().simulations).toBe(3);
    });

    it('accepts an ArrayBuffer and a view into a larger buffer', () => {
      const bytes = build();
      expect(api.open(bytes.slice().buffer).simulations).toBe(3);
      const padded = new Uint8Array(bytes.length + 32);
      padded.set(bytes, 16);
      expect(api.open(padded.subarray(16, 16 + bytes.length)).simulations).toBe(3);
    });
  });

  describe('before open and after close', () => {
    it('says no database is open', () => {
      expect(api.isOpen).toBe(false);
      expect(thrown(() => api.summary()).kind).toBe('not-open');
      api.open(build());
      api.close();
      expect(api.isOpen).toBe(false);
      expect(thrown(() => api.methods()).kind).toBe('not-open');
      api.close();
    });
  });
});

describe('errorKind', () => {
  it('reads the kind of a DatabaseError and of the plain Error comlink rebuilds', () => {
    const error = new DatabaseError('not-ours', 'nope');
    expect(errorKind(error)).toBe('not-ours');
    // What comlink's throw handler does on the receiving side.
    const crossed = Object.assign(new Error(error.message), {
      message: error.message,
      name: error.name,
      stack: error.stack
    });
    expect(crossed).not.toBeInstanceOf(DatabaseError);
    expect(errorKind(crossed)).toBe('not-ours');
    expect(isDatabaseError(crossed)).toBe(true);
  });

  it('is null for other values', () => {
    expect(errorKind(new Error('x'))).toBeNull();
    expect(errorKind({ name: 'DatabaseError [no-such-kind]' })).toBeNull();
    expect(errorKind('DatabaseError [empty]')).toBeNull();
    expect(errorKind(null)).toBeNull();
    expect(isDatabaseError(undefined)).toBe(false);
  });
});

describe('createWorkerApi', () => {
  it('initialises sql.js once, on first use', async () => {
    const load = jest.fn(async () => SQL);
    const worker = createWorkerApi(load);
    expect(load).not.toHaveBeenCalled();
    await worker.close();
    expect(load).not.toHaveBeenCalled();
    const [summary, again] = await Promise.all([worker.open(build()), worker.summary()]);
    expect(summary.simulations).toBe(3);
    expect(again).toEqual(summary);
    expect((await worker.methods()).map(m => m.id)).toEqual(['m-new', 'm-old']);
    await worker.close();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('reports an engine that fails to load, and retries', async () => {
    const load = jest
      .fn<Promise<SqlJsStatic>, []>()
      .mockRejectedValueOnce(new Error('wasm 404'))
      .mockResolvedValue(SQL);
    const worker = createWorkerApi(load);
    const error = await worker.summary().catch((e: unknown) => e);
    expect(errorKind(error)).toBe('engine');
    expect((error as Error).message).toContain('wasm 404');
    expect((await worker.open(build())).simulations).toBe(3);
    await worker.close();
  });
});

describe('over comlink', () => {
  let ports: MessagePort[] = [];

  afterEach(() => {
    ports.forEach(port => port.close());
    ports = [];
  });

  function connect(): Comlink.Remote<IDatabaseWorkerApi> {
    const { port1, port2 } = new MessageChannel();
    ports = [port1, port2];
    Comlink.expose(createWorkerApi(async () => SQL), port1 as unknown as Comlink.Endpoint);
    return Comlink.wrap<IDatabaseWorkerApi>(port2 as unknown as Comlink.Endpoint);
  }

  it('opens transferred bytes and carries the kind of errors across', async () => {
    const remote = connect();
    const buffer = build().buffer as ArrayBuffer;
    const summary = await remote.open(Comlink.transfer(buffer, [buffer]));
    expect(summary.simulations).toBe(3);
    expect(summary.parameters.map(p => p.name)).toEqual(['velocity', 'material', 'angle']);
    expect(buffer.byteLength).toBe(0); // transferred, not copied

    const other = new SQL.Database();
    other.exec('CREATE TABLE t (x)');
    const foreign = other.export().buffer as ArrayBuffer;
    other.close();
    const error = await remote.open(Comlink.transfer(foreign, [foreign])).catch((e: unknown) => e);
    expect(errorKind(error)).toBe('not-ours');
    expect((error as Error).message).toContain('jupyter dsi ingest');

    expect((await remote.summary()).simulations).toBe(3);
    await remote.close();
    expect(errorKind(await remote.methods().catch((e: unknown) => e))).toBe('not-open');
  });
});

describe('typed-array columns', () => {
  function opened(extra = ''): DatabaseApi {
    const api = new DatabaseApi(SQL);
    api.open(build({ extra }));
    return api;
  }

  it('reads every parameter once, in sim_id order, as codes or floats', () => {
    const table = opened().table();
    expect(table.ids).toEqual(['s1', 's2', 's3']);
    expect(table.parameters.map(p => p.name)).toEqual(['velocity', 'material', 'angle']);
    const [velocity, material, angle] = table.parameters;
    expect(Array.from(velocity.values!)).toEqual([1.5, 2.5, 3.5]);
    expect(velocity.unit).toBe('km/s');
    expect(material.levels).toEqual(['Al', 'Cu']);
    expect(Array.from(material.codes!)).toEqual([0, 1, 0]);
    expect(Array.from(angle.codes!)).toEqual([0, 1, 2]);
    expect(table.times).toEqual([0, 1, 2, 3, 4]);
  });

  it('marks a missing or unknown level as -1 and a missing number as NaN', () => {
    const table = opened(`
      DELETE FROM jdsi_param_value WHERE sim_id = 's2' AND name = 'velocity';
      UPDATE jdsi_param_value SET value = 'Fe' WHERE sim_id = 's3' AND name = 'material';
    `).table();
    expect(Number.isNaN(table.parameters[0].values![1])).toBe(true);
    expect(Array.from(table.parameters[1].codes!)).toEqual([0, 1, -1]);
  });

  it('answers a (method, step) slice aligned with the ids, NULL as NaN', () => {
    const api = opened("UPDATE jdsi_distance SET d_shock = NULL WHERE sim_id = 's2' AND method_id = 'm-old'");
    const slice = api.slice('m-old', 3);
    expect(slice.t).toBe(3);
    expect(Array.from(slice.dEdge)).toEqual([0.6, 0.6, 0.6].map(Math.fround));
    expect(Number.isNaN(slice.dShock[1])).toBe(true);
    expect(slice.dShock[0]).toBeCloseTo(0.3, 6);
    expect(slice.dDensity.every(Number.isNaN)).toBe(true);
    // A step the method lacks: every distance missing, never 0.
    expect(Array.from(api.slice('m-old', 7).dEdge).every(Number.isNaN)).toBe(true);
    expect(api.methodSteps('m-old')).toBe(4);
    expect(api.methodSteps('m-new')).toBe(5);
  });

  it('forgets the cached table when another database opens', () => {
    const api = opened();
    expect(api.table().ids).toHaveLength(3);
    api.open(build({ extra: "DELETE FROM jdsi_param_value WHERE sim_id = 's3'; DELETE FROM jdsi_distance WHERE sim_id = 's3'; DELETE FROM jdsi_dataset_member WHERE sim_id = 's3'; DELETE FROM jdsi_simulation WHERE sim_id = 's3';" }));
    expect(api.table().ids).toEqual(['s1', 's2']);
  });
});

describe("a dataset's feature terms", () => {
  it('come from the feature column in their order, else (schema 2) from w_shock and w_edge', () => {
    const terms = datasetTerms('{"wall_clock": 0.5, "d_density": 1}', 0, 0, 'm1');
    expect(terms).toEqual({ wall_clock: 0.5, d_density: 1 });
    expect(Object.keys(terms!)).toEqual(['wall_clock', 'd_density']);
    expect(datasetTerms(null, 0.5, 2, 'm1')).toEqual({ d_shock: 0.5, d_edge: 2 });
    expect(datasetTerms(null, 1, 1, null)).toBeNull(); // no method, no terms saved: as Python's None
    expect(datasetTerms('not json', 1, 1, 'm1')).toBeNull();
  });
});

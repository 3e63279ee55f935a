/**
 * The read-only replica of a jupyterlab-dsi database, as the Web Worker serves it.
 *
 * This module has no DOM and no JupyterLab imports: `worker.ts` exposes it through comlink,
 * and the tests drive it directly with the Node build of sql.js (jsdom runs no real Worker).
 */
import type { Database, SqlJsStatic, SqlValue } from 'sql.js';

import {
  IBaseTable,
  IDatasetInfo,
  IMethodInfo,
  ISlice,
  IStepMetric,
  readBaseTable,
  readDatasetMembers,
  readDatasets,
  readMethodInfo,
  readMethodStepList,
  readMetricSteps,
  readMethodSteps,
  readReplicaMethod,
  readStepMetrics,
  baseTableSignature,
  tablesUnchanged,
  IUnchanged
} from './slices';
import { alignCube, cubeBytes, cubeFromFrame, cubeFromRows, cubeFromValues, cubeSlice, hasRows, ICube } from './cubes';
import { countNewMatches, ISplitInfo, readSplitPart, readSplits } from './datasetRecords';
import { IPredictionSet, readPredictions } from './predictions';
import { queryAll } from './query';
import { injectScratch, IScratch, isScratch } from './scratch';
import { IDatasetStats, IRunCurve, IRunInfo, readDatasetStats, readRunCurves, readRuns } from './runs';
import {
  IParameterRange,
  IProposalPoint,
  IProposalRecord,
  listProposals,
  parameterRanges,
  proposalPoints
} from './proposals';

import {
  ALL_TABLES,
  APPLICATION_ID,
  SCHEMA_VERSION,
  Tables,
  formatApplicationId
} from './schema';

/** What the open database holds, at a glance. */
export interface ISummary {
  /** Rows of jdsi_simulation. */
  simulations: number;
  /**
   * The number of time steps: distinct `t` with distances (over live methods) when there are
   * any, else the longest `times` array of a simulation.
   */
  timeSteps: number;
  /** The initial conditions, ordered by position. */
  parameters: IParameter[];
  /** Live (not deleted) methods, newest first. */
  methods: IMethod[];
  /** Live (not deleted) training datasets. */
  datasets: number;
  /** Live (not deleted) training runs. */
  runs: number;
  /** The last seq of jdsi_event (0 when the log is empty): replicas catch up from there. */
  lastEventSeq: number;
  /** `PRAGMA user_version` of the file. */
  schemaVersion: number;
}

/** One initial condition of the ensemble. */
export interface IParameter {
  name: string;
  kind: 'categorical' | 'numeric';
  /** The ordered levels of a categorical parameter, null when the file records none. */
  levels: (string | number)[] | null;
  unit: string | null;
}

/** How a set of distances was computed. */
export interface IMethod {
  id: string;
  /** The sim_id of the ground-truth simulation. */
  groundTruth: string;
  norm: 'L1' | 'L2' | 'Linf';
  /** The ground truth's time step, or null for matched steps (t against t). */
  gtTime: number | null;
  /** With matched steps: by index, or each step against the ground truth's nearest in time. */
  matchTime: 'index' | 'nearest';
  /** Cell volumes used; null: the data's own. */
  geometry: 'cartesian' | 'cylindrical' | null;
  /** The cell array compared (its distances are d_density). */
  field: string;
  description: string;
  createdAt: string;
}

/** Why a database could not be opened or read. */
export type DatabaseErrorKind =
  /** The file has no bytes at all. */
  | 'empty'
  /** The bytes are not an SQLite database. */
  | 'not-sqlite'
  /** An SQLite file that is damaged, truncated or lacks jdsi_ tables. */
  | 'corrupt'
  /** A valid SQLite file that another application wrote (application_id differs). */
  | 'not-ours'
  /** Written by an older schema that the Python Store has not migrated yet. */
  | 'older-version'
  /** Written by a newer jupyterlab-dsi than this one. */
  | 'newer-version'
  /** No database is open. */
  | 'not-open'
  /** The SQLite engine (sql.js WebAssembly) could not be loaded. */
  | 'engine'
  /**
   * A stored method's distances are not in the worker yet (the server's replica leaves them
   * out): fetch its frame (GET distances) and `putDistances` it, then ask again.
   */
  | 'not-loaded';

const KINDS: readonly DatabaseErrorKind[] = [
  'empty',
  'not-sqlite',
  'corrupt',
  'not-ours',
  'older-version',
  'newer-version',
  'not-open',
  'engine',
  'not-loaded'
];

/** The prefix of the `name` of every DatabaseError: the name is `DatabaseError [kind]`. */
export const DATABASE_ERROR_NAME = 'DatabaseError';

const NAME_PATTERN = /^DatabaseError \[([a-z-]+)\]$/;

/** How to get a database when the one at hand is unusable. */
const CREATE_HINT = 'Create one with `jupyter dsi ingest ENSEMBLE_DIR --db FILE`.';

/**
 * An error opening or reading the database.
 *
 * comlink carries only `name`, `message` and `stack` of a thrown Error across the worker
 * boundary, so the kind is also encoded in `name` (`DatabaseError [not-ours]`, in the style of
 * Node's `TypeError [ERR_X]`); read it on either side with `errorKind(e)`. The message is meant
 * for the user as it stands: it names the problem and the way out.
 */
export class DatabaseError extends Error {
  readonly kind: DatabaseErrorKind;

  constructor(kind: DatabaseErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = `${DATABASE_ERROR_NAME} [${kind}]`;
  }
}

/**
 * The kind of a DatabaseError, also after it crossed comlink as a plain Error; null for any
 * other value.
 */
export function errorKind(e: unknown): DatabaseErrorKind | null {
  if (e instanceof DatabaseError) {
    return e.kind;
  }
  if (typeof e === 'object' && e !== null) {
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string') {
      const match = NAME_PATTERN.exec(name);
      if (match && (KINDS as readonly string[]).includes(match[1])) {
        return match[1] as DatabaseErrorKind;
      }
    }
  }
  return null;
}

/** Whether `e` is a DatabaseError, here or after crossing comlink. */
export function isDatabaseError(e: unknown): boolean {
  return errorKind(e) !== null;
}

/** The first 16 bytes of every SQLite 3 file. */
const SQLITE_HEADER = 'SQLite format 3\u0000';

function hasSqliteHeader(bytes: Uint8Array): boolean {
  if (bytes.length < SQLITE_HEADER.length) {
    return false;
  }
  for (let i = 0; i < SQLITE_HEADER.length; i++) {
    if (bytes[i] !== SQLITE_HEADER.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

function toBytes(data: Uint8Array | ArrayBuffer): Uint8Array {
  // ArrayBuffer.isView works across realms (a buffer received over a MessagePort).
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Turn an error of SQLite while reading a file into a DatabaseError. */
function asDatabaseError(e: unknown): DatabaseError {
  if (errorKind(e) !== null) {
    return e as DatabaseError;
  }
  const message = describe(e);
  if (/file is not a database/i.test(message)) {
    return new DatabaseError(
      'not-sqlite',
      `This file is not an SQLite database (SQLite: ${message}). ${CREATE_HINT}`
    );
  }
  return new DatabaseError(
    'corrupt',
    `This database could not be read (SQLite: ${message}): the file may be damaged or was ` +
      'copied while being written. Reload it, or recreate it with ' +
      '`jupyter dsi ingest ENSEMBLE_DIR --db FILE`.'
  );
}

function queryValue(db: Database, sql: string, params: SqlValue[] = []): SqlValue {
  const statement = db.prepare(sql);
  try {
    statement.bind(params);
    return statement.step() ? statement.get()[0] : null;
  } finally {
    statement.free();
  }
}

function asNumber(value: SqlValue): number {
  return typeof value === 'number' ? value : Number(value ?? 0);
}

function asString(value: SqlValue): string {
  return value === null || value === undefined ? '' : String(value);
}

/** `NOT EXISTS` clause that keeps only records without a tombstone. */
function live(column: string): string {
  return `NOT EXISTS (SELECT 1 FROM ${Tables.tombstone} WHERE record_id = ${column})`;
}

/** What `newMatches` answers. */
export interface INewMatches {
  /**
   * By dataset id: how many simulations ingested after it its filter now matches (null: cannot
   * be said). A dataset whose method's distances are not loaded is not here.
   */
  counts: Record<string, number | null>;
  /** Method ids whose distances are needed and not loaded: `putDistances` them, then ask again. */
  missing: string[];
}

/**
 * The worker's API: one read-only sql.js database at a time (the server's replica: every table
 * but the distance rows, or a whole file), and the distance cubes of the methods in use.
 */
export class DatabaseApi {
  /**
   * @param sql the initialised sql.js module
   */
  constructor(sql: SqlJsStatic) {
    this._sql = sql;
  }

  /** Whether a database is open. */
  get isOpen(): boolean {
    return this._db !== null;
  }

  /**
   * Open a database from the bytes of its file, replacing any open one.
   *
   * The new file is validated before it replaces the open database: when it is rejected
   * (a DatabaseError saying why), the previous database stays open.
   * sql.js copies the bytes, so the caller's buffer is not kept.
   *
   * `keepScratch` (a catch-up: the same file read again) puts the scratch shown back into the new
   * replica in this same call, so that no replica ever exists without it for a slice to read;
   * otherwise (another file, a Reload) the scratch is dropped.
   */
  open(data: Uint8Array | ArrayBuffer, keepScratch = false): ISummary {
    const bytes = toBytes(data);
    if (bytes.byteLength === 0) {
      throw new DatabaseError(
        'empty',
        `This file is empty (0 bytes): it holds no jupyterlab-dsi database yet. ${CREATE_HINT}`
      );
    }
    if (!hasSqliteHeader(bytes)) {
      throw new DatabaseError(
        'not-sqlite',
        'This file is not an SQLite database (it lacks the "SQLite format 3" header), ' +
          `so it cannot be a jupyterlab-dsi database. ${CREATE_HINT}`
      );
    }
    let db: Database;
    try {
      db = new this._sql.Database(bytes);
    } catch (e) {
      throw asDatabaseError(e);
    }
    let summary: ISummary;
    let unchanged: IUnchanged = { base: false, predictions: false };
    let scratch = keepScratch ? this._scratch : null;
    // A method's distances never change: a catch-up keeps the cubes (realigned on their next use
    // to the new base table), another file or a Reload starts without any.
    const cubes = keepScratch ? new Map(this._cubes) : new Map<string, ICube>();
    try {
      this._validate(db);
      if (scratch) {
        try {
          injectScratch(db, scratch);
        } catch (e) {
          console.error('jupyterlab-dsi: the scratch method could not be put back into the replica', e);
          cubes.delete(scratch.id);
          scratch = null; // injectScratch rolled back: the file's replica without it
        }
      }
      summary = this._summarize(db);
      // A catch-up after a save writes none of the base table's tables: keep what was read from
      // them (hundreds of ms at 10,000 simulations) instead of reading it again on the next ask.
      if (keepScratch && this._baseTable && this._baseSignature !== null) {
        unchanged = tablesUnchanged(db, this._eventSeq, this._baseSignature);
      }
    } catch (e) {
      db.close();
      throw asDatabaseError(e);
    }
    const base = unchanged.base ? { table: this._baseTable, rowOf: this._rowOf, signature: this._baseSignature } : null;
    const stepMetrics = unchanged.base ? new Map(this._stepMetrics) : null;
    const predictions = unchanged.predictions ? this._predictions : null;
    this.close();
    this._db = db;
    this._scratch = scratch;
    this._cubes = cubes;
    this._eventSeq = summary.lastEventSeq;
    if (base) {
      this._baseTable = base.table;
      this._rowOf = base.rowOf;
      this._baseSignature = base.signature;
      stepMetrics!.forEach((metrics, t) => this._stepMetrics.set(t, metrics));
      this._predictions = predictions;
    }
    return summary;
  }

  /** The summary of the open database. */
  summary(): ISummary {
    return this._read(db => this._summarize(db));
  }

  /** The live methods of the open database, newest first. */
  methods(): IMethod[] {
    return this._read(db => this._methods(db));
  }

  /** Every simulation's parameters as typed-array columns, in sim_id order. */
  table(): IBaseTable {
    return this._read(db => this._base(db));
  }

  /**
   * The distances at step `t` of a method (all NaN for null: no method) and the per-step
   * metrics at that step, aligned with `table().ids`. A DatabaseError 'not-loaded' when the
   * method's distances are in neither the worker nor the file (see `putDistances`).
   */
  slice(methodId: string | null, t: number): ISlice {
    return this._read(db => this._slice(db, methodId, t));
  }

  /**
   * Hold a stored method's distances: a frame of GET distances (its (S, T, 3) values become a
   * cube aligned with the base table). Throws one line when the frame is not that method's.
   */
  putDistances(methodId: string, frame: ArrayBuffer): void {
    const ids = this._read(db => this._base(db).ids);
    this._cubes.set(methodId, cubeFromFrame(methodId, frame, ids));
  }

  /**
   * Whether slices of the method can be answered without its frame: its cube is held, or the
   * open file holds its rows (a full file), or it has no distances at all (nothing to fetch).
   */
  hasDistances(methodId: string): boolean {
    return this._read(db => this._cubes.has(methodId) || !this._needsFrame(db, methodId));
  }

  /**
   * Forget the cubes of every method not in `keep` (memory). The scratch's stays: it is not in
   * the file, nothing could fetch it again.
   */
  dropDistances(keep: string[]): void {
    const kept = new Set(keep);
    for (const id of [...this._cubes.keys()]) {
      if (!kept.has(id) && !isScratch(id)) {
        this._cubes.delete(id);
      }
    }
  }

  /** Bytes the cubes hold (the scratch's included). */
  distanceBytes(): number {
    let bytes = 0;
    this._cubes.forEach(cube => (bytes += cubeBytes(cube)));
    return bytes;
  }

  /** A method's steps and which distance columns hold values. */
  methodInfo(methodId: string): IMethodInfo {
    return this._read(db => readMethodInfo(db, methodId));
  }

  /** Every dataset (deleted ones flagged), newest first. */
  datasets(): IDatasetInfo[] {
    return this._read(db => readDatasets(db));
  }

  /** A dataset's members, sorted. */
  datasetMembers(datasetId: string): string[] {
    return this._read(db => readDatasetMembers(db, datasetId));
  }

  /** Live runs, newest first, their status as shown at `nowMs` (ms since the epoch). */
  runs(nowMs: number): IRunInfo[] {
    return this._read(db => readRuns(db, nowMs));
  }

  /** One metric's points (name and context) of each run, in step order. */
  runCurves(runIds: string[], name: string, context: string): IRunCurve[] {
    return this._read(db => readRunCurves(db, runIds, name, context));
  }

  /** The datasets runs used, with their sizes, sampling and parameter ranges. */
  datasetStats(): IDatasetStats[] {
    return this._read(db => readDatasetStats(db));
  }

  /** Recorded proposals, newest first, with how many simulations were linked to each. */
  proposals(): IProposalRecord[] {
    return this._read(db => listProposals(db));
  }

  /** One proposal's points ([] for an unknown id). */
  proposalPoints(proposalId: string): IProposalPoint[] {
    return this._read(db => proposalPoints(db, proposalId));
  }

  /** Each parameter with its range and spacing (numeric ones), for the Propose form. */
  parameterRanges(): IParameterRange[] {
    return this._read(db => parameterRanges(db));
  }

  /**
   * Every live run's predictions, aligned with `table().ids`: read once per replica, and kept by
   * a catch-up that no run wrote (a save). Copies: the caller may hold them past the next read.
   */
  predictions(): IPredictionSet[] {
    return this._read(db => {
      this._base(db);
      if (!this._predictions) {
        this._predictions = readPredictions(db, this._rowOf!);
        this._predictionReads++;
      }
      return this._predictions.map(p => ({ ...p, values: p.values.slice(), sigma2: p.sigma2?.slice() ?? null }));
    });
  }

  /** How many times the base table was read from SQL since this object was made (tests). */
  get baseReads(): number {
    return this._baseReads;
  }

  /** How many times the predictions were read from SQL since this object was made (tests). */
  get predictionReads(): number {
    return this._predictionReads;
  }

  /** A dataset's splits with their parts' sizes. */
  splits(datasetId: string): ISplitInfo[] {
    return this._read(db => readSplits(db, datasetId));
  }

  /** The members of one part of a split, sorted. */
  splitPart(splitId: string, part: string): string[] {
    return this._read(db => readSplitPart(db, splitId, part));
  }

  /**
   * How many simulations ingested after each dataset its filter now matches (null: cannot be
   * said), by dataset id, and the methods whose distances that needs and are not loaded.
   */
  newMatches(datasetIds: string[]): INewMatches {
    return this._read(db => {
      const base = this._base(db);
      const all = new Map(readDatasets(db).map(d => [d.id, d]));
      const counts: Record<string, number | null> = {};
      const missing = new Set<string>();
      const sliceAt = (methodId: string | null, t: number) => this._slice(db, methodId, t);
      for (const id of datasetIds) {
        const dataset = all.get(id);
        if (!dataset) {
          counts[id] = null;
          continue;
        }
        try {
          counts[id] = countNewMatches(db, base, this._rowOf!, dataset, sliceAt);
        } catch (e) {
          if (errorKind(e) !== 'not-loaded' || dataset.methodId === null) {
            throw e;
          }
          missing.add(dataset.methodId);
        }
      }
      return { counts, missing: [...missing] };
    });
  }

  /**
   * Show a scratch method (distances computed on the fly, scratch.ts) as a method of the replica,
   * replacing any other scratch; null takes it out. Answers the summary with it.
   */
  injectScratch(scratch: IScratch | null): ISummary {
    // The cube first: values that do not fit the scratch's size leave the replica as it was.
    const ids = this._read(db => this._base(db).ids);
    const cube = scratch && cubeFromValues(scratch.id, ids, scratch.simIds, scratch.steps, scratch.values);
    return this._read(db => {
      injectScratch(db, scratch);
      this._scratch = scratch; // a catch-up (open with keepScratch) puts it back
      for (const id of [...this._cubes.keys()].filter(isScratch)) {
        this._cubes.delete(id);
      }
      if (cube) {
        this._cubes.set(cube.methodId, cube);
      }
      return this._summarize(db);
    });
  }

  /** How many time steps a method has distances for. */
  methodSteps(methodId: string): number {
    return this._read(db => readMethodSteps(db, methodId));
  }

  /** Close the open database, if any. */
  close(): void {
    this._scratch = null;
    this._cubes = new Map();
    if (this._db) {
      this._db.close();
      this._db = null;
    }
    this._baseTable = null;
    this._rowOf = null;
    this._baseSignature = null;
    this._stepMetrics.clear();
    this._predictions = null;
    this._eventSeq = 0;
  }

  private _base(db: Database): IBaseTable {
    if (!this._baseTable) {
      // Its signature first, from the same replica: what a catch-up compares to keep it.
      this._baseSignature = baseTableSignature(db);
      this._baseTable = readBaseTable(db);
      this._rowOf = new Map(this._baseTable.ids.map((id, i) => [id, i]));
      this._baseReads++;
    }
    return this._baseTable;
  }

  /** A slice from the method's cube (built from the file's rows on first use of a full file). */
  private _slice(db: Database, methodId: string | null, t: number): ISlice {
    const rows = this._base(db).ids.length;
    const cube = methodId === null ? null : this._cube(db, methodId);
    return { methodId, t, ...cubeSlice(cube, t, rows), metrics: this._metricsAt(db, t) };
  }

  /**
   * The per-step metrics at step t, read once per step: three metrics of 10,000 runs take
   * ~15 ms of SQL, a third of a time step's budget. Copies: the worker transfers a slice's arrays.
   */
  private _metricsAt(db: Database, t: number): IStepMetric[] {
    let metrics = this._stepMetrics.get(t);
    if (!metrics) {
      metrics = readStepMetrics(db, this._rowOf!, this._base(db).stepMetrics, t);
      this._stepMetrics.set(t, metrics);
    }
    return metrics.map(m => ({ name: m.name, values: m.values.slice() }));
  }

  /**
   * The method's cube aligned with the base table; null when it has no distances (its slices
   * are NaN); a DatabaseError 'not-loaded' when the replica lacks its rows and no frame came.
   */
  private _cube(db: Database, methodId: string): ICube | null {
    const ids = this._base(db).ids;
    let cube = this._cubes.get(methodId);
    if (cube) {
      cube = alignCube(cube, ids); // itself unless a catch-up changed the simulations
    } else if (hasRows(db, methodId)) {
      cube = cubeFromRows(db, methodId, ids); // a full file: its own rows, read once
    } else if (this._needsFrame(db, methodId)) {
      throw new DatabaseError('not-loaded', `The distances of method ${methodId.slice(0, 8)} are not loaded yet.`);
    } else {
      return null;
    }
    this._cubes.set(methodId, cube);
    return cube;
  }

  /** Whether the replica records distances of the method that it does not hold as rows. */
  private _needsFrame(db: Database, methodId: string): boolean {
    return (readReplicaMethod(db, methodId)?.steps.length ?? 0) > 0 && !hasRows(db, methodId);
  }

  private _read<T>(read: (db: Database) => T): T {
    const db = this._db;
    if (!db) {
      throw new DatabaseError(
        'not-open',
        'No jupyterlab-dsi database is open: open a database file first.'
      );
    }
    try {
      return read(db);
    } catch (e) {
      throw asDatabaseError(e);
    }
  }

  /** Check the marks of a jupyterlab-dsi file and that its tables are there. */
  private _validate(db: Database): void {
    const applicationId = asNumber(queryValue(db, 'PRAGMA application_id'));
    if (applicationId >>> 0 !== APPLICATION_ID) {
      throw new DatabaseError(
        'not-ours',
        'This file is not a jupyterlab-dsi database ' +
          `(application_id ${formatApplicationId(applicationId)}, ` +
          `expected ${formatApplicationId(APPLICATION_ID)}): another application wrote it. ` +
          CREATE_HINT
      );
    }
    const version = asNumber(queryValue(db, 'PRAGMA user_version'));
    if (version > SCHEMA_VERSION) {
      throw new DatabaseError(
        'newer-version',
        'This database was written by a newer jupyterlab-dsi ' +
          `(schema ${version}, this one reads ${SCHEMA_VERSION}): upgrade the extension.`
      );
    }
    if (version < SCHEMA_VERSION) {
      throw new DatabaseError(
        'older-version',
        `This database uses an older jupyterlab-dsi schema (schema ${version}, ` +
          `this one reads ${SCHEMA_VERSION}): open it once with the jupyterlab-dsi server ` +
          'or a `jupyter dsi` command, which migrates it, then reload it.'
      );
    }
    const present = new Set(
      queryAll(db, "SELECT name FROM sqlite_master WHERE type = 'table'").map(row =>
        asString(row.name)
      )
    );
    const missing = ALL_TABLES.filter(name => !present.has(name));
    if (missing.length > 0) {
      throw new DatabaseError(
        'corrupt',
        `This jupyterlab-dsi database lacks the table${missing.length > 1 ? 's' : ''} ` +
          `${missing.join(', ')}: it is incomplete or damaged. ${CREATE_HINT}`
      );
    }
  }

  private _summarize(db: Database): ISummary {
    const methods = this._methods(db);
    return {
      simulations: asNumber(queryValue(db, `SELECT COUNT(*) FROM ${Tables.simulation}`)),
      timeSteps: this._timeSteps(db, methods),
      parameters: this._parameters(db),
      methods,
      datasets: asNumber(
        queryValue(db, `SELECT COUNT(*) FROM ${Tables.dataset} d WHERE ${live('d.id')}`)
      ),
      runs: asNumber(queryValue(db, `SELECT COUNT(*) FROM ${Tables.run} r WHERE ${live('r.id')}`)),
      lastEventSeq: asNumber(
        queryValue(db, `SELECT COALESCE(MAX(seq), 0) FROM ${Tables.event}`)
      ),
      schemaVersion: asNumber(queryValue(db, 'PRAGMA user_version'))
    };
  }

  /**
   * Distinct t with distances over live methods (each method's jdsi_replica_method row, else a
   * loose index scan of its rows: one seek per step); else the per-step metrics' steps; else
   * the longest times array.
   */
  private _timeSteps(db: Database, methods: IMethod[]): number {
    const steps = new Set<number>();
    for (const method of methods) {
      readMethodStepList(db, method.id).forEach(t => steps.add(t));
    }
    if (steps.size > 0) {
      return steps.size;
    }
    // No distances: the steps the panel offers, those of the per-step metrics (issue 9).
    const metricSteps = readMetricSteps(db);
    if (metricSteps > 0) {
      return metricSteps;
    }
    return asNumber(
      queryValue(
        db,
        `SELECT COALESCE(MAX(CASE WHEN json_valid(times) AND json_type(times) = 'array'
                                  THEN json_array_length(times) ELSE 0 END), 0)
           FROM ${Tables.simulation}`
      )
    );
  }

  private _parameters(db: Database): IParameter[] {
    return queryAll(
      db,
      `SELECT name, kind, levels, unit FROM ${Tables.parameter} ORDER BY position, name`
    ).map(row => {
      const name = asString(row.name);
      return {
        name,
        kind: row.kind === 'categorical' ? 'categorical' : 'numeric',
        levels: parseLevels(name, row.levels),
        unit: row.unit === null || row.unit === undefined ? null : String(row.unit)
      };
    });
  }

  private _methods(db: Database): IMethod[] {
    return queryAll(
      db,
      `SELECT m.id, g.sim_id AS ground_truth, m.norm, m.gt_time, m.match_time, m.geometry, m.field,
              m.description, m.created_at
         FROM ${Tables.method} m
         LEFT JOIN ${Tables.groundTruth} g ON g.id = m.ground_truth_id
        WHERE ${live('m.id')}
        ORDER BY m.created_at DESC, m.rowid DESC`
    ).map(row => ({
      id: asString(row.id),
      groundTruth: asString(row.ground_truth),
      norm: asString(row.norm) as IMethod['norm'],
      gtTime: row.gt_time === null || row.gt_time === undefined ? null : asNumber(row.gt_time),
      matchTime: row.match_time === 'nearest' ? 'nearest' : 'index',
      geometry: row.geometry === 'cartesian' || row.geometry === 'cylindrical' ? row.geometry : null,
      field: row.field === null || row.field === undefined ? 'density' : asString(row.field),
      description: asString(row.description),
      createdAt: asString(row.created_at)
    }));
  }

  private readonly _sql: SqlJsStatic;
  private _db: Database | null = null;
  /** The scratch injected into the replica (null: none), kept across catch-ups. */
  private _scratch: IScratch | null = null;
  private _baseTable: IBaseTable | null = null;
  private _rowOf: Map<string, number> | null = null;
  /** baseTableSignature of the replica the base table was read from (null: none read). */
  private _baseSignature: string | null = null;
  /** The open replica's last event seq: a catch-up reads the kinds of the events after it. */
  private _eventSeq = 0;
  /** The runs' predictions read (null: not yet), aligned with the base table. */
  private _predictions: IPredictionSet[] | null = null;
  private _baseReads = 0;
  private _predictionReads = 0;
  /** The per-step metrics read, by step. */
  private readonly _stepMetrics = new Map<number, IStepMetric[]>();
  /** Each method's distances in use, by method id (the scratch's too). */
  private _cubes = new Map<string, ICube>();
}

/** Parse the JSON levels of a parameter: null, or an array of strings and numbers. */
function parseLevels(name: string, value: SqlValue): (string | number)[] | null {
  if (value === null || value === undefined) {
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(asString(value));
  } catch {
    parsed = undefined;
  }
  if (parsed === null) {
    return null;
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every(level => typeof level === 'string' || typeof level === 'number')
  ) {
    throw new DatabaseError(
      'corrupt',
      `The levels of parameter "${name}" are not a JSON array of strings and numbers ` +
        `(${asString(value).slice(0, 80)}): the database is damaged. ${CREATE_HINT}`
    );
  }
  return parsed as (string | number)[];
}

/**
 * What `worker.ts` exposes through comlink: every call first awaits the sql.js engine.
 */
export interface IDatabaseWorkerApi {
  /**
   * Open a database from its bytes (pass the ArrayBuffer transferred), replacing any open one;
   * `keepScratch` (a catch-up) puts the scratch shown back into the new replica in the same call.
   */
  open(data: ArrayBuffer | Uint8Array, keepScratch?: boolean): Promise<ISummary>;
  summary(): Promise<ISummary>;
  /** Live methods, newest first. */
  methods(): Promise<IMethod[]>;
  /** Parameters as typed-array columns (the worker transfers their buffers). */
  table(): Promise<IBaseTable>;
  /** Distances (null: no method) and per-step metrics at one step (the worker transfers their buffers). */
  slice(methodId: string | null, t: number): Promise<ISlice>;
  methodSteps(methodId: string): Promise<number>;
  /** Show a scratch method in the replica (null: none), kept by catch-ups (open with keepScratch). */
  injectScratch(scratch: IScratch | null): Promise<ISummary>;
  methodInfo(methodId: string): Promise<IMethodInfo>;
  datasets(): Promise<IDatasetInfo[]>;
  datasetMembers(datasetId: string): Promise<string[]>;
  /** Every live run's predictions (the columns `error of <run>`, `sigma2 of <run>`). */
  predictions(): Promise<IPredictionSet[]>;
  splits(datasetId: string): Promise<ISplitInfo[]>;
  splitPart(splitId: string, part: string): Promise<string[]>;
  /**
   * Simulations ingested after each dataset that its filter matches now, by id (null: unknown),
   * and the methods whose distances that needs: load them (`putDistances`) and ask again.
   */
  newMatches(datasetIds: string[]): Promise<INewMatches>;
  /** Hold a stored method's distances, a frame of GET distances (pass the ArrayBuffer transferred). */
  putDistances(methodId: string, frame: ArrayBuffer): Promise<void>;
  /** Whether slices of the method need no frame (held, in the file's rows, or none to show). */
  hasDistances(methodId: string): Promise<boolean>;
  /** Forget every method's distances but those of `keep` (and the scratch's). */
  dropDistances(keep: string[]): Promise<void>;
  /** Bytes the distances held take. */
  distanceBytes(): Promise<number>;
  runs(nowMs: number): Promise<IRunInfo[]>;
  runCurves(runIds: string[], name: string, context: string): Promise<IRunCurve[]>;
  datasetStats(): Promise<IDatasetStats[]>;
  proposals(): Promise<IProposalRecord[]>;
  proposalPoints(proposalId: string): Promise<IProposalPoint[]>;
  parameterRanges(): Promise<IParameterRange[]>;
  close(): Promise<void>;
}

/**
 * Make the object the worker exposes: sql.js is initialised once by `loadSql`, on the first call
 * (or at once when `eager`); a failed initialisation is retried on the next call.
 */
export function createWorkerApi(loadSql: () => Promise<SqlJsStatic>, eager = false): IDatabaseWorkerApi {
  let ready: Promise<DatabaseApi> | null = null;
  const api = (): Promise<DatabaseApi> => {
    if (!ready) {
      ready = loadSql().then(
        sql => new DatabaseApi(sql),
        (e: unknown) => {
          ready = null;
          throw new DatabaseError(
            'engine',
            `The SQLite engine (sql.js WebAssembly) could not be loaded: ${describe(e)}. ` +
              'Reload the page; if it persists, reinstall the jupyterlab-dsi extension.'
          );
        }
      );
    }
    return ready;
  };
  if (eager) {
    // The worker starts while the server builds the replica: compile the wasm meanwhile rather
    // than after the bytes came. A failure here is said by the first call, which tries again.
    api().catch(() => undefined);
  }
  return {
    open: async (data, keepScratch) => (await api()).open(data, keepScratch),
    summary: async () => (await api()).summary(),
    methods: async () => (await api()).methods(),
    table: async () => (await api()).table(),
    slice: async (methodId, t) => (await api()).slice(methodId, t),
    methodSteps: async methodId => (await api()).methodSteps(methodId),
    injectScratch: async scratch => (await api()).injectScratch(scratch),
    methodInfo: async methodId => (await api()).methodInfo(methodId),
    datasets: async () => (await api()).datasets(),
    datasetMembers: async id => (await api()).datasetMembers(id),
    predictions: async () => (await api()).predictions(),
    splits: async id => (await api()).splits(id),
    splitPart: async (id, part) => (await api()).splitPart(id, part),
    newMatches: async ids => (await api()).newMatches(ids),
    putDistances: async (methodId, frame) => (await api()).putDistances(methodId, frame),
    hasDistances: async methodId => (await api()).hasDistances(methodId),
    dropDistances: async keep => (await api()).dropDistances(keep),
    distanceBytes: async () => (await api()).distanceBytes(),
    runs: async nowMs => (await api()).runs(nowMs),
    runCurves: async (ids, name, context) => (await api()).runCurves(ids, name, context),
    datasetStats: async () => (await api()).datasetStats(),
    proposals: async () => (await api()).proposals(),
    proposalPoints: async id => (await api()).proposalPoints(id),
    parameterRanges: async () => (await api()).parameterRanges(),
    close: async () => {
      // Nothing can be open before the engine loaded: do not load it just to close.
      if (ready) {
        (await ready).close();
      }
    }
  };
}

/**
 * The panel's requests to the jupyterlab-dsi server extension. Errors carry the server's
 * one-line message, which names the problem and the way out.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IProposeRequest } from './db/proposals';
import { decodeFrame, type IFrame, type IFrameHeader } from './db/frameCodec';
import { tooLargeMessage } from './db/replicaSource';

const NAMESPACE = 'jupyterlab-dsi';

export interface IServerConfig {
  default_db: string;
  /** The server's root directory, absolute: the kernel resolves database paths against it. */
  root: string;
}

export interface IDatabaseBytes {
  bytes: ArrayBuffer;
  /** The last event of the file's log when the snapshot was taken; replicas catch up from it. */
  eventSeq: number;
  /**
   * The server sent its replica (every table but jdsi_distance's rows, plus
   * jdsi_replica_method): a method's distances come from `fetchDistances(path, methodId)`.
   * False: the whole file (an older server), whose distances the worker reads itself.
   */
  replica: boolean;
}

export class ServerError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** How long the panel keeps retrying a request the server answered "busy" (503 + Retry-After). */
export const BUSY_RETRY_MS = 60_000;

/**
 * Told each time a request waits for a busy database before it retries (the server's message);
 * `false` in its place: do not retry (a poll that runs again anyway).
 */
export type BusyListener = (message: string) => void;

async function messageOf(response: Response): Promise<string> {
  try {
    const body = await response.json();
    return body.message ?? `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`; // not JSON: keep the status line
  }
}

async function request(
  endpoint: string,
  query: Record<string, string> = {},
  init: RequestInit = {},
  onBusy?: BusyListener | false,
  settings = ServerConnection.makeSettings()
): Promise<Response> {
  const search = new URLSearchParams(query).toString();
  const url =
    URLExt.join(settings.baseUrl, NAMESPACE, endpoint) + (search ? `?${search}` : '');
  const deadline = Date.now() + BUSY_RETRY_MS;
  for (;;) {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, settings);
    } catch (error) {
      throw new ServerError(
        `Cannot reach the Jupyter server (${(error as Error).message}). Is it still running?`,
        0
      );
    }
    if (response.ok) {
      return response;
    }
    let message = await messageOf(response);
    const retryAfter = Number(response.headers.get('Retry-After'));
    if (onBusy !== false && response.status === 503 && response.headers.has('Retry-After') && retryAfter >= 0) {
      // Another program holds the database's lock: retrying is safe (a save carries its own id,
      // so a save that went through meanwhile is answered, not repeated).
      if (Date.now() + retryAfter * 1000 < deadline) {
        onBusy?.(message);
        await new Promise(resolve => setTimeout(resolve, retryAfter * 1000));
        continue;
      }
      message = `${message.replace(/; retrying$/, '')}; still busy after ${BUSY_RETRY_MS / 1000} s: try again once it is done.`;
    }
    // The server's own 404s say what is missing (a file, a method); any other 404 is a route
    // the server does not have.
    if (response.status === 404 && !message.includes('no such file') && !message.startsWith('no method ')) {
      message =
        'The jupyterlab-dsi server extension is not enabled: run `jupyter server extension enable jupyterlab_dsi` and restart JupyterLab.';
    }
    throw new ServerError(message, response.status);
  }
}

export async function fetchConfig(): Promise<IServerConfig> {
  return (await request('config')).json();
}

/**
 * The panel's replica of the database at `path` (the server's `GET db`: metadata tables, no
 * distance rows). The server refuses (413, its one line) a replica above `maxBytes` before
 * building it; a server that sends the whole file instead is refused from its Content-Length,
 * before its body fills the tab's memory.
 */
export async function fetchDatabase(path: string, maxBytes = Infinity): Promise<IDatabaseBytes> {
  const query: Record<string, string> = { path };
  if (Number.isFinite(maxBytes)) {
    query.max_bytes = String(Math.max(0, Math.floor(maxBytes)));
  }
  const response = await request('db', query);
  const size = Number(response.headers.get('Content-Length') ?? 0);
  if (size > maxBytes) {
    await response.body?.cancel();
    throw new ServerError(tooLargeMessage(path, size, maxBytes), 413);
  }
  return {
    bytes: await response.arrayBuffer(),
    eventSeq: Number(response.headers.get('X-DSI-Event-Seq') ?? 0),
    replica: response.headers.get('X-DSI-Replica') === '1'
  };
}

/** What the panel sends to save a selection (the server applies the sampling). */
export interface IDatasetRequest {
  /** Chosen by the client: a retry with the same id never makes a second dataset. */
  id: string;
  name: string;
  description: string;
  members: string[];
  method_id: string | null;
  t: number;
  /** d_feature's terms {column: weight}, in order; null: none (no method and no number metric). */
  weights: Record<string, number> | null;
  filter: string;
  selection_kind: string;
  selection_geometry: unknown;
  sampling: { kind: 'p'; p: number; seed: number } | { kind: 'n'; n: number; seed: number } | null;
  settings: unknown;
  parent_id?: string | null;
}

export interface IDatasetRecord {
  id: string;
  name: string;
  description: string;
  size: number;
  digest: string;
  created_at: string;
  [key: string]: unknown;
}

/** Save a dataset; `onBusy` hears each wait while another program holds the file's lock. */
export async function saveDataset(
  path: string,
  body: IDatasetRequest,
  onBusy?: BusyListener
): Promise<IDatasetRecord> {
  const response = await request('datasets', { path }, { method: 'POST', body: JSON.stringify(body) }, onBusy);
  return response.json();
}

export async function deleteDataset(path: string, id: string): Promise<void> {
  await request(`datasets/${encodeURIComponent(id)}`, { path }, { method: 'DELETE' });
}

export async function restoreDataset(path: string, id: string): Promise<void> {
  await request(`datasets/${encodeURIComponent(id)}/restore`, { path }, { method: 'POST' });
}

/** The formats a dataset exports to (jupyterlab_dsi/exports; docs/exports.md). */
export type ExportFormat = 'json' | 'card' | 'prov' | 'datacite' | 'croissant' | 'rocrate';

/** The formats that are one text file, which Download can hand over as it stands. */
export type TextExportFormat = 'json' | 'card' | 'prov' | 'datacite';

/** A dataset exported as one text file (JSON, a Markdown card, PROV-JSON, DataCite JSON). */
export async function exportDataset(
  path: string,
  id: string,
  format: TextExportFormat
): Promise<string> {
  // As text: the server's own serialisation, byte for byte the CLI's (JSON.stringify here would
  // change numbers such as 11.0 to 11).
  const response = await request(`datasets/${encodeURIComponent(id)}`, { path, format, as: 'text' });
  return response.text();
}

/** A dataset's export written on the server (`saveExport`). */
export interface ISavedExport {
  /** The file written, relative to the server's root (JupyterLab's contents path). */
  path: string;
  format: ExportFormat;
  bytes: number;
  /** Every file written (a Croissant's JSON-LD and members CSV; a crate's folder is `path`). */
  files?: string[];
}

/**
 * Write a dataset's export (the text `jupyter dsi export` writes) as a new file on the server,
 * in `folder` (relative to the root; absent: the database's folder). The server never
 * overwrites: a taken name becomes `name (1).json`. Answers the file written.
 */
export async function saveExport(
  path: string,
  id: string,
  format: ExportFormat,
  folder?: string
): Promise<ISavedExport> {
  const body = folder === undefined ? { format } : { format, dir: folder };
  const response = await request(`datasets/${encodeURIComponent(id)}/export`, { path }, {
    method: 'POST',
    body: JSON.stringify(body)
  });
  return response.json();
}

/**
 * The last event of the file and the events after `since` (at most 100). Not retried when the
 * file is busy: the panel polls this every few seconds anyway.
 */
export async function fetchEvents(path: string, since: number): Promise<{ seq: number; events: unknown[] }> {
  return (await request('events', { path, since: String(since) }, {}, false)).json();
}

/**
 * Record a proposal drawn from a run's logged sigma2 (`jupyter dsi propose --db DB --run RUN`);
 * answers the new record's id. The server checks the request and records nothing on an error,
 * which rejects with its one-line message.
 */
export async function postProposal(path: string, proposal: IProposeRequest): Promise<string> {
  const body: Record<string, unknown> = { run_id: proposal.runId, n: proposal.n, seed: proposal.seed };
  // Absent options are left out, not sent as null: the server applies its defaults then.
  const optional: [string, unknown][] = [
    ['target', proposal.target],
    ['tau', proposal.tau],
    ['bounds', proposal.bounds],
    ['alpha', proposal.alpha],
    ['entropy_column', proposal.entropyColumn],
    ['continuous', proposal.continuous]
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) {
      body[key] = value;
    }
  }
  const response = await request('proposals', { path }, { method: 'POST', body: JSON.stringify(body) });
  const answer = (await response.json()) as { id?: unknown };
  if (typeof answer.id !== 'string' || !answer.id) {
    throw new ServerError('The server recorded a proposal but did not say its id: reload the database to see it.', response.status);
  }
  return answer.id;
}

/**
 * A recorded proposal's points as the text of a CSV file: the server's `GET
 * proposals/ID?format=csv`, byte for byte what `jupyter dsi proposals --db DB ID` prints and
 * `jupyter dsi sample OUT --params` reads (kept as text: parsing and writing it again here could
 * change how its numbers are written).
 */
export async function proposalCsv(path: string, id: string): Promise<string> {
  const response = await request(`proposals/${encodeURIComponent(id)}`, { path, format: 'csv' });
  return response.text();
}

/** A job of the server (post-processing a new method), as `GET /jobs/ID` answers it. */
export interface IJob {
  id: string;
  kind: string;
  path: string;
  /** queued: waiting for one of the server's job threads (two run at a time). */
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  done: number;
  total: number;
  result: { method_id?: string } | null;
  message: string;
  elapsed: number;
}

export interface INewMethod {
  ground_truth: string;
  norm: 'L2' | 'L1' | 'Linf';
  /** A step of the ground truth every step is compared with; null compares step t with step t. */
  gt_time: number | null;
  description: string;
  /** With gt_time null: compare step t with the ground truth's step t, or with its step nearest in simulated time. */
  match_time: 'index' | 'nearest';
  /** Cell volumes: null takes the data's own (Cartesian for x/y grids, cylindrical for R/z). */
  geometry: 'cartesian' | 'cylindrical' | null;
  /** The VTK cell array compared; density for .npz/.h5 ensembles. */
  field: string;
}

/** Start post-processing a new method of the database at `path`; answers the running job. */
export async function startMethod(path: string, body: INewMethod): Promise<IJob> {
  const response = await request('methods', { path }, { method: 'POST', body: JSON.stringify(body) });
  return response.json();
}

export async function fetchJob(id: string): Promise<IJob> {
  return (await request(`jobs/${encodeURIComponent(id)}`)).json();
}

export async function cancelJob(id: string): Promise<IJob> {
  return (await request(`jobs/${encodeURIComponent(id)}`, {}, { method: 'DELETE' })).json();
}

/** A record in a lineage graph (`jupyter dsi lineage ID --format json`). */
export interface ILineageNode {
  id: string;
  /** source, method, dataset, split, run, artifact (and proposal). */
  kind: string;
  label: string;
  /** A tombstoned record, still shown where others refer to it. */
  deleted?: boolean;
  /** Why it is stale (upstream changes, one line each), when it is. */
  stale?: string[] | string | boolean;
  /** Absolute path of a source's or an artifact's file, when the server names it. */
  path?: string;
}

/** A PROV relation: `source` used / wasGeneratedBy / wasDerivedFrom `target`. */
export interface ILineageEdge {
  source: string;
  target: string;
  relation: string;
}

export interface ILineage {
  nodes: ILineageNode[];
  edges: ILineageEdge[];
}

/** The lineage graph of any record (dataset, split, run, method, source) of the database at `path`. */
export async function fetchLineage(path: string, id: string): Promise<ILineage> {
  return (await request('lineage', { path, id })).json();
}

/** What a field frame's header says (GET field: jupyterlab_dsi/server_fields.py). */
export interface IFieldHeader extends IFrameHeader {
  sim_id: string;
  t: number;
  /** The step's simulated time. */
  time: number;
  field: string;
  /** Cell edges [lo, hi] of the first (R or x) and second (z or y) grid dimension. */
  r: [number, number];
  z: [number, number];
  axes: ['R', 'z'] | ['x', 'y'];
  geometry: string;
  /** Block-averaged down to at most 512 cells per axis. */
  downsampled: boolean;
  source_shape: [number, number];
  /** A graded grid's (block) cell edges per dimension; null for a uniform one. */
  edges?: [number[] | null, number[] | null];
  /** With a ground truth: its id, the matched step and its time; data is (3, N1, N2). */
  gt?: string;
  gt_t?: number;
  gt_time?: number;
  layers?: ['field', 'ground_truth', 'diff'];
}

export interface IFieldRequest {
  sim: string;
  t: number;
  field?: string;
  /** A ground truth: its field at the matched step and |gt − ρ| over D+ come too. */
  gt?: string;
  gtTime?: number | null;
  matchTime?: 'index' | 'nearest';
}

/**
 * One step of one run's field (with a ground truth: three layers), as float32 read in place.
 * A missing file rejects with the server's "…: no such file" (404), an unreadable one with its
 * one line (422), a file outside the root and the ensemble's folder with 403.
 */
export async function fetchField(path: string, field: IFieldRequest): Promise<IFrame<IFieldHeader>> {
  const query: Record<string, string> = { path, sim: field.sim, t: String(field.t) };
  if (field.field && field.field !== 'density') {
    query.field = field.field;
  }
  if (field.gt) {
    query.gt = field.gt;
    if (field.gtTime !== null && field.gtTime !== undefined) {
      query.gt_time = String(field.gtTime);
    } else if (field.matchTime) {
      query.match_time = field.matchTime;
    }
  }
  const response = await request('field', query);
  return decodeFrame<IFieldHeader>(await response.arrayBuffer());
}

/** A run's Cinema FILE columns that hold png/jpg images. */
export async function fetchImageColumns(path: string, sim: string): Promise<{ name: string; per_step: boolean }[]> {
  const answer = (await (await request('image', { path, sim })).json()) as { columns?: { name: string; per_step: boolean }[] };
  return answer.columns ?? [];
}

/** The image a run's FILE column names (at step `t` for a per-step column), as a Blob. */
export async function fetchImage(path: string, sim: string, column: string, t = 0): Promise<Blob> {
  return (await request('image', { path, sim, column, t: String(t) })).blob();
}

/** POST /distances: a ground truth's distances for every run and step, computed on the fly, never written. */
export interface IDistancesRequest {
  ground_truth: string;
  norm: 'L2' | 'L1' | 'Linf';
  /** A step of the ground truth every step is compared with; null compares step t with its matched step. */
  gt_time: number | null;
  match_time?: 'index' | 'nearest';
  field?: string;
}

/**
 * The server's answer: the frame's bytes (decode with frameCodec.decodeFrame) when the work took
 * under half a second, else the job computing it: poll fetchDistances(job.id), cancel with cancelJob.
 */
export type DistancesAnswer = { frame: ArrayBuffer; job?: undefined } | { frame?: undefined; job: IJob };

async function distancesAnswer(response: Response): Promise<DistancesAnswer> {
  return response.status === 202 ? { job: await response.json() } : { frame: await response.arrayBuffer() };
}

/** Compute `body`'s distances for the database at `path` (a scratch method: nothing is written). */
export async function postDistances(path: string, body: IDistancesRequest): Promise<DistancesAnswer> {
  return distancesAnswer(await request('distances', { path }, { method: 'POST', body: JSON.stringify(body) }));
}

/** A distances job: still the job while it runs, the frame once done; a cancelled one throws (status 409). */
export async function fetchDistances(jobId: string): Promise<DistancesAnswer>;
/**
 * A stored method's distances (`GET distances?path=P&method=ID`): one frame, (S, T, 3) float32
 * for the worker's `putDistances`. Above `maxBytes` the server refuses (413) before reading,
 * with its one line naming maxDatabaseMB; an unknown method is a 404 saying so.
 */
export async function fetchDistances(path: string, methodId: string, maxBytes?: number): Promise<ArrayBuffer>;
export async function fetchDistances(
  jobOrPath: string,
  methodId?: string,
  maxBytes = Infinity
): Promise<DistancesAnswer | ArrayBuffer> {
  if (methodId !== undefined) {
    const query: Record<string, string> = { path: jobOrPath, method: methodId };
    if (Number.isFinite(maxBytes)) {
      query.max_bytes = String(Math.max(0, Math.floor(maxBytes)));
    }
    return (await request('distances', query)).arrayBuffer();
  }
  try {
    return distancesAnswer(await request(`distances/${encodeURIComponent(jobOrPath)}`));
  } catch (error) {
    if (error instanceof ServerError && error.status === 404) {
      throw new ServerError('The server no longer has this computation (it restarted): compute it again.', 404);
    }
    throw error;
  }
}

/** What the server keeps in memory to compute on the fly, and its budget (DSIConfig.field_budget_mb). */
export async function fetchResidentStatus(path: string): Promise<{ budget_bytes: number; resident_bytes: number; simulations: number; databases: number }> {
  return (await request('distances/status', { path })).json();
}

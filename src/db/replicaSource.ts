/**
 * The explorer model's slices over the worker's replica (issue 18): the replica holds the file's
 * metadata without its distance rows, and a method's distances come as one frame from the
 * server the first time a slice of it is asked for. Concurrent asks for one method share one
 * fetch; the size limit (maxDatabaseMB) bounds the replica plus the distances held, so methods
 * not on screen are dropped before a new one is refused.
 */
import type { IBaseTable, IMethodInfo, ISlice } from './slices';
import type { IPredictionSet } from './predictions';
import type { ISliceSource } from '../model/explorer';
import { errorKind, type INewMatches } from './api';

/**
 * The size limit's one line (the server's 413 says the same): what the panel would hold, the
 * limit, and the setting that moves it.
 */
export function tooLargeMessage(path: string, bytes: number, maxBytes: number): string {
  const mb = (n: number) => (n / 1048576).toFixed(0);
  return `${path}: the panel's copy would be ${mb(bytes)} MB, above the ${mb(maxBytes)} MB limit (Settings → DSI Explorer → maxDatabaseMB).`;
}

/** The part of the worker's API (comlink, so every call is async) a ReplicaSource uses. */
export interface IReplicaApi {
  table(): Promise<IBaseTable>;
  slice(methodId: string | null, t: number): Promise<ISlice>;
  methodInfo(methodId: string): Promise<IMethodInfo>;
  predictions(): Promise<IPredictionSet[]>;
  hasDistances(methodId: string): Promise<boolean>;
  dropDistances(keep: string[]): Promise<void>;
  distanceBytes(): Promise<number>;
  newMatches(datasetIds: string[]): Promise<INewMatches>;
}

export interface IReplicaSourceOptions {
  api: IReplicaApi;
  /** Hand a frame to the worker (the client transfers it: the buffer is detached after). */
  putDistances(methodId: string, frame: ArrayBuffer): Promise<void>;
  /** A stored method's frame from the server; above `maxBytes` the server refuses (413). */
  fetchDistances(methodId: string, maxBytes: number): Promise<ArrayBuffer>;
  /** The database's path, for the size limit's message. */
  path: string;
  /** maxDatabaseMB in bytes (Infinity: no limit); read at each fetch, the setting may change. */
  limitBytes?: () => number;
  /** The bytes of the replica the worker holds (the catch-ups change it). */
  replicaBytes?: () => number;
  /** The methods on screen: their distances are kept when others are dropped for room. */
  onScreen?: () => (string | null)[];
  /** The base table's rows (the summary's simulations), for the size limit before table() is read. */
  rows?: number;
  /**
   * Told when a method's distances cannot be had for a slice (refused above the limit, the
   * server unreachable); the slice still rejects. The method picker does not await its change,
   * so without this the line would reach no one.
   */
  onLoadFailed?: (methodId: string, error: Error) => void;
}

export class ReplicaSource implements ISliceSource {
  constructor(options: IReplicaSourceOptions) {
    this._options = options;
    this._rows = options.rows ?? null;
  }

  async table(): Promise<IBaseTable> {
    const table = await this._options.api.table();
    this._rows = table.ids.length;
    return table;
  }

  async slice(methodId: string | null, t: number): Promise<ISlice> {
    if (methodId === null) {
      return this._options.api.slice(null, t);
    }
    await this._loadOrSay(methodId);
    try {
      return await this._options.api.slice(methodId, t);
    } catch (error) {
      if (errorKind(error) !== 'not-loaded') {
        throw error;
      }
      // Dropped since it was loaded (room for another method, a catch-up that replaced a
      // scratch): load it again, once.
      this._loaded.delete(methodId);
      await this._loadOrSay(methodId);
      return this._options.api.slice(methodId, t);
    }
  }

  private async _loadOrSay(methodId: string): Promise<void> {
    try {
      await this.load(methodId);
    } catch (error) {
      this._options.onLoadFailed?.(methodId, error as Error);
      throw error;
    }
  }

  methodInfo(methodId: string): Promise<IMethodInfo> {
    return this._options.api.methodInfo(methodId);
  }

  predictions(): Promise<IPredictionSet[]> {
    return this._options.api.predictions();
  }

  /**
   * How many simulations ingested after each dataset its filter now matches (null: cannot be
   * said). The worker needs the distances of a dataset's method to count it: those it lacks are
   * loaded one method at a time (each may drop the last for room), and it is asked again for the
   * datasets not counted yet.
   */
  async newMatches(datasetIds: string[]): Promise<Record<string, number | null>> {
    const counts: Record<string, number | null> = {};
    let pending = [...datasetIds];
    const tried = new Set<string>();
    while (pending.length > 0) {
      const answer = await this._options.api.newMatches(pending);
      Object.assign(counts, answer.counts);
      pending = pending.filter(id => !(id in counts));
      const next = answer.missing.find(m => !tried.has(m));
      if (pending.length === 0 || next === undefined) {
        break; // a method loaded and still missing would loop forever: its datasets stay unknown
      }
      tried.add(next);
      this._loaded.delete(next); // the worker says it lacks it, whatever was known here
      try {
        await this.load(next);
      } catch (error) {
        // Not loadable (above the limit, gone from the file): its datasets' counts are unknown,
        // as a note beside a dataset is not worth an error.
        console.warn(`jupyterlab-dsi: new matches of the datasets of method ${next.slice(0, 8)} not counted`, error);
      }
    }
    for (const id of pending) {
      counts[id] = null;
    }
    return counts;
  }

  /**
   * Make the method's distances available to slices: nothing when the worker has them (a cube,
   * the rows in a full file, a scratch), else the server's frame, fetched once however many ask.
   */
  load(methodId: string): Promise<void> {
    return this._start(methodId).done;
  }

  /**
   * Start loading a method; resolves once its frame is on the way (or none is needed, or the
   * load failed: its slice says why). The worker is free for other calls from then on: opening
   * a database asks for the newest method's frame before the model reads the base table, so
   * the download runs beside that read instead of after it.
   */
  prefetch(methodId: string): Promise<void> {
    return this._start(methodId).requested;
  }

  private _start(methodId: string): { done: Promise<void>; requested: Promise<void> } {
    if (this._loaded.has(methodId)) {
      const done = Promise.resolve();
      return { done, requested: done };
    }
    let loading = this._loading.get(methodId);
    if (!loading) {
      let requested: () => void = () => undefined;
      const sent = new Promise<void>(resolve => (requested = resolve));
      const done = this._load(methodId, requested).finally(() => {
        this._loading.delete(methodId);
        requested();
      });
      // Handled here too: a prefetch's failure is not awaited, the slice asking next says it.
      done.catch(() => undefined);
      loading = { done, requested: sent };
      this._loading.set(methodId, loading);
    }
    return loading;
  }

  /** Forget what was loaded (the worker opened another file, or its state is unknown). */
  forget(): void {
    this._loaded.clear();
  }

  private async _load(methodId: string, requested: () => void): Promise<void> {
    const { api } = this._options;
    if (await api.hasDistances(methodId)) {
      this._loaded.add(methodId);
      return;
    }
    const room = await this._roomFor(methodId);
    const fetching = this._options.fetchDistances(methodId, room);
    requested();
    const frame = await fetching;
    await this._options.putDistances(methodId, frame);
    this._loaded.add(methodId);
  }

  /**
   * The bytes a frame of `methodId` may take under the limit: when the replica, the distances
   * held and this method's would pass it, the distances of methods neither on screen nor being
   * loaded are dropped first; refused (one line naming the setting) only when the replica, the
   * methods on screen and this one alone pass it.
   */
  private async _roomFor(methodId: string): Promise<number> {
    const limit = this._options.limitBytes?.() ?? Infinity;
    if (!Number.isFinite(limit)) {
      return Infinity;
    }
    const { api } = this._options;
    // A cube is one float32 per simulation (the base table's rows), step and distance column.
    const rows = this._rows ?? (await this.table()).ids.length;
    const need = rows * (await api.methodInfo(methodId)).steps * 3 * 4;
    const replica = this._options.replicaBytes?.() ?? 0;
    let held = await api.distanceBytes();
    if (replica + held + need > limit && held > 0) {
      const keep = new Set<string>([...this._loading.keys()].filter(id => id !== methodId));
      for (const id of this._options.onScreen?.() ?? []) {
        if (id !== null) {
          keep.add(id);
        }
      }
      await api.dropDistances([...keep]);
      for (const id of [...this._loaded]) {
        if (!keep.has(id)) {
          this._loaded.delete(id);
        }
      }
      held = await api.distanceBytes();
    }
    if (replica + held + need > limit) {
      throw new Error(tooLargeMessage(this._options.path, replica + held + need, limit));
    }
    return limit - replica - held;
  }

  private _options: IReplicaSourceOptions;
  /** Methods the worker is known to answer slices of without a fetch. */
  private _loaded = new Set<string>();
  /** The fetch of each method in flight: a second ask waits for it instead of fetching again. */
  private _loading = new Map<string, { done: Promise<void>; requested: Promise<void> }>();
  /** The base table's rows (the cube's first dimension), once read. */
  private _rows: number | null = null;
}

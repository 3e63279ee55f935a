/**
 * Talk to a started database worker through comlink, and fail loudly when it cannot.
 *
 * comlink alone waits forever for an answer from a worker whose script never loaded (a 404
 * after the extension was rebuilt while the page was open) or that died: the panel would show
 * "Loading…" for good. Here the worker must answer a first ping within a deadline, and an
 * `error` event on it (no script, or a crash later) ends it: every pending and later call
 * rejects with a `WorkerFailedError` whose message names the problem and the way out.
 *
 * This module has no `import.meta` (client.ts creates the Worker), so jest tests it with a fake.
 */
import * as Comlink from 'comlink';

import type { IDatabaseWorkerApi, ISummary } from './api';

/** What the worker exposes: the database API and a ping that answers once it is running. */
export interface IDatabaseWorker extends IDatabaseWorkerApi {
  ping(): string;
}

/** What `ping` answers. */
export const PONG = 'pong';

/** How long a new worker has to answer its first ping, in milliseconds. */
export const WORKER_START_TIMEOUT_MS = 30000;

/** Why the database worker cannot answer: it did not start, or it stopped. */
export class WorkerFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerFailedError';
  }
}

/** A running database worker. */
export interface IDatabaseClient {
  /**
   * The worker's API. Errors thrown there arrive as plain Errors whose `name` carries the kind:
   * read it with `errorKind(e)` from ./api. When the worker did not start or stopped, every
   * call rejects with a `WorkerFailedError`.
   */
  readonly api: Comlink.Remote<IDatabaseWorkerApi>;
  /**
   * Open a database from the bytes of its file, replacing any open one.
   *
   * The bytes are transferred to the worker, not copied: when `bytes` spans its whole
   * ArrayBuffer, that buffer is detached and unusable afterwards by the caller. `keepScratch` (a
   * catch-up of the same file) keeps the scratch method in the new replica.
   */
  open(bytes: Uint8Array | ArrayBuffer, keepScratch?: boolean): Promise<ISummary>;
  /**
   * Hand a stored method's distances (a frame of GET distances) to the worker. The buffer is
   * transferred, not copied (a method's frame is megabytes): it is detached afterwards.
   */
  putDistances(methodId: string, bytes: ArrayBuffer): Promise<void>;
  /** Why the worker cannot answer (it is terminated then), or null while it can. */
  readonly failure: WorkerFailedError | null;
  /** Whether `dispose` was called, or the worker failed (a new client is needed either way). */
  readonly isDisposed: boolean;
  /** Terminate the worker (and with it the open database). */
  dispose(): void;
}

/** The part of a Worker this module uses (a fake one in tests). */
export interface IWorkerLike extends Comlink.Endpoint {
  terminate(): void;
}

export interface IConnectOptions {
  /** How long the worker has to answer its first ping (default WORKER_START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Called once when the worker fails (after pending calls were rejected). */
  onFailure?: (error: WorkerFailedError) => void;
}

/** The message for a worker that never answered. */
export function startFailureMessage(detail: string): string {
  return (
    `The DSI Explorer's worker could not start (${detail}): reload the page ` +
    '(the extension was probably rebuilt or reinstalled since the page was loaded).'
  );
}

/** The message for a worker that stopped after it had started. */
export function crashMessage(detail: string): string {
  return `The DSI Explorer's worker stopped (${detail}): press Reload to start it again, or reload the page.`;
}

/**
 * The ArrayBuffer to transfer for `bytes`: its own buffer when it spans it all, else a copy
 * (transferring a larger buffer would both send unrelated bytes and detach them).
 */
function transferable(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) {
    return bytes;
  }
  const { buffer, byteOffset, byteLength } = bytes;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) {
    return buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** What an error event says, if anything (a script that failed to load gives a bare Event). */
function eventDetail(event: Event): string | null {
  const message = (event as ErrorEvent).message;
  if (typeof message === 'string' && message) {
    const file = (event as ErrorEvent).filename;
    const line = (event as ErrorEvent).lineno;
    return file ? `${message} at ${file}${line ? `:${line}` : ''}` : message;
  }
  return null;
}

/** Talk to `worker`, which exposes an `IDatabaseWorker` through comlink. */
export function connectDatabaseWorker(worker: IWorkerLike, options: IConnectOptions = {}): IDatabaseClient {
  const remote = Comlink.wrap<IDatabaseWorker>(worker);
  let disposed = false;
  let started = false;
  let failure: WorkerFailedError | null = null;
  let rejectFailed: (error: WorkerFailedError) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => undefined); // only read by the calls raced against it
  let timer: ReturnType<typeof setTimeout> | undefined;

  const fail = (message: string, event?: Event): void => {
    if (failure || disposed) {
      return;
    }
    failure = new WorkerFailedError(message);
    clearTimeout(timer);
    worker.removeEventListener('error', onError);
    worker.terminate();
    console.error(`jupyterlab-dsi: ${message}`, ...(event ? [event] : []));
    rejectFailed(failure);
    options.onFailure?.(failure);
  };

  const onError = (event: Event): void => {
    event.preventDefault?.(); // reported here, with what to do, instead of as an uncaught error
    const detail = eventDetail(event);
    if (started) {
      fail(crashMessage(detail ?? 'an error without a message'), event);
    } else {
      // A script that failed to load (a 404) fires a bare Event: the browser tells no more.
      fail(startFailureMessage(detail ?? 'its script did not load'), event);
    }
  };
  worker.addEventListener('error', onError);

  const timeoutMs = options.startTimeoutMs ?? WORKER_START_TIMEOUT_MS;
  timer = setTimeout(() => {
    const wait = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
    fail(startFailureMessage(`no answer within ${wait}`));
  }, timeoutMs);
  Promise.race([remote.ping(), failed]).then(
    () => {
      started = true;
      clearTimeout(timer);
    },
    () => undefined // failed: already reported
  );

  /** `call()` unless the worker failed: then its failure, also while the call is pending. */
  const guard = <T>(call: () => Promise<T>): Promise<T> =>
    failure ? Promise.reject(failure) : Promise.race([call(), failed]);

  // Every method of the API, guarded. The API is flat: one level of async methods.
  const api = new Proxy(remote, {
    get(target, prop, receiver) {
      if (typeof prop !== 'string') {
        return Reflect.get(target, prop, receiver); // comlink's symbols (releaseProxy)
      }
      if (prop === 'then') {
        return undefined; // the API object itself is not a promise
      }
      return (...args: unknown[]) =>
        guard(() => (target as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop](...args));
    }
  }) as unknown as Comlink.Remote<IDatabaseWorkerApi>;

  return {
    api,
    open(bytes: Uint8Array | ArrayBuffer, keepScratch = false): Promise<ISummary> {
      if (failure) {
        return Promise.reject(failure); // keep the caller's bytes: nothing can take them
      }
      const buffer = transferable(bytes);
      return api.open(Comlink.transfer(buffer, [buffer]), keepScratch);
    },
    putDistances(methodId: string, bytes: ArrayBuffer): Promise<void> {
      if (failure) {
        return Promise.reject(failure); // keep the caller's bytes: nothing can take them
      }
      return api.putDistances(methodId, Comlink.transfer(bytes, [bytes]));
    },
    get failure(): WorkerFailedError | null {
      return failure;
    },
    get isDisposed(): boolean {
      return disposed || failure !== null;
    },
    dispose(): void {
      if (disposed) {
        return;
      }
      disposed = true;
      clearTimeout(timer);
      worker.removeEventListener('error', onError);
      if (!failure) {
        remote[Comlink.releaseProxy]();
        worker.terminate();
      }
    }
  };
}

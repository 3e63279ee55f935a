/**
 * Start the database worker and talk to it through comlink.
 *
 * Tests cannot load this module under jest (it uses `import.meta`, and jsdom has no Worker):
 * mock it with a factory, `jest.mock('../db/client', () => ({ createDatabaseClient: ... }))`,
 * and drive `DatabaseApi` / `createWorkerApi` from ./api directly.
 */
import * as Comlink from 'comlink';

import type { IDatabaseWorkerApi, ISummary } from './api';

/** A running database worker. */
export interface IDatabaseClient {
  /**
   * The worker's API. Errors thrown there arrive as plain Errors whose `name` carries the kind:
   * read it with `errorKind(e)` from ./api.
   */
  readonly api: Comlink.Remote<IDatabaseWorkerApi>;
  /**
   * Open a database from the bytes of its file, replacing any open one.
   *
   * The bytes are transferred to the worker, not copied: when `bytes` spans its whole
   * ArrayBuffer, that buffer is detached and unusable afterwards by the caller.
   */
  open(bytes: Uint8Array | ArrayBuffer): Promise<ISummary>;
  /** Whether `dispose` was called. */
  readonly isDisposed: boolean;
  /** Terminate the worker (and with it the open database). */
  dispose(): void;
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

/** Start a database worker. */
export function createDatabaseClient(): IDatabaseClient {
  // Written against the compiled lib/db/worker.js next to lib/db/client.js; rspack bundles it.
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<IDatabaseWorkerApi>(worker);
  let disposed = false;
  return {
    api,
    open(bytes: Uint8Array | ArrayBuffer): Promise<ISummary> {
      const buffer = transferable(bytes);
      return api.open(Comlink.transfer(buffer, [buffer]));
    },
    get isDisposed(): boolean {
      return disposed;
    },
    dispose(): void {
      if (disposed) {
        return;
      }
      disposed = true;
      api[Comlink.releaseProxy]();
      worker.terminate();
    }
  };
}

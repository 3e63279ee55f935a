/**
 * The Web Worker that holds the read-only sql.js replica of the database.
 *
 * It exposes `IDatabaseWorkerApi` (see ./api) through comlink; `client.ts` starts it.
 */
import * as Comlink from 'comlink';
import initSqlJs from 'sql.js';

import { createWorkerApi } from './api';
import { IDatabaseWorker, PONG } from './connect';

/**
 * The sql.js WebAssembly binary, emitted by the bundler as an asset next to this worker.
 * The browser build of sql.js asks for `sql-wasm-browser.wasm`, which is byte-identical to
 * `sql-wasm.wasm`: the requested name is ignored.
 */
const wasmUrl = new URL('sql.js/dist/sql-wasm.wasm', import.meta.url).href;

// Eager: the wasm is fetched and compiled when the worker starts (the panel starts it before it
// asks the server for the replica), not on the first open.
const api = createWorkerApi(() => initSqlJs({ locateFile: () => wasmUrl }), true);

// A slice's columns are made fresh for each call (copies of its step's range of the method's
// distance cube, cubes.ts): hand their buffers over instead of copying them again.
// putDistances receives its frame's buffer transferred by connect.ts: it is not copied either.
// (The parameter table is cached here, so it is copied: transferring would detach the cache.)
// `ping` tells client.ts that this script loaded and runs.
const exposed: IDatabaseWorker = {
  ...api,
  ping: () => PONG,
  slice: async (methodId, t) => {
    const slice = await api.slice(methodId, t);
    return Comlink.transfer(slice, [
      slice.dShock.buffer as ArrayBuffer,
      slice.dEdge.buffer as ArrayBuffer,
      slice.dDensity.buffer as ArrayBuffer,
      ...slice.metrics.map(m => m.values.buffer as ArrayBuffer)
    ]);
  }
};

Comlink.expose(exposed);

/**
 * A database worker that cannot start, or stops, ends every call with an error that says so,
 * instead of leaving the panel on "Loading…" (comlink alone waits for ever).
 */
import { MessageChannel, MessagePort } from 'worker_threads';

import * as Comlink from 'comlink';

import type { ISummary } from '../api';
import { connectDatabaseWorker, IDatabaseWorker, PONG, WorkerFailedError } from '../connect';

/**
 * A Worker as the page sees one: messages go to `inner` (the worker's side, where a test
 * exposes an API with comlink, or nothing: a script that never loaded), and the test fires
 * `error` on it as the browser does.
 */
class FakeWorker extends EventTarget {
  readonly inner: MessagePort;
  terminated = false;
  private readonly _outer: MessagePort;

  constructor() {
    super();
    const { port1, port2 } = new MessageChannel();
    this.inner = port1;
    this._outer = port2;
    this._outer.on('message', (data: unknown) => {
      this.dispatchEvent(new MessageEvent('message', { data }));
    });
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    if (!this.terminated) {
      this._outer.postMessage(message, transfer as any);
    }
  }

  terminate(): void {
    this.terminated = true;
    this.inner.close();
    this._outer.close();
  }

  /** What the browser fires: a bare Event for a script that did not load, else an ErrorEvent. */
  fail(message?: string): void {
    this.dispatchEvent(message === undefined ? new Event('error') : new ErrorEvent('error', { message }));
  }
}

const SUMMARY = { simulations: 3 } as unknown as ISummary;

/** A worker's side that answers ping and summary, and never answers `datasets`. */
function running(worker: FakeWorker): { calls: string[] } {
  const calls: string[] = [];
  const api: Partial<IDatabaseWorker> = {
    ping: () => PONG,
    summary: async () => SUMMARY,
    open: async () => SUMMARY,
    datasets: () => {
      calls.push('datasets');
      return new Promise(() => undefined);
    }
  };
  Comlink.expose(api, worker.inner as unknown as Comlink.Endpoint);
  return { calls };
}

let workers: FakeWorker[] = [];
let consoleError: jest.SpyInstance;

beforeEach(() => {
  consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  workers.forEach(w => w.terminate());
  workers = [];
  consoleError.mockRestore();
});

function fake(): FakeWorker {
  const worker = new FakeWorker();
  workers.push(worker);
  return worker;
}

describe('a worker whose script does not load', () => {
  it('rejects open() with what happened and what to do, logs it, and terminates the worker', async () => {
    const worker = fake(); // nothing exposed: the script never ran
    const client = connectDatabaseWorker(worker);
    const opening = client.open(new Uint8Array([1, 2, 3]));
    worker.fail();
    const error = await opening.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerFailedError);
    expect((error as Error).message).toBe(
      "The DSI Explorer's worker could not start (its script did not load): " +
        'reload the page (the extension was probably rebuilt or reinstalled since the page was loaded).'
    );
    expect(consoleError).toHaveBeenCalledWith(`jupyterlab-dsi: ${(error as Error).message}`, expect.any(Event));
    expect(worker.terminated).toBe(true);
    expect(client.failure).toBe(error);
    expect(client.isDisposed).toBe(true);
    // Later calls do not wait either.
    await expect(client.api.summary()).rejects.toBe(error);
    await expect(client.open(new Uint8Array([1]))).rejects.toBe(error);
  });

  it('passes on what an error event thrown while the script starts says', async () => {
    const worker = fake();
    const client = connectDatabaseWorker(worker);
    const opening = client.open(new Uint8Array([1]));
    worker.fail("SyntaxError: Unexpected token '<'");
    await expect(opening).rejects.toThrow(
      "The DSI Explorer's worker could not start (SyntaxError: Unexpected token '<'): reload the page"
    );
  });

  it('rejects when the worker does not answer its first ping by the deadline', async () => {
    const worker = fake(); // loaded, but never runs comlink's expose (a chunk it needs failed)
    const onFailure = jest.fn();
    const client = connectDatabaseWorker(worker, { startTimeoutMs: 50, onFailure });
    const error = await client.api.methods().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^The DSI Explorer's worker could not start \(no answer within 50 ms\): reload the page/);
    expect(onFailure).toHaveBeenCalledWith(error);
    expect(worker.terminated).toBe(true);
  });
});

describe('a worker that stops after it started', () => {
  it('rejects the pending calls and the later ones, and reports it once', async () => {
    const worker = fake();
    const { calls } = running(worker);
    const onFailure = jest.fn();
    const client = connectDatabaseWorker(worker, { startTimeoutMs: 60000, onFailure });
    expect((await client.open(new Uint8Array([1, 2]))).simulations).toBe(3);

    const pending = client.api.datasets();
    await new Promise<void>(resolve => {
      const wait = () => (calls.length ? resolve() : setTimeout(wait, 1));
      wait();
    });
    worker.fail('RuntimeError: memory access out of bounds');
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerFailedError);
    expect((error as Error).message).toBe(
      "The DSI Explorer's worker stopped (RuntimeError: memory access out of bounds): press Reload to start it again, or reload the page."
    );
    await expect(client.api.summary()).rejects.toBe(error);
    worker.fail('again');
    expect(onFailure).toHaveBeenCalledTimes(1);
    expect(consoleError).toHaveBeenCalledTimes(1);
  });

  it('leaves a working worker alone: no failure once it answered, and dispose terminates it', async () => {
    const worker = fake();
    running(worker);
    const client = connectDatabaseWorker(worker, { startTimeoutMs: 20 });
    expect((await client.api.summary()).simulations).toBe(3);
    await new Promise(resolve => setTimeout(resolve, 40)); // past the start deadline
    expect(client.failure).toBeNull();
    expect((await client.api.summary()).simulations).toBe(3);
    client.dispose();
    expect(worker.terminated).toBe(true);
    expect(client.isDisposed).toBe(true);
    expect(consoleError).not.toHaveBeenCalled();
  });
});

describe("a method's distances handed to the worker", () => {
  it('are transferred, not copied: the worker gets the bytes, the caller keeps a detached buffer', async () => {
    const worker = fake();
    const received: [string, number][] = [];
    const api: Partial<IDatabaseWorker> = {
      ping: () => PONG,
      putDistances: async (methodId: string, frame: ArrayBuffer) => {
        received.push([methodId, frame.byteLength]);
      }
    };
    Comlink.expose(api, worker.inner as unknown as Comlink.Endpoint);
    const client = connectDatabaseWorker(worker, { startTimeoutMs: 60000 });
    const frame = new ArrayBuffer(1024);
    await client.putDistances('m1', frame);
    expect(received).toEqual([['m1', 1024]]);
    expect(frame.byteLength).toBe(0); // detached: a 35 MB frame is not held twice
  });
});

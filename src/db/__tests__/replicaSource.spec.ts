/**
 * ReplicaSource (issue 18) against a double of the worker that holds distance cubes as the real
 * one does (bytes = rows × steps × 3 × 4): a method's frame is fetched once however many slices
 * ask at once, never for a method the worker holds, again after the worker dropped it; new
 * matches load the methods the worker says are missing; the size limit drops methods not on
 * screen before it refuses, and refuses with the setting's line before fetching.
 */
import type { IBaseTable, ISlice } from '../slices';
import { DatabaseError, type INewMatches } from '../api';
import { IReplicaApi, ReplicaSource, tooLargeMessage } from '../replicaSource';

const ROWS = 1000;
const MB = 1048576;

/** A worker double: methods with their step counts; `held` cubes; datasets by method. */
class FakeWorker implements IReplicaApi {
  steps: Record<string, number> = { m1: 40, m2: 40, m3: 40 };
  /** Methods whose distances the replica itself holds (a full file, a scratch). */
  native = new Set<string>();
  held = new Map<string, number>();
  datasets: Record<string, string> = {};
  calls: string[] = [];

  async table(): Promise<IBaseTable> {
    this.calls.push('table');
    return { ids: Array.from({ length: ROWS }, (_, i) => `s${i}`), parameters: [], runMetrics: [], stepMetrics: [], metricSteps: 0, times: [] };
  }
  async slice(methodId: string | null, t: number): Promise<ISlice> {
    this.calls.push(`slice ${methodId} ${t}`);
    if (methodId !== null && !this.held.has(methodId) && !this.native.has(methodId)) {
      // As it arrives across comlink: a plain Error whose name carries the kind.
      const { name, message } = new DatabaseError('not-loaded', `The distances of method ${methodId} are not loaded yet.`);
      throw Object.assign(new Error(message), { name });
    }
    const empty = new Float32Array(ROWS);
    return { methodId, t, dShock: empty, dEdge: empty, dDensity: empty, metrics: [] };
  }
  async methodInfo(methodId: string) {
    return { steps: this.steps[methodId], distances: ['d_density'] };
  }
  async predictions() {
    return [];
  }
  async hasDistances(methodId: string): Promise<boolean> {
    this.calls.push(`has ${methodId}`);
    return this.held.has(methodId) || this.native.has(methodId);
  }
  async dropDistances(keep: string[]): Promise<void> {
    this.calls.push(`drop keep=${[...keep].sort().join(',')}`);
    for (const id of [...this.held.keys()]) {
      if (!keep.includes(id)) {
        this.held.delete(id);
      }
    }
  }
  async distanceBytes(): Promise<number> {
    return [...this.held.values()].reduce((a, b) => a + b, 0);
  }
  async newMatches(datasetIds: string[]): Promise<INewMatches> {
    this.calls.push(`newMatches ${datasetIds.join(',')}`);
    const counts: Record<string, number | null> = {};
    const missing = new Set<string>();
    for (const id of datasetIds) {
      const method = this.datasets[id];
      if (method && !this.held.has(method) && !this.native.has(method)) {
        missing.add(method);
      } else {
        counts[id] = method ? 7 : null;
      }
    }
    return { counts, missing: [...missing] };
  }
  cubeBytes(methodId: string): number {
    return ROWS * this.steps[methodId] * 12;
  }
}

interface IHarness {
  worker: FakeWorker;
  source: ReplicaSource;
  fetched: { methodId: string; maxBytes: number }[];
  /** Answer the fetches from here instead of at once (one resolver per fetch). */
  hold: boolean;
  answers: (() => void)[];
  onScreen: (string | null)[];
  limit: number;
  /** What onLoadFailed heard: method id and message. */
  failures: string[];
}

function harness(limit = Infinity, replicaBytes = 2 * MB): IHarness {
  const worker = new FakeWorker();
  const h: IHarness = { worker, fetched: [], hold: false, answers: [], onScreen: [], limit, failures: [], source: null as unknown as ReplicaSource };
  h.source = new ReplicaSource({
    api: worker,
    path: 'big.sqlite',
    fetchDistances: (methodId, maxBytes) => {
      h.fetched.push({ methodId, maxBytes });
      if (methodId === 'gone') {
        return Promise.reject(new Error('no method gone in big.sqlite'));
      }
      const frame = new ArrayBuffer(worker.cubeBytes(methodId));
      return h.hold ? new Promise(resolve => h.answers.push(() => resolve(frame))) : Promise.resolve(frame);
    },
    putDistances: async (methodId, frame) => {
      worker.calls.push(`put ${methodId}`);
      worker.held.set(methodId, frame.byteLength);
    },
    limitBytes: () => h.limit,
    replicaBytes: () => replicaBytes,
    onScreen: () => h.onScreen,
    onLoadFailed: (methodId, error) => h.failures.push(`${methodId}: ${error.message}`)
  });
  return h;
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('ReplicaSource', () => {
  it('fetches a method once, puts it, and slices it without asking again', async () => {
    const h = harness();
    await h.source.slice('m1', 3);
    await h.source.slice('m1', 4);
    expect(h.fetched.map(f => f.methodId)).toEqual(['m1']);
    expect(h.fetched[0].maxBytes).toBe(Infinity);
    expect(h.worker.calls).toEqual(['has m1', 'put m1', 'slice m1 3', 'slice m1 4']);
  });

  it('shares one fetch between concurrent slices of a method', async () => {
    const h = harness();
    h.hold = true;
    const slices = [h.source.slice('m1', 0), h.source.slice('m1', 1), h.source.slice('m1', 2)];
    await flush();
    expect(h.fetched).toHaveLength(1);
    expect(h.answers).toHaveLength(1);
    h.answers[0]();
    const answered = await Promise.all(slices);
    expect(answered.map(s => s.t)).toEqual([0, 1, 2]);
    expect(h.worker.calls.filter(c => c.startsWith('put'))).toEqual(['put m1']);
  });

  it('never fetches what the worker holds itself, nor for no method', async () => {
    const h = harness();
    h.worker.native.add('m2');
    await h.source.slice('m2', 1);
    await h.source.slice(null, 1);
    expect(h.fetched).toEqual([]);
    expect(h.worker.calls).toEqual(['has m2', 'slice m2 1', 'slice null 1']);
  });

  it('loads a method again after the worker dropped it, once', async () => {
    const h = harness();
    await h.source.slice('m1', 0);
    h.worker.held.clear(); // dropped behind the source's back (another panel action, a catch-up)
    await h.source.slice('m1', 1);
    expect(h.fetched.map(f => f.methodId)).toEqual(['m1', 'm1']);
  });

  it('does not keep a failed fetch: the next ask tries again, with the server’s line', async () => {
    const h = harness();
    h.worker.steps.gone = 2;
    await expect(h.source.slice('gone', 0)).rejects.toThrow('no method gone in big.sqlite');
    await expect(h.source.slice('gone', 0)).rejects.toThrow('no method gone in big.sqlite');
    expect(h.fetched).toHaveLength(2);
    // Said each time, for a picker that does not await the slice.
    expect(h.failures).toEqual(['gone: no method gone in big.sqlite', 'gone: no method gone in big.sqlite']);
  });

  it('counts new matches by loading the methods the worker says are missing', async () => {
    const h = harness();
    h.worker.datasets = { d1: 'm1', d2: 'm2', d3: 'm1', d4: '' };
    const counts = await h.source.newMatches(['d1', 'd2', 'd3', 'd4']);
    expect(counts).toEqual({ d1: 7, d2: 7, d3: 7, d4: null });
    expect(h.fetched.map(f => f.methodId).sort()).toEqual(['m1', 'm2']);
    // Each round asks only for the datasets not counted yet.
    expect(h.worker.calls.filter(c => c.startsWith('newMatches'))).toEqual([
      'newMatches d1,d2,d3,d4',
      'newMatches d1,d2,d3',
      'newMatches d2'
    ]);
  });

  it('gives null for datasets whose method cannot be loaded, without looping', async () => {
    const h = harness();
    h.worker.steps.gone = 2;
    h.worker.datasets = { d1: 'gone', d2: 'm1' };
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const counts = await h.source.newMatches(['d1', 'd2']);
    expect(counts).toEqual({ d1: null, d2: 7 });
    expect(h.fetched.filter(f => f.methodId === 'gone')).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it('drops the methods not on screen before passing the limit, and sends the room left', async () => {
    const cube = ROWS * 40 * 12; // 480,000 bytes
    const h = harness(2 * MB + 2 * cube + 1000);
    h.onScreen = ['m1'];
    await h.source.slice('m1', 0);
    expect(h.fetched[0].maxBytes).toBe(2 * cube + 1000);
    await h.source.slice('m2', 0); // fits beside m1
    expect(h.worker.calls.some(c => c.startsWith('drop'))).toBe(false);
    h.onScreen = ['m3'];
    await h.source.slice('m3', 0); // m1 and m2 are off screen: dropped for it
    expect(h.worker.calls.filter(c => c.startsWith('drop'))).toEqual(['drop keep=m3']);
    expect([...h.worker.held.keys()]).toEqual(['m3']);
    expect(h.fetched[2]).toEqual({ methodId: 'm3', maxBytes: 2 * cube + 1000 });
    // m1 was dropped: it is fetched again, not sliced as if held.
    await h.source.slice('m1', 0);
    expect(h.fetched.map(f => f.methodId)).toEqual(['m1', 'm2', 'm3', 'm1']);
  });

  it('refuses with the setting named, before fetching, when what the view needs passes the limit', async () => {
    const h = harness(2 * MB + ROWS * 40 * 12 - 1);
    await expect(h.source.slice('m1', 0)).rejects.toThrow(
      "big.sqlite: the panel's copy would be 2 MB, above the 2 MB limit (Settings → DSI Explorer → maxDatabaseMB)."
    );
    expect(h.fetched).toEqual([]);
    // The methods on screen stay: the one asked for does not push them out.
    h.limit = 2 * MB + 2 * ROWS * 40 * 12 - 1;
    h.onScreen = ['m1'];
    await h.source.slice('m1', 0);
    await expect(h.source.slice('m2', 0)).rejects.toThrow(/above the 3 MB limit/);
    expect([...h.worker.held.keys()]).toEqual(['m1']);
  });

  it('says sizes in whole megabytes', () => {
    expect(tooLargeMessage('a.sqlite', 600 * MB, 512 * MB)).toBe(
      "a.sqlite: the panel's copy would be 600 MB, above the 512 MB limit (Settings → DSI Explorer → maxDatabaseMB)."
    );
  });
});

describe('ReplicaSource.prefetch', () => {
  it('resolves once the frame is asked for, before it arrives; the slice joins that fetch', async () => {
    const h = harness();
    h.hold = true;
    await h.source.prefetch('m1');
    expect(h.fetched.map(f => f.methodId)).toEqual(['m1']);
    expect(h.worker.calls).toEqual(['has m1']); // not put yet: the frame is still on its way
    const slice = h.source.slice('m1', 2);
    await flush();
    expect(h.fetched).toHaveLength(1);
    h.answers[0]();
    expect((await slice).t).toBe(2);
    expect(h.worker.calls).toEqual(['has m1', 'put m1', 'slice m1 2']);
  });

  it('resolves for a method the worker holds, and after a failed load (its slice says why)', async () => {
    const h = harness();
    h.worker.native.add('m2');
    await h.source.prefetch('m2');
    h.worker.steps.gone = 1;
    h.limit = 1; // nothing fits: refused before any fetch
    await h.source.prefetch('gone');
    expect(h.fetched).toEqual([]);
  });
});

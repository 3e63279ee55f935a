/**
 * The explorer panel's replica, catch-ups and its one restore, with the server and the worker as
 * doubles: the shown method's distances are fetched once and kept across catch-ups; catch-ups
 * never run two at once (asks meanwhile share one more run, and each caller waits until the
 * replica is caught up past its ask); every "restore a dataset by id" path finds a dataset
 * saved a moment ago, refuses a deleted one, and says a missing one.
 */
import type { IDatasetInfo } from '../../db/slices';
import { ExplorerPanel } from '../explorer';
import { clover, method } from '../../../tests/js/ensembles';
import { datasetInfo } from '../../../tests/js/datasets';

jest.mock('../../db/client', () => ({ createDatabaseClient: jest.fn() }));
jest.mock('../../server', () => ({
  ...jest.requireActual('../../server'),
  fetchDatabase: jest.fn(),
  fetchDistances: jest.fn(),
  fetchEvents: jest.fn(async () => ({ events: [] }))
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as { fetchDatabase: jest.Mock; fetchDistances: jest.Mock };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const clientModule = require('../../db/client') as { createDatabaseClient: jest.Mock };

/** The file's versions: its first byte says which; each has its datasets. */
const VERSIONS: Record<number, IDatasetInfo[]> = {
  1: [datasetInfo('d-live', 'live'), datasetInfo('d-gone', 'gone', { deleted: true })],
  2: [datasetInfo('d-live', 'live')],
  3: [datasetInfo('d-new', 'saved by a kernel'), datasetInfo('d-live', 'live'), datasetInfo('d-gone', 'gone', { deleted: true })]
};

let version = 1;
/** The versions the worker opened, with whether it kept what it held (a catch-up). */
const opened: number[] = [];
const kept: boolean[] = [];
/** The methods whose distances the worker holds (a replica has none until a frame comes). */
const held = new Set<string>();
/** While set, reading the predictions waits on it (a slow read in the worker). */
let predictionsGate: Promise<void> | null = null;

function fakeClient() {
  const api = {
    ...clover(),
    predictions: async () => {
      await predictionsGate;
      return [];
    },
    hasDistances: async (id: string) => held.has(id),
    dropDistances: async () => undefined,
    distanceBytes: async () => 0,
    datasets: async () => VERSIONS[version],
    newMatches: async () => ({ counts: {}, missing: [] }),
    runs: async () => [],
    datasetStats: async () => [],
    runCurves: async () => [],
    splits: async () => [],
    datasetMembers: async () => []
  };
  return {
    api,
    isDisposed: false,
    dispose: () => undefined,
    putDistances: jest.fn(async (id: string) => void held.add(id)),
    open: jest.fn(async (bytes: Uint8Array, keep = false) => {
      if (!keep) {
        held.clear();
      }
      version = bytes[0];
      opened.push(version);
      kept.push(keep);
      return {
        simulations: 8,
        timeSteps: 3,
        parameters: [],
        methods: [method('m1')],
        datasets: VERSIONS[version].filter(d => !d.deleted).length,
        runs: 0,
        lastEventSeq: version,
        schemaVersion: 3
      };
    })
  };
}

const file = (v: number) => ({ bytes: Uint8Array.of(v).buffer, eventSeq: v, replica: true });

let panel: ExplorerPanel;

beforeEach(async () => {
  // jsdom draws no canvas: the views' layers stay blank, quietly.
  jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
  version = 1;
  opened.length = 0;
  kept.length = 0;
  held.clear();
  predictionsGate = null;
  clientModule.createDatabaseClient.mockImplementation(() => fakeClient());
  server.fetchDatabase.mockReset();
  server.fetchDatabase.mockResolvedValueOnce(file(1));
  server.fetchDistances.mockReset();
  server.fetchDistances.mockImplementation(async () => new ArrayBuffer(12));
  panel = new ExplorerPanel({ refreshSeconds: 0 });
  document.body.appendChild(panel.node);
  await panel.open('data/ens.sqlite');
  expect(panel.state.status === 'error' ? panel.state.message : panel.state.status).toBe('ready');
});

afterEach(() => {
  panel.dispose();
  jest.restoreAllMocks();
  document.body.replaceChildren();
});

describe('the explorer panel', () => {
  it('opens the replica, fetches the shown method once, and keeps it across catch-ups', async () => {
    expect(server.fetchDatabase).toHaveBeenCalledWith('data/ens.sqlite', Infinity);
    expect(server.fetchDistances).toHaveBeenCalledTimes(1);
    expect(server.fetchDistances).toHaveBeenCalledWith('data/ens.sqlite', 'm1', Infinity);
    server.fetchDatabase.mockResolvedValue(file(3));
    await panel.refresh();
    await panel.model!.setTime(0); // another slice of the same method
    expect(opened).toEqual([1, 3]);
    expect(kept).toEqual([false, true]);
    expect(server.fetchDistances).toHaveBeenCalledTimes(1);
    expect(panel.state.status === 'ready' && panel.state.summary.lastEventSeq).toBe(3);
  });

  it('never runs two catch-ups at once: asks meanwhile share one more run, each caller caught up past its ask', async () => {
    let answer: (value: unknown) => void = () => undefined;
    let inFlight = 0;
    let most = 0;
    server.fetchDatabase.mockImplementation(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        // The first catch-up's read waits; the file is at version 3 by the time the next reads it.
        return opened.length === 1 ? await new Promise(resolve => (answer = resolve)) : file(3);
      } finally {
        inFlight--;
      }
    });
    const caughtUp: number[] = [];
    const first = panel.refresh().then(() => caughtUp.push(version));
    await Promise.resolve();
    const second = panel.refresh().then(() => caughtUp.push(version));
    const third = panel.refresh().then(() => caughtUp.push(version));
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(server.fetchDatabase).toHaveBeenCalledTimes(2); // the open's and the first catch-up's
    answer(file(2));
    await Promise.all([first, second, third]);
    expect(most).toBe(1);
    expect(server.fetchDatabase).toHaveBeenCalledTimes(3); // one more run for the two asks made meanwhile
    expect(opened).toEqual([1, 2, 3]);
    // The first caller asked before the first read: version 2 is past its ask; the others waited for 3.
    expect(caughtUp).toEqual([2, 3, 3]);
    expect((await panel.datasets()).map(d => d.id)).toContain('d-new');
    expect(panel.state.status === 'ready' && panel.state.summary.lastEventSeq).toBe(3);
  });

  it("shows a catch-up's datasets and counts without waiting on the predictions (a save's row)", async () => {
    const tab = (name: string) => [...panel.node.querySelectorAll('[role="tab"]')].find(t => t.textContent?.startsWith(name)) as HTMLElement;
    tab('Datasets').click();
    let release: () => void = () => undefined;
    predictionsGate = new Promise(resolve => (release = resolve));
    server.fetchDatabase.mockResolvedValue(file(3));
    let done = false;
    const caughtUp = panel.refresh().then(() => (done = true));
    for (let i = 0; i < 100 && !panel.node.textContent?.includes('saved by a kernel'); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(panel.node.textContent).toContain('saved by a kernel');
    expect(tab('Datasets').textContent).toBe('Datasets (2)');
    expect(tab('Datasets').getAttribute('aria-selected')).toBe('true');
    expect(done).toBe(false); // the predictions are still being read
    release();
    await caughtUp;
    expect(panel.state.status === 'ready' && panel.state.summary.lastEventSeq).toBe(3);
  });

  it('asks the server for a replica within maxDatabaseMB', async () => {
    const limited = new ExplorerPanel({ refreshSeconds: 0, maxDatabaseMB: 3 });
    server.fetchDatabase.mockResolvedValueOnce(file(1));
    await limited.open('data/ens.sqlite');
    expect(limited.state.status).toBe('ready');
    expect(server.fetchDatabase).toHaveBeenLastCalledWith('data/ens.sqlite', 3 * 1048576);
    // The room left for the method's distances: the limit less the 1-byte replica held.
    expect(server.fetchDistances).toHaveBeenLastCalledWith('data/ens.sqlite', 'm1', 3 * 1048576 - 1);
    limited.dispose();
  });

  it('restores by id one way: a dataset saved a moment ago after a catch-up, a deleted one refused, a missing one said', async () => {
    server.fetchDatabase.mockResolvedValue(file(3));
    await panel.restoreById('d-new'); // not in the replica yet: read the file again, then restore
    expect(opened).toEqual([1, 3]);
    await expect(panel.restoreById('d-gone')).rejects.toThrow('Dataset “gone” was deleted: undo the deletion on the Datasets page to restore it.');
    await expect(panel.restoreById('d-nowhere')).rejects.toThrow('Dataset d-nowher is not in data/ens.sqlite: open its database first.');
  });
});

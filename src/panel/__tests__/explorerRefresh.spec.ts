/**
 * The explorer panel's catch-ups and its one restore, with the file and the worker as doubles:
 * an older read of the file that answers after a newer one never replaces it (and its caller
 * waits for the newer), and every "restore a dataset by id" path finds a dataset saved a moment
 * ago, refuses a deleted one, and says a missing one.
 */
import type { IDatasetInfo } from '../../db/slices';
import { ExplorerPanel } from '../explorer';
import { clover, method } from '../../../tests/js/ensembles';
import { datasetInfo } from '../../../tests/js/datasets';

jest.mock('../../db/client', () => ({ createDatabaseClient: jest.fn() }));
jest.mock('../../server', () => ({
  ...jest.requireActual('../../server'),
  fetchDatabase: jest.fn(),
  fetchEvents: jest.fn(async () => ({ events: [] }))
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as { fetchDatabase: jest.Mock };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const clientModule = require('../../db/client') as { createDatabaseClient: jest.Mock };

/** The file's versions: its first byte says which; each has its datasets. */
const VERSIONS: Record<number, IDatasetInfo[]> = {
  1: [datasetInfo('d-live', 'live'), datasetInfo('d-gone', 'gone', { deleted: true })],
  2: [datasetInfo('d-live', 'live')],
  3: [datasetInfo('d-new', 'saved by a kernel'), datasetInfo('d-live', 'live'), datasetInfo('d-gone', 'gone', { deleted: true })]
};

let version = 1;
const opened: number[] = [];

function fakeClient() {
  const api = {
    ...clover(),
    datasets: async () => VERSIONS[version],
    newMatches: async () => ({}),
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
    open: jest.fn(async (bytes: Uint8Array) => {
      version = bytes[0];
      opened.push(version);
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

const file = (v: number) => ({ bytes: Uint8Array.of(v).buffer, eventSeq: v });

let panel: ExplorerPanel;

beforeEach(async () => {
  // jsdom draws no canvas: the views' layers stay blank, quietly.
  jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
  version = 1;
  opened.length = 0;
  clientModule.createDatabaseClient.mockImplementation(() => fakeClient());
  server.fetchDatabase.mockReset();
  server.fetchDatabase.mockResolvedValueOnce(file(1));
  panel = new ExplorerPanel({ refreshSeconds: 0 });
  document.body.appendChild(panel.node);
  await panel.open('data/ens.sqlite');
  expect(panel.state.status).toBe('ready');
});

afterEach(() => {
  panel.dispose();
  jest.restoreAllMocks();
  document.body.replaceChildren();
});

describe('the explorer panel', () => {
  it('drops an older read of the file that answers after a newer one; its caller waits for the newer', async () => {
    let answer: (value: unknown) => void = () => undefined;
    server.fetchDatabase.mockReturnValueOnce(new Promise(resolve => (answer = resolve))).mockResolvedValueOnce(file(3));
    let olderDone = false;
    const older = panel.refresh().then(() => (olderDone = true));
    await panel.refresh();
    expect(opened).toEqual([1, 3]);
    answer(file(2)); // the older read, without the kernel's dataset, answers last
    await older;
    expect(olderDone).toBe(true);
    expect(opened).toEqual([1, 3]); // never opened over the newer file
    expect((await panel.datasets()).map(d => d.id)).toContain('d-new');
    expect(panel.state.status === 'ready' && panel.state.summary.lastEventSeq).toBe(3);
  });

  it('restores by id one way: a dataset saved a moment ago after a catch-up, a deleted one refused, a missing one said', async () => {
    server.fetchDatabase.mockResolvedValue(file(3));
    await panel.restoreById('d-new'); // not in the replica yet: read the file again, then restore
    expect(opened).toEqual([1, 3]);
    await expect(panel.restoreById('d-gone')).rejects.toThrow('Dataset “gone” was deleted: undo the deletion on the Datasets page to restore it.');
    await expect(panel.restoreById('d-nowhere')).rejects.toThrow('Dataset d-nowher is not in data/ens.sqlite: open its database first.');
  });
});

/**
 * A recorded proposal drawn over the explorer (issue 16 §4) through the panel, with the file and
 * the worker as doubles: its points reach both views, stay through a catch-up and a change of
 * the scatter's axes, go with Hide and with another database, and an unknown id is said.
 */
import { ExplorerPanel } from '../explorer';
import { clover, method } from '../../../tests/js/ensembles';
import type { IProposalPoint, IProposalRecord } from '../../db/proposals';

jest.mock('../../db/client', () => ({ createDatabaseClient: jest.fn() }));
jest.mock('../../server', () => ({
  ...jest.requireActual('../../server'),
  fetchDatabase: jest.fn(),
  fetchEvents: jest.fn(async () => ({ events: [] })),
  postProposal: jest.fn()
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as { fetchDatabase: jest.Mock; postProposal: jest.Mock };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const clientModule = require('../../db/client') as { createDatabaseClient: jest.Mock };

const RECORD: IProposalRecord = {
  id: 'prop0001-aaaa',
  createdAt: '2026-02-01T00:00:00Z',
  author: 'me',
  runId: 'r1',
  runName: 'gp',
  datasetId: null,
  n: 3,
  policy: { alpha: 1, seed: 3 },
  linked: 0
};
const POINTS: IProposalPoint[] = [
  { pointId: 'prop0001-00000', component: 0, values: { state2_density: 4.5, deck: 'clover.in' }, simId: null },
  { pointId: 'prop0001-00001', component: 1, values: { state2_density: 12, deck: 'clover.in' }, simId: null },
  { pointId: 'prop0001-00002', component: 2, values: { state2_density: 2, deck: 'clover.in' }, simId: '3' }
];

/** Which file the replica holds: 1 has the proposal, 2 has none. */
let version = 1;

function fakeClient() {
  const api = {
    ...clover(),
    predictions: async () => [],
    datasets: async () => [],
    newMatches: async () => ({ counts: {}, missing: [] }),
    hasDistances: async () => true, // a full file: the worker reads its distances itself
    runs: async () => [],
    datasetStats: async () => [],
    runCurves: async () => [],
    proposals: async () => (version === 1 ? [RECORD] : []),
    proposalPoints: async (id: string) => (version === 1 && id === RECORD.id ? POINTS : []),
    parameterRanges: async () => []
  };
  return {
    api,
    isDisposed: false,
    dispose: () => undefined,
    open: jest.fn(async (bytes: Uint8Array) => {
      version = bytes[0];
      return {
        simulations: 8,
        timeSteps: 3,
        parameters: [],
        methods: [method('m1')],
        datasets: 0,
        runs: 0,
        lastEventSeq: version,
        schemaVersion: 6
      };
    })
  };
}

const file = (v: number) => ({ bytes: Uint8Array.of(v).buffer, eventSeq: v });
const frame = () => new Promise(resolve => setTimeout(resolve, 40));
const lines = () => document.querySelectorAll('.jp-DSI-pc-proposal');
const circles = () => document.querySelectorAll('.jp-dsi-Scatter-proposal');

let panel: ExplorerPanel;

beforeEach(async () => {
  jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
  version = 1;
  clientModule.createDatabaseClient.mockImplementation(() => fakeClient());
  server.fetchDatabase.mockReset();
  server.fetchDatabase.mockResolvedValue(file(1));
  panel = new ExplorerPanel({ refreshSeconds: 0 });
  document.body.appendChild(panel.node);
  await panel.open('data/ens.sqlite');
  await frame();
});

afterEach(() => {
  panel.dispose();
  jest.restoreAllMocks();
  document.body.replaceChildren();
});

describe('a proposal over the explorer', () => {
  it('draws its points in both views, keeps them through a catch-up and axis changes, and hides them', async () => {
    await panel.showProposal(RECORD.id);
    expect([...lines()].map(l => l.getAttribute('data-point'))).toEqual(POINTS.map(p => p.pointId));
    expect(document.querySelector('.jp-DSI-pc-proposalLegend')!.textContent).toBe('3 proposals (σ², seed 3)');
    // The scatter's default axes are not both parameters: no circles until they are.
    expect(circles()).toHaveLength(0);
    panel.model!.setScatterAxes('state2_density', 'state2_density');
    await frame();
    expect(circles()).toHaveLength(3);
    await panel.refresh(); // a catch-up keeps the view, and the proposal on it
    await frame();
    expect(lines()).toHaveLength(3);
    expect(circles()).toHaveLength(3);
    await panel.showProposal(null);
    expect(lines()).toHaveLength(0);
    expect(circles()).toHaveLength(0);
  });

  it('goes with the database, and says an id the replica does not hold', async () => {
    await panel.showProposal(RECORD.id);
    expect(lines()).toHaveLength(3);
    server.fetchDatabase.mockResolvedValue(file(2));
    await panel.open('data/other.sqlite');
    await frame();
    expect(lines()).toHaveLength(0);
    await expect(panel.showProposal(RECORD.id)).rejects.toThrow('Proposal prop0001 is not in data/other.sqlite');
  });
});

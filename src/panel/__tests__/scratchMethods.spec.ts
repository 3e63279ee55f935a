/**
 * The scratch method in the explorer panel (issue 17 §2), with the real worker API over Node's
 * sql.js and the sample database, the server's answers as doubles: "Use as ground truth" shows the
 * frame's distances as the explorer's method, named in the picker; a catch-up (the replica read
 * again) keeps it; a job's progress shows and a cancel is said; Keep turns the explorer to the
 * stored method and drops the scratch.
 */

import initSqlJs from 'sql.js';

import { createWorkerApi } from '../../db/api';
import { isScratch } from '../../db/scratch';
import { ExplorerPanel } from '../explorer';
import { statusText } from '../jobStatus';
import { encodeFrame, sampleBytes } from '../../db/__tests__/frames';

jest.mock('../../db/client', () => ({ createDatabaseClient: jest.fn() }));
jest.mock('../../server', () => ({
  ...jest.requireActual('../../server'),
  fetchDatabase: jest.fn(),
  fetchEvents: jest.fn(async () => ({ events: [] })),
  postDistances: jest.fn(),
  fetchDistances: jest.fn(),
  startMethod: jest.fn(),
  saveDataset: jest.fn(),
  fetchJob: jest.fn(),
  cancelJob: jest.fn()
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as Record<string, jest.Mock> & { ServerError: new (m: string, s: number) => Error };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const clientModule = require('../../db/client') as { createDatabaseClient: jest.Mock };

const SAMPLE = sampleBytes();
const STEPS = 40;

/** The sample's ids in the frame's order (not the replica's), and a value known for each cell. */
const IDS = Array.from({ length: 1000 }, (_, i) => `sim${String(999 - i).padStart(5, '0')}`);
const valueAt = (sim: string, t: number, k: number) => Number(sim.slice(3)) / 1000 + t / 100 + k;

function frame(gt: string, norm: string, gtTime: number | null = null): { frame: ArrayBuffer } {
  const values = new Float32Array(IDS.length * STEPS * 3);
  IDS.forEach((sim, i) => {
    for (let t = 0; t < STEPS; t++) {
      for (let k = 0; k < 3; k++) {
        values[(i * STEPS + t) * 3 + k] = valueAt(sim, t, k);
      }
    }
  });
  const header = {
    sim_ids: IDS,
    steps: Array.from({ length: STEPS }, (_, t) => t),
    columns: ['d_shock', 'd_edge', 'd_density'],
    ground_truth: gt,
    norm,
    gt_time: gtTime,
    match_time: 'index',
    field: 'density',
    seconds: 0.04,
    resident: { budget_bytes: 1024 * 1048576, resident_bytes: 328 * 1048576, simulations: 1000, databases: 1 }
  };
  return { frame: encodeFrame(header, [IDS.length, STEPS, 3], values) };
}

/** The sample with one more stored method (what a Keep's job wrote). */
let keptFile: Uint8Array;

beforeAll(async () => {
  const SQL = await initSqlJs();
  const db = new SQL.Database(new Uint8Array(SAMPLE));
  db.run("INSERT INTO jdsi_ground_truth (id, sim_id, created_at) VALUES ('gt-kept', 'sim00042', '2031-01-01')");
  db.run(
    "INSERT INTO jdsi_method (id, ground_truth_id, norm, description, code_version, created_at) VALUES ('kept-id', 'gt-kept', 'L1', 'kept', 'x', '2031-01-01')"
  );
  db.run("INSERT INTO jdsi_distance SELECT 'kept-id', t, sim_id, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = (SELECT id FROM jdsi_method WHERE norm = 'L1' AND id != 'kept-id')");
  keptFile = db.export();
  db.close();
});

let panel: ExplorerPanel;
let file: Uint8Array;
const jobs: unknown[] = [];

beforeEach(async () => {
  jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
  // Each frame's callback at once: the panel waits for the views' redraw.
  jest.spyOn(window, 'requestAnimationFrame').mockImplementation(cb => (setTimeout(() => cb(0), 0) as unknown) as number);
  file = new Uint8Array(SAMPLE);
  clientModule.createDatabaseClient.mockImplementation(() => {
    const api = createWorkerApi(() => initSqlJs());
    return { api, isDisposed: false, dispose: () => undefined, open: (bytes: Uint8Array, keepScratch?: boolean) => api.open(bytes, keepScratch) };
  });
  for (const mock of ['postDistances', 'fetchDistances', 'startMethod', 'fetchJob', 'cancelJob']) {
    server[mock].mockReset();
  }
  server.fetchDatabase.mockReset();
  server.fetchDatabase.mockImplementation(async () => ({ bytes: file.slice().buffer, eventSeq: 1 }));
  jobs.length = 0;
  panel = new ExplorerPanel({ refreshSeconds: 0, onJob: (_, job) => jobs.push(job) });
  document.body.appendChild(panel.node);
  await panel.open('data/sample.sqlite');
  expect(panel.state.status).toBe('ready');
});

afterEach(() => {
  panel.dispose();
  jest.restoreAllMocks();
  document.body.replaceChildren();
});

const picker = () => panel.node.querySelector<HTMLSelectElement>('select[aria-label="Method"]')!;
const bar = () => panel.node.querySelector<HTMLElement>('[data-testid="dsi-scratch"]')!;
const said = () => bar().querySelector('[data-testid="dsi-scratch-message"]')!.textContent;
const button = (name: string) => [...bar().querySelectorAll('button')].find(b => b.textContent === name)!;

/** The model's shown distances of a run at the current step. */
function shown(sim: string): number[] {
  const model = panel.model!;
  const row = model.table!.ids.indexOf(sim);
  return ['d_shock', 'd_edge', 'd_density'].map(name => (model.column(name) as { values: Float32Array }).values[row]);
}

describe('a scratch method in the panel', () => {
  it('Use as ground truth shows the frame as the method, with the current norm, named in the picker', async () => {
    const norm = panel.model!.method!.norm;
    const t = panel.model!.t;
    server.postDistances.mockResolvedValueOnce(frame('sim00042', norm));
    await panel.useAsGroundTruth('sim00042');

    expect(server.postDistances).toHaveBeenCalledWith('data/sample.sqlite', {
      ground_truth: 'sim00042',
      norm,
      gt_time: null,
      match_time: 'index',
      field: 'density'
    });
    const id = `scratch:sim00042:${norm}:matched`;
    expect(panel.model!.method!.id).toBe(id);
    expect(picker().value).toBe(id);
    expect(picker().selectedOptions[0].textContent).toBe(`scratch · sim00042 · ${norm}`);
    expect(shown('sim00007')).toEqual([0, 1, 2].map(k => Math.fround(valueAt('sim00007', t, k))));
    expect(said()).toMatch(new RegExp(`^scratch · sim00042 · ${norm}: 1,000 runs × 40 steps in \\d+\\.\\d\\d s \\(server 0\\.04 s\\), not saved\\. Server memory: 328 of 1,024 MB of fields\\.$`));
    expect(button('Keep').hidden).toBe(false);
  });

  it('keeps the scratch through a catch-up that reads the file again', async () => {
    server.postDistances.mockResolvedValueOnce(frame('sim00042', 'L2'));
    await panel.useAsGroundTruth('sim00042');
    const t = panel.model!.t;
    await panel.refresh();
    expect(server.fetchDatabase).toHaveBeenCalledTimes(2);
    expect(panel.model!.method!.id).toBe('scratch:sim00042:L2:matched');
    await panel.model!.setTime(t - 1); // a slice read from the new replica
    expect(shown('sim00500')).toEqual([0, 1, 2].map(k => Math.fround(valueAt('sim00500', t - 1, k))));
    expect(panel.model!.methods.filter(m => isScratch(m))).toHaveLength(1);
  });

  it('follows a job with progress in the bar and the status bar, and says a cancel', async () => {
    const running = { id: 'j1', kind: 'distances', path: 'data/sample.sqlite', state: 'running', done: 300, total: 1000, result: null, message: '', elapsed: 0.8 };
    server.postDistances.mockResolvedValueOnce({ job: running });
    let seen = '';
    server.fetchDistances.mockImplementationOnce(async () => {
      seen = said() ?? '';
      return frame('sim00003', 'L2');
    });
    await panel.useAsGroundTruth('sim00003');
    expect(seen).toBe('Computing on the fly: 300 of 1,000 simulations · 0.8 s');
    expect(jobs).toEqual([running, null]);
    expect(statusText([running as never])).toBe('DSI: distances on the fly 300/1,000');
    expect(statusText([running as never, { ...running, kind: 'postprocess', state: 'queued' } as never])).toBe('DSI: post-processing 300/1,000, 1 queued');
    expect(panel.model!.method!.id).toBe('scratch:sim00003:L2:matched');

    server.postDistances.mockResolvedValueOnce({ job: { ...running, id: 'j2' } });
    server.fetchDistances.mockImplementationOnce(async () => {
      button('Cancel').click();
      throw new server.ServerError('cancelled; nothing was written', 409);
    });
    await panel.useAsGroundTruth('sim00004');
    expect(server.cancelJob).toHaveBeenCalledWith('j2');
    expect(said()).toBe('Cancelled: the distances shown did not change.');
    expect(panel.model!.method!.id).toBe('scratch:sim00003:L2:matched');
  });

  it('saves no dataset on a scratch method: it is not in the file', async () => {
    server.postDistances.mockResolvedValueOnce(frame('sim00042', 'L2'));
    await panel.useAsGroundTruth('sim00042');
    const form = panel.node.querySelector<HTMLFormElement>('form[aria-label="Save the selection as a training dataset"]')!;
    form.querySelector('textarea')!.value = 'runs near sim00042';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(server.saveDataset).not.toHaveBeenCalled();
    expect(form.querySelector('.jp-DSI-error')!.textContent).toBe(
      'The distances shown are a scratch method (computed on the fly, not saved): Keep it first, then save the dataset.'
    );
  });

  it('says an error in one line and leaves the method shown', async () => {
    const before = panel.model!.method!.id;
    server.postDistances.mockRejectedValueOnce(new server.ServerError("unknown ground truth 'nope'", 422));
    await panel.useAsGroundTruth('nope');
    expect(said()).toBe("Not computed: unknown ground truth 'nope'");
    expect(panel.model!.method!.id).toBe(before);
  });

  it('Keep stores the same request as a method, then shows it instead of the scratch', async () => {
    server.postDistances.mockResolvedValueOnce(frame('sim00042', 'L1'));
    await panel.useAsGroundTruth('sim00042');
    const running = { id: 'k1', kind: 'postprocess', path: 'data/sample.sqlite', state: 'running', done: 10, total: 1000, result: null, message: '', elapsed: 0.3 };
    server.startMethod.mockResolvedValueOnce(running);
    server.fetchJob.mockImplementationOnce(async () => {
      file = keptFile; // the job wrote the method
      return { ...running, state: 'done', done: 1000, result: { method_id: 'kept-id' }, elapsed: 2.5 };
    });
    await panel['_scratch']!.keep();

    expect(server.startMethod).toHaveBeenCalledWith('data/sample.sqlite', {
      ground_truth: 'sim00042',
      norm: 'L1',
      gt_time: null,
      match_time: 'index',
      geometry: null,
      field: 'density',
      description: 'Kept from scratch · sim00042 · L1, computed on the fly in the DSI Explorer'
    });
    expect(panel.model!.method!.id).toBe('kept-id');
    expect(panel.model!.methods.some(m => isScratch(m))).toBe(false);
    expect([...picker().options].some(o => o.value.startsWith('scratch:'))).toBe(false);
    expect(said()).toBe('Kept as method kept-id (1,000 simulations post-processed in 2.5 s).');
    expect(button('Keep').hidden).toBe(true);
  });
  it('redraws a scratch computed again under the same id (new values)', async () => {
    server.postDistances.mockResolvedValueOnce(frame('sim00042', 'L2'));
    await panel.useAsGroundTruth('sim00042');
    const t = panel.model!.t;
    const again = frame('sim00042', 'L2');
    // The same request answered with other values (the fields changed on the server).
    const length = new DataView(again.frame).getUint32(0, true);
    const start = 4 + length + ((4 - ((4 + length) % 4)) % 4);
    const values = new Float32Array(again.frame, start);
    values.forEach((v, i) => (values[i] = v + 10));
    server.postDistances.mockResolvedValueOnce(again);
    await panel.useAsGroundTruth('sim00042');
    expect(panel.model!.method!.id).toBe('scratch:sim00042:L2:matched');
    expect(shown('sim00007')).toEqual([0, 1, 2].map(k => Math.fround(Math.fround(valueAt('sim00007', t, k)) + 10)));
  });

  it('a database opened during a compute gets none of its distances, and the status bar forgets its job', async () => {
    const running = { id: 'j9', kind: 'distances', path: 'data/sample.sqlite', state: 'running', done: 1, total: 1000, result: null, message: '', elapsed: 0.1 };
    server.postDistances.mockResolvedValueOnce({ job: running });
    let answer: (value: unknown) => void = () => undefined;
    server.fetchDistances.mockImplementationOnce(() => new Promise(resolve => (answer = resolve)));
    const computing = panel.useAsGroundTruth('sim00042');
    await new Promise(resolve => setTimeout(resolve, 300));
    expect(jobs).toEqual([running]);
    const opening = panel.open('data/other.sqlite');
    expect(server.cancelJob).toHaveBeenCalledWith('j9'); // a computation on the fly goes with its replica
    expect(jobs).toEqual([running, null]);
    answer(frame('sim00042', 'L2'));
    await computing;
    await opening;
    expect(panel.model!.methods.some(m => isScratch(m))).toBe(false);
    expect(isScratch(panel.model!.method)).toBe(false);
  });

  it('disposing it leaves a Keep the user asked for running, and the status bar without it', async () => {
    server.postDistances.mockResolvedValueOnce(frame('sim00042', 'L1'));
    await panel.useAsGroundTruth('sim00042');
    const running = { id: 'k2', kind: 'postprocess', path: 'data/sample.sqlite', state: 'running', done: 10, total: 1000, result: null, message: '', elapsed: 0.3 };
    server.startMethod.mockResolvedValueOnce(running);
    let done: (value: unknown) => void = () => undefined;
    server.fetchJob.mockImplementationOnce(() => new Promise(resolve => (done = resolve)));
    const scratch = panel['_scratch']!;
    const keeping = scratch.keep();
    await new Promise(resolve => setTimeout(resolve, 400)); // its first poll of the job
    expect(jobs[jobs.length - 1]).toEqual(running);
    scratch.dispose();
    expect(server.cancelJob).not.toHaveBeenCalled();
    expect(jobs[jobs.length - 1]).toBeNull();
    done({ ...running, state: 'cancelled' });
    await keeping;
  });
});

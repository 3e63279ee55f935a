/**
 * A scratch method in the replica (issue 17 §2): the server's frame of distances becomes a method
 * of the sample database's replica whose slices are the frame's values, the worker keeps it
 * across a catch-up and drops it when another file opens, and the picker names it.
 */

import initSqlJs from 'sql.js';

import { DatabaseApi } from '../api';
import { decodeFrame } from '../frameCodec';
import {
  IDistancesHeader,
  isScratch,
  IScratch,
  SCRATCH_DESCRIPTION,
  scratchFromFrame,
  scratchId,
  scratchLabel
} from '../scratch';
import { encodeFrame, sampleBytes } from './frames';

const SAMPLE = sampleBytes();

let api: DatabaseApi;

beforeAll(async () => {
  api = new DatabaseApi(await initSqlJs());
});

beforeEach(() => {
  api.open(new Uint8Array(SAMPLE));
});

/**
 * A frame for ground truth `gt` whose values are known: a stored method's distances at each
 * step plus a per-column offset (so they differ from it), rows in reverse sim order, one run
 * without its last step (NaN), one NaN d_density (an empty D+).
 */
function frameFor(gt: string, norm: 'L1' | 'L2' | 'Linf', gtTime: number | null): { buffer: ArrayBuffer; ids: string[]; steps: number[] } {
  const stored = api.methods().find(m => m.norm === norm)!;
  const T = api.methodSteps(stored.id);
  const ids = [...api.table().ids].reverse();
  const steps = Array.from({ length: T }, (_, t) => t);
  const values = new Float32Array(ids.length * T * 3);
  for (const t of steps) {
    const slice = api.slice(stored.id, t);
    const rowOf = new Map(api.table().ids.map((id, i) => [id, i]));
    ids.forEach((id, i) => {
      const r = rowOf.get(id)!;
      values.set([slice.dShock[r] + 1, slice.dEdge[r] + 2, slice.dDensity[r] + 3], (i * T + t) * 3);
    });
  }
  values.fill(NaN, (0 * T + T - 1) * 3, (0 * T + T) * 3); // ids[0] lacks its last step
  values[(1 * T + 0) * 3 + 2] = NaN; // ids[1]: an empty D+ at step 0
  const header = {
    sim_ids: ids,
    steps,
    columns: ['d_shock', 'd_edge', 'd_density'],
    ground_truth: gt,
    norm,
    gt_time: gtTime,
    match_time: 'index',
    field: 'density',
    seconds: 0.05,
    resident: { budget_bytes: 1 << 30, resident_bytes: 1 << 20, simulations: ids.length, databases: 1 }
  };
  return { buffer: encodeFrame(header, [ids.length, T, 3], values), ids, steps };
}

function scratchOf(gt: string, norm: 'L1' | 'L2' | 'Linf' = 'L2', gtTime: number | null = null): IScratch {
  const { buffer } = frameFor(gt, norm, gtTime);
  return scratchFromFrame(decodeFrame<IDistancesHeader>(buffer), new Date('2030-01-01T00:00:00Z'));
}

/** Every (sim, step) value the replica's slices show for a method, as the views read them. */
function shown(methodId: string): Map<string, number[]> {
  const ids = api.table().ids;
  const out = new Map<string, number[]>();
  for (let t = 0; t < api.methodSteps(methodId); t++) {
    const slice = api.slice(methodId, t);
    ids.forEach((id, i) => out.set(`${id}@${t}`, [slice.dShock[i], slice.dEdge[i], slice.dDensity[i]]));
  }
  return out;
}

describe('a scratch method in the replica', () => {
  it('has rows equal to the frame, and comes first among the methods', () => {
    const { buffer, ids, steps } = frameFor('sim00042', 'L2', null);
    const frame = decodeFrame<IDistancesHeader>(buffer);
    const scratch = scratchFromFrame(frame, new Date('2030-01-01T00:00:00Z'));
    const storedBefore = api.methods();
    const summary = api.injectScratch(scratch);

    expect(scratch.id).toBe('scratch:sim00042:L2:matched');
    expect(summary.methods.map(m => m.id)).toEqual([scratch.id, ...storedBefore.map(m => m.id)]);
    expect(summary.methods[0]).toMatchObject({
      groundTruth: 'sim00042',
      norm: 'L2',
      gtTime: null,
      matchTime: 'index',
      field: 'density',
      description: SCRATCH_DESCRIPTION
    });
    expect(summary.timeSteps).toBe(steps.length);

    const values = shown(scratch.id);
    const T = steps.length;
    ids.forEach((id, i) => {
      for (const t of steps) {
        const expected = Array.from(frame.data.subarray((i * T + t) * 3, (i * T + t) * 3 + 3));
        expect([id, t, values.get(`${id}@${t}`)]).toEqual([id, t, expected]);
      }
    });
    // The NaNs the frame holds stay missing: no row for the run without its last step.
    expect(values.get(`${ids[0]}@${T - 1}`)!.every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(values.get(`${ids[1]}@0`)![2])).toBe(true);
    expect(api.methodInfo(scratch.id)).toEqual({ steps: T, distances: ['d_shock', 'd_edge', 'd_density'] });
  });

  it('stays in the replica on a catch-up (open keeping the scratch), in the same call', () => {
    const scratch = scratchOf('sim00007', 'L1', 3);
    api.injectScratch(scratch);
    const before = shown(scratch.id);

    // A catch-up: the file read again replaces the replica, and the scratch is in the new one
    // before open answers (a slice read between the two cannot find it missing).
    const summary = api.open(new Uint8Array(SAMPLE), true);
    expect(summary.methods[0].id).toBe('scratch:sim00007:L1:3');
    expect(api.methods()[0].id).toBe(scratch.id);
    expect(shown(scratch.id)).toEqual(before);

    // Taken out: the next catch-up has none.
    api.injectScratch(null);
    api.open(new Uint8Array(SAMPLE), true);
    expect(api.methods().some(m => isScratch(m))).toBe(false);
  });

  it('goes with the replica when another file is opened (no catch-up)', () => {
    const scratch = scratchOf('sim00007', 'L1', 3);
    api.injectScratch(scratch);
    api.open(new Uint8Array(SAMPLE)); // another file (or a Reload): the scratch is dropped
    expect(api.methods().some(m => isScratch(m))).toBe(false);
    expect([...shown(scratch.id).values()].every(v => v.every(Number.isNaN))).toBe(true);
    api.open(new Uint8Array(SAMPLE), true); // and a later catch-up does not bring it back
    expect(api.methods().some(m => isScratch(m))).toBe(false);

    const summary = api.injectScratch(scratch);
    expect(summary.methods[0].id).toBe('scratch:sim00007:L1:3');
  });

  it('replaces the scratch before it, leaves the stored methods alone, and null takes it out', () => {
    const stored = api.methods();
    const storedValues = shown(stored[0].id);
    const first = scratchOf('sim00001');
    const second = scratchOf('sim00002', 'Linf');
    api.injectScratch(first);
    const summary = api.injectScratch(second);
    expect(summary.methods.filter(m => isScratch(m)).map(m => m.id)).toEqual([second.id]);
    expect([...shown(first.id).values()].every(v => v.every(Number.isNaN))).toBe(true);
    expect(shown(stored[0].id)).toEqual(storedValues);

    expect(api.injectScratch(null).methods).toEqual(stored);
  });

  it('leaves the replica as it was when a scratch cannot be injected', () => {
    const good = scratchOf('sim00003');
    api.injectScratch(good);
    const bad = { ...scratchOf('sim00004'), values: new Float32Array(5) };
    expect(() => api.injectScratch(bad)).toThrow(/needs \d+ values, not 5/);
    expect(api.methods()[0].id).toBe(good.id);
    expect(shown(good.id).get('sim00000@0')!.some(v => !Number.isNaN(v))).toBe(true);
  });

  it('refuses a frame that is not distances', () => {
    const buffer = encodeFrame({ sim_ids: ['a'], steps: [0, 1], columns: ['d_shock', 'd_edge', 'd_density'] }, [1, 3, 3], new Float32Array(9));
    expect(() => scratchFromFrame(decodeFrame<IDistancesHeader>(buffer))).toThrow(/^not a distances frame/);
  });
});

describe('what the picker says', () => {
  it('labels a scratch by its ground truth and norm, and its step when fixed', () => {
    expect(scratchLabel({ groundTruth: 'sim00042', norm: 'L2', gtTime: null, matchTime: 'index', field: 'density' })).toBe(
      'scratch · sim00042 · L2'
    );
    expect(scratchLabel({ groundTruth: 'run_1', norm: 'Linf', gtTime: 4 })).toBe('scratch · run_1 · Linf · step 4');
    expect(scratchLabel({ groundTruth: 'a', norm: 'L1', gtTime: null, matchTime: 'nearest', field: 'energy' })).toBe(
      'scratch · a · L1 · nearest in time · energy'
    );
  });

  it('tells a scratch from a stored method by its id', () => {
    expect(scratchId('sim1', 'L2', null)).toBe('scratch:sim1:L2:matched');
    expect(scratchId('sim1', 'L2', null, 'nearest', 'energy')).toBe('scratch:sim1:L2:nearest:energy');
    expect(isScratch('scratch:sim1:L2:0')).toBe(true);
    expect(isScratch({ id: '93cfdef1-468b-4d67-b8ee-5043b4ff43c2' })).toBe(false);
    expect(isScratch(null)).toBe(false);
  });
});

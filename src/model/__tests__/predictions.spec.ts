/**
 * A training run's predictions in the explorer (issue 15 §3): `error of <run>` against the
 * parameter or per-step metric it predicts (at the explorer's step), `sigma2 of <run>`, axes
 * while there are few and hidden (still plottable and brushable) when there are many, and new
 * runs' columns arriving when the file changes, with the selection kept.
 */
import type { IPredictionSet } from '../../db/predictions';
import { ExplorerModel, ISliceSource } from '../explorer';
import { clover, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });
const ROWS = 8;

function set(runId: string, runName: string, target: string, value: (i: number) => number, sigma2?: (i: number) => number): IPredictionSet {
  return {
    runId,
    runName,
    target,
    values: Float32Array.from({ length: ROWS }, (_, i) => value(i)),
    sigma2: sigma2 ? Float32Array.from({ length: ROWS }, (_, i) => sigma2(i)) : null
  };
}

/** clover's state2_density is 2..9 by row; gp predicts it, off by one on odd rows. */
const GP = set('r-gp', 'gp', 'state2_density', i => i + 2 + (i % 2), i => (i % 2 ? 0.5 : 0.01));
/** clover's wall_clock at step t is 0.5 t + 0.01 i; net predicts 0.5 + 0.01 i (right at step 1). */
const NET = set('r-net', 'net', 'wall_clock', i => 0.5 + 0.01 * i);

function source(predictions: () => IPredictionSet[]): ISliceSource {
  return { ...clover(), predictions: async () => predictions() };
}

async function model(predictions: () => IPredictionSet[]): Promise<ExplorerModel> {
  const m = new ExplorerModel(source(predictions), theme);
  await m.load([method('m1')]);
  return m;
}

function values(m: ExplorerModel, name: string): number[] {
  const c = m.column(name);
  return c?.kind === 'numeric' ? Array.from(c.values) : [];
}

describe('prediction columns', () => {
  it('are the error against a parameter and the variance, shown as axes while few, brushable by name', async () => {
    const m = await model(() => [GP]);
    expect(values(m, 'error of gp')).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(values(m, 'sigma2 of gp')[1]).toBeCloseTo(0.5);
    expect(m.axes).toEqual(expect.arrayContaining(['error of gp', 'sigma2 of gp']));
    expect(m.scatterColumns).toEqual(expect.arrayContaining(['error of gp', 'sigma2 of gp']));
    expect(m.isPrediction('error of gp')).toBe(true);
    expect(m.isPrediction('d_density')).toBe(false);
    // The filter language names them with backquotes; a brush says the same.
    m.setFilter('`error of gp` > 0.5');
    expect(m.count).toBe(4);
    m.setBrush('error of gp', { kind: 'numeric', ranges: [{ lo: 0.5, hi: 1.5 }] });
    expect(m.filter).toContain('`error of gp` between');
    expect(m.count).toBe(4);
  });

  it('follow the explorer step when the target is a per-step metric', async () => {
    const m = await model(() => [NET]);
    await m.setTime(1);
    expect(values(m, 'error of net').every(e => Math.abs(e) < 1e-6)).toBe(true);
    await m.setTime(2);
    expect(values(m, 'error of net').every(e => Math.abs(e + 0.5) < 1e-6)).toBe(true);
  });

  it('wait among the hidden axes when there are many', async () => {
    const m = await model(() => [GP, NET]);
    expect(m.columnNames).toEqual(expect.arrayContaining(['error of gp', 'sigma2 of gp', 'error of net']));
    expect(m.axes.some(a => m.isPrediction(a))).toBe(false);
    expect(m.hidden).toEqual(expect.arrayContaining(['error of gp', 'sigma2 of gp', 'error of net']));
  });

  it('arrive when a run logs predictions, keeping the selection', async () => {
    let sets: IPredictionSet[] = [];
    const m = await model(() => sets);
    expect(m.columnNames.some(n => m.isPrediction(n))).toBe(false);
    m.setFilter('end_step >= 104');
    const selected = m.count;
    const changes: string[] = [];
    m.changed.connect((_, change) => changes.push(change));
    await m.refreshPredictions();
    expect(changes).toEqual([]); // nothing new: nothing redrawn
    sets = [GP];
    await m.refreshPredictions();
    expect(changes).toEqual(expect.arrayContaining(['data', 'axes']));
    expect(m.axes).toEqual(expect.arrayContaining(['error of gp']));
    expect(m.count).toBe(selected);
  });

  it('follow a run that logs its predictions again with new values for the same simulations', async () => {
    let sets: IPredictionSet[] = [GP];
    const m = await model(() => sets);
    expect(values(m, 'error of gp')).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    const changes: string[] = [];
    m.changed.connect((_, change) => changes.push(change));
    // INSERT OR REPLACE: the same run, target and simulations, every value 5 higher.
    sets = [set('r-gp', 'gp', 'state2_density', i => i + 7 + (i % 2), i => (i % 2 ? 0.5 : 0.01))];
    await m.refreshPredictions();
    expect(changes).toEqual(expect.arrayContaining(['data']));
    expect(values(m, 'error of gp')).toEqual([5, 6, 5, 6, 5, 6, 5, 6]);
    // Only the variances change: they follow too.
    sets = [set('r-gp', 'gp', 'state2_density', i => i + 7 + (i % 2), () => 2)];
    await m.refreshPredictions();
    expect(values(m, 'sigma2 of gp')).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
  });
});

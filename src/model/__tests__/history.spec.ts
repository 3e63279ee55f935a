/**
 * A selection never changes silently (issue 14): a method, step or weight change that moves the
 * selection is said with its counts and can be undone; brushes, shapes, filters and highlights
 * are undo steps too, and redo puts them back. The history lives in the model.
 */
import { ExplorerModel, ISliceSource } from '../explorer';
import { energyTable, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });
const ROWS = 10;

/** d_density of row i: i/10 under m1; under m2 it falls with i; each step adds 0.05·t. */
function source(): ISliceSource {
  const f = (fn: (i: number) => number) => Float32Array.from({ length: ROWS }, (_, i) => fn(i));
  return {
    table: async () => energyTable(ROWS),
    methodInfo: async () => ({ steps: 4, distances: ['d_shock', 'd_edge', 'd_density'] }),
    slice: async (methodId, t) => ({
      methodId,
      t,
      dShock: f(i => i),
      dEdge: f(i => i),
      dDensity: f(i => (methodId === 'm2' ? (ROWS - 1 - i) / 10 : i / 10) + 0.05 * t),
      metrics: []
    })
  };
}

async function model(): Promise<ExplorerModel> {
  const m = new ExplorerModel(source(), theme);
  await m.load([method('m1'), method('m2')]);
  return m;
}

const low = { kind: 'numeric' as const, ranges: [{ lo: 0, hi: 0.45 }] };

describe('selection history', () => {
  it('starts empty on load', async () => {
    const m = await model();
    expect([m.canUndo, m.canRedo, m.notice]).toEqual([false, false, null]);
  });

  it('says when a step change moves the selection, with both counts, and undoes it', async () => {
    const m = await model();
    await m.setTime(0);
    m.setBrush('d_density', low);
    expect(m.count).toBe(5); // 0, 0.1, .. 0.4
    await m.setTime(2); // +0.1: rows 0..3
    expect(m.count).toBe(4);
    expect(m.notice).toEqual({ kind: 'step', from: 5, to: 4, methodId: 'm1', t: 2 });
    expect(await m.undo()).toBe(true);
    expect([m.t, m.count, m.notice]).toEqual([0, 5, null]);
    expect(m.brushes.has('d_density')).toBe(true); // the brush stays: only the step went back
    expect(await m.redo()).toBe(true);
    expect([m.t, m.count]).toEqual([2, 4]);
  });

  it('says when a method change moves the selection, and undo switches back', async () => {
    const m = await model();
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 2 }] });
    m.setBrush('d_density', low);
    const before = m.count;
    await m.setMethod('m2');
    expect(m.notice).toMatchObject({ kind: 'method', from: before, to: m.count, methodId: 'm2' });
    expect(m.count).not.toBe(before);
    await m.undo();
    expect([m.method?.id, m.count]).toEqual(['m1', before]);
  });

  it('records no step and says nothing when the selection did not move', async () => {
    const m = await model();
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 2 }] });
    await m.setTime(1);
    await m.setMethod('m2');
    expect(m.notice).toBeNull();
    // Undo takes back the brush, and leaves the method and step the user went to.
    await m.undo();
    expect([m.brushes.size, m.method?.id, m.t, m.canUndo]).toEqual([0, 'm2', 1, false]);
  });

  it('makes steps in a row one undo step while their notice shows', async () => {
    const m = await model();
    await m.setTime(0);
    m.setBrush('d_density', { kind: 'numeric', ranges: [{ lo: 0, hi: 0.42 }] });
    await m.setTime(1); // moves: 5 -> 4
    await m.setTime(2); // 4 -> 4, and 3 at step 3: one step with the first
    await m.setTime(3);
    expect(m.notice).toMatchObject({ kind: 'step', from: 5, to: 3, t: 3 });
    await m.undo();
    expect([m.t, m.count]).toEqual([0, 5]);
    await m.undo(); // the brush
    expect([m.brushes.size, m.canUndo]).toEqual([0, false]);
  });

  it('makes a brush drag one step: live moves are not recorded', async () => {
    const m = await model();
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 1 }] }, false);
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 2 }] }, false);
    expect(m.canUndo).toBe(false);
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 3 }] }, true);
    expect(m.count).toBe(4);
    await m.undo();
    expect([m.brushes.size, m.count, m.canUndo]).toEqual([0, ROWS, false]);
  });

  it('undoes and redoes shapes, a filter, clear and a highlight; a new change drops redo', async () => {
    const m = await model();
    m.setFilter('energy >= 5');
    expect(m.count).toBe(5);
    m.clearSelection();
    expect(m.count).toBe(ROWS);
    await m.undo();
    expect([m.count, m.filter]).toEqual([5, 'energy >= 5']);
    await m.undo();
    expect(m.count).toBe(ROWS);
    await m.redo();
    expect(m.count).toBe(5);
    m.setShapes([{ kind: 'lasso', op: 'replace', polygon: [[-1, -1], [3.5, -1], [3.5, 9], [-1, 9]] }]);
    expect(m.canRedo).toBe(false);
    await m.undo();
    expect(m.shapes).toEqual([]);
  });

  it('highlights a dataset at its method and step, replacing the selection: every member shows', async () => {
    const m = await model();
    m.setBrush('d_density', low);
    await m.selectMembers(['s9', 's8', 's7'], 'm2', 1);
    expect([m.method?.id, m.t, m.brushes.size, m.count, m.members]).toEqual(['m2', 1, 0, 3, ['s7', 's8', 's9']]);
    await m.undo();
    expect([m.method?.id, m.brushes.size, m.members]).toEqual(['m1', 1, null]);
  });

  it('says a scatter-axis change that dropped the shapes, and undo brings them back', async () => {
    const m = await model();
    const lasso = { kind: 'lasso' as const, op: 'replace' as const, polygon: [[-1, -1], [20, -1], [20, 0.25], [-1, 0.25]] as [number, number][] };
    m.setShapes([lasso]);
    const kept = m.count;
    expect(kept).toBeLessThan(ROWS);
    m.setScatterAxes('energy', 'd_shock');
    expect(m.notice).toMatchObject({ kind: 'scatter', from: kept, to: ROWS });
    await m.undo();
    expect([m.scatterAxes[1], m.shapes.length, m.count]).toEqual(['d_density', 1, kept]);
  });

  it('emits history when a change is recorded', async () => {
    const m = await model();
    const seen: string[] = [];
    m.changed.connect((_, change) => seen.push(change));
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 0, hi: 1 }] });
    expect(seen).toContain('history');
  });
});

/** JSON as the server stores settings: every object's keys sorted (Python's sort_keys=True). */
function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortedJson);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map(k => [k, sortedJson((value as Record<string, unknown>)[k])]));
  }
  return value;
}

describe('restore', () => {
  it("keeps the order of d_feature's terms through the server's sorted JSON", async () => {
    const m = await model();
    m.setFeature({ d_shock: 2, d_edge: 0.5, d_density: 1 });
    const stored = JSON.parse(JSON.stringify(sortedJson(m.settings)));
    expect(Object.keys(stored.feature)).toEqual(['d_density', 'd_edge', 'd_shock']); // what the file holds
    const other = await model();
    await other.restore(stored);
    expect(Object.keys(other.feature)).toEqual(['d_shock', 'd_edge', 'd_density']);
  });

  it('restores older settings without an order as they come', async () => {
    const m = await model();
    const settings = { ...m.settings, feature: { d_edge: 1, d_shock: 3 } };
    delete settings.featureOrder;
    await m.restore(settings);
    expect(m.feature).toEqual({ d_edge: 1, d_shock: 3 });
    expect(Object.keys(m.feature)).toEqual(['d_edge', 'd_shock']);
  });
});

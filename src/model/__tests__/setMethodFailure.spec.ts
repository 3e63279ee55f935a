/**
 * A method picked whose slice cannot come (the server refused its frame above maxDatabaseMB, or
 * is gone) leaves the previous method drawn: the model puts it back, with its steps and step, so
 * the picker (which reads `model.method` on 'method') shows what the views show, and the error
 * still reaches the caller.
 */
import { ExplorerModel, ISliceSource } from '../explorer';
import { energyTable, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });
const ROWS = 4;
const REFUSED = 'data.sqlite: the distances of method m2 would be 900 MB, above the 512 MB limit (Settings → DSI Explorer → maxDatabaseMB).';

/** m1 has 4 steps, m2 has 2 and its slices are refused; d_density of row i is i + 10·t under m1. */
function source(): ISliceSource {
  const f = (fn: (i: number) => number) => Float32Array.from({ length: ROWS }, (_, i) => fn(i));
  return {
    table: async () => energyTable(ROWS),
    methodInfo: async id => ({ steps: id === 'm2' ? 2 : 4, distances: id === 'm2' ? ['d_density'] : ['d_shock', 'd_edge', 'd_density'] }),
    slice: async (methodId, t) => {
      if (methodId === 'm2') {
        throw new Error(REFUSED);
      }
      return { methodId, t, dShock: f(i => i), dEdge: f(i => i), dDensity: f(i => i + 10 * t), metrics: [] };
    }
  };
}

describe('setMethod', () => {
  it('puts the previous method back when the new one cannot be read, and says why', async () => {
    const m = new ExplorerModel(source(), theme);
    await m.load([method('m1'), method('m2')]);
    await m.setTime(3);
    const changes: string[] = [];
    m.changed.connect((_, change) => changes.push(change));

    await expect(m.setMethod('m2')).rejects.toThrow(REFUSED);

    expect(m.method?.id).toBe('m1');
    expect([m.steps, m.t]).toEqual([4, 3]); // not m2's 2 steps, nor the step clamped to them
    expect(changes).toContain('method'); // the picker shows m1 again
    const density = m.column('d_density');
    expect(density?.kind === 'numeric' && Array.from(density.values)).toEqual([30, 31, 32, 33]);
    // And m1 still works: a step moves the views on.
    await m.setTime(1);
    expect(density && m.column('d_density')?.kind === 'numeric').toBe(true);
    const after = m.column('d_density');
    expect(after?.kind === 'numeric' && Array.from(after.values)).toEqual([10, 11, 12, 13]);
  });

  it('keeps a method asked for while the failed one was loading', async () => {
    const pending: { refuse: (() => void) | null } = { refuse: null };
    const base = source();
    const m = new ExplorerModel(
      {
        ...base,
        // m2's frame is in flight until refused below.
        slice: (methodId, t) =>
          methodId === 'm2' ? new Promise((_, reject) => (pending.refuse = () => reject(new Error(REFUSED)))) : base.slice(methodId, t)
      },
      theme
    );
    await m.load([method('m1'), method('m2'), method('m3')]);
    const failed = m.setMethod('m2');
    while (!pending.refuse) {
      await new Promise(resolve => setTimeout(resolve, 0));
    }
    await m.setMethod('m3');
    pending.refuse();
    await expect(failed).rejects.toThrow(REFUSED);
    expect(m.method?.id).toBe('m3');
    expect(m.steps).toBe(4);
  });
});

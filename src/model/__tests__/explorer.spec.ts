/**
 * The explorer model on any ensemble (issue 9): a CloverLeaf-like database (no shock or edge
 * coefficients, a categorical parameter with numeric levels, per-run constants and per-step
 * metrics), a database with no method at all, and seed 000's shape. What a user would check:
 * which columns are offered as axes, what is kept aside, the scatter's axes, d_feature's terms
 * and value, the filter string of a lasso, and settings saved before issue 9.
 */
import { compileMask, parse } from '../../filter';
import { ExplorerModel } from '../explorer';
import type { IExplorerSettingsV1 } from '../settings';
import { computeFeature, featureFormula, parseTerms } from '../feature';
import type { IShape } from '../../table/types';
import { clover, implosions, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });

async function cloverModel(methods = [method('m1')]): Promise<ExplorerModel> {
  const m = new ExplorerModel(clover(), theme);
  await m.load(methods);
  return m;
}

/** What the filter string selects, evaluated on its own over the model's columns. */
function filterMask(m: ExplorerModel): Uint8Array {
  const table = m.table!;
  const columns = [...table.columns];
  for (const name of ['x_cells', 'd_shock', 'd_edge']) {
    const c = m.column(name);
    if (c && !columns.includes(c)) {
      columns.push(c);
    }
  }
  const out = new Uint8Array(table.rows);
  compileMask(parse(m.filter), { ...table, columns })(out);
  return out;
}

const LASSO: IShape = { kind: 'lasso', op: 'replace', polygon: [[4.5, -1], [9.5, -1], [9.5, 5], [4.5, 5]] };

describe('a CloverLeaf-like ensemble (no shock or edge coefficients)', () => {
  it('offers parameters, varying metrics, d_density and d_feature; not the empty distances', async () => {
    const m = await cloverModel();
    expect(m.columnNames).toEqual(['state2_density', 'end_step', 'wall_clock', 'd_density', 'd_feature']);
    expect(m.columnNames).not.toContain('d_shock');
    expect(m.columnNames).not.toContain('nothing');
    expect(m.columnNames).not.toContain('blank');
    // Default axes: parameters, the distances with values, d_feature; metrics can be shown.
    expect(m.axes).toEqual(['state2_density', 'd_density', 'd_feature']);
    expect(m.hidden).toEqual(['end_step', 'wall_clock']);
  });

  it('keeps columns that are the same for every run aside, with their value', async () => {
    const m = await cloverModel();
    expect(m.aside).toEqual([
      { name: 'deck', value: 'clover.in' },
      { name: 'x_cells', value: '60' },
      { name: 'xmin', value: '0' },
      { name: 'state2_geometry', value: 'rectangle' },
      { name: 'step', value: '200' }
    ]);
    await m.setTime(1);
    expect(m.aside.find(a => a.name === 'step')).toEqual({ name: 'step', value: '100' });
    // A filter may still name them.
    m.setFilter('x_cells == 60 and state2_density >= 5');
    expect(m.count).toBe(5);
  });

  it('weighs d_density by default and plots state2_density against d_density', async () => {
    const m = await cloverModel();
    expect(m.feature).toEqual({ d_density: 1 });
    expect(m.scatterAxes).toEqual(['state2_density', 'd_density']);
    expect(Array.from(m.scatterValues('state2_density')!)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(m.scatterColumns).toEqual(['state2_density', 'end_step', 'wall_clock', 'd_density', 'd_feature']);
  });

  it('says a lasso as a polygon over the chosen axes, which selects what the model selects', async () => {
    const m = await cloverModel();
    m.setShapes([LASSO]);
    expect(m.filter).toBe('(state2_density, d_density) in polygon ((4.5, -1), (9.5, -1), (9.5, 5), (4.5, 5))');
    expect(m.count).toBe(4); // levels 5..8; level 9 has no d_density
    expect(Array.from(filterMask(m))).toEqual(Array.from(m.selected));
  });

  it('clears the shapes when the scatter axes change, and keeps them through settings', async () => {
    const m = await cloverModel();
    m.setShapes([LASSO]);
    m.setScatterAxes('wall_clock', 'd_feature');
    expect(m.scatterAxes).toEqual(['wall_clock', 'd_feature']);
    expect(m.shapes).toEqual([]);
    expect(m.filter).toBe('');
    m.setScatterAxes('x_cells', 'd_density'); // kept aside: not plottable
    expect(m.scatterAxes).toEqual(['wall_clock', 'd_feature']);

    m.setShapes([{ kind: 'box', op: 'replace', polygon: [[0, 0], [2, 0], [2, 9], [0, 9]] }]);
    const saved = JSON.parse(JSON.stringify(m.settings));
    expect(saved.version).toBe(2);
    expect(saved.scatter).toEqual(['wall_clock', 'd_feature']);
    const other = await cloverModel();
    await other.restore(saved);
    expect(other.scatterAxes).toEqual(['wall_clock', 'd_feature']);
    expect(other.filter).toBe(m.filter);
    expect(other.count).toBe(m.count);
  });

  it('turns the scatter to the axes of a polygon in a filter from the notebook', async () => {
    const m = await cloverModel();
    m.setFilter('(wall_clock, d_density) in polygon ((0, 0), (2, 0), (2, 1), (0, 1))');
    expect(m.scatterAxes).toEqual(['wall_clock', 'd_density']);
    expect(m.shapes.length).toBe(1);
    expect(m.expression).toBeNull();
    expect(Array.from(filterMask(m))).toEqual(Array.from(m.selected));
  });

  it('weighs any chosen columns into d_feature; a missing term leaves the row missing', async () => {
    const m = await cloverModel();
    m.setFeature({ d_density: 1, wall_clock: 0.5 });
    const density = m.column('d_density')!;
    const wall = m.column('wall_clock')!;
    const feature = m.column('d_feature')!;
    if (density.kind !== 'numeric' || wall.kind !== 'numeric' || feature.kind !== 'numeric') {
      throw new Error('numeric columns expected');
    }
    for (let i = 0; i < 7; i++) {
      expect(feature.values[i]).toBeCloseTo(density.values[i] + 0.5 * wall.values[i], 5);
    }
    expect(feature.values[7]).toBeNaN(); // d_density is missing there
    expect(featureFormula(m.feature)).toBe('d_feature = 1 · d_density + 0.5 · wall_clock');
    expect(Object.keys(m.feature)).toEqual(['d_density', 'wall_clock']); // in the user's order
    expect(m.featureCandidates).toEqual(['end_step', 'wall_clock', 'd_density']);
    expect(m.settings.feature).toEqual({ d_density: 1, wall_clock: 0.5 });
  });
});

describe('a database with no method (parameters and metrics only)', () => {
  it('shows parameters and varying metrics, a metric as d_feature, and selects', async () => {
    const m = await cloverModel([]);
    expect(m.method).toBeNull();
    expect(m.steps).toBe(3);
    expect(m.columnNames).toEqual(['state2_density', 'end_step', 'wall_clock', 'd_feature']);
    expect(m.axes).toEqual(['state2_density', 'end_step', 'wall_clock']);
    expect(m.feature).toEqual({ end_step: 1 });
    // Continuous columns first: state2_density here has a few numeric levels.
    expect(m.scatterAxes).toEqual(['end_step', 'wall_clock']);
    m.setBrush('end_step', { kind: 'numeric', ranges: [{ lo: 103, hi: 110 }] });
    expect(m.filter).toBe('end_step between 103 and 110');
    expect(m.count).toBe(5);
    expect(m.settings.methodId).toBeNull();
  });

  it('turns to the distances when a first method arrives', async () => {
    const m = await cloverModel([]);
    m.setMethods([method('m1')]);
    await m.setMethod('m1');
    expect(m.feature).toEqual({ d_density: 1 });
    expect(m.scatterAxes).toEqual(['state2_density', 'd_density']);
    expect(m.axes).toEqual(['state2_density', 'end_step', 'wall_clock', 'd_density', 'd_feature']);
  });
});

describe("seed 000's ensembles", () => {
  it('keep d_feature = d_shock + d_edge against d_density', async () => {
    const m = new ExplorerModel(implosions(), theme);
    await m.load([method('m1')]);
    expect(m.feature).toEqual({ d_shock: 1, d_edge: 1 });
    expect(m.scatterAxes).toEqual(['d_feature', 'd_density']);
    expect(m.axes).toEqual(['energy', 'd_shock', 'd_edge', 'd_density', 'd_feature']);
    const feature = m.column('d_feature');
    expect(feature?.kind === 'numeric' && Array.from(feature.values)).toEqual([0, 3, NaN, 9, 12, 15]);
  });

  it('restore settings saved before issue 9 (version 1: weights of shock and edge)', async () => {
    const m = new ExplorerModel(implosions(), theme);
    await m.load([method('m1')]);
    const v1: IExplorerSettingsV1 = {
      version: 1,
      methodId: 'm1',
      t: 0,
      weights: { shock: 0.5, edge: 2 },
      colorBy: 'energy',
      axes: ['d_density', 'energy'],
      hidden: ['d_shock', 'd_edge', 'd_feature'],
      inverted: ['energy'],
      brushes: { energy: { kind: 'numeric', ranges: [{ lo: 10, hi: 40 }] } },
      shapes: [{ kind: 'box', op: 'replace', polygon: [[0, 0], [5, 0], [5, 1], [0, 1]] }]
    };
    await m.restore(v1);
    expect(m.feature).toEqual({ d_shock: 0.5, d_edge: 2 });
    expect(m.scatterAxes).toEqual(['d_feature', 'd_density']);
    expect(m.axes).toEqual(['d_density', 'energy']);
    expect(m.filter).toBe('energy between 10 and 40 and d_feature between 0 and 5 and d_density between 0 and 1');
    // d_feature = 0.5 · d_shock + 2 · d_edge: sim1 4.5 is in the box; sim2 (no d_edge), sim3, sim4 are not.
    expect(m.count).toBe(1);
    expect(m.settings.version).toBe(2);
  });
});

describe('feature terms', () => {
  it('read every form they travel in', () => {
    expect(parseTerms({ d_density: 1, wall_clock: 0.5 })).toEqual({ d_density: 1, wall_clock: 0.5 });
    expect(parseTerms([1, 2])).toEqual({ d_shock: 1, d_edge: 2 });
    expect(parseTerms({ shock: 0.5, edge: 1 })).toEqual({ d_shock: 0.5, d_edge: 1 });
    expect(parseTerms({ d_feature: 1 })).toBeNull();
    expect(parseTerms({ a: 'x' })).toBeNull();
    expect(parseTerms(null)).toBeNull();
    expect(parseTerms([1])).toBeNull();
  });

  it('sum weight times column, NaN where a term is missing or names no column', () => {
    const columns: Record<string, Float32Array> = { a: Float32Array.of(1, 2, NaN), b: Float32Array.of(10, 20, 30) };
    const values = (n: string) => columns[n] ?? null;
    expect(Array.from(computeFeature({ a: 2, b: 0.5 }, values, 3))).toEqual([7, 14, NaN]);
    expect(Array.from(computeFeature({ a: 1, c: 1 }, values, 3))).toEqual([NaN, NaN, NaN]);
    expect(Array.from(computeFeature({}, values, 3))).toEqual([NaN, NaN, NaN]);
    expect(featureFormula({ d_shock: 1, d_edge: 0.25 })).toBe('d_feature = 1 · d_shock + 0.25 · d_edge');
  });
});

/**
 * The selection's filter string says exactly what is selected: parsing it with the filter
 * language and evaluating it over the same columns gives the model's own mask, for brushes
 * (several ranges, categorical levels, missing bands), boxes and lassos added and subtracted.
 */
import { compileMask, parse } from '../../filter';
import { ExplorerModel, ISliceSource } from '../explorer';
import { brushClause, formatName, formatNumber, roundRange, selectionFilter, shapesClause } from '../filterString';
import type { IBaseTable, ISlice } from '../../db/slices';
import type { AxisBrush, IShape, ITable } from '../../table/types';
import { mulberry32 as random } from '../../../tests/js/random';


function source(rows: number, seed = 1): ISliceSource {
  const rnd = random(seed);
  const ids = Array.from({ length: rows }, (_, i) => `sim${String(i).padStart(5, '0')}`);
  const codes = (n: number) => Int32Array.from({ length: rows }, () => (rnd() < 0.03 ? -1 : Math.floor(rnd() * n)));
  const base: IBaseTable = {
    ids,
    times: [1, 2, 3],
    parameters: [
      { name: 'cs', kind: 'categorical', levels: [0.1, 0.2, 0.3, 0.4], unit: null, codes: codes(4) },
      { name: 'material', kind: 'categorical', levels: ['Al', 'Cu', 'a "quoted" one'], unit: null, codes: codes(3) },
      { name: 'energy', kind: 'numeric', levels: null, unit: 'J', values: Float32Array.from({ length: rows }, () => rnd() * 100) }
    ],
    runMetrics: [],
    stepMetrics: [],
    metricSteps: 0
  };
  // The same (method, step) always answers the same columns, as the database would.
  const slice = (methodId: string | null, t: number): ISlice => {
    const r = random(seed * 1000 + t);
    const column = (nulls: number) => Float32Array.from({ length: rows }, () => (r() < nulls ? NaN : r() * 2));
    return { methodId, t, dShock: column(0), dEdge: column(0), dDensity: column(0.05), metrics: [] };
  };
  return {
    table: async () => base,
    methodInfo: async () => ({ steps: 3, distances: ['d_shock', 'd_edge', 'd_density'] }),
    slice: async (methodId, t) => slice(methodId, t)
  };
}

const methods = [{ id: 'm1', groundTruth: 'sim00000', norm: 'L2' as const, gtTime: null, matchTime: 'index' as const, geometry: null, field: 'density', description: '', createdAt: '2026-01-01' }];
const theme = () => ({ context: '#ccc', missing: '#999' });

async function model(rows = 2000, seed = 1): Promise<ExplorerModel> {
  const m = new ExplorerModel(source(rows, seed), theme);
  await m.load(methods);
  return m;
}

function filterMask(table: ITable, filter: string): Uint8Array {
  const out = new Uint8Array(table.rows);
  compileMask(parse(filter), table)(out);
  return out;
}

function expectSame(m: ExplorerModel): void {
  const table = m.table!;
  const expected = m.selected;
  const actual = filterMask(table, m.filter);
  let differ = 0;
  for (let i = 0; i < table.rows; i++) {
    differ += expected[i] === actual[i] ? 0 : 1;
  }
  expect({ filter: m.filter, differ }).toEqual({ filter: m.filter, differ: 0 });
  expect(m.count).toBe(expected.reduce((a, b) => a + b, 0));
}

describe('filter string pieces', () => {
  it('quotes names and literals only when needed', () => {
    expect(formatName('cs')).toBe('cs');
    expect(formatName('shell thickness')).toBe('`shell thickness`');
    expect(formatName('and')).toBe('`and`');
    expect(formatName('a`b')).toBe('`a``b`');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(brushClause('material', { kind: 'categorical', codes: [2, 0] }, ['Al', 'Cu', 'say "hi"'])).toBe(
      'material in ("Al", "say ""hi""")'
    );
  });

  it('rounds brushed ranges outward to four significant digits of the extent', () => {
    expect(roundRange(0.123456, 0.56789, 2)).toEqual([0.123, 0.568]);
    expect(roundRange(12.34, 56.78, 100)).toEqual([12.3, 56.8]);
  });

  it('writes several ranges of one axis as an or, and the missing band as no comparison', () => {
    const brush: AxisBrush = { kind: 'numeric', ranges: [{ lo: 0, hi: 1 }, { lo: 2, hi: 3 }], missing: true };
    expect(brushClause('d_density', brush)).toBe(
      '(d_density between 0 and 1 or d_density between 2 and 3 or not (d_density >= 0 or d_density < 0))'
    );
  });

  it('chains shapes: add is or, subtract is and not, in drawing order', () => {
    const sq = (x: number): IShape['polygon'] => [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1]];
    const shapes: IShape[] = [
      { kind: 'box', op: 'replace', polygon: sq(0) },
      { kind: 'lasso', op: 'add', polygon: sq(2) },
      { kind: 'box', op: 'subtract', polygon: sq(0.5) }
    ];
    const text = shapesClause(shapes)!;
    // A box reads as two ranges, parenthesised beside `or` and under `not`.
    expect(text).toBe(
      '((d_feature between 0 and 1 and d_density between 0 and 1) or (d_feature, d_density) in polygon ((2, 0), (3, 0), (3, 1), (2, 1))) and not (d_feature between 0.5 and 1.5 and d_density between 0 and 1)'
    );
    expect(selectionFilter({ brushes: [], levels: new Map(), shapes: [] })).toBe('');
  });
});

describe('the model mask equals its filter string', () => {
  it('with no selection: everything, and an empty string', async () => {
    const m = await model();
    expect(m.filter).toBe('');
    expect(m.count).toBe(m.table!.rows);
  });

  it('for random brushes and shapes over many seeds', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rnd = random(seed * 7919);
      const m = await model(1500, seed);
      if (rnd() < 0.7) {
        const lo = rnd() * 1.2;
        const ranges = [{ lo, hi: lo + rnd() * 0.8 }];
        if (rnd() < 0.4) {
          ranges.push({ lo: 1.5, hi: 1.5 + rnd() * 0.5 });
        }
        m.setBrush('d_density', { kind: 'numeric', ranges, missing: rnd() < 0.3 });
      }
      if (rnd() < 0.6) {
        m.setBrush('cs', { kind: 'categorical', codes: [0, 2].filter(() => rnd() < 0.8), missing: rnd() < 0.3 });
      }
      if (rnd() < 0.4) {
        m.setBrush('material', { kind: 'categorical', codes: [1, 2], missing: rnd() < 0.5 });
      }
      if (rnd() < 0.5) {
        m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: rnd() * 50, hi: 50 + rnd() * 50 }] });
      }
      const shapes: IShape[] = [];
      const ops: IShape['op'][] = ['replace', 'add', 'subtract'];
      for (let k = 0; k < Math.floor(rnd() * 4); k++) {
        const cx = rnd() * 4;
        const cy = rnd() * 2;
        const r = 0.2 + rnd() * 1.5;
        const n = 3 + Math.floor(rnd() * 9);
        const polygon = Array.from({ length: n }, (_, j): [number, number] => {
          const a = (2 * Math.PI * j) / n;
          const rr = r * (0.4 + rnd());
          return [cx + rr * Math.cos(a), cy + rr * Math.sin(a)];
        });
        shapes.push({ kind: n === 4 ? 'box' : 'lasso', op: k === 0 ? 'replace' : ops[Math.floor(rnd() * 3)], polygon });
      }
      m.setShapes(shapes);
      m.setFeature({ d_shock: Math.round(rnd() * 20) / 10, d_edge: Math.round(rnd() * 20) / 10 });
      expectSame(m);
    }
  });

  it('keeps the selection through a time step and reports a new count', async () => {
    const m = await model();
    m.setBrush('d_density', { kind: 'numeric', ranges: [{ lo: 0.2, hi: 0.9 }] });
    const before = m.filter;
    await m.setTime(0);
    expect(m.t).toBe(0);
    expect(m.filter).toBe(before);
    expectSame(m);
  });

  it('round-trips its settings', async () => {
    const m = await model();
    m.setBrush('cs', { kind: 'categorical', codes: [1] });
    m.setShapes([{ kind: 'box', op: 'replace', polygon: [[0, 0], [2, 0], [2, 1], [0, 1]] }]);
    m.setColorBy('energy');
    const settings = JSON.parse(JSON.stringify(m.settings));
    const copy = await model();
    await copy.restore(settings);
    expect(copy.filter).toBe(m.filter);
    expect(copy.colorBy).toBe('energy');
    expect(Array.from(copy.selected)).toEqual(Array.from(m.selected));
  });
});

describe('a dataset highlighted by its members', () => {
  it('restricts the selection to the members and says so in the string', async () => {
    const m = await model(500);
    const ids = m.table!.ids;
    m.setBrush('d_density', { kind: 'numeric', ranges: [{ lo: 0, hi: 1.5 }] });
    m.setMembers([ids[3], ids[10], ids[400], 'not-a-simulation']);
    expect(m.filter).toContain('sim_id in (');
    expect(m.count).toBeLessThanOrEqual(3);
    expectSame(m);
    m.setMembers([]);
    expect(m.count).toBe(0);
    expectSame(m);
    m.clearSelection();
    expect(m.members).toBeNull();
    expect(m.count).toBe(ids.length);
  });
});

describe('a filter from the notebook (%dsi select --where)', () => {
  function expectMaskOf(m: ExplorerModel, where: string): void {
    const wanted = filterMask(m.table!, where);
    expect(Array.from(m.selected)).toEqual(Array.from(wanted));
    expectSame(m);
  }

  it('draws ranges, levels and polygons as brushes and shapes', async () => {
    const m = await model();
    const where =
      'energy between 10 and 40 and cs in (0.2, 0.4) and (d_feature, d_density) in polygon((0, 0), (3, 0), (3, 1), (0, 1))';
    m.setFilter(where);
    expect([...m.brushes.keys()].sort()).toEqual(['cs', 'energy']);
    expect(m.brushes.get('energy')).toEqual({ kind: 'numeric', ranges: [{ lo: 10, hi: 40 }] });
    expect(m.brushes.get('cs')).toEqual({ kind: 'categorical', codes: [1, 3] });
    expect(m.shapes).toHaveLength(1);
    expect(m.expression).toBeNull();
    expectMaskOf(m, where);
  });

  it('keeps what it cannot draw as a term of its own, and the string says it', async () => {
    const m = await model();
    const where = "d_density < 0.5 or material == 'Cu'";
    m.setFilter(`energy between 5 and 95 and (${where})`);
    expect([...m.brushes.keys()]).toEqual(['energy']);
    expect(m.expression).toBe("d_density < 0.5 or material == 'Cu'");
    expect(m.filter).toContain(`and (${m.expression})`);
    expectMaskOf(m, `energy between 5 and 95 and (${where})`);
    // The term survives a brush and a time step, and settings carry it.
    m.setBrush('d_edge', { kind: 'numeric', ranges: [{ lo: 0.1, hi: 1.2 }] });
    await m.setTime(1);
    expectSame(m);
    const copy = await model();
    await copy.restore(JSON.parse(JSON.stringify(m.settings)));
    expect(copy.filter).toBe(m.filter);
    expect(Array.from(copy.selected)).toEqual(Array.from(m.selected));
    m.clearSelection();
    expect(m.expression).toBeNull();
    expect(m.count).toBe(m.table!.rows);
  });

  it('draws several ranges of one axis and a subtracted polygon', async () => {
    const m = await model();
    const where =
      '(energy between 0 and 10 or energy between 50 and 60) and not (d_feature, d_density) in polygon((0, 0), (1, 0), (1, 1))';
    m.setFilter(where);
    expect(m.brushes.get('energy')).toEqual({ kind: 'numeric', ranges: [{ lo: 0, hi: 10 }, { lo: 50, hi: 60 }] });
    expect(m.shapes.map(s => s.op)).toEqual(['subtract']);
    expectMaskOf(m, where);
  });

  it('refuses an unknown name without touching the selection', async () => {
    const m = await model();
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 10, hi: 20 }] });
    const before = m.filter;
    expect(() => m.setFilter('enrgy > 3')).toThrow(/unknown name 'enrgy'/);
    expect(() => m.setFilter('energy >')).toThrow(/filter:/);
    expect(m.filter).toBe(before);
  });

  it('selects everything for an empty filter', async () => {
    const m = await model(300);
    m.setBrush('energy', { kind: 'numeric', ranges: [{ lo: 10, hi: 20 }] });
    m.setFilter('');
    expect(m.filter).toBe('');
    expect(m.count).toBe(300);
  });
});

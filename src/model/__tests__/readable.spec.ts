/**
 * The filter string reads as a person would write it (issue 14): a box is two `between` terms
 * on its axes, a lasso a polygon of at most a couple dozen vertices rounded to the data's
 * precision, and either selects what the panel selects; the string reads back as the same shapes.
 */
import { compileMask, parse } from '../../filter';
import { pointInPolygon } from '../../table/mask';
import type { IShape, Point } from '../../table/types';
import { ExplorerModel, ISliceSource } from '../explorer';
import { drawFilter } from '../fromFilter';
import { MAX_LASSO_VERTICES, readableLasso, simplifyPolygon } from '../simplify';
import { method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A hand-drawn loop: a wobbly ellipse of `n` vertices with ten-digit coordinates. */
function handLasso(n: number, cx: number, cy: number, rx: number, ry: number, seed = 3): Point[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = (2 * Math.PI * i) / n;
    const wobble = 1 + 0.03 * Math.sin(5 * a) + 0.004 * (r() - 0.5);
    return [cx + rx * wobble * Math.cos(a), cy + ry * wobble * Math.sin(a)] as Point;
  });
}

const inside = (polygon: readonly Point[], x: Float32Array, y: Float32Array): number[] =>
  Array.from(x, (_, i) => i).filter(i => pointInPolygon(x[i], y[i], polygon));

/** Digits a number is written with (no sign, point or exponent). */
const digits = (v: number): number => String(v).replace(/^-|\.|e.*$/g, '').replace(/^0+/, '').length;

describe('simplifyPolygon', () => {
  it('keeps a subset of the vertices, in order, and at most the count asked for', () => {
    const lasso = handLasso(300, 0, 0, 1, 1);
    const simple = simplifyPolygon(lasso, 12);
    expect(simple).toHaveLength(12);
    const indices = simple.map(p => lasso.findIndex(q => q[0] === p[0] && q[1] === p[1]));
    expect(indices.every(i => i >= 0)).toBe(true);
    expect([...indices].sort((a, b) => a - b)).toEqual(indices);
  });

  it('drops vertices that lie on the polygon kept', () => {
    const square: Point[] = [[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [0.5, 1], [0, 1], [0, 0.5]];
    expect(simplifyPolygon(square, 6)).toEqual([[0, 0], [1, 0], [1, 1], [0, 1]]);
  });
});

/** Rows in one of the two lists only. */
const differ = (a: number[], b: number[]): number => a.filter(i => !b.includes(i)).length + b.filter(i => !a.includes(i)).length;

describe('readableLasso', () => {
  const points = (n: number, seed: number): [Float32Array, Float32Array] => {
    const r = rng(seed);
    return [Float32Array.from({ length: n }, () => r() * 2), Float32Array.from({ length: n }, () => r() * 0.02)];
  };

  it('says a 300-vertex hand-drawn lasso with a few rounded vertices that select the same points', () => {
    const [x, y] = points(150, 7);
    const lasso = handLasso(300, 1, 0.01, 0.6, 0.006);
    const readable = readableLasso(lasso, x, y);
    expect(readable.length).toBeGreaterThanOrEqual(3);
    expect(readable.length).toBeLessThanOrEqual(MAX_LASSO_VERTICES);
    expect(inside(readable, x, y)).toEqual(inside(lasso, x, y));
    expect(inside(lasso, x, y).length).toBeGreaterThan(20);
    // Rounded to the data's precision: at most 7 significant digits of each axis's extent.
    for (const [px, py] of readable) {
      expect(digits(px)).toBeLessThanOrEqual(7);
      expect(digits(py)).toBeLessThanOrEqual(7);
    }
  });

  it('stays within a couple dozen vertices over dense points, losing only points at its edge', () => {
    const [x, y] = points(4000, 7);
    const lasso = handLasso(300, 1, 0.01, 0.6, 0.006);
    const readable = readableLasso(lasso, x, y);
    expect(readable.length).toBe(MAX_LASSO_VERTICES);
    const drawn = inside(lasso, x, y);
    expect(differ(inside(readable, x, y), drawn)).toBeLessThan(drawn.length * 0.02);
  });

  it('keeps a polygon that is already short and round', () => {
    const [x, y] = points(150, 7);
    const triangle: Point[] = [[0.2, 0.002], [1.8, 0.002], [1, 0.018]];
    expect(readableLasso(triangle, x, y)).toEqual(triangle);
  });

  it('never says more than the limit, even where no short polygon keeps every point', () => {
    // A comb: 100 teeth, a point in every tooth and in every gap.
    const comb: Point[] = [];
    for (let i = 0; i < 100; i++) {
      comb.push([i, 0], [i + 0.5, 10], [i + 1, 0]);
    }
    comb.push([100, -1], [0, -1]);
    const px = Float32Array.from({ length: 200 }, (_, i) => i / 2 + 0.25);
    const py = Float32Array.from({ length: 200 }, (_, i) => (i % 2 ? 9 : 1));
    expect(readableLasso(comb, px, py).length).toBeLessThanOrEqual(MAX_LASSO_VERTICES);
  });
});

/** 400 runs on a lattice (so points land on rounded bounds) against a spread-out d_density. */
function source(): ISliceSource {
  const rows = 400;
  const r = rng(11);
  const f = (fn: (i: number) => number) => Float32Array.from({ length: rows }, (_, i) => fn(i));
  const energy = f(i => i % 20);
  const density = f(() => Math.round(r() * 1000) / 1000);
  return {
    table: async () => ({
      ids: Array.from({ length: rows }, (_, i) => `s${i}`),
      parameters: [{ name: 'energy', kind: 'numeric', levels: null, unit: null, values: energy }],
      runMetrics: [],
      stepMetrics: [],
      metricSteps: 0,
      times: [0]
    }),
    methodInfo: async () => ({ steps: 1, distances: ['d_density'] }),
    slice: async (methodId, t) => ({ methodId, t, dShock: f(() => NaN), dEdge: f(() => NaN), dDensity: density, metrics: [] })
  };
}

async function model(): Promise<ExplorerModel> {
  const m = new ExplorerModel(source(), theme);
  await m.load([method('m1')]);
  m.setScatterAxes('energy', 'd_density');
  return m;
}

/** What the filter string selects, on its own. */
function filterMask(m: ExplorerModel): number[] {
  const out = new Uint8Array(m.table!.rows);
  compileMask(parse(m.filter), m.table!)(out);
  return Array.from(out, (v, i) => (v ? i : -1)).filter(i => i >= 0);
}

const selected = (m: ExplorerModel): number[] => Array.from(m.selected, (v, i) => (v ? i : -1)).filter(i => i >= 0);

describe('the panel says', () => {
  it('a box as two between terms rounded outward, keeping its edges as the string does', async () => {
    const m = await model();
    m.setShapes([{ kind: 'box', op: 'replace', polygon: [[2.0000013, 0.1000004], [5.9999991, 0.1000004], [5.9999991, 0.4999993], [2.0000013, 0.4999993]] }]);
    expect(m.filter).toBe('energy between 2 and 6 and d_density between 0.1 and 0.5');
    expect(selected(m)).toEqual(filterMask(m));
    // Inclusive: a run at energy 6 (the upper edge) is in, as `between` says.
    const energy = m.scatterValues('energy')!;
    expect(selected(m).some(i => energy[i] === 6)).toBe(true);
  });

  it('a lasso with a couple dozen vertices, selecting what the drawn path selects', async () => {
    const m = await model();
    const lasso = handLasso(300, 9.5, 0.5, 6, 0.3);
    m.setShapes([{ kind: 'lasso', op: 'replace', polygon: lasso }]);
    const points = m.filter.match(/\(-?[\d.e+-]+, -?[\d.e+-]+\)/g) ?? [];
    expect(points.length).toBeLessThanOrEqual(MAX_LASSO_VERTICES);
    expect(m.filter.length).toBeLessThan(700);
    // The string and the panel select the same runs; the drawn path's, but for a few at its edge.
    expect(filterMask(m)).toEqual(selected(m));
    const drawn = inside(lasso, m.scatterValues('energy')!, m.scatterValues('d_density')!);
    expect(differ(selected(m), drawn)).toBeLessThan(drawn.length * 0.03);
  });

  it('leaves live shapes as drawn until the gesture ends', async () => {
    const m = await model();
    const lasso = handLasso(60, 9.5, 0.5, 6, 0.3);
    m.setShapes([{ kind: 'lasso', op: 'replace', polygon: lasso }], false);
    expect(m.shapes[0].polygon).toHaveLength(60);
  });
});

describe('the string reads back as the shapes', () => {
  const columns = [
    { kind: 'numeric' as const, name: 'x', values: new Float32Array(0) },
    { kind: 'numeric' as const, name: 'y', values: new Float32Array(0) },
    { kind: 'numeric' as const, name: 'z', values: new Float32Array(0) }
  ];

  it('a box beside a polygon, and a box taken away', () => {
    const drawn = drawFilter(
      parse('(x between 0 and 1 and y between 2 and 3) or (x, y) in polygon ((0, 0), (4, 0), (4, 4))'),
      columns,
      ['x', 'y']
    );
    expect(drawn.rest).toBeNull();
    expect(drawn.shapes).toEqual<IShape[]>([
      { kind: 'box', op: 'replace', polygon: [[0, 2], [1, 2], [1, 3], [0, 3]] },
      { kind: 'lasso', op: 'add', polygon: [[0, 0], [4, 0], [4, 4]] }
    ]);
    const minus = drawFilter(parse('not (y between 2 and 3 and x between 0 and 1)'), columns, ['x', 'y']);
    expect(minus.shapes).toEqual<IShape[]>([{ kind: 'box', op: 'subtract', polygon: [[0, 2], [1, 2], [1, 3], [0, 3]] }]);
  });

  it('not a box over other axes', () => {
    const drawn = drawFilter(parse('not (x between 0 and 1 and z between 2 and 3)'), columns, ['x', 'y']);
    expect(drawn.shapes).toEqual([]);
    expect(drawn.rest).not.toBeNull();
  });
});

/**
 * The scatter view: geometry (point in polygon with the Python filter's semantics, the shapes
 * mask, lasso thinning, the zoomed view's pixel <-> data mapping, hover look-up), draw order,
 * and the view itself in jsdom (no canvas there: a fake 2-D context records the draw calls).
 */

import * as fs from 'fs';
import * as path from 'path';

import {
  appendLassoPoint,
  axisAlignedBox,
  boxPolygon,
  dataToPixel,
  homeView,
  IView,
  panView,
  pixelToData,
  pointInPolygon,
  PointGrid,
  shapesMask,
  simplifyLasso,
  viewScale,
  wheelFactor,
  zoomView
} from '../geometry';
import {
  combineShapes,
  drawOrder,
  MARGIN,
  parseCssColor,
  defaultPointSize,
  polygonPath,
  rasterizeSquares,
  Scatter
} from '../scatter';
import type { IShape, ITable, Point } from '../types';
import { mask as filterMask, parse } from '../../filter';
import { shapesClause } from '../../model/filterString';
import { mulberry32 as rng } from '../../../tests/js/random';

const SQUARE: Point[] = [
  [0, 0],
  [1, 0],
  [1, 1],
  [0, 1]
];
const TRIANGLE: Point[] = [
  [0, 0],
  [2, 0],
  [0, 2]
];
/** Self-intersecting: the two triangles of a bow tie meeting at (0.5, 0.5). */
const BOWTIE: Point[] = [
  [0, 0],
  [1, 1],
  [1, 0],
  [0, 1]
];
/** Concave: an L. */
const ELL: Point[] = [
  [0, 0],
  [2.5, 0],
  [2.5, 2.5],
  [1.2, 2.5],
  [1.2, 0.7],
  [0, 0.7]
];

function mask(x: number[], y: number[], shapes: IShape[]): number[] {
  const out = shapesMask(Float32Array.from(x), Float32Array.from(y), shapes, new Uint8Array(x.length));
  return Array.from(out);
}

function rows(m: ArrayLike<number>): number[] {
  const r: number[] = [];
  for (let i = 0; i < m.length; i++) if (m[i]) r.push(i);
  return r;
}


describe('pointInPolygon', () => {
  it('tests convex, concave and self-intersecting polygons by the even-odd rule', () => {
    expect(pointInPolygon(0.5, 0.5, SQUARE)).toBe(true);
    expect(pointInPolygon(1.5, 0.5, SQUARE)).toBe(false);
    expect(pointInPolygon(2, 2, ELL)).toBe(true);
    expect(pointInPolygon(0.5, 2, ELL)).toBe(false); // in the notch
    expect(pointInPolygon(0.5, 0.25, BOWTIE)).toBe(false);
    expect(pointInPolygon(0.25, 0.5, BOWTIE)).toBe(true);
    expect(pointInPolygon(0.75, 0.5, BOWTIE)).toBe(true);
    expect(pointInPolygon(0.5, 0.75, BOWTIE)).toBe(false);
  });

  it('answers on edges and vertices exactly as jupyterlab_dsi.filter.in_polygon', () => {
    // Expected values computed with the Python in_polygon.
    const cases: [Point[], number, number, boolean][] = [
      [SQUARE, 0, 0.5, true],
      [SQUARE, 1, 0.5, false],
      [SQUARE, 0.5, 0, true],
      [SQUARE, 0.5, 1, false],
      [SQUARE, 0, 0, true],
      [SQUARE, 1, 0, false],
      [SQUARE, 1, 1, false],
      [SQUARE, 0, 1, false],
      [TRIANGLE, 1, 1, false],
      [TRIANGLE, 0.5, 1.5, false],
      [TRIANGLE, 1.5, 0.5, false],
      [TRIANGLE, 0, 1, true],
      [TRIANGLE, 1, 0, true],
      [TRIANGLE, 0.999, 1, true],
      [BOWTIE, 0.5, 0.5, true]
    ];
    for (const [poly, x, y, inside] of cases) {
      expect([poly.length, x, y, pointInPolygon(x, y, poly)]).toEqual([poly.length, x, y, inside]);
    }
  });

  it('is never true for NaN coordinates or fewer than 3 vertices', () => {
    expect(pointInPolygon(NaN, 0.5, SQUARE)).toBe(false);
    expect(pointInPolygon(0.5, NaN, SQUARE)).toBe(false);
    expect(pointInPolygon(0.5, 0.5, SQUARE.slice(0, 2))).toBe(false);
  });

  it('matches the polygon cases of tests/vectors/filter.json', () => {
    const vectors = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, '../../../tests/vectors/filter.json'), 'utf8')
    );
    const data = vectors.eval.rows as Record<string, unknown>[];
    const col = (name: string): number[] =>
      data.map(r => (typeof r[name] === 'number' ? (r[name] as number) : NaN));
    const cols: Record<string, number[]> = { x: col('x'), y: col('y') };
    const parsePoints = (text: string): Point[] =>
      Array.from(text.matchAll(/\(\s*(-?[\d.e+-]+)\s*,\s*(-?[\d.e+-]+)\s*\)/g)).map(
        m => [Number(m[1]), Number(m[2])] as Point
      );
    const single = /^(not )?\((x|y), (x|y)\) in polygon\((.*)\)$/;
    let checked = 0;
    for (const c of vectors.eval.cases as { input: string; match: number[] }[]) {
      const m = single.exec(c.input);
      if (m && !c.input.includes(' and ')) {
        const poly = parsePoints(m[4]);
        const xs = cols[m[2]];
        const ys = cols[m[3]];
        const inside = xs.map((x, i) => pointInPolygon(x, ys[i], poly));
        const got = rows(inside.map(v => (m[1] ? !v : v) ? 1 : 0));
        expect([c.input, got]).toEqual([c.input, c.match]);
        checked++;
      } else if (/^\(x, y\) in polygon\(.*\) and not \(x, y\) in polygon\(.*\)$/.test(c.input)) {
        // "A and not B" is the shapes [A, -B].
        const [a, b] = c.input.split(' and not ');
        const shapes: IShape[] = [
          { kind: 'lasso', op: 'replace', polygon: parsePoints(a.slice(a.indexOf('polygon('))) },
          { kind: 'lasso', op: 'subtract', polygon: parsePoints(b.slice(b.indexOf('polygon('))) }
        ];
        expect([c.input, rows(mask(cols.x, cols.y, shapes))]).toEqual([c.input, c.match]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

describe('shapesMask', () => {
  const x = [0.5, 1.5, 0.5, 2.5, NaN, 0.5];
  const y = [0.5, 0.5, 1.5, 2.5, 0.5, NaN];
  const A: IShape = { kind: 'box', op: 'replace', polygon: boxPolygon(0, 0, 2, 1) }; // rows 0, 1
  const B: IShape = { kind: 'box', op: 'add', polygon: boxPolygon(0, 0, 1, 2) }; // rows 0, 2
  const C: IShape = { kind: 'lasso', op: 'subtract', polygon: [[1, 0], [3, 0], [3, 3]] }; // row 1
  const D: IShape = { kind: 'box', op: 'add', polygon: boxPolygon(2, 2, 3, 3) }; // row 3

  it('selects every row, missing ones included, when there are no shapes', () => {
    expect(mask(x, y, [])).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('applies replace, add and subtract in order', () => {
    expect(mask(x, y, [A])).toEqual([1, 1, 0, 0, 0, 0]);
    expect(mask(x, y, [A, B])).toEqual([1, 1, 1, 0, 0, 0]);
    expect(mask(x, y, [A, B, C])).toEqual([1, 0, 1, 0, 0, 0]);
    expect(mask(x, y, [A, B, C, D])).toEqual([1, 0, 1, 1, 0, 0]);
    // Order matters: adding after subtracting brings rows back.
    const C2: IShape = { ...C, polygon: boxPolygon(0, 0, 1, 1) }; // row 0
    expect(mask(x, y, [A, C2, B])).toEqual([1, 1, 1, 0, 0, 0]);
    expect(mask(x, y, [A, B, C2])).toEqual([0, 1, 1, 0, 0, 0]);
    // A replace in the middle starts over; a leading add is the same as a replace.
    expect(mask(x, y, [A, B, { ...D, op: 'replace' }])).toEqual([0, 0, 0, 1, 0, 0]);
    expect(mask(x, y, [{ ...B, op: 'add' }])).toEqual(mask(x, y, [{ ...B, op: 'replace' }]));
  });

  it('subtracts a leading shape from every row, as the filter `not (x, y) in polygon(...)`', () => {
    // Missing rows stay: `not` matches a missing value (filter.py, shapesClause).
    expect(mask(x, y, [C])).toEqual([1, 0, 1, 1, 1, 1]);
    expect(mask(x, y, [C, D])).toEqual([1, 0, 1, 1, 1, 1]);
    expect(mask(x, y, [C, { ...D, op: 'subtract' }])).toEqual([1, 0, 1, 0, 1, 1]);
  });

  it('never puts a row with a NaN coordinate inside a polygon', () => {
    const everything: IShape = { kind: 'box', op: 'replace', polygon: boxPolygon(-1e9, -1e9, 1e9, 1e9) };
    const lasso: IShape = { kind: 'lasso', op: 'add', polygon: [[-1e9, -1e9], [1e9, -1e9], [0, 1e9]] };
    expect(mask(x, y, [everything, lasso]).slice(4)).toEqual([0, 0]);
  });

  it('agrees with pointInPolygon row by row (box fast path and bounding-box prefilter)', () => {
    const r = rng(7);
    const n = 5000;
    // Values on a coarse lattice so that many points sit exactly on edges and vertices.
    const xs = Float32Array.from({ length: n }, () => Math.round(r() * 40) / 8 - 1);
    const ys = Float32Array.from({ length: n }, () => Math.round(r() * 40) / 8 - 1);
    const lasso: Point[] = Array.from({ length: 40 }, (_, k) => {
      const a = (k / 40) * 2 * Math.PI;
      const rad = 1 + (k % 2 ? 1.5 : 0.5) * r();
      return [1.5 + rad * Math.cos(a), 1.5 + rad * Math.sin(a)] as Point;
    });
    // Self-intersecting, 300 vertices on the same lattice: points hit vertices and edges exactly.
    const tangle: Point[] = Array.from(
      { length: 300 },
      () => [Math.round(r() * 40) / 8 - 1, Math.round(r() * 40) / 8 - 1] as Point
    );
    for (const polygon of [boxPolygon(0.25, 0.5, 2, 3.125), lasso, tangle, ELL, BOWTIE, TRIANGLE]) {
      const got = shapesMask(xs, ys, [{ kind: 'lasso', op: 'replace', polygon }], new Uint8Array(n));
      for (let i = 0; i < n; i++) {
        if (got[i] !== (pointInPolygon(xs[i], ys[i], polygon) ? 1 : 0)) {
          throw new Error(`row ${i} (${xs[i]}, ${ys[i]}) differs for ${JSON.stringify(polygon)}`);
        }
      }
    }
  });

  it('selects the rows the filter string written for the shapes selects', () => {
    // The saved dataset is reproduced from the filter string: the mask must agree with it.
    const r = rng(11);
    const n = 400;
    const xs = Float32Array.from({ length: n }, (_, i) => (i % 23 === 0 ? NaN : Math.round(r() * 32) / 8));
    const ys = Float32Array.from({ length: n }, (_, i) => (i % 29 === 0 ? NaN : Math.round(r() * 32) / 8));
    const table: ITable = {
      rows: n,
      ids: Array.from({ length: n }, (_, i) => `s${i}`),
      columns: [
        { kind: 'numeric', name: 'd_feature', values: xs },
        { kind: 'numeric', name: 'd_density', values: ys }
      ]
    };
    const ops: IShape['op'][] = ['replace', 'add', 'subtract'];
    const lattice = (): number => Math.round(r() * 32) / 8;
    for (let trial = 0; trial < 60; trial++) {
      const shapes: IShape[] = Array.from({ length: 1 + Math.floor(r() * 4) }, () =>
        r() < 0.5
          ? { kind: 'box', op: ops[Math.floor(r() * 3)], polygon: boxPolygon(lattice(), lattice(), lattice(), lattice()) }
          : {
              kind: 'lasso',
              op: ops[Math.floor(r() * 3)],
              polygon: Array.from({ length: 3 + Math.floor(r() * 6) }, () => [lattice(), lattice()] as Point)
            }
      );
      const text = shapesClause(shapes) ?? '';
      const expected = filterMask(table, parse(text));
      const got = shapesMask(xs, ys, shapes, new Uint8Array(n));
      expect([text, rows(got)]).toEqual([text, rows(expected)]);
    }
  });

  it('recognises axis-aligned boxes in either winding', () => {
    expect(axisAlignedBox(boxPolygon(2, 3, 0, 1))).toEqual([0, 1, 2, 3]);
    expect(axisAlignedBox([[0, 0], [0, 1], [1, 1], [1, 0]])).toEqual([0, 0, 1, 1]);
    expect(axisAlignedBox(TRIANGLE)).toBeNull();
    expect(axisAlignedBox(BOWTIE)).toBeNull();
  });
});

describe('zoomed view', () => {
  const view: IView = { x0: 0, x1: 10, y0: -1, y1: 1, width: 400, height: 200 };

  it('maps data to pixels with y up, and back', () => {
    expect(dataToPixel(view, 0, -1)).toEqual([0, 200]);
    expect(dataToPixel(view, 10, 1)).toEqual([400, 0]);
    expect(dataToPixel(view, 5, 0)).toEqual([200, 100]);
    const [x, y] = pixelToData(view, 123, 45);
    const [px, py] = dataToPixel(view, x, y);
    expect(px).toBeCloseTo(123, 9);
    expect(py).toBeCloseTo(45, 9);
    expect(viewScale(view)).toEqual([40, 100]);
  });

  it('zooms about the pointer: the data under it stays under it', () => {
    const z = zoomView(view, 100, 50, 2);
    expect(z.x1 - z.x0).toBeCloseTo(5, 12);
    const before = pixelToData(view, 100, 50);
    const after = pixelToData(z, 100, 50);
    expect(after[0]).toBeCloseTo(before[0], 12);
    expect(after[1]).toBeCloseTo(before[1], 12);
    expect(zoomView(view, 0, 0, 0)).toBe(view);
    expect(zoomView(view, 0, 0, 1e300)).toBe(view); // too deep: refused
    expect(wheelFactor(-100, 0)).toBeGreaterThan(1); // wheel up zooms in
    expect(wheelFactor(3, 1)).toBeCloseTo(wheelFactor(48, 0), 12);
  });

  it('pans so that the content follows the pointer', () => {
    const p = panView(view, 40, -100);
    expect(p.x0).toBeCloseTo(-1, 12);
    expect(p.y0).toBeCloseTo(-2, 12);
    expect(dataToPixel(p, 5, 0)[0]).toBeCloseTo(240, 9);
  });

  it('keeps shapes in data units: zoom moves the outline, not the selection', () => {
    const xs = Float32Array.from([1, 2, 3, 4, 5]);
    const ys = Float32Array.from([0, 0.1, 0.2, 0.3, 0.9]);
    // A box drawn in pixels at the home view is converted to data once...
    const [x0, y0] = pixelToData(view, 60, 110);
    const [x1, y1] = pixelToData(view, 170, 60);
    const shape: IShape = { kind: 'box', op: 'replace', polygon: boxPolygon(x0, y0, x1, y1) };
    const selected = rows(shapesMask(xs, ys, [shape], new Uint8Array(5)));
    expect(selected).toEqual([1, 2, 3]);
    // ... then any zoom or pan moves its outline on screen but the polygon and rows stay.
    const frozen = JSON.stringify(shape.polygon);
    const zoomed = panView(zoomView(view, 300, 20, 3.7), 13, -8);
    expect(polygonPath(zoomed, shape.polygon)).not.toEqual(polygonPath(view, shape.polygon));
    expect(JSON.stringify(shape.polygon)).toEqual(frozen);
    expect(rows(shapesMask(xs, ys, [shape], new Uint8Array(5)))).toEqual(selected);
    // The outline's corners are where the zoomed view puts the data corners.
    const [cx, cy] = dataToPixel(zoomed, x0, y0);
    expect(polygonPath(zoomed, shape.polygon).startsWith(`M${cx.toFixed(1)},${cy.toFixed(1)}`)).toBe(true);
  });

  it('home view pads the finite extent and survives degenerate data', () => {
    const h = homeView([0, 10, NaN, Infinity], [5, 5, 1, NaN], 100, 50);
    expect(h.x0).toBeLessThan(0);
    expect(h.x1).toBeGreaterThan(10);
    expect(h.y0).toBeLessThan(5);
    expect(h.y1).toBeGreaterThan(5);
    expect(homeView([NaN], [NaN], 1, 1)).toMatchObject({ x0: 0, x1: 1, y0: 0, y1: 1 });
  });
});

describe('lasso simplification', () => {
  it('drops points closer than the minimum distance while drawing', () => {
    const pts: Point[] = [];
    expect(appendLassoPoint(pts, [0, 0])).toBe(true);
    expect(appendLassoPoint(pts, [1, 1])).toBe(false); // 1.41 px < 2
    expect(appendLassoPoint(pts, [2, 0])).toBe(true);
    expect(appendLassoPoint(pts, [3, 0], 0.5)).toBe(true);
    expect(pts).toEqual([
      [0, 0],
      [2, 0],
      [3, 0]
    ]);
  });

  it('caps the vertex count and keeps the shape', () => {
    const circle: Point[] = Array.from({ length: 5000 }, (_, k) => {
      const a = (k / 5000) * 2 * Math.PI;
      return [200 + 150 * Math.cos(a), 200 + 150 * Math.sin(a)] as Point;
    });
    const s = simplifyLasso(circle, 2, 100);
    expect(s.length).toBeLessThanOrEqual(100);
    expect(s.length).toBeGreaterThan(30);
    expect(pointInPolygon(200, 200, s)).toBe(true);
    expect(pointInPolygon(200, 60, s)).toBe(true);
    expect(pointInPolygon(200, 40, s)).toBe(false);
    // Without a cap, consecutive vertices are >= 2 px apart, and the end does not duplicate the start.
    const fine = simplifyLasso(circle, 2, 1e9);
    for (let k = 1; k < fine.length; k++) {
      expect(Math.hypot(fine[k][0] - fine[k - 1][0], fine[k][1] - fine[k - 1][1])).toBeGreaterThanOrEqual(2);
    }
    const [f, l] = [fine[0], fine[fine.length - 1]];
    expect(Math.hypot(f[0] - l[0], f[1] - l[1])).toBeGreaterThanOrEqual(2);
  });
});

describe('PointGrid', () => {
  it('finds the nearest accepted point within the pixel radius, as a brute-force scan', () => {
    const r = rng(3);
    const n = 3000;
    const xs = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? NaN : r() * 100));
    const ys = Float32Array.from({ length: n }, () => r() * 0.01);
    const grid = new PointGrid(xs, ys);
    const sx = 8; // px per unit
    const sy = 60000;
    const accept = (row: number): boolean => row % 3 !== 0;
    for (let q = 0; q < 300; q++) {
      const qx = r() * 110 - 5;
      const qy = r() * 0.012 - 0.001;
      let best = -1;
      let bestD = 8 * 8;
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(xs[i]) || !accept(i)) continue;
        const d = ((xs[i] - qx) * sx) ** 2 + ((ys[i] - qy) * sy) ** 2;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      expect(grid.nearest(qx, qy, sx, sy, 8, accept)).toBe(best);
    }
  });
});

describe('draw order', () => {
  it('buckets rows by selection then color, skips missing and hidden rows, counts missing', () => {
    const valid = Uint8Array.from([1, 1, 1, 0, 1, 1]);
    const visible = Uint8Array.from([1, 1, 1, 1, 0, 1]);
    const selected = Uint8Array.from([1, 0, 0, 1, 0, 0]);
    const color = Uint8Array.from([2, 1, 0, 1, 1, 9]); // 9 is out of the palette: context color
    const o = drawOrder(valid, visible, selected, color, 3, false);
    const bucketOf = (row: number): number => {
      const k = Array.from(o.order).indexOf(row);
      let b = 0;
      while (k >= o.starts[b + 1]) b++;
      return b;
    };
    expect(o.missing).toBe(1);
    expect(o.drawn).toBe(4);
    expect(Array.from(o.order)).not.toContain(3);
    expect(Array.from(o.order)).not.toContain(4);
    expect(bucketOf(2)).toBe(1); // unselected, color 0
    expect(bucketOf(5)).toBe(1);
    expect(bucketOf(1)).toBe(2); // unselected, color 1
    expect(bucketOf(0)).toBe(1 + 3 + 2); // selected, color 2: drawn last
    const faint = drawOrder(valid, visible, selected, color, 3, true);
    expect(faint.order[0]).toBe(4); // hidden rows first, as faint context
    expect(faint.starts[1]).toBe(1);
  });

  it('rasterises squares into an ImageData buffer, clipped at the edges', () => {
    const W = 8;
    const H = 6;
    const buf = new Uint32Array(W * H);
    const xs = Float32Array.from([2, 0, 7.9, 4]);
    const ys = Float32Array.from([3, 0, 5.9, 1]);
    const order = Int32Array.from([0, 1, 2, 3]);
    // Identity-like transform (1 px per unit, y not flipped) to read the result easily.
    rasterizeSquares(buf, W, H, order, 0, 3, xs, ys, [1, 0, 1, 0], 2, 7);
    rasterizeSquares(buf, W, H, order, 3, 4, xs, ys, [1, 0, 1, 0], 3, 9);
    const at = (x: number, y: number): number => buf[y * W + x];
    // Row 0 centred on (2, 3): pixels x 1..2, y 2..3.
    expect([at(1, 2), at(2, 2), at(1, 3), at(2, 3), at(3, 3), at(0, 2)]).toEqual([7, 7, 7, 7, 0, 0]);
    // Row 1 at the corner keeps its one pixel inside; row 2 at the far corner likewise.
    expect([at(0, 0), at(1, 0), at(0, 1)]).toEqual([7, 0, 0]);
    expect(at(7, 5)).toBe(7);
    // The 3 px square of row 3 (color 9) covers x 3..5, y 0..2.
    expect([at(3, 0), at(5, 2), at(6, 2), at(5, 3)]).toEqual([9, 9, 0, 0]);
    expect(Array.from(buf).filter(v => v !== 0).length).toBe(4 + 1 + 1 + 9);
  });

  it('parses the colors a canvas normalises to', () => {
    expect(parseCssColor('#1976d2')).toEqual([0x19, 0x76, 0xd2, 255]);
    expect(parseCssColor('#fff')).toEqual([255, 255, 255, 255]);
    expect(parseCssColor('rgba(10, 20, 30, 0.5)')).toEqual([10, 20, 30, 128]);
    expect(parseCssColor('rgb(10 20 30 / 50%)')).toEqual([10, 20, 30, 128]);
    expect(parseCssColor('teal')).toBeNull();
  });

  it('combines a finished shape with the earlier ones', () => {
    const a: IShape = { kind: 'box', op: 'replace', polygon: boxPolygon(0, 0, 1, 1) };
    const b: IShape = { ...a, op: 'add' };
    expect(combineShapes([a], b)).toEqual([a, b]);
    expect(combineShapes([a, b], a)).toEqual([a]);
  });
});

// ---------------------------------------------------------------------------------------------
// The view in jsdom

interface IFakeCtx {
  calls: [string, number, number][];
  fillStyle: string;
  globalAlpha: number;
}

function fakeContext(): IFakeCtx & Record<string, unknown> {
  const ctx: IFakeCtx & Record<string, unknown> = {
    calls: [],
    fillStyle: '#000',
    globalAlpha: 1,
    setTransform: () => undefined,
    clearRect: () => undefined,
    fillRect(x: number, y: number) {
      ctx.calls.push([ctx.fillStyle, x, y]);
    }
  };
  return ctx;
}

describe('Scatter (jsdom)', () => {
  let host: HTMLDivElement;
  let ctx: ReturnType<typeof fakeContext>;

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
    ctx = fakeContext();
    jest
      .spyOn(HTMLCanvasElement.prototype, 'getContext')
      .mockImplementation(() => ctx as unknown as CanvasRenderingContext2D);
  });

  afterEach(() => {
    host.remove();
    jest.restoreAllMocks();
  });

  /** A view with a 400 x 300 px plot area (jsdom lays nothing out). */
  function sized(options: ConstructorParameters<typeof Scatter>[1] = {}): Scatter {
    const s = new Scatter(host, options);
    const plot = host.querySelector('.jp-dsi-Scatter-plot') as HTMLElement;
    Object.defineProperty(plot, 'clientWidth', { value: 400 + MARGIN.left + MARGIN.right });
    Object.defineProperty(plot, 'clientHeight', { value: 300 + MARGIN.top + MARGIN.bottom });
    s.resize();
    return s;
  }

  function pointer(type: string, px: number, py: number, init: MouseEventInit = {}): MouseEvent {
    const e = new MouseEvent(type, {
      bubbles: true,
      cancelable: true,
      clientX: px + MARGIN.left,
      clientY: py + MARGIN.top,
      ...init
    });
    Object.defineProperty(e, 'pointerId', { value: 1 });
    return e;
  }

  it('has a keyboard-reachable toolbar whose aria-pressed follows the tool', () => {
    const s = new Scatter(host, {});
    const buttons = Array.from(host.querySelectorAll<HTMLButtonElement>('[role="toolbar"] button'));
    expect(buttons.map(b => b.textContent)).toEqual(['Box', 'Lasso', 'Pan', 'Reset']);
    expect(buttons.every(b => b.type === 'button' && b.tabIndex === 0)).toBe(true);
    const pressed = (): (string | null)[] => buttons.map(b => b.getAttribute('aria-pressed'));
    expect(pressed()).toEqual(['true', 'false', 'false', null]);
    buttons[1].click();
    expect(s.getTool()).toBe('lasso');
    expect(pressed()).toEqual(['false', 'true', 'false', null]);
    s.setTool('pan');
    expect(pressed()).toEqual(['false', 'false', 'true', null]);
    s.destroy();
    expect(host.children.length).toBe(0);
  });

  it('marks a row another view hovers, with its parameters, without calling onHover back', () => {
    const onHover = jest.fn();
    const s = sized({ onHover, describe: row => [`cs: ${[0.1, 0.5][row]}`] });
    s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['sim0', 'sim1'], { x: 'x', y: 'y' });
    s.flush();
    const mark = host.querySelector('.jp-dsi-Scatter-hover') as SVGCircleElement;
    const tooltip = host.querySelector('.jp-dsi-Scatter-tooltip') as HTMLElement;
    s.highlight(1);
    expect(mark.style.display).not.toBe('none');
    expect(tooltip.style.display).not.toBe('none');
    expect(tooltip.textContent).toBe('sim1\nx: 10\ny: 10\ncs: 0.5');
    s.highlight(null);
    expect(mark.style.display).toBe('none');
    expect(tooltip.style.display).toBe('none');
    expect(onHover).not.toHaveBeenCalled();
    s.destroy();
  });

  it('Enter on the plot opens the marked point (onPick), as a click would; nothing marked, nothing opened', () => {
    const onPick = jest.fn();
    const s = sized({ onPick });
    s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['sim0', 'sim1'], { x: 'x', y: 'y' });
    s.flush();
    const enter = () => s.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    enter();
    expect(onPick).not.toHaveBeenCalled();
    s.highlight(1);
    enter();
    expect(onPick).toHaveBeenCalledWith(1);
    s.destroy();
  });

  it('cuts an axis title to the plot and keeps the whole title as its tooltip', () => {
    const s = sized();
    const formula = 'd_feature = 0.25 · d_shock + 0.75 · d_edge + 1 · d_density + 2 · gamma + 3 · rho_gas';
    s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['a', 'b'], { x: formula, y: 'd_density' });
    s.flush();
    const [x, y] = Array.from(host.querySelectorAll('.jp-dsi-Scatter-label'));
    // 400 px of plot: about 60 characters, the last an ellipsis, centred inside the view.
    expect(x.firstChild!.textContent!.length).toBeLessThan(formula.length);
    expect(x.firstChild!.textContent!.endsWith('…')).toBe(true);
    expect((x.firstChild!.textContent!.length - 1) * 7).toBeLessThanOrEqual(400 + 2 * MARGIN.right);
    expect(x.querySelector('title')!.textContent).toBe(formula);
    expect(y.firstChild!.textContent).toBe('d_density');
    expect(y.querySelector('title')!.textContent).toBe('d_density');
    s.destroy();
  });

  it('draws one outline per shape, in data units, and moves them with the zoom', () => {
    const s = sized();
    s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['a', 'b'], { x: 'x', y: 'y' });
    s.flush();
    const shapes: IShape[] = [
      { kind: 'box', op: 'replace', polygon: boxPolygon(1, 1, 4, 4) },
      { kind: 'lasso', op: 'add', polygon: [[5, 5], [9, 5], [7, 9]] },
      { kind: 'box', op: 'subtract', polygon: boxPolygon(2, 2, 3, 3) }
    ];
    s.setShapes(shapes);
    const outlines = (): SVGPathElement[] =>
      Array.from(host.querySelectorAll<SVGPathElement>('svg .jp-dsi-Scatter-shape'));
    expect(outlines().length).toBe(3);
    expect(outlines().map(p => [p.dataset.kind, p.dataset.op])).toEqual([
      ['box', 'replace'],
      ['lasso', 'add'],
      ['box', 'subtract']
    ]);
    const before = outlines()[0].getAttribute('d');
    expect(before).toBe(polygonPath(s.getView(), shapes[0].polygon));
    host.querySelector('svg')!.dispatchEvent(
      Object.assign(new MouseEvent('wheel', { bubbles: true, cancelable: true, clientX: 200, clientY: 150 }), {
        deltaY: -200,
        deltaMode: 0
      })
    );
    s.flush();
    expect(outlines()[0].getAttribute('d')).not.toBe(before);
    expect(s.getShapes()).toEqual(shapes); // unchanged in data units
    s.resetZoom();
    s.flush();
    expect(outlines()[0].getAttribute('d')).toBe(before);
    s.setShapes([]);
    expect(outlines().length).toBe(0);
    s.destroy();
  });

  it('turns a drag into a box in data units; shift adds, alt subtracts, Escape clears', () => {
    const calls: [IShape[], boolean][] = [];
    const s = sized({ onShapes: (shapes, final) => calls.push([shapes, final]) });
    s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['a', 'b'], { x: 'x', y: 'y' });
    s.flush();
    const svg = host.querySelector('svg')!;
    const drag = (from: Point, to: Point, init: MouseEventInit = {}): void => {
      svg.dispatchEvent(pointer('pointerdown', from[0], from[1], init));
      svg.dispatchEvent(pointer('pointermove', (from[0] + to[0]) / 2, (from[1] + to[1]) / 2, init));
      s.flush(); // the live emission of the frame
      svg.dispatchEvent(pointer('pointermove', to[0], to[1], init));
      svg.dispatchEvent(pointer('pointerup', to[0], to[1], init));
    };
    drag([40, 260], [200, 100]);
    const v = s.getView();
    const [x0, y0] = pixelToData(v, 40, 260);
    const [x1, y1] = pixelToData(v, 200, 100);
    expect(calls.length).toBe(2);
    expect(calls[0][1]).toBe(false);
    const [final, isFinal] = calls[1];
    expect(isFinal).toBe(true);
    expect(final).toEqual([{ kind: 'box', op: 'replace', polygon: boxPolygon(x0, y0, x1, y1) }]);

    drag([250, 250], [300, 200], { shiftKey: true });
    expect(calls[calls.length - 1][0].map(sh => sh.op)).toEqual(['replace', 'add']);
    drag([60, 240], [80, 220], { altKey: true });
    expect(calls[calls.length - 1][0].map(sh => sh.op)).toEqual(['replace', 'add', 'subtract']);
    expect(host.querySelectorAll('.jp-dsi-Scatter-shape').length).toBe(3);

    drag([10, 10], [390, 290]); // a plain drag replaces them all
    expect(calls[calls.length - 1][0].length).toBe(1);

    s.setTool('lasso');
    svg.dispatchEvent(pointer('pointerdown', 100, 100));
    for (let k = 0; k <= 60; k++) {
      const a = (k / 60) * 2 * Math.PI;
      svg.dispatchEvent(pointer('pointermove', 200 + 80 * Math.cos(a), 150 + 80 * Math.sin(a)));
    }
    svg.dispatchEvent(pointer('pointerup', 200, 150));
    const lasso = calls[calls.length - 1][0];
    expect(lasso.length).toBe(1);
    expect(lasso[0].kind).toBe('lasso');
    expect(lasso[0].polygon.length).toBeGreaterThan(20);

    host.querySelector('.jp-dsi-Scatter')!.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })
    );
    expect(calls[calls.length - 1]).toEqual([[], true]);
    expect(host.querySelectorAll('.jp-dsi-Scatter-shape').length).toBe(0);
    s.destroy();
  });

  it('alt-dragging with no shapes subtracts from every row', () => {
    const calls: IShape[][] = [];
    const s = sized({ onShapes: (shapes, final) => final && calls.push(shapes) });
    const xs = Float32Array.from([1, 5, 9]);
    s.setData(xs, xs, ['a', 'b', 'c'], { x: 'x', y: 'y' });
    const svg = host.querySelector('svg')!;
    const [px, py] = dataToPixel(s.getView(), 5, 5);
    svg.dispatchEvent(pointer('pointerdown', px - 10, py - 10, { altKey: true }));
    svg.dispatchEvent(pointer('pointermove', px + 10, py + 10, { altKey: true }));
    svg.dispatchEvent(pointer('pointerup', px + 10, py + 10, { altKey: true }));
    const shapes = calls[0];
    expect(shapes.map(sh => sh.op)).toEqual(['subtract']);
    expect(rows(shapesMask(xs, xs, shapes, new Uint8Array(3)))).toEqual([0, 2]);
    s.destroy();
  });

  it('a click on empty space clears the shapes, but not a double-click', () => {
    jest.useFakeTimers();
    try {
      const calls: IShape[][] = [];
      const s = sized({ onShapes: shapes => calls.push(shapes) });
      s.setData(Float32Array.from([0, 10]), Float32Array.from([0, 10]), ['a', 'b'], { x: 'x', y: 'y' });
      s.setShapes([{ kind: 'box', op: 'replace', polygon: boxPolygon(1, 1, 4, 4) }]);
      const svg = host.querySelector('svg')!;
      const click = (): void => {
        svg.dispatchEvent(pointer('pointerdown', 200, 150));
        svg.dispatchEvent(pointer('pointerup', 200, 150));
      };
      click();
      click();
      svg.dispatchEvent(pointer('dblclick', 200, 150));
      jest.advanceTimersByTime(1000);
      expect(calls).toEqual([]);
      click();
      jest.advanceTimersByTime(1000);
      expect(calls).toEqual([[]]);
      s.destroy();
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports the hovered visible row with a text-only readout', () => {
    const hovers: (number | null)[] = [];
    const s = sized({ onHover: row => hovers.push(row) });
    const ids = ['<b>a</b>', 'b', 'c'];
    s.setData(Float32Array.from([0, 5, 10]), Float32Array.from([0, 5, 10]), ids, { x: 'dx', y: 'dy' });
    const svg = host.querySelector('svg')!;
    const [px, py] = dataToPixel(s.getView(), 5, 5);
    svg.dispatchEvent(pointer('pointermove', px + 3, py - 3));
    expect(hovers).toEqual([1]);
    const tip = host.querySelector('.jp-dsi-Scatter-tooltip') as HTMLElement;
    expect(tip.style.display).toBe('');
    expect(tip.textContent).toBe('b\ndx: 5\ndy: 5');
    svg.dispatchEvent(pointer('pointermove', px + 30, py));
    expect(hovers).toEqual([1, null]);
    // Hidden rows are not hovered; the id is never parsed as HTML.
    s.setVisible(Uint8Array.from([1, 0, 1]));
    svg.dispatchEvent(pointer('pointermove', px, py));
    expect(hovers).toEqual([1, null]);
    const [ax, ay] = dataToPixel(s.getView(), 0, 0);
    svg.dispatchEvent(pointer('pointermove', ax, ay));
    expect(hovers).toEqual([1, null, 0]);
    expect(tip.textContent!.startsWith('<b>a</b>')).toBe(true);
    expect(tip.children.length).toBe(0);
    s.destroy();
  });

  it('draws visible rows by color with the selected ones last, and notes missing rows', () => {
    const s = sized();
    const x = Float32Array.from([1, 2, NaN, 4, 5]);
    const y = Float32Array.from([1, 2, 3, 4, NaN]);
    s.setData(x, y, ['a', 'b', 'c', 'd', 'e'], { x: 'x', y: 'y' });
    s.setVisible(Uint8Array.from([1, 1, 1, 0, 1]));
    s.setSelection(Uint8Array.from([1, 0, 0, 0, 0]), {
      palette: ['#cccccc', '#ff0000'],
      index: Uint8Array.from([1, 0, 0, 0, 1])
    });
    ctx.calls.length = 0;
    s.flush();
    // Row 3 is hidden, rows 2 and 4 are missing: rows 1 (grey) then 0 (selected, red) on top.
    expect(ctx.calls.map(c => c[0])).toEqual(['#cccccc', '#ff0000']);
    const [px] = dataToPixel(s.getView(), 1, 1);
    // The square is drawn centred on the point (a few rows: the large size).
    expect(defaultPointSize(5)).toBe(8);
    expect(Math.abs(ctx.calls[1][1] + defaultPointSize(5) / 2 - px * 1)).toBeLessThanOrEqual(1);
    const note = host.querySelector('.jp-dsi-Scatter-note') as HTMLElement;
    expect(note.textContent).toBe('2 not shown (missing)');
    s.destroy();
  });

  it('refuses columns of the wrong length', () => {
    const s = new Scatter(host, {});
    s.setData(new Float32Array(3), new Float32Array(3), ['a', 'b', 'c'], { x: 'x', y: 'y' });
    expect(() => s.setVisible(new Uint8Array(2))).toThrow(RangeError);
    expect(() => s.setData(new Float32Array(3), new Float32Array(2), ['a'], { x: 'x', y: 'y' })).toThrow(
      RangeError
    );
    s.destroy();
  });
});

/**
 * The lasso's inclusion table (src/table/inclusion.ts) selects exactly the rows that
 * pointInPolygon selects: points on edges and vertices, points an ulp off them, NaN, rows
 * outside the box, adds and subtracts; and shapesMask goes through it for many rows.
 */
import { InclusionTable, RowCells, polygonGrid } from '../../table/inclusion';
import { INCLUSION_TABLE_ROWS, pointInPolygon, shapesMask } from '../../table/mask';
import type { IShape, Point } from '../../table/types';
import { mulberry32 } from '../../../tests/js/random';

/** The rows of (x, y) pointInPolygon keeps, one test each: the reference. */
function reference(x: Float32Array, y: Float32Array, polygon: readonly Point[]): Uint8Array {
  return Uint8Array.from(x, (_, i) => (pointInPolygon(x[i], y[i], polygon) ? 1 : 0));
}

/** The table over the polygon's box, and over the rows' extent with the rows' cells known. */
function viaTable(x: Float32Array, y: Float32Array, polygon: readonly Point[], cells: number): Uint8Array {
  const out = new Uint8Array(x.length);
  new InclusionTable(polygon, polygonGrid(polygon, cells)).apply(x, y, out, 1);
  const rows = new RowCells(x, y, x.length, cells);
  const viaRows = new Uint8Array(x.length);
  new InclusionTable(polygon, rows.grid).apply(x, y, viaRows, 1, rows);
  expect(viaRows).toEqual(out);
  return out;
}

/** Points on and around every vertex and edge of a polygon, and a cloud over its box. */
function probe(polygon: readonly Point[], random: () => number, cloud: number): [Float32Array, Float32Array] {
  const xs: number[] = [];
  const ys: number[] = [];
  const push = (x: number, y: number): void => {
    xs.push(x);
    ys.push(y);
  };
  const n = polygon.length;
  for (let i = 0; i < n; i++) {
    const [ax, ay] = polygon[i];
    const [bx, by] = polygon[(i + 1) % n];
    for (const t of [0, 0.25, 0.5, 1 / 3, 0.75]) {
      const x = ax + t * (bx - ax);
      const y = ay + t * (by - ay);
      push(x, y);
      // An ulp (of float32) either side, on both axes: where rounding decides.
      const up = (v: number): number => v + Math.max(Math.abs(v), 1) * 1.2e-7;
      const down = (v: number): number => v - Math.max(Math.abs(v), 1) * 1.2e-7;
      push(up(x), y);
      push(down(x), y);
      push(x, up(y));
      push(x, down(y));
    }
  }
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of polygon) {
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  const w = x1 - x0;
  const h = y1 - y0;
  for (let k = 0; k < cloud; k++) {
    push(x0 - 0.1 * w + 1.2 * w * random(), y0 - 0.1 * h + 1.2 * h * random());
  }
  push(NaN, (y0 + y1) / 2);
  push((x0 + x1) / 2, NaN);
  return [Float32Array.from(xs), Float32Array.from(ys)];
}

/** A hand-drawn-like lasso: a wobbly loop of n vertices, maybe self-crossing. */
function lasso(random: () => number, n: number, wobble: number): Point[] {
  const cx = random() * 10 - 5;
  const cy = random() * 10 - 5;
  const r = 0.5 + random() * 3;
  return Array.from({ length: n }, (_, i) => {
    const a = (i / n) * 2 * Math.PI;
    const rr = r * (1 + wobble * (random() - 0.5));
    return [cx + rr * Math.cos(a), cy + rr * Math.sin(a)] as Point;
  });
}

describe('InclusionTable', () => {
  it('selects what pointInPolygon selects on random lassos, edges and vertices included', () => {
    const random = mulberry32(7);
    for (let trial = 0; trial < 16; trial++) {
      const polygon = lasso(random, 3 + Math.floor(random() * 200), trial % 2 ? 1.8 : 0.3);
      const [x, y] = probe(polygon, random, 1500);
      const expected = reference(x, y, polygon);
      for (const cells of [1, 7, 64, 256]) {
        expect(viaTable(x, y, polygon, cells)).toEqual(expected);
      }
    }
  });

  it('is exact on axis-aligned, collinear and repeated vertices and on lattice points', () => {
    const shapes: Point[][] = [
      [[0, 0], [4, 0], [4, 4], [0, 4]],
      [[0, 0], [2, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]], // an L with collinear vertices
      [[0, 0], [4, 4], [4, 0], [0, 4]], // a bow tie
      [[1, 1], [1, 1], [3, 1], [3, 3], [3, 3], [1, 3]],
      [[0, 0], [1e-3, 0], [1e-3, 1e6], [0, 1e6]] // a sliver
    ];
    const random = mulberry32(11);
    for (const polygon of shapes) {
      const xs: number[] = [];
      const ys: number[] = [];
      // Every quarter-unit lattice point over the box and around it: on edges, on vertices.
      for (let i = -4; i <= 20; i++) {
        for (let j = -4; j <= 20; j++) {
          xs.push(i / 4);
          ys.push(j / 4);
        }
      }
      const [px, py] = probe(polygon, random, 2000);
      const x = Float32Array.from([...xs, ...px]);
      const y = Float32Array.from([...ys, ...py]);
      const expected = reference(x, y, polygon);
      for (const cells of [2, 16, 256]) {
        expect(viaTable(x, y, polygon, cells)).toEqual(expected);
      }
    }
  });

  it('is exact over a grid of the rows that the polygon overflows or barely covers', () => {
    const random = mulberry32(13);
    for (let trial = 0; trial < 8; trial++) {
      const polygon = lasso(random, 60, 1.2);
      // Rows in a small square somewhere around the polygon: the grid is theirs, not its.
      const cx = random() * 8 - 4;
      const cy = random() * 8 - 4;
      const x = Float32Array.from({ length: 3000 }, () => cx + random());
      const y = Float32Array.from({ length: 3000 }, () => cy + random());
      const rows = new RowCells(x, y, x.length, 64);
      const out = new Uint8Array(x.length);
      new InclusionTable(polygon, rows.grid).apply(x, y, out, 1, rows);
      expect(out).toEqual(reference(x, y, polygon));
    }
  });

  it('keeps nothing for a degenerate polygon, as pointInPolygon', () => {
    const x = Float32Array.from([0, 1, 2, 1]);
    const y = Float32Array.from([0, 1, 2, 0]);
    for (const polygon of [[[0, 0], [1, 1], [2, 2]], [[0, 0], [2, 0]]] as Point[][]) {
      expect(viaTable(x, y, polygon, 16)).toEqual(reference(x, y, polygon));
    }
  });

  it('contains() answers as pointInPolygon', () => {
    const random = mulberry32(3);
    const polygon = lasso(random, 120, 1.5);
    const [x, y] = probe(polygon, random, 500);
    const table = new InclusionTable(polygon, polygonGrid(polygon, 32));
    for (let i = 0; i < x.length; i++) {
      expect(table.contains(x[i], y[i])).toBe(pointInPolygon(x[i], y[i], polygon));
    }
  });

  it('gives shapesMask the same rows as one test per row, through adds and subtracts', () => {
    const random = mulberry32(5);
    const rows = 4 * INCLUSION_TABLE_ROWS;
    const x = Float32Array.from({ length: rows }, () => random() * 10 - 5);
    const y = Float32Array.from({ length: rows }, () => random() * 10 - 5);
    x[0] = NaN;
    const shapes: IShape[] = [
      { kind: 'lasso', op: 'replace', polygon: lasso(random, 150, 1) },
      { kind: 'lasso', op: 'add', polygon: lasso(random, 90, 0.5) },
      { kind: 'lasso', op: 'subtract', polygon: lasso(random, 300, 1.8) }
    ];
    const fast = shapesMask(x, y, shapes, new Uint8Array(rows));
    // The reference: the same rules with pointInPolygon per row.
    const slow = new Uint8Array(rows).fill(0);
    for (let i = 0; i < rows; i++) {
      let inSet = pointInPolygon(x[i], y[i], shapes[0].polygon);
      inSet = inSet || pointInPolygon(x[i], y[i], shapes[1].polygon);
      inSet = inSet && !pointInPolygon(x[i], y[i], shapes[2].polygon);
      slow[i] = inSet ? 1 : 0;
    }
    expect(fast).toEqual(slow);
    expect(fast.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});

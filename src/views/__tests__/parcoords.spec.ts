/**
 * Tests of the parallel coordinates: the pure axis arithmetic (scales, pixels, brushes, the
 * selection mask, hit-testing), line-density binning and accumulation, and the view's SVG in
 * jsdom (which has no canvas: drawing is skipped, axes, brushes and gestures are not).
 */
import {
  ICategoricalScale,
  INumericScale,
  IVerticalLayout,
  axisScale,
  brushMask,
  brushToIntervals,
  categoricalScale,
  coveredLevels,
  finiteExtent,
  intervalsToBrush,
  mergeIntervals,
  nearestPolyline,
  niceDomain,
  normalizeIntervals,
  numericScale,
  rowJitter,
  rowPixels
} from '../axes';
import {
  SelectionStrips,
  addLine,
  binPair,
  coarsen,
  composeRGBA,
  createAccumulator,
  fitBudget,
  gridTotal,
  quantize,
  rasterCost
} from '../density';
import { densityFrame, drawLines, drawingOrder, lineAlpha, listRows, paletteRGB } from '../parcoords-layers';
import { ParallelCoordinates, axisXs, formatValue, hasMissing, verticalLayout } from '../parcoords';
import type { AxisBrush, ICategoricalColumn, INumericColumn, ITable } from '../types';

const LAYOUT: IVerticalLayout = { top: 40, bottom: 340, missingTop: 350, missingBottom: 364 };

function numeric(name: string, values: number[], unit?: string): INumericColumn {
  return { kind: 'numeric', name, values: Float32Array.from(values), unit };
}

function categorical(name: string, codes: number[], levels: (string | number)[]): ICategoricalColumn {
  return { kind: 'categorical', name, codes: Int32Array.from(codes), levels };
}

/** Six rows: a numeric axis with a missing value, a categorical one with a missing code. */
function smallTable(): ITable {
  return {
    rows: 6,
    ids: ['s0', 's1', 's2', 's3', 's4', 's5'],
    columns: [
      numeric('d_shock', [0.5, 1.5, 2.5, NaN, 4.5, 9.5], 'cm'),
      categorical('profile', [0, 1, 2, 0, -1, 1], ['flat', 'ramp', 'step']),
      numeric('d_edge', [10, 20, 30, 40, 50, 60])
    ]
  };
}

function mask(table: ITable, brushes: [string, AxisBrush][]): number[] {
  return [...brushMask(table, new Map(brushes), new Uint8Array(table.rows))];
}

describe('numeric scales', () => {
  it('ignores missing values and infinities in the extent', () => {
    expect(finiteExtent(Float32Array.from([3, NaN, -2, Infinity, 7, -Infinity]))).toEqual([-2, 7]);
    expect(finiteExtent(Float32Array.from([NaN, NaN]))).toBeNull();
  });

  it('rounds the domain to nice numbers, and never leaves it empty', () => {
    expect(niceDomain([0.13, 9.7])).toEqual([0, 10]);
    expect(niceDomain(null)).toEqual([0, 1]);
    const [lo, hi] = niceDomain([5, 5]);
    expect(lo).toBeLessThan(5);
    expect(hi).toBeGreaterThan(5);
  });

  it('puts the minimum at the bottom, or at the top when inverted', () => {
    const up = numericScale([0, 10], LAYOUT);
    expect(up.toPixel(0)).toBeCloseTo(LAYOUT.bottom);
    expect(up.toPixel(10)).toBeCloseTo(LAYOUT.top);
    expect(up.toValue(up.toPixel(3.7))).toBeCloseTo(3.7);
    const down = numericScale([0, 10], LAYOUT, true);
    expect(down.toPixel(0)).toBeCloseTo(LAYOUT.top);
    expect(down.toPixel(10)).toBeCloseTo(LAYOUT.bottom);
  });

  it('builds the scale of a column from its values, NaN ignored', () => {
    const scale = axisScale(numeric('x', [0.2, NaN, 9.1]), LAYOUT) as INumericScale;
    expect(scale.kind).toBe('numeric');
    expect(scale.domain).toEqual([0, 10]);
  });

  it('labels ticks briefly', () => {
    const big = numericScale([0, 200000], LAYOUT);
    expect(big.ticks.map(t => t.label)).toContain('100k');
    const small = numericScale([0, 1], LAYOUT);
    expect(small.ticks.map(t => t.label)).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
    const tiny = numericScale([0, 0.0004], LAYOUT);
    expect(tiny.ticks[1].label).toMatch(/e-/);
  });
});

describe('categorical scales', () => {
  const levels = ['flat', 'ramp', 'step'];

  it('spaces the levels evenly, in order, the first at the bottom', () => {
    const scale = categoricalScale(levels, LAYOUT);
    expect(scale.band).toBeCloseTo(100);
    expect(scale.center(0)).toBeCloseTo(290);
    expect(scale.center(1)).toBeCloseTo(190);
    expect(scale.center(2)).toBeCloseTo(90);
    expect(scale.bandOf(0)).toEqual([240, 340]);
    expect(scale.ticks.map(t => t.label)).toEqual(levels);
  });

  it('puts the first level at the top when inverted', () => {
    const scale = categoricalScale(levels, LAYOUT, true);
    expect(scale.center(0)).toBeCloseTo(90);
    expect(scale.center(2)).toBeCloseTo(290);
  });

  it('labels every k-th level when the bands are too thin for all', () => {
    const many = Array.from({ length: 100 }, (_, i) => `L${i}`);
    const scale = categoricalScale(many, LAYOUT);
    expect(scale.ticks.length).toBeLessThan(30);
    expect(scale.ticks[0].label).toBe('L0');
  });
});

describe('row pixels', () => {
  it('maps numeric values through the scale and missing ones into the missing band', () => {
    const column = numeric('x', [0, 5, 10, NaN]);
    const scale = numericScale([0, 10], LAYOUT);
    const ys = rowPixels(column, scale);
    expect(ys[0]).toBeCloseTo(340);
    expect(ys[1]).toBeCloseTo(190);
    expect(ys[2]).toBeCloseTo(40);
    expect(ys[3]).toBeGreaterThanOrEqual(LAYOUT.missingTop);
    expect(ys[3]).toBeLessThanOrEqual(LAYOUT.missingBottom);
  });

  it('jitters categorical rows within their band, the same way every time', () => {
    const codes = Array.from({ length: 200 }, (_, i) => i % 3);
    const column = categorical('c', [...codes, -1], ['a', 'b', 'c']);
    const scale = axisScale(column, LAYOUT) as ICategoricalScale;
    const ys = rowPixels(column, scale);
    codes.forEach((code, row) => {
      expect(Math.abs(ys[row] - scale.center(code))).toBeLessThanOrEqual(6);
    });
    // Spread out, not all on one pixel.
    const level0 = codes.map((c, row) => (c === 0 ? ys[row] : NaN)).filter(y => !isNaN(y));
    expect(Math.max(...level0) - Math.min(...level0)).toBeGreaterThan(5);
    expect(rowPixels(column, scale)).toEqual(ys);
    expect(ys[200]).toBeGreaterThanOrEqual(LAYOUT.missingTop);
  });

  it('hashes rows to jitters in [-0.5, 0.5)', () => {
    const jitters = Array.from({ length: 1000 }, (_, row) => rowJitter(row));
    expect(Math.min(...jitters)).toBeGreaterThanOrEqual(-0.5);
    expect(Math.max(...jitters)).toBeLessThan(0.5);
    expect(Math.abs(jitters.reduce((a, b) => a + b) / 1000)).toBeLessThan(0.05);
  });
});

describe('brushes: pixels <-> data', () => {
  const scale = numericScale([0, 10], LAYOUT);
  const levels = categoricalScale(['a', 'b', 'c', 'd'], LAYOUT);

  it('turns a numeric pixel interval into a range in data units, and back', () => {
    const brush = intervalsToBrush(scale, [[scale.toPixel(8), scale.toPixel(2)]]);
    expect(brush?.kind).toBe('numeric');
    if (brush?.kind !== 'numeric') {
      return;
    }
    expect(brush.ranges).toHaveLength(1);
    expect(brush.ranges[0].lo).toBeCloseTo(2);
    expect(brush.ranges[0].hi).toBeCloseTo(8);
    expect(brush.missing).toBe(false);
    const [iv] = brushToIntervals(scale, brush);
    expect(iv[0]).toBeCloseTo(scale.toPixel(8));
    expect(iv[1]).toBeCloseTo(scale.toPixel(2));
  });

  it('keeps lo <= hi on an inverted axis', () => {
    const inverted = numericScale([0, 10], LAYOUT, true);
    const brush = intervalsToBrush(inverted, [[inverted.toPixel(1), inverted.toPixel(4)]]);
    expect(brush).toMatchObject({ kind: 'numeric' });
    if (brush?.kind === 'numeric') {
      expect(brush.ranges[0].lo).toBeCloseTo(1);
      expect(brush.ranges[0].hi).toBeCloseTo(4);
    }
  });

  it('OR-s several intervals, and reads the missing band as `missing`', () => {
    const brush = intervalsToBrush(scale, [
      [scale.toPixel(9), scale.toPixel(7)],
      [scale.toPixel(3), scale.toPixel(1)],
      [LAYOUT.missingTop + 2, LAYOUT.missingBottom]
    ]);
    expect(brush).toMatchObject({ kind: 'numeric', missing: true });
    if (brush?.kind === 'numeric') {
      expect(brush.ranges.map(r => [Math.round(r.lo), Math.round(r.hi)])).toEqual([
        [1, 3],
        [7, 9]
      ]);
    }
    expect(intervalsToBrush(scale, [[LAYOUT.missingTop, LAYOUT.missingBottom]])).toEqual({
      kind: 'numeric',
      ranges: [],
      missing: true
    });
    expect(intervalsToBrush(scale, [])).toBeNull();
  });

  it('round-trips a brush with a missing band through pixels', () => {
    const brush: AxisBrush = { kind: 'numeric', ranges: [{ lo: 2, hi: 4 }], missing: true };
    const intervals = brushToIntervals(scale, brush);
    expect(intervals).toHaveLength(2);
    const back = intervalsToBrush(scale, intervals);
    expect(back).toMatchObject({ kind: 'numeric', missing: true });
    if (back?.kind === 'numeric') {
      expect(back.ranges[0].lo).toBeCloseTo(2);
      expect(back.ranges[0].hi).toBeCloseTo(4);
    }
  });

  it('picks the levels whose ticks an interval covers, or the band it lies in', () => {
    // Bands of 75 px: d [40, 115], c [115, 190], b [190, 265], a [265, 340].
    expect(coveredLevels(levels, [140, 240])).toEqual([1, 2]);
    expect(coveredLevels(levels, [200, 210])).toEqual([1]);
    expect(coveredLevels(levels, [LAYOUT.missingTop, LAYOUT.missingBottom])).toEqual([]);
    expect(intervalsToBrush(levels, [[140, 240]])).toEqual({
      kind: 'categorical',
      codes: [1, 2],
      missing: false
    });
  });

  it('snaps a categorical interval to the bands of its levels', () => {
    expect(normalizeIntervals(levels, [[140, 240]])).toEqual([[115, 265]]);
    // An interval reaching into the missing band splits into its levels and the whole band.
    expect(normalizeIntervals(levels, [[300, 360]])).toEqual([
      [265, 340],
      [LAYOUT.missingTop, LAYOUT.missingBottom]
    ]);
  });

  it('draws categorical brushes as one interval per run of adjacent levels', () => {
    expect(brushToIntervals(levels, { kind: 'categorical', codes: [0, 1] })).toEqual([[190, 340]]);
    expect(brushToIntervals(levels, { kind: 'categorical', codes: [0, 2] })).toEqual([
      [115, 190],
      [265, 340]
    ]);
  });

  it('clamps numeric intervals to the axis and merges overlaps', () => {
    expect(normalizeIntervals(scale, [[20, 100], [90, 150]])).toEqual([[40, 150]]);
    expect(mergeIntervals([[5, 10], [1, 2], [10, 12]])).toEqual([
      [1, 2],
      [5, 12]
    ]);
  });
});

describe('brushMask', () => {
  const table = smallTable();

  it('keeps every row without brushes', () => {
    expect(mask(table, [])).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('keeps the rows in any of an axis ranges, inclusive', () => {
    expect(mask(table, [['d_shock', { kind: 'numeric', ranges: [{ lo: 1.5, hi: 2.5 }] }]])).toEqual([
      0, 1, 1, 0, 0, 0
    ]);
    const two: AxisBrush = {
      kind: 'numeric',
      ranges: [
        { lo: 0, hi: 1 },
        { lo: 4, hi: 5 }
      ]
    };
    expect(mask(table, [['d_shock', two]])).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it('keeps missing values only where asked', () => {
    const brush: AxisBrush = { kind: 'numeric', ranges: [{ lo: 9, hi: 10 }], missing: true };
    expect(mask(table, [['d_shock', brush]])).toEqual([0, 0, 0, 1, 0, 1]);
    const onlyMissing: AxisBrush = { kind: 'numeric', ranges: [], missing: true };
    expect(mask(table, [['d_shock', onlyMissing]])).toEqual([0, 0, 0, 1, 0, 0]);
    const nothing: AxisBrush = { kind: 'numeric', ranges: [] };
    expect(mask(table, [['d_shock', nothing]])).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('keeps the levels of a categorical brush, and its missing code if asked', () => {
    expect(mask(table, [['profile', { kind: 'categorical', codes: [1] }]])).toEqual([0, 1, 0, 0, 0, 1]);
    expect(
      mask(table, [['profile', { kind: 'categorical', codes: [0], missing: true }]])
    ).toEqual([1, 0, 0, 1, 1, 0]);
  });

  it('ANDs the axes', () => {
    expect(
      mask(table, [
        ['profile', { kind: 'categorical', codes: [0, 1] }],
        ['d_edge', { kind: 'numeric', ranges: [{ lo: 15, hi: 45 }] }]
      ])
    ).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('ignores brushes of unknown columns; applies numeric ranges to numeric levels', () => {
    expect(mask(table, [['nope', { kind: 'numeric', ranges: [] }]])).toEqual([1, 1, 1, 1, 1, 1]);
    const levels: ITable = { rows: 3, ids: ['a', 'b', 'c'], columns: [categorical('s1', [0, 1, 2], [0, 0.5, 1])] };
    expect(mask(levels, [['s1', { kind: 'numeric', ranges: [{ lo: 0.4, hi: 2 }] }]])).toEqual([0, 1, 1]);
  });
});

describe('nearestPolyline', () => {
  const xs = [0, 100, 200];
  // Row 0 flat at 50, row 1 flat at 150, row 2 down from 250 to 350 (slope 1), then flat.
  const ys = [Float32Array.from([50, 150, 250]), Float32Array.from([50, 150, 350]), Float32Array.from([50, 150, 350])];

  it('finds the line under the pointer within the tolerance', () => {
    expect(nearestPolyline(xs, ys, null, 50, 52)).toBe(0);
    expect(nearestPolyline(xs, ys, null, 150, 147)).toBe(1);
    expect(nearestPolyline(xs, ys, null, 50, 100, 5)).toBeNull();
  });

  it('measures perpendicular distance, so steep lines are as easy to hit', () => {
    // Row 2 passes (50, 300) with slope 1: (50, 306) is 6 px off vertically, 4.2 px away.
    expect(nearestPolyline(xs, ys, null, 50, 306, 5)).toBe(2);
    expect(nearestPolyline(xs, ys, null, 150, 356, 5)).toBeNull();
  });

  it('only considers rows in the mask, and only between the axes', () => {
    expect(nearestPolyline(xs, ys, Uint8Array.from([0, 1, 1]), 50, 52)).toBeNull();
    expect(nearestPolyline(xs, ys, Uint8Array.from([0, 1, 1]), 50, 52, 100)).toBe(1);
    expect(nearestPolyline(xs, ys, null, 250, 50)).toBeNull();
  });
});

describe('line density', () => {
  const rows = 1000;
  const left = quantize(Float32Array.from({ length: rows }, (_, i) => 40 + ((i * 7) % 300)), 40, 364, 64);
  const right = quantize(Float32Array.from({ length: rows }, (_, i) => 40 + ((i * 13) % 320)), 40, 364, 64);
  const place = { xLeft: 0, xRight: 100, yTop: 0, binHeight: 5, baseBins: 64 };

  it('quantizes pixels into bins, clamped', () => {
    expect([...quantize(Float32Array.from([0, 40, 41, 363.9, 500]), 40, 360, 32)]).toEqual([0, 0, 0, 31, 31]);
  });

  it('bins every row exactly once, and coarsening keeps the total', () => {
    const grid = binPair(left, right, 64);
    expect(gridTotal(grid)).toBe(rows);
    const selected = listRows(Uint8Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    expect(gridTotal(binPair(left, right, 64, selected))).toBe(selected.length);
    const coarse = coarsen(grid);
    expect(coarse.bins).toBe(32);
    expect(coarse.shift).toBe(1);
    expect(gridTotal(coarse)).toBe(rows);
  });

  it('coarsens until the lines fit the budget, down to 64 bins at most', () => {
    const ys = Float32Array.from({ length: rows }, (_, i) => 40 + ((i * 7919) % 320));
    const fine = quantize(ys, 40, 364, 256);
    const fineRight = quantize(ys.map(y => 404 - y), 40, 364, 256);
    const finePlace = { ...place, binHeight: 324 / 256, baseBins: 256 };
    const grid = binPair(fine, fineRight, 256);
    const fitted = fitBudget(grid, finePlace, rasterCost(grid, finePlace) / 3);
    expect(fitted.bins).toBeLessThan(256);
    expect(rasterCost(fitted, finePlace)).toBeLessThanOrEqual(rasterCost(grid, finePlace) / 3);
    expect(gridTotal(fitted)).toBe(rows);
    expect(fitBudget(grid, finePlace, 0).bins).toBe(64);
    expect(fitBudget(grid, finePlace, Infinity)).toBe(grid);
  });

  it('rasterises a line with its count and colors, one pixel per step', () => {
    const acc = createAccumulator(10, 10);
    addLine(acc, 0, 0.5, 10, 0.5, 3, 3 * 255, 0, 0);
    const counts = [...acc.sums].filter((_, i) => i % 4 === 0);
    expect(counts.slice(0, 10)).toEqual(Array(10).fill(3));
    expect(counts.slice(10).every(c => c === 0)).toBe(true);
    const steep = createAccumulator(10, 10);
    addLine(steep, 0, 0, 3, 9, 1, 0, 0, 0);
    // Steep lines step along y: every row of pixels gets one, no gaps.
    expect([...steep.sums].filter((_, i) => i % 4 === 0).reduce((a, b) => a + b)).toBe(9);
    // A one-channel buffer counts only; lines past the edges are clamped into it.
    const counts1 = createAccumulator(4, 2, 1);
    addLine(counts1, -5, 1.5, 4, 1.5, 2, 0, 0, 0);
    expect([...counts1.sums]).toEqual([0, 0, 0, 0, 2, 2, 2, 2]);
  });

  it('composes counts to colors with a log alpha, empty pixels transparent', () => {
    const acc = createAccumulator(3, 1);
    addLine(acc, 0, 0, 1, 0, 1, 255, 0, 0); // pixel 0: one red row
    addLine(acc, 1, 0, 2, 0, 10, 0, 0, 2550); // pixel 1: ten blue rows
    const out = new Uint8ClampedArray(12);
    composeRGBA(acc, { minAlpha: 0.2, maxAlpha: 1 }, out);
    expect([...out.slice(0, 3)]).toEqual([255, 0, 0]);
    expect(out[3]).toBe(Math.round(0.2 * 255 + 0.8 * 255 * (Math.log(2) / Math.log(11))));
    expect([...out.slice(4, 8)]).toEqual([0, 0, 255, 255]);
    expect(out[11]).toBe(0);
    const counts = createAccumulator(2, 1, 1);
    addLine(counts, 0, 0, 1, 0, 5, 0, 0, 0);
    const grey = new Uint8ClampedArray(8);
    composeRGBA(counts, { minAlpha: 0.5, maxAlpha: 0.5 }, grey, [10, 20, 30]);
    expect([...grey]).toEqual([10, 20, 30, 128, 0, 0, 0, 0]);
  });

  describe('the selected layer, kept by differences', () => {
    const palette = paletteRGB(['#cccccc', '#ff0000', '#0000ff']);
    const index = Uint8Array.from({ length: rows }, (_, i) => 1 + (i % 2));
    const spec = (key: string, shift = 1) => ({ key, left, right, shift, place, width: 101, height: 330 });
    const counts = (strips: SelectionStrips, i = 0): number =>
      [...strips.strips[i].acc.sums].filter((_, p) => p % 4 === 0).reduce((a, b) => a + b, 0);

    it('stays exact under updates: as if drawn afresh', () => {
      const first = Uint8Array.from({ length: rows }, (_, i) => (i < 600 ? 1 : 0));
      const second = Uint8Array.from({ length: rows }, (_, i) => (i >= 300 && i < 900 ? 1 : 0));
      const recolored = index.map(k => 3 - k);

      const updated = new SelectionStrips(rows, palette);
      updated.setPairs([spec('a')]);
      expect(updated.update(first, index)).toBe(rows);
      expect(updated.update(second, index)).toBe(600);
      expect(updated.update(second, index)).toBe(0);
      expect(updated.update(second, recolored)).toBe(600);

      const fresh = new SelectionStrips(rows, palette);
      fresh.setPairs([spec('a')]);
      fresh.update(second, recolored);
      const [a, b] = [updated.strips[0].acc.sums, fresh.strips[0].acc.sums];
      expect(a.every((v, i) => v === b[i])).toBe(true);
      expect(counts(fresh)).toBeGreaterThan(0);
    });

    it('stays exact with pairs of several resolutions updated together', () => {
      // The pairs share one scratch of pending changes, sized for the finest grid.
      const masks = [0, 1, 2, 3].map(m =>
        Uint8Array.from({ length: rows }, (_, i) => ((i * 7 + m * 131) % 5 < 2 ? 1 : 0))
      );
      const updated = new SelectionStrips(rows, palette);
      updated.setPairs([spec('a', 0), spec('b', 2)]);
      updated.update(masks[0], index);
      updated.update(masks[1], index);
      // A new pair joins while the others are updated by differences.
      updated.setPairs([spec('a', 0), spec('b', 2), spec('c', 1)]);
      updated.update(masks[2], index);
      updated.update(masks[3], index.map(k => 3 - k));
      const fresh = new SelectionStrips(rows, palette);
      fresh.setPairs([spec('a', 0), spec('b', 2), spec('c', 1)]);
      fresh.update(masks[3], index.map(k => 3 - k));
      for (let i = 0; i < 3; i++) {
        const [a, b] = [updated.strips[i].acc.sums, fresh.strips[i].acc.sums];
        expect(a.every((v, j) => v === b[j])).toBe(true);
        expect(counts(fresh, i)).toBeGreaterThan(0);
      }
    });

    it('keeps the pixels of strips whose key survives, fills new ones', () => {
      const all = new Uint8Array(rows).fill(1);
      const strips = new SelectionStrips(rows, palette);
      expect(strips.setPairs([spec('a'), spec('b')])).toBe(true);
      strips.update(all, index);
      const kept = strips.strips[1];
      expect(strips.setPairs([spec('b'), spec('c', 2)])).toBe(true);
      expect(strips.strips[0]).toBe(kept);
      expect(strips.update(all, index)).toBe(rows);
      const fresh = new SelectionStrips(rows, palette);
      fresh.setPairs([spec('c', 2)]);
      fresh.update(all, index);
      expect(counts(strips, 1)).toBe(counts(fresh));
      expect(strips.setPairs([spec('b'), spec('c', 2)])).toBe(false);
      expect(strips.update(all, index)).toBe(0);
    });
  });

  it('tiles the plot with one strip per pair', () => {
    const xs = axisXs(4, 800);
    const layout = verticalLayout(300);
    const geom = {
      width: 800,
      height: 300,
      dpr: 1,
      layout,
      xs,
      ys: [],
      bins: [],
      baseBins: 200,
      ids: [1, 2, 3, 4]
    };
    const frame = densityFrame(geom);
    expect(frame.strips).toHaveLength(3);
    expect(frame.strips[0].x).toBe(0);
    frame.strips.slice(1).forEach((strip, i) => {
      expect(strip.x).toBe(frame.strips[i].x + frame.strips[i].width);
    });
    const last = frame.strips[2];
    expect(last.x + last.width).toBe(frame.width);
    // Every gap starts at the same sub-pixel offset: strips of equal width can swap slots.
    expect(new Set(frame.strips.map(s => s.place.xLeft)).size).toBe(1);
    expect(frame.strips[0].key).not.toBe(frame.strips[1].key);
  });
});

describe('line drawing helpers', () => {
  it('interleaves the colors, so that no level covers the others where lines coincide', () => {
    // 120 rows, two levels, every line on the same path: drawn level by level, the second
    // would hide the first everywhere.
    const rows = 120;
    const index = Uint8Array.from({ length: rows }, (_, i) => (i < rows / 2 ? 2 : 3));
    const strokes: { color: string; lines: number }[] = [];
    let lines = 0;
    const ctx = {
      canvas: { width: 100, height: 100 },
      setTransform: () => undefined,
      clearRect: () => undefined,
      beginPath: () => (lines = 0),
      moveTo: () => lines++,
      lineTo: () => undefined,
      stroke: () => strokes.push({ color: String(ctx.strokeStyle), lines }),
      strokeStyle: '',
      globalAlpha: 1,
      lineWidth: 1
    };
    const geom = { width: 100, height: 100, dpr: 1, layout: LAYOUT, xs: [10, 90], ys: [new Float32Array(rows).fill(50), new Float32Array(rows).fill(50)], bins: [], baseBins: 16, ids: [1, 2] };
    const layer = { mask: new Uint8Array(rows).fill(1), index, palette: ['#ccc', '#999', '#ff0000', '#0000ff'] };
    drawLines(ctx as unknown as CanvasRenderingContext2D, geom, layer, { maxAlpha: 0.8, minAlpha: 0, lineWidth: 1 });
    // Every row once, in its color.
    const total = (color: string) => strokes.filter(s => s.color === color).reduce((n, s) => n + s.lines, 0);
    expect(total('#ff0000')).toBe(60);
    expect(total('#0000ff')).toBe(60);
    // The colors alternate all along, and both are among the last lines drawn (on top).
    const switches = strokes.filter((s, i) => i > 0 && s.color !== strokes[i - 1].color).length;
    expect(switches).toBeGreaterThan(20);
    expect(new Set(strokes.slice(-6).map(s => s.color)).size).toBe(2);
    // The same order every time: a redraw does not flicker.
    expect([...drawingOrder(Uint32Array.from([5, 1, 9, 3]))]).toEqual([...drawingOrder(Uint32Array.from([9, 3, 5, 1]))]);
  });

  it('fades lines as they get many', () => {
    expect(lineAlpha(10, 0.85)).toBe(0.85);
    expect(lineAlpha(20000, 0.85)).toBeLessThan(0.2);
  });

  it('parses palettes to RGB, unknown entries falling back', () => {
    const rgb = paletteRGB(['#ff0000', 'not a color']);
    expect([...rgb.slice(0, 6)]).toEqual([255, 0, 0, 128, 128, 128]);
    expect([...rgb.slice(9, 12)]).toEqual([255, 0, 0]);
  });
});

describe('tooltip values', () => {
  const table = smallTable();
  it('formats values with their unit, and missing ones as such', () => {
    expect(formatValue(table.columns[0], 1)).toBe('1.5 cm');
    expect(formatValue(table.columns[0], 3)).toBe('missing');
    expect(formatValue(table.columns[1], 2)).toBe('step');
    expect(formatValue(table.columns[1], 4)).toBe('missing');
    expect(hasMissing(table.columns[2])).toBe(false);
    expect(hasMissing(table.columns[1])).toBe(true);
  });
});

describe('ParallelCoordinates in the DOM', () => {
  let host: HTMLElement;

  // jsdom has no canvas: say so quietly (its own getContext logs "not implemented").
  beforeAll(() => {
    jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => null);
  });
  afterAll(() => jest.restoreAllMocks());

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
  });

  afterEach(() => host.remove());

  const axisNames = (): string[] =>
    [...host.querySelectorAll('.jp-DSI-pc-axis')].map(g => g.getAttribute('data-axis') ?? '');
  const titles = (): string[] => [...host.querySelectorAll('.jp-DSI-pc-title')].map(t => t.textContent ?? '');
  const axisGroup = (name: string): Element => host.querySelector(`.jp-DSI-pc-axis[data-axis="${name}"]`)!;

  function pointer(type: string, target: Element, x: number, y: number): void {
    target.dispatchEvent(new MouseEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0 }));
  }

  it('draws one axis per visible column, in order, with titles and units', () => {
    const pc = new ParallelCoordinates(host);
    pc.setData(smallTable(), ['d_shock', 'profile', 'd_edge']);
    expect(axisNames()).toEqual(['d_shock', 'profile', 'd_edge']);
    expect(titles()).toEqual(['d_shock (cm)', 'profile', 'd_edge']);
    // Level ticks on the categorical axis, in order.
    const ticks = [...axisGroup('profile').querySelectorAll('.jp-DSI-pc-ticks text')].map(t => t.textContent);
    expect(ticks).toEqual(['flat', 'ramp', 'step']);
    // Missing bands only where values are missing.
    expect(axisGroup('d_shock').querySelector('.jp-DSI-pc-missing')).not.toBeNull();
    expect(axisGroup('d_edge').querySelector('.jp-DSI-pc-missing')).toBeNull();
    pc.destroy();
    expect(host.children).toHaveLength(0);
  });

  it('marks the line of a row another view hovers, without calling onHover back', () => {
    const onHover = jest.fn();
    const pc = new ParallelCoordinates(host, { onHover });
    pc.setData(smallTable(), ['d_shock', 'profile', 'd_edge']);
    const path = host.querySelector('.jp-DSI-pc-hover')!;
    pc.highlight(2);
    // One vertex per axis, through the row's values.
    expect(path.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+L[\d.]+,[\d.]+L[\d.]+,[\d.]+$/);
    pc.highlight(null);
    expect(path.getAttribute('d')).toBeNull();
    expect(onHover).not.toHaveBeenCalled();
    pc.destroy();
  });

  it("opens a row with a click on its line (not a drag, not on an axis): onPick", () => {
    const onPick = jest.fn();
    const pc = new ParallelCoordinates(host, { onPick });
    pc.setData(smallTable(), ['d_shock', 'profile', 'd_edge']);
    pc.highlight(2);
    const [, ax, ay, bx, by] = host.querySelector('.jp-DSI-pc-hover')!.getAttribute('d')!.match(/^M([\d.]+),([\d.]+)L([\d.]+),([\d.]+)/)!.map(Number);
    pc.highlight(null);
    const svg = host.querySelector('svg')!;
    const [mx, my] = [(ax + bx) / 2, (ay + by) / 2]; // on row 2's first segment, between two axes
    pointer('pointerdown', svg, mx, my);
    pointer('click', svg, mx, my);
    expect(onPick).toHaveBeenCalledWith(2);
    pointer('pointerdown', svg, mx, my - 40);
    pointer('click', svg, mx, my); // moved between press and release: a drag, no pick
    expect(onPick).toHaveBeenCalledTimes(1);
    pc.destroy();
  });

  it('picks no line with the click that ends a brush drag back to where it began', () => {
    const onPick = jest.fn();
    const pc = new ParallelCoordinates(host, { onPick });
    pc.setData(smallTable(), ['d_shock', 'profile', 'd_edge']);
    pc.highlight(2);
    const [, ax, ay, bx, by] = host.querySelector('.jp-DSI-pc-hover')!.getAttribute('d')!.match(/^M([\d.]+),([\d.]+)L([\d.]+),([\d.]+)/)!.map(Number);
    pc.highlight(null);
    const svg = host.querySelector('svg')!;
    const [mx, my] = [(ax + bx) / 2, (ay + by) / 2]; // on row 2's first segment, between two axes
    // A brush over the whole axis (every row stays selected).
    const line = axisGroup('d_shock').querySelector('line')!;
    const [top, bottom] = [Number(line.getAttribute('y1')), Number(line.getAttribute('y2'))].sort((a, b) => a - b);
    const hit = axisGroup('d_shock').querySelector('[data-role="hit"]')!;
    pointer('pointerdown', hit, ax, top);
    pointer('pointermove', svg, ax, bottom);
    pointer('pointerup', svg, ax, bottom);
    const brush = axisGroup('d_shock').querySelector('[data-role="brush"]')!;
    // The brush grabbed where the pointer is, moved and brought back, released there: the release's
    // click lands on the svg (the pointer was captured) right where the press was.
    pointer('pointerdown', brush, mx, my);
    pointer('pointermove', svg, mx, my + 20);
    pointer('pointermove', svg, mx, my);
    pointer('pointerup', svg, mx, my);
    pointer('click', svg, mx, my);
    expect(onPick).not.toHaveBeenCalled();
    // A plain click on the line afterwards picks it.
    pointer('pointerdown', svg, mx, my);
    pointer('click', svg, mx, my);
    expect(onPick).toHaveBeenCalledWith(2);
    pc.destroy();
  });

  it('puts titles on two alternating rows where the axes are too close for them', () => {
    const names = ['d_density', 'd_feature', 'rho_gas', 'profile', 'gamma', 'd_shock'];
    const table: ITable = {
      rows: 2,
      ids: ['a', 'b'],
      columns: names.map(n => numeric(n, [0, 1]))
    };
    const titleYs = () => [...host.querySelectorAll('.jp-DSI-pc-title')].map(t => Number(t.getAttribute('y')));
    const axisTop = () => Number(axisGroup('gamma').querySelector('line')!.getAttribute('y1'));
    // A narrow sidebar: 6 axes in 320 px are 43 px apart, less than "d_density" needs.
    const width = jest.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(320);
    const pc = new ParallelCoordinates(host);
    pc.setData(table, names);
    const narrow = titleYs();
    expect(new Set(narrow).size).toBe(2);
    expect(narrow[0]).not.toBe(narrow[1]);
    expect(narrow[0]).toBe(narrow[2]);
    // Whole titles, not "d_de…", and the axes start below both rows.
    expect(titles()).toEqual(names);
    const staggeredTop = axisTop();
    // Room enough: one row, and the axes start higher.
    width.mockReturnValue(1200);
    pc.resize();
    expect(new Set(titleYs()).size).toBe(1);
    expect(axisTop()).toBeLessThan(staggeredTop);
    width.mockRestore();
    pc.destroy();
  });

  it('honours hidden and reordered axes, and offers the hidden ones back', () => {
    const onAxesChange = jest.fn();
    const pc = new ParallelCoordinates(host, { onAxesChange });
    pc.setData(smallTable(), ['d_edge', 'd_shock', 'unknown']);
    expect(axisNames()).toEqual(['d_edge', 'd_shock']);
    const button = host.querySelector<HTMLButtonElement>('.jp-DSI-pc-hidden > button')!;
    expect(button.textContent).toBe('+ 1 hidden');
    button.click();
    const item = host.querySelector<HTMLButtonElement>('.jp-DSI-pc-hidden [role="menuitem"]')!;
    expect(item.textContent).toBe('profile');
    item.click();
    expect(axisNames()).toEqual(['d_edge', 'd_shock', 'profile']);
    expect(onAxesChange).toHaveBeenLastCalledWith(['d_edge', 'd_shock', 'profile'], []);
    expect(button.style.display).toBe('none');
    pc.destroy();
  });

  it('inverts and hides axes from their buttons', () => {
    const onAxesChange = jest.fn();
    const onBrush = jest.fn();
    const pc = new ParallelCoordinates(host, { onAxesChange, onBrush });
    pc.setData(smallTable(), ['d_shock', 'profile', 'd_edge']);
    axisGroup('profile').querySelector<SVGElement>('[data-role="invert"] text')!.dispatchEvent(
      new MouseEvent('click', { bubbles: true })
    );
    expect(onAxesChange).toHaveBeenLastCalledWith(['d_shock', 'profile', 'd_edge'], ['profile']);
    pc.setBrushes(new Map([['d_edge', { kind: 'numeric', ranges: [{ lo: 10, hi: 30 }] } as AxisBrush]]));
    axisGroup('d_edge').querySelector('[data-role="hide"]')!.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(axisNames()).toEqual(['d_shock', 'profile']);
    expect(onAxesChange).toHaveBeenLastCalledWith(['d_shock', 'profile'], ['profile']);
    // A hidden axis takes its brush with it.
    expect(onBrush).toHaveBeenCalledWith('d_edge', null, true);
    pc.destroy();
  });

  it('shows brushes set programmatically, without calling back', () => {
    const onBrush = jest.fn();
    const pc = new ParallelCoordinates(host, { onBrush });
    pc.setData(smallTable(), ['d_shock', 'profile']);
    pc.setBrushes(
      new Map<string, AxisBrush>([
        ['d_shock', { kind: 'numeric', ranges: [{ lo: 1, hi: 2 }, { lo: 4, hi: 6 }], missing: true }],
        ['profile', { kind: 'categorical', codes: [0, 1] }]
      ])
    );
    expect(axisGroup('d_shock').querySelectorAll('[data-role="brush"]')).toHaveLength(3);
    expect(axisGroup('profile').querySelectorAll('[data-role="brush"]')).toHaveLength(1);
    expect(onBrush).not.toHaveBeenCalled();
    pc.setBrushes(new Map());
    expect(host.querySelectorAll('[data-role="brush"]')).toHaveLength(0);
    pc.destroy();
  });

  it('brushes by dragging on an axis, live then final; a click clears the axis', () => {
    const onBrush = jest.fn();
    const pc = new ParallelCoordinates(host, { onBrush });
    pc.setData(smallTable(), ['d_edge', 'profile']);
    const hit = axisGroup('d_edge').querySelector('[data-role="hit"]')!;
    const svg = host.querySelector('svg')!;
    pointer('pointerdown', hit, 0, 100);
    pointer('pointermove', svg, 0, 150);
    pointer('pointermove', svg, 0, 200);
    pointer('pointerup', svg, 0, 200);
    const live = onBrush.mock.calls.filter(call => call[2] === false);
    expect(live.length).toBe(2);
    const [axis, brush, final] = onBrush.mock.calls[onBrush.mock.calls.length - 1];
    expect([axis, final]).toEqual(['d_edge', true]);
    expect(brush.kind).toBe('numeric');
    expect(brush.ranges).toHaveLength(1);
    expect(brush.ranges[0].lo).toBeLessThan(brush.ranges[0].hi);
    expect(axisGroup('d_edge').querySelectorAll('[data-role="brush"]')).toHaveLength(1);

    // A second drag elsewhere on the same axis adds a range.
    pointer('pointerdown', hit, 0, 260);
    pointer('pointermove', svg, 0, 290);
    pointer('pointerup', svg, 0, 290);
    expect(onBrush.mock.calls[onBrush.mock.calls.length - 1][1].ranges).toHaveLength(2);

    // A click without a drag clears the axis.
    pointer('pointerdown', hit, 0, 60);
    pointer('pointerup', svg, 0, 60);
    expect(onBrush).toHaveBeenLastCalledWith('d_edge', null, true);
    expect(axisGroup('d_edge').querySelectorAll('[data-role="brush"]')).toHaveLength(0);
    pc.destroy();
  });

  it('snaps brushes on categorical axes to the levels they cover', () => {
    const onBrush = jest.fn();
    const pc = new ParallelCoordinates(host, { onBrush });
    pc.setData(smallTable(), ['d_edge', 'profile']);
    const hit = axisGroup('profile').querySelector('[data-role="hit"]')!;
    const svg = host.querySelector('svg')!;
    // jsdom lays nothing out: the view falls back to 640 x 320, where the axis runs from 40
    // to 290: three bands of 250 / 3 px, "step" on top.
    const band = 250 / 3;
    pointer('pointerdown', hit, 0, 70);
    pointer('pointermove', svg, 0, 90);
    pointer('pointerup', svg, 0, 90);
    expect(onBrush).toHaveBeenLastCalledWith('profile', { kind: 'categorical', codes: [2], missing: false }, true);
    const rect = axisGroup('profile').querySelector('[data-role="brush"]')!;
    expect(Number(rect.getAttribute('y'))).toBeCloseTo(40);
    expect(Number(rect.getAttribute('height'))).toBeCloseTo(band);
    // A drag over two ticks takes both levels.
    pointer('pointerdown', hit, 0, 40 + band * 1.4);
    pointer('pointermove', svg, 0, 40 + band * 2.6);
    pointer('pointerup', svg, 0, 40 + band * 2.6);
    expect(onBrush).toHaveBeenLastCalledWith(
      'profile',
      { kind: 'categorical', codes: [0, 1, 2], missing: false },
      true
    );
    pc.destroy();
  });

  it('moves a brush by dragging it', () => {
    const onBrush = jest.fn();
    const pc = new ParallelCoordinates(host, { onBrush });
    pc.setData(smallTable(), ['d_edge', 'd_shock']);
    pc.setBrushes(new Map([['d_edge', { kind: 'numeric', ranges: [{ lo: 30, hi: 40 }] } as AxisBrush]]));
    const rect = axisGroup('d_edge').querySelector('[data-role="brush"]')!;
    const y = Number(rect.getAttribute('y')) + 2;
    const svg = host.querySelector('svg')!;
    pointer('pointerdown', rect, 0, y);
    pointer('pointermove', svg, 0, y + 40);
    pointer('pointerup', svg, 0, y + 40);
    const brush = onBrush.mock.calls[onBrush.mock.calls.length - 1][1];
    // Moved down: lower values, same width.
    expect(brush.ranges[0].hi).toBeLessThan(40);
    expect(brush.ranges[0].hi - brush.ranges[0].lo).toBeCloseTo(10, 4);
    pc.destroy();
  });

  it('hovers only the selected rows without a canvas, and ignores a stale selection', () => {
    // What the user sees in jsdom, where nothing is drawn: hovering reports (and the tooltip
    // names) only rows of the current selection; a selection of another length is ignored,
    // so every row can be hovered again.
    jest.useFakeTimers();
    const onHover = jest.fn();
    const pc = new ParallelCoordinates(host, { onHover });
    try {
      const table = smallTable();
      pc.setData(table, ['d_shock', 'd_edge']);
      const svg = host.querySelector('svg')!;
      const tooltip = host.querySelector('.jp-DSI-pc-tooltip') as HTMLElement;
      const [x0, x1] = axisXs(2, 640);
      /** Sweeps the pointer down the middle between the axes: the rows it hovers. */
      const sweep = (): Set<number> => {
        const rows = new Set<number>();
        for (let y = 0; y <= 320; y += 2) {
          pointer('pointermove', svg, (x0 + x1) / 2, y);
          jest.runOnlyPendingTimers();
          const row = onHover.mock.calls.length ? onHover.mock.calls[onHover.mock.calls.length - 1][0] : null;
          if (row !== null) {
            rows.add(row);
            expect(tooltip.textContent!.split('\n')[0]).toBe(table.ids[row]);
          }
        }
        return rows;
      };
      pc.setSelection(Uint8Array.from([1, 0, 1, 0, 1, 0]), {
        palette: ['#ccc', '#f00'],
        index: Uint8Array.from([1, 0, 1, 0, 1, 0])
      });
      expect([...sweep()].sort()).toEqual([0, 2, 4]);
      // A stale selection (two rows, from an older table) hides nothing: every row, the one in
      // the missing band included.
      pc.setSelection(new Uint8Array(2), { palette: ['#ccc'], index: new Uint8Array(2) });
      expect([...sweep()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      pc.resize();
    } finally {
      pc.destroy();
      jest.useRealTimers();
    }
  });
});

/**
 * The arithmetic of parallel-coordinate axes, as pure functions over typed arrays: a scale per
 * column, the pixel of every row on an axis, brushes in pixels <-> brushes in data units, the
 * selection mask of a set of brushes, and hit-testing polylines. Nothing here touches the DOM,
 * so the view (parcoords.ts) stays thin and everything here is unit-tested directly.
 */
import { scaleLinear } from 'd3-scale';
import type { ScaleLinear } from 'd3-scale';

import type {
  AxisBrush,
  Column,
  ICategoricalColumn,
  INumericColumn,
  IRange
} from './types';
import { brushCodes } from '../table/mask';

// The mask of the brushes is the model's too: it lives in the leaf module table/.
export { brushMask } from '../table/mask';

// ---------------------------------------------------------------------------------------------
// Vertical layout and scales
// ---------------------------------------------------------------------------------------------

/**
 * Where every axis lies vertically, in CSS pixels from the top of the plot. Missing values get
 * a band of their own below the axis, so a NULL never masquerades as the minimum.
 */
export interface IVerticalLayout {
  /** The upper end of the axis. */
  readonly top: number;
  /** The lower end of the axis. */
  readonly bottom: number;
  /** The band of missing values, below the axis (missingTop > bottom). */
  readonly missingTop: number;
  readonly missingBottom: number;
}

/** A pixel interval on an axis, top to bottom: y0 <= y1 (CSS pixels). */
export type Interval = readonly [number, number];

/** One tick of an axis: where it sits and what it says. */
export interface ITick {
  readonly y: number;
  readonly label: string;
}

interface IScaleBase {
  readonly layout: IVerticalLayout;
  readonly inverted: boolean;
  /** The ticks to draw: nice numbers, or the levels in order. */
  readonly ticks: readonly ITick[];
}

/** A linear numeric axis over a nice domain; low values at the bottom unless inverted. */
export interface INumericScale extends IScaleBase {
  readonly kind: 'numeric';
  /** The nice domain [min, max] (min < max). */
  readonly domain: readonly [number, number];
  /** y = offset + slope * value: inlined by the hot loops instead of calling toPixel. */
  readonly offset: number;
  readonly slope: number;
  toPixel(value: number): number;
  toValue(y: number): number;
}

/** A categorical axis: one evenly spaced band per level, level 0 at the bottom unless inverted. */
export interface ICategoricalScale extends IScaleBase {
  readonly kind: 'categorical';
  readonly levels: readonly (string | number)[];
  /** The height of one level's band. */
  readonly band: number;
  /** The y of a level's centre (its tick). */
  center(code: number): number;
  /** The band of a level, top to bottom. */
  bandOf(code: number): Interval;
}

export type AxisScale = INumericScale | ICategoricalScale;

/** Pixels per tick, roughly: enough room for a label and some air. */
const TICK_SPACING = 40;

/** Builds the scale of a column on an axis of the given layout. */
export function axisScale(column: Column, layout: IVerticalLayout, inverted = false): AxisScale {
  return column.kind === 'numeric'
    ? numericScale(niceDomain(finiteExtent(column.values), tickCount(layout)), layout, inverted)
    : categoricalScale(column.levels, layout, inverted);
}

/** How many ticks fit on an axis. */
export function tickCount(layout: IVerticalLayout): number {
  return Math.max(2, Math.floor((layout.bottom - layout.top) / TICK_SPACING));
}

/** [min, max] of the finite values, NaN (missing) and infinities ignored; null if none. */
export function finiteExtent(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // NaN fails both comparisons, so missing values drop out without a test of their own.
    if (v < lo && v !== -Infinity) {
      lo = v;
    }
    if (v > hi && v !== Infinity) {
      hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * A domain with round ends (d3's nice), never empty: a column of one value gets a little room
 * around it and a column of missing values only gets [0, 1], so the axis always has a scale.
 */
export function niceDomain(extent: [number, number] | null, ticks = 5): [number, number] {
  let [lo, hi] = extent ?? [0, 1];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const nice = scaleLinear().domain([lo, hi]).nice(ticks).domain();
  return [nice[0], nice[1]];
}

/** A linear scale of a (nice) domain onto an axis. */
export function numericScale(
  domain: readonly [number, number],
  layout: IVerticalLayout,
  inverted = false
): INumericScale {
  const [d0, d1] = domain;
  // Not inverted: the minimum at the bottom, as on any y axis.
  const [y0, y1] = inverted ? [layout.top, layout.bottom] : [layout.bottom, layout.top];
  const slope = (y1 - y0) / (d1 - d0);
  const offset = y0 - slope * d0;
  const count = tickCount(layout);
  const linear = scaleLinear().domain([d0, d1]).range([y0, y1]);
  const format = tickFormat(linear, count);
  return {
    kind: 'numeric',
    layout,
    inverted,
    domain: [d0, d1],
    offset,
    slope,
    ticks: linear.ticks(count).map(value => ({ y: linear(value), label: format(value) })),
    toPixel: value => offset + slope * value,
    toValue: y => (y - offset) / slope
  };
}

/**
 * Short tick labels: SI prefixes for large numbers (20k, 1.5M), exponents for tiny ones, plain
 * decimals with just the digits the tick step needs otherwise. Not SI for small numbers: "5m"
 * for 0.005 reads as five metres.
 */
export function tickFormat(
  linear: ScaleLinear<number, number>,
  count: number
): (value: number) => string {
  const [d0, d1] = linear.domain();
  const magnitude = Math.max(Math.abs(d0), Math.abs(d1));
  if (magnitude >= 1e5) {
    return linear.tickFormat(count, '~s');
  }
  if (magnitude > 0 && magnitude < 1e-3) {
    return linear.tickFormat(count, '~e');
  }
  return linear.tickFormat(count, '~f');
}

/** Evenly spaced bands, one per level, in the levels' order. */
export function categoricalScale(
  levels: readonly (string | number)[],
  layout: IVerticalLayout,
  inverted = false
): ICategoricalScale {
  const n = Math.max(1, levels.length);
  const band = (layout.bottom - layout.top) / n;
  // Level 0 at the bottom (like the minimum of a numeric axis) unless inverted.
  const bandTop = (code: number): number =>
    inverted ? layout.top + code * band : layout.bottom - (code + 1) * band;
  const center = (code: number): number => bandTop(code) + band / 2;
  return {
    kind: 'categorical',
    layout,
    inverted,
    levels,
    band,
    ticks: thinLabels(levels, band).map(code => ({
      y: center(code),
      label: String(levels[code])
    })),
    center,
    bandOf: code => [bandTop(code), bandTop(code) + band]
  };
}

/** The codes whose labels are drawn: all of them, or every k-th when bands are too thin. */
function thinLabels(levels: readonly unknown[], band: number): number[] {
  const every = Math.max(1, Math.ceil(14 / Math.max(band, 1e-6)));
  const codes: number[] = [];
  for (let code = 0; code < levels.length; code += every) {
    codes.push(code);
  }
  return codes;
}

// ---------------------------------------------------------------------------------------------
// Pixels of rows
// ---------------------------------------------------------------------------------------------

/**
 * A deterministic pseudo-random offset in [-0.5, 0.5) per row (a 32-bit integer hash of the row
 * index): the jitter that spreads the lines of one level over its band. The same row jitters
 * the same way on every axis and every redraw, so lines stay put and bundles stay parallel.
 */
export function rowJitter(row: number): number {
  let h = Math.imul(row ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296 - 0.5;
}

/** How far lines spread around a level's tick: a part of its band, never a wide smear. */
export function levelJitterSpan(band: number): number {
  return Math.min(band * 0.5, 12);
}

/** How far lines spread inside the missing band. */
export function missingJitterSpan(layout: IVerticalLayout): number {
  return (layout.missingBottom - layout.missingTop) * 0.6;
}

/**
 * The y of every row on an axis (CSS pixels), computed once per data, axis order or size so
 * that drawing and binning only read them. Missing values land in the missing band.
 */
export function rowPixels(column: Column, scale: AxisScale, out?: Float32Array): Float32Array {
  const rows = column.kind === 'numeric' ? column.values.length : column.codes.length;
  const ys = out && out.length === rows ? out : new Float32Array(rows);
  if (column.kind === 'numeric' && scale.kind === 'numeric') {
    numericPixels(column, scale, ys);
  } else if (column.kind === 'categorical' && scale.kind === 'categorical') {
    categoricalPixels(column, scale, ys);
  } else {
    throw new Error(`axis ${column.name}: a ${scale.kind} scale for a ${column.kind} column`);
  }
  return ys;
}

function numericPixels(column: INumericColumn, scale: INumericScale, ys: Float32Array): void {
  const { values } = column;
  const { offset, slope, layout } = scale;
  const missingMid = (layout.missingTop + layout.missingBottom) / 2;
  const spread = missingJitterSpan(layout);
  for (let row = 0; row < values.length; row++) {
    const v = values[row];
    if (v !== v) {
      ys[row] = missingMid + rowJitter(row) * spread;
    } else {
      // Clamp: an infinity (or a value outside a stale domain) stays on the axis.
      const y = offset + slope * v;
      ys[row] = y < layout.top ? layout.top : y > layout.bottom ? layout.bottom : y;
    }
  }
}

function categoricalPixels(
  column: ICategoricalColumn,
  scale: ICategoricalScale,
  ys: Float32Array
): void {
  const { codes } = column;
  const { layout } = scale;
  const n = scale.levels.length;
  const centers = Float32Array.from({ length: n }, (_, code) => scale.center(code));
  const spread = levelJitterSpan(scale.band);
  const missingMid = (layout.missingTop + layout.missingBottom) / 2;
  const missingSpread = missingJitterSpan(layout);
  for (let row = 0; row < codes.length; row++) {
    const code = codes[row];
    ys[row] =
      code >= 0 && code < n
        ? centers[code] + rowJitter(row) * spread
        : missingMid + rowJitter(row) * missingSpread;
  }
}

// ---------------------------------------------------------------------------------------------
// Brushes: pixel intervals <-> data units
// ---------------------------------------------------------------------------------------------

/** The part of an interval on the axis proper, or null if it lies off the axis. */
function onAxis(iv: Interval, layout: IVerticalLayout): Interval | null {
  const y0 = Math.max(iv[0], layout.top);
  const y1 = Math.min(iv[1], layout.bottom);
  return y0 <= y1 ? [y0, y1] : null;
}

/** Whether an interval reaches into the missing band. */
function touchesMissing(iv: Interval, layout: IVerticalLayout): boolean {
  return iv[1] >= layout.missingTop && iv[0] <= layout.missingBottom;
}

/**
 * The levels a pixel interval covers: those whose tick (band centre) lies inside it; if it
 * holds no tick, the one level whose band it overlaps most, so that a short drag inside a
 * band still picks that band.
 */
export function coveredLevels(scale: ICategoricalScale, iv: Interval): number[] {
  const part = onAxis(iv, scale.layout);
  if (!part) {
    return [];
  }
  const codes: number[] = [];
  let best = -1;
  let bestOverlap = 0;
  for (let code = 0; code < scale.levels.length; code++) {
    const c = scale.center(code);
    if (c >= part[0] && c <= part[1]) {
      codes.push(code);
    }
    const [b0, b1] = scale.bandOf(code);
    const overlap = Math.min(b1, part[1]) - Math.max(b0, part[0]);
    if (overlap > bestOverlap) {
      bestOverlap = overlap;
      best = code;
    }
  }
  return codes.length > 0 || best < 0 ? codes : [best];
}

/**
 * The brush of an axis in data units from its pixel intervals (OR-ed); null when there are no
 * intervals, i.e. the axis does not constrain the selection.
 */
export function intervalsToBrush(
  scale: AxisScale,
  intervals: readonly Interval[]
): AxisBrush | null {
  if (intervals.length === 0) {
    return null;
  }
  const missing = intervals.some(iv => touchesMissing(iv, scale.layout));
  if (scale.kind === 'categorical') {
    const codes = new Set<number>();
    intervals.forEach(iv => coveredLevels(scale, iv).forEach(code => codes.add(code)));
    return { kind: 'categorical', codes: [...codes].sort((a, b) => a - b), missing };
  }
  const ranges: IRange[] = [];
  for (const iv of intervals) {
    const part = onAxis(iv, scale.layout);
    if (part) {
      const a = scale.toValue(part[0]);
      const b = scale.toValue(part[1]);
      ranges.push({ lo: Math.min(a, b), hi: Math.max(a, b) });
    }
  }
  ranges.sort((p, q) => p.lo - q.lo);
  return { kind: 'numeric', ranges, missing };
}

/** Brushes thinner than this are drawn this tall, so a restored brush never vanishes. */
const MIN_BRUSH_PX = 2;

/** The pixel intervals that show a brush in data units (restored brushes, inverted axes). */
export function brushToIntervals(scale: AxisScale, brush: AxisBrush): Interval[] {
  const { layout } = scale;
  const intervals: Interval[] = [];
  if (scale.kind === 'categorical') {
    const codes = brushCodes(scale.levels, brush);
    codes.forEach(code => intervals.push(scale.bandOf(code)));
  } else if (brush.kind === 'numeric') {
    for (const { lo, hi } of brush.ranges) {
      const a = clamp(scale.toPixel(lo), layout.top, layout.bottom);
      const b = clamp(scale.toPixel(hi), layout.top, layout.bottom);
      intervals.push(atLeast([Math.min(a, b), Math.max(a, b)], MIN_BRUSH_PX, layout));
    }
  }
  if (brush.missing) {
    intervals.push([layout.missingTop, layout.missingBottom]);
  }
  return mergeIntervals(intervals);
}


/**
 * Tidies the intervals of an axis when a drag ends: each is clamped to the axis and, if it
 * reaches into the missing band, split into its axis part and the whole band; on a categorical
 * axis the axis part snaps to the bands of the levels it covers. Overlaps merge, so the ranges
 * of an axis are always disjoint and sorted.
 */
export function normalizeIntervals(scale: AxisScale, intervals: readonly Interval[]): Interval[] {
  const { layout } = scale;
  const out: Interval[] = [];
  for (const iv of intervals) {
    if (scale.kind === 'categorical') {
      const codes = coveredLevels(scale, iv);
      if (codes.length > 0) {
        const bands = codes.map(code => scale.bandOf(code));
        out.push([Math.min(...bands.map(b => b[0])), Math.max(...bands.map(b => b[1]))]);
      }
    } else {
      const part = onAxis(iv, layout);
      if (part) {
        out.push(atLeast(part, MIN_BRUSH_PX, layout));
      }
    }
    if (touchesMissing(iv, layout)) {
      out.push([layout.missingTop, layout.missingBottom]);
    }
  }
  return mergeIntervals(out);
}

/** Sorts intervals and merges those that overlap or touch. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [y0, y1] of sorted) {
    const last = out[out.length - 1];
    if (last && y0 <= last[1]) {
      last[1] = Math.max(last[1], y1);
    } else {
      out.push([y0, y1]);
    }
  }
  return out;
}

/** Grows a too thin interval about its middle, staying on the axis. */
function atLeast(iv: Interval, min: number, layout: IVerticalLayout): Interval {
  if (iv[1] - iv[0] >= min) {
    return iv;
  }
  const mid = clamp((iv[0] + iv[1]) / 2, layout.top + min / 2, layout.bottom - min / 2);
  return [mid - min / 2, mid + min / 2];
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------------------------
// Hit testing
// ---------------------------------------------------------------------------------------------

/**
 * The row whose polyline passes nearest to (x, y), among the rows where `mask` is non-zero
 * (all rows if null), if it passes within `tolerance` pixels; else null. `xs` are the axes'
 * x positions in order and `ys` the rows' pixels on each. Only the segment under the pointer
 * matters, and distances are perpendicular, so steep lines are as easy to hit as flat ones.
 * One pass over the rows: a few milliseconds per million, fine for a throttled hover.
 */
export function nearestPolyline(
  xs: readonly number[],
  ys: readonly Float32Array[],
  mask: Uint8Array | null,
  x: number,
  y: number,
  tolerance = 5
): number | null {
  const i = segmentAt(xs, x);
  if (i < 0) {
    return null;
  }
  const left = ys[i];
  const right = ys[i + 1];
  const width = xs[i + 1] - xs[i];
  const t = width > 0 ? (x - xs[i]) / width : 0;
  let best: number | null = null;
  let bestD2 = tolerance * tolerance;
  for (let row = 0; row < left.length; row++) {
    if (mask && mask[row] === 0) {
      continue;
    }
    const dy = right[row] - left[row];
    const off = left[row] + dy * t - y;
    // Perpendicular distance squared to the line through the segment.
    const d2 = width > 0 ? (off * off * width * width) / (width * width + dy * dy) : off * off;
    if (d2 <= bestD2) {
      bestD2 = d2;
      best = row;
    }
  }
  return best;
}

/** The index of the gap between axes i and i+1 that holds x, or -1 outside the axes. */
function segmentAt(xs: readonly number[], x: number): number {
  for (let i = 0; i + 1 < xs.length; i++) {
    if (x >= xs[i] && x <= xs[i + 1]) {
      return i;
    }
  }
  return -1;
}

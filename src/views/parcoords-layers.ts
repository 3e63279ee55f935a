/**
 * The canvas layers of the parallel coordinates: rows as lines (few rows) or as line density
 * (many rows). Both read the per-row pixels computed once per data/size (axes.ts) and never
 * touch the data columns, so a brush move costs only the drawing of the selected rows.
 */
import { color as d3Color, rgb as d3Rgb } from 'd3-color';

import type { IVerticalLayout } from './axes';
import {
  AlphaScale,
  IAccumulator,
  IPairPlacement,
  SelectionStrips,
  binPair,
  binsAtShift,
  clearRGBA,
  composeInto,
  createAccumulator,
  fitBudget,
  maxCount,
  rasterizeGrid
} from './density';

/** What both renderers need to know about the plot: where axes are and where rows sit. */
export interface IPlotGeometry {
  /** CSS size of the plot and the device pixel ratio of its canvases. */
  readonly width: number;
  readonly height: number;
  readonly dpr: number;
  readonly layout: IVerticalLayout;
  /** x of each visible axis, in order (CSS pixels). */
  readonly xs: readonly number[];
  /** y of every row on each visible axis (CSS pixels). */
  readonly ys: readonly Float32Array[];
  /** Bin of every row on each visible axis: `baseBins` bins over [layout.top, missingBottom). */
  readonly bins: readonly Uint16Array[];
  readonly baseBins: number;
  /** A serial number per visible axis, renewed whenever its pixels change (strip reuse). */
  readonly ids: readonly number[];
}

/** The rows of a layer and how to color them. */
export interface ILayerRows {
  /** Non-zero for the rows to draw. */
  readonly mask: Uint8Array;
  /** Palette index per row, or null to draw every row in palette[0]. */
  readonly index: Uint8Array | null;
  readonly palette: readonly string[];
}

/** How opaque lines and density are: the context layer recedes, the selection stands out. */
export interface ILayerLook {
  /** Upper bound of a line's alpha (line mode) or of the densest pixel (density mode). */
  readonly maxAlpha: number;
  /** Alpha of a pixel crossed by a single line (density mode). */
  readonly minAlpha: number;
  readonly lineWidth: number;
}

/** Clears a canvas and resets its transform to CSS pixels. */
export function clearCanvas(ctx: CanvasRenderingContext2D, geom: IPlotGeometry): void {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.setTransform(geom.dpr, 0, 0, geom.dpr, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------------

/**
 * Polylines per stroke. One path per color would be fewer calls, but a canvas paints a path's
 * overlaps once (alpha would not accumulate, dense regions would not read as dense), and a
 * CPU rasteriser slows down on long self-crossing paths: measured in headless Chromium,
 * strokes of 16 lines were the fastest, 3x faster than one path of thousands.
 */
const LINES_PER_STROKE = 16;

/** Line alpha by the number of lines: opaque for a handful, faint for tens of thousands. */
export function lineAlpha(lines: number, maxAlpha: number): number {
  return Math.min(maxAlpha, Math.max(0.06, Math.sqrt(300 / Math.max(1, lines))));
}

/** The indices of the non-zero entries of a mask. */
export function listRows(mask: Uint8Array): Uint32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    n += mask[i] !== 0 ? 1 : 0;
  }
  const rows = new Uint32Array(n);
  for (let i = 0, j = 0; i < mask.length; i++) {
    if (mask[i] !== 0) {
      rows[j++] = i;
    }
  }
  return rows;
}

/** A fixed pseudo-random rank of a row (a 32-bit integer hash). */
function rowRank(row: number): number {
  let h = Math.imul(row ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The rows in the order they are drawn: a fixed shuffle, so that colors interleave. Drawn color
 * by color, the last level would cover every segment the levels share (on categorical axes,
 * most of them) and the others would seem absent; shuffled, each shared segment shows a mix.
 */
export function drawingOrder(rows: Uint32Array): Uint32Array {
  const ranks = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    ranks[i] = rowRank(rows[i]);
  }
  const idx = Array.from(rows.keys()).sort((a, b) => ranks[a] - ranks[b] || rows[a] - rows[b]);
  return Uint32Array.from(idx, i => rows[i]);
}

/** Draws rows as polylines in `drawingOrder`, batching neighbours of one color per stroke. */
export function drawLines(
  ctx: CanvasRenderingContext2D,
  geom: IPlotGeometry,
  layer: ILayerRows,
  look: ILayerLook
): void {
  clearCanvas(ctx, geom);
  const { xs, ys } = geom;
  const rows = listRows(layer.mask);
  if (xs.length < 2 || rows.length === 0) {
    return;
  }
  const index = layer.index;
  const order = index ? drawingOrder(rows) : rows;
  ctx.globalAlpha = lineAlpha(rows.length, look.maxAlpha);
  ctx.lineWidth = look.lineWidth;
  let from = 0;
  while (from < order.length) {
    const color = index ? index[order[from]] : 0;
    let to = from + 1;
    while (to < order.length && to - from < LINES_PER_STROKE && (index ? index[order[to]] : 0) === color) {
      to++;
    }
    ctx.strokeStyle = layer.palette[color] ?? layer.palette[0];
    ctx.beginPath();
    for (let i = from; i < to; i++) {
      const row = order[i];
      ctx.moveTo(xs[0], ys[0][row]);
      for (let a = 1; a < xs.length; a++) {
        ctx.lineTo(xs[a], ys[a][row]);
      }
    }
    ctx.stroke();
    from = to;
  }
  ctx.globalAlpha = 1;
}

// ---------------------------------------------------------------------------------------------
// Density
// ---------------------------------------------------------------------------------------------

/**
 * Pixels of line walk allowed for all pairs together when choosing their resolutions: about
 * what a CPU rasterises in 10-20 ms in headless Chromium. A new strip pays its share once; a
 * brush move walks just the lines of the rows that changed, at most as many.
 */
export const DEFAULT_DENSITY_BUDGET = 6e6;

/**
 * The pixels a density layer covers, in CSS pixels: density is accumulated at CSS resolution
 * and scaled to the canvas, so that its cost and its look (one CSS pixel per line, as stroked
 * lines have) do not depend on the device pixel ratio. One strip per pair of adjacent axes,
 * from the left axis' column to the right axis' (excluded), tiles it.
 */
export interface IDensityFrame {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  readonly strips: readonly IStripFrame[];
}

/** One pair's strip: where it sits in the frame, and its lines' placement inside it. */
export interface IStripFrame {
  readonly x: number;
  readonly width: number;
  readonly place: IPairPlacement;
  /** What its pixels depend on, but for the resolution: the axes' pixels and its geometry. */
  readonly key: string;
}

export function densityFrame(geom: IPlotGeometry): IDensityFrame {
  const { xs, layout, baseBins, ids } = geom;
  const x0 = Math.floor(xs[0]);
  const y0 = Math.floor(layout.top) - 1;
  const height = Math.ceil(layout.missingBottom) + 2 - y0;
  const strips = xs.slice(1).map((right, i) => {
    const left = Math.floor(xs[i]);
    const width = Math.max(1, Math.floor(right) - left);
    const place = {
      xLeft: xs[i] - left,
      xRight: right - left,
      yTop: layout.top - y0,
      binHeight: (layout.missingBottom - layout.top) / baseBins,
      baseBins
    };
    const { xLeft, xRight, yTop, binHeight } = place;
    const key = [ids[i], ids[i + 1], width, height, xLeft, xRight, yTop, binHeight].join();
    return { x: left - x0, width, place, key };
  });
  const width = Math.floor(xs[xs.length - 1]) - x0;
  return { x0, y0, width, height, strips };
}

/** A CSS color as [r, g, b] integers; grey if it does not parse. */
export function parseRGB(color: string | undefined): [number, number, number] {
  const c = (color ? d3Color(color)?.rgb() : null) ?? d3Rgb(128, 128, 128);
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
}

/** A palette as 3 integers (0..255) per index; indices past its end get its first color. */
export function paletteRGB(palette: readonly string[]): Int32Array {
  const out = new Int32Array(256 * 3);
  const parsed = palette.map(parseRGB);
  for (let k = 0; k < 256; k++) {
    out.set(parsed[k] ?? parsed[0] ?? [128, 128, 128], k * 3);
  }
  return out;
}

/**
 * Writes strips to a canvas (whose transform is CSS pixels, see clearCanvas) through an
 * ImageData kept between frames; on a HiDPI canvas through a scratch canvas, scaled. Alpha
 * is scaled to the densest pixel of the whole layer, so that pairs compare.
 */
class Compositor {
  put(
    ctx: CanvasRenderingContext2D,
    geom: IPlotGeometry,
    frame: IDensityFrame,
    strips: readonly IAccumulator[],
    look: ILayerLook,
    rgb: [number, number, number] = [128, 128, 128]
  ): void {
    clearCanvas(ctx, geom);
    if (frame.width <= 0 || frame.height <= 0) {
      return;
    }
    if (!this._image || this._image.width !== frame.width || this._image.height !== frame.height) {
      this._image = ctx.createImageData(frame.width, frame.height);
    }
    const { data } = this._image;
    clearRGBA(data);
    const alpha = new AlphaScale(Math.max(0, ...strips.map(maxCount)), look);
    strips.forEach((acc, i) => composeInto(acc, alpha, data, frame.width, frame.strips[i].x, rgb));
    if (geom.dpr === 1) {
      ctx.putImageData(this._image, frame.x0, frame.y0);
      return;
    }
    const scratch = this._scratch ?? (this._scratch = document.createElement('canvas'));
    if (scratch.width !== frame.width || scratch.height !== frame.height) {
      scratch.width = frame.width;
      scratch.height = frame.height;
    }
    scratch.getContext('2d')?.putImageData(this._image, 0, 0);
    ctx.drawImage(scratch, frame.x0, frame.y0);
  }

  private _image: ImageData | null = null;
  private _scratch: HTMLCanvasElement | null = null;
}

/**
 * The context layer in density: every row, one color. It also picks each pair's resolution
 * (from all rows, so that any selection fits the same budget) for the selected layer. A strip
 * whose axes did not change is kept from the previous draw.
 */
export class ContextDensity {
  constructor(private readonly _budget = DEFAULT_DENSITY_BUDGET) {}

  /** Draws, and returns the shift (resolution) chosen for each pair. */
  draw(
    ctx: CanvasRenderingContext2D,
    geom: IPlotGeometry,
    color: string,
    look: ILayerLook
  ): number[] {
    if (geom.xs.length < 2) {
      clearCanvas(ctx, geom);
      return [];
    }
    const frame = densityFrame(geom);
    const budget = this._budget / frame.strips.length;
    const strips = frame.strips.map((strip, a) => {
      const known = this._strips.get(strip.key);
      if (known) {
        return known;
      }
      const acc = createAccumulator(strip.width, frame.height, 1);
      const all = binPair(geom.bins[a], geom.bins[a + 1], geom.baseBins);
      const grid = fitBudget(all, strip.place, budget);
      rasterizeGrid(grid, strip.place, acc);
      return { acc, shift: grid.shift };
    });
    this._strips = new Map(frame.strips.map((strip, i) => [strip.key, strips[i]]));
    this._compositor.put(ctx, geom, frame, strips.map(s => s.acc), look, parseRGB(color));
    return strips.map(s => s.shift);
  }

  private _strips = new Map<string, { acc: IAccumulator; shift: number }>();
  private readonly _compositor = new Compositor();
}

/**
 * The selected layer in density, kept as SelectionStrips: a brush move only walks the lines
 * of the rows whose selection changed, and strips whose axes did not change keep their pixels.
 * New data (another row count) or another palette starts afresh.
 */
export class SelectionDensity {
  draw(
    ctx: CanvasRenderingContext2D,
    geom: IPlotGeometry,
    shifts: readonly number[],
    layer: ILayerRows,
    look: ILayerLook
  ): void {
    if (geom.xs.length < 2 || shifts.length !== geom.xs.length - 1) {
      clearCanvas(ctx, geom);
      this._drawnOn = null;
      return;
    }
    const { frame, changed } = this._bringUp(geom, shifts, layer);
    // Nothing changed (a repeated selection on the same plot): the canvas already shows it.
    if (changed || this._drawnOn !== geom) {
      this._compositor.put(ctx, geom, frame, this._strips!.strips.map(s => s.acc), look);
      this._drawnOn = geom;
    }
  }

  /**
   * Brings the running sums up to `layer` without drawing (the canvas shows something else):
   * done while idle, so that the first draw of a drag costs a move's changes, not a fill.
   */
  prepare(geom: IPlotGeometry, shifts: readonly number[], layer: ILayerRows): void {
    if (geom.xs.length >= 2 && shifts.length === geom.xs.length - 1) {
      this._bringUp(geom, shifts, layer);
      this._drawnOn = null;
    }
  }

  /** The strips for this plot and resolution, brought to the layer; whether any changed. */
  private _bringUp(
    geom: IPlotGeometry,
    shifts: readonly number[],
    layer: ILayerRows
  ): { frame: IDensityFrame; changed: boolean } {
    const rows = geom.bins[0].length;
    const key = layer.palette.join('\n');
    if (!this._strips || this._strips.rows !== rows || this._key !== key) {
      this._strips = new SelectionStrips(rows, paletteRGB(layer.palette));
      this._key = key;
    }
    const frame = densityFrame(geom);
    const specs = frame.strips.map((strip, a) => ({
      key: `${strip.key}/${shifts[a]}`,
      left: geom.bins[a],
      right: geom.bins[a + 1],
      shift: shifts[a],
      place: strip.place,
      width: strip.width,
      height: frame.height
    }));
    const moved = this._strips.setPairs(specs);
    const changed = this._strips.update(layer.mask, layer.index ?? this._noIndex(rows));
    return { frame, changed: changed > 0 || moved };
  }

  /** The canvas was drawn by something else: the next draw composes whatever changed. */
  invalidate(): void {
    this._drawnOn = null;
  }

  /** Palette index 0 for every row, for layers drawn in one color. */
  private _noIndex(rows: number): Uint8Array {
    if (this._zeros?.length !== rows) {
      this._zeros = new Uint8Array(rows);
    }
    return this._zeros;
  }

  private _strips: SelectionStrips | null = null;
  private _key = '';
  private _drawnOn: IPlotGeometry | null = null;
  private _zeros: Uint8Array | null = null;
  private readonly _compositor = new Compositor();
}

/**
 * Halvings of the grid added while a drag is in flight: 4x coarser bins per axis, 16x fewer
 * cells, so a move redraws far fewer lines (and its running sums stay in cache).
 */
export const LIVE_SHIFT = 2;
/** Live grids keep at least this many bins per axis (the lines must still go somewhere). */
const LIVE_MIN_BINS = 32;

/** The resolution of a pair while a drag is in flight: coarser by LIVE_SHIFT, not below LIVE_MIN_BINS. */
export function liveShift(baseBins: number, shift: number): number {
  let live = shift;
  while (live < shift + LIVE_SHIFT && binsAtShift(baseBins, live + 1) >= LIVE_MIN_BINS) {
    live++;
  }
  return live;
}

/**
 * The selected layer with two resolutions: while a drag is in flight (`live`), coarser bins
 * (liveShift) kept by a SelectionDensity of their own; otherwise the exact ones. Each keeps its
 * strips in step with the selection by differences, so a switch costs the rows changed since
 * that resolution last drew, and the drag's end (a draw that is not live) always shows the
 * exact layer. The selection (the mask) is the same exact one at both resolutions: only the
 * drawing aggregates more.
 */
export class TwoSpeedSelection {
  draw(
    ctx: CanvasRenderingContext2D,
    geom: IPlotGeometry,
    shifts: readonly number[],
    layer: ILayerRows,
    look: ILayerLook,
    live: boolean
  ): void {
    const density = live ? this._live : this._exact;
    const resolution = live ? shifts.map(shift => liveShift(geom.baseBins, shift)) : shifts;
    if (this._shown !== density) {
      density.invalidate(); // the canvas shows the other resolution
    }
    density.draw(ctx, geom, resolution, layer, look);
    this._shown = density;
  }

  /**
   * Brings the live resolution up to the selection while the page is idle, when a drag is about
   * to start (a press on a brush): its first move then costs that move's changes, not a pass of
   * every row over every pair (at a million rows, a frame of its own). Not after every exact
   * draw: after a time step that idle pass competed with the next step (+8 ms a step at 10k).
   * The rows are read when it runs.
   */
  prepareLive(geom: IPlotGeometry, shifts: readonly number[], layer: ILayerRows): void {
    cancelIdle(this._idle);
    this._idle = whenIdle(() => {
      this._idle = 0;
      if (this._shown !== this._live) {
        this._live.prepare(geom, shifts.map(shift => liveShift(geom.baseBins, shift)), layer);
      }
    });
  }

  /** Whether the canvas shows the live (coarse) resolution. */
  get showsLive(): boolean {
    return this._shown === this._live;
  }

  private readonly _exact = new SelectionDensity();
  private readonly _live = new SelectionDensity();
  private _shown: SelectionDensity | null = null;
  private _idle = 0;
}

/** Runs `callback` when the page is idle (a timeout where requestIdleCallback is missing). */
function whenIdle(callback: () => void): number {
  if (typeof requestIdleCallback === 'function') {
    return requestIdleCallback(callback, { timeout: 1000 });
  }
  return setTimeout(callback, 50) as unknown as number;
}

function cancelIdle(handle: number): void {
  if (!handle) {
    return;
  }
  if (typeof cancelIdleCallback === 'function') {
    cancelIdleCallback(handle);
  } else {
    clearTimeout(handle);
  }
}

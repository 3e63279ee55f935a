/**
 * The canvas layers of the parallel coordinates: rows as lines (few rows) or as line density
 * (many rows). Both read the per-row pixels computed once per data/size (axes.ts) and never
 * touch the data columns, so a brush move costs only the drawing of the selected rows.
 */
import * as d3 from 'd3';

import type { IVerticalLayout } from './axes';
import {
  IAccumulator,
  IPairPlacement,
  SelectionAccumulator,
  binPair,
  composeRGBA,
  createAccumulator,
  fitBudget,
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

/**
 * The rows grouped by palette index (a counting sort): `order` lists rows color by color,
 * color k's rows are order[starts[k]] .. order[starts[k + 1] - 1].
 */
export function groupByColor(
  rows: Uint32Array,
  index: Uint8Array | null
): { order: Uint32Array; starts: Uint32Array } {
  const starts = new Uint32Array(257);
  if (!index) {
    starts.fill(rows.length, 1);
    return { order: rows, starts };
  }
  for (let i = 0; i < rows.length; i++) {
    starts[index[rows[i]] + 1]++;
  }
  for (let k = 1; k < 257; k++) {
    starts[k] += starts[k - 1];
  }
  const next = starts.slice(0, 256);
  const order = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    order[next[index[rows[i]]]++] = rows[i];
  }
  return { order, starts };
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

/** Draws rows as polylines, batched per color; higher palette indices end up on top. */
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
  const { order, starts } = groupByColor(rows, layer.index);
  ctx.globalAlpha = lineAlpha(rows.length, look.maxAlpha);
  ctx.lineWidth = look.lineWidth;
  for (let k = 0; k < 256; k++) {
    if (starts[k + 1] === starts[k]) {
      continue;
    }
    ctx.strokeStyle = layer.palette[k] ?? layer.palette[0];
    for (let from = starts[k]; from < starts[k + 1]; from += LINES_PER_STROKE) {
      ctx.beginPath();
      const to = Math.min(from + LINES_PER_STROKE, starts[k + 1]);
      for (let i = from; i < to; i++) {
        const row = order[i];
        ctx.moveTo(xs[0], ys[0][row]);
        for (let a = 1; a < xs.length; a++) {
          ctx.lineTo(xs[a], ys[a][row]);
        }
      }
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;
}

// ---------------------------------------------------------------------------------------------
// Density
// ---------------------------------------------------------------------------------------------

/**
 * Pixels of line walk allowed per pair set (all pairs together) when choosing resolutions:
 * about what a CPU rasterises in 10-20 ms in headless Chromium. Only a whole redraw pays it;
 * a brush move walks just the lines of the rows that changed.
 */
export const DEFAULT_DENSITY_BUDGET = 4e6;

/** The region of the canvas a density layer covers (device pixels) and its pairs in it. */
export interface IDensityFrame {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  readonly places: readonly IPairPlacement[];
}

/** The buffer spans the axes horizontally, and the axes with their missing band vertically. */
export function densityFrame(geom: IPlotGeometry): IDensityFrame {
  const { xs, layout, dpr, baseBins } = geom;
  const x0 = Math.floor(xs[0] * dpr);
  const y0 = Math.floor(layout.top * dpr) - 1;
  const width = Math.ceil(xs[xs.length - 1] * dpr) + 1 - x0;
  const height = Math.ceil(layout.missingBottom * dpr) + 2 - y0;
  const places = xs.slice(1).map((x, i) => ({
    xLeft: xs[i] * dpr - x0,
    xRight: x * dpr - x0,
    yTop: layout.top * dpr - y0,
    binHeight: ((layout.missingBottom - layout.top) * dpr) / baseBins,
    baseBins
  }));
  return { x0, y0, width, height, places };
}

/** A CSS color as [r, g, b] integers; grey if it does not parse. */
export function parseRGB(color: string | undefined): [number, number, number] {
  const c = (color ? d3.color(color)?.rgb() : null) ?? d3.rgb(128, 128, 128);
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

/** Writes an accumulator to the canvas through an ImageData kept between frames. */
class Compositor {
  put(ctx: CanvasRenderingContext2D, frame: IDensityFrame, acc: IAccumulator, look: ILayerLook): void {
    if (!this._image || this._image.width !== acc.width || this._image.height !== acc.height) {
      this._image = ctx.createImageData(acc.width, acc.height);
    }
    composeRGBA(acc, look, this._image.data);
    ctx.putImageData(this._image, frame.x0, frame.y0);
  }

  private _image: ImageData | null = null;
}

/**
 * The context layer in density: every row, one color. It also picks each pair's resolution
 * (from all rows, so that any selection fits the same budget) for the selected layer.
 */
export class ContextDensity {
  constructor(private readonly _budget = DEFAULT_DENSITY_BUDGET) {}

  /** Draws, and returns the shift (resolution) chosen for each pair. */
  draw(ctx: CanvasRenderingContext2D, geom: IPlotGeometry, color: string, look: ILayerLook): number[] {
    clearCanvas(ctx, geom);
    if (geom.xs.length < 2) {
      return [];
    }
    const frame = densityFrame(geom);
    const acc = createAccumulator(frame.width, frame.height);
    const rgb = parseRGB(color);
    const shifts = frame.places.map((place, a) => {
      const grid = binPair(geom.bins[a], geom.bins[a + 1], geom.baseBins);
      const fitted = fitBudget(grid, place, this._budget / frame.places.length);
      rasterizeGrid(fitted, place, acc, rgb);
      return fitted.shift;
    });
    this._compositor.put(ctx, frame, acc, look);
    return shifts;
  }

  private readonly _compositor = new Compositor();
}

/**
 * The selected layer in density. Keeps a SelectionAccumulator for the current plot and
 * palette, so that a brush move only walks the lines of the rows whose selection changed; a
 * new plot (data, axes, size) or palette starts it afresh.
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
      return;
    }
    const key = layer.palette.join('\n');
    if (!this._state || this._state.geom !== geom || this._state.shifts !== shifts || this._state.key !== key) {
      this._state = this._start(geom, shifts, layer.palette, key);
    }
    const { acc, frame, rgb } = this._state;
    const changed = acc.update(layer.mask, layer.index ?? this._noIndex(acc.rows), rgb);
    // Nothing changed (a repeated selection): the canvas already shows it.
    if (changed > 0 || !this._state.drawn) {
      clearCanvas(ctx, geom);
      this._compositor.put(ctx, frame, acc.acc, look);
      this._state.drawn = true;
    }
  }

  private _start(
    geom: IPlotGeometry,
    shifts: readonly number[],
    palette: readonly string[],
    key: string
  ): NonNullable<SelectionDensity['_state']> {
    const frame = densityFrame(geom);
    const pairs = frame.places.map((place, a) => ({
      left: geom.bins[a],
      right: geom.bins[a + 1],
      shift: shifts[a],
      place
    }));
    const rows = geom.bins[0].length;
    const acc = new SelectionAccumulator(createAccumulator(frame.width, frame.height), pairs, rows);
    return { geom, shifts, key, frame, acc, rgb: paletteRGB(palette), drawn: false };
  }

  /** Palette index 0 for every row, for layers drawn in one color. */
  private _noIndex(rows: number): Uint8Array {
    if (this._zeros?.length !== rows) {
      this._zeros = new Uint8Array(rows);
    }
    return this._zeros;
  }

  private _zeros: Uint8Array | null = null;

  private _state: {
    geom: IPlotGeometry;
    shifts: readonly number[];
    key: string;
    frame: IDensityFrame;
    acc: SelectionAccumulator;
    rgb: Int32Array;
    drawn: boolean;
  } | null = null;
  private readonly _compositor = new Compositor();
}

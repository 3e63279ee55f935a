/**
 * A 2-D field on its grid's real axes: one canvas pixel block per cell, d3 axes in the grid's
 * units (R and z, or x and y), a colorbar beside it, NaN cells transparent (the theme shows
 * through: outside D+ the difference is not defined, and the view must not paint it as 0).
 *
 * The cells are rasterised once into an image of one pixel per cell (`rasterize`, pure and
 * tested) and scaled onto the canvas without smoothing, so a cell stays a sharp block whatever
 * the panel's width; nothing is recomputed on a resize but the scaling.
 */
import { axisBottom, axisLeft, axisRight } from 'd3-axis';
import { scaleLinear } from 'd3-scale';
import { interpolateMagma, interpolateViridis } from 'd3-scale-chromatic';
import { color as d3color } from 'd3-color';
import { select } from 'd3-selection';

export type Colormap = 'viridis' | 'magma';

export const COLORMAPS: Record<Colormap, (t: number) => string> = {
  viridis: interpolateViridis,
  magma: interpolateMagma
};

/** A float32 grid in C order: `shape[0]` rows of `shape[1]` cells (the server's (NR, NZ)). */
export interface IHeatmapGrid {
  data: Float32Array;
  shape: [number, number];
  /** Each dimension's cell edges [lo, hi], in its own units. */
  extent: [[number, number], [number, number]];
  /** Each dimension's name: ['R', 'z'] or ['x', 'y']. */
  labels: [string, string];
  /** Which dimension runs along the horizontal axis (z for R/z, x for x/y). */
  horizontal: 0 | 1;
  /** Each dimension's cell edges where its cells differ in width (a graded VTK grid); null or
      absent: uniform cells between the extent's ends. */
  edges?: [number[] | null, number[] | null];
}

export interface IHeatmapOptions {
  colormap: Colormap;
  /** The colors' [min, max]: the same for panels compared with each other. */
  domain: [number, number];
  /** What the colors are, in the readout (e.g. "ρ", "|ρ_gt − ρ|"). */
  quantity: string;
  /**
   * Where the value under the pointer is said (null: the pointer left); absent, the heatmap says
   * it in a line of its own beneath the plot. Panels stacked together share one line this way.
   */
  onReadout?: (text: string | null) => void;
  /** What the image shows, for a screen reader (e.g. "ρ of sim00003 at step 39"); its value range is added. */
  label?: string;
}

/** The canvas's accessible name: what it shows and the range of its finite values. */
export function heatmapLabel(label: string, data: ArrayLike<number>): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const range = lo <= hi ? `values from ${formatNumber(lo)} to ${formatNumber(hi)}` : 'no finite values';
  return `${label}: ${range}`;
}

/** Space around the plot for the axes and the colorbar, CSS px (the right one grows with the
    colorbar's longest tick label). */
export const HEATMAP_MARGIN = { top: 6, right: 44, bottom: 20, left: 44 };
/** Width of a tick label's character, CSS px (the UI font at 11 px; digits are tabular). */
const CHAR_WIDTH = 6.6;
/** The colorbar's width and its gap from the plot, CSS px. */
const BAR = { width: 10, gap: 8 };
/** Stops of the colorbar's gradient: enough that viridis/magma read as smooth. */
const BAR_STOPS = 16;
/** The plot keeps the grid's aspect within these heights (CSS px), else it is stretched. */
const HEIGHT = { min: 48, max: 420 };

/** The [min, max] of the finite values of every array: one domain for panels that are compared. */
export function colorDomain(arrays: readonly Float32Array[], from0 = false): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v < lo) lo = v; // NaN compares false: left out
      if (v > hi) hi = v;
    }
  }
  if (!(lo <= hi)) {
    return [0, 1]; // nothing finite: any domain paints nothing
  }
  if (from0) {
    lo = Math.min(0, lo);
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** The colormap's RGB at 256 levels, so that rasterising is a table look-up per cell. */
function lookupTable(colormap: Colormap): Uint8ClampedArray {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = d3color(COLORMAPS[colormap](i / 255))!.rgb();
    table[3 * i] = c.r;
    table[3 * i + 1] = c.g;
    table[3 * i + 2] = c.b;
  }
  return table;
}

const tables = new Map<Colormap, Uint8ClampedArray>();

/** The colormap's RGB of a value in `domain` (clamped), as the raster paints it. */
export function colorOf(value: number, domain: [number, number], colormap: Colormap): [number, number, number] {
  let table = tables.get(colormap);
  if (!table) {
    table = lookupTable(colormap);
    tables.set(colormap, table);
  }
  const span = domain[1] - domain[0];
  const k = Math.max(0, Math.min(255, Math.round(((value - domain[0]) / (span || 1)) * 255)));
  return [table[3 * k], table[3 * k + 1], table[3 * k + 2]];
}

export interface IRaster {
  width: number;
  height: number;
  /** RGBA, row 0 at the top: the vertical dimension's high end, as on the axis. */
  data: Uint8ClampedArray;
}

/**
 * One pixel per cell: the horizontal dimension left to right from its low end, the vertical one
 * bottom to top (the plot's y axis grows upward), NaN fully transparent.
 */
export function rasterize(grid: IHeatmapGrid, domain: [number, number], colormap: Colormap): IRaster {
  const [n0, n1] = grid.shape;
  const h = grid.horizontal;
  const width = h === 0 ? n0 : n1;
  const height = h === 0 ? n1 : n0;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < n1; j++) {
      const v = grid.data[i * n1 + j];
      const x = h === 0 ? i : j;
      const y = height - 1 - (h === 0 ? j : i);
      const p = 4 * (y * width + x);
      if (Number.isNaN(v)) {
        continue; // alpha stays 0
      }
      const [r, g, b] = colorOf(v, domain, colormap);
      data[p] = r;
      data[p + 1] = g;
      data[p + 2] = b;
      data[p + 3] = 255;
    }
  }
  return { width, height, data };
}

/**
 * The cell of a dimension holding `value`: uniform cells between `lo` and `hi`, or the cell
 * between two of `edges` (ascending); -1 outside.
 */
export function cellIndex(value: number, lo: number, hi: number, n: number, edges?: number[] | null): number {
  if (edges && edges.length === n + 1) {
    if (!(value >= edges[0] && value <= edges[n])) {
      return -1;
    }
    let a = 0;
    let b = n; // edges[a] <= value < edges[b]
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (edges[m] <= value) a = m;
      else b = m;
    }
    return a;
  }
  const k = Math.floor(((value - lo) / (hi - lo)) * n);
  return k < 0 || k > n ? -1 : Math.min(n - 1, k);
}

/**
 * The raster (one pixel per cell) painted onto a canvas of `cols` x `rows` device pixels whose
 * column i shows cell `cols[i]` across and row j cell `rows[j]` up (-1: nothing): how a graded
 * grid's cells land where they lie.
 */
export function resample(raster: IRaster, cols: Int32Array, rows: Int32Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(cols.length * rows.length * 4);
  for (let j = 0; j < rows.length; j++) {
    const cy = rows[j];
    if (cy < 0) continue;
    const from = (raster.height - 1 - cy) * raster.width; // the raster's row 0 is the top
    for (let i = 0; i < cols.length; i++) {
      const cx = cols[i];
      if (cx < 0) continue;
      const p = 4 * (from + cx);
      const q = 4 * (j * cols.length + i);
      out[q] = raster.data[p];
      out[q + 1] = raster.data[p + 1];
      out[q + 2] = raster.data[p + 2];
      out[q + 3] = raster.data[p + 3];
    }
  }
  return out;
}

/** A number for a readout or a tick: 3 significant digits, no exponent below 1e5. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) {
    return '—';
  }
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

export class Heatmap {
  readonly node: HTMLElement;

  constructor(options: IHeatmapOptions) {
    this._options = options;
    this.node = document.createElement('div');
    this.node.className = 'jp-DSI-heatmap';
    this._canvas.className = 'jp-DSI-heatmapCanvas';
    this._canvas.setAttribute('role', 'img');
    this._canvas.setAttribute('aria-label', options.label ?? options.quantity);
    this._svg.setAttribute('class', 'jp-DSI-heatmapAxes');
    this._svg.setAttribute('aria-hidden', 'true');
    this._readout.className = 'jp-DSI-heatmapReadout';
    this._readout.setAttribute('aria-live', 'off');
    const plot = document.createElement('div');
    plot.className = 'jp-DSI-heatmapPlot';
    plot.append(this._canvas, this._svg);
    this.node.append(plot);
    if (!options.onReadout) {
      this.node.append(this._readout);
    }
    this._plot = plot;
    this._canvas.addEventListener('pointermove', e => this._hover(e));
    this._canvas.addEventListener('pointerleave', () => this._say(null));
    this._readout.textContent = '\u00a0';
  }

  /** The grid and its colors; draws at once. */
  setData(grid: IHeatmapGrid, options: Partial<IHeatmapOptions> = {}): void {
    this._grid = grid;
    this._options = { ...this._options, ...options };
    this._raster = rasterize(grid, this._options.domain, this._options.colormap);
    this.node.setAttribute('data-domain', this._options.domain.map(formatNumber).join(' '));
    this._canvas.setAttribute('aria-label', heatmapLabel(this._options.label ?? this._options.quantity, grid.data));
    this.draw();
  }

  get domain(): [number, number] {
    return this._options.domain;
  }

  /** The horizontal and vertical scales (data -> CSS px in the plot) of the last draw. */
  get scales(): { x: (v: number) => number; y: (v: number) => number } | null {
    return this._scales;
  }

  /** Lay out and paint for the node's current width. */
  draw(): void {
    const grid = this._grid;
    const raster = this._raster;
    if (!grid || !raster) {
      return;
    }
    const h = grid.horizontal;
    const v = (1 - h) as 0 | 1;
    const [x0, x1] = grid.extent[h];
    const [y0, y1] = grid.extent[v];
    const outer = this._plot.clientWidth || this.node.clientWidth || 320;
    const right = this._right();
    const width = Math.max(60, outer - HEATMAP_MARGIN.left - right);
    // Equal units on both axes (a physicist reads shapes off the field); clamped when the grid
    // is far from square, where it would be a sliver or a tower.
    const aspect = Math.abs((y1 - y0) / (x1 - x0)) || 1;
    const height = Math.round(Math.max(HEIGHT.min, Math.min(HEIGHT.max, width * aspect)));
    const x = scaleLinear().domain([x0, x1]).range([0, width]);
    const y = scaleLinear().domain([y0, y1]).range([height, 0]);
    this._scales = { x, y };
    this._size = { width, height };

    const dpr = window.devicePixelRatio || 1;
    const canvas = this._canvas;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.style.left = `${HEATMAP_MARGIN.left}px`;
    canvas.style.top = `${HEATMAP_MARGIN.top}px`;
    const ctx = canvas.getContext('2d');
    const graded = grid.edges && (grid.edges[h] || grid.edges[v]);
    if (ctx && graded) {
      // Each device pixel takes the cell its centre lies in: cells drawn where they lie.
      const cols = Int32Array.from({ length: canvas.width }, (_, i) => this._cell(h, x.invert((i + 0.5) / dpr)));
      const rows = Int32Array.from({ length: canvas.height }, (_, j) => this._cell(v, y.invert((j + 0.5) / dpr)));
      const image = ctx.createImageData(canvas.width, canvas.height);
      image.data.set(resample(raster, cols, rows));
      ctx.putImageData(image, 0, 0);
    } else if (ctx) {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const cells = document.createElement('canvas');
      cells.width = raster.width;
      cells.height = raster.height;
      const cellCtx = cells.getContext('2d');
      if (cellCtx) {
        const image = cellCtx.createImageData(raster.width, raster.height);
        image.data.set(raster.data);
        cellCtx.putImageData(image, 0, 0);
        ctx.imageSmoothingEnabled = false; // a cell is a block, never blurred into its neighbours
        ctx.drawImage(cells, 0, 0, canvas.width, canvas.height);
      }
    }
    this._drawAxes(grid, x, y, width, height, right);
  }

  /** The room right of the plot: the colorbar, its ticks and their longest label. */
  private _right(): number {
    const labels = this._barScale(100).ticks(4).map(v => formatNumber(v));
    const longest = Math.max(...labels.map(l => l.length), 1);
    return Math.max(HEATMAP_MARGIN.right, BAR.gap + BAR.width + 9 + Math.ceil(longest * CHAR_WIDTH));
  }

  private _barScale(height: number, top = 0) {
    return scaleLinear().domain(this._options.domain).range([top + height, top]);
  }

  private _drawAxes(
    grid: IHeatmapGrid,
    x: ReturnType<typeof scaleLinear<number, number>>,
    y: ReturnType<typeof scaleLinear<number, number>>,
    width: number,
    height: number,
    right: number
  ): void {
    const { left, top, bottom } = HEATMAP_MARGIN;
    const total = { width: width + left + right, height: height + top + bottom };
    this._plot.style.height = `${total.height}px`;
    const svg = select(this._svg).attr('width', total.width).attr('height', total.height);
    svg.selectAll('*').remove();
    const h = grid.horizontal;
    const xTicks = Math.max(2, Math.floor(width / 45));
    const yTicks = Math.max(2, Math.floor(height / 40));
    svg
      .append('g')
      .attr('class', 'jp-DSI-heatmapAxis')
      .attr('data-axis', grid.labels[h])
      .attr('transform', `translate(${left},${top + height})`)
      .call(axisBottom(x).ticks(xTicks).tickSizeOuter(0));
    svg
      .append('g')
      .attr('class', 'jp-DSI-heatmapAxis')
      .attr('data-axis', grid.labels[1 - h])
      .attr('transform', `translate(${left},${top})`)
      .call(axisLeft(y).ticks(yTicks).tickSizeOuter(0));
    // The horizontal axis' name at its right end, on the tick labels' line: stacked panels stay
    // short, and it sits below the colorbar, clear of its labels.
    svg
      .append('text')
      .attr('class', 'jp-DSI-heatmapLabel')
      .attr('x', left + width + 16)
      .attr('y', top + height + 16)
      .attr('text-anchor', 'start')
      .text(grid.labels[h]);
    svg
      .append('text')
      .attr('class', 'jp-DSI-heatmapLabel')
      .attr('transform', `translate(12,${top + height / 2}) rotate(-90)`)
      .attr('text-anchor', 'middle')
      .text(grid.labels[1 - h]);
    // The plot's frame: where the grid ends, also where NaN cells leave it empty.
    svg
      .append('rect')
      .attr('class', 'jp-DSI-heatmapFrame')
      .attr('x', left)
      .attr('y', top)
      .attr('width', width)
      .attr('height', height)
      .attr('fill', 'none');
    this._drawColorbar(svg, left + width + BAR.gap, top, height);
  }

  private _drawColorbar(svg: ReturnType<typeof select<SVGSVGElement, unknown>>, x: number, top: number, height: number): void {
    const { colormap } = this._options;
    const id = `jp-DSI-colorbar-${++gradients}`;
    const gradient = svg
      .append('defs')
      .append('linearGradient')
      .attr('id', id)
      .attr('x1', '0')
      .attr('y1', '1')
      .attr('x2', '0')
      .attr('y2', '0');
    for (let i = 0; i <= BAR_STOPS; i++) {
      gradient
        .append('stop')
        .attr('offset', `${(100 * i) / BAR_STOPS}%`)
        .attr('stop-color', COLORMAPS[colormap](i / BAR_STOPS));
    }
    svg
      .append('rect')
      .attr('class', 'jp-DSI-colorbar')
      .attr('x', x)
      .attr('y', top)
      .attr('width', BAR.width)
      .attr('height', height)
      .attr('fill', `url(#${id})`);
    const scale = this._barScale(height, top);
    svg
      .append('g')
      .attr('class', 'jp-DSI-heatmapAxis jp-DSI-colorbarAxis')
      .attr('transform', `translate(${x + BAR.width},0)`)
      .call(axisRight(scale).ticks(4).tickSizeOuter(0).tickFormat(v => formatNumber(Number(v))));
  }

  /** The value under the pointer, in the grid's units: "z = 0.41, R = 0.12: ρ = 1.3". */
  private _hover(event: PointerEvent): void {
    const grid = this._grid;
    const scales = this._scales;
    if (!grid || !scales || !this._size) {
      return;
    }
    const rect = this._canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    const py = event.clientY - rect.top;
    const cell = this.cellAt(px, py);
    if (!cell) {
      this._say(null);
      return;
    }
    const h = grid.horizontal;
    const [i, j] = cell;
    const value = grid.data[i * grid.shape[1] + j];
    const xv = (scales.x as unknown as { invert(v: number): number }).invert(px);
    const yv = (scales.y as unknown as { invert(v: number): number }).invert(py);
    this._say(
      `${grid.labels[h]} = ${formatNumber(xv)}, ${grid.labels[1 - h]} = ${formatNumber(yv)}: ${this._options.quantity} = ${
        Number.isNaN(value) ? '— (outside D+)' : formatNumber(value)
      }`
    );
  }

  private _say(text: string | null): void {
    if (this._options.onReadout) {
      this._options.onReadout(text);
    } else {
      this._readout.textContent = text ?? '\u00a0';
    }
  }

  /** The cell [i, j] (grid indices) under a point of the plot (CSS px from its top left), or null. */
  cellAt(px: number, py: number): [number, number] | null {
    const grid = this._grid;
    const size = this._size;
    if (!grid || !size || px < 0 || py < 0 || px >= size.width || py >= size.height) {
      return null;
    }
    const h = grid.horizontal;
    const scales = this._scales as unknown as { x: { invert(v: number): number }; y: { invert(v: number): number } };
    const cx = this._cell(h, scales.x.invert(px));
    const cy = this._cell((1 - h) as 0 | 1, scales.y.invert(py));
    if (cx < 0 || cy < 0) {
      return null;
    }
    return h === 1 ? [cy, cx] : [cx, cy];
  }

  /** The cell of grid dimension `dim` at `value` (its units), -1 outside. */
  private _cell(dim: 0 | 1, value: number): number {
    const grid = this._grid!;
    const [lo, hi] = grid.extent[dim];
    return cellIndex(value, lo, hi, grid.shape[dim], grid.edges?.[dim]);
  }

  private _options: IHeatmapOptions;
  private _grid: IHeatmapGrid | null = null;
  private _raster: IRaster | null = null;
  private _scales: { x: (v: number) => number; y: (v: number) => number } | null = null;
  private _size: { width: number; height: number } | null = null;
  private readonly _plot: HTMLElement;
  private readonly _canvas = document.createElement('canvas');
  private readonly _svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  private readonly _readout = document.createElement('div');
}

let gradients = 0;

/**
 * The scatter view: one point per simulation on a canvas, with axes, the box/lasso outlines,
 * the hover readout and a small toolbar in SVG/DOM on top (DESIGN.md rules 6 and 7: a container
 * element and typed-array columns in, shapes and hovered rows out; nothing from JupyterLab).
 *
 * Selection is box or lasso (seed 000, section 2.3 and figure 8): a plain drag replaces the
 * shapes, shift adds one, alt subtracts one; Escape, or a click on empty space, clears them.
 * Shapes are kept in data units, so zoom (wheel) and pan (pan tool, middle button, or space
 * held) never change which rows they select; double-click or the reset button resets the zoom.
 *
 * Drawing: rows are bucketed by (selected, palette color) with a counting sort when the
 * selection changes, then drawn bucket by bucket as small squares in device pixels (selected
 * buckets last, so on top). Above IMAGE_DATA_ROWS points the squares are written straight into
 * an ImageData (one store per pixel, one putImageData); below it, fillRect per point with one
 * fillStyle per bucket. Measured in headless Chromium without a GPU (2 cores, plot 824 x 472,
 * dpr 1), a selection change costs at 100k points ~50 ms with fillRect and ~5-9 ms through
 * ImageData, at 10k points ~3 ms and ~2 ms: so ImageData is the path above a few thousand.
 */

import { axisBottom, axisLeft } from 'd3-axis';
import { format } from 'd3-format';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import type { Selection } from 'd3-selection';

import {
  appendLassoPoint,
  boxPolygon,
  dataToPixel,
  homeView,
  IView,
  LASSO_MAX_VERTICES,
  panView,
  PointGrid,
  pixelToData,
  simplifyLasso,
  viewScale,
  wheelFactor,
  zoomView
} from './geometry';
import {
  IScatterMark,
  PROPOSAL_COLOR_FALLBACK,
  PROPOSAL_COLOR_VAR,
  PROPOSAL_HALO,
  PROPOSAL_HALO_FALLBACK,
  PROPOSAL_HALO_VAR,
  PROPOSAL_HOVER_WIDTH,
  PROPOSAL_WIDTH
} from './proposalOverlay';
import { countDrawn, pointPixels, RankedPoints, rasterizeRanked } from './points';
import type { IRowColors, IShape, Point } from './types';

export type ScatterTool = 'box' | 'lasso' | 'pan';

export interface IScatterOptions {
  /** Box/lasso edits: called while dragging (final = false, at most once a frame) and at the end. */
  onShapes?: (shapes: IShape[], final: boolean) => void;
  /** The row under the pointer (nearest visible point within HOVER_RADIUS px), or null. */
  onHover?: (row: number | null) => void;
  /** A click (no drag) on a point, or Enter on the marked one: its row (pick a ground truth, open its field). */
  onPick?: (row: number) => void;
  /** Rows that setVisible hides: not drawn (default) or drawn faintly as context. */
  hidden?: 'hide' | 'faint';
  /** Side of a point's square in CSS px; by default 4, 3 or 2 as the row count grows. */
  pointSize?: number;
  /** More lines for a row's tooltip (its parameters), after its id, x and y. */
  describe?: (row: number) => string[];
}

/** Space around the plot area for the axes, CSS px. */
export const MARGIN = { top: 10, right: 14, bottom: 38, left: 62 };
/** How far from a point the pointer may be for the readout, CSS px. */
export const HOVER_RADIUS = 8;
/** Movement under which a press is a click, not a drag, CSS px. */
export const CLICK_SLOP = 3;
/** Above this many drawn points, rasterise into an ImageData rather than call fillRect (see top). */
export const IMAGE_DATA_ROWS = 2000;
/** Opacity of rows hidden by the brushes when `hidden: 'faint'`. */
export const FAINT_ALPHA = 0.15;
/**
 * Live shapes go out at most this often (ms) straight from the pointer event; a move sooner
 * than that waits for the next frame. Half a 60 Hz frame: browsers deliver pointer moves about
 * once a frame, so a drag emits with every move.
 */
export const LIVE_INTERVAL_MS = 8;
/**
 * Most per-pixel rank counts kept (4 bytes each: 32 MB): above it (a numeric color ramp on a
 * large HiDPI canvas) the points are drawn afresh on every change instead.
 */
export const RANKED_COUNTS_MAX = 8_000_000;

/** Serial numbers of the rows' pixels (new coordinates or placement: a new serial). */
let pixelSerial = 0;
/** A click clears the shapes after this delay, so that a double-click (reset zoom) does not. */
const CLEAR_DELAY_MS = 250;

const TOOLS: readonly { tool: ScatterTool; label: string; title: string }[] = [
  { tool: 'box', label: 'Box', title: 'Box select (shift adds, alt subtracts)' },
  { tool: 'lasso', label: 'Lasso', title: 'Lasso select (shift adds, alt subtracts)' },
  { tool: 'pan', label: 'Pan', title: 'Pan (also: middle button or space + drag)' }
];

// ---------------------------------------------------------------------------------------------
// Pure helpers (tested directly)

/** Theme colors read from CSS variables, with light-theme fallbacks. */
export interface ITheme {
  font1: string;
  font2: string;
  border1: string;
  border2: string;
  layout0: string;
  layout1: string;
  brand: string;
}

const THEME_VARS: Record<keyof ITheme, [string, string]> = {
  font1: ['--jp-ui-font-color1', 'rgba(0, 0, 0, 0.87)'],
  font2: ['--jp-ui-font-color2', 'rgba(0, 0, 0, 0.54)'],
  border1: ['--jp-border-color1', '#bdbdbd'],
  border2: ['--jp-border-color2', '#e0e0e0'],
  layout0: ['--jp-layout-color0', '#ffffff'],
  layout1: ['--jp-layout-color1', '#ffffff'],
  brand: ['--jp-brand-color1', '#1976d2']
};

/** The theme as the element sees it now (JupyterLab swaps the variables on a theme change). */
export function readTheme(el: Element): ITheme {
  const style = getComputedStyle(el);
  const theme = {} as ITheme;
  for (const key of Object.keys(THEME_VARS) as (keyof ITheme)[]) {
    const [name, fallback] = THEME_VARS[key];
    theme[key] = style.getPropertyValue(name).trim() || fallback;
  }
  return theme;
}

/** About how wide a character of an axis title is (13 px font), CSS px: no text measuring. */
const LABEL_CHAR_PX = 7;

/** `label` cut with an ellipsis to fit `width` CSS px (whole when it fits). */
export function fitLabel(label: string, width: number): string {
  const chars = Math.max(4, Math.floor(width / LABEL_CHAR_PX));
  return label.length <= chars ? label : `${label.slice(0, chars - 1)}…`;
}

/**
 * The order rows are drawn in: bucket b holds order[starts[b] .. starts[b + 1]). Bucket 0 is the
 * hidden rows kept as faint context, 1 + c the unselected rows of palette color c, and
 * 1 + nColors + c the selected rows of color c; drawing buckets in turn puts selected rows on
 * top, with one fillStyle per bucket. Rows without a finite x and y are in no bucket; `missing`
 * counts those among the visible rows (the "not shown" note).
 */
export interface IDrawOrder {
  order: Int32Array;
  starts: Int32Array;
  nColors: number;
  missing: number;
  drawn: number;
}

export function drawOrder(
  valid: Uint8Array,
  visible: Uint8Array | null,
  selected: Uint8Array | null,
  color: Uint8Array | null,
  nColors: number,
  keepHidden: boolean
): IDrawOrder {
  const n = valid.length;
  const nc = Math.max(1, Math.min(256, nColors));
  const buckets = 1 + 2 * nc;
  // One monomorphic loop over plain typed arrays (no null checks per row): this runs on every
  // selection change, so it is half of the redraw's cost at 100k rows.
  const none = buckets; // rows drawn nowhere
  const hidden = keepHidden ? 0 : none;
  const vis = visible ?? new Uint8Array(n).fill(1);
  const sel = selected ?? new Uint8Array(n);
  const col = color ?? new Uint8Array(n);
  const bucket = new Uint16Array(n);
  const counts = new Int32Array(buckets + 1);
  let missing = 0;
  for (let i = 0; i < n; i++) {
    let b: number;
    if (valid[i] === 0) {
      b = none;
      missing += vis[i] !== 0 ? 1 : 0;
    } else if (vis[i] === 0) {
      b = hidden;
    } else {
      const c = col[i];
      b = 1 + (c < nc ? c : 0) + (sel[i] !== 0 ? nc : 0);
    }
    bucket[i] = b;
    counts[b]++;
  }
  const starts = new Int32Array(buckets + 1);
  for (let b = 0; b < buckets; b++) {
    starts[b + 1] = starts[b] + counts[b];
  }
  const fill = starts.slice(0, buckets);
  const order = new Int32Array(starts[buckets]);
  for (let i = 0; i < n; i++) {
    const b = bucket[i];
    if (b !== none) order[fill[b]++] = i;
  }
  return { order, starts, nColors: nc, missing, drawn: order.length };
}

/**
 * [r, g, b, a] (0-255) of a CSS color in the forms a canvas normalises fillStyle to
 * (#rrggbb, rgba(r, g, b, a)) and the other hex and rgb() spellings; null if not understood.
 */
export function parseCssColor(css: string): [number, number, number, number] | null {
  const s = css.trim().toLowerCase();
  let m = /^#([0-9a-f]{3,8})$/.exec(s);
  if (m) {
    let h = m[1];
    if (h.length === 3 || h.length === 4) {
      h = h
        .split('')
        .map(c => c + c)
        .join('');
    }
    if (h.length !== 6 && h.length !== 8) {
      return null;
    }
    const v = (k: number): number => parseInt(h.slice(k, k + 2), 16);
    return [v(0), v(2), v(4), h.length === 8 ? v(6) : 255];
  }
  m = /^rgba?\(([^)]*)\)$/.exec(s);
  if (m) {
    const parts = m[1].split(/[\s,/]+/).filter(Boolean);
    if (parts.length < 3) {
      return null;
    }
    const channel = (p: string): number =>
      p.endsWith('%') ? (parseFloat(p) / 100) * 255 : parseFloat(p);
    const alpha = parts.length > 3 ? parts[3] : '1';
    const a = alpha.endsWith('%') ? parseFloat(alpha) / 100 : parseFloat(alpha);
    const out = [channel(parts[0]), channel(parts[1]), channel(parts[2]), a * 255].map(v =>
      Math.max(0, Math.min(255, Math.round(v)))
    );
    return out.some(Number.isNaN) ? null : (out as [number, number, number, number]);
  }
  return null;
}

/** Data -> device pixel: px = x * t[0] + t[1], py = y * t[2] + t[3]. */
export type DeviceTransform = [number, number, number, number];

/**
 * Write an s x s square of `color` (an RGBA word) into `buf` (W x H, row-major) for each row
 * order[lo .. hi), centred on its point; squares are clipped at the edges. The ImageData path:
 * a store per pixel and no per-call overhead, with unrolled stores for the common 1-3 px sizes
 * away from the edges, where nearly every point falls, and bounds checks only near the edges.
 */
export function rasterizeSquares(
  buf: Uint32Array,
  W: number,
  H: number,
  order: Int32Array,
  lo: number,
  hi: number,
  xs: Float32Array,
  ys: Float32Array,
  t: DeviceTransform,
  s: number,
  color: number
): void {
  const [ax, bx, ay, by] = t;
  const half = s / 2;
  const bxh = bx - half + 0.5; // + 0.5 then floor = round
  const byh = by - half + 0.5;
  for (let k = lo; k < hi; k++) {
    const r = order[k];
    const px = Math.floor(xs[r] * ax + bxh);
    const py = Math.floor(ys[r] * ay + byh);
    if (px >= 0 && py >= 0 && px + s <= W && py + s <= H) {
      const i = py * W + px;
      if (s === 2) {
        buf[i] = buf[i + 1] = buf[i + W] = buf[i + W + 1] = color;
        continue;
      }
      if (s === 1) {
        buf[i] = color;
        continue;
      }
      if (s === 3) {
        buf[i] = buf[i + 1] = buf[i + 2] = color;
        buf[i + W] = buf[i + W + 1] = buf[i + W + 2] = color;
        const j = i + 2 * W;
        buf[j] = buf[j + 1] = buf[j + 2] = color;
        continue;
      }
      for (let row = i, end = i + s * W; row < end; row += W) {
        for (let j = row; j < row + s; j++) buf[j] = color;
      }
      continue;
    }
    const x0 = Math.max(0, px);
    const y0 = Math.max(0, py);
    const x1 = Math.min(W, px + s);
    const y1 = Math.min(H, py + s);
    for (let yy = y0; yy < y1; yy++) {
      const row = yy * W;
      for (let xx = x0; xx < x1; xx++) buf[row + xx] = color;
    }
  }
}

/** The shapes after a finished gesture: a replace drops the earlier ones. */
export function combineShapes(shapes: readonly IShape[], shape: IShape): IShape[] {
  return shape.op === 'replace' ? [shape] : [...shapes, shape];
}

/** A deep copy, so that callers and the view never share mutable polygons. */
export function copyShapes(shapes: readonly IShape[]): IShape[] {
  return shapes.map(s => ({
    kind: s.kind,
    op: s.op,
    polygon: s.polygon.map(p => [p[0], p[1]] as Point)
  }));
}

/** SVG path data of a closed polygon given in data units. */
export function polygonPath(view: IView, polygon: readonly Point[]): string {
  if (polygon.length === 0) {
    return '';
  }
  const parts = polygon.map(([x, y]) => {
    const [px, py] = dataToPixel(view, x, y);
    return `${px.toFixed(1)},${py.toFixed(1)}`;
  });
  return `M${parts.join('L')}Z`;
}

/** Default side of a point's square (CSS px): smaller as the ensemble grows, to keep structure. */
export function defaultPointSize(rows: number): number {
  // A handful of runs (DSI's 8 CloverLeaf runs) must read as marks, not specks.
  return rows <= 50 ? 8 : rows <= 500 ? 6 : rows <= 5000 ? 4 : rows <= 50_000 ? 3 : 2;
}

// ---------------------------------------------------------------------------------------------
// The view

interface IDrag {
  kind: ScatterTool;
  op: IShape['op'];
  pointerId: number;
  start: Point;
  moved: boolean;
  /** Plot pixels: the lasso's vertices so far, or a box's two corners. */
  path: Point[];
  startView: IView;
  emittedLive: boolean;
}

type SvgSel<E extends Element> = Selection<E, unknown, null, undefined>;

let instances = 0;

export class Scatter {
  // DOM
  readonly node: HTMLDivElement;
  private readonly plot: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly svg: SvgSel<SVGSVGElement>;
  private readonly xAxis: SvgSel<SVGGElement>;
  private readonly yAxis: SvgSel<SVGGElement>;
  private readonly xLabel: SvgSel<SVGTextElement>;
  private readonly yLabel: SvgSel<SVGTextElement>;
  private readonly clipRect: SvgSel<SVGRectElement>;
  private readonly inner: SvgSel<SVGGElement>;
  private readonly shapesG: SvgSel<SVGGElement>;
  private readonly proposalsG: SvgSel<SVGGElement>;
  /** The circles' halos (the same circles, wider, in the background), under all the circles. */
  private readonly proposalHalosG: SvgSel<SVGGElement>;
  private readonly proposalLegend: HTMLDivElement;
  private readonly draft: SvgSel<SVGPathElement>;
  private readonly hoverMark: SvgSel<SVGCircleElement>;
  private readonly tooltip: HTMLDivElement;
  private readonly note: HTMLDivElement;
  private readonly buttons = new Map<ScatterTool | 'reset', HTMLButtonElement>();
  private readonly resizeObserver: ResizeObserver | null = null;

  // Data
  private n = 0;
  private x: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  private ids: readonly string[] = [];
  private labels = { x: '', y: '' };
  private valid: Uint8Array = new Uint8Array(0);
  private visible: Uint8Array | null = null;
  private selected: Uint8Array | null = null;
  private colors: IRowColors | null = null;
  private order: IDrawOrder | null = null;
  /** Rows drawn and visible rows missing a coordinate, for the current visibility. */
  private counts: { drawn: number; missing: number } | null = null;
  /** Each row's square's pixel for the current data, zoom, canvas and point size. */
  private pixels: { key: string; pix: Int32Array; serial: number } | null = null;
  /** Each pixel's winning draw rank (see points.ts), beside the ImageData. */
  private rank: Uint16Array | null = null;
  /** What the axes and the shapes' outlines were last drawn for (see renderAxes, renderShapes). */
  private axesKey = '';
  private shapesDrawn: { shapes: IShape[] | null; view: IView | null } = { shapes: null, view: null };
  /** The ImageData's pixels kept by differences (see points.ts). */
  private ranked = new RankedPoints();
  private grid: PointGrid | null = null;

  // State
  private shapes: IShape[] = [];
  private tool: ScatterTool = 'box';
  private home: IView = { x0: 0, x1: 1, y0: 0, y1: 1, width: 0, height: 0 };
  private view: IView = { ...this.home };
  private zoomed = false;
  private dpr = 1;
  private drag: IDrag | null = null;
  private hovered = -1;
  private spaceHeld = false;
  private frame = 0;
  private renderPending = false;
  private livePending = false;
  /** When the last live shapes went out (performance.now()). */
  private liveAt = -Infinity;
  private clearTimer = 0;
  private imageData: ImageData | null = null;
  private packed: { palette: readonly string[]; solid: Uint32Array; faint: number } | null = null;
  private destroyed = false;
  /** A proposal's points (issue 16), hollow circles in data units; the legend's text. */
  private marks: readonly IScatterMark[] = [];
  private marksLabel = '';
  /** The view the marks were placed for: they move only when it changes. */
  private marksKey = '';
  private hoveredMark = -1;

  constructor(
    container: HTMLElement,
    private readonly options: IScatterOptions = {}
  ) {
    const id = ++instances;
    const doc = container.ownerDocument;
    this.node = doc.createElement('div');
    this.node.className = 'jp-dsi-Scatter';
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-roledescription', 'scatter plot');
    this.node.setAttribute('aria-label', 'Scatter plot');
    const style = doc.createElement('style');
    style.textContent = STYLE;
    this.node.appendChild(style);
    this.node.appendChild(this.buildToolbar(doc));

    this.plot = doc.createElement('div');
    this.plot.className = 'jp-dsi-Scatter-plot';
    this.node.appendChild(this.plot);
    this.canvas = doc.createElement('canvas');
    this.canvas.className = 'jp-dsi-Scatter-canvas';
    this.canvas.setAttribute('aria-hidden', 'true');
    this.plot.appendChild(this.canvas);

    this.svg = select(this.plot)
      .append('svg')
      .attr('class', 'jp-dsi-Scatter-svg')
      .attr('data-tool', this.tool);
    const clipId = `jp-dsi-Scatter-clip-${id}`;
    this.clipRect = this.svg.append('defs').append('clipPath').attr('id', clipId).append('rect');
    this.xAxis = this.svg.append('g').attr('class', 'jp-dsi-Scatter-axis jp-dsi-Scatter-axis-x');
    this.yAxis = this.svg.append('g').attr('class', 'jp-dsi-Scatter-axis jp-dsi-Scatter-axis-y');
    this.xLabel = this.svg.append('text').attr('class', 'jp-dsi-Scatter-label').attr('text-anchor', 'middle');
    this.yLabel = this.svg
      .append('text')
      .attr('class', 'jp-dsi-Scatter-label')
      .attr('text-anchor', 'middle');
    this.inner = this.svg
      .append('g')
      .attr('transform', `translate(${MARGIN.left},${MARGIN.top})`)
      .attr('clip-path', `url(#${clipId})`);
    this.shapesG = this.inner.append('g').attr('class', 'jp-dsi-Scatter-shapes');
    this.proposalHalosG = this.inner.append('g').attr('class', 'jp-dsi-Scatter-proposalHalos').attr('pointer-events', 'none');
    this.proposalsG = this.inner.append('g').attr('class', 'jp-dsi-Scatter-proposals').attr('pointer-events', 'none');
    this.draft = this.inner.append('path').attr('class', 'jp-dsi-Scatter-draft').style('display', 'none');
    this.hoverMark = this.inner
      .append('circle')
      .attr('class', 'jp-dsi-Scatter-hover')
      .style('display', 'none');

    this.tooltip = doc.createElement('div');
    this.tooltip.className = 'jp-dsi-Scatter-tooltip';
    this.tooltip.style.display = 'none';
    this.plot.appendChild(this.tooltip);
    this.note = doc.createElement('div');
    this.note.className = 'jp-dsi-Scatter-note';
    this.note.style.display = 'none';
    this.plot.appendChild(this.note);
    this.proposalLegend = doc.createElement('div');
    this.proposalLegend.className = 'jp-dsi-Scatter-proposalLegend';
    this.proposalLegend.style.display = 'none';
    this.plot.appendChild(this.proposalLegend);

    container.appendChild(this.node);
    this.listen();
    if (typeof ResizeObserver !== 'undefined') {
      this.resizeObserver = new ResizeObserver(() => this.resize());
      this.resizeObserver.observe(this.plot);
    }
    this.setTool('box');
    this.resize();
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  /**
   * New columns (NaN = missing: not drawn, counted in the note). The zoom follows the new data
   * unless the user has zoomed into the same pair of axes. Visibility, selection and colors are
   * kept when the row count is unchanged (the model sends new ones right after), else reset.
   */
  setData(
    x: Float32Array,
    y: Float32Array,
    ids: readonly string[],
    labels: { x: string; y: string }
  ): void {
    if (y.length !== x.length || ids.length !== x.length) {
      throw new RangeError(`scatter: x, y and ids differ in length (${x.length}, ${y.length}, ${ids.length})`);
    }
    const sameAxes = labels.x === this.labels.x && labels.y === this.labels.y;
    if (x.length !== this.n) {
      this.visible = null;
      this.selected = null;
      this.colors = null;
    }
    this.n = x.length;
    this.x = x;
    this.y = y;
    this.ids = ids;
    this.labels = { x: labels.x, y: labels.y };
    this.valid = new Uint8Array(this.n);
    for (let i = 0; i < this.n; i++) {
      this.valid[i] = Number.isFinite(x[i]) && Number.isFinite(y[i]) ? 1 : 0;
    }
    this.grid = null; // built on the first hover: a time-slider step need not pay for it
    this.pixels = null; // new coordinates (the same arrays may hold new values)
    this.home = homeView(x, y, this.view.width, this.view.height);
    if (!this.zoomed || !sameAxes) {
      this.view = { ...this.home };
      this.zoomed = false;
    }
    this.node.setAttribute('aria-label', `Scatter plot of ${labels.y} against ${labels.x}`);
    this.setHover(-1);
    this.invalidate();
  }

  /** Rows passing the parallel-coordinate brushes (1); the others are hidden or faint. */
  setVisible(visible: Uint8Array): void {
    this.checkLength(visible, 'visible');
    this.visible = visible;
    if (this.hovered >= 0 && !visible[this.hovered]) {
      this.setHover(-1);
    }
    this.invalidate();
  }

  /** Per-row palette colors and the selected rows, which are drawn on top. */
  setSelection(selected: Uint8Array, colors: IRowColors): void {
    this.checkLength(selected, 'selected');
    this.checkLength(colors.index, 'colors.index');
    this.selected = selected;
    this.colors = colors;
    this.invalidate();
  }

  /** Restore shapes (e.g. from saved GUI settings); emits nothing. */
  setShapes(shapes: IShape[]): void {
    this.cancelDrag(false);
    this.shapes = copyShapes(shapes);
    this.renderShapes();
  }

  /** The current shapes, in data units (a copy). */
  getShapes(): IShape[] {
    return copyShapes(this.shapes);
  }

  setTool(tool: ScatterTool): void {
    this.tool = tool;
    for (const { tool: t } of TOOLS) {
      this.buttons.get(t)?.setAttribute('aria-pressed', String(t === tool));
    }
    this.svg.attr('data-tool', tool);
  }

  /** The data rectangle shown and the plot area's size (a copy): for tests and GUI settings. */
  getView(): IView {
    return { ...this.view };
  }

  getTool(): ScatterTool {
    return this.tool;
  }

  /**
   * Marks a row and shows its tooltip, as the pointer does, without an onHover call: the row
   * the pointer is over in another view (linked hover). null clears it; ignored while dragging.
   */
  highlight(row: number | null): void {
    const r = row === null || row >= this.n ? -1 : row;
    if (this.drag || r === this.hovered) {
      return;
    }
    this.hovered = r;
    this.renderHover();
  }

  /**
   * A proposal's points as hollow circles (stroke only) at data coordinates, with a legend;
   * null or [] hides them. Only the SVG marks change: the points' canvas is not redrawn.
   */
  setProposals(marks: readonly IScatterMark[] | null, label = ''): void {
    this.marks = marks ?? [];
    this.marksLabel = label;
    this.marksKey = '';
    this.setMarkHover(-1);
    this.renderProposals();
  }

  /** Show every point again. */
  resetZoom(): void {
    this.view = { ...this.home };
    this.zoomed = false;
    this.setHover(-1);
    this.scheduleRender();
  }

  /** Fit the canvas and axes to the container (also called by a ResizeObserver). */
  resize(): void {
    if (this.destroyed) {
      return;
    }
    const w = Math.max(0, this.plot.clientWidth - MARGIN.left - MARGIN.right);
    const h = Math.max(0, this.plot.clientHeight - MARGIN.top - MARGIN.bottom);
    const dpr = (this.node.ownerDocument.defaultView?.devicePixelRatio ?? 1) || 1;
    const changed = w !== this.view.width || h !== this.view.height || dpr !== this.dpr;
    this.dpr = dpr;
    this.view = { ...this.view, width: w, height: h };
    this.home = { ...this.home, width: w, height: h };
    if (changed) {
      const c = this.canvas;
      c.style.left = `${MARGIN.left}px`;
      c.style.top = `${MARGIN.top}px`;
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      this.imageData = null;
    }
    // Drawn now, not next frame: resizing a canvas clears it and a blank frame would flash.
    this.render();
  }

  /** Draw now whatever is pending (for benchmarks and tests; the view otherwise draws per frame). */
  flush(): void {
    if (this.renderPending) {
      this.render();
    }
    if (this.livePending) {
      this.emitLive();
    }
    // Drawn now: the frame asked for earlier has nothing left to do. Cancelled, it does not
    // hold the page to one more frame (the benchmark counts a pending frame as drawing to come).
    if (!this.renderPending && !this.livePending) {
      this.cancelFrame();
    }
  }

  destroy(): void {
    if (this.destroyed) {
      return;
    }
    this.destroyed = true;
    this.resizeObserver?.disconnect();
    this.cancelFrame();
    this.cancelClear();
    this.node.remove();
    this.imageData = null;
  }

  // ------------------------------------------------------------------------------------------
  // DOM construction and events

  private buildToolbar(doc: Document): HTMLElement {
    const bar = doc.createElement('div');
    bar.className = 'jp-dsi-Scatter-toolbar';
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Scatter plot tools');
    const add = (key: ScatterTool | 'reset', label: string, title: string, act: () => void): void => {
      const b = doc.createElement('button');
      b.type = 'button';
      b.className = 'jp-dsi-Scatter-button';
      b.dataset.tool = key;
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', act);
      bar.appendChild(b);
      this.buttons.set(key, b);
    };
    for (const { tool, label, title } of TOOLS) {
      add(tool, label, title, () => this.setTool(tool));
    }
    add('reset', 'Reset', 'Reset zoom (double-click)', () => this.resetZoom());
    return bar;
  }

  /** The buttons of the toolbar, keyed by tool ('reset' included). */
  get toolbarButtons(): ReadonlyMap<ScatterTool | 'reset', HTMLButtonElement> {
    return this.buttons;
  }

  private listen(): void {
    const svg = this.svg.node()!;
    svg.addEventListener('pointerdown', e => this.onPointerDown(e));
    svg.addEventListener('pointermove', e => this.onPointerMove(e));
    svg.addEventListener('pointerup', e => this.onPointerUp(e));
    svg.addEventListener('pointercancel', () => this.cancelDrag(true));
    svg.addEventListener('pointerleave', () => {
      if (!this.drag) {
        this.setMarkHover(-1);
        this.setHover(-1);
      }
    });
    svg.addEventListener('wheel', e => this.onWheel(e), { passive: false });
    svg.addEventListener('dblclick', e => {
      e.preventDefault();
      this.cancelClear();
      this.resetZoom();
    });
    this.node.addEventListener('keydown', e => this.onKeyDown(e));
    this.node.addEventListener('keyup', e => {
      if (e.key === ' ') this.setSpace(false);
    });
    this.node.addEventListener('focusout', () => this.setSpace(false));
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (e.key === 'Escape') {
      // Consumed only when there is something to undo, so that JupyterLab keeps its Escape.
      if (!this.drag && !this.shapes.length) {
        return;
      }
      if (this.drag) {
        this.cancelDrag(true);
      } else {
        this.clearShapes();
      }
      this.setHover(-1);
      e.preventDefault();
      e.stopPropagation();
    } else if (e.key === 'Enter' && e.target === this.node && this.hovered >= 0 && !this.drag) {
      // The marked point (under the pointer, or hovered in the other view) opens as a click would.
      this.options.onPick?.(this.hovered);
      e.preventDefault();
    } else if (e.key === ' ' && e.target === this.node) {
      // Space pans only when the plot itself has focus: on a toolbar button it presses it.
      this.setSpace(true);
      e.preventDefault();
    }
  }

  private setSpace(held: boolean): void {
    this.spaceHeld = held;
    this.svg.attr('data-space', held ? 'true' : null);
  }

  /** Pointer position relative to the plot area's top left, CSS px. */
  private localPoint(e: MouseEvent): Point {
    const r = this.svg.node()!.getBoundingClientRect();
    return [e.clientX - r.left - MARGIN.left, e.clientY - r.top - MARGIN.top];
  }

  private inPlot([px, py]: Point): boolean {
    return px >= 0 && py >= 0 && px <= this.view.width && py <= this.view.height;
  }

  private clampToPlot([px, py]: Point): Point {
    return [
      Math.max(0, Math.min(this.view.width, px)),
      Math.max(0, Math.min(this.view.height, py))
    ];
  }

  private onPointerDown(e: PointerEvent): void {
    const p = this.localPoint(e);
    if (this.drag || !this.inPlot(p) || this.view.width <= 0 || this.view.height <= 0) {
      return;
    }
    const pan = this.tool === 'pan' || e.button === 1 || this.spaceHeld;
    if (!pan && e.button !== 0) {
      return;
    }
    e.preventDefault();
    this.node.focus({ preventScroll: true });
    this.cancelClear();
    this.setHover(-1);
    try {
      this.svg.node()!.setPointerCapture(e.pointerId);
    } catch {
      // No capture (old browser, synthetic event): the drag still works inside the plot.
    }
    this.drag = {
      kind: pan ? 'pan' : this.tool,
      op: e.shiftKey ? 'add' : e.altKey ? 'subtract' : 'replace',
      pointerId: e.pointerId,
      start: p,
      moved: false,
      path: [p],
      startView: this.view,
      emittedLive: false
    };
    this.svg.attr('data-dragging', pan ? 'pan' : 'select');
  }

  private onPointerMove(e: PointerEvent): void {
    const p = this.localPoint(e);
    const d = this.drag;
    if (!d) {
      this.hoverAt(p);
      return;
    }
    if (e.pointerId !== d.pointerId) {
      return;
    }
    if (!d.moved && Math.hypot(p[0] - d.start[0], p[1] - d.start[1]) < CLICK_SLOP) {
      return;
    }
    d.moved = true;
    if (d.kind === 'pan') {
      this.view = panView(d.startView, p[0] - d.start[0], p[1] - d.start[1]);
      this.zoomed = true;
      this.scheduleRender();
      return;
    }
    if (d.kind === 'lasso') {
      appendLassoPoint(d.path, this.clampToPlot(p));
      if (d.path.length > 2 * LASSO_MAX_VERTICES) {
        d.path = simplifyLasso(d.path);
      }
    } else {
      d.path = [d.start, this.clampToPlot(p)];
    }
    this.renderDraft();
    // The live shapes go out with the move itself, so that the views redraw in the frame that
    // shows the move (one frame per move, as a brush in the parallel coordinates); a faster
    // pointer (events more often than frames) waits for the frame, so that the selection is
    // computed at most about once a frame.
    const now = performance.now();
    if (now - this.liveAt >= LIVE_INTERVAL_MS) {
      this.emitLive();
    } else {
      this.livePending = true;
      this.scheduleFrame();
    }
  }

  private onPointerUp(e: PointerEvent): void {
    const d = this.drag;
    if (!d || e.pointerId !== d.pointerId) {
      return;
    }
    this.endDrag(e.pointerId);
    if (!d.moved) {
      // A click, whatever the tool: on a point it picks that row; on empty space (not panning)
      // it clears the shapes (later, in case it starts a double-click).
      const row = e.button === 0 ? this.nearestAt(this.localPoint(e)) : -1;
      if (row >= 0) {
        this.options.onPick?.(row);
      } else if (d.kind !== 'pan' && e.button === 0 && this.shapes.length) {
        this.scheduleClear();
      }
      return;
    }
    if (d.kind === 'pan') {
      return;
    }
    const shape = this.draftShape(d);
    if (shape) {
      this.shapes = combineShapes(this.shapes, shape);
      this.renderShapes();
      this.emit(this.shapes, true);
    } else if (d.emittedLive) {
      this.emit(this.shapes, true);
    }
  }

  private endDrag(pointerId: number): void {
    try {
      this.svg.node()!.releasePointerCapture(pointerId);
    } catch {
      // not captured
    }
    this.drag = null;
    this.livePending = false;
    this.svg.attr('data-dragging', null);
    this.draft.style('display', 'none');
  }

  /** Abandon a drag; if live shapes went out, tell the listener the shapes are as before. */
  private cancelDrag(notify: boolean): void {
    const d = this.drag;
    if (!d) {
      return;
    }
    this.endDrag(d.pointerId);
    if (d.kind === 'pan') {
      this.view = d.startView;
      this.scheduleRender();
    } else if (notify && d.emittedLive) {
      this.emit(this.shapes, true);
    }
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    if (this.drag || this.view.width <= 0 || this.view.height <= 0) {
      return;
    }
    const [px, py] = this.clampToPlot(this.localPoint(e));
    const next = zoomView(this.view, px, py, wheelFactor(e.deltaY, e.deltaMode));
    if (next !== this.view) {
      this.view = next;
      this.zoomed = true;
      this.setHover(-1);
      this.scheduleRender();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Shapes

  /** The shape a drag draws, in data units; null when too small to be one. */
  private draftShape(d: IDrag): IShape | null {
    const v = this.view;
    if (d.kind === 'box') {
      const [a, b] = d.path;
      if (!b || Math.abs(a[0] - b[0]) < 1 || Math.abs(a[1] - b[1]) < 1) {
        return null;
      }
      const [x0, y0] = pixelToData(v, a[0], a[1]);
      const [x1, y1] = pixelToData(v, b[0], b[1]);
      return { kind: 'box', op: d.op, polygon: boxPolygon(x0, y0, x1, y1) };
    }
    const pts = simplifyLasso(d.path);
    if (pts.length < 3) {
      return null;
    }
    return { kind: 'lasso', op: d.op, polygon: pts.map(([px, py]) => pixelToData(v, px, py)) };
  }

  private clearShapes(): void {
    this.shapes = [];
    this.renderShapes();
    this.emit([], true);
  }

  private scheduleClear(): void {
    this.cancelClear();
    this.clearTimer = window.setTimeout(() => {
      this.clearTimer = 0;
      if (!this.destroyed && this.shapes.length) {
        this.clearShapes();
      }
    }, CLEAR_DELAY_MS);
  }

  private cancelClear(): void {
    if (this.clearTimer) {
      window.clearTimeout(this.clearTimer);
      this.clearTimer = 0;
    }
  }

  private emit(shapes: readonly IShape[], final: boolean): void {
    this.options.onShapes?.(copyShapes(shapes), final);
  }

  private emitLive(): void {
    this.livePending = false;
    this.liveAt = performance.now();
    const d = this.drag;
    const shape = d ? this.draftShape(d) : null;
    if (d && shape) {
      d.emittedLive = true;
      this.emit(combineShapes(this.shapes, shape), false);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Hover

  private nearestAt(p: Point): number {
    if (!this.n || !this.inPlot(p)) {
      return -1;
    }
    if (!this.grid) {
      this.grid = new PointGrid(this.x, this.y);
    }
    const [qx, qy] = pixelToData(this.view, p[0], p[1]);
    const [sx, sy] = viewScale(this.view);
    const visible = this.visible;
    return this.grid.nearest(qx, qy, sx, sy, HOVER_RADIUS, visible ? r => visible[r] !== 0 : undefined);
  }

  private hoverAt(p: Point): void {
    // A proposal's circle is drawn over the points: it is what the pointer is on.
    const mark = this.nearestMark(p);
    if (mark >= 0) {
      this.setHover(-1);
      this.setMarkHover(mark);
      return;
    }
    this.setMarkHover(-1);
    this.setHover(this.nearestAt(p));
  }

  /** The proposal mark within HOVER_RADIUS of the plot pixel p, or -1. */
  private nearestMark(p: Point): number {
    let best = -1;
    let bestDistance = HOVER_RADIUS;
    if (!this.inPlot(p)) {
      return best;
    }
    this.marks.forEach((m, k) => {
      const [px, py] = dataToPixel(this.view, m.x, m.y);
      const d = Math.hypot(px - p[0], py - p[1]);
      if (d <= bestDistance) {
        bestDistance = d;
        best = k;
      }
    });
    return best;
  }

  /** Marks a proposal's circle and shows its id and values (text only); -1 clears it. */
  private setMarkHover(k: number): void {
    if (k === this.hoveredMark) {
      return;
    }
    const circles = this.proposalsG.selectAll<SVGCircleElement, IScatterMark>('circle').nodes();
    const halos = this.proposalHalosG.selectAll<SVGCircleElement, IScatterMark>('circle').nodes();
    circles[this.hoveredMark]?.classList.remove('jp-mod-hover');
    halos[this.hoveredMark]?.classList.remove('jp-mod-hover');
    const had = this.hoveredMark >= 0;
    this.hoveredMark = k;
    const mark = this.marks[k];
    if (!mark) {
      if (had) {
        this.tooltip.style.display = 'none';
      }
      return;
    }
    circles[k]?.classList.add('jp-mod-hover');
    halos[k]?.classList.add('jp-mod-hover');
    const [px, py] = dataToPixel(this.view, mark.x, mark.y);
    this.placeTooltip(mark.text, px, py);
  }

  private setHover(row: number): void {
    if (row === this.hovered) {
      return;
    }
    this.hovered = row;
    this.renderHover();
    this.options.onHover?.(row < 0 ? null : row);
  }

  // ------------------------------------------------------------------------------------------
  // Rendering

  private checkLength(a: ArrayLike<number>, what: string): void {
    if (a.length !== this.n) {
      throw new RangeError(`scatter: ${what} has ${a.length} rows, the data ${this.n}`);
    }
  }

  /** The rows or their colors changed: re-bucket and redraw next frame. */
  private invalidate(): void {
    this.order = null;
    this.counts = null;
    this.scheduleRender();
  }

  private scheduleRender(): void {
    this.renderPending = true;
    this.scheduleFrame();
  }

  private scheduleFrame(): void {
    if (this.frame || this.destroyed) {
      return;
    }
    const run = (): void => {
      this.frame = 0;
      this.flush();
    };
    this.frame =
      typeof requestAnimationFrame === 'function'
        ? requestAnimationFrame(run)
        : (setTimeout(run, 16) as unknown as number);
  }

  private cancelFrame(): void {
    if (this.frame) {
      if (typeof cancelAnimationFrame === 'function') {
        cancelAnimationFrame(this.frame);
      } else {
        clearTimeout(this.frame);
      }
      this.frame = 0;
    }
  }

  private render(): void {
    this.renderPending = false;
    if (this.destroyed) {
      return;
    }
    this.renderPoints();
    this.renderAxes();
    this.renderShapes();
    this.renderProposals();
    this.renderDraft();
    this.renderHover();
  }

  private renderPoints(): void {
    if (!this.counts) {
      this.counts = countDrawn(this.valid, this.visible, this.options.hidden === 'faint');
      this.renderNote(this.counts.missing);
    }
    const ctx = this.canvas.width && this.canvas.height ? this.canvas.getContext('2d') : null;
    if (!ctx) {
      return; // no size yet, or no canvas at all (jsdom)
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.counts.drawn || this.view.width <= 0 || this.view.height <= 0) {
      return;
    }
    const palette = this.colors?.palette.length ? this.colors.palette : [readTheme(this.node).brand];
    if (this.counts.drawn > IMAGE_DATA_ROWS) {
      this.rasterize(ctx, palette);
    } else {
      // Few points: fillRect per point, in the sorted order (a sort of few rows is cheap).
      if (!this.order) {
        this.order = drawOrder(
          this.valid,
          this.visible,
          this.selected,
          this.colors?.index ?? null,
          palette.length,
          this.options.hidden === 'faint'
        );
      }
      this.fillRects(ctx, palette);
    }
  }

  /** Data -> device pixel as px = x * ax + bx, py = y * ay + by (y flipped). */
  private deviceTransform(): DeviceTransform {
    const v = this.view;
    const ax = (this.dpr * v.width) / (v.x1 - v.x0);
    const ay = -(this.dpr * v.height) / (v.y1 - v.y0);
    return [ax, -v.x0 * ax, ay, this.dpr * v.height - v.y0 * ay];
  }

  private pointDeviceSize(): number {
    const css = this.options.pointSize ?? defaultPointSize(this.counts?.drawn ?? this.n);
    return Math.max(1, Math.round(css * this.dpr));
  }

  /** One fillRect per point, one fillStyle per bucket. */
  private fillRects(ctx: CanvasRenderingContext2D, palette: readonly string[]): void {
    const { order, starts, nColors } = this.order!;
    const [ax, bx, ay, by] = this.deviceTransform();
    const s = this.pointDeviceSize();
    const half = s / 2;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const xs = this.x;
    const ys = this.y;
    for (let b = 0; b < starts.length - 1; b++) {
      const lo = starts[b];
      const hi = starts[b + 1];
      if (lo === hi) continue;
      const c = b === 0 ? 0 : (b - 1) % nColors;
      ctx.fillStyle = palette[c] ?? palette[0];
      ctx.globalAlpha = b === 0 ? FAINT_ALPHA : 1;
      for (let k = lo; k < hi; k++) {
        const r = order[k];
        const px = Math.round(xs[r] * ax + bx - half);
        const py = Math.round(ys[r] * ay + by - half);
        if (px > -s && px < W && py > -s && py < H) {
          ctx.fillRect(px, py, s, s);
        }
      }
    }
    ctx.globalAlpha = 1;
  }

  /**
   * The same squares written straight into an ImageData (many points: no per-call overhead),
   * in one pass over the rows that keeps each pixel's highest draw rank (points.ts): the pixels
   * drawOrder's buckets would give, without sorting the rows on every selection change.
   */
  private rasterize(ctx: CanvasRenderingContext2D, palette: readonly string[]): void {
    const W = this.canvas.width;
    const H = this.canvas.height;
    if (!this.imageData || this.imageData.width !== W || this.imageData.height !== H) {
      this.imageData = ctx.createImageData(W, H);
    }
    const buf = new Uint32Array(this.imageData.data.buffer);
    const nColors = Math.max(1, Math.min(256, palette.length));
    const packed = this.packPalette(ctx, palette, nColors);
    const t = this.deviceTransform();
    const s = this.pointDeviceSize();
    // The rows' pixels change with the data, the zoom, the canvas and the point size only.
    const key = `${t.join()}|${s}|${W}x${H}`;
    if (!this.pixels || this.pixels.key !== key || this.pixels.pix.length !== this.n) {
      this.pixels = { key, pix: pointPixels(this.x, this.y, t, s, W, H, this.pixels?.pix), serial: ++pixelSerial };
    }
    const bucketColors = new Uint32Array(1 + 2 * nColors);
    bucketColors[0] = packed.faint;
    for (let c = 0; c < nColors; c++) {
      bucketColors[1 + c] = bucketColors[1 + nColors + c] = packed.solid[c];
    }
    const rows = {
      valid: this.valid,
      visible: this.visible,
      selected: this.selected,
      color: this.colors?.index ?? null,
      nColors,
      keepHidden: this.options.hidden === 'faint',
      bucketColors
    };
    if (W * H * (2 + 2 * nColors) <= RANKED_COUNTS_MAX) {
      // Kept by differences: a move redraws the pixels of the rows whose rank changed.
      this.ranked.update(buf, `${this.pixels.serial}|${bucketColors.join()}`, W, H, this.pixels.pix, this.x, this.y, t, s, rows);
    } else {
      // Too many colors for per-pixel counts on this canvas: drawn afresh.
      this.ranked = new RankedPoints();
      if (!this.rank || this.rank.length !== W * H) {
        this.rank = new Uint16Array(W * H);
      }
      buf.fill(0);
      this.rank.fill(0);
      rasterizeRanked(buf, this.rank, W, H, this.pixels.pix, this.x, this.y, t, s, rows);
    }
    ctx.putImageData(this.imageData, 0, 0);
  }

  /**
   * Palette colors as little-endian RGBA words for the ImageData path, cached per palette (a
   * new palette array comes only with a new coloring, not with every selection change).
   */
  private packPalette(
    ctx: CanvasRenderingContext2D,
    palette: readonly string[],
    nColors: number
  ): { solid: Uint32Array; faint: number } {
    const cached = this.packed;
    if (cached && cached.palette === palette && cached.solid.length === nColors) {
      return cached;
    }
    const pack = (css: string, alpha: number): number => {
      ctx.fillStyle = '#000';
      ctx.fillStyle = css; // the canvas normalises any CSS color to #rrggbb or rgba()
      const [r, g, b, a] = parseCssColor(String(ctx.fillStyle)) ?? [0, 0, 0, 255];
      return ((Math.round(a * alpha) << 24) | (b << 16) | (g << 8) | r) >>> 0;
    };
    const solid = new Uint32Array(nColors);
    for (let c = 0; c < nColors; c++) {
      solid[c] = pack(palette[c] ?? palette[0], 1);
    }
    this.packed = { palette, solid, faint: pack(palette[0], FAINT_ALPHA) };
    return this.packed;
  }

  private renderNote(missing: number): void {
    if (missing > 0) {
      this.note.textContent = `${missing.toLocaleString('en-US')} not shown (missing)`;
      this.note.style.display = '';
    } else {
      this.note.textContent = '';
      this.note.style.display = 'none';
    }
  }

  private renderAxes(): void {
    const v = this.view;
    const w = v.width;
    const h = v.height;
    // Unchanged (a selection change redraws the points only): the ticks' text stays, and the
    // browser lays nothing out again.
    const key = [v.x0, v.x1, v.y0, v.y1, w, h, this.labels.x, this.labels.y].join('\u0000');
    if (key === this.axesKey) {
      return;
    }
    this.axesKey = key;
    this.clipRect.attr('width', w).attr('height', h);
    const sx = scaleLinear().domain([v.x0, v.x1]).range([0, w]);
    const sy = scaleLinear().domain([v.y0, v.y1]).range([h, 0]);
    this.xAxis
      .attr('transform', `translate(${MARGIN.left},${MARGIN.top + h})`)
      .call(axisBottom(sx).ticks(Math.max(2, Math.floor(w / 80))).tickSizeOuter(0));
    this.yAxis
      .attr('transform', `translate(${MARGIN.left},${MARGIN.top})`)
      .call(axisLeft(sy).ticks(Math.max(2, Math.floor(h / 40))).tickSizeOuter(0));
    // A title longer than its side (d_feature's formula in the sidebar) is cut to fit; the
    // whole title is its tooltip.
    this.xLabel
      .attr('x', MARGIN.left + w / 2)
      .attr('y', MARGIN.top + h + MARGIN.bottom - 6)
      .text(fitLabel(this.labels.x, w + 2 * MARGIN.right - 4)) // centred on the plot
      .append('title')
      .text(this.labels.x);
    this.yLabel
      .attr('transform', `translate(14,${MARGIN.top + h / 2}) rotate(-90)`)
      .text(fitLabel(this.labels.y, h + MARGIN.top + MARGIN.bottom - 8))
      .append('title')
      .text(this.labels.y);
  }

  private renderShapes(): void {
    const v = this.view;
    if (this.shapesDrawn.shapes === this.shapes && this.shapesDrawn.view === v) {
      return; // the same shapes over the same view (a selection change): nothing moves
    }
    this.shapesDrawn = { shapes: this.shapes, view: v };
    this.shapesG
      .selectAll<SVGPathElement, IShape>('path')
      .data(this.shapes)
      .join('path')
      .attr('class', 'jp-dsi-Scatter-shape')
      .attr('data-kind', s => s.kind)
      .attr('data-op', s => s.op)
      .attr('d', s => polygonPath(v, s.polygon));
  }

  /** The proposal's circles, placed again only when the view (zoom, pan, size) or the marks changed. */
  private renderProposals(): void {
    const v = this.view;
    const key = [v.x0, v.x1, v.y0, v.y1, v.width, v.height].join();
    if (key === this.marksKey) {
      return;
    }
    this.marksKey = key;
    this.hoveredMark = -1;
    const r = (this.options.pointSize ?? defaultPointSize(this.n)) / 2 + 2;
    // Every halo under every circle: a circle is never cut by a neighbour's halo.
    for (const [g, cls] of [
      [this.proposalHalosG, 'jp-dsi-Scatter-proposalHalo'],
      [this.proposalsG, 'jp-dsi-Scatter-proposal']
    ] as const) {
      g.selectAll<SVGCircleElement, IScatterMark>('circle')
        .data(this.marks)
        .join('circle')
        .attr('class', cls)
        .attr('data-point', m => m.id)
        .attr('fill', 'none')
        .attr('r', r)
        .attr('cx', m => dataToPixel(v, m.x, m.y)[0])
        .attr('cy', m => dataToPixel(v, m.x, m.y)[1]);
    }
    const legend = this.proposalLegend;
    if (this.marks.length) {
      const swatch = legend.ownerDocument.createElement('span');
      swatch.className = 'jp-dsi-Scatter-proposalSwatch';
      legend.replaceChildren(swatch, legend.ownerDocument.createTextNode(this.marksLabel)); // text: user data
      legend.style.display = '';
    } else {
      legend.replaceChildren();
      legend.style.display = 'none';
    }
  }

  private renderDraft(): void {
    const d = this.drag;
    if (!d || d.kind === 'pan' || !d.moved) {
      this.draft.style('display', 'none');
      return;
    }
    let pts: readonly Point[] = d.path;
    if (d.kind === 'box' && d.path.length === 2) {
      const [[ax, ay], [bx, by]] = d.path;
      pts = boxPolygon(ax, ay, bx, by);
    }
    const path = pts.length ? `M${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}Z` : '';
    this.draft.style('display', null).attr('data-kind', d.kind).attr('d', path);
  }

  private renderHover(): void {
    const r = this.hovered;
    if (r < 0 || r >= this.n) {
      this.hoverMark.style('display', 'none');
      if (this.hoveredMark < 0) {
        this.tooltip.style.display = 'none'; // a proposal's tooltip stays while its circle is hovered
      }
      return;
    }
    const [px, py] = dataToPixel(this.view, this.x[r], this.y[r]);
    this.hoverMark
      .style('display', null)
      .attr('cx', px)
      .attr('cy', py)
      .attr('r', (this.options.pointSize ?? defaultPointSize(this.n)) / 2 + 3);
    const fmt = format('.5~g');
    // textContent only: ids and labels are user data.
    const more = this.options.describe?.(r) ?? [];
    this.placeTooltip([`${this.ids[r]}`, `${this.labels.x}: ${fmt(this.x[r])}`, `${this.labels.y}: ${fmt(this.y[r])}`, ...more].join('\n'), px, py);
  }

  /** The tooltip with `text` (textContent: user data), beside the plot pixel (px, py). */
  private placeTooltip(text: string, px: number, py: number): void {
    this.tooltip.textContent = text;
    this.tooltip.style.display = '';
    const tw = this.tooltip.offsetWidth || 120;
    const th = this.tooltip.offsetHeight || 48;
    let left = MARGIN.left + px + 12;
    let top = MARGIN.top + py + 12;
    if (left + tw > this.plot.clientWidth) left = MARGIN.left + px - 12 - tw;
    if (top + th > this.plot.clientHeight) top = MARGIN.top + py - 12 - th;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${Math.max(0, top)}px`;
  }
}

/**
 * The view's stylesheet, scoped by class. DOM colors use the theme variables directly with
 * light fallbacks, so a theme switch recolors axes, outlines and toolbar without a redraw.
 */
const STYLE = `
.jp-dsi-Scatter { position: relative; display: flex; flex-direction: column; width: 100%; height: 100%;
  min-height: 160px; box-sizing: border-box; outline: none;
  background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color1, rgba(0,0,0,.87));
  font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: var(--jp-ui-font-size1, 13px); }
.jp-dsi-Scatter:focus-visible { box-shadow: inset 0 0 0 1px var(--jp-brand-color1, #1976d2); }
.jp-dsi-Scatter-toolbar { display: flex; gap: 4px; padding: 4px 6px; flex: 0 0 auto; }
.jp-dsi-Scatter-button { font: inherit; font-size: var(--jp-ui-font-size0, 11px); line-height: 16px;
  padding: 1px 8px; border-radius: 2px; cursor: pointer;
  border: 1px solid var(--jp-border-color1, #bdbdbd);
  background: var(--jp-layout-color1, #fff); color: var(--jp-ui-font-color1, rgba(0,0,0,.87)); }
.jp-dsi-Scatter-button:hover { border-color: var(--jp-brand-color1, #1976d2); }
.jp-dsi-Scatter-button[aria-pressed='true'] { background: var(--jp-brand-color1, #1976d2);
  border-color: var(--jp-brand-color1, #1976d2); color: var(--jp-ui-inverse-font-color1, #fff); }
.jp-dsi-Scatter-button:focus-visible { outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: 1px; }
.jp-dsi-Scatter-plot { position: relative; flex: 1 1 auto; min-height: 0; overflow: hidden; }
.jp-dsi-Scatter-canvas { position: absolute; pointer-events: none; }
.jp-dsi-Scatter-svg { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
  touch-action: none; user-select: none; cursor: crosshair; }
.jp-dsi-Scatter-svg[data-tool='pan'], .jp-dsi-Scatter-svg[data-space] { cursor: grab; }
.jp-dsi-Scatter-svg[data-dragging='pan'] { cursor: grabbing; }
.jp-dsi-Scatter-axis { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.jp-dsi-Scatter-axis .domain { color: var(--jp-border-color1, #bdbdbd); }
.jp-dsi-Scatter-axis text { font-family: inherit; font-size: max(10px, var(--jp-ui-font-size0, 11px));
  fill: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.jp-dsi-Scatter-label { fill: var(--jp-ui-font-color1, rgba(0,0,0,.87)); font-size: var(--jp-ui-font-size1, 13px); }
.jp-dsi-Scatter-shape { fill: var(--jp-brand-color1, #1976d2); fill-opacity: 0.06;
  stroke: var(--jp-brand-color1, #1976d2); stroke-width: 1.5px; }
.jp-dsi-Scatter-shape[data-kind='box'] { stroke-dasharray: 6 3; }
.jp-dsi-Scatter-shape[data-op='subtract'] { fill: none; stroke: var(--jp-error-color1, #d32f2f); }
.jp-dsi-Scatter-draft { fill: none; stroke: var(--jp-ui-font-color1, rgba(0,0,0,.87)); stroke-width: 1px;
  stroke-dasharray: 3 3; }
.jp-dsi-Scatter-hover { fill: none; stroke: var(--jp-ui-font-color0, #000); stroke-width: 1.5px; }
.jp-dsi-Scatter-proposal { stroke: var(${PROPOSAL_COLOR_VAR}, ${PROPOSAL_COLOR_FALLBACK}); stroke-width: ${PROPOSAL_WIDTH}px; }
.jp-dsi-Scatter-proposal.jp-mod-hover { stroke-width: ${PROPOSAL_HOVER_WIDTH}px; }
.jp-dsi-Scatter-proposalHalo { stroke: var(${PROPOSAL_HALO_VAR}, ${PROPOSAL_HALO_FALLBACK}); stroke-width: ${PROPOSAL_WIDTH + PROPOSAL_HALO}px; }
.jp-dsi-Scatter-proposalHalo.jp-mod-hover { stroke-width: ${PROPOSAL_HOVER_WIDTH + PROPOSAL_HALO}px; }
.jp-dsi-Scatter-proposalLegend { position: absolute; right: 18px; bottom: ${MARGIN.bottom + 4}px; pointer-events: none;
  padding: 0 3px; font-size: var(--jp-ui-font-size0, 11px); color: var(--jp-ui-font-color1, rgba(0,0,0,.87));
  background: var(--jp-layout-color0, #fff); }
.jp-dsi-Scatter-proposalSwatch { display: inline-block; width: 8px; height: 8px; margin-right: 4px; border-radius: 50%;
  vertical-align: middle; border: 1.5px solid var(${PROPOSAL_COLOR_VAR}, ${PROPOSAL_COLOR_FALLBACK}); }
.jp-dsi-Scatter-tooltip { position: absolute; pointer-events: none; white-space: pre; z-index: 1;
  padding: 3px 6px; border-radius: 2px; font-size: var(--jp-ui-font-size0, 11px);
  background: var(--jp-layout-color1, #fff); color: var(--jp-ui-font-color1, rgba(0,0,0,.87));
  border: 1px solid var(--jp-border-color1, #bdbdbd); box-shadow: 0 1px 3px rgba(0,0,0,.25); }
.jp-dsi-Scatter-note { position: absolute; top: 12px; right: 18px; pointer-events: none;
  font-size: var(--jp-ui-font-size0, 11px); color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
`;

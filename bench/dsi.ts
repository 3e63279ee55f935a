/**
 * jupyterlab-dsi as the panel runs it: the ExplorerModel (brush mask, scatter shapes, filter
 * string, row colors) and the ExplorerView (controls, ParallelCoordinates, Scatter, filter bar),
 * the same classes src/panel/explorer.ts mounts, on the synthetic table served by an in-page
 * source (brush suite) or by the real sql.js worker on a real database (time-step suite).
 *
 * A brush move is a drag of the parallel coordinates' own brush rectangle with pointer events:
 * the view's pointer handler moves the brush and calls onBrush, the model recomputes the
 * selection, the view redraws both views in its next animation frame (and the scatter, which
 * draws in a frame of its own, in the frame after: see frames.ts, which waits for it).
 *
 * The methods of the model and views are wrapped to time each part of a move (`parts`).
 */
import { createDatabaseClient, IDatabaseClient } from '../src/db/client';
import type { IMethod } from '../src/db/api';
import type { IBaseTable, IMethodInfo, ISlice } from '../src/db/slices';
import { ExplorerModel, ISliceSource } from '../src/model/explorer';
import { ExplorerView, IExplorerViewOptions } from '../src/panel/explorerView';
import { axisScale, INumericScale } from '../src/views/axes';
import { ParallelCoordinates, verticalLayout } from '../src/views/parcoords';
import * as layers from '../src/views/parcoords-layers';
import { dataToPixel, IView } from '../src/views/geometry';
import { Scatter } from '../src/views/scatter';
import type { Column, ITable } from '../src/views/types';
import baseCss from '../style/base.css';

import { BRUSH_AXIS, BRUSH_WIDTH, brushCenter, extentOf } from './data';
import { mouse, VerticalBrushDrag } from './drag';
import {
  CONTEXT_COLOR,
  IBrushResult,
  ILibrary,
  MISSING_COLOR,
  PARCOORDS_HEIGHT,
  PARCOORDS_WIDTH,
  SCATTER_HEIGHT,
  SCATTER_WIDTH
} from './library';

/** The benchmark has no server: nothing is saved from its views, no method job is started. */
const NO_SERVER: IExplorerViewOptions = {
  path: () => null,
  onSaved: () => undefined,
  onJob: () => undefined,
  onMethodCreated: async () => undefined
};

/** Options run.js may pass through the page's URL (diagnostics only). */
function benchOptions(): { densityThreshold?: number } {
  const value = new URLSearchParams(location.search).get('densityThreshold');
  return value === null ? {} : { densityThreshold: Number(value) };
}

// ---------------------------------------------------------------------------------------------
// Timing of the parts

let parts: Record<string, number> = {};

/**
 * The labels being timed, outermost first. A part that runs inside another top-level part
 * (the scatter's flush inside the view's frame, the model inside the scatter's lasso frame) is
 * filed under it ('view.scatter'), so that top-level parts never overlap and
 * `total - sync - top-level parts` is the browser's time.
 */
const active: string[] = [];

/** The label a call is filed under: nested under the outermost running part of another name. */
function nested(label: string): string {
  const outer = active[0];
  if (outer === undefined || label.split('.')[0] === outer.split('.')[0]) {
    return label;
  }
  return `${outer.split('.')[0]}.${label}`;
}

/** Wrap `proto[method]` to add its duration to parts[label]; skipped if the method is gone. */
function instrument(proto: object, method: string, label: string): void {
  const target = proto as Record<string, unknown>;
  const original = target[method];
  if (typeof original !== 'function') {
    console.warn(`bench: ${method} not found, its time is not broken down`);
    return;
  }
  if (Object.prototype.hasOwnProperty.call(original, '__benchLabel')) {
    return; // already wrapped (a class exported twice)
  }
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const name = nested(label);
    active.push(name);
    const t0 = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      active.pop();
      parts[name] = (parts[name] ?? 0) + performance.now() - t0;
    }
  };
  Object.defineProperty(wrapped, '__benchLabel', { value: label });
  target[method] = wrapped;
}

// Labels nest with dots: 'model.update' is a part of 'model', and so on. Private methods are
// wrapped by name (skipped with a warning if renamed): they split the model's time.
instrument(ExplorerModel.prototype, 'setBrush', 'model');
instrument(ExplorerModel.prototype, 'setShapes', 'model');
instrument(ExplorerModel.prototype, 'setFeature', 'model');
instrument(ExplorerModel.prototype, '_roundBrush', 'model.round');
instrument(ExplorerModel.prototype, '_rebuildTable', 'model.table');
instrument(ExplorerModel.prototype, '_update', 'model.update');
instrument(ExplorerModel.prototype, '_recolor', 'model.update.colors');
// The view's frame: everything it redraws.
instrument(ExplorerView.prototype, '_render', 'view');
instrument(ParallelCoordinates.prototype, 'setData', 'view.parcoords.setData');
instrument(ParallelCoordinates.prototype, 'setSelection', 'view.parcoords.setSelection');
// The canvas layers' renderers (whatever parcoords-layers.ts exports with a draw method).
for (const [name, value] of Object.entries(layers)) {
  const proto = (value as { prototype?: { draw?: unknown } }).prototype;
  if (typeof value === 'function' && proto && typeof proto.draw === 'function') {
    instrument(proto, 'draw', `view.parcoords.${name}`);
  }
}
instrument(Scatter.prototype, 'setData', 'view.scatter.setData');
// The scatter draws in an animation frame of its own, through flush().
instrument(Scatter.prototype, 'flush', 'scatter');
instrument(Scatter.prototype, 'renderPoints', 'scatter.points');

// ---------------------------------------------------------------------------------------------
// Page styles: JupyterLab's light theme variables the views read, the panel's stylesheet, and
// the same plot sizes as the baselines.

const STYLE = `
:root {
  --jp-ui-font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  --jp-code-font-family: monospace;
  --jp-ui-font-size0: 11px; --jp-ui-font-size1: 13px; --jp-ui-font-size2: 15px; --jp-ui-font-size3: 18px;
  --jp-code-font-size: 13px;
  --jp-ui-font-color0: rgba(0,0,0,1); --jp-ui-font-color1: rgba(0,0,0,0.87);
  --jp-ui-font-color2: rgba(0,0,0,0.54); --jp-ui-font-color3: rgba(0,0,0,0.38);
  --jp-ui-inverse-font-color1: rgba(255,255,255,1);
  --jp-layout-color0: white; --jp-layout-color1: white; --jp-layout-color2: #eeeeee; --jp-layout-color3: #bdbdbd;
  --jp-border-width: 1px; --jp-border-radius: 2px;
  --jp-border-color1: #bdbdbd; --jp-border-color2: #e0e0e0; --jp-border-color3: #eeeeee;
  --jp-brand-color0: #0d47a1; --jp-brand-color1: #1976d2; --jp-brand-color3: #bbdefb;
  --jp-error-color1: #d32f2f;
  --jp-input-background: white; --jp-input-border-color: #bdbdbd;
}
.bench-dsi { width: ${PARCOORDS_WIDTH}px; }
.bench-dsi .jp-DSI-parcoords { width: ${PARCOORDS_WIDTH}px; height: ${PARCOORDS_HEIGHT}px; }
.bench-dsi .jp-DSI-scatter { width: ${SCATTER_WIDTH}px; height: ${SCATTER_HEIGHT}px; }
`;

function mount(host: HTMLElement): HTMLElement {
  const style = document.createElement('style');
  style.textContent = baseCss + STYLE;
  document.head.appendChild(style);
  const box = document.createElement('div');
  box.className = 'bench-dsi jp-DSI-Explorer';
  host.appendChild(box);
  return box;
}

const THEME = () => ({ context: CONTEXT_COLOR, missing: MISSING_COLOR });

const METHOD: IMethod = {
  id: 'bench-method',
  groundTruth: 'sim0000000',
  norm: 'L2',
  gtTime: null,
  matchTime: 'index',
  geometry: null,
  field: 'density',
  description: 'synthetic',
  createdAt: '2025-01-01T00:00:00Z'
};

/** The synthetic table as the worker would serve it: parameters once, one slice of distances. */
function tableSource(table: ITable): ISliceSource {
  const col = (name: string): Column => table.columns.find(c => c.name === name)!;
  const numeric = (name: string): Float32Array => {
    const c = col(name);
    return c.kind === 'numeric' ? c.values : new Float32Array(table.rows);
  };
  const base: IBaseTable = {
    ids: [...table.ids],
    parameters: table.columns
      .filter(c => c.kind === 'categorical')
      .map(c => ({
        name: c.name,
        kind: 'categorical' as const,
        levels: c.kind === 'categorical' ? [...c.levels] : null,
        unit: null,
        codes: c.kind === 'categorical' ? c.codes : undefined
      })),
    runMetrics: [],
    stepMetrics: [],
    metricSteps: 0,
    times: [0]
  };
  const slice: ISlice = {
    methodId: METHOD.id,
    t: 0,
    dShock: numeric('d_shock'),
    dEdge: numeric('d_edge'),
    dDensity: numeric('d_density'),
    metrics: []
  };
  const info: IMethodInfo = { steps: 1, distances: ['d_shock', 'd_edge', 'd_density'] };
  return {
    table: async () => base,
    slice: async () => slice,
    methodInfo: async () => info
  };
}

// ---------------------------------------------------------------------------------------------
// The brush suite

class Dsi implements ILibrary {
  readonly name = 'jupyterlab-dsi';
  readonly brushInput = 'pointer';

  prepare(table: ITable): void {
    this._source = tableSource(table);
    this._extent = extentOf(table, BRUSH_AXIS);
    this._column = table.columns.find(c => c.name === BRUSH_AXIS)!;
  }

  async setup(host: HTMLElement): Promise<Record<string, number>> {
    parts = {};
    const setupParts = parts;
    const box = mount(host);
    this._model = new ExplorerModel(this._source!, THEME);
    await this._model.load([METHOD]);
    this._view = new ExplorerView(this._model, NO_SERVER);
    const threshold = benchOptions().densityThreshold;
    if (threshold !== undefined) {
      // Diagnostic knob (BENCH_DSI_DENSITY_THRESHOLD): the panel does not set it.
      const pc = (this._view as unknown as { _parcoords: { _threshold: number } })._parcoords;
      pc._threshold = threshold;
    }
    box.appendChild(this._view.node);
    this._box = box;
    return setupParts;
  }

  brushBegin(win: [number, number]): void {
    const svg = this._box!.querySelector<SVGSVGElement>('.jp-DSI-pc-svg')!;
    const axis = (): Element => svg.querySelector(`[data-axis="${BRUSH_AXIS}"]`)!;
    // The view's own scale for the axis, from its exported layout helpers.
    const root = svg.parentElement!;
    const scale = axisScale(this._column!, verticalLayout(root.clientHeight)) as INumericScale;
    const [lo, hi] = this._extent;
    const clientY = (f: number): number =>
      svg.getBoundingClientRect().top + scale.toPixel(lo + f * (hi - lo));
    // Draw the first brush as a user does: a drag along the axis's hit area.
    const hit = axis().querySelector('[data-role="hit"]')!;
    const box = hit.getBoundingClientRect();
    const x = box.left + box.width / 2;
    mouse(hit, 'mousedown', x, clientY(win[1]));
    mouse(svg, 'mousemove', x, clientY((win[0] + win[1]) / 2));
    mouse(svg, 'mousemove', x, clientY(win[0]));
    mouse(svg, 'mouseup', x, clientY(win[0]), 0);
    // Then hold it by its middle for the moves.
    this._drag = new VerticalBrushDrag(
      () => axis().querySelector('[data-role="brush"]')!,
      clientY,
      () => svg
    );
    this._drag.begin((win[0] + win[1]) / 2);
  }

  brushMove(win: [number, number]): IBrushResult {
    parts = {};
    this._drag!.move((win[0] + win[1]) / 2);
    // `parts` fills up as the frames run: the harness reads it after they are painted.
    return { selected: this._model!.count, parts };
  }

  brushEnd(): void {
    this._drag?.end();
  }

  /** Clears the brushes (untimed): the lasso then selects among every row. */
  clearBrushes(): void {
    for (const axis of [...this._model!.brushes.keys()]) {
      this._model!.setBrush(axis, null);
    }
  }

  /**
   * Starts a lasso in the scatter as a user does (the toolbar's Lasso, a press in the plot)
   * and draws, untimed, the first LASSO_LEAD points of its path: a lasso of about a hundred
   * vertices when the timed moves start, as a hand-drawn one has.
   */
  lassoBegin(): void {
    const box = this._box!;
    box.querySelector<HTMLButtonElement>('.jp-dsi-Scatter-toolbar button[aria-pressed][title^="Lasso"]')?.click();
    this._lassoSvg = box.querySelector<SVGSVGElement>('.jp-dsi-Scatter-svg')!;
    this._lassoStep = 0;
    const [x, y] = this._lassoPoint(0);
    mouse(this._lassoSvg, 'mousedown', x, y);
    for (let i = 1; i <= LASSO_LEAD; i++) {
      this._lassoStep = i;
      const [px, py] = this._lassoPoint(i);
      mouse(this._lassoSvg, 'mousemove', px, py);
    }
  }

  /** One lasso move: the next point of the path (timed by the harness, to its pixels). */
  lassoMove(): IBrushResult {
    parts = {};
    this._lassoStep += 1;
    const [x, y] = this._lassoPoint(this._lassoStep);
    mouse(this._lassoSvg!, 'mousemove', x, y);
    return { selected: this._model!.count, parts };
  }

  lassoEnd(): void {
    const [x, y] = this._lassoPoint(this._lassoStep);
    mouse(this._lassoSvg!, 'mouseup', x, y, 0);
  }

  /**
   * Point i of the lasso's path (client px): a loop around the middle of the plot whose radius
   * wobbles (a hand is not a compass), LASSO_STEP px apart, so that each move adds a vertex.
   */
  private _lassoPoint(i: number): [number, number] {
    const plot = this._box!.querySelector('.jp-dsi-Scatter-canvas')!.getBoundingClientRect();
    // Around the points' median (the plot's middle can be empty: d_feature is heavy-tailed),
    // as a user lassos where the points are.
    const [mx, my] = this._lassoCentre ?? (this._lassoCentre = this._medianPixel(plot));
    const cx = plot.left + mx;
    const cy = plot.top + my;
    const radius = 0.2 * Math.min(plot.width, plot.height);
    const angle = (i * LASSO_STEP) / radius;
    const r = radius * (1 + 0.15 * Math.sin(5 * angle));
    return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
  }

  /** The scatter's pixel (from the plot's top left) of the median of its x and y columns. */
  private _medianPixel(plot: DOMRect): [number, number] {
    const model = this._model!;
    const [xName, yName] = model.scatterAxes;
    const median = (values: Float32Array | null): number => {
      const finite = Float32Array.from(values ?? []).filter(v => Number.isFinite(v)).sort();
      return finite.length ? finite[finite.length >> 1] : 0;
    };
    const mx = median(model.scatterValues(xName));
    const my = median(model.scatterValues(yName));
    const view = (this._view as unknown as { _scatter: { getView(): IView } })._scatter.getView();
    const [px, py] = dataToPixel(view, mx, my);
    const margin = 0.25 * Math.min(plot.width, plot.height);
    return [Math.min(plot.width - margin, Math.max(margin, px)), Math.min(plot.height - margin, Math.max(margin, py))];
  }

  /** The d_shock weight's slider of the d_feature editor (the panel's own control). */
  weightBegin(): void {
    this._slider = this._box!.querySelector<HTMLInputElement>('input[type="range"][aria-label="d_shock weight"]');
    if (!this._slider) {
      throw new Error('bench: no d_shock weight slider in the controls');
    }
    this._weightStep = 0;
  }

  /**
   * One slider move: the weight of d_shock sweeps 0.5 -> 1.5 -> 0.5 (24 moves a period, on the
   * slider's 0.05 grid), as an 'input' event on the slider: the model recomputes d_feature and
   * its mask, both views redraw.
   */
  weightMove(): IBrushResult {
    parts = {};
    this._weightStep += 1;
    const slider = this._slider!;
    slider.value = (2 * brushCenter(this._weightStep)).toFixed(2);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    return { selected: this._model!.count, parts };
  }

  notes(): string[] {
    const threshold = benchOptions().densityThreshold;
    return [
      'ExplorerModel + ExplorerView (the panel\'s classes): pointer drag of the parcoords brush',
      ...(threshold !== undefined ? [`densityThreshold forced to ${threshold}`] : [])
    ];
  }

  private _source: ISliceSource | null = null;
  private _extent: [number, number] = [0, 1];
  private _column: Column | null = null;
  private _model: ExplorerModel | null = null;
  private _view: ExplorerView | null = null;
  private _box: HTMLElement | null = null;
  private _drag: VerticalBrushDrag | null = null;
  private _lassoSvg: SVGSVGElement | null = null;
  private _lassoStep = 0;
  private _lassoCentre: [number, number] | null = null;
  private _slider: HTMLInputElement | null = null;
  private _weightStep = 0;
}

/** Lasso points drawn before the timed moves, and their spacing (CSS px). */
const LASSO_LEAD = 100;
const LASSO_STEP = 6;

/** What the jupyterlab-dsi page offers beyond the brush every library has. */
export type DsiLibrary = Dsi;

export function createDsi(): Dsi {
  return new Dsi();
}

// ---------------------------------------------------------------------------------------------
// The time-step suite: the real worker on a real database

export class TimeStepBench {
  constructor(private readonly _host: HTMLElement) {}

  /** Open the database in the worker, load the model, mount the view, put a brush. */
  async setup(url: string): Promise<Record<string, number | string>> {
    const t0 = performance.now();
    const response = await fetch(url);
    if (!response.ok) {
      throw new Error(`${url}: HTTP ${response.status}`);
    }
    const bytes = await response.arrayBuffer();
    this._client = createDatabaseClient();
    const summary = await this._client.open(bytes);
    const api = this._client.api;
    // The worker's API, with the slice requests timed (the wait for the worker).
    const source: ISliceSource = {
      table: () => api.table(),
      methodInfo: id => api.methodInfo(id),
      slice: async (id, t) => {
        const s0 = performance.now();
        const slice = await api.slice(id, t);
        parts.worker = (parts.worker ?? 0) + performance.now() - s0;
        return slice;
      }
    };
    this._model = new ExplorerModel(source, THEME);
    await this._model.load(summary.methods);
    this._view = new ExplorerView(this._model, NO_SERVER);
    mount(this._host).appendChild(this._view.node);
    // A brush on d_density, as in the brush suite: each step recomputes a real selection.
    const density = this._model.column(BRUSH_AXIS);
    if (density && density.kind === 'numeric') {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of density.values) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const c = brushCenter(0);
      this._model.setBrush(BRUSH_AXIS, {
        kind: 'numeric',
        ranges: [{ lo: lo + (c - BRUSH_WIDTH / 2) * (hi - lo), hi: lo + (c + BRUSH_WIDTH / 2) * (hi - lo) }]
      });
    }
    return {
      simulations: summary.simulations,
      steps: this._model.steps,
      t: this._model.t,
      method: this._model.method?.id ?? '',
      selected: this._model.count,
      openMs: Math.round(performance.now() - t0)
    };
  }

  /** Move the time slider to step t: ask the worker for the slice, redraw both views. */
  async step(t: number): Promise<Record<string, number>> {
    parts = {};
    await this._model!.setTime(t);
    return parts;
  }

  private _client: IDatabaseClient | null = null;
  private _model: ExplorerModel | null = null;
  private _view: ExplorerView | null = null;
}

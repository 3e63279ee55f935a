/**
 * Parallel coordinates of the ensemble (seed 000, figures 3, 5 and 7): one vertical axis per
 * column, one polyline per simulation, brushes on the axes to select.
 *
 * A plain module (DESIGN.md rule 6): it takes a container element and typed-array columns and
 * imports nothing from JupyterLab. Lines are drawn on two canvases, axes, labels and brushes in
 * an SVG on top:
 *
 *  - the context canvas holds every row in the context color; it depends on the data, the axes
 *    and the size only, so a brush move never redraws it;
 *  - the selection canvas holds the selected rows in their colors: the only thing redrawn per
 *    brush move (`setSelection`), from per-row pixels computed once per data or size.
 *
 * Up to `densityThreshold` rows both draw lines; above it they draw line density
 * (density.ts), which keeps a brush move within a frame at a million rows.
 */
import {
  AxisScale,
  Interval,
  IVerticalLayout,
  axisScale,
  brushToIntervals,
  clamp,
  intervalsToBrush,
  nearestPolyline,
  normalizeIntervals,
  rowPixels
} from './axes';
import { quantize } from './density';
import {
  ContextDensity,
  DEFAULT_DENSITY_BUDGET,
  ILayerRows,
  IPlotGeometry,
  TwoSpeedSelection,
  drawLines
} from './parcoords-layers';
import { HEADER, ITheme, axisTitle, drawAxis, drawBrushes, needsStagger, readTheme, svg } from './parcoords-svg';
import {
  IProposalOverlay,
  IVertex,
  PROPOSAL_DASH,
  PROPOSAL_HALO,
  PROPOSAL_HOVER_WIDTH,
  PROPOSAL_WIDTH,
  describePoint,
  nearestRuns,
  parameterNames,
  polylineRuns,
  runsPath
} from './proposalOverlay';
import type { AxisBrush, Column, IRowColors, ITable } from './types';

export interface IParallelCoordinatesOptions {
  /** A brush changed: live while dragging (final = false), once more when the drag ends. */
  onBrush?: (axis: string, brush: AxisBrush | null, final: boolean) => void;
  /** The visible axes changed (reordered by drag, inverted, hidden or restored). */
  onAxesChange?: (axes: string[], inverted: string[]) => void;
  /** The pointer is over a selected row's line (or no line: null). */
  onHover?: (row: number | null) => void;
  /** A click (no drag) on a selected row's line, off the axes: its row (opens the run's field). */
  onPick?: (row: number) => void;
  /** Above this many rows, draw line density instead of lines. */
  densityThreshold?: number;
  /** Pixels of line walk per density frame (see parcoords-layers.ts); for benchmarks. */
  densityBudget?: number;
}

/**
 * Stroked lines up to this many rows, line density above. Measured in headless Chromium
 * without a GPU (7 axes, 1000 x 400 px): stroking 1000 polylines fits a frame, 2000 take
 * 20 ms, 5000 about 45 ms and 10000 about 350 ms, per brush move; density draws 10000 rows
 * in about 8 ms per brush move and looks the same at that count.
 */
export const DEFAULT_DENSITY_THRESHOLD = 1000;

/** Room around the axes: the header above, tick labels on the left, "missing" on the right. */
const MARGIN = { top: HEADER.height, right: 48, bottom: 6, left: 56 };
/** The missing band below each axis, and the gap that sets it apart. */
const MISSING = { gap: 10, band: 14 };
/** The height the view keeps when its container gives it none. */
const MIN_HEIGHT = 240;
/** Layout size while the container is not yet laid out (detached, or jsdom). */
const FALLBACK = { width: 640, height: 320 };
/** A pointer moving less than this between down and up is a click. */
const CLICK_SLOP = 3;
/** How far (CSS pixels) from a line the pointer still hovers it. */
const HOVER_TOLERANCE = 5;

const LOOK = {
  context: {
    lines: { maxAlpha: 0.35, minAlpha: 0, lineWidth: 1 },
    density: { maxAlpha: 0.55, minAlpha: 0.12, lineWidth: 1 }
  },
  selected: {
    lines: { maxAlpha: 0.85, minAlpha: 0, lineWidth: 1 },
    density: { maxAlpha: 0.95, minAlpha: 0.3, lineWidth: 1 }
  }
};

/** A visible axis with everything computed once per data, size or inversion. */
interface IAxis {
  /** A serial number: a new one whenever the pixels below change. */
  readonly serial: number;
  readonly name: string;
  readonly column: Column;
  readonly scale: AxisScale;
  /** Every row's y on this axis (CSS pixels) and its density bin. */
  readonly ys: Float32Array;
  readonly bins: Uint16Array;
  readonly hasMissing: boolean;
}

/** The plot as laid out for the current size and axes. */
interface IPlot extends IPlotGeometry {
  readonly axes: readonly IAxis[];
}

/** A gesture in progress. */
type Drag =
  | {
      kind: 'brush';
      mode: 'create' | 'move' | 'resize';
      axis: string;
      /** The axis' intervals being edited, and which one the pointer holds. */
      intervals: Interval[];
      index: number;
      /** create: where the drag began; move: pointer offset in the brush; resize: the edge. */
      anchor: number;
      moved: boolean;
    }
  | { kind: 'reorder'; axis: string; grab: number; start: number; moved: boolean };

/** The selection as drawn: the mask and its colors. */
interface ISelection {
  readonly mask: Uint8Array;
  readonly colors: IRowColors;
}

export class ParallelCoordinates {
  constructor(container: HTMLElement, options: IParallelCoordinatesOptions = {}) {
    this._options = options;
    this._threshold = options.densityThreshold ?? DEFAULT_DENSITY_THRESHOLD;
    this._contextDensity = new ContextDensity(options.densityBudget ?? DEFAULT_DENSITY_BUDGET);
    this._root = this._buildRoot();
    container.appendChild(this._root);
    this._contextCtx = context2d(this._contextCanvas);
    this._selectedCtx = context2d(this._selectedCanvas);
    this._theme = readTheme(this._root);
    this._listen();
  }

  /**
   * Shows a table: `axes` are the visible columns in order (unknown names are skipped),
   * `inverted` those drawn upside down. Redraws everything.
   */
  setData(table: ITable, axes: readonly string[], inverted: readonly string[] = []): void {
    if (table.rows !== this._table?.rows) {
      this._everyRow = null;
    }
    // Axes of columns this table no longer has go (their pixels are megabytes at 1M rows).
    for (const name of this._axisCache.keys()) {
      if (!table.columns.some(c => c === this._axisCache.get(name)?.axis.column)) {
        this._axisCache.delete(name);
      }
    }
    this._table = table;
    const known = new Set(table.columns.map(c => c.name));
    this._axes = [...new Set(axes)].filter(name => known.has(name));
    this._inverted = new Set(inverted.filter(name => known.has(name)));
    this._redraw();
  }

  /** Sets every brush (restoring saved settings); no onBrush callback. */
  setBrushes(brushes: ReadonlyMap<string, AxisBrush>): void {
    this._brushes = new Map(brushes);
    this._updateIntervals();
    this._plot?.axes.forEach(axis => this._drawAxisBrushes(axis.name));
  }

  /**
   * The hot path after every brush move: redraws the selected rows only. `selected` is 1 for
   * the rows to draw in `colors.palette[colors.index[row]]`; the others stay as context.
   */
  setSelection(selected: Uint8Array, colors: IRowColors): void {
    this._selection = { mask: selected, colors };
    if (this._contextColor() !== this._contextDrawnWith) {
      this._drawContext();
    }
    this._drawSelected();
  }

  /**
   * Marks a row's line, as the pointer does, without a tooltip or an onHover call: the row the
   * pointer is over in another view (linked hover). null clears it.
   */
  highlight(row: number | null): void {
    const plot = this._plot;
    if (row === null || !plot || !this._table || row >= this._table.rows) {
      this._hoverPath.removeAttribute('d');
      return;
    }
    this._hoverPath.setAttribute('d', plot.xs.map((ax, i) => `${i ? 'L' : 'M'}${ax},${plot.ys[i][row]}`).join(''));
    this._hoverPath.setAttribute('stroke', this._theme.text);
    this._hoverPath.setAttribute('stroke-width', '2');
  }

  /**
   * Draws a proposal's points over the lines (null: none): a dashed polyline each across the
   * parameter axes, kept through redraws (data, size, axis order, theme). The row layers are
   * not redrawn for it.
   */
  setProposals(overlay: IProposalOverlay | null): void {
    this._proposals = overlay && overlay.points.length ? overlay : null;
    this._proposalPaths = []; // made again for the new points
    this._proposalHalos = [];
    this._proposalParams = parameterNames(this._proposals?.points ?? []);
    this._hoverProposal(null);
    this._drawProposals();
  }

  /** Re-measures the container (also done by a ResizeObserver) and redraws if it changed. */
  resize(): void {
    const { width, height } = this._measure();
    const dpr = window.devicePixelRatio || 1;
    const plot = this._plot;
    if (!plot || width !== plot.width || height !== plot.height || dpr !== plot.dpr) {
      this._redraw();
    }
  }

  destroy(): void {
    this._resizeObserver?.disconnect();
    this._themeObserver?.disconnect();
    cancelFrame(this._hoverFrame);
    cancelFrame(this._selectedFrame);
    cancelFrame(this._resizeFrame);
    this._root.remove();
    this._table = null;
    this._plot = null;
  }

  // -------------------------------------------------------------------------------------------
  // DOM
  // -------------------------------------------------------------------------------------------

  /** root > [context canvas, selection canvas, svg, tooltip, hidden-axes control] */
  private _buildRoot(): HTMLDivElement {
    const root = document.createElement('div');
    root.className = 'jp-DSI-pc';
    Object.assign(root.style, {
      position: 'relative',
      width: '100%',
      height: '100%',
      minHeight: `${MIN_HEIGHT}px`,
      overflow: 'hidden',
      userSelect: 'none',
      // The page must not scroll or zoom while a brush is dragged on a touch screen.
      touchAction: 'none'
    });
    for (const canvas of [this._contextCanvas, this._selectedCanvas]) {
      Object.assign(canvas.style, { position: 'absolute', left: '0', top: '0' });
      root.appendChild(canvas);
    }
    this._contextCanvas.className = 'jp-DSI-pc-context';
    this._selectedCanvas.className = 'jp-DSI-pc-selected';
    this._svg.setAttribute('class', 'jp-DSI-pc-svg');
    Object.assign(this._svg.style, { position: 'absolute', left: '0', top: '0' });
    // Proposals above the canvases, under the axes: brushes stay grabbable through them.
    this._proposalGroup.setAttribute('pointer-events', 'none');
    this._svg.append(this._proposalGroup, this._axesGroup, this._hoverPath);
    this._hoverPath.setAttribute('fill', 'none');
    this._hoverPath.setAttribute('pointer-events', 'none');
    root.appendChild(this._svg);
    Object.assign(this._tooltip.style, {
      position: 'absolute',
      pointerEvents: 'none',
      whiteSpace: 'pre',
      fontSize: '11px',
      lineHeight: '1.4',
      padding: '4px 6px',
      borderRadius: '3px',
      display: 'none',
      zIndex: '2'
    });
    this._tooltip.className = 'jp-DSI-pc-tooltip';
    this._tooltip.setAttribute('role', 'tooltip');
    root.appendChild(this._tooltip);
    root.appendChild(this._buildHiddenControl());
    this._proposalLegend.className = 'jp-DSI-pc-proposalLegend';
    Object.assign(this._proposalLegend.style, {
      position: 'absolute',
      right: '4px',
      bottom: '2px',
      fontSize: '10px',
      pointerEvents: 'none',
      display: 'none',
      zIndex: '1'
    });
    root.appendChild(this._proposalLegend);
    return root;
  }

  /** "+ N hidden": lists the hidden axes; clicking one shows it again (at the right end). */
  private _buildHiddenControl(): HTMLDivElement {
    const box = document.createElement('div');
    box.className = 'jp-DSI-pc-hidden';
    Object.assign(box.style, { position: 'absolute', left: '2px', bottom: '2px', zIndex: '3' });
    this._hiddenButton.type = 'button';
    this._hiddenButton.title = 'Show a hidden axis';
    Object.assign(this._hiddenButton.style, {
      font: 'inherit',
      fontSize: '10px',
      padding: '0 5px',
      borderRadius: '3px',
      cursor: 'pointer',
      background: 'transparent'
    });
    this._hiddenButton.addEventListener('click', () => {
      this._hiddenMenu.style.display = this._hiddenMenu.style.display === 'none' ? 'flex' : 'none';
    });
    Object.assign(this._hiddenMenu.style, {
      display: 'none',
      position: 'absolute',
      left: '0',
      bottom: '20px',
      flexDirection: 'column',
      maxHeight: '200px',
      overflowY: 'auto',
      padding: '2px',
      borderRadius: '3px',
      fontSize: '11px'
    });
    this._hiddenMenu.setAttribute('role', 'menu');
    box.append(this._hiddenMenu, this._hiddenButton);
    return box;
  }

  private _listen(): void {
    this._svg.addEventListener('pointerdown', this._onPointerDown);
    this._svg.addEventListener('pointermove', this._onPointerMove);
    this._svg.addEventListener('pointerup', this._onPointerUp);
    this._svg.addEventListener('pointercancel', this._onPointerUp);
    this._svg.addEventListener('pointerleave', this._onPointerLeave);
    this._svg.addEventListener('click', this._onClick);
    this._svg.addEventListener('keydown', this._onKeyDown);
    if (typeof ResizeObserver !== 'undefined') {
      this._resizeObserver = new ResizeObserver(() => {
        cancelFrame(this._resizeFrame);
        this._resizeFrame = requestFrame(() => this.resize());
      });
      this._resizeObserver.observe(this._root);
    }
    // JupyterLab switches themes by swapping CSS variables, announced on <body>'s attributes.
    if (typeof MutationObserver !== 'undefined') {
      this._themeObserver = new MutationObserver(() => this._redraw());
      this._themeObserver.observe(document.body, {
        attributes: true,
        attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Layout
  // -------------------------------------------------------------------------------------------

  /** The CSS size of the view; a fallback while the container is not laid out. */
  private _measure(): { width: number; height: number } {
    const width = this._root.clientWidth || FALLBACK.width;
    const height = this._root.clientHeight || FALLBACK.height;
    return { width, height };
  }

  /** Lays the plot out for the current size, data and axes; reuses unchanged axes' pixels. */
  private _layout(): IPlot | null {
    const table = this._table;
    if (!table) {
      return null;
    }
    const { width, height } = this._measure();
    const dpr = window.devicePixelRatio || 1;
    const xs = axisXs(this._axes.length, width);
    const stagger = this._stagger(table, xs);
    const layout = verticalLayout(height, HEADER.height + (stagger ? HEADER.row : 0));
    // One density bin per CSS pixel of the axis (density is drawn at CSS resolution).
    const baseBins = clamp(Math.round(layout.missingBottom - layout.top), 16, 512);
    const axes = this._axes.map(name => this._axis(table, name, layout, baseBins));
    return {
      width,
      height,
      dpr,
      layout,
      xs,
      axes,
      ys: axes.map(a => a.ys),
      bins: axes.map(a => a.bins),
      baseBins,
      ids: axes.map(a => a.serial)
    };
  }

  /** Whether the axes at `xs` are too close for their titles on one row. */
  private _stagger(table: ITable, xs: readonly number[]): boolean {
    if (xs.length < 2) {
      return false;
    }
    const titles = this._axes.map(name => axisTitle(name, table.columns.find(c => c.name === name)?.unit));
    return needsStagger(titles, xs[1] - xs[0]);
  }

  /**
   * An axis' scale, pixels and bins, cached by column, layout and inversion: a reorder reuses
   * every axis, and a new table reuses the columns it shares with the last (a time step
   * brings new distances but the same parameters).
   */
  private _axis(table: ITable, name: string, layout: IVerticalLayout, baseBins: number): IAxis {
    const column = table.columns.find(c => c.name === name)!;
    const inverted = this._inverted.has(name);
    const { top, bottom, missingTop, missingBottom } = layout;
    const key = [top, bottom, missingTop, missingBottom, baseBins, inverted].join();
    const cached = this._axisCache.get(name);
    if (cached && cached.key === key && cached.axis.column === column) {
      return cached.axis;
    }
    const scale = axisScale(column, layout, inverted);
    const ys = rowPixels(column, scale);
    const bins = quantize(ys, layout.top, layout.missingBottom, baseBins);
    const serial = ++axisSerial;
    const axis = { serial, name, column, scale, ys, bins, hasMissing: hasMissing(column) };
    this._axisCache.set(name, { key, axis });
    return axis;
  }

  /** The pixel intervals of every visible axis, from the brushes in data units. */
  private _updateIntervals(): void {
    this._intervals.clear();
    for (const axis of this._plot?.axes ?? []) {
      const brush = this._brushes.get(axis.name);
      if (brush) {
        this._intervals.set(axis.name, brushToIntervals(axis.scale, brush));
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Drawing
  // -------------------------------------------------------------------------------------------

  /** Everything: layout, SVG, the context layer now, the selection layer by the next frame. */
  private _redraw(): void {
    this._theme = readTheme(this._root);
    this._plot = this._layout();
    this._sizeSurfaces();
    this._updateIntervals();
    this._drawAxes();
    this._drawProposals();
    this._drawHiddenControl();
    this._hover(null);
    this._drawContext();
    // A new slice is usually followed by its selection within the same task: draw the
    // selection layer once, with it, rather than now and again then.
    this._selectedDirty = true;
    cancelFrame(this._selectedFrame);
    this._selectedFrame = requestFrame(() => this._selectedDirty && this._drawSelected());
  }

  private _sizeSurfaces(): void {
    const plot = this._plot;
    const { width, height, dpr } = plot ?? { ...FALLBACK, dpr: 1 };
    // Only what changed: setting a canvas' size, even to the same, drops its pixels and backing
    // store, and any attribute set makes the browser restyle (a weight drag redraws per move).
    for (const canvas of [this._contextCanvas, this._selectedCanvas]) {
      const w = Math.round(width * dpr);
      const h = Math.round(height * dpr);
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    setIfChanged(this._svg, 'width', String(width));
    setIfChanged(this._svg, 'height', String(height));
    setIfChanged(this._svg, 'font-family', this._theme.font);
    this._root.style.fontFamily = this._theme.font;
    Object.assign(this._tooltip.style, {
      background: this._theme.surface,
      color: this._theme.text,
      border: `1px solid ${this._theme.border}`
    });
  }

  /**
   * The axes' SVG. An axis whose drawing would not change (same pixels, place, spacing, title
   * row and theme) keeps its elements: a weight drag or a time step that changes one column
   * rebuilds that axis alone, and the browser restyles and lays out only it.
   */
  private _drawAxes(): void {
    const plot = this._plot;
    if (!plot) {
      this._axesGroup.replaceChildren();
      this._axisGroups.clear();
      this._axisKeys.clear();
      return;
    }
    const spacing = plot.xs.length > 1 ? plot.xs[1] - plot.xs[0] : plot.width / 2;
    const stagger = this._table ? this._stagger(this._table, plot.xs) : false;
    const theme = JSON.stringify(this._theme);
    const previous = new Map(this._axisGroups);
    const previousKeys = new Map(this._axisKeys);
    this._axisGroups.clear();
    this._axisKeys.clear();
    const groups = plot.axes.map((axis, i) => {
      const inverted = this._inverted.has(axis.name);
      const key = [axis.serial, plot.xs[i], spacing, stagger, i, inverted, theme].join('\u0000');
      const known = previous.get(axis.name);
      const g =
        known && previousKeys.get(axis.name) === key
          ? known
          : drawAxis(
              this._theme,
              {
                name: axis.name,
                unit: axis.column.unit ?? null,
                scale: axis.scale,
                inverted,
                hasMissing: axis.hasMissing,
                spacing,
                stagger,
                titleRow: i
              },
              plot.xs[i]
            );
      // A reorder drag moves groups about: a kept one goes back to its slot.
      setIfChanged(g, 'transform', `translate(${plot.xs[i]},0)`);
      this._axisGroups.set(axis.name, g);
      this._axisKeys.set(axis.name, key);
      return g;
    });
    const current = [...this._axesGroup.children];
    if (groups.length === current.length && groups.every((g, i) => g === current[i] || !g.isConnected)) {
      // The same axes in the same order: swap in the redrawn ones only.
      groups.forEach((g, i) => g !== current[i] && current[i].replaceWith(g));
    } else {
      this._axesGroup.replaceChildren(...groups);
    }
    for (const axis of plot.axes) {
      this._drawAxisBrushes(axis.name);
    }
  }

  private _drawAxisBrushes(name: string, intervals = this._intervals.get(name) ?? []): void {
    const g = this._axisGroups.get(name);
    if (g) {
      drawBrushes(this._theme, g, intervals);
    }
  }

  private _drawHiddenControl(): void {
    const names = (this._table?.columns ?? []).map(c => c.name);
    const hidden = names.filter(name => !this._axes.includes(name));
    this._hiddenButton.style.display = hidden.length > 0 ? '' : 'none';
    const label = `+ ${hidden.length} hidden`;
    if (this._hiddenButton.textContent !== label) {
      this._hiddenButton.textContent = label;
    }
    Object.assign(this._hiddenButton.style, {
      color: this._theme.muted,
      border: `1px solid ${this._theme.border}`
    });
    Object.assign(this._hiddenMenu.style, {
      background: this._theme.surface,
      border: `1px solid ${this._theme.border}`
    });
    // The same hidden axes in the same theme: the menu's buttons stay.
    const menuKey = JSON.stringify([hidden, this._theme.text]);
    if (menuKey === this._hiddenMenuKey) {
      return;
    }
    this._hiddenMenuKey = menuKey;
    this._hiddenMenu.replaceChildren(
      ...hidden.map(name => {
        const item = document.createElement('button');
        item.type = 'button';
        item.setAttribute('role', 'menuitem');
        item.textContent = name;
        Object.assign(item.style, {
          font: 'inherit',
          textAlign: 'left',
          border: 'none',
          background: 'transparent',
          color: this._theme.text,
          padding: '2px 6px',
          cursor: 'pointer'
        });
        item.addEventListener('click', () => this._showAxis(name));
        return item;
      })
    );
    if (hidden.length === 0) {
      this._hiddenMenu.style.display = 'none';
    }
  }

  /** The context color: the selection palette's entry 0, else the theme's. */
  private _contextColor(): string {
    return this._currentSelection()?.colors.palette[0] ?? this._theme.context;
  }

  /** Whether rows are drawn as density rather than lines. */
  private _dense(): boolean {
    return (this._table?.rows ?? 0) > this._threshold;
  }

  /** A mask of every row (the context layer, and the selection before one is given). */
  private _allRows(): Uint8Array {
    return this._everyRow ?? (this._everyRow = new Uint8Array(this._table?.rows ?? 0).fill(1));
  }

  /** Every row, in the context color; changes with data, axes, size and theme only. */
  private _drawContext(): void {
    const ctx = this._contextCtx;
    const plot = this._plot;
    this._contextDrawnWith = this._contextColor();
    if (!ctx || !plot) {
      return;
    }
    if (this._dense()) {
      // Also picks each pair's resolution, which the selected layer then shares.
      const look = LOOK.context.density;
      this._shifts = this._contextDensity.draw(ctx, plot, this._contextDrawnWith, look);
    } else {
      const layer = { mask: this._allRows(), index: null, palette: [this._contextDrawnWith] };
      drawLines(ctx, plot, layer, LOOK.context.lines);
    }
  }

  /** The selected rows in their colors (every row in the accent color before any selection). */
  private _drawSelected(): void {
    this._selectedDirty = false;
    // Drawn now: a frame still asked for by _redraw has nothing left to do (and would hold the
    // interaction to one more frame).
    cancelFrame(this._selectedFrame);
    this._selectedFrame = 0;
    const ctx = this._selectedCtx;
    const plot = this._plot;
    if (!ctx || !plot) {
      return;
    }
    const selection = this._currentSelection();
    const layer: ILayerRows = selection
      ? { mask: selection.mask, index: selection.colors.index, palette: selection.colors.palette }
      : { mask: this._allRows(), index: null, palette: [this._theme.accent] };
    if (this._dense()) {
      // Coarser bins while a brush is dragged; the exact ones once it is let go.
      const live = this._drag?.kind === 'brush' && this._drag.moved;
      this._selectedDensity.draw(ctx, plot, this._shifts, layer, LOOK.selected.density, live);
    } else {
      drawLines(ctx, plot, layer, LOOK.selected.lines);
    }
  }

  /** The selection, if it belongs to the current table (a stale one has another length). */
  private _currentSelection(): ISelection | null {
    const s = this._selection;
    const rows = this._table?.rows ?? -1;
    return s && s.mask.length === rows && s.colors.index.length >= rows ? s : null;
  }

  // -------------------------------------------------------------------------------------------
  // Gestures
  // -------------------------------------------------------------------------------------------

  private _pointer(event: MouseEvent): [number, number] {
    const rect = this._svg.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  private readonly _onPointerDown = (event: PointerEvent): void => {
    this._downAt = this._pointer(event); // a click on a line is a press that did not move
    this._dragged = false;
    if (event.button !== 0 || !this._plot) {
      return;
    }
    const target = event.target as Element;
    const role = target.closest('[data-role]')?.getAttribute('data-role');
    const axis = target.closest('[data-axis]')?.getAttribute('data-axis');
    if (!role || !axis || role === 'invert' || role === 'hide') {
      return; // buttons act on click
    }
    const [x, y] = this._pointer(event);
    const intervals = [...(this._intervals.get(axis) ?? [])];
    const index = Number(target.getAttribute('data-index') ?? -1);
    const brush = { kind: 'brush', axis, intervals, moved: false } as const;
    if (role === 'hit') {
      // A new range, empty until the pointer moves.
      const y0 = clamp(y, this._plot.layout.top, this._axisBottom(axis));
      intervals.push([y0, y0]);
      this._drag = { ...brush, mode: 'create', index: intervals.length - 1, anchor: y0 };
    } else if (role === 'brush' && intervals[index]) {
      this._drag = { ...brush, mode: 'move', index, anchor: y - intervals[index][0] };
    } else if (role === 'handle' && intervals[index]) {
      const edge = Number(target.getAttribute('data-edge'));
      this._drag = { ...brush, mode: 'resize', index, anchor: edge };
    } else if (role === 'title') {
      this._drag = { kind: 'reorder', axis, grab: x - this._axisX(axis), start: x, moved: false };
    } else {
      return;
    }
    this._hover(null);
    capturePointer(this._svg, event.pointerId);
    event.preventDefault();
    if (this._drag?.kind === 'brush') {
      this._prepareLiveSelection();
    }
  };

  /** A brush drag may start: the coarse selected layer catches up while the page is idle. */
  private _prepareLiveSelection(): void {
    const plot = this._plot;
    const selection = this._currentSelection();
    if (!plot || !selection || !this._dense() || !this._selectedCtx) {
      return;
    }
    const layer = { mask: selection.mask, index: selection.colors.index, palette: selection.colors.palette };
    this._selectedDensity.prepareLive(plot, this._shifts, layer);
  }

  private readonly _onPointerMove = (event: PointerEvent): void => {
    const [x, y] = this._pointer(event);
    const drag = this._drag;
    if (!drag) {
      this._scheduleHover(x, y);
      return;
    }
    // A drag back to where it began is still a drag: its click picks no line.
    this._dragged = true;
    if (drag.kind === 'brush') {
      this._dragBrush(drag, y);
    } else {
      this._dragAxis(drag, x);
    }
  };

  private readonly _onPointerUp = (event: PointerEvent): void => {
    const drag = this._drag;
    this._drag = null;
    releasePointer(this._svg, event.pointerId);
    if (drag?.kind === 'brush') {
      this._endBrush(drag);
    } else if (drag?.kind === 'reorder') {
      this._endReorder(drag);
    }
  };

  private readonly _onPointerLeave = (): void => {
    if (!this._drag) {
      this._hover(null);
      this._hoverProposal(null);
    }
  };

  private readonly _onClick = (event: MouseEvent): void => {
    const target = event.target as Element;
    const role = target.closest('[data-role]')?.getAttribute('data-role');
    const axis = target.closest('[data-axis]')?.getAttribute('data-axis');
    if (axis && role === 'invert') {
      this._invertAxis(axis);
    } else if (axis && role === 'hide') {
      this._hideAxis(axis);
    } else if (this._dragged) {
      this._dragged = false; // the click that ends a brush or axis drag
    } else if (!role && this._plot && this._options.onPick && event.type === 'click') {
      const [x, y] = this._pointer(event);
      const [x0, y0] = this._downAt ?? [x, y];
      if (Math.abs(x - x0) < CLICK_SLOP && Math.abs(y - y0) < CLICK_SLOP) {
        const mask = this._currentSelection()?.mask ?? null;
        const row = nearestPolyline(this._plot.xs, this._plot.ys, mask, x, y, HOVER_TOLERANCE);
        if (row !== null) {
          this._options.onPick(row);
        }
      }
    }
  };

  /** Enter or Space on a focused axis button (invert, hide) does what a click does. */
  private readonly _onKeyDown = (event: KeyboardEvent): void => {
    if (event.key !== 'Enter' && event.key !== ' ') {
      return;
    }
    const role = (event.target as Element).closest('[data-role]')?.getAttribute('data-role');
    if (role === 'invert' || role === 'hide') {
      event.preventDefault();
      this._onClick(event as unknown as MouseEvent);
    }
  };

  // --- brushing ------------------------------------------------------------------------------

  /** The lowest pixel a brush of this axis may reach: the missing band if it has one. */
  private _axisBottom(name: string): number {
    const axis = this._plot?.axes.find(a => a.name === name);
    const layout = this._plot!.layout;
    return axis?.hasMissing ? layout.missingBottom : layout.bottom;
  }

  private _dragBrush(drag: Extract<Drag, { kind: 'brush' }>, y: number): void {
    const top = this._plot!.layout.top;
    const bottom = this._axisBottom(drag.axis);
    const [y0, y1] = drag.intervals[drag.index];
    let next: Interval;
    if (drag.mode === 'create') {
      if (!drag.moved && Math.abs(y - drag.anchor) < CLICK_SLOP) {
        return;
      }
      const at = clamp(y, top, bottom);
      next = [Math.min(at, drag.anchor), Math.max(at, drag.anchor)];
    } else if (drag.mode === 'move') {
      const start = clamp(y - drag.anchor, top, bottom - (y1 - y0));
      next = [start, start + (y1 - y0)];
    } else {
      const at = clamp(y, top, bottom);
      // Dragging an edge past the other one flips which edge is held.
      next = drag.anchor === 0 ? [at, y1] : [y0, at];
      if (next[0] > next[1]) {
        next = [next[1], next[0]];
        drag.anchor = 1 - drag.anchor;
      }
    }
    drag.moved = true;
    drag.intervals[drag.index] = next;
    this._drawAxisBrushes(drag.axis, drag.intervals);
    this._emitBrush(drag.axis, drag.intervals, false);
  }

  private _endBrush(drag: Extract<Drag, { kind: 'brush' }>): void {
    if (drag.moved) {
      this._emitBrush(drag.axis, drag.intervals, true);
    } else if (drag.mode === 'create' && this._brushes.has(drag.axis)) {
      // A click on the axis (no drag) clears its brushes.
      this._emitBrush(drag.axis, [], true);
    } else {
      this._drawAxisBrushes(drag.axis);
    }
  }

  /**
   * Tells the owner about an axis' brush. A final one is tidied first (snapped to levels,
   * overlaps merged) and becomes the axis' state.
   */
  private _emitBrush(name: string, intervals: readonly Interval[], final: boolean): void {
    const axis = this._plot?.axes.find(a => a.name === name);
    if (!axis) {
      return;
    }
    const shown = final ? normalizeIntervals(axis.scale, intervals) : intervals;
    const brush = intervalsToBrush(axis.scale, shown);
    if (final) {
      this._intervals.set(name, [...shown]);
      if (brush) {
        this._brushes.set(name, brush);
      } else {
        this._brushes.delete(name);
      }
      this._drawAxisBrushes(name);
    }
    this._options.onBrush?.(name, brush, final);
  }

  // --- axes: reorder, invert, hide, show -----------------------------------------------------

  private _axisX(name: string): number {
    const i = this._axes.indexOf(name);
    return this._plot?.xs[i] ?? 0;
  }

  /** Moves the dragged axis with the pointer; the others slide to their new slots. */
  private _dragAxis(drag: Extract<Drag, { kind: 'reorder' }>, x: number): void {
    const plot = this._plot!;
    if (!drag.moved && Math.abs(x - drag.start) < CLICK_SLOP) {
      return;
    }
    drag.moved = true;
    // The lines stay where they were until the drop: fade them rather than redraw per move.
    this._contextCanvas.style.opacity = this._selectedCanvas.style.opacity = '0.3';
    this._proposalGroup.style.opacity = '0.3';
    // One pixel beyond the end axes at most: dropped past an end, the axis goes there (clamped
    // to the end axis' own position, it tied with it and stayed on its side).
    const at = clamp(x - drag.grab, plot.xs[0] - 1, plot.xs[plot.xs.length - 1] + 1);
    const position = (name: string, i: number): number => (name === drag.axis ? at : plot.xs[i]);
    const order = this._axes
      .map((name, i) => ({ name, x: position(name, i) }))
      .sort((a, b) => a.x - b.x)
      .map(a => a.name);
    this._axes = order;
    order.forEach((name, i) => {
      const x = name === drag.axis ? at : plot.xs[i];
      this._axisGroups.get(name)?.setAttribute('transform', `translate(${x},0)`);
    });
  }

  private _endReorder(drag: Extract<Drag, { kind: 'reorder' }>): void {
    this._contextCanvas.style.opacity = this._selectedCanvas.style.opacity = '';
    this._proposalGroup.style.opacity = '';
    if (drag.moved) {
      this._redraw();
      this._drawSelected();
      this._emitAxes();
    }
  }

  private _invertAxis(name: string): void {
    if (!this._inverted.delete(name)) {
      this._inverted.add(name);
    }
    this._redraw();
    this._drawSelected();
    this._emitAxes();
  }

  /** Hides an axis; its brush goes with it, so that what filters is always in sight. */
  private _hideAxis(name: string): void {
    this._axes = this._axes.filter(n => n !== name);
    if (this._brushes.delete(name)) {
      this._options.onBrush?.(name, null, true);
    }
    this._redraw();
    this._drawSelected();
    this._emitAxes();
  }

  private _showAxis(name: string): void {
    this._hiddenMenu.style.display = 'none';
    if (!this._axes.includes(name)) {
      this._axes = [...this._axes, name];
      this._redraw();
      this._drawSelected();
      this._emitAxes();
    }
  }

  private _emitAxes(): void {
    this._options.onAxesChange?.([...this._axes], this._axes.filter(n => this._inverted.has(n)));
  }

  // --- hover ---------------------------------------------------------------------------------

  /** Hit-tests at most once per frame, however fast the pointer moves. */
  private _scheduleHover(x: number, y: number): void {
    this._hoverAt = [x, y];
    if (!this._hoverFrame) {
      this._hoverFrame = requestFrame(() => {
        this._hoverFrame = 0;
        const plot = this._plot;
        if (!plot || this._drag) {
          return;
        }
        const [px, py] = this._hoverAt;
        // A proposal's line over the rows' lines: it is what the pointer is on.
        const proposal = nearestRuns(this._proposalLines, px, py, HOVER_TOLERANCE);
        if (proposal !== null) {
          this._hover(null);
          this._hoverProposal(proposal, px, py);
          return;
        }
        this._hoverProposal(null);
        const mask = this._currentSelection()?.mask ?? null;
        this._hover(nearestPolyline(plot.xs, plot.ys, mask, px, py, HOVER_TOLERANCE), px, py);
      });
    }
  }

  /** Highlights a row's line and shows its values (or hides both for null). */
  private _hover(row: number | null, x = 0, y = 0): void {
    const plot = this._plot;
    if (row === null || !plot || !this._table) {
      this._hoverPath.removeAttribute('d');
      this._tooltip.style.display = 'none';
    } else {
      const d = plot.xs.map((ax, i) => `${i ? 'L' : 'M'}${ax},${plot.ys[i][row]}`).join('');
      this._hoverPath.setAttribute('d', d);
      this._hoverPath.setAttribute('stroke', this._theme.text);
      this._hoverPath.setAttribute('stroke-width', '2');
      this._showTooltip(row, x, y);
    }
    if (row !== this._hovered) {
      this._hovered = row;
      this._options.onHover?.(row);
    }
  }

  /** The row's id and its value on every visible axis; text only (never parsed as HTML). */
  private _showTooltip(row: number, x: number, y: number): void {
    const table = this._table!;
    const lines = [table.ids[row] ?? `row ${row}`];
    for (const axis of this._plot?.axes ?? []) {
      lines.push(`${axis.name}: ${formatValue(axis.column, row)}`);
    }
    this._placeTooltip(lines.join('\n'), x, y);
  }

  /** Marks a proposal's line and shows its id and values (or unmarks it: null). */
  private _hoverProposal(index: number | null, x = 0, y = 0): void {
    const paths = this._proposalPaths;
    const halos = this._proposalHalos;
    if (this._hoveredProposal !== null && this._hoveredProposal !== index) {
      paths[this._hoveredProposal]?.setAttribute('stroke-width', String(PROPOSAL_WIDTH));
      halos[this._hoveredProposal]?.setAttribute('stroke-width', String(PROPOSAL_WIDTH + PROPOSAL_HALO));
      if (index === null) {
        this._tooltip.style.display = 'none';
      }
    }
    this._hoveredProposal = index;
    const point = index === null ? undefined : this._proposals?.points[index];
    if (index === null || !point) {
      return;
    }
    paths[index]?.setAttribute('stroke-width', String(PROPOSAL_HOVER_WIDTH));
    halos[index]?.setAttribute('stroke-width', String(PROPOSAL_HOVER_WIDTH + PROPOSAL_HALO));
    const plot = this._plot;
    const clampedOn = (plot?.axes ?? [])
      .filter((axis, i) => this._proposalLines[index]?.some(run => run.some(v => v.clamped && v.x === plot!.xs[i])))
      .map(axis => axis.name);
    this._placeTooltip(describePoint(point, clampedOn), x, y);
  }

  /**
   * Each proposal's dashed polyline over the parameter axes, and its clamped ends marked. Under
   * every line a halo, the same path stroked a little wider in the view's background: all halos
   * first, then all lines, so that a line is never cut by another's halo and reads over the
   * rows' lines whatever their color (orange dashes among viridis yellows, in either theme).
   */
  private _drawProposals(): void {
    this._proposalLines = [];
    this._hoveredProposal = null;
    const overlay = this._proposals;
    const plot = this._plot;
    this._proposalLegend.style.display = overlay ? '' : 'none';
    this._proposalClamped.remove();
    if (!overlay || !plot) {
      this._proposalGroup.replaceChildren();
      this._proposalPaths = [];
      this._proposalHalos = [];
      return;
    }
    // One path (and its halo) per point, made once per proposal: a redraw (a time step, a
    // resize) only moves them.
    const n = overlay.points.length;
    if (this._proposalPaths.length !== n || this._proposalHalos.length !== n || this._proposalGroup.childElementCount !== 2 * n) {
      this._proposalHalos = overlay.points.map(point =>
        svg('path', { class: 'jp-DSI-pc-proposalHalo', fill: 'none', 'stroke-linejoin': 'round', 'stroke-linecap': 'round', 'data-point': point.id })
      );
      this._proposalPaths = overlay.points.map(point =>
        svg('path', { class: 'jp-DSI-pc-proposal', fill: 'none', 'stroke-dasharray': PROPOSAL_DASH, 'data-point': point.id })
      );
      this._proposalGroup.replaceChildren(...this._proposalHalos, ...this._proposalPaths);
    }
    const color = this._theme.proposal;
    const halo = this._theme.background;
    // A dashed swatch and the label, as text (the label holds user data: column names).
    const swatch = document.createElement('span');
    Object.assign(swatch.style, { display: 'inline-block', width: '16px', borderTop: `2px dashed ${color}`, verticalAlign: 'middle', marginRight: '4px' });
    this._proposalLegend.replaceChildren(swatch, document.createTextNode(overlay.label));
    Object.assign(this._proposalLegend.style, { color: this._theme.text, background: this._theme.surface, padding: '0 3px' });
    const clamps: string[] = [];
    overlay.points.forEach((point, k) => {
      const runs = polylineRuns(plot.axes, plot.xs, point.values, this._proposalParams);
      this._proposalLines.push(runs);
      const d = runsPath(runs);
      const under = this._proposalHalos[k];
      under.setAttribute('data-point', point.id);
      under.setAttribute('d', d);
      under.setAttribute('stroke', halo);
      under.setAttribute('stroke-width', String(PROPOSAL_WIDTH + PROPOSAL_HALO));
      const path = this._proposalPaths[k];
      path.setAttribute('data-point', point.id);
      path.setAttribute('d', d);
      path.setAttribute('stroke', color);
      path.setAttribute('stroke-width', String(PROPOSAL_WIDTH));
      for (const v of runs.flat()) {
        if (v.clamped) {
          // A short bar across the axis end: the value lies beyond it.
          clamps.push(`M${v.x - 4},${v.y}h8`);
        }
      }
    });
    if (clamps.length) {
      const marks = this._proposalClamped;
      marks.setAttribute('d', clamps.join(''));
      marks.setAttribute('stroke', color);
      this._proposalGroup.appendChild(marks);
    }
  }

  /** The tooltip with `text` (text only), beside the pointer. */
  private _placeTooltip(text: string, x: number, y: number): void {
    const tip = this._tooltip;
    tip.textContent = text;
    tip.style.display = 'block';
    // Beside the pointer, flipped to the other side near the right or bottom edge.
    const width = this._plot?.width ?? 0;
    const height = this._plot?.height ?? 0;
    const left = x + 14 + tip.offsetWidth > width ? x - 14 - tip.offsetWidth : x + 14;
    const top = y + 14 + tip.offsetHeight > height ? y - 14 - tip.offsetHeight : y + 14;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, top)}px`;
  }

  private readonly _options: IParallelCoordinatesOptions;
  private readonly _threshold: number;
  private readonly _root: HTMLDivElement;
  private readonly _contextCanvas = document.createElement('canvas');
  private readonly _selectedCanvas = document.createElement('canvas');
  private readonly _contextCtx: CanvasRenderingContext2D | null;
  private readonly _selectedCtx: CanvasRenderingContext2D | null;
  private readonly _contextDensity: ContextDensity;
  private readonly _selectedDensity = new TwoSpeedSelection();
  private readonly _svg = svg('svg');
  private readonly _axesGroup = svg('g', { class: 'jp-DSI-pc-axes' });
  private readonly _hoverPath = svg('path', { class: 'jp-DSI-pc-hover' });
  private readonly _tooltip = document.createElement('div');
  private readonly _hiddenButton = document.createElement('button');
  private readonly _hiddenMenu = document.createElement('div');
  private _hiddenMenuKey = '';
  private readonly _proposalGroup = svg('g', { class: 'jp-DSI-pc-proposals' });
  private readonly _proposalLegend = document.createElement('div');
  private _proposals: IProposalOverlay | null = null;
  private _proposalParams = new Set<string>();
  private _proposalPaths: SVGPathElement[] = [];
  /** Each path's halo (the same `d`, wider, in the background), all under the paths. */
  private _proposalHalos: SVGPathElement[] = [];
  /** One path of short bars where values lie beyond their axis. */
  private readonly _proposalClamped = svg('path', { class: 'jp-DSI-pc-proposalClamped', fill: 'none', 'stroke-width': 2 });
  /** Each proposal's vertices as drawn, for hit-testing. */
  private _proposalLines: IVertex[][][] = [];
  private _hoveredProposal: number | null = null;
  private readonly _axisGroups = new Map<string, SVGGElement>();
  /** What each axis' group was drawn for (see _drawAxes). */
  private readonly _axisKeys = new Map<string, string>();
  private readonly _axisCache = new Map<string, { key: string; axis: IAxis }>();
  private readonly _intervals = new Map<string, Interval[]>();
  private _resizeObserver: ResizeObserver | null = null;
  private _themeObserver: MutationObserver | null = null;
  private _theme: ITheme;
  private _table: ITable | null = null;
  private _axes: string[] = [];
  private _inverted = new Set<string>();
  private _brushes = new Map<string, AxisBrush>();
  private _plot: IPlot | null = null;
  private _selection: ISelection | null = null;
  private _everyRow: Uint8Array | null = null;
  /** The resolution of each pair in density mode, chosen with the context layer. */
  private _shifts: number[] = [];
  private _contextDrawnWith = '';
  private _selectedDirty = false;
  private _drag: Drag | null = null;
  private _hovered: number | null = null;
  /** Where the last press began (SVG px), to tell a click on a line from a drag. */
  private _downAt: [number, number] | null = null;
  /** The pointer moved a brush or an axis since it was pressed. */
  private _dragged = false;
  private _hoverAt: [number, number] = [0, 0];
  private _hoverFrame = 0;
  private _selectedFrame = 0;
  private _resizeFrame = 0;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Serial numbers of axis states (see IAxis.serial). */
let axisSerial = 0;

/** The vertical layout of a plot of this height: header, axis, gap, missing band. */
export function verticalLayout(height: number, top: number = MARGIN.top): IVerticalLayout {
  const missingBottom = Math.max(height - MARGIN.bottom, top + 60);
  const missingTop = missingBottom - MISSING.band;
  const bottom = missingTop - MISSING.gap;
  return { top, bottom, missingTop, missingBottom };
}

/** Axes evenly spaced between the margins; a lone axis in the middle. */
export function axisXs(count: number, width: number): number[] {
  // On pixel centres: crisp 1 px axis lines, and every gap starts at the same sub-pixel
  // offset, so that a pair's density strip can move to another slot unchanged.
  if (count === 1) {
    return [Math.round(width / 2) + 0.5];
  }
  const span = Math.max(width - MARGIN.left - MARGIN.right, 0);
  const step = span / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(MARGIN.left + i * step) + 0.5);
}

/** Whether any row of the column is missing. */
export function hasMissing(column: Column): boolean {
  if (column.kind === 'numeric') {
    return column.values.some(v => v !== v);
  }
  const n = column.levels.length;
  return column.codes.some(code => code < 0 || code >= n);
}

/** A row's value on an axis, as the tooltip shows it. */
export function formatValue(column: Column, row: number): string {
  if (column.kind === 'categorical') {
    const code = column.codes[row];
    return code >= 0 && code < column.levels.length ? String(column.levels[code]) : 'missing';
  }
  const v = column.values[row];
  if (v !== v) {
    return 'missing';
  }
  const text = Number(v.toPrecision(4)).toString();
  return column.unit ? `${text} ${column.unit}` : text;
}

/** Sets an attribute unless it already has the value (an unchanged one restyles nothing). */
function setIfChanged(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/** A canvas' 2D context, or null where there is none (jsdom): drawing is then skipped. */
function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  try {
    return canvas.getContext('2d');
  } catch {
    return null;
  }
}

function requestFrame(callback: () => void): number {
  return typeof requestAnimationFrame === 'function'
    ? requestAnimationFrame(callback)
    : (setTimeout(callback, 16) as unknown as number);
}

function cancelFrame(handle: number): void {
  if (!handle) {
    return;
  }
  if (typeof cancelAnimationFrame === 'function') {
    cancelAnimationFrame(handle);
  } else {
    clearTimeout(handle);
  }
}

function capturePointer(el: Element, pointerId: number | undefined): void {
  try {
    if (pointerId !== undefined) {
      el.setPointerCapture?.(pointerId);
    }
  } catch {
    // Not an active pointer (a synthetic event): moves still arrive while over the SVG.
  }
}

function releasePointer(el: Element, pointerId: number | undefined): void {
  try {
    if (pointerId !== undefined && el.hasPointerCapture?.(pointerId)) {
      el.releasePointerCapture(pointerId);
    }
  } catch {
    // Nothing captured.
  }
}

/**
 * The explorer's state: which method, time step, feature terms, color and scatter axes, and the
 * selection made of axis brushes and scatter shapes. It turns the worker's typed-array slices
 * into the table the views draw, computes the selection mask without SQL (DESIGN.md rule 7) and
 * keeps the selection's filter string, the one text that says what is selected.
 *
 * Any ensemble (issue 9): the columns are the parameters, the number metrics an ingest found
 * (per run, or per step with the slice), the distances the method has values for, and d_feature
 * over chosen terms. Columns that are the same for every run are kept aside: listed, never axes.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IMethod } from '../db/api';
import { compileMask, FilterNode, MaskFunction, parse, toString } from '../filter';
import type { IBaseTable, IMethodInfo, IParameterColumn, ISlice } from '../db/slices';
import { IPredictionSet, predictionColumns } from '../db/predictions';
import { brushMask, shapesMask } from '../table/mask';
import type { AxisBrush, Column, IShape, ITable, Point } from '../table/types';
import { colorRows, IColoring } from './colors';
import { columnSpan, IAsideColumn, isScatterable, sameValue, toColumn } from './columns';
import { computeFeature, FEATURE, FeatureTerms, numericValues, parseTerms } from './feature';
import { roundPolygon, roundRange, selectionFilter } from './filterString';
import { drawFilter } from './fromFilter';
import { readableLasso, roundBox } from './simplify';
import { IExplorerSettings, IExplorerSettingsV1, orderTerms, upgradeSettings } from './settings';

export const DISTANCES = ['d_shock', 'd_edge', 'd_density', 'd_feature'] as const;
const MEASURED = ['d_shock', 'd_edge', 'd_density'] as const;

/** What the model needs from the database worker. */
export interface ISliceSource {
  table(): Promise<IBaseTable>;
  /** Distances at step t (all NaN for null: no method) and the per-step metrics there. */
  slice(methodId: string | null, t: number): Promise<ISlice>;
  methodInfo(methodId: string): Promise<IMethodInfo>;
  /** Training runs' predictions (absent: none), the `error of <run>` columns. */
  predictions?(): Promise<IPredictionSet[]>;
}

/** With at most this many prediction columns they join the axes; more wait among the hidden ones. */
const PREDICTION_AXES = 2;

/** A checksum of a typed array's bits (FNV-1a over its 32-bit words); null: no array. */
function checksum(values: Float32Array | null): number | null {
  if (!values) {
    return null;
  }
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let hash = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    hash = Math.imul(hash ^ words[i], 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * What identifies the predictions read: a new run, target or predicted simulation changes it,
 * and so do new values for the same simulations (Python re-logs with INSERT OR REPLACE).
 */
function predictionsKey(sets: readonly IPredictionSet[]): string {
  return JSON.stringify(sets.map(s => [s.runId, s.runName, s.target, s.values.length, checksum(s.values), checksum(s.sigma2)]));
}

export type Change = 'data' | 'axes' | 'selection' | 'colors' | 'method' | 'history';

/** What made a step of the selection's history. */
export type SelectionChangeKind =
  | 'brush'
  | 'shapes'
  | 'clear'
  | 'filter'
  | 'members'
  | 'restore'
  | 'scatter'
  | 'method'
  | 'step'
  | 'feature';

/** Changes of the view that move a selection the user did not touch: said, never silent. */
const INDIRECT: ReadonlySet<SelectionChangeKind> = new Set(['method', 'step', 'feature', 'scatter']);

/** One undoable change of the selection, with the counts before and after it. */
export interface ISelectionChange {
  readonly kind: SelectionChangeKind;
  /** Selected rows before and after (after: now, for the newest change). */
  readonly from: number;
  readonly to: number;
  /** The method and step after the change (what a notice names). */
  readonly methodId: string | null;
  readonly t: number;
}

/** The state a selection depends on: what undo and redo put back. */
interface ISnapshot {
  methodId: string | null;
  t: number;
  feature: FeatureTerms;
  scatter: [string, string];
  brushes: Map<string, AxisBrush>;
  shapes: IShape[];
  members: string[] | null;
  rest: FilterNode | null;
}

type SnapshotField = keyof ISnapshot;
const FIELDS: readonly SnapshotField[] = ['methodId', 't', 'feature', 'scatter', 'brushes', 'shapes', 'members', 'rest'];

/** A field as comparable text: undo restores only the fields its change moved. */
function fieldKey(s: ISnapshot, field: SnapshotField): string {
  switch (field) {
    case 'brushes':
      return JSON.stringify([...s.brushes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    case 'feature':
      return JSON.stringify(Object.entries(s.feature)); // the terms' order is part of d_feature's formula
    case 'rest':
      return s.rest ? toString(s.rest) : '';
    default:
      return JSON.stringify(s[field]);
  }
}

interface IHistoryEntry {
  kind: SelectionChangeKind;
  before: ISnapshot;
  after: ISnapshot;
  from: number;
  to: number;
}

/** Undo steps kept; older ones are dropped. */
const HISTORY_LIMIT = 100;

export interface ITheme {
  context: string;
  missing: string;
}

/** Columns of one base table, made once: the views cache per column object. */
interface IBaseColumns {
  base: IBaseTable;
  parameters: Column[];
  metrics: Column[];
  /** Parameters and per-run metrics that are the same for every run (name -> value). */
  same: Map<string, string>;
  /** Columns with no value at all: nothing to show or plot. */
  empty: Set<string>;
}

export class ExplorerModel {
  /** `theme` is read at every recolor, so a theme switch shows on the next change. */
  constructor(source: ISliceSource, theme: () => ITheme) {
    this._source = source;
    this._theme = theme;
  }

  get changed(): ISignal<this, Change> {
    return this._changed;
  }

  get methods(): readonly IMethod[] {
    return this._methods;
  }

  get method(): IMethod | null {
    return this._methods.find(m => m.id === this._methodId) ?? null;
  }

  get steps(): number {
    return this._steps;
  }

  get times(): readonly number[] {
    return this._base?.times ?? [];
  }

  get t(): number {
    return this._t;
  }

  /** d_feature's terms {column: weight}, in order. */
  get feature(): FeatureTerms {
    return { ...this._feature };
  }

  /** The numeric columns d_feature may weigh (on offer, d_feature itself excepted). */
  get featureCandidates(): string[] {
    return (this._table?.columns ?? []).filter(c => c.kind === 'numeric' && c.name !== FEATURE).map(c => c.name);
  }

  /** The scatter's [x, y] columns ('' when the table has no column to plot). */
  get scatterAxes(): [string, string] {
    return [...this._scatter];
  }

  /** Columns the scatter can plot: numeric ones, and categorical ones whose levels are numbers. */
  get scatterColumns(): string[] {
    return (this._table?.columns ?? []).filter(isScatterable).map(c => c.name);
  }

  /** A scatter axis's values as numbers (categorical levels at their numeric values). */
  scatterValues(name: string): Float32Array | null {
    const column = this.column(name);
    return column ? numericValues(column) : null;
  }

  get colorBy(): string {
    return this._colorBy;
  }

  /** The columns on offer (what the views draw); aside and empty columns are not in it. */
  get table(): ITable | null {
    return this._table;
  }

  /** Columns that are the same for every run: listed as text, never axes. */
  get aside(): readonly IAsideColumn[] {
    return this._aside;
  }

  /** Rows that pass the axis brushes (the scatter shows these). */
  get brushed(): Uint8Array {
    return this._brushed;
  }

  /** Rows in the selection: brushes and shapes. */
  get selected(): Uint8Array {
    return this._selected;
  }

  get count(): number {
    return this._count;
  }

  get coloring(): IColoring | null {
    return this._coloring;
  }

  get axes(): readonly string[] {
    return this._axes;
  }

  get hidden(): readonly string[] {
    return this._hidden;
  }

  get inverted(): readonly string[] {
    return this._inverted;
  }

  get brushes(): ReadonlyMap<string, AxisBrush> {
    return this._brushes;
  }

  get shapes(): readonly IShape[] {
    return this._shapes;
  }

  /** The selection in the filter language ('' when everything is selected). */
  get filter(): string {
    return this._filter;
  }

  /** Column names the color-by, the axes and the scatter may use (the columns on offer). */
  get columnNames(): string[] {
    return this._table ? this._table.columns.map(c => c.name) : [];
  }

  /** A column on offer, else one kept aside or empty (the filter may still name those). */
  column(name: string): Column | undefined {
    return this._table?.columns.find(c => c.name === name) ?? this._full?.columns.find(c => c.name === name);
  }

  get settings(): IExplorerSettings {
    return {
      version: 2,
      methodId: this._methodId,
      t: this._t,
      feature: { ...this._feature },
      featureOrder: Object.keys(this._feature),
      scatter: [...this._scatter],
      colorBy: this._colorBy,
      axes: [...this._axes],
      hidden: [...this._hidden],
      inverted: [...this._inverted],
      brushes: Object.fromEntries(this._brushes),
      shapes: this._shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]]) })),
      ...(this._rest ? { expression: toString(this._rest) } : {})
    };
  }

  /** Load a freshly opened database: parameters and metrics once, then the newest method's last step. */
  async load(methods: IMethod[]): Promise<void> {
    this._base = await this._source.table();
    this._predictions = (await this._source.predictions?.()) ?? [];
    this._methods = methods;
    this._methodId = methods[0]?.id ?? null;
    await this._readMethod();
    this._t = Math.max(0, this._steps - 1);
    this._brushes = new Map();
    this._shapes = [];
    this._rest = null;
    this._feature = {};
    if (!(await this._fetchSlice())) {
      return;
    }
    this._feature = this._defaultFeature();
    this._rebuildTable();
    this._syncColumns(true);
    this._changed.emit('data');
    this._update();
    this._changed.emit('method');
    this._changed.emit('axes');
    // A new file starts a new history: its undo steps would name another ensemble's columns.
    this._undo = [];
    this._redo = [];
    this._notice = null;
    this._commit();
    this._changed.emit('history');
  }

  /**
   * Read the runs' predictions again (the file changed: a run logged some): their columns come,
   * go or change; the view and selection stay.
   */
  async refreshPredictions(): Promise<void> {
    const sets = (await this._source.predictions?.()) ?? [];
    if (!this._base || predictionsKey(sets) === predictionsKey(this._predictions)) {
      return;
    }
    this._predictions = sets;
    this._stepColumns = null;
    this._rebuildTable();
    this._syncColumns(false);
    this._changed.emit('data');
    this._update();
    this._changed.emit('axes');
  }

  /** Whether a column is made of a run's predictions. */
  isPrediction(name: string): boolean {
    return this._predictionNames.has(name);
  }

  /** The database's methods changed (one was post-processed): the list, not the view. */
  setMethods(methods: IMethod[]): void {
    this._methods = methods;
    this._changed.emit('method');
  }

  async setMethod(id: string): Promise<void> {
    if (id === this._methodId || !this._methods.some(m => m.id === id)) {
      return;
    }
    const first = this._methodId === null;
    const before = this._selected.slice();
    const shown = { methodId: this._methodId, steps: this._steps, distances: this._distances, t: this._t };
    this._methodId = id;
    try {
      await this._readMethod();
      this._t = Math.min(this._t, Math.max(0, this._steps - 1));
      if (!(await this._fetchSlice())) {
        return;
      }
    } catch (error) {
      // Its slice cannot come (refused above maxDatabaseMB, the server gone): the views still
      // draw the previous method, so it is put back and the picker shows it again. Unless
      // another method was asked for meanwhile: that one is what will be drawn.
      if (this._methodId === id) {
        this._methodId = shown.methodId;
        this._steps = shown.steps;
        this._distances = shown.distances;
        this._t = shown.t;
        this._changed.emit('method');
      }
      throw error;
    }
    if (first || !this._termsKnown(this._feature)) {
      // The first method brings distances: d_feature and the scatter turn to them.
      this._feature = this._defaultFeature();
      this._rebuildTable();
    }
    this._syncColumns(false, first);
    this._changed.emit('data');
    this._update();
    this._changed.emit('method');
    this._changed.emit('axes');
    this._viewChanged('method', before);
  }

  /**
   * The method shown changed in the replica under the same id (a scratch computed again): read
   * its steps and the slice again, and redraw.
   */
  async reloadMethod(): Promise<void> {
    if (this._methodId === null || !this._methods.some(m => m.id === this._methodId)) {
      return;
    }
    const before = this._selected.slice();
    await this._readMethod();
    this._t = Math.min(this._t, Math.max(0, this._steps - 1));
    if (!(await this._fetchSlice())) {
      return;
    }
    this._changed.emit('data');
    this._update();
    this._changed.emit('method');
    this._viewChanged('method', before);
  }

  async setTime(t: number): Promise<void> {
    const step = Math.max(0, Math.min(this._steps - 1, Math.round(t)));
    if (step === this._t && this._slice?.t === step) {
      return;
    }
    const before = this._selected.slice();
    this._t = step;
    if (await this._fetchSlice()) {
      this._changed.emit('data');
      this._update();
      this._viewChanged('step', before);
    }
  }

  /** d_feature = Σ weight · column over these terms (in this order). */
  setFeature(terms: FeatureTerms): void {
    const before = this._selected.slice();
    this._feature = { ...terms };
    if (this._base) {
      this._rebuildTable();
      this._syncColumns(false);
      this._changed.emit('data');
      this._update();
      this._changed.emit('axes');
      this._viewChanged('feature', before);
    }
  }

  /**
   * Plot `y` against `x` in the scatter. The shapes drawn are polygons over the old axes, so
   * they are cleared (the view says so).
   */
  setScatterAxes(x: string, y: string): void {
    const allowed = new Set(this.scatterColumns);
    if (!allowed.has(x) || !allowed.has(y) || (x === this._scatter[0] && y === this._scatter[1])) {
      return;
    }
    const before = this._selected.slice();
    this._scatter = [x, y];
    this._shapes = [];
    this._update();
    this._changed.emit('axes');
    this._viewChanged('scatter', before);
  }

  /** Colors read from the theme again (JupyterLab switched themes): the selection stays. */
  refreshColors(): void {
    this._recolor();
    this._changed.emit('colors');
  }

  setColorBy(name: string): void {
    if (name === this._colorBy) {
      return;
    }
    this._colorBy = name;
    this._recolor();
    this._changed.emit('colors');
  }

  setAxes(axes: string[], inverted: string[], hidden?: string[]): void {
    this._axes = [...axes];
    this._inverted = [...inverted];
    this._hidden = hidden ? [...hidden] : this.columnNames.filter(n => !axes.includes(n));
    this._changed.emit('axes');
  }

  /**
   * Set or clear one axis's brush; bounds are rounded to what the filter string will say.
   * `final`: the gesture ended, so it becomes one undo step (live moves do not).
   */
  setBrush(axis: string, brush: AxisBrush | null, final = true): void {
    if (!brush || (brush.kind === 'numeric' ? brush.ranges.length === 0 : brush.codes.length === 0) && !brush.missing) {
      this._brushes.delete(axis);
    } else {
      this._brushes.set(axis, this._roundBrush(axis, brush));
    }
    this._update();
    if (final) {
      this._record('brush');
    }
  }

  /**
   * The scatter's boxes and lassos; `final` as for setBrush. A finished box is rounded outward
   * to the data's precision (two `between` terms), a finished lasso simplified to a couple dozen
   * rounded vertices that keep the rows it selects: the filter string reads as a person's.
   */
  setShapes(shapes: IShape[], final = true): void {
    const x = this.scatterValues(this._scatter[0]);
    const y = this.scatterValues(this._scatter[1]);
    this._shapes = shapes.map(s => {
      if (!final || !x || !y) {
        return { ...s, polygon: roundPolygon(s.polygon) };
      }
      return {
        ...s,
        polygon: s.kind === 'box' ? roundBox(s.polygon, columnSpan(x), columnSpan(y)) : readableLasso(s.polygon, x, y)
      };
    });
    this._update();
    if (final) {
      this._record('shapes');
    }
  }

  clearSelection(): void {
    this._brushes = new Map();
    this._shapes = [];
    this._members = null;
    this._rest = null;
    this._update();
    this._record('clear');
  }

  get canUndo(): boolean {
    return this._undo.length > 0;
  }

  get canRedo(): boolean {
    return this._redo.length > 0;
  }

  /** The change undo would take back (null: none). */
  get undoable(): ISelectionChange | null {
    return this._undo.length ? this._describe(this._undo[this._undo.length - 1]) : null;
  }

  get redoable(): ISelectionChange | null {
    return this._redo.length ? this._describe(this._redo[this._redo.length - 1]) : null;
  }

  /**
   * The newest change of method, step, d_feature or scatter axes that moved the selection, until
   * the user does anything else to it: the panel says it with the counts, and offers to undo.
   */
  get notice(): ISelectionChange | null {
    return this._notice ? this._describe(this._notice) : null;
  }

  dismissNotice(): void {
    if (this._notice) {
      this._notice = null;
      this._changed.emit('history');
    }
  }

  /** Take back the newest selection change (method and step too when it changed them). */
  undo(): Promise<boolean> {
    return this._serial(async () => {
      const entry = this._undo.pop();
      if (!entry) {
        return false;
      }
      this._redo.push(entry);
      await this._apply(entry.before, entry.after);
      return true;
    });
  }

  redo(): Promise<boolean> {
    return this._serial(async () => {
      const entry = this._redo.pop();
      if (!entry) {
        return false;
      }
      this._undo.push(entry);
      await this._apply(entry.after, entry.before);
      return true;
    });
  }

  /**
   * Select exactly these simulations (a dataset's members) at its method and step, replacing
   * brushes, shapes and filter: what the dataset was saved with, so every member shows.
   */
  async selectMembers(ids: readonly string[], methodId: string | null, t: number | null): Promise<void> {
    const target: ISnapshot = {
      ...this._snapshot(),
      methodId: methodId && this._methods.some(m => m.id === methodId) ? methodId : this._methodId,
      t: t ?? this._t,
      brushes: new Map(),
      shapes: [],
      members: [...ids].sort(),
      rest: null
    };
    await this._serial(async () => {
      await this._set(target, this._snapshot());
      this._record('members');
    });
  }

  /**
   * Select what a filter string says (`%dsi select --where`), replacing the selection: drawn as
   * brushes and shapes where that is exact, the rest kept as a term of its own. A polygon over
   * two other plottable columns turns the scatter to them, so that it can be drawn. Throws a
   * FilterError (one line) for text that does not parse or names no column.
   */
  setFilter(text: string): void {
    const node = parse(text);
    const full = this._full;
    if (full && node) {
      this._restMask(node, full); // names checked before anything changes
    }
    const axes = node ? this._polygonAxes(node) : null;
    if (axes) {
      this._scatter = axes;
    }
    const drawn = drawFilter(node, this._table?.columns ?? [], this._scatter);
    this._brushes = drawn.brushes;
    this._shapes = drawn.shapes;
    this._rest = drawn.rest;
    this._members = null;
    this._update();
    this._changed.emit('axes'); // the views redraw the new brushes and shapes
    this._record('filter');
  }

  /** The part of the selection the views cannot draw (null: none). */
  get expression(): string | null {
    return this._rest ? toString(this._rest) : null;
  }

  /** Restrict the selection to these simulations (a dataset's members), or lift it. */
  setMembers(ids: readonly string[] | null): void {
    this._members = ids ? [...ids].sort() : null;
    this._update();
    this._record('members');
  }

  get members(): readonly string[] | null {
    return this._members;
  }

  /** The dataset the next save derives from (its parent), set by "Derive". */
  get derivedFrom(): { id: string; name: string } | null {
    return this._derivedFrom;
  }

  set derivedFrom(value: { id: string; name: string } | null) {
    this._derivedFrom = value;
  }

  /**
   * Restore saved settings (issue 4: reproduce a dataset's view and selection); version-1
   * settings read as d_feature = w_shock · d_shock + w_edge · d_edge.
   */
  async restore(saved: IExplorerSettings | IExplorerSettingsV1): Promise<void> {
    const settings = upgradeSettings(saved);
    if (settings.methodId && this._methods.some(m => m.id === settings.methodId)) {
      this._methodId = settings.methodId;
    }
    await this._readMethod();
    this._t = Math.max(0, Math.min(this._steps - 1, settings.t));
    this._feature = orderTerms(parseTerms(settings.feature) ?? {}, settings.featureOrder);
    if (!(await this._fetchSlice())) {
      return;
    }
    if (!this._termsKnown(this._feature)) {
      this._feature = this._defaultFeature();
      this._rebuildTable();
    }
    const known = new Set(this.columnNames);
    this._axes = settings.axes.filter(a => known.has(a));
    this._hidden = settings.hidden.filter(a => known.has(a));
    this._inverted = settings.inverted.filter(a => known.has(a));
    this._brushes = new Map(Object.entries(settings.brushes).filter(([a]) => known.has(a)));
    this._colorBy = settings.colorBy;
    const plottable = new Set(this.scatterColumns);
    const [x, y] = settings.scatter ?? [];
    if (plottable.has(x) && plottable.has(y)) {
      this._scatter = [x, y];
      this._shapes = settings.shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]]) }));
    } else {
      this._scatter = this._defaultScatter();
      this._shapes = [];
    }
    this._rest = settings.expression ? parse(settings.expression) : null;
    this._syncColumns(false);
    this._changed.emit('data');
    this._update();
    this._changed.emit('method');
    this._changed.emit('axes');
    this._record('restore');
  }

  private _snapshot(): ISnapshot {
    return {
      methodId: this._methodId,
      t: this._t,
      feature: { ...this._feature },
      scatter: [this._scatter[0], this._scatter[1]],
      // Brush objects are replaced, never changed in place: a copy of the map is enough.
      brushes: new Map(this._brushes),
      shapes: this._shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]] as Point) })),
      members: this._members ? [...this._members] : null,
      rest: this._rest
    };
  }

  /** The state undo and redo start from: the newest recorded (or silently absorbed) one. */
  private _commit(state: ISnapshot = this._snapshot()): void {
    this._committed = state;
    this._committedCount = this._count;
  }

  private _describe(entry: IHistoryEntry): ISelectionChange {
    return { kind: entry.kind, from: entry.from, to: entry.to, methodId: entry.after.methodId, t: entry.after.t };
  }

  /** One change at a time: undo, redo and selectMembers each wait for a slice. */
  private _serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this._queue.then(fn);
    this._queue = next.catch(() => undefined);
    return next;
  }

  /** A change the user made to the selection itself: one undo step, if it changed anything. */
  private _record(kind: SelectionChangeKind): void {
    const after = this._snapshot();
    const before = this._committed;
    if (before && FIELDS.some(f => fieldKey(before, f) !== fieldKey(after, f))) {
      this._push({ kind, before, after, from: this._committedCount, to: this._count });
    }
    this._commit(after);
    this._notice = null;
    this._changed.emit('history');
  }

  /**
   * A method, step, d_feature or scatter change: an undo step with a notice when it moved the
   * selection (`before`: the mask until then). Steps in a row (the slider, play) and weights
   * dragged make one step, undone at once, while their notice shows.
   */
  private _viewChanged(kind: SelectionChangeKind, before: Uint8Array): void {
    const after = this._snapshot();
    const top = this._undo[this._undo.length - 1];
    if ((kind === 'step' || kind === 'feature') && top && top === this._notice && top.kind === kind && top.after === this._committed) {
      top.after = after;
      top.to = this._count;
      this._commit(after);
      this._changed.emit('history');
      return;
    }
    const moved = before.length !== this._selected.length || before.some((v, i) => v !== this._selected[i]);
    if (moved && this._committed) {
      const entry: IHistoryEntry = { kind, before: this._committed, after, from: this._committedCount, to: this._count };
      this._push(entry);
      this._notice = INDIRECT.has(kind) ? entry : null;
      this._commit(after);
      this._changed.emit('history');
    } else {
      // Looking around (no selection moved) is not a step to undo; undo keeps this view.
      this._commit(after);
    }
  }

  private _push(entry: IHistoryEntry): void {
    this._undo.push(entry);
    if (this._undo.length > HISTORY_LIMIT) {
      this._undo.shift();
    }
    this._redo = [];
  }

  /** Undo or redo one entry: the fields that `other` (the state it left) does not share with `target`. */
  private async _apply(target: ISnapshot, other: ISnapshot): Promise<void> {
    await this._set(target, other);
    this._notice = null;
    this._commit();
    this._changed.emit('history');
  }

  /** Bring the fields in which `target` and `from` differ to `target`'s values. */
  private async _set(target: ISnapshot, from: ISnapshot): Promise<void> {
    const fields = new Set(FIELDS.filter(f => fieldKey(target, f) !== fieldKey(from, f)));
    let fetch = false;
    if (fields.has('methodId') && target.methodId !== this._methodId && (target.methodId === null || this._methods.some(m => m.id === target.methodId))) {
      this._methodId = target.methodId;
      await this._readMethod();
      fetch = true;
    }
    if (fields.has('t') || fetch) {
      const t = Math.max(0, Math.min(this._steps - 1, target.t));
      fetch = fetch || t !== this._t || this._slice?.t !== t;
      this._t = t;
    }
    if (fields.has('feature')) {
      this._feature = { ...target.feature };
    }
    if (fetch) {
      if (!(await this._fetchSlice())) {
        return; // a newer slice was asked for meanwhile: that change wins
      }
      if (!this._termsKnown(this._feature) && !fields.has('feature')) {
        this._feature = this._defaultFeature();
        this._rebuildTable();
      }
    } else if (fields.has('feature')) {
      this._rebuildTable();
    }
    if (fields.has('scatter')) {
      this._scatter = [target.scatter[0], target.scatter[1]];
    }
    if (fields.has('brushes')) {
      this._brushes = new Map(target.brushes);
    }
    if (fields.has('shapes')) {
      this._shapes = target.shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]] as Point) }));
    }
    if (fields.has('members')) {
      this._members = target.members ? [...target.members] : null;
    }
    if (fields.has('rest')) {
      this._rest = target.rest;
    }
    this._syncColumns(false);
    this._changed.emit('data');
    this._update();
    this._changed.emit('method');
    this._changed.emit('axes');
  }

  private _roundBrush(axis: string, brush: AxisBrush): AxisBrush {
    if (brush.kind !== 'numeric') {
      return { kind: 'categorical', codes: [...new Set(brush.codes)].sort((a, b) => a - b), missing: brush.missing };
    }
    const column = this.column(axis);
    const span = column?.kind === 'numeric' ? columnSpan(column.values) : 0;
    const ranges = brush.ranges
      .map(r => {
        const [lo, hi] = roundRange(Math.min(r.lo, r.hi), Math.max(r.lo, r.hi), span);
        return { lo, hi };
      })
      .sort((a, b) => a.lo - b.lo);
    return { kind: 'numeric', ranges, missing: brush.missing };
  }

  /** The method's steps and distance columns; without a method, the per-step metrics' steps. */
  private async _readMethod(): Promise<void> {
    if (this._methodId) {
      const info = await this._source.methodInfo(this._methodId);
      this._steps = info.steps;
      this._distances = info.distances;
    } else {
      this._steps = Math.max(1, this._base?.metricSteps ?? 0);
      this._distances = [];
    }
  }

  /** Read the slice at (method, t) and rebuild the table; false when a newer one was asked for meanwhile. */
  private async _fetchSlice(): Promise<boolean> {
    const ticket = ++this._ticket;
    if (!this._base) {
      this._slice = null;
      this._rebuildTable();
      return true;
    }
    const slice = await this._source.slice(this._methodId, this._t);
    if (ticket !== this._ticket) {
      return false;
    }
    this._slice = slice;
    this._rebuildTable();
    return true;
  }

  /** Seed 000's d_shock + d_edge where the method has them, else d_density, else a metric. */
  private _defaultFeature(): FeatureTerms {
    const shockEdge = this._distances.filter(d => d === 'd_shock' || d === 'd_edge');
    if (shockEdge.length > 0) {
      return Object.fromEntries(shockEdge.map(d => [d, 1]));
    }
    if (this._methodId) {
      return { d_density: 1 };
    }
    const metric = this._table?.columns.find(c => c.kind === 'numeric' && this._isMetric(c.name));
    return metric ? { [metric.name]: 1 } : {};
  }

  /** Whether every term names a number column of this database (on offer or not). */
  private _termsKnown(terms: FeatureTerms): boolean {
    const names = Object.keys(terms);
    return names.length > 0 && names.every(n => n !== FEATURE && this._full?.columns.some(c => c.name === n && c.kind === 'numeric'));
  }

  private _isMetric(name: string): boolean {
    const base = this._base;
    return !!base && (base.runMetrics.some(m => m.name === name) || base.stepMetrics.some(m => m.name === name));
  }

  private _isParameter(name: string): boolean {
    return !!this._base?.parameters.some(p => p.name === name);
  }

  private _baseColumnsOf(base: IBaseTable): IBaseColumns {
    if (this._baseColumns?.base !== base) {
      const rows = base.ids.length;
      const seen = new Set<string>();
      // A metric named like a parameter (or twice) would make two columns of one name: the first stays.
      const unique = (list: IParameterColumn[]): Column[] => {
        const out: Column[] = [];
        for (const p of list) {
          if (!seen.has(p.name)) {
            seen.add(p.name);
            out.push(toColumn(p));
          }
        }
        return out;
      };
      const parameters = unique(base.parameters);
      const metrics = unique(base.runMetrics);
      const same = new Map<string, string>();
      const empty = new Set<string>();
      for (const column of [...parameters, ...metrics]) {
        const value = sameValue(column, rows);
        if (value === '') {
          empty.add(column.name);
        } else if (value !== null) {
          same.set(column.name, value);
        }
      }
      this._baseColumns = { base, parameters, metrics, same, empty };
    }
    return this._baseColumns;
  }

  private _rebuildTable(): void {
    const base = this._base;
    if (!base) {
      this._table = null;
      this._full = null;
      this._aside = [];
      return;
    }
    const rows = base.ids.length;
    // The same parameter and per-run metric column objects for every step: the views cache per column object.
    const fixed = this._baseColumnsOf(base);
    // Step columns are new objects only when the slice changed (a weight change keeps them).
    if (this._stepColumns?.slice !== this._slice || this._stepColumns.rows !== rows) {
      const empty = () => new Float32Array(rows).fill(NaN);
      const slice = this._slice;
      const known = new Set([...fixed.parameters, ...fixed.metrics].map(c => c.name));
      const metrics: Column[] = base.stepMetrics
        .filter(m => !known.has(m.name))
        .map(m => ({
          kind: 'numeric',
          name: m.name,
          values: slice?.metrics.find(s => s.name === m.name)?.values ?? empty(),
          unit: m.unit
        }));
      const distances: Column[] = [
        { kind: 'numeric', name: 'd_shock', values: slice?.dShock ?? empty() },
        { kind: 'numeric', name: 'd_edge', values: slice?.dEdge ?? empty() },
        { kind: 'numeric', name: 'd_density', values: slice?.dDensity ?? empty() }
      ];
      // Errors against the truth at this step: a parameter, or a number metric (per run or per step).
      const truth = new Map<string, Float32Array | null>(
        [...fixed.parameters, ...fixed.metrics, ...metrics].map(c => [c.name, numericValues(c)])
      );
      const taken = new Set([...known, ...metrics.map(c => c.name), ...distances.map(c => c.name), FEATURE]);
      const predictions = predictionColumns(this._predictions, target => truth.get(target) ?? null, taken);
      this._predictionNames = new Set(predictions.map(c => c.name));
      this._stepColumns = { slice, rows, metrics, distances, predictions };
    }
    const { metrics: stepMetrics, distances, predictions } = this._stepColumns;
    const all = [...fixed.parameters, ...fixed.metrics, ...stepMetrics, ...distances, ...predictions];
    const byName = new Map(all.map(c => [c.name, c]));
    const values = (name: string) => {
      const column = byName.get(name);
      return column?.kind === 'numeric' ? column.values : null;
    };
    const feature: Column = { kind: 'numeric', name: FEATURE, values: computeFeature(this._feature, values, rows) };
    all.push(feature);

    const offered: Column[] = [];
    const aside: IAsideColumn[] = [];
    // Only the per-step metrics that made a column (not one shadowed by a parameter's name).
    const stepInfo = new Map(base.stepMetrics.filter(m => stepMetrics.some(c => c.name === m.name)).map(m => [m.name, m]));
    for (const column of all) {
      const name = column.name;
      const info = stepInfo.get(name);
      if ((MEASURED as readonly string[]).includes(name)) {
        if (this._distances.includes(name)) {
          offered.push(column);
        }
      } else if (name === FEATURE) {
        if (Object.keys(this._feature).length > 0) {
          offered.push(column);
        }
      } else if (info && !fixed.same.has(name)) {
        // Per-step: decided over every step by the replica, so axes do not come and go with t.
        if (info.empty) {
          continue;
        } else if (!info.varies && rows >= 2) {
          aside.push({ name, value: sameValue(column, 2) ?? '' });
        } else {
          offered.push(column);
        }
      } else if (fixed.same.has(name)) {
        aside.push({ name, value: fixed.same.get(name)! });
      } else if (!fixed.empty.has(name)) {
        offered.push(column);
      }
    }
    this._full = { rows, ids: base.ids, columns: all };
    this._table = { rows, ids: base.ids, columns: offered };
    this._aside = aside;
  }

  /**
   * Keep axes, brushes, scatter and color to the columns on offer. `reset`: the defaults
   * (parameters, then the method's distances and d_feature; without a method, parameters and
   * the metrics that vary). Otherwise a column new on offer joins the axes when it is a
   * distance or d_feature, the hidden axes when it is a metric. `scatter`: back to its defaults.
   */
  private _syncColumns(reset: boolean, scatter = false): void {
    const names = this.columnNames;
    const known = new Set(names);
    const isDistance = (n: string) => (DISTANCES as readonly string[]).includes(n);
    // A run's error and sigma2 are axes while there are few of them; many wait among the hidden.
    const fewPredictions = this._predictionNames.size <= PREDICTION_AXES;
    const shown = (n: string) => isDistance(n) || (fewPredictions && this.isPrediction(n));
    if (reset) {
      this._axes = this._methodId
        ? names.filter(n => this._isParameter(n) || shown(n))
        : names.filter(n => this._isParameter(n) || (this._isMetric(n) && this.column(n)?.kind === 'numeric') || (fewPredictions && this.isPrediction(n)));
      this._inverted = [];
      this._brushes = new Map();
      this._hidden = names.filter(n => !this._axes.includes(n));
    } else {
      this._axes = this._axes.filter(n => known.has(n));
      this._hidden = this._hidden.filter(n => known.has(n));
      this._inverted = this._inverted.filter(n => known.has(n));
      this._brushes = new Map([...this._brushes].filter(([n]) => known.has(n)));
      for (const name of names) {
        if (!this._axes.includes(name) && !this._hidden.includes(name)) {
          (shown(name) ? this._axes : this._hidden).push(name);
        } else if (scatter && isDistance(name) && this._hidden.includes(name)) {
          // The first method: its distances and d_feature are what the user came to see.
          this._hidden = this._hidden.filter(n => n !== name);
          this._axes.push(name);
        }
      }
    }
    const plottable = new Set(this.scatterColumns);
    if (reset || scatter || !plottable.has(this._scatter[0]) || !plottable.has(this._scatter[1])) {
      this._scatter = this._defaultScatter();
      this._shapes = [];
    }
    if (!known.has(this._colorBy)) {
      this._colorBy = names.find(n => this._isParameter(n)) ?? (known.has('d_density') ? 'd_density' : names[0] ?? '');
    }
  }

  /**
   * Seed 000: d_feature against d_density. A method without shock or edge values (CloverLeaf):
   * the first varying numeric(-levelled) parameter against d_density. No method: the first two
   * plottable parameters or metrics, continuous ones before those with numeric levels.
   */
  private _defaultScatter(): [string, string] {
    const plottable = this.scatterColumns;
    const has = (n: string) => plottable.includes(n);
    let x = '';
    let y = '';
    if (this._methodId) {
      y = has('d_density') ? 'd_density' : '';
      if (this._distances.some(d => d === 'd_shock' || d === 'd_edge') && has(FEATURE)) {
        x = FEATURE;
      } else {
        x = plottable.find(n => this._isParameter(n)) ?? '';
      }
    } else {
      // Continuous columns first: two columns of a few levels each plot as a bare lattice.
      const measured = plottable.filter(n => this._isParameter(n) || this._isMetric(n));
      const continuous = (n: string) => this.column(n)?.kind === 'numeric';
      [x = '', y = ''] = [...measured.filter(continuous), ...measured.filter(n => !continuous(n))];
    }
    // Too few of the preferred columns: any other plottable ones, distinct where possible.
    const rest = plottable.filter(n => n !== x && n !== y);
    x = x || rest.shift() || y;
    y = y || rest.shift() || x;
    return [x, y];
  }

  /** The first polygon of a filter (top-level, or under an or/not) when its axes are plottable. */
  private _polygonAxes(node: FilterNode): [string, string] | null {
    const plottable = new Set(this.scatterColumns);
    const visit = (n: FilterNode): [string, string] | null => {
      if (n.type === 'polygon') {
        return plottable.has(n.x) && plottable.has(n.y) ? [n.x, n.y] : null;
      }
      if (n.type === 'not') {
        return visit(n.operand);
      }
      if (n.type === 'and' || n.type === 'or') {
        for (const operand of n.operands) {
          const found = visit(operand);
          if (found) {
            return found;
          }
        }
      }
      return null;
    };
    return visit(node);
  }

  /** Recompute masks, count, filter string and colors after any selection or data change. */
  private _update(): void {
    const table = this._table;
    const full = this._full;
    const rows = table?.rows ?? 0;
    if (this._brushed.length !== rows) {
      this._brushed = new Uint8Array(rows);
      this._selected = new Uint8Array(rows);
    }
    if (table && full) {
      brushMask(table, this._brushes, this._brushed);
      const x = this.scatterValues(this._scatter[0]);
      const y = this.scatterValues(this._scatter[1]);
      if (x && y) {
        shapesMask(x, y, this._shapes, this._selected);
      } else {
        this._selected.fill(1);
      }
      const only = this._members ? new Set(this._members) : null;
      const rest = this._rest ? this._restMask(this._rest, full) : null;
      let count = 0;
      if (only === null && rest === null) {
        // The usual case (brushes and shapes only): one branch-free pass, on every brush move.
        const brushed = this._brushed;
        const selected = this._selected;
        for (let i = 0; i < rows; i++) {
          const v = brushed[i] & selected[i];
          selected[i] = v;
          count += v;
        }
      } else {
        for (let i = 0; i < rows; i++) {
          const v =
            this._brushed[i] &
            this._selected[i] &
            (rest === null ? 1 : rest[i]) &
            (only === null || only.has(table.ids[i]) ? 1 : 0);
          this._selected[i] = v;
          count += v;
        }
      }
      this._count = count;
    } else {
      this._count = 0;
    }
    const levels = new Map<string, readonly (string | number)[]>();
    for (const c of full?.columns ?? []) {
      if (c.kind === 'categorical') {
        levels.set(c.name, c.levels);
      }
    }
    const ordered = [...this._axes, ...this._hidden];
    const brushes = [...this._brushes].sort((a, b) => ordered.indexOf(a[0]) - ordered.indexOf(b[0]));
    const drawn = selectionFilter({ brushes, levels, shapes: this._shapes, scatter: this._scatter, members: this._members });
    const rest = this._rest ? toString(this._rest) : '';
    const restTerm = this._rest?.type === 'or' && drawn ? `(${rest})` : rest;
    this._filter = [drawn, restTerm].filter(Boolean).join(' and ');
    this._recolor();
    this._changed.emit('selection');
  }

  /** The rows `node` keeps, compiled once per table (a weight change makes a new table). */
  private _restMask(node: FilterNode, table: ITable): Uint8Array {
    if (this._compiled?.node !== node || this._compiled.table !== table) {
      const known = [...table.columns.map(c => c.name), 'sim_id'];
      this._compiled = { node, table, fn: compileMask(node, table, known), out: new Uint8Array(table.rows) };
    }
    this._compiled.fn(this._compiled.out);
    return this._compiled.out;
  }

  private _recolor(): void {
    const column = this.column(this._colorBy) ?? this._table?.columns[0];
    this._coloring = column ? colorRows(column, this._selected, this._theme()) : null;
  }

  private readonly _source: ISliceSource;
  private readonly _theme: () => ITheme;
  private readonly _changed = new Signal<this, Change>(this);
  private _base: IBaseTable | null = null;
  private _methods: IMethod[] = [];
  private _methodId: string | null = null;
  /** Distance columns the current method has values for. */
  private _distances: string[] = [];
  private _steps = 0;
  private _t = 0;
  private _feature: FeatureTerms = {};
  private _scatter: [string, string] = [FEATURE, 'd_density'];
  private _colorBy = '';
  private _slice: ISlice | null = null;
  private _baseColumns: IBaseColumns | null = null;
  private _stepColumns: { slice: ISlice | null; rows: number; metrics: Column[]; distances: Column[]; predictions: Column[] } | null = null;
  private _predictions: IPredictionSet[] = [];
  private _predictionNames = new Set<string>();
  /** Every column, aside and empty ones too: what a filter may name. */
  private _full: ITable | null = null;
  private _table: ITable | null = null;
  private _aside: IAsideColumn[] = [];
  private _axes: string[] = [];
  private _hidden: string[] = [];
  private _inverted: string[] = [];
  private _brushes = new Map<string, AxisBrush>();
  private _shapes: IShape[] = [];
  private _members: string[] | null = null;
  private _rest: FilterNode | null = null;
  private _compiled: { node: FilterNode; table: ITable; fn: MaskFunction; out: Uint8Array } | null = null;
  private _derivedFrom: { id: string; name: string } | null = null;
  private _brushed = new Uint8Array(0);
  private _selected = new Uint8Array(0);
  private _count = 0;
  private _filter = '';
  private _coloring: IColoring | null = null;
  private _ticket = 0;
  private _undo: IHistoryEntry[] = [];
  private _redo: IHistoryEntry[] = [];
  private _committed: ISnapshot | null = null;
  private _committedCount = 0;
  private _notice: IHistoryEntry | null = null;
  private _queue: Promise<unknown> = Promise.resolve();
}

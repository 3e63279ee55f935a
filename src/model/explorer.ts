/**
 * The explorer's state: which method, time step, weights and color, and the selection made of
 * axis brushes and scatter shapes. It turns the worker's typed-array slices into the table the
 * views draw, computes the selection mask without SQL (DESIGN.md rule 7) and keeps the
 * selection's filter string, the one text that says what is selected.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IMethod } from '../db/api';
import { compileMask, FilterNode, MaskFunction, parse, toString } from '../filter';
import type { IBaseTable, ISlice } from '../db/slices';
import { brushMask } from '../views/axes';
import { shapesMask } from '../views/geometry';
import type { AxisBrush, Column, IShape, ITable } from '../views/types';
import { colorRows, extent, IColoring } from './colors';
import { roundPolygon, roundRange, selectionFilter } from './filterString';
import { drawFilter } from './fromFilter';

export const DISTANCES = ['d_shock', 'd_edge', 'd_density', 'd_feature'] as const;

/** What the model needs from the database worker. */
export interface ISliceSource {
  table(): Promise<IBaseTable>;
  slice(methodId: string, t: number): Promise<ISlice>;
  methodSteps(methodId: string): Promise<number>;
}

/** The GUI settings that reproduce a view and its selection (versioned: saved with datasets). */
export interface IExplorerSettings {
  version: 1;
  methodId: string | null;
  t: number;
  weights: { shock: number; edge: number };
  colorBy: string;
  axes: string[];
  hidden: string[];
  inverted: string[];
  brushes: Record<string, AxisBrush>;
  shapes: IShape[];
  /** The part of a filter (from `%dsi select --where`) that no brush or shape draws. */
  expression?: string;
}

/** Extent of a column's finite values, cached per array: brush moves ask for it every time. */
const spans = new WeakMap<Float32Array, number>();
function columnSpan(values: Float32Array): number {
  let span = spans.get(values);
  if (span === undefined) {
    const [lo, hi] = extent(values);
    span = hi > lo ? hi - lo : 0;
    spans.set(values, span);
  }
  return span;
}

export type Change = 'data' | 'axes' | 'selection' | 'colors' | 'method';

export interface ITheme {
  context: string;
  missing: string;
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

  get weights(): { shock: number; edge: number } {
    return { ...this._weights };
  }

  get colorBy(): string {
    return this._colorBy;
  }

  get table(): ITable | null {
    return this._table;
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

  /** Column names the color-by and the axes may use. */
  get columnNames(): string[] {
    return this._table ? this._table.columns.map(c => c.name) : [];
  }

  column(name: string): Column | undefined {
    return this._table?.columns.find(c => c.name === name);
  }

  get settings(): IExplorerSettings {
    return {
      version: 1,
      methodId: this._methodId,
      t: this._t,
      weights: { ...this._weights },
      colorBy: this._colorBy,
      axes: [...this._axes],
      hidden: [...this._hidden],
      inverted: [...this._inverted],
      brushes: Object.fromEntries(this._brushes),
      shapes: this._shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]]) })),
      ...(this._rest ? { expression: toString(this._rest) } : {})
    };
  }

  /** Load a freshly opened database: parameters once, then the newest method's last step. */
  async load(methods: IMethod[]): Promise<void> {
    this._base = await this._source.table();
    this._methods = methods;
    const params = this._base.parameters.map(p => p.name);
    this._axes = [...params, ...DISTANCES];
    this._hidden = [];
    this._inverted = [];
    this._brushes = new Map();
    this._shapes = [];
    this._rest = null;
    this._colorBy = params[0] ?? 'd_density';
    this._methodId = methods[0]?.id ?? null;
    this._steps = this._methodId ? await this._source.methodSteps(this._methodId) : 0;
    this._t = Math.max(0, this._steps - 1);
    await this._loadSlice();
    this._changed.emit('method');
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
    this._methodId = id;
    this._steps = await this._source.methodSteps(id);
    this._t = Math.min(this._t, Math.max(0, this._steps - 1));
    await this._loadSlice();
    this._changed.emit('method');
  }

  async setTime(t: number): Promise<void> {
    const step = Math.max(0, Math.min(this._steps - 1, Math.round(t)));
    if (step === this._t && this._slice?.t === step) {
      return;
    }
    this._t = step;
    await this._loadSlice();
  }

  setWeights(weights: { shock: number; edge: number }): void {
    this._weights = { shock: weights.shock, edge: weights.edge };
    if (this._slice) {
      this._rebuildTable();
      this._changed.emit('data');
      this._update();
    }
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

  /** Set or clear one axis's brush; bounds are rounded to what the filter string will say. */
  setBrush(axis: string, brush: AxisBrush | null): void {
    if (!brush || (brush.kind === 'numeric' ? brush.ranges.length === 0 : brush.codes.length === 0) && !brush.missing) {
      this._brushes.delete(axis);
    } else {
      this._brushes.set(axis, this._roundBrush(axis, brush));
    }
    this._update();
  }

  setShapes(shapes: IShape[]): void {
    this._shapes = shapes.map(s => ({ ...s, polygon: roundPolygon(s.polygon) }));
    this._update();
  }

  clearSelection(): void {
    this._brushes.clear();
    this._shapes = [];
    this._members = null;
    this._rest = null;
    this._update();
  }

  /**
   * Select what a filter string says (`%dsi select --where`), replacing the selection: drawn as
   * brushes and shapes where that is exact, the rest kept as a term of its own. Throws a
   * FilterError (one line) for text that does not parse or names no column.
   */
  setFilter(text: string): void {
    const node = parse(text);
    const table = this._table;
    if (table && node) {
      this._restMask(node, table); // names checked before anything changes
    }
    const drawn = drawFilter(node, table?.columns ?? []);
    this._brushes = drawn.brushes;
    this._shapes = drawn.shapes;
    this._rest = drawn.rest;
    this._members = null;
    this._update();
    this._changed.emit('axes'); // the views redraw the new brushes and shapes
  }

  /** The part of the selection the views cannot draw (null: none). */
  get expression(): string | null {
    return this._rest ? toString(this._rest) : null;
  }

  /** Restrict the selection to these simulations (a dataset's members), or lift it. */
  setMembers(ids: readonly string[] | null): void {
    this._members = ids ? [...ids].sort() : null;
    this._update();
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

  /** Restore saved settings (issue 4: reproduce a dataset's view and selection). */
  async restore(settings: IExplorerSettings): Promise<void> {
    if (settings.methodId && this._methods.some(m => m.id === settings.methodId)) {
      this._methodId = settings.methodId;
      this._steps = await this._source.methodSteps(settings.methodId);
    }
    this._t = Math.max(0, Math.min(this._steps - 1, settings.t));
    this._weights = { ...settings.weights };
    this._colorBy = settings.colorBy;
    const known = new Set(this.columnNames);
    this._axes = settings.axes.filter(a => known.has(a));
    this._hidden = settings.hidden.filter(a => known.has(a));
    this._inverted = settings.inverted.filter(a => known.has(a));
    this._brushes = new Map(Object.entries(settings.brushes).filter(([a]) => known.has(a)));
    this._shapes = settings.shapes.map(s => ({ ...s, polygon: s.polygon.map(p => [p[0], p[1]]) }));
    this._rest = settings.expression ? parse(settings.expression) : null;
    await this._loadSlice();
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

  private async _loadSlice(): Promise<void> {
    const ticket = ++this._ticket;
    if (!this._methodId || !this._base) {
      this._slice = null;
      this._rebuildTable();
      this._changed.emit('data');
      this._update();
      return;
    }
    const slice = await this._source.slice(this._methodId, this._t);
    if (ticket !== this._ticket) {
      return; // a newer step or method was asked for meanwhile
    }
    this._slice = slice;
    this._rebuildTable();
    this._changed.emit('data');
    this._update();
  }

  private _rebuildTable(): void {
    const base = this._base;
    if (!base) {
      this._table = null;
      return;
    }
    const rows = base.ids.length;
    // The same parameter column objects for every step: the views cache per column object.
    if (this._paramColumns?.base !== base) {
      this._paramColumns = {
        base,
        columns: base.parameters.map(p =>
          p.kind === 'categorical'
            ? { kind: 'categorical', name: p.name, codes: p.codes!, levels: p.levels ?? [], unit: p.unit }
            : { kind: 'numeric', name: p.name, values: p.values!, unit: p.unit }
        )
      };
    }
    const columns: Column[] = [...this._paramColumns.columns];
    // Distance columns are new objects only when the slice changed (a weight change keeps them).
    if (this._distanceColumns?.slice !== this._slice || this._distanceColumns.rows !== rows) {
      const empty = () => new Float32Array(rows).fill(NaN);
      this._distanceColumns = {
        slice: this._slice,
        rows,
        columns: [
          { kind: 'numeric', name: 'd_shock', values: this._slice?.dShock ?? empty() },
          { kind: 'numeric', name: 'd_edge', values: this._slice?.dEdge ?? empty() },
          { kind: 'numeric', name: 'd_density', values: this._slice?.dDensity ?? empty() }
        ]
      };
    }
    const [shockColumn, edgeColumn, densityColumn] = this._distanceColumns.columns;
    const shock = (shockColumn as { values: Float32Array }).values;
    const edge = (edgeColumn as { values: Float32Array }).values;
    const feature = new Float32Array(rows);
    const { shock: ws, edge: we } = this._weights;
    for (let i = 0; i < rows; i++) {
      feature[i] = ws * shock[i] + we * edge[i];
    }
    columns.push(shockColumn, edgeColumn, densityColumn, { kind: 'numeric', name: 'd_feature', values: feature });
    this._table = { rows, ids: base.ids, columns };
  }

  /** Recompute masks, count, filter string and colors after any selection or data change. */
  private _update(): void {
    const table = this._table;
    const rows = table?.rows ?? 0;
    if (this._brushed.length !== rows) {
      this._brushed = new Uint8Array(rows);
      this._selected = new Uint8Array(rows);
    }
    if (table) {
      brushMask(table, this._brushes, this._brushed);
      const feature = this.column('d_feature') as { values: Float32Array };
      const density = this.column('d_density') as { values: Float32Array };
      shapesMask(feature.values, density.values, this._shapes, this._selected);
      const only = this._members ? new Set(this._members) : null;
      const rest = this._rest ? this._restMask(this._rest, table) : null;
      let count = 0;
      for (let i = 0; i < rows; i++) {
        const v =
          this._brushed[i] &
          this._selected[i] &
          (rest === null ? 1 : rest[i]) &
          (only === null || only.has(table.ids[i]) ? 1 : 0);
        this._selected[i] = v;
        count += v;
      }
      this._count = count;
    } else {
      this._count = 0;
    }
    const levels = new Map<string, readonly (string | number)[]>();
    for (const c of table?.columns ?? []) {
      if (c.kind === 'categorical') {
        levels.set(c.name, c.levels);
      }
    }
    const ordered = [...this._axes, ...this._hidden];
    const brushes = [...this._brushes].sort((a, b) => ordered.indexOf(a[0]) - ordered.indexOf(b[0]));
    const drawn = selectionFilter({ brushes, levels, shapes: this._shapes, members: this._members });
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
  private _steps = 0;
  private _t = 0;
  private _weights = { shock: 1, edge: 1 };
  private _colorBy = '';
  private _slice: ISlice | null = null;
  private _paramColumns: { base: IBaseTable; columns: Column[] } | null = null;
  private _distanceColumns: { slice: ISlice | null; rows: number; columns: Column[] } | null = null;
  private _table: ITable | null = null;
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
}

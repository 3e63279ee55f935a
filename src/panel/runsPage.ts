/**
 * The Runs tab (issue 15 §3): the training runs of the open database in a sortable, filterable
 * table with the metrics the user picks; ticked runs compared as metric curves over steps; and
 * the efficacy view, one point per finished run, a property of its dataset against a metric,
 * whose points restore their dataset in the explorer. Rows come from the worker's replica; a
 * refresh (new runs, new points) keeps the sort, the filter, the ticks and the pickers.
 */
import type { IDatasetStats, IRunCurve, IRunInfo, RunStatus } from '../db/runs';
import { INTERRUPTED_AFTER_S, metricKey } from '../db/runs';
import { paletteColor } from '../views/chart';
import { curveSeries, drawCurves } from '../views/curves';
import { drawEfficacy, efficacyPoints, format, xChoices } from '../views/efficacy';
import { formatCount, formatDate, h } from './dom';
import { compareCells, filterBox, ISort, sortHeader } from './sortTable';

export interface IRunsPageOptions {
  /** The live runs, their status as shown at `nowMs`. */
  load: (nowMs: number) => Promise<IRunInfo[]>;
  /** One metric's points of each run. */
  curves: (runIds: string[], name: string, context: string) => Promise<IRunCurve[]>;
  /** The datasets that runs used, for the efficacy view's x axis. */
  datasetStats: () => Promise<IDatasetStats[]>;
  /** Bring the explorer back to a dataset's saved view (what the Datasets page's Restore does). */
  restore: (datasetId: string) => Promise<void>;
  /** Show a run's lineage graph (absent: no Lineage action). */
  lineage?: (run: IRunInfo) => void;
}

/** How many metric columns the table shows before the user picks. */
const DEFAULT_COLUMNS = 2;

const STATUS_TITLE: Record<RunStatus, string> = {
  running: 'Running: its process logged within the last 10 minutes',
  finished: 'Finished',
  failed: 'Failed',
  interrupted: 'Interrupted: stored as running, but nothing was heard from it for over 10 minutes'
};

/** 75 -> "1 min 15 s"; 7300 -> "2 h 01 min". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) {
    return '';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Energy in kWh, in Wh below 1 kWh; blank when not measured. */
export function formatEnergy(kwh: number | null): string {
  if (kwh === null) {
    return '';
  }
  return kwh < 1 ? `${format(kwh * 1000)} Wh` : `${format(kwh)} kWh`;
}

/** Every metric key the runs logged, sorted. */
export function metricKeys(runs: readonly IRunInfo[]): string[] {
  return [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort((a, b) => a.localeCompare(b));
}

export class RunsPage {
  readonly node = h('section', { class: 'jp-DSI-runs', 'aria-label': 'Training runs' });

  constructor(private readonly _options: IRunsPageOptions) {
    this._curves.className = 'jp-DSI-chartBox';
    this._curves.dataset.testid = 'dsi-run-curves';
    this._efficacy.className = 'jp-DSI-chartBox';
    this._efficacy.dataset.testid = 'dsi-efficacy';
    // The charts are drawn to their box's width: draw again when it changes (sidebar dragged,
    // panel moved to the main area, tab shown).
    if (typeof ResizeObserver !== 'undefined') {
      let width = 0;
      new ResizeObserver(() => {
        const now = this.node.clientWidth;
        if (now > 0 && Math.abs(now - width) > 8) {
          width = now;
          this._drawCharts();
        }
      }).observe(this.node);
    }
  }

  /** How many live runs the last refresh found. */
  get count(): number {
    return this._rows.length;
  }

  /** Read the runs again (a new replica): the sort, filter, ticks and pickers stay. */
  async refresh(): Promise<void> {
    const ticket = ++this._loadTicket;
    const [rows, stats] = await Promise.all([this._options.load(Date.now()), this._options.datasetStats()]);
    if (ticket !== this._loadTicket) {
      return; // a later read (a tab click during a catch-up) answers instead
    }
    this._rows = rows;
    this._stats = stats;
    this._generation++;
    this._watchHeartbeats();
    const ids = new Set(rows.map(r => r.id));
    this._selected = new Set([...this._selected].filter(id => ids.has(id)));
    this._render();
  }

  /**
   * A run whose process died writes nothing more, so no catch-up would come to show it
   * interrupted: read again when the first running run's heartbeat gets too old. Only while the
   * page is shown (a page replaced or hidden stops asking; showing it reads again anyway).
   */
  private _watchHeartbeats(): void {
    window.clearTimeout(this._heartbeatTimer);
    const due = this._rows
      .filter(r => r.status === 'running')
      .map(r => Date.parse(r.heartbeatAt ?? r.startedAt) + INTERRUPTED_AFTER_S * 1000)
      .filter(t => Number.isFinite(t));
    if (due.length === 0) {
      return;
    }
    const delay = Math.max(1000, Math.min(...due) - Date.now() + 1000);
    this._heartbeatTimer = window.setTimeout(() => {
      if (this.node.isConnected) {
        void this.refresh();
      }
    }, delay);
  }

  /** The metric columns shown: the user's pick, else the first few. */
  private _columns(keys: readonly string[]): string[] {
    return this._picked === null ? keys.slice(0, DEFAULT_COLUMNS) : this._picked.filter(k => keys.includes(k));
  }

  private _value(r: IRunInfo, key: string): string | number | null {
    switch (key) {
      case 'name':
        return r.name;
      case 'dataset':
        return r.datasetName;
      case 'split':
        return r.split?.label ?? null;
      case 'status':
        return r.status;
      case 'started':
        return r.startedAt;
      case 'duration':
        return r.durationS;
      case 'energy':
        return r.energyKwh;
    }
    return r.metrics[key.slice('metric:'.length)]?.value ?? null;
  }

  /** Every run, in the chosen order. */
  private _sorted(): IRunInfo[] {
    return [...this._rows].sort((a, b) => compareCells(this._value(a, this._sort.key), this._value(b, this._sort.key), this._sort.ascending));
  }

  /** Whether the filter box keeps a run. */
  private _matches(r: IRunInfo): boolean {
    const query = this._search.value.trim().toLowerCase();
    return (
      !query ||
      [r.name, r.description, r.datasetName ?? '', r.status, r.split?.label ?? '', r.host, r.author, JSON.stringify(r.params)].some(t =>
        t.toLowerCase().includes(query)
      )
    );
  }

  private _render(): void {
    const keys = metricKeys(this._rows);
    const columns = this._columns(keys);
    const sorted = this._sorted();
    const rows = sorted.filter(r => this._matches(r));
    const onSort = (next: ISort) => {
      this._sort = next;
      this._render();
    };
    // Ticked runs in table order, also those the filter hides now (filtering to find one more
    // run to tick keeps the others): their colors in the curves and beside their ticks, after
    // the colors the efficacy view gives the datasets.
    const ticked = sorted.filter(r => this._selected.has(r.id));
    const colorOf = new Map(ticked.map((r, i) => [r.id, paletteColor(this._stats.length + i)]));
    const tickedShown = rows.filter(r => this._selected.has(r.id)).length;
    const all = h('input', { type: 'checkbox', 'aria-label': 'Compare all runs shown' });
    all.checked = rows.length > 0 && tickedShown === rows.length;
    all.indeterminate = tickedShown > 0 && tickedShown < rows.length;
    all.addEventListener('change', () => {
      rows.forEach(r => (all.checked ? this._selected.add(r.id) : this._selected.delete(r.id)));
      this._render();
    });
    const header = h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'jp-DSI-runTick' }, all),
      sortHeader('name', 'Name', this._sort, onSort),
      sortHeader('dataset', 'Dataset', this._sort, onSort),
      sortHeader('split', 'Split', this._sort, onSort),
      sortHeader('status', 'Status', this._sort, onSort),
      ...columns.map(k => sortHeader(`metric:${k}`, k, this._sort, onSort)),
      sortHeader('started', 'Started', this._sort, onSort, true),
      sortHeader('duration', 'Duration', this._sort, onSort, true),
      sortHeader('energy', 'Energy', this._sort, onSort, true),
      ...(this._options.lineage ? [h('th', { scope: 'col' }, h('span', { class: 'jp-DSI-visuallyHidden' }, 'Actions'))] : [])
    );
    this.node.replaceChildren(
      h(
        'div',
        { class: 'jp-DSI-datasetsBar jp-DSI-runsBar' },
        this._search,
        h('span', { class: 'jp-DSI-hint', 'data-testid': 'dsi-runs-count' }, `${formatCount(this._rows.length)} runs`),
        keys.length > 0 ? this._columnPicker(keys, columns) : null
      ),
      rows.length === 0
        ? h(
            'p',
            { class: 'jp-DSI-hint' },
            this._rows.length === 0
              ? 'No training runs yet: record one with ens.run(dataset=…) in Python, or jupyter dsi run start --db FILE --dataset ID.'
              : 'No run matches this filter.'
          )
        : h(
            'div',
            { class: 'jp-DSI-tableScroll' },
            h(
              'table',
              { class: 'jp-DSI-table jp-DSI-runsTable' },
              h('thead', {}, header),
              h('tbody', {}, ...rows.map(r => this._row(r, columns, colorOf.get(r.id))))
            )
          ),
      h('div', { class: 'jp-DSI-runsCharts' }, this._compareSection(ticked), this._efficacySection(keys))
    );
    this._drawCharts();
  }

  private _columnPicker(keys: readonly string[], columns: readonly string[]): HTMLElement {
    const picker = h('details', { class: 'jp-DSI-picker' }, h('summary', {}, `Metrics (${columns.length})`));
    picker.open = this._pickerOpen;
    picker.addEventListener('toggle', () => (this._pickerOpen = picker.open));
    const list = h('div', { class: 'jp-DSI-pickerList' });
    for (const key of keys) {
      const box = h('input', { type: 'checkbox', value: key });
      box.checked = columns.includes(key);
      box.addEventListener('change', () => {
        const shown = new Set(this._columns(keys));
        box.checked ? shown.add(key) : shown.delete(key);
        this._picked = keys.filter(k => shown.has(k)); // in the sorted order, whatever the clicks
        this._render();
      });
      list.appendChild(h('label', {}, box, key));
    }
    picker.appendChild(list);
    return picker;
  }

  private _row(r: IRunInfo, columns: readonly string[], color: string | undefined): HTMLElement {
    const tick = h('input', { type: 'checkbox', 'aria-label': `Compare ${r.name}` });
    tick.checked = this._selected.has(r.id);
    tick.addEventListener('change', () => {
      tick.checked ? this._selected.add(r.id) : this._selected.delete(r.id);
      this._render();
    });
    const swatch = h('span', { class: 'jp-DSI-swatch', 'aria-hidden': 'true' });
    if (color) {
      swatch.style.background = color;
    } else {
      swatch.classList.add('jp-mod-empty');
    }
    const status = h('span', { class: `jp-DSI-runStatus jp-mod-${r.status}`, title: r.error ? `Failed: ${r.error}` : STATUS_TITLE[r.status] }, r.status);
    const dataset =
      r.datasetId === null
        ? h('span', { class: 'jp-DSI-hint' }, '—')
        : this._restoreButton(r.datasetId, (r.datasetName ?? r.datasetId.slice(0, 8)) + (r.datasetDeleted ? ' (deleted)' : ''));
    const started = r.startedAt;
    return h(
      'tr',
      { 'data-run-id': r.id, ...(color ? { class: 'jp-mod-selected' } : {}) },
      h('td', { class: 'jp-DSI-runTick' }, h('span', { class: 'jp-DSI-tickCell' }, tick, swatch)),
      h(
        'td',
        { class: 'jp-DSI-datasetName', title: r.description || r.name },
        r.name,
        r.stale.length > 0 ? h('span', { class: 'jp-DSI-staleBadge', title: `Stale: ${r.stale.join('; ')}` }, 'stale') : null
      ),
      h('td', {}, dataset),
      h('td', { class: 'jp-DSI-runSplit', title: r.split?.label ?? 'No split' }, r.split ? r.split.id.slice(0, 8) : '—'),
      h('td', {}, status),
      ...columns.map(k => {
        const m = r.metrics[k];
        return h('td', { class: 'jp-DSI-numeric', title: m ? `step ${m.step}` : '' }, m && m.value !== null ? format(m.value) : '');
      }),
      h('td', { title: started }, formatDate(started)),
      h('td', { class: 'jp-DSI-numeric' }, formatDuration(r.durationS)),
      h('td', { class: 'jp-DSI-numeric' }, formatEnergy(r.energyKwh)),
      ...(this._options.lineage ? [h('td', {}, this._lineageButton(r))] : [])
    );
  }

  private _restoreButton(datasetId: string, label: string): HTMLElement {
    const b = h('button', { class: 'jp-DSI-linkButton', type: 'button', title: 'Restore this dataset’s view in the explorer' }, label);
    b.addEventListener('click', () => void this._options.restore(datasetId));
    return b;
  }

  private _lineageButton(r: IRunInfo): HTMLElement {
    // A link, not a styled button: the row stays one line high.
    const b = h('button', { class: 'jp-DSI-linkButton', type: 'button', title: 'Show what this run used and produced, as a graph' }, 'Lineage');
    b.addEventListener('click', () => this._options.lineage!(r));
    return b;
  }

  private _select(
    label: string,
    choices: readonly { key: string; label: string }[],
    value: string,
    onChange: (key: string) => void,
    title = label
  ): HTMLElement {
    const select = h('select', { class: 'jp-DSI-select', 'aria-label': title, title }, ...choices.map(c => h('option', { value: c.key }, c.label)));
    select.value = value;
    select.addEventListener('change', () => onChange(select.value));
    return h('label', { class: 'jp-DSI-chartPick' }, h('span', {}, label), select);
  }

  private _compareSection(ticked: readonly IRunInfo[]): HTMLElement {
    const section = h('section', { class: 'jp-DSI-runsChart', 'aria-label': 'Compare runs' }, h('h3', {}, 'Compare'));
    if (ticked.length === 0) {
      section.appendChild(h('p', { class: 'jp-DSI-hint' }, 'Tick runs in the table to draw their metric curves over steps.'));
      this._curveKeys = [];
      return section;
    }
    const keys = metricKeys(ticked);
    this._curveKeys = ticked.map(r => r.id);
    if (keys.length === 0) {
      section.appendChild(h('p', { class: 'jp-DSI-hint' }, 'The ticked runs logged no metrics yet.'));
      this._curveMetric = null;
      return section;
    }
    if (this._curveMetric === null || !keys.includes(this._curveMetric)) {
      // A curve needs steps: the metric logged over the most, shown columns first among equals.
      const reach = (k: string) => Math.max(...ticked.map(r => (r.metrics[k] ? r.metrics[k].step - r.metrics[k].firstStep : -1)));
      const shown = this._columns(metricKeys(this._rows));
      this._curveMetric = [...keys].sort((a, b) => reach(b) - reach(a) || Number(!shown.includes(a)) - Number(!shown.includes(b)))[0];
    }
    section.append(
      this._select('Metric', keys.map(k => ({ key: k, label: k })), this._curveMetric, k => {
        this._curveMetric = k;
        this._drawCharts();
      }),
      this._curves
    );
    return section;
  }

  private _efficacySection(keys: readonly string[]): HTMLElement {
    const section = h('section', { class: 'jp-DSI-runsChart', 'aria-label': 'Efficacy' }, h('h3', {}, 'Efficacy'));
    if (!this._rows.some(r => r.status === 'finished') || keys.length === 0) {
      section.appendChild(h('p', { class: 'jp-DSI-hint' }, 'Once runs have finished with metrics, each is a point here: its dataset against its score.'));
      this._yMetric = null;
      return section;
    }
    const xs = xChoices(this._stats);
    if (!xs.some(c => c.key === this._xKey)) {
      this._xKey = 'size';
    }
    if (this._yMetric === null || !keys.includes(this._yMetric)) {
      this._yMetric = this._columns(keys)[0] ?? keys[0];
    }
    section.append(
      h(
        'div',
        { class: 'jp-DSI-chartPicks' },
        this._select(
          'x',
          xs,
          this._xKey,
          k => {
            this._xKey = k;
            this._drawCharts();
          },
          'Dataset property (x)'
        ),
        this._select(
          'y',
          keys.map(k => ({ key: k, label: k })),
          this._yMetric,
          k => {
            this._yMetric = k;
            this._drawCharts();
          },
          'Metric (y)'
        )
      ),
      this._efficacy,
      h('p', { class: 'jp-DSI-hint' }, 'One point per finished run, colored by its dataset. Click a point to restore that dataset in the explorer.')
    );
    return section;
  }

  /** Draw both charts from the current state (curves: after the worker answers). */
  private _drawCharts(): void {
    if (this._yMetric !== null) {
      const label = xChoices(this._stats).find(c => c.key === this._xKey)?.label ?? this._xKey;
      drawEfficacy(this._efficacy, efficacyPoints(this._rows, this._stats, this._xKey, this._yMetric), {
        xKey: this._xKey,
        xLabel: label,
        metric: this._yMetric,
        onPick: p => void this._options.restore(p.datasetId)
      });
    }
    const ids = this._curveKeys;
    const key = this._curveMetric;
    if (ids.length === 0 || key === null) {
      return;
    }
    // The name and context of the key, from a run that logged it.
    const last = this._rows.map(r => r.metrics[key]).find(m => m !== undefined);
    if (!last || metricKey(last.name, last.context) !== key) {
      return;
    }
    // Typing in the filter box or sorting redraws nothing when the same curves are drawn already.
    const drawn = JSON.stringify([this._generation, ids, key, this._stats.length, this._curves.clientWidth]);
    if (drawn === this._curvesDrawn) {
      return;
    }
    this._curvesDrawn = drawn;
    const ticket = ++this._curveTicket;
    const names = new Map(this._rows.map(r => [r.id, r.name]));
    void this._options.curves([...ids], last.name, last.context).then(
      curves => {
        if (ticket === this._curveTicket) {
          drawCurves(this._curves, curveSeries(curves, names, this._stats.length), key);
        }
      },
      (error: Error) => {
        if (ticket === this._curveTicket) {
          this._curvesDrawn = null; // try again on the next render
          this._curves.replaceChildren(h('p', { class: 'jp-DSI-error', role: 'alert' }, `Cannot read the curves: ${error.message}`));
        }
      }
    );
  }

  private readonly _search = filterBox('Filter by name, dataset, status or parameter', 'Filter runs', () => this._render());
  private readonly _curves = document.createElement('div');
  private readonly _efficacy = document.createElement('div');
  private _rows: IRunInfo[] = [];
  private _stats: IDatasetStats[] = [];
  private _sort: ISort = { key: 'started', ascending: false };
  private _selected = new Set<string>();
  /** The metric columns the user picked (null: not yet, the default ones). */
  private _picked: string[] | null = null;
  private _pickerOpen = false;
  private _curveMetric: string | null = null;
  /** The ticked runs whose curves are drawn, in table order. */
  private _curveKeys: string[] = [];
  private _curveTicket = 0;
  /** What the curves show (replica read, runs, metric, width), to skip drawing them again. */
  private _curvesDrawn: string | null = null;
  /** Counts the refreshes: new points may have come with each. */
  private _generation = 0;
  private _heartbeatTimer = 0;
  private _loadTicket = 0;
  private _xKey = 'size';
  private _yMetric: string | null = null;
}

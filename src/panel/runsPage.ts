/**
 * The Runs tab (issue 15 §3): the training runs of the open database in a sortable, filterable
 * table with the metrics the user picks; ticked runs compared as metric curves over steps; and
 * the efficacy view, one point per finished run, a property of its dataset against a metric,
 * whose points restore their dataset in the explorer. Rows come from the worker's replica; a
 * refresh (new runs, new points) keeps the sort, the filter, the ticks and the pickers.
 */
import type { IParameterRange, IProposalRecord, IProposeRequest } from '../db/proposals';
import type { IDatasetStats, IRunCurve, IRunInfo, RunStatus } from '../db/runs';
import { INTERRUPTED_AFTER_S, metricKey } from '../db/runs';
import { paletteColor } from '../views/chart';
import { curveSeries, drawCurves } from '../views/curves';
import { drawEfficacy, efficacyPoints, format, xChoices } from '../views/efficacy';
import { formatCount, formatDate, h } from './dom';
import { ProposalForm } from './proposalForm';
import { ProposalList } from './proposalList';
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
  /**
   * Read the file again into the replica (the explorer's catch-up, which refreshes this page).
   * A live run's heartbeat is written without an event, so no catch-up brings it: when a
   * running run's heartbeat deadline passes, the page asks for this before calling it
   * interrupted. Absent: the page reads its replica again.
   */
  reload?: () => Promise<void>;
  /**
   * Whether the page is shown (absent: always). A hidden page reads nothing on refresh (a
   * catch-up about every 5 s while a run logs); it reads when it is shown again.
   */
  shown?: () => boolean;
  /** The recorded proposals (absent: no Proposals section). */
  proposals?: () => Promise<IProposalRecord[]>;
  /** Draw a proposal over the explorer's views (dashed lines / hollow marks); null hides. */
  showProposal?: (id: string | null) => Promise<void>;
  /** A proposal's points as CSV text (the server's `jupyter dsi proposals` output); the list downloads it. Absent: no CSV buttons. */
  proposalCsv?: (id: string) => Promise<string>;
  /** Record a proposal through the server; resolves with the new record's id, rejects with Error(one line). */
  propose?: (request: IProposeRequest) => Promise<string>;
  /** Continuous/categorical parameters for the form: name, kind, min, max, spacing (numeric only). */
  parameterRanges?: () => Promise<IParameterRange[]>;
}

/** Why a run has no Propose… (on the disabled button, as its title and description). */
export const NO_SIGMA2 =
  'This run logged no sigma2 (predictive variance): log it with run.log_predictions(a frame with a sigma2 column) to propose from it.';

/** Runs compared at most: their curves are read and drawn, each in its own color. */
export const MAX_COMPARED = 10;

/** Ids for the badges' descriptions (aria-describedby). */
let badgeIds = 0;

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
    // Built once and never replaced: the filter box keeps the focus (and the caret) while the
    // table under it is drawn again on every keystroke; only the parts below are re-rendered.
    this._count.dataset.testid = 'dsi-runs-count';
    const { proposals, showProposal, proposalCsv, propose, parameterRanges } = _options;
    this._proposals = proposals ? new ProposalList({ proposals, showProposal, proposalCsv }) : null;
    this._form =
      propose && parameterRanges
        ? new ProposalForm({
            propose,
            parameterRanges,
            onProposed: (id, request, run) => this._proposed(id, request, run),
            onClose: () => this._formClosed()
          })
        : null;
    // The form and the list are built once, outside the re-rendered parts: what the user typed
    // stays through a refresh (a run logging every few seconds).
    this.node.append(
      this._errorSlot,
      h('div', { class: 'jp-DSI-datasetsBar jp-DSI-runsBar' }, this._search, this._count, this._pickerSlot),
      this._tableSlot,
      ...(this._form ? [this._form.node] : []),
      ...(this._proposals ? [this._proposals.node] : []),
      this._chartsSlot
    );
    // The charts are drawn to their box's width: draw again when it changes (sidebar dragged,
    // panel moved to the main area, tab shown).
    if (typeof ResizeObserver !== 'undefined') {
      let width = 0;
      this._resize = new ResizeObserver(() => {
        const now = this.node.clientWidth;
        if (now > 0 && Math.abs(now - width) > 8) {
          width = now;
          this._drawCharts();
        }
      });
      this._resize.observe(this.node);
    }
  }

  /** How many live runs the last refresh found. */
  get count(): number {
    return this._rows.length;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Stop watching: the size observer, the heartbeat timer; later answers are dropped. */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._resize?.disconnect();
    this._resize = null;
    window.clearTimeout(this._heartbeatTimer);
    this._loadTicket++;
    this._curveTicket++;
  }

  /**
   * Read the runs again (a new replica): the sort, filter, ticks and pickers stay. Hidden, it
   * reads nothing (the next refresh once shown does). Never rejects: a failed read is said in
   * the page, and the last rows stay.
   */
  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    const ticket = ++this._loadTicket;
    if (this._options.shown && !this._options.shown()) {
      window.clearTimeout(this._heartbeatTimer); // showing the page reads again anyway
      return;
    }
    // The proposals are read alongside (their section says its own failure, never rejects).
    const proposals = this._proposals?.refresh();
    try {
      const rows = await this._options.load(Date.now());
      await proposals;
      if (ticket !== this._loadTicket) {
        return; // a later read (a tab click during a catch-up) answers instead
      }
      // Datasets never change: their stats (a GROUP BY over every member's parameters) are read
      // again only when a run names a dataset the last read did not cover.
      const used = rows.map(r => r.datasetId).filter((id): id is string => id !== null);
      if (this._statsFor === null || used.some(id => !this._statsFor!.has(id))) {
        const stats = await this._options.datasetStats();
        if (ticket !== this._loadTicket) {
          return;
        }
        this._stats = stats;
        this._statsFor = new Set([...used, ...stats.map(s => s.id)]);
      }
      this._rows = rows;
      this._error = null;
      this._watchHeartbeats();
      const ids = new Set(rows.map(r => r.id));
      this._selected = new Set([...this._selected].filter(id => ids.has(id)));
      if (this._pendingSelect !== null && ids.has(this._pendingSelect)) {
        const id = this._pendingSelect;
        this._pendingSelect = null;
        this.select(id);
        return;
      }
      this._render();
    } catch (error) {
      if (ticket === this._loadTicket && !this._disposed) {
        this._error = `Cannot read the runs: ${(error as Error)?.message || String(error)}`;
        console.error('jupyterlab-dsi: cannot read the runs', error);
        this._render();
      }
    }
  }

  /**
   * Tick, scroll to and highlight run `runId` (a run clicked in the lineage graph). A run the
   * filter hides clears the filter; one not read yet is selected when a refresh brings it.
   */
  select(runId: string): void {
    if (this._disposed) {
      return;
    }
    const run = this._rows.find(r => r.id === runId);
    if (!run) {
      this._pendingSelect = runId;
      return;
    }
    this._selected.add(runId);
    this._highlighted = runId;
    if (!this._matches(run)) {
      this._search.value = '';
    }
    this._render();
    // After the explorer has put the page on screen (it renders right after asking).
    window.setTimeout(() => {
      const row = this.node.querySelector<HTMLElement>(`tr[data-run-id="${CSS.escape(runId)}"]`);
      row?.scrollIntoView?.({ block: 'center', inline: 'nearest' });
    }, 0);
  }

  /**
   * A run whose process died writes nothing more, so no catch-up would come to show it
   * interrupted: when the first running run's heartbeat gets too old, fetch the file again (its
   * process may well be alive, beating without events) and only then decide. Only while the
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
    this._heartbeatTimer = window.setTimeout(() => void this._heartbeatDue(), delay);
  }

  private async _heartbeatDue(): Promise<void> {
    if (this._disposed || !this.node.isConnected || (this._options.shown && !this._options.shown())) {
      return;
    }
    const before = this._loadTicket;
    if (this._options.reload) {
      try {
        await this._options.reload();
      } catch (error) {
        console.error('jupyterlab-dsi: cannot read the database again', error);
      }
    }
    if (this._loadTicket === before) {
      await this.refresh(); // the reload did not refresh the page (it failed, or there is none)
    }
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
    if (this._disposed) {
      return;
    }
    // The control with the focus, by a stable key: the parts below the bar are built anew, so
    // its replacement takes the focus back (a tick, a sort button, a metric box, a picker).
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && this.node.contains(active) ? active.dataset.focusKey ?? null : null;
    const keys = metricKeys(this._rows);
    const columns = this._columns(keys);
    const sorted = this._sorted();
    const rows = sorted.filter(r => this._matches(r));
    const onSort = (next: ISort) => {
      this._sort = next;
      this._render();
    };
    // Ticked runs in table order, also those the filter hides now (filtering to find one more
    // run to tick keeps the others): the first MAX_COMPARED of them are compared, their colors
    // in the curves and beside their ticks, after the colors the efficacy view gives the datasets.
    const ticked = sorted.filter(r => this._selected.has(r.id));
    const compared = ticked.slice(0, MAX_COMPARED);
    const colorOf = new Map(compared.map((r, i) => [r.id, paletteColor(this._stats.length + i)]));
    const tickedShown = rows.filter(r => this._selected.has(r.id)).length;
    const all = h('input', { type: 'checkbox', 'aria-label': 'Compare all runs shown', 'data-focus-key': 'all' });
    all.checked = rows.length > 0 && tickedShown === rows.length;
    all.indeterminate = tickedShown > 0 && tickedShown < rows.length;
    all.addEventListener('change', () => {
      rows.forEach(r => (all.checked ? this._selected.add(r.id) : this._selected.delete(r.id)));
      this._render();
    });
    const sortBy = (key: string, label: string, descendingFirst = false) => {
      const th = sortHeader(key, label, this._sort, onSort, descendingFirst);
      th.querySelector('button')!.dataset.focusKey = `sort:${key}`;
      return th;
    };
    const header = h(
      'tr',
      {},
      h('th', { scope: 'col', class: 'jp-DSI-runTick' }, all),
      sortBy('name', 'Name'),
      sortBy('dataset', 'Dataset'),
      sortBy('split', 'Split'),
      sortBy('status', 'Status'),
      ...columns.map(k => sortBy(`metric:${k}`, k)),
      sortBy('started', 'Started', true),
      sortBy('duration', 'Duration', true),
      sortBy('energy', 'Energy', true),
      ...(this._options.lineage || this._form ? [h('th', { scope: 'col' }, h('span', { class: 'jp-DSI-visuallyHidden' }, 'Actions'))] : [])
    );
    this._errorSlot.replaceChildren(...(this._error ? [h('p', { class: 'jp-DSI-error', role: 'alert' }, this._error)] : []));
    this._count.textContent = `${formatCount(this._rows.length)} runs`;
    this._pickerSlot.replaceChildren(...(keys.length > 0 ? [this._columnPicker(keys, columns)] : []));
    this._tableSlot.replaceChildren(
      rows.length === 0
        ? h(
            'p',
            { class: 'jp-DSI-hint' },
            this._rows.length === 0
              ? this._error
                ? ''
                : 'No training runs yet: record one with ens.run(dataset=…) in Python, or jupyter dsi run start --db FILE --dataset ID.'
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
          )
    );
    this._chartsSlot.replaceChildren(
      h('div', { class: 'jp-DSI-runsCharts' }, this._compareSection(compared, ticked.length), this._efficacySection(keys))
    );
    if (focusKey !== null && document.activeElement !== active) {
      this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
    }
    this._drawCharts();
  }

  private _columnPicker(keys: readonly string[], columns: readonly string[]): HTMLElement {
    const summary = h('summary', { 'data-focus-key': 'picker' }, `Metrics (${columns.length})`);
    const picker = h('details', { class: 'jp-DSI-picker' }, summary);
    picker.open = this._pickerOpen;
    picker.addEventListener('toggle', () => (this._pickerOpen = picker.open));
    const list = h('div', { class: 'jp-DSI-pickerList' });
    for (const key of keys) {
      const box = h('input', { type: 'checkbox', value: key, 'data-focus-key': `pick:${key}` });
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

  /**
   * A short badge whose meaning is more than its word (a status, "stale"): focusable, with the
   * meaning as its description (read by screen readers, shown beside it on keyboard focus, and
   * as the hover title), never in hover text alone.
   */
  private _badge(className: string, word: string, meaning: string): HTMLElement {
    const id = `jp-DSI-badge-${++badgeIds}`;
    return h(
      'span',
      { class: 'jp-DSI-badgeWrap' },
      h('span', { class: `jp-DSI-badge ${className}`, tabindex: '0', title: meaning, 'aria-describedby': id }, word),
      h('span', { class: 'jp-DSI-badgeNote', id, role: 'tooltip' }, meaning)
    );
  }

  private _row(r: IRunInfo, columns: readonly string[], color: string | undefined): HTMLElement {
    const tick = h('input', { type: 'checkbox', 'aria-label': `Compare ${r.name}`, 'data-focus-key': `tick:${r.id}` });
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
    const status = this._badge(`jp-DSI-runStatus jp-mod-${r.status}`, r.status, r.error ? `Failed: ${r.error}` : STATUS_TITLE[r.status]);
    const dataset =
      r.datasetId === null
        ? h('span', { class: 'jp-DSI-hint' }, '—')
        : this._restoreButton(r, (r.datasetName ?? r.datasetId.slice(0, 8)) + (r.datasetDeleted ? ' (deleted)' : ''));
    const started = r.startedAt;
    const classes = [color ? 'jp-mod-selected' : '', r.id === this._highlighted ? 'jp-mod-highlighted' : ''].filter(Boolean).join(' ');
    return h(
      'tr',
      { 'data-run-id': r.id, ...(classes ? { class: classes } : {}) },
      h('td', { class: 'jp-DSI-runTick' }, h('span', { class: 'jp-DSI-tickCell' }, tick, swatch)),
      h(
        'td',
        { class: 'jp-DSI-datasetName jp-DSI-runName' },
        // Long names are cut with an ellipsis (the table stays readable); the whole name and the
        // description are the title.
        h('span', { class: 'jp-DSI-runNameText', title: r.description ? `${r.name}\n${r.description}` : r.name }, r.name),
        r.stale.length > 0 ? this._badge('jp-DSI-staleBadge', 'stale', `Stale: ${r.stale.join('; ')}`) : null
      ),
      h('td', {}, dataset),
      h('td', { class: 'jp-DSI-runSplit', title: r.split ? `Split ${r.split.id}` : 'No split' }, r.split ? r.split.label : '—'),
      h('td', {}, status),
      ...columns.map(k => {
        const m = r.metrics[k];
        return h('td', { class: 'jp-DSI-numeric', title: m ? `step ${m.step}` : '' }, m && m.value !== null ? format(m.value) : '');
      }),
      h('td', { title: started }, formatDate(started)),
      h('td', { class: 'jp-DSI-numeric' }, formatDuration(r.durationS)),
      h('td', { class: 'jp-DSI-numeric' }, formatEnergy(r.energyKwh)),
      ...(this._options.lineage || this._form
        ? [
            h(
              'td',
              {},
              h('span', { class: 'jp-DSI-runActions' }, this._options.lineage ? this._lineageButton(r) : null, this._form ? this._proposeButton(r) : null)
            )
          ]
        : [])
    );
  }

  private _restoreButton(r: IRunInfo, label: string): HTMLElement {
    const b = h(
      'button',
      { class: 'jp-DSI-linkButton', type: 'button', title: 'Restore this dataset’s view in the explorer', 'data-focus-key': `restore:${r.id}` },
      label
    );
    b.addEventListener('click', () => void this._restore(r.datasetId!));
    return b;
  }

  /** The explorer's restore, its failure said in the page rather than left unhandled. */
  private async _restore(datasetId: string): Promise<void> {
    try {
      await this._options.restore(datasetId);
    } catch (error) {
      console.error('jupyterlab-dsi: cannot restore the dataset', error);
    }
  }

  private _lineageButton(r: IRunInfo): HTMLElement {
    // A link, not a styled button: the row stays one line high.
    const b = h(
      'button',
      { class: 'jp-DSI-linkButton', type: 'button', title: 'Show what this run used and produced, as a graph', 'data-focus-key': `lineage:${r.id}` },
      'Lineage'
    );
    b.addEventListener('click', () => this._options.lineage!(r));
    return b;
  }

  /**
   * "Propose…": opens the form for a run that logged sigma2. Without sigma2 it stays, disabled
   * (aria-disabled, so that it keeps the focus and its reason is read), with the reason as title.
   */
  private _proposeButton(r: IRunInfo): HTMLElement {
    const able = (r.sigma2Targets ?? []).length > 0;
    const open = able && this._form?.run?.id === r.id;
    const b = h(
      'button',
      {
        class: `jp-DSI-linkButton${able ? '' : ' jp-mod-disabled'}`,
        type: 'button',
        title: able ? 'Propose new simulations where this run’s model is least certain (its sigma2)' : NO_SIGMA2,
        'data-focus-key': `propose:${r.id}`,
        ...(able ? { 'aria-expanded': String(open), 'aria-controls': this._form!.node.id } : { 'aria-disabled': 'true' })
      },
      'Propose…'
    );
    b.addEventListener('click', () => {
      if (able) {
        this._opener = r.id;
        void this._form!.open(r).then(() => this._render());
      }
    });
    return b;
  }

  /** Recorded: the list reads it (from the file again when the replica has not caught up), marks it and draws it. */
  private async _proposed(id: string, request: IProposeRequest, run: IRunInfo): Promise<void> {
    const list = this._proposals;
    if (!list) {
      await this._options.showProposal?.(id);
      return;
    }
    await list.refresh();
    if (!list.records.some(p => p.id === id) && this._options.reload) {
      try {
        await this._options.reload();
      } catch (error) {
        console.error('jupyterlab-dsi: cannot read the database again', error);
      }
      await list.refresh();
    }
    this._opener = null; // the focus goes to the new row's Hide, not back to Propose…
    list.say(`Recorded proposal ${id.slice(0, 8)}: ${formatCount(request.n)} points from “${run.name}” (seed ${request.seed}), drawn over the explorer.`);
    await list.show(id, true);
  }

  private _formClosed(): void {
    const opener = this._opener;
    this._opener = null;
    this._render();
    if (opener !== null) {
      this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(`propose:${opener}`)}"]`)?.focus();
    }
  }

  private _select(
    label: string,
    choices: readonly { key: string; label: string }[],
    value: string,
    onChange: (key: string) => void,
    title = label
  ): HTMLElement {
    const select = h(
      'select',
      { class: 'jp-DSI-select', 'aria-label': title, title, 'data-focus-key': `select:${title}` },
      ...choices.map(c => h('option', { value: c.key }, c.label))
    );
    select.value = value;
    select.addEventListener('change', () => onChange(select.value));
    return h('label', { class: 'jp-DSI-chartPick' }, h('span', {}, label), select);
  }

  /** The curves of `ticked` (the first MAX_COMPARED of `tickedCount` ticked runs). */
  private _compareSection(ticked: readonly IRunInfo[], tickedCount: number): HTMLElement {
    const section = h('section', { class: 'jp-DSI-runsChart', 'aria-label': 'Compare runs' }, h('h3', {}, 'Compare'));
    if (tickedCount > ticked.length) {
      section.appendChild(
        h(
          'p',
          { class: 'jp-DSI-hint', 'data-testid': 'dsi-compare-capped' },
          `Comparing the first ${ticked.length} ticked runs (of ${formatCount(tickedCount)}), in table order: sort or untick to choose.`
        )
      );
    }
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
      h(
        'div',
        { class: 'jp-DSI-chartPicks' },
        this._select('Metric', keys.map(k => ({ key: k, label: k })), this._curveMetric, k => {
          this._curveMetric = k;
          this._drawCharts();
        })
      ),
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
    if (this._disposed) {
      return;
    }
    if (this._yMetric !== null) {
      const label = xChoices(this._stats).find(c => c.key === this._xKey)?.label ?? this._xKey;
      drawEfficacy(this._efficacy, efficacyPoints(this._rows, this._stats, this._xKey, this._yMetric), {
        xKey: this._xKey,
        xLabel: label,
        metric: this._yMetric,
        onPick: p => void this._restore(p.datasetId)
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
    // What each curve is as far as the run list says: a curve whose last point, first step and
    // status did not change is not read again (a finished run's million points are read once).
    const byId = new Map(this._rows.map(r => [r.id, r]));
    const signature = (id: string) => {
      const r = byId.get(id);
      const m = r?.metrics[key];
      return JSON.stringify([r?.status ?? null, m?.step ?? null, m?.value ?? null, m?.firstStep ?? null]);
    };
    const cacheKey = (id: string) => `${key}\u0000${id}`;
    // Typing in the filter box or sorting redraws nothing when the same curves are drawn already.
    const drawn = JSON.stringify([ids, key, ids.map(signature), this._stats.length, this._curves.clientWidth]);
    if (drawn === this._curvesDrawn) {
      return;
    }
    this._curvesDrawn = drawn;
    const ticket = ++this._curveTicket;
    const names = new Map(this._rows.map(r => [r.id, r.name]));
    const stale = ids.filter(id => this._curveCache.get(cacheKey(id))?.signature !== signature(id));
    const read = stale.length > 0 ? this._options.curves(stale, last.name, last.context) : Promise.resolve([]);
    void read.then(
      curves => {
        curves.forEach(c => this._curveCache.set(cacheKey(c.runId), { signature: signature(c.runId), curve: c }));
        if (ticket === this._curveTicket && !this._disposed) {
          // Only what is drawn stays cached (a long curve is not kept for a run unticked).
          const keep = new Set(ids.map(cacheKey));
          [...this._curveCache.keys()].filter(k => !keep.has(k)).forEach(k => this._curveCache.delete(k));
          const all = ids.map(id => this._curveCache.get(cacheKey(id))?.curve).filter((c): c is IRunCurve => c !== undefined);
          drawCurves(this._curves, curveSeries(all, names, this._stats.length), key);
        }
      },
      (error: Error) => {
        if (ticket === this._curveTicket && !this._disposed) {
          this._curvesDrawn = null; // try again on the next render
          this._curves.replaceChildren(h('p', { class: 'jp-DSI-error', role: 'alert' }, `Cannot read the curves: ${error.message}`));
        }
      }
    );
  }

  private readonly _search = filterBox('Filter by name, dataset, status or parameter', 'Filter runs', () => this._render());
  private readonly _curves = document.createElement('div');
  /** The page's parts: a failed read, the bar (built once), the table, the charts. */
  private readonly _errorSlot = h('div', { class: 'jp-DSI-runsError' });
  private readonly _count = h('span', { class: 'jp-DSI-hint' });
  private readonly _pickerSlot = h('span', { class: 'jp-DSI-pickerSlot' });
  private readonly _tableSlot = h('div', { class: 'jp-DSI-runsTableSlot' });
  private readonly _chartsSlot = h('div', { class: 'jp-DSI-runsChartsSlot' });
  private readonly _efficacy = document.createElement('div');
  private readonly _proposals: ProposalList | null;
  private readonly _form: ProposalForm | null;
  /** The run whose Propose… opened the form: the focus goes back there when it closes. */
  private _opener: string | null = null;
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
  /** What the curves show (runs, metric, their signatures, width), to skip drawing them again. */
  private _curvesDrawn: string | null = null;
  /** Curves read, by metric and run, with what the run list said of them then. */
  private _curveCache = new Map<string, { signature: string; curve: IRunCurve }>();
  /** The dataset ids the stats were read for (null: not yet). */
  private _statsFor: Set<string> | null = null;
  private _error: string | null = null;
  private _resize: ResizeObserver | null = null;
  private _disposed = false;
  private _highlighted: string | null = null;
  private _pendingSelect: string | null = null;
  private _heartbeatTimer = 0;
  private _loadTicket = 0;
  private _xKey = 'size';
  private _yMetric: string | null = null;
}

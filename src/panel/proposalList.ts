/**
 * The Runs page's "Proposals" section (issue 16 §4): the recorded proposals (`jupyter dsi
 * propose --db`, the Propose… form) in a sortable table with their policy and how many of their
 * points were simulated since; one at a time is drawn over the explorer's views (Show / Hide).
 * Each row's CSV downloads its points as `jupyter dsi proposals --db FILE ID` prints them, the
 * file `jupyter dsi sample OUT --params` reads. Records are immutable, so a refresh only adds
 * rows: the sort and the shown row stay.
 */
import type { IProposalRecord } from '../db/proposals';
import { format } from '../views/efficacy';
import { formatCount, formatDate, h, nodes } from './dom';
import { download } from './exportViews';
import { compareCells, ISort, sortHeader } from './sortTable';

export interface IProposalListOptions {
  proposals: () => Promise<IProposalRecord[]>;
  /** Draw one proposal over the explorer (null hides it); absent: no Show buttons. */
  showProposal?: (id: string | null) => Promise<void>;
  /**
   * A proposal's points as the text of a CSV file (the server's, byte for byte the CLI's), saved
   * as `proposal-<id8>.csv`; rejects with Error(one line). Absent: no CSV buttons.
   */
  proposalCsv?: (id: string) => Promise<string>;
}

/** The name a proposal's points are downloaded as: `proposal-` and the id's first 8 characters. */
export function proposalCsvName(id: string): string {
  return `proposal-${id.slice(0, 8).replace(/[^\w-]/g, '_')}.csv`;
}

type Key = 'created' | 'run' | 'n' | 'seed' | 'alpha' | 'linked';


const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

const entries = (value: unknown): [string, unknown][] =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [];

/** The policy's α (1 when not recorded: eq. 4 alone). */
export function policyAlpha(record: IProposalRecord): number {
  return num(record.policy.alpha) ?? 1;
}

export function policySeed(record: IProposalRecord): number | null {
  return num(record.policy.seed);
}

/** τ as given: "energy 0.1, cs 0.05"; "spacing" when every τ was the study set's spacing. */
export function tauSummary(record: IProposalRecord): string {
  const given = entries(record.policy.tau).filter(([, v]) => num(v) !== null);
  return given.length === 0 ? 'spacing' : given.map(([k, v]) => `${k} ${format(v as number)}`).join(', ');
}

/** The whole policy, a line per option, for the row's title. */
export function policyText(record: IProposalRecord): string {
  const p = record.policy;
  const bounds = entries(p.bounds)
    .filter(([, v]) => Array.isArray(v) && v.length === 2)
    .map(([k, v]) => `${k} ${(v as unknown[]).map(x => (typeof x === 'number' ? format(x) : String(x))).join('..')}`);
  const lines = [
    `Proposal ${record.id}`,
    record.author ? `by ${record.author}` : '',
    typeof p.target === 'string' ? `target: ${p.target}` : '',
    `τ: ${tauSummary(record)}`,
    `bounds: ${bounds.length > 0 ? bounds.join(', ') : 'the study set’s range'}`,
    `α: ${format(policyAlpha(record))}${typeof p.entropy_column === 'string' ? ` (entropy column ${p.entropy_column})` : ''}`,
    typeof p.prior_column === 'string' ? `prior column: ${p.prior_column}` : '',
    Array.isArray(p.continuous) && p.continuous.length > 0 ? `spread between levels: ${p.continuous.map(String).join(', ')}` : ''
  ];
  return lines.filter(Boolean).join('\n');
}

/** "12 of 20 simulated". */
export function linkedText(record: IProposalRecord): string {
  return `${formatCount(record.linked)} of ${formatCount(record.n)} simulated`;
}

/** What the table shows of the records: their ids, how many points each has and has simulated. */
function signature(records: readonly IProposalRecord[]): string {
  return records.map(r => `${r.id}:${r.n}:${r.linked}`).join('|');
}

/** Set a node's text only when it changed (a live region announces each change). */
function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

function messageOf(error: unknown): string {
  return (error as Error)?.message || String(error);
}

export class ProposalList {
  readonly node = h('section', { class: 'jp-DSI-runsChart jp-DSI-proposals', 'aria-label': 'Proposals' });

  constructor(private readonly _options: IProposalListOptions) {
    this._render();
  }

  /** The records the last refresh read, in their order there. */
  get records(): readonly IProposalRecord[] {
    return this._records;
  }

  /** The proposal drawn over the explorer (null: none). */
  get shown(): string | null {
    return this._shown;
  }

  /** Read the records again; never rejects (a failed read is said in the section). */
  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    try {
      const records = await this._options.proposals();
      if (ticket !== this._ticket) {
        return;
      }
      const unchanged = this._error === null && signature(records) === this._rendered;
      this._records = records;
      this._error = null;
      if (this._shown !== null && !records.some(r => r.id === this._shown)) {
        this._shown = null; // another file: its overlay went with the explorer's data
      }
      if (unchanged) {
        return; // the Runs page's catch-up every few seconds: the same records, nothing redrawn
      }
    } catch (error) {
      if (ticket !== this._ticket) {
        return;
      }
      this._error = `Cannot read the proposals: ${messageOf(error)}`;
      console.error('jupyterlab-dsi: cannot read the proposals', error);
    }
    this._render();
  }

  /**
   * Draw `id` over the explorer (null: hide); the row shows it. A failure is said, the mark
   * stays as it was. `focus`: its row's Hide gets the focus (a proposal just recorded).
   */
  async show(id: string | null, focus = false): Promise<void> {
    if (!this._options.showProposal) {
      return;
    }
    if (focus && id !== null) {
      this._focusAfter = `show:${id}`;
    }
    try {
      await this._options.showProposal(id);
      this._shown = id;
      this._error = null;
    } catch (error) {
      this._error = `Cannot ${id === null ? 'hide' : 'show'} the proposal: ${messageOf(error)}`;
      console.error('jupyterlab-dsi: cannot show the proposal', error);
    }
    this._render();
    this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(this._focusAfter ?? '')}"]`)?.focus({ preventScroll: true });
    this._focusAfter = null;
  }

  /**
   * Download `id`'s points as CSV, through the browser's download (as the explorer's selection
   * CSV). A failure is said in the list, in one line; a second click while one is read is ignored.
   */
  async downloadCsv(id: string): Promise<void> {
    const read = this._options.proposalCsv;
    if (!read || this._downloading.has(id)) {
      return;
    }
    this._downloading.add(id);
    try {
      const text = await read(id);
      download(new Blob([text], { type: 'text/csv' }), proposalCsvName(id));
      if (this._error !== null) {
        this._error = null;
        this._render();
      }
    } catch (error) {
      this._error = `Cannot download the proposal’s points: ${messageOf(error)}`;
      console.error('jupyterlab-dsi: cannot download the proposal', error);
      this._render();
    } finally {
      this._downloading.delete(id);
    }
  }

  /** A line under the heading (a proposal just recorded); empty clears it. */
  say(text: string): void {
    this._note = text;
    this._render();
  }

  private _value(r: IProposalRecord, key: Key): string | number | null {
    switch (key) {
      case 'created':
        return r.createdAt;
      case 'run':
        return r.runName ?? r.runId;
      case 'n':
        return r.n;
      case 'seed':
        return policySeed(r);
      case 'alpha':
        return policyAlpha(r);
      case 'linked':
        return r.linked;
    }
  }

  private _render(): void {
    const onSort = (next: ISort<Key>) => {
      this._sort = next;
      this._render();
    };
    const head = (key: Key, label: string, descendingFirst = false) => {
      const th = sortHeader(key, label, this._sort, onSort, descendingFirst);
      th.querySelector('button')!.dataset.focusKey = `sort:${key}`;
      return th;
    };
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && this.node.contains(active) ? active.dataset.focusKey ?? null : null;
    const rows = [...this._records].sort((a, b) => compareCells(this._value(a, this._sort.key), this._value(b, this._sort.key), this._sort.ascending));
    const canShow = this._options.showProposal !== undefined;
    const canCsv = this._options.proposalCsv !== undefined;
    // The heading and the live lines stay in place (a screen reader announces a line once, when
    // its text changes); only the table under them is built again.
    if (this._heading.parentNode !== this.node) {
      this.node.replaceChildren(this._heading, this._errorLine, this._noteLine, this._body);
    }
    setText(this._heading, `Proposals (${formatCount(this._records.length)})`);
    setText(this._errorLine, this._error ?? '');
    this._errorLine.hidden = !this._error;
    setText(this._noteLine, this._note);
    this._noteLine.hidden = !this._note;
    this._rendered = signature(this._records);
    this._body.replaceChildren(
      ...nodes(
      rows.length === 0
        ? this._error
          ? null
          : h(
              'p',
              { class: 'jp-DSI-hint' },
              'No proposals yet: a proposal comes from Propose… on a run that logged sigma2, or from ',
              h('code', {}, 'jupyter dsi propose --db FILE --run RUN --n N --seed S'),
              '.'
            )
        : h(
            'div',
            { class: 'jp-DSI-tableScroll' },
            h(
              'table',
              { class: 'jp-DSI-table jp-DSI-runsTable jp-DSI-proposalsTable' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  head('created', 'Created', true),
                  head('run', 'Run'),
                  head('n', 'n', true),
                  head('seed', 'Seed'),
                  head('alpha', 'α'),
                  h('th', { scope: 'col' }, 'τ'),
                  head('linked', 'Simulated', true),
                  canShow ? h('th', { scope: 'col' }, h('span', { class: 'jp-DSI-visuallyHidden' }, 'Show over the explorer')) : null,
                  canCsv ? h('th', { scope: 'col' }, h('span', { class: 'jp-DSI-visuallyHidden' }, 'Download the points as CSV')) : null
                )
              ),
              h('tbody', {}, ...rows.map(r => this._row(r, canShow, canCsv)))
            )
          )
      )
    );
    if (focusKey !== null) {
      this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
    }
  }

  private _row(r: IProposalRecord, canShow: boolean, canCsv: boolean): HTMLElement {
    const shown = r.id === this._shown;
    const seed = policySeed(r);
    const alpha = policyAlpha(r);
    const run = r.runName ?? (r.runId ? r.runId.slice(0, 8) : '—');
    const label = r.runName ? `proposal of ${r.runName}, ${formatDate(r.createdAt)}` : `proposal ${r.id.slice(0, 8)}`;
    let toggle: HTMLElement | null = null;
    if (canShow) {
      toggle = h(
        'button',
        {
          class: 'jp-DSI-linkButton',
          type: 'button',
          'aria-label': `${shown ? 'Hide' : 'Show'} the ${label} over the explorer`,
          title: shown ? 'Hide it from the explorer’s views' : 'Draw its points over the explorer’s views (dashed lines, hollow marks)',
          'data-focus-key': `show:${r.id}`
        },
        shown ? 'Hide' : 'Show'
      );
      toggle.addEventListener('click', () => {
        this._focusAfter = `show:${r.id}`;
        void this.show(shown ? null : r.id);
      });
    }
    let csv: HTMLElement | null = null;
    if (canCsv) {
      csv = h(
        'button',
        {
          class: 'jp-DSI-linkButton',
          type: 'button',
          'aria-label': `Download the points of the ${label} as CSV`,
          title: `Download its points as ${proposalCsvName(r.id)}: what jupyter dsi proposals --db FILE ID prints, and jupyter dsi sample OUT --params reads`,
          'data-focus-key': `csv:${r.id}`
        },
        'CSV'
      );
      csv.addEventListener('click', () => void this.downloadCsv(r.id));
    }
    return h(
      'tr',
      { 'data-proposal-id': r.id, title: policyText(r), ...(shown ? { class: 'jp-mod-shown', 'aria-current': 'true' } : {}) },
      h('td', {}, formatDate(r.createdAt)),
      h('td', { class: 'jp-DSI-runName' }, h('span', { class: 'jp-DSI-runNameText' }, run)),
      h('td', { class: 'jp-DSI-numeric' }, formatCount(r.n)),
      h('td', { class: 'jp-DSI-numeric' }, seed === null ? '' : String(seed)),
      h(
        'td',
        { class: 'jp-DSI-numeric' },
        format(alpha),
        typeof r.policy.entropy_column === 'string' && alpha < 1 ? h('span', { class: 'jp-DSI-hint' }, ` · ${r.policy.entropy_column}`) : null
      ),
      h('td', { class: 'jp-DSI-proposalTau' }, tauSummary(r)),
      h('td', {}, linkedText(r)),
      toggle ? h('td', {}, toggle) : null,
      csv ? h('td', {}, csv) : null
    );
  }

  private _records: IProposalRecord[] = [];
  private _sort: ISort<Key> = { key: 'created', ascending: false };
  private _shown: string | null = null;
  private _error: string | null = null;
  private _note = '';
  private _ticket = 0;
  /** The records' signature the table was last built from. */
  private _rendered = '';
  private readonly _heading = h('h3', {});
  private readonly _errorLine = h('p', { class: 'jp-DSI-error', role: 'alert', 'data-testid': 'dsi-proposals-error', hidden: '' });
  private readonly _noteLine = h('p', { class: 'jp-DSI-saved', role: 'status', 'data-testid': 'dsi-proposals-note', hidden: '' });
  private readonly _body = h('div', { class: 'jp-DSI-proposalsBody' });
  private _focusAfter: string | null = null;
  /** The proposals whose CSV is being read. */
  private readonly _downloading = new Set<string>();
}

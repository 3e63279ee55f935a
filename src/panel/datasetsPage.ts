/**
 * The datasets page: every saved training dataset of the open database, sortable and
 * filterable, with restore (back to the exact saved view and selection), export (saved as a file
 * next to the linked notebook on the server, or downloaded), and delete (a tombstone, after
 * confirmation, with undo). Rows come from the worker's replica.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';

import type { IDatasetInfo } from '../db/slices';
import type { ISplitInfo } from '../db/datasetRecords';
import type { IMethod } from '../db/api';
import { formatSplitParts } from '../db/runs';
import { featureFormula } from '../model/feature';
import { stepText } from '../model/steps';
import { deleteDataset, exportDataset, type ExportFormat, restoreDataset, saveExport, type TextExportFormat } from '../server';
import { formatCount, formatDate, h } from './dom';
import { compareCells, filterBox, ISort, sortHeader } from './sortTable';

const MEMBERS_SHOWN = 500;


/** Every format the server writes (docs/exports.md): Save next to the notebook offers them all. */
const EXPORT_FORMATS: [ExportFormat, string][] = [
  ['json', 'JSON'],
  ['card', 'Dataset card (Markdown)'],
  ['prov', 'PROV-JSON'],
  ['datacite', 'DataCite 4.5 (JSON)'],
  ['croissant', 'Croissant 1.1 (+ members CSV)'],
  ['rocrate', 'RO-Crate 1.1 (folder)']
];

/** The formats that are one text file, which the browser can download, and their endings. */
const DOWNLOAD_ENDINGS: Record<TextExportFormat, string> = {
  json: '.json',
  card: '.md',
  prov: '.prov.json',
  datacite: '.datacite.json'
};

type SortKey = 'name' | 'description' | 'size' | 'method' | 't' | 'createdAt' | 'digest';

export interface IDatasetsPageOptions {
  path: () => string | null;
  methods: () => readonly IMethod[];
  load: () => Promise<IDatasetInfo[]>;
  /** Bring the explorer back to a dataset's saved settings. */
  restore: (dataset: IDatasetInfo) => Promise<void>;
  /** Restore, then make the next save a child of this dataset. */
  derive: (dataset: IDatasetInfo) => Promise<void>;
  /** Select exactly these simulations in both views, at the dataset's method and step. */
  highlight: (dataset: IDatasetInfo, members: string[]) => Promise<void> | void;
  members: (dataset: IDatasetInfo) => Promise<string[]>;
  /** Parameter values of a simulation, for the members table. */
  describe: (simId: string) => (string | number)[];
  parameterNames: () => string[];
  /** Write the dataset's provenance cells into the linked notebook (absent: no notebooks). */
  insertProvenance?: (dataset: IDatasetInfo) => void;
  /** The file changed on the server: catch the replica up. */
  changed: () => Promise<void>;
  /** Simulated times by step, shown beside a dataset's step when the source recorded them. */
  times?: () => readonly number[];
  /**
   * The linked notebook's path, relative to the server's root (null: none linked). Export →
   * "Save next to the notebook" writes in its folder; without one, next to the database.
   */
  notebookPath?: () => string | null;
  /** Open a file the page wrote on the server, as a document or shown in the file browser. */
  openFile?: (path: string, where: 'document' | 'browser') => void;
  /** Show the dataset's lineage graph (absent: no Lineage action). */
  lineage?: (dataset: IDatasetInfo) => Promise<void> | void;
  /** The dataset's splits (absent: no Splits action); `splitPart` lists one part's members. */
  splits?: (dataset: IDatasetInfo) => Promise<ISplitInfo[]>;
  splitPart?: (splitId: string, part: string) => Promise<string[]>;
  /** Simulations ingested after each dataset that its filter now matches, by id (null: unknown). */
  newMatches?: (ids: string[]) => Promise<Record<string, number | null>>;
}

const COLUMNS: [SortKey, string][] = [
  ['name', 'Name'],
  ['description', 'Description'],
  ['size', 'Size'],
  ['method', 'Method'],
  ['t', 'Step'],
  ['createdAt', 'Created'],
  ['digest', 'Digest']
];

/** Ids of the hidden texts that say why a dataset is stale: unique across explorers. */
let staleTexts = 0;

/** A failure's message, in one line. */
function messageOf(error: unknown): string {
  return (error as Error)?.message || String(error);
}

export class DatasetsPage {
  readonly node = h('section', { class: 'jp-DSI-datasets', 'aria-label': 'Saved training datasets' });

  constructor(private readonly _options: IDatasetsPageOptions) {
    // Built once: a render replaces what is under the bar, never the filter box the user types in.
    this.node.append(this._status, h('div', { class: 'jp-DSI-datasetsBar' }, this._search, this._count), this._content);
  }

  /**
   * Read the datasets again (and then their new matches). An older read that answers after a
   * newer one is dropped; a failed one is said in a line on the page, the rows as last read.
   */
  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    let rows: IDatasetInfo[];
    try {
      rows = await this._options.load();
    } catch (error) {
      if (ticket === this._ticket) {
        this._loadError = `Cannot read the datasets: ${messageOf(error)}`;
        this._render();
      }
      return;
    }
    if (ticket !== this._ticket) {
      return;
    }
    this._rows = rows;
    this._loadError = null;
    this._render();
    if (this._options.newMatches) {
      const ids = this._rows.filter(d => !d.deleted).map(d => d.id);
      const counts = await this._options.newMatches(ids).catch(() => ({}));
      if (ticket !== this._ticket) {
        return;
      }
      // Only a count above 0 draws a note (_newMatchesNote): when those are the ones drawn
      // already (a save: the new dataset's is 0), the page is not drawn a second time.
      const notes = (c: Record<string, number | null>) => JSON.stringify(Object.entries(c).filter(([, n]) => n).sort());
      const same = notes(counts) === notes(this._newMatches);
      this._newMatches = counts;
      if (!same) {
        this._render();
      }
    }
  }

  /** The dataset the page points at: the row acted on last, or the one saved last (null: none). */
  get current(): string | null {
    return this._current ?? this._saved?.id ?? null;
  }

  /** Point at a dataset just saved: a line saying so, and its row marked and scrolled to. */
  showSaved(id: string, text: string): void {
    this._saved = { id, text };
    this._current = null;
    this._render();
  }

  private _methodLabel(id: string | null): string {
    const m = this._options.methods().find(x => x.id === id);
    return m ? `${m.groundTruth} · ${m.norm}` : id ? id.slice(0, 8) : '—';
  }

  private _value(d: IDatasetInfo, key: SortKey): string | number {
    switch (key) {
      case 'method':
        return this._methodLabel(d.methodId);
      case 't':
        return d.t ?? -1;
      case 'size':
        return d.size;
      default:
        return String(d[key]);
    }
  }

  /**
   * Run a row's action; a failure (a rejection or a throw) is said in a line on the page rather
   * than lost as an unhandled rejection.
   */
  private _act(label: string, run: () => Promise<unknown> | unknown): void {
    if (this._actionError) {
      this._actionError = null;
      this._render();
    }
    const fail = (error: unknown) => {
      console.error(`jupyterlab-dsi: ${label} failed`, error);
      this._actionError = `${label} failed: ${messageOf(error)}`;
      this._render();
    };
    try {
      void Promise.resolve(run()).catch(fail); // started now, as the click happens
    } catch (error) {
      fail(error);
    }
  }

  private _render(): void {
    // The control that had the focus is drawn again: give the focus to its replacement.
    const active = document.activeElement as HTMLElement | null;
    const focusKey = active && this._content.contains(active) ? active.dataset.focusKey : undefined;
    this._draw();
    if (focusKey) {
      const again = [...this._content.querySelectorAll<HTMLElement>('[data-focus-key]')].find(e => e.dataset.focusKey === focusKey);
      again?.focus({ preventScroll: true });
    }
  }

  private _draw(): void {
    const query = this._search.value.trim().toLowerCase();
    const live = this._rows.filter(d => !d.deleted);
    if (this._membersOf && !live.some(d => d.id === this._membersOf)) {
      // Its dataset was deleted (here, by a kernel or in a shell): its members table goes too.
      this._members = null;
      this._membersOf = null;
    }
    const rows = live
      .filter(d => !query || [d.name, d.description, d.filter, d.weights ? featureFormula(d.weights) : ''].some(t => t.toLowerCase().includes(query)))
      .sort((a, b) => compareCells(this._value(a, this._sort.key), this._value(b, this._sort.key), this._sort.ascending));
    const onSort = (next: ISort<SortKey>) => {
      this._sort = next;
      this._render();
    };
    const header = h(
      'tr',
      {},
      // Created sorts newest first on its first click; the others A to Z, smallest first.
      ...COLUMNS.map(([key, label]) => {
        const th = sortHeader(key, label, this._sort, onSort, key === 'createdAt');
        th.querySelector('button')?.setAttribute('data-focus-key', `sort:${key}`);
        return th;
      }),
      h('th', { scope: 'col' }, h('span', { class: 'jp-DSI-visuallyHidden' }, 'Actions'))
    );
    const body = rows.map(d => this._row(d));
    const saved = this._saved;
    this._status.replaceChildren(
      ...(saved ? [h('p', { class: 'jp-DSI-saved', role: 'status', 'data-testid': 'dsi-saved' }, saved.text)] : []),
      ...[this._loadError, this._actionError]
        .filter((line): line is string => line !== null)
        .map(line => h('p', { class: 'jp-DSI-error', role: 'alert', 'data-testid': 'dsi-datasets-error' }, line))
    );
    this._count.textContent = `${formatCount(live.length)} datasets`;
    this._content.replaceChildren(
      rows.length === 0
        ? h('p', { class: 'jp-DSI-hint' }, live.length === 0 ? 'No datasets yet: select simulations in the explorer and press Save….' : 'No dataset matches this filter.')
        : h('div', { class: 'jp-DSI-tableScroll' }, h('table', { class: 'jp-DSI-table jp-DSI-datasetsTable' }, h('thead', {}, header), h('tbody', {}, ...body))),
      ...(this._members ? [this._members] : [])
    );
    const row = saved ? body.find(tr => tr.dataset.datasetId === saved.id) : undefined;
    if (row?.isConnected && typeof row.scrollIntoView === 'function') {
      row.scrollIntoView({ block: 'nearest' }); // (jsdom has no scrolling)
    }
  }

  private _row(d: IDatasetInfo): HTMLElement {
    const action = (label: string, title: string, run: () => Promise<void> | void) => {
      const b = h('button', { class: 'jp-DSI-button jp-mod-styled', type: 'button', title, 'data-focus-key': `${d.id}:${label}` }, label);
      b.addEventListener('click', () => {
        this._current = d.id;
        this._act(`${label} of “${d.name}”`, run);
      });
      return b;
    };
    // Save: a file on the server, in the workspace (a JupyterHub user keeps it); Download: the browser's.
    const save = h('optgroup', { label: this._saveLabel() }, ...EXPORT_FORMATS.map(([f, label]) => h('option', { value: `save:${f}` }, label)));
    const exportMenu = h('select', { class: 'jp-DSI-select jp-mod-styled', 'aria-label': `Export ${d.name}`, 'data-focus-key': `${d.id}:export` },
      h('option', { value: '' }, 'Export…'),
      save,
      h(
        'optgroup',
        { label: 'Download' },
        ...EXPORT_FORMATS.filter(([f]) => f in DOWNLOAD_ENDINGS).map(([f, label]) => h('option', { value: `download:${f}` }, label))
      )
    );
    // The linked notebook may have changed since the row was drawn: name the folder as it is now.
    const relabel = () => save.setAttribute('label', this._saveLabel());
    exportMenu.addEventListener('focus', relabel);
    exportMenu.addEventListener('pointerdown', relabel);
    exportMenu.addEventListener('change', () => {
      const [how, format] = exportMenu.value.split(':') as ['save' | 'download', ExportFormat];
      exportMenu.value = '';
      if (how === 'save') {
        this._act(`Export of “${d.name}”`, () => this._save(d, format));
      } else if (how === 'download' && format in DOWNLOAD_ENDINGS) {
        this._act(`Export of “${d.name}”`, () => this._export(d, format as TextExportFormat));
      }
    });
    return h(
      'tr',
      { 'data-dataset-id': d.id, ...(this._saved?.id === d.id ? { class: 'jp-mod-saved', 'aria-current': 'true' } : {}) },
      h(
        'td',
        { class: 'jp-DSI-datasetName' },
        d.name,
        ...this._staleBadge(d)
      ),
      h('td', { class: 'jp-DSI-description' }, d.description, this._newMatchesNote(d)),
      h('td', { class: 'jp-DSI-numeric' }, formatCount(d.size)),
      h(
        'td',
        {},
        this._methodLabel(d.methodId),
        d.weights ? h('div', { class: 'jp-DSI-hint jp-DSI-formula' }, featureFormula(d.weights)) : null
      ),
      h('td', {}, stepText(d.t, this._options.times?.() ?? [])),
      h('td', { title: d.createdAt }, formatDate(d.createdAt)),
      h('td', { title: d.digest }, h('code', {}, d.digest.replace('sha256:', '').slice(0, 10))),
      h(
        'td',
        { class: 'jp-DSI-rowActions' },
        action('Restore', 'Bring the explorer back to the settings that made this dataset', () => this._options.restore(d)),
        action('Members', 'List the members and highlight them in both views', () => this._showMembers(d)),
        action('Derive', 'Restore its settings; the next save records this dataset as its parent', () => this._options.derive(d)),
        this._options.splits ? action('Splits', 'List its splits (train, validation, test…) and highlight a part in the views', () => this._showSplits(d)) : null,
        this._options.lineage
          ? action('Lineage', 'Draw where it came from and what was made from it: sources, method, splits, runs, artifacts', () => this._options.lineage!(d))
          : null,
        exportMenu,
        this._options.insertProvenance
          ? action('Cell', 'Insert its provenance cells (record and %dsi load) into the linked notebook', () =>
              this._options.insertProvenance!(d)
            )
          : null,
        action('Delete', 'Delete this dataset (it can be undone)', () => this._delete(d))
      )
    );
  }

  /**
   * The stale badge, focusable, and why in a visually hidden text it points at
   * (aria-describedby): the reasons reach the keyboard and screen readers, not only a hover.
   */
  private _staleBadge(d: IDatasetInfo): HTMLElement[] {
    if (d.stale.length === 0) {
      return [];
    }
    const id = `jp-DSI-staleWhy-${++staleTexts}`;
    return [
      h('span', { class: 'jp-DSI-staleBadge', tabindex: '0', title: `Stale: ${d.stale.join('\n')}`, 'aria-describedby': id, 'data-testid': 'dsi-stale', 'data-focus-key': `${d.id}:stale` }, 'stale'),
      h('span', { class: 'jp-DSI-visuallyHidden', id, 'data-testid': 'dsi-stale-why' }, `Stale: ${d.stale.join('; ')}`)
    ];
  }

  /** "N new simulations match this dataset's filter": a way to a new version that takes them. */
  private _newMatchesNote(d: IDatasetInfo): HTMLElement | null {
    const n = this._newMatches[d.id];
    if (!n) {
      return null;
    }
    const b = h(
      'button',
      { class: 'jp-DSI-linkButton', type: 'button', 'data-testid': 'dsi-new-matches', 'data-focus-key': `${d.id}:new`, title: 'Restore its settings over the simulations there are now; the next save records this dataset as its parent' },
      `${formatCount(n)} new simulation${n === 1 ? '' : 's'} match${n === 1 ? 'es' : ''} this dataset’s filter: derive a new version`
    );
    b.addEventListener('click', () => this._act(`Derive of “${d.name}”`, () => this._options.derive(d)));
    return h('div', {}, b);
  }

  /** The dataset's splits, each part a button that highlights its members in the views. */
  private async _showSplits(d: IDatasetInfo): Promise<void> {
    const splits = await this._options.splits!(d);
    const part = (split: ISplitInfo, p: ISplitInfo['parts'][number]) => {
      const b = h(
        'button',
        { class: 'jp-DSI-button jp-mod-styled', type: 'button', title: `Highlight the ${formatCount(p.size)} simulations of “${p.name}” in the views` },
        `${p.name} · ${formatCount(p.size)}`
      );
      b.addEventListener('click', () =>
        this._act(`Highlight of “${p.name}”`, async () => {
          const members = await this._options.splitPart!(split.id, p.name);
          await this._options.highlight(d, members);
        })
      );
      return b;
    };
    const live = splits.filter(s => !s.deleted);
    this._membersOf = d.id;
    this._members = h(
      'section',
      { class: 'jp-DSI-members jp-DSI-splits', 'aria-label': `Splits of ${d.name}` },
      h('div', { class: 'jp-DSI-datasetsBar' }, h('h3', {}, `Splits of “${d.name}” (${formatCount(live.length)})`)),
      live.length === 0
        ? h('p', { class: 'jp-DSI-hint' }, 'No splits yet: make one with ds.split(...) in Python or `jupyter dsi split`.')
        : h(
            'div',
            { class: 'jp-DSI-tableScroll' },
            h(
              'table',
              { class: 'jp-DSI-table' },
              h(
                'thead',
                {},
                h('tr', {}, ...['Parts (highlight one)', 'Fractions', 'Seed', 'Stratified on', 'Created', 'Id'].map(t => h('th', { scope: 'col' }, t)))
              ),
              h(
                'tbody',
                {},
                ...live.map(split =>
                  h(
                    'tr',
                    { 'data-split-id': split.id },
                    h('td', { class: 'jp-DSI-rowActions' }, ...split.parts.map(p => part(split, p))),
                    h('td', {}, formatSplitParts(split.parts)),
                    h('td', { class: 'jp-DSI-numeric' }, String(split.seed)),
                    h('td', {}, split.stratify ?? '—'),
                    h('td', { title: split.createdAt }, formatDate(split.createdAt)),
                    h('td', { title: split.id }, h('code', {}, split.id.slice(0, 8)))
                  )
                )
              )
            )
          )
    );
    this._render();
  }

  private async _showMembers(d: IDatasetInfo): Promise<void> {
    const members = await this._options.members(d);
    const names = this._options.parameterNames();
    const shown = members.slice(0, MEMBERS_SHOWN);
    const highlight = h('button', { class: 'jp-DSI-button jp-mod-styled jp-mod-accept', type: 'button' }, 'Highlight in the views');
    highlight.addEventListener('click', () => this._act(`Highlight of “${d.name}”`, () => this._options.highlight(d, members)));
    this._membersOf = d.id;
    this._members = h(
      'section',
      { class: 'jp-DSI-members', 'aria-label': `Members of ${d.name}` },
      h(
        'div',
        { class: 'jp-DSI-datasetsBar' },
        h('h3', {}, `Members of “${d.name}” (${formatCount(members.length)})`),
        highlight
      ),
      h(
        'div',
        { class: 'jp-DSI-tableScroll' },
        h(
          'table',
          { class: 'jp-DSI-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'sim_id'), ...names.map(n => h('th', { scope: 'col' }, n)))),
          h('tbody', {}, ...shown.map(id => h('tr', {}, h('td', {}, id), ...this._options.describe(id).map(v => h('td', {}, String(v))))))
        )
      ),
      members.length > shown.length
        ? h('p', { class: 'jp-DSI-hint' }, `The first ${formatCount(shown.length)} of ${formatCount(members.length)}; export the dataset for all of them.`)
        : null
    );
    this._render();
  }

  /** Where "Save" writes: the linked notebook's folder, else (null) the database's. */
  private _notebookFolder(): string | null {
    const notebook = this._options.notebookPath?.() ?? null;
    return notebook === null ? null : PathExt.dirname(notebook);
  }

  private _saveLabel(): string {
    return this._notebookFolder() === null ? 'Save next to the database' : 'Save next to the notebook';
  }

  /** Write the export as a new file on the server; say where, with a way to open it. */
  private async _save(d: IDatasetInfo, format: ExportFormat): Promise<void> {
    const path = this._options.path();
    if (!path) {
      return;
    }
    const folder = this._notebookFolder();
    let saved: { path: string; files?: string[] };
    try {
      // The server takes every format of EXPORT_FORMATS (its check_export); the cast keeps this
      // compiling while server.ts's saveExport still names only the first three.
      saved = await saveExport(path, d.id, format, folder ?? undefined);
    } catch (error) {
      Notification.error(`Not saved: ${(error as Error).message}`);
      return;
    }
    const open = this._options.openFile;
    // Croissant: the JSON-LD and its members CSV beside it; RO-Crate: a folder (shown, not opened).
    // Named by their file names only: a notification shows its first 140 characters.
    const others = (saved.files ?? [])
      .filter(file => file !== saved.path && !file.startsWith(`${saved.path}/`))
      .map(file => PathExt.basename(file));
    const isFolder = format === 'rocrate';
    Notification.success(`Saved “${d.name}” as ${saved.path}${isFolder ? '/' : ''}${others.length ? ` and ${others.join(', ')}` : ''}`, {
      autoClose: 15000,
      actions: open
        ? [
            ...(isFolder ? [] : [{ label: 'Open', callback: () => open(saved.path, 'document') }]),
            { label: 'Show in file browser', callback: () => open(saved.path, 'browser') }
          ]
        : []
    });
  }

  private async _export(d: IDatasetInfo, format: TextExportFormat): Promise<void> {
    const path = this._options.path();
    if (!path) {
      return;
    }
    try {
      const text = await exportDataset(path, d.id, format);
      const type = format === 'card' ? 'text/markdown' : 'application/json';
      const suffix = DOWNLOAD_ENDINGS[format];
      const url = URL.createObjectURL(new Blob([text], { type }));
      const link = h('a', { href: url, download: `${d.name.replace(/[^\w.-]+/g, '_') || d.id}${suffix}` });
      document.body.appendChild(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
    } catch (error) {
      Notification.error(`Export failed: ${(error as Error).message}`);
    }
  }

  private async _delete(d: IDatasetInfo): Promise<void> {
    const path = this._options.path();
    if (!path) {
      return;
    }
    const answer = await showDialog({
      title: 'Delete training dataset?',
      body: `“${d.name}” (${formatCount(d.size)} simulations) will be hidden from lists. Its record stays in the file and the deletion can be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await deleteDataset(path, d.id);
    } catch (error) {
      Notification.error(`Not deleted: ${(error as Error).message}`);
      return;
    }
    await this._options.changed();
    Notification.info(`Deleted “${d.name}”.`, {
      autoClose: 10000,
      actions: [
        {
          label: 'Undo',
          callback: () => {
            void restoreDataset(path, d.id)
              .then(() => this._options.changed())
              .catch(error => Notification.error(`Undo failed: ${(error as Error).message}`));
          }
        }
      ]
    });
  }

  private readonly _search = filterBox('Filter by name, description, filter string or feature', 'Filter datasets', () => this._render());
  private readonly _count = h('span', { class: 'jp-DSI-hint' });
  /** The saved line and the error lines, above the bar. */
  private readonly _status = h('div', { class: 'jp-DSI-datasetsStatus', style: 'display: contents' });
  /** The table (or why there is none) and the members or splits listed: what a render replaces. */
  private readonly _content = h('div', { class: 'jp-DSI-datasetsContent', style: 'display: contents' });
  private _ticket = 0;
  private _loadError: string | null = null;
  private _actionError: string | null = null;
  private _members: HTMLElement | null = null;
  /** The dataset whose members are listed. */
  private _membersOf: string | null = null;
  private _saved: { id: string; text: string } | null = null;
  private _current: string | null = null;
  private _newMatches: Record<string, number | null> = {};
  private _rows: IDatasetInfo[] = [];
  private _sort: ISort<SortKey> = { key: 'createdAt', ascending: false };
}

/**
 * The DSI Explorer panel: opens a database into the worker's replica and shows what it holds.
 * The same widget lives in the right sidebar and, through "Open With", in the main area.
 */
import { Signal, ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { Message } from '@lumino/messaging';

import type { IMethod, IParameter, ISummary } from '../db/api';
import { createDatabaseClient, IDatabaseClient } from '../db/client';
import { ExplorerModel } from '../model/explorer';
import { IExplorerSettings, IExplorerSettingsV1, isSettings } from '../model/settings';
import { parseTerms } from '../model/feature';
import { fetchDatabase, fetchDistances, fetchEvents, postProposal, proposalCsv } from '../server';
import { ReplicaSource } from '../db/replicaSource';
import { proposalOverlay } from '../views/proposalOverlay';
import { formatCount, formatDate, h } from './dom';
import { DatasetsPage } from './datasetsPage';
import { bringForward, ILineageTarget, openRecordOn, showLineage } from './lineageView';
import { RunsPage } from './runsPage';
import { ExplorerView } from './explorerView';
import { ScratchMethods } from './methodForm';
import { isScratch } from '../db/scratch';
import { savedText } from './saveForm';
import type { IDatasetInfo } from '../db/slices';
import type { KernelCommand } from '../bridge/kernelLink';
import type { NotebookBridge } from '../bridge/notebookBridge';
import type { IProvenanceDataset } from '../bridge/provenance';
import type { IDatasetRecord, IJob } from '../server';
import { LinkBar, PanelProblem } from './linkBar';
import { withCode } from './markup';
import { oneAtATime } from './oneAtATime';
import { coalesced } from './coalesced';
import { PathExt } from '@jupyterlab/coreutils';
import { Notification } from '@jupyterlab/apputils';

export type ExplorerState =
  | { status: 'empty' }
  | { status: 'loading'; path: string }
  | { status: 'ready'; path: string; summary: ISummary }
  | { status: 'error'; path: string; message: string };

export interface IExplorerOptions {
  /**
   * What the tab may hold of a database, in megabytes: its replica (the metadata) plus the
   * distances of the methods loaded. Methods not on screen are dropped to stay under it; a
   * database whose replica and shown method alone pass it is refused, before downloading.
   */
  maxDatabaseMB?: number;
  /** Called when the user asks to open a path typed into the empty state. */
  onOpenRequest?: (path: string) => void;
  /** How often to look for writes by others (a kernel, the CLI), in seconds; 0: never. */
  refreshSeconds?: number;
  /** Called by the "open in the main area" button with the panel to copy. */
  onOpenInMain?: (panel: ExplorerPanel) => void;
  /** Follow `%dsi` to another database (the sidebar); a tab stays on the file its title names. */
  followKernel?: boolean;
  /** The notebook bridge: kernel variables, `%dsi` commands and provenance cells. */
  bridge?: IBridgeOptions;
  /** A job started from this panel moved on (null: it is over); the status bar shows it. */
  onJob?: (panel: ExplorerPanel, job: IJob | null) => void;
  /** Open a file the panel wrote on the server (an export): as a document, or in the file browser. */
  openFile?: (path: string, where: 'document' | 'browser') => void;
}

export interface IBridgeOptions {
  /** `label` names the explorer to the other explorers linked to the same notebook. */
  create: (onCommand: (command: KernelCommand) => void, label: () => string) => NotebookBridge;
  /** Write provenance cells into the linked notebook on every save. */
  provenanceCells: () => boolean;
  /** The selection variable's name, for the header. */
  selectionVariable: () => string;
}

/** Every open explorer: `%dsi` on a file moves the sidebar there only if no tab shows it. */
const live = new Set<ExplorerPanel>();

/** A saved dataset's record (from the server) as the provenance cells read it. */
function provenanceOf(record: IDatasetRecord): IProvenanceDataset {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    methodId: (record.method as string | null) ?? null,
    t: (record.time as number | null) ?? null,
    filter: String(record.filter ?? ''),
    size: record.size,
    digest: record.digest,
    createdAt: record.created_at,
    author: String(record.author ?? ''),
    sampling: record.sampling,
    // The server's record says the terms as `weights` {column: weight} (null: none).
    feature: parseTerms(record.feature ?? record.weights)
  };
}

/** Explorer panels by node, for the commands that act on the focused one. */
const panels = new WeakMap<Element, ExplorerPanel>();
let lastFocused: ExplorerPanel | null = null;

export class ExplorerPanel extends Widget {
  constructor(options: IExplorerOptions = {}) {
    super();
    this.addClass('jp-DSI-Explorer');
    this._options = options;
    if (options.bridge) {
      this._bridge = options.bridge.create(
        command => void this.runKernelCommand(command),
        () => this._label()
      );
      this._linkBar = new LinkBar(this._bridge, options.bridge.selectionVariable, () => this._problem());
    }
    live.add(this);
    this._render();
    // One check at a time: a server that answers slowly (a lock, a large catch-up) must not get
    // another poll from the same panel every second.
    const check = oneAtATime(() => this._checkForWrites());
    this._poll = window.setInterval(() => void check(), 1000);
    // Focusable, and focused by a click on its views (which do not take focus themselves), so
    // that the panel's Ctrl+Z undoes a selection change here and never reaches a notebook.
    this.node.tabIndex = -1;
    this.node.addEventListener(
      'pointerdown',
      event => {
        const target = event.target as Element | null;
        if (!target?.closest('input, select, textarea, button, a[href], [contenteditable]')) {
          this.node.focus({ preventScroll: true });
        }
      },
      true
    );
    this.node.addEventListener('focusin', () => (lastFocused = this));
    panels.set(this.node, this);
  }

  /** The explorer holding the focus, else the one focused last (the palette takes the focus). */
  static focused(): ExplorerPanel | null {
    const node = document.activeElement?.closest('.jp-DSI-Explorer');
    const panel = node ? panels.get(node) : undefined;
    return panel ?? (lastFocused && !lastFocused.isDisposed ? lastFocused : null);
  }

  /** Every refreshSeconds: if the file's event log grew (another writer), catch up. */
  private async _checkForWrites(): Promise<void> {
    const seconds = this._options.refreshSeconds ?? 5;
    const path = this.path;
    if (
      !seconds ||
      !path ||
      this._state.status !== 'ready' ||
      !this.isVisible ||
      document.visibilityState !== 'visible' ||
      Date.now() - this._lastCheck < seconds * 1000
    ) {
      return;
    }
    this._lastCheck = Date.now();
    let events: unknown[];
    try {
      ({ events } = await fetchEvents(path, this._eventSeq));
    } catch (error) {
      // The server may be restarting: the next check tries again, and the panel says so meanwhile.
      this._refreshFailed(path, error);
      return;
    }
    if (events.length > 0 && this.path === path) {
      await this.refresh();
    } else {
      this._refreshFailed(path, null);
    }
  }

  /**
   * A failed (error) or working (null) catch-up with the file: a failure goes to the console and
   * into the panel once, not on every poll; the next check that works takes it away.
   */
  private _refreshFailed(path: string, error: unknown): void {
    const message = error === null ? null : (error as Error)?.message || String(error);
    if (message === this._refreshError) {
      return;
    }
    if (message !== null) {
      console.error(`jupyterlab-dsi: cannot look for writes by others in ${path}`, error);
    }
    this._refreshError = message;
    this._render();
  }

  /** The last failure to catch up with the file, shown in the panel (null: none). */
  get refreshError(): string | null {
    return this._refreshError;
  }

  get state(): ExplorerState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ExplorerState> {
    return this._stateChanged;
  }

  /** The path of the open (or opening) database, relative to the server root. */
  get path(): string | null {
    return this._state.status === 'empty' ? null : this._state.path;
  }

  set maxDatabaseMB(value: number) {
    this._options.maxDatabaseMB = value;
  }

  /** Load the database at `path` (relative to the server root) into the replica. */
  async open(path: string): Promise<void> {
    const ticket = ++this._ticket;
    this._refreshError = null;
    // The scratch belongs to the replica about to be replaced: a compute in flight must not
    // inject it into the new one (its path check fails from here on), and its job is cancelled.
    this._scratch?.dispose();
    this._scratch = null;
    this._setState({ status: 'loading', path });
    try {
      // The worker's script loads while the server builds the replica.
      const client = this._client();
      const { bytes, eventSeq } = await fetchDatabase(path, this._limitBytes());
      const replicaBytes = bytes.byteLength; // the buffer is detached once sent to the worker
      const summary = await client.open(new Uint8Array(bytes));
      let model: ExplorerModel | null = null;
      const source: ReplicaSource = new ReplicaSource({
        api: client.api,
        path,
        fetchDistances: (methodId, maxBytes) => fetchDistances(path, methodId, maxBytes),
        putDistances: (methodId, frame) => client.putDistances(methodId, frame),
        limitBytes: () => this._limitBytes(),
        replicaBytes: (): number => (this._source === source ? this._replicaBytes : replicaBytes),
        onScreen: () => [model?.method?.id ?? null],
        rows: summary.simulations,
        // Once open (the panel shows an open's failure itself): a method picked whose distances
        // cannot come (above maxDatabaseMB, the server gone) says why.
        onLoadFailed: (_, error) => {
          if (this._source === source) {
            Notification.error(error.message, { autoClose: 8000 });
          }
        }
      });
      // The newest method is shown first: its frame is asked for before the model reads the base
      // table, so that the two overlap (the model's first slice joins this load; a failure is said
      // there).
      if (summary.methods.length > 0) {
        await source.prefetch(summary.methods[0].id);
      }
      model = new ExplorerModel(source, () => this._theme());
      await model.load(summary.methods); // the newest method's distances come with its first slice
      if (ticket === this._ticket) {
        this._eventSeq = eventSeq;
        this._replicaBytes = replicaBytes;
        this._source = source;
        this._setModel(model);
        this._setState({ status: 'ready', path, summary });
      }
    } catch (error) {
      if (ticket === this._ticket) {
        this._setState({ status: 'error', path, message: (error as Error).message });
      }
    }
  }

  /** maxDatabaseMB in bytes (Infinity: no limit). */
  private _limitBytes(): number {
    const limit = this._options.maxDatabaseMB;
    return limit ? limit * 1048576 : Infinity;
  }

  /** The explorer's state, when a database with methods is open. */
  get model(): ExplorerModel | null {
    return this._model;
  }

  /** Open `path` and bring the view and selection to `settings` (copy a panel, restore). */
  async openWith(path: string, settings: IExplorerSettings | IExplorerSettingsV1 | null): Promise<void> {
    await this.open(path);
    if (settings && this._model) {
      await this._model.restore(settings);
    }
  }

  /**
   * Catch the replica up after a write (a dataset saved): the server's replica again, into the
   * same worker; the distances loaded, the view and the selection stay. Never two at once: a
   * refresh asked while one runs waits for the one run after it (shared by every such ask), so
   * that the replica is caught up past the ask when any refresh() returns.
   */
  async refresh(): Promise<void> {
    if (!this.path || this._state.status !== 'ready') {
      return;
    }
    await this._catchUp();
  }

  private _catchUp = coalesced(() => this._catchUpOnce());

  private async _catchUpOnce(): Promise<void> {
    const path = this.path;
    const opened = this._ticket;
    if (!path || this._state.status !== 'ready') {
      return; // another file is opening (its own read is newer) or failed
    }
    // Another open (Reload) or another file makes this one's answer moot.
    const moot = () => opened !== this._ticket || this.path !== path;
    try {
      const { bytes, eventSeq } = await fetchDatabase(path, this._limitBytes());
      if (moot()) {
        return;
      }
      const replicaBytes = bytes.byteLength;
      // A scratch method and the distances loaded live in the worker only: it keeps them across
      // the new replica in the same call, so no slice ever reads a replica without them.
      const summary = await this._client().open(new Uint8Array(bytes), true);
      if (moot()) {
        return;
      }
      this._eventSeq = eventSeq;
      this._replicaBytes = replicaBytes;
      this._model?.setMethods(summary.methods); // a kernel or the CLI may have added one
      // The new counts and the page asked for (a save turns to Datasets) are shown now, and the
      // Datasets tab is read first: a save waits on its row there, not on the predictions or
      // the runs read after it (issue 18: a save shown within 0.5 s).
      this._refreshError = null;
      this._setState({ status: 'ready', path, summary });
      await this._datasets?.refresh();
      await this._model?.refreshPredictions(); // a run may have logged predictions: their columns
      await this._runs?.refresh(); // new runs and points, the user's sort and ticks kept
    } catch (error) {
      if (!moot()) {
        this._refreshFailed(path, error);
      }
    }
  }

  /** The notebook link of this panel, when JupyterLab has notebooks. */
  get bridge(): NotebookBridge | null {
    return this._bridge;
  }

  /** Do what `%dsi` asked: open a database, show a selection or a dataset, catch up. */
  async runKernelCommand(command: KernelCommand): Promise<void> {
    try {
      if (command.type === 'saved') {
        if (command.db === this.path) {
          await this.refresh();
        }
        return;
      }
      if (command.db !== this.path) {
        if (!this._follows(command.db)) {
          return; // a tab shows the file its title names: `%dsi` on another file leaves it
        }
        await this.open(command.db);
      } else if (this._state.status === 'error') {
        await this.open(command.db);
      }
      const model = this._model;
      if (!model || command.type === 'open') {
        return;
      }
      if (command.type === 'select') {
        if (command.method) {
          await model.setMethod(command.method);
        }
        if (command.t !== null) {
          await model.setTime(command.t);
        }
        // {column: weight}, or the legacy pair [w_shock, w_edge]; absent: the terms stay.
        const terms = parseTerms(command.weights);
        if (terms) {
          model.setFeature(terms);
        }
        model.setFilter(command.where);
      } else {
        await this.restoreById(command.dataset); // saved by the kernel a moment ago: restoreById catches up
      }
      this._page = 'explore';
      this._render();
    } catch (error) {
      this._bridge?.link.report(`%dsi ${command.type}: ${(error as Error).message}`);
    }
  }

  /** The open database's datasets, newest first (from the replica). */
  async datasets(): Promise<IDatasetInfo[]> {
    return this._state.status === 'ready' ? this._client().api.datasets() : [];
  }

  /** The dataset the Datasets page points at (the row acted on or saved last), else the newest live one. */
  async selectedDataset(): Promise<IDatasetInfo | null> {
    const all = (await this.datasets()).filter(d => !d.deleted);
    const current = this._datasets?.current;
    return all.find(d => d.id === current) ?? all[0] ?? null;
  }

  /**
   * Bring the view back to a dataset of the open file: the one restore behind the Datasets
   * page's Restore and Derive, the Runs page's dataset cells and efficacy points, the lineage
   * graph and `%dsi load`. A dataset the replica does not have yet (saved a moment ago by a
   * kernel or a shell) is looked for again after a catch-up; a deleted one is refused. Throws a
   * line when it cannot.
   */
  async restoreById(id: string): Promise<void> {
    const find = async () => (await this.datasets()).find(d => d.id === id);
    let dataset = await find();
    if (!dataset) {
      await this.refresh();
      dataset = await find();
    }
    if (!dataset) {
      throw new Error(`Dataset ${id.slice(0, 8)} is not in ${this.path ?? 'the open database'}: open its database first.`);
    }
    if (dataset.deleted) {
      throw new Error(`Dataset “${dataset.name}” was deleted: undo the deletion on the Datasets page to restore it.`);
    }
    await this._restoreDataset(dataset);
  }

  /** restoreById, a failure said in a notification: what a Restore button or a dataset cell does. */
  private _restoreOrSay(id: string): Promise<void> {
    return this.restoreById(id).catch(error => void Notification.error((error as Error).message));
  }

  /**
   * A run as the ground truth, on the fly (the field view's "Use as ground truth"): every run's
   * distances to it with the current method's norm and steps (L2, matched steps when none), shown
   * as a scratch method; nothing is written until Keep.
   */
  async useAsGroundTruth(simId: string): Promise<void> {
    this._page = 'explore';
    this._render();
    await this._scratch?.useAsGroundTruth(simId);
  }

  /** Turn the explorer to a method of the open file. */
  async showMethod(id: string): Promise<void> {
    await this.refresh();
    if (!this._model?.methods.some(m => m.id === id)) {
      throw new Error(`Method ${id.slice(0, 8)} is not among the live methods of ${this.path ?? 'the open database'}.`);
    }
    await this._model.setMethod(id);
    this._page = 'explore';
    this._render();
  }

  /**
   * Draw a recorded proposal of the open file over the explorer's views (null: hide it). Its
   * points are read from the replica; they stay through redraws and catch-ups, and go with the
   * database (another file, or Reload). Throws a line when the replica does not hold it.
   */
  async showProposal(id: string | null): Promise<void> {
    const ticket = ++this._proposalTicket;
    if (id === null || this._state.status !== 'ready') {
      this._view?.setProposal(null);
      if (id !== null) {
        throw new Error('No database is open: open one to show its proposals.');
      }
      return;
    }
    const api = this._client().api;
    const [records, points] = await Promise.all([api.proposals(), api.proposalPoints(id)]);
    if (ticket !== this._proposalTicket) {
      return; // another proposal was asked for meanwhile
    }
    const record = records.find(r => r.id === id);
    if (!record) {
      throw new Error(`Proposal ${id.slice(0, 8)} is not in ${this.path ?? 'the open database'}: reload it if it was recorded a moment ago.`);
    }
    this._view?.setProposal(
      proposalOverlay(
        points.map(p => ({ id: p.pointId, values: p.values, simId: p.simId })),
        record.policy
      )
    );
  }

  /** The lineage graph of a record of the open file, in the main area. */
  async showLineage(id: string): Promise<void> {
    const path = this.path;
    if (path) {
      // Closed since, or moved to another file (the sidebar follows %dsi): the application picks an explorer.
      const onOpen = (node: ILineageTarget) =>
        this.isDisposed || this.path !== path
          ? void openRecordOn(path, node).catch(error => void Notification.error((error as Error).message))
          : this.openRecord(node);
      await showLineage({ path, id, onOpen });
    }
  }

  /**
   * A record the lineage graph does not open itself (a run, a split): the explorer comes to the
   * front on its Runs tab, a run ticked, scrolled to and highlighted there.
   */
  openRecord(node: ILineageTarget): void {
    if (node.kind !== 'run' && node.kind !== 'split') {
      return;
    }
    bringForward(this);
    this._page = 'runs';
    if (node.kind === 'run') {
      this._runs?.select(node.id); // a run not read yet is selected when the refresh brings it
    }
    void this._runs?.refresh();
    this._render();
  }

  /** Write a dataset's provenance cells into the linked notebook; says what happened. */
  insertProvenance(dataset: IProvenanceDataset): string {
    const path = this.path;
    if (!this._bridge || !path) {
      return 'No notebook bridge: provenance cells need a notebook and an open database.';
    }
    const method = this._model?.methods.find(m => m.id === dataset.methodId) ?? null;
    return this._bridge.insertProvenance(dataset, method, path);
  }

  /** After a save from the panel: the replica, the kernel's dsi_datasets, the provenance cells. */
  private _onSaved(record: IDatasetRecord): void {
    // The new dataset, shown among the others once the replica has caught up.
    this._page = 'datasets';
    this._datasets?.showSaved(record.id, savedText(record));
    this._render(); // the tab turns at once, its line says saved; the row comes with the catch-up
    void this.refresh();
    this._bridge?.link.datasetsChanged();
    if (this._bridge && this._options.bridge?.provenanceCells()) {
      const message = this.insertProvenance(provenanceOf(record));
      Notification.info(message, { autoClose: 4000 });
    }
  }

  /** Tell the linked kernel what is selected now (debounced there; never awaited). */
  private _sendState(): void {
    const model = this._model;
    const path = this.path;
    if (!this._bridge || !model || !path || this._state.status !== 'ready') {
      return;
    }
    if (isScratch(model.method)) {
      return; // the kernel reads methods from the file, where a scratch is not: it hears again once kept
    }
    this._bridge.link.sendState({
      db: path,
      method: model.method?.id ?? null,
      t: model.t,
      weights: Object.keys(model.feature).length > 0 ? model.feature : null,
      where: model.filter
    });
  }

  /** Reload the current database from the server. */
  async reload(): Promise<void> {
    if (this.path) {
      await this.open(this.path);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearInterval(this._poll);
    live.delete(this);
    this._linkBar?.dispose();
    this._bridge?.dispose();
    this._setModel(null);
    this._db?.dispose();
    this._db = null;
    Signal.clearData(this);
    super.dispose();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._view?.resize();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._view?.resize();
  }

  private _theme(): { context: string; missing: string } {
    const style = getComputedStyle(this.node);
    return {
      context: style.getPropertyValue('--jp-border-color2').trim() || '#c8c8c8',
      missing: style.getPropertyValue('--jp-ui-font-color3').trim() || '#999999'
    };
  }

  /** Back to a dataset's saved settings; a dataset saved from the shell has no GUI settings. */
  private async _restoreDataset(dataset: IDatasetInfo): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    if (dataset.unreadable) {
      // Never a silent fallback to "saved from the shell": the user would get another selection.
      const message = `${dataset.unreadable} Not restored: its view and selection cannot be read back.`;
      console.error(`jupyterlab-dsi: ${message}`);
      throw new Error(message);
    }
    const base = model.settings;
    const saved = isSettings(dataset.settings);
    const settings: IExplorerSettings | IExplorerSettingsV1 = isSettings(dataset.settings)
      ? dataset.settings
      : {
          ...base,
          methodId: dataset.methodId,
          t: dataset.t ?? base.t,
          feature: dataset.weights ?? base.feature,
          brushes: {},
          shapes: []
        };
    await model.restore(settings);
    if (!saved && dataset.filter) {
      // Saved from a shell, a script or %dsi: no GUI state, but the filter says what was
      // selected; drawn as brushes where it can be, as `%dsi select --where` does.
      model.setFilter(dataset.filter);
    }
    this._page = 'explore';
    this._render();
  }

  private _setModel(model: ExplorerModel | null): void {
    this._proposalTicket++; // a proposal of the last database, still being read, is not drawn
    this._view?.dispose();
    this._view = null;
    this._model?.changed.disconnect(this._onModelChange, this);
    this._model = model;
    model?.changed.connect(this._onModelChange, this);
    this._datasets = model
      ? new DatasetsPage({
          path: () => this.path,
          methods: () => model.methods,
          load: () => this._client().api.datasets(),
          restore: dataset => this._restoreOrSay(dataset.id),
          derive: async dataset => {
            try {
              await this.restoreById(dataset.id);
            } catch (error) {
              Notification.error((error as Error).message);
              return;
            }
            model.derivedFrom = { id: dataset.id, name: dataset.name };
            this._render();
          },
          // At the dataset's method and step, replacing the selection: every member shows.
          highlight: async (dataset, members) => {
            await model.selectMembers(members, dataset.methodId, dataset.t);
            this._page = 'explore';
            this._render();
          },
          members: dataset => this._client().api.datasetMembers(dataset.id),
          lineage: dataset => this.showLineage(dataset.id).catch(error => void Notification.error((error as Error).message)),
          splits: dataset => this._client().api.splits(dataset.id),
          splitPart: (splitId, part) => this._client().api.splitPart(splitId, part),
          // The worker counts with the datasets' methods' distances: the source loads those it lacks.
          newMatches: ids => this._source?.newMatches(ids) ?? Promise.resolve({}),
          parameterNames: () => model.columnNames.filter(n => !n.startsWith('d_')),
          describe: simId => {
            const table = model.table;
            const row = table ? table.ids.indexOf(simId) : -1;
            if (!table || row < 0) {
              return [];
            }
            return table.columns
              .filter(c => !c.name.startsWith('d_'))
              .map(c => (c.kind === 'categorical' ? (c.codes[row] < 0 ? '—' : c.levels[c.codes[row]]) : Number.isNaN(c.values[row]) ? '—' : c.values[row]));
          },
          times: () => model.times,
          // Export → "Save next to the notebook": the linked notebook's folder on the server.
          notebookPath: () => this._bridge?.notebook?.context.path ?? null,
          openFile: this._options.openFile,
          changed: async () => {
            await this.refresh();
            this._bridge?.link.datasetsChanged();
          },
          insertProvenance: this._bridge
            ? dataset => {
                Notification.info(this.insertProvenance({ ...dataset, feature: dataset.weights }), { autoClose: 4000 });
              }
            : undefined
        })
      : null;
    this._runs?.dispose(); // its size observer and heartbeat timer go with it
    this._runs = model
      ? new RunsPage({
          load: nowMs => this._client().api.runs(nowMs),
          // A live run's heartbeat comes without an event: read the file before calling it interrupted.
          reload: () => this.refresh(),
          // A hidden Runs tab reads nothing on a catch-up; the tab click reads.
          shown: () => this._page === 'runs',
          curves: (ids, name, context) => this._client().api.runCurves(ids, name, context),
          datasetStats: () => this._client().api.datasetStats(),
          lineage: run => void this.showLineage(run.id).catch(error => void Notification.error((error as Error).message)),
          // The efficacy view's points and the dataset cells: the Datasets page's Restore.
          restore: datasetId => this._restoreOrSay(datasetId),
          proposals: () => this._client().api.proposals(),
          showProposal: id => this.showProposal(id),
          // The points as the server writes them (the CLI's bytes); the list saves them as a download.
          proposalCsv: id => {
            const path = this.path;
            return path ? proposalCsv(path, id) : Promise.reject(new Error('No database is open: open one to export its proposals.'));
          },
          // Recorded by the server into the file; the Runs page catches the replica up to list it.
          propose: request => {
            const path = this.path;
            return path ? postProposal(path, request) : Promise.reject(new Error('No database is open: open one to record a proposal.'));
          },
          parameterRanges: () => this._client().api.parameterRanges()
        })
      : null;
    void this._runs?.refresh();
    this._scratch?.dispose(); // a scratch belongs to the replica it was injected into
    this._scratch = model
      ? new ScratchMethods(model, {
          path: () => this.path,
          inject: scratch => this._client().api.injectScratch(scratch),
          onJob: job => this._options.onJob?.(this, job),
          refresh: () => this.refresh()
        })
      : null;
    // Without a method too (issue 9): parameters and metrics are axes, and "New…" makes one.
    if (model) {
      this._view = new ExplorerView(model, {
        path: () => this.path,
        // The replica catches up by reading the file again; the view and selection stay.
        onSaved: record => this._onSaved(record),
        onJob: job => this._options.onJob?.(this, job),
        onMethodCreated: async id => {
          await this.refresh();
          await this._model?.setMethod(id);
        },
        scratch: this._scratch ?? undefined,
        useAsGroundTruth: simId => void this.useAsGroundTruth(simId)
      });
    }
  }

  private _onModelChange(_: ExplorerModel, change: string): void {
    if (change === 'selection' || change === 'method') {
      this._sendState();
    }
  }

  /**
   * The database worker; a new one when the last failed (Reload after a crash starts another).
   * A worker that stops while a database is shown turns the panel to its error (a loading one
   * ends there by itself: its calls reject).
   */
  private _client(): IDatabaseClient {
    if (!this._db || this._db.isDisposed) {
      const client = createDatabaseClient({
        onFailure: error => {
          if (this._db === client && this._state.status === 'ready') {
            this._setState({ status: 'error', path: this._state.path, message: error.message });
          }
        }
      });
      this._db = client;
    }
    return this._db;
  }

  private _setState(state: ExplorerState): void {
    this._state = state;
    if (state.status === 'error' || state.status === 'empty') {
      this._bridge?.link.clearState(); // nothing to feed the kernel: another explorer may
    }
    this._render();
    this._linkBar?.render();
    this._stateChanged.emit(state);
    this._sendState();
  }

  /** What keeps this explorer from feeding the kernel's variables (null: nothing). */
  private _problem(): PanelProblem {
    const status = this._state.status;
    return status === 'ready' ? null : status;
  }

  /** How the other explorers linked to the same notebook name this one. */
  private _label(): string {
    const file = this.path ? PathExt.basename(this.path) : 'no database';
    const tab = this._options.followKernel ? '' : this.parent?.title.label;
    return tab ? `the tab “${tab}”` : `the DSI Explorer sidebar (${file})`;
  }

  /** Whether `%dsi` on `db` (another file) brings this explorer there: the sidebar only, and
   * only when no explorer linked to the same notebook shows that file already. */
  private _follows(db: string): boolean {
    if (!this._options.followKernel) {
      return false;
    }
    const session = this._bridge?.link.session ?? null;
    return ![...live].some(
      p => p !== this && p.path === db && p.state.status !== 'error' && (p.bridge?.link.session ?? null) === session
    );
  }

  private _render(): void {
    // Moving the pages' nodes into the new body takes the focus from a control in them (the
    // Runs filter box mid-word during a catch-up): it gets the focus back at the end.
    const focused = document.activeElement;
    const state = this._state;
    const body = h('div', { class: 'jp-DSI-body' });
    const titleRow = h('div', { class: 'jp-DSI-titleRow' }, h('h2', { class: 'jp-DSI-title' }, 'DSI Explorer'));
    if (state.status !== 'empty' && state.status !== 'loading') {
      const reload = h(
        'button',
        { class: 'jp-DSI-button jp-mod-styled', title: 'Read the database again from disk' },
        'Reload'
      );
      reload.addEventListener('click', () => void this.reload());
      const actions = h('span', { class: 'jp-DSI-actions' }, reload);
      if (this._options.onOpenInMain && this._model) {
        const main = h(
          'button',
          { class: 'jp-DSI-button jp-mod-styled', title: 'Open this explorer in the main area, with the same view and selection' },
          'Open in main area'
        );
        main.addEventListener('click', () => this._options.onOpenInMain!(this));
        actions.appendChild(main);
      }
      titleRow.appendChild(actions);
    }
    body.appendChild(
      h(
        'header',
        { class: 'jp-DSI-header' },
        titleRow,
        state.status !== 'empty'
          ? h('div', { class: 'jp-DSI-path', title: state.path }, state.path)
          : null,
        this._linkBar?.node ?? null
      )
    );

    if (state.status === 'empty') {
      body.appendChild(this._emptyState());
    } else if (state.status === 'loading') {
      body.appendChild(
        h(
          'div',
          { class: 'jp-DSI-loading', role: 'status', 'aria-live': 'polite' },
          h('div', { class: 'jp-DSI-spinner', 'aria-hidden': 'true' }),
          `Loading ${state.path}…`
        )
      );
    } else if (state.status === 'error') {
      body.appendChild(
        h(
          'div',
          { class: 'jp-DSI-error', role: 'alert' },
          h('strong', {}, 'Cannot open this database. '),
          ...withCode(state.message)
        )
      );
    } else {
      if (this._refreshError) {
        body.appendChild(
          h(
            'div',
            { class: 'jp-DSI-refreshError', role: 'status', 'data-testid': 'dsi-refresh-error' },
            `Cannot catch up with writes by others (${this._refreshError}); showing the file as last read, retrying.`
          )
        );
      }
      body.appendChild(this._counts(state.summary));
      if (this._view && this._datasets && this._runs) {
        const tab = (page: 'explore' | 'datasets' | 'runs', label: string) => {
          const b = h(
            'button',
            { class: 'jp-DSI-tab', role: 'tab', type: 'button', 'aria-selected': String(this._page === page) },
            label
          );
          b.addEventListener('click', () => {
            this._page = page;
            if (page === 'datasets') {
              void this._datasets?.refresh();
            } else if (page === 'runs') {
              void this._runs?.refresh();
            }
            this._render();
            this._view?.resize();
          });
          return b;
        };
        body.appendChild(
          h(
            'div',
            { class: 'jp-DSI-tabs', role: 'tablist' },
            tab('explore', 'Explore'),
            tab('datasets', `Datasets (${formatCount(state.summary.datasets)})`),
            tab('runs', `Runs (${formatCount(state.summary.runs)})`)
          )
        );
        body.appendChild(
          this._page === 'explore' ? this._view.node : this._page === 'datasets' ? this._datasets.node : this._runs.node
        );
        body.appendChild(
          h(
            'details',
            { class: 'jp-DSI-details' },
            h('summary', {}, 'Methods and parameters'),
            this._methods(state.summary.methods),
            this._parameters(state.summary.parameters)
          )
        );
      } else {
        body.appendChild(this._methods(state.summary.methods));
        body.appendChild(this._parameters(state.summary.parameters));
      }
    }
    this.node.replaceChildren(body);
    if (focused instanceof HTMLElement && focused !== document.activeElement && body.contains(focused)) {
      focused.focus({ preventScroll: true });
    }
  }

  private _emptyState(): HTMLElement {
    const input = h('input', {
      class: 'jp-DSI-pathInput jp-mod-styled',
      type: 'text',
      placeholder: 'path/to/ensemble.sqlite',
      'aria-label': 'Database path, relative to the server root'
    });
    const open = h('button', { class: 'jp-DSI-button jp-mod-styled jp-mod-accept', type: 'submit' }, 'Open');
    const form = h('form', { class: 'jp-DSI-openForm' }, input, open);
    form.addEventListener('submit', event => {
      event.preventDefault();
      const path = input.value.trim();
      if (path) {
        this._options.onOpenRequest ? this._options.onOpenRequest(path) : void this.open(path);
      }
    });
    return h(
      'div',
      { class: 'jp-DSI-empty' },
      h('p', {}, 'No database open.'),
      h(
        'p',
        { class: 'jp-DSI-hint' },
        'Right-click a .sqlite file in the file browser and choose Open With → DSI Explorer, or type its path:'
      ),
      form,
      h(
        'p',
        { class: 'jp-DSI-hint' },
        'No database yet? In a terminal: ',
        h('code', {}, 'jupyter dsi sample ens && jupyter dsi ingest ens --db ens.sqlite')
      )
    );
  }

  private _counts(summary: ISummary): HTMLElement {
    const tile = (value: number, label: string, testid: string) =>
      h(
        'div',
        { class: 'jp-DSI-count', 'data-testid': testid },
        h('span', { class: 'jp-DSI-countValue' }, formatCount(value)),
        h('span', { class: 'jp-DSI-countLabel' }, label)
      );
    return h(
      'section',
      { class: 'jp-DSI-counts', 'aria-label': 'Database contents' },
      tile(summary.simulations, summary.simulations === 1 ? 'simulation' : 'simulations', 'dsi-simulations'),
      tile(summary.timeSteps, summary.timeSteps === 1 ? 'time step' : 'time steps', 'dsi-time-steps'),
      tile(summary.parameters.length, 'parameters', 'dsi-parameters'),
      tile(summary.methods.length, summary.methods.length === 1 ? 'method' : 'methods', 'dsi-methods'),
      tile(summary.datasets, summary.datasets === 1 ? 'dataset' : 'datasets', 'dsi-datasets')
    );
  }

  private _methods(methods: IMethod[]): HTMLElement {
    const section = h('section', { class: 'jp-DSI-section' }, h('h3', {}, 'Methods'));
    if (methods.length === 0) {
      section.appendChild(
        h(
          'p',
          { class: 'jp-DSI-hint' },
          'No distances computed yet: ',
          h('code', {}, 'jupyter dsi postprocess --db FILE --ground-truth SIM_ID --norm L2')
        )
      );
      return section;
    }
    // A list, not a table: the sidebar is narrow, and a method reads as one line of identity
    // (ground truth, norm, time) with its description and date beneath.
    const items = methods.map(m =>
      h(
        'li',
        { class: 'jp-DSI-method', 'data-method-id': m.id },
        h(
          'div',
          { class: 'jp-DSI-methodTitle' },
          h('span', { class: 'jp-DSI-methodGt', title: 'Ground truth' }, m.groundTruth),
          h('span', { class: 'jp-DSI-badge', title: 'Norm' }, m.norm),
          h(
            'span',
            { class: 'jp-DSI-methodTime', title: 'Ground-truth time' },
            m.gtTime === null ? 'matched steps' : `vs step ${m.gtTime}`
          )
        ),
        m.description ? h('div', { class: 'jp-DSI-description' }, m.description) : null,
        h(
          'div',
          { class: 'jp-DSI-methodMeta', title: m.id },
          `${formatDate(m.createdAt)} · ${m.id.slice(0, 8)}`
        )
      )
    );
    section.appendChild(h('ul', { class: 'jp-DSI-methods' }, ...items));
    return section;
  }

  private _parameters(parameters: IParameter[]): HTMLElement {
    const items = parameters.map(p =>
      h(
        'li',
        {},
        h('span', { class: 'jp-DSI-paramName' }, p.name),
        h(
          'span',
          { class: 'jp-DSI-paramLevels' },
          p.kind === 'categorical' && p.levels
            ? `${p.levels.length} levels: ${p.levels.join(', ')}`
            : 'numeric'
        )
      )
    );
    return h(
      'section',
      { class: 'jp-DSI-section' },
      h('h3', {}, 'Parameters'),
      h('ul', { class: 'jp-DSI-params' }, ...items)
    );
  }

  private _bridge: NotebookBridge | null = null;
  private _linkBar: LinkBar | null = null;
  private _db: IDatabaseClient | null = null;
  private _model: ExplorerModel | null = null;
  private _poll = 0;
  private _eventSeq = 0;
  private _lastCheck = 0;
  private _refreshError: string | null = null;
  private _datasets: DatasetsPage | null = null;
  private _runs: RunsPage | null = null;
  private _page: 'explore' | 'datasets' | 'runs' = 'explore';
  private _view: ExplorerView | null = null;
  private _scratch: ScratchMethods | null = null;
  private _options: IExplorerOptions;
  private _state: ExplorerState = { status: 'empty' };
  private _stateChanged = new Signal<this, ExplorerState>(this);
  private _ticket = 0;
  /** The last showProposal asked: an older answer is dropped. */
  private _proposalTicket = 0;
  /** The model's slices, over the worker's replica and the distances fetched. */
  private _source: ReplicaSource | null = null;
  /** The bytes of the replica in the worker (the size limit counts them). */
  private _replicaBytes = 0;
}

/**
 * The lineage of a record (dataset, split, run, method, source) as a graph in the main area:
 * where its data came from and what was made from it, each node opening what it is. The graph
 * comes from the server (GET lineage, the records PROV-linked); dag.ts lays it out and draws it.
 */
import { MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { fetchConfig, fetchLineage, ILineage, ILineageNode } from '../server';
import { drawDag, fitLayout, IDagEdge, IDagNode } from '../views/dag';
import { h } from './dom';

/** A node as the `onOpen` callback gets it. */
export interface ILineageTarget {
  id: string;
  kind: string;
}

export interface IShowLineageOptions {
  /** The database, relative to the server's root. */
  path: string;
  /** The record whose lineage is drawn. */
  id: string;
  /**
   * Called for a node the graph does not open itself (runs and splits: the Runs tab shows them);
   * datasets, methods, sources and artifacts are opened here.
   */
  onOpen?: (node: ILineageTarget) => void;
}

/** What the application lends the graph: set once by the plugin (commands.ts). */
export interface ILineageHost {
  /** Put a widget in the main area and show it. */
  add(widget: Widget): void;
  /** Bring an explorer on `path` back to a dataset's saved view (the Datasets page's Restore). */
  restoreDataset(path: string, id: string): Promise<void>;
  /** Turn an explorer on `path` to a method. */
  showMethod(path: string, id: string): Promise<void>;
  /** Show a file (relative to the server's root) in JupyterLab's file browser. */
  showFile(path: string): void;
  /** Bring a widget (an explorer) to the front: its tab in the main area, or the sidebar it is in. */
  activate(widget: Widget): void;
  /** Show a run or split in an explorer on `path` (no live explorer asked for the graph). */
  openRecord(path: string, node: ILineageTarget): Promise<void>;
}

let host: ILineageHost | null = null;

export function setLineageHost(value: ILineageHost | null): void {
  host = value;
}

/** Bring `widget` to the front through the application (nothing before the plugin started). */
export function bringForward(widget: Widget): void {
  host?.activate(widget);
}

/** Show a run or split of `path` in an explorer the application picks (the focused one on it, else the sidebar). */
export async function openRecordOn(path: string, node: ILineageTarget): Promise<void> {
  await host?.openRecord(path, node);
}

/** Why a node is stale, in one line (the server gives a list of reasons); null when it is not. */
function staleReason(stale: ILineageNode['stale']): string | null {
  if (Array.isArray(stale)) {
    return stale.length > 0 ? stale.join('; ') : null;
  }
  return stale ? (typeof stale === 'string' ? stale : 'an upstream record changed') : null;
}

/** The graph's nodes for dag.ts: stale as its reasons, the asked-for record marked. */
export function dagNodes(lineage: ILineage, focus: string): IDagNode[] {
  return lineage.nodes.map(n => ({
    id: n.id,
    kind: n.kind,
    label: n.label || n.id.slice(0, 8),
    ...(n.deleted ? { deleted: true } : {}),
    ...(staleReason(n.stale) ? { stale: staleReason(n.stale)! } : {}),
    ...(n.id === focus ? { focus: true } : {})
  }));
}

export function dagEdges(lineage: ILineage): IDagEdge[] {
  return lineage.edges.map(e => ({ source: e.source, target: e.target, relation: e.relation }));
}

/**
 * A file's path relative to the server's root, or null when it is outside it (the file browser
 * cannot show it then). Both paths absolute, POSIX or Windows separators.
 */
export function underRoot(file: string, root: string): string | null {
  const norm = (p: string) => p.replace(/\\/g, '/').replace(/\/+$/, '');
  const f = norm(file);
  const r = norm(root);
  if (!r || !f.startsWith(`${r}/`)) {
    return null;
  }
  const rest = f.slice(r.length + 1);
  return rest.split('/').some(part => part === '..') ? null : rest;
}

/** The graph of one record, in a widget that redraws to its width. */
export class LineageView extends Widget {
  constructor(
    readonly path: string,
    readonly recordId: string,
    /**
     * What a run or split node does, from the explorer that asked for the graph last (asking
     * again replaces it); absent: the application shows it in an explorer on `path`.
     */
    public onOpen?: (node: ILineageTarget) => void
  ) {
    super();
    this.addClass('jp-DSI-lineage');
    this.node.setAttribute('aria-label', 'Lineage graph');
    const reload = h('button', { class: 'jp-DSI-button jp-mod-styled', type: 'button', title: 'Read the lineage again from the database' }, 'Reload');
    reload.addEventListener('click', () => void this.load());
    this.node.append(
      h('div', { class: 'jp-DSI-lineageBar' }, this._heading, reload),
      h(
        'p',
        { class: 'jp-DSI-hint' },
        'Arrows follow the data: sources → methods → datasets → splits → runs → artifacts and proposals; dashed: derived from, solid: used or generated by (hover an arrow for its relation; a focused record tells a screen reader its relations). Click a record, or focus it and press Enter, to open it.'
      ),
      this._graph,
      this._details
    );
  }

  /** Fetch the graph and draw it; answers the record's node. A failure is said in the widget, in one line. */
  async load(): Promise<ILineageNode | null> {
    // A Reload click and a showLineage call may overlap: an older answer arriving last is dropped.
    const ticket = ++this._ticket;
    this._details.replaceChildren();
    let lineage: ILineage;
    try {
      lineage = await fetchLineage(this.path, this.recordId);
    } catch (error) {
      if (ticket !== this._ticket) {
        return null;
      }
      this._lineage = null;
      this._heading.textContent = 'Lineage';
      this._graph.replaceChildren(h('p', { class: 'jp-DSI-error', role: 'alert' }, `No lineage: ${(error as Error).message}`));
      return null;
    }
    if (ticket !== this._ticket) {
      return this._lineage?.nodes.find(n => n.id === this.recordId) ?? null;
    }
    this._lineage = lineage;
    const self = lineage.nodes.find(n => n.id === this.recordId);
    this._heading.textContent = self ? `Lineage of ${self.kind} “${self.label}”` : 'Lineage';
    this._draw();
    return self ?? null;
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._draw();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._draw();
  }

  private _draw(): void {
    const lineage = this._lineage;
    if (!lineage || !this.isVisible) {
      return;
    }
    if (lineage.nodes.length === 0) {
      this._graph.replaceChildren(h('p', { class: 'jp-DSI-hint' }, 'Nothing is recorded about this record yet.'));
      return;
    }
    const width = this._graph.clientWidth;
    if (width === this._drawnWidth && this._drawn === lineage) {
      return;
    }
    this._drawnWidth = width;
    this._drawn = lineage;
    this._graph.replaceChildren();
    const layout = fitLayout(dagNodes(lineage, this.recordId), dagEdges(lineage), width);
    drawDag(this._graph, layout, { width, onOpen: node => void this._open(node) });
  }

  /** What a click on a node does: each kind opens what it is. */
  private async _open(node: IDagNode): Promise<void> {
    const record = this._lineage?.nodes.find(n => n.id === node.id);
    try {
      switch (node.kind) {
        case 'dataset':
          if (node.deleted) {
            this._say(`Dataset “${node.label}” was deleted: undo the deletion on the Datasets page to restore it.`);
          } else {
            await host?.restoreDataset(this.path, node.id);
          }
          return;
        case 'method':
          await host?.showMethod(this.path, node.id);
          return;
        case 'source':
        case 'artifact':
          await this._showPath(node, record?.path ?? null);
          return;
        default:
          if (this.onOpen) {
            this.onOpen({ id: node.id, kind: node.kind });
          } else if (host && (node.kind === 'run' || node.kind === 'split')) {
            await host.openRecord(this.path, { id: node.id, kind: node.kind });
          } else {
            this._say(`${node.kind} “${node.label}” (${node.id})`);
          }
      }
    } catch (error) {
      Notification.error((error as Error).message);
    }
  }

  /**
   * A source's or artifact's file: its path, and a way to it when the server can show it.
   * `file` null: the graph names the file only (no absolute path to go to).
   */
  private async _showPath(node: IDagNode, file: string | null): Promise<void> {
    let relative: string | null = null;
    try {
      relative = file === null ? null : underRoot(file, (await fetchConfig()).root);
    } catch {
      relative = null; // the path is still worth showing
    }
    const show = relative !== null && host ? h('button', { class: 'jp-DSI-button jp-mod-styled', type: 'button' }, 'Show in file browser') : null;
    show?.addEventListener('click', () => host?.showFile(relative!));
    this._details.replaceChildren(
      h('span', {}, `${node.kind === 'source' ? 'Source' : 'Artifact'}: `),
      h('code', { title: file ?? node.label }, file ?? node.label),
      ...(file !== null && relative === null ? [h('span', { class: 'jp-DSI-hint' }, ' (outside the server’s root: open it from a terminal)')] : []),
      ...(show ? [show] : [])
    );
    if (relative !== null) {
      host?.showFile(relative);
    }
  }

  private _say(text: string): void {
    this._details.replaceChildren(h('span', {}, text));
  }

  private readonly _heading = h('h2', { class: 'jp-DSI-lineageTitle' }, 'Lineage');
  private readonly _graph = h('div', { class: 'jp-DSI-lineageGraph', 'data-testid': 'dsi-lineage-graph' });
  private readonly _details = h('div', { class: 'jp-DSI-lineageDetails', role: 'status' });
  private _lineage: ILineage | null = null;
  private _drawn: ILineage | null = null;
  private _drawnWidth = -1;
  private _ticket = 0;
}

/** Open lineage widgets by database and record: asking again shows (and reloads) the same one. */
const open = new Map<string, MainAreaWidget<LineageView>>();
let made = 0;

/**
 * Show the lineage of record `id` of the database at `path` in the main area (one widget per
 * record, reused), and load it.
 */
export async function showLineage(options: { path: string; id: string; onOpen?: (node: { id: string; kind: string }) => void }): Promise<void> {
  if (!host) {
    throw new Error('The lineage graph is not available: the jupyterlab-dsi plugin did not start.');
  }
  const key = `${options.path}\n${options.id}`;
  let widget = open.get(key);
  if (!widget || widget.isDisposed) {
    const content = new LineageView(options.path, options.id, options.onOpen);
    widget = new MainAreaWidget({ content });
    widget.id = `jp-dsi-lineage-${++made}`;
    widget.title.label = `Lineage: ${options.id.slice(0, 8)}`;
    widget.title.caption = `Lineage of ${options.id} in ${PathExt.basename(options.path)}`;
    widget.title.closable = true;
    open.set(key, widget);
    widget.disposed.connect(() => open.delete(key));
  } else {
    // Asked again (perhaps by another explorer, the first one closed): nodes open through this caller.
    widget.content.onOpen = options.onOpen;
  }
  host.add(widget);
  const self = await widget.content.load();
  if (self) {
    widget.title.label = `Lineage: ${self.label}`;
  }
}

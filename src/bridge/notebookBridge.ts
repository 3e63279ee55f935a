/**
 * Which notebook a panel is linked to (the active one by default, or one the user picked in the
 * panel's header), the kernel link that follows it, and the provenance cells written into it.
 */
import type { NotebookPanel, INotebookTracker } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { IKernelLinkOptions, KernelLink } from './kernelLink';
import { IProvenanceDataset, IProvenanceMethod, METADATA_KEY, provenanceCode, provenanceMarkdown } from './provenance';

/** 'follow': the active notebook; 'none': no link; otherwise a notebook's path. */
export type LinkTarget = 'follow' | 'none' | { path: string };

export class NotebookBridge {
  constructor(
    private readonly _tracker: INotebookTracker,
    options: IKernelLinkOptions
  ) {
    this.link = new KernelLink(options);
    this.link.statusChanged.connect(() => this._changed.emit());
    _tracker.currentChanged.connect(this._update, this);
    _tracker.widgetAdded.connect(this._update, this);
    this._update();
  }

  readonly link: KernelLink;

  /** The link's target, its notebook or its status changed (the header redraws). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get target(): LinkTarget {
    return this._target;
  }

  set target(target: LinkTarget) {
    this._target = target;
    this._update();
  }

  /** The linked notebook, if any. */
  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  /** Open notebooks, for the picker. */
  get notebooks(): NotebookPanel[] {
    const all: NotebookPanel[] = [];
    this._tracker.forEach(panel => all.push(panel));
    return all;
  }

  /**
   * Write the provenance cells of `dataset` below the linked notebook's active cell: the
   * Markdown record, then `%dsi load`. Answers what happened, for the panel to say.
   */
  insertProvenance(dataset: IProvenanceDataset, method: IProvenanceMethod | null, databasePath: string): string {
    const panel = this._notebook;
    const model = panel?.content.model;
    if (!panel || !model) {
      return 'No notebook is linked: pick one in the panel header to get provenance cells.';
    }
    const notebook = panel.content;
    const at = Math.min(notebook.activeCellIndex + 1, model.cells.length);
    const metadata = { [METADATA_KEY]: { dataset: dataset.id, database: databasePath } };
    model.sharedModel.transact(() => {
      model.sharedModel.insertCell(at, {
        cell_type: 'markdown',
        source: provenanceMarkdown(dataset, method, databasePath),
        metadata
      });
      model.sharedModel.insertCell(at + 1, {
        cell_type: 'code',
        source: provenanceCode(dataset.id, databasePath, panel.context.path),
        metadata
      });
    });
    const markdown = notebook.widgets[at] as { rendered?: boolean } | undefined;
    if (markdown && 'rendered' in markdown) {
      markdown.rendered = true;
    }
    notebook.activeCellIndex = at + 1;
    return `Provenance cells written into ${panel.context.path}.`;
  }

  dispose(): void {
    this._tracker.currentChanged.disconnect(this._update, this);
    this._tracker.widgetAdded.disconnect(this._update, this);
    this._notebook?.disposed.disconnect(this._update, this);
    this.link.dispose();
    Signal.clearData(this);
  }

  private _update(): void {
    const target = this._target;
    let next: NotebookPanel | null = null;
    if (target === 'follow') {
      next = this._tracker.currentWidget;
    } else if (target !== 'none') {
      next = this.notebooks.find(p => p.context.path === target.path) ?? null;
    }
    if (next?.isDisposed) {
      next = null;
    }
    if (next !== this._notebook) {
      this._notebook?.disposed.disconnect(this._update, this);
      this._notebook = next;
      next?.disposed.connect(this._update, this);
      this.link.setSession(next?.sessionContext ?? null);
    }
    this._changed.emit();
  }

  private _target: LinkTarget = 'follow';
  private _notebook: NotebookPanel | null = null;
  private readonly _changed = new Signal<this, void>(this);
}

/**
 * The DSI Explorer's commands and their palette entries, kept apart from the plugin's wiring
 * (as jupyterlab-git's addCommands does).
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { Widget } from '@lumino/widgets';

import { explorerIcon } from './icons';
import { ExplorerPanel } from './panel/explorer';
import { setLineageHost } from './panel/lineageView';

export namespace CommandIDs {
  export const open = 'dsi:open';
  export const openFile = 'dsi:open-file';
  export const reload = 'dsi:reload';
  export const insertProvenance = 'dsi:insert-provenance';
  export const undoSelection = 'dsi:undo-selection';
  export const redoSelection = 'dsi:redo-selection';
  export const showLineage = 'dsi:show-lineage';
}

const CATEGORY = 'DSI Explorer';

export interface ICommandContext {
  /** The session's sidebar explorer: the target of reload and provenance commands. */
  sidebar: ExplorerPanel;
  /** Show the sidebar, on `path` when given. */
  openInSidebar: (path?: string) => Promise<void>;
  fileBrowser: IDefaultFileBrowser | null;
  palette: ICommandPalette | null;
}

export function addCommands(app: JupyterFrontEnd, context: ICommandContext): void {
  const { sidebar, openInSidebar, fileBrowser, palette } = context;
  const { commands } = app;

  commands.addCommand(CommandIDs.open, {
    label: args => (args.path ? `Open ${PathExt.basename(String(args.path))} in DSI Explorer` : 'Open DSI Explorer'),
    caption: 'Show the DSI Explorer in the right sidebar, optionally on a database path',
    icon: explorerIcon,
    execute: args => openInSidebar(args.path ? String(args.path) : undefined)
  });
  commands.addCommand(CommandIDs.openFile, {
    label: 'Open in DSI Explorer Sidebar',
    caption: 'Open the selected database in the DSI Explorer sidebar',
    icon: explorerIcon,
    isVisible: () => !!fileBrowser?.selectedItems().next()?.value,
    execute: () => {
      const item = fileBrowser?.selectedItems().next()?.value;
      return item ? openInSidebar(item.path) : undefined;
    }
  });
  commands.addCommand(CommandIDs.reload, {
    label: 'Reload DSI Explorer Database',
    caption: 'Read the open database again from disk',
    isEnabled: () => sidebar.path !== null,
    execute: () => sidebar.reload()
  });
  sidebar.stateChanged.connect(() => commands.notifyCommandChanged(CommandIDs.reload));
  commands.addCommand(CommandIDs.insertProvenance, {
    label: 'Insert Provenance Cells of the Newest Dataset',
    caption: "Write a dataset's record and a `%dsi load` cell below the linked notebook's active cell",
    isEnabled: () => sidebar.bridge?.notebook != null && sidebar.path !== null,
    execute: async args => {
      const model = sidebar.model;
      const all = await sidebar.datasets();
      const dataset = args.id ? all.find(d => d.id === args.id) : all.find(d => !d.deleted);
      if (!model || !dataset) {
        return;
      }
      Notification.info(sidebar.insertProvenance(dataset), { autoClose: 4000 });
    }
  });
  // Undo and redo act on the explorer that has (or last had) the focus; the shortcuts
  // (schema/plugin.json) are scoped to the panel, so a notebook's undo stays its own.
  const explorer = () => ExplorerPanel.focused() ?? sidebar;
  commands.addCommand(CommandIDs.undoSelection, {
    label: 'Undo Selection Change',
    caption:
      'Take back the newest change of the DSI Explorer selection (a brush, a shape, a filter, or a method or step change that moved it)',
    isEnabled: () => !!explorer().model?.canUndo,
    execute: () => explorer().model?.undo()
  });
  commands.addCommand(CommandIDs.redoSelection, {
    label: 'Redo Selection Change',
    caption: 'Put back the selection change undone last in the DSI Explorer',
    isEnabled: () => !!explorer().model?.canRedo,
    execute: () => explorer().model?.redo()
  });

  // Bring a widget to the front: its tab (a document, or the main-area copy), or the sidebar it is in.
  const bringForward = (widget: Widget): void => {
    for (let w: Widget | null = widget; w; w = w.parent) {
      if (w.id) {
        app.shell.activateById(w.id);
      }
    }
  };
  // The lineage graph opens records in an explorer on their file: the focused one, else the sidebar.
  const explorerOn = async (path: string): Promise<ExplorerPanel> => {
    const focused = ExplorerPanel.focused();
    if (focused?.path !== path) {
      await openInSidebar(path);
      return sidebar;
    }
    bringForward(focused); // the graph may cover it
    return focused;
  };
  setLineageHost({
    add: widget => {
      if (!widget.isAttached) {
        app.shell.add(widget, 'main');
      }
      app.shell.activateById(widget.id);
    },
    restoreDataset: async (path, id) => (await explorerOn(path)).restoreById(id),
    showMethod: async (path, id) => (await explorerOn(path)).showMethod(id),
    showFile: path => void app.commands.execute('filebrowser:go-to-path', { path }),
    activate: bringForward,
    openRecord: async (path, node) => (await explorerOn(path)).openRecord(node)
  });
  commands.addCommand(CommandIDs.showLineage, {
    label: 'Show Lineage of the Selected Dataset',
    caption:
      'Draw where the dataset came from and what was made from it (splits, runs, artifacts): the dataset marked on the Datasets page, else the newest',
    isEnabled: () => explorer().path !== null,
    execute: async args => {
      const panel = explorer();
      const id = args.id ? String(args.id) : (await panel.selectedDataset())?.id;
      if (!id) {
        Notification.info('No dataset to show the lineage of: save one first.', { autoClose: 4000 });
        return;
      }
      await panel.showLineage(id);
    }
  });

  for (const command of [
    CommandIDs.showLineage,
    CommandIDs.undoSelection,
    CommandIDs.redoSelection,
    CommandIDs.insertProvenance,
    CommandIDs.open,
    CommandIDs.reload
  ]) {
    palette?.addItem({ command, category: CATEGORY });
  }
}

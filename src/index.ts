/**
 * jupyterlab-dsi: the DSI Explorer panel in the right sidebar, "Open With → DSI Explorer" for
 * database files, and the commands that open them.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Contents, IDefaultDrive } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { explorerIcon } from './icons';
import {
  CONTENT_PROVIDER,
  DatabaseModelFactory,
  ExplorerDocument,
  ExplorerDocumentFactory,
  FACTORY_NAME,
  FILE_TYPE,
  MODEL_NAME,
  StoreOwnedFiles
} from './panel/document';
import type { IVariableNames } from './bridge/kernelLink';
import { NotebookBridge } from './bridge/notebookBridge';
import { ExplorerPanel, IBridgeOptions, IExplorerOptions } from './panel/explorer';
import { JobStatus } from './panel/jobStatus';
import { fetchConfig } from './server';

const PLUGIN_ID = 'jupyterlab-dsi:plugin';

export namespace CommandIDs {
  export const open = 'dsi:open';
  export const openFile = 'dsi:open-file';
  export const reload = 'dsi:reload';
  export const insertProvenance = 'dsi:insert-provenance';
  export const undoSelection = 'dsi:undo-selection';
  export const redoSelection = 'dsi:redo-selection';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The DSI Explorer: choose, record and reproduce training datasets.',
  autoStart: true,
  requires: [ISettingRegistry],
  optional: [ICommandPalette, ILayoutRestorer, IDefaultFileBrowser, INotebookTracker, IStatusBar, IDefaultDrive],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null,
    defaultDrive: Contents.IDrive | null
  ) => {
    let defaultDatabase = '';

    // The notebook bridge (docs/bridge.md): every explorer links to a notebook's kernel.
    const names: IVariableNames = { selection: 'dsi_selection', method: 'dsi_method', datasets: 'dsi_datasets' };
    let provenanceCells = true;
    let root: Promise<string> | null = null;
    const serverRoot = () => (root ??= fetchConfig().then(config => config.root));
    const bridges = new Set<NotebookBridge>();
    const bridge: IBridgeOptions | undefined = notebooks
      ? {
          create: (onCommand, label) => {
            const made = new NotebookBridge(notebooks, { names: () => names, root: serverRoot, onCommand, label });
            bridges.add(made);
            return made;
          },
          provenanceCells: () => provenanceCells,
          selectionVariable: () => names.selection
        }
      : undefined;
    // Post-processing started from any explorer shows in the status bar while it runs.
    const jobStatus = new JobStatus();
    const jobsChanged = new Signal<JobStatus, void>(jobStatus);
    statusBar?.registerStatusItem('jupyterlab-dsi:jobs', {
      item: jobStatus,
      align: 'left',
      rank: 10,
      isActive: () => jobStatus.active,
      activeStateChanged: jobsChanged
    });
    const onJob: IExplorerOptions['onJob'] = (panel, job) => {
      jobStatus.report(panel, job);
      jobsChanged.emit();
    };
    // The sidebar follows `%dsi` to another file; tabs stay on the file their title names.
    const options: IExplorerOptions = { maxDatabaseMB: 512, bridge, onJob, followKernel: true };

    // "Open in main area": a second explorer on the same file, with the same view and selection,
    // which takes over the notebook's variables (the sidebar then says the tab owns them).
    const openInMain = (source: ExplorerPanel) => {
      if (!source.path) {
        return;
      }
      const content = new ExplorerPanel({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds, bridge, onJob });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-dsi-explorer-main-${++mainCount}`;
      widget.title.label = `DSI: ${PathExt.basename(source.path)}`;
      widget.title.caption = `DSI Explorer: ${source.path}`;
      widget.title.icon = explorerIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      void content.openWith(source.path, source.model?.settings ?? null).then(() => {
        if (content.state.status === 'ready') {
          content.bridge?.link.claim();
        }
      });
    };
    let mainCount = 0;
    options.onOpenInMain = openInMain;

    // The sidebar panel: one for the session, opened on demand.
    const sidebar = new ExplorerPanel(options);
    sidebar.id = 'jp-dsi-explorer';
    sidebar.title.icon = explorerIcon;
    sidebar.title.caption = 'DSI Explorer';
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, 'jp-dsi-explorer');

    // Open With: a main-area document for .sqlite/.db files.
    app.docRegistry.addModelFactory(new DatabaseModelFactory());
    app.docRegistry.addFileType({
      name: FILE_TYPE,
      displayName: 'SQLite database',
      extensions: ['.sqlite', '.sqlite3', '.db'],
      mimeTypes: ['application/vnd.sqlite3'],
      contentType: 'file',
      fileFormat: null,
      icon: explorerIcon
    });
    // JupyterLab reads explorer documents through a provider that says "not writable": no
    // checkpoint copies, no save over the Store's file (src/panel/document.ts).
    const providers = defaultDrive?.contentProviderRegistry;
    providers?.register(CONTENT_PROVIDER, new StoreOwnedFiles(defaultDrive!));
    const factory = new ExplorerDocumentFactory(
      {
        name: FACTORY_NAME,
        label: 'DSI Explorer',
        modelName: MODEL_NAME,
        fileTypes: [FILE_TYPE],
        defaultFor: [FILE_TYPE],
        readOnly: true,
        contentProviderId: providers ? CONTENT_PROVIDER : undefined
      },
      // Documents already live in the main area: no "open in main area" button there.
      () => ({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds, bridge, onJob })
    );
    app.docRegistry.addWidgetFactory(factory);
    const tracker = new WidgetTracker<ExplorerDocument>({ namespace: 'dsi-explorer-documents' });
    factory.widgetCreated.connect((_, widget) => {
      widget.title.icon = explorerIcon;
      void tracker.add(widget);
    });
    restorer?.restore(tracker, {
      command: 'docmanager:open',
      args: widget => ({ path: widget.context.path, factory: FACTORY_NAME }),
      name: widget => widget.context.path
    });

    const openInSidebar = async (path?: string) => {
      app.shell.activateById(sidebar.id);
      if (path && path !== sidebar.path) {
        await sidebar.open(path);
      }
    };

    app.commands.addCommand(CommandIDs.open, {
      label: args => (args.path ? `Open ${PathExt.basename(String(args.path))} in DSI Explorer` : 'Open DSI Explorer'),
      caption: 'Show the DSI Explorer in the right sidebar, optionally on a database path',
      icon: explorerIcon,
      execute: args => openInSidebar(args.path ? String(args.path) : undefined)
    });
    app.commands.addCommand(CommandIDs.openFile, {
      label: 'Open in DSI Explorer Sidebar',
      caption: 'Open the selected database in the DSI Explorer sidebar',
      icon: explorerIcon,
      isVisible: () => !!fileBrowser?.selectedItems().next()?.value,
      execute: () => {
        const item = fileBrowser?.selectedItems().next()?.value;
        return item ? openInSidebar(item.path) : undefined;
      }
    });
    app.commands.addCommand(CommandIDs.reload, {
      label: 'Reload DSI Explorer Database',
      caption: 'Read the open database again from disk',
      isEnabled: () => sidebar.path !== null,
      execute: () => sidebar.reload()
    });
    app.commands.addCommand(CommandIDs.insertProvenance, {
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
    // Undo and redo of selection changes, in the explorer that has (or last had) the focus; the
    // shortcuts (schema/plugin.json) are scoped to the panel, so a notebook's undo stays its own.
    const explorer = () => ExplorerPanel.focused() ?? sidebar;
    app.commands.addCommand(CommandIDs.undoSelection, {
      label: 'Undo Selection Change',
      caption: 'Take back the newest change of the DSI Explorer selection (a brush, a shape, a filter, or a method or step change that moved it)',
      isEnabled: () => !!explorer().model?.canUndo,
      execute: () => explorer().model?.undo()
    });
    app.commands.addCommand(CommandIDs.redoSelection, {
      label: 'Redo Selection Change',
      caption: 'Put back the selection change undone last in the DSI Explorer',
      isEnabled: () => !!explorer().model?.canRedo,
      execute: () => explorer().model?.redo()
    });
    palette?.addItem({ command: CommandIDs.undoSelection, category: 'DSI Explorer' });
    palette?.addItem({ command: CommandIDs.redoSelection, category: 'DSI Explorer' });
    palette?.addItem({ command: CommandIDs.insertProvenance, category: 'DSI Explorer' });
    palette?.addItem({ command: CommandIDs.open, category: 'DSI Explorer' });
    palette?.addItem({ command: CommandIDs.reload, category: 'DSI Explorer' });
    sidebar.stateChanged.connect(() => app.commands.notifyCommandChanged(CommandIDs.reload));
    // The sidebar's title names the file it shows, as a tab's does.
    sidebar.stateChanged.connect(() => {
      sidebar.title.caption = sidebar.path ? `DSI Explorer: ${sidebar.path}` : 'DSI Explorer';
    });

    const settings = await settingRegistry.load(PLUGIN_ID).catch((reason: unknown) => {
      console.error('jupyterlab-dsi: cannot load settings', reason);
      return null;
    });
    const applySettings = () => {
      if (!settings) {
        return;
      }
      options.maxDatabaseMB = settings.get('maxDatabaseMB').composite as number;
      options.refreshSeconds = settings.get('refreshSeconds').composite as number;
      sidebar.maxDatabaseMB = options.maxDatabaseMB;
      defaultDatabase = (settings.get('defaultDatabase').composite as string) || '';
      provenanceCells = settings.get('provenanceCells').composite as boolean;
      const renamed = {
        selection: settings.get('selectionVariable').composite as string,
        method: settings.get('methodVariable').composite as string,
        datasets: settings.get('datasetsVariable').composite as string
      };
      if (JSON.stringify(renamed) !== JSON.stringify(names)) {
        Object.assign(names, renamed);
        bridges.forEach(b => b.link.relink()); // the kernel writes the variables under the new names
      }
    };
    applySettings();
    settings?.changed.connect(applySettings);

    // Open the default database: the user's setting first, then the server's (make demo).
    // Not awaited: the application is restored only after every plugin has activated.
    void app.restored.then(async () => {
      if (!defaultDatabase) {
        defaultDatabase = await fetchConfig()
          .then(config => config.default_db)
          .catch(() => '');
      }
      if (!defaultDatabase || sidebar.path !== null) {
        return;
      }
      // A default that does not exist (yet) is not worth stealing the user's sidebar for.
      const exists = await app.serviceManager.contents
        .get(defaultDatabase, { content: false })
        .then(() => true)
        .catch(() => false);
      if (exists) {
        await openInSidebar(defaultDatabase);
      } else {
        console.warn(`jupyterlab-dsi: default database ${defaultDatabase} not found`);
      }
    });
  }
};

export default plugin;

/**
 * jupyterlab-dsi: the DSI Explorer panel in the right sidebar, "Open With → DSI Explorer" for
 * database files, and the commands that open them.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Contents, IDefaultDrive } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { addCommands } from './commands';
import { explorerIcon } from './icons';
import { addExplorerDocuments } from './panel/document';
import type { IVariableNames } from './bridge/kernelLink';
import { NotebookBridge } from './bridge/notebookBridge';
import { ExplorerPanel, IBridgeOptions, IExplorerOptions } from './panel/explorer';
import { JobStatus } from './panel/jobStatus';
import { fetchConfig } from './server';

const PLUGIN_ID = 'jupyterlab-dsi:plugin';

export { CommandIDs } from './commands';

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
    // An export saved on the server (Datasets → Export → Save next to the notebook), opened on click.
    const openFile: IExplorerOptions['openFile'] = (path, where) =>
      void app.commands.execute(where === 'document' ? 'docmanager:open' : 'filebrowser:go-to-path', { path });
    // The sidebar follows `%dsi` to another file; tabs stay on the file their title names.
    const options: IExplorerOptions = { maxDatabaseMB: 512, bridge, onJob, openFile, followKernel: true };

    // "Open in main area": a second explorer on the same file, with the same view and selection,
    // which takes over the notebook's variables (the sidebar then says the tab owns them).
    const openInMain = (source: ExplorerPanel) => {
      if (!source.path) {
        return;
      }
      const content = new ExplorerPanel({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds, bridge, onJob, openFile });
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

    // Open With: a main-area document for .sqlite/.db files. Documents already live in the main
    // area: no "open in main area" button there.
    addExplorerDocuments(app, {
      drive: defaultDrive,
      restorer,
      options: () => ({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds, bridge, onJob, openFile })
    });

    const openInSidebar = async (path?: string) => {
      app.shell.activateById(sidebar.id);
      if (path && path !== sidebar.path) {
        await sidebar.open(path);
      }
    };

    addCommands(app, { sidebar, openInSidebar, fileBrowser, palette });
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

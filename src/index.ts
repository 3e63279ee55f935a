/**
 * jupyterlab-dsi: the DSI Explorer panel in the right sidebar, "Open With → DSI Explorer" for
 * database files, and the commands that open them.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { explorerIcon } from './icons';
import {
  DatabaseModelFactory,
  ExplorerDocument,
  ExplorerDocumentFactory,
  FACTORY_NAME,
  FILE_TYPE,
  MODEL_NAME
} from './panel/document';
import { ExplorerPanel, IExplorerOptions } from './panel/explorer';
import { fetchConfig } from './server';

const PLUGIN_ID = 'jupyterlab-dsi:plugin';

export namespace CommandIDs {
  export const open = 'dsi:open';
  export const openFile = 'dsi:open-file';
  export const reload = 'dsi:reload';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The DSI Explorer: choose, record and reproduce training datasets.',
  autoStart: true,
  requires: [ISettingRegistry],
  optional: [ICommandPalette, ILayoutRestorer, IDefaultFileBrowser],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const options: IExplorerOptions = { maxDatabaseMB: 512 };
    let defaultDatabase = '';

    // "Open in main area": a second explorer on the same file, with the same view and selection.
    const openInMain = (source: ExplorerPanel) => {
      if (!source.path) {
        return;
      }
      const content = new ExplorerPanel({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-dsi-explorer-main-${++mainCount}`;
      widget.title.label = `DSI: ${PathExt.basename(source.path)}`;
      widget.title.caption = `DSI Explorer: ${source.path}`;
      widget.title.icon = explorerIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      void content.openWith(source.path, source.model?.settings ?? null);
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
    const factory = new ExplorerDocumentFactory(
      {
        name: FACTORY_NAME,
        label: 'DSI Explorer',
        modelName: MODEL_NAME,
        fileTypes: [FILE_TYPE],
        defaultFor: [FILE_TYPE],
        readOnly: true
      },
      // Documents already live in the main area: no "open in main area" button there.
      () => ({ maxDatabaseMB: options.maxDatabaseMB, refreshSeconds: options.refreshSeconds })
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
    palette?.addItem({ command: CommandIDs.open, category: 'DSI Explorer' });
    palette?.addItem({ command: CommandIDs.reload, category: 'DSI Explorer' });
    sidebar.stateChanged.connect(() => app.commands.notifyCommandChanged(CommandIDs.reload));

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

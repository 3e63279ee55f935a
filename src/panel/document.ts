/**
 * "Open With → DSI Explorer" for .sqlite/.db files: a main-area document whose content is an
 * ExplorerPanel. The model never downloads the file (fileFormat null): the panel asks the
 * server extension for a consistent snapshot instead, so a large file is read once, not twice.
 *
 * JupyterLab never writes the file: the Store is its only writer (DESIGN.md, rule 1). The
 * document reads the file through a content provider that reports it read-only, so the context
 * makes no checkpoint (a whole copy in .ipynb_checkpoints/), Save is disabled, autosave skips it
 * and "Save As" is refused; the model is read-only, so "Revert to Checkpoint" with a checkpoint
 * left by an older version only reloads and never copies a stale file back.
 */
import {
  ABCWidgetFactory,
  Base64ModelFactory,
  DocumentRegistry,
  DocumentWidget
} from '@jupyterlab/docregistry';
import type { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import type { Contents, IContentProvider } from '@jupyterlab/services';

import { explorerIcon } from '../icons';
import { ExplorerPanel, IExplorerOptions } from './explorer';

export const MODEL_NAME = 'jupyterlab-dsi-database';
export const FACTORY_NAME = 'DSI Explorer';
export const FILE_TYPE = 'dsi-database';

/** A model that knows its path and nothing else: no content, no hash. */
export class DatabaseModelFactory extends Base64ModelFactory {
  get name(): string {
    return MODEL_NAME;
  }

  get fileFormat(): Contents.FileFormat {
    return null;
  }
}

/** The content provider through which explorer documents read their file (never write it). */
export const CONTENT_PROVIDER = 'jupyterlab-dsi-store';

/** The file as JupyterLab's document context sees it: its metadata, never writable. */
export class StoreOwnedFiles implements IContentProvider {
  constructor(private readonly _drive: Contents.IDrive) {}

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    // The drive's own provider (REST) reads it; no id, so this provider is not asked again.
    const model = await this._drive.get(localPath, { ...options, contentProviderId: undefined });
    return { ...model, writable: false };
  }

  async save(localPath: string): Promise<Contents.IModel> {
    throw new Error(
      `${localPath} is written only by jupyterlab-dsi's Store: save datasets from the explorer, or copy the file in the file browser to keep a version`
    );
  }
}

export class ExplorerDocument extends DocumentWidget<ExplorerPanel> {}

export class ExplorerDocumentFactory extends ABCWidgetFactory<
  ExplorerDocument,
  DocumentRegistry.IModel
> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions<ExplorerDocument>,
    private readonly _panelOptions: () => IExplorerOptions
  ) {
    super(options);
  }

  protected createNewWidget(
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): ExplorerDocument {
    // Read-only: "Revert to Checkpoint" then reloads instead of restoring a stale copy.
    context.model.readOnly = true;
    const content = new ExplorerPanel(this._panelOptions());
    const widget = new ExplorerDocument({ content, context });
    widget.title.caption = `DSI Explorer: ${context.path}`;
    void context.ready.then(() => content.open(context.path));
    context.pathChanged.connect((_, path) => void content.open(path));
    return widget;
  }
}

/**
 * "Open With → DSI Explorer" for .sqlite/.db files: the file type, the model and widget
 * factories, the read-only content provider and the layout restorer's tracker.
 */
export function addExplorerDocuments(
  app: JupyterFrontEnd,
  context: { drive: Contents.IDrive | null; restorer: ILayoutRestorer | null; options: () => IExplorerOptions }
): void {
  const { drive, restorer, options } = context;
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
  // checkpoint copies, no save over the Store's file (see the top of this file).
  const providers = drive?.contentProviderRegistry;
  providers?.register(CONTENT_PROVIDER, new StoreOwnedFiles(drive!));
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
    options
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
}

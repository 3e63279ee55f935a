/**
 * "Open With → DSI Explorer" for .sqlite/.db files: a main-area document whose content is an
 * ExplorerPanel. The model never downloads the file (fileFormat null): the panel asks the
 * server extension for a consistent snapshot instead, so a large file is read once, not twice.
 */
import {
  ABCWidgetFactory,
  Base64ModelFactory,
  DocumentRegistry,
  DocumentWidget
} from '@jupyterlab/docregistry';
import type { Contents } from '@jupyterlab/services';

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
    const content = new ExplorerPanel(this._panelOptions());
    const widget = new ExplorerDocument({ content, context });
    widget.title.caption = `DSI Explorer: ${context.path}`;
    void context.ready.then(() => content.open(context.path));
    context.pathChanged.connect((_, path) => void content.open(path));
    return widget;
  }
}

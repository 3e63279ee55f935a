/**
 * The panel header's notebook link: which notebook's kernel receives the selection (a picker:
 * follow the active notebook, a given one, or none) and what the link is doing.
 */
import { PathExt } from '@jupyterlab/coreutils';

import type { LinkStatus } from '../bridge/kernelLink';
import type { NotebookBridge } from '../bridge/notebookBridge';
import { formatCount, h } from './dom';
import { plainText, withCode } from './markup';

const FOLLOW = '\u0000follow';
const NONE = '\u0000none';

/**
 * What keeps the explorer from feeding the kernel, whatever the link says: null when it has a
 * database open. A panel that failed to open never says "Linked".
 */
export type PanelProblem = 'empty' | 'loading' | 'error' | null;

function describe(
  status: LinkStatus,
  variable: string,
  problem: PanelProblem
): { text: string; tone: 'ok' | 'busy' | 'off' | 'bad' } {
  if (problem && (status.kind === 'linked' || status.kind === 'elsewhere')) {
    switch (problem) {
      case 'empty':
        return { text: `No database open: ${variable} waits for one.`, tone: 'off' };
      case 'loading':
        return { text: `Opening the database: ${variable} follows once it is open.`, tone: 'busy' };
      case 'error':
        return { text: `Not linked: this database did not open, so ${variable} is left as it was.`, tone: 'bad' };
    }
  }
  switch (status.kind) {
    case 'none':
      return { text: 'No notebook linked: open one to get the selection as kernel variables.', tone: 'off' };
    case 'no-kernel':
      return { text: 'This notebook has no kernel: start one to receive the selection.', tone: 'off' };
    case 'linking':
      return { text: 'Linking to the kernel…', tone: 'busy' };
    case 'linked':
      return {
        text: status.rows === null ? `Linked: ${variable} follows the selection.` : `Linked: ${variable} has ${formatCount(status.rows)} rows.`,
        tone: 'ok'
      };
    case 'elsewhere':
      return { text: `Variables owned by ${status.owner}: ${variable} follows that explorer.`, tone: 'off' };
    case 'unavailable':
      return { text: status.message, tone: 'bad' };
    case 'error':
      return { text: status.message, tone: 'bad' };
  }
}

export class LinkBar {
  readonly node = h('div', { class: 'jp-DSI-linkBar' });

  constructor(
    private readonly _bridge: NotebookBridge,
    private readonly _variable: () => string,
    private readonly _problem: () => PanelProblem = () => null
  ) {
    this._claim.addEventListener('click', () => this._bridge.link.claim());
    this._select.addEventListener('change', () => {
      const value = this._select.value;
      this._bridge.target = value === FOLLOW ? 'follow' : value === NONE ? 'none' : { path: value };
    });
    _bridge.changed.connect(this.render, this);
    this.render();
  }

  render(): void {
    const bridge = this._bridge;
    const current = bridge.notebook;
    const option = (value: string, label: string) => h('option', { value }, label);
    const follow = option(
      FOLLOW,
      `Active notebook${bridge.target === 'follow' && current ? `: ${PathExt.basename(current.context.path)}` : ''}`
    );
    const paths = bridge.notebooks.map(p => p.context.path);
    const picked = bridge.target;
    if (typeof picked === 'object' && !paths.includes(picked.path)) {
      paths.push(picked.path); // closed since: keep it listed so the choice stays visible
    }
    this._select.replaceChildren(
      follow,
      ...paths.map(path => option(path, path)),
      option(NONE, 'Not linked')
    );
    this._select.value = picked === 'follow' ? FOLLOW : picked === 'none' ? NONE : picked.path;
    const problem = this._problem();
    const { text, tone } = describe(bridge.link.status, this._variable(), problem);
    this._status.replaceChildren(...withCode(text));
    this._status.dataset.tone = tone;
    this._status.title = plainText(text);
    // Only an explorer with a database open can take the variables over.
    this._claim.hidden = bridge.link.status.kind !== 'elsewhere' || problem !== null;
    if (!this.node.firstChild) {
      this.node.append(
        h('label', { class: 'jp-DSI-linkLabel' }, h('span', {}, 'Kernel of'), this._select),
        this._status,
        this._claim
      );
    }
  }

  dispose(): void {
    this._bridge.changed.disconnect(this.render, this);
  }

  private readonly _select = h('select', {
    class: 'jp-DSI-select jp-mod-styled',
    'aria-label': 'Notebook whose kernel receives the selection',
    'data-testid': 'dsi-link-target'
  });
  private readonly _claim = h(
    'button',
    {
      class: 'jp-DSI-button jp-mod-styled',
      type: 'button',
      title: "Make this explorer the one that feeds the notebook's kernel variables",
      'data-testid': 'dsi-link-claim'
    },
    'Feed the variables from here'
  );
  private readonly _status = h('span', {
    class: 'jp-DSI-linkStatus',
    role: 'status',
    'aria-live': 'polite',
    'data-testid': 'dsi-link-status'
  });
}

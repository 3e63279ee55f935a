/**
 * The panel's link to one notebook's kernel (docs/bridge.md): a fixed silent request installs
 * the kernel side, a comm on target `jupyterlab-dsi` carries JSON both ways. The panel never
 * waits on it: states are debounced and sent fire-and-forget, and what the kernel answers only
 * updates the link's status. The link is redone when the kernel changes or restarts.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

export const COMM_TARGET = 'jupyterlab-dsi';
export const PROTOCOL = 1;
/** The only code the panel ever sends: fixed, with no user text in it. */
export const INSTALL_EXPRESSION = "__import__('jupyterlab_dsi.bridge').bridge.install()";

export interface IVariableNames {
  selection: string;
  method: string;
  datasets: string;
}

/** The panel's selection as the kernel needs it to read the rows itself. */
export interface IPanelState {
  /** Database path relative to the server root. */
  db: string;
  method: string | null;
  t: number;
  /** d_feature's terms {column: weight}, in order; null: none (no method and no number metric). */
  weights: Record<string, number> | null;
  where: string;
}

/** What `%dsi` asks of the panel. */
export type KernelCommand =
  | {
      type: 'select';
      db: string;
      /** null: no method (a database of parameters and metrics). */
      method: string | null;
      t: number | null;
      /** {column: weight}, or the legacy pair [w_shock, w_edge]; absent or null: unchanged. */
      weights?: Record<string, number> | [number, number] | null;
      where: string;
    }
  | { type: 'open'; db: string }
  | { type: 'show'; db: string; dataset: string }
  | { type: 'saved'; db: string; dataset: string };

export type LinkStatus =
  | { kind: 'none' }
  | { kind: 'no-kernel' }
  | { kind: 'linking' }
  | { kind: 'linked'; rows: number | null }
  /** Linked, but another explorer feeds this kernel's variables (`owner` names it). */
  | { kind: 'elsewhere'; owner: string }
  /** The kernel cannot take the link (no package, not Python): the message says what to do. */
  | { kind: 'unavailable'; message: string }
  /** Linked, but the last state or command failed: one line from the kernel or the panel. */
  | { kind: 'error'; message: string };

export interface IKernelLinkOptions {
  names: () => IVariableNames;
  /** The server's root directory, absolute (the kernel resolves database paths against it). */
  root: () => Promise<string>;
  onCommand: (command: KernelCommand) => void;
  /** Names the explorer for the other links of its kernel ("the DSI Explorer sidebar (a.sqlite)"). */
  label?: () => string;
  /** Debounce of state messages, in milliseconds. */
  delay?: number;
}

const COMMANDS = new Set(['select', 'open', 'show', 'saved']);

/**
 * The one link that feeds each kernel's variables (by kernel id). Two explorers linked to one
 * notebook would otherwise overwrite each other's `dsi_selection` with whichever changed last;
 * the owner is the first with a database open, until the user moves it ("Feed the variables from
 * here", or "Open in main area") or its explorer closes or loses its database. The owner stays
 * across a restart, so the variables come back from the same explorer.
 */
const owners = new Map<string, KernelLink>();
/** A kernel's owner changed (the kernel id): its other links say so, or take over. */
const ownerChanged = new Signal<Map<string, KernelLink>, string>(owners);

function ownerOf(kernelId: string | null): KernelLink | null {
  const owner = kernelId ? owners.get(kernelId) : undefined;
  return owner && !owner.isDisposed && owner._ownedKernel() === kernelId ? owner : null;
}

/**
 * Resolves once the kernel is connected and idle: a request sent while it restarts is lost, and
 * a kernel busy with a long cell would only answer after it anyway.
 */
function whenIdle(kernel: Kernel.IKernelConnection): Promise<void> {
  const ready = () => kernel.connectionStatus === 'connected' && kernel.status === 'idle';
  if (ready()) {
    return Promise.resolve();
  }
  return new Promise(resolve => {
    const check = () => {
      if (ready() || kernel.isDisposed) {
        kernel.statusChanged.disconnect(check);
        kernel.connectionStatusChanged.disconnect(check);
        resolve();
      }
    };
    kernel.statusChanged.connect(check);
    kernel.connectionStatusChanged.connect(check);
  });
}

export class KernelLink implements IDisposable {
  constructor(private readonly _options: IKernelLinkOptions) {
    ownerChanged.connect(this._onOwnerChanged, this);
  }

  /** Whether this link feeds its kernel's variables now. */
  get isOwner(): boolean {
    return this._kernelId !== null && ownerOf(this._kernelId) === this;
  }

  /** Feed the kernel's variables from this explorer from now on (sent at once when linked). */
  claim(): void {
    this._claim = true;
    this._flush();
  }

  /** The explorer has no database to show (it failed to open, or closed it): stop feeding. */
  clearState(): void {
    window.clearTimeout(this._timer);
    this._state = null;
    this._release();
  }

  get status(): LinkStatus {
    return this._status;
  }

  get statusChanged(): ISignal<this, LinkStatus> {
    return this._statusChanged;
  }

  get session(): ISessionContext | null {
    return this._session;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Link to the kernel of `session` (null: unlink); the old comm is closed. */
  setSession(session: ISessionContext | null): void {
    if (session === this._session) {
      return;
    }
    this._session?.kernelChanged.disconnect(this._relink, this);
    this._session?.statusChanged.disconnect(this._onKernelStatus, this);
    this._closeComm();
    this._release(); // another notebook: this explorer no longer feeds the old one's kernel
    this._kernelId = null;
    this._session = session;
    session?.kernelChanged.connect(this._relink, this);
    session?.statusChanged.connect(this._onKernelStatus, this);
    this._relink();
  }

  /** Send the panel's state soon (debounced); the latest one wins. */
  sendState(state: IPanelState): void {
    this._state = state;
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this._flush(), this._options.delay ?? 200);
  }

  /** A dataset was saved or deleted: the kernel reads dsi_datasets again. */
  datasetsChanged(): void {
    this._send({ type: 'datasets' });
  }

  /** Show a one-line problem in the link's status (a `%dsi` command the panel could not do). */
  report(message: string): void {
    this._setStatus({ kind: 'error', message });
  }

  /** Redo the link (after a settings change of the variable names). */
  relink(): void {
    this._relink();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._timer);
    this._release();
    ownerChanged.disconnect(this._onOwnerChanged, this);
    this.setSession(null);
    Signal.clearData(this);
  }

  private _onKernelStatus(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      // The comm died with the kernel's process: link again once the new one is idle.
      this._comm = null;
      this._stale = true;
      this._setStatus({ kind: 'linking' });
    } else if (status === 'idle' && this._stale) {
      this._relink();
    }
  }

  private _relink(): void {
    void this._link(++this._generation);
  }

  private async _link(generation: number): Promise<void> {
    this._closeComm();
    this._stale = false;
    const session = this._session;
    if (!session) {
      this._setStatus({ kind: 'none' });
      return;
    }
    this._setStatus({ kind: 'linking' });
    const current = () => generation === this._generation && !this._disposed;
    try {
      await session.ready;
      const kernel = session.session?.kernel;
      if (!current()) {
        return;
      }
      if (!kernel) {
        this._setStatus({ kind: 'no-kernel' });
        return;
      }
      await whenIdle(kernel);
      const info = await kernel.info;
      if (!current()) {
        return;
      }
      const language = info.language_info?.name ?? '';
      if (language.toLowerCase() !== 'python') {
        this._setStatus({
          kind: 'unavailable',
          message: `This notebook's kernel runs ${language || 'an unknown language'}: the kernel variables need a Python kernel with jupyterlab-dsi installed.`
        });
        return;
      }
      const reply = await kernel.requestExecute({
        code: '',
        silent: true,
        store_history: false,
        user_expressions: { dsi: INSTALL_EXPRESSION }
      }).done;
      if (!current()) {
        return;
      }
      const result = (reply.content as KernelMessage.IExecuteReplyMsg['content'] & {
        user_expressions?: Record<string, { status: string; ename?: string; evalue?: string }>;
      }).user_expressions?.dsi;
      if (!result || result.status !== 'ok') {
        const missing = result?.ename === 'ModuleNotFoundError' || result?.ename === 'ImportError';
        this._setStatus({
          kind: 'unavailable',
          message: missing
            ? "jupyterlab-dsi is not installed in this kernel's environment: run `%pip install jupyterlab-dsi` in the notebook, then restart its kernel."
            : `The kernel could not start the bridge: ${result?.ename ?? 'no reply'}: ${result?.evalue ?? ''}`.trim()
        });
        return;
      }
      const root = await this._options.root();
      if (!current()) {
        return;
      }
      if (this._kernelId !== kernel.id) {
        this._release(); // a new kernel in the same session: the old one's variables are let go
        this._kernelId = kernel.id;
      }
      const comm = kernel.createComm(COMM_TARGET);
      comm.onMsg = msg => this._onMessage(comm, msg.content.data as Record<string, unknown>);
      comm.onClose = () => {
        if (this._comm === comm) {
          this._comm = null;
          this._setStatus({ kind: 'linking' });
        }
      };
      this._comm = comm;
      this._hello = false;
      comm.open({ protocol: PROTOCOL, names: { ...this._options.names() }, root });
    } catch (error) {
      if (current()) {
        this._setStatus({ kind: 'error', message: `Cannot link to the kernel: ${(error as Error).message}` });
      }
    }
  }

  private _onMessage(comm: Kernel.IComm, data: Record<string, unknown>): void {
    if (comm !== this._comm || !data || typeof data.type !== 'string') {
      return;
    }
    switch (data.type) {
      case 'hello': {
        this._hello = true;
        this._setStatus({ kind: 'linked', rows: null });
        this._flush(); // sends only if this link owns the variables, or can take them
        return;
      }
      case 'updated':
        if (data.seq === this._seq) {
          this._setStatus({ kind: 'linked', rows: typeof data.rows === 'number' ? data.rows : null });
        }
        return;
      case 'error':
        // A stale answer (an older state) is not worth showing.
        if (data.seq === undefined || data.seq === this._seq) {
          this._setStatus({ kind: 'error', message: String(data.message ?? 'error') });
        }
        return;
      default:
        if (COMMANDS.has(data.type)) {
          this._options.onCommand(data as unknown as KernelCommand);
        }
    }
  }

  private _flush(): void {
    window.clearTimeout(this._timer);
    const kernelId = this._kernelId;
    if (!this._state || !this._comm || !this._hello || !kernelId) {
      return;
    }
    const owner = ownerOf(kernelId);
    if (owner !== this) {
      if (owner && !this._claim) {
        this._setStatus({ kind: 'elsewhere', owner: owner._label() });
        return;
      }
      this._claim = false;
      owners.set(kernelId, this);
      ownerChanged.emit(kernelId);
      this._setStatus({ kind: 'linked', rows: null });
    }
    this._send({ type: 'state', seq: ++this._seq, ...this._state });
  }

  /** The kernel this link can own: its kernel id while its comm is up or being redone. */
  _ownedKernel(): string | null {
    return this._kernelId;
  }

  _label(): string {
    return this._options.label?.() ?? 'another DSI Explorer';
  }

  private _release(): void {
    const kernelId = this._kernelId;
    if (kernelId && owners.get(kernelId) === this) {
      owners.delete(kernelId);
      ownerChanged.emit(kernelId);
    }
  }

  private _onOwnerChanged(_: unknown, kernelId: string): void {
    if (kernelId !== this._kernelId || this._disposed || !this._hello) {
      return;
    }
    const owner = ownerOf(kernelId);
    if (owner === this) {
      return;
    }
    if (owner) {
      this._setStatus({ kind: 'elsewhere', owner: owner._label() });
    } else if (this._state) {
      this._flush(); // the owner let go: the next explorer with a database takes over
    } else if (this._status.kind === 'elsewhere') {
      this._setStatus({ kind: 'linked', rows: null });
    }
  }

  private _send(data: Record<string, unknown>): void {
    if (!this._comm || !this._hello || this._comm.isDisposed) {
      return;
    }
    try {
      this._comm.send(data as never);
    } catch (error) {
      console.warn('jupyterlab-dsi: cannot reach the kernel', error);
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    this._hello = false;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone: nothing to close
      }
    }
  }

  private _setStatus(status: LinkStatus): void {
    this._status = status;
    this._statusChanged.emit(status);
  }

  private _session: ISessionContext | null = null;
  private _kernelId: string | null = null;
  private _comm: Kernel.IComm | null = null;
  private _hello = false;
  private _claim = false;
  private _stale = false;
  private _state: IPanelState | null = null;
  private _seq = 0;
  private _timer = 0;
  private _generation = 0;
  private _disposed = false;
  private _status: LinkStatus = { kind: 'none' };
  private readonly _statusChanged = new Signal<this, LinkStatus>(this);
}

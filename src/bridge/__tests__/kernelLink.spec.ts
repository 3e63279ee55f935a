/**
 * The link's side of the protocol (docs/bridge.md) against a kernel double that records what it
 * is sent: the fixed install expression, the comm's open data, debounced states where the latest
 * wins, the kernel's commands handed to the panel, a relink after a restart, and clear messages
 * for a kernel without the package or without Python. The real kernel is driven by
 * tests/test_kernel.py and the Galata bridge spec.
 */
import { Signal } from '@lumino/signaling';

import { COMM_TARGET, INSTALL_EXPRESSION, KernelCommand, KernelLink, LinkStatus } from '../kernelLink';

class FakeComm {
  opened: unknown[] = [];
  sent: Record<string, unknown>[] = [];
  closed = false;
  isDisposed = false;
  onMsg: (msg: { content: { data: unknown } }) => void = () => undefined;
  onClose: () => void = () => undefined;
  constructor(readonly target: string) {}
  open(data: unknown) {
    this.opened.push(data);
  }
  send(data: Record<string, unknown>) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
  }
  reply(data: unknown) {
    this.onMsg({ content: { data } });
  }
}

let kernels = 0;

class FakeKernel {
  id = `kernel-${++kernels}`;
  status = 'idle';
  connectionStatus = 'connected';
  isDisposed = false;
  statusChanged = new Signal<unknown, string>({});
  connectionStatusChanged = new Signal<unknown, string>({});
  comms: FakeComm[] = [];
  expressions: Record<string, string>[] = [];
  constructor(
    public language = 'python',
    public install: Record<string, unknown> = { status: 'ok', data: { 'text/plain': "{'protocol': 1}" } }
  ) {}
  get info() {
    return Promise.resolve({ language_info: { name: this.language } });
  }
  requestExecute(content: { user_expressions: Record<string, string> }) {
    this.expressions.push(content.user_expressions);
    return { done: Promise.resolve({ content: { status: 'ok', user_expressions: { dsi: this.install } } }) };
  }
  createComm(target: string) {
    const comm = new FakeComm(target);
    this.comms.push(comm);
    return comm;
  }
}

function session(kernel: FakeKernel | null) {
  const s = {
    ready: Promise.resolve(),
    session: kernel ? { kernel } : null,
    kernelChanged: new Signal<unknown, unknown>({}),
    statusChanged: new Signal<unknown, string>({})
  };
  return s;
}

// The link's clocks are Jest's: a test moves them past the 5 ms debounce instead of sleeping
// through it, so that "nothing was sent yet" and "the newest was sent" never depend on timing.
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());
/** Let the link's promises (install, kernel info) run to their end. */
const settle = () => jest.advanceTimersByTimeAsync(0);
/** Past the debounce: the pending state, if any, goes out. */
const debounced = () => jest.advanceTimersByTimeAsync(5);

function link(commands: KernelCommand[] = [], label?: string) {
  const statuses: LinkStatus[] = [];
  const l = new KernelLink({
    names: () => ({ selection: 'sel', method: 'meth', datasets: 'sets' }),
    root: async () => '/srv/root',
    onCommand: c => commands.push(c),
    label: label === undefined ? undefined : () => label,
    delay: 5
  });
  l.statusChanged.connect((_, s) => statuses.push(s));
  return { l, statuses };
}

const STATE = { db: 'data/sample.sqlite', method: 'm1', t: 3, weights: { d_shock: 1, d_edge: 1 }, where: '' };

describe('the kernel link', () => {
  it('installs with the fixed expression, opens the comm, then sends the latest state only', async () => {
    const kernel = new FakeKernel();
    const { l, statuses } = link();
    l.setSession(session(kernel) as never);
    await settle();
    expect(kernel.expressions).toEqual([{ dsi: INSTALL_EXPRESSION }]);
    const comm = kernel.comms[0];
    expect(comm.target).toBe(COMM_TARGET);
    expect(comm.opened).toEqual([
      { protocol: 1, names: { selection: 'sel', method: 'meth', datasets: 'sets' }, root: '/srv/root' }
    ]);
    // States before the kernel's hello wait; after it, the newest goes out.
    l.sendState({ ...STATE, where: 'cs == 1' });
    l.sendState({ ...STATE, where: 'cs == 2' });
    await debounced();
    expect(comm.sent).toEqual([]);
    comm.reply({ type: 'hello', protocol: 1 });
    expect(comm.sent).toEqual([{ type: 'state', seq: 1, ...STATE, where: 'cs == 2' }]);
    comm.reply({ type: 'updated', seq: 1, rows: 42 });
    expect(statuses[statuses.length - 1]).toEqual({ kind: 'linked', rows: 42 });
    // Debounced: three quick changes make one message.
    l.sendState({ ...STATE, t: 4 });
    l.sendState({ ...STATE, t: 5 });
    l.sendState({ ...STATE, t: 6 });
    await debounced();
    expect(comm.sent.slice(1)).toEqual([{ type: 'state', seq: 2, ...STATE, t: 6 }]);
    // An error about an older state is not shown; one about the latest is.
    comm.reply({ type: 'error', seq: 1, message: 'old' });
    expect(l.status).toEqual({ kind: 'linked', rows: 42 });
    comm.reply({ type: 'error', seq: 2, message: "filter: unknown name 'x'" });
    expect(l.status).toEqual({ kind: 'error', message: "filter: unknown name 'x'" });
    l.dispose();
    expect(comm.closed).toBe(true);
  });

  it("hands the kernel's commands to the panel and ignores anything else", async () => {
    const kernel = new FakeKernel();
    const commands: KernelCommand[] = [];
    const { l } = link(commands);
    l.setSession(session(kernel) as never);
    await settle();
    const comm = kernel.comms[0];
    comm.reply({ type: 'hello' });
    const select = { type: 'select', db: 'a.sqlite', method: 'm', t: null, weights: { d_density: 1, wall_clock: 0.5 }, where: 'cs == 1' };
    comm.reply(select);
    comm.reply({ type: 'show', db: 'a.sqlite', dataset: 'd' });
    comm.reply({ type: 'exec', code: 'import os' });
    comm.reply('not an object');
    expect(commands).toEqual([select, { type: 'show', db: 'a.sqlite', dataset: 'd' }]);
  });

  it('waits for a kernel that is still starting before it asks anything', async () => {
    const kernel = new FakeKernel();
    kernel.status = 'starting';
    const { l } = link();
    l.setSession(session(kernel) as never);
    await settle();
    expect(kernel.expressions).toHaveLength(0);
    kernel.status = 'idle';
    kernel.statusChanged.emit('idle');
    await settle();
    expect(kernel.expressions).toHaveLength(1);
    expect(kernel.comms).toHaveLength(1);
  });

  it('links again after a restart, with a new comm that gets the last state', async () => {
    const kernel = new FakeKernel();
    const { l } = link();
    const s = session(kernel);
    l.setSession(s as never);
    await settle();
    kernel.comms[0].reply({ type: 'hello' });
    l.sendState(STATE);
    await debounced();
    s.statusChanged.emit('restarting');
    expect(l.status.kind).toBe('linking');
    s.statusChanged.emit('idle');
    await settle();
    expect(kernel.comms).toHaveLength(2);
    expect(kernel.expressions).toHaveLength(2);
    kernel.comms[1].reply({ type: 'hello' });
    expect(kernel.comms[1].sent).toEqual([{ type: 'state', seq: 2, ...STATE }]);
  });

  it('with two explorers on one kernel, exactly one feeds the variables and the other says which', async () => {
    const kernel = new FakeKernel();
    const s = session(kernel);
    const a = link([], 'the DSI Explorer sidebar (a.sqlite)').l;
    const b = link([], 'the tab “DSI: a.sqlite”').l;
    a.setSession(s as never);
    b.setSession(s as never);
    await settle();
    const [commA, commB] = kernel.comms;
    commA.reply({ type: 'hello' });
    commB.reply({ type: 'hello' });
    a.sendState({ ...STATE, where: 'from a' });
    await debounced();
    // b changes last, but a has the variables: b's state stays in the panel, b says who feeds them.
    b.sendState({ ...STATE, where: 'from b' });
    await debounced();
    expect(commA.sent).toEqual([{ type: 'state', seq: 1, ...STATE, where: 'from a' }]);
    expect(commB.sent).toEqual([]);
    expect([a.isOwner, b.isOwner]).toEqual([true, false]);
    expect(b.status).toEqual({ kind: 'elsewhere', owner: 'the DSI Explorer sidebar (a.sqlite)' });

    // The user moves them: b sends its state at once, a now names b.
    b.claim();
    expect(commB.sent).toEqual([{ type: 'state', seq: 1, ...STATE, where: 'from b' }]);
    expect(a.status).toEqual({ kind: 'elsewhere', owner: 'the tab “DSI: a.sqlite”' });
    a.sendState({ ...STATE, where: 'a again' });
    await debounced();
    expect(commA.sent).toHaveLength(1);

    // After a restart only the owner sends again: the variables come back from b.
    s.statusChanged.emit('restarting');
    s.statusChanged.emit('idle');
    await settle();
    const [againA, againB] = kernel.comms.slice(2);
    againA.reply({ type: 'hello' });
    againB.reply({ type: 'hello' });
    expect(againA.sent).toEqual([]);
    expect(againB.sent).toEqual([{ type: 'state', seq: 2, ...STATE, where: 'from b' }]);

    // b's database fails to open: it lets go, and a feeds the variables with its own state.
    b.clearState();
    expect(againA.sent).toEqual([{ type: 'state', seq: 2, ...STATE, where: 'a again' }]);
    expect(a.isOwner).toBe(true);
    // Closing the owner hands the variables to the explorer left, which had a database open.
    b.sendState({ ...STATE, where: 'b reopened' });
    await debounced();
    expect(againB.sent).toHaveLength(1);
    a.dispose();
    expect(againB.sent[1]).toEqual({ type: 'state', seq: 3, ...STATE, where: 'b reopened' });
    expect(b.isOwner).toBe(true);
    b.dispose();
  });

  it('an explorer linked to another kernel never waits on this one', async () => {
    const one = new FakeKernel();
    const two = new FakeKernel();
    const a = link().l;
    const b = link().l;
    a.setSession(session(one) as never);
    b.setSession(session(two) as never);
    await settle();
    one.comms[0].reply({ type: 'hello' });
    two.comms[0].reply({ type: 'hello' });
    a.sendState(STATE);
    b.sendState(STATE);
    await debounced();
    expect([one.comms[0].sent.length, two.comms[0].sent.length]).toEqual([1, 1]);
    expect([a.isOwner, b.isOwner]).toEqual([true, true]);
    a.dispose();
    b.dispose();
  });

  it('says what to do when the kernel lacks the package, Python or a kernel at all', async () => {
    const missing = new FakeKernel('python', { status: 'error', ename: 'ModuleNotFoundError', evalue: "No module named 'jupyterlab_dsi'" });
    const { l } = link();
    l.setSession(session(missing) as never);
    await settle();
    expect(l.status).toEqual({ kind: 'unavailable', message: expect.stringContaining('%pip install jupyterlab-dsi') });
    expect(missing.comms).toHaveLength(0);

    const r = new FakeKernel('R');
    l.setSession(session(r) as never);
    await settle();
    expect(l.status).toEqual({ kind: 'unavailable', message: expect.stringContaining('runs R') });

    l.setSession(session(null) as never);
    await settle();
    expect(l.status).toEqual({ kind: 'no-kernel' });
    l.setSession(null);
    expect(l.status).toEqual({ kind: 'none' });
  });
});

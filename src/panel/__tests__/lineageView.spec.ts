/**
 * The lineage widget as a user works it: the graph the server answers is drawn with its title;
 * a dataset node restores the dataset, a method node turns the explorer to it, a run node goes
 * to the caller (the Runs tab), a source under the server's root is shown in the file browser
 * and one outside it is named; a server error is one line in the widget.
 */
import { Widget } from '@lumino/widgets';
import { deserialize, serialize } from 'v8';

import { ILineageHost, ILineageTarget, LineageView, setLineageHost, showLineage } from '../lineageView';

jest.mock('../../server', () => ({
  fetchLineage: jest.fn(),
  fetchConfig: jest.fn(async () => ({ default_db: '', root: '/home/u/work' }))
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as { fetchLineage: jest.Mock };

// dagre clones with structuredClone, which browsers and Node have and jest's jsdom does not.
(globalThis as { structuredClone?: (value: unknown) => unknown }).structuredClone ??= value => deserialize(serialize(value));

const GRAPH = {
  nodes: [
    { id: 'src', kind: 'source', label: 'simulations.csv', path: '/home/u/work/ens/simulations.csv' },
    { id: 'far', kind: 'source', label: 'elsewhere.csv', path: '/srv/elsewhere.csv' },
    { id: 'bare', kind: 'artifact', label: 'model.pt' },
    { id: 'm', kind: 'method', label: 'L2 vs s00' },
    { id: 'ds', kind: 'dataset', label: 'small feature' },
    { id: 'run', kind: 'run', label: 'gp (finished)' }
  ],
  edges: [
    { source: 'm', target: 'src', relation: 'used' },
    { source: 'ds', target: 'm', relation: 'wasDerivedFrom' },
    { source: 'run', target: 'ds', relation: 'used' },
    { source: 'bare', target: 'run', relation: 'wasGeneratedBy' }
  ]
};

function fakeHost(): jest.Mocked<ILineageHost> {
  return {
    add: jest.fn(),
    restoreDataset: jest.fn(async (_path: string, _id: string) => undefined),
    showMethod: jest.fn(async (_path: string, _id: string) => undefined),
    showFile: jest.fn(),
    activate: jest.fn(),
    openRecord: jest.fn(async (_path: string, _node: ILineageTarget) => undefined)
  };
}

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

function click(view: LineageView, id: string): void {
  view.node.querySelector(`g.jp-DSI-dagNode[data-id="${id}"]`)!.dispatchEvent(new MouseEvent('click', { bubbles: true }));
}

afterEach(() => {
  setLineageHost(null);
  document.body.replaceChildren();
});

describe('the lineage widget', () => {
  it('draws the graph of a record and opens each node as what it is', async () => {
    server.fetchLineage.mockResolvedValue(GRAPH);
    const host = fakeHost();
    setLineageHost(host);
    const onOpen = jest.fn();
    const view = new LineageView('data/ens.sqlite', 'ds', onOpen);
    Widget.attach(view, document.body);
    const self = await view.load();
    expect(server.fetchLineage).toHaveBeenCalledWith('data/ens.sqlite', 'ds');
    expect(self?.label).toBe('small feature');
    expect(view.node.querySelector('h2')!.textContent).toBe('Lineage of dataset “small feature”');
    expect(view.node.querySelectorAll('g.jp-DSI-dagNode')).toHaveLength(GRAPH.nodes.length);

    click(view, 'ds');
    click(view, 'm');
    click(view, 'run');
    await settle();
    expect(host.restoreDataset).toHaveBeenCalledWith('data/ens.sqlite', 'ds');
    expect(host.showMethod).toHaveBeenCalledWith('data/ens.sqlite', 'm');
    expect(onOpen).toHaveBeenCalledWith({ id: 'run', kind: 'run' });

    const details = view.node.querySelector('.jp-DSI-lineageDetails')!;
    click(view, 'src');
    await settle();
    await settle();
    expect(host.showFile).toHaveBeenCalledWith('ens/simulations.csv');
    expect(details.textContent).toBe('Source: /home/u/work/ens/simulations.csvShow in file browser');

    click(view, 'far');
    await settle();
    await settle();
    expect(host.showFile).toHaveBeenCalledTimes(1);
    expect(details.textContent).toBe('Source: /srv/elsewhere.csv (outside the server’s root: open it from a terminal)');

    click(view, 'bare');
    await settle();
    await settle();
    expect(details.textContent).toBe('Artifact: model.pt');
  });

  it('says a server error in one line instead of a graph', async () => {
    server.fetchLineage.mockRejectedValue(new Error("no record 'zz' in data/ens.sqlite; give a dataset, split, run, method or source id"));
    const view = new LineageView('data/ens.sqlite', 'zz');
    Widget.attach(view, document.body);
    expect(await view.load()).toBeNull();
    const alert = view.node.querySelector('[role="alert"]')!;
    expect(alert.textContent).toBe("No lineage: no record 'zz' in data/ens.sqlite; give a dataset, split, run, method or source id");
    expect(view.node.querySelector('svg')).toBeNull();
  });

  it('shows one widget per record, named after it, and says when the plugin did not start', async () => {
    server.fetchLineage.mockResolvedValue(GRAPH);
    await expect(showLineage({ path: 'data/ens.sqlite', id: 'ds' })).rejects.toThrow('The lineage graph is not available');
    const host = fakeHost();
    setLineageHost(host);
    await showLineage({ path: 'data/ens.sqlite', id: 'ds' });
    await showLineage({ path: 'data/ens.sqlite', id: 'ds' });
    await showLineage({ path: 'data/ens.sqlite', id: 'run' });
    const [first, again, other] = host.add.mock.calls.map(([w]) => w);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(first.title.label).toBe('Lineage: small feature');
    expect(first.id).not.toBe(other.id);
    first.dispose();
    other.dispose();
  });

  it('opens a run through the explorer that asked last, and through the application when none did', async () => {
    server.fetchLineage.mockResolvedValue(GRAPH);
    const host = fakeHost();
    setLineageHost(host);
    const closed = jest.fn();
    const asking = jest.fn();
    await showLineage({ path: 'data/ens.sqlite', id: 'ds', onOpen: closed });
    const widget = host.add.mock.calls[0][0] as Widget & { content: LineageView };
    Widget.attach(widget, document.body); // as the shell does: drawn once shown
    await showLineage({ path: 'data/ens.sqlite', id: 'ds', onOpen: asking }); // the same widget, asked again
    expect(host.add.mock.calls[1][0]).toBe(widget);
    click(widget.content, 'run');
    await settle();
    expect(closed).not.toHaveBeenCalled();
    expect(asking).toHaveBeenCalledWith({ id: 'run', kind: 'run' });
    widget.dispose();

    // Asked with no explorer to answer: the application shows the run in one on the file.
    const view = new LineageView('data/ens.sqlite', 'ds');
    Widget.attach(view, document.body);
    await view.load();
    click(view, 'run');
    await settle();
    expect(host.openRecord).toHaveBeenCalledWith('data/ens.sqlite', { id: 'run', kind: 'run' });
  });

  it('drops an older graph that answers after a newer one', async () => {
    let answer: (graph: unknown) => void = () => undefined;
    server.fetchLineage.mockReturnValueOnce(new Promise(resolve => (answer = resolve))).mockResolvedValueOnce(GRAPH);
    const view = new LineageView('data/ens.sqlite', 'ds');
    Widget.attach(view, document.body);
    const older = view.load(); // a Reload click, then showLineage again
    await view.load();
    expect(view.node.querySelectorAll('g.jp-DSI-dagNode')).toHaveLength(GRAPH.nodes.length);
    answer({ nodes: [{ id: 'ds', kind: 'dataset', label: 'before the run' }], edges: [] });
    await older;
    expect(view.node.querySelectorAll('g.jp-DSI-dagNode')).toHaveLength(GRAPH.nodes.length);
    expect(view.node.querySelector('h2')!.textContent).toBe('Lineage of dataset “small feature”');
  });
});

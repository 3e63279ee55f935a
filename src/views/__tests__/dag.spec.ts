/**
 * The lineage graph: dagre's layered layout in the flow's order (sources, methods, datasets,
 * splits, runs, artifacts), fitted to the width available, drawn as focusable SVG nodes whose
 * labels stay text, with each edge's PROV relation on hover.
 */
import { deserialize, serialize } from 'v8';

import { dagNodes, underRoot } from '../../panel/lineageView';
import { drawDag, fitLayout, flowOf, IDagEdge, IDagNode, layoutDag, shortLabel } from '../dag';

// dagre clones with structuredClone, which browsers and Node have and jest's jsdom does not.
(globalThis as { structuredClone?: (value: unknown) => unknown }).structuredClone ??= value => deserialize(serialize(value));

const NODES: IDagNode[] = [
  { id: 'art', kind: 'artifact', label: 'model.pt' },
  { id: 'run', kind: 'run', label: 'gp-small' },
  { id: 'split', kind: 'split', label: 'train/val/test' },
  { id: 'ds', kind: 'dataset', label: '<img src=x onerror=alert(1)>' },
  { id: 'parent', kind: 'dataset', label: 'first try' },
  { id: 'm', kind: 'method', label: '12 · L2' },
  { id: 'src', kind: 'source', label: '/data/simulations.csv' }
];

// PROV's direction: the later record first (run used split, artifact wasGeneratedBy run…).
const EDGES: IDagEdge[] = [
  { source: 'art', target: 'run', relation: 'wasGeneratedBy' },
  { source: 'run', target: 'split', relation: 'used' },
  { source: 'run', target: 'ds', relation: 'used' },
  { source: 'split', target: 'ds', relation: 'wasDerivedFrom' },
  { source: 'ds', target: 'm', relation: 'used' },
  { source: 'ds', target: 'parent', relation: 'wasDerivedFrom' },
  { source: 'm', target: 'src', relation: 'used' },
  { source: 'ds', target: 'missing', relation: 'used' }
];

describe('layoutDag', () => {
  it('places the kinds in layers left to right along the flow', () => {
    const layout = layoutDag(NODES, EDGES);
    const x = new Map(layout.nodes.map(n => [n.id, n.x]));
    for (const [a, b] of [['src', 'm'], ['m', 'ds'], ['ds', 'split'], ['split', 'run'], ['run', 'art'], ['parent', 'ds']]) {
      expect(x.get(a)!).toBeLessThan(x.get(b)!);
    }
    expect(layout.width).toBeGreaterThan(0);
    // The edge to a node not in the graph is dropped; the others run upstream to downstream.
    expect(layout.edges).toHaveLength(EDGES.length - 1);
    const used = layout.edges.find(e => e.source === 'run' && e.target === 'ds')!;
    expect([used.from, used.to]).toEqual(['ds', 'run']);
    expect(used.points.length).toBeGreaterThanOrEqual(2);
  });

  it('orients an edge by the kinds, whichever way it was written', () => {
    const kinds = new Map([['a', 'dataset'], ['b', 'run'], ['c', 'dataset']]);
    expect(flowOf({ source: 'b', target: 'a', relation: 'used' }, kinds)).toEqual(['a', 'b']);
    expect(flowOf({ source: 'a', target: 'b', relation: 'used' }, kinds)).toEqual(['a', 'b']);
    // Same kind: PROV's object (the parent) comes first.
    expect(flowOf({ source: 'c', target: 'a', relation: 'wasDerivedFrom' }, kinds)).toEqual(['a', 'c']);
  });

  it('lays out top to bottom where left to right would not fit, and left to right where it does', () => {
    const wide = fitLayout(NODES, EDGES, 4000);
    expect(wide.direction).toBe('LR');
    const narrow = fitLayout(NODES, EDGES, 300);
    expect(narrow.direction).toBe('TB');
    expect(narrow.width).toBeLessThan(wide.width);
    const y = new Map(narrow.nodes.map(n => [n.id, n.y]));
    expect(y.get('src')!).toBeLessThan(y.get('art')!);
  });
});

describe('proposal nodes (issue 16)', () => {
  it('lays a proposal out after the run it was derived from, and draws it with its own kind', () => {
    const nodes: IDagNode[] = [...NODES, { id: 'prop', kind: 'proposal', label: '20 points (seed 7)' }];
    const edges: IDagEdge[] = [...EDGES, { source: 'prop', target: 'run', relation: 'wasDerivedFrom' }];
    const layout = layoutDag(nodes, edges);
    const x = new Map(layout.nodes.map(n => [n.id, n.x]));
    expect(x.get('run')!).toBeLessThan(x.get('prop')!);
    const derived = layout.edges.find(e => e.source === 'prop')!;
    expect([derived.from, derived.to]).toEqual(['run', 'prop']);
    const container = document.createElement('div');
    document.body.appendChild(container);
    drawDag(container, layout, { width: 800, onOpen: () => undefined });
    const prop = container.querySelector('g[data-id="prop"]')!;
    expect(prop.getAttribute('class')).toContain('jp-mod-proposal');
    expect(prop.getAttribute('data-kind')).toBe('proposal');
    expect(prop.querySelector('.jp-DSI-dagKind')!.textContent).toBe('✚ proposal');
    container.remove();
  });
});

describe('drawDag', () => {
  it('draws focusable nodes with text-only labels and opens them on click and Enter', () => {
    const container = document.createElement('div');
    document.body.appendChild(container);
    const opened: string[] = [];
    const layout = layoutDag(NODES, EDGES);
    const svg = drawDag(container, layout, { width: 400, onOpen: n => opened.push(n.id) });
    // Scaled down to the width available, never up.
    expect(Number(svg.getAttribute('width'))).toBeLessThanOrEqual(400);
    expect(svg.getAttribute('viewBox')).toBe(`0 0 ${layout.width} ${layout.height}`);
    const nodes = container.querySelectorAll('g.jp-DSI-dagNode');
    expect(nodes).toHaveLength(NODES.length);
    expect(container.querySelector('img')).toBeNull();
    const ds = container.querySelector('g[data-id="ds"]')!;
    expect(ds.getAttribute('tabindex')).toBe('0');
    expect(ds.querySelector('.jp-DSI-dagLabel')!.textContent).toBe(shortLabel('<img src=x onerror=alert(1)>'));
    expect(ds.querySelector('title')!.textContent).toContain('dataset: <img src=x onerror=alert(1)>');
    ds.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    container.querySelector('g[data-id="run"]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    container.querySelector('g[data-id="m"]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'a', bubbles: true }));
    expect(opened).toEqual(['ds', 'run']);
    const edge = container.querySelector('g.jp-DSI-dagEdge[data-from="src"][data-to="m"]')!;
    expect(edge.querySelector('title')!.textContent).toBe('12 · L2 used /data/simulations.csv');
    expect(edge.querySelector('.jp-DSI-dagEdgeLine')!.getAttribute('marker-end')).toMatch(/^url\(#jp-DSI-dagArrow-\d+\)$/);
    // Not only on hover: a node points (aria-describedby) at a hidden text with its relations.
    const m = container.querySelector('g[data-id="m"]')!;
    const said = document.getElementById(m.getAttribute('aria-describedby')!)!;
    expect(said.closest('.jp-DSI-visuallyHidden')).not.toBeNull();
    expect(said.textContent).toContain('method “12 · L2” used source “/data/simulations.csv”');
    // Drawn again: replaced, not added.
    drawDag(container, layout, { width: 400, onOpen: () => undefined });
    expect(container.querySelectorAll('svg.jp-DSI-dag')).toHaveLength(1);
    expect(container.querySelectorAll('.jp-DSI-dagText')).toHaveLength(1);
    container.remove();
  });

  it('marks deleted and stale records in their box and title', () => {
    const container = document.createElement('div');
    const nodes = dagNodes(
      {
        nodes: [
          { id: 'a', kind: 'dataset', label: 'old', deleted: true },
          { id: 'b', kind: 'run', label: 'r', stale: ['source a.csv changed', 'method recomputed'] },
          { id: 'c', kind: 'run', label: '', stale: true }
        ],
        edges: []
      },
      'b'
    );
    expect(nodes.map(n => [n.label, n.stale, n.focus])).toEqual([
      ['old', undefined, undefined],
      ['r', 'source a.csv changed; method recomputed', true],
      ['c'.slice(0, 8), 'an upstream record changed', undefined]
    ]);
    drawDag(container, layoutDag(nodes, []), { width: 1000, onOpen: () => undefined });
    const a = container.querySelector('g[data-id="a"]')!;
    expect(a.classList.contains('jp-mod-deleted')).toBe(true);
    expect(a.querySelector('.jp-DSI-dagKind')!.textContent).toBe('◫ dataset · deleted');
    const b = container.querySelector('g[data-id="b"]')!;
    expect(b.querySelector('.jp-DSI-dagStale')!.textContent).toBe('stale');
    expect(b.querySelector('title')!.textContent).toBe('run: r\nstale: source a.csv changed; method recomputed');
    expect(b.classList.contains('jp-mod-focus')).toBe(true);
    expect(container.querySelector(`#${b.getAttribute('aria-describedby')}`)!.textContent).toBe('stale: source a.csv changed; method recomputed');
    expect(a.hasAttribute('aria-describedby')).toBe(false); // nothing to say
  });
});

describe('underRoot', () => {
  it('gives a file relative to the server root, or null outside it', () => {
    expect(underRoot('/home/u/work/data/a.csv', '/home/u/work')).toBe('data/a.csv');
    expect(underRoot('/home/u/work/data/a.csv', '/home/u/work/')).toBe('data/a.csv');
    expect(underRoot('C:\\Users\\u\\a.csv', 'C:\\Users\\u')).toBe('a.csv');
    expect(underRoot('/home/u/workshop/a.csv', '/home/u/work')).toBeNull();
    expect(underRoot('/home/u/work/../x/a.csv', '/home/u/work')).toBeNull();
    expect(underRoot('/srv/a.csv', '')).toBeNull();
  });
});

/**
 * A lineage graph drawn as a layered DAG: laid out by dagre (a maintained layered-layout
 * library, not a hand-written one) and drawn as SVG with d3-selection. Plain module (DESIGN.md
 * rule 6): no JupyterLab imports, text only through textContent, so labels from a database never
 * become markup.
 */
import dagre from '@dagrejs/dagre';
import { select } from 'd3-selection';

/** Kinds in the order data flows through them: the layers, left to right. */
export const KIND_ORDER = ['source', 'method', 'dataset', 'split', 'run', 'artifact', 'proposal'] as const;

/** A text-only mark per kind, beside its name: scientists tell the layers apart at a glance. */
const KIND_MARK: Record<string, string> = {
  source: '▤',
  method: 'ƒ',
  dataset: '◫',
  split: '◧',
  run: '▶',
  artifact: '◆',
  proposal: '✚'
};

export interface IDagNode {
  id: string;
  kind: string;
  label: string;
  /** Drawn faded, and said so in its title (a tombstoned record still shows where it was used). */
  deleted?: boolean;
  /** Why the record is stale (shown as a badge; its title); absent or empty: not stale. */
  stale?: string;
  /** Drawn with a heavier border: the record the graph was asked for. */
  focus?: boolean;
}

export interface IDagEdge {
  source: string;
  target: string;
  relation: string;
}

export interface IPlacedNode extends IDagNode {
  /** Centre and size, in layout units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IPlacedEdge extends IDagEdge {
  /** From the upstream node to the downstream one (the arrow's direction). */
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface IDagLayout {
  direction: 'LR' | 'TB';
  width: number;
  height: number;
  nodes: IPlacedNode[];
  edges: IPlacedEdge[];
}

export const NODE_WIDTH = 160;
export const NODE_HEIGHT = 44;
/** Characters of a label that fit a node box; the whole label is in the node's title. */
const LABEL_CHARS = 20;

function kindRank(kind: string): number {
  const i = (KIND_ORDER as readonly string[]).indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

/**
 * The upstream and downstream end of an edge. PROV's relations (used, wasGeneratedBy,
 * wasDerivedFrom) point from the later record to the earlier one, so data flows from target to
 * source; between kinds, the kinds' order decides, whichever way an edge was written.
 */
export function flowOf(edge: IDagEdge, kinds: ReadonlyMap<string, string>): [string, string] {
  const a = kindRank(kinds.get(edge.source) ?? '');
  const b = kindRank(kinds.get(edge.target) ?? '');
  if (a < b) {
    return [edge.source, edge.target];
  }
  return [edge.target, edge.source];
}

/** A label shortened to fit its box, with an ellipsis. */
export function shortLabel(label: string, chars = LABEL_CHARS): string {
  return label.length <= chars ? label : `${label.slice(0, chars - 1)}…`;
}

/**
 * Lay the graph out in layers along the flow (sources, methods, datasets, splits, runs,
 * artifacts), left to right or top to bottom. Edges naming a node not in `nodes` are dropped.
 */
export function layoutDag(nodes: readonly IDagNode[], edges: readonly IDagEdge[], direction: 'LR' | 'TB' = 'LR'): IDagLayout {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: direction, nodesep: direction === 'LR' ? 16 : 24, ranksep: direction === 'LR' ? 36 : 32, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const kinds = new Map(nodes.map(n => [n.id, n.kind]));
  for (const node of nodes) {
    g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  const kept: { edge: IDagEdge; from: string; to: string; name: string }[] = [];
  edges.forEach((edge, i) => {
    if (!kinds.has(edge.source) || !kinds.has(edge.target) || edge.source === edge.target) {
      return;
    }
    const [from, to] = flowOf(edge, kinds);
    // As many layers apart as the kinds are, so each kind keeps its own column.
    const minlen = Math.max(1, kindRank(kinds.get(to)!) - kindRank(kinds.get(from)!));
    const name = String(i);
    g.setEdge(from, to, { minlen }, name);
    kept.push({ edge, from, to, name });
  });
  dagre.layout(g);
  const graph = g.graph();
  const placed = nodes.map(node => {
    const { x, y } = g.node(node.id);
    return { ...node, x: x ?? 0, y: y ?? 0, width: NODE_WIDTH, height: NODE_HEIGHT };
  });
  return {
    direction,
    width: Number(graph.width ?? 0),
    height: Number(graph.height ?? 0),
    nodes: placed,
    edges: kept.map(({ edge, from, to, name }) => ({
      ...edge,
      from,
      to,
      points: ((g.edge({ v: from, w: to, name }).points ?? []) as { x: number; y: number }[]).map(p => ({ x: p.x, y: p.y }))
    }))
  };
}

/** Below this scale a left-to-right layout is unreadable: lay it out top to bottom instead. */
const MIN_SCALE = 0.75;

/** The layout that reads best in `width` pixels: left to right when it fits well enough. */
export function fitLayout(nodes: readonly IDagNode[], edges: readonly IDagEdge[], width: number): IDagLayout {
  const wide = layoutDag(nodes, edges, 'LR');
  if (width <= 0 || wide.width * MIN_SCALE <= width) {
    return wide;
  }
  const tall = layoutDag(nodes, edges, 'TB');
  return tall.width < wide.width ? tall : wide;
}

export interface IDrawOptions {
  /** A node was clicked or chosen with Enter or Space. */
  onOpen: (node: IDagNode) => void;
  /** The hover text of a node (default: kind, label and flags). */
  describe?: (node: IDagNode) => string;
  /** Pixels available across (default: the container's width). */
  width?: number;
}

let markers = 0;

/** A PROV relation in words: wasGeneratedBy → "was generated by". */
export function relationWords(relation: string): string {
  return relation.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/**
 * What a node's edges say, one sentence each ("run “gp” used dataset “small”"), after why it is
 * stale: the text a screen reader gets for the node (aria-describedby), where sighted users
 * hover the arrows. Empty when there is nothing to say.
 */
export function nodeRelations(node: IDagNode, layout: IDagLayout): string {
  const byId = new Map(layout.nodes.map(n => [n.id, n]));
  const name = (id: string) => {
    const n = byId.get(id);
    return n ? `${n.kind} “${n.label}”` : id;
  };
  return [
    ...(node.stale ? [`stale: ${node.stale}`] : []),
    ...layout.edges
      .filter(e => e.source === node.id || e.target === node.id)
      .map(e => `${name(e.source)} ${relationWords(e.relation)} ${name(e.target)}`)
  ].join('. ');
}

function nodeTitle(node: IDagNode): string {
  return [
    `${node.kind}: ${node.label}`,
    node.deleted ? 'deleted (kept because other records refer to it)' : '',
    node.stale ? `stale: ${node.stale}` : ''
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * Draw `layout` into `container` (replacing what was there), scaled down to the width available
 * and never up: nodes are focusable buttons, edges carry their relation in a title.
 */
export function drawDag(container: HTMLElement, layout: IDagLayout, options: IDrawOptions): SVGSVGElement {
  const available = options.width ?? container.clientWidth;
  const scale = available > 0 && layout.width > available ? available / layout.width : 1;
  const labelOf = new Map(layout.nodes.map(n => [n.id, n.label]));
  const root = select(container);
  root.selectAll('svg.jp-DSI-dag').remove();
  root.selectAll('div.jp-DSI-dagText').remove();
  const svg = root
    .append('svg')
    .attr('class', `jp-DSI-dag jp-mod-${layout.direction}`)
    .attr('role', 'group')
    .attr('aria-label', 'Lineage graph')
    .attr('viewBox', `0 0 ${layout.width} ${layout.height}`)
    .attr('width', Math.ceil(layout.width * scale))
    .attr('height', Math.ceil(layout.height * scale));
  const marker = `jp-DSI-dagArrow-${++markers}`;
  svg
    .append('defs')
    .append('marker')
    .attr('id', marker)
    .attr('viewBox', '0 0 10 10')
    .attr('refX', 9)
    .attr('refY', 5)
    .attr('markerWidth', 7)
    .attr('markerHeight', 7)
    .attr('orient', 'auto-start-reverse')
    .append('path')
    .attr('class', 'jp-DSI-dagArrowHead')
    .attr('d', 'M0,0 L10,5 L0,10 z');

  const edges = svg
    .append('g')
    .attr('class', 'jp-DSI-dagEdges')
    .selectAll('g')
    .data(layout.edges)
    .join('g')
    .attr('class', d => `jp-DSI-dagEdge jp-mod-${d.relation}`)
    .attr('data-relation', d => d.relation)
    .attr('data-from', d => d.from)
    .attr('data-to', d => d.to);
  const path = (d: IPlacedEdge) => d.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join('');
  edges.append('path').attr('class', 'jp-DSI-dagEdgeLine').attr('d', path).attr('marker-end', `url(#${marker})`);
  // A wide transparent twin of the line: the relation's title is easy to hover.
  edges.append('path').attr('class', 'jp-DSI-dagEdgeHit').attr('d', path);
  edges
    .append('title')
    .text(d => `${labelOf.get(d.source) ?? d.source} ${d.relation} ${labelOf.get(d.target) ?? d.target}`);

  const describe = options.describe ?? nodeTitle;
  // Each node's relations and stale reasons as visually hidden text the node points at.
  const graph = markers; // this drawing's number: the texts' ids are unique in the document
  const texts = new Map<string, string>();
  const said = root.append('div').attr('class', 'jp-DSI-dagText jp-DSI-visuallyHidden');
  layout.nodes.forEach((n, i) => {
    const text = nodeRelations(n, layout);
    if (text) {
      const id = `jp-DSI-dag-${graph}-${i}`;
      texts.set(n.id, id);
      said.append('p').attr('id', id).attr('data-id', n.id).text(text);
    }
  });
  const nodes = svg
    .append('g')
    .attr('class', 'jp-DSI-dagNodes')
    .selectAll('g')
    .data(layout.nodes)
    .join('g')
    .attr('class', d =>
      ['jp-DSI-dagNode', `jp-mod-${d.kind}`, d.deleted ? 'jp-mod-deleted' : '', d.stale ? 'jp-mod-stale' : '', d.focus ? 'jp-mod-focus' : '']
        .filter(Boolean)
        .join(' ')
    )
    .attr('data-id', d => d.id)
    .attr('data-kind', d => d.kind)
    .attr('tabindex', 0)
    .attr('role', 'button')
    .attr('aria-label', d => `${d.kind} ${d.label}${d.deleted ? ' (deleted)' : ''}${d.stale ? ' (stale)' : ''}`)
    .attr('aria-describedby', d => texts.get(d.id) ?? null)
    .attr('transform', d => `translate(${d.x - d.width / 2},${d.y - d.height / 2})`)
    .on('click', (_event, d) => options.onOpen(d))
    .on('keydown', (event: KeyboardEvent, d) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        options.onOpen(d);
      }
    });
  nodes.append('title').text(d => describe(d));
  nodes
    .append('rect')
    .attr('class', 'jp-DSI-dagBox')
    .attr('width', d => d.width)
    .attr('height', d => d.height)
    .attr('rx', 5);
  nodes
    .append('text')
    .attr('class', 'jp-DSI-dagKind')
    .attr('x', 8)
    .attr('y', 16)
    .text(d => `${KIND_MARK[d.kind] ?? '•'} ${d.kind}${d.deleted ? ' · deleted' : ''}`);
  nodes
    .filter(d => !!d.stale)
    .append('text')
    .attr('class', 'jp-DSI-dagStale')
    .attr('x', d => d.width - 8)
    .attr('y', 16)
    .attr('text-anchor', 'end')
    .text('stale');
  nodes
    .append('text')
    .attr('class', 'jp-DSI-dagLabel')
    .attr('x', 8)
    .attr('y', 35)
    .text(d => shortLabel(d.label));
  return svg.node()!;
}

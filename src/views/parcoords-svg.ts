/**
 * The SVG of the parallel coordinates: axes with their ticks, missing band, brushes, title and
 * buttons, drawn over the canvas layers; and the theme they are painted with. Plain DOM
 * building, no state: parcoords.ts owns the state and calls these to (re)draw.
 *
 * Elements that react to the pointer carry `data-role` (and their axis group `data-axis`), so
 * that the view handles every gesture with one set of listeners on the SVG.
 */
import type { AxisScale, Interval, IVerticalLayout } from './axes';
import { PROPOSAL_COLOR_FALLBACK, PROPOSAL_COLOR_VAR } from './proposalOverlay';

export const SVG_NS = 'http://www.w3.org/2000/svg';

// ---------------------------------------------------------------------------------------------
// Theme
// ---------------------------------------------------------------------------------------------

/** The colors and font of the view, from JupyterLab's CSS variables (light or dark). */
export interface ITheme {
  readonly font: string;
  /** Text: titles, and the hovered line. */
  readonly text: string;
  /** Secondary text: ticks, units, buttons, axis lines. */
  readonly muted: string;
  /** The background, used as a halo behind labels drawn over lines. */
  readonly background: string;
  /** Brushes, and lines before any selection colors arrive. */
  readonly accent: string;
  /** Unselected rows before any selection colors arrive. */
  readonly context: string;
  /** The tooltip and menus: surface and border. */
  readonly surface: string;
  readonly border: string;
  /** Proposals drawn over the lines (dashed): a color the selection palettes do not lead with. */
  readonly proposal: string;
}

/** Reads the theme from the CSS variables in effect on `el`, with light-theme fallbacks. */
export function readTheme(el: Element): ITheme {
  const style = getComputedStyle(el);
  const v = (name: string, fallback: string): string =>
    style.getPropertyValue(name).trim() || fallback;
  return {
    font: v('--jp-ui-font-family', 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'),
    text: v('--jp-ui-font-color1', 'rgba(0, 0, 0, 0.87)'),
    muted: v('--jp-ui-font-color2', 'rgba(0, 0, 0, 0.54)'),
    // The view's own background (its box is --jp-layout-color0), so a halo is invisible but
    // over the lines.
    background: v('--jp-layout-color0', '#ffffff'),
    accent: v('--jp-brand-color1', '#1976d2'),
    context: v('--jp-layout-color3', '#bdbdbd'),
    surface: v('--jp-layout-color1', '#ffffff'),
    border: v('--jp-border-color1', '#bdbdbd'),
    proposal: v(PROPOSAL_COLOR_VAR, PROPOSAL_COLOR_FALLBACK)
  };
}

// ---------------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------------

type Attrs = Record<string, string | number>;

/** Creates an SVG element with attributes, appended to `parent` if given. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  parent?: Element
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    el.setAttribute(name, String(value));
  }
  parent?.appendChild(el);
  return el;
}

/** Adds a native tooltip (an SVG <title>) to an element. */
function tooltip(el: Element, text: string): void {
  svg('title', {}, el).textContent = text;
}

/** Shortens a label to about `chars` characters. */
export function truncate(text: string, chars: number): string {
  return text.length <= chars ? text : text.slice(0, Math.max(1, chars - 1)) + '…';
}

// ---------------------------------------------------------------------------------------------
// An axis
// ---------------------------------------------------------------------------------------------

/**
 * Where the header rows sit above the axes (CSS pixels from the top). Where the axes are too
 * close for their titles (a narrow sidebar), titles alternate between two rows, `row` apart,
 * and the buttons and axes move down by as much.
 */
export const HEADER = { titleY: 13, buttonsY: 27, height: 40, row: 12 };

/** About 6.5 px per character of a 12 px title: no text measuring needed (nor available in tests). */
const TITLE_CHAR_PX = 6.5;

/** An axis' title as shown: the name, with its unit when it has one. */
export function axisTitle(name: string, unit: string | null | undefined): string {
  return unit ? `${name} (${unit})` : name;
}

/** Whether titles this far apart need two rows to be read whole. */
export function needsStagger(titles: readonly string[], spacing: number): boolean {
  return titles.some(t => t.length * TITLE_CHAR_PX > spacing - 6);
}

/** Half the width of an axis' brushes and hit area: comfortably grabbable. */
const BRUSH_HALF = 9;
const HIT_HALF = 12;
/** Brush handles are 8 px tall, mostly outside the brush so its body stays draggable. */
const HANDLE = 8;

export interface IAxisDrawing {
  readonly name: string;
  readonly unit: string | null;
  readonly scale: AxisScale;
  readonly inverted: boolean;
  readonly hasMissing: boolean;
  /** The room between axes, for the title. */
  readonly spacing: number;
  /** Titles on two alternating rows (see HEADER), and this axis' row. */
  readonly stagger?: boolean;
  readonly titleRow?: number;
}

/** Builds the group of one axis at x: ticks, missing band, hit area, brushes, header. */
export function drawAxis(theme: ITheme, axis: IAxisDrawing, x: number): SVGGElement {
  const g = svg('g', {
    class: 'jp-DSI-pc-axis',
    'data-axis': axis.name,
    transform: `translate(${x},0)`
  });
  const { layout } = axis.scale;
  svg(
    'line',
    { x1: 0, x2: 0, y1: layout.top, y2: layout.bottom, stroke: theme.muted, 'stroke-width': 1 },
    g
  );
  drawTicks(theme, axis.scale, g);
  if (axis.hasMissing) {
    drawMissingBand(theme, layout, g);
  }
  // The hit area under the brushes: a drag here draws a new range, a click clears the axis.
  const hitBottom = axis.hasMissing ? layout.missingBottom : layout.bottom;
  svg(
    'rect',
    {
      'data-role': 'hit',
      x: -HIT_HALF,
      y: layout.top - 4,
      width: 2 * HIT_HALF,
      height: hitBottom - layout.top + 8,
      fill: 'transparent',
      cursor: 'crosshair'
    },
    g
  );
  svg('g', { class: 'jp-DSI-pc-brushes' }, g);
  drawHeader(theme, axis, g);
  return g;
}

function drawTicks(theme: ITheme, scale: AxisScale, g: SVGGElement): void {
  const ticks = svg('g', { class: 'jp-DSI-pc-ticks', 'font-size': 10, fill: theme.muted }, g);
  for (const tick of scale.ticks) {
    svg('line', { x1: -4, x2: 0, y1: tick.y, y2: tick.y, stroke: theme.muted }, ticks);
    const label = svg(
      'text',
      {
        x: -7,
        y: tick.y,
        'text-anchor': 'end',
        'dominant-baseline': 'central',
        // A halo of the background keeps labels legible over dense lines.
        stroke: theme.background,
        'stroke-width': 3,
        'stroke-linejoin': 'round',
        'paint-order': 'stroke'
      },
      ticks
    );
    label.textContent = truncate(tick.label, 10);
  }
}

function drawMissingBand(theme: ITheme, layout: IVerticalLayout, g: SVGGElement): void {
  const band = svg('g', { class: 'jp-DSI-pc-missing' }, g);
  svg(
    'rect',
    {
      x: -6,
      y: layout.missingTop,
      width: 12,
      height: layout.missingBottom - layout.missingTop,
      fill: 'none',
      stroke: theme.muted,
      'stroke-dasharray': '2 2',
      rx: 2
    },
    band
  );
  const label = svg(
    'text',
    {
      x: 9,
      y: (layout.missingTop + layout.missingBottom) / 2,
      'dominant-baseline': 'central',
      'font-size': 9,
      fill: theme.muted,
      stroke: theme.background,
      'stroke-width': 3,
      'paint-order': 'stroke'
    },
    band
  );
  label.textContent = 'missing';
}

/** The title (drag it to reorder) and the invert and hide buttons. */
function drawHeader(theme: ITheme, axis: IAxisDrawing, g: SVGGElement): void {
  const header = svg('g', { class: 'jp-DSI-pc-header' }, g);
  const full = axisTitle(axis.name, axis.unit);
  const row = axis.stagger ? (axis.titleRow ?? 0) % 2 : 0;
  // Staggered, a title has the room of two gaps: its neighbours' titles are on the other row.
  const width = Math.max(24, (axis.stagger ? 2 : 1) * axis.spacing - 6);
  const titleY = HEADER.titleY + row * HEADER.row;
  const buttonsY = HEADER.buttonsY + (axis.stagger ? HEADER.row : 0);
  const grip = svg('g', { 'data-role': 'title', cursor: 'grab' }, header);
  tooltip(grip, `${full}: drag to reorder`);
  // A transparent pad makes the whole title cell, not just the glyphs, grabbable.
  svg('rect', { x: -width / 2, y: titleY - HEADER.titleY, width, height: HEADER.titleY + 6, fill: 'transparent' }, grip);
  const title = svg(
    'text',
    {
      class: 'jp-DSI-pc-title',
      y: titleY,
      'text-anchor': 'middle',
      'font-size': 12,
      'font-weight': 600,
      fill: theme.text
    },
    grip
  );
  title.textContent = truncate(full, Math.floor(width / TITLE_CHAR_PX));
  const invertLabel = axis.inverted ? 'Un-invert axis' : 'Invert axis';
  drawButton(theme, header, 'invert', -9, buttonsY, '⇅', invertLabel, axis.inverted);
  drawButton(theme, header, 'hide', 9, buttonsY, '×', 'Hide axis', false);
}

function drawButton(
  theme: ITheme,
  parent: SVGGElement,
  role: string,
  x: number,
  y: number,
  glyph: string,
  label: string,
  active: boolean
): void {
  const button = svg(
    'g',
    {
      'data-role': role,
      class: `jp-DSI-pc-button jp-DSI-pc-${role}`,
      transform: `translate(${x},${y})`,
      cursor: 'pointer',
      role: 'button',
      tabindex: 0, // reachable by keyboard: Enter or Space acts like a click
      'aria-label': label
    },
    parent
  );
  svg('rect', { x: -7, y: -7, width: 14, height: 14, rx: 3, fill: 'transparent' }, button);
  const text = svg(
    'text',
    {
      'text-anchor': 'middle',
      'dominant-baseline': 'central',
      'font-size': 12,
      fill: active ? theme.accent : theme.muted
    },
    button
  );
  text.textContent = glyph;
  tooltip(button, label);
}

/** Redraws the brushes of an axis: a rect per interval with a handle on each end. */
export function drawBrushes(
  theme: ITheme,
  axisGroup: SVGGElement,
  intervals: readonly Interval[]
): void {
  const g = axisGroup.querySelector('.jp-DSI-pc-brushes');
  if (!g) {
    return;
  }
  if (g.childElementCount === 3 * intervals.length && intervals.length > 0) {
    // The same brushes, moved (every move of a drag): the rects change place, not identity,
    // so the browser restyles nothing new and the pointer's target stays.
    const children = g.children;
    const set = (el: Element, name: string, value: string | number): void => {
      if (el.getAttribute(name) !== String(value)) {
        el.setAttribute(name, String(value)); // unchanged attributes restyle nothing
      }
    };
    intervals.forEach(([y0, y1], index) => {
      const brush = children[3 * index];
      set(brush, 'y', y0);
      set(brush, 'height', Math.max(1, y1 - y0));
      set(brush, 'fill', theme.accent);
      set(brush, 'stroke', theme.accent);
      set(children[3 * index + 1], 'y', y0 - HANDLE + 2);
      set(children[3 * index + 2], 'y', y1 - 2);
    });
    return;
  }
  g.replaceChildren();
  intervals.forEach(([y0, y1], index) => {
    svg(
      'rect',
      {
        'data-role': 'brush',
        'data-index': index,
        x: -BRUSH_HALF,
        y: y0,
        width: 2 * BRUSH_HALF,
        height: Math.max(1, y1 - y0),
        rx: 2,
        fill: theme.accent,
        'fill-opacity': 0.18,
        stroke: theme.accent,
        'stroke-width': 1.5,
        cursor: 'move'
      },
      g
    );
    for (const [edge, y] of [
      [0, y0 - HANDLE + 2],
      [1, y1 - 2]
    ]) {
      svg(
        'rect',
        {
          'data-role': 'handle',
          'data-index': index,
          'data-edge': edge,
          x: -BRUSH_HALF - 2,
          y,
          width: 2 * BRUSH_HALF + 4,
          height: HANDLE,
          fill: 'transparent',
          cursor: 'ns-resize'
        },
        g
      );
    }
  });
}

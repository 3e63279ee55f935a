/**
 * What the Runs tab's two charts share: an SVG frame with margins, two labelled axes, a legend
 * and the categorical palette. Plain DOM and d3 submodules; no JupyterLab. Every text is set
 * through textContent (run and dataset names come from the database).
 */
import { axisBottom, axisLeft } from 'd3-axis';
import type { ScaleContinuousNumeric, ScaleTime } from 'd3-scale';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { select, Selection } from 'd3-selection';

/** Tableau 20's light halves, in Tableau 10's order: the next ten after the dark ones. */
const LIGHTER = ['#a0cbe8', '#ffbe7d', '#8cd17d', '#f1ce63', '#86bcb6', '#ff9d9a', '#bab0ac', '#fabfd2', '#d4a6c8', '#d7b5a6'];

/**
 * Series color `i`: the explorer's categorical palette (src/model/colors.ts) first, then its
 * lighter halves, then hues a golden angle apart: no two series share a color (the efficacy
 * view's datasets and the compared runs after them together pass ten easily).
 */
export function paletteColor(i: number): string {
  if (i < schemeTableau10.length) {
    return schemeTableau10[i];
  }
  if (i < schemeTableau10.length + LIGHTER.length) {
    return LIGHTER[i - schemeTableau10.length];
  }
  const k = i - schemeTableau10.length - LIGHTER.length;
  return `hsl(${((k * 137.508 + 15) % 360).toFixed(1)}, ${k % 2 ? 45 : 60}%, ${k % 3 === 1 ? 35 : 48}%)`;
}

export interface IFrame {
  svg: Selection<SVGSVGElement, unknown, null, undefined>;
  /** The plot area, translated by the margins. */
  plot: Selection<SVGGElement, unknown, null, undefined>;
  width: number;
  height: number;
}

/** Room around the plot area for the axes and their titles. */
export const MARGIN = { top: 10, right: 14, bottom: 40, left: 56 };

/** The width a chart in `container` gets: its own, else (not laid out, jsdom) 320 px. */
export function chartWidth(container: HTMLElement): number {
  return Math.max(220, Math.floor(container.clientWidth || 320));
}

/** A chart's height for a width: wide charts are not taller than they need to be. */
export function chartHeight(width: number): number {
  return Math.round(Math.min(300, Math.max(200, width * 0.62)));
}

/** An empty SVG in `container` (replacing what was there), labelled for screen readers. */
export function frame(container: HTMLElement, width: number, height: number, label: string): IFrame {
  const svg = select(container)
    .append('svg')
    .attr('class', 'jp-DSI-chart')
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('role', 'img')
    .attr('aria-label', label);
  const plot = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
  return {
    svg,
    plot,
    width: width - MARGIN.left - MARGIN.right,
    height: height - MARGIN.top - MARGIN.bottom
  };
}

type XScale = ScaleContinuousNumeric<number, number> | ScaleTime<number, number>;

/**
 * Both axes with their titles; the tick counts follow the room there is. `integerX`: only whole
 * numbers on x (steps: no tick at 2.5).
 */
export function drawAxes(
  f: IFrame,
  x: XScale,
  y: ScaleContinuousNumeric<number, number>,
  xTitle: string,
  yTitle: string,
  integerX = false
): void {
  const count = Math.max(2, Math.floor(f.width / 70));
  const xAxis = axisBottom(x as ScaleContinuousNumeric<number, number>).ticks(count);
  if (integerX) {
    const numeric = x as ScaleContinuousNumeric<number, number>;
    xAxis.tickValues(numeric.ticks(count).filter(Number.isInteger)).tickFormat(v => String(v));
  }
  f.plot.append('g').attr('class', 'jp-DSI-chartAxis').attr('transform', `translate(0,${f.height})`).call(xAxis);
  f.plot
    .append('g')
    .attr('class', 'jp-DSI-chartAxis')
    .call(axisLeft(y).ticks(Math.max(2, Math.floor(f.height / 40)), '~g'));
  f.plot
    .append('g')
    .attr('class', 'jp-DSI-chartGrid')
    .call(
      axisLeft(y)
        .ticks(Math.max(2, Math.floor(f.height / 40)))
        .tickSize(-f.width)
        .tickFormat(() => '')
    );
  f.plot
    .append('text')
    .attr('class', 'jp-DSI-chartTitle')
    .attr('x', f.width / 2)
    .attr('y', f.height + 34)
    .attr('text-anchor', 'middle')
    .text(xTitle);
  f.plot
    .append('text')
    .attr('class', 'jp-DSI-chartTitle')
    .attr('transform', `translate(${-44},${f.height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text(yTitle);
}

/** A day in milliseconds: the room around a single date on a time axis. */
export const DAY_MS = 86400000;

/**
 * How far a domain reaches around a single value: `'unit'` by 1 (steps), `'time'` by a day (ms
 * since the epoch; 5% of the value would be years), else by 10% of it (1 around 0), which keeps
 * the value's own scale: 0.003 gets 0.0027..0.0033, a size of 20 gets 18..22.
 */
export type SingleValuePad = 'unit' | 'time' | 'relative';

/**
 * [lo, hi] of finite values, null when there are none; widened by `pad` of its span on each side
 * so that no point sits on an axis, and around a single value as `single` says.
 */
export function domainOf(values: Iterable<number | null>, pad = 0.06, single: SingleValuePad = 'relative'): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v !== null && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (lo > hi) {
    return null;
  }
  if (lo === hi) {
    const around = single === 'unit' ? 1 : single === 'time' ? DAY_MS : Math.abs(lo) * 0.1 || 1;
    return [lo - around, hi + around];
  }
  return [lo - (hi - lo) * pad, hi + (hi - lo) * pad];
}

export interface ILegendEntry {
  label: string;
  color: string;
  /** Shown on hover (a full name, a count). */
  title?: string;
}

/** A legend as a list of swatches and names. */
export function legend(entries: readonly ILegendEntry[], label: string): HTMLElement {
  const list = document.createElement('ul');
  list.className = 'jp-DSI-chartLegend';
  list.setAttribute('aria-label', label);
  for (const entry of entries) {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'jp-DSI-swatch';
    swatch.style.background = entry.color;
    const name = document.createElement('span');
    name.textContent = entry.label;
    item.append(swatch, name);
    if (entry.title) {
      item.title = entry.title;
    }
    list.appendChild(item);
  }
  return list;
}

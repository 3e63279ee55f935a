/**
 * The efficacy view: one point per finished run, a property of its training dataset (x) against
 * a metric of the run (y), colored by dataset. "Which training set made the better model",
 * answered by looking (seed 000's future work). Plain arrays in, no JupyterLab imports.
 */
import { scaleLinear, scaleUtc } from 'd3-scale';

import type { IDatasetStats, IRunInfo } from '../db/runs';
import { MARGIN, chartHeight, chartWidth, domainOf, drawAxes, frame, legend, paletteColor } from './chart';

/** An x choice: 'size', 'created', 'samplingP', 'samplingN' or 'param:<stat>:<name>'. */
export interface IXChoice {
  key: string;
  label: string;
}

export type RangeStat = 'mean' | 'min' | 'max';

const STATS: RangeStat[] = ['mean', 'min', 'max'];

/** What the x axis can show for these datasets: only choices that some dataset has a value of. */
export function xChoices(stats: readonly IDatasetStats[]): IXChoice[] {
  const choices: IXChoice[] = [
    { key: 'size', label: 'Size (members)' },
    { key: 'created', label: 'Created' }
  ];
  if (stats.some(s => s.samplingP !== null)) {
    choices.push({ key: 'samplingP', label: 'Sampling probability p' });
  }
  if (stats.some(s => s.samplingN !== null)) {
    choices.push({ key: 'samplingN', label: 'Sampling target size n' });
  }
  const names = [...new Set(stats.flatMap(s => Object.keys(s.params)))].sort();
  for (const name of names) {
    for (const stat of STATS) {
      choices.push({ key: `param:${stat}:${name}`, label: `${stat} of ${name}` });
    }
  }
  return choices;
}

/** A dataset's value for an x choice (created: ms since the epoch); null when it has none. */
export function xValue(dataset: IDatasetStats, key: string): number | null {
  switch (key) {
    case 'size':
      return dataset.size;
    case 'created': {
      const ms = Date.parse(dataset.createdAt);
      return Number.isNaN(ms) ? null : ms;
    }
    case 'samplingP':
      return dataset.samplingP;
    case 'samplingN':
      return dataset.samplingN;
  }
  const match = /^param:(mean|min|max):(.+)$/.exec(key);
  const range = match ? dataset.params[match[2]] : undefined;
  return range ? range[match![1] as RangeStat] : null;
}

export interface IEfficacyPoint {
  runId: string;
  runName: string;
  datasetId: string;
  datasetName: string;
  x: number;
  y: number;
  color: string;
}

export interface IEfficacyData {
  points: IEfficacyPoint[];
  /** The datasets that have points, each with its color (by the datasets' order, stable). */
  datasets: { id: string; name: string; color: string; runs: number }[];
  /** Finished runs left out because their dataset has no such x value or they lack the metric. */
  missing: number;
}

/**
 * The points for x choice `xKey` and metric `metric` (a metricKey): finished runs whose dataset
 * is known. Colors follow the order of `stats`, so a dataset keeps its color as runs arrive.
 */
export function efficacyPoints(
  runs: readonly IRunInfo[],
  stats: readonly IDatasetStats[],
  xKey: string,
  metric: string
): IEfficacyData {
  const color = new Map(stats.map((s, i) => [s.id, paletteColor(i)]));
  const byId = new Map(stats.map(s => [s.id, s]));
  const points: IEfficacyPoint[] = [];
  let missing = 0;
  for (const run of runs) {
    if (run.status !== 'finished') {
      continue;
    }
    const dataset = run.datasetId === null ? undefined : byId.get(run.datasetId);
    const x = dataset ? xValue(dataset, xKey) : null;
    const y = run.metrics[metric]?.value ?? null;
    if (!dataset || x === null || y === null) {
      missing++;
      continue;
    }
    points.push({ runId: run.id, runName: run.name, datasetId: dataset.id, datasetName: dataset.name, x, y, color: color.get(dataset.id)! });
  }
  const datasets = stats
    .map(s => ({ id: s.id, name: s.name, color: color.get(s.id)!, runs: points.filter(p => p.datasetId === s.id).length }))
    .filter(d => d.runs > 0);
  return { points, datasets, missing };
}

export interface IEfficacyOptions {
  xKey: string;
  xLabel: string;
  metric: string;
  /** A point was clicked (or chosen with Enter): restore its dataset. */
  onPick: (point: IEfficacyPoint) => void;
}

/** Draw the efficacy scatter into `container`, replacing what it held. */
export function drawEfficacy(container: HTMLElement, data: IEfficacyData, options: IEfficacyOptions): void {
  container.replaceChildren();
  const time = options.xKey === 'created';
  const xs = domainOf(data.points.map(p => p.x), 0.06, time ? 'time' : 'relative');
  const ys = domainOf(data.points.map(p => p.y));
  if (!xs || !ys) {
    container.appendChild(line(`No finished run has both ${options.metric} and a value of “${options.xLabel}” for its dataset.`, 'jp-DSI-hint'));
    return;
  }
  const width = chartWidth(container);
  const f = frame(container, width, chartHeight(width), `${options.metric} against ${options.xLabel}, one point per run`);
  const y = scaleLinear().domain(ys).range([f.height, 0]).nice();
  const x = time
    ? scaleUtc().domain(xs).range([0, f.width])
    : scaleLinear().domain(xs).range([0, f.width]);
  drawAxes(f, x, y, options.xLabel, options.metric);
  const tip = document.createElement('div');
  tip.className = 'jp-DSI-chartTip';
  tip.hidden = true;
  const circles = f.plot
    .append('g')
    .selectAll('circle')
    .data(data.points)
    .join('circle')
    .attr('class', 'jp-DSI-efficacyPoint')
    .attr('data-run-id', p => p.runId)
    .attr('data-dataset-id', p => p.datasetId)
    .attr('cx', p => x(p.x))
    .attr('cy', p => y(p.y))
    .attr('r', 6)
    .attr('fill', p => p.color)
    .attr('tabindex', 0)
    .attr('role', 'button')
    .attr('aria-label', p => `${p.runName} on ${p.datasetName}: ${options.metric} ${format(p.y)}. Restore ${p.datasetName}`);
  circles.append('title').text(p => `${p.runName} · ${p.datasetName}`);
  circles
    .on('pointerenter focus', (_event: Event, p: IEfficacyPoint) => {
      tip.replaceChildren(line(p.runName, 'jp-DSI-chartTipRun'), line(`${p.datasetName}`), line(`${options.metric} ${format(p.y)}`));
      tip.hidden = false;
      tip.style.left = `${MARGIN.left + x(p.x) + 10}px`;
      tip.style.top = `${MARGIN.top + y(p.y) - 10}px`;
      tip.classList.toggle('jp-mod-left', x(p.x) > f.width * 0.6);
    })
    .on('pointerleave blur', () => {
      tip.hidden = true;
    })
    .on('click', (_event: Event, p: IEfficacyPoint) => options.onPick(p))
    .on('keydown', (event: KeyboardEvent, p: IEfficacyPoint) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        options.onPick(p);
      }
    });
  container.appendChild(tip);
  container.appendChild(
    legend(
      data.datasets.map(d => ({ label: d.name, color: d.color, title: `${d.name}: ${d.runs} finished run${d.runs === 1 ? '' : 's'}` })),
      'Datasets'
    )
  );
  if (data.missing > 0) {
    // Said, not dropped silently: a run without the metric is no worse a run.
    const runs = data.missing === 1 ? '1 finished run' : `${data.missing} finished runs`;
    const note = line(`${runs} not shown: no ${options.metric} or no “${options.xLabel}” value.`, 'jp-DSI-hint');
    note.dataset.testid = 'dsi-efficacy-missing';
    container.appendChild(note);
  }
}

function line(text: string, className = ''): HTMLElement {
  const div = document.createElement('div');
  div.className = className;
  div.textContent = text;
  return div;
}

/** A metric value in at most 4 significant digits. */
export function format(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

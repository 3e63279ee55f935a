/**
 * Metric curves over steps: one line per run, each its own color, a legend with the run names.
 * Takes a container and plain arrays (see ../db/runs IRunCurve); no JupyterLab imports.
 */
import { scaleLinear } from 'd3-scale';
import { line } from 'd3-shape';

import { thinIndices, type IRunCurve } from '../db/runs';
import { chartHeight, chartWidth, domainOf, drawAxes, frame, legend, paletteColor } from './chart';

/** One run's curve, ready to draw: null values are gaps in its line. */
export interface ICurveSeries {
  runId: string;
  name: string;
  color: string;
  points: ICurvePoint[];
}

/** Series that draw few points get markers too, so that one logged value still shows. */
const MARKERS_UP_TO = 40;

/** One point of a curve; a null value is a gap. */
export interface ICurvePoint {
  step: number;
  value: number | null;
}

/**
 * A curve thinned for a plot `buckets` pixels wide (thinIndices: the lowest and highest point of
 * each pixel column, so a spike stays as tall as it was, the first gap there, the last point): a
 * curve of a million points draws about 2 x width of them; a short one comes back whole.
 */
export function thinPoints(points: readonly ICurvePoint[], buckets: number): ICurvePoint[] {
  return thinIndices(
    points.map(p => p.step),
    points.map(p => p.value),
    buckets
  ).map(i => points[i]);
}

/**
 * Curves of runs as series, colored in the order given (the table's) from palette entry `first`
 * on: the Runs tab starts after the datasets' colors, so that a run never wears a dataset's.
 */
export function curveSeries(curves: readonly IRunCurve[], names: ReadonlyMap<string, string>, first = 0): ICurveSeries[] {
  return curves.map((c, i) => ({
    runId: c.runId,
    name: names.get(c.runId) ?? c.runId.slice(0, 8),
    color: paletteColor(first + i),
    points: c.steps.map((step, k) => ({ step, value: c.values[k] }))
  }));
}

/**
 * Draw `series` of `metric` into `container`, replacing what it held. Says so in words when no
 * run has a value of it.
 */
export function drawCurves(container: HTMLElement, series: readonly ICurveSeries[], metric: string): void {
  container.replaceChildren();
  const steps = domainOf(series.flatMap(s => s.points.map(p => p.step)), 0, 'unit');
  const values = domainOf(series.flatMap(s => s.points.map(p => p.value)));
  if (!steps || !values) {
    const note = document.createElement('p');
    note.className = 'jp-DSI-hint';
    note.textContent = `The selected runs logged no values of ${metric}.`;
    container.appendChild(note);
    return;
  }
  const width = chartWidth(container);
  const f = frame(container, width, chartHeight(width), `${metric} over steps, ${series.length} runs`);
  const x = scaleLinear().domain(steps).range([0, f.width]);
  const y = scaleLinear().domain(values).range([f.height, 0]).nice();
  drawAxes(f, x, y, 'step', metric, true);
  const path = line<ICurvePoint>()
    .defined(p => p.value !== null)
    .x(p => x(p.step))
    .y(p => y(p.value as number));
  for (const s of series) {
    const g = f.plot.append('g').attr('class', 'jp-DSI-curve').attr('data-run-id', s.runId);
    g.append('path').attr('d', path(thinPoints(s.points, f.width)) ?? '').attr('fill', 'none').attr('stroke', s.color).attr('stroke-width', 2);
    if (s.points.length <= MARKERS_UP_TO) {
      g.selectAll('circle')
        .data(s.points.filter(p => p.value !== null))
        .join('circle')
        .attr('cx', p => x(p.step))
        .attr('cy', p => y(p.value as number))
        .attr('r', 3)
        .attr('fill', s.color);
    }
    g.append('title').text(s.name);
  }
  container.appendChild(
    legend(
      series.map(s => ({ label: s.name, color: s.color, title: `${s.name}: ${s.points.length} points` })),
      'Runs'
    )
  );
}

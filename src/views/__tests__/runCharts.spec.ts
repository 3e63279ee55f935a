/**
 * The Runs tab's charts: curves over steps (one line per run, a legend with the names) and the
 * efficacy scatter (one point per finished run, dataset property against metric, click to
 * restore), from plain arrays.
 */
import type { IDatasetStats, IRunInfo } from '../../db/runs';
import { DAY_MS, domainOf, paletteColor } from '../chart';
import { curveSeries, drawCurves, thinPoints } from '../curves';
import { drawEfficacy, efficacyPoints, xChoices, xValue } from '../efficacy';

function run(id: string, datasetId: string | null, status: IRunInfo['status'], mse: number | null): IRunInfo {
  return {
    id,
    name: `run ${id}`,
    description: '',
    datasetId,
    datasetName: datasetId,
    datasetDeleted: false,
    split: null,
    status,
    error: null,
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: null,
    heartbeatAt: null,
    durationS: null,
    author: 'me',
    host: 'box',
    params: {},
    metrics: mse === null ? {} : { 'val/mse': { name: 'mse', context: 'val', step: 3, value: mse, firstStep: 0 } },
    energyKwh: null,
    resources: {},
    stale: [],
    sigma2Targets: []
  };
}

const STATS: IDatasetStats[] = [
  { id: 'dA', name: 'small <b>', size: 20, createdAt: '2026-01-01T00:00:00Z', samplingP: 0.5, samplingN: null, params: { velocity: { min: 1, mean: 2, max: 3 } } },
  { id: 'dB', name: 'large', size: 80, createdAt: '2026-01-02T00:00:00Z', samplingP: null, samplingN: null, params: {} }
];

describe('efficacy data', () => {
  it('offers size, created, the sampling there is and each numeric parameter range', () => {
    expect(xChoices(STATS).map(c => c.key)).toEqual([
      'size',
      'created',
      'samplingP',
      'param:mean:velocity',
      'param:min:velocity',
      'param:max:velocity'
    ]);
    expect(xValue(STATS[0], 'param:max:velocity')).toBe(3);
    expect(xValue(STATS[1], 'param:max:velocity')).toBeNull();
    expect(xValue(STATS[1], 'created')).toBe(Date.parse('2026-01-02T00:00:00Z'));
  });

  it('makes one point per finished run with the metric, colored by dataset', () => {
    const runs = [
      run('1', 'dA', 'finished', 0.3),
      run('2', 'dB', 'finished', 0.1),
      run('3', 'dA', 'finished', 0.25),
      run('4', 'dA', 'running', 0.2),
      run('5', 'dB', 'failed', 0.9),
      run('6', 'dB', 'finished', null),
      run('7', null, 'finished', 0.5)
    ];
    const data = efficacyPoints(runs, STATS, 'size', 'val/mse');
    expect(data.points.map(p => [p.runId, p.x, p.y])).toEqual([
      ['1', 20, 0.3],
      ['2', 80, 0.1],
      ['3', 20, 0.25]
    ]);
    expect(data.points[0].color).toBe(data.points[2].color);
    expect(data.points[0].color).not.toBe(data.points[1].color);
    expect(data.datasets.map(d => [d.name, d.runs])).toEqual([
      ['small <b>', 2],
      ['large', 1]
    ]);
    expect(data.missing).toBe(2); // the finished run without the metric, the one without a dataset
  });

  it('draws a point per run, names shown as text, and a click picks the point', () => {
    const box = document.createElement('div');
    const picked: string[] = [];
    const data = efficacyPoints([run('1', 'dA', 'finished', 0.3), run('2', 'dB', 'finished', 0.1)], STATS, 'size', 'val/mse');
    drawEfficacy(box, data, { xKey: 'size', xLabel: 'Size', metric: 'val/mse', onPick: p => picked.push(p.datasetId) });
    const points = box.querySelectorAll('circle.jp-DSI-efficacyPoint');
    expect(points).toHaveLength(2);
    expect(points[0].querySelector('title')!.textContent).toBe('run 1 · small <b>');
    expect(box.querySelector('b')).toBeNull(); // a name is never markup
    expect([...box.querySelectorAll('.jp-DSI-chartLegend li')].map(li => li.textContent)).toEqual(['small <b>', 'large']);
    points[1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    points[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(picked).toEqual(['dB', 'dA']);
    // y grows upwards: the lower mse is drawn lower (a larger cy).
    expect(Number(points[1].getAttribute('cy'))).toBeGreaterThan(Number(points[0].getAttribute('cy')));
  });

  it('says why when no finished run can be placed', () => {
    const box = document.createElement('div');
    drawEfficacy(box, efficacyPoints([run('1', 'dB', 'finished', 0.3)], STATS, 'samplingP', 'val/mse'), {
      xKey: 'samplingP',
      xLabel: 'Sampling probability p',
      metric: 'val/mse',
      onPick: () => undefined
    });
    expect(box.textContent).toBe('No finished run has both val/mse and a value of “Sampling probability p” for its dataset.');
  });
});

describe('curves', () => {
  it('draws one line per run, each its own color, with a legend of names', () => {
    const box = document.createElement('div');
    const series = curveSeries(
      [
        { runId: 'a', steps: [0, 1, 2], values: [0.5, null, 0.2] },
        { runId: 'b', steps: [0, 1], values: [0.4, 0.3] }
      ],
      new Map([
        ['a', 'gp <i>'],
        ['b', 'mlp']
      ])
    );
    drawCurves(box, series, 'val/mse');
    const curves = box.querySelectorAll('g.jp-DSI-curve');
    expect([...curves].map(g => g.getAttribute('data-run-id'))).toEqual(['a', 'b']);
    const strokes = [...curves].map(g => g.querySelector('path')!.getAttribute('stroke'));
    expect(new Set(strokes).size).toBe(2);
    // From a later palette entry on, when asked (the datasets hold the first ones).
    const later = curveSeries([{ runId: 'a', steps: [0], values: [1] }], new Map(), 1);
    expect(later[0].color).toBe(series[1].color);
    // The missing point is a gap: two pieces of line (a move per piece), and no marker.
    expect(curves[0].querySelector('path')!.getAttribute('d')!.match(/M/g)).toHaveLength(2);
    expect(curves[0].querySelectorAll('circle')).toHaveLength(2);
    expect([...box.querySelectorAll('.jp-DSI-chartLegend li')].map(li => li.textContent)).toEqual(['gp <i>', 'mlp']);
    expect(box.querySelector('i')).toBeNull();
  });

  it('says so when the runs logged no value of the metric', () => {
    const box = document.createElement('div');
    drawCurves(box, curveSeries([{ runId: 'a', steps: [], values: [] }], new Map()), 'loss');
    expect(box.textContent).toBe('The selected runs logged no values of loss.');
  });
});

describe('review fixes', () => {
  it('gives 30 series 30 different colors, the first ten the explorer palette', () => {
    const colors = Array.from({ length: 30 }, (_, i) => paletteColor(i));
    expect(new Set(colors).size).toBe(30);
    expect(colors[0]).toBe('#4e79a7');
  });

  it('thins a long curve to about two points per pixel, keeping its spikes, gaps and last point', () => {
    const points = Array.from({ length: 100000 }, (_, i) => ({ step: i, value: i === 31234 ? 50 : i === 77777 ? null : Math.sin(i / 1000) }));
    const thin = thinPoints(points, 300);
    expect(thin.length).toBeLessThanOrEqual(2 * 300 + 2 + 300);
    expect(thin.length).toBeGreaterThan(300);
    expect(thin.some(p => p.value === 50)).toBe(true); // the spike is as tall as it was
    expect(thin.some(p => p.value === null)).toBe(true); // the gap is still a gap
    expect(thin[thin.length - 1]).toBe(points[points.length - 1]);
    expect(thin.map(p => p.step)).toEqual([...thin.map(p => p.step)].sort((a, b) => a - b));
    const short = points.slice(0, 100);
    expect(thinPoints(short, 300)).toEqual(short);
    // drawn thinned: the path of a 100,000-point curve has about 2 x width vertices
    const box = document.createElement('div');
    drawCurves(box, curveSeries([{ runId: 'a', steps: points.map(p => p.step), values: points.map(p => p.value) }], new Map()), 'loss');
    expect(box.querySelector('path[stroke]')!.getAttribute('d')!.split(/[ML]/).length).toBeLessThan(1000);
  });

  it('pads a single value by its own scale: a day on a time axis, 10% of a number, 1 around 0', () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    expect(domainOf([t], 0.06, 'time')).toEqual([t - DAY_MS, t + DAY_MS]);
    expect(domainOf([0.003])![0]).toBeCloseTo(0.0027);
    expect(domainOf([0.003])![1]).toBeCloseTo(0.0033);
    expect(domainOf([20])).toEqual([18, 22]);
    expect(domainOf([0])).toEqual([-1, 1]);
    expect(domainOf([3], 0, 'unit')).toEqual([2, 4]);
  });

  it('draws one dataset created at one time over days, not years, and says which runs it leaves out', () => {
    const box = document.createElement('div');
    const runs = [run('1', 'dA', 'finished', 0.3), run('2', 'dA', 'finished', null), run('3', null, 'finished', 0.2)];
    drawEfficacy(box, efficacyPoints(runs, STATS, 'created', 'val/mse'), { xKey: 'created', xLabel: 'Created', metric: 'val/mse', onPick: () => undefined });
    const ticks = [...box.querySelectorAll('.jp-DSI-chartAxis')][0].querySelectorAll('.tick text');
    expect([...ticks].map(t => t.textContent).join(' ')).not.toMatch(/^\d{4}( \d{4})*$/); // not years
    expect(box.querySelector('[data-testid=dsi-efficacy-missing]')!.textContent).toBe(
      '2 finished runs not shown: no val/mse or no “Created” value.'
    );
  });
});

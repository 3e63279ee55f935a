/**
 * The Runs tab: the table sorts and filters, ticked runs are compared as curves, the efficacy
 * points restore their dataset, and a refresh with new runs keeps what the user set.
 */
import type { IDatasetStats, IRunCurve, IRunInfo } from '../../db/runs';
import { formatDuration, formatEnergy, RunsPage } from '../runsPage';

function run(id: string, name: string, datasetId: string, over: Partial<IRunInfo> = {}): IRunInfo {
  return {
    id,
    name,
    description: '',
    datasetId,
    datasetName: datasetId === 'dA' ? 'small' : 'large',
    datasetDeleted: false,
    split: null,
    status: 'finished',
    error: null,
    startedAt: `2026-01-0${id}T00:00:00Z`,
    endedAt: null,
    heartbeatAt: null,
    durationS: 90,
    author: 'me',
    host: 'box',
    params: { lr: 0.01 },
    metrics: {},
    energyKwh: null,
    resources: {},
    stale: [],
    ...over
  };
}

const mse = (value: number) => ({ 'val/mse': { name: 'mse', context: 'val', step: 5, value, firstStep: 0 } });

const STATS: IDatasetStats[] = [
  { id: 'dA', name: 'small', size: 20, createdAt: '2026-01-01T00:00:00Z', samplingP: null, samplingN: null, params: {} },
  { id: 'dB', name: 'large', size: 80, createdAt: '2026-01-02T00:00:00Z', samplingP: null, samplingN: null, params: {} }
];

function page(runs: IRunInfo[][], lineage?: (r: IRunInfo) => void) {
  let call = 0;
  const curves: [string[], string, string][] = [];
  const restored: string[] = [];
  const p = new RunsPage({
    load: async () => runs[Math.min(call++, runs.length - 1)],
    datasetStats: async () => STATS,
    curves: async (ids, name, context): Promise<IRunCurve[]> => {
      curves.push([ids, name, context]);
      return ids.map(runId => ({ runId, steps: [0, 1], values: [1, 0.5] }));
    },
    restore: async id => void restored.push(id),
    lineage
  });
  document.body.appendChild(p.node);
  return { p, curves, restored };
}

const names = (p: RunsPage) => [...p.node.querySelectorAll('tbody tr')].map(tr => tr.querySelector('.jp-DSI-datasetName')!.firstChild!.textContent);
const header = (p: RunsPage, label: string) =>
  [...p.node.querySelectorAll<HTMLButtonElement>('th button')].find(b => b.textContent!.startsWith(label))!;
const flush = () => new Promise(resolve => setTimeout(resolve, 0));

afterEach(() => document.body.replaceChildren());

const RUNS = [
  run('1', 'gp-small', 'dA', { metrics: mse(0.3) }),
  run('2', 'gp-large', 'dB', { metrics: mse(0.1), energyKwh: 0.25, stale: ['source ens.csv changed'] }),
  run('3', 'killed', 'dA', { status: 'interrupted' })
];

it('lists the runs newest first, with status, stale badge, the metric column and energy', async () => {
  const { p } = page([RUNS]);
  await p.refresh();
  expect(names(p)).toEqual(['killed', 'gp-large', 'gp-small']);
  expect(p.count).toBe(3);
  const [killed, large] = [...p.node.querySelectorAll('tbody tr')];
  expect(killed.querySelector('.jp-DSI-runStatus')!.textContent).toBe('interrupted');
  expect(large.querySelector('.jp-DSI-staleBadge')!.getAttribute('title')).toBe('Stale: source ens.csv changed');
  expect([...p.node.querySelectorAll('thead th')].map(th => th.textContent)).toEqual([
    '', 'Name', 'Dataset', 'Split', 'Status', 'val/mse', 'Started ▼', 'Duration', 'Energy'
  ]);
  expect([...large.querySelectorAll('td')].map(td => td.textContent).slice(5)).toEqual(['0.1', expect.any(String), '1 min 30 s', '250 Wh']);
  expect(p.node.querySelector('button')!.textContent).not.toBe('Lineage'); // no lineage view given
});

it('shows the metric columns the user picks, in name order, and keeps the pick across refreshes', async () => {
  const more = RUNS.map(r => ({
    ...r,
    metrics: { ...r.metrics, 'train/loss': { name: 'loss', context: 'train', step: 1, value: 2, firstStep: 0 }, acc: { name: 'acc', context: '', step: 1, value: 0.5, firstStep: 0 } }
  }));
  const { p } = page([more]);
  await p.refresh();
  const heads = () => [...p.node.querySelectorAll('thead th')].map(th => th.textContent).slice(5, -3);
  expect(heads()).toEqual(['acc', 'train/loss']); // the first two keys until the user picks
  const pick = (key: string, on: boolean) => {
    const box = p.node.querySelector<HTMLInputElement>(`.jp-DSI-pickerList input[value="${key}"]`)!;
    box.checked = on;
    box.dispatchEvent(new Event('change'));
  };
  pick('val/mse', true);
  pick('acc', false);
  expect(heads()).toEqual(['train/loss', 'val/mse']);
  expect(p.node.querySelector('.jp-DSI-picker summary')!.textContent).toBe('Metrics (2)');
  await p.refresh();
  expect(heads()).toEqual(['train/loss', 'val/mse']);
});

it('sorts by a column and back, and filters by text', async () => {
  const { p } = page([RUNS]);
  await p.refresh();
  header(p, 'val/mse').click();
  expect(names(p)).toEqual(['gp-large', 'gp-small', 'killed']); // missing values last
  header(p, 'val/mse').click();
  expect(names(p)).toEqual(['gp-small', 'gp-large', 'killed']);
  const search = p.node.querySelector<HTMLInputElement>('input[type=search]')!;
  search.value = 'LARGE';
  search.dispatchEvent(new Event('input'));
  expect(names(p)).toEqual(['gp-large']);
});

it('draws the curves of the ticked runs and keeps sort, filter and ticks when new runs arrive', async () => {
  const later = [...RUNS, run('4', 'gp-new', 'dB', { metrics: mse(0.05) })];
  const { p, curves } = page([RUNS, later]);
  await p.refresh();
  header(p, 'Name').click();
  for (const name of ['gp-small', 'gp-large']) {
    const box = p.node.querySelector<HTMLInputElement>(`input[aria-label="Compare ${name}"]`)!;
    box.checked = true;
    box.dispatchEvent(new Event('change'));
  }
  await flush();
  expect(curves.at(-1)).toEqual([['2', '1'], 'mse', 'val']); // in table order: by name
  expect(p.node.querySelectorAll('[data-testid=dsi-run-curves] g.jp-DSI-curve')).toHaveLength(2);
  await p.refresh();
  await flush();
  expect(names(p)).toEqual(['gp-large', 'gp-new', 'gp-small', 'killed']);
  expect([...p.node.querySelectorAll<HTMLInputElement>('tbody input:checked')].map(b => b.getAttribute('aria-label'))).toEqual([
    'Compare gp-large',
    'Compare gp-small'
  ]);
  expect(p.node.querySelectorAll('[data-testid=dsi-run-curves] g.jp-DSI-curve')).toHaveLength(2);
});

it('keeps comparing a ticked run the filter hides, without reading the curves again', async () => {
  const { p, curves } = page([RUNS]);
  await p.refresh();
  for (const name of ['gp-small', 'gp-large']) {
    const box = p.node.querySelector<HTMLInputElement>(`input[aria-label="Compare ${name}"]`)!;
    box.checked = true;
    box.dispatchEvent(new Event('change'));
  }
  await flush();
  const reads = curves.length;
  const search = p.node.querySelector<HTMLInputElement>('input[type=search]')!;
  search.value = 'gp-small';
  search.dispatchEvent(new Event('input'));
  await flush();
  expect(names(p)).toEqual(['gp-small']);
  expect(p.node.querySelectorAll('[data-testid=dsi-run-curves] g.jp-DSI-curve')).toHaveLength(2);
  expect(curves).toHaveLength(reads);
});

it('restores a dataset from an efficacy point, and shows Lineage when there is a lineage view', async () => {
  const shown: string[] = [];
  const { p, restored } = page([RUNS], r => shown.push(r.id));
  await p.refresh();
  const points = p.node.querySelectorAll('[data-testid=dsi-efficacy] circle');
  expect(points).toHaveLength(2); // the interrupted run is not a point
  points[1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
  expect(restored).toEqual(['dB']);
  const lineage = [...p.node.querySelectorAll<HTMLButtonElement>('tbody button')].filter(b => b.textContent === 'Lineage');
  expect(lineage).toHaveLength(3);
  lineage[0].click();
  expect(shown).toEqual(['3']);
});

it('reads again when a running run’s heartbeat gets too old, to show it interrupted', async () => {
  jest.useFakeTimers({ now: Date.parse('2026-03-01T12:00:00Z'), doNotFake: ['setImmediate', 'nextTick'] });
  try {
    const beat = new Date(Date.now() - 9 * 60000).toISOString(); // one minute left
    const live = run('1', 'live', 'dA', { status: 'running', heartbeatAt: beat });
    const { p } = page([[live], [{ ...live, status: 'interrupted' }]]);
    await p.refresh();
    expect(p.node.querySelector('.jp-DSI-runStatus')!.textContent).toBe('running');
    await jest.advanceTimersByTimeAsync(59000);
    expect(p.node.querySelector('.jp-DSI-runStatus')!.textContent).toBe('running');
    await jest.advanceTimersByTimeAsync(2000);
    expect(p.node.querySelector('.jp-DSI-runStatus')!.textContent).toBe('interrupted');
  } finally {
    jest.useRealTimers();
  }
});

it('says how to record a run when there is none', async () => {
  const { p } = page([[]]);
  await p.refresh();
  expect(p.node.textContent).toContain('No training runs yet');
});

it('formats durations and energy', () => {
  expect(formatDuration(null)).toBe('');
  expect(formatDuration(42.4)).toBe('42 s');
  expect(formatDuration(75)).toBe('1 min 15 s');
  expect(formatDuration(7300)).toBe('2 h 01 min');
  expect(formatEnergy(null)).toBe('');
  expect(formatEnergy(0.0123)).toBe('12.3 Wh');
  expect(formatEnergy(2.5)).toBe('2.5 kWh');
});

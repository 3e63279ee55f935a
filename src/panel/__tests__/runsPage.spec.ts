/**
 * The Runs tab: the table sorts and filters, ticked runs are compared as curves, the efficacy
 * points restore their dataset, and a refresh with new runs keeps what the user set.
 */
import type { IDatasetStats, IRunCurve, IRunInfo } from '../../db/runs';
import { formatDuration, formatEnergy, IRunsPageOptions, MAX_COMPARED, RunsPage } from '../runsPage';

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
    sigma2Targets: [],
    ...over
  };
}

const mse = (value: number) => ({ 'val/mse': { name: 'mse', context: 'val', step: 5, value, firstStep: 0 } });

const STATS: IDatasetStats[] = [
  { id: 'dA', name: 'small', size: 20, createdAt: '2026-01-01T00:00:00Z', samplingP: null, samplingN: null, params: {} },
  { id: 'dB', name: 'large', size: 80, createdAt: '2026-01-02T00:00:00Z', samplingP: null, samplingN: null, params: {} }
];

function page(runs: IRunInfo[][], lineage?: (r: IRunInfo) => void, more: Partial<IRunsPageOptions> = {}) {
  let call = 0;
  const curves: [string[], string, string][] = [];
  const restored: string[] = [];
  const stats: number[] = [];
  const p = new RunsPage({
    load: async () => runs[Math.min(call++, runs.length - 1)],
    datasetStats: async () => {
      stats.push(call);
      return STATS;
    },
    curves: async (ids, name, context): Promise<IRunCurve[]> => {
      curves.push([ids, name, context]);
      return ids.map(runId => ({ runId, steps: [0, 1], values: [1, 0.5] }));
    },
    restore: async id => void restored.push(id),
    lineage,
    ...more
  });
  document.body.appendChild(p.node);
  return { p, curves, restored, stats, loads: () => call };
}

const names = (p: RunsPage) => [...p.node.querySelectorAll('tbody tr')].map(tr => tr.querySelector('.jp-DSI-runNameText')!.textContent);
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
  expect(large.querySelector('.jp-DSI-runNameText')!.textContent).toBe('gp-large');
  expect([...p.node.querySelectorAll('thead th')].map(th => th.textContent)).toEqual([
    '', 'Name', 'Dataset', 'Split', 'Status', 'val/mse', 'Started ▼', 'Duration', 'Energy'
  ]);
  expect([...large.querySelectorAll('td')].map(td => td.textContent).slice(5)).toEqual(['0.1', expect.any(String), '1 min 30 s', '250 Wh']);
  // No lineage view given: no Lineage button in any row.
  expect([...p.node.querySelectorAll('tbody button')].filter(b => b.textContent === 'Lineage')).toEqual([]);
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

describe('review fixes', () => {
  /** Type `text` into the focused filter box one character at a time, as a keyboard does. */
  function type(box: HTMLInputElement, text: string): void {
    for (const ch of text) {
      expect(document.activeElement).toBe(box); // the keys go where the focus is
      box.value += ch;
      box.dispatchEvent(new Event('input'));
    }
  }

  it('keeps the focus in the filter box while typing, and the filter holds every character', async () => {
    const { p } = page([RUNS]);
    await p.refresh();
    const search = p.node.querySelector<HTMLInputElement>('input[type=search]')!;
    search.focus();
    type(search, 'gp-l');
    expect(document.activeElement).toBe(search);
    expect(search.value).toBe('gp-l');
    expect(names(p)).toEqual(['gp-large']);
    await p.refresh(); // a catch-up while typing
    expect(document.activeElement).toBe(search);
  });

  it('gives the focus back to the replacement of a tick, a sort button and a metric box', async () => {
    const { p } = page([RUNS]);
    await p.refresh();
    const tick = p.node.querySelector<HTMLInputElement>('input[aria-label="Compare gp-small"]')!;
    tick.focus();
    tick.checked = true;
    tick.dispatchEvent(new Event('change'));
    expect(document.activeElement).toBe(p.node.querySelector('input[aria-label="Compare gp-small"]'));
    expect((document.activeElement as HTMLInputElement).checked).toBe(true);
    header(p, 'Name').focus();
    header(p, 'Name').click();
    expect(document.activeElement).toBe(header(p, 'Name'));
    expect(header(p, 'Name').textContent).toBe('Name ▲');
    const box = p.node.querySelector<HTMLInputElement>('.jp-DSI-pickerList input[value="val/mse"]')!;
    box.focus();
    box.checked = false;
    box.dispatchEvent(new Event('change'));
    expect(document.activeElement).toBe(p.node.querySelector('.jp-DSI-pickerList input[value="val/mse"]'));
  });

  it('fetches the file again when a running run’s heartbeat deadline passes, and only then decides', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-03-01T12:00:00Z'), doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const beat = new Date(Date.now() - 9 * 60000).toISOString(); // one minute left
      const live = run('1', 'live', 'dA', { status: 'running', heartbeatAt: beat });
      // The replica as last read still has the old heartbeat; the file has a new one (the
      // heartbeat thread wrote it without an event).
      let file = [live];
      const reloads: number[] = [];
      const { p } = page([], undefined, {
        load: async () => file,
        reload: async () => {
          reloads.push(Date.now());
          file = [{ ...live, heartbeatAt: new Date(Date.now()).toISOString() }];
          await p.refresh(); // the explorer's catch-up refreshes the page
        }
      });
      await p.refresh();
      await jest.advanceTimersByTimeAsync(61000);
      expect(reloads).toHaveLength(1);
      expect(p.node.querySelector('.jp-DSI-runStatus')!.textContent).toBe('running');
    } finally {
      jest.useRealTimers();
    }
  });

  it('says in the page when the runs cannot be read, and never rejects', async () => {
    let fail = true;
    const { p } = page([], undefined, {
      load: async () => {
        if (fail) {
          throw new Error('worker stopped');
        }
        return RUNS;
      }
    });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await expect(p.refresh()).resolves.toBeUndefined();
    expect(p.node.querySelector('.jp-DSI-error')!.textContent).toBe('Cannot read the runs: worker stopped');
    fail = false;
    await p.refresh();
    expect(p.node.querySelector('.jp-DSI-error')).toBeNull();
    expect(names(p)).toHaveLength(3);
    errors.mockRestore();
  });

  it(`compares at most ${MAX_COMPARED} runs, says so, and reads a curve again only when its run changed`, async () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      run(String(i + 1).padStart(2, '0'), `run ${i + 1}`, 'dA', { metrics: mse(i / 10), startedAt: `2026-01-01T00:${String(i).padStart(2, '0')}:00Z` })
    );
    const later = many.map((r, i) => (i === 11 ? { ...r, metrics: mse(0.001) } : r));
    const { p, curves } = page([many, many, later]);
    await p.refresh();
    const all = p.node.querySelector<HTMLInputElement>('input[aria-label="Compare all runs shown"]')!;
    all.checked = true;
    all.dispatchEvent(new Event('change'));
    await flush();
    expect(curves).toHaveLength(1);
    expect(curves[0][0]).toHaveLength(MAX_COMPARED);
    expect(p.node.querySelectorAll('[data-testid=dsi-run-curves] g.jp-DSI-curve')).toHaveLength(MAX_COMPARED);
    expect(p.node.querySelector('[data-testid=dsi-compare-capped]')!.textContent).toContain('Comparing the first 10 ticked runs (of 12)');
    const colors = [...p.node.querySelectorAll<HTMLElement>('tbody .jp-DSI-swatch:not(.jp-mod-empty)')].map(s => s.style.background);
    expect(new Set(colors).size).toBe(MAX_COMPARED);
    await p.refresh(); // the same runs: no curve is read again
    await flush();
    expect(curves).toHaveLength(1);
    await p.refresh(); // run 12 (newest, first in the table) logged a point: only its curve
    await flush();
    expect(curves[1][0]).toEqual(['12']);
    expect(p.node.querySelectorAll('[data-testid=dsi-run-curves] g.jp-DSI-curve')).toHaveLength(MAX_COMPARED);
  });

  it('shows the split’s label (its id in the title), sorted and filtered by what it shows', async () => {
    const split = (id: string, label: string) => ({ split: { id, label } });
    const { p } = page([
      [
        run('1', 'a', 'dA', split('ffff0000aaaa', 'train 80%, test 20% · seed 0')),
        run('2', 'b', 'dA', split('0000ffffbbbb', 'train 50%, test 50% · seed 1'))
      ]
    ]);
    await p.refresh();
    const cells = () => [...p.node.querySelectorAll('td.jp-DSI-runSplit')];
    expect(cells().map(c => c.textContent)).toEqual(['train 50%, test 50% · seed 1', 'train 80%, test 20% · seed 0']);
    expect(cells()[0].getAttribute('title')).toBe('Split 0000ffffbbbb');
    header(p, 'Split').click();
    expect(names(p)).toEqual(['b', 'a']);
    const search = p.node.querySelector<HTMLInputElement>('input[type=search]')!;
    search.value = '80%';
    search.dispatchEvent(new Event('input'));
    expect(names(p)).toEqual(['a']);
  });

  it('reads the dataset stats once per new dataset, and nothing while hidden', async () => {
    let shown = false;
    const later = [...RUNS, run('4', 'gp-new', 'dB', { metrics: mse(0.05) })];
    const newer = [...later, run('5', 'gp-other', 'dC')];
    const { p, stats, loads } = page([RUNS, RUNS, later, newer], undefined, { shown: () => shown });
    await p.refresh();
    expect(loads()).toBe(0); // hidden: no read at all
    shown = true;
    await p.refresh();
    await p.refresh();
    await p.refresh(); // runs on dA and dB only: the stats read first still hold
    expect(stats).toHaveLength(1);
    await p.refresh(); // a run on dC
    expect(stats).toHaveLength(2);
    expect(names(p)).toContain('gp-other');
  });

  it('stops its observer and heartbeat timer when disposed', async () => {
    const observers: { disconnect: jest.Mock }[] = [];
    (window as any).ResizeObserver = class {
      disconnect = jest.fn();
      constructor() {
        observers.push(this);
      }
      observe() {
        /* nothing to measure in jsdom */
      }
    };
    jest.useFakeTimers({ now: Date.parse('2026-03-01T12:00:00Z'), doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const live = run('1', 'live', 'dA', { status: 'running', heartbeatAt: new Date(Date.now() - 9 * 60000).toISOString() });
      const { p, loads } = page([[live]]);
      await p.refresh();
      p.dispose();
      expect(observers[0].disconnect).toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(120000);
      expect(loads()).toBe(1);
      expect(p.isDisposed).toBe(true);
    } finally {
      jest.useRealTimers();
      delete (window as any).ResizeObserver;
    }
  });

  it('says what a status or stale badge means to the keyboard and screen readers, not only on hover', async () => {
    const failed = run('4', 'broken', 'dA', { status: 'failed', error: 'ValueError: nan loss', stale: ['dataset deleted'] });
    const { p } = page([[failed]]);
    await p.refresh();
    for (const [selector, meaning] of [
      ['.jp-DSI-runStatus', 'Failed: ValueError: nan loss'],
      ['.jp-DSI-staleBadge', 'Stale: dataset deleted']
    ]) {
      const badge = p.node.querySelector<HTMLElement>(selector)!;
      expect(badge.tabIndex).toBe(0);
      const note = document.getElementById(badge.getAttribute('aria-describedby')!)!;
      expect(note.textContent).toBe(meaning);
      expect(note.classList.contains('jp-DSI-badgeNote')).toBe(true);
    }
  });

  it('selects a run on request: ticked, highlighted, the filter cleared if it hid it; also one not read yet', async () => {
    const later = [...RUNS, run('4', 'gp-new', 'dB', { metrics: mse(0.05) })];
    const { p } = page([RUNS, later]);
    await p.refresh();
    const search = p.node.querySelector<HTMLInputElement>('input[type=search]')!;
    search.value = 'killed';
    search.dispatchEvent(new Event('input'));
    p.select('2');
    expect(search.value).toBe('');
    const row = p.node.querySelector('tr[data-run-id="2"]')!;
    expect(row.classList.contains('jp-mod-highlighted')).toBe(true);
    expect(row.querySelector<HTMLInputElement>('input[type=checkbox]')!.checked).toBe(true);
    p.select('4'); // in the file, not yet in the page
    await p.refresh();
    expect(p.node.querySelector('tr[data-run-id="4"]')!.classList.contains('jp-mod-highlighted')).toBe(true);
    expect(p.node.querySelector('tr[data-run-id="2"]')!.classList.contains('jp-mod-highlighted')).toBe(false);
  });
});

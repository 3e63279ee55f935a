/**
 * Many methods (issue 18): a copy of the sample database with 16 real post-processing methods
 * (other ground truths, norms and ground-truth times, made by `jupyter dsi postprocess`) opened in
 * the panel. Its counts equal the CLI's: simulations, methods in the picker, time steps, the
 * selection under one filter string at two methods, and a dataset saved from the panel. What the
 * tab downloaded for the database is measured (CDP): the panel holds what is on screen, not the
 * file. Screenshots of the sidebar and the main area, light and dark, go to ui-tests/screenshots/.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { brushAxis, dsiJson, formatCount, JUPYTER, keepScreenshot, REPO, SAMPLE_DB, serverRoot, watchFetches } from './helpers';

test.setTimeout(300000);

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');
const METHODS = 16;

/**
 * The 13 methods added to the sample's 3 (sim00000 under Linf, L1, L2 at matched steps): other
 * ground truths, every norm, matched steps and fixed ground-truth steps, so that no two methods
 * give the same distances.
 */
const ADDED: { gt: string; norm: string; time: string }[] = [
  { gt: 'sim00001', norm: 'L2', time: 'matched' },
  { gt: 'sim00001', norm: 'L1', time: 'matched' },
  { gt: 'sim00001', norm: 'Linf', time: 'matched' },
  { gt: 'sim00000', norm: 'L2', time: '0' },
  { gt: 'sim00000', norm: 'L2', time: '20' },
  { gt: 'sim00000', norm: 'L1', time: '39' },
  { gt: 'sim00002', norm: 'L2', time: 'matched' },
  { gt: 'sim00002', norm: 'L1', time: '10' },
  { gt: 'sim00002', norm: 'Linf', time: '30' },
  { gt: 'sim00003', norm: 'L1', time: 'matched' },
  { gt: 'sim00003', norm: 'L2', time: '5' },
  { gt: 'sim00004', norm: 'Linf', time: 'matched' },
  { gt: 'sim00004', norm: 'L2', time: '25' }
];

function postprocessArgs(db: string, m: (typeof ADDED)[number]): string[] {
  return ['postprocess', '-q', '--db', db, '--ground-truth', m.gt, '--norm', m.norm, '--gt-time', m.time,
    '--description', `scale test: ${m.gt}, ${m.norm}, ground truth at ${m.time === 'matched' ? 'the same step' : `step ${m.time}`}`];
}

interface IBuilt {
  /** The 16-method file, outside the server's root (each test copies it in). */
  file: string;
  /** The same file without its distance rows, vacuumed: about what the panel's replica holds. */
  metadataBytes: number;
  setupMs: number;
}

let built: IBuilt | null = null;

/**
 * Build the 16-method file once per worker. The first method is a `jupyter dsi postprocess`
 * process; the other twelve run the same command's entry point (jupyterlab_dsi.cli.main) in one
 * Python process, since each new process spends longer starting than computing.
 */
function build(): IBuilt {
  const start = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-galata-scale-'));
  const file = path.join(dir, 'scale.sqlite');
  fs.copyFileSync(SAMPLE_DB, file);
  const first = execFileSync(JUPYTER, ['dsi', ...postprocessArgs(file, ADDED[0])], { encoding: 'utf-8' }).trim();
  expect(first, 'jupyter dsi postprocess prints the new method id').toMatch(/^[0-9a-f-]{36}$/);
  const script = `
import json, sys
from jupyterlab_dsi.cli import main
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    if code:
        sys.exit(f"jupyter dsi {' '.join(argv)}: exit {code}")
`;
  execFileSync(PYTHON, ['-c', script, JSON.stringify(ADDED.slice(1).map(m => postprocessArgs(file, m)))], {
    encoding: 'utf-8',
    stdio: ['ignore', 'pipe', 'inherit']
  });
  // What the file holds besides distances, packed: the yardstick for what the tab should take in.
  const bare = path.join(dir, 'bare.sqlite');
  fs.copyFileSync(file, bare);
  execFileSync(PYTHON, ['-c', `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("DELETE FROM jdsi_distance")
c.execute("VACUUM")
`, bare]);
  const metadataBytes = fs.statSync(bare).size;
  fs.rmSync(bare);
  return { file, metadataBytes, setupMs: Date.now() - start };
}

test.beforeAll(() => {
  built = build();
});

test.afterAll(() => {
  if (built) {
    fs.rmSync(path.dirname(built.file), { recursive: true, force: true });
  }
});

/** The built file copied straight into the test's folder of the server root (no upload). */
async function place(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<string> {
  const target = path.join(await serverRoot(page), tmpPath, name);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(built!.file, target);
  return target;
}

async function selectionCount(view: Locator): Promise<number> {
  const text = (await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '';
  return Number(text.replace(/,/g, ''));
}

/** Type `text` into the panel's filter string and apply it (Enter), as a scientist would. */
async function typeFilter(page: IJupyterLabPageFixture, view: Locator, text: string): Promise<void> {
  const filter = view.getByTestId('dsi-filter');
  await filter.click();
  await page.keyboard.press('Control+a');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await expect(filter).toHaveText(text);
}

const MB = 1048576;

test('16 methods: the panel counts what the CLI counts, and takes in far less than the file', async ({ page, tmpPath }) => {
  await page.setViewportSize({ width: 1400, height: 1200 });
  const file = await place(page, tmpPath, 'scale.sqlite');
  const fileBytes = fs.statSync(file).size;
  test.info().annotations.push({
    type: 'setup',
    description: `16 methods in ${(built!.setupMs / 1000).toFixed(1)} s (this worker's build); file ${(fileBytes / MB).toFixed(1)} MB, without distances ${(built!.metadataBytes / MB).toFixed(2)} MB`
  });

  const methods = dsiJson<{ id: string; ground_truth: string; norm: string; gt_time: number | null }[]>('methods', '--db', file);
  expect(methods).toHaveLength(METHODS);
  expect(new Set(methods.map(m => `${m.ground_truth} ${m.norm} ${m.gt_time}`)).size).toBe(METHODS);

  const fetched = await watchFetches(page, 'scale.sqlite');
  const opening = Date.now();
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/scale.sqlite`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  const view = panel.locator('.jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 120000 });
  const openMs = Date.now() - opening;

  // Simulations and time steps as `jupyter dsi select` reads them for one method.
  const slider = view.locator('input[aria-label="Time step"]');
  const shown = await view.locator('select[aria-label="Method"]').inputValue();
  const rows = dsiJson<{ sim_id: string; t: number }[]>('select', '--db', file, '--method', shown);
  const simulations = new Set(rows.map(r => r.sim_id)).size;
  const steps = new Set(rows.map(r => r.t)).size;
  expect(simulations).toBe(1000);
  await expect(panel.getByTestId('dsi-simulations').locator('.jp-DSI-countValue')).toHaveText(formatCount(simulations));
  await expect(panel.getByTestId('dsi-time-steps').locator('.jp-DSI-countValue')).toHaveText(String(steps));
  await expect(panel.getByTestId('dsi-methods').locator('.jp-DSI-countValue')).toHaveText(String(METHODS));
  await expect(slider).toHaveAttribute('max', String(steps - 1));
  // The picker offers every method, by id, and nothing else.
  const picker = view.locator('select[aria-label="Method"] option');
  await expect(picker).toHaveCount(METHODS);
  expect((await picker.evaluateAll(o => o.map(e => (e as HTMLOptionElement).value))).sort()).toEqual(methods.map(m => m.id).sort());
  await expect.poll(() => selectionCount(view)).toBe(simulations);

  // One filter string, two methods picked in the panel (neither the one shown on opening, so each
  // is loaded on demand): ground truth sim00001 at matched steps, and sim00000 at its step 20.
  const t = await slider.inputValue();
  const pick = (gt: string, norm: string, gtTime: number | null) =>
    methods.find(m => m.ground_truth === gt && m.norm === norm && m.gt_time === gtTime && m.id !== shown)!.id;
  const [a, b] = [pick('sim00001', 'L2', null), pick('sim00000', 'L2', 20)];
  const atStep = (method: string, where?: string) =>
    dsiJson<{ sim_id: string; d_density: number }[]>(
      'select', '--db', file, '--method', method, '--time', t, ...(where ? ['--where', where] : [])
    );
  // The threshold: method a's median density distance at this step, to three figures.
  const densities = atStep(a).map(r => r.d_density).sort((x, y) => x - y);
  const filter = `d_density < ${Number(densities[Math.floor(densities.length / 2)].toPrecision(3))}`;
  const cli = { [a]: atStep(a, filter).length, [b]: atStep(b, filter).length };
  // The two methods must disagree, or a panel stuck on one method's distances would pass.
  expect(cli[a]).not.toBe(cli[b]);
  expect(cli[a]).toBeGreaterThan(0);

  await typeFilter(page, view, filter);
  const switches: string[] = [];
  for (const method of [a, b]) {
    const asked = Date.now();
    await view.locator('select[aria-label="Method"]').selectOption(method);
    await expect.poll(() => selectionCount(view), { timeout: 60000, message: `selection at method ${method.slice(0, 8)}` }).toBe(cli[method]);
    switches.push(`${method.slice(0, 8)} ${Date.now() - asked} ms`);
    await expect(view.getByTestId('dsi-filter')).toHaveText(filter);
    await expect(slider).toHaveValue(t);
  }

  // Saved from the panel at method b: the CLI reads one dataset with the panel's members.
  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  await form.getByTestId('dsi-save-description').fill('scale test: small density distance at a fixed ground-truth step');
  const saving = Date.now();
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(panel.getByTestId('dsi-saved')).toContainText('Saved', { timeout: 60000 });
  await expect(panel.getByTestId('dsi-datasets').locator('.jp-DSI-countValue')).toHaveText('1', { timeout: 60000 });
  const saveMs = Date.now() - saving;
  const datasets = dsiJson<{ id: string; size: number; method: string; time: number; filter: string }[]>('datasets', '--db', file);
  expect(datasets).toHaveLength(1);
  expect(datasets[0]).toMatchObject({ size: cli[b], method: b, time: Number(t), filter });
  const members = dsiJson<{ members: string[] }>('export', datasets[0].id, '--db', file).members;
  expect(new Set(members)).toEqual(new Set(atStep(b, filter).map(r => r.sim_id)));

  // What the tab took in for this database.
  const got = fetched().filter(r => r.status === 200);
  const db = got.filter(r => r.kind === 'db');
  const frames = got.filter(r => r.kind === 'distances');
  const total = got.reduce((sum, r) => sum + r.bytes, 0);
  test.info().annotations.push(
    { type: 'timings', description: `open → views ${openMs} ms; method switch → count ${switches.join(', ')}; save → shown ${saveMs} ms` },
    {
      type: 'bytes',
      description:
        `${db.length} db request(s) ${db.map(r => `${(r.bytes / MB).toFixed(2)} MB${r.replica ? ' (replica)' : ''}`).join(', ')}; ` +
        `${frames.length} distances request(s) ${frames.map(r => `${r.method?.slice(0, 8)} ${(r.bytes / 1024).toFixed(0)} KB`).join(', ')}; ` +
        `total ${(total / MB).toFixed(2)} MB of a ${(fileBytes / MB).toFixed(1)} MB file`
    }
  );
  // The replica (X-DSI-Replica: 1), each time it is read: about the file without its distances
  // (plus the per-method table). Before issue 18 each of these was the whole file.
  expect(db.length).toBeGreaterThanOrEqual(1);
  const replicaBound = built!.metadataBytes * 1.5 + 256 * 1024;
  for (const r of db) {
    expect(r.replica, 'GET db answers the replica').toBe(true);
    expect(r.bytes, 'one replica').toBeLessThanOrEqual(replicaBound);
  }
  // The distances of the methods opened, each one frame (S × T × 3 float32 and its header), read
  // once; no other method's. Methods a and b were picked: their frames came through this page (a
  // fetch made elsewhere, in a worker, would make these counts, and the bound below, moot).
  const frameBound = simulations * steps * 12 + 256 * 1024;
  const opened = [shown, a, b];
  for (const method of [a, b]) {
    expect(frames.map(r => r.method), `the frame of ${method.slice(0, 8)}`).toContain(method);
  }
  for (const r of frames) {
    expect(opened, 'a frame of a method not opened').toContain(r.method);
    expect(r.bytes, 'one frame').toBeLessThanOrEqual(frameBound);
  }
  expect(frames.length, 'each method fetched once').toBe(new Set(frames.map(r => r.method)).size);
  expect(total).toBeLessThanOrEqual(db.length * replicaBound + opened.length * frameBound);
  // Far below the file: the 13 methods never shown are never sent.
  expect(total).toBeLessThan(fileBytes / 4);
});

for (const theme of ['light', 'dark'] as const) {
  test(`16 methods, ${theme} theme: the sidebar at its default width and the main area`, async ({ page, tmpPath }) => {
    await page.setViewportSize({ width: 1280, height: 800 });
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await place(page, tmpPath, 'scale.sqlite');
    const relative = `${tmpPath}/scale.sqlite`;

    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('dsi:open', { path: p });
    }, relative);
    const sidebar = page.locator('#jp-dsi-explorer');
    const side = sidebar.locator('.jp-DSI-explorerView');
    await expect(side.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 120000 });
    await expect(side.locator('select[aria-label="Method"] option')).toHaveCount(METHODS);
    await brushAxis(page, side, 'd_density', 0.45, 0.9);
    await expect(side.getByTestId('dsi-filter')).toContainText('d_density between');
    await sidebar.evaluate(el => (el.scrollTop = 0));
    await page.mouse.move(0, 0);
    await keepScreenshot(page, `scale-sidebar-${theme}.png`);
    // Scrolled down to the views: what 16 methods' lines look like at the sidebar's width.
    await sidebar.evaluate(el => (el.scrollTop = el.scrollHeight));
    await keepScreenshot(page, `scale-sidebar-views-${theme}.png`);

    await page.evaluate(() => (window as any).jupyterapp.shell.collapseRight());
    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
    }, relative);
    const area = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
    const main = area.locator('.jp-DSI-explorerView');
    await expect(main.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 120000 });
    await expect(area.getByTestId('dsi-methods').locator('.jp-DSI-countValue')).toHaveText(String(METHODS));
    await brushAxis(page, main, 'd_density', 0.45, 0.9);
    await expect(main.getByTestId('dsi-filter')).toContainText('d_density between');
    await area.evaluate(el => (el.scrollTop = 0));
    await page.mouse.move(0, 0);
    await keepScreenshot(page, `scale-main-${theme}.png`);
  });
}

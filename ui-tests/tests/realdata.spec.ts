/**
 * Ensembles nobody on this project wrote (shared/realdata), in a real JupyterLab: LANL DSI's
 * CloverLeaf database (8 runs, VTK fields, no shock or edge coefficients) from ingest to a saved
 * dataset, and DSI's wildfire table and a Cinema database, which have no fields at all.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { brushAxis, dsiJson, JUPYTER, keepScreenshot, REALDATA, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });
test.skip(!REALDATA, 'shared/realdata is absent');

/** Copy `source` (a file or folder of realdata) into the server's root, ingest `dsiSource` from
 * it and open the result in a DSI Explorer; answers the database's absolute path and the view. */
async function ingestAndOpen(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  source: string,
  dsiSource: string
): Promise<{ db: string; view: Locator }> {
  const root = path.join(await serverRoot(page), tmpPath);
  const copy = path.join(root, path.basename(source));
  fs.cpSync(path.join(REALDATA!, source), copy, { recursive: true });
  const db = path.join(root, `${path.basename(source)}.sqlite`);
  execFileSync(JUPYTER, ['dsi', 'ingest', '-q', path.join(root, dsiSource), '--db', db]);
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, path.relative(await serverRoot(page), db));
  // The newest tab's view (an earlier one stays in the page, hidden).
  return { db, view: page.locator('.jp-MainAreaWidget .jp-DSI-explorerView').last() };
}

async function count(view: Locator): Promise<number> {
  const text = (await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '';
  return Number(text.replace(/,/g, ''));
}

test('CloverLeaf from DSI: post-process against run_1, distances grow with the state-2 density, save', async ({
  page,
  tmpPath
}) => {
  const { db, view } = await ingestAndOpen(page, tmpPath, 'dsi-clover3d', 'dsi-clover3d/dsi_clover3d.db');
  // The deck's one varying value is an axis; its constant values are kept aside.
  await expect(view.locator('g[data-axis="state2_density"]')).toBeVisible();
  await expect(view.locator('g[data-axis="x_cells"]')).toHaveCount(0);
  const constants = view.getByTestId('dsi-constants');
  await expect(constants).toContainText('Same for every run: state1_density = 0.2');
  await expect(constants).toHaveAttribute('title', /x_cells = 60, y_cells = 60/); // the whole list

  await view.getByRole('button', { name: 'New…' }).click();
  const form = view.locator('form.jp-DSI-methodForm');
  await form.getByLabel('Ground truth simulation').fill('run_1');
  await form.getByLabel('Ground-truth time').selectOption('nearest');
  await form.getByLabel('Method description').fill('How far each run ends from run 1');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(form.getByTestId('dsi-method-message')).toContainText('New method computed for 8 simulations', {
    timeout: 90000
  });
  const methods = dsiJson<{ id: string; ground_truth: string }[]>('methods', '--db', db);
  expect(methods.map(m => m.ground_truth)).toEqual(['1']); // DSI numbers run_1 as simulation 1
  await expect(view.locator('select[aria-label="Method"]')).toHaveValue(methods[0].id);
  await expect(view.locator('select[aria-label="Method"] option:checked')).toHaveText('1 · L2 · nearest in time');
  await form.getByRole('button', { name: 'Close' }).click();

  // No shock or edge distances: no such axes; the scatter plots the distance against the density.
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  await expect(view.locator('g[data-axis="d_shock"]')).toHaveCount(0);
  await expect(view.locator('select[aria-label="Scatter x"]')).toHaveValue('state2_density');
  await expect(view.locator('select[aria-label="Scatter y"]')).toHaveValue('d_density');
  await expect(view.getByTestId('dsi-time')).toContainText('step 9 (0–9) · time 3.6');

  // Brush the upper half of d_density: the runs kept are those with the densest second state.
  await brushAxis(page, view, 'd_density', 0.02, 0.5);
  const filter = (await view.getByTestId('dsi-filter').textContent())!;
  expect(filter).toMatch(/^d_density between /);
  const kept = await count(view);
  const rows = dsiJson<{ sim_id: string; state2_density: number; d_density: number }[]>(
    'select', '--db', db, '--method', methods[0].id, '--time', '9'
  );
  const chosen = dsiJson<{ sim_id: string }[]>('select', '--db', db, '--method', methods[0].id, '--time', '9', '--where', filter);
  expect(chosen).toHaveLength(kept);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(8);
  const densest = [...rows].sort((a, b) => b.state2_density - a.state2_density).slice(0, kept);
  expect(chosen.map(r => r.sim_id).sort()).toEqual(densest.map(r => r.sim_id).sort());
  const distances = [...rows].sort((a, b) => a.state2_density - b.state2_density).map(r => r.d_density);
  expect(distances).toEqual([...distances].sort((a, b) => a - b));
  await keepScreenshot(view, 'clover-light.png');
  for (const [theme, light] of [['JupyterLab Dark', 'false'], ['JupyterLab Light', 'true']]) {
    await page.evaluate(async t => {
      await (window as any).jupyterapp.commands.execute('apputils:change-theme', { theme: t });
    }, theme);
    await expect(page.locator(`body[data-jp-theme-light="${light}"]`)).toBeAttached();
    if (light === 'false') {
      await keepScreenshot(view, 'clover-dark.png');
    }
  }

  await view.getByRole('button', { name: 'Save…' }).click();
  const save = view.locator('form.jp-DSI-saveForm');
  await save.getByTestId('dsi-save-description').fill('Runs whose fields end far from run 1');
  await save.getByLabel('Dataset name').fill('far from run 1');
  await save.getByRole('button', { name: 'Save' }).click();
  // The save turns the panel to its Datasets page, whose line says what was saved.
  await expect(page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last().getByTestId('dsi-saved')).toContainText('Saved “far from run 1”');
  // The panel shows the new dataset; back to exploring.
  await page.locator('.jp-MainAreaWidget .jp-DSI-tab', { hasText: 'Explore' }).last().click();
  const datasets = dsiJson<{ id: string; size: number; filter: string; weights: Record<string, number> }[]>(
    'datasets', '--db', db
  );
  expect(datasets.map(d => [d.size, d.filter, d.weights])).toEqual([[kept, filter, { d_density: 1 }]]);
  execFileSync(JUPYTER, ['dsi', 'verify', '--db', db]); // throws unless the dataset reproduces

  // Weigh a per-step scalar into d_feature; brushing d_feature selects what the CLI selects with
  // the same terms.
  await view.getByRole('button', { name: 'Clear' }).click();
  await view.locator('select[aria-label="Add a term to d_feature"]').selectOption('wall_clock');
  const weight = view.locator('input[aria-label="wall_clock weight value"]');
  await weight.fill('2');
  await weight.press('Enter');
  await expect(view.locator('.jp-DSI-weights')).toHaveAttribute('title', 'd_feature = 1 · d_density + 2 · wall_clock');
  await brushAxis(page, view, 'd_feature', 0.02, 0.5);
  const featureFilter = (await view.getByTestId('dsi-filter').textContent())!;
  expect(featureFilter).toMatch(/^d_feature between /);
  const weighed = dsiJson<{ sim_id: string }[]>(
    'select', '--db', db, '--method', methods[0].id, '--time', '9', '--weights', 'd_density=1', 'wall_clock=2',
    '--where', featureFilter
  );
  expect(weighed).toHaveLength(await count(view));

});

test('DSI wildfire and Cinema tables (no fields, no methods) open, select and save', async ({ page, tmpPath }) => {
  const { db, view } = await ingestAndOpen(page, tmpPath, 'dsi-wildfire', 'dsi-wildfire/dsi_wildfire.db');
  await expect(view.locator('g[data-axis="wind_speed"]')).toBeVisible();
  await expect(view.locator('g[data-axis="burned_area"]')).toBeVisible();
  await expect(view.getByTestId('dsi-selection-count')).toContainText('1,889');
  await brushAxis(page, view, 'burned_area', 0.02, 0.4);
  const filter = (await view.getByTestId('dsi-filter').textContent())!;
  expect(filter).toMatch(/^burned_area between /);
  const kept = await count(view);
  expect(dsiJson<unknown[]>('select', '--db', db, '--where', filter)).toHaveLength(kept);
  await keepScreenshot(view, 'wildfire-light.png');
  await view.getByRole('button', { name: 'Save…' }).click();
  const save = view.locator('form.jp-DSI-saveForm');
  await save.getByTestId('dsi-save-description').fill('The largest burns');
  await save.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last().getByTestId('dsi-saved')).toContainText('Saved');
  const datasets = dsiJson<{ size: number; method: string | null; filter: string }[]>('datasets', '--db', db);
  expect(datasets.map(d => [d.size, d.method, d.filter])).toEqual([[kept, null, filter]]);

  const sphere = await ingestAndOpen(page, tmpPath, 'cinema/sphere.cdb', 'sphere.cdb');
  await expect(sphere.view.locator('g[data-axis="phi"]')).toBeVisible();
  await expect(sphere.view.getByTestId('dsi-selection-count')).toContainText('20');
  await expect(sphere.view.getByTestId('dsi-constants')).toContainText('theta = 0');

  // 409 time steps of image metrics, image paths that do not resolve.
  const bubbles = await ingestAndOpen(page, tmpPath, 'cinema/uncertainty_bubbles.cdb', 'uncertainty_bubbles.cdb');
  await expect(bubbles.view.locator('g[data-axis="u_avg_brightness"]')).toBeVisible();
  await expect(bubbles.view.getByTestId('dsi-selection-count')).toContainText('409');

  // 10,000 rows with missing numbers (NaN and empty cells) in Integer_0: brushable, as the CLI says.
  const bogus = await ingestAndOpen(page, tmpPath, 'cinema/big_bogus_4.cdb', 'big_bogus_4.cdb');
  await expect(bogus.view.locator('g[data-axis="Integer_0"]')).toBeVisible();
  await expect(bogus.view.getByTestId('dsi-selection-count')).toContainText('10,000');
  await brushAxis(page, bogus.view, 'Float_1', 0.1, 0.5);
  const bogusFilter = (await bogus.view.getByTestId('dsi-filter').textContent())!;
  expect(dsiJson<unknown[]>('select', '--db', bogus.db, '--where', bogusFilter)).toHaveLength(await count(bogus.view));
});

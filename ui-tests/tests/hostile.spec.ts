/**
 * Hostile text in a real JupyterLab (issue 7): parameter names and sim ids that are HTML,
 * SQL and template syntax are drawn as text, never as elements, never executed; brushing the
 * axis named `<img onerror=...>` gives a filter string the CLI reads back to the same rows; a
 * dataset named with markup is listed as text.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dsiJson, REPO, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

const IMG = '<img src=x onerror="window.__pwned=1">';
const SQL = "'; DROP TABLE jdsi_dataset; --";
const SCRIPT_ID = '<script>window.__pwned=2</script>';
const JUPYTER = path.join(REPO, '.venv', 'bin', 'jupyter');

/** A 12-simulation ensemble whose names are hostile, ingested and post-processed by the CLI. */
function hostileDatabase(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-hostile-'));
  const ens = path.join(dir, 'ens');
  execFileSync(JUPYTER, ['dsi', 'sample', ens, '--sims', '12', '--steps', '3', '--quiet']);
  const csv = path.join(ens, 'simulations.csv');
  const quote = (cell: string) => (/[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  const lines = fs.readFileSync(csv, 'utf-8').trim().split('\n').map(l => l.split(','));
  lines[0] = lines[0].map(h => (h === 'mrg' ? IMG : h === 'profile' ? SQL : h));
  lines[4][0] = SCRIPT_ID;
  lines[5][0] = '{x} $x \u202eevil';
  fs.writeFileSync(csv, lines.map(l => l.map(quote).join(',')).join('\n') + '\n');
  const db = path.join(dir, 'hostile.sqlite');
  execFileSync(JUPYTER, ['dsi', 'ingest', ens, '--db', db, '--quiet']);
  execFileSync(JUPYTER, ['dsi', 'postprocess', '--db', db, '--ground-truth', 'sim00000', '--norm', 'L2', '--quiet']);
  return db;
}

test('hostile names and ids are text: drawn, brushed, filtered and saved without running', async ({ page, tmpPath }) => {
  await page.contents.uploadFile(hostileDatabase(), `${tmpPath}/hostile.sqlite`);
  const file = path.join(await serverRoot(page), tmpPath, 'hostile.sqlite');
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/hostile.sqlite`);
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();

  // The axes carry the names as text.
  const axes = await view.locator('g[data-axis]').evaluateAll(gs => gs.map(g => g.getAttribute('data-axis')));
  expect(axes).toEqual(expect.arrayContaining([IMG, SQL]));
  await expect(view.locator('.jp-DSI-parcoords')).toContainText(SQL);

  // Brush the axis named like an <img> tag: the filter string quotes the name, the CLI agrees.
  const hit = view.locator('g[data-axis]').nth(axes.indexOf(IMG)).locator('[data-role="hit"]');
  await hit.scrollIntoViewIfNeeded();
  const box = (await hit.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.02);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.6, { steps: 8 });
  await page.mouse.up();
  const filter = view.getByTestId('dsi-filter');
  await expect(filter).toContainText('`<img src=x onerror="window.__pwned=1">`');
  const text = (await filter.textContent())!;
  const count = Number(((await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '').replace(/,/g, ''));
  const [method] = dsiJson<{ id: string }[]>('methods', '--db', file);
  const rows = dsiJson<{ sim_id: string }[]>('select', '--db', file, '--method', method.id, '--time', '2', '--where', text);
  expect(rows.length).toBe(count);
  expect(count).toBeGreaterThan(0);

  // Save with a hostile name and description: listed as text on the datasets page.
  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  await form.getByTestId('dsi-save-description').fill(`${SCRIPT_ID} ${SQL} {x} $x`);
  await form.getByLabel('Dataset name').fill(IMG);
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.jp-MainAreaWidget').getByTestId('dsi-saved')).toContainText('Saved');
  await page.locator('.jp-MainAreaWidget .jp-DSI-tab', { hasText: 'Datasets' }).click();
  await expect(page.locator('.jp-MainAreaWidget .jp-DSI-datasets')).toContainText(IMG);
  const [saved] = dsiJson<{ name: string; description: string }[]>('datasets', '--db', file);
  expect(saved.name).toBe(IMG);
  expect(saved.description).toBe(`${SCRIPT_ID} ${SQL} {x} $x`);

  // Nothing ran and nothing was injected anywhere in the page.
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(await page.locator('script:text("__pwned")').count()).toBe(0);
  expect(dsiJson<unknown[]>('select', '--db', file, '--method', method.id, '--time', '0').length).toBe(12);
});

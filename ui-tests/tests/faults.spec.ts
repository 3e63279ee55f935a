/**
 * Faults in the browser (issue 7): the tab is reloaded while a save is on its way to the server.
 * Afterwards the file holds the dataset once or not at all, never half of it, and passes
 * `jupyter dsi verify` and SQLite's integrity check.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as path from 'path';

import { brushAxis, dsiJson, openSampleDocument, REPO } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

test('reloading the tab mid-save leaves the dataset whole or absent, and the file sound', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'faults.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  await brushAxis(page, view, 'd_density');
  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  await form.getByTestId('dsi-save-description').fill('saved while the tab goes away');

  // Hold the request until the page is gone, then let it through to the server.
  let release: () => void = () => undefined;
  const held = new Promise<void>(resolve => (release = resolve));
  let reached = false;
  await page.route(
    url => url.pathname.endsWith('/jupyterlab-dsi/datasets'),
    async route => {
      reached = true;
      await held;
      await route.continue().catch(() => undefined); // the page may be gone: that is the point
    },
    { times: 1 }
  );
  await form.getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => reached).toBe(true);
  const reload = page.reload({ waitForIsReady: false });
  release();
  await reload;
  await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });

  const datasets = dsiJson<{ size: number; description: string }[]>('datasets', '--db', file);
  expect(datasets.length).toBeLessThanOrEqual(1);
  for (const d of datasets) {
    expect(d.description).toBe('saved while the tab goes away');
  }
  // verify recomputes every dataset from its stored selection; it exits non-zero on a difference.
  execFileSync(path.join(REPO, '.venv', 'bin', 'jupyter'), ['dsi', 'verify', '--db', file]);
  const integrity = execFileSync(
    path.join(REPO, '.venv', 'bin', 'python'),
    ['-c', 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])', file],
    { encoding: 'utf-8' }
  ).trim();
  expect(integrity).toBe('ok');
});

/**
 * Faults in the browser (issue 7): the tab is reloaded while a save is on its way to the server,
 * before the server's answer comes back. The request is let through to the server before the
 * reload, so the server has the whole save: afterwards the file holds the dataset exactly once,
 * with every selected member, and passes `jupyter dsi verify` and SQLite's integrity check.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Route } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

import { brushAxis, dsiJson, openSampleDocument, REPO } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

test('reloading the tab before a save is acknowledged leaves the dataset saved once and whole, and the file sound', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'faults.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  await brushAxis(page, view, 'd_density');
  const count = Number(
    ((await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '').replace(/,/g, '')
  );
  expect(count).toBeGreaterThan(0);
  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  await form.getByTestId('dsi-save-description').fill('saved while the tab goes away');

  // Hold the request at the browser until the test lets it through to the server; then reload
  // at once, before the server's answer can reach the page. An error letting it through (the
  // request was never sent) fails the test: a save that never left would prove nothing.
  // Only the save (a POST) is held: the panel's listings of datasets go through.
  let route: Route | null = null;
  const datasetsUrl = (url: URL): boolean => url.pathname.endsWith('/jupyterlab-dsi/datasets');
  await page.route(
    datasetsUrl,
    async held => {
      if (route !== null || held.request().method() !== 'POST') {
        await held.continue();
        return;
      }
      route = held;
    }
  );
  await form.getByRole('button', { name: 'Save' }).click();
  await expect.poll(() => route !== null).toBe(true);
  await route!.continue();
  await page.unroute(datasetsUrl);
  await page.reload({ waitForIsReady: false });
  await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });

  // The server got the whole request: the dataset is there once (polled: the server may still be
  // writing it when the new page is up), with every member the panel had selected.
  const saved = () => dsiJson<{ size: number; description: string }[]>('datasets', '--db', file);
  await expect.poll(() => saved().length, { timeout: 30000 }).toBe(1);
  const datasets = saved();
  expect(datasets).toHaveLength(1);
  expect(datasets[0].description).toBe('saved while the tab goes away');
  expect(datasets[0].size).toBe(count);
  // verify recomputes every dataset from its stored selection; it exits non-zero on a difference.
  execFileSync(path.join(REPO, '.venv', 'bin', 'jupyter'), ['dsi', 'verify', '--db', file]);
  const integrity = execFileSync(
    path.join(REPO, '.venv', 'bin', 'python'),
    ['-c', 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])', file],
    { encoding: 'utf-8' }
  ).trim();
  expect(integrity).toBe('ok');
});

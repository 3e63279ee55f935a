/**
 * Size (issue 7): a database of over a million distance rows and one of about 300 MB either load
 * into the panel or are refused, before download, with a message naming the limit and the
 * setting. Files are written straight into the server's root (an upload would double them).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { REPO, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });
test.setTimeout(300000);

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

/** The sample with `extra` copies of its first method's distances: 40,000 rows each. */
function grow(target: string, extra: number): number {
  fs.copyFileSync(SAMPLE_DB, target);
  const script = `
import sqlite3, sys, uuid
db, extra = sys.argv[1], int(sys.argv[2])
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
first, gt = conn.execute("SELECT id, ground_truth_id FROM jdsi_method ORDER BY created_at LIMIT 1").fetchone()
for i in range(extra):
    new = str(uuid.uuid4())
    conn.execute("INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description, code_version, created_at)"
                 " SELECT ?, ground_truth_id, norm, gt_time, ?, code_version, created_at FROM jdsi_method WHERE id = ?",
                 (new, f"copy {i}", first))
    conn.execute("INSERT INTO jdsi_distance SELECT ?, t, sim_id, d_shock, d_edge, d_density FROM jdsi_distance"
                 " WHERE method_id = ?", (new, first))
conn.execute("COMMIT")
print(conn.execute("SELECT count(*) FROM jdsi_distance").fetchone()[0])
`;
  return Number(execFileSync(PYTHON, ['-c', script, target, String(extra)], { encoding: 'utf-8' }).trim());
}

/**
 * What the tab took in, through Chromium's DevTools protocol (not `performance.memory`, which a
 * browser may lack, and which leaves out ArrayBuffers: a check that reads 0 then can never fail):
 * the body bytes of the panel's requests for the database `name`, and the page's JS heap plus
 * ArrayBuffer backing stores (where a read body would sit). Made before a reload: the session
 * lives on across it, and JupyterLab's restored tabs fetch their files while the page loads.
 */
async function watch(
  page: IJupyterLabPageFixture,
  name: string
): Promise<{ requests: () => number; bodyBytes: () => number; heapBytes: () => Promise<number> }> {
  // Galata's fixture is a proxy over JupyterLabPage; CDP wants the Playwright Page it wraps.
  const playwrightPage = (page as unknown as { page: Page }).page;
  const cdp = await playwrightPage.context().newCDPSession(playwrightPage);
  const ids = new Set<string>();
  let bytes = 0;
  cdp.on('Network.requestWillBeSent', event => {
    const url = new URL(event.request.url);
    if (url.pathname.endsWith('/jupyterlab-dsi/db') && url.searchParams.get('path')?.endsWith(name)) {
      ids.add(event.requestId);
    }
  });
  cdp.on('Network.dataReceived', event => {
    if (ids.has(event.requestId)) {
      bytes += event.dataLength;
    }
  });
  await cdp.send('Network.enable');
  return {
    requests: () => ids.size,
    bodyBytes: () => bytes,
    heapBytes: async () => {
      const usage = await cdp.send('Runtime.getHeapUsage');
      // Both fields must be there: a missing one would make the difference 0 and the check moot.
      expect(typeof usage.usedSize).toBe('number');
      expect(typeof usage.backingStorageSize).toBe('number');
      return usage.usedSize + usage.backingStorageSize;
    }
  };
}

async function open(page: any, relative: string): Promise<void> {
  await page.evaluate(async (p: string) => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, relative);
}

test('a million rows load; 300 MB load under the limit and are refused above it, before download', async ({ page, tmpPath }) => {
  const root = path.join(await serverRoot(page), tmpPath);
  fs.mkdirSync(root, { recursive: true });

  const million = path.join(root, 'million.sqlite');
  const rows = grow(million, 23);
  expect(rows).toBeGreaterThanOrEqual(1_000_000);
  await open(page, `${tmpPath}/million.sqlite`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last();
  await expect(panel.getByTestId('dsi-methods')).toContainText('26', { timeout: 120000 });
  await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible();

  const big = path.join(root, 'big.sqlite');
  grow(big, 110);
  const megabytes = fs.statSync(big).size / 1048576;
  expect(megabytes).toBeGreaterThan(250);

  // Above the setting: refused from the Content-Length, with the way out.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.serviceManager.settings.save('jupyterlab-dsi:plugin', JSON.stringify({ maxDatabaseMB: 200 }));
  });
  const refusedTab = await watch(page, 'big.sqlite');
  await page.reload({ waitForIsReady: false });
  await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
  const heapBefore = await refusedTab.heapBytes();
  await open(page, `${tmpPath}/big.sqlite`);
  const refused = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer .jp-DSI-error').last();
  await expect(refused).toContainText(/big\.sqlite is \d+ MB, above the 200 MB limit \(Settings → DSI Explorer → maxDatabaseMB\)/, {
    timeout: 60000
  });
  const heapAfter = await refusedTab.heapBytes();
  // The body was never read: the request went out, a few MB of buffers at most came in, and
  // the heap did not grow by the file.
  test.info().annotations.push({
    type: 'refused',
    description: `${refusedTab.requests()} request(s), ${refusedTab.bodyBytes()} body bytes, heap ${((heapAfter - heapBefore) / 1048576).toFixed(1)} MB`
  });
  expect(refusedTab.requests()).toBeGreaterThanOrEqual(1);
  expect(refusedTab.bodyBytes()).toBeLessThan(50 * 1048576);
  expect(heapAfter - heapBefore).toBeLessThan(100 * 1048576);

  // Under the default limit (512 MB) the same file loads.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.serviceManager.settings.save('jupyterlab-dsi:plugin', JSON.stringify({}));
  });
  const loadedTab = await watch(page, 'big.sqlite');
  await page.reload({ waitForIsReady: false });
  await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
  await open(page, `${tmpPath}/big.sqlite`);
  const loaded = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last();
  await expect(loaded.getByTestId('dsi-methods')).toContainText('113', { timeout: 180000 });
  // The same count sees the whole body when it is read: the check above measures something.
  expect(loadedTab.bodyBytes()).toBeGreaterThanOrEqual(fs.statSync(big).size);
});

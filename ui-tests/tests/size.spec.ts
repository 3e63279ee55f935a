/**
 * Size (issues 7 and 18): maxDatabaseMB bounds what the panel holds — the server's replica (the
 * file without its distance rows) plus the distances of the methods on screen — not the file.
 * A file many times the limit opens, taking in about the replica and one method's frame; under
 * a limit that holds one method at a time, the panel drops the method it left for the one it
 * shows; a replica above the limit is refused before it is built, with the line naming the
 * setting. Files are written straight into the server's root (an upload would double them).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { REPO, SAMPLE_DB, serverRoot, watchFetches, type IFetched } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });
test.setTimeout(420000);

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');
const MB = 1048576;
/** Simulations added to the sample's 1,000: metadata enough for a replica above 1 MB. */
const EXTRA_SIMS = 3000;
/** Copies of the sample's first method (40,000 distance rows each): a file of ~150 MB. */
const EXTRA_METHODS = 45;

/**
 * The sample grown: `sims` more simulations (copies of the first 1,000's parameters and per-step
 * metrics under new ids) and `methods` copies of its first method's distances. Answers the
 * simulation and method counts and the steps of a method.
 */
function grow(target: string, sims: number, methods: number): { simulations: number; methods: number; steps: number } {
  fs.copyFileSync(SAMPLE_DB, target);
  const script = `
import json, sqlite3, sys, uuid
db, sims, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
copies = -(-sims // 1000)
for k in range(copies):
    n = min(1000, sims - 1000 * k)
    ids = [r[0] for r in conn.execute("SELECT sim_id FROM jdsi_simulation WHERE sim_id NOT LIKE '%-x%' ORDER BY sim_id LIMIT ?", (n,))]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS pick (sim_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM pick")
    conn.executemany("INSERT INTO pick VALUES (?)", [(i,) for i in ids])
    suffix = f"-x{k}"
    conn.execute("INSERT INTO jdsi_simulation (sim_id, path, sha256, times, source_id) SELECT sim_id || ?, path, sha256, times, source_id"
                 " FROM jdsi_simulation WHERE sim_id IN (SELECT sim_id FROM pick)", (suffix,))
    conn.execute("INSERT INTO jdsi_param_value (sim_id, name, value) SELECT sim_id || ?, name, value"
                 " FROM jdsi_param_value WHERE sim_id IN (SELECT sim_id FROM pick)", (suffix,))
    conn.execute("INSERT INTO jdsi_metric_value (name, t, sim_id, value) SELECT name, t, sim_id || ?, value"
                 " FROM jdsi_metric_value WHERE sim_id IN (SELECT sim_id FROM pick)", (suffix,))
first = conn.execute("SELECT id FROM jdsi_method ORDER BY created_at LIMIT 1").fetchone()[0]
for i in range(extra):
    new = str(uuid.uuid4())
    conn.execute("INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description, code_version, created_at)"
                 " SELECT ?, ground_truth_id, norm, gt_time, ?, code_version, created_at FROM jdsi_method WHERE id = ?",
                 (new, f"copy {i}", first))
    conn.execute("INSERT INTO jdsi_distance SELECT ?, t, sim_id, d_shock, d_edge, d_density FROM jdsi_distance"
                 " WHERE method_id = ?", (new, first))
conn.execute("COMMIT")
print(json.dumps({
    "simulations": conn.execute("SELECT count(*) FROM jdsi_simulation").fetchone()[0],
    "methods": conn.execute("SELECT count(*) FROM jdsi_method").fetchone()[0],
    "steps": conn.execute("SELECT count(DISTINCT t) FROM jdsi_distance WHERE method_id = ?", (first,)).fetchone()[0],
}))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, target, String(sims), String(methods)], { encoding: 'utf-8' }));
}

async function setLimit(page: IJupyterLabPageFixture, megabytes: number | null): Promise<void> {
  await page.evaluate(async mb => {
    await (window as any).jupyterapp.serviceManager.settings.save('jupyterlab-dsi:plugin', JSON.stringify(mb === null ? {} : { maxDatabaseMB: mb }));
  }, megabytes);
  await page.reload({ waitForIsReady: false });
  await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
}

/** Open `relative` with "Open With → DSI Explorer"; answers the milliseconds until `ready` shows. */
async function open(page: IJupyterLabPageFixture, relative: string, ready: (panel: Locator) => Locator): Promise<number> {
  const start = Date.now();
  await page.evaluate(async (p: string) => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, relative);
  await expect(ready(page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last())).toBeVisible({ timeout: 120000 });
  return Date.now() - start;
}

const sum = (list: IFetched[]) => list.reduce((a, r) => a + r.bytes, 0);

test('a file many times maxDatabaseMB opens with its replica and the methods shown; a replica above it is refused', async ({ page, tmpPath }) => {
  const root = path.join(await serverRoot(page), tmpPath);
  fs.mkdirSync(root, { recursive: true });
  const big = path.join(root, 'big.sqlite');
  const counts = grow(big, EXTRA_SIMS, EXTRA_METHODS);
  const fileBytes = fs.statSync(big).size;
  expect(counts.simulations).toBe(1000 + EXTRA_SIMS);
  expect(counts.methods).toBe(3 + EXTRA_METHODS);
  expect(fileBytes).toBeGreaterThan(120 * MB);
  // The worker's distances of one method: one float32 per simulation, step and distance column.
  const cubeBytes = counts.simulations * counts.steps * 3 * 4;

  // 1. A limit far below the file: it opens, taking in the replica and the shown method's frame.
  const limit = 16;
  expect(fileBytes).toBeGreaterThan(6 * limit * MB);
  let fetched = await watchFetches(page, 'big.sqlite');
  await setLimit(page, limit);
  const openMs = await open(page, `${tmpPath}/big.sqlite`, p => p.locator('g[data-axis="d_density"]'));
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last();
  await expect(panel.getByTestId('dsi-methods')).toContainText(String(counts.methods));
  await expect(panel.getByTestId('dsi-simulations')).toContainText('4,000');
  const db = fetched().filter(r => r.kind === 'db');
  const frames = fetched().filter(r => r.kind === 'distances');
  expect(db.map(r => [r.status, r.maxBytes])).toEqual([[200, limit * MB]]);
  expect(frames).toHaveLength(1); // the newest method, shown; no other
  expect(frames[0].status).toBe(200);
  const replicaBytes = db[0].bytes;
  const frameBytes = frames[0].bytes;
  expect(replicaBytes).toBeGreaterThan(1 * MB); // the metadata came (an empty answer would pass what follows)
  expect(replicaBytes + frameBytes).toBeLessThan(limit * MB);
  expect(replicaBytes + frameBytes).toBeLessThan(fileBytes / 20);

  // Another method: its frame alone comes; the view shows it.
  const view = panel.locator('.jp-DSI-explorerView');
  const select = view.locator('select[aria-label="Method"]');
  const options = await select.locator('option').evaluateAll(o => o.map(e => (e as HTMLOptionElement).value));
  expect(options.length).toBe(counts.methods);
  const switchStart = Date.now();
  await select.selectOption(options[1]);
  await expect.poll(() => fetched().filter(r => r.kind === 'distances').length).toBe(2);
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const switchMs = Date.now() - switchStart;

  // A catch-up (what a save or another writer brings) reads the replica again, never a frame.
  const catchUpMs = await page.evaluate(async () => {
    const panel = (window as any).jupyterapp.shell.currentWidget?.content;
    if (typeof panel?.refresh !== 'function') {
      throw new Error('the current widget is not a DSI Explorer document');
    }
    const start = performance.now();
    await panel.refresh();
    return performance.now() - start;
  });
  expect(fetched().filter(r => r.kind === 'db')).toHaveLength(2);
  expect(fetched().filter(r => r.kind === 'distances')).toHaveLength(2);
  test.info().annotations.push({
    type: 'limit far below the file',
    description:
      `file ${(fileBytes / MB).toFixed(0)} MB, ${counts.methods} methods, ${counts.simulations} simulations; limit ${limit} MB; ` +
      `replica ${(replicaBytes / MB).toFixed(2)} MB + frame ${(frameBytes / MB).toFixed(2)} MB; open ${openMs} ms, ` +
      `method switch ${switchMs} ms, catch-up ${catchUpMs.toFixed(0)} ms`
  });

  // 2. A limit that holds the replica and one method: the method left is dropped for the one shown,
  // and fetched again when shown again.
  const tight = (replicaBytes + 1.5 * cubeBytes) / MB;
  fetched = await watchFetches(page, 'big.sqlite');
  await setLimit(page, tight);
  await open(page, `${tmpPath}/big.sqlite`, p => p.locator('g[data-axis="d_density"]'));
  const tightView = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').last().locator('.jp-DSI-explorerView');
  const tightSelect = tightView.locator('select[aria-label="Method"]');
  const first = await tightSelect.inputValue();
  const other = options.find(o => o !== first)!;
  for (const method of [other, first]) {
    await tightSelect.selectOption(method);
    await expect(tightSelect).toHaveValue(method);
    await expect(tightView.locator('g[data-axis="d_density"]')).toBeVisible();
  }
  await expect.poll(() => fetched().filter(r => r.kind === 'distances').map(r => [r.method, r.status])).toEqual([
    [first, 200],
    [other, 200],
    [first, 200] // dropped for `other`: fetched again
  ]);
  await expect(page.locator('.jp-MainAreaWidget .jp-DSI-Explorer .jp-DSI-error')).toHaveCount(0);

  // 3. A replica above the limit: refused by the server before it builds one, with the line.
  fetched = await watchFetches(page, 'big.sqlite');
  await setLimit(page, 1);
  await open(page, `${tmpPath}/big.sqlite`, p => p.locator('.jp-DSI-error'));
  const refused = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer .jp-DSI-error').last();
  await expect(refused).toContainText(
    /big\.sqlite: the panel's copy would be \d+ MB, above the 1 MB limit \(Settings → DSI Explorer → maxDatabaseMB\)\./
  );
  expect(fetched().map(r => [r.kind, r.status])).toEqual([['db', 413]]);
  expect(sum(fetched())).toBeLessThan(4096); // the one line, no replica

  await setLimit(page, null);
});

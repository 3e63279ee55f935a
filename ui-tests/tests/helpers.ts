/**
 * What the Galata tests compare the panel against: the same database read by the CLI.
 */
import { expect, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..');
export const SAMPLE_DB = path.join(REPO, 'examples', 'data', 'sample.sqlite');
export const JUPYTER = path.join(REPO, '.venv', 'bin', 'jupyter');

/** shared/realdata (files other projects wrote), found as tests/conftest.py finds it. */
export const REALDATA = [process.env.DSI_REALDATA, path.join(REPO, '..', 'shared', 'realdata')]
  .filter((p): p is string => !!p)
  .find(p => fs.existsSync(p));

/** `jupyter dsi ARGS --format json`, parsed. */
export function dsiJson<T = any>(...args: string[]): T {
  const out = execFileSync(JUPYTER, ['dsi', ...args, '--format', 'json'], {
    encoding: 'utf-8',
    maxBuffer: 256 * 1024 * 1024
  });
  return JSON.parse(out);
}

export interface IExpected {
  simulations: number;
  timeSteps: number;
  methods: { id: string; ground_truth: string; norm: string; description: string }[];
}

/** Counts of the sample database as the CLI sees them. */
export function expectedCounts(db = SAMPLE_DB): IExpected {
  const methods = dsiJson<IExpected['methods']>('methods', '--db', db);
  const rows = dsiJson<{ sim_id: string; t: number }[]>('select', '--db', db, '--method', methods[0].id);
  return {
    simulations: new Set(rows.map(r => r.sim_id)).size,
    timeSteps: new Set(rows.map(r => r.t)).size,
    methods
  };
}

export function formatCount(n: number): string {
  return new Intl.NumberFormat('en-US').format(n);
}

/** The server's root directory, absolute, as JupyterLab's page config says. */
export async function serverRoot(page: IJupyterLabPageFixture): Promise<string> {
  const config = await page.evaluate(() => document.getElementById('jupyter-config-data')!.textContent!);
  return JSON.parse(config).serverRoot;
}

/**
 * Upload the sample database as `tmpPath/name` and open it with "Open With → DSI Explorer";
 * answers the file's absolute path, for the CLI.
 */
export async function openSampleDocument(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<string> {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/${name}`);
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/${name}`);
  return path.join(await serverRoot(page), tmpPath, name);
}

/** A screenshot kept in ui-tests/screenshots/ (the README's images are picked from there). */
export async function keepScreenshot(target: { screenshot(): Promise<Buffer> }, name: string): Promise<Buffer> {
  const shot = await target.screenshot();
  fs.mkdirSync(path.join(__dirname, '..', 'screenshots'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, '..', 'screenshots', name), shot);
  return shot;
}

/** Drag down an axis of the explorer `view` from `from` to `to` (fractions of its height). */
export async function brushAxis(
  page: IJupyterLabPageFixture,
  view: Locator,
  axis: string,
  from = 0.4,
  to = 0.9
): Promise<void> {
  const hit = view.locator(`g[data-axis="${axis}"] [data-role="hit"]`);
  // The axes are redrawn (a step change, a catch-up) between finding one and measuring it: find
  // it again until it holds still, rather than failing on a node the redraw replaced.
  const measured: { box: { x: number; y: number; width: number; height: number } | null } = { box: null };
  await expect(async () => {
    await hit.scrollIntoViewIfNeeded({ timeout: 2000 });
    measured.box = await hit.boundingBox({ timeout: 2000 });
    expect(measured.box).not.toBeNull();
  }).toPass({ timeout: 20000 });
  const box = measured.box!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * from);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * to, { steps: 8 });
  await page.mouse.up();
}

/**
 * Moves the pointer over the scatter until its tooltip names a run (waiting briefly for the
 * tooltip at each place, not a fixed sleep); clicks there if asked. Answers the run's id (the
 * tooltip's first line).
 */
export async function markAPoint(page: IJupyterLabPageFixture | Page, view: Locator, click = false): Promise<string> {
  const svg = view.locator('.jp-dsi-Scatter-svg');
  await svg.scrollIntoViewIfNeeded(); // below the parallel coordinates in the sidebar
  const box = (await svg.boundingBox())!;
  const tooltip = view.locator('.jp-dsi-Scatter-tooltip');
  for (const fy of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
    for (const fx of [0.3, 0.4, 0.5, 0.6, 0.2, 0.7, 0.8]) {
      const x = box.x + box.width * fx;
      const y = box.y + box.height * fy;
      await page.mouse.move(x, y);
      await tooltip.waitFor({ state: 'visible', timeout: 300 }).catch(() => null);
      if (await tooltip.isVisible()) {
        const id = ((await tooltip.textContent()) ?? '').split('\n')[0];
        if (click) {
          await page.mouse.click(x, y);
        }
        return id;
      }
    }
  }
  throw new Error('no scatter point found under the pointer');
}

/** markAPoint, then a click there: the run's field view opens. */
export function clickAPoint(page: IJupyterLabPageFixture | Page, view: Locator): Promise<string> {
  return markAPoint(page, view, true);
}

/** One GET db (the replica, or the whole file before issue 18) or GET distances (a method's frame). */
export interface IFetched {
  kind: 'db' | 'distances';
  method: string | null;
  /** The request's max_bytes, if it sent one. */
  maxBytes: number | null;
  status: number;
  /** Whether the answer says it is the replica (X-DSI-Replica: 1). */
  replica: boolean;
  /** Body bytes read. */
  bytes: number;
}

/**
 * The tab's GET db and GET distances for the database `name` and their body bytes, through
 * Chromium's DevTools protocol, which sees every byte read whatever the page does with it.
 * Made before a reload: the session lives on across it.
 */
export async function watchFetches(page: IJupyterLabPageFixture, name: string): Promise<() => IFetched[]> {
  // Galata's fixture is a proxy over JupyterLabPage; CDP wants the Playwright Page it wraps.
  const playwrightPage = (page as unknown as { page: Page }).page;
  const cdp = await playwrightPage.context().newCDPSession(playwrightPage);
  const requests = new Map<string, IFetched>();
  cdp.on('Network.requestWillBeSent', event => {
    const url = new URL(event.request.url);
    if (!url.searchParams.get('path')?.endsWith(name) || event.request.method !== 'GET') {
      return;
    }
    const kind = url.pathname.endsWith('/jupyterlab-dsi/db') ? 'db' : url.pathname.endsWith('/jupyterlab-dsi/distances') ? 'distances' : null;
    if (kind) {
      const max = url.searchParams.get('max_bytes');
      requests.set(event.requestId, {
        kind,
        method: url.searchParams.get('method'),
        maxBytes: max === null ? null : Number(max),
        status: 0,
        replica: false,
        bytes: 0
      });
    }
  });
  cdp.on('Network.responseReceived', event => {
    const entry = requests.get(event.requestId);
    if (entry) {
      entry.status = event.response.status;
      const headers = Object.fromEntries(Object.entries(event.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      entry.replica = headers['x-dsi-replica'] === '1';
    }
  });
  cdp.on('Network.dataReceived', event => {
    const entry = requests.get(event.requestId);
    if (entry) {
      entry.bytes += event.dataLength;
    }
  });
  await cdp.send('Network.enable');
  return () => [...requests.values()];
}

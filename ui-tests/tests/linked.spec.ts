/**
 * The linked explorer in a real JupyterLab: brush an axis, lasso in the scatter, change the
 * method, the time step, the weights and the color, and after each step check the panel's
 * count and filter string against `jupyter dsi select --where` on the same database.
 * In the light and the dark theme, both views paint every selected run in its level's color,
 * counted in their canvases' pixels; screenshots are kept in ui-tests/screenshots/.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import * as fs from 'fs';

import { dsiJson, formatCount, keepScreenshot, SAMPLE_DB } from './helpers';

async function openExplorer(page: IJupyterLabPageFixture, tmpPath: string): Promise<Locator> {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/sample.sqlite`);
  await page.evaluate(
    async path => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path, factory: 'DSI Explorer' });
    },
    `${tmpPath}/sample.sqlite`
  );
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  return view;
}

/**
 * The panel's state as the CLI needs it, and its count, read in one go. It reads what is shown
 * now: poll it (expect.poll) where a new slice may still be on its way from the worker.
 */
async function panelState(view: Locator) {
  return view.evaluate((root, drawn) => {
    const value = (selector: string) => (root.querySelector(selector) as HTMLInputElement).value;
    const count = Number((root.querySelector('[data-testid="dsi-selection-count"] strong')?.textContent ?? '').replace(/,/g, ''));
    const filter = root.querySelector('[data-testid="dsi-filter"]')?.textContent ?? '';
    return {
      count,
      filter: filter.startsWith('(everything') ? '' : filter,
      method: value('select[aria-label="Method"]'),
      t: value('input[aria-label="Time step"]'),
      shock: value('input[aria-label="d_shock weight value"]'),
      edge: value('input[aria-label="d_edge weight value"]')
    };
  });
}

/** What `jupyter dsi select --where FILTER` finds for the panel's method, step and weights. */
function cliCount(state: Awaited<ReturnType<typeof panelState>>): number {
  const args = ['select', '--db', SAMPLE_DB, '--method', state.method, '--time', state.t, '--weights', state.shock, state.edge];
  if (state.filter) {
    args.push('--where', state.filter);
  }
  return dsiJson<unknown[]>(...args).length;
}

/**
 * The panel's count equals the CLI's for the panel's own filter string. Polled, because a new
 * slice may still be on its way from the worker; a real disagreement still fails at the timeout.
 */
async function expectCliAgrees(view: Locator): Promise<void> {
  let last = { filter: '', panel: -1, cli: -2 };
  await expect
    .poll(
      async () => {
        const state = await panelState(view);
        last = { filter: state.filter, panel: state.count, cli: cliCount(state) };
        return last.panel === last.cli;
      },
      { timeout: 15000, message: `panel and CLI disagree: ${JSON.stringify(last)}` }
    )
    .toBe(true);
}

async function dragVertically(page: IJupyterLabPageFixture, target: Locator, from: number, to: number): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  const box = (await target.boundingBox())!;
  const x = box.x + box.width / 2;
  await page.mouse.move(x, box.y + box.height * from);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) {
    await page.mouse.move(x, box.y + box.height * (from + ((to - from) * i) / 8));
  }
  await page.mouse.up();
}

// Room for both views without scrolling, as a scientist would give them.
test.use({ viewport: { width: 1400, height: 1200 } });

test.describe('linked views', () => {
  test('brush, lasso, method, time, weights and color agree with the CLI', async ({ page, tmpPath }) => {
    const view = await openExplorer(page, tmpPath);
    const method0 = (await panelState(view)).method;
    const total = new Set(dsiJson<{ sim_id: string }[]>('select', '--db', SAMPLE_DB, '--method', method0, '--time', '0').map(r => r.sim_id)).size;
    await expect.poll(async () => (await panelState(view)).count).toBe(total);
    await expectCliAgrees(view);

    // Brush the lower half of d_density: fewer simulations, a `between` in the filter.
    await dragVertically(page, view.locator('g[data-axis="d_density"] [data-role="hit"]'), 0.45, 0.9);
    await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
    const brushed = await panelState(view);
    expect(brushed.count).toBeGreaterThan(0);
    expect(brushed.count).toBeLessThan(total);
    await expectCliAgrees(view);

    // A second range on a categorical axis: cs levels.
    await dragVertically(page, view.locator('g[data-axis="cs"] [data-role="hit"]'), 0.05, 0.45);
    await expect(view.getByTestId('dsi-filter')).toContainText('cs ');
    await expectCliAgrees(view);

    // Lasso in the scatter: a polygon over (d_feature, d_density).
    await view.getByRole('button', { name: /lasso/i }).click();
    const plot = view.locator('.jp-DSI-scatter svg').first();
    const box = (await plot.boundingBox())!;
    const cx = box.x + box.width * 0.5;
    const cy = box.y + box.height * 0.5;
    // Inside the plot area, clear of the axes' margins (the scatter is beside the lines now).
    await page.mouse.move(cx - box.width * 0.3, cy - box.height * 0.3);
    await page.mouse.down();
    for (const [fx, fy] of [[0.3, -0.3], [0.3, 0.3], [-0.3, 0.3], [-0.32, -0.28]]) {
      await page.mouse.move(cx + box.width * fx, cy + box.height * fy, { steps: 6 });
    }
    await page.mouse.up();
    await expect(view.getByTestId('dsi-filter')).toContainText('in polygon');
    await expectCliAgrees(view);

    // Another method, an earlier time step, other weights: the same selection, new counts.
    const method = view.locator('select[aria-label="Method"]');
    const options = await method.locator('option').evaluateAll(o => o.map(e => (e as HTMLOptionElement).value));
    await method.selectOption(options[1]);
    await expectCliAgrees(view);
    const slider = view.locator('input[aria-label="Time step"]');
    await slider.focus();
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press('ArrowLeft');
    }
    await expect(view.getByTestId('dsi-time')).toContainText('step 24 (0–39) · time 25');
    await expectCliAgrees(view);
    const edge = view.locator('input[aria-label="d_edge weight value"]');
    await edge.fill('2');
    await edge.press('Enter');
    await expect(edge).toHaveValue('2');
    await expectCliAgrees(view);

    // Color by another parameter: the legend follows, the selection does not change.
    const before = await panelState(view);
    await view.locator('select[aria-label="Color by"]').selectOption('mrg');
    await expect(view.locator('.jp-DSI-legendItem')).toHaveCount(3);
    await expect.poll(async () => (await panelState(view)).count).toBe(before.count);

    // The axis buttons work from the keyboard: hide an axis with Enter.
    await view.locator('g[data-axis="mrg"] [data-role="hide"]').focus();
    await page.keyboard.press('Enter');
    await expect(view.locator('g[data-axis="mrg"]')).toHaveCount(0);

    // Clear: everything again.
    await view.getByRole('button', { name: 'Clear' }).click();
    await expect(view.getByTestId('dsi-filter')).toContainText('everything');
    await expect.poll(async () => (await panelState(view)).count).toBe(total);
  });

  test('the sidebar opens the same view and selection in the main area', async ({ page, tmpPath }) => {
    await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/side.sqlite`);
    await page.evaluate(async path => {
      await (window as any).jupyterapp.commands.execute('dsi:open', { path });
    }, `${tmpPath}/side.sqlite`);
    const sidebar = page.locator('#jp-dsi-explorer');
    await expect(sidebar.locator('g[data-axis="d_density"]')).toBeVisible();
    await dragVertically(page, sidebar.locator('g[data-axis="d_density"] [data-role="hit"]'), 0.4, 0.8);
    await expect(sidebar.getByTestId('dsi-filter')).toContainText('d_density between');
    const side = await panelState(sidebar);

    await sidebar.getByRole('button', { name: 'Open in main area' }).click();
    const main = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
    await expect(main.getByTestId('dsi-filter')).toHaveText(side.filter);
    await expect.poll(() => panelState(main)).toEqual(side);
  });

  test('exports the views as PNG and SVG, and the selection as a table and CSV', async ({ page, tmpPath }) => {
    const view = await openExplorer(page, tmpPath);
    await dragVertically(page, view.locator('g[data-axis="d_density"] [data-role="hit"]'), 0.5, 0.85);
    await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
    await expectCliAgrees(view);
    const state = await panelState(view);
    const bar = view.getByRole('group', { name: 'Export' });
    const fetch = async (label: string): Promise<{ name: string; bytes: Buffer }> => {
      const [download] = await Promise.all([page.waitForEvent('download'), bar.getByRole('button', { name: label, exact: true }).click()]);
      const file = await download.path();
      return { name: download.suggestedFilename(), bytes: fs.readFileSync(file!) };
    };

    // CSV: a header and one line per selected run, the runs the CLI selects.
    const csv = await fetch('CSV');
    expect(csv.name).toBe('sample-selection.csv');
    const lines = csv.bytes.toString('utf-8').trim().split('\r\n');
    expect(lines[0].split(',').slice(0, 2)).toEqual(['sim_id', 'cs']);
    expect(lines.length - 1).toBe(state.count);
    const ids = new Set(dsiJson<{ sim_id: string }[]>(
      'select', '--db', SAMPLE_DB, '--method', state.method, '--time', state.t, '--weights', state.shock, state.edge, '--where', state.filter
    ).map(r => r.sim_id));
    expect(new Set(lines.slice(1).map(l => l.split(',')[0]))).toEqual(ids);

    // SVG: both views, their axis titles as text, the lines and dots as images.
    const svg = await fetch('SVG');
    expect(svg.name).toBe('sample-views.svg');
    const text = svg.bytes.toString('utf-8');
    expect(text.startsWith('<svg')).toBe(true);
    expect(text).toContain('>d_density<');
    expect(text).toContain('>rho_gas<');
    expect((text.match(/<image /g) ?? []).length).toBe(3); // two line layers, the dots

    // PNG: an image at least as large as both views.
    const png = await fetch('PNG');
    expect(png.name).toBe('sample-views.png');
    expect(png.bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    const pcBox = (await view.getByTestId('dsi-parcoords').boundingBox())!;
    expect(png.bytes.readUInt32BE(16)).toBeGreaterThanOrEqual(pcBox.width);
    fs.mkdirSync(`${__dirname}/../screenshots`, { recursive: true });
    fs.writeFileSync(`${__dirname}/../screenshots/export-views.png`, png.bytes);

    // The table: the selected runs, in the panel.
    await bar.getByRole('button', { name: 'Table' }).click();
    const table = view.getByTestId('dsi-selection-table');
    await expect(table.locator('tbody tr')).toHaveCount(Math.min(state.count, 200));
    await expect(table).toContainText(`${formatCount(state.count)} selected runs`);
    const first = await table.locator('tbody tr td').first().textContent();
    expect(ids.has(first!)).toBe(true);
    await keepScreenshot(view, 'linked-table.png');
  });

  for (const theme of ['light', 'dark'] as const) {
    test(`the views in the ${theme} theme`, async ({ page, tmpPath }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      const view = await openExplorer(page, tmpPath);
      await dragVertically(page, view.locator('g[data-axis="d_density"] [data-role="hit"]'), 0.5, 0.85);
      await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
      await page.mouse.move(0, 0);
      await expectCliAgrees(view);
      // What the views must show: every selected run in its level's color (cs), in both views.
      // Compared by counts, not by a whole-view snapshot: the scatter's dots are under 1% of
      // the view's pixels, so an empty scatter passed a 2% snapshot tolerance.
      const state = await panelState(view);
      const rows = dsiJson<{ cs: number }[]>(
        'select', '--db', SAMPLE_DB, '--method', state.method, '--time', state.t, '--weights', state.shock, state.edge, '--where', state.filter
      );
      const perLevel = new Map<string, number>();
      rows.forEach(r => perLevel.set(String(r.cs), (perLevel.get(String(r.cs)) ?? 0) + 1));
      let painted: Awaited<ReturnType<typeof paintedByLevel>> | null = null;
      await expect
        .poll(
          async () => {
            painted = await paintedByLevel(view, rows.length);
            return Object.keys(painted.scatter).length > 0;
          },
          { timeout: 10000 }
        )
        .toBe(true);
      const seen = painted!;
      for (const [level, n] of perLevel) {
        // A dot is a square of a few pixels; overlaps hide some, never most.
        expect(seen.scatter[level] ?? 0, `scatter pixels of cs = ${level} (${n} runs)`).toBeGreaterThanOrEqual(n * 2);
        expect(seen.scatter[level] ?? 0).toBeLessThanOrEqual(n * seen.pointArea + 4);
        expect(seen.lines[level] ?? 0, `line pixels of cs = ${level} (${n} runs)`).toBeGreaterThan(n);
      }
      for (const level of Object.keys(seen.scatter)) {
        expect(perLevel.has(level), `cs = ${level} is painted but not selected`).toBe(true);
      }
      // Linked hover: over a dot, its run's line is marked in the parallel coordinates and the
      // tooltip lists the run's parameters.
      const dot = await view.locator('.jp-dsi-Scatter-canvas').evaluate(el => {
        const canvas = el as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        const box = canvas.getBoundingClientRect();
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] === 255) {
            const p = i / 4;
            return { x: box.left + ((p % canvas.width) + 1) * (box.width / canvas.width), y: box.top + (Math.floor(p / canvas.width) + 1) * (box.height / canvas.height) };
          }
        }
        return null;
      });
      expect(dot).not.toBeNull();
      await page.mouse.move(dot!.x, dot!.y);
      await expect(view.locator('.jp-dsi-Scatter-tooltip')).toContainText('cs: ');
      await expect(view.locator('.jp-dsi-Scatter-tooltip')).toContainText('rho_gas: ');
      await expect(view.locator('.jp-DSI-pc-hover')).toHaveAttribute('d', /^M.*L/);
      await keepScreenshot(view, `linked-hover-${theme}.png`);
      await page.mouse.move(0, 0);
      await expect(view.locator('.jp-DSI-pc-hover')).not.toHaveAttribute('d', /./);
    });
  }
});

/**
 * Pixels of each legend color (by level label) in the scatter's canvas and in the parallel
 * coordinates' selected-lines canvas; and a dot's area in device pixels.
 */
async function paintedByLevel(view: Locator, drawn: number): Promise<{ scatter: Record<string, number>; lines: Record<string, number>; pointArea: number }> {
  return view.evaluate((root, drawn) => {
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true })!;
    const rgb = (css: string): number[] => {
      probe.clearRect(0, 0, 1, 1);
      probe.fillStyle = css;
      probe.fillRect(0, 0, 1, 1);
      return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    };
    const legend = [...root.querySelectorAll('.jp-DSI-legendItem')].map(item => ({
      label: item.textContent!.trim(),
      color: rgb(getComputedStyle(item.querySelector('.jp-DSI-swatch')!).backgroundColor)
    }));
    const count = (canvas: HTMLCanvasElement, minAlpha: number, tolerance: number): Record<string, number> => {
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const out: Record<string, number> = {};
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < minAlpha) continue;
        for (const { label, color } of legend) {
          if (Math.abs(data[i] - color[0]) <= tolerance && Math.abs(data[i + 1] - color[1]) <= tolerance && Math.abs(data[i + 2] - color[2]) <= tolerance) {
            out[label] = (out[label] ?? 0) + 1;
            break;
          }
        }
      }
      return out;
    };
    const dpr = window.devicePixelRatio || 1;
    return {
      scatter: count(root.querySelector('.jp-dsi-Scatter-canvas') as HTMLCanvasElement, 250, 2),
      lines: count(root.querySelector('.jp-DSI-pc-selected') as HTMLCanvasElement, 40, 8),
      // The scatter's default square for this many dots (scatter.ts, defaultPointSize).
      pointArea: Math.ceil((drawn <= 50 ? 8 : drawn <= 500 ? 6 : drawn <= 5000 ? 4 : 3) * dpr) ** 2
    };
  }, drawn);
}

/**
 * The run behind a point (issue 17 §1) in a real JupyterLab: a click on a scatter point opens
 * the field view beside the views, with the run's density, the method's ground truth at the
 * matched step and |ρ_gt − ρ| over D+, each drawn (pixels counted in the canvases); the time
 * slider moves its step; the dark theme paints it in its own colors. Screenshots in both themes
 * go to ui-tests/screenshots/.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { clickAPoint, dsiJson, JUPYTER, keepScreenshot, markAPoint, openSampleDocument, REPO, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1600, height: 1000 } });

/** Pixels painted (alpha > 0) in each canvas of the field view. */
async function paintedPixels(field: Locator): Promise<number[]> {
  return field.evaluate(root =>
    [...root.querySelectorAll('canvas')].map(canvas => {
      const ctx = (canvas as HTMLCanvasElement).getContext('2d')!;
      const { data } = ctx.getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) {
        n += data[i] > 0 ? 1 : 0;
      }
      return n;
    })
  );
}

test('a click on a scatter point shows its field, the ground truth and |diff|, and follows the time slider', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'fields.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const field = view.getByTestId('dsi-field-view');
  await expect(field).toBeHidden();

  const sim = await clickAPoint(page, view);
  await expect(field).toBeVisible();
  const method = dsiJson<{ id: string; ground_truth: string }[]>('methods', '--db', file)[0];
  // The sample's step i was written at time i + 1; the panel opens at the last step.
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${sim} · step 39 (t = 40)`);
  await expect(field.getByTestId('dsi-field-run')).toBeVisible();
  await expect(field.getByTestId('dsi-field-gt')).toContainText(`ground truth ${method.ground_truth} · step 39 (t = 40)`);
  await expect(field.getByTestId('dsi-field-diff')).toContainText('on D+');
  // Each heatmap is drawn: most of its pixels painted (the diff's blank only outside D+).
  await expect.poll(async () => (await paintedPixels(field)).length).toBe(3);
  const painted = await paintedPixels(field);
  const sizes = await field.evaluate(root => [...root.querySelectorAll('canvas')].map(c => (c as HTMLCanvasElement).width * (c as HTMLCanvasElement).height));
  for (let i = 0; i < 2; i++) {
    expect(painted[i]).toBeGreaterThan(0.99 * sizes[i]); // the density is positive everywhere in the sample
  }
  expect(painted[2]).toBeGreaterThan(0);
  // Beside the views in the main area: to the right of the scatter, at the same height.
  const scatterBox = (await view.getByTestId('dsi-scatter').boundingBox())!;
  const fieldBox = (await field.boundingBox())!;
  expect(fieldBox.x).toBeGreaterThanOrEqual(scatterBox.x + scatterBox.width - 1);
  expect(Math.abs(fieldBox.y - scatterBox.y)).toBeLessThan(80);
  // The readout names the cell under the pointer in the grid's units.
  const canvas = field.locator('[data-testid="dsi-field-run"] canvas');
  const cbox = (await canvas.boundingBox())!;
  await page.mouse.move(cbox.x + cbox.width / 2, cbox.y + cbox.height / 2);
  await expect(field.getByTestId('dsi-field-readout')).toHaveText(/^z = -?[\d.]+, R = [\d.]+: ρ = [\d.]+$/);
  await keepScreenshot(field, 'fields-light.png');
  await keepScreenshot(view, 'fields-explorer-light.png');

  // The time slider moves the field view's step.
  const slider = view.locator('input[aria-label="Time step"]');
  await slider.focus();
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('ArrowLeft');
  }
  await expect(view.getByTestId('dsi-time')).toContainText('step 34 (0–39)');
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${sim} · step 34 (t = 35)`);
  await expect(field.getByTestId('dsi-field-gt')).toContainText('step 34 (t = 35)');

  // Dark theme: the same view in its colors (the frame and text follow the theme).
  await page.theme.setDarkTheme();
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${sim} · step 34 (t = 35)`);
  const colors = await field.evaluate(root => ({
    background: getComputedStyle(root).backgroundColor,
    text: getComputedStyle(root.querySelector('.jp-DSI-heatmapLabel')!).fill
  }));
  const luminance = (css: string) => {
    const [r, g, b] = css.match(/\d+(\.\d+)?/g)!.map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  expect(luminance(colors.background)).toBeLessThan(80);
  expect(luminance(colors.text)).toBeGreaterThan(120);
  expect((await paintedPixels(field))[0]).toBeGreaterThan(0);
  await keepScreenshot(field, 'fields-dark.png');
  await keepScreenshot(view, 'fields-explorer-dark.png');

  // Closed with its ×: the views take the width back.
  await field.getByRole('button', { name: 'Close the field view' }).click();
  await expect(field).toBeHidden();

  // From the keyboard: Enter on the scatter opens the point it marks (here, the one pointed at).
  await view.locator('.jp-dsi-Scatter').focus();
  const marked = await markAPoint(page, view);
  await page.keyboard.press('Enter');
  await expect(field).toBeVisible();
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${marked} · step 34 (t = 35)`);
});

test('a missing field file is one line in the view, the panel keeps working', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'fields-missing.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  // Every run's file is renamed away in this copy: whichever point is clicked, its file is gone.
  const python = path.join(REPO, '.venv', 'bin', 'python');
  execFileSync(python, ['-c', "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE jdsi_simulation SET path = 'sims/gone-' || sim_id || '.npz'\"); c.commit()", file]);
  const sim = await clickAPoint(page, view);
  const field = view.getByTestId('dsi-field-view');
  await expect(field.getByTestId('dsi-field-error')).toHaveText(`sims/gone-${sim}.npz: no such file`) // as the database names it;
  await expect(field.locator('canvas')).toHaveCount(0);
  await keepScreenshot(field, 'fields-error-light.png');
  // The views still answer.
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
});

test('in the sidebar the field view stacks below the views', async ({ page, tmpPath }) => {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/side.sqlite`);
  await page.waitForFunction(() => (window as any).jupyterapp.commands.hasCommand('dsi:open'));
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('dsi:open', { path: p });
  }, `${tmpPath}/side.sqlite`);
  const sidebar = page.locator('#jp-dsi-explorer');
  const view = sidebar.locator('.jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
  const sim = await clickAPoint(page, view);
  const field = view.getByTestId('dsi-field-view');
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${sim} · step 39 (t = 40)`);
  await expect.poll(async () => (await paintedPixels(field)).filter(n => n > 0).length).toBe(3);
  await field.scrollIntoViewIfNeeded();
  const scatterBox = (await view.getByTestId('dsi-scatter').boundingBox())!;
  const fieldBox = (await field.boundingBox())!;
  expect(fieldBox.y).toBeGreaterThanOrEqual(scatterBox.y + scatterBox.height - 1);
  expect(fieldBox.width).toBeGreaterThan(0.9 * scatterBox.width); // the sidebar's full width
  await keepScreenshot(field, 'fields-sidebar-light.png');
});

/** A w x h PNG of a diagonal gradient, written with zlib (no imaging library needed). */
function writePng(file: string, w: number, h: number): void {
  const python = path.join(REPO, '.venv', 'bin', 'python');
  const script = [
    'import struct, sys, zlib',
    'w, h = int(sys.argv[2]), int(sys.argv[3])',
    'raw = b"".join(b"\\x00" + bytes(v for x in range(w) for v in ((x * 255) // w, (y * 255) // h, 128)) for y in range(h))',
    'chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))',
    'open(sys.argv[1], "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))'
  ].join('\n');
  execFileSync(python, ['-c', script, file, String(w), String(h)]);
}

test("a Cinema run's FILE image is shown where it has no field", async ({ page, tmpPath }) => {
  const root = await serverRoot(page);
  const cdb = path.join(root, tmpPath, 'views.cdb');
  fs.mkdirSync(path.join(cdb, 'img'), { recursive: true });
  const rows = ['id,phi,theta,FILE'];
  // 16 distinct values each: numeric axes (12 or fewer would be levels).
  const phi = (i: number) => 7.5 * i;
  const theta = (i: number) => 100 - 5 * i + (i % 3) * 1.7;
  for (let i = 0; i < 16; i++) {
    writePng(path.join(cdb, 'img', `v${i}.png`), 40 + 4 * i, 30);
    rows.push(`${i},${phi(i)},${theta(i)},img/v${i}.png`);
  }
  fs.writeFileSync(path.join(cdb, 'data.csv'), rows.join('\n') + '\n');
  execFileSync(JUPYTER, ['dsi', 'ingest', '-q', cdb, '--db', path.join(root, tmpPath, 'views.sqlite')]);
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/views.sqlite`);
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('.jp-dsi-Scatter-svg')).toBeVisible();
  // Sixteen points are too few to find by sweeping the pointer: run 5 is clicked where the
  // scatter's axes put it (their ticks' positions on the screen).
  const values: Record<string, (i: number) => number> = { phi, theta };
  const xName = await view.locator('select[aria-label="Scatter x"]').inputValue();
  const yName = await view.locator('select[aria-label="Scatter y"]').inputValue();
  expect([xName, yName].sort()).toEqual(['phi', 'theta']);
  const sim = '5';
  const onScreen = async (axis: number, value: number): Promise<number> => {
    const ticks = await view.locator(`.jp-dsi-Scatter-axis-${axis === 0 ? 'x' : 'y'}`).locator('.tick').evaluateAll(nodes =>
      nodes.map(n => {
        const r = n.querySelector('line')!.getBoundingClientRect();
        return { at: [r.x + r.width / 2, r.y + r.height / 2], value: Number(n.textContent!.replace('\u2212', '-')) };
      })
    );
    const [a, b] = [ticks[0], ticks[ticks.length - 1]];
    const k = axis === 0 ? 0 : 1; // the x axis' ticks move across, the y axis' up and down
    return a.at[k] + ((value - a.value) / (b.value - a.value)) * (b.at[k] - a.at[k]);
  };
  await page.mouse.click(await onScreen(0, values[xName](5)), await onScreen(1, values[yName](5)));
  const field = view.getByTestId('dsi-field-view');
  await expect(field.getByTestId('dsi-field-title')).toHaveText(`${sim} · images`);
  const image = field.locator('[data-testid="dsi-field-image"] img');
  await expect(image).toHaveAttribute('alt', `FILE of ${sim}`);
  // Decoded by the browser: the file's own size (40 + 4 i by 30 pixels).
  await expect.poll(() => image.evaluate(img => (img as HTMLImageElement).naturalWidth)).toBe(40 + 4 * Number(sim));
  await expect(field.getByTestId('dsi-field-error')).toBeHidden();
  await expect(field.getByTestId('dsi-field-use')).toBeHidden(); // a run without a field is no ground truth
  await keepScreenshot(field, 'fields-cinema-light.png');
});

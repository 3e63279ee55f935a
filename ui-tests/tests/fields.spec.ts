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
import * as path from 'path';

import { dsiJson, keepScreenshot, openSampleDocument, REPO, SAMPLE_DB } from './helpers';

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

/**
 * Moves the pointer over the scatter until its tooltip names a run, and clicks there; answers
 * the run's id (the tooltip's first line).
 */
async function clickAPoint(page: IJupyterLabPageFixture, view: Locator): Promise<string> {
  return markAPoint(page, view, true);
}

/** Moves the pointer over the scatter until it marks a run (its tooltip); clicks there if asked. */
async function markAPoint(page: IJupyterLabPageFixture, view: Locator, click = false): Promise<string> {
  const svg = view.locator('.jp-dsi-Scatter-svg');
  await svg.scrollIntoViewIfNeeded(); // below the parallel coordinates in the sidebar
  const box = (await svg.boundingBox())!;
  const tooltip = view.locator('.jp-dsi-Scatter-tooltip');
  for (const fy of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
    for (const fx of [0.3, 0.4, 0.5, 0.6, 0.2, 0.7, 0.8]) {
      const x = box.x + box.width * fx;
      const y = box.y + box.height * fy;
      await page.mouse.move(x, y);
      await page.waitForTimeout(30);
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

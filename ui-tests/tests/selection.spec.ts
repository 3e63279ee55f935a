/**
 * A selection never changes silently, and its filter string can be typed (issue 14): a step
 * change that moves the selection says so with the counts and can be undone; Ctrl+Z and
 * Ctrl+Shift+Z in the panel undo and redo selection changes (not the text being typed); the
 * filter string applies on Enter and says its errors beneath; a box reads as two ranges and a
 * lasso as a short polygon, which the CLI selects the same runs with.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { brushAxis, dsiJson, openSampleDocument } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

async function count(view: Locator): Promise<number> {
  const text = (await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '';
  return Number(text.replace(/,/g, ''));
}

test('a step change that moves the selection is said, and undone; Ctrl+Z and Ctrl+Shift+Z in the panel', async ({ page, tmpPath }) => {
  await openSampleDocument(page, tmpPath, 'undo.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  const view = panel.locator('.jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const total = await count(view);
  const slider = view.locator('input[aria-label="Time step"]');
  const last = await slider.inputValue();

  await brushAxis(page, view, 'd_density', 0.3, 0.8);
  await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
  const brushed = await count(view);
  expect(brushed).toBeLessThan(total);

  // The first step: every run is still its initial state, so the brush keeps another set.
  await slider.fill('0');
  const notice = view.getByTestId('dsi-selection-notice');
  await expect(notice).toContainText(`Selection ${brushed.toLocaleString('en-US')} → `);
  await expect(notice).toContainText('after moving to step 0');
  const moved = await count(view);
  expect(moved).not.toBe(brushed);

  await notice.getByRole('button', { name: 'Undo' }).click();
  await expect(slider).toHaveValue(last);
  await expect.poll(() => count(view)).toBe(brushed);
  await expect(notice).toBeHidden();

  // The keyboard, in the panel: Ctrl+Z takes the brush back, Ctrl+Shift+Z puts it back.
  await panel.locator('.jp-DSI-title').click();
  await page.keyboard.press('Control+z');
  await expect.poll(() => count(view)).toBe(total);
  await expect(view.getByTestId('dsi-filter')).toContainText('everything');
  await page.keyboard.press('Control+Shift+z');
  await expect.poll(() => count(view)).toBe(brushed);
  await expect(view.getByTestId('dsi-undo')).toBeEnabled();

  // Ctrl+Z while typing the filter undoes the typing, never the selection.
  const filter = view.getByTestId('dsi-filter');
  await filter.click();
  await page.keyboard.press('End');
  await page.keyboard.type(' and');
  await page.keyboard.press('Control+z');
  await expect.poll(() => count(view)).toBe(brushed);
  await page.keyboard.press('Escape');
  await expect(filter).toContainText('d_density between');
});

test('the filter string is typed: Enter applies it, an error shows beneath; boxes and lassos read as a person writes them', async ({
  page,
  tmpPath
}) => {
  const file = await openSampleDocument(page, tmpPath, 'typed.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="cs"]')).toBeVisible();
  const methods = dsiJson<{ id: string }[]>('methods', '--db', file);
  const step = await view.locator('input[aria-label="Time step"]').inputValue();
  const cli = (where: string) =>
    dsiJson<unknown[]>('select', '--db', file, '--method', methods[0].id, '--time', step, '--where', where).length;

  const filter = view.getByTestId('dsi-filter');
  await filter.click();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('cs in (0.1, 0.2)');
  await page.keyboard.press('Enter');
  await expect(filter).toHaveText('cs in (0.1, 0.2)');
  await expect.poll(() => count(view)).toBe(cli('cs in (0.1, 0.2)'));

  // A name the file does not have: said beneath, in one line; the selection stays.
  const before = await count(view);
  await filter.click();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('bogus > 1');
  await page.keyboard.press('Enter');
  const error = view.getByTestId('dsi-filter-error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('bogus');
  expect(await count(view)).toBe(before);
  await page.keyboard.press('Escape');
  await expect(error).toBeHidden();
  await expect(filter).toHaveText('cs in (0.1, 0.2)');

  // A box in the scatter: two `between` terms on its axes.
  await view.getByRole('button', { name: 'Clear' }).click();
  const plot = view.locator('.jp-DSI-scatter svg').first();
  const box = (await plot.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.8, { steps: 6 });
  await page.mouse.up();
  await expect(filter).toContainText(/^d_feature between \S+ and \S+ and d_density between \S+ and \S+$/);
  const boxed = (await filter.textContent())!;
  await expect.poll(() => count(view)).toBe(cli(boxed));

  // A hand-drawn lasso: at most two dozen vertices, and the CLI selects what the panel does.
  await view.getByRole('button', { name: 'Clear' }).click();
  await view.getByRole('button', { name: /lasso/i }).click();
  const cx = box.x + box.width * 0.5;
  const cy = box.y + box.height * 0.5;
  await page.mouse.move(cx + box.width * 0.35, cy);
  await page.mouse.down();
  for (let i = 1; i <= 60; i++) {
    const a = (2 * Math.PI * i) / 60;
    await page.mouse.move(cx + box.width * 0.35 * Math.cos(a), cy + box.height * 0.3 * Math.sin(a));
  }
  await page.mouse.up();
  await expect(filter).toContainText('in polygon');
  const lasso = (await filter.textContent())!;
  const vertices = lasso.match(/\(-?[\d.e+-]+, -?[\d.e+-]+\)/g) ?? [];
  expect(vertices.length).toBeGreaterThanOrEqual(3);
  expect(vertices.length).toBeLessThanOrEqual(24);
  await expect.poll(() => count(view)).toBe(cli(lasso));
});

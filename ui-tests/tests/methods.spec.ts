/**
 * "New method…" in a real JupyterLab: pick the ground truth by clicking a point in the scatter,
 * post-process on the server with progress in the panel and the status bar, see the method in
 * the dropdown; a cancelled job writes nothing.
 */
import { expect, test } from '@jupyterlab/galata';

import { dsiJson, openSampleDocument } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

test('a new method from the panel: picked in the scatter, with progress, and a cancel that writes nothing', async ({
  page,
  tmpPath
}) => {
  const file = await openSampleDocument(page, tmpPath, 'methods.sqlite');
  const before = dsiJson<{ id: string }[]>('methods', '--db', file);
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();

  await view.getByRole('button', { name: 'New…' }).click();
  const form = view.locator('form.jp-DSI-methodForm');
  await expect(form).toBeVisible();

  // Click a point of the scatter: it becomes the ground truth (scan the plot for one).
  const scatter = view.locator('.jp-DSI-scatter svg').first();
  await scatter.scrollIntoViewIfNeeded();
  const plot = (await scatter.boundingBox())!;
  const message = form.getByTestId('dsi-method-message');
  let picked = false;
  for (let fy = 0.15; fy < 0.95 && !picked; fy += 0.08) {
    for (let fx = 0.1; fx < 0.95 && !picked; fx += 0.06) {
      await page.mouse.click(plot.x + plot.width * fx, plot.y + plot.height * fy);
      picked = ((await message.textContent()) ?? '').includes('picked in the scatter');
    }
  }
  expect(picked).toBe(true);
  const chosen = await form.getByLabel('Ground truth simulation').inputValue();
  expect(chosen).toMatch(/^sim\d{5}$/);
  await expect(message).toHaveText(`Ground truth: ${chosen} (picked in the scatter).`);

  await form.getByLabel('Norm').selectOption('L1');
  await form.getByLabel('Method description').fill('Picked by clicking <b>a point</b>');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(form.locator('progress')).toBeVisible();
  await expect(page.getByTestId('dsi-job-status')).toContainText('DSI: post-processing');
  await expect(form.getByTestId('dsi-method-message')).toContainText('New method computed for 1,000 simulations', {
    timeout: 90000
  });
  await expect(page.getByTestId('dsi-job-status')).toBeHidden();

  const after = dsiJson<{ id: string; ground_truth: string; norm: string; description: string }[]>('methods', '--db', file);
  expect(after).toHaveLength(before.length + 1);
  const created = after.find(m => !before.some(b => b.id === m.id))!;
  expect([created.ground_truth, created.norm, created.description]).toEqual([chosen, 'L1', 'Picked by clicking <b>a point</b>']);
  // The dropdown lists it and shows it.
  await expect(view.locator('select[aria-label="Method"]')).toHaveValue(created.id);
  await expect(view.locator('select[aria-label="Method"] option')).toHaveCount(before.length + 1);

  // Cancel: the job stops and nothing is written.
  await form.getByLabel('Norm').selectOption('Linf');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await form.getByRole('button', { name: 'Cancel job' }).click();
  await expect(form.getByTestId('dsi-method-message')).toContainText('Cancelled: nothing was written', { timeout: 30000 });
  expect(dsiJson<unknown[]>('methods', '--db', file)).toHaveLength(before.length + 1);
});

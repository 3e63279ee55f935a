/**
 * Saving a selection as a training dataset from the panel: the description is required, the
 * sampling preview matches what is stored, and a save whose answer is lost is retried without
 * making a second dataset. The CLI reads the same file afterwards.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

import { dsiJson, SAMPLE_DB } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

async function serverRoot(page: IJupyterLabPageFixture): Promise<string> {
  const config = await page.evaluate(() => document.getElementById('jupyter-config-data')!.textContent!);
  return JSON.parse(config).serverRoot;
}

test('save a selection: description required, sampling previewed, a lost answer retried without a duplicate', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/save.sqlite`);
  const file = path.join(await serverRoot(page), tmpPath, 'save.sqlite');
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/save.sqlite`);
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  const hit = view.locator('g[data-axis="d_density"] [data-role="hit"]');
  await expect(hit).toBeVisible();
  const box = (await hit.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.4);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.9, { steps: 8 });
  await page.mouse.up();
  await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');

  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByTestId('dsi-save-message')).toContainText('description is required');

  const description = 'Small density distance <script>alert(1)</script> {x} $x';
  await form.getByTestId('dsi-save-description').fill(description);
  await form.getByLabel('Dataset name').fill('near the ground truth');
  await form.getByText('Keep each with probability').click();
  await form.getByLabel('Sampling probability').fill('0.5');
  await form.getByLabel('Sampling seed').fill('3');
  await expect(form.getByTestId('dsi-save-preview')).toContainText('after sampling');
  const preview = (await form.getByTestId('dsi-save-preview').textContent()) ?? '';
  const match = /([\d,]+) simulations selected → ([\d,]+) after sampling/.exec(preview);
  expect(match).not.toBeNull();
  const kept = Number(match![2].replace(/,/g, ''));

  // The server commits the first save but its answer never arrives.
  await page.route(
    url => url.pathname.endsWith('/jupyterlab-dsi/datasets'),
    async route => {
      await route.fetch();
      await route.abort();
    },
    { times: 1 }
  );
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByTestId('dsi-save-message')).toContainText('Not saved');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByTestId('dsi-save-message')).toContainText('Saved “near the ground truth”');
  await expect(page.locator('.jp-MainAreaWidget').getByTestId('dsi-datasets')).toContainText('1');

  const datasets = dsiJson<{ name: string; description: string; size: number }[]>('datasets', '--db', file);
  expect(datasets).toHaveLength(1);
  expect(datasets[0].size).toBe(kept);
  expect(datasets[0].description).toBe(description);
  // User text stayed text: no element was injected anywhere in the page.
  expect(await page.locator('script:text("alert(1)")').count()).toBe(0);
});

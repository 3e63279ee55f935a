/**
 * One step number everywhere (docs/data-model.md, "Steps and times"): the panel's slider label,
 * its datasets table and the CLI name the same 0-based step, with the simulated time beside it.
 * The sample's step i was written at i + 1 µs, so an off-by-one shows.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

import { dsiJson, JUPYTER, openSampleDocument } from './helpers';

test.use({ viewport: { width: 1400, height: 1000 } });

test('the panel, its datasets table and the CLI show the same step', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'steps.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible();
  const label = panel.getByTestId('dsi-time');
  await expect(label).toHaveText('step 39 (0–39) · time 40');

  // The last step is the one the CLI takes as --time 39; a dataset saved there and one at 24.
  const method = dsiJson<{ id: string }[]>('methods', '--db', file)[0].id;
  for (const t of ['39', '24']) {
    // The one at 24 selects by a filter, as a script would: Restore must bring that selection back.
    const where = t === '24' ? ['--where', 'cs == 0.1 and d_density < 3'] : [];
    execFileSync(JUPYTER, ['dsi', 'select', '--db', file, '--method', method, '--time', t, ...where, '--save', `at step ${t}`, '--name', `step ${t}`, '-q']);
  }
  expect(dsiJson<{ name: string; time: number }[]>('datasets', '--db', file).map(d => [d.name, d.time])).toEqual([
    ['step 24', 24],
    ['step 39', 39]
  ]);

  await panel.getByRole('button', { name: 'Reload' }).click();
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  const rows = panel.locator('.jp-DSI-datasets tbody tr');
  await expect(rows).toHaveCount(2);
  const stepCell = (name: string) => panel.locator('.jp-DSI-datasets tbody tr', { hasText: name }).locator('td').nth(4);
  await expect(stepCell('step 24')).toHaveText('24 · time 25');
  await expect(stepCell('step 39')).toHaveText('39 · time 40');

  // Restoring the dataset saved at --time 24 brings the slider to the step the table showed.
  await panel.locator('.jp-DSI-datasets tbody tr', { hasText: 'step 24' }).getByRole('button', { name: 'Restore' }).click();
  await expect(label).toHaveText('step 24 (0–39) · time 25');
  // A dataset saved from the shell has no GUI state: its filter is the selection, redrawn.
  const size = dsiJson<{ name: string; size: number }[]>('datasets', '--db', file).find(d => d.name === 'step 24')!.size;
  await expect(panel.getByTestId('dsi-filter')).toContainText('d_density');
  await expect(panel.getByTestId('dsi-selection-count').locator('strong')).toHaveText(size.toLocaleString('en-US'));
});

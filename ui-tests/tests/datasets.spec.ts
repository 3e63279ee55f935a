/**
 * Saving a selection as a training dataset from the panel: the description is required, the
 * sampling preview matches what is stored, and a save whose answer is lost is retried without
 * making a second dataset. The CLI reads the same file afterwards.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { brushAxis, dsiJson, openSampleDocument, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

test('save a selection: description required, sampling previewed, a lost answer retried without a duplicate', async ({
  page,
  tmpPath
}) => {
  const file = await openSampleDocument(page, tmpPath, 'save.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  await brushAxis(page, view, 'd_density');
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
  // The save turns to the Datasets page at once; its line says what was saved.
  await expect(page.locator('.jp-MainAreaWidget').getByTestId('dsi-saved')).toContainText('Saved “near the ground truth”');
  await expect(page.locator('.jp-MainAreaWidget').getByTestId('dsi-datasets')).toContainText('1');
  // Done: the form closes, and the Datasets page shows the new dataset, marked.
  await expect(form).toBeHidden();
  const main = page.locator('.jp-MainAreaWidget');
  await expect(main.getByTestId('dsi-saved')).toContainText('Saved “near the ground truth”');
  await expect(main.locator('tr[aria-current="true"]')).toContainText('near the ground truth');
  await expect(main.getByRole('tab', { name: /Datasets/ })).toHaveAttribute('aria-selected', 'true');

  const datasets = dsiJson<{ name: string; description: string; size: number }[]>('datasets', '--db', file);
  expect(datasets).toHaveLength(1);
  expect(datasets[0].size).toBe(kept);
  expect(datasets[0].description).toBe(description);
  // User text stayed text: no element was injected anywhere in the page.
  expect(await page.locator('script:text("alert(1)")').count()).toBe(0);
});

test('restore a saved dataset after a reload, delete it and undo', async ({ page, tmpPath }) => {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/restore.sqlite`);
  const file = path.join(await serverRoot(page), tmpPath, 'restore.sqlite');
  const open = async () => {
    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
    }, `${tmpPath}/restore.sqlite`);
    const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
    await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible();
    return panel;
  };
  let panel = await open();
  await brushAxis(page, panel, 'd_shock', 0.3, 0.7);
  await panel.locator('select[aria-label="Color by"]').selectOption('gamma');
  const filter = (await panel.getByTestId('dsi-filter').textContent())!;
  const count = (await panel.getByTestId('dsi-selection-count').locator('strong').textContent())!;
  await panel.getByRole('button', { name: 'Save…' }).click();
  await panel.getByTestId('dsi-save-description').fill('middle shock distances');
  await panel.locator('form.jp-DSI-saveForm').getByRole('button', { name: 'Save' }).click();
  await expect(panel.getByTestId('dsi-saved')).toContainText('Saved');
  const saved = dsiJson<{ id: string; size: number; filter: string }[]>('datasets', '--db', file);
  expect(saved).toHaveLength(1);
  expect(saved[0].filter).toBe(filter);
  expect(saved[0].size).toBe(Number(count.replace(/,/g, '')));

  // A fresh page: nothing in memory, only the file.
  // (The layout restorer reopens the explorer tab, so there is no launcher to wait for.)
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('docmanager:open'));
  panel = await open();
  await expect(panel.getByTestId('dsi-filter')).toContainText('everything');
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  const row = panel.locator(`tr[data-dataset-id="${saved[0].id}"]`);
  await expect(row).toContainText('middle shock distances');
  // Typed key by key, the filter box keeps the focus and every character (a render used to pull
  // it out of the page after the first).
  const search = panel.getByRole('searchbox', { name: 'Filter datasets' });
  await search.click();
  await search.pressSequentially('middle sh', { delay: 30 });
  await expect(search).toBeFocused();
  await expect(search).toHaveValue('middle sh');
  await expect(row).toBeVisible();
  await search.press('Backspace');
  await search.pressSequentially('x');
  await expect(search).toHaveValue('middle sx');
  await expect(panel.getByText('No dataset matches this filter.')).toBeVisible();
  await search.fill('');
  await row.getByRole('button', { name: 'Restore' }).click();
  await expect(panel.getByTestId('dsi-filter')).toHaveText(filter);
  await expect(panel.getByTestId('dsi-selection-count').locator('strong')).toHaveText(count);
  await expect(panel.locator('select[aria-label="Color by"]')).toHaveValue('gamma');

  // Delete, after confirmation, while its members are listed: the list goes with it; then undo
  // from the notification.
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  await panel.locator(`tr[data-dataset-id="${saved[0].id}"]`).getByRole('button', { name: 'Members' }).click();
  await expect(panel.locator('.jp-DSI-members')).toBeVisible();
  await panel.locator(`tr[data-dataset-id="${saved[0].id}"]`).getByRole('button', { name: 'Delete' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(panel.locator(`tr[data-dataset-id="${saved[0].id}"]`)).toHaveCount(0);
  await expect(panel.locator('.jp-DSI-members')).toHaveCount(0);
  expect(dsiJson<unknown[]>('datasets', '--db', file)).toHaveLength(0);
  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(panel.locator(`tr[data-dataset-id="${saved[0].id}"]`)).toHaveCount(1);
  expect(dsiJson<unknown[]>('datasets', '--db', file)).toHaveLength(1);
});

test('members: listed, highlighted in both views, and derived into a child dataset', async ({ page, tmpPath }) => {
  const file = await openSampleDocument(page, tmpPath, 'derive.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.locator('g[data-axis="cs"]')).toBeVisible();
  const methods = dsiJson<{ id: string }[]>('methods', '--db', file);
  const step = await panel.locator('input[aria-label="Time step"]').inputValue();
  // A dataset saved from the shell, 40 sampled members.
  const { execFileSync } = await import('child_process');
  execFileSync(path.join(__dirname, '..', '..', '.venv', 'bin', 'jupyter'), [
    'dsi', 'select', '--db', file, '--method', methods[0].id, '--time', step, '--where', 'cs in (0.1, 0.2)',
    '--save', 'low cs, sampled', '--name', 'parent', '--size', '40', '--seed', '5'
  ]);
  const parent = dsiJson<{ id: string }[]>('datasets', '--db', file)[0];
  const members = dsiJson<{ members: string[] }>('export', parent.id, '--db', file).members;

  // No reload: the panel sees the shell's write in the event log and catches up by itself.
  await expect(panel.getByRole('tab', { name: /Datasets \(1\)/ })).toBeVisible({ timeout: 20000 });
  await panel.getByRole('tab', { name: /Datasets \(1\)/ }).click();
  const row = panel.locator(`tr[data-dataset-id="${parent.id}"]`);
  await row.getByRole('button', { name: 'Members' }).click();
  await expect(panel.locator('.jp-DSI-members tbody tr')).toHaveCount(40);
  await expect(panel.locator('.jp-DSI-members')).toContainText(members[0]);

  // Elsewhere meanwhile: the first step, and a brush. Highlight goes to the dataset's step and
  // replaces the selection, so every member shows.
  await panel.getByRole('tab', { name: 'Explore' }).click();
  await panel.locator('input[aria-label="Time step"]').fill('0');
  await expect(panel.getByTestId('dsi-time')).toContainText('step 0 ');
  await brushAxis(page, panel, 'd_density', 0.05, 0.5);
  await expect(panel.getByTestId('dsi-filter')).toContainText('d_density between');
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  await panel.getByRole('button', { name: 'Highlight in the views' }).click();
  await expect(panel.getByTestId('dsi-selection-count').locator('strong')).toHaveText('40');
  await expect(panel.locator('input[aria-label="Time step"]')).toHaveValue(step);
  await expect(panel.getByTestId('dsi-filter')).toContainText(`sim_id in ("${members[0]}"`);
  await expect(panel.getByTestId('dsi-filter')).not.toContainText('between');

  await panel.getByRole('tab', { name: /Datasets/ }).click();
  await panel.locator(`tr[data-dataset-id="${parent.id}"]`).getByRole('button', { name: 'Derive' }).click();
  await panel.getByRole('button', { name: 'Save…' }).click();
  await expect(panel.getByTestId('dsi-save-parent')).toContainText('Derived from “parent”');
  await panel.getByTestId('dsi-save-description').fill('child of the low-cs set');
  await panel.locator('form.jp-DSI-saveForm').getByRole('button', { name: 'Save' }).click();
  await expect(panel.getByTestId('dsi-saved')).toContainText('Saved');
  const all = dsiJson<{ description: string; parent: string | null }[]>('datasets', '--db', file);
  expect(all.find(d => d.description === 'child of the low-cs set')?.parent).toBe(parent.id);
});

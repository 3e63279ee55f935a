/**
 * The notebook bridge in a real JupyterLab with a real ipykernel: the panel's selection as
 * kernel variables, `%dsi select` shown in the panel, provenance cells written on save that run
 * and return the same members, and the variables back after a kernel restart.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { brushAxis, dsiJson, keepScreenshot, openSampleDocument } from './helpers';

// Galata's kernel mock answers a kernel restart with 201 where JupyterLab expects 200, which
// leaves the restarted kernel "starting" forever: talk to the real kernels API instead.
test.use({ viewport: { width: 1400, height: 1200 }, kernels: null });

/** The panel's count as it reads now: poll it (expect.poll) where a new slice may be on its way. */
async function panelCount(view: Locator): Promise<number> {
  return view.evaluate(root => {
    return Number((root.querySelector('[data-testid="dsi-selection-count"] strong')?.textContent ?? '').replace(/,/g, ''));
  });
}

/** Run `source` in cell `index` of the active notebook and answer its text output. */
async function runCell(page: IJupyterLabPageFixture, index: number, source: string): Promise<string> {
  await page.notebook.setCell(index, 'code', source);
  await page.notebook.runCell(index, true);
  const lines = ((await page.notebook.getCellTextOutput(index)) ?? []).join('\n').trim().split('\n');
  return lines[lines.length - 1]; // the cell's value, after anything it printed
}

async function activate(page: IJupyterLabPageFixture, label: string): Promise<void> {
  await page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("${label}")`).first().click();
}

test('the kernel sees the panel, the panel shows %dsi select, saves write provenance cells, restarts relink', async ({
  page,
  tmpPath
}) => {
  await page.notebook.createNew('bridge.ipynb');
  const notebookPath: string = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.path);
  expect(notebookPath).toBe(`${tmpPath}/bridge.ipynb`);

  // The explorer opens beside the notebook and links to it (the active notebook).
  const file = await openSampleDocument(page, tmpPath, 'bridge.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  const view = panel.locator('.jp-DSI-explorerView');
  const status = panel.getByTestId('dsi-link-status');
  await expect(panel.getByTestId('dsi-link-target')).toContainText('Active notebook: bridge.ipynb');
  await expect(status).toContainText('Linked');

  // Brush: the kernel's dsi_selection has the panel's count.
  await brushAxis(page, view, 'd_density', 0.45, 0.9);
  await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
  const brushed = await panelCount(view);
  await expect(status).toContainText(`dsi_selection has ${brushed.toLocaleString('en-US')} rows`);
  await activate(page, 'bridge.ipynb');
  expect(await runCell(page, 0, 'len(dsi_selection)')).toBe(String(brushed));
  expect(await runCell(page, 0, "dsi_method['norm'], dsi_method['t'], dsi_method['where'][:17]")).toBe(
    "('Linf', 39, 'd_density between')"
  );

  // %dsi select from the notebook: the panel shows the same selection, drawn where it can be.
  const where = 'cs in (0.1, 0.2) and d_density < 6';
  const selected = await runCell(page, 0, `sel = %dsi select --time 39 --where "${where}"\nlen(sel)`);
  const [newest] = dsiJson<{ id: string }[]>('methods', '--db', file); // the method the panel opened with
  const cli = dsiJson<unknown[]>('select', '--db', file, '--method', newest.id, '--time', '39', '--where', where);
  expect(Number(selected)).toBe(cli.length);
  await activate(page, 'bridge.sqlite');
  await expect(view.getByTestId('dsi-filter')).toContainText('cs in (0.1, 0.2)');
  await expect(view.getByTestId('dsi-undrawn')).toContainText('d_density < 6');
  await expect.poll(() => panelCount(view)).toBe(cli.length);
  await expect(status).toContainText(`has ${cli.length.toLocaleString('en-US')} rows`);

  // Save from the panel: provenance cells appear below the active cell, run, and give the members.
  await view.getByRole('button', { name: 'Save…' }).click();
  const form = view.locator('form.jp-DSI-saveForm');
  const description = 'Slow shocks near the ground truth <script>alert(1)</script> {x} $x';
  await form.getByTestId('dsi-save-description').fill(description);
  await form.getByLabel('Dataset name').fill('slow & near');
  await form.getByRole('button', { name: 'Save' }).click();
  // The save turns the panel to its Datasets page, whose line says what was saved.
  await expect(panel.getByTestId('dsi-saved')).toContainText('Saved “slow & near”');
  const [saved] = dsiJson<{ id: string; size: number; description: string }[]>('datasets', '--db', file);
  expect(saved.description).toBe(description);

  await activate(page, 'bridge.ipynb');
  const cells = page.locator('.jp-Notebook .jp-Cell');
  await expect(cells).toHaveCount(3);
  const record = cells.nth(1);
  await expect(record.locator('.jp-RenderedMarkdown h3')).toHaveText(/^Training dataset: slow & near¶?$/);
  await expect(record.locator('.jp-RenderedMarkdown p').first()).toHaveText(description);
  expect(await record.locator('.jp-RenderedMarkdown script, .jp-RenderedMarkdown img').count()).toBe(0);
  expect(await page.notebook.getCellTextInput(2)).toBe(`%dsi load ${saved.id} --db bridge.sqlite`);
  await page.notebook.runCell(2, true);
  await keepScreenshot(page, 'bridge-notebook.png');
  await activate(page, 'bridge.sqlite');
  await keepScreenshot(panel.locator('header'), 'bridge-header.png');
  await activate(page, 'bridge.ipynb');
  expect(await runCell(page, 2, `d = %dsi load ${saved.id} --db bridge.sqlite\nsorted(d.index) == sorted(sel.index), len(d)`)).toBe(
    `(True, ${saved.size})`
  );

  // Restart the kernel: the link comes back and so do the variables.
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('notebook:restart-kernel'); // asks first
  });
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Confirm Kernel Restart' }).click();
  await expect(status).toContainText(`has ${cli.length.toLocaleString('en-US')} rows`, { timeout: 60000 });
  expect(await runCell(page, 0, 'len(dsi_selection), len(dsi_datasets)')).toBe(`(${cli.length}, 1)`);
});

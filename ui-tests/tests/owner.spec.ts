/**
 * Every panel tells the truth about the notebook link (issue 14, section 2): exactly one explorer
 * feeds a notebook's variables and both say which; `%dsi` on another file never switches a tab
 * whose title names a file (the sidebar follows it); "Open in main area" moves the variables to
 * the new tab; a panel whose database did not open never says "Linked".
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import * as path from 'path';

import { dsiJson, openSampleDocument, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1000 }, kernels: null });

async function runCell(page: IJupyterLabPageFixture, source: string): Promise<string> {
  await page.notebook.setCell(0, 'code', source);
  await page.notebook.runCell(0, true);
  const lines = ((await page.notebook.getCellTextOutput(0)) ?? []).join('\n').trim().split('\n');
  return lines[lines.length - 1];
}

async function activate(page: IJupyterLabPageFixture, label: string): Promise<void> {
  await page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("${label}")`).first().click();
}

test('one explorer owns the variables, %dsi leaves other files alone, a failed panel is not linked', async ({ page, tmpPath }) => {
  await page.notebook.createNew('owner.ipynb');
  await openSampleDocument(page, tmpPath, 'a.sqlite');
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/b.sqlite`);
  const tab = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').first();
  const tabStatus = tab.getByTestId('dsi-link-status');
  await expect(tab.locator('g[data-axis="d_density"]')).toBeVisible();
  await expect(tabStatus).toContainText('Linked');

  // %dsi select on another file: the tab titled a.sqlite stays on a.sqlite; the sidebar goes to
  // b.sqlite, and says that the tab feeds the variables.
  await activate(page, 'owner.ipynb');
  const [method] = dsiJson<{ id: string }[]>('methods', '--db', path.join(await serverRoot(page), tmpPath, 'b.sqlite'));
  const select = `sel = %dsi select --db b.sqlite --method ${method.id} --time 39 --where "cs == 0.1"\nlen(sel) > 0`;
  expect(await runCell(page, select)).toBe('True');
  const sidebar = page.locator('#jp-dsi-explorer');
  await expect(sidebar.locator('.jp-DSI-path')).toHaveText(`${tmpPath}/b.sqlite`);
  await expect(sidebar.getByTestId('dsi-filter')).toContainText('cs == 0.1');
  await expect(tab.locator('.jp-DSI-path')).toHaveText(`${tmpPath}/a.sqlite`);
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'a.sqlite' })).toHaveCount(1);
  const sidebarStatus = sidebar.getByTestId('dsi-link-status');
  await expect(sidebarStatus).toHaveText('Variables owned by the tab “a.sqlite”: dsi_selection follows that explorer.');
  expect(await runCell(page, "dsi_method['db'].endswith('a.sqlite')")).toBe('True');

  // The sidebar takes the variables over: dsi_method follows it, the tab names the sidebar.
  await page.evaluate(() => (window as any).jupyterapp.shell.activateById('jp-dsi-explorer'));
  await sidebar.getByTestId('dsi-link-claim').click();
  await expect(sidebarStatus).toContainText('Linked: dsi_selection has');
  await activate(page, 'a.sqlite');
  await expect(tabStatus).toHaveText('Variables owned by the DSI Explorer sidebar (b.sqlite): dsi_selection follows that explorer.');
  await activate(page, 'owner.ipynb');
  expect(await runCell(page, "dsi_method['db'].endswith('b.sqlite'), dsi_method['where']")).toBe("(True, 'cs == 0.1')");

  // Open in main area: the new tab owns the variables; the sidebar says so.
  await sidebar.getByRole('button', { name: 'Open in main area' }).click();
  const copy = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').filter({ has: page.locator('.jp-DSI-path', { hasText: 'b.sqlite' }) });
  await expect(copy.getByTestId('dsi-link-status')).toContainText('Linked: dsi_selection has');
  await expect(sidebarStatus).toHaveText('Variables owned by the tab “DSI: b.sqlite”: dsi_selection follows that explorer.');

  // A file that is not a database: the panel says why, with no backquotes, and never "Linked".
  await page.contents.uploadContent('not a database', 'text', `${tmpPath}/broken.sqlite`);
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/broken.sqlite`);
  const broken = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer').filter({ has: page.locator('.jp-DSI-error') });
  await expect(broken.locator('.jp-DSI-error')).toContainText('Cannot open this database.');
  expect(await broken.locator('.jp-DSI-error').textContent()).not.toContain('`');
  await expect(broken.getByTestId('dsi-link-status')).toContainText('did not open');
  await expect(broken.getByTestId('dsi-link-status')).not.toContainText('Linked');
});

/**
 * Exports written on the server (issue 14, section 3): Datasets → Export → "Save next to the
 * notebook" writes the file `jupyter dsi export` writes into the linked notebook's folder (a
 * remote JupyterHub user finds it in the workspace), says where in a notification that opens it,
 * never overwrites (a second save is `name (1).json`), and Download still downloads.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';

import { dsiJson, JUPYTER, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1000 } });

/** `jupyter dsi export ID --db DB --format F`: the text the server must have written. */
function cliExport(db: string, id: string, format: string): string {
  return execFileSync(JUPYTER, ['dsi', 'export', id, '--db', db, '--format', format], { encoding: 'utf-8' });
}

/** A file's text through JupyterLab's contents API (what the workspace holds). */
async function contentsText(page: IJupyterLabPageFixture, path: string): Promise<string> {
  return page.evaluate(async p => {
    const model = await (window as any).jupyterapp.serviceManager.contents.get(p, { content: true, type: 'file', format: 'text' });
    return model.content as string;
  }, path);
}

/** The notification that says `text`: its toast, or the list the status bar opens. */
async function notification(page: IJupyterLabPageFixture, text: string) {
  const said = page.locator('.jp-toast-message, .jp-Notification-List-Item', { hasText: text }).first();
  // The save may still be on its way: look again until it is said, opening the list (never
  // toggling it shut) when the toast is not shown.
  await expect(async () => {
    if (!(await said.isVisible()) && !(await page.locator('.jp-Notification-Center').isVisible())) {
      await page.locator('.jp-Notification-Status').click();
    }
    await expect(said).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30000 });
  return said.locator('xpath=ancestor-or-self::*[.//button][1]');
}

test('Export → Save next to the notebook writes the CLI’s file in the notebook’s folder, and opens it', async ({
  page,
  tmpPath
}) => {
  // The notebook at the top of tmpPath; the database one folder down, in data/.
  await page.notebook.createNew('exports.ipynb');
  await page.contents.createDirectory(`${tmpPath}/data`);
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/data/exports.sqlite`);
  const db = `${await serverRoot(page)}/${tmpPath}/data/exports.sqlite`;
  const [method] = dsiJson<{ id: string }[]>('methods', '--db', db);
  execFileSync(JUPYTER, ['dsi', 'select', '--db', db, '--method', method.id, '--time', '10', '--where', 'cs == 0.1', '--save', 'Exported from the panel', '--name', 'slow shocks']);
  const [dataset] = dsiJson<{ id: string; name: string }[]>('datasets', '--db', db);
  expect(dataset.name).toBe('slow shocks');

  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/data/exports.sqlite`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.getByTestId('dsi-link-target')).toContainText('Active notebook: exports.ipynb');
  await panel.getByRole('tab', { name: /^Datasets/ }).click();
  const menu = panel.getByLabel('Export slow shocks');
  await expect(menu.locator('optgroup').first()).toHaveAttribute('label', 'Save next to the notebook');

  await menu.selectOption('save:json');
  const expected = `${tmpPath}/slow_shocks.json`;
  const said = await notification(page, `Saved “slow shocks” as ${expected}`);
  // The file is in the workspace, next to the notebook (not next to the database), and it is
  // exactly what the CLI writes.
  expect(await contentsText(page, expected)).toBe(cliExport(db, dataset.id, 'json'));
  expect(await page.contents.fileExists(`${tmpPath}/data/slow_shocks.json`)).toBe(false);

  // Its "Open" opens it in JupyterLab.
  await said.getByRole('button', { name: 'Open' }).click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'slow_shocks.json' })).toBeVisible();

  // Again, and a card: never over the first file; the name taken gets a number.
  const first = await contentsText(page, expected);
  await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'exports.sqlite' }).click();
  await menu.selectOption('save:json');
  await notification(page, `as ${tmpPath}/slow_shocks (1).json`);
  expect(await contentsText(page, expected)).toBe(first);
  expect(await contentsText(page, `${tmpPath}/slow_shocks (1).json`)).toBe(first);
  await menu.selectOption('save:card');
  const card = await notification(page, `as ${tmpPath}/slow_shocks.md`);
  expect(await contentsText(page, `${tmpPath}/slow_shocks.md`)).toBe(cliExport(db, dataset.id, 'card'));
  // Its "Show in file browser" shows it there, selected.
  await card.getByRole('button', { name: 'Show in file browser' }).click();
  await expect(page.locator('.jp-DirListing-item.jp-mod-selected')).toHaveText(/slow_shocks\.md/);

  // Download is still there, and downloads the same text.
  const [download] = await Promise.all([page.waitForEvent('download'), menu.selectOption('download:prov')]);
  expect(download.suggestedFilename()).toBe('slow_shocks.prov.json');
  const downloaded = fs.readFileSync((await download.path())!, 'utf-8');
  expect(downloaded).toBe(cliExport(db, dataset.id, 'prov'));
  expect(await page.contents.fileExists(`${tmpPath}/slow_shocks.prov.json`)).toBe(false);
});

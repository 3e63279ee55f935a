/**
 * The DSI Explorer in a real JupyterLab: open the sample database from the file browser
 * (Open With, and the sidebar), check its counts against the CLI, refuse a file that is not
 * ours with a clear message, and screenshot the panel in the light and the dark theme.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expectedCounts, formatCount, keepScreenshot, SAMPLE_DB } from './helpers';

const expected = expectedCounts();

async function upload(page: any, tmpPath: string, local: string, name: string): Promise<string> {
  const remote = `${tmpPath}/${name}`;
  await page.contents.uploadFile(local, remote);
  await page.filebrowser.openDirectory(tmpPath);
  return remote;
}

async function openWith(page: any, name: string, factory: string): Promise<void> {
  await page.locator(`.jp-DirListing-item[title^="Name: ${name}"]`).click({ button: 'right' });
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Open With$/ }).hover();
  await page.locator('.lm-Menu-itemLabel', { hasText: new RegExp(`^${factory}$`) }).click();
}

test.describe('DSI Explorer', () => {
  test('Open With shows the counts the CLI reads', async ({ page, tmpPath }) => {
    await upload(page, tmpPath, SAMPLE_DB, 'sample.sqlite');
    await openWith(page, 'sample.sqlite', 'DSI Explorer');

    const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
    await expect(panel.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
    await expect(panel.getByTestId('dsi-time-steps')).toContainText(String(expected.timeSteps));
    await expect(panel.getByTestId('dsi-methods')).toContainText(String(expected.methods.length));
    const rows = panel.locator('.jp-DSI-method');
    await expect(rows).toHaveCount(expected.methods.length);
    for (const method of expected.methods) {
      const row = panel.locator(`.jp-DSI-method[data-method-id="${method.id}"]`);
      await expect(row).toContainText(method.ground_truth);
      await expect(row).toContainText(method.norm);
      await expect(row).toContainText(method.description);
    }
    await expect(panel.locator('.jp-DSI-params li')).toHaveCount(7);
  });

  test('the sidebar opens a database from the file browser and the palette', async ({ page, tmpPath }) => {
    await upload(page, tmpPath, SAMPLE_DB, 'ensemble.sqlite');
    await page.locator('.jp-DirListing-item[title^="Name: ensemble.sqlite"]').click({ button: 'right' });
    await page.locator('.lm-Menu-itemLabel', { hasText: 'Open in DSI Explorer Sidebar' }).click();

    const sidebar = page.locator('#jp-dsi-explorer');
    await expect(sidebar).toBeVisible();
    await expect(sidebar.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
    await expect(sidebar.locator('.jp-DSI-path')).toHaveText(`${tmpPath}/ensemble.sqlite`);

    // The palette command toggles the same panel back after it was collapsed.
    await page.evaluate(() => (window as any).jupyterapp.shell.collapseRight());
    await expect(sidebar).toBeHidden();
    await page.keyboard.press('Control+Shift+C');
    await page.locator('#modal-command-palette input').fill('Open DSI Explorer');
    await page.keyboard.press('Enter');
    await expect(sidebar).toBeVisible();
    await expect(sidebar.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
  });

  test('a file that is not a jupyterlab-dsi database gets a clear message', async ({ page, tmpPath }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-bad-'));
    const bogus = path.join(dir, 'notes.db');
    fs.writeFileSync(bogus, 'these are not the bytes of an SQLite database\n'.repeat(10));
    await upload(page, tmpPath, bogus, 'notes.db');
    await openWith(page, 'notes.db', 'DSI Explorer');

    const error = page.locator('.jp-MainAreaWidget .jp-DSI-error');
    await expect(error).toContainText('not an SQLite database');
    await expect(error).toContainText('notes.db');
    await expect(error).not.toContainText(tmpPath.startsWith('/') ? tmpPath : '/tmp/');
  });

  test('the server\'s default database opens in the sidebar on start', async ({ page }) => {
    const sidebar = page.locator('#jp-dsi-explorer');
    await expect(sidebar).toBeHidden();
    await page.contents.uploadFile(SAMPLE_DB, 'startup/sample.sqlite');
    await page.reload();
    await expect(sidebar.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
    await expect(sidebar.locator('.jp-DSI-path')).toHaveText('startup/sample.sqlite');
    await page.contents.deleteDirectory('startup');
  });

  for (const theme of ['light', 'dark'] as const) {
    test(`looks right in the ${theme} theme`, async ({ page, tmpPath }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await upload(page, tmpPath, SAMPLE_DB, 'sample.sqlite');
      await page.evaluate(
        path => (window as any).jupyterapp.commands.execute('dsi:open', { path }),
        `${tmpPath}/sample.sqlite`
      );
      const sidebar = page.locator('#jp-dsi-explorer');
      await expect(sidebar.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
      const shot = await keepScreenshot(sidebar, `explorer-${theme}.png`);
      expect(shot.byteLength).toBeGreaterThan(1000);
    });
  }
});


/**
 * The DSI Explorer in a real JupyterLab: open the sample database from the file browser
 * (Open With, and the sidebar), check its counts against the CLI, refuse a file that is not
 * ours with a clear message, and screenshot the panel in the light and the dark theme.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
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
    test(`looks right in the ${theme} theme`, async ({ page }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      // Where `make demo` puts it: these screenshots are the README's, and show the path.
      await page.contents.uploadFile(SAMPLE_DB, 'data/sample.sqlite');
      try {
        await page.evaluate(async path => {
          await (window as any).jupyterapp.commands.execute('dsi:open', { path });
        }, 'data/sample.sqlite');
        const sidebar = page.locator('#jp-dsi-explorer');
        await expect(sidebar.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
        await expect(sidebar.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
        // The views are painted in this theme's colors: their background, and the unselected
        // lines in the context color (--jp-border-color2), not the other theme's.
        await expectThemeColors(sidebar);
        await keepScreenshot(sidebar, `explorer-${theme}.png`);
      } finally {
        await page.contents.deleteDirectory('data');
      }
    });
  }

  test('a theme change repaints the views at once', async ({ page, tmpPath }) => {
    await upload(page, tmpPath, SAMPLE_DB, 'sample.sqlite');
    await page.evaluate(async path => {
      await (window as any).jupyterapp.commands.execute('dsi:open', { path });
    }, `${tmpPath}/sample.sqlite`);
    const sidebar = page.locator('#jp-dsi-explorer');
    await expect(sidebar.locator('g[data-axis="d_density"]')).toBeVisible();
    await expectThemeColors(sidebar);
    // No pointer, key or brush after the switch: only the theme change may repaint.
    await page.theme.setDarkTheme();
    await expectThemeColors(sidebar);
  });
});

/**
 * The colors the views are painted with against the theme's variables, polled until they agree
 * (a theme change lands within a frame or two; a wrong theme never does).
 */
async function expectThemeColors(panel: Locator): Promise<void> {
  let last: unknown = null;
  await expect
    .poll(
      async () => {
        const seen = await panel.evaluate(root => {
          const probe = document.createElement('canvas').getContext('2d')!;
          const rgb = (css: string): [number, number, number] => {
            probe.fillStyle = '#000';
            probe.fillStyle = css;
            probe.fillRect(0, 0, 1, 1);
            const d = probe.getImageData(0, 0, 1, 1).data;
            return [d[0], d[1], d[2]];
          };
          const style = getComputedStyle(root);
          const context = rgb(style.getPropertyValue('--jp-border-color2').trim());
          const background = rgb(style.getPropertyValue('--jp-layout-color0').trim());
          // The most common color of the unselected lines' canvas (alpha ignored: the lines
          // are translucent, their color is what the theme gives them).
          const canvas = root.querySelector('.jp-DSI-pc-context') as HTMLCanvasElement;
          const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          const counts = new Map<string, number>();
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 40) {
              const key = `${data[i]},${data[i + 1]},${data[i + 2]}`;
              counts.set(key, (counts.get(key) ?? 0) + 1);
            }
          }
          const lines = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0].split(',').map(Number) ?? [-999, -999, -999];
          const box = rgb(getComputedStyle(root.querySelector('.jp-DSI-parcoords')!).backgroundColor);
          const scatter = rgb(getComputedStyle(root.querySelector('.jp-dsi-Scatter')!).backgroundColor);
          return { context, background, lines, box, scatter };
        });
        last = seen;
        const near = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]))) <= 12;
        return near(seen.lines, seen.context) && near(seen.box, seen.background) && near(seen.scatter, seen.background);
      },
      { timeout: 10000, message: `views not in the theme's colors: ${JSON.stringify(last)}` }
    )
    .toBe(true);
}

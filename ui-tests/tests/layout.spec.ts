/**
 * The explorer fits where it opens (issue 14, section 3): at the right sidebar's default width,
 * and in the main area at 1280×800 and 1600×1000, in the light and the dark theme. Geometric
 * facts are asserted (what a scientist needs on screen at once), and screenshots are kept in
 * ui-tests/screenshots/ to be looked at.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { brushAxis, keepScreenshot, SAMPLE_DB } from './helpers';

interface IBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function box(locator: Locator): Promise<IBox> {
  const b = await locator.boundingBox();
  expect(b, 'element has a box (is it rendered?)').not.toBeNull();
  return b!;
}

/** `inner` lies inside `outer`, to a pixel of rounding. */
function expectInside(inner: IBox, outer: IBox, what: string): void {
  const slack = 1;
  expect(inner.x, `${what}: left edge`).toBeGreaterThanOrEqual(outer.x - slack);
  expect(inner.y, `${what}: top edge`).toBeGreaterThanOrEqual(outer.y - slack);
  expect(inner.x + inner.width, `${what}: right edge`).toBeLessThanOrEqual(outer.x + outer.width + slack);
  expect(inner.y + inner.height, `${what}: bottom edge`).toBeLessThanOrEqual(outer.y + outer.height + slack);
}

/** How many axes of the parallel coordinates lie wholly inside their scrolling box. */
async function axesInView(view: Locator): Promise<{ shown: number; total: number; spacing: number }> {
  return view.locator('.jp-DSI-parcoords').evaluate(scroller => {
    const outer = scroller.getBoundingClientRect();
    const axes = [...scroller.querySelectorAll('g[data-axis]')].map(g => g.getBoundingClientRect());
    const xs = axes.map(r => r.left + r.width / 2).sort((a, b) => a - b);
    const spacing = xs.length > 1 ? Math.min(...xs.slice(1).map((x, i) => x - xs[i])) : Infinity;
    return {
      shown: xs.filter(x => x >= outer.left && x <= outer.right).length,
      total: axes.length,
      spacing
    };
  });
}

async function setTheme(page: IJupyterLabPageFixture, theme: 'light' | 'dark'): Promise<void> {
  if (theme === 'dark') {
    await page.theme.setDarkTheme();
  }
}

for (const theme of ['light', 'dark'] as const) {
  test.describe(`layout, ${theme} theme`, () => {
    test.use({ viewport: { width: 1280, height: 800 } });
    // The main-area tests open data/sample.sqlite (a real name, not the test's folder).
    test.afterEach(async ({ page }) => {
      if (await page.contents.directoryExists('data')) {
        await page.contents.deleteDirectory('data');
      }
    });

    test('the sidebar at its default width', async ({ page, tmpPath }) => {
      await setTheme(page, theme);
      await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/sample.sqlite`);
      await page.evaluate(async path => {
        await (window as any).jupyterapp.commands.execute('dsi:open', { path });
      }, `${tmpPath}/sample.sqlite`);
      const sidebar = page.locator('#jp-dsi-explorer');
      const view = sidebar.locator('.jp-DSI-explorerView');
      await expect(view.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
      // A selection, so that the filter string is a real one (two terms).
      await brushAxis(page, view, 'd_density', 0.45, 0.9);
      await brushAxis(page, view, 'cs', 0.05, 0.45);
      await expect(view.getByTestId('dsi-filter')).toContainText('cs ');
      await page.mouse.move(0, 0);

      const panel = await box(sidebar);
      const viewport = page.viewportSize()!;
      // Save and the filter string: always on screen, however far the panel is scrolled.
      const save = view.getByRole('button', { name: 'Save…' });
      for (const where of ['top', 'bottom'] as const) {
        await sidebar.evaluate((el, w) => (el.scrollTop = w === 'top' ? 0 : el.scrollHeight), where);
        expectInside(await box(save), panel, `Save at the ${where}`);
        expectInside(await box(save), { x: 0, y: 0, ...viewport }, `Save at the ${where} (viewport)`);
      }
      await sidebar.evaluate(el => (el.scrollTop = 0));
      await keepScreenshot(page, `layout-sidebar-${theme}.png`);
      // The filter string wraps as text does: a few lines at most, never a letter per line.
      const filter = await box(view.getByTestId('dsi-filter'));
      expect(filter.height).toBeLessThanOrEqual(80);
      expect(filter.width).toBeGreaterThan(panel.width * 0.5);
      // Every control lies inside the panel's width.
      for (const control of ['select[aria-label="Method"]', 'input[aria-label="Time step"]', 'select[aria-label="Color by"]']) {
        const b = await box(view.locator(control));
        expect(b.x).toBeGreaterThanOrEqual(panel.x);
        expect(b.x + b.width).toBeLessThanOrEqual(panel.x + panel.width);
      }
      // The axes keep a readable spacing; most of them show, the rest one scroll away.
      const axes = await axesInView(view);
      expect(axes.total).toBeGreaterThanOrEqual(10);
      expect(axes.spacing).toBeGreaterThanOrEqual(40);
      expect(axes.shown).toBeGreaterThanOrEqual(5);
      // The rest are one scroll away (Playwright's headless Chromium hides scrollbars, so
      // their thin bar is not measured here).
      expect(await view.getByTestId('dsi-parcoords').evaluate(el => el.scrollWidth > el.clientWidth)).toBe(true);
      // The scatter's axis titles are not cut: inside the scatter's box.
      const scatter = await box(view.getByTestId('dsi-scatter'));
      for (const label of await view.locator('.jp-dsi-Scatter-label').all()) {
        expectInside(await box(label), scatter, 'scatter axis title');
      }
      // Scrolled to the bottom, the scatter's left edge is still inside the panel.
      await sidebar.evaluate(el => (el.scrollTop = el.scrollHeight));
      const scrolled = await box(view.getByTestId('dsi-scatter'));
      expect(scrolled.x).toBeGreaterThanOrEqual(panel.x);
      expect(await sidebar.evaluate(el => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
      await keepScreenshot(page, `layout-sidebar-bottom-${theme}.png`);
      await sidebar.evaluate(el => (el.scrollTop = 0));
    });

    for (const size of [
      { width: 1280, height: 800 },
      { width: 1600, height: 1000 }
    ]) {
      test(`the main area at ${size.width}×${size.height}`, async ({ page }) => {
        await page.setViewportSize(size);
        await setTheme(page, theme);
        // Where `make demo` puts it: the README shows these screenshots, and with them the path.
        await page.contents.uploadFile(SAMPLE_DB, 'data/sample.sqlite');
        await page.evaluate(async path => {
          await (window as any).jupyterapp.commands.execute('docmanager:open', { path, factory: 'DSI Explorer' });
        }, 'data/sample.sqlite');
        await page.filebrowser.openDirectory('data');
        const area = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
        const view = area.locator('.jp-DSI-explorerView');
        await expect(view.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
        await brushAxis(page, view, 'd_density', 0.45, 0.9);
        await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
        await area.evaluate(el => (el.scrollTop = 0));
        await page.mouse.move(0, 0);
        await keepScreenshot(page, `layout-main-${size.width}x${size.height}-${theme}.png`);

        // Without scrolling: the controls, both views and Save inside the panel's visible box.
        const panel = await box(area);
        const things: [string, Locator][] = [
          ['time slider', view.locator('input[aria-label="Time step"]')],
          ['method', view.locator('select[aria-label="Method"]')],
          ['color by', view.locator('select[aria-label="Color by"]')],
          ['parallel coordinates', view.getByTestId('dsi-parcoords')],
          ['scatter', view.getByTestId('dsi-scatter')],
          ['Save', view.getByRole('button', { name: 'Save…' })],
          ['filter', view.getByTestId('dsi-filter')]
        ];
        for (const [what, locator] of things) {
          expectInside(await box(locator), panel, what);
        }
        // Both views get a useful size, and every axis shows.
        const pc = await box(view.getByTestId('dsi-parcoords'));
        const sc = await box(view.getByTestId('dsi-scatter'));
        expect(pc.height).toBeGreaterThanOrEqual(220);
        expect(sc.height).toBeGreaterThanOrEqual(220);
        const axes = await axesInView(view);
        expect(axes.shown).toBe(axes.total);
        const filter = await box(view.getByTestId('dsi-filter'));
        expect(filter.height).toBeLessThanOrEqual(60);
        // Readable plots: ticks of at least 10 px, and the lines' tick labels on a halo of the
        // view's own background (not a white patch in the dark theme).
        const ticks = await view.evaluate(root => {
          const probe = document.createElement('canvas').getContext('2d')!;
          const norm = (css: string) => {
            probe.fillStyle = '#010203';
            probe.fillStyle = css;
            return String(probe.fillStyle);
          };
          const sizes = [...root.querySelectorAll('.jp-dsi-Scatter-axis text, .jp-DSI-pc-ticks text')].map(t => parseFloat(getComputedStyle(t).fontSize));
          const halos = new Set([...root.querySelectorAll('.jp-DSI-pc-ticks text')].map(t => norm(t.getAttribute('stroke') ?? '')));
          return { smallest: Math.min(...sizes), count: sizes.length, halos: [...halos], background: norm(getComputedStyle(root.querySelector('.jp-DSI-parcoords')!).backgroundColor) };
        });
        expect(ticks.count).toBeGreaterThan(20);
        expect(ticks.smallest).toBeGreaterThanOrEqual(10);
        expect(ticks.halos).toEqual([ticks.background]);
      });
    }
  });
}

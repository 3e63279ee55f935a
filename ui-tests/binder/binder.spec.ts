/**
 * The Binder link in a replayed Binder environment: JupyterLab opens examples/explore.ipynb, the
 * extension is enabled, the DSI Explorer opens the sample database that postBuild made, and the
 * notebook's first cells run in its kernel.
 */
import { expect, test } from '@jupyterlab/galata';

test.use({
  viewport: { width: 1400, height: 1000 },
  // Galata's default waits for the Launcher; a link to a notebook opens the notebook instead.
  waitForApplication: async ({}, use) => {
    await use(async page => {
      await page.locator('#jupyterlab-splash').waitFor({ state: 'detached', timeout: 120000 });
    });
  }
});

test('the Binder link opens the example notebook beside the explorer on the sample database', async ({ page }) => {
  await page.goto('tree/examples/explore.ipynb'); // Galata adds /lab, as the Binder link's urlpath
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'explore.ipynb' })).toBeVisible();
  await expect(page.locator('.jp-Notebook .jp-Cell').first()).toBeVisible();

  // postBuild's config makes the sidebar open the sample database on start.
  const sidebar = page.locator('#jp-dsi-explorer');
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('dsi:open'));
  await expect(sidebar.locator('.jp-DSI-path')).toHaveText('examples/data/sample.sqlite', { timeout: 60000 });
  await expect(sidebar.getByTestId('dsi-simulations')).toContainText('1,000');
  await expect(sidebar.getByTestId('dsi-methods')).toContainText('3');

  // The notebook's kernel has the package and reads the same database (asked directly, so the
  // repository's notebook is left as it was).
  const methods = await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const widget = [...app.shell.widgets('main')].find((w: any) => w.context?.path === 'examples/explore.ipynb');
    await widget.sessionContext.ready;
    const reply = await widget.sessionContext.session.kernel.requestExecute({
      code: 'from jupyterlab_dsi.magic import run as _dsi\n_n = len(_dsi("methods --db data/sample.sqlite"))',
      silent: true,
      store_history: false,
      user_expressions: { n: '_n' }
    }).done;
    return reply.content.user_expressions.n.data['text/plain'];
  });
  expect(methods).toBe('3');
});

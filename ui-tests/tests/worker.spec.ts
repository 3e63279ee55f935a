/**
 * A DSI Explorer whose Web Worker cannot start (its script answers 404, as after the extension
 * was rebuilt while the page was open) says so, with the way out, instead of "Loading…" for
 * ever; Reload starts a new worker once the script is there again.
 */
import { expect, test } from '@jupyterlab/galata';

import { expectedCounts, formatCount, openSampleDocument } from './helpers';

const expected = expectedCounts();

/** The worker's script: rspack names its chunk after lib/db/worker.js. */
const WORKER_SCRIPT = /\/lib_db_worker_js\.[^/]*\.js(\?.*)?$/;

test('a worker whose script is gone ends the loading with an error that says to reload the page', async ({
  page,
  tmpPath
}) => {
  const refused: string[] = [];
  await page.route(WORKER_SCRIPT, route => {
    refused.push(route.request().url());
    return route.fulfill({ status: 404, contentType: 'text/plain', body: 'gone' });
  });
  const logged: string[] = [];
  page.on('console', message => {
    if (message.type() === 'error') {
      logged.push(message.text());
    }
  });

  await openSampleDocument(page, tmpPath, 'sample.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  const error = panel.locator('.jp-DSI-error');
  await expect(error).toContainText("The DSI Explorer's worker could not start");
  await expect(error).toContainText('its script did not load');
  await expect(error).toContainText('reload the page');
  await expect(panel.locator('.jp-DSI-loading')).toHaveCount(0);
  await expect(panel).not.toContainText('Loading');
  expect(refused.length).toBeGreaterThan(0);
  expect(logged.some(text => text.includes("jupyterlab-dsi: The DSI Explorer's worker could not start"))).toBe(true);

  // Once the script is served again, the panel's Reload starts a new worker and opens the file.
  await page.unroute(WORKER_SCRIPT);
  await panel.getByRole('button', { name: 'Reload', exact: true }).click();
  await expect(panel.getByTestId('dsi-simulations')).toContainText(formatCount(expected.simulations));
  await expect(error).toHaveCount(0);
});

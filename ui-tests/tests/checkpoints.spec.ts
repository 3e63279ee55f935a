/**
 * JupyterLab never writes a database opened with "Open With → DSI Explorer": the Store is its
 * only writer. No checkpoint copy is made, Save is refused without a dialog and without touching
 * the file, and "Revert to Checkpoint" with a checkpoint left by an older version never puts a
 * stale copy back over a dataset saved since.
 */
import { expect, test } from '@jupyterlab/galata';
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { dsiJson, JUPYTER, openSampleDocument } from './helpers';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('the explorer document is never checkpointed, saved or reverted by JupyterLab', async ({ page, tmpPath }) => {
  const relative = `${tmpPath}/owned.sqlite`;
  const file = await openSampleDocument(page, tmpPath, 'owned.sqlite');
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible();

  // The context is populated (checkpoint step included) once its session context is ready.
  const checkpoints = await page.evaluate(async p => {
    const app = (window as any).jupyterapp;
    const widget = app.shell.currentWidget;
    await widget.context.ready;
    await widget.context.sessionContext.ready;
    return {
      list: await app.serviceManager.contents.listCheckpoints(p),
      writable: widget.context.contentsModel.writable,
      canSave: app.commands.isEnabled('docmanager:save')
    };
  }, relative);
  expect(checkpoints.list).toEqual([]);
  expect(checkpoints.writable).toBe(false);
  expect(checkpoints.canSave).toBe(false);
  // On disk too (the contents API hides dot-folders; listing checkpoints makes the empty folder).
  const folder = path.join(path.dirname(file), '.ipynb_checkpoints');
  expect(fs.existsSync(folder) ? fs.readdirSync(folder) : []).toEqual([]);

  // Ctrl+S: JupyterLab says the file is read-only in a toast; no error dialog, the bytes stay.
  const before = sha256(file);
  await panel.click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Control+s');
  await expect(page.locator('.jp-toast-message').filter({ hasText: 'read-only' })).toBeVisible();
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  expect(sha256(file)).toBe(before);

  // A checkpoint left by an older version, then a dataset saved by the CLI: reverting to the
  // checkpoint reloads the view and keeps the dataset.
  await page.evaluate(p => (window as any).jupyterapp.serviceManager.contents.createCheckpoint(p), relative);
  const method = dsiJson<{ id: string }[]>('methods', '--db', file)[0].id;
  execFileSync(JUPYTER, ['dsi', 'select', '--db', file, '--method', method, '--time', '39', '--save', 'kept after a revert', '-q']);
  const reverted = page.evaluate(() => (window as any).jupyterapp.commands.execute('docmanager:restore-checkpoint'));
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Revert' }).click();
  await reverted;
  expect(dsiJson<{ description: string }[]>('datasets', '--db', file).map(d => d.description)).toEqual(['kept after a revert']);
});

/**
 * A new ground truth on the fly (issue 17 §2) in a real JupyterLab on the sample database: the
 * New… form's default action computes every run's distances on the server without writing, the
 * views redraw on a scratch method named "scratch · <gt> · <norm>", and the distances shown (the
 * selection's CSV) equal what `jupyter dsi postprocess` stores for the same ground truth; Keep
 * stores them as a method, which the explorer then shows instead of the scratch.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { clickAPoint, dsiJson, JUPYTER, keepScreenshot, openSampleDocument, SAMPLE_DB } from './helpers';

test.use({ viewport: { width: 1400, height: 1200 } });

type Row = { sim_id: string; t: number; d_shock: number | null; d_edge: number | null; d_density: number | null };
const COLUMNS = ['d_shock', 'd_edge', 'd_density'] as const;

/** `jupyter dsi postprocess` into a copy of `db`: every (sim, step)'s stored distances. */
function postprocessed(db: string, groundTruth: string, norm: string): Map<string, Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-scratch-'));
  const copy = path.join(dir, 'copy.sqlite');
  fs.copyFileSync(db, copy);
  const out = execFileSync(JUPYTER, ['dsi', 'postprocess', '--db', copy, '--ground-truth', groundTruth, '--norm', norm, '-q'], {
    encoding: 'utf-8'
  });
  const id = out.trim().split('\n').pop()!;
  return stored(copy, id);
}

function stored(db: string, methodId: string): Map<string, Row> {
  const rows = dsiJson<Row[]>('select', '--db', db, '--method', methodId);
  return new Map(rows.map(r => [`${r.sim_id}@${r.t}`, r]));
}

/** The selection's CSV as the panel downloads it: sim_id -> the three distances. */
async function shownCsv(page: Page, view: Locator): Promise<Map<string, number[]>> {
  const bar = view.getByRole('group', { name: 'Export' });
  const [download] = await Promise.all([page.waitForEvent('download'), bar.getByRole('button', { name: 'CSV', exact: true }).click()]);
  const lines = fs.readFileSync((await download.path())!, 'utf-8').trim().split('\r\n');
  const header = lines[0].split(',');
  const at = COLUMNS.map(c => header.indexOf(c));
  expect(at.every(i => i > 0)).toBe(true);
  return new Map(
    lines.slice(1).map(line => {
      const cells = line.split(',');
      return [cells[0], at.map(i => (cells[i] === '' ? NaN : Number(cells[i])))];
    })
  );
}

/** Every run's shown distances at step `t` equal the stored ones to 1e-5 (relative above 1). */
function expectEqual(shown: Map<string, number[]>, expected: Map<string, Row>, t: number): void {
  const atStep = [...expected.values()].filter(r => r.t === t);
  expect(shown.size).toBe(atStep.length);
  let compared = 0;
  for (const row of atStep) {
    const values = shown.get(row.sim_id)!;
    COLUMNS.forEach((c, k) => {
      const want = row[c];
      if (want === null) {
        expect([row.sim_id, c, values[k]]).toEqual([row.sim_id, c, NaN]);
      } else {
        expect(Math.abs(values[k] - want), `${row.sim_id} ${c} at step ${t}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
        compared++;
      }
    });
  }
  expect(compared).toBeGreaterThan(2 * atStep.length); // most values are numbers, not both missing
}

test('a ground truth on the fly: the views redraw on a scratch method equal to postprocess, and Keep stores it', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(600000);
  // The CLI's answer first: the test's process waits on it (execFileSync), which would hold up
  // what Galata answers for the page meanwhile, and the panel's worker must start within 30 s.
  const expected = postprocessed(SAMPLE_DB, 'sim00042', 'L2');
  const file = await openSampleDocument(page, tmpPath, 'scratch.sqlite');
  const before = dsiJson<{ id: string }[]>('methods', '--db', file);

  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  const picker = view.locator('select[aria-label="Method"]');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const t = Number(await view.locator('input[aria-label="Time step"]').inputValue());

  await view.getByRole('button', { name: 'New…' }).click();
  const form = view.locator('form.jp-DSI-methodForm');
  await form.getByLabel('Ground truth simulation').fill('sim00042');
  await expect(form.getByLabel('Norm')).toHaveValue('L2');
  await form.getByRole('button', { name: 'Compute on the fly (not saved)' }).click();

  // The first request loads the fields into the server (a job with progress when it takes long).
  const scratch = view.getByTestId('dsi-scratch');
  const message = scratch.getByTestId('dsi-scratch-message');
  await expect(picker).toHaveValue('scratch:sim00042:L2:matched', { timeout: 120000 });
  await expect(picker.locator('option:checked')).toHaveText('scratch · sim00042 · L2');
  await expect(message).toContainText('scratch · sim00042 · L2: 1,000 runs × 40 steps in');
  await expect(message).toContainText('not saved');
  console.log(`click -> redrawn views, first ground truth (fields loaded from disk): ${await scratch.getAttribute('data-ms')} ms; ${await message.textContent()}`);
  await expect(form.getByTestId('dsi-method-message')).toHaveText('Shown as scratch · sim00042 · L2: not saved. Keep (beside the method) or Save stores it.');
  // Nothing was written: the file has the methods it had.
  expect(dsiJson<unknown[]>('methods', '--db', file)).toHaveLength(before.length);
  expect(Number(await view.locator('input[aria-label="Time step"]').inputValue())).toBe(t);
  expectEqual(await shownCsv(page, view), expected, t);

  // Another ground truth, the fields resident now: what the user waits for after a click.
  for (const gt of ['sim00100', 'sim00007', 'sim00100']) {
    await form.getByLabel('Ground truth simulation').fill(gt);
    await form.getByRole('button', { name: 'Compute on the fly (not saved)' }).click();
    await expect(picker).toHaveValue(`scratch:${gt}:L2:matched`);
    await expect(message).toContainText(`scratch · ${gt} · L2: 1,000 runs × 40 steps in`);
    console.log(`click -> redrawn views, ${gt} (resident): ${await scratch.getAttribute('data-ms')} ms; ${await message.textContent()}`);
  }
  // One scratch at a time: the picker lists the stored methods and the last scratch only.
  await expect(picker.locator('option')).toHaveCount(before.length + 1);
  const shown = await shownCsv(page, view);
  await form.getByRole('button', { name: 'Close' }).click();
  await keepScreenshot(view, 'scratch-method.png');

  // Keep: the same request post-processed and stored; the explorer turns to it, the scratch goes.
  await scratch.getByRole('button', { name: 'Keep' }).click();
  await expect(message).toContainText('Kept as method', { timeout: 180000 });
  const after = dsiJson<{ id: string; ground_truth: string; norm: string; gt_time: number | null; description: string }[]>('methods', '--db', file);
  expect(after).toHaveLength(before.length + 1);
  const kept = after.find(m => !before.some(b => b.id === m.id))!;
  expect([kept.ground_truth, kept.norm, kept.gt_time]).toEqual(['sim00100', 'L2', null]);
  expect(kept.description).toContain('scratch · sim00100 · L2');
  await expect(picker).toHaveValue(kept.id);
  await expect(picker.locator('option:checked')).toHaveText('sim00100 · L2 · matched');
  await expect(picker.locator('option')).toHaveCount(before.length + 1);
  await expect(scratch.getByRole('button', { name: 'Keep' })).toBeHidden();
  // What was shown on the fly is what the file now stores for that ground truth.
  expectEqual(shown, stored(file, kept.id), t);
  await keepScreenshot(view, 'scratch-kept.png');
});

test('a run clicked in the scatter, then "Use as ground truth" in its field view: distances recomputed as postprocess would', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(600000);
  const file = await openSampleDocument(page, tmpPath, 'use-as-gt.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  const picker = view.locator('select[aria-label="Method"]');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const current = dsiJson<{ id: string; norm: string }[]>('methods', '--db', file)[0]; // the panel opens on the newest
  await expect(picker).toHaveValue(current.id);
  const t = Number(await view.locator('input[aria-label="Time step"]').inputValue());

  const sim = await clickAPoint(page, view);
  const field = view.getByTestId('dsi-field-view');
  await expect(field.getByTestId('dsi-field-title')).toContainText(sim);
  await field.getByTestId('dsi-field-use').click();

  // The current method's norm and matched steps, with the clicked run as the ground truth.
  await expect(picker).toHaveValue(`scratch:${sim}:${current.norm}:matched`, { timeout: 120000 });
  await expect(picker.locator('option:checked')).toHaveText(`scratch · ${sim} · ${current.norm}`);
  const scratch = view.getByTestId('dsi-scratch');
  await expect(scratch.getByTestId('dsi-scratch-message')).toContainText('1,000 runs × 40 steps in');
  console.log(`Use as ground truth -> redrawn views: ${await scratch.getAttribute('data-ms')} ms; ${await scratch.getByTestId('dsi-scratch-message').textContent()}`);
  expect(dsiJson<unknown[]>('methods', '--db', file)).toHaveLength(3); // nothing written
  expectEqual(await shownCsv(page, view), postprocessed(file, sim, current.norm), t);
  // The field view follows: its ground truth is the clicked run now.
  await expect(field.getByTestId('dsi-field-gt')).toContainText(`ground truth ${sim}`);
  await keepScreenshot(view, 'scratch-use-as-ground-truth.png');
  // The scratch's line in the dark theme (theme variables only).
  await page.theme.setDarkTheme();
  await expect(scratch.getByRole('button', { name: 'Keep' })).toBeVisible();
  await keepScreenshot(view.locator('.jp-DSI-controls'), 'scratch-dark.png');
});

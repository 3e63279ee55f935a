/**
 * Proposals in a real JupyterLab (issue 16 §4): a run that logged sigma2 offers Propose…, one
 * without says why it does not; the form's own checks and the server's refusal leave nothing
 * recorded; a proposal of 15 points at seed 3 is recorded, listed and drawn over the explorer
 * (15 dashed lines in the parallel coordinates, each over a halo of the background, 15 hollow
 * marks in a parameter scatter), its CSV downloads what the CLI prints for it, and the CLI reads
 * the same record. Screenshots in both themes and at the sidebar's width.
 */
import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { dsiJson, JUPYTER, keepScreenshot, REPO, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1100 } });

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

/**
 * 120 runs with two continuous parameters (τ and bounds apply), one with numeric levels (gamma:
 * spread between them when ticked) and one with text levels (cs: always drawn from its levels).
 */
function runsCsv(): string {
  const lines = ['sim_id,energy,thickness,cs,gamma,yield'];
  for (let i = 0; i < 120; i++) {
    // A fixed, spread-out design (no randomness: the same file on every machine).
    const energy = 0.5 + ((i * 37) % 120) / 80;
    const thickness = 1 + ((i * 53) % 120) / 60;
    const cs = ['a', 'b', 'c'][i % 3];
    const gamma = [1.3, 1.4, 1.67][(i * 7) % 3];
    const y = (Math.sin(3 * energy) * thickness).toFixed(4);
    lines.push(`run${String(i).padStart(3, '0')},${energy.toFixed(4)},${thickness.toFixed(4)},${cs},${gamma},${y}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A model's predictions with sigma2 on every member of `dataset` (larger at high energy, where
 * the next simulations should go) and a run without sigma2. The script is fixed; the paths and
 * ids travel in argv.
 */
function recordRuns(file: string, dataset: string): void {
  const script = `
import sys
import pandas as pd
import jupyterlab_dsi as dsi
with dsi.open(sys.argv[1]) as ens:
    ds = ens.dataset(sys.argv[2])
    params = ens.select().reset_index().drop_duplicates("sim_id").set_index("sim_id")
    ids = sorted(ds.member_ids())
    energy = params.loc[ids, "energy"].astype(float)
    frame = pd.DataFrame({"yield": energy * 0.0, "sigma2": (energy - 0.4) ** 2}, index=ids)
    with ens.run(dataset=ds, name="gp with sigma2", description="proposals.spec") as run:
        run.log_metrics({"mse": 0.2}, step=0, context="val")
        run.log_predictions(frame)
    with ens.run(dataset=ds, name="ridge, no variance", description="proposals.spec") as run:
        run.log_metrics({"mse": 0.3}, step=0, context="val")
        run.log_predictions(frame[["yield"]])
`;
  execFileSync(PYTHON, ['-c', script, file, dataset], { encoding: 'utf-8' });
}

function cli(...args: string[]): string {
  return execFileSync(JUPYTER, ['dsi', ...args], { encoding: 'utf-8' });
}

/** A database of `runsCsv` with a dataset of every run and the two runs; answers its path. */
async function prepare(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<string> {
  const dir = path.join(await serverRoot(page), tmpPath);
  fs.mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, `${name}.csv`);
  fs.writeFileSync(csv, runsCsv());
  const file = path.join(dir, `${name}.sqlite`);
  cli('ingest', '-q', '--db', file, '--metrics', 'yield', csv);
  const saved = cli('select', '--db', file, '--save', 'phase 0').trim().split('\n');
  recordRuns(file, saved[saved.length - 1].trim());
  return file;
}

async function openDocument(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<Locator> {
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/${name}.sqlite`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.locator('g[data-axis="energy"]')).toBeVisible({ timeout: 60000 });
  return panel;
}

async function hideToasts(page: IJupyterLabPageFixture): Promise<void> {
  await page.addStyleTag({ content: '.Toastify, .Toastify__toast-container { display: none !important; }' });
}

const runRow = (panel: Locator, name: string) => panel.locator('.jp-DSI-runsTable tbody tr').filter({ has: panel.page().locator('.jp-DSI-runNameText', { hasText: name }) });

/** The proposal overlay's elements (TS-views' classes: parcoords paths, scatter circles). */
const LINES = 'path.jp-DSI-pc-proposal';
const MARKS = 'circle.jp-dsi-Scatter-proposal';
/** Their halos: other classes, so that the counts above stay one per point. */
const HALOS = 'path.jp-DSI-pc-proposalHalo';
const MARK_HALOS = 'circle.jp-dsi-Scatter-proposalHalo';

/**
 * How the halos sit with the marks, as the browser computed them: one per mark with the same
 * geometry, every halo before (under) every mark, stroked wider, in the view's background
 * (--jp-layout-color0 of the theme in effect).
 */
async function haloOrder(panel: Locator, marks: string, halos: string): Promise<{ same: number; before: boolean; wider: boolean; background: boolean }> {
  return panel.evaluate(
    (root, [m, hl]) => {
      const ms = [...root.querySelectorAll<SVGElement>(m)];
      const hs = [...root.querySelectorAll<SVGElement>(hl)];
      const geometry = (el: Element) => ['d', 'cx', 'cy', 'r'].map(a => el.getAttribute(a)).join('|');
      const probe = document.createElement('div');
      probe.style.color = getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim();
      document.body.appendChild(probe);
      const background = getComputedStyle(probe).color;
      probe.remove();
      return {
        same: hs.filter((h, i) => ms[i] && geometry(h) === geometry(ms[i])).length,
        before: hs.every(h => ms.every(x => (h.compareDocumentPosition(x) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0)),
        wider: hs.every((h, i) => parseFloat(getComputedStyle(h).strokeWidth) >= parseFloat(getComputedStyle(ms[i]).strokeWidth) + 2),
        background: hs.every(h => getComputedStyle(h).stroke === background)
      };
    },
    [marks, halos] as const
  );
}

test('Propose… records 15 points at seed 3, lists them and draws them over the explorer', async ({ page, tmpPath }) => {
  const file = await prepare(page, tmpPath, 'prop');
  const panel = await openDocument(page, tmpPath, 'prop');
  const runs = dsiJson<{ id: string; name: string }[]>('runs', '--db', file);
  const gp = runs.find(r => r.name === 'gp with sigma2')!;
  await panel.getByRole('tab', { name: /Runs/ }).click();
  const proposals = panel.locator('section.jp-DSI-proposals');
  await expect(proposals.locator('h3')).toHaveText('Proposals (0)');
  await expect(proposals).toContainText('jupyter dsi propose --db');

  // The run without sigma2: Propose… is there, inactive, and says why.
  const plain = runRow(panel, 'ridge, no variance').getByRole('button', { name: 'Propose…' });
  await expect(plain).toHaveAttribute('aria-disabled', 'true');
  await expect(plain).toHaveAttribute('title', /logged no sigma2/);
  // Resolves once the click went through the button's own handler and bubbled to the document.
  const handled = page.evaluate(
    () => new Promise<void>(resolve => document.addEventListener('click', () => requestAnimationFrame(() => requestAnimationFrame(() => resolve())), { once: true }))
  );
  await plain.click({ force: true }); // aria-disabled: Playwright would wait for it to be enabled
  await handled;
  const form = panel.locator('form.jp-DSI-proposalForm');
  await expect(form).toBeHidden();
  await expect(plain).not.toHaveAttribute('aria-expanded', 'true');

  await runRow(panel, 'gp with sigma2').getByRole('button', { name: 'Propose…' }).click();
  await expect(form).toBeVisible();
  await expect(form.getByLabel('n (points)')).toBeFocused();
  await expect(form.getByLabel('n (points)')).toHaveValue('20');
  await expect(form.getByLabel('τ of energy')).toHaveAttribute('placeholder', /^0\.\d+/);
  await expect(form.getByLabel('Lower bound of energy')).toHaveAttribute('placeholder', '0.5');
  await expect(form).toContainText('Drawn from their study points’ levels: cs.');

  // Checked in the form: one line by the field, nothing sent.
  await form.getByLabel('α').fill('0.5');
  await form.getByLabel('α').press('Enter');
  await expect(form.locator('.jp-DSI-fieldError:visible')).toHaveText(['α < 1 mixes in an entropy column: name it, or set α to 1.']);
  await expect(form.getByLabel('Entropy column')).toBeFocused();
  await form.getByLabel('α').fill('1');

  // Refused by the server (bounds outside the study set): its line, nothing recorded.
  await form.getByLabel('Lower bound of energy').fill('5');
  await form.getByLabel('Upper bound of energy').fill('6');
  await form.getByRole('button', { name: 'Propose' }).click();
  await expect(panel.getByTestId('dsi-propose-message')).toContainText(/^Not recorded: .*bounds/);
  await expect(form).toBeVisible();
  expect(dsiJson<unknown[]>('proposals', '--db', file)).toHaveLength(0);
  await form.getByLabel('Lower bound of energy').fill('');
  await form.getByLabel('Upper bound of energy').fill('');
  await expect(panel.getByTestId('dsi-propose-message')).toBeEmpty(); // edited: the refusal goes

  await form.getByLabel('n (points)').fill('15');
  await form.getByLabel('Seed').fill('3');
  await form.getByLabel('τ of thickness').fill('0.05');
  await expect(form.getByLabel('τ of gamma')).toBeDisabled(); // levels kept unless ticked
  await form.getByLabel('Spread gamma between its levels').check();
  await expect(form.getByLabel('τ of gamma')).toBeEnabled();
  await hideToasts(page);
  await keepScreenshot(panel.locator('.jp-DSI-runs'), 'proposals-form-light.png');
  await form.getByLabel('Seed').press('Enter'); // Enter submits

  await expect(form).toBeHidden();
  const row = proposals.locator('tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveClass(/jp-mod-shown/);
  await expect(row.locator('td')).toHaveText([/./, 'gp with sigma2', '15', '3', '1', 'thickness 0.05', '0 of 15 simulated', 'Hide', 'CSV']);
  await expect(proposals.getByTestId('dsi-proposals-note')).toContainText('15 points from “gp with sigma2” (seed 3)');
  await expect(row.getByRole('button', { name: 'Hide' })).toBeFocused();
  await keepScreenshot(proposals, 'proposals-list-light.png');

  // Recorded: the CLI reads the same record, with the policy the form sent.
  const records = dsiJson<{ id: string; n: number; run_id: string; policy: Record<string, any> }[]>('proposals', '--db', file);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ n: 15, run_id: gp.id, policy: { seed: 3, alpha: 1, tau: { thickness: 0.05 }, continuous: ['gamma'] } });
  // gamma was spread: its 15 values are not all on its three levels.
  const points = cli('proposals', '--db', file, records[0].id).trim().split('\n');
  const column = points[0].split(',').indexOf('gamma');
  const gammas = points.slice(1).map(line => Number(line.split(',')[column]));
  expect(gammas.filter(g => ![1.3, 1.4, 1.67].includes(g)).length).toBeGreaterThan(0);
  await expect(row).toHaveAttribute('data-proposal-id', records[0].id);

  // CSV: the points as a download, the bytes `jupyter dsi proposals --db FILE ID` prints (the
  // file `jupyter dsi sample OUT --params` reads): its header, 15 rows.
  const [csv] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /^Download the points of .* as CSV$/ }).click()]);
  expect(csv.suggestedFilename()).toBe(`proposal-${records[0].id.slice(0, 8)}.csv`);
  const downloaded = fs.readFileSync((await csv.path())!, 'utf-8');
  const lines = downloaded.trim().split(/\r?\n/);
  expect(lines[0]).toBe(points[0]);
  expect(lines[0].split(',')).toEqual(expect.arrayContaining(['energy', 'thickness', 'cs', 'gamma', 'proposal_id', 'component']));
  expect(lines.slice(1)).toHaveLength(15);
  expect(downloaded).toBe(cli('proposals', '--db', file, records[0].id));
  await expect(proposals.getByTestId('dsi-proposals-error')).toBeHidden();

  // Drawn over the explorer: 15 dashed lines; with parameters on both scatter axes, 15 hollow marks.
  await panel.getByRole('tab', { name: 'Explore' }).click();
  await expect(panel.locator(LINES)).toHaveCount(15);
  expect(await panel.locator(LINES).first().getAttribute('stroke-dasharray')).toBeTruthy();
  // Each over its halo: the same path, wider, in the view's background, drawn before all lines.
  await expect(panel.locator(HALOS)).toHaveCount(15);
  expect(await haloOrder(panel, LINES, HALOS)).toEqual({ same: 15, before: true, wider: true, background: true });
  await panel.getByLabel('Scatter x').selectOption('energy');
  await panel.getByLabel('Scatter y').selectOption('thickness');
  await expect(panel.locator(MARKS)).toHaveCount(15);
  await expect(panel.locator(MARK_HALOS)).toHaveCount(15);
  expect(await haloOrder(panel, MARKS, MARK_HALOS)).toEqual({ same: 15, before: true, wider: true, background: true });
  await keepScreenshot(panel, 'proposals-explorer-light.png');

  // Hidden from the Runs page: the explorer draws none.
  await panel.getByRole('tab', { name: /Runs/ }).click();
  await row.getByRole('button', { name: 'Hide' }).click();
  await expect(row).not.toHaveClass(/jp-mod-shown/);
  await panel.getByRole('tab', { name: 'Explore' }).click();
  await expect(panel.locator(LINES)).toHaveCount(0);
  await expect(panel.locator(MARKS)).toHaveCount(0);
  await expect(panel.locator(HALOS)).toHaveCount(0);
  await expect(panel.locator(MARK_HALOS)).toHaveCount(0);
});

test('dark theme, Escape, and the form at the sidebar’s width', async ({ page, tmpPath }) => {
  await page.theme.setDarkTheme();
  const file = await prepare(page, tmpPath, 'dark');
  const panel = await openDocument(page, tmpPath, 'dark');
  cli('propose', '--db', file, '--run', dsiJson<{ id: string; name: string }[]>('runs', '--db', file).find(r => r.name === 'gp with sigma2')!.id, '--n', '12', '--seed', '1');
  await panel.getByRole('tab', { name: /Runs/ }).click();
  const proposals = panel.locator('section.jp-DSI-proposals');
  await expect(proposals.locator('tbody tr')).toHaveCount(1, { timeout: 30000 });
  await proposals.getByRole('button', { name: 'Show' }).click();
  await expect(proposals.locator('tbody tr')).toHaveClass(/jp-mod-shown/);
  const propose = runRow(panel, 'gp with sigma2').getByRole('button', { name: 'Propose…' });
  await propose.click();
  const form = panel.locator('form.jp-DSI-proposalForm');
  await form.getByLabel('Seed').fill('-1');
  await form.getByLabel('Seed').press('Enter');
  await expect(form.locator('.jp-DSI-fieldError:visible')).toHaveText(['The seed must be a whole number ≥ 0.']);
  await hideToasts(page);
  await keepScreenshot(panel.locator('.jp-DSI-runs'), 'proposals-dark.png');
  await form.getByLabel('Seed').press('Escape');
  await expect(form).toBeHidden();
  await expect(propose).toBeFocused();
  await panel.getByRole('tab', { name: 'Explore' }).click();
  await expect(panel.locator(LINES)).toHaveCount(12);
  // The halos take the dark background: the dashes read over the yellow lines.
  expect(await haloOrder(panel, LINES, HALOS)).toEqual({ same: 12, before: true, wider: true, background: true });
  await keepScreenshot(panel, 'proposals-explorer-dark.png');

  // The sidebar, light, at its default width: the form is one column and fits.
  await page.theme.setLightTheme();
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('dsi:open', { path: p });
  }, path.relative(await serverRoot(page), file));
  const sidebar = page.locator('#jp-dsi-explorer');
  await sidebar.getByRole('tab', { name: /Runs/ }).click();
  await runRow(sidebar, 'gp with sigma2').getByRole('button', { name: 'Propose…' }).click();
  const side = sidebar.locator('form.jp-DSI-proposalForm');
  await expect(side).toBeVisible();
  await side.scrollIntoViewIfNeeded();
  const [formBox, sideBox] = [await side.boundingBox(), await sidebar.boundingBox()];
  expect(formBox!.x).toBeGreaterThanOrEqual(sideBox!.x);
  expect(formBox!.x + formBox!.width).toBeLessThanOrEqual(sideBox!.x + sideBox!.width);
  const [n, seed] = [await side.getByLabel('n (points)').boundingBox(), await side.getByLabel('Seed').boundingBox()];
  expect(seed!.y).toBeGreaterThan(n!.y + n!.height); // one column: seed under n
  await keepScreenshot(side, 'proposals-form-sidebar.png');
});

/**
 * The Runs tab (issue 15 §3) in a real JupyterLab: runs recorded through the Python API and the
 * CLI on two datasets saved from the panel are listed and sort; ticked runs are compared as one
 * curve each; an efficacy point restores its dataset (the filter string comes back); a run
 * started from the shell while the panel is open appears by itself. Screenshots in both themes
 * and at the sidebar's width.
 */
import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

import { brushAxis, dsiJson, JUPYTER, keepScreenshot, REPO, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1100 } });

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

/**
 * Record finished runs through the Python API, one process for all: each is
 * [dataset id, run name, [val/mse at steps 0..n-1]]. The script is fixed; the values travel as
 * JSON in argv.
 */
function recordRuns(file: string, runs: [string, string, number[]][]): void {
  const script = `
import json, sys
import jupyterlab_dsi as dsi
with dsi.open(sys.argv[1]) as ens:
    for dataset, name, values in json.loads(sys.argv[2]):
        with ens.run(dataset=ens.dataset(dataset), name=name, description="runs.spec") as run:
            run.log_params({"lr": 0.01, "kernel": "rbf"})
            for step, value in enumerate(values):
                run.log_metrics({"mse": value}, step=step, context="val")
            run.log_metrics({"r2": 1 - values[-1]}, step=len(values) - 1)
`;
  execFileSync(PYTHON, ['-c', script, file, JSON.stringify(runs)], { encoding: 'utf-8' });
}

function cli(...args: string[]): string {
  return execFileSync(JUPYTER, ['dsi', ...args], { encoding: 'utf-8' });
}

/** Save the selection of a d_density brush from the panel as a dataset; answers its filter. */
async function saveBrushed(page: IJupyterLabPageFixture, panel: Locator, name: string, from: number, to: number): Promise<string> {
  await panel.getByRole('tab', { name: 'Explore' }).click();
  await brushAxis(page, panel, 'd_density', from, to);
  const filter = (await panel.getByTestId('dsi-filter').textContent())!;
  await panel.getByRole('button', { name: 'Save…' }).click();
  await panel.getByTestId('dsi-save-description').fill(`density distances ${from}-${to}`);
  await panel.getByLabel('Dataset name').fill(name);
  await panel.locator('form.jp-DSI-saveForm').getByRole('button', { name: 'Save' }).click();
  await expect(panel.getByTestId('dsi-saved')).toContainText(`Saved “${name}”`);
  return filter;
}

async function openDocument(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<{ file: string; panel: Locator }> {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/${name}`);
  const file = path.join(await serverRoot(page), tmpPath, name);
  cli('datasets', '--db', file); // migrates the sample to this schema before the panel reads it
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/${name}`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
  return { file, panel };
}

/** The "no notebook linked" toasts of the saves would cover the panel's corner in the screenshots. */
async function hideToasts(page: IJupyterLabPageFixture): Promise<void> {
  await page.addStyleTag({ content: '.Toastify, .Toastify__toast-container { display: none !important; }' });
}

const names = (panel: Locator) => panel.locator('.jp-DSI-runsTable tbody td.jp-DSI-datasetName');

test('runs listed and sorted, curves compared, an efficacy point restores its dataset, a shell run appears', async ({ page, tmpPath }) => {
  const { file, panel } = await openDocument(page, tmpPath, 'runs.sqlite');
  const nearFilter = await saveBrushed(page, panel, 'near', 0.02, 0.35);
  const farFilter = await saveBrushed(page, panel, 'far', 0.6, 0.98);
  const datasets = dsiJson<{ id: string; name: string; filter: string }[]>('datasets', '--db', file);
  const near = datasets.find(d => d.name === 'near')!;
  const far = datasets.find(d => d.name === 'far')!;
  expect([near.filter, far.filter]).toEqual([nearFilter, farFilter]);
  recordRuns(file, [
    [near.id, 'gp near', [0.5, 0.3, 0.2, 0.15]],
    [near.id, 'mlp near', [0.6, 0.4, 0.3, 0.25]],
    [far.id, 'gp far', [0.9, 0.8, 0.7, 0.65]],
    [far.id, 'mlp far', [0.8, 0.75, 0.7, 0.6]]
  ]);

  // No reload: the panel sees the runs in the event log and catches up by itself.
  await expect(panel.getByRole('tab', { name: 'Runs (4)' })).toBeVisible({ timeout: 30000 });
  await panel.getByRole('tab', { name: /Runs/ }).click();
  await expect(names(panel)).toHaveText(['mlp far', 'gp far', 'mlp near', 'gp near']); // newest first
  const table = panel.locator('.jp-DSI-runsTable');
  await expect(table.locator('thead')).toContainText('val/mse');
  await expect(table.locator('tbody tr').first()).toContainText('finished');

  // Sorting: by name, then reversed; by the metric, best (lowest) first.
  await table.getByRole('button', { name: /^Name/ }).click();
  await expect(names(panel)).toHaveText(['gp far', 'gp near', 'mlp far', 'mlp near']);
  await table.getByRole('button', { name: /^Name/ }).click();
  await expect(names(panel)).toHaveText(['mlp near', 'mlp far', 'gp near', 'gp far']);
  await table.getByRole('button', { name: /^val\/mse/ }).click();
  await expect(names(panel)).toHaveText(['gp near', 'mlp near', 'mlp far', 'gp far']);

  // Comparison: one curve per ticked run, in its own color, named in the legend.
  await panel.getByLabel('Compare gp near').check();
  await panel.getByLabel('Compare gp far').check();
  const curves = panel.getByTestId('dsi-run-curves');
  await expect(curves.locator('g.jp-DSI-curve')).toHaveCount(2);
  // The metric logged at every step is the one drawn, not r2's single point.
  await expect(panel.getByLabel('Metric', { exact: true })).toHaveValue('val/mse');
  await expect(curves.locator('g.jp-DSI-curve').first().locator('circle')).toHaveCount(4);
  await expect(curves.locator('.jp-DSI-chartLegend li')).toHaveText(['gp near', 'gp far']);
  const strokes = await curves.locator('g.jp-DSI-curve > path').evaluateAll(paths => paths.map(p => p.getAttribute('stroke')));
  expect(new Set(strokes).size).toBe(2);

  // Efficacy: a point per finished run; the legend names the datasets.
  const efficacy = panel.getByTestId('dsi-efficacy');
  await expect(efficacy.locator('circle.jp-DSI-efficacyPoint')).toHaveCount(4);
  await expect(efficacy.locator('.jp-DSI-chartLegend li')).toHaveText(['near', 'far']);
  // A run's curve never wears a dataset's color.
  const fills = await efficacy.locator('circle').evaluateAll(circles => circles.map(c => c.getAttribute('fill')));
  expect(strokes.filter(s => fills.includes(s))).toEqual([]);
  // Tick labels read at the theme's small size, not d3's 10 px shrunk again by an em (8 px).
  const tickPx = await efficacy.locator('.jp-DSI-chartAxis .tick text').first().evaluate(t => parseFloat(getComputedStyle(t).fontSize));
  expect(tickPx).toBeGreaterThanOrEqual(10);
  await hideToasts(page);
  await keepScreenshot(panel, 'runs-light.png');
  // x can be a parameter's range over each dataset's members: the near and far sets differ there.
  const xPick = panel.getByLabel('Dataset property (x)');
  const meanOf = await xPick.locator('option').evaluateAll(options =>
    options.map(o => o.textContent!).filter(t => t.startsWith('mean of '))
  );
  expect(meanOf.length).toBeGreaterThan(0);
  await xPick.selectOption({ label: meanOf[0] });
  await expect(efficacy.locator('.jp-DSI-chartTitle').first()).toHaveText(meanOf[0]);
  await expect(efficacy.locator('circle.jp-DSI-efficacyPoint')).toHaveCount(4);
  await xPick.selectOption({ label: 'Size (members)' });
  const point = efficacy.locator(`circle[data-dataset-id="${far.id}"]`).first();
  await point.hover();
  await expect(efficacy.locator('.jp-DSI-chartTip')).toContainText('far');
  await point.click();
  await expect(panel.getByRole('tab', { name: 'Explore' })).toHaveAttribute('aria-selected', 'true');
  await expect(panel.getByTestId('dsi-filter')).toHaveText(farFilter);

  // A run started from the shell while the panel shows the Runs tab: it appears by itself, running.
  await panel.getByRole('tab', { name: /Runs/ }).click();
  const out = cli('run', 'start', '--db', file, '--dataset', near.id, '--name', 'shell run').trim().split('\n');
  const id = out[out.length - 1].trim();
  cli('run', 'log', id, '--db', file, '--metric', 'mse=0.4', '--step', '0', '--context', 'val');
  const row = panel.locator(`tr[data-run-id="${id}"]`);
  await expect(row).toContainText('shell run', { timeout: 30000 });
  await expect(row.locator('.jp-DSI-runStatus')).toHaveText('running');
  await expect(panel.getByRole('tab', { name: 'Runs (5)' })).toBeVisible();
  // What the user set stayed: the metric sort and the two ticks.
  await expect(table.getByRole('button', { name: /^val\/mse/ })).toContainText('▲');
  await expect(panel.getByLabel('Compare gp near')).toBeChecked();
  await expect(curves.locator('g.jp-DSI-curve')).toHaveCount(2);
  cli('run', 'end', id, '--db', file);
  await expect(row.locator('.jp-DSI-runStatus')).toHaveText('finished', { timeout: 30000 });

  // Typing into the filter box, key by key: every key lands (the table re-renders on each one).
  const filter = panel.getByLabel('Filter runs');
  await filter.click();
  await filter.pressSequentially('gp ne', { delay: 40 });
  await expect(filter).toHaveValue('gp ne');
  await expect(filter).toBeFocused();
  await expect(names(panel)).toHaveText(['gp near']);
  await filter.fill('');
  await expect(names(panel)).toHaveCount(5);

  // A very long run name is cut with an ellipsis: the table stays as wide as its columns need.
  const longName = 'gp near, ' + 'a kernel with one lengthscale per input parameter, '.repeat(8) + 'tuned';
  const longOut = cli('run', 'start', '--db', file, '--dataset', near.id, '--name', longName).trim().split('\n');
  const longId = longOut[longOut.length - 1].trim();
  const longRow = panel.locator(`tr[data-run-id="${longId}"]`);
  await expect(longRow).toBeVisible({ timeout: 30000 });
  await expect(longRow.locator('.jp-DSI-runNameText')).toHaveAttribute('title', longName);
  const nameWidth = await longRow.locator('td.jp-DSI-runName').evaluate(td => td.getBoundingClientRect().width);
  expect(nameWidth).toBeLessThan(400);
  const [tableWidth, room] = await table.evaluate(t => [t.getBoundingClientRect().width, t.parentElement!.clientWidth]);
  expect(tableWidth).toBeLessThanOrEqual(room);
  cli('run', 'end', longId, '--db', file);
  await expect(longRow.locator('.jp-DSI-runStatus')).toHaveText('finished', { timeout: 30000 });

  // Lineage of a run: the graph shows the run, the dataset it used and that dataset's method.
  const gpNear = dsiJson<{ id: string; name: string }[]>('runs', '--db', file).find(r => r.name === 'gp near')!;
  await panel.locator(`tr[data-run-id="${gpNear.id}"]`).getByRole('button', { name: 'Lineage' }).click();
  const graph = page.locator('.jp-DSI-lineage');
  await expect(graph.locator(`g.jp-DSI-dagNode[data-id="${gpNear.id}"]`)).toBeVisible();
  await expect(graph.locator(`g.jp-DSI-dagNode[data-id="${near.id}"]`)).toBeVisible();
  await expect(graph.locator('g.jp-DSI-dagNode[data-kind="method"]')).not.toHaveCount(0);
});

test('dark theme and the sidebar width', async ({ page, tmpPath }) => {
  await page.theme.setDarkTheme();
  const { file, panel } = await openDocument(page, tmpPath, 'dark.sqlite');
  await saveBrushed(page, panel, 'near', 0.02, 0.35);
  await saveBrushed(page, panel, 'far', 0.6, 0.98);
  const datasets = dsiJson<{ id: string; name: string }[]>('datasets', '--db', file);
  const [near, far] = ['near', 'far'].map(n => datasets.find(d => d.name === n)!.id);
  const mlpFar = 'mlp far, 3 hidden layers of 256 units, dropout 0.2, early stopping on val/mse';
  recordRuns(file, [
    [near, 'gp near', [0.5, 0.3, 0.2, 0.15]],
    [near, 'mlp near', [0.6, 0.4, 0.3, 0.25]],
    [far, 'gp far', [0.9, 0.8, 0.7, 0.65]],
    [far, mlpFar, [0.8, 0.75, 0.7, 0.6]]
  ]);
  await expect(panel.getByRole('tab', { name: 'Runs (4)' })).toBeVisible({ timeout: 30000 });
  await panel.getByRole('tab', { name: /Runs/ }).click();
  await panel.getByLabel('Compare gp near').check();
  await panel.getByLabel(`Compare ${mlpFar}`).check();
  await expect(panel.getByTestId('dsi-run-curves').locator('g.jp-DSI-curve')).toHaveCount(2);
  await expect(panel.getByTestId('dsi-efficacy').locator('circle')).toHaveCount(4);
  await hideToasts(page);
  await keepScreenshot(panel, 'runs-dark.png');

  // The same file in the sidebar, back in the light theme, at its default width.
  await page.theme.setLightTheme();
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('dsi:open', { path: p });
  }, path.relative(await serverRoot(page), file));
  const sidebar = page.locator('#jp-dsi-explorer');
  await sidebar.getByRole('tab', { name: /Runs/ }).click();
  const efficacy = sidebar.getByTestId('dsi-efficacy');
  await expect(efficacy.locator('circle')).toHaveCount(4);
  const width = await efficacy.locator('svg').evaluate(svg => svg.getBoundingClientRect().width);
  const room = await sidebar.evaluate(node => node.getBoundingClientRect().width);
  expect(width).toBeLessThanOrEqual(room); // drawn to the sidebar's width, not past it
  // The long-named run's tip wraps inside the sidebar instead of running past its edge.
  const longPoint = efficacy.locator('circle.jp-DSI-efficacyPoint').filter({ has: page.locator('title', { hasText: 'mlp far, 3 hidden' }) });
  await longPoint.hover();
  const tip = efficacy.locator('.jp-DSI-chartTip');
  await expect(tip).toContainText('early stopping');
  const [tipBox, sideBox] = [await tip.boundingBox(), await sidebar.boundingBox()];
  expect(tipBox!.x).toBeGreaterThanOrEqual(sideBox!.x);
  expect(tipBox!.x + tipBox!.width).toBeLessThanOrEqual(sideBox!.x + sideBox!.width);
  await page.mouse.move(0, 0);
  await keepScreenshot(sidebar.locator('section[aria-label="Efficacy"]'), 'efficacy-sidebar.png');
});

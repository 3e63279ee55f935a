/**
 * The loop in the panel (issue 15 §3, §4), in a real JupyterLab: a dataset saved from the panel,
 * split and trained on through the Python API, has a lineage graph whose nodes open what they
 * are (the dataset node restores its view); the run's predictions are an `error of <run>` axis
 * that brushes to the count Python gives; a split's part highlights its members; a changed
 * source makes the dataset stale after `jupyter dsi verify --sources`, and simulations ingested
 * later are counted as new matches of its filter. Screenshots of the graph in both themes.
 */
import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { brushAxis, dsiJson, JUPYTER, keepScreenshot, REPO, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1100 } });

const PYTHON = path.join(REPO, '.venv', 'bin', 'python');
const RUN = 'gp-small';

function cli(...args: string[]): string {
  return execFileSync(JUPYTER, ['dsi', ...args], { encoding: 'utf-8' });
}

async function count(view: Locator): Promise<number> {
  const text = (await view.getByTestId('dsi-selection-count').locator('strong').textContent()) ?? '';
  return Number(text.replace(/,/g, ''));
}

async function openDocument(page: IJupyterLabPageFixture, relative: string): Promise<Locator> {
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, relative);
  return page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
}

/**
 * Split the dataset and record a run that predicts `s2` for every simulation, a third right, a
 * third off by one and a third by two, with an artifact. Answers the split's train members and each simulation's error as
 * Python reads them back from the file.
 */
function train(file: string, datasetId: string, artifact: string): { train: string[]; errors: Record<string, number> } {
  const script = `
import json, sys
import jupyterlab_dsi as dsi
with dsi.open(sys.argv[1]) as ens:
    ds = ens.dataset(sys.argv[2])
    split = ds.split(fractions=(0.5, 0.5), seed=0, names=("train", "test"))
    # s2 takes whole numbers: errors of 0 and 1 are exact in float32 and in Python's doubles.
    frame = ens.select(time=0)[["s2"]]  # one row per simulation, indexed by sim_id
    off = [(1, 2, 0)[i % 3] for i in range(len(frame))]
    frame["prediction"] = frame["s2"].astype(float) + off
    frame["sigma2"] = [0.5 if o else 0.01 for o in off]
    with open(sys.argv[3], "wb") as f:
        f.write(b"weights")
    with ens.run(dataset=ds, split=split, name="${RUN}", description="lineage.spec") as run:
        run.log_predictions(frame[["prediction", "sigma2"]], target="s2")
        run.log_artifact(sys.argv[3], kind="model")
    rows = ens.store.conn.execute(
        "SELECT p.sim_id, p.value - v.value FROM jdsi_prediction p JOIN jdsi_param_value v"
        " ON v.sim_id = p.sim_id AND v.name = 's2'").fetchall()
    print(json.dumps({"train": sorted(split["train"].index), "errors": dict(rows)}))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, file, datasetId, artifact], { encoding: 'utf-8' }));
}

test('lineage graph, prediction columns and split parts of a dataset saved from the panel', async ({ page, tmpPath }) => {
  const root = await serverRoot(page);
  const folder = path.join(root, tmpPath);
  const ensemble = path.join(folder, 'ens');
  const file = path.join(folder, 'loop.sqlite');
  cli('sample', ensemble, '-q', '--sims', '60', '--steps', '4', '--grid', '16', '32', '--seed', '1');
  cli('ingest', ensemble, '--db', file, '-q');
  cli('postprocess', '--db', file, '-q', '--ground-truth', 'sim00000', '--norm', 'L2');

  const panel = await openDocument(page, `${tmpPath}/loop.sqlite`);
  await expect(panel.locator('g[data-axis="d_density"]')).toBeVisible({ timeout: 60000 });
  await brushAxis(page, panel, 'd_density', 0.3, 0.95);
  const saved = (await panel.getByTestId('dsi-filter').textContent())!;
  await panel.getByRole('button', { name: 'Save…' }).click();
  await panel.getByTestId('dsi-save-description').fill('far from the ground truth');
  await panel.getByLabel('Dataset name').fill('far');
  await panel.locator('form.jp-DSI-saveForm').getByRole('button', { name: 'Save' }).click();
  await expect(panel.getByTestId('dsi-saved')).toContainText('Saved “far”');
  const [dataset] = dsiJson<{ id: string }[]>('datasets', '--db', file);
  const { train: trainPart, errors } = train(file, dataset.id, path.join(folder, 'model.pt'));

  // The run's predictions arrive by themselves (the event log): error and sigma2 are axes.
  await panel.getByRole('tab', { name: 'Explore' }).click();
  const axis = `error of ${RUN}`;
  await expect(panel.locator(`g[data-axis="${axis}"]`)).toBeVisible({ timeout: 30000 });
  await expect(panel.locator(`g[data-axis="sigma2 of ${RUN}"]`)).toBeVisible();
  await panel.getByRole('button', { name: 'Clear', exact: true }).click();
  await brushAxis(page, panel, axis, 0.3, 0.7); // the middle of 0..2
  const filter = panel.getByTestId('dsi-filter');
  await expect(filter).toContainText(`\`${axis}\` between`);
  const brushed = (await filter.textContent())!;
  const [, lo, hi] = /between (\S+) and (\S+)/.exec(brushed)!;
  const expected = Object.values(errors).filter(e => e >= Number(lo) && e <= Number(hi)).length;
  expect(expected, brushed).toBe(20); // the third off by one, and only it
  await expect.poll(() => count(panel)).toBe(expected);
  await keepScreenshot(panel, 'lineage-error-axis.png');

  // The lineage graph, from the Datasets page: every record the CLI names, drawn.
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  const row = panel.locator(`tr[data-dataset-id="${dataset.id}"]`);
  await row.getByRole('button', { name: 'Lineage' }).click();
  const graph = page.locator('.jp-DSI-lineage');
  await expect(graph.locator('.jp-DSI-lineageTitle')).toHaveText('Lineage of dataset “far”');
  const expectedGraph = dsiJson<{ nodes: { kind: string }[] }>('lineage', dataset.id, '--db', file);
  await expect(graph.locator('g.jp-DSI-dagNode')).toHaveCount(expectedGraph.nodes.length);
  for (const kind of ['source', 'method', 'dataset', 'split', 'run', 'artifact']) {
    await expect(graph.locator(`g.jp-DSI-dagNode[data-kind="${kind}"]`).first()).toBeVisible();
  }
  await expect(graph.locator('g.jp-DSI-dagEdge')).toHaveCount(expectedGraph.nodes.length - 1);
  // The widget down to its last line, without the empty main area below the graph.
  const shot = {
    screenshot: async () => {
      const top = (await graph.boundingBox())!;
      const bottom = (await graph.locator('.jp-DSI-lineageDetails').boundingBox())!;
      return page.screenshot({ clip: { x: top.x, y: top.y, width: top.width, height: bottom.y + bottom.height + 12 - top.y } });
    }
  };
  await keepScreenshot(shot, 'lineage-light.png');
  await page.theme.setDarkTheme();
  await keepScreenshot(shot, 'lineage-dark.png');
  await page.theme.setLightTheme();

  // Enter on the dataset node restores it: its brush and filter come back in the explorer.
  await graph.locator(`g.jp-DSI-dagNode[data-id="${dataset.id}"]`).focus();
  await page.keyboard.press('Enter');
  await expect(panel.getByTestId('dsi-filter')).toHaveText(saved);
  await expect(panel.getByRole('tab', { name: 'Explore' })).toHaveAttribute('aria-selected', 'true');

  // A split part highlights its members.
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  await row.getByRole('button', { name: 'Splits' }).click();
  const splits = panel.locator('section.jp-DSI-splits');
  await splits.getByRole('button', { name: `train · ${trainPart.length}` }).click();
  await expect(panel.getByTestId('dsi-filter')).toContainText('sim_id in');
  await expect.poll(() => count(panel)).toBe(trainPart.length);

  // A run node brings the explorer forward on its Runs tab, the run ticked and highlighted.
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  await row.getByRole('button', { name: 'Lineage' }).click();
  await expect(graph).toBeVisible();
  await expect(panel).toBeHidden(); // the graph's tab covers the explorer's
  const runNode = graph.locator('g.jp-DSI-dagNode[data-kind="run"]');
  const runId = (await runNode.getAttribute('data-id'))!;
  await expect(runNode).toHaveAttribute('aria-describedby', /.+/);
  await runNode.click();
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('tab', { name: /Runs/ })).toHaveAttribute('aria-selected', 'true');
  const runRow = panel.locator(`tr[data-run-id="${runId}"]`);
  await expect(runRow).toHaveClass(/jp-mod-highlighted/);
  await expect(runRow.getByRole('checkbox', { name: `Compare ${RUN}` })).toBeChecked();
  await expect(runRow).toBeInViewport();
});

test('a changed source makes a dataset stale; simulations ingested later are counted as new matches', async ({ page, tmpPath }) => {
  const folder = path.join(await serverRoot(page), tmpPath);
  const first = path.join(folder, 'runs.csv');
  const later = path.join(folder, 'more.csv');
  const file = path.join(folder, 'stale.sqlite');
  fs.writeFileSync(first, 'sim_id,energy,shape\nr0,1.0,a\nr1,2.0,b\nr2,3.0,a\nr3,4.0,b\n');
  fs.writeFileSync(later, 'sim_id,energy,shape\nn0,0.5,a\nn1,3.5,a\nn2,5.0,b\nn3,6.0,a\n');
  cli('ingest', first, '--db', file, '-q');
  const id = cli('select', '--db', file, '--where', 'energy >= 2', '--save', 'the high-energy runs', '--name', 'high').trim().split('\n').pop()!;
  cli('ingest', later, '--db', file, '-q');
  fs.appendFileSync(first, 'r4,9.0,a\n'); // the source changes after ingest
  try {
    cli('verify', '--sources', '-q', '--db', file);
  } catch {
    // exit 1: something is stale, as expected
  }
  const python = JSON.parse(
    execFileSync(
      PYTHON,
      ['-c', 'import json, sys\nimport jupyterlab_dsi as dsi\nens = dsi.open(sys.argv[1])\nds = ens.dataset(sys.argv[2])\nfrom jupyterlab_dsi.staleness import new_matches\nprint(json.dumps({"stale": ds.stale, "new": new_matches(ens.store, ds.id)}))', file, id],
      { encoding: 'utf-8' }
    )
  );
  expect(python.new).toBe(3);

  const panel = await openDocument(page, `${tmpPath}/stale.sqlite`);
  await panel.getByRole('tab', { name: /Datasets/ }).click();
  const row = panel.locator(`tr[data-dataset-id="${id}"]`);
  const badge = row.getByTestId('dsi-stale');
  await expect(badge).toHaveText('stale');
  expect(await badge.getAttribute('title')).toBe(`Stale: ${python.stale.join('\n')}`);
  await expect(row.getByTestId('dsi-new-matches')).toHaveText(`${python.new} new simulations match this dataset’s filter: derive a new version`);
  await keepScreenshot(panel.locator('.jp-DSI-datasetsTable'), 'lineage-stale-dataset.png');
});

/**
 * Features that had no test at all (issue 14, section 6), as a user works them in a real
 * JupyterLab: the time slider's step and play buttons, Copy, the palette's Reload and Insert
 * Provenance Cells commands, the settings (default database, refresh period, provenance cells,
 * variable names), the "Kernel of" picker, the panel's side of `%dsi show` and `%dsi open`; and
 * errors that used to vanish: the periodic catch-up's failure (shown in the panel and logged
 * once, not on every poll) and a dataset whose stored settings are not JSON (not restored, said
 * why). Sorting, filtering, Export and Cell of the datasets page are in
 * src/panel/__tests__/datasetsPage.spec.ts; reordering axes in src/views/__tests__/reorder.spec.ts.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { brushAxis, dsiJson, JUPYTER, openSampleDocument, SAMPLE_DB, serverRoot } from './helpers';

const PLUGIN = 'jupyterlab-dsi:plugin';

/** Open `tmpPath/name` (a copy of the sample) in the sidebar; answers its absolute path. */
async function openInSidebar(page: IJupyterLabPageFixture, tmpPath: string, name: string): Promise<{ file: string; sidebar: Locator }> {
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/${name}`);
  await page.evaluate(async path => {
    await (window as any).jupyterapp.commands.execute('dsi:open', { path });
  }, `${tmpPath}/${name}`);
  const sidebar = page.locator('#jp-dsi-explorer');
  await expect(sidebar.locator('g[data-axis="d_density"]')).toBeVisible();
  return { file: `${await serverRoot(page)}/${tmpPath}/${name}`, sidebar };
}

async function fromPalette(page: IJupyterLabPageFixture, label: string): Promise<void> {
  await page.keyboard.press('Control+Shift+C');
  const palette = page.locator('#modal-command-palette');
  await palette.locator('input').fill(label);
  await palette.locator('.lm-CommandPalette-item', { hasText: label }).first().click();
}

const count = (root: Locator) =>
  root.evaluate(r => Number((r.querySelector('[data-testid="dsi-selection-count"] strong')?.textContent ?? '').replace(/,/g, '')));

test.use({ viewport: { width: 1400, height: 1000 } });

test('the step buttons move one step, Play runs to the last step and stops', async ({ page, tmpPath }) => {
  await openSampleDocument(page, tmpPath, 'time.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  const slider = view.locator('input[aria-label="Time step"]');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  const last = Number(await slider.getAttribute('max'));
  expect(last).toBeGreaterThan(3);
  await expect(slider).toHaveValue(String(last));
  const label = view.getByTestId('dsi-time');

  await view.getByRole('button', { name: 'Previous time step' }).click();
  await expect(slider).toHaveValue(String(last - 1));
  await view.getByRole('button', { name: 'Previous time step' }).click();
  await expect(slider).toHaveValue(String(last - 2));
  const shown = await label.textContent();
  await view.getByRole('button', { name: 'Next time step' }).click();
  await expect(slider).toHaveValue(String(last - 1));
  await expect(label).not.toHaveText(shown!); // the label follows the step

  // Play from the last step starts over at 0 and walks every step up to the last, then stops.
  await view.getByRole('button', { name: 'Next time step' }).click();
  await expect(slider).toHaveValue(String(last));
  const play = view.getByRole('button', { name: 'Play through time' });
  await play.click();
  await expect(play).toHaveText('❚❚');
  const seen = new Set<number>();
  await expect
    .poll(
      async () => {
        seen.add(Number(await slider.inputValue()));
        return (await play.textContent()) === '▶' && seen.has(last);
      },
      { timeout: 60000, intervals: [50] }
    )
    .toBe(true);
  expect(Math.min(...seen)).toBeLessThan(last); // it moved through time, not just stayed
  expect(seen.size).toBeGreaterThan(2); // step by step
  await expect(slider).toHaveValue(String(last));

  // Play (from the last step: it starts over), then pause before the end: it stays paused, and
  // the step buttons go on from the step it stopped at.
  await play.click();
  await expect(play).toHaveText('❚❚');
  await play.click();
  await expect(play).toHaveText('▶');
  const paused = Number(await slider.inputValue());
  expect(paused).toBeLessThan(last);
  await view.getByRole('button', { name: 'Next time step' }).click();
  await expect(slider).toHaveValue(String(paused + 1));
  await expect(play).toHaveText('▶');
});

test('Copy puts the filter string on the clipboard', async ({ page, context, tmpPath }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openSampleDocument(page, tmpPath, 'copy.sqlite');
  const view = page.locator('.jp-MainAreaWidget .jp-DSI-explorerView');
  await expect(view.locator('g[data-axis="d_density"]')).toBeVisible();
  await brushAxis(page, view, 'd_density', 0.45, 0.9);
  const filter = view.getByTestId('dsi-filter');
  await expect(filter).toContainText('d_density between');
  await page.evaluate(() => navigator.clipboard.writeText('before'));
  await view.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe((await filter.textContent())!.trim());
});

test('a dataset whose stored settings are not JSON is not restored, and the panel says why', async ({ page, tmpPath }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-features-'));
  try {
    // A dataset saved by the CLI, then its settings column damaged by hand.
    const local = path.join(dir, 'broken.sqlite');
    fs.copyFileSync(SAMPLE_DB, local);
    const [method] = dsiJson<{ id: string }[]>('methods', '--db', local);
    execFileSync(JUPYTER, ['dsi', 'select', '--db', local, '--method', method.id, '--time', '0', '--where', 'cs == 0.1', '--save', 'kept', '--name', 'kept']);
    const python = path.join(path.dirname(JUPYTER), 'python');
    execFileSync(python, ['-c', `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE jdsi_dataset SET settings = '{\\"version\\": 2, \\"axes\\": ['")
c.commit()`, local]);
    const errors: string[] = [];
    page.on('console', message => message.type() === 'error' && message.text().includes('jupyterlab-dsi') && errors.push(message.text()));
    await page.contents.uploadFile(local, `${tmpPath}/broken.sqlite`);
    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
    }, `${tmpPath}/broken.sqlite`);
    const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
    await panel.getByRole('tab', { name: /^Datasets/ }).click();
    await panel.locator('tr', { hasText: 'kept' }).getByRole('button', { name: 'Restore' }).click();
    const said = 'Dataset “kept”: its stored settings is not JSON';
    // Said where the user looks: JupyterLab's notifications (a toast, or the list of them that
    // the status bar opens, which Galata's page may show already).
    await expect(page.locator('.jp-Notification-Status')).toHaveText('1');
    const shown = page.getByText(said);
    if (!(await shown.isVisible())) {
      await page.locator('.jp-Notification-Status').click();
    }
    await expect(shown).toBeVisible();
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toContain(`${said} (`); // and in the console, where a developer looks
    await expect(panel.getByRole('tab', { name: /^Datasets/ })).toHaveAttribute('aria-selected', 'true'); // still there
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.describe('with a default database', () => {
  const DEFAULT = 'dsi-features-default/default.sqlite';
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, [PLUGIN]: { defaultDatabase: DEFAULT } } });

  test('the sidebar opens it when JupyterLab starts', async ({ page }) => {
    try {
      await page.contents.uploadFile(SAMPLE_DB, DEFAULT);
      await page.reload();
      await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
      await expect(page.locator('#jp-dsi-explorer .jp-DSI-path')).toHaveText(DEFAULT, { timeout: 60000 });
    } finally {
      await page.contents.deleteDirectory('dsi-features-default');
    }
  });
});

test.describe('with the refresh period off', () => {
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, [PLUGIN]: { refreshSeconds: 0 } } });

  test('Reload from the palette catches up with a dataset saved by the CLI', async ({ page, tmpPath }) => {
    const { file, sidebar } = await openInSidebar(page, tmpPath, 'reload.sqlite');
    const datasets = sidebar.getByTestId('dsi-datasets').locator('.jp-DSI-countValue');
    await expect(datasets).toHaveText('0');
    const [method] = dsiJson<{ id: string }[]>('methods', '--db', file);
    execFileSync(JUPYTER, ['dsi', 'select', '--db', file, '--method', method.id, '--time', '0', '--where', 'cs == 0.1', '--save', 'from the shell']);
    await fromPalette(page, 'Reload DSI Explorer Database');
    await expect(datasets).toHaveText('1');
  });
});

test.describe('with a catch-up every second', () => {
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, [PLUGIN]: { refreshSeconds: 1 } } });

  test('a failing catch-up is said once, in the panel and the console, and goes when it works', async ({ page, tmpPath }) => {
    const errors: string[] = [];
    page.on('console', message => {
      if (message.type() === 'error' && message.text().includes('cannot look for writes by others')) {
        errors.push(message.text());
      }
    });
    const { sidebar } = await openInSidebar(page, tmpPath, 'polled.sqlite');
    let polls = 0;
    const failing = async (route: any) => {
      polls += 1;
      await route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ message: 'the disk went away' }) });
    };
    await page.route('**/jupyterlab-dsi/events**', failing);
    try {
      const banner = sidebar.getByTestId('dsi-refresh-error');
      await expect(banner).toContainText('the disk went away');
      const after = polls;
      await expect.poll(() => polls, { timeout: 30000 }).toBeGreaterThan(after + 2); // it keeps trying
      expect(errors).toHaveLength(1); // ... and says so once
      await page.unroute('**/jupyterlab-dsi/events**', failing);
      await expect(banner).toHaveCount(0);
    } finally {
      await page.unroute('**/jupyterlab-dsi/events**').catch(() => undefined);
    }
  });
});

test.describe('with a kernel and renamed variables, provenance cells off', () => {
  // Galata's kernel mock cannot restart kernels: use the real kernels API (as bridge.spec.ts does).
  test.use({
    kernels: null,
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      [PLUGIN]: { provenanceCells: false, selectionVariable: 'picked', methodVariable: 'how', datasetsVariable: 'kept' }
    }
  });

  async function runCell(page: IJupyterLabPageFixture, source: string): Promise<string> {
    await page.notebook.setCell(0, 'code', source);
    await page.notebook.runCell(0, true);
    const lines = ((await page.notebook.getCellTextOutput(0)) ?? []).join('\n').trim().split('\n');
    return lines[lines.length - 1];
  }

  test('variables, the Kernel of picker, saves without cells, Insert Provenance Cells, %dsi show and open', async ({ page, tmpPath }) => {
    test.setTimeout(300000);
    await page.notebook.createNew('features.ipynb');
    const { file, sidebar } = await openInSidebar(page, tmpPath, 'kernel.sqlite');
    await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/other.sqlite`);
    const status = sidebar.getByTestId('dsi-link-status');
    const view = sidebar.locator('.jp-DSI-explorerView');

    // The variables carry the names set in the settings.
    await expect(status).toContainText('picked has');
    const rows = await count(view);
    await expect(status).toContainText(`picked has ${rows.toLocaleString('en-US')} rows`);
    expect(await runCell(page, "len(picked), sorted(how)[:2], type(kept).__name__, 'dsi_selection' in dir()")).toBe(
      `(${rows}, ['db', 'description'], 'DataFrame', False)`
    );

    // The "Kernel of" picker: not linked, then this notebook again.
    const picker = sidebar.getByLabel('Notebook whose kernel receives the selection');
    await picker.selectOption({ label: 'Not linked' });
    await expect(status).toContainText('No notebook linked');
    await picker.selectOption({ label: `${tmpPath}/features.ipynb` });
    await expect(status).toContainText(`picked has ${rows.toLocaleString('en-US')} rows`);

    // A save from the panel with provenance cells off writes no cell.
    await brushAxis(page, view, 'd_density', 0.45, 0.9);
    await expect(view.getByTestId('dsi-filter')).toContainText('d_density between');
    const brushedFilter = (await view.getByTestId('dsi-filter').textContent())!;
    await view.getByRole('button', { name: 'Save…' }).click();
    const form = view.locator('form.jp-DSI-saveForm');
    await form.getByTestId('dsi-save-description').fill('the lower half of d_density');
    await form.getByLabel('Dataset name').fill('lower');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => dsiJson<unknown[]>('datasets', '--db', file).length).toBe(1);
    const [saved] = dsiJson<{ id: string }[]>('datasets', '--db', file);
    const cells = page.locator('.jp-Notebook .jp-Cell');
    await expect(sidebar.getByTestId('dsi-datasets').locator('.jp-DSI-countValue')).toHaveText('1');
    await expect(cells).toHaveCount(1);

    // The palette writes them when asked.
    await fromPalette(page, 'Insert Provenance Cells of the Newest Dataset');
    await expect(cells).toHaveCount(3);
    expect(await page.notebook.getCellTextInput(2)).toContain(`%dsi load ${saved.id}`);

    // %dsi show brings the panel back to the dataset's selection after the user cleared it.
    await sidebar.getByRole('tab', { name: 'Explore' }).click();
    await view.getByRole('button', { name: 'Clear' }).click();
    await expect(view.getByTestId('dsi-filter')).toContainText('everything');
    await runCell(page, `%dsi show ${saved.id} --db ${file}`);
    await expect(view.getByTestId('dsi-filter')).toHaveText(brushedFilter);

    // %dsi open moves the sidebar (which follows the kernel) to another file.
    await runCell(page, `%dsi open ${file.replace(/kernel\.sqlite$/, 'other.sqlite')}`);
    await expect(sidebar.locator('.jp-DSI-path')).toHaveText(`${tmpPath}/other.sqlite`);
  });
});

/**
 * Exports written on the server (issue 14, section 3): Datasets → Export → "Save next to the
 * notebook" writes the file `jupyter dsi export` writes into the linked notebook's folder (a
 * remote JupyterHub user finds it in the workspace), says where in a notification that opens it,
 * never overwrites (a second save is `name (1).json`), and Download still downloads. Issue 19: the
 * same menu saves Croissant (with its members CSV), DataCite and RO-Crate (a folder) there too.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dsiJson, JUPYTER, SAMPLE_DB, serverRoot } from './helpers';

test.use({ viewport: { width: 1400, height: 1000 } });

/** `jupyter dsi export ID --db DB --format F`: the text the server must have written. */
function cliExport(db: string, id: string, format: string): string {
  return execFileSync(JUPYTER, ['dsi', 'export', id, '--db', db, '--format', format], { encoding: 'utf-8' });
}

/** A file's text through JupyterLab's contents API (what the workspace holds). */
async function contentsText(page: IJupyterLabPageFixture, path: string): Promise<string> {
  return page.evaluate(async p => {
    const model = await (window as any).jupyterapp.serviceManager.contents.get(p, { content: true, type: 'file', format: 'text' });
    return model.content as string;
  }, path);
}

/** The notification that says `text`: its toast, or the list the status bar opens. */
async function notification(page: IJupyterLabPageFixture, text: string) {
  const said = page.locator('.jp-toast-message, .jp-Notification-List-Item', { hasText: text }).first();
  // The save may still be on its way: look again until it is said, opening the list (never
  // toggling it shut) when the toast is not shown.
  await expect(async () => {
    if (!(await said.isVisible()) && !(await page.locator('.jp-Notification-Center').isVisible())) {
      await page.locator('.jp-Notification-Status').click();
    }
    await expect(said).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30000 });
  return said.locator('xpath=ancestor-or-self::*[.//button][1]');
}

/** The sample copied to tmpPath/data/NAME.sqlite with one dataset, "slow shocks"; the notebook
 * NAME.ipynb at the top of tmpPath, linked; the panel open on its Datasets tab. */
async function setUp(page: IJupyterLabPageFixture, tmpPath: string, name: string) {
  // The notebook at the top of tmpPath; the database one folder down, in data/.
  await page.notebook.createNew(`${name}.ipynb`);
  await page.contents.createDirectory(`${tmpPath}/data`);
  await page.contents.uploadFile(SAMPLE_DB, `${tmpPath}/data/${name}.sqlite`);
  const db = `${await serverRoot(page)}/${tmpPath}/data/${name}.sqlite`;
  const [method] = dsiJson<{ id: string }[]>('methods', '--db', db);
  execFileSync(JUPYTER, ['dsi', 'select', '--db', db, '--method', method.id, '--time', '10', '--where', 'cs == 0.1', '--save', 'Exported from the panel', '--name', 'slow shocks']);
  const [dataset] = dsiJson<{ id: string; name: string; digest: string }[]>('datasets', '--db', db);
  expect(dataset.name).toBe('slow shocks');

  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p, factory: 'DSI Explorer' });
  }, `${tmpPath}/data/${name}.sqlite`);
  const panel = page.locator('.jp-MainAreaWidget .jp-DSI-Explorer');
  await expect(panel.getByTestId('dsi-link-target')).toContainText(`Active notebook: ${name}.ipynb`);
  await panel.getByRole('tab', { name: /^Datasets/ }).click();
  const menu = panel.getByLabel('Export slow shocks');
  await expect(menu.locator('optgroup').first()).toHaveAttribute('label', 'Save next to the notebook');
  return { db, dataset, panel, menu };
}

test('Export → Save next to the notebook writes the CLI’s file in the notebook’s folder, and opens it', async ({
  page,
  tmpPath
}) => {
  const { db, dataset, menu } = await setUp(page, tmpPath, 'exports');

  await menu.selectOption('save:json');
  const expected = `${tmpPath}/slow_shocks.json`;
  const said = await notification(page, `Saved “slow shocks” as ${expected}`);
  // The file is in the workspace, next to the notebook (not next to the database), and it is
  // exactly what the CLI writes.
  expect(await contentsText(page, expected)).toBe(cliExport(db, dataset.id, 'json'));
  expect(await page.contents.fileExists(`${tmpPath}/data/slow_shocks.json`)).toBe(false);

  // Its "Open" opens it in JupyterLab.
  await said.getByRole('button', { name: 'Open' }).click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'slow_shocks.json' })).toBeVisible();

  // Again, and a card: never over the first file; the name taken gets a number.
  const first = await contentsText(page, expected);
  await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'exports.sqlite' }).click();
  await menu.selectOption('save:json');
  await notification(page, `as ${tmpPath}/slow_shocks (1).json`);
  expect(await contentsText(page, expected)).toBe(first);
  expect(await contentsText(page, `${tmpPath}/slow_shocks (1).json`)).toBe(first);
  await menu.selectOption('save:card');
  const card = await notification(page, `as ${tmpPath}/slow_shocks.md`);
  expect(await contentsText(page, `${tmpPath}/slow_shocks.md`)).toBe(cliExport(db, dataset.id, 'card'));
  // Its "Show in file browser" shows it there, selected.
  await card.getByRole('button', { name: 'Show in file browser' }).click();
  await expect(page.locator('.jp-DirListing-item.jp-mod-selected')).toHaveText(/slow_shocks\.md/);

  // Download is still there, and downloads the same text.
  const [download] = await Promise.all([page.waitForEvent('download'), menu.selectOption('download:prov')]);
  expect(download.suggestedFilename()).toBe('slow_shocks.prov.json');
  const downloaded = fs.readFileSync((await download.path())!, 'utf-8');
  expect(downloaded).toBe(cliExport(db, dataset.id, 'prov'));
  expect(await page.contents.fileExists(`${tmpPath}/slow_shocks.prov.json`)).toBe(false);
});

/** `jupyter dsi export ID --db DB --format F -o DIR/NAME` in a new folder: its files, by path. */
function cliFiles(db: string, id: string, format: string, name: string): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-export-'));
  execFileSync(JUPYTER, ['dsi', 'export', id, '--db', db, '--format', format, '-o', path.join(dir, name)]);
  const out: Record<string, string> = {};
  const walk = (folder: string, prefix: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        walk(full, `${prefix}${entry.name}/`);
      } else {
        out[`${prefix}${entry.name}`] = fs.readFileSync(full, 'utf-8');
      }
    }
  };
  walk(dir, '');
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test('Croissant, DataCite and RO-Crate from the Export menu land next to the notebook, as the CLI writes them', async ({
  page,
  tmpPath
}) => {
  const { db, dataset, menu } = await setUp(page, tmpPath, 'standards');
  // Download offers the one-file formats only (a Croissant is two files, a crate a folder).
  const downloads = await menu.locator('optgroup[label="Download"] option').evaluateAll(options => options.map(o => (o as HTMLOptionElement).value));
  expect(downloads).toEqual(['download:json', 'download:card', 'download:prov', 'download:datacite']);

  await menu.selectOption('save:croissant');
  // (A notification shows its first 140 characters: the CSV's name may be cut off with this long tmpPath.)
  await notification(page, `Saved “slow shocks” as ${tmpPath}/slow_shocks.croissant.json and slow_shocks.`);
  await menu.selectOption('save:datacite');
  await notification(page, `Saved “slow shocks” as ${tmpPath}/slow_shocks.datacite.json`);
  await menu.selectOption('save:rocrate');
  const crate = await notification(page, `Saved “slow shocks” as ${tmpPath}/slow_shocks.ro-crate/`);

  // Next to the notebook (not next to the database), byte for byte what the CLI writes.
  const croissant = cliFiles(db, dataset.id, 'croissant', 'slow_shocks.croissant.json');
  expect(Object.keys(croissant).sort()).toEqual(['slow_shocks.croissant.json', 'slow_shocks.members.csv']);
  for (const [file, text] of Object.entries(croissant)) {
    expect(await contentsText(page, `${tmpPath}/${file}`)).toBe(text);
  }
  expect(await contentsText(page, `${tmpPath}/slow_shocks.datacite.json`)).toBe(cliExport(db, dataset.id, 'datacite'));
  const crateFiles = cliFiles(db, dataset.id, 'rocrate', 'slow_shocks.ro-crate');
  expect(Object.keys(crateFiles)).toContain('slow_shocks.ro-crate/ro-crate-metadata.json');
  for (const [file, text] of Object.entries(crateFiles)) {
    expect(await contentsText(page, `${tmpPath}/${file}`)).toBe(text);
  }
  expect(await page.contents.fileExists(`${tmpPath}/data/slow_shocks.croissant.json`)).toBe(false);

  // One digest, in full, in each.
  for (const file of ['slow_shocks.croissant.json', 'slow_shocks.datacite.json', 'slow_shocks.ro-crate/ro-crate-metadata.json']) {
    expect(await contentsText(page, `${tmpPath}/${file}`)).toContain(dataset.digest);
  }
  // The crate is a folder: shown in the file browser (no Open).
  await expect(crate.getByRole('button', { name: 'Open' })).toHaveCount(0);
  await crate.getByRole('button', { name: 'Show in file browser' }).click();
  await expect(page.locator('.jp-DirListing-item', { hasText: 'ro-crate-metadata.json' })).toBeVisible();
});

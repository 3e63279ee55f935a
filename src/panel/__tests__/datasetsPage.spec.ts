/**
 * The datasets page as a user works it: sort by a column header (again: the other way), filter
 * by typing, export a dataset as a download of what the server wrote or saved as a file next to
 * the linked notebook on the server (the notification names it and opens it), and write its
 * provenance cells into the notebook. The server is a double; the page is the real one.
 */
import { Notification } from '@jupyterlab/apputils';

import type { IDatasetInfo } from '../../db/slices';
import { DatasetsPage, IDatasetsPageOptions } from '../datasetsPage';
import { datasetInfo, pageOptions } from '../../../tests/js/datasets';

jest.mock('../../server', () => ({
  exportDataset: jest.fn(),
  saveExport: jest.fn(),
  deleteDataset: jest.fn(),
  restoreDataset: jest.fn()
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const server = require('../../server') as { exportDataset: jest.Mock; saveExport: jest.Mock };

const dataset = (id: string, name: string, size: number, createdAt: string, extra: Partial<IDatasetInfo> = {}) =>
  datasetInfo(id, name, { size, createdAt, methodId: 'm1', t: 3, weights: { d_shock: 1, d_edge: 1 }, ...extra });

const ROWS = [
  dataset('b', 'beta', 30, '2026-01-02T00:00:00Z', { filter: 'cs == 2' }),
  dataset('a', 'alpha', 200, '2026-01-03T00:00:00Z', { description: 'slow shocks' }),
  dataset('c', 'gamma', 4, '2026-01-01T00:00:00Z', { weights: { d_density: 2 } }),
  dataset('x', 'gone', 1, '2026-01-04T00:00:00Z', { deleted: true })
];

async function page(extra: Partial<IDatasetsPageOptions> = {}) {
  const p = new DatasetsPage(pageOptions({ load: async () => ROWS, ...extra }));
  document.body.appendChild(p.node);
  await p.refresh();
  return p;
}

const names = (p: DatasetsPage) => [...p.node.querySelectorAll('tbody .jp-DSI-datasetName')].map(n => n.textContent);
const header = (p: DatasetsPage, label: string) =>
  [...p.node.querySelectorAll<HTMLButtonElement>('th .jp-DSI-sortButton')].find(b => b.textContent!.startsWith(label))!;
const row = (p: DatasetsPage, name: string) =>
  [...p.node.querySelectorAll<HTMLTableRowElement>('tbody tr')].find(r => r.querySelector('.jp-DSI-datasetName')!.textContent === name)!;

/** Wait for `done()`, yielding to the page's promises, up to a deadline (then fail). */
async function until(done: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`not done within ${timeout} ms`);
    }
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

afterEach(() => {
  document.body.replaceChildren();
  jest.restoreAllMocks();
  server.exportDataset.mockReset();
  server.saveExport.mockReset();
});

describe('the datasets page', () => {
  it('lists the live datasets newest first, and sorts by the header clicked, again the other way', async () => {
    const p = await page();
    expect(names(p)).toEqual(['alpha', 'beta', 'gamma']); // the deleted one is not listed
    header(p, 'Size').click();
    expect(names(p)).toEqual(['gamma', 'beta', 'alpha']); // 4, 30, 200: as numbers, not text
    expect(header(p, 'Size').closest('th')!.getAttribute('aria-sort')).toBe('ascending');
    header(p, 'Size').click();
    expect(names(p)).toEqual(['alpha', 'beta', 'gamma']);
    expect(header(p, 'Size').closest('th')!.getAttribute('aria-sort')).toBe('descending');
    header(p, 'Name').click();
    expect(names(p)).toEqual(['alpha', 'beta', 'gamma']);
    header(p, 'Name').click();
    expect(names(p)).toEqual(['gamma', 'beta', 'alpha']);
    header(p, 'Created').click(); // dates start newest first
    expect(names(p)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('filters by name, description, filter string or feature as the user types', async () => {
    const p = await page();
    const search = p.node.querySelector<HTMLInputElement>('input[aria-label="Filter datasets"]')!;
    const type = (text: string) => {
      search.value = text;
      search.dispatchEvent(new Event('input'));
    };
    type('GAM');
    expect(names(p)).toEqual(['gamma']);
    type('slow');
    expect(names(p)).toEqual(['alpha']); // its description
    type('cs == 2');
    expect(names(p)).toEqual(['beta']); // its filter string
    type('d_density');
    expect(names(p)).toEqual(['gamma']); // its feature formula
    type('nothing like it');
    expect(names(p)).toEqual([]);
    expect(p.node.textContent).toContain('No dataset matches this filter.');
    type('');
    expect(names(p)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('keeps the focus in the filter box while the user types one character after another', async () => {
    const p = await page();
    const search = p.node.querySelector<HTMLInputElement>('input[aria-label="Filter datasets"]')!;
    search.focus();
    for (const char of 'gam') {
      search.value += char; // as a keystroke does: the box keeps what was typed before
      search.dispatchEvent(new Event('input'));
      expect(document.activeElement).toBe(search);
    }
    expect(search.value).toBe('gam');
    expect(names(p)).toEqual(['gamma']);
    // A catch-up (the file changed) redraws the page: the box keeps the focus and the filter.
    await p.refresh();
    expect(document.activeElement).toBe(search);
    expect(names(p)).toEqual(['gamma']);
  });

  it('gives the focus back to the sort button pressed, drawn again', async () => {
    const p = await page();
    header(p, 'Size').focus();
    header(p, 'Size').click();
    expect(names(p)).toEqual(['gamma', 'beta', 'alpha']);
    expect(document.activeElement).toBe(header(p, 'Size'));
  });

  it('drops an older read that answers after a newer one', async () => {
    let answer: (rows: IDatasetInfo[]) => void = () => undefined;
    const slow = new Promise<IDatasetInfo[]>(resolve => (answer = resolve));
    let calls = 0;
    const p = new DatasetsPage(pageOptions({ load: () => (++calls === 1 ? slow : Promise.resolve(ROWS.slice(1))) }));
    document.body.appendChild(p.node);
    const older = p.refresh();
    await p.refresh();
    expect(names(p)).toEqual(['alpha', 'gamma']);
    answer(ROWS); // the older read, with beta, answers last
    await older;
    expect(names(p)).toEqual(['alpha', 'gamma']);
  });

  it('drops older new-match counts that answer after newer ones', async () => {
    const answers: ((counts: Record<string, number | null>) => void)[] = [];
    const p = new DatasetsPage(
      pageOptions({ load: async () => ROWS, newMatches: () => new Promise(resolve => answers.push(resolve)) })
    );
    document.body.appendChild(p.node);
    const older = p.refresh();
    await until(() => answers.length === 1); // read, and asking for its counts
    const newer = p.refresh();
    await until(() => answers.length === 2);
    answers[1]({ a: 2 });
    await newer;
    answers[0]({ a: 7 });
    await older;
    expect(row(p, 'alpha').querySelector('[data-testid="dsi-new-matches"]')!.textContent).toMatch(/^2 new simulations/);
  });

  it('says a failed read or a failed action in a line on the page, never an unhandled rejection', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let fail = true;
    const p = await page({
      load: async () => {
        if (fail) {
          throw new Error('the worker stopped');
        }
        return ROWS;
      },
      splits: async () => {
        throw new Error('no such table: jdsi_split');
      },
      splitPart: async () => []
    });
    const alert = () => [...p.node.querySelectorAll('[role="alert"]')].map(a => a.textContent);
    expect(alert()).toEqual(['Cannot read the datasets: the worker stopped']);
    fail = false;
    await p.refresh();
    expect(alert()).toEqual([]);
    [...row(p, 'beta').querySelectorAll('button')].find(b => b.textContent === 'Splits')!.click();
    await until(() => alert().length === 1);
    expect(alert()).toEqual(['Splits of “beta” failed: no such table: jdsi_split']);
    expect(error).toHaveBeenCalled();
  });

  it('exports the format chosen as a download of what the server wrote', async () => {
    const p = await page();
    const downloads: { name: string; text: Promise<string>; type: string }[] = [];
    const blobs = new Map<string, Blob>();
    let n = 0;
    Object.assign(URL, {
      createObjectURL: (b: Blob) => {
        const url = `blob:test/${++n}`;
        blobs.set(url, b);
        return url;
      },
      revokeObjectURL: () => undefined
    });
    jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      const blob = blobs.get(this.href)!;
      const text = new Promise<string>(resolve => {
        const reader = new FileReader(); // jsdom's Blob has no text()
        reader.onload = () => resolve(reader.result as string);
        reader.readAsText(blob);
      });
      downloads.push({ name: this.download, text, type: blob.type });
    });
    server.exportDataset.mockImplementation(async (path: string, id: string, format: string) =>
      format === 'card' ? `# card of ${id} in ${path}\n` : `{"id": "${id}", "format": "${format}"}\n`
    );
    const menu = row(p, 'beta').querySelector<HTMLSelectElement>('select[aria-label="Export beta"]')!;
    for (const format of ['card', 'prov']) {
      menu.value = `download:${format}`;
      menu.dispatchEvent(new Event('change'));
      await until(() => downloads.length === (format === 'card' ? 1 : 2));
      expect(menu.value).toBe(''); // ready for the next choice
    }
    expect(server.exportDataset.mock.calls).toEqual([
      ['data/ens.sqlite', 'b', 'card'],
      ['data/ens.sqlite', 'b', 'prov']
    ]);
    expect(downloads.map(d => [d.name, d.type])).toEqual([
      ['beta.md', 'text/markdown'],
      ['beta.prov.json', 'application/json']
    ]);
    expect(await downloads[0].text).toBe('# card of b in data/ens.sqlite\n');
    expect(await downloads[1].text).toBe('{"id": "b", "format": "prov"}\n');
  });

  it('saves the format chosen next to the linked notebook, names the file and opens it on click', async () => {
    let notebook: string | null = 'work/analysis.ipynb';
    const opened: [string, string][] = [];
    const p = await page({ notebookPath: () => notebook, openFile: (path, where) => opened.push([path, where]) });
    server.saveExport.mockImplementation(async (_db: string, id: string, format: string, folder?: string) => ({
      path: `${folder ?? 'data'}/${id}.${format}`,
      format,
      bytes: 10
    }));
    const success = jest.spyOn(Notification, 'success').mockImplementation(() => 'toast');
    const menu = row(p, 'beta').querySelector<HTMLSelectElement>('select[aria-label="Export beta"]')!;
    const group = () => menu.querySelector('optgroup')!;
    expect(group().label).toBe('Save next to the notebook');
    expect([...group().querySelectorAll('option')].map(o => [o.value, o.textContent])).toEqual([
      ['save:json', 'JSON'],
      ['save:card', 'Dataset card (Markdown)'],
      ['save:prov', 'PROV-JSON'],
      ['save:datacite', 'DataCite 4.5 (JSON)'],
      ['save:croissant', 'Croissant 1.1 (+ members CSV)'],
      ['save:rocrate', 'RO-Crate 1.1 (folder)']
    ]);
    // Download: the formats that are one file.
    expect([...menu.querySelectorAll('optgroup')[1].querySelectorAll('option')].map(o => o.value)).toEqual([
      'download:json',
      'download:card',
      'download:prov',
      'download:datacite'
    ]);
    const choose = async (value: string, calls: number) => {
      menu.value = value;
      menu.dispatchEvent(new Event('change'));
      await until(() => success.mock.calls.length === calls);
      expect(menu.value).toBe('');
    };
    await choose('save:prov', 1);
    // Written on the server in the notebook's folder: no download.
    expect(server.saveExport.mock.calls).toEqual([['data/ens.sqlite', 'b', 'prov', 'work']]);
    expect(server.exportDataset).not.toHaveBeenCalled();
    const [message, options] = success.mock.calls[0] as [string, Notification.IOptions<never>];
    expect(message).toBe('Saved “beta” as work/b.prov');
    const actions = options.actions!;
    expect(actions.map(a => a.label)).toEqual(['Open', 'Show in file browser']);
    actions[0].callback(new MouseEvent('click'));
    actions[1].callback(new MouseEvent('click'));
    expect(opened).toEqual([
      ['work/b.prov', 'document'],
      ['work/b.prov', 'browser']
    ]);

    // A notebook at the top of the workspace: the root. None linked: next to the database (the
    // server's default), and the menu says so once it is opened again.
    notebook = 'top.ipynb';
    await choose('save:json', 2);
    notebook = null;
    menu.dispatchEvent(new Event('focus'));
    expect(group().label).toBe('Save next to the database');
    await choose('save:card', 3);
    expect(server.saveExport.mock.calls.slice(1)).toEqual([
      ['data/ens.sqlite', 'b', 'json', ''],
      ['data/ens.sqlite', 'b', 'card', undefined]
    ]);
    expect(success.mock.calls[2][0]).toBe('Saved “beta” as data/b.card');

    // Croissant: two files, both named; RO-Crate: a folder, shown in the file browser, not opened.
    notebook = 'work/analysis.ipynb';
    server.saveExport.mockImplementationOnce(async () => ({
      path: 'work/beta.croissant.json',
      format: 'croissant',
      bytes: 30,
      files: ['work/beta.croissant.json', 'work/beta.members.csv']
    }));
    await choose('save:croissant', 4);
    expect(server.saveExport.mock.calls[3]).toEqual(['data/ens.sqlite', 'b', 'croissant', 'work']);
    expect(success.mock.calls[3][0]).toBe('Saved “beta” as work/beta.croissant.json and beta.members.csv');
    server.saveExport.mockImplementationOnce(async () => ({
      path: 'work/beta.ro-crate',
      format: 'rocrate',
      bytes: 90,
      files: ['work/beta.ro-crate/card.md', 'work/beta.ro-crate/ro-crate-metadata.json']
    }));
    await choose('save:rocrate', 5);
    const [crate, crateOptions] = success.mock.calls[4] as [string, Notification.IOptions<never>];
    expect(crate).toBe('Saved “beta” as work/beta.ro-crate/');
    expect(crateOptions.actions!.map(a => a.label)).toEqual(['Show in file browser']);
    crateOptions.actions![0].callback(new MouseEvent('click'));
    expect(opened.at(-1)).toEqual(['work/beta.ro-crate', 'browser']);
  });

  it('says why a save on the server failed', async () => {
    const p = await page({ notebookPath: () => 'analysis.ipynb' });
    server.saveExport.mockRejectedValue(new Error('.hidden: a hidden folder, which the server does not serve'));
    const error = jest.spyOn(Notification, 'error').mockImplementation(() => 'toast');
    const success = jest.spyOn(Notification, 'success');
    const menu = row(p, 'gamma').querySelector<HTMLSelectElement>('select[aria-label="Export gamma"]')!;
    menu.value = 'save:json';
    menu.dispatchEvent(new Event('change'));
    await until(() => error.mock.calls.length === 1);
    expect(error.mock.calls[0][0]).toBe('Not saved: .hidden: a hidden folder, which the server does not serve');
    expect(success).not.toHaveBeenCalled();
  });

  it('offers Cell only with notebooks, and it writes that dataset’s provenance cells', async () => {
    const without = await page();
    expect(row(without, 'alpha').querySelector('button[title^="Insert its provenance"]')).toBeNull();
    document.body.replaceChildren();

    const inserted: string[] = [];
    const p = await page({ insertProvenance: d => inserted.push(d.id) });
    const cell = [...row(p, 'gamma').querySelectorAll('button')].find(b => b.textContent === 'Cell')!;
    cell.click();
    expect(inserted).toEqual(['c']);
  });
});

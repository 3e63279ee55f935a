/**
 * The Datasets page's part of the loop (issue 15 §3, §4), as a user works it: a stale dataset
 * carries a badge whose title gives the reasons (text only), Lineage opens the graph, Splits
 * lists the parts and a part highlights its members, and a dataset whose filter now matches
 * simulations ingested later says how many, with a way to derive a new version.
 */
import type { ISplitInfo } from '../../db/datasetRecords';
import type { IDatasetInfo } from '../../db/slices';
import { DatasetsPage, IDatasetsPageOptions } from '../datasetsPage';
import { datasetInfo, pageOptions } from '../../../tests/js/datasets';

const dataset = (id: string, name: string, extra: Partial<IDatasetInfo> = {}) => datasetInfo(id, name, { filter: 'energy >= 2', ...extra });

const STALE = dataset('a', 'high', { stale: ['source runs.csv changed since ingest (sha256 1234 -> 5678)', '<b>method</b> recomputed'] });
const FRESH = dataset('b', 'low');

const SPLIT: ISplitInfo = {
  id: 'split-1234abcd',
  datasetId: 'a',
  seed: 7,
  stratify: 'shape',
  createdAt: '2026-01-02T00:00:00Z',
  parts: [
    { name: 'train', fraction: 0.8, size: 8 },
    { name: 'test', fraction: 0.2, size: 2 }
  ],
  deleted: false
};

async function page(extra: Partial<IDatasetsPageOptions> = {}) {
  const p = new DatasetsPage(pageOptions({ load: async () => [STALE, FRESH], ...extra }));
  document.body.appendChild(p.node);
  await p.refresh();
  return p;
}

const row = (p: DatasetsPage, id: string) => p.node.querySelector<HTMLTableRowElement>(`tr[data-dataset-id="${id}"]`)!;
const button = (root: Element, label: string) =>
  [...root.querySelectorAll<HTMLButtonElement>('button')].find(b => b.textContent === label);

afterEach(() => document.body.replaceChildren());

describe('the datasets page and the loop', () => {
  it('badges a stale dataset with its reasons as text, and only it', async () => {
    const p = await page();
    const badge = row(p, 'a').querySelector('[data-testid="dsi-stale"]')!;
    expect(badge.textContent).toBe('stale');
    expect(badge.getAttribute('title')).toBe(`Stale: ${STALE.stale.join('\n')}`);
    expect(badge.querySelector('b')).toBeNull();
    // Not only on hover: the badge takes the focus and points at its reasons, in words.
    expect(badge.getAttribute('tabindex')).toBe('0');
    const why = document.getElementById(badge.getAttribute('aria-describedby')!)!;
    expect(why.textContent).toBe(`Stale: ${STALE.stale.join('; ')}`);
    expect(why.classList.contains('jp-DSI-visuallyHidden')).toBe(true);
    expect(row(p, 'b').querySelector('[data-testid="dsi-stale"]')).toBeNull();
  });

  it('opens the lineage of a row, and offers no Lineage or Splits without them', async () => {
    const lineage = jest.fn();
    const p = await page({ lineage });
    button(row(p, 'b'), 'Lineage')!.click();
    expect(lineage).toHaveBeenCalledWith(FRESH);
    expect(p.current).toBe('b');
    const bare = await page();
    expect(button(row(bare, 'a'), 'Lineage')).toBeUndefined();
    expect(button(row(bare, 'a'), 'Splits')).toBeUndefined();
  });

  it('lists the splits of a dataset and highlights the members of the part chosen', async () => {
    const highlight = jest.fn();
    const splitPart = jest.fn(async () => ['s1', 's2']);
    const p = await page({ highlight, splits: async d => (d.id === 'a' ? [SPLIT, { ...SPLIT, id: 'gone', deleted: true }] : []), splitPart });
    button(row(p, 'a'), 'Splits')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    const section = p.node.querySelector('section.jp-DSI-splits')!;
    expect(section.querySelector('h3')!.textContent).toBe('Splits of “high” (1)');
    const cells = [...section.querySelectorAll('tbody tr td')].map(td => td.textContent);
    expect(cells).toEqual(['train · 8test · 2', 'train 80%, test 20%', '7', 'shape', expect.any(String), 'split-12']);
    button(section, 'test · 2')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(splitPart).toHaveBeenCalledWith('split-1234abcd', 'test');
    expect(highlight).toHaveBeenCalledWith(STALE, ['s1', 's2']);

    button(row(p, 'b'), 'Splits')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(p.node.querySelector('section.jp-DSI-splits p')!.textContent).toContain('No splits yet');
  });

  it('says how many later simulations match a filter, and derives a new version on click', async () => {
    const derive = jest.fn();
    const newMatches = jest.fn(async () => ({ a: 12, b: 0 }));
    const p = await page({ derive, newMatches });
    expect(newMatches).toHaveBeenCalledWith(['a', 'b']);
    const note = row(p, 'a').querySelector<HTMLButtonElement>('[data-testid="dsi-new-matches"]')!;
    expect(note.textContent).toBe('12 new simulations match this dataset’s filter: derive a new version');
    expect(row(p, 'b').querySelector('[data-testid="dsi-new-matches"]')).toBeNull();
    note.click();
    expect(derive).toHaveBeenCalledWith(STALE);
  });
});

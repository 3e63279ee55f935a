/**
 * The datasets page tells the truth after a change (issue 14): a dataset just saved is shown
 * and marked; a deleted dataset's members table closes; "Highlight in the views" hands the
 * dataset itself (its method and step) to the panel, not only its members.
 */
import type { IDatasetInfo } from '../../db/slices';
import { DatasetsPage, IDatasetsPageOptions } from '../datasetsPage';
import { datasetInfo, pageOptions } from '../../../tests/js/datasets';

jest.mock('../../server', () => ({
  exportDataset: jest.fn(),
  deleteDataset: jest.fn(),
  restoreDataset: jest.fn()
}));

const dataset = (id: string, name: string, extra: Partial<IDatasetInfo> = {}) =>
  datasetInfo(id, name, { createdAt: '2026-01-02T00:00:00Z', methodId: 'm2', t: 7, ...extra });

function page(rows: () => IDatasetInfo[], extra: Partial<IDatasetsPageOptions> = {}): DatasetsPage {
  const p = new DatasetsPage(pageOptions({ load: async () => rows(), members: async () => ['s1', 's2', 's3'], ...extra }));
  document.body.replaceChildren(p.node);
  return p;
}

const button = (root: ParentNode, name: string): HTMLButtonElement =>
  [...root.querySelectorAll('button')].find(b => b.textContent === name) as HTMLButtonElement;

/** Wait for `check` to hold, a few event-loop turns at most (the page awaits its loaders). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !check(); i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
  expect(check()).toBe(true);
}

describe('the datasets page', () => {
  it('shows a dataset just saved: a line saying so, and its row marked', async () => {
    const p = page(() => [dataset('a', 'alpha'), dataset('n', 'new one')]);
    p.showSaved('n', 'Saved “new one”: 3 simulations.');
    await p.refresh();
    expect(p.node.querySelector('[data-testid="dsi-saved"]')?.textContent).toBe('Saved “new one”: 3 simulations.');
    const marked = [...p.node.querySelectorAll('tr[aria-current="true"]')].map(tr => tr.getAttribute('data-dataset-id'));
    expect(marked).toEqual(['n']);
  });

  it("closes a dataset's members table when the dataset is deleted", async () => {
    let rows = [dataset('a', 'alpha'), dataset('b', 'beta')];
    const p = page(() => rows);
    await p.refresh();
    button(p.node.querySelector('tr[data-dataset-id="a"]')!, 'Members').click();
    await until(() => p.node.querySelector('.jp-DSI-members') !== null);
    // Deleted elsewhere (a kernel, the CLI, this page's Delete): the next refresh has it deleted.
    rows = [dataset('a', 'alpha', { deleted: true }), dataset('b', 'beta')];
    await p.refresh();
    expect(p.node.querySelector('.jp-DSI-members')).toBeNull();
    // Another dataset's table stays through a refresh.
    button(p.node.querySelector('tr[data-dataset-id="b"]')!, 'Members').click();
    await until(() => p.node.querySelector('.jp-DSI-members') !== null);
    await p.refresh();
    expect(p.node.querySelector('.jp-DSI-members')).not.toBeNull();
  });

  it('highlights with the dataset (its method and step) and every member', async () => {
    const calls: [string | null, number | null, string[]][] = [];
    const p = page(() => [dataset('a', 'alpha')], {
      highlight: (d, members) => {
        calls.push([d.methodId, d.t, members]);
      }
    });
    await p.refresh();
    button(p.node.querySelector('tr[data-dataset-id="a"]')!, 'Members').click();
    await until(() => p.node.querySelector('.jp-DSI-members') !== null);
    button(p.node, 'Highlight in the views').click();
    expect(calls).toEqual([['m2', 7, ['s1', 's2', 's3']]]);
  });
});

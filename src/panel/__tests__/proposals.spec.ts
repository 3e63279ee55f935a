/**
 * The Runs page's proposals (issue 16 §4): the list of recorded proposals with Show / Hide over
 * the explorer and CSV (their points as a download), and the Propose… form on a run with sigma2: its defaults, its one-line field
 * errors, the request it sends, and what the page does when the server records or refuses.
 */
import type { IParameterRange, IProposalRecord, IProposeRequest } from '../../db/proposals';
import type { IRunInfo } from '../../db/runs';
import { ProposalList, proposalCsvName } from '../proposalList';
import { IRunsPageOptions, NO_SIGMA2, RunsPage } from '../runsPage';

function run(id: string, name: string, sigma2Targets: string[]): IRunInfo {
  return {
    id,
    name,
    description: '',
    datasetId: 'dA',
    datasetName: 'phase 0',
    datasetDeleted: false,
    split: null,
    status: 'finished',
    error: null,
    startedAt: `2026-01-0${id}T00:00:00Z`,
    endedAt: null,
    heartbeatAt: null,
    durationS: 60,
    author: 'me',
    host: 'box',
    params: {},
    metrics: {},
    energyKwh: null,
    resources: {},
    stale: [],
    sigma2Targets
  };
}

function record(id: string, createdAt: string, n: number, over: Partial<IProposalRecord> = {}, policy: Record<string, unknown> = {}): IProposalRecord {
  return {
    id,
    createdAt,
    author: 'me',
    runId: 'r1',
    runName: 'gp',
    datasetId: 'dA',
    n,
    policy: { tau: {}, bounds: {}, alpha: 1, prior_column: null, entropy_column: null, categorical: [], n, seed: 0, target: 'energy', ...policy },
    linked: 0,
    ...over
  };
}

const RANGES: IParameterRange[] = [
  { name: 'energy', kind: 'numeric', min: 0.5, max: 2, spacing: 0.25 },
  { name: 'thickness', kind: 'numeric', min: 1, max: 3, spacing: 0.5 },
  // Stored as numeric levels: it can be spread between them.
  { name: 'cs', kind: 'categorical', min: 0.1, max: 0.5, spacing: 0.1 },
  { name: 'mode', kind: 'categorical', min: null, max: null, spacing: null }
];

const flush = async () => {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
};

afterEach(() => document.body.replaceChildren());

/** The list's rows as a user reads them: created, run, n, seed, α, τ, simulated, the button. */
const rows = (node: Element) =>
  [...node.querySelectorAll('.jp-DSI-proposalsTable tbody tr')].map(tr => [...tr.querySelectorAll('td')].slice(1).map(td => td.textContent));

const button = (node: Element, text: string) => [...node.querySelectorAll<HTMLButtonElement>('button')].filter(b => b.textContent === text);

describe('the list of proposals', () => {
  const RECORDS = [
    record('aaaa1111', '2026-01-01T00:00:00Z', 20, { linked: 12 }),
    record('bbbb2222', '2026-01-02T00:00:00Z', 15, { runName: 'mlp' }, { seed: 3, tau: { energy: 0.1 }, alpha: 0.5, entropy_column: 'H' })
  ];

  function list(records: IProposalRecord[][], fail: (id: string | null) => boolean = () => false) {
    let call = 0;
    const shown: (string | null)[] = [];
    const l = new ProposalList({
      proposals: async () => records[Math.min(call++, records.length - 1)],
      showProposal: async id => {
        if (fail(id)) {
          throw new Error('the explorer has no parameter axes');
        }
        shown.push(id);
      }
    });
    document.body.appendChild(l.node);
    return { l, shown };
  }

  it('says how proposals come about when there are none', async () => {
    const { l } = list([[]]);
    await l.refresh();
    expect(l.node.querySelector('h3')!.textContent).toBe('Proposals (0)');
    const hint = l.node.querySelector('.jp-DSI-hint')!.textContent!;
    expect(hint).toContain('Propose… on a run that logged sigma2');
    expect(hint).toContain('jupyter dsi propose --db');
    expect(l.node.querySelector('table')).toBeNull();
  });

  it('lists the records newest first with their policy and how many were simulated, and sorts', async () => {
    const { l } = list([RECORDS]);
    await l.refresh();
    expect(l.node.querySelector('h3')!.textContent).toBe('Proposals (2)');
    expect(rows(l.node)).toEqual([
      ['mlp', '15', '3', '0.5 · H', 'energy 0.1', '0 of 15 simulated', 'Show'],
      ['gp', '20', '0', '1', 'spacing', '12 of 20 simulated', 'Show']
    ]);
    const title = l.node.querySelector('tr[data-proposal-id="bbbb2222"]')!.getAttribute('title')!;
    expect(title).toContain('target: energy');
    expect(title).toContain('α: 0.5 (entropy column H)');
    [...l.node.querySelectorAll<HTMLButtonElement>('th button')].find(b => b.textContent!.startsWith('Simulated'))!.click();
    expect(rows(l.node).map(r => r[5])).toEqual(['12 of 20 simulated', '0 of 15 simulated']); // most simulated first
  });

  it('shows one proposal at a time over the explorer, marks its row, and hides it', async () => {
    const { l, shown } = list([RECORDS]);
    await l.refresh();
    button(l.node, 'Show')[1].click(); // gp's
    await flush();
    expect(shown).toEqual(['aaaa1111']);
    const marked = () => [...l.node.querySelectorAll('tr.jp-mod-shown')].map(tr => tr.getAttribute('data-proposal-id'));
    expect(marked()).toEqual(['aaaa1111']);
    expect(l.node.querySelector('tr.jp-mod-shown')!.getAttribute('aria-current')).toBe('true');
    expect(button(l.node, 'Hide')).toHaveLength(1);
    button(l.node, 'Show')[0].click(); // mlp's replaces it
    await flush();
    expect(shown).toEqual(['aaaa1111', 'bbbb2222']);
    expect(marked()).toEqual(['bbbb2222']);
    // A refresh (a catch-up) keeps the mark.
    await l.refresh();
    expect(marked()).toEqual(['bbbb2222']);
    button(l.node, 'Hide')[0].click();
    await flush();
    expect(shown).toEqual(['aaaa1111', 'bbbb2222', null]);
    expect(marked()).toEqual([]);
    expect(button(l.node, 'Show')).toHaveLength(2);
  });

  it('keeps its table and its live lines through a refresh that reads the same records', async () => {
    const linkedOne = RECORDS.map((r, i) => (i === 0 ? { ...r, linked: r.linked + 1 } : r));
    const { l } = list([RECORDS, RECORDS.map(r => ({ ...r })), linkedOne]);
    await l.refresh();
    l.say('Recorded.');
    const table = l.node.querySelector('table');
    const alert = l.node.querySelector('[role=alert]');
    const status = l.node.querySelector('[role=status]');
    expect(status!.textContent).toBe('Recorded.');
    await l.refresh(); // the same records: nothing built again
    expect(l.node.querySelector('table')).toBe(table);
    expect(l.node.querySelector('[role=alert]')).toBe(alert);
    expect(l.node.querySelector('[role=status]')).toBe(status);
    await l.refresh(); // one more simulated: the table again, the live lines the same elements
    expect(l.node.querySelector('table')).not.toBe(table);
    expect(l.node.querySelector('[role=alert]')).toBe(alert);
    expect(l.node.querySelector('[role=status]')).toBe(status);
    expect(status!.textContent).toBe('Recorded.');
  });

  it('says why a proposal cannot be drawn and leaves the mark as it was', async () => {
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const { l, shown } = list([RECORDS], id => id === 'bbbb2222');
    await l.refresh();
    button(l.node, 'Show')[0].click();
    await flush();
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect(shown).toEqual([]);
    expect(l.node.querySelector('[data-testid=dsi-proposals-error]')!.textContent).toBe('Cannot show the proposal: the explorer has no parameter axes');
    expect(l.node.querySelectorAll('tr.jp-mod-shown')).toHaveLength(0);
  });

  it('says a failed read and keeps the rows it had', async () => {
    let call = 0;
    const l = new ProposalList({
      proposals: async () => {
        if (call++ > 0) {
          throw new Error('no such table: jdsi_proposal');
        }
        return RECORDS;
      }
    });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await l.refresh();
    await l.refresh();
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect(l.node.querySelector('.jp-DSI-error')!.textContent).toBe('Cannot read the proposals: no such table: jdsi_proposal');
    expect(rows(l.node)).toHaveLength(2);
    expect(button(l.node, 'Show')).toHaveLength(0); // no showProposal given: nothing to toggle
    expect(button(l.node, 'CSV')).toHaveLength(0); // nor proposalCsv: nothing to download
  });

  describe('CSV', () => {
    /** What the browser was asked to save (download's anchor click), with the blob's text. */
    let downloads: { name: string; type: string; text: Promise<string> }[];

    beforeEach(() => {
      downloads = [];
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
        downloads.push({ name: this.download, type: blob.type, text });
      });
    });

    afterEach(() => jest.restoreAllMocks());

    // As the server answers GET proposals/ID?format=csv: `jupyter dsi proposals --db DB ID`'s bytes.
    const CSV = (id: string) => `energy,thickness,proposal_id,component\r\n1.0,2.50,${id}-00000,7\r\n`;

    function csvList(fail: (id: string) => string | null = () => null) {
      const asked: string[] = [];
      const l = new ProposalList({
        proposals: async () => RECORDS,
        showProposal: async () => undefined,
        proposalCsv: async id => {
          asked.push(id);
          const why = fail(id);
          if (why) {
            throw new Error(why);
          }
          return CSV(id);
        }
      });
      document.body.appendChild(l.node);
      return { l, asked };
    }

    it('names the file proposal- and the id’s first 8 characters', () => {
      expect(proposalCsvName('bbbb2222-3333-4444-5555-666677778888')).toBe('proposal-bbbb2222.csv');
      expect(proposalCsvName('ab/c')).toBe('proposal-ab_c.csv');
    });

    it('downloads a row’s points as proposal-<id8>.csv, the server’s text as it is', async () => {
      const { l, asked } = csvList();
      await l.refresh();
      expect(rows(l.node)[0]).toEqual(['mlp', '15', '3', '0.5 · H', 'energy 0.1', '0 of 15 simulated', 'Show', 'CSV']);
      const csv = button(l.node, 'CSV');
      expect(csv).toHaveLength(2);
      expect(csv[1].getAttribute('aria-label')).toBe('Download the points of the proposal of gp, ' + l.node.querySelector('tr[data-proposal-id="aaaa1111"] td')!.textContent + ' as CSV');
      expect(csv[1].title).toContain('proposal-aaaa1111.csv');
      csv[1].click(); // gp's
      await flush();
      expect(asked).toEqual(['aaaa1111']);
      expect(downloads.map(d => [d.name, d.type])).toEqual([['proposal-aaaa1111.csv', 'text/csv']]);
      expect(await downloads[0].text).toBe(CSV('aaaa1111'));
      expect(l.node.querySelector('[data-testid=dsi-proposals-error]:not([hidden])')).toBeNull();
      // Nothing else changed: the shown mark is Show's alone.
      expect(l.node.querySelectorAll('tr.jp-mod-shown')).toHaveLength(0);
    });

    it('ignores a second click while the first is read', async () => {
      let release: (text: string) => void = () => undefined;
      const l = new ProposalList({
        proposals: async () => RECORDS,
        proposalCsv: () => new Promise<string>(resolve => (release = resolve))
      });
      document.body.appendChild(l.node);
      await l.refresh();
      button(l.node, 'CSV')[0].click();
      button(l.node, 'CSV')[0].click();
      release(CSV('bbbb2222'));
      await flush();
      expect(downloads.map(d => d.name)).toEqual(['proposal-bbbb2222.csv']);
    });

    it('says in one line why the points cannot be downloaded, and downloads nothing', async () => {
      const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      const { l } = csvList(id => (id === 'bbbb2222' ? 'no proposal bbbb2222 in ens.sqlite' : null));
      await l.refresh();
      button(l.node, 'CSV')[0].click(); // mlp's
      await flush();
      expect(logged).toHaveBeenCalledTimes(1);
      expect(downloads).toHaveLength(0);
      const alert = l.node.querySelectorAll('[data-testid=dsi-proposals-error]');
      expect(alert).toHaveLength(1);
      expect(alert[0].textContent).toBe('Cannot download the proposal’s points: no proposal bbbb2222 in ens.sqlite');
      expect(alert[0].getAttribute('role')).toBe('alert');
      expect(rows(l.node)).toHaveLength(2); // the rows stay
      // The other one downloads, and the line goes.
      button(l.node, 'CSV')[1].click();
      await flush();
      expect(downloads.map(d => d.name)).toEqual(['proposal-aaaa1111.csv']);
      expect(l.node.querySelector('[data-testid=dsi-proposals-error]:not([hidden])')).toBeNull();
    });
  });
});

describe('Propose… on the Runs page', () => {
  const RUNS = [run('1', 'gp', ['energy']), run('2', 'plain', []), run('3', 'two targets', ['energy', 'zeta'])];

  function page(over: Partial<IRunsPageOptions> = {}, answer: (r: IProposeRequest) => Promise<string> = async () => 'cccc3333-new') {
    const requests: IProposeRequest[] = [];
    const shown: (string | null)[] = [];
    let records: IProposalRecord[] = [record('aaaa1111', '2026-01-01T00:00:00Z', 20)];
    let reads = 0;
    const p = new RunsPage({
      load: async () => RUNS,
      datasetStats: async () => [],
      curves: async () => [],
      restore: async () => undefined,
      proposals: async () => {
        reads++;
        return records;
      },
      showProposal: async id => void shown.push(id),
      parameterRanges: async () => RANGES,
      propose: async request => {
        requests.push(request);
        const id = await answer(request);
        records = [...records, record(id, '2026-01-05T00:00:00Z', request.n, { runId: request.runId, runName: 'gp' }, { seed: request.seed })];
        return id;
      },
      ...over
    });
    document.body.appendChild(p.node);
    return { p, requests, shown, reads: () => reads };
  }

  const proposeOf = (p: RunsPage, runId: string) => p.node.querySelector<HTMLButtonElement>(`tr[data-run-id="${runId}"] button[data-focus-key="propose:${runId}"]`)!;
  const form = (p: RunsPage) => p.node.querySelector<HTMLFormElement>('form.jp-DSI-proposalForm')!;
  const field = (p: RunsPage, label: string) => {
    const l = [...form(p).querySelectorAll('label')].find(x => x.textContent === label);
    return (l ? form(p).querySelector<HTMLInputElement>(`#${CSS.escape(l.htmlFor)}`) : form(p).querySelector<HTMLInputElement>(`[aria-label="${label}"]`))!;
  };
  const type = (input: HTMLInputElement, value: string) => {
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const submit = async (p: RunsPage) => {
    form(p).requestSubmit();
    await flush();
  };
  /** The one-line error shown with a control (its aria-describedby), '' when none. */
  const errorOf = (p: RunsPage, input: HTMLElement) => {
    const id = input.getAttribute('aria-describedby');
    return id ? p.node.querySelector(`#${CSS.escape(id)}`)!.textContent : '';
  };
  const errors = (p: RunsPage) => [...form(p).querySelectorAll<HTMLElement>('.jp-DSI-fieldError')].filter(e => !e.hidden).map(e => e.textContent);

  it('is offered on a run with sigma2, and disabled with the reason on one without', async () => {
    const { p } = page();
    await p.refresh();
    const plain = proposeOf(p, '2');
    expect(plain.getAttribute('aria-disabled')).toBe('true');
    expect(plain.title).toBe(NO_SIGMA2);
    plain.click();
    await flush();
    expect(form(p).hidden).toBe(true);
    expect(proposeOf(p, '1').getAttribute('aria-disabled')).toBeNull();
  });

  it('has no Propose… without a server to record through', async () => {
    const { p } = page({ propose: undefined });
    await p.refresh();
    expect(p.node.querySelectorAll('button[data-focus-key^="propose:"]')).toHaveLength(0);
    expect(p.node.querySelector('form.jp-DSI-proposalForm')).toBeNull();
    expect(p.node.querySelector('section.jp-DSI-proposals h3')!.textContent).toBe('Proposals (1)');
  });

  it('opens with the defaults, the study set’s spacing and range as placeholders, n focused', async () => {
    const { p } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    expect(form(p).hidden).toBe(false);
    expect(form(p).querySelector('h3')!.textContent).toBe('Propose from “gp”');
    expect(proposeOf(p, '1').getAttribute('aria-expanded')).toBe('true');
    expect(document.activeElement).toBe(field(p, 'n (points)'));
    expect([field(p, 'n (points)'), field(p, 'Seed'), field(p, 'α (1: sigma2 alone)'), field(p, 'Entropy column')].map(i => i.value)).toEqual(['20', '0', '1', '']);
    expect(field(p, 'τ of energy').placeholder).toBe('0.25');
    expect([field(p, 'Lower bound of thickness').placeholder, field(p, 'Upper bound of thickness').placeholder]).toEqual(['1', '3']);
    expect(form(p).querySelector('[aria-label="τ of mode"]')).toBeNull(); // text levels: no τ, no bounds
    expect(form(p).textContent).toContain('Drawn from their study points’ levels: mode.');
    // Numeric levels: kept unless ticked, so their fields wait, disabled.
    expect(field(p, 'Spread cs between its levels').checked).toBe(false);
    expect(field(p, 'τ of cs').disabled).toBe(true);
    expect(field(p, 'τ of energy').disabled).toBe(false);
    expect(form(p).querySelector('select')).toBeNull(); // one target: nothing to choose
  });

  it('Propose… again on the run whose form is open keeps what was typed and focuses n', async () => {
    const { p } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'n (points)'), '42');
    type(field(p, 'Seed'), '7');
    field(p, 'Seed').focus();
    proposeOf(p, '1').click();
    await flush();
    expect(field(p, 'n (points)').value).toBe('42');
    expect(field(p, 'Seed').value).toBe('7');
    expect(document.activeElement).toBe(field(p, 'n (points)'));
  });

  it('says what is wrong next to each field and sends nothing', async () => {
    const { p, requests } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'n (points)'), '0');
    type(field(p, 'Seed'), '1.5');
    type(field(p, 'α (1: sigma2 alone)'), '0.5');
    type(field(p, 'τ of energy'), '-1');
    type(field(p, 'Lower bound of thickness'), '3');
    type(field(p, 'Upper bound of thickness'), '2');
    await submit(p);
    expect(requests).toEqual([]);
    expect(errors(p)).toEqual([
      'n must be a whole number from 1 to 5,000 (the views draw the points over the plots; the CLI makes bigger ones).',
      'The seed must be a whole number ≥ 0.',
      'α < 1 mixes in an entropy column: name it, or set α to 1.',
      'τ of energy must be a number ≥ 0 (empty: its spacing).',
      'Bounds of thickness: min must be ≤ max.'
    ]);
    expect(errorOf(p, field(p, 'n (points)'))).toBe('n must be a whole number from 1 to 5,000 (the views draw the points over the plots; the CLI makes bigger ones).');
    expect(field(p, 'n (points)').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(field(p, 'n (points)')); // the first wrong field
    // Fixed, each line goes.
    type(field(p, 'n (points)'), '15');
    type(field(p, 'Seed'), '3');
    type(field(p, 'α (1: sigma2 alone)'), 'abc');
    type(field(p, 'τ of energy'), '');
    type(field(p, 'Upper bound of thickness'), '');
    await submit(p);
    expect(errors(p)).toEqual(['α must be a number from 0 to 1 (1: sigma2 alone).']);
    expect(field(p, 'n (points)').getAttribute('aria-invalid')).toBeNull();
    expect(requests).toEqual([]);
  });

  it('builds the request from the fields: a bound left empty is the study set’s', async () => {
    const { p, requests } = page();
    await p.refresh();
    proposeOf(p, '3').click();
    await flush();
    const target = form(p).querySelector<HTMLSelectElement>('select')!;
    expect([...target.options].map(o => o.value)).toEqual(['energy', 'zeta']);
    target.value = 'zeta';
    type(field(p, 'n (points)'), ' 15 ');
    type(field(p, 'Seed'), '3');
    type(field(p, 'α (1: sigma2 alone)'), '0.25');
    type(field(p, 'Entropy column'), 'entropy');
    type(field(p, 'τ of energy'), '0.1');
    type(field(p, 'Lower bound of thickness'), '1.5');
    await submit(p);
    expect(requests).toEqual([
      { runId: '3', n: 15, seed: 3, target: 'zeta', tau: { energy: 0.1 }, bounds: { thickness: [1.5, 3] }, alpha: 0.25, entropyColumn: 'entropy' }
    ]);
  });

  it('spreads a parameter with numeric levels only when ticked, with its τ and bounds', async () => {
    const { p, requests } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'τ of cs'), '-3'); // typed, then left unticked: not checked, not sent
    await submit(p);
    expect(errors(p)).toEqual([]);
    expect(requests.pop()).toEqual({ runId: '1', n: 20, seed: 0 });
    proposeOf(p, '1').click();
    await flush();
    const spread = field(p, 'Spread cs between its levels');
    spread.click();
    expect(field(p, 'τ of cs').disabled).toBe(false);
    type(field(p, 'τ of cs'), '-3');
    await submit(p);
    expect(errors(p)).toEqual(['τ of cs must be a number ≥ 0 (empty: its spacing).']);
    type(field(p, 'τ of cs'), '0.05');
    type(field(p, 'Lower bound of cs'), '0.2');
    await submit(p);
    expect(requests).toEqual([{ runId: '1', n: 20, seed: 0, tau: { cs: 0.05 }, bounds: { cs: [0.2, 0.5] }, continuous: ['cs'] }]);
  });

  it('sends only n, seed and the run with the defaults', async () => {
    const { p, requests } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    await submit(p);
    expect(requests).toEqual([{ runId: '1', n: 20, seed: 0 }]);
  });

  it('passes proposalCsv on to the list: a CSV per row, asked for that row’s id', async () => {
    const asked: string[] = [];
    const { p } = page({
      proposalCsv: async id => {
        asked.push(id);
        throw new Error('No database is open: open one to export its proposals.');
      }
    });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    await p.refresh();
    button(p.node, 'CSV')[0].click();
    await flush();
    logged.mockRestore();
    expect(asked).toEqual(['aaaa1111']);
    expect(p.node.querySelector('[data-testid=dsi-proposals-error]')!.textContent).toBe(
      'Cannot download the proposal’s points: No database is open: open one to export its proposals.'
    );
    // Without it, none.
    document.body.replaceChildren();
    const plain = page().p;
    await plain.refresh();
    expect(button(plain.node, 'CSV')).toHaveLength(0);
  });

  it('lists the recorded proposal, draws it on the explorer and closes', async () => {
    const { p, shown } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'n (points)'), '15');
    type(field(p, 'Seed'), '3');
    await submit(p);
    expect(form(p).hidden).toBe(true);
    expect(shown).toEqual(['cccc3333-new']);
    const row = p.node.querySelector('.jp-DSI-proposalsTable tr[data-proposal-id="cccc3333-new"]')!;
    expect(row.classList.contains('jp-mod-shown')).toBe(true);
    expect([...row.querySelectorAll('td')].slice(1).map(td => td.textContent)).toEqual(['gp', '15', '3', '1', 'spacing', '0 of 15 simulated', 'Hide']);
    expect(p.node.querySelector('[data-testid=dsi-proposals-note]')!.textContent).toBe(
      'Recorded proposal cccc3333: 15 points from “gp” (seed 3), drawn over the explorer.'
    );
    expect(document.activeElement).toBe(row.querySelector('button')); // Hide, to take it off again
    expect(proposeOf(p, '1').getAttribute('aria-expanded')).toBe('false');
  });

  it('reads the file again when the replica has not caught up with the new record', async () => {
    let caughtUp = false;
    const records = [record('aaaa1111', '2026-01-01T00:00:00Z', 20)];
    // The replica answers the old records until the file is read again.
    const late = page({
      proposals: async () => (caughtUp ? [...records, record('cccc3333-new', '2026-01-05T00:00:00Z', 20)] : records),
      reload: async () => {
        caughtUp = true;
      }
    });
    await late.p.refresh();
    proposeOf(late.p, '1').click();
    await flush();
    await submit(late.p);
    expect(caughtUp).toBe(true);
    expect(late.p.node.querySelector('.jp-DSI-proposalsTable tr.jp-mod-shown')!.getAttribute('data-proposal-id')).toBe('cccc3333-new');
  });

  it('shows the server’s line when it refuses, and nothing changes', async () => {
    const { p, shown, reads } = page({}, async () => {
      throw new Error('the bounds exclude every point of the study set: energy=5.0:6.0');
    });
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'Lower bound of energy'), '5');
    type(field(p, 'Upper bound of energy'), '6');
    const before = reads();
    await submit(p);
    expect(p.node.querySelector('[data-testid=dsi-propose-message]')!.textContent).toBe(
      'Not recorded: the bounds exclude every point of the study set: energy=5.0:6.0'
    );
    expect(form(p).hidden).toBe(false);
    expect(field(p, 'Lower bound of energy').value).toBe('5'); // kept for another try
    expect(shown).toEqual([]);
    expect(reads()).toBe(before);
    expect(p.node.querySelectorAll('.jp-DSI-proposalsTable tbody tr')).toHaveLength(1);
    expect(form(p).querySelector<HTMLButtonElement>('button[type=submit]')!.disabled).toBe(false);
    // Edited, the refusal (about the values sent) goes.
    type(field(p, 'Lower bound of energy'), '');
    expect(p.node.querySelector('[data-testid=dsi-propose-message]')!.textContent).toBe('');
  });

  it('closes on Escape and on Cancel, giving the focus back to Propose…', async () => {
    const { p, requests } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    field(p, 'Seed').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(form(p).hidden).toBe(true);
    expect(document.activeElement).toBe(proposeOf(p, '1'));
    proposeOf(p, '1').click();
    await flush();
    button(form(p), 'Cancel')[0].click();
    expect(form(p).hidden).toBe(true);
    expect(document.activeElement).toBe(proposeOf(p, '1'));
    expect(requests).toEqual([]);
  });

  it('keeps what was typed through a refresh of the page', async () => {
    const { p } = page();
    await p.refresh();
    proposeOf(p, '1').click();
    await flush();
    type(field(p, 'n (points)'), '33');
    await p.refresh();
    expect(form(p).hidden).toBe(false);
    expect(field(p, 'n (points)').value).toBe('33');
  });
});

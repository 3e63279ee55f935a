/**
 * The header's link status tells the truth: an explorer whose database did not open never says
 * "Linked", one whose notebook's variables another explorer feeds names that one and offers to
 * take them, and `code` in messages renders as code, not as literal backquotes.
 */
import { Signal } from '@lumino/signaling';

import type { LinkStatus } from '../../bridge/kernelLink';
import { LinkBar, PanelProblem } from '../linkBar';
import { plainText, withCode } from '../markup';

function fakeBridge(status: LinkStatus) {
  const bridge = {
    notebook: null,
    notebooks: [],
    target: 'follow',
    changed: new Signal<unknown, void>({}),
    link: { status, claims: 0, claim: () => (bridge.link.claims += 1) }
  };
  return bridge;
}

function bar(status: LinkStatus, problem: PanelProblem = null) {
  const bridge = fakeBridge(status);
  let current = problem;
  const b = new LinkBar(bridge as never, () => 'dsi_selection', () => current);
  const text = () => b.node.querySelector('[data-testid="dsi-link-status"]')!;
  const claim = () => b.node.querySelector<HTMLButtonElement>('[data-testid="dsi-link-claim"]')!;
  return { b, bridge, text, claim, setProblem: (p: PanelProblem) => (current = p) };
}

describe('the link bar', () => {
  it('never says Linked for an explorer whose database did not open', () => {
    const { b, text, setProblem } = bar({ kind: 'linked', rows: 12 }, 'error');
    expect(text().textContent).not.toContain('Linked');
    expect(text().textContent).toContain('did not open');
    expect((text() as HTMLElement).dataset.tone).toBe('bad');
    setProblem(null);
    b.render();
    expect(text().textContent).toBe('Linked: dsi_selection has 12 rows.');
  });

  it('names the explorer that owns the variables and offers to take them', () => {
    const { bridge, text, claim } = bar({ kind: 'elsewhere', owner: 'the tab “DSI: a.sqlite”' });
    expect(text().textContent).toBe('Variables owned by the tab “DSI: a.sqlite”: dsi_selection follows that explorer.');
    expect(claim().hidden).toBe(false);
    claim().click();
    expect(bridge.link.claims).toBe(1);
  });

  it('offers no takeover without a database open', () => {
    const { claim, text } = bar({ kind: 'elsewhere', owner: 'the DSI Explorer sidebar (a.sqlite)' }, 'empty');
    expect(claim().hidden).toBe(true);
    expect(text().textContent).toContain('No database open');
  });

  it('shows `code` in a message as code, never as markup', () => {
    const message = "jupyterlab-dsi is not installed: run `%pip install jupyterlab-dsi` then restart; `<b>x</b>`";
    const { text } = bar({ kind: 'unavailable', message });
    expect(text().textContent).not.toContain('`');
    expect([...text().querySelectorAll('code')].map(c => c.textContent)).toEqual(['%pip install jupyterlab-dsi', '<b>x</b>']);
    expect(text().querySelector('b')).toBeNull();
    expect((text() as HTMLElement).title).toBe(plainText(message));
  });
});

describe('withCode', () => {
  it('pairs backquotes and keeps an unpaired one as text', () => {
    const parts = (t: string) => withCode(t).map(p => (typeof p === 'string' ? p : `<${p.textContent}>`));
    expect(parts('no code')).toEqual(['no code']);
    expect(parts('run `a` and `b`.')).toEqual(['run ', '<a>', ' and ', '<b>', '.']);
    expect(parts('one ` alone')).toEqual(['one ` alone']);
    expect(parts('`a` then ` alone')).toEqual(['<a>', ' then ', '` alone']);
  });
});

/**
 * Provenance cells: what a user reads in the rendered Markdown is exactly what they typed, with
 * no element injected, and the code cell is the magic with a checked id and a path the kernel's
 * shlex reads back whole.
 */
import { marked } from 'marked';

import {
  codeSpan,
  escapeMarkdown,
  IProvenanceDataset,
  provenanceCode,
  provenanceMarkdown,
  shellQuote
} from '../provenance';

const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '{x} and $x and $$x^2$$',
  `quotes ' " \` and backslash \\`,
  "'; DROP TABLE jdsi_dataset; --",
  '**bold** _em_ [link](http://example.com) # heading | pipe',
  '- a list? www.example.com and me@example.com',
  '1. ordered > quote',
  'right\u202eto\u200fleft',
  '&amp; &lt; entities'
];

function render(markdown: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = marked.parse(markdown, { async: false }) as string;
  return div;
}

function dataset(text: string): IProvenanceDataset {
  return {
    id: '3f2a1b2c-0000-4000-8000-000000000001',
    name: text,
    description: text,
    methodId: 'abcdef01-0000-4000-8000-000000000002',
    t: 39,
    filter: `cs in (0.1, 0.2) and sim_id != "${text.replace(/"/g, '""')}"`,
    size: 1234,
    digest: 'sha256:0123abcd',
    createdAt: '2026-11-23T04:12:00Z',
    author: text,
    sampling: { kind: 'p', p: 0.5, seed: 7 }
  };
}

describe('the provenance Markdown cell', () => {
  it.each(HOSTILE)('shows %j as text, with no element injected', text => {
    const d = dataset(text);
    const html = render(provenanceMarkdown(d, { groundTruth: text, norm: 'L2', gtTime: null }, 'data/sample.sqlite'));
    expect(html.querySelectorAll('script, img, a, em, strong, h1, iframe').length).toBe(0);
    expect(html.querySelector('h3')!.textContent).toBe(`Training dataset: ${text}`);
    expect(html.querySelector('p')!.textContent).toBe(text);
    const cells = Array.from(html.querySelectorAll('td')).map(td => td.textContent);
    expect(cells).toContain(d.filter);
    expect(cells).toContain(`${text} · L2 · matched steps (abcdef01)`);
    expect(cells).toContain(`2026-11-23T04:12:00Z by ${text}`);
  });

  it('records every fact a reader needs to reproduce the set', () => {
    const html = render(provenanceMarkdown(dataset('why'), { groundTruth: 'sim00000', norm: 'Linf', gtTime: 5 }, 'a b/c.sqlite'));
    const rows = Object.fromEntries(
      Array.from(html.querySelectorAll('tr')).map(tr => Array.from(tr.children).map(c => c.textContent))
    );
    expect(rows['Method']).toBe('sim00000 · Linf · vs step 5 (abcdef01)');
    expect(rows['Step']).toBe('39'); // the number the panel, `--time 39` and the exports use
    expect(rows['Size']).toBe('1,234 simulations');
    expect(rows['Sampling']).toBe('each selected simulation kept with probability 0.5, seed 7');
    expect(rows['Digest']).toBe('sha256:0123abcd');
    expect(rows['Database']).toBe('a b/c.sqlite');
    expect(rows['Dataset id']).toBe('3f2a1b2c-0000-4000-8000-000000000001');
  });

  it("says d_feature's terms as a formula, and nothing when none were saved", () => {
    const row = (feature: Record<string, number> | null) => {
      const html = render(provenanceMarkdown({ ...dataset('why'), feature }, null, 'c.sqlite'));
      return Object.fromEntries(Array.from(html.querySelectorAll('tr')).map(tr => Array.from(tr.children).map(c => c.textContent)))['Feature'];
    };
    expect(row({ d_density: 1, wall_clock: 0.5 })).toBe('d_feature = 1 · d_density + 0.5 · wall_clock');
    expect(row(null)).toBeUndefined();
  });

  it('keeps backticks and pipes inside the filter span', () => {
    const filter = "`odd name` == 'a|b' and ``x`` > 1";
    const html = render(`| a |\n|---|\n| ${codeSpan(filter)} |`);
    expect(html.querySelector('td code')!.textContent).toBe(filter);
    expect(render(escapeMarkdown('line one\nline two')).textContent!.trim()).toBe('line one line two');
  });
});

describe('the provenance code cell', () => {
  /** POSIX shlex.split for the quoting shellQuote writes: bare words and '...' joined by "'". */
  function shlexSplit(line: string): string[] {
    const words: string[] = [];
    let word: string | null = null;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === ' ') {
        if (word !== null) {
          words.push(word);
        }
        word = null;
      } else if (c === "'" || c === '"') {
        const end = line.indexOf(c, i + 1);
        word = (word ?? '') + line.slice(i + 1, end);
        i = end;
      } else {
        word = (word ?? '') + c;
      }
    }
    if (word !== null) {
      words.push(word);
    }
    return words;
  }

  it('writes the magic with the id and the database relative to the notebook', () => {
    const id = '3f2a1b2c-0000-4000-8000-000000000001';
    expect(provenanceCode(id, 'data/sample.sqlite', 'notebooks/explore.ipynb')).toBe(
      `%dsi load ${id} --db ../data/sample.sqlite`
    );
    expect(provenanceCode(id, 'data/sample.sqlite', 'explore.ipynb')).toBe(`%dsi load ${id} --db data/sample.sqlite`);
  });

  it.each(["it's $HOME {x}.sqlite", 'a b/"c".db', "'; rm -rf ~ #.sqlite"])('quotes the path %j so shlex reads it whole', path => {
    const line = provenanceCode('3f2a1b2c-0000-4000-8000-000000000001', path, 'nb.ipynb');
    expect(shlexSplit(line)).toEqual(['%dsi', 'load', '3f2a1b2c-0000-4000-8000-000000000001', '--db', path]);
    expect(shellQuote('plain/path-1.sqlite')).toBe('plain/path-1.sqlite');
  });

  it('refuses anything but a dataset id', () => {
    expect(() => provenanceCode('x; import os', 'a.sqlite', 'nb.ipynb')).toThrow(/not a dataset id/);
  });
});

/**
 * The provenance cells escape user text as the dataset card does: both suites read
 * tests/vectors/markdown.json (Python: jupyterlab_dsi/datasets.py escape_markdown).
 */
import * as fs from 'fs';
import * as path from 'path';

import { marked } from 'marked';

import { codeSpan, escapeMarkdown } from '../provenance';

const vectors = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'vectors', 'markdown.json'), 'utf8')
);

describe('the shared Markdown vectors', () => {
  it.each((vectors.escape as { text: string; markdown: string }[]).map(v => [v.text.slice(0, 30), v]))(
    'escapes %j',
    (_, v) => {
      expect(escapeMarkdown(v.text)).toBe(v.markdown);
    }
  );

  it.each((vectors.escape as { text: string; markdown: string }[]).map(v => [v.text.slice(0, 30), v]))(
    'renders %j as exactly its text, with no element, link or image',
    (_, v) => {
      // Rendered as JupyterLab renders Markdown (marked, GFM), alone and as a table cell.
      const div = document.createElement('div');
      div.innerHTML = marked.parse(v.markdown, { async: false }) as string;
      // One line; a NUL, which HTML cannot hold, is dropped by the renderer.
      const flat = v.text.replace(/\r\n?|\n/g, ' ').replace(/\0/g, '');
      expect(div.textContent!.trim()).toBe(flat.trim());
      expect([...div.querySelectorAll('*')].map(e => e.tagName).filter(t => t !== 'P')).toEqual([]);
      const table = document.createElement('div');
      table.innerHTML = marked.parse(`| a | b |\n|---|---|\n| ${v.markdown} | x |`, { async: false }) as string;
      expect(table.querySelectorAll('td').length).toBe(2);
      expect(table.querySelector('td')!.textContent!.trim()).toBe(flat.trim());
      expect(table.querySelectorAll('img, a, script, code, em, strong, del').length).toBe(0);
    }
  );

  it.each((vectors.code_span as { text: string; markdown: string }[]).map(v => [v.text.slice(0, 30), v]))(
    'code span %j',
    (_, v) => {
      expect(codeSpan(v.text)).toBe(v.markdown);
      const flat = v.text.replace(/\r\n?|\n/g, ' ');
      if (flat === '' || flat.trim() === '') {
        return; // no code span holds nothing, or only spaces, exactly
      }
      // In a table cell, as the card and the provenance cells use it: the text exactly, in one
      // <code> (or as prose where no code span could hold it), the cell never split.
      const table = document.createElement('div');
      table.innerHTML = marked.parse(`| a | b |\n|---|---|\n| ${v.markdown} | x |`, { async: false }) as string;
      const cells = table.querySelectorAll('td');
      expect([...cells].map(c => c.textContent!.trim())).toEqual([flat.trim(), 'x']);
      const code = table.querySelectorAll('td code');
      expect(code.length).toBe(v.markdown.startsWith('`') ? 1 : 0);
      if (code.length) {
        expect(code[0].textContent).toBe(flat);
      }
      expect(table.querySelectorAll('img, a, script').length).toBe(0);
    }
  );

  it('cover the cases that matter', () => {
    const texts = (vectors.escape as { text: string }[]).map(v => v.text);
    expect(texts.some(t => t.startsWith('![]('))).toBe(true); // a remote image
    expect(texts.some(t => t.includes('<script>'))).toBe(true);
    expect(texts.some(t => t.includes('\n'))).toBe(true);
    expect(texts.some(t => /^\d/.test(t))).toBe(true);
    const spans = (vectors.code_span as { markdown: string }[]).map(v => v.markdown);
    expect(spans.some(m => m.startsWith('`'))).toBe(true);
    expect(spans.some(m => !m.startsWith('`'))).toBe(true); // the prose fallback
  });
});

/**
 * Messages from the server, the kernel and the panel mark commands and names with `backquotes`
 * (one-line errors written for a terminal as much as for the panel). In the panel they become
 * <code> elements; the text itself only ever goes through text nodes, never markup.
 */
import { h } from './dom';

/** `text` as text nodes and <code> elements, one per `quoted` span; an unmatched ` stays. */
export function withCode(text: string): (string | HTMLElement)[] {
  const parts = text.split('`');
  if (parts.length < 3) {
    return [text];
  }
  const out: (string | HTMLElement)[] = [];
  // Odd parts are quoted; with an even number of backquotes the last one has no partner.
  const paired = parts.length % 2 === 1 ? parts.length : parts.length - 1;
  for (let i = 0; i < paired; i++) {
    if (i % 2 === 1) {
      out.push(h('code', {}, parts[i]));
    } else if (parts[i]) {
      out.push(parts[i]);
    }
  }
  if (paired < parts.length) {
    out.push('`' + parts[parts.length - 1]);
  }
  return out;
}

/** The same message without its backquotes, for a tooltip or an aria label. */
export function plainText(text: string): string {
  return withCode(text)
    .map(part => (typeof part === 'string' ? part : part.textContent ?? ''))
    .join('');
}

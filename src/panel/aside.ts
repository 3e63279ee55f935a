/**
 * The one quiet line that lists the columns kept aside because they are the same for every run
 * (CloverLeaf's deck: x_cells = 60, xmin = 0, ...): plain text, cut to a readable length, the
 * whole list in its title.
 */
import type { IAsideColumn } from '../model/columns';

/** Characters of the "same for every run" line before it is cut (the full text is its title). */
const ASIDE_CHARS = 160;

/** "Same for every run: x_cells = 60, xmin = 0, …" (cut to `limit` characters). */
export function asideText(aside: readonly IAsideColumn[], limit = ASIDE_CHARS): { text: string; full: string } {
  if (aside.length === 0) {
    return { text: '', full: '' };
  }
  const full = `Same for every run: ${aside.map(a => (a.value === '' ? a.name : `${a.name} = ${a.value}`)).join(', ')}`;
  if (full.length <= limit) {
    return { text: full, full };
  }
  const cut = full.lastIndexOf(', ', limit);
  return { text: `${full.slice(0, cut > 0 ? cut : limit)}, … (${aside.length} columns)`, full };
}

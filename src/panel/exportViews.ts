/**
 * What HiPlot and Plotly users expect of a plot: the views as PNG or SVG, and the selection as
 * a table with a CSV download. Plain DOM and typed arrays; nothing from JupyterLab.
 *
 * The views are canvases (the lines, the dots) under SVG (axes, labels, brushes): an export
 * stacks them as on screen, the canvases as embedded images, the SVG as vectors with their
 * computed colors and fonts written in (the theme's CSS variables mean nothing in a file).
 */
import type { Column, ITable } from '../views/types';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Presentation properties copied from the page into the exported SVG. */
const STYLE_PROPS = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-opacity',
  'stroke-width',
  'stroke-dasharray',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'paint-order',
  'visibility',
  'display'
] as const;

/** A copy of `svg` with every element's computed presentation written into its attributes. */
function inlined(svg: SVGSVGElement): SVGSVGElement {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const from = [svg, ...svg.querySelectorAll('*')];
  const to = [copy, ...copy.querySelectorAll('*')];
  from.forEach((el, i) => {
    const style = getComputedStyle(el);
    for (const prop of STYLE_PROPS) {
      const value = style.getPropertyValue(prop);
      if (value) {
        to[i].setAttribute(prop, value);
      }
    }
  });
  // Tooltips and buttons (invert, hide an axis) are for the page, not the picture.
  copy.querySelectorAll('title, [role="button"]').forEach(t => t.remove());
  return copy;
}

/**
 * One SVG document of `views` laid out as on screen (relative to the first one's container),
 * on `background`. Canvases become <image>s; a canvas that cannot be read is left out.
 */
export function viewsToSvg(views: readonly HTMLElement[], background: string): { svg: string; width: number; height: number } {
  // Canvases and top-level SVGs in page order: later ones paint over earlier ones, as on
  // screen. Their own boxes, not the views': parallel coordinates scrolled sideways export whole.
  const parts = views
    .flatMap(v => [...v.querySelectorAll<HTMLCanvasElement | SVGSVGElement>('canvas, svg')])
    .filter(el => !el.parentElement?.closest('svg') && getComputedStyle(el).display !== 'none')
    .map(el => ({ el, box: el.getBoundingClientRect() }))
    .filter(({ box }) => box.width > 0 && box.height > 0);
  const boxes = parts.length ? parts.map(p => p.box) : views.map(v => v.getBoundingClientRect());
  const left = Math.min(...boxes.map(b => b.left));
  const top = Math.min(...boxes.map(b => b.top));
  const width = Math.ceil(Math.max(...boxes.map(b => b.right)) - left);
  const height = Math.ceil(Math.max(...boxes.map(b => b.bottom)) - top);
  const doc = document.implementation.createDocument(SVG_NS, 'svg', null);
  const root = doc.documentElement as unknown as SVGSVGElement;
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(height));
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const bg = doc.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', background);
  root.appendChild(bg);
  for (const { el, box } of parts) {
    const x = box.left - left;
    const y = box.top - top;
    if (el instanceof HTMLCanvasElement) {
      let href: string;
      try {
        href = el.toDataURL('image/png');
      } catch {
        continue;
      }
      const image = doc.createElementNS(SVG_NS, 'image');
      image.setAttribute('x', String(x));
      image.setAttribute('y', String(y));
      image.setAttribute('width', String(box.width));
      image.setAttribute('height', String(box.height));
      image.setAttribute('opacity', getComputedStyle(el).opacity || '1');
      image.setAttribute('href', href);
      root.appendChild(image);
    } else {
      const copy = inlined(el as SVGSVGElement);
      copy.setAttribute('x', String(x));
      copy.setAttribute('y', String(y));
      copy.setAttribute('width', String(box.width));
      copy.setAttribute('height', String(box.height));
      root.appendChild(doc.importNode(copy, true));
    }
  }
  return { svg: new XMLSerializer().serializeToString(doc), width, height };
}

/** The SVG drawn onto a canvas at `scale` device pixels per CSS pixel, as a PNG blob. */
export async function svgToPng(svg: string, width: number, height: number, scale: number): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    await new Promise<void>((resolve, reject) => {
      image.onload = () => resolve();
      image.onerror = () => reject(new Error('the views could not be drawn as an image'));
      image.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) {
      throw new Error('no canvas to draw the PNG on');
    }
    ctx.scale(scale, scale);
    ctx.drawImage(image, 0, 0, width, height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(b => (b ? resolve(b) : reject(new Error('the PNG could not be encoded'))), 'image/png')
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Save `blob` as a file through the browser's download. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has its own reference by the next task.
  window.setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** A cell's text: a category's level, a number as JavaScript writes it, '' when missing. */
export function cellText(column: Column, row: number): string | number {
  if (column.kind === 'categorical') {
    const code = column.codes[row];
    return code < 0 ? '' : column.levels[code];
  }
  const v = column.values[row];
  return Number.isNaN(v) ? '' : v;
}

/**
 * One CSV field. Text is quoted when it holds a separator, quote or line break; text that a
 * spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) gets a leading
 * apostrophe. Numbers stay numbers.
 */
export function csvField(value: string | number): string {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? String(value) : '';
  }
  const text = defuseFormula(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// As jupyterlab_dsi/cli.py's _csv_cell (shared vectors: tests/vectors/csv.json): a text cell
// that a spreadsheet would run as a formula gets a leading ', unless it is a plain number.
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** ``text`` as a CSV text cell that a spreadsheet shows and never runs. */
export function defuseFormula(text: string): string {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/** The selected rows (mask non-zero) as CSV: sim_id, then every column, one line per run. */
export function selectionCsv(table: ITable, selected: Uint8Array): string {
  const lines = [['sim_id', ...table.columns.map(c => c.name)].map(csvField).join(',')];
  for (let row = 0; row < table.rows; row++) {
    if (selected[row]) {
      lines.push([table.ids[row], ...table.columns.map(c => cellText(c, row))].map(csvField).join(','));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The first `limit` selected rows, for the table in the panel. */
export function selectedRows(selected: Uint8Array, limit: number): number[] {
  const rows: number[] = [];
  for (let row = 0; row < selected.length && rows.length < limit; row++) {
    if (selected[row]) {
      rows.push(row);
    }
  }
  return rows;
}

/**
 * The selection's CSV and table rows, and the SVG the views export to (jsdom: no layout, so
 * boxes are stubbed; no canvas, so its pixels are a stubbed data URL).
 */
import * as fs from 'fs';
import * as path from 'path';

import { csvField, defuseFormula, selectedRows, selectionCsv, viewsToSvg } from '../exportViews';
import type { ITable } from '../../views/types';

const table: ITable = {
  rows: 4,
  ids: ['sim0', 'sim1', 'sim2', 'sim3'],
  columns: [
    { kind: 'categorical', name: 'profile', codes: Int32Array.from([0, 1, -1, 2]), levels: ['flat', 'a,b', '=SUM(A1)'] },
    { kind: 'numeric', name: 'd_density', values: Float32Array.from([0.5, NaN, 2, -3]) }
  ]
};

const CSV_VECTORS = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'vectors', 'csv.json'), 'utf8')
) as { cells: { text: string; cell: string }[] };

describe('the shared CSV formula vectors (as the CLI writes them)', () => {
  it('has cases that are defused and cases that stay', () => {
    expect(CSV_VECTORS.cells.some(v => v.cell !== v.text)).toBe(true);
    expect(CSV_VECTORS.cells.some(v => v.cell === v.text && /^[-+]/.test(v.text))).toBe(true);
  });
  it.each(CSV_VECTORS.cells.map(v => [JSON.stringify(v.text), v]))('defuses %s', (_, v) => {
    expect(defuseFormula(v.text)).toBe(v.cell);
  });
});

describe('the selection as CSV', () => {
  it('writes sim_id and every column for the selected rows only, missing values empty', () => {
    const csv = selectionCsv(table, Uint8Array.from([1, 1, 0, 1]));
    expect(csv.split('\r\n')).toEqual(['sim_id,profile,d_density', 'sim0,flat,0.5', 'sim1,"a,b",', "sim3,'=SUM(A1),-3", '']);
  });

  it('quotes separators and quotes, defuses formulas, keeps numbers as numbers', () => {
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('+1')).toBe('+1'); // a plain number, read as a number, never run (as the CLI)
    expect(csvField('+1+1')).toBe("'+1+1");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField(-3)).toBe('-3');
    expect(csvField(NaN)).toBe('');
  });

  it('lists the first selected rows for the table', () => {
    expect(selectedRows(Uint8Array.from([0, 1, 1, 0, 1]), 2)).toEqual([1, 2]);
  });
});

describe('the views as SVG', () => {
  it('stacks canvases as images and SVGs as vectors where they are on screen', () => {
    const view = document.createElement('div');
    const canvas = document.createElement('canvas');
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    label.textContent = 'd_density';
    label.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'title')).textContent = 'drag to reorder';
    svg.appendChild(label);
    view.append(canvas, svg);
    document.body.appendChild(view);
    const rect = (left: number, top: number, width: number, height: number) =>
      ({ left, top, width, height, right: left + width, bottom: top + height, x: left, y: top, toJSON: () => ({}) }) as DOMRect;
    jest.spyOn(canvas, 'getBoundingClientRect').mockReturnValue(rect(100, 50, 300, 200));
    jest.spyOn(svg, 'getBoundingClientRect').mockReturnValue(rect(90, 40, 320, 220));
    jest.spyOn(canvas, 'toDataURL').mockReturnValue('data:image/png;base64,AAAA');
    const out = viewsToSvg([view], 'rgb(1, 2, 3)');
    expect(out.width).toBe(320);
    expect(out.height).toBe(220);
    const doc = new DOMParser().parseFromString(out.svg, 'image/svg+xml');
    const root = doc.documentElement;
    expect(root.getAttribute('viewBox')).toBe('0 0 320 220');
    expect(root.querySelector('rect')!.getAttribute('fill')).toBe('rgb(1, 2, 3)');
    const image = root.querySelector('image')!;
    expect([image.getAttribute('x'), image.getAttribute('y'), image.getAttribute('href')]).toEqual(['10', '10', 'data:image/png;base64,AAAA']);
    // The axis text comes along as text; the page's tooltips do not.
    expect(root.querySelector('svg text')!.textContent).toBe('d_density');
    expect(root.querySelector('title')).toBeNull();
    view.remove();
  });
});

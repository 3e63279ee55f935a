/**
 * Baseline: parcoord-es 2.2.10 (npm), the ES-module fork of Kai Chang's parallel-coordinates
 * (canvas polylines, d3 v5 brushes), used as its README shows: data as row objects, explicit
 * dimension types (categorical axes as 'string'), a color function, `render()`,
 * `createAxes()`, `brushMode('1D-axes')`, in its default (synchronous, not progressive) render
 * mode. A brush move is a drag of the axis's d3 brush, which runs parcoord-es's own handler:
 * filter the rows within the brushes, then redraw the brushed layer.
 */
import ParCoords from 'parcoord-es';
import * as d3 from 'd3';

import type { ITable } from '../../src/views/types';
import { BRUSH_AXIS, COLOR_BY, RowObject, toObjects } from '../data';
import { VerticalBrushDrag } from '../drag';
import { IBrushResult, ILibrary, MARGIN, PARCOORDS_HEIGHT, PARCOORDS_WIDTH } from '../library';
import css from 'parcoord-es/dist/parcoords.css';

// parcoord-es ships no types: the few calls used here.
interface IParCoords {
  (el: HTMLElement): IParCoords;
  data(rows: RowObject[]): IParCoords;
  dimensions(): Record<string, { yscale: d3.ScaleLinear<number, number> }>;
  dimensions(d: Record<string, unknown>): IParCoords;
  color(c: (d: RowObject) => string): IParCoords;
  alpha(a: number): IParCoords;
  render(): IParCoords;
  createAxes(): IParCoords;
  brushMode(m: string): IParCoords;
  brushExtents(e: Record<string, [number, number]>): IParCoords;
  brushed(): RowObject[] | false;
  g(): d3.Selection<SVGGElement, string, SVGGElement, unknown>;
  selection: d3.Selection<HTMLElement, unknown, null, undefined>;
}

export class ParcoordEs implements ILibrary {
  readonly name = 'parcoord-es';
  readonly brushInput = 'pointer';

  prepare(table: ITable): void {
    this._rows = toObjects(table);
    this._dims = {};
    table.columns.forEach((c, index) => {
      this._dims[c.name] = { type: c.kind === 'categorical' ? 'string' : 'number', index };
    });
    const levels = table.columns.find(c => c.name === COLOR_BY);
    this._colorLevels = levels && levels.kind === 'categorical' ? levels.levels.map(String) : [];
  }

  setup(host: HTMLElement): void {
    const style = document.createElement('style');
    style.textContent = css;
    document.head.appendChild(style);
    host.classList.add('parcoords');
    host.style.width = `${PARCOORDS_WIDTH}px`;
    host.style.height = `${PARCOORDS_HEIGHT}px`;
    host.style.position = 'relative';
    const color = d3.scaleOrdinal(this._colorLevels, d3.schemeTableau10);
    this._pc = (ParCoords as unknown as (config: unknown) => IParCoords)({ margin: MARGIN })(host)
      .data(this._rows)
      .dimensions(this._dims)
      .color(d => color(String(d[COLOR_BY])))
      .alpha(0.5)
      .render()
      .createAxes()
      .brushMode('1D-axes');
  }

  brushBegin(win: [number, number]): void {
    const pc = this._pc;
    const scale = pc.dimensions()[BRUSH_AXIS].yscale;
    const [lo, hi] = scale.domain();
    const value = (f: number) => lo + f * (hi - lo);
    pc.brushExtents({ [BRUSH_AXIS]: [value(win[0]), value(win[1])] });
    const svg = pc.selection.select('svg').node() as SVGSVGElement;
    const axis = pc.g().filter(d => d === BRUSH_AXIS).node()!;
    this._drag = new VerticalBrushDrag(
      // querySelector, not d3's select: that would overwrite the rect's datum with the axis's.
      () => axis.querySelector('g.brush rect.selection')!,
      f => svg.getBoundingClientRect().top + MARGIN.top + scale(value(f))
    );
    this._drag.begin((win[0] + win[1]) / 2);
  }

  brushMove(win: [number, number]): IBrushResult {
    this._drag!.move((win[0] + win[1]) / 2);
    const brushed = this._pc.brushed();
    return { selected: brushed ? brushed.length : -1 };
  }

  brushEnd(): void {
    this._drag?.end();
  }

  notes(): string[] {
    return ['canvas polylines, default (synchronous) render mode, 1D-axes brush'];
  }

  private _rows: RowObject[] = [];
  private _dims: Record<string, { type: string; index: number }> = {};
  private _colorLevels: string[] = [];
  private _pc!: IParCoords;
  private _drag: VerticalBrushDrag | null = null;
}

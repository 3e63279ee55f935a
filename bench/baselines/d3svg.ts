/**
 * Baseline: plain D3 7 parallel coordinates in SVG, one <path> per row, as a competent D3 user
 * writes them (after Bostock's "Parallel Coordinates" example): point scales for categorical
 * axes, linear scales for numeric ones, a d3.brushY per axis, and on every brush event the
 * paths outside the brushes get the class `context` (grey) and the others lose it.
 */
import * as d3 from 'd3';

import type { ITable } from '../../src/views/types';
import { BRUSH_AXIS, COLOR_BY, RowObject, toObjects } from '../data';
import { VerticalBrushDrag } from '../drag';
import {
  CONTEXT_COLOR,
  IBrushResult,
  ILibrary,
  MARGIN,
  PARCOORDS_HEIGHT,
  PARCOORDS_WIDTH
} from '../library';

const STYLE = `
.d3pc path.line { fill: none; stroke-width: 1; stroke-opacity: 0.5; }
.d3pc path.line.context { stroke: ${CONTEXT_COLOR}; stroke-opacity: 0.3; }
.d3pc .axis text { font: 10px sans-serif; }
`;

type Scale = d3.ScaleLinear<number, number> | d3.ScalePoint<string>;

export class D3Svg implements ILibrary {
  readonly name = 'd3-svg';
  readonly brushInput = 'pointer';

  prepare(table: ITable): void {
    this._rows = toObjects(table);
    this._dims = table.columns.map(c => c.name);
    this._categorical = new Map(
      table.columns
        .filter(c => c.kind === 'categorical')
        .map(c => [c.name, c.kind === 'categorical' ? c.levels.map(String) : []])
    );
    this._colorLevels = this._categorical.get(COLOR_BY) ?? [];
  }

  setup(host: HTMLElement): void {
    const style = document.createElement('style');
    style.textContent = STYLE;
    document.head.appendChild(style);

    const width = PARCOORDS_WIDTH - MARGIN.left - MARGIN.right;
    const height = PARCOORDS_HEIGHT - MARGIN.top - MARGIN.bottom;
    const rows = this._rows;
    const dims = this._dims;
    const x = d3.scalePoint(dims, [0, width]).padding(0.2);
    const y = new Map<string, Scale>();
    for (const dim of dims) {
      const levels = this._categorical.get(dim);
      if (levels) {
        y.set(dim, d3.scalePoint(levels, [height, 0]));
      } else {
        const extent = d3.extent(rows, r => r[dim] as number) as [number, number];
        y.set(dim, d3.scaleLinear(extent, [height, 0]));
      }
    }
    this._y = y;
    const color = d3.scaleOrdinal(this._colorLevels, d3.schemeTableau10);
    const line = d3.line();
    const point = (r: RowObject, dim: string): [number, number] => [
      x(dim)!,
      (y.get(dim) as (v: unknown) => number)(r[dim])
    ];

    const svg = d3
      .select(host)
      .append('svg')
      .attr('class', 'd3pc')
      .attr('width', PARCOORDS_WIDTH)
      .attr('height', PARCOORDS_HEIGHT);
    this._svg = svg.node()!;
    const g = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);

    this._paths = g
      .append('g')
      .selectAll<SVGPathElement, RowObject>('path')
      .data(rows)
      .join('path')
      .attr('class', 'line')
      .attr('stroke', r => color(String(r[COLOR_BY])))
      .attr('d', r => line(dims.map(dim => point(r, dim))));

    const brushes = new Map<string, [number, number]>();
    const axes = g
      .selectAll<SVGGElement, string>('g.axis')
      .data(dims)
      .join('g')
      .attr('class', 'axis')
      .attr('transform', dim => `translate(${x(dim)},0)`)
      .each(function (dim) {
        d3.select(this).call(d3.axisLeft(y.get(dim) as d3.AxisScale<d3.AxisDomain>).ticks(5));
      });
    axes
      .append('text')
      .attr('y', -9)
      .attr('text-anchor', 'middle')
      .attr('fill', 'currentColor')
      .text(dim => dim);

    const brush = d3
      .brushY<string>()
      .extent([
        [-10, 0],
        [10, height]
      ])
      .on('brush end', (event: d3.D3BrushEvent<string>, dim: string) => {
        if (event.selection) {
          brushes.set(dim, event.selection as [number, number]);
        } else {
          brushes.delete(dim);
        }
        this._count = this._brushed(brushes);
      });
    this._brush = brush;
    axes
      .append('g')
      .attr('class', 'brush')
      .call(brush);
    this._brushGroup = (dim: string) =>
      axes.filter(d => d === dim).select<SVGGElement>('g.brush');
  }

  /** The paths outside any brush get the class `context`; returns how many are in. */
  private _brushed(brushes: Map<string, [number, number]>): number {
    const active = [...brushes].map(([dim, [y0, y1]]) => ({
      scale: this._y.get(dim) as (v: unknown) => number,
      dim,
      y0,
      y1
    }));
    let count = 0;
    this._paths.classed('context', r => {
      const inside = active.every(a => {
        const py = a.scale(r[a.dim]);
        return py >= a.y0 && py <= a.y1;
      });
      count += inside ? 1 : 0;
      return !inside;
    });
    return count;
  }

  brushBegin(win: [number, number]): void {
    const group = this._brushGroup(BRUSH_AXIS);
    const y = this._fracToY();
    group.call(this._brush.move, [y(win[1]), y(win[0])]);
    const top = () => this._svg.getBoundingClientRect().top + MARGIN.top;
    this._drag = new VerticalBrushDrag(
      // querySelector, not d3's select: that would overwrite the rect's datum with the axis's.
      () => group.node()!.querySelector('rect.selection')!,
      f => top() + y(f)
    );
    this._drag.begin((win[0] + win[1]) / 2);
  }

  brushMove(win: [number, number]): IBrushResult {
    this._drag!.move((win[0] + win[1]) / 2);
    return { selected: this._count };
  }

  brushEnd(): void {
    this._drag?.end();
  }

  notes(): string[] {
    return ['one SVG <path> per row; a brush move toggles the class of every path (d3 7)'];
  }

  /** Fraction of the brushed axis's extent -> pixel y inside the plot. */
  private _fracToY(): (f: number) => number {
    const scale = this._y.get(BRUSH_AXIS) as d3.ScaleLinear<number, number>;
    const [lo, hi] = scale.domain();
    return f => scale(lo + f * (hi - lo));
  }

  private _rows: RowObject[] = [];
  private _dims: string[] = [];
  private _categorical = new Map<string, string[]>();
  private _colorLevels: string[] = [];
  private _y = new Map<string, Scale>();
  private _svg!: SVGSVGElement;
  private _paths!: d3.Selection<SVGPathElement, RowObject, SVGGElement, unknown>;
  private _brush!: d3.BrushBehavior<string>;
  private _brushGroup!: (dim: string) => d3.Selection<SVGGElement, string, SVGGElement, unknown>;
  private _drag: VerticalBrushDrag | null = null;
  private _count = -1;
}

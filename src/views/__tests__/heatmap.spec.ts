/**
 * The heatmap paints each cell's color at the pixel its coordinates say (the vertical axis grows
 * upward), leaves NaN transparent, and runs and ground truths compared share one color domain.
 */
import { color } from 'd3-color';
import { interpolateMagma, interpolateViridis } from 'd3-scale-chromatic';

import { cellIndex, colorDomain, colorOf, Heatmap, HEATMAP_MARGIN, rasterize, resample, type IHeatmapGrid } from '../heatmap';

function rgb(css: string): [number, number, number] {
  const c = color(css)!.rgb();
  return [c.r, c.g, c.b];
}

/** RGBA of the raster's pixel (x, y), y from the top. */
function pixel(r: { width: number; data: Uint8ClampedArray }, x: number, y: number): number[] {
  const p = 4 * (y * r.width + x);
  return Array.from(r.data.slice(p, p + 4));
}

describe('rasterize', () => {
  // 2 rows of R (0..1) by 3 columns of z (-1..1): z along the width, R up the height.
  const rz: IHeatmapGrid = {
    data: Float32Array.from([0, 1, 2, 3, 5, NaN]),
    shape: [2, 3],
    extent: [
      [0, 1],
      [-1, 1]
    ],
    labels: ['R', 'z'],
    horizontal: 1
  };

  it('puts the first R row at the bottom, z from left to right, colored by viridis over the domain', () => {
    const r = rasterize(rz, [0, 5], 'viridis');
    expect([r.width, r.height]).toEqual([3, 2]);
    expect(pixel(r, 0, 1)).toEqual([...rgb(interpolateViridis(0)), 255]); // R row 0, z column 0: value 0
    expect(pixel(r, 2, 1)).toEqual([...rgb(interpolateViridis(2 / 5)), 255].map((v, i) => (i < 3 ? expect.closeTo(v, -0.5) : v)));
    expect(pixel(r, 1, 0)).toEqual([...rgb(interpolateViridis(1)), 255]); // R row 1, z column 1: value 5, the top
    expect(pixel(r, 0, 0)).toEqual([...colorOf(3, [0, 5], 'viridis'), 255]);
  });

  it('leaves NaN cells fully transparent', () => {
    const r = rasterize(rz, [0, 5], 'viridis');
    expect(pixel(r, 2, 0)).toEqual([0, 0, 0, 0]);
    const alphas = Array.from({ length: 6 }, (_, k) => r.data[4 * k + 3]);
    expect(alphas.filter(a => a === 0)).toHaveLength(1);
  });

  it('clamps values outside the domain to its ends, and maps |diff| with magma', () => {
    expect(colorOf(-3, [0, 1], 'viridis')).toEqual(rgb(interpolateViridis(0)));
    expect(colorOf(9, [0, 1], 'viridis')).toEqual(rgb(interpolateViridis(1)));
    expect(colorOf(1, [0, 1], 'magma')).toEqual(rgb(interpolateMagma(1)));
  });

  it('runs x along the width and y up the height for an x/y grid', () => {
    const xy: IHeatmapGrid = { ...rz, data: Float32Array.from([0, 1, 2, 3, 4, 5]), shape: [3, 2], labels: ['x', 'y'], horizontal: 0 };
    const r = rasterize(xy, [0, 5], 'viridis');
    expect([r.width, r.height]).toEqual([3, 2]);
    expect(pixel(r, 0, 1)).toEqual([...rgb(interpolateViridis(0)), 255]); // x 0, y 0
    expect(pixel(r, 0, 0)).toEqual([...colorOf(1, [0, 5], 'viridis'), 255]); // x 0, y 1 (top)
    expect(pixel(r, 2, 0)).toEqual([...rgb(interpolateViridis(1)), 255]); // x 2, y 1
  });
});

describe('colorDomain', () => {
  it('spans the finite values of every array compared (NaN left out)', () => {
    expect(colorDomain([Float32Array.from([1, NaN, 3]), Float32Array.from([0.5, 2])])).toEqual([0.5, 3]);
  });

  it('starts at 0 for a difference, pads a constant field, and survives nothing finite', () => {
    expect(colorDomain([Float32Array.from([0.25, 0.75, NaN])], true)).toEqual([0, 0.75]);
    expect(colorDomain([Float32Array.from([2, 2])])).toEqual([1.9, 2.1]);
    expect(colorDomain([Float32Array.from([NaN])])).toEqual([0, 1]);
  });
});

describe('Heatmap (jsdom)', () => {
  let drawn: { image: Uint8ClampedArray | null; draws: number[][] };

  beforeEach(() => {
    drawn = { image: null, draws: [] };
    jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(function () {
      return {
        clearRect: () => undefined,
        createImageData: (w: number, h: number) => ({ data: new Uint8ClampedArray(w * h * 4) }),
        putImageData: (image: { data: Uint8ClampedArray }) => (drawn.image = image.data),
        drawImage: (_: unknown, ...at: number[]) => drawn.draws.push(at),
        imageSmoothingEnabled: true
      } as unknown as CanvasRenderingContext2D;
    } as never);
  });

  afterEach(() => jest.restoreAllMocks());

  const grid: IHeatmapGrid = {
    data: Float32Array.from([0, 1, 2, 3, 4, NaN]),
    shape: [2, 3],
    extent: [
      [0, 1],
      [-1, 1]
    ],
    labels: ['R', 'z'],
    horizontal: 1
  };

  it('scales the cells onto the plot, with axes in the grid units and a colorbar over the domain', () => {
    const map = new Heatmap({ colormap: 'viridis', domain: [0, 4], quantity: 'ρ' });
    document.body.appendChild(map.node);
    map.setData(grid);
    expect(drawn.image).toEqual(rasterize(grid, [0, 4], 'viridis').data);
    const canvas = map.node.querySelector('canvas')!;
    const [width, height] = [parseFloat(canvas.style.width), parseFloat(canvas.style.height)];
    expect(height).toBeCloseTo(width / 2, 0); // R spans 1, z spans 2: equal units
    expect(drawn.draws).toEqual([[0, 0, canvas.width, canvas.height]]);
    expect(canvas.style.left).toBe(`${HEATMAP_MARGIN.left}px`);
    const ticks = (axis: string) => [...map.node.querySelectorAll(`g[data-axis="${axis}"] .tick text`)].map(t => Number(t.textContent!.replace('\u2212', '-'))); // d3 writes a real minus
    expect(Math.min(...ticks('z'))).toBe(-1);
    expect(Math.max(...ticks('z'))).toBe(1);
    expect(Math.max(...ticks('R'))).toBe(1);
    const labels = [...map.node.querySelectorAll('.jp-DSI-heatmapLabel')].map(t => t.textContent);
    expect(labels).toEqual(['z', 'R']);
    const stops = [...map.node.querySelectorAll('stop')];
    expect(stops[0].getAttribute('stop-color')).toBe(interpolateViridis(0));
    expect(stops[stops.length - 1].getAttribute('stop-color')).toBe(interpolateViridis(1));
    const bar = [...map.node.querySelectorAll('.jp-DSI-colorbarAxis .tick text')].map(t => Number(t.textContent));
    expect(Math.min(...bar)).toBe(0);
    expect(Math.max(...bar)).toBe(4);
    // The pixel under a point is its cell: bottom left is R row 0, z column 0; top right the last.
    expect(map.cellAt(1, height - 1)).toEqual([0, 0]);
    expect(map.cellAt(width - 1, 1)).toEqual([1, 2]);
    expect(map.cellAt(width / 2, height / 4)).toEqual([1, 1]);
    expect(map.cellAt(-1, 0)).toBeNull();
    map.node.remove();
  });

  it('draws a graded grid cell by cell where its edges say, and reads the cell under the pointer from them', () => {
    const map = new Heatmap({ colormap: 'viridis', domain: [0, 5], quantity: 'ρ' });
    document.body.appendChild(map.node);
    map.setData({
      data: Float32Array.from([0, 5]),
      shape: [2, 1],
      extent: [
        [0, 3],
        [0, 1]
      ],
      labels: ['x', 'y'],
      horizontal: 0,
      edges: [[0, 2, 3], null]
    });
    const canvas = map.node.querySelector('canvas')!;
    expect(drawn.image).toHaveLength(canvas.width * canvas.height * 4); // painted at the canvas' size
    const at = (value: number) => {
      const i = 4 * Math.floor(map.scales!.x(value));
      return Array.from(drawn.image!.slice(i, i + 4));
    };
    expect(at(1.5)).toEqual([...rgb(interpolateViridis(0)), 255]); // uniform cells would put 1.5 in the second
    expect(at(2.5)).toEqual([...rgb(interpolateViridis(1)), 255]);
    expect(map.cellAt(map.scales!.x(1.9), 1)).toEqual([0, 0]);
    expect(map.cellAt(map.scales!.x(2.1), 1)).toEqual([1, 0]);
    map.node.remove();
  });
});

describe('a graded grid', () => {
  it('finds the cell between its edges, where uniform cells would say another', () => {
    expect(cellIndex(1.5, 0, 3, 2, [0, 2, 3])).toBe(0);
    expect(cellIndex(1.5, 0, 3, 2)).toBe(1);
    expect(cellIndex(2.5, 0, 3, 2, [0, 2, 3])).toBe(1);
    expect(cellIndex(3.5, 0, 3, 2, [0, 2, 3])).toBe(-1);
  });

  it('paints each device pixel with the cell its centre lies in', () => {
    // x cells [0, 2] and [2, 3] (values 0 and 5), one y cell: 6 pixels across, 1 up.
    const grid: IHeatmapGrid = {
      data: Float32Array.from([0, 5]),
      shape: [2, 1],
      extent: [
        [0, 3],
        [0, 1]
      ],
      labels: ['x', 'y'],
      horizontal: 0,
      edges: [[0, 2, 3], null]
    };
    const raster = rasterize(grid, [0, 5], 'viridis');
    const cols = Int32Array.from([0, 1, 2, 3, 4, 5], i => cellIndex((i + 0.5) / 2, 0, 3, 2, [0, 2, 3]));
    expect(Array.from(cols)).toEqual([0, 0, 0, 0, 1, 1]); // two thirds of the width for the wide cell
    const out = resample(raster, cols, Int32Array.from([0]));
    expect(Array.from(out.slice(0, 4))).toEqual([...rgb(interpolateViridis(0)), 255]);
    expect(Array.from(out.slice(16, 20))).toEqual([...rgb(interpolateViridis(1)), 255]);
  });
});

/**
 * The scatter's ranked rasterisation (points.ts) gives the pixels of the sorted draw
 * (drawOrder's buckets through rasterizeSquares), and its counts drawOrder's; and the
 * parallel coordinates' two-speed selected layer ends exact after a drag.
 */
import { IPlotGeometry, SelectionDensity, TwoSpeedSelection, liveShift, paletteRGB } from '../parcoords-layers';
import { binsAtShift, quantize } from '../density';
import { countDrawn, pointPixels, RankedPoints, rasterizeRanked } from '../points';
import { DeviceTransform, drawOrder, rasterizeSquares } from '../scatter';
import { mulberry32 } from '../../../tests/js/random';

describe('rasterizeRanked', () => {
  const W = 37;
  const H = 23;
  const random = mulberry32(21);

  /** Rows over the canvas and beyond its edges, a few NaN, many on shared pixels. */
  function rows(n: number): { xs: Float32Array; ys: Float32Array; valid: Uint8Array } {
    const xs = Float32Array.from({ length: n }, () => Math.round((random() * 1.2 - 0.1) * 40) / 40);
    const ys = Float32Array.from({ length: n }, () => Math.round((random() * 1.2 - 0.1) * 40) / 40);
    xs[3] = NaN;
    ys[7] = NaN;
    const valid = Uint8Array.from(xs, (x, i) => (Number.isFinite(x) && Number.isFinite(ys[i]) ? 1 : 0));
    return { xs, ys, valid };
  }

  const t: DeviceTransform = [W, 0, -H, H];

  it('equals the sorted draw, whatever the size, the hidden rows and the arrays given', () => {
    for (let trial = 0; trial < 24; trial++) {
      const n = 400;
      const { xs, ys, valid } = rows(n);
      const nColors = 1 + (trial % 5);
      const keepHidden = trial % 2 === 0;
      const byte = (): number => (random() < 0.5 ? 0 : 1 + Math.floor(random() * 200));
      const visible = trial % 3 === 0 ? null : Uint8Array.from({ length: n }, byte);
      const selected = trial % 4 === 0 ? null : Uint8Array.from({ length: n }, byte);
      const color = trial % 5 === 0 ? null : Uint8Array.from({ length: n }, () => Math.floor(random() * (nColors + 2)));
      const s = 1 + (trial % 4);
      const bucketColors = Uint32Array.from({ length: 1 + 2 * nColors }, (_, b) => 0x1000 + b);

      const expected = new Uint32Array(W * H);
      const order = drawOrder(valid, visible, selected, color, nColors, keepHidden);
      for (let b = 0; b < order.starts.length - 1; b++) {
        rasterizeSquares(expected, W, H, order.order, order.starts[b], order.starts[b + 1], xs, ys, t, s, bucketColors[b]);
      }

      const buf = new Uint32Array(W * H);
      const rank = new Uint16Array(W * H);
      const pix = pointPixels(xs, ys, t, s, W, H);
      rasterizeRanked(buf, rank, W, H, pix, xs, ys, t, s, { valid, visible, selected, color, nColors, keepHidden, bucketColors });
      expect(buf).toEqual(expected);
      expect(countDrawn(valid, visible, keepHidden)).toEqual({ drawn: order.drawn, missing: order.missing });
    }
  });
});

/** A fake 2-D context: keeps the last pixels put. */
function fakeContext(width: number, height: number): CanvasRenderingContext2D & { shown: Uint8ClampedArray | null } {
  const ctx = {
    canvas: { width, height },
    shown: null as Uint8ClampedArray | null,
    setTransform: () => undefined,
    clearRect: () => {
      ctx.shown = null;
    },
    createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
    putImageData: (image: { data: Uint8ClampedArray }) => {
      ctx.shown = image.data.slice();
    }
  };
  return ctx as unknown as CanvasRenderingContext2D & { shown: Uint8ClampedArray | null };
}

/** Whether two pixel arrays are equal (byte-wise; jest's toEqual is slow on megabytes). */
function same(a: Uint8ClampedArray | null, b: Uint8ClampedArray | null): boolean {
  return a !== null && b !== null && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('TwoSpeedSelection', () => {
  const rows = 3000;
  const random = mulberry32(8);
  const layout = { top: 20, bottom: 260, missingTop: 270, missingBottom: 284 };
  const baseBins = 264;
  const xs = [40.5, 140.5, 240.5];
  const ys = xs.map(() => Float32Array.from({ length: rows }, () => 20 + random() * 240));
  const geom: IPlotGeometry = {
    width: 300,
    height: 300,
    dpr: 1,
    layout,
    xs,
    ys,
    bins: ys.map(y => quantize(y, layout.top, layout.missingBottom, baseBins)),
    baseBins,
    ids: [1, 2, 3]
  };
  const palette = ['#cccccc', '#000000', '#ff0000', '#0000ff'];
  const index = Uint8Array.from({ length: rows }, (_, i) => 2 + (i % 2));
  const look = { maxAlpha: 0.9, minAlpha: 0.3, lineWidth: 1 };
  const mask = (lo: number, hi: number): Uint8Array => Uint8Array.from(ys[1], y => (y >= lo && y < hi ? 1 : 0));
  const layer = (m: Uint8Array) => ({ mask: m, index, palette });

  /** What a fresh exact layer shows for a mask. */
  function exact(m: Uint8Array): Uint8ClampedArray {
    const ctx = fakeContext(300, 300);
    new SelectionDensity().draw(ctx, geom, [0, 0], layer(m), look);
    return ctx.shown!;
  }

  it('draws coarser while live and the exact layer once the drag ends', () => {
    const ctx = fakeContext(300, 300);
    const two = new TwoSpeedSelection();
    two.draw(ctx, geom, [0, 0], layer(mask(50, 150)), look, false);
    expect(same(ctx.shown, exact(mask(50, 150)))).toBe(true);
    for (const [lo, hi] of [
      [60, 160],
      [80, 180],
      [100, 200]
    ]) {
      two.draw(ctx, geom, [0, 0], layer(mask(lo, hi)), look, true);
      expect(two.showsLive).toBe(true);
    }
    expect(same(ctx.shown, exact(mask(100, 200)))).toBe(false); // coarser while dragging
    two.draw(ctx, geom, [0, 0], layer(mask(100, 200)), look, false);
    expect(two.showsLive).toBe(false);
    expect(same(ctx.shown, exact(mask(100, 200)))).toBe(true);
  });

  it('shows the exact layer again after a drag back to where it began', () => {
    const ctx = fakeContext(300, 300);
    const two = new TwoSpeedSelection();
    two.draw(ctx, geom, [0, 0], layer(mask(50, 150)), look, false);
    two.draw(ctx, geom, [0, 0], layer(mask(90, 190)), look, true);
    // The exact layer's own state did not change: it must still put its pixels back.
    two.draw(ctx, geom, [0, 0], layer(mask(50, 150)), look, false);
    expect(same(ctx.shown, exact(mask(50, 150)))).toBe(true);
  });

  it('prepared while idle, a layer then draws the selection it was brought to', () => {
    const ctx = fakeContext(300, 300);
    const density = new SelectionDensity();
    density.prepare(geom, [0, 0], layer(mask(40, 140)));
    density.draw(ctx, geom, [0, 0], layer(mask(70, 170)), look);
    expect(same(ctx.shown, exact(mask(70, 170)))).toBe(true);
    density.prepare(geom, [0, 0], layer(mask(70, 170))); // nothing changed: it still puts its pixels next time
    ctx.shown = null;
    density.draw(ctx, geom, [0, 0], layer(mask(70, 170)), look);
    expect(same(ctx.shown, exact(mask(70, 170)))).toBe(true);
  });

  it('brings the live layer up to the selection while idle, before a drag', async () => {
    const ctx = fakeContext(300, 300);
    const two = new TwoSpeedSelection();
    two.draw(ctx, geom, [0, 0], layer(mask(50, 150)), look, false);
    two.prepareLive(geom, [0, 0], layer(mask(50, 150)));
    await new Promise(resolve => setTimeout(resolve, 120)); // the idle preparation (a timeout in jsdom)
    two.draw(ctx, geom, [0, 0], layer(mask(60, 160)), look, true);
    const live = new SelectionDensity();
    const reference = fakeContext(300, 300);
    live.draw(reference, geom, [2, 2], layer(mask(60, 160)), look);
    expect(same(ctx.shown, reference.shown)).toBe(true);
  });

  it('coarsens by up to 4x, never below 32 bins', () => {
    expect(liveShift(512, 0)).toBe(2);
    expect(liveShift(512, 1)).toBe(3);
    expect(binsAtShift(100, liveShift(100, 0))).toBeGreaterThanOrEqual(32);
    expect(liveShift(40, 0)).toBe(0);
    expect(paletteRGB(palette).length).toBe(768);
  });
});

describe('RankedPoints', () => {
  it('keeps the pixels of a fresh ranked draw through any sequence of row changes', () => {
    const random = mulberry32(33);
    const W = 29;
    const H = 31;
    const n = 600;
    const t: DeviceTransform = [W, 0, -H, H];
    const xs = Float32Array.from({ length: n }, () => Math.round((random() * 1.2 - 0.1) * 30) / 30);
    const ys = Float32Array.from({ length: n }, () => Math.round((random() * 1.2 - 0.1) * 30) / 30);
    xs[5] = NaN;
    const valid = Uint8Array.from(xs, (x, i) => (Number.isFinite(x) && Number.isFinite(ys[i]) ? 1 : 0));
    const nColors = 4;
    const bucketColors = Uint32Array.from({ length: 1 + 2 * nColors }, (_, b) => 0x2000 + b);
    for (const [s, keepHidden] of [
      [2, false],
      [3, true],
      [1, false]
    ] as [number, boolean][]) {
      const pix = pointPixels(xs, ys, t, s, W, H);
      const kept = new RankedPoints();
      const buf = new Uint32Array(W * H);
      const visible = new Uint8Array(n);
      const selected = new Uint8Array(n);
      const color = new Uint8Array(n);
      for (let step = 0; step < 30; step++) {
        // A few rows change each step (a lasso's or a brush's move), sometimes many.
        const changes = step % 7 === 0 ? n : 1 + Math.floor(random() * 40);
        for (let k = 0; k < changes; k++) {
          const r = Math.floor(random() * n);
          visible[r] = random() < 0.7 ? 1 : 0;
          selected[r] = random() < 0.5 ? 1 : 0;
          color[r] = Math.floor(random() * nColors);
        }
        const rows = { valid, visible, selected, color, nColors, keepHidden, bucketColors };
        kept.update(buf, `s${s}`, W, H, pix, xs, ys, t, s, rows);
        const expected = new Uint32Array(W * H);
        rasterizeRanked(expected, new Uint16Array(W * H), W, H, pix, xs, ys, t, s, rows);
        expect(buf).toEqual(expected);
      }
    }
  });
});

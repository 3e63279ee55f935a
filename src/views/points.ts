/**
 * The scatter's points as pixels, without sorting the rows: each pixel keeps the color of the
 * highest draw rank that covers it.
 *
 * The scatter draws rows in buckets (faint hidden rows, then each color unselected, then each
 * color selected: see scatter.ts's drawOrder) and, within a bucket, by row; a later square
 * covers an earlier one. That is, per pixel, the square of the greatest (bucket, row) wins.
 * Writing rows in row order and keeping a pixel's bucket beside its color (a pixel takes a
 * square whose bucket is >= the one it holds) gives exactly those pixels in one pass over the
 * rows, with no counting sort: at a million rows the sort was two thirds of a selection frame.
 *
 * The pixel of every row's square depends on the data, the zoom, the canvas and the square's
 * size only, not on the selection, so it is computed once for them (`pointPixels`).
 */
import type { DeviceTransform } from './scatter';

/** Marks a row whose square is clipped by, or lies off, the canvas: drawn by the clipping path. */
export const CLIPPED = -1;

/**
 * The top-left pixel index (y * W + x) of every row's s x s square, centred on its point as
 * rasterizeSquares places it, or CLIPPED where the square is not wholly inside the W x H canvas
 * (a NaN coordinate included). Written into `out` when it has the length.
 */
export function pointPixels(
  xs: Float32Array,
  ys: Float32Array,
  t: DeviceTransform,
  s: number,
  W: number,
  H: number,
  out?: Int32Array
): Int32Array {
  const n = xs.length;
  const pix = out && out.length === n ? out : new Int32Array(n);
  const [ax, bx, ay, by] = t;
  const half = s / 2;
  const bxh = bx - half + 0.5; // + 0.5 then floor = round, as rasterizeSquares
  const byh = by - half + 0.5;
  for (let r = 0; r < n; r++) {
    const px = Math.floor(xs[r] * ax + bxh);
    const py = Math.floor(ys[r] * ay + byh);
    // NaN fails every comparison: such a row is CLIPPED (and never valid, so never drawn).
    pix[r] = px >= 0 && py >= 0 && px + s <= W && py + s <= H ? py * W + px : CLIPPED;
  }
  return pix;
}

/** What a ranked pass draws: the rows' state and each bucket's RGBA word. */
export interface IRankedRows {
  /** 1 for rows with both coordinates finite. */
  readonly valid: Uint8Array;
  /** 1 for rows passing the brushes; null: every row. */
  readonly visible: Uint8Array | null;
  /** 1 for selected rows (drawn above the others); null: none. */
  readonly selected: Uint8Array | null;
  /** Palette index per row; null: 0 for every row. */
  readonly color: Uint8Array | null;
  /** Palette size (1..256), as drawOrder's nColors. */
  readonly nColors: number;
  /** Whether hidden rows are drawn (faint, bucket 0) rather than left out. */
  readonly keepHidden: boolean;
  /** RGBA word per bucket: 0 the faint color, 1 + c color c, 1 + nColors + c color c selected. */
  readonly bucketColors: Uint32Array;
}

/**
 * Draws the rows' squares into `buf` (W x H RGBA words, cleared by the caller) with `rank`
 * (W x H, cleared to 0) holding each pixel's winning bucket + 1. The pixels equal drawOrder's
 * buckets drawn by rasterizeSquares one after the other.
 */
export function rasterizeRanked(
  buf: Uint32Array,
  rank: Uint16Array,
  W: number,
  H: number,
  pix: Int32Array,
  xs: Float32Array,
  ys: Float32Array,
  t: DeviceTransform,
  s: number,
  rows: IRankedRows
): void {
  const n = pix.length;
  const { valid, keepHidden, bucketColors } = rows;
  // Plain arrays for absent ones: one loop without null tests, and no branch on a row's
  // selection (random rows: a mispredicted branch per row cost more than the drawing).
  const visible = rows.visible ?? new Uint8Array(n).fill(1);
  const selected = rows.selected ?? new Uint8Array(n);
  const color = rows.color ?? new Uint8Array(n);
  const nc = Math.max(1, Math.min(256, rows.nColors));
  const hiddenBucket = keepHidden ? 0 : -1;
  const ax = t[0];
  const ay = t[2];
  const bxh = t[1] - s / 2 + 0.5; // + 0.5 then floor = round, as rasterizeSquares
  const byh = t[3] - s / 2 + 0.5;
  for (let r = 0; r < n; r++) {
    if (valid[r] === 0) {
      continue;
    }
    const c = color[r];
    // (v + 255) >> 8: 1 for any non-zero byte, without a branch.
    const shown = (visible[r] + 255) >> 8;
    let b = 1 + (c < nc ? c : 0) + ((selected[r] + 255) >> 8) * nc;
    if (shown === 0) {
      if (hiddenBucket < 0) {
        continue;
      }
      b = hiddenBucket;
    }
    // Ranks are bucket + 1, so that 0 is an empty pixel.
    const k = b + 1;
    const word = bucketColors[b];
    const p = pix[r];
    if (p >= 0) {
      if (s === 2) {
        if (k >= rank[p]) {
          rank[p] = k;
          buf[p] = word;
        }
        if (k >= rank[p + 1]) {
          rank[p + 1] = k;
          buf[p + 1] = word;
        }
        const q = p + W;
        if (k >= rank[q]) {
          rank[q] = k;
          buf[q] = word;
        }
        if (k >= rank[q + 1]) {
          rank[q + 1] = k;
          buf[q + 1] = word;
        }
        continue;
      }
      for (let row = p, end = p + s * W; row < end; row += W) {
        for (let j = row; j < row + s; j++) {
          if (k >= rank[j]) {
            rank[j] = k;
            buf[j] = word;
          }
        }
      }
      continue;
    }
    // A square across the canvas's edge (or off it): clipped, as rasterizeSquares clips it.
    const px = Math.floor(xs[r] * ax + bxh);
    const py = Math.floor(ys[r] * ay + byh);
    const x0 = Math.max(0, px);
    const y0 = Math.max(0, py);
    const x1 = Math.min(W, px + s);
    const y1 = Math.min(H, py + s);
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0, j = yy * W + x0; xx < x1; xx++, j++) {
        if (k >= rank[j]) {
          rank[j] = k;
          buf[j] = word;
        }
      }
    }
  }
}

/** The rows drawn (valid and visible, or valid at all when hidden rows are kept) and the visible rows with a missing coordinate. */
export function countDrawn(
  valid: Uint8Array,
  visible: Uint8Array | null,
  keepHidden: boolean
): { drawn: number; missing: number } {
  const n = valid.length;
  let validVisible = 0;
  let visibleRows = 0;
  let validRows = 0;
  // Branch-free sums ((v + 255) >> 8 is 1 for any non-zero byte): a branch on random rows
  // mispredicts half the time, which made this count cost as much as the drawing.
  if (visible === null) {
    for (let r = 0; r < n; r++) {
      validRows += (valid[r] + 255) >> 8;
    }
    return { drawn: validRows, missing: n - validRows };
  }
  for (let r = 0; r < n; r++) {
    const v = (valid[r] + 255) >> 8;
    const w = (visible[r] + 255) >> 8;
    validRows += v;
    visibleRows += w;
    validVisible += v & w;
  }
  return { drawn: keepHidden ? validRows : validVisible, missing: visibleRows - validVisible };
}

/**
 * The ranked pixels kept by differences: per pixel, how many rows of each draw rank cover it,
 * and per row the rank it was drawn with. An update walks the rows once, and only the rows
 * whose rank changed (a lasso or brush move changes few) touch their pixels; a touched pixel
 * shows its highest rank with rows, in that rank's color. Every row of one rank has the same
 * color, so the counts give exactly rasterizeRanked's pixels (the last row of the highest
 * rank wins there, and it has that rank's color).
 *
 * Anything else (the rows' pixels, the point size, the palette, the canvas) starts afresh.
 */
export class RankedPoints {
  /**
   * Brings `buf` (W x H RGBA words over a buffer kept by the caller between calls and written
   * by nothing else) to the rows' state. `key` names what the pixels and colors depend on
   * besides the rows' ranks (the rows' pixels, point size, canvas, palette): a new key, or
   * another buffer, redraws all.
   */
  update(
    buf: Uint32Array,
    key: string,
    W: number,
    H: number,
    pix: Int32Array,
    xs: Float32Array,
    ys: Float32Array,
    t: DeviceTransform,
    s: number,
    rows: IRankedRows
  ): void {
    const n = pix.length;
    const nc = Math.max(1, Math.min(256, rows.nColors));
    // Ranks 1 .. 1 + 2 nc (bucket + 1); 0 is "not drawn".
    const ranks = 2 + 2 * nc;
    const fresh =
      key !== this._key || buf.buffer !== this._buf || ranks !== this._ranks || (this._counted && (n !== this._rowRank.length || W * H * ranks !== this._counts.length));
    if (fresh) {
      // New pixels, sizes or colors: drawn afresh in one ranked pass, without counts (a
      // weight drag or a time step moves every row each time: counts would be rebuilt for
      // nothing). They are built at the next update with the same key, which starts a drag.
      this._key = key;
      this._buf = buf.buffer;
      this._ranks = ranks;
      this._counted = false;
      buf.fill(0);
      if (this._rank.length !== W * H) {
        this._rank = new Uint16Array(W * H);
      }
      this._rank.fill(0);
      rasterizeRanked(buf, this._rank, W, H, pix, xs, ys, t, s, rows);
      return;
    }
    if (!this._counted) {
      this._counted = true;
      if (this._rowRank.length !== n) {
        this._rowRank = new Uint16Array(n);
      } else {
        this._rowRank.fill(0);
      }
      if (this._counts.length !== W * H * ranks) {
        this._counts = new Int32Array(W * H * ranks);
        this._dirty = new Uint8Array(W * H);
        this._dirtyList = new Int32Array(W * H);
      } else {
        this._counts.fill(0);
      }
      this._words = new Uint32Array(ranks);
      this._words.set(rows.bucketColors.subarray(0, ranks - 1), 1);
      // Every pixel gets recomputed from the counts below: the rows are all "changed".
      buf.fill(0);
    }
    const { valid, keepHidden } = rows;
    const visible = rows.visible ?? new Uint8Array(n).fill(1);
    const selected = rows.selected ?? new Uint8Array(n);
    const color = rows.color ?? new Uint8Array(n);
    const hiddenRank = keepHidden ? 1 : 0;
    const rowRank = this._rowRank;
    const counts = this._counts;
    const dirty = this._dirty;
    const list = this._dirtyList;
    let nDirty = 0;
    const ax = t[0];
    const ay = t[2];
    const bxh = t[1] - s / 2 + 0.5;
    const byh = t[3] - s / 2 + 0.5;
    /** Adds `delta` rows of rank k on row r's square. */
    const touch = (r: number, k: number, delta: number): void => {
      const p = pix[r];
      if (p >= 0) {
        for (let row = p, end = p + s * W; row < end; row += W) {
          for (let j = row; j < row + s; j++) {
            counts[j * ranks + k] += delta;
            if (dirty[j] === 0) {
              dirty[j] = 1;
              list[nDirty++] = j;
            }
          }
        }
        return;
      }
      const px = Math.floor(xs[r] * ax + bxh);
      const py = Math.floor(ys[r] * ay + byh);
      const x1 = Math.min(W, px + s);
      const y1 = Math.min(H, py + s);
      for (let yy = Math.max(0, py); yy < y1; yy++) {
        for (let xx = Math.max(0, px), j = yy * W + xx; xx < x1; xx++, j++) {
          counts[j * ranks + k] += delta;
          if (dirty[j] === 0) {
            dirty[j] = 1;
            list[nDirty++] = j;
          }
        }
      }
    };
    for (let r = 0; r < n; r++) {
      const c = color[r];
      // Branch-free for the common rows; (v + 255) >> 8 is 1 for any non-zero byte.
      const shown = (visible[r] + 255) >> 8;
      const drawnRank = 2 + (c < nc ? c : 0) + ((selected[r] + 255) >> 8) * nc;
      const k = ((valid[r] + 255) >> 8) * (shown * drawnRank + (1 - shown) * hiddenRank);
      const was = rowRank[r];
      if (k !== was) {
        if (was !== 0) {
          touch(r, was, -1);
        }
        if (k !== 0) {
          touch(r, k, 1);
        }
        rowRank[r] = k;
      }
    }
    const words = this._words;
    for (let i = 0; i < nDirty; i++) {
      const j = list[i];
      dirty[j] = 0;
      let k = ranks - 1;
      const base = j * ranks;
      while (k > 0 && counts[base + k] === 0) {
        k--;
      }
      buf[j] = words[k];
    }
  }

  private _key = '';
  /** Whether the counts hold the rows' state (see update). */
  private _counted = false;
  private _rank = new Uint16Array(0);
  private _buf: ArrayBufferLike | null = null;
  private _ranks = 0;
  private _rowRank = new Uint16Array(0);
  private _counts = new Int32Array(0);
  private _dirty = new Uint8Array(0);
  private _dirtyList = new Int32Array(0);
  private _words = new Uint32Array(0);
}

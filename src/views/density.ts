/**
 * Line density: how the parallel coordinates draw 100k to millions of rows within a frame.
 *
 * Rasterising a million blended polylines on a CPU takes seconds; what the eye reads at that
 * scale is where lines go, and how many. So, per pair of adjacent axes, rows are binned by
 * (left pixel, right pixel): a grid of counts whose size depends on the plot, not on the rows.
 * Each non-empty cell is one line, rasterised once into an accumulation buffer with its count;
 * the buffer becomes pixels with a log-scaled alpha. The selection mask stays exact: only the
 * drawing aggregates.
 *
 * Two costs bound a frame:
 *  - the pixel walk of the distinct lines. Where a pair's distinct cells would take too long
 *    to walk (uniform noise fills the whole grid), its grid is coarsened 2x2 at a time until
 *    they fit a budget (`fitBudget`); correlated data keeps full resolution. The resolution is
 *    chosen once per data and size, from all rows, so it holds for any selection;
 *  - the pass over the rows. A brush move changes few rows, so the selected layer is kept as
 *    running sums (`SelectionStrips`, one strip of the plot per pair): a frame adds the lines
 *    of rows that became selected and subtracts those of rows that left, and redraws nothing
 *    else. A strip whose two axes did not change (a time step changing only some columns, a
 *    reorder) keeps its pixels.
 *
 * Colors blend by count: a cell's line carries the summed colors of its rows and a pixel shows
 * the count-weighted mean of the lines crossing it, as datashader's categorical shading does.
 * All sums are integers held in doubles, so adding and later subtracting a row is exact.
 *
 * Pure typed-array code without a canvas: unit-tested directly.
 */

// ---------------------------------------------------------------------------------------------
// Binning
// ---------------------------------------------------------------------------------------------

/**
 * The bin of every row on one axis: `bins` equal bins over [y0, y1) (CSS pixels spanning the
 * axis and its missing band). Computed once per data or size.
 */
export function quantize(
  ys: Float32Array,
  y0: number,
  y1: number,
  bins: number,
  out?: Uint16Array
): Uint16Array {
  const q = out && out.length === ys.length ? out : new Uint16Array(ys.length);
  const k = bins / (y1 - y0);
  const last = bins - 1;
  for (let row = 0; row < ys.length; row++) {
    const b = ((ys[row] - y0) * k) | 0;
    q[row] = b < 0 ? 0 : b > last ? last : b;
  }
  return q;
}

/** The lines between two adjacent axes, binned: cell (left bin, right bin) -> rows. */
export interface IPairGrid {
  /** Bins per axis at this resolution. */
  readonly bins: number;
  /** Grid bin b covers the base bins [b << shift, (b + 1) << shift). */
  readonly shift: number;
  /** Rows per cell; cell = left * bins + right. */
  readonly counts: Uint32Array;
}

/** Bins the rows listed in `rows` (every row if null) by their bins on two adjacent axes. */
export function binPair(
  left: Uint16Array,
  right: Uint16Array,
  bins: number,
  rows: Uint32Array | null = null
): IPairGrid {
  const counts = new Uint32Array(bins * bins);
  if (rows) {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      counts[left[row] * bins + right[row]]++;
    }
  } else {
    for (let row = 0; row < left.length; row++) {
      counts[left[row] * bins + right[row]]++;
    }
  }
  return { bins, shift: 0, counts };
}

/** Halves the resolution of a grid: each cell of the result sums 2x2 cells. */
export function coarsen(grid: IPairGrid): IPairGrid {
  const bins = (grid.bins + 1) >> 1;
  const counts = new Uint32Array(bins * bins);
  for (let a = 0; a < grid.bins; a++) {
    for (let b = 0; b < grid.bins; b++) {
      const c = grid.counts[a * grid.bins + b];
      if (c !== 0) {
        counts[(a >> 1) * bins + (b >> 1)] += c;
      }
    }
  }
  return { bins, shift: grid.shift + 1, counts };
}

/** The number of bins per axis after `shift` halvings of `baseBins` (as `coarsen` does). */
export function binsAtShift(baseBins: number, shift: number): number {
  let bins = baseBins;
  for (let s = 0; s < shift; s++) {
    bins = (bins + 1) >> 1;
  }
  return bins;
}

/** The total number of rows in a grid (binning loses no row). */
export function gridTotal(grid: IPairGrid): number {
  let total = 0;
  for (let i = 0; i < grid.counts.length; i++) {
    total += grid.counts[i];
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------------------------

/** Where a pair's lines go, in device pixels of the accumulation buffer. */
export interface IPairPlacement {
  /** The columns of the left and right axes. */
  readonly xLeft: number;
  readonly xRight: number;
  /** The y of the top edge of base bin 0, and the height of one base bin. */
  readonly yTop: number;
  readonly binHeight: number;
  /** The number of base bins (the resolution `quantize` used). */
  readonly baseBins: number;
}

/** The y (device pixels) of the middle of every bin at a resolution. */
export function binCenters(place: IPairPlacement, shift: number): Float64Array {
  const bins = binsAtShift(place.baseBins, shift);
  const ys = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    const first = b << shift;
    const end = Math.min((b + 1) << shift, place.baseBins);
    ys[b] = place.yTop + ((first + end) / 2) * place.binHeight;
  }
  return ys;
}

/** The pixels a grid's lines will touch: one per step along each line's major axis. */
export function rasterCost(grid: IPairGrid, place: IPairPlacement): number {
  const dx = Math.abs(place.xRight - place.xLeft);
  const ys = binCenters(place, grid.shift);
  let cost = 0;
  for (let a = 0; a < grid.bins; a++) {
    for (let b = 0; b < grid.bins; b++) {
      if (grid.counts[a * grid.bins + b] !== 0) {
        const dy = Math.abs(ys[b] - ys[a]);
        cost += dy > dx ? dy : dx;
      }
    }
  }
  return cost;
}

/**
 * Grids never get coarser than this: below it, line ends would visibly gather on a few points.
 * It also bounds the cost of the densest pair (64 x 64 lines) when the budget cannot be met.
 */
const MIN_BINS = 64;

/** Coarsens a grid until drawing it costs at most `budget` pixels (or it reaches MIN_BINS). */
export function fitBudget(grid: IPairGrid, place: IPairPlacement, budget: number): IPairGrid {
  let fitted = grid;
  while (fitted.bins > MIN_BINS && rasterCost(fitted, place) > budget) {
    fitted = coarsen(fitted);
  }
  return fitted;
}

// ---------------------------------------------------------------------------------------------
// Rasterising
// ---------------------------------------------------------------------------------------------

/**
 * Per-pixel sums of the lines drawn. With 4 channels: the count and the summed r, g, b
 * (0..255 per row), for layers of many colors; with 1, the count only (a one-color layer, and
 * half the memory traffic). Integer sums are exact, so lines can be subtracted again; 32 bits
 * hold them up to 8 million rows through one pixel.
 */
export interface IAccumulator {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 4;
  readonly sums: Int32Array;
}

export function createAccumulator(
  width: number,
  height: number,
  channels: 1 | 4 = 4
): IAccumulator {
  const w = Math.max(0, Math.floor(width));
  const h = Math.max(0, Math.floor(height));
  return { width: w, height: h, channels, sums: new Int32Array(w * h * channels) };
}

/** Fixed-point precision of the line walk: 16 bits of sub-pixel position. */
const ONE = 65536;

/**
 * Adds one line to the buffer: `count` rows whose colors sum to (r, g, b); negative values
 * take rows away. A DDA in 16.16 fixed point along the major axis, one pixel per step, so
 * steep lines stay unbroken; ends are clamped into the buffer once, so that the steps need no
 * test. The last pixel (on the right axis) is left to the next pair, so that an axis is not
 * counted twice.
 */
export function addLine(
  acc: IAccumulator,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  count: number,
  r: number,
  g: number,
  b: number
): void {
  const { width, height, sums } = acc;
  if (width === 0 || height === 0) {
    return;
  }
  const maxX = width - 1e-6;
  const maxY = height - 1e-6;
  const ax = x0 < 0 ? 0 : x0 > maxX ? maxX : x0;
  const ay = y0 < 0 ? 0 : y0 > maxY ? maxY : y0;
  const bx = x1 < 0 ? 0 : x1 > maxX ? maxX : x1;
  const by = y1 < 0 ? 0 : y1 > maxY ? maxY : y1;
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(bx - ax), Math.abs(by - ay))));
  const sx = Math.round(((bx - ax) / steps) * ONE);
  const sy = Math.round(((by - ay) / steps) * ONE);
  let x = Math.trunc(ax * ONE);
  let y = Math.trunc(ay * ONE);
  if (acc.channels === 1) {
    for (let i = 0; i < steps; i++, x += sx, y += sy) {
      sums[(y >> 16) * width + (x >> 16)] += count;
    }
    return;
  }
  for (let i = 0; i < steps; i++, x += sx, y += sy) {
    const p = ((y >> 16) * width + (x >> 16)) << 2;
    sums[p] += count;
    sums[p + 1] += r;
    sums[p + 2] += g;
    sums[p + 3] += b;
  }
}

/** Draws every non-empty cell of a grid as one line of its count (a one-color layer). */
export function rasterizeGrid(grid: IPairGrid, place: IPairPlacement, acc: IAccumulator): void {
  const ys = binCenters(place, grid.shift);
  const { bins, counts } = grid;
  for (let a = 0; a < bins; a++) {
    for (let b = 0; b < bins; b++) {
      const c = counts[a * bins + b];
      if (c !== 0) {
        addLine(acc, place.xLeft, ys[a], place.xRight, ys[b], c, 0, 0, 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The selected layer, kept up to date
// ---------------------------------------------------------------------------------------------

/** One pair of adjacent axes: its rows' bins, its resolution, and where its lines go. */
export interface IPairSetup {
  /** Every row's base bin on the left and right axis. */
  readonly left: Uint16Array;
  readonly right: Uint16Array;
  /** The resolution chosen for the pair (see fitBudget). */
  readonly shift: number;
  /** Where the lines go in the strip's buffer. */
  readonly place: IPairPlacement;
}

/**
 * A pair as the selected layer keeps it: a strip of the plot with its own buffer. `key` says
 * what its pixels depend on (the two axes' pixels, the strip's size, the resolution): a strip
 * whose key survives a change of axes keeps its pixels.
 */
export interface IStripSpec extends IPairSetup {
  readonly key: string;
  readonly width: number;
  readonly height: number;
}

/**
 * Pending changes to a pair, summed per cell so that a cell is redrawn once per frame. Its
 * buffers (megabytes: 4 sums per cell) are shared by all pairs, which are brought up to date
 * one after the other, and sized for the largest grid.
 */
class DeltaScratch {
  /** Makes room for `cells` cells (a grid of bins x bins). */
  fit(cells: number): void {
    if (this.marked.length < cells) {
      this.sums = new Int32Array(cells * 4);
      this.marked = new Uint8Array(cells);
      this.touched = new Uint32Array(cells);
    }
  }

  sums = new Int32Array(0);
  /** The cells with pending changes, listed once each (marked) so a flush visits only them. */
  marked = new Uint8Array(0);
  touched = new Uint32Array(0);
  nTouched = 0;
}

/** Changed rows: entry i adds (sign +1) or removes (-1) row rows[i] of palette offset colors[i]. */
interface IChanges {
  readonly rows: Uint32Array;
  readonly signs: Int8Array;
  readonly colors: Uint16Array;
  readonly n: number;
}

/** One pair's cells: its rows' bins, its resolution and where its lines go. */
class PairDelta {
  constructor(readonly setup: IPairSetup) {
    this.bins = binsAtShift(setup.place.baseBins, setup.shift);
    this.ys = binCenters(setup.place, setup.shift);
  }

  get cells(): number {
    return this.bins * this.bins;
  }

  /** Queues a list of changes (rows in or out, with their colors) on the scratch. */
  addChanges(scratch: DeltaScratch, changes: IChanges, palette: Int32Array): void {
    const { left, right, shift } = this.setup;
    const { bins } = this;
    const { sums, marked, touched } = scratch;
    const { rows, signs, colors, n } = changes;
    let nTouched = scratch.nTouched;
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      const sign = signs[i];
      const c = colors[i];
      const cell = (left[row] >> shift) * bins + (right[row] >> shift);
      const p = cell << 2;
      sums[p] += sign;
      sums[p + 1] += sign * palette[c];
      sums[p + 2] += sign * palette[c + 1];
      sums[p + 3] += sign * palette[c + 2];
      if (marked[cell] === 0) {
        marked[cell] = 1;
        touched[nTouched++] = cell;
      }
    }
    scratch.nTouched = nTouched;
  }

  /** Queues every selected row at once (a new strip): one pass over the rows for this pair. */
  addAll(
    scratch: DeltaScratch,
    mask: Uint8Array,
    index: Uint8Array,
    palette: Int32Array,
    rows: number
  ): void {
    const { left, right, shift } = this.setup;
    const { bins } = this;
    const { sums, marked, touched } = scratch;
    let nTouched = scratch.nTouched;
    for (let row = 0; row < rows; row++) {
      if (mask[row] === 0) {
        continue;
      }
      const cell = (left[row] >> shift) * bins + (right[row] >> shift);
      const p = cell * 4;
      const c = index[row] * 3;
      sums[p]++;
      sums[p + 1] += palette[c];
      sums[p + 2] += palette[c + 1];
      sums[p + 3] += palette[c + 2];
      if (marked[cell] === 0) {
        marked[cell] = 1;
        touched[nTouched++] = cell;
      }
    }
    scratch.nTouched = nTouched;
  }

  /** Draws the net change of every touched cell into the buffer and clears the scratch. */
  flush(scratch: DeltaScratch, acc: IAccumulator): void {
    const { place } = this.setup;
    const { ys, bins } = this;
    const { sums, marked, touched } = scratch;
    for (let i = 0; i < scratch.nTouched; i++) {
      const cell = touched[i];
      const p = cell * 4;
      // A row that changed color within a cell leaves the count alone but not the colors.
      if (sums[p] !== 0 || sums[p + 1] !== 0 || sums[p + 2] !== 0 || sums[p + 3] !== 0) {
        const a = (cell / bins) | 0;
        const b = cell - a * bins;
        const [x0, x1] = [place.xLeft, place.xRight];
        addLine(acc, x0, ys[a], x1, ys[b], sums[p], sums[p + 1], sums[p + 2], sums[p + 3]);
      }
      sums[p] = sums[p + 1] = sums[p + 2] = sums[p + 3] = 0;
      marked[cell] = 0;
    }
    scratch.nTouched = 0;
  }

  readonly bins: number;
  readonly ys: Float64Array;
}

/** A strip of the selected layer: its spec, its buffer, and its pending changes. */
export interface IStrip {
  readonly spec: IStripSpec;
  readonly acc: IAccumulator;
}

interface IStripState extends IStrip {
  readonly delta: PairDelta;
  filled: boolean;
}

/**
 * The selected layer as per-pair strips, kept in step with the selection by differences:
 * `update` compares the new mask and colors with the ones it last drew, adds the lines of the
 * rows that came in (or changed color) and subtracts those that left. A new strip (new data
 * on one of its axes, a reorder, a resize) is filled from the whole selection once; a small
 * brush move then costs a pass over the mask plus the lines of the rows that changed.
 */
export class SelectionStrips {
  /** `palette`: 3 integers (0..255) per palette index, fixed for the life of the object. */
  constructor(
    readonly rows: number,
    private readonly _palette: Int32Array
  ) {
    // Rounded up to whole words, so that the comparison can read 4 rows at a time.
    const padded = (rows + 3) & ~3;
    this._mask = new Uint8Array(padded);
    this._index = new Uint8Array(padded);
  }

  get strips(): readonly IStrip[] {
    return this._strips;
  }

  /**
   * Sets the pairs to draw, in order. Strips whose key is already known keep their pixels;
   * the others are filled at the next update. Returns whether any strip is new.
   */
  setPairs(specs: readonly IStripSpec[]): boolean {
    const known = new Map(this._strips.map(strip => [strip.spec.key, strip]));
    let changed = specs.length !== this._strips.length;
    this._strips = specs.map((spec, i) => {
      const strip = known.get(spec.key);
      changed = changed || strip !== this._strips[i];
      return (
        strip ?? {
          spec,
          acc: createAccumulator(spec.width, spec.height, 4),
          delta: new PairDelta(spec),
          filled: false
        }
      );
    });
    return changed;
  }

  /**
   * Brings every strip to `mask` (non-zero: selected) colored by `index` into the palette.
   * Returns the number of rows that changed (all rows when strips were filled afresh).
   */
  update(mask: Uint8Array, index: Uint8Array): number {
    const filled = this._strips.filter(strip => strip.filled);
    const fresh = this._strips.filter(strip => !strip.filled);
    let changed = this._diff(mask, index, filled.length > 0);
    const scratch = this._scratch;
    scratch.fit(Math.max(0, ...this._strips.map(strip => strip.delta.cells)));
    const changes: IChanges = {
      rows: this._changeRows,
      signs: this._changeSigns,
      colors: this._changeColors,
      n: this._nChanges
    };
    for (const strip of filled) {
      strip.delta.addChanges(scratch, changes, this._palette);
      strip.delta.flush(scratch, strip.acc);
    }
    this._nChanges = 0;
    for (const strip of fresh) {
      strip.delta.addAll(scratch, mask, index, this._palette, this.rows);
      strip.delta.flush(scratch, strip.acc);
      strip.filled = true;
      changed = this.rows;
    }
    return changed;
  }

  /**
   * Finds the rows whose selection or color changed, records them as the new state and, if
   * `list`, lists their changes (see IChanges).
   */
  private _diff(mask: Uint8Array, index: Uint8Array, list: boolean): number {
    let changed = 0;
    this._nChanges = 0;
    // Most rows do not change: compare them four at a time where the arrays allow it.
    const words = mask.byteOffset % 4 === 0 && index.byteOffset % 4 === 0 ? this.rows >> 2 : 0;
    if (words > 0) {
      const mask32 = new Uint32Array(mask.buffer, mask.byteOffset, words);
      const index32 = new Uint32Array(index.buffer, index.byteOffset, words);
      const was32 = new Uint32Array(this._mask.buffer, 0, words);
      const wasIndex32 = new Uint32Array(this._index.buffer, 0, words);
      for (let w = 0; w < words; w++) {
        if (mask32[w] !== was32[w] || index32[w] !== wasIndex32[w]) {
          for (let row = w * 4; row < w * 4 + 4; row++) {
            changed += this._diffRow(row, mask[row], index[row], list);
          }
        }
      }
    }
    for (let row = words * 4; row < this.rows; row++) {
      changed += this._diffRow(row, mask[row], index[row], list);
    }
    return changed;
  }

  /** Records one row's new state (selected, k); lists its change if `list`; 1 if it moved. */
  private _diffRow(row: number, selected: number, k: number, list: boolean): number {
    const oldSelected = this._mask[row] !== 0;
    const oldK = this._index[row];
    // The raw values are kept, so that unchanged words compare equal next time.
    this._mask[row] = selected;
    this._index[row] = k;
    if (oldSelected === (selected !== 0) && (!oldSelected || oldK === k)) {
      return 0;
    }
    if (!list) {
      return 1;
    }
    // Room for this row's two entries.
    if (this._nChanges + 2 > this._changeRows.length) {
      this._growChanges();
    }
    let m = this._nChanges;
    if (oldSelected) {
      this._changeRows[m] = row;
      this._changeSigns[m] = -1;
      this._changeColors[m++] = oldK * 3;
    }
    if (selected !== 0) {
      this._changeRows[m] = row;
      this._changeSigns[m] = 1;
      this._changeColors[m++] = k * 3;
    }
    this._nChanges = m;
    return 1;
  }

  /** Doubles the room for listed changes (at most two per row). */
  private _growChanges(): void {
    const size = Math.max(1024, this._changeRows.length * 2);
    const rows = new Uint32Array(size);
    const signs = new Int8Array(size);
    const colors = new Uint16Array(size);
    rows.set(this._changeRows);
    signs.set(this._changeSigns);
    colors.set(this._changeColors);
    this._changeRows = rows;
    this._changeSigns = signs;
    this._changeColors = colors;
  }

  private _strips: IStripState[] = [];
  private readonly _mask: Uint8Array;
  private readonly _index: Uint8Array;
  private readonly _scratch = new DeltaScratch();
  private _changeRows = new Uint32Array(0);
  private _changeSigns = new Int8Array(0);
  private _changeColors = new Uint16Array(0);
  private _nChanges = 0;
}

// ---------------------------------------------------------------------------------------------
// Pixels
// ---------------------------------------------------------------------------------------------

/** How counts become pixels. */
export interface IDensityStyle {
  /** Alpha of a pixel crossed by one line, and of the densest pixel. */
  readonly minAlpha: number;
  readonly maxAlpha: number;
}

/**
 * Alpha (0..255) by count: it grows with the log of the count, from minAlpha (a single line
 * stays visible) to maxAlpha (the densest pixel, `max`). Tabulated for the small counts that
 * most pixels have.
 */
export class AlphaScale {
  constructor(
    max: number,
    private readonly _style: IDensityStyle
  ) {
    this._norm = 1 / Math.log1p(Math.max(max, 1));
    this._table = new Uint8ClampedArray(Math.min(Math.max(max, 1) + 1, 4096));
    for (let c = 1; c < this._table.length; c++) {
      this._table[c] = this._compute(c);
    }
  }

  alpha(count: number): number {
    return count < this._table.length ? this._table[count] : this._compute(count);
  }

  private _compute(count: number): number {
    const { minAlpha, maxAlpha } = this._style;
    return 255 * (minAlpha + (maxAlpha - minAlpha) * Math.log1p(count) * this._norm);
  }

  /** Alpha of the small counts, by count (read directly by composeInto). */
  get table(): Uint8ClampedArray {
    return this._table;
  }

  private readonly _norm: number;
  private readonly _table: Uint8ClampedArray;
}

/** The highest count in a buffer. */
export function maxCount(acc: IAccumulator): number {
  const { sums, channels } = acc;
  let max = 0;
  for (let p = 0; p < sums.length; p += channels) {
    if (sums[p] > max) {
      max = sums[p];
    }
  }
  return max;
}

/**
 * Writes a buffer as RGBA into `out` (an ImageData's data, `outWidth` pixels wide, already
 * cleared) at column `x0`: alpha by count, color the count-weighted mean of the lines' colors
 * (or `rgb` for a buffer of counts only).
 */
export function composeInto(
  acc: IAccumulator,
  alpha: AlphaScale,
  out: Uint8ClampedArray,
  outWidth: number,
  x0: number,
  rgb: readonly [number, number, number]
): void {
  const { sums, channels, width, height } = acc;
  // One 32-bit store per pixel (RGBA in memory order: little-endian words) rather than four
  // clamped byte stores: composing is the floor of every selection frame.
  if (!LITTLE_ENDIAN || out.byteOffset % 4 !== 0) {
    composeBytes(acc, alpha, out, outWidth, x0, rgb);
    return;
  }
  const out32 = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
  const table = alpha.table;
  const small = table.length;
  const fixed = (rgb[0] & 255) | ((rgb[1] & 255) << 8) | ((rgb[2] & 255) << 16);
  for (let y = 0; y < height; y++) {
    let p = y * width * channels;
    let o = y * outWidth + x0;
    for (let x = 0; x < width; x++, p += channels, o++) {
      const c = sums[p];
      if (c <= 0) {
        continue;
      }
      const a = c < small ? table[c] : alpha.alpha(c);
      if (channels === 4) {
        // Means of integer sums, rounded (half up), in 0..255.
        const r = (sums[p + 1] / c + 0.5) | 0;
        const g = (sums[p + 2] / c + 0.5) | 0;
        const b = (sums[p + 3] / c + 0.5) | 0;
        out32[o] = r | (g << 8) | (b << 16) | (a << 24);
      } else {
        out32[o] = fixed | (a << 24);
      }
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** composeInto with byte stores, for a big-endian host or an unaligned output. */
function composeBytes(
  acc: IAccumulator,
  alpha: AlphaScale,
  out: Uint8ClampedArray,
  outWidth: number,
  x0: number,
  rgb: readonly [number, number, number]
): void {
  const { sums, channels, width, height } = acc;
  for (let y = 0; y < height; y++) {
    let p = y * width * channels;
    let o = (y * outWidth + x0) * 4;
    for (let x = 0; x < width; x++, p += channels, o += 4) {
      const c = sums[p];
      if (c <= 0) {
        continue;
      }
      if (channels === 4) {
        out[o] = sums[p + 1] / c;
        out[o + 1] = sums[p + 2] / c;
        out[o + 2] = sums[p + 3] / c;
      } else {
        out[o] = rgb[0];
        out[o + 1] = rgb[1];
        out[o + 2] = rgb[2];
      }
      out[o + 3] = alpha.alpha(c);
    }
  }
}

/** Writes a whole buffer as RGBA (an ImageData's data of the same size), alpha by its own max. */
export function composeRGBA(
  acc: IAccumulator,
  style: IDensityStyle,
  out: Uint8ClampedArray,
  rgb: readonly [number, number, number] = [128, 128, 128]
): void {
  clearRGBA(out);
  composeInto(acc, new AlphaScale(maxCount(acc), style), out, acc.width, 0, rgb);
}

/** Clears RGBA pixels; as 32-bit words it is a memset, and empty pixels then cost nothing. */
export function clearRGBA(out: Uint8ClampedArray): void {
  new Uint32Array(out.buffer, out.byteOffset, out.length >> 2).fill(0);
}

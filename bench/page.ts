/**
 * The benchmark page: `window.bench` is what bench/run.js drives through Playwright.
 *
 * One page measures one library on one table (run.js opens a fresh browser for each), so the
 * heap of one never counts against another and a library that hangs can be killed alone.
 *
 * Every timing is `performance.now()` from just before the work (the setup call, the brush's
 * pointer event, the request to the worker) to the moment the frame that shows the result has
 * been painted: a requestAnimationFrame callback queued after the work, then a MessageChannel
 * task queued from that callback, which runs after that frame's style, layout, paint and
 * commit; repeated while a library still has a requestAnimationFrame callback pending (drawing
 * it deferred to a later frame). The same method for every library.
 */
// First: wraps requestAnimationFrame before any library module captures it.
import { harnessFrame, settle } from './frames';
import { brushWindow, makeTable, prng } from './data';
import type { IBrushResult, ILibrary } from './library';
import { D3Svg } from './baselines/d3svg';
import { ParcoordEs } from './baselines/parcoordes';
// Aliased by bench/rspack.config.js to ./dsi.ts.
import { createDsi, DsiLibrary, TimeStepBench } from '@bench/dsi';

/** Seeded phases: each measured interaction starts at a reproducible random point of a frame. */
const phase = prng(20250101);

/**
 * Wait for a frame to start, then a random fraction of a 60 Hz frame: a user's pointer is not
 * synchronised with the display, so the wait for the next frame after an input is uniform
 * between 0 and one frame. Without this, a driver that starts each move right after the
 * previous frame would always wait almost a whole frame.
 */
async function randomPhase(): Promise<void> {
  await new Promise(resolve => harnessFrame(resolve));
  const delay = phase() * 16.7;
  await new Promise(resolve => setTimeout(resolve, delay));
}

/**
 * The timings of one interaction: `ms` from its start to its pixels (the metric), `syncMs` the
 * synchronous part (the event handlers or API calls; for the time step, the worker's answer
 * included), `frames` how many frames it took until no drawing was pending. The rest,
 * `ms - syncMs`, is the frames: the wait for the display's next frame (0 to 16.7 ms), drawing
 * deferred to requestAnimationFrame, canvas rasterisation, style, layout and paint.
 */
export interface ITimed {
  ms: number;
  syncMs: number;
  frames: number;
}

/** Time `work` to its pixels (see frames.ts: every frame it caused, painted). */
async function timed<T>(work: () => T | Promise<T>): Promise<ITimed & { result: T }> {
  const t0 = performance.now();
  const result = await work();
  const t1 = performance.now();
  const { painted, frames } = await settle();
  return { ms: painted - t0, syncMs: t1 - t0, frames, result };
}

const LIBRARIES: Record<string, () => ILibrary> = {
  'jupyterlab-dsi': () => createDsi(),
  'parcoord-es': () => new ParcoordEs(),
  'd3-svg': () => new D3Svg()
};

let library: ILibrary | null = null;

/** The library as jupyterlab-dsi, for the interactions only it has (lasso, weight slider). */
function dsi(): DsiLibrary {
  if (!library || library.name !== 'jupyterlab-dsi') {
    throw new Error('bench: lasso and weight_drag are measured on jupyterlab-dsi only');
  }
  return library as DsiLibrary;
}
let step = 0;
let timeStep: TimeStepBench | null = null;

function host(): HTMLElement {
  return document.getElementById('host')!;
}

const bench = {
  /** Which libraries this page runs. */
  libraries(): string[] {
    return Object.keys(LIBRARIES);
  },

  /** Generate the table and the library's input (untimed). Returns the ms it took. */
  prepare(name: string, rows: number): number {
    const t0 = performance.now();
    library = LIBRARIES[name]();
    library.prepare(makeTable(rows));
    step = 0;
    return performance.now() - t0;
  },

  /** first_render: build the chart and wait for its pixels. */
  async setup(): Promise<ITimed & { parts?: Record<string, number> }> {
    const { result, ...time } = await timed(() => library!.setup(host()));
    return { ...time, ...(result ? { parts: result } : {}) };
  },

  /** Put the brush at its first window and start the drag (untimed), then wait a frame. */
  async brushBegin(): Promise<void> {
    step = 0;
    library!.brushBegin(brushWindow(0));
    await settle();
  },

  /** One brush move: from the pointer event (or API call) to its pixels. */
  async brush(): Promise<ITimed & IBrushResult & { step: number }> {
    step += 1;
    const win = brushWindow(step);
    await randomPhase();
    const { result, ...time } = await timed(() => library!.brushMove(win));
    return { ...time, ...result, step };
  },

  brushEnd(): void {
    library?.brushEnd();
  },

  /** jupyterlab-dsi only: clear the brushes (untimed) and wait for the frame. */
  async clearBrushes(): Promise<void> {
    dsi().clearBrushes();
    await settle();
  },

  /** lasso (jupyterlab-dsi only): start a lasso in the scatter and draw its first part (untimed). */
  async lassoBegin(): Promise<void> {
    step = 0;
    dsi().lassoBegin();
    await settle();
  },

  /** One lasso move (a pointer move adding a vertex): from the event to its pixels. */
  async lasso(): Promise<ITimed & IBrushResult & { step: number }> {
    step += 1;
    await randomPhase();
    const { result, ...time } = await timed(() => dsi().lassoMove());
    return { ...time, ...result, step };
  },

  async lassoEnd(): Promise<void> {
    dsi().lassoEnd();
    await settle();
  },

  /** weight_drag (jupyterlab-dsi only): find the d_feature weight slider (untimed). */
  weightBegin(): void {
    step = 0;
    dsi().weightBegin();
  },

  /** One weight slider move: from its 'input' event to both views' pixels. */
  async weight(): Promise<ITimed & IBrushResult & { step: number }> {
    step += 1;
    await randomPhase();
    const { result, ...time } = await timed(() => dsi().weightMove());
    return { ...time, ...result, step };
  },

  notes(): { brushInput: string; notes: string[] } {
    return { brushInput: library!.brushInput, notes: library!.notes() };
  },

  /** time_step: open the database in the real worker and show the first slice (untimed). */
  async timeStepSetup(url: string): Promise<Record<string, number | string>> {
    timeStep = new TimeStepBench(host());
    const info = await timeStep.setup(url);
    await settle();
    return info;
  },

  /** One time-slider step: from asking the worker for slice t to both views painted. */
  async timeStepMove(t: number): Promise<ITimed & { parts: Record<string, number> }> {
    await randomPhase();
    const { result: parts, ...time } = await timed(() => timeStep!.step(t));
    return { ...time, parts };
  }
};

declare global {
  interface Window {
    bench: typeof bench;
  }
}

window.bench = bench;
document.title = 'jupyterlab-dsi bench: ready';

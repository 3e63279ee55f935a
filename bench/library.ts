/**
 * What the harness asks of each charting library. Every call is synchronous except `setup`,
 * which may await (the harness then waits for the next painted frame either way).
 */
import type { ITable } from '../src/views/types';

export interface IBrushResult {
  /** Rows the brush selects after this move (-1 when the library does not say). */
  selected: number;
  /** Optional breakdown of the synchronous work, in ms. */
  parts?: Record<string, number>;
}

export interface ILibrary {
  readonly name: string;
  /**
   * How a brush move is driven: 'pointer' (synthetic mouse events on the library's own brush,
   * from the event to the handlers) or 'api' (the library's programmatic brush update).
   */
  readonly brushInput: 'pointer' | 'api';
  /** Prepare the library's input from the table (untimed: data generation and conversion). */
  prepare(table: ITable): void;
  /**
   * Build the chart in `host` (timed, with the frames that follow). May return a breakdown
   * object, which can still fill up while those frames run.
   */
  setup(host: HTMLElement): void | Record<string, number> | Promise<void | Record<string, number>>;
  /** Put a brush at the window `win` (fractions of the axis extent) and start a drag (untimed). */
  brushBegin(win: [number, number]): void;
  /** Move the brush to the window `win` (timed, with the frame that follows). */
  brushMove(win: [number, number]): IBrushResult;
  /** End the drag (untimed). */
  brushEnd(): void;
  /** Anything to say about how the library was used. */
  notes(): string[];
}

/** Sizes shared by every library: the same pixels to fill. */
export const PARCOORDS_WIDTH = 1000;
export const PARCOORDS_HEIGHT = 420;
export const SCATTER_WIDTH = 420;
export const SCATTER_HEIGHT = 420;
export const MARGIN = { top: 24, right: 20, bottom: 12, left: 20 };
export const CONTEXT_COLOR = '#d4d4d4';
export const MISSING_COLOR = '#000000';

/**
 * Stand-in for ./dsi.ts while the jupyterlab-dsi views are not in src/ yet: bench/rspack.config.js
 * aliases `@bench/dsi` here when one of the modules ./dsi.ts imports is missing, so the
 * baselines still build and run. DSI_MISSING is defined by the config: the missing files.
 */
import type { ILibrary } from './library';

declare const DSI_MISSING: string;

export const dsiMissing: string | null = `not built: ${DSI_MISSING} missing`;

export function createDsi(): ILibrary {
  throw new Error(dsiMissing!);
}

export class TimeStepBench {
  constructor(_host: HTMLElement) {
    throw new Error(dsiMissing!);
  }
  setup(_url: string): Promise<Record<string, number | string>> {
    throw new Error(dsiMissing!);
  }
  step(_t: number): Promise<Record<string, number>> {
    throw new Error(dsiMissing!);
  }
}

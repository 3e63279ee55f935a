/**
 * One step number everywhere (docs/data-model.md, "Steps and times"): a step is the 0-based
 * index the file stores, the `t` of the filter language, of `dsi_selection`/`dsi_method`, of the
 * exports and of `--time` in the CLI and `%dsi`. Its simulated time, when the source recorded
 * one, is shown beside it and is never called `t`.
 */

/** A simulated time as a person reads it: up to 4 significant digits, no float noise. */
export function formatSimulatedTime(time: number): string {
  return String(Number(time.toPrecision(4)));
}

/** The simulated time of step `t`, or null when the source did not record one. */
export function simulatedTime(t: number | null, times: readonly number[]): number | null {
  if (t === null) {
    return null;
  }
  const time = times[t];
  return typeof time === 'number' && Number.isFinite(time) ? time : null;
}

/** The panel's slider label: "step 39 (0–39) · time 1.95". */
export function stepLabel(t: number, steps: number, times: readonly number[]): string {
  if (steps <= 0) {
    return 'no steps';
  }
  const time = simulatedTime(t, times);
  return `step ${t} (0–${steps - 1})${time === null ? '' : ` · time ${formatSimulatedTime(time)}`}`;
}

/** A step in a table cell: "39", or "39 · time 1.95"; null (every step) is "—". */
export function stepText(t: number | null, times: readonly number[]): string {
  if (t === null) {
    return '—';
  }
  const time = simulatedTime(t, times);
  return time === null ? String(t) : `${t} · time ${formatSimulatedTime(time)}`;
}

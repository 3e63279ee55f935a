/**
 * A recorded proposal drawn over the views (issue 16 §4): each proposed point a dashed polyline
 * across the parallel coordinates' parameter axes, and a hollow circle in the scatter where both
 * of its axes are parameters. Pure placement here (tested directly); the views own the SVG.
 *
 * The overlay is a few thousand points at most: it is laid out in SVG above the canvases and
 * never makes the row layers redraw.
 */
import type { AxisScale, ICategoricalScale } from './axes';

/** One proposed point as the views take it. */
export interface IOverlayPoint {
  /** The point's id (the CSV's proposal_id). */
  id: string;
  /** Parameter values: numbers, or a categorical parameter's level. */
  values: Readonly<Record<string, number | string>>;
  /** The simulation run for it, when one was linked. */
  simId?: string | null;
}

/** What the views draw: the points and the legend ("12 proposals (σ², seed 3)"). */
export interface IProposalOverlay {
  label: string;
  points: readonly IOverlayPoint[];
}

/** Where a value sits on an axis; `clamped` when it lies outside the axis and was moved to its end. */
export interface IPlacement {
  y: number;
  clamped: boolean;
}

/** A vertex of a proposal's polyline. */
export interface IVertex extends IPlacement {
  x: number;
}

/** Dash pattern of the proposal lines and of the scatter's circles' legend swatch. */
export const PROPOSAL_DASH = '5 3';

/** Stroke width of a proposal's line or circle, and of the one under the pointer (CSS px). */
export const PROPOSAL_WIDTH = 1.5;
export const PROPOSAL_HOVER_WIDTH = 3;

/**
 * How much wider than its line a proposal's halo is (CSS px, a pixel each side): an under-stroke
 * in the view's background (--jp-layout-color0, as the tick labels' halos) that keeps the dashes
 * legible over rows of any color, in either theme.
 */
export const PROPOSAL_HALO = 2;

/** The CSS variable of the views' background (the halo's color), and its fallback. */
export const PROPOSAL_HALO_VAR = '--jp-layout-color0';
export const PROPOSAL_HALO_FALLBACK = '#ffffff';

/** The CSS variable of the proposals' color (distinct from the brand-colored selection), and its fallback. */
export const PROPOSAL_COLOR_VAR = '--jp-warn-color0';
export const PROPOSAL_COLOR_FALLBACK = '#f57c00';

/**
 * The y of a value on a categorical axis: a level's centre for a value on a level; between two
 * numeric levels, linear between their centres (a continuous draw of a parameter with numeric
 * levels, e.g. cs between 0.1 and 0.2); beyond the outer levels, clamped to the end one. null
 * for text that is no level, or a number on an axis without numeric levels.
 */
export function levelPosition(scale: ICategoricalScale, value: number | string): IPlacement | null {
  const exact = scale.levels.findIndex(level => level === value || (typeof value === 'string' && String(level) === value));
  if (exact >= 0) {
    return { y: scale.center(exact), clamped: false };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return null;
  }
  const numeric = scale.levels
    .map((level, code) => ({ level, code }))
    .filter((l): l is { level: number; code: number } => typeof l.level === 'number' && Number.isFinite(l.level))
    .sort((a, b) => a.level - b.level);
  if (numeric.length === 0) {
    return null;
  }
  const first = numeric[0];
  const last = numeric[numeric.length - 1];
  if (value < first.level) {
    return { y: scale.center(first.code), clamped: true };
  }
  if (value > last.level) {
    return { y: scale.center(last.code), clamped: true };
  }
  for (let i = 1; i < numeric.length; i++) {
    const a = numeric[i - 1];
    const b = numeric[i];
    if (value <= b.level) {
      const t = (value - a.level) / (b.level - a.level);
      const ya = scale.center(a.code);
      return { y: ya + t * (scale.center(b.code) - ya), clamped: false };
    }
  }
  return { y: scale.center(last.code), clamped: false };
}

/** The y of a value on any axis (a numeric one clamps to its domain); null where it has none. */
export function axisPosition(scale: AxisScale, value: number | string | undefined): IPlacement | null {
  if (value === undefined) {
    return null;
  }
  if (scale.kind === 'categorical') {
    return levelPosition(scale, value);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return null;
  }
  const [lo, hi] = scale.domain;
  const clamped = value < lo || value > hi;
  return { y: scale.toPixel(Math.min(hi, Math.max(lo, value))), clamped };
}

/**
 * A point's polyline over the axes (at `xs`), as runs of consecutive axes where it has a place:
 * an axis that is not a parameter, or where the value cannot be placed, breaks the line, so no
 * segment touches it. Runs of a single vertex are kept (a lone parameter axis still shows a
 * clamped mark) but draw no segment.
 */
export function polylineRuns(
  axes: readonly { name: string; scale: AxisScale }[],
  xs: readonly number[],
  values: Readonly<Record<string, number | string>>,
  parameters: ReadonlySet<string>
): IVertex[][] {
  const runs: IVertex[][] = [];
  let run: IVertex[] = [];
  axes.forEach((axis, i) => {
    const at = parameters.has(axis.name) ? axisPosition(axis.scale, values[axis.name]) : null;
    if (at === null) {
      if (run.length) {
        runs.push(run);
      }
      run = [];
    } else {
      run.push({ x: xs[i], ...at });
    }
  });
  if (run.length) {
    runs.push(run);
  }
  return runs;
}

/** SVG path data of the runs' segments (a run of one vertex draws nothing). */
export function runsPath(runs: readonly (readonly IVertex[])[]): string {
  return runs
    .filter(run => run.length > 1)
    .map(run => run.map((v, i) => `${i ? 'L' : 'M'}${round(v.x)},${round(v.y)}`).join(''))
    .join('');
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

/** Every parameter any point has a value for: the axes a proposal's lines may cross. */
export function parameterNames(points: readonly IOverlayPoint[]): Set<string> {
  const names = new Set<string>();
  for (const p of points) {
    for (const name of Object.keys(p.values)) {
      names.add(name);
    }
  }
  return names;
}

/** Distance from (px, py) to the segment a-b. */
function segmentDistance(px: number, py: number, a: IVertex, b: IVertex): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length2 = dx * dx + dy * dy;
  const t = length2 > 0 ? Math.max(0, Math.min(1, ((px - a.x) * dx + (py - a.y) * dy) / length2)) : 0;
  return Math.hypot(px - (a.x + t * dx), py - (a.y + t * dy));
}

/** The index of the line nearest (px, py) within `tolerance` pixels (segments and lone vertices), or null. */
export function nearestRuns(lines: readonly (readonly (readonly IVertex[])[])[], px: number, py: number, tolerance: number): number | null {
  let best: number | null = null;
  let bestDistance = tolerance;
  lines.forEach((runs, k) => {
    for (const run of runs) {
      const d =
        run.length === 1
          ? Math.hypot(px - run[0].x, py - run[0].y)
          : Math.min(...run.slice(1).map((b, i) => segmentDistance(px, py, run[i], b)));
      if (d <= bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
  });
  return best;
}

/** A scatter mark in data units, and the point it stands for. */
export interface IScatterMark {
  id: string;
  x: number;
  y: number;
  /** The tooltip's lines (describePoint). */
  text: string;
}

/**
 * The scatter's marks: where both of its axes are parameters, each point with a number on both
 * (a numeric level is a number, as the scatter plots it); none otherwise.
 */
export function scatterMarks(overlay: IProposalOverlay | null, xName: string, yName: string): IScatterMark[] {
  if (!overlay) {
    return [];
  }
  const names = parameterNames(overlay.points);
  if (!names.has(xName) || !names.has(yName)) {
    return [];
  }
  const marks: IScatterMark[] = [];
  for (const p of overlay.points) {
    const x = p.values[xName];
    const y = p.values[yName];
    if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(x) && Number.isFinite(y)) {
      marks.push({ id: p.id, x, y, text: describePoint(p) });
    }
  }
  return marks;
}

/** A point's tooltip, as text (never markup): its id, its values, and its simulation if linked. */
export function describePoint(point: IOverlayPoint, clampedOn: readonly string[] = []): string {
  const lines = [`proposal ${point.id}`];
  for (const [name, value] of Object.entries(point.values)) {
    const shown = typeof value === 'number' ? String(Number(value.toPrecision(6))) : value;
    lines.push(`${name}: ${shown}${clampedOn.includes(name) ? ' (outside the axis)' : ''}`);
  }
  if (point.simId) {
    lines.push(`simulated: ${point.simId}`);
  }
  return lines.join('\n');
}

/**
 * The policy of a recorded proposal in a few words: what weighed the draw and the seed, e.g.
 * "σ², seed 3" or "0.5·σ² + 0.5·entropy, seed 3".
 */
export function policyLabel(policy: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  const alpha = typeof policy.alpha === 'number' ? policy.alpha : 1;
  const entropy = typeof policy.entropy_column === 'string' ? policy.entropy_column : null;
  const target = typeof policy.target === 'string' && policy.target ? ` of ${policy.target}` : '';
  parts.push(alpha !== 1 && entropy ? `${alpha}·σ²${target} + ${Number((1 - alpha).toPrecision(6))}·${entropy}` : `σ²${target}`);
  if (typeof policy.prior_column === 'string' && policy.prior_column) {
    parts[0] += ` × ${policy.prior_column}`;
  }
  if (typeof policy.seed === 'number') {
    parts.push(`seed ${policy.seed}`);
  }
  return parts.join(', ');
}

/** The most points the views draw of a proposal (SVG above the canvases); the CLI can record more. */
export const MAX_OVERLAY_POINTS = 5_000;

/** The legend: "N proposals (policy)", and "first 5,000 of N drawn" past MAX_OVERLAY_POINTS. */
export function overlayLabel(n: number, policy: Readonly<Record<string, unknown>>): string {
  const drawn = n > MAX_OVERLAY_POINTS ? ` · first ${MAX_OVERLAY_POINTS.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} drawn` : '';
  return `${n.toLocaleString('en-US')} proposal${n === 1 ? '' : 's'} (${policyLabel(policy)})${drawn}`;
}

/** What the views draw of a proposal: its first MAX_OVERLAY_POINTS points, and the legend saying so. */
export function proposalOverlay(
  points: readonly IOverlayPoint[],
  policy: Readonly<Record<string, unknown>>
): IProposalOverlay {
  return { label: overlayLabel(points.length, policy), points: points.slice(0, MAX_OVERLAY_POINTS) };
}

/**
 * The GUI settings that reproduce a view and its selection, saved with each dataset: version 2
 * (feature terms, scatter axes), and version 1 as written before issue 9, still restorable.
 */
import type { AxisBrush, IShape } from '../table/types';
import { FEATURE, FeatureTerms, parseTerms } from './feature';

/** The GUI settings that reproduce a view and its selection (versioned: saved with datasets). */
export interface IExplorerSettings {
  version: 2;
  methodId: string | null;
  t: number;
  /** d_feature's terms {column: weight}, in order. */
  feature: FeatureTerms;
  /**
   * The terms' names in order: the server stores settings as JSON with sorted keys, which
   * reorders `feature`; a list keeps its order (absent in settings saved before issue 14).
   */
  featureOrder?: string[];
  /** The scatter's [x, y] columns; the shapes are polygons over them. */
  scatter: [string, string];
  colorBy: string;
  axes: string[];
  hidden: string[];
  inverted: string[];
  brushes: Record<string, AxisBrush>;
  shapes: IShape[];
  /** The part of a filter (from `%dsi select --where`) that no brush or shape draws. */
  expression?: string;
}

/** Settings saved before issue 9: weights of d_shock and d_edge, the scatter fixed. */
export interface IExplorerSettingsV1 extends Omit<IExplorerSettings, 'version' | 'feature' | 'scatter'> {
  version: 1;
  weights: { shock: number; edge: number };
}

/** Whether `value` looks like settings restore() takes (either version). */
export function isSettings(value: unknown): value is IExplorerSettings | IExplorerSettingsV1 {
  const s = value as { version?: unknown; axes?: unknown } | null;
  return !!s && (s.version === 1 || s.version === 2) && Array.isArray(s.axes);
}

/** `terms` in the order `order` names them (names it does not list follow, in their order). */
export function orderTerms(terms: FeatureTerms, order: unknown): FeatureTerms {
  if (!Array.isArray(order)) {
    return terms;
  }
  const names = [...order.filter((n): n is string => typeof n === 'string' && n in terms), ...Object.keys(terms)];
  return Object.fromEntries([...new Set(names)].map(n => [n, terms[n]]));
}

/** Version-1 settings as version 2: the weights become the terms d_shock and d_edge. */
export function upgradeSettings(settings: IExplorerSettings | IExplorerSettingsV1): IExplorerSettings {
  if (settings.version === 2) {
    return settings;
  }
  const { weights, version: _, ...rest } = settings;
  return {
    ...rest,
    version: 2,
    feature: parseTerms(weights) ?? { d_shock: 1, d_edge: 1 },
    scatter: [FEATURE, 'd_density']
  };
}

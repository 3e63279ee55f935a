/**
 * Recorded proposals of what to simulate next (schema 5: jdsi_proposal, jdsi_proposal_point;
 * schema 6 adds jdsi_sim_proposal, the simulations run for them) as the replica reads them, and
 * the parameter ranges the Propose form offers. Bound parameters only; plain JSON out.
 */
import type { Database, SqlValue } from 'sql.js';

import { jsonObject } from './json';
import { queryAll } from './query';

/** A recorded proposal (`jupyter dsi proposals --db DB` lists the same). */
export interface IProposalRecord {
  id: string;
  createdAt: string;
  author: string;
  /** The run whose logged sigma2 made the study set (null: a study-set file). */
  runId: string | null;
  runName: string | null;
  datasetId: string | null;
  /** Points drawn. */
  n: number;
  /** {tau, bounds, alpha, prior_column, entropy_column, categorical, n, seed, target}. */
  policy: Record<string, unknown>;
  /** Simulations linked to its points by an ingest (0 before schema 6). */
  linked: number;
}

/** One proposed point. */
export interface IProposalPoint {
  /** The `proposal_id` column of the CSV a campaign takes. */
  pointId: string;
  /** The study row it was drawn from. */
  component: number;
  /** Parameter values: numbers for continuous parameters, a level for categorical ones. */
  values: Record<string, number | string>;
  /** The simulation run for it, when one was ingested and linked. */
  simId: string | null;
}

/** What the Propose form sends (the server takes it as snake_case JSON). */
export interface IProposeRequest {
  runId: string;
  n: number;
  seed: number;
  /** The run's target whose sigma2 weighs the draw (needed when it predicted several). */
  target?: string;
  tau?: Record<string, number>;
  bounds?: Record<string, [number, number]>;
  alpha?: number;
  entropyColumn?: string;
  /** Parameters stored as numeric levels to spread between them (propose's --continuous). */
  continuous?: string[];
}

/** A parameter as the Propose form offers it: numeric ones with their range and spacing. */
export interface IParameterRange {
  name: string;
  kind: 'numeric' | 'categorical';
  /**
   * Over every simulation's numeric values; null for text levels or none. A categorical
   * parameter whose levels are all numbers has them too: it can be spread (continuous).
   */
  min: number | null;
  max: number | null;
  /** The smallest positive gap between distinct values (tau's default); null without one. */
  spacing: number | null;
}

function text(value: SqlValue): string | null {
  return value === null || value === undefined ? null : String(value);
}

function hasTable(db: Database, name: string): boolean {
  return queryAll(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).length > 0;
}

/** Every recorded proposal (no tombstone), newest first. */
export function listProposals(db: Database): IProposalRecord[] {
  if (!hasTable(db, 'jdsi_proposal')) {
    return [];
  }
  // A schema-5 file has no links yet: every proposal counts 0.
  const linked = hasTable(db, 'jdsi_sim_proposal')
    ? '(SELECT COUNT(*) FROM jdsi_sim_proposal l WHERE l.proposal_id = p.id)'
    : '0';
  return queryAll(
    db,
    `SELECT p.id, p.created_at, p.author, p.run_id, r.name AS run_name, p.dataset_id, p.n, p.policy,
            ${linked} AS linked
       FROM jdsi_proposal p
       LEFT JOIN jdsi_run r ON r.id = p.run_id
      WHERE NOT EXISTS (SELECT 1 FROM jdsi_tombstone WHERE record_id = p.id)
      ORDER BY p.created_at DESC, p.id`
  ).map(row => ({
    id: String(row.id),
    createdAt: String(row.created_at),
    author: String(row.author ?? ''),
    runId: text(row.run_id),
    runName: text(row.run_name),
    datasetId: text(row.dataset_id),
    n: Number(row.n),
    policy: jsonObject(row.policy),
    linked: Number(row.linked)
  }));
}

/** A point's values as stored (a JSON object); what is neither a number nor text is dropped. */
function pointValues(value: SqlValue): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [name, v] of Object.entries(jsonObject(value))) {
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string') {
      out[name] = v;
    }
  }
  return out;
}

/** The points of one proposal in point-id order (the CSV's order); [] for an unknown id. */
export function proposalPoints(db: Database, proposalId: string): IProposalPoint[] {
  if (!hasTable(db, 'jdsi_proposal_point')) {
    return [];
  }
  const linked = hasTable(db, 'jdsi_sim_proposal');
  const sql = linked
    ? `SELECT p.point_id, p.component, p."values" AS vals,
              (SELECT l.sim_id FROM jdsi_sim_proposal l
                WHERE l.proposal_id = p.proposal_id AND l.point_id = p.point_id
                ORDER BY l.sim_id LIMIT 1) AS sim_id
         FROM jdsi_proposal_point p WHERE p.proposal_id = ? ORDER BY p.point_id`
    : `SELECT point_id, component, "values" AS vals, NULL AS sim_id
         FROM jdsi_proposal_point WHERE proposal_id = ? ORDER BY point_id`;
  return queryAll(db, sql, [proposalId]).map(row => ({
    pointId: String(row.point_id),
    component: Number(row.component),
    values: pointValues(row.vals),
    simId: text(row.sim_id)
  }));
}

/** The smallest positive gap between sorted distinct values; null with fewer than two. */
export function smallestGap(sortedDistinct: readonly number[]): number | null {
  let gap: number | null = null;
  for (let i = 1; i < sortedDistinct.length; i++) {
    const d = sortedDistinct[i] - sortedDistinct[i - 1];
    if (d > 0 && (gap === null || d < gap)) {
      gap = d;
    }
  }
  return gap;
}

/**
 * Each parameter (in the panel's order) with, for a numeric one, the min, max and spacing of
 * the values stored as numbers over every simulation; a categorical one carries nulls (its
 * draws stay on its levels, so tau and bounds do not apply).
 */
export function parameterRanges(db: Database): IParameterRange[] {
  const distinct = db.prepare(
    `SELECT DISTINCT value FROM jdsi_param_value
      WHERE name = ? AND typeof(value) IN ('integer', 'real') ORDER BY value`
  );
  // Text among a categorical parameter's values: its levels cannot be spread.
  const text = db.prepare(
    `SELECT 1 FROM jdsi_param_value WHERE name = ? AND typeof(value) NOT IN ('integer', 'real', 'null') LIMIT 1`
  );
  const numbers = (name: string): number[] => {
    const values: number[] = [];
    distinct.bind([name]);
    while (distinct.step()) {
      const v = Number(distinct.get()[0]);
      if (Number.isFinite(v)) {
        values.push(v);
      }
    }
    distinct.reset();
    return values;
  };
  const hasText = (name: string): boolean => {
    text.bind([name]);
    const found = text.step();
    text.reset();
    return found;
  };
  try {
    return queryAll(db, 'SELECT name, kind FROM jdsi_parameter ORDER BY position, name').map(row => {
      const name = String(row.name);
      const kind = row.kind === 'categorical' ? 'categorical' : 'numeric';
      const values = kind === 'categorical' && hasText(name) ? [] : numbers(name);
      return {
        name,
        kind,
        min: values.length ? values[0] : null,
        max: values.length ? values[values.length - 1] : null,
        spacing: smallestGap(values)
      };
    });
  } finally {
    distinct.free();
    text.free();
  }
}

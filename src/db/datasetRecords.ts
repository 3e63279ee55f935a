/**
 * What the loop records about a saved dataset, read from the replica for the Datasets page: its
 * splits (jdsi_split, parts and sizes), the members of one part, and how many simulations
 * ingested after it its filter now matches (issue 15 §4: a dataset never changes; the page says
 * a new version could take them).
 */
import type { Database } from 'sql.js';

import { compileMask, parse } from '../filter';
import { computeFeature, FEATURE } from '../model/feature';
import { toColumn } from '../model/columns';
import type { Column } from '../table/types';
import { jsonArray } from './json';
import { IBaseTable, IDatasetInfo, ISlice } from './slices';

export interface ISplitPart {
  name: string;
  /** The fraction asked for. */
  fraction: number;
  /** Members the part got. */
  size: number;
}

export interface ISplitInfo {
  id: string;
  datasetId: string;
  seed: number;
  /** The parameter the parts were balanced on, or null. */
  stratify: string | null;
  createdAt: string;
  parts: ISplitPart[];
  /** Tombstoned (listed only where something refers to it). */
  deleted: boolean;
}

/** The splits of a dataset, oldest first, with each part's size. */
export function readSplits(db: Database, datasetId: string): ISplitInfo[] {
  const out: ISplitInfo[] = [];
  const list = db.prepare(
    `SELECT id, names, fractions, seed, stratify, created_at,
            id IN (SELECT record_id FROM jdsi_tombstone) AS deleted
       FROM jdsi_split WHERE dataset_id = ? ORDER BY created_at, id`
  );
  const sizes = db.prepare('SELECT part, count(*) FROM jdsi_split_member WHERE split_id = ? GROUP BY part');
  try {
    list.bind([datasetId]);
    while (list.step()) {
      const r = list.getAsObject();
      const id = String(r.id);
      const count = new Map<string, number>();
      sizes.bind([id]);
      while (sizes.step()) {
        const [part, n] = sizes.get();
        count.set(String(part), Number(n));
      }
      sizes.reset();
      const fractions = jsonArray(r.fractions).map(Number);
      out.push({
        id,
        datasetId,
        seed: Number(r.seed),
        stratify: r.stratify === null ? null : String(r.stratify),
        createdAt: String(r.created_at),
        parts: jsonArray(r.names).map((name, k) => ({ name: String(name), fraction: fractions[k] ?? NaN, size: count.get(String(name)) ?? 0 })),
        deleted: Number(r.deleted) === 1
      });
    }
  } finally {
    list.free();
    sizes.free();
  }
  return out;
}

/** The sim_ids of one part of a split, sorted. */
export function readSplitPart(db: Database, splitId: string, part: string): string[] {
  const stmt = db.prepare('SELECT sim_id FROM jdsi_split_member WHERE split_id = ? AND part = ? ORDER BY sim_id');
  const out: string[] = [];
  try {
    stmt.bind([splitId, part]);
    while (stmt.step()) {
      out.push(String(stmt.get()[0]));
    }
  } finally {
    stmt.free();
  }
  return out;
}

/**
 * Rows (of `ids`) of simulations ingested after the dataset that are not its members: with the
 * distances at its step (countNewMatches), the rows `jupyter dsi select` would consider.
 */
function newRows(db: Database, row: ReadonlyMap<string, number>, dataset: IDatasetInfo): number[] {
  const stmt = db.prepare(
    `SELECT s.sim_id FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id
      WHERE src.ingested_at > ?1
        AND NOT EXISTS (SELECT 1 FROM jdsi_dataset_member m WHERE m.dataset_id = ?2 AND m.sim_id = s.sim_id)`
  );
  const out: number[] = [];
  try {
    stmt.bind([dataset.createdAt, dataset.id]);
    while (stmt.step()) {
      const i = row.get(String(stmt.get()[0]));
      if (i !== undefined) {
        out.push(i);
      }
    }
  } finally {
    stmt.free();
  }
  return out;
}

/**
 * How many simulations ingested after the dataset was saved its stored filter matches at its
 * method and step (what restoring it would select), members aside; Python's
 * staleness.new_matches counts the same. Null when that cannot be said: no filter was stored for
 * a hand-made selection, or the filter names a column this file no longer has.
 *
 * `sliceAt` answers the dataset's slice (the worker's cube); it is asked only when some
 * simulation is new, and what it throws (distances not loaded) goes to the caller.
 */
export function countNewMatches(
  db: Database,
  base: IBaseTable,
  row: ReadonlyMap<string, number>,
  dataset: IDatasetInfo,
  sliceAt: (methodId: string | null, t: number) => ISlice
): number | null {
  if (dataset.methodId === null && !dataset.filter) {
    return 0; // chosen by hand, without a filter to match (as staleness.new_matches says)
  }
  let fresh = newRows(db, row, dataset);
  if (fresh.length === 0) {
    return 0;
  }
  const slice = sliceAt(dataset.methodId, dataset.t ?? 0);
  if (dataset.methodId !== null) {
    // Only runs with a distance row at the step count (a row is a value in one of the columns).
    const held = (i: number) => !(isNaN(slice.dShock[i]) && isNaN(slice.dEdge[i]) && isNaN(slice.dDensity[i]));
    fresh = fresh.filter(held);
    if (fresh.length === 0) {
      return 0;
    }
  }
  let node;
  try {
    node = parse(dataset.filter);
  } catch {
    return null;
  }
  const rows = base.ids.length;
  const columns: Column[] = [...base.parameters, ...base.runMetrics].map(toColumn);
  columns.push(...slice.metrics.map(m => ({ kind: 'numeric' as const, name: m.name, values: m.values })));
  columns.push(
    { kind: 'numeric', name: 'd_shock', values: slice.dShock },
    { kind: 'numeric', name: 'd_edge', values: slice.dEdge },
    { kind: 'numeric', name: 'd_density', values: slice.dDensity }
  );
  const byName = new Map(columns.map(c => [c.name, c]));
  const values = (name: string) => {
    const c = byName.get(name);
    return c?.kind === 'numeric' ? c.values : null;
  };
  columns.push({ kind: 'numeric', name: FEATURE, values: computeFeature(dataset.weights ?? {}, values, rows) });
  const selected = new Uint8Array(rows);
  try {
    compileMask(node, { rows, ids: base.ids, columns })(selected);
  } catch {
    return null;
  }
  return fresh.filter(i => selected[i] === 1).length;
}

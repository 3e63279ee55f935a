/**
 * Deterministic, order-independent splits of a dataset's members into named parts (issue 15),
 * the same as jupyterlab_dsi/splits.py (tests/vectors/split.json holds both to it):
 *
 * 1. A member's rank key is sampling.unit(seed, "split:" + sim_id), the sampling hash over the
 *    text `${seed}:split:${sim_id}`. Ids are distinct strings; duplicates count once.
 * 2. Part sizes for n members (partSizes): largest-remainder apportionment of n * f for each
 *    fraction f: floor each, then give the leftover members one by one to the parts with the
 *    largest remainders, ties to the earlier part.
 * 3. Members sorted by (key, sim_id in code-point order) fill the parts in order: the first
 *    sizes[0] go to the first part, the next sizes[1] to the second, and so on.
 * 4. Stratified (strata: sim_id -> value): members are grouped by value and each group is
 *    apportioned and filled as in 2 and 3 on its own. Groups are exact values (a number and the
 *    text of it differ; NaN and a missing id count as None), except when every present value is a
 *    number and there are more than 10 distinct ones: then 5 quantile bins by rank, bin =
 *    floor(5 * rank / m) over the m members with a value sorted by (value, sim_id). None values
 *    form their own group.
 *
 * So the parts depend only on the seed, the fractions and the set of ids (and their values), never
 * on the order the ids come in: the panel, the kernel, the CLI and another machine agree.
 */
import { compareIds, unit } from './sampling';

/** A stratifying value as stored: a number, a text, or missing. */
export type StratumValue = number | string | boolean | null | undefined;

const MAX_PARTS = 16;
const SUM_TOLERANCE = 1e-9;
const EXACT_GROUPS_UP_TO = 10;
const QUANTILE_BINS = 5;

function checkParts(names: readonly string[], fractions: readonly number[]): void {
  if (names.length === 0 || names.length > MAX_PARTS) {
    throw new RangeError(`a split has 1 to ${MAX_PARTS} parts, not ${names.length}`);
  }
  if (names.some(n => typeof n !== 'string' || n.trim() === '') || new Set(names).size !== names.length) {
    throw new RangeError('part names must be unique, non-empty text');
  }
  if (fractions.length !== names.length) {
    throw new RangeError(`${fractions.length} fractions for ${names.length} part names`);
  }
  if (fractions.some(f => typeof f !== 'number' || !Number.isFinite(f) || f <= 0)) {
    throw new RangeError('fractions are positive numbers');
  }
  const total = fractions.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > SUM_TOLERANCE) {
    throw new RangeError(`fractions must sum to 1, not ${total}`);
  }
}

/** Largest-remainder apportionment of n members to parts (ties to the earlier part). */
export function partSizes(n: number, fractions: readonly number[]): number[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`n must be an integer >= 0, not ${n}`);
  }
  const exact = fractions.map(f => n * f);
  const sizes = exact.map(x => Math.floor(x));
  const remainders = exact.map((x, i) => x - sizes[i]);
  const order = sizes.map((_, i) => i).sort((a, b) => remainders[b] - remainders[a] || a - b);
  const leftover = n - sizes.reduce((a, b) => a + b, 0);
  for (let k = 0; k < leftover; k++) {
    sizes[order[k % order.length]] += 1;
  }
  return sizes;
}

function fill(
  ids: readonly string[],
  names: readonly string[],
  fractions: readonly number[],
  seed: number,
  out: Map<string, string>
): void {
  const ranked = ids
    .map(id => ({ id, key: unit(seed, 'split:' + id) }))
    .sort((a, b) => a.key - b.key || compareIds(a.id, b.id));
  let start = 0;
  partSizes(ranked.length, fractions).forEach((size, part) => {
    for (const { id } of ranked.slice(start, start + size)) {
      out.set(id, names[part]);
    }
    start += size;
  });
}

function present(value: StratumValue): value is number | string | boolean {
  return value !== null && value !== undefined && !(typeof value === 'number' && Number.isNaN(value));
}

function groups(ids: readonly string[], strata: ReadonlyMap<string, StratumValue>): string[][] {
  const withValue = ids.filter(id => present(strata.get(id)));
  const missing = ids.filter(id => !present(strata.get(id)));
  const byKey = new Map<string, string[]>();
  const add = (key: string, id: string) => {
    const group = byKey.get(key);
    if (group) {
      group.push(id);
    } else {
      byKey.set(key, [id]);
    }
  };
  const numeric = withValue.every(id => typeof strata.get(id) === 'number');
  const distinct = new Set(withValue.map(id => strata.get(id)));
  if (numeric && distinct.size > EXACT_GROUPS_UP_TO) {
    const ordered = [...withValue].sort(
      (a, b) => (strata.get(a) as number) - (strata.get(b) as number) || compareIds(a, b)
    );
    ordered.forEach((id, rank) => add(`bin:${Math.floor((QUANTILE_BINS * rank) / ordered.length)}`, id));
  } else {
    // Tagged by type: 1 and "1" differ, 1 and 1.0 are one number, true is not 1 (as in Python).
    for (const id of withValue) {
      const value = strata.get(id)!;
      add(`${typeof value}:${value}`, id); // String(-0) is '0': one group, as in Python
    }
  }
  return missing.length ? [...byKey.values(), missing] : [...byKey.values()];
}

/**
 * sim_id -> part name for every distinct id (the algorithm in this module's comment).
 * `strata` maps sim ids to the stratifying parameter's values (a Map or a plain object).
 */
export function assignParts(
  ids: readonly string[],
  names: readonly string[],
  fractions: readonly number[],
  seed: number,
  strata?: ReadonlyMap<string, StratumValue> | Readonly<Record<string, StratumValue>> | null
): Map<string, string> {
  checkParts(names, fractions);
  const distinct = [...new Set(ids)].sort(compareIds);
  const out = new Map<string, string>();
  if (strata === undefined || strata === null) {
    fill(distinct, names, fractions, seed, out);
    return out;
  }
  const values =
    strata instanceof Map
      ? (strata as ReadonlyMap<string, StratumValue>)
      : new Map(Object.entries(strata as Record<string, StratumValue>));
  for (const group of groups(distinct, values)) {
    fill(group, names, fractions, seed, out);
  }
  return out;
}

/**
 * Deterministic, order-independent subsampling (DESIGN.md rule 5), the same as
 * jupyterlab_dsi/sampling.py: a simulation's fate under seed s depends only on a hash of
 * (s, sim_id), so the panel's preview, the server, the kernel and the CLI keep the same members.
 *
 * unit(s, id) = splitmix64(fnv1a64(utf8(`${s}:${id}`))) >> 11, divided by 2^53: in [0, 1).
 * With p, a member stays when its unit is below p; with n, the n smallest (unit, sim_id) stay.
 */
const MASK = (1n << 64n) - 1n;
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const encoder = new TextEncoder();

function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK;
  }
  return h;
}

function splitmix64(h: bigint): bigint {
  let z = h;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** The simulation's draw under `seed`, uniform in [0, 1). */
export function unit(seed: number, simId: string): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be an integer >= 0, not ${seed}`);
  }
  const z = splitmix64(fnv1a64(encoder.encode(`${seed}:${simId}`)));
  return Number(z >> 11n) / 2 ** 53;
}

/** Code-point order, as Python sorts str (not UTF-16 order, which differs past U+FFFF). */
export function compareIds(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) {
      return d;
    }
  }
  return x.length - y.length;
}

/** Members kept with probability p (0 <= p <= 1), sorted. */
export function sampleP(ids: readonly string[], p: number, seed: number): string[] {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`p must be between 0 and 1, not ${p}`);
  }
  return ids.filter(id => unit(seed, id) < p).sort(compareIds);
}

/** The n members with the smallest draws (all when n >= ids.length), sorted. */
export function sampleN(ids: readonly string[], n: number, seed: number): string[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`n must be an integer >= 0, not ${n}`);
  }
  return ids
    .map(id => ({ id, u: unit(seed, id) }))
    .sort((a, b) => a.u - b.u || compareIds(a.id, b.id))
    .slice(0, n)
    .map(e => e.id)
    .sort(compareIds);
}

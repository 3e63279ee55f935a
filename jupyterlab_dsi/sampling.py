"""Deterministic, order-independent subsampling (DESIGN.md rule 5) and the dataset digest.

A simulation's fate under seed ``s`` depends only on ``unit(s, sim_id)``, a number in [0, 1)
computed from the UTF-8 bytes of ``f"{s}:{sim_id}"`` with FNV-1a 64 followed by the splitmix64
finalizer, all arithmetic modulo 2**64::

    h = 0xcbf29ce484222325
    for byte in key: h = ((h ^ byte) * 0x100000001b3) mod 2**64
    z = h
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) mod 2**64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) mod 2**64
    z = z ^ (z >> 31)
    unit = (z >> 11) / 2**53

``sample_p`` keeps the ids whose unit is below ``p``; ``sample_n`` keeps the ``n`` smallest
``(unit, sim_id)`` pairs. Both return the kept ids sorted by code point, so the panel (TypeScript,
BigInt arithmetic), the server, the kernel and the CLI pick the same members from the same ids in
any order. tests/vectors/sampling.json holds vectors both languages are tested against.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
MASK = (1 << 64) - 1
MAX_SEED = 2**53 - 1  # a JSON number that every language reads exactly


def text_ids(sim_ids: object, error: type[Exception], what: str = "members") -> list[str]:
    """``sim_ids`` (the argument called ``what``) as a list of text ids, or ``error`` naming the
    first that is not text: the one check of datasets' members and splits' ids."""
    if isinstance(sim_ids, str):
        raise error(f"{what} must be a list of simulation ids, not one string")
    ids = list(sim_ids)  # type: ignore[call-overload]
    for s in ids:
        if not isinstance(s, str):
            raise error(f"simulation ids are text, not {s!r}")
    return ids


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"the seed must be an integer, not {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"the seed must be between 0 and 2**53 - 1 = {MAX_SEED}, not {seed}")
    return seed


def _key(seed: int, sim_id: str) -> bytes:
    return f"{seed}:{sim_id}".encode("utf-8")


def unit(seed: int, sim_id: str) -> float:
    """The simulation's number in [0, 1) under ``seed`` (pure Python: the reference)."""
    seed = check_seed(seed)
    h = FNV_OFFSET
    for byte in _key(seed, sim_id):
        h = ((h ^ byte) * FNV_PRIME) & MASK
    z = h
    z = ((z ^ (z >> 30)) * MIX1) & MASK
    z = ((z ^ (z >> 27)) * MIX2) & MASK
    z ^= z >> 31
    return (z >> 11) / 2**53


def units(seed: int, sim_ids: Sequence[str]) -> np.ndarray:
    """``unit(seed, s)`` for every id at once (numpy uint64 arithmetic wraps modulo 2**64)."""
    seed = check_seed(seed)
    count = len(sim_ids)
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    keys = [_key(seed, s) for s in sim_ids]
    lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=count)
    # Longest first: at byte j, the keys still going are a prefix of this order.
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]
    buf = np.frombuffer(b"".join(keys[i] for i in order), dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum(sorted_lengths)[:-1]))
    h = np.full(count, FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    # active[j] = how many keys are longer than j
    max_len = int(sorted_lengths[0])
    active = np.searchsorted(-sorted_lengths, -np.arange(max_len), side="left")
    for j in range(max_len):
        k = int(active[j])
        h[:k] = (h[:k] ^ buf[starts[:k] + j].astype(np.uint64)) * prime
    z = h
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    z = z ^ (z >> np.uint64(31))
    out = np.empty(count, dtype=np.float64)
    out[order] = (z >> np.uint64(11)).astype(np.float64) / 2.0**53
    return out


def _distinct(sim_ids: Iterable[str]) -> list[str]:
    ids = sorted(set(sim_ids))
    for s in ids:
        if not isinstance(s, str):
            raise ValueError(f"simulation ids are strings, not {s!r}")
    return ids


def sample_p(sim_ids: Iterable[str], p: float, seed: int) -> list[str]:
    """The ids whose unit under ``seed`` is below ``p`` (0 <= p <= 1), sorted."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise ValueError(f"the sampling probability must be a number, not {p!r}")
    p = float(p)
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"the sampling probability must be between 0 and 1, not {p!r}")
    ids = _distinct(sim_ids)
    u = units(seed, ids)
    return [s for s, keep in zip(ids, u < p) if keep]


def sample_n(sim_ids: Iterable[str], n: int, seed: int) -> list[str]:
    """The ``n`` ids with the smallest (unit, id) under ``seed`` (all when n >= count), sorted."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"the sample size must be an integer, not {n!r}")
    n = int(n)
    if n < 0:
        raise ValueError(f"the sample size must be >= 0, not {n}")
    check_seed(seed)
    ids = _distinct(sim_ids)
    if n >= len(ids):
        return ids
    u = units(seed, ids)
    # ids are sorted, so a stable sort by unit breaks ties by id
    chosen = np.argsort(u, kind="stable")[:n]
    return sorted(ids[i] for i in chosen)


def apply(sim_ids: Iterable[str], sampling: dict | None) -> list[str]:
    """Members after a stored sampling ({"kind": "p"|"n", ..., "seed": S}, or None: all)."""
    if sampling is None:
        return _distinct(sim_ids)
    if sampling.get("kind") == "p":
        return sample_p(sim_ids, sampling["p"], sampling["seed"])
    if sampling.get("kind") == "n":
        return sample_n(sim_ids, sampling["n"], sampling["seed"])
    raise ValueError(f"unknown sampling kind {sampling.get('kind')!r} (expected 'p' or 'n')")


def digest(method_id: str | None, t: int | None, members: Iterable[str]) -> str:
    """sha256 of the method id, the time index and the sorted member ids, one per line."""
    text = f"{method_id or ''}\n{'' if t is None else t}\n" + "\n".join(sorted(members))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

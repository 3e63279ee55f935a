"""Deterministic, order-independent splits of a dataset's members into named parts (issue 15).

The algorithm, the same in src/model/split.ts (tests/vectors/split.json holds both to it):

1. A member's rank key is ``sampling.unit(seed, "split:" + sim_id)``, the sampling hash over the
   text ``f"{seed}:split:{sim_id}"``. Ids are distinct strings; duplicates count once.
2. Part sizes for n members (``part_sizes``): largest-remainder apportionment of ``n * f`` for
   each fraction f: floor each, then give the leftover members one by one to the parts with the
   largest remainders, ties to the earlier part.
3. Members sorted by (key, sim_id in code-point order) fill the parts in order: the first
   ``sizes[0]`` go to the first part, the next ``sizes[1]`` to the second, and so on.
4. Stratified (``strata``: sim_id -> value): members are grouped by value and each group is
   apportioned and filled as in 2 and 3 on its own. Groups are exact values (a number and the
   text of it differ; NaN and a missing id count as None), except when every present value is a
   number and there are more than 10 distinct ones: then 5 quantile bins by rank, ``bin =
   floor(5 * rank / m)`` over the m members with a value sorted by (value, sim_id). None values
   form their own group.

So the parts depend only on the seed, the fractions and the set of ids (and their values), never
on the order the ids come in: the panel, the kernel, the CLI and another machine agree.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import sampling as smp
from .datasets import get_dataset, members
from .errors import DsiError
from .store import Store, current_user, new_id, now, resolve_prefix

if TYPE_CHECKING:
    import pandas as pd

    from .ensemble import Dataset

MAX_PARTS = 16
SUM_TOLERANCE = 1e-9
EXACT_GROUPS_UP_TO = 10  # more distinct numbers than this: quantile bins instead of exact values
QUANTILE_BINS = 5


class SplitError(DsiError):
    """A split that cannot be made or found, with the reason and the way out."""


class UnknownPart(SplitError, KeyError):
    """``split[name]`` for a name that is not one of its parts (a KeyError, as for a dict)."""

    __str__ = Exception.__str__  # KeyError would quote the whole sentence


class EmptyPartWarning(UserWarning):
    """A part got no members (a tiny dataset): allowed, but the training code should know."""


# -- the algorithm --------------------------------------------------------------------------


def check_parts(names: Any, fractions: Any) -> tuple[list[str], list[float]]:
    """Names and fractions as stored, or SplitError naming what is wrong."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise SplitError(f"names must be a list of part names such as ('train', 'val', 'test'), not {names!r}")
    if isinstance(fractions, str) or not isinstance(fractions, Iterable):
        raise SplitError(f"fractions must be a list of numbers such as (0.8, 0.1, 0.1), not {fractions!r}")
    names, fractions = list(names), list(fractions)
    if not names:
        raise SplitError("a split needs at least one part name")
    if len(names) > MAX_PARTS:
        raise SplitError(f"a split has at most {MAX_PARTS} parts, not {len(names)}")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise SplitError(f"part names are non-empty text, not {name!r}")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SplitError(f"part names must be unique; {', '.join(map(repr, twice))} appears more than once")
    if len(fractions) != len(names):
        raise SplitError(f"{len(fractions)} fractions for {len(names)} part names ({', '.join(names)}); "
                         "give one fraction per name")
    out: list[float] = []
    for f in fractions:
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not math.isfinite(f) or f <= 0:
            raise SplitError(f"fractions are positive numbers, not {f!r}")
        out.append(float(f))
    total = math.fsum(out)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise SplitError(f"fractions must sum to 1, not {total!r} ({', '.join(map(repr, out))})")
    return names, out


def check_seed(seed: Any) -> int:
    try:
        return smp.check_seed(seed)
    except ValueError as exc:
        raise SplitError(str(exc)) from None


def part_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment of n members to parts (ties to the earlier part)."""
    exact = [n * f for f in fractions]
    sizes = [math.floor(x) for x in exact]
    remainders = [x - s for x, s in zip(exact, sizes)]
    # Stable sort: equal remainders keep part order, so the earlier part wins the tie.
    order = sorted(range(len(sizes)), key=lambda i: -remainders[i])
    for k in range(n - sum(sizes)):
        sizes[order[k % len(order)]] += 1
    return sizes


def _fill(ids: list[str], names: Sequence[str], fractions: Sequence[float], seed: int,
          out: dict[str, str]) -> None:
    keys = smp.units(seed, ["split:" + s for s in ids])
    ranked = sorted(zip(keys.tolist(), ids))  # ties in key: by sim_id, code-point order
    start = 0
    for name, size in zip(names, part_sizes(len(ranked), fractions)):
        for _, sim_id in ranked[start:start + size]:
            out[sim_id] = name
        start += size


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _groups(ids: list[str], strata: dict[str, Any]) -> list[list[str]]:
    values: dict[str, Any] = {}
    for s in ids:
        v = strata.get(s)
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars, as from pandas
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        if v is not None and not isinstance(v, (str, int, float)):
            raise SplitError(f"stratifying values are numbers or text, not {v!r} (simulation {s!r})")
        values[s] = v
    present = [s for s in ids if values[s] is not None]
    groups: dict[Any, list[str]] = {}
    numbers = all(_is_number(values[s]) for s in present)
    if numbers and len({values[s] for s in present}) > EXACT_GROUPS_UP_TO:
        ordered = sorted(present, key=lambda s: (values[s], s))
        for rank, s in enumerate(ordered):
            groups.setdefault(("bin", QUANTILE_BINS * rank // len(ordered)), []).append(s)
    else:
        for s in present:
            v = values[s]
            # Tagged: 1 and "1" differ, 1 and 1.0 do not, True is not 1 (as in TypeScript).
            key = ("number", float(v)) if _is_number(v) else (type(v).__name__, v)
            groups.setdefault(key, []).append(s)
    missing = [s for s in ids if values[s] is None]
    return [*groups.values(), *([missing] if missing else [])]


def assign_parts(sim_ids: Iterable[str], names: Sequence[str], fractions: Sequence[float], seed: int,
                 strata: dict[str, Any] | None = None) -> dict[str, str]:
    """sim_id -> part name for every distinct id (the algorithm in this module's docstring)."""
    names, fractions = check_parts(names, fractions)
    seed = check_seed(seed)
    ids = sorted(set(smp.text_ids(sim_ids, SplitError, "sim_ids")))
    if strata is not None and not isinstance(strata, dict):
        raise SplitError(f"strata must map simulation ids to values, not {type(strata).__name__}")
    out: dict[str, str] = {}
    for group in ([ids] if strata is None else _groups(ids, strata)):
        _fill(group, names, fractions, seed, out)
    return out


def split_digest(dataset_digest: str, names: Sequence[str], fractions: Sequence[float], seed: int,
                 stratify: str | None, parts: dict[str, str]) -> str:
    """sha256 of a canonical JSON of everything that fixes the parts, and the parts themselves."""
    canonical = json.dumps(
        {"dataset_digest": dataset_digest, "names": list(names), "fractions": list(fractions), "seed": seed,
         "stratify": stratify, "parts": sorted([part, s] for s, part in parts.items())},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- records --------------------------------------------------------------------------------

_SELECT = """SELECT s.id, s.dataset_id, s.names, s.fractions, s.seed, s.stratify, s.digest,
                    s.created_at, s.author,
                    (s.id IN (SELECT record_id FROM jdsi_tombstone)
                     OR s.dataset_id IN (SELECT record_id FROM jdsi_tombstone)) AS deleted
             FROM jdsi_split s"""


def _records(store: Store, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    rows = store.conn.execute(f"{_SELECT} {where} ORDER BY s.created_at, s.id", params).fetchall()
    counts: dict[tuple[str, str], int] = {}
    for split_id, part, count in store.conn.execute(
        "SELECT split_id, part, count(*) FROM jdsi_split_member "
        f"WHERE split_id IN (SELECT s.id FROM jdsi_split s {where}) GROUP BY split_id, part", params
    ):
        counts[(split_id, part)] = count
    out = []
    for r in rows:
        names = json.loads(r["names"])
        out.append({
            "id": r["id"], "dataset_id": r["dataset_id"], "names": names,
            "fractions": json.loads(r["fractions"]), "seed": r["seed"], "stratify": r["stratify"],
            "digest": r["digest"], "sizes": {n: counts.get((r["id"], n), 0) for n in names},
            "created_at": r["created_at"], "author": r["author"], "deleted": bool(r["deleted"]),
        })
    return out


def list_splits(store: Store, dataset_id: str | None = None) -> list[dict[str, Any]]:
    """Split records, oldest first (all datasets', or one's by id or unique prefix).

    ``deleted`` is true when the split or its dataset carries a tombstone: the split stays
    readable, since runs refer to it.
    """
    if dataset_id is None:
        return _records(store)
    return _records(store, "WHERE s.dataset_id = ?", (get_dataset(store, dataset_id)["id"],))


def get_split(store: Store, ref: str) -> dict[str, Any]:
    """A split by its id or a unique prefix of at least MIN_PREFIX characters."""
    found = resolve_prefix(store, "jdsi_split", ref, what="split", error=SplitError, order="created_at DESC, id",
                           see=" (see `jupyter dsi splits`)", make="make one with `jupyter dsi split DATASET --db FILE`")
    return _records(store, "WHERE s.id = ?", (found["id"],))[0]


def split_parts(store: Store, split_id: str) -> dict[str, list[str]]:
    """Part name -> its sorted sim_ids, every part in order (empty ones too)."""
    record = get_split(store, split_id)
    parts: dict[str, list[str]] = {n: [] for n in record["names"]}
    for sim_id, part in store.conn.execute(
        "SELECT sim_id, part FROM jdsi_split_member WHERE split_id = ?", (record["id"],)
    ):
        parts[part].append(sim_id)
    return {n: sorted(ids) for n, ids in parts.items()}


def _strata(store: Store, stratify: Any, ids: list[str]) -> dict[str, Any]:
    params = [p["name"] for p in store.parameters()]
    if not isinstance(stratify, str) or stratify not in params:
        raise SplitError(f"cannot stratify on {stratify!r}: not a parameter of this ensemble; "
                         f"the parameters are {', '.join(params) or 'none'}")
    wanted = set(ids)
    rows = store.conn.execute("SELECT sim_id, value FROM jdsi_param_value WHERE name = ?", (stratify,))
    return {s: v for s, v in rows if s in wanted}


def save_split(store: Store, dataset_ref: str, names: Sequence[str], fractions: Sequence[float], seed: int,
               stratify: str | None = None, author: str | None = None) -> dict[str, Any]:
    """Split a dataset's members and record it; the same request again returns the same split.

    Warns (EmptyPartWarning) when a part gets no members. Refuses a deleted dataset.
    """
    names, fractions = check_parts(names, fractions)
    seed = check_seed(seed)
    if author is None:
        author = current_user()
    if not isinstance(author, str) or not author.strip():
        raise SplitError(f"the author must be a non-empty text, not {author!r}")
    dataset = get_dataset(store, dataset_ref)
    refused = SplitError(f"dataset {dataset['id']} is deleted: a new split needs a live dataset "
                         "(see `jupyter dsi datasets --all`; restore it first to split it)")
    if dataset["deleted"]:
        raise refused
    ids = members(store, dataset["id"])
    strata = None if stratify is None else _strata(store, stratify, ids)
    parts = assign_parts(ids, names, fractions, seed, strata)
    digest = split_digest(dataset["digest"], names, fractions, seed, stratify, parts)
    with store.write() as conn:
        # Checked again under the write lock: a delete may have landed since the read above.
        if conn.execute("SELECT 1 FROM jdsi_tombstone WHERE record_id = ?", (dataset["id"],)).fetchone():
            raise refused
        # Looked up under the write lock too: two writers asking at once still record one split.
        for row in conn.execute(
            "SELECT id, names, fractions, seed, stratify FROM jdsi_split WHERE dataset_id = ?", (dataset["id"],)
        ).fetchall():
            if (json.loads(row["names"]), json.loads(row["fractions"]), row["seed"], row["stratify"]) == (
                    names, fractions, seed, stratify):
                split_id = row["id"]
                break
        else:
            split_id = new_id()
            conn.execute(
                "INSERT INTO jdsi_split (id, dataset_id, names, fractions, seed, stratify, digest, created_at, author) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (split_id, dataset["id"], json.dumps(names, ensure_ascii=False), json.dumps(fractions), seed,
                 stratify, digest, now(), author),
            )
            conn.executemany(
                "INSERT INTO jdsi_split_member (split_id, sim_id, part) VALUES (?, ?, ?)",
                [(split_id, s, part) for s, part in sorted(parts.items())],
            )
            Store.log_event(conn, "split.save", split_id, {"dataset_id": dataset["id"]})
    record = get_split(store, split_id)
    empty = [n for n in names if record["sizes"][n] == 0]
    if empty:
        warnings.warn(f"split {split_id[:8]}: part{'s' if len(empty) > 1 else ''} {', '.join(empty)} "
                      f"got no members ({dataset['size']} in dataset {dataset['id'][:8]})",
                      EmptyPartWarning, stacklevel=2)
    return record


# -- the Python API's object ----------------------------------------------------------------


class Split:
    """A recorded split of a Dataset: ``split["train"]`` is that part of ``ds.members()``."""

    def __init__(self, dataset: Dataset, record: dict[str, Any]) -> None:
        self.dataset = dataset
        self._record = record
        self._parts: dict[str, list[str]] | None = None
        self._members: pd.DataFrame | None = None

    id = property(lambda self: self._record["id"], doc="The split's UUID.")
    dataset_id = property(lambda self: self._record["dataset_id"])
    names = property(lambda self: tuple(self._record["names"]), doc="The part names, in order.")
    fractions = property(lambda self: tuple(self._record["fractions"]))
    seed = property(lambda self: self._record["seed"])
    stratify = property(lambda self: self._record["stratify"], doc="The parameter balanced on, or None.")
    digest = property(lambda self: self._record["digest"])
    sizes = property(lambda self: dict(self._record["sizes"]), doc="Part name -> member count.")
    created_at = property(lambda self: self._record["created_at"])
    author = property(lambda self: self._record["author"])
    deleted = property(lambda self: self._record["deleted"], doc="Whether it or its dataset is tombstoned.")

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._record))

    def parts(self) -> dict[str, list[str]]:
        """Part name -> its sorted sim_ids (a copy; records are immutable, so read once)."""
        if self._parts is None:
            self._parts = split_parts(self.dataset.ensemble.store, self.id)
        return {n: list(ids) for n, ids in self._parts.items()}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._record["names"]:
            raise UnknownPart(f"{name!r} is not a part of split {self.id[:8]}; its parts are "
                              f"{', '.join(self._record['names'])}")
        if self._members is None:
            self._members = self.dataset.members()
        return self._members.loc[self.parts()[name]].copy()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={c}" for n, c in self._record["sizes"].items())
        return f"<jupyterlab_dsi.Split {self.id[:8]} of {self.dataset_id[:8]}: {sizes}>"

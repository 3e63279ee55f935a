"""Splits (issue 15): deterministic, order-independent, stratified when asked, recorded once.

tests/vectors/split.json is written by ``build_vectors()`` below from the Python reference
(``python tests/test_splits.py`` rewrites it) and read by this file and by
src/model/__tests__/split.spec.ts, so the panel and Python split alike.
"""

from __future__ import annotations

import json
import random
import sqlite3
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi import splits as spl
from jupyterlab_dsi.datasets import delete_dataset, save_dataset
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.store import Store

VECTORS_PATH = Path(__file__).parent / "vectors" / "split.json"
# Absent only while `python tests/test_splits.py` writes it for the first time.
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8")) if VECTORS_PATH.exists() else {"sizes": [], "assign": []}
DEFAULT = {"names": ["train", "val", "test"], "fractions": [0.8, 0.1, 0.1]}
Cli = Callable[..., Any]


# -- the shared vectors ------------------------------------------------------------------------

UNICODE_IDS = ["", "a", "é", "e\u0301", "ß", "日本", "\uffff", "\U0001F600", "a\U00010000", "\U0010FFFF",
               "sim 1", "sim'2\"", "x" * 300, "\ud7ff", "\ue000"]


def _vector(ids: list[str], names: list[str], fractions: list[float], seed: int,
            strata: dict[str, Any] | None = None) -> dict[str, Any]:
    shuffled = ids[:]
    random.Random(len(ids) * 7919 + seed).shuffle(shuffled)  # stored in no particular order
    parts = spl.assign_parts(shuffled, names, fractions, seed, strata)
    return {"seed": seed, "names": names, "fractions": fractions, "ids": shuffled, "strata": strata,
            "parts": dict(sorted(parts.items()))}


def build_vectors() -> dict[str, Any]:
    """The vectors, deterministic: rebuilt by test_vectors_file_is_current."""
    rng = random.Random(15)
    sims = [f"sim{i:05d}" for i in range(100)]
    three, halves, thirds = [0.8, 0.1, 0.1], [0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]
    sizes = [(0, three), (1, three), (2, three), (3, three), (7, three), (100, three), (1, halves), (3, halves),
             (5, halves), (4, thirds), (5, thirds), (6, [0.25] * 4), (9, [0.7, 0.2, 0.1]), (10, [0.15, 0.15, 0.7]),
             (7, [1.0]), (20, [1 / 16] * 16), (1_000_003, [0.6, 0.2, 0.2])]
    assign = [_vector(sims[:n], DEFAULT["names"], three, 0) for n in (0, 1, 2, 3, 7, 100)]
    assign += [
        _vector(sims[:7], DEFAULT["names"], three, 1),
        _vector(sims, DEFAULT["names"], three, 2**31),
        _vector(sims[:30], DEFAULT["names"], three, 2**53 - 1),
        _vector(sims[:3], ["a", "b"], halves, 0),
        _vector(sims[:7], ["a", "b"], halves, 5),
        _vector(sims[:10], ["x", "y", "z"], thirds, 3),
        _vector(sims[:9], ["train", "val", "test"], [0.7, 0.2, 0.1], 4),
        _vector(sims[:40], [f"fold{i}" for i in range(16)], [1 / 16] * 16, 6),
        _vector(sims[:5], ["all"], [1.0], 0),
        _vector(UNICODE_IDS, ["train", "test"], [0.6, 0.4], 0),
        _vector(UNICODE_IDS, ["p\u00e9", "\U0001F600"], [0.5, 0.5], 9),
    ]
    # Stratified: categorical text (with None and ids missing from the strata), numeric with more
    # than 10 distinct values (5 quantile bins), exactly 10 (exact groups), 11, ties across a bin
    # boundary with astral ids (code-point order decides the rank), mixed types, -0.0 and 0.0.
    levels = ["flat", "bump2", "bump10"]
    cat = {s: (None if i % 11 == 0 else levels[i % 3]) for i, s in enumerate(sims[:60]) if i % 13}
    numeric = {s: (None if i % 17 == 0 else round(rng.uniform(0, 50), 3)) for i, s in enumerate(sims)}
    ten = {s: float(i % 10) for i, s in enumerate(sims[:50])}
    eleven = {s: i % 11 for i, s in enumerate(sims[:44])}
    tie_ids = [f"t{i}" for i in range(12)] + [f"\U0001F600{i}" for i in range(6)] + [f"\uffff{i}" for i in range(6)]
    ties = {s: (1.5 if i % 2 else float(i)) for i, s in enumerate(tie_ids)}
    mixed = {s: [1, "1", 1.0, True, None, "one"][i % 6] for i, s in enumerate(sims[:36])}
    zeros = {s: [0.0, -0.0, 2][i % 3] for i, s in enumerate(sims[:21])}
    assign += [
        _vector(sims[:60], DEFAULT["names"], three, 0, cat),
        _vector(sims[:60], ["a", "b"], halves, 3, cat),
        _vector(sims, DEFAULT["names"], three, 0, numeric),
        _vector(sims, ["train", "test"], [0.75, 0.25], 8, numeric),
        _vector(sims[:50], DEFAULT["names"], three, 1, ten),
        _vector(sims[:44], ["a", "b"], halves, 2, eleven),
        _vector(tie_ids, ["a", "b", "c"], thirds, 0, ties),
        _vector(sims[:36], ["train", "test"], [0.5, 0.5], 0, mixed),
        _vector(sims[:21], ["train", "test"], [0.5, 0.5], 1, zeros),
        _vector(sims[:12], ["train", "test"], [0.5, 0.5], 0, {}),
        _vector(sims, [f"k{i}" for i in range(5)], [0.2] * 5, 11, numeric),
        _vector(sims[:2], ["a", "b"], halves, 7, {sims[0]: "x", sims[1]: "x"}),
        _vector(UNICODE_IDS, ["train", "test"], [0.5, 0.5], 0, {s: len(s) % 2 for s in UNICODE_IDS}),
    ]
    return {
        "about": [
            "Test vectors for deterministic splits (jupyterlab_dsi/splits.py, tests/test_splits.py; "
            "src/model/split.ts is held to the same file). Written by build_vectors() in tests/test_splits.py.",
            "Rank key of a member: unit(seed, 'split:' + sim_id) from tests/vectors/sampling.json, i.e. the "
            "sampling hash of the text '<seed>:split:<sim_id>'.",
            "sizes: largest-remainder apportionment of n * fraction per part: floor each, the leftover one "
            "by one to the largest remainders, ties to the earlier part.",
            "parts: members sorted by (key, sim_id in code-point order) fill the parts in order. With strata "
            "(sim_id -> value; missing ids and NaN count as null) each group is split on its own: exact values "
            "(numbers compare as numbers, text as text, booleans apart), or when every value is a number and "
            "there are more than 10 distinct ones, bin = floor(5 * rank / m) over the m members with a value "
            "sorted by (value, sim_id); null is one more group.",
            "ids are stored shuffled: the parts must not depend on their order.",
        ],
        "sizes": [{"n": n, "fractions": f, "sizes": spl.part_sizes(n, f)} for n, f in sizes],
        "assign": assign,
    }


def test_vectors_file_is_current() -> None:
    # Round-trip through JSON: what the file holds is what a reader sees (-0.0, 1.0 vs 1).
    assert VECTORS == json.loads(json.dumps(build_vectors(), ensure_ascii=False))


@pytest.mark.parametrize("v", VECTORS["sizes"], ids=lambda v: f"n{v['n']}-{len(v['fractions'])}parts")
def test_size_vectors(v: dict[str, Any]) -> None:
    assert spl.part_sizes(v["n"], v["fractions"]) == v["sizes"]
    assert sum(v["sizes"]) == v["n"]


@pytest.mark.parametrize("v", VECTORS["assign"], ids=lambda v: f"seed{v['seed']}-n{len(v['ids'])}"
                         f"{'-strata' if v['strata'] is not None else ''}")
def test_assign_vectors(v: dict[str, Any]) -> None:
    for ids in (v["ids"], sorted(v["ids"]), list(reversed(v["ids"])), v["ids"] + v["ids"][:3]):
        assert spl.assign_parts(ids, v["names"], v["fractions"], v["seed"], v["strata"]) == v["parts"]


def test_vectors_cover_the_edges() -> None:
    counts = {len(v["ids"]) for v in VECTORS["assign"]}
    assert {0, 1, 2, 3, 7, 100} <= counts
    assert len(VECTORS["assign"]) >= 30 and len(VECTORS["sizes"]) >= 15
    assert any(ord(c) > 0xFFFF for v in VECTORS["assign"] for s in v["ids"] for c in s)
    stratified = [v for v in VECTORS["assign"] if v["strata"]]
    numbers = [v for v in stratified if len({x for x in v["strata"].values() if x is not None}) > 10]
    assert numbers and any(None in v["strata"].values() for v in stratified)
    # Ties in remainders: the earlier part gets the leftover member.
    assert {"n": 3, "fractions": [0.5, 0.5], "sizes": [2, 1]} in VECTORS["sizes"]
    # Not vacuous: some vector fills every part of three.
    assert any(len(set(v["parts"].values())) == 3 for v in VECTORS["assign"])


# -- the algorithm -----------------------------------------------------------------------------


def test_deterministic_and_order_independent() -> None:
    ids = [f"sim{i:05d}" for i in range(2000)]
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    first = spl.assign_parts(ids, DEFAULT["names"], DEFAULT["fractions"], 7)
    assert spl.assign_parts(shuffled, DEFAULT["names"], DEFAULT["fractions"], 7) == first
    assert spl.assign_parts(tuple(ids), DEFAULT["names"], DEFAULT["fractions"], 7) == first
    assert Counter(first.values()) == {"train": 1600, "val": 200, "test": 200}
    other = spl.assign_parts(ids, DEFAULT["names"], DEFAULT["fractions"], 8)
    assert other != first  # another seed, other parts (same sizes)
    assert Counter(other.values()) == Counter(first.values())


def test_sizes_follow_largest_remainders() -> None:
    assert spl.part_sizes(9, [0.7, 0.2, 0.1]) == [6, 2, 1]
    assert spl.part_sizes(10, [0.8, 0.1, 0.1]) == [8, 1, 1]
    assert spl.part_sizes(2, [0.8, 0.1, 0.1]) == [2, 0, 0]
    assert spl.part_sizes(3, [0.5, 0.5]) == [2, 1]
    assert spl.part_sizes(0, [0.5, 0.5]) == [0, 0]
    for n in range(60):
        assert sum(spl.part_sizes(n, [0.6, 0.25, 0.15])) == n


def test_stratified_parts_balance_each_group() -> None:
    ids = [f"s{i:04d}" for i in range(300)]
    levels = {s: ["a", "b", "c", None][i % 4] for i, s in enumerate(ids)}
    parts = spl.assign_parts(ids, DEFAULT["names"], DEFAULT["fractions"], 0, levels)
    for level in ("a", "b", "c", None):
        group = [s for s in ids if levels[s] == level]
        got = Counter(parts[s] for s in group)
        assert [got[n] for n in DEFAULT["names"]] == spl.part_sizes(len(group), DEFAULT["fractions"])
    # Numbers with more than 10 distinct values: 5 quantile bins of 60, each split 48/6/6.
    values = {s: float(i) for i, s in enumerate(ids)}
    parts = spl.assign_parts(ids, DEFAULT["names"], DEFAULT["fractions"], 0, values)
    for b in range(5):
        got = Counter(parts[s] for s in ids if b * 60 <= values[s] < (b + 1) * 60)
        assert [got[n] for n in DEFAULT["names"]] == [48, 6, 6]


@pytest.mark.parametrize("kwargs, message", [
    ({"fractions": [0.8, 0.3, 0.1]}, "sum to 1"),
    ({"fractions": [0.8, 0.2]}, "2 fractions for 3 part names"),
    ({"fractions": [1.1, -0.1, 0.0]}, "positive numbers"),
    ({"fractions": [float("nan"), 0.5, 0.5]}, "positive numbers"),
    ({"fractions": "0.8"}, "list of numbers"),
    ({"names": ["train", "train", "test"]}, "'train' appears more than once"),
    ({"names": ["train", "", "test"]}, "non-empty text"),
    ({"names": "train"}, "list of part names"),
    ({"names": [f"p{i}" for i in range(17)], "fractions": [1 / 17] * 17}, "at most 16 parts"),
    ({"seed": -1}, "between 0 and 2**53 - 1"),
    ({"seed": 1.5}, "must be an integer"),
    ({"seed": True}, "must be an integer"),
])
def test_bad_arguments_are_one_line(kwargs: dict[str, Any], message: str) -> None:
    args = {"names": DEFAULT["names"], "fractions": DEFAULT["fractions"], "seed": 0, **kwargs}
    with pytest.raises(DsiError, match="^[^\n]*" + message.replace("*", r"\*")):
        spl.assign_parts(["a", "b"], args["names"], args["fractions"], args["seed"])


def test_bad_ids_and_strata() -> None:
    with pytest.raises(DsiError, match="not one string"):
        spl.assign_parts("abc", ["a"], [1.0], 0)
    with pytest.raises(DsiError, match="simulation ids are text, not 3"):
        spl.assign_parts(["a", 3], ["a"], [1.0], 0)
    with pytest.raises(DsiError, match=r"simulation ids are text, not \['a'\]"):
        spl.assign_parts([["a"]], ["a"], [1.0], 0)
    with pytest.raises(DsiError, match="numbers or text, not"):
        spl.assign_parts(["a"], ["a"], [1.0], 0, {"a": [1, 2]})


# -- recorded splits ---------------------------------------------------------------------------


def _dataset(db: Path, members: list[str] | None = None) -> str:
    with Store(db) as store:
        ids = store.sim_ids() if members is None else members
        return save_dataset(store, members=ids, description="all", method_id=None, t=None)["id"]


@pytest.fixture
def big(cli: Cli, make_ensemble: Callable[..., Any], tmp_path: Path) -> tuple[Path, str]:
    """60 simulations (energy: 60 distinct numbers; profile: 3 levels) and a dataset of all."""
    ens = make_ensemble("big", sims=60)
    db = tmp_path / "big.sqlite"
    assert cli("ingest", "-q", ens.root, "--db", db).code == 0
    return db, _dataset(db)


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table: a literal above
    finally:
        conn.close()


def test_split_is_recorded_once_with_its_rows_and_event(big: tuple[Path, str]) -> None:
    db, ds_id = big
    with Store(db) as store:
        record = spl.save_split(store, ds_id[:6], DEFAULT["names"], DEFAULT["fractions"], 3, author="ada")
        again = spl.save_split(store, ds_id, ("train", "val", "test"), (0.8, 0.1, 0.1), 3)
        assert again == record  # idempotent: the same split, not a second one
        assert record["sizes"] == {"train": 48, "val": 6, "test": 6}
        assert record["author"] == "ada" and record["dataset_id"] == ds_id and record["deleted"] is False
        parts = spl.split_parts(store, record["id"])
        members = sorted(store.sim_ids())
        expected = spl.assign_parts(members, DEFAULT["names"], DEFAULT["fractions"], 3)
        assert parts == {n: sorted(s for s, p in expected.items() if p == n) for n in DEFAULT["names"]}
        dataset_digest = store.conn.execute("SELECT digest FROM jdsi_dataset WHERE id = ?", (ds_id,)).fetchone()[0]
        assert record["digest"] == spl.split_digest(dataset_digest, DEFAULT["names"], DEFAULT["fractions"], 3,
                                                    None, expected)
        other = spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 4)
        assert other["id"] != record["id"] and other["digest"] != record["digest"]
        assert [r["id"] for r in spl.list_splits(store, ds_id)] == [record["id"], other["id"]]
    assert _count(db, "jdsi_split") == 2 and _count(db, "jdsi_split_member") == 120
    conn = sqlite3.connect(db)
    events = conn.execute("SELECT kind, record_id, payload FROM jdsi_event WHERE kind = 'split.save'").fetchall()
    conn.close()
    assert events == [("split.save", record["id"], json.dumps({"dataset_id": ds_id})),
                      ("split.save", other["id"], json.dumps({"dataset_id": ds_id}))]


def test_stratified_split_balances_the_parameter(big: tuple[Path, str]) -> None:
    db, ds_id = big
    with Store(db) as store:
        record = spl.save_split(store, ds_id, ["a", "b"], [0.5, 0.5], 0, stratify="profile")
        parts = spl.split_parts(store, record["id"])
        profile = dict(store.conn.execute("SELECT sim_id, value FROM jdsi_param_value WHERE name = 'profile'"))
        for level in set(profile.values()):
            assert Counter(profile[s] for s in parts["a"])[level] == 10  # 20 of each level, halved
        by_energy = spl.save_split(store, ds_id, ["a", "b"], [0.5, 0.5], 0, stratify="energy")
        assert by_energy["stratify"] == "energy" and by_energy["id"] != record["id"]
        energy = dict(store.conn.execute("SELECT sim_id, value FROM jdsi_param_value WHERE name = 'energy'"))
        ranked = sorted(energy, key=lambda s: (energy[s], s))
        low = set(spl.split_parts(store, by_energy["id"])["a"])
        for b in range(5):  # 5 bins of 12 by energy: 6 each way
            assert len(low & set(ranked[b * 12:(b + 1) * 12])) == 6


def test_bad_requests_write_nothing(big: tuple[Path, str]) -> None:
    db, ds_id = big
    with Store(db) as store:
        with pytest.raises(DsiError, match="cannot stratify on 'nope'.*the parameters are cs, profile, energy"):
            spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0, stratify="nope")
        with pytest.raises(DsiError, match="is not a dataset of this database"):
            spl.save_split(store, "ffffffff", DEFAULT["names"], DEFAULT["fractions"], 0)
        with pytest.raises(DsiError, match="sum to 1"):
            spl.save_split(store, ds_id, DEFAULT["names"], [0.5, 0.5, 0.5], 0)
        with pytest.raises(DsiError, match="author"):
            spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0, author=" ")
    assert _count(db, "jdsi_split") == 0 and _count(db, "jdsi_split_member") == 0


def test_a_deleted_dataset_refuses_a_new_split_and_keeps_its_old_ones(big: tuple[Path, str], cli: Cli) -> None:
    db, ds_id = big
    with Store(db) as store:
        old = spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0)
        delete_dataset(store, ds_id)
        with pytest.raises(DsiError, match="is deleted.*`jupyter dsi datasets --all`"):
            spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 1)
        kept = spl.get_split(store, old["id"])
        assert kept["deleted"] is True and {**kept, "deleted": False} == old
        assert sum(len(v) for v in spl.split_parts(store, old["id"]).values()) == 60
    res = cli("split", ds_id, "--db", db, "--seed", "1")
    assert res.code == 2 and len(res.err_lines) == 1 and "jupyter dsi datasets --all" in res.err
    listed = json.loads(cli("splits", "--db", db, "--format", "json").out)
    assert [(s["id"], s["deleted"]) for s in listed] == [(old["id"], True)]
    assert _count(db, "jdsi_split") == 1


def test_writes_landing_between_the_read_and_the_write(big: tuple[Path, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process saves the same split, or deletes the dataset, while this one computes."""
    db, ds_id = big
    original = spl.members
    meanwhile: list[Callable[[Store], Any]] = []

    def members_then_other_writer(store: Store, ref: str) -> list[str]:
        found = original(store, ref)
        writes, meanwhile[:] = meanwhile[:], []  # once: the other writer's own save reads too
        with Store(db) as other:
            for write in writes:
                write(other)
        return found

    monkeypatch.setattr(spl, "members", members_then_other_writer)
    theirs: list[dict[str, Any]] = []
    meanwhile[:] = [lambda other: theirs.append(
        spl.save_split(other, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0))]
    with Store(db) as store:
        mine = spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0)
        assert mine["id"] == theirs[0]["id"]  # found under the write lock: one split, not two
        meanwhile[:] = [lambda other: delete_dataset(other, ds_id)]
        with pytest.raises(DsiError, match="is deleted"):
            spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 1)
    assert _count(db, "jdsi_split") == 1 and _count(db, "jdsi_split_member") == 60


def test_numpy_numbers_are_accepted() -> None:
    import numpy as np

    ids = [f"s{i}" for i in range(20)]
    assert spl.assign_parts(np.array(ids), ("a", "b"), np.array([0.75, 0.25], dtype=np.float32), np.int64(4)) == (
        spl.assign_parts(ids, ["a", "b"], [0.75, 0.25], 4))
    strata = {s: np.float64(i % 3) for i, s in enumerate(ids)}
    assert spl.assign_parts(ids, ["a", "b"], [0.5, 0.5], 0, strata) == spl.assign_parts(
        ids, ["a", "b"], [0.5, 0.5], 0, {s: float(v) for s, v in strata.items()})


def test_an_empty_part_is_allowed_with_a_warning(ingested: tuple[Any, Path], cli: Cli) -> None:
    _, db = ingested
    ds_id = _dataset(db, ["s00", "s01"])
    with Store(db) as store, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0)
    assert record["sizes"] == {"train": 2, "val": 0, "test": 0}
    assert [str(w.message) for w in caught if w.category is spl.EmptyPartWarning] == [
        f"split {record['id'][:8]}: parts val, test got no members (2 in dataset {ds_id[:8]})"]
    res = cli("split", ds_id, "--db", db)
    assert res.code == 0 and res.last_line == record["id"]
    assert res.err_lines == [f"warning: split {record['id'][:8]}: parts val, test got no members "
                             f"(2 in dataset {ds_id[:8]})"]


def test_get_split_by_prefix(big: tuple[Path, str]) -> None:
    db, ds_id = big
    with Store(db) as store:
        with pytest.raises(DsiError, match="no splits yet; make one with `jupyter dsi split"):
            spl.get_split(store, "abcd")
        record = spl.save_split(store, ds_id, DEFAULT["names"], DEFAULT["fractions"], 0)
        assert spl.get_split(store, record["id"][:4]) == record
        with pytest.raises(DsiError, match="too short: give at least 4 characters"):
            spl.get_split(store, record["id"][:3])
        with pytest.raises(DsiError, match="'zzzz' is not a split of this database; known splits: "
                           + record["id"][:8]):
            spl.get_split(store, "zzzz")
        with pytest.raises(DsiError, match="is not a dataset"):
            spl.list_splits(store, "zzzz")


# -- the Python API ----------------------------------------------------------------------------


def test_dataset_split_in_python(big: tuple[Path, str]) -> None:
    import jupyterlab_dsi as dsi

    db, ds_id = big
    with dsi.open(db) as ens:
        ds = ens.dataset(ds_id[:8])
        assert ds.splits() == []
        split = ds.split(fractions=(0.5, 0.3, 0.2), seed=2, stratify="profile")
        assert ds.split(fractions=[0.5, 0.3, 0.2], seed=2, stratify="profile").id == split.id
        assert (split.names, split.fractions, split.seed, split.stratify) == (
            ("train", "val", "test"), (0.5, 0.3, 0.2), 2, "profile")
        assert split.dataset_id == ds.id and split.sizes == {"train": 30, "val": 18, "test": 12}
        assert split.created_at and split.digest.startswith("sha256:")
        members = ds.members()
        parts = split.parts()
        for name in split.names:
            frame = split[name]
            assert list(frame.columns) == list(members.columns)
            assert list(frame.index) == parts[name] and len(frame) == split.sizes[name]
            assert frame.equals(members.loc[parts[name]])
        with pytest.raises(KeyError):
            split["training"]
        with pytest.raises(DsiError, match="'training' is not a part of split .*; its parts are train, val, test"):
            split["training"]
        assert [s.id for s in ds.splits()] == [split.id]
        with pytest.raises(DsiError, match="sum to 1"):
            ds.split(fractions=(0.5, 0.5, 0.5))
    assert ens._write_store is None  # the writer opened by split() closed with the Ensemble
    with pytest.raises(DsiError, match="closed"):
        ds.split()


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_split_and_splits(big: tuple[Path, str], cli: Cli) -> None:
    db, ds_id = big
    res = cli("split", ds_id[:8], "--db", db, "--fractions", "0.6,0.4", "--names", "fit,check", "--seed", "5",
              "--stratify", "cs")
    assert res.code == 0, res.err
    assert res.out_lines[0] == f"split dataset {ds_id[:8]} (seed 5, stratified on cs): fit 36, check 24"
    split_id = res.last_line
    assert cli("split", ds_id, "--db", db, "--fractions", "0.6, 0.4", "--names", "fit,check", "--seed", "5",
               "--stratify", "cs").last_line == split_id  # the same request, the same split
    listed = json.loads(cli("splits", "--db", db, "--dataset", ds_id[:8], "--format", "json").out)
    assert len(listed) == 1
    assert {k: listed[0][k] for k in ("id", "dataset_id", "names", "fractions", "seed", "stratify", "sizes")} == {
        "id": split_id, "dataset_id": ds_id, "names": ["fit", "check"], "fractions": [0.6, 0.4], "seed": 5,
        "stratify": "cs", "sizes": {"fit": 36, "check": 24}}
    table = cli("splits", "--db", db)
    assert table.code == 0 and "fit,check" in table.out and "36,24" in table.out and table.last_line == "(1 row)"
    csv_out = cli("splits", "--db", db, "--format", "csv").out_lines
    assert csv_out[1].startswith(f'{split_id},{ds_id},"fit,check","0.6,0.4",5,cs,"36,24",')


@pytest.mark.parametrize("argv, message", [
    (["--fractions", "0.8,0.3,0.1"], "fractions must sum to 1"),
    (["--fractions", "0.5,x"], "--fractions takes numbers such as 0.8,0.1,0.1, not 'x'"),
    (["--fractions", "0.5,,0.5"], "--fractions is a comma-separated list with no empty items"),
    (["--fractions", "0.5,0.5"], "2 fractions for 3 part names (train, val, test)"),
    (["--names", "a,a", "--fractions", "0.5,0.5"], "'a' appears more than once"),
    (["--seed", "-3"], "the seed must be between 0 and 2**53 - 1"),
    (["--stratify", "nope"], "cannot stratify on 'nope'"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(big: tuple[Path, str], cli: Cli, argv: list[str],
                                                      message: str) -> None:
    db, ds_id = big
    res = cli("split", ds_id, "--db", db, *argv)
    assert res.code == 2 and res.out == ""
    assert len(res.err_lines) == 1 and res.err.startswith("jupyter dsi split: error: ") and message in res.err
    assert _count(db, "jdsi_split") == 0


def test_cli_unknown_dataset_and_seed_text(big: tuple[Path, str], cli: Cli) -> None:
    db, _ = big
    res = cli("split", "zzzzzzzz", "--db", db)
    assert res.code == 2 and len(res.err_lines) == 1 and "is not a dataset of this database" in res.err
    res = cli("split", "zzzzzzzz", "--db", db, "--seed", "x")
    assert res.code == 2 and len(res.err_lines) == 1 and "--seed" in res.err
    res = cli("splits", "--db", db, "--dataset", "zzzz")
    assert res.code == 2 and len(res.err_lines) == 1 and "is not a dataset of this database" in res.err


if __name__ == "__main__":  # rewrite the shared vectors from the Python reference
    VECTORS_PATH.write_text(json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")

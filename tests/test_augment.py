"""Pool-based augmentation (issue 16 §2): `ds.augment(run, ...)` and `jupyter dsi augment`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi.augment import choose
from jupyterlab_dsi.errors import DsiError

Cli = Callable[..., Result]
SIGMA2 = {"s00": 0.5, "s01": 0.5, "s02": 0.1, "s03": 0.4, "s04": 0.2, "s05": 0.3}


@pytest.fixture
def db(mdb: tuple[Path, str], cli: Cli) -> Iterator[tuple[Path, str, str]]:
    """(path, parent dataset id = {s00, s01}, id of an ended run with sigma2 on every simulation)."""
    path, method_id = mdb
    res = cli("select", "--db", path, "--method", method_id, "--time", 1, "--where", "energy < 3",
              "--save", "phase 0")
    assert res.code == 0, res.err
    parent = res.last_line
    frame = pd.DataFrame({"energy": [1.0] * 6, "sigma2": list(SIGMA2.values())}, index=list(SIGMA2))
    with dsi.open(path) as ens, ens.run(dataset=parent, name="gp") as run:
        run.log_predictions(frame)
        run_id = run.id
    yield path, parent, run_id


def dataset_rows(path: Path) -> list[tuple]:
    return query(path, "SELECT * FROM jdsi_dataset ORDER BY id") + query(
        path, "SELECT * FROM jdsi_dataset_member ORDER BY dataset_id, sim_id")


def test_top_takes_the_largest_sigma2_as_a_new_child_dataset(db: tuple[Path, str, str], cli: Cli) -> None:
    path, parent, run_id = db
    with dsi.open(path) as ens:
        ds = ens.dataset(parent)
        before = ds.member_ids()
        child = ds.augment(run_id[:8], size=2, seed=0, policy="top", description="phase 1: top sigma2")
        assert child.member_ids() == ["s00", "s01", "s03", "s05"]  # s00, s01 are members: never chosen
        assert child.parent_id == parent and child.size == 4
        assert child.method_id == ds.method_id and child.t == ds.t and child.filter == ds.filter
        assert child.record["settings"]["augment"] == {"policy": "top", "run_id": run_id, "size": 2,
                                                       "seed": 0, "target": "energy"}
        assert child.record["selection_kind"] == "augment"
        assert ens.dataset(parent).member_ids() == before  # the parent is unchanged
    res = cli("verify", "--db", path)
    assert res.code == 0, res.out + res.err
    listed = json.loads(cli("datasets", "--db", path, "--format", "json").out)
    assert [d["parent"] for d in listed if d["id"] == child.id] == [parent]
    lineage = cli("lineage", "--db", path, child.id)
    assert lineage.code == 0, lineage.err
    assert parent[:8] in lineage.out


def test_the_command_prints_a_summary_and_the_id_last(db: tuple[Path, str, str], cli: Cli) -> None:
    path, parent, run_id = db
    res = cli("augment", "--db", path, "--dataset", parent[:8], "--run", run_id, "--size", 3, "--seed", 7,
              "--save", "phase 1", "--name", "phase-1")
    assert res.code == 0, res.err
    assert "2 members of the parent + 3 chosen by sample" in res.out_lines[0]
    with dsi.open(path) as ens:
        child = ens.dataset(res.last_line)
        assert child.name == "phase-1" and child.size == 5 and child.parent_id == parent
        assert set(child.member_ids()) >= {"s00", "s01"}
    assert cli("verify", "--db", path).code == 0


def test_a_tampered_augmentation_fails_verify(db: tuple[Path, str, str], cli: Cli) -> None:
    path, parent, run_id = db
    with dsi.open(path) as ens:
        child = ens.dataset(parent).augment(run_id, size=1, seed=0, policy="top", description="x")
    import sqlite3

    with sqlite3.connect(path) as conn:  # a different seed in the record: the choice no longer follows
        settings = json.loads(conn.execute("SELECT settings FROM jdsi_dataset WHERE id = ?", (child.id,)).fetchone()[0])
        settings["augment"]["policy"] = "sample"
        settings["augment"]["size"] = 3
        conn.execute("UPDATE jdsi_dataset SET settings = ? WHERE id = ?", (json.dumps(settings), child.id))
    res = cli("verify", "--db", path)
    assert res.code != 0
    assert "augmentation chosen again" in res.out + res.err


def test_sample_is_deterministic_and_order_independent() -> None:
    sigma2 = {f"p{i:03d}": 0.1 + (i % 7) for i in range(100)}
    shuffled = dict(sorted(sigma2.items(), key=lambda kv: hash(kv[0][::-1])))
    one = choose(sigma2, {"p000"}, 20, 5, "sample")
    assert one == choose(shuffled, {"p000"}, 20, 5, "sample")
    assert len(one) == len(set(one)) == 20 and "p000" not in one
    assert one != choose(sigma2, {"p000"}, 20, 6, "sample")


def test_sample_favours_high_sigma2() -> None:
    # Size 1 over 4000 seeds: b has three times a's weight, so it is picked 3/4 of the time
    # (standard error 0.007; the band is over 4 of them). With size 2 of {a, b, c}, every pick
    # holds two different ids.
    picks = Counter(choose({"a": 1.0, "b": 3.0}, set(), 1, seed, "sample")[0] for seed in range(4000))
    assert 0.72 < picks["b"] / 4000 < 0.78
    pairs = [choose({"a": 1.0, "b": 3.0, "c": 6.0}, set(), 2, seed, "sample") for seed in range(2000)]
    assert all(len(set(p)) == 2 for p in pairs)
    counts = Counter(s for p in pairs for s in p)
    assert counts["c"] > counts["b"] > counts["a"]


def test_top_breaks_ties_by_sim_id_and_skips_unusable_sigma2() -> None:
    sigma2 = {"d": 1.0, "c": 1.0, "b": 2.0, "a": None, "e": float("nan"), "f": 0.0, "g": float("inf")}
    assert choose(sigma2, set(), 2, 0, "top") == ["b", "c"]
    with pytest.raises(DsiError, match="the size 4 is more than the 3 non-member simulations"):
        choose(sigma2, set(), 4, 0, "sample")


def test_several_targets_use_the_first_alphabetically_unless_named(db: tuple[Path, str, str]) -> None:
    path, parent, _ = db
    ids = list(SIGMA2)
    frame = pd.DataFrame({"zeta": [1.0] * 6, "alpha": [1.0] * 6,
                          "sigma2_zeta": [1.0, 1.0, 9.0, 1.0, 1.0, 1.0],
                          "sigma2_alpha": [1.0, 1.0, 1.0, 1.0, 1.0, 9.0]}, index=ids)
    with dsi.open(path) as ens:
        with ens.run(dataset=parent) as run:
            run.log_predictions(frame)
        ds = ens.dataset(parent)
        assert ds.augment(run, size=1, seed=0, policy="top", description="a").member_ids()[-1] == "s05"
        zeta = ds.augment(run.id, size=1, seed=0, policy="top", description="z", target="zeta")
        assert "s02" in zeta.member_ids() and zeta.record["settings"]["augment"]["target"] == "zeta"


def test_bad_input_is_one_line_and_writes_nothing(db: tuple[Path, str, str], cli: Cli) -> None:
    path, parent, run_id = db
    with dsi.open(path) as ens:
        with ens.run(dataset=parent) as bare:
            bare.log_predictions(pd.DataFrame({"energy": [1.0, 2.0]}, index=["s02", "s03"]))
        gone = ens.dataset(parent).augment(run_id, size=1, seed=0, policy="top", description="to delete")
    from jupyterlab_dsi.datasets import delete_dataset
    from jupyterlab_dsi.store import Store

    with Store(path) as store:
        delete_dataset(store, gone.id)
    before = dataset_rows(path)
    base = ["augment", "--db", path, "--dataset", parent, "--run", run_id, "--seed", 0, "--save", "x"]
    for argv, message in [
        (["augment", "--db", path, "--dataset", "ffffffff", "--run", run_id, "--size", 1, "--seed", 0,
          "--save", "x"], "ffffffff"),
        (["augment", "--db", path, "--dataset", gone.id, "--run", run_id, "--size", 1, "--seed", 0,
          "--save", "x"], "is deleted"),
        (["augment", "--db", path, "--dataset", parent, "--run", bare.id, "--size", 1, "--seed", 0,
          "--save", "x"], "logged no sigma2"),
        ([*base, "--size", 0], "the size must be a whole number >= 1"),
        ([*base, "--size", 5], "the size 5 is more than the 4 non-member simulations"),
        ([*base, "--size", 1, "--policy", "best"], "unknown policy 'best'"),
        ([*base, "--size", 1, "--target", "yield"], "no sigma2 for target 'yield'"),
        ([*base[:-2], "--size", 1, "--save", "  "], "needs a description"),
    ]:
        res = cli(*argv)
        assert res.code == 2, (argv, res.out)
        assert len(res.err_lines) == 1 and message in res.err, (argv, res.err)
    assert dataset_rows(path) == before
    with dsi.open(path) as ens, pytest.raises(DsiError, match="needs a description"):
        ens.dataset(parent).augment(run_id, size=1, seed=0)
    assert dataset_rows(path) == before

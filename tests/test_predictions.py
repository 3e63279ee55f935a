"""A training run's predictions as selection columns (issue 15 §3), in Python as in the panel.

The panel names them `error of <run>`, `prediction of <run>` and `sigma2 of <run>`, and its
brushes write filters on those names; `jupyter dsi select --where`, `%dsi select`, the kernel
bridge, `verify` and d_feature's weights must read them with the panel's values. The names are
held to tests/vectors/prediction_columns.json, which jest (src/db/__tests__/
predictionColumns.spec.ts) holds the panel to as well.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi import predictions as prd
from jupyterlab_dsi.bridge import check_state, panel_variables
from jupyterlab_dsi.datasets import DatasetError, save_dataset, verify
from jupyterlab_dsi.filter import FilterError, _fmt_name
from jupyterlab_dsi.query import DISTANCES, number_columns, select
from jupyterlab_dsi.store import Store, create_schema

ROOT = Path(__file__).resolve().parents[1]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "prediction_columns.json").read_text(encoding="utf-8"))
CASES = VECTORS["cases"]
Cli = Callable[..., Result]


def build(path: Path, case: dict[str, Any]) -> Path:
    """The case as a database file (the jest spec builds the same one with sql.js)."""
    conn = sqlite3.connect(path)
    create_schema(conn)
    with conn:
        conn.execute("INSERT INTO jdsi_source VALUES ('src', 'csv', '/data/a.csv', 'x', 1, '2026-01-01T00:00:00Z')")
        for k, p in enumerate(case["parameters"]):
            levels = None if p["levels"] is None else json.dumps(p["levels"])
            conn.execute("INSERT INTO jdsi_parameter VALUES (?, ?, ?, NULL, ?)", (p["name"], p["kind"], levels, k))
        for k, m in enumerate(case["metrics"]):
            conn.execute("INSERT INTO jdsi_metric VALUES (?, ?, ?, NULL, ?)", (m["name"], m["kind"], int(m["per_step"]), k))
        for sim in case.get("sims", [{"id": "1"}]):
            conn.execute("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, 'src')", (sim["id"],))
            for name, value in sim.get("params", {}).items():
                conn.execute("INSERT INTO jdsi_param_value VALUES (?, ?, ?)", (sim["id"], name, value))
            for name, steps in sim.get("metrics", {}).items():
                for t, value in steps.items():
                    conn.execute("INSERT INTO jdsi_metric_value VALUES (?, ?, ?, ?)", (name, int(t), sim["id"], value))
        for run in case["runs"]:
            conn.execute("INSERT INTO jdsi_run (id, name, status, started_at, author, host) "
                         "VALUES (?, ?, 'finished', ?, 'me', 'h')", (run["id"], run["name"], run["started_at"]))
            if run["deleted"]:
                conn.execute("INSERT INTO jdsi_tombstone VALUES (?, 'run', '2026-12-01T00:00:00Z', 'me')", (run["id"],))
            for t in run["targets"]:
                values = t.get("values", {"1": [1, 0.5 if t["sigma2"] else None]})
                for sim, (value, sigma2) in values.items():
                    conn.execute("INSERT INTO jdsi_prediction VALUES (?, ?, ?, ?, ?)",
                                 (run["id"], sim, t["target"], value, sigma2))
    conn.close()
    return path


def brushable(name: str) -> str:
    """A filter that names the column and matches wherever it has a value (as a brush over all)."""
    return f"{_fmt_name(name)} >= -1e300"


# -- the shared vectors --------------------------------------------------------------------------


def test_the_reserved_names_are_the_explorers() -> None:
    assert list(prd.RESERVED) == VECTORS["reserved"] == [*DISTANCES, "d_feature"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"][:60] for c in CASES])
def test_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    db = build(tmp_path / "v.sqlite", case)
    with Store(db, readonly=True) as store:
        columns = prd.read_columns(store.conn, store.parameters())
        assert [[c.name, c.kind] for c in columns] == case["columns"]
        # select offers exactly these, after its own columns, and a filter may name each one.
        names = [n for n, _ in case["columns"]]
        steps = sorted(int(t) for t in case.get("values", {"0": None}))
        for t in steps:
            chosen = select(store, None, t)
            assert chosen.columns[len(chosen.columns) - len(names):] == names
            for name in names:
                if "\ud83e" not in name:  # a lone surrogate cannot be typed into a UTF-8 filter
                    select(store, None, t, brushable(name))
            expected = case.get("values", {}).get(str(t))
            if expected is not None:
                order = [s["id"] for s in case["sims"]]
                at = {row[0]: row for row in chosen.rows}
                for name, want in expected.items():
                    i = chosen.columns.index(name)
                    assert (name, [at[s][i] for s in order]) == (name, want)


def test_labels_cut_ids_in_utf16_units() -> None:
    assert prd.js_prefix("🦊🦊🦊🦊🦊", 8) == "🦊🦊🦊🦊"
    assert prd.js_prefix("a🦊🦊🦊🦊", 8) == "a🦊🦊🦊\ud83e"
    assert prd.js_prefix("short", 8) == "short"


# -- on a real ensemble: select, the CLI, verify, the bridge, d_feature ---------------------------


@pytest.fixture
def runs_db(mdb: tuple[Path, str]) -> Iterator[tuple[Path, str]]:
    """The shared method database with two runs: gp-small predicts energy for s00..s03 with
    variances (its error is 0, 0.5, 1 and 1.5), net predicts cs and energy for every simulation."""
    path, method_id = mdb
    with dsi.open(path) as ens:
        truth = ens.select(method=method_id, time=0)["energy"]
        ids = list(truth.index)
        with ens.run(name="gp-small") as run:
            some = ids[:4]
            run.log_predictions(pd.DataFrame({"prediction": truth[some] + [0, 0.5, 1, 1.5],
                                              "sigma2": [0.1, 0.2, 0.3, 0.4]}, index=some), target="energy")
        with ens.run(name="net") as run:
            run.log_predictions(pd.DataFrame({"energy": truth * 0.9, "cs": 0.15}, index=ids))
    yield path, method_id


def by_hand(db: Path, run_name: str, target: str) -> pd.DataFrame:
    """prediction - truth per simulation, computed with pandas from the tables."""
    preds = pd.DataFrame(query(db, "SELECT p.sim_id, p.value, p.sigma2 FROM jdsi_prediction p JOIN jdsi_run r "
                                   "ON r.id = p.run_id WHERE r.name = ? AND p.target = ?", (run_name, target)),
                         columns=["sim_id", "value", "sigma2"]).set_index("sim_id")
    truth = pd.DataFrame(query(db, "SELECT sim_id, value FROM jdsi_param_value WHERE name = ?", (target,)),
                         columns=["sim_id", "truth"]).set_index("sim_id")
    out = truth.join(preds, how="left")
    out["error"] = out["value"] - out["truth"]
    return out


def test_select_where_on_an_error_column_is_the_error_by_hand(runs_db: tuple[Path, str], cli: Cli) -> None:
    db, method_id = runs_db
    hand = by_hand(db, "gp-small", "energy")
    want = sorted(hand.index[hand["error"] > 0.5])
    assert len(want) == 2
    res = cli("select", "--db", db, "--method", method_id, "--time", 1, "--where", "`error of gp-small` > 0.5",
              "--format", "json")
    assert res.code == 0, res.err
    rows = json.loads(res.out)
    assert sorted(r["sim_id"] for r in rows) == want
    assert {r["sim_id"]: r["error of gp-small"] for r in rows} == pytest.approx(hand.loc[want, "error"].to_dict())
    # Over every step too (time=None): a parameter's error is the same at each.
    all_steps = json.loads(cli("select", "--db", db, "--method", method_id, "--where", "`error of gp-small` > 0.5",
                               "--format", "json").out)
    assert sorted({r["sim_id"] for r in all_steps}) == want and len(all_steps) == 3 * len(want)
    # The other columns of the panel: net predicted two targets, gp-small logged variances.
    assert [c for c in rows[0] if " of " in c] == ["error of gp-small", "sigma2 of gp-small",
                                                   "error of net: cs", "error of net: energy"]
    net = by_hand(db, "net", "energy")
    chosen = select(Store(db, readonly=True), method_id, 1, "`error of net: energy` < -1")
    assert sorted(r[0] for r in chosen.rows) == sorted(net.index[net["error"] < -1])
    # Missing never matches, as in the panel: `not` is the complement over the predicted ones only.
    none = json.loads(cli("select", "--db", db, "--method", method_id, "--time", 1, "--where",
                          "`sigma2 of gp-small` > 0 or `sigma2 of gp-small` <= 0", "--format", "json").out)
    assert len(none) == 4


def test_magic_and_ensemble_select_read_them(runs_db: tuple[Path, str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    db, method_id = runs_db
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyterlab_dsi")
    frame = ip.run_line_magic("dsi", f"select --db {db} --method {method_id} --time 1 --where '`error of gp-small` > 0.5'")
    with dsi.open(db) as ens:
        again = ens.select(method=method_id, time=1, where="`error of gp-small` > 0.5")
    assert list(frame.index) == list(again.index) and len(frame) == 2
    assert frame["error of gp-small"].tolist() == [1.0, 1.5]


def test_a_dataset_saved_with_such_a_filter_and_weights_verifies(runs_db: tuple[Path, str], cli: Cli) -> None:
    db, method_id = runs_db
    res = cli("select", "--db", db, "--method", method_id, "--time", 1, "--where", "`error of gp-small` >= 0.5",
              "--weights", "sigma2 of gp-small=2", "d_density=1", "--save", "where gp-small is off by half or more")
    assert res.code == 0, res.err
    dataset_id = res.last_line
    res = cli("verify", "--db", db)
    assert res.code == 0, res.out + res.err
    with Store(db, readonly=True) as store:
        assert verify(store) == []
        record = dsi.open(db).dataset(dataset_id).record
        assert record["size"] == 3 and record["weights"] == {"sigma2 of gp-small": 2.0, "d_density": 1.0}
        assert "sigma2 of gp-small" in number_columns(store, True)
    # A column that is no longer there (its run deleted) is what verify then says, in one line.
    with sqlite3.connect(db) as conn:
        run_id = conn.execute("SELECT id FROM jdsi_run WHERE name = 'gp-small'").fetchone()[0]
        conn.execute("INSERT INTO jdsi_tombstone VALUES (?, 'run', '2026-12-01T00:00:00Z', 'me')", (run_id,))
    conn.close()
    with Store(db, readonly=True) as store:
        [problem] = verify(store)
        assert problem["problems"][0].startswith("cannot recompute: ")
        assert "error of gp-small" not in problem["problems"][0].split("known names")[-1]
        with pytest.raises(FilterError, match="unknown name 'error of gp-small'"):
            select(store, method_id, 1, "`error of gp-small` > 0")


def test_the_bridge_selects_on_them(runs_db: tuple[Path, str]) -> None:
    db, method_id = runs_db
    state = check_state({"method": method_id, "t": 1, "where": "`error of gp-small` between 0.5 and 1.5",
                         "weights": {"sigma2 of gp-small": 10}})
    out = panel_variables(db, state)
    selection = out["selection"]
    hand = by_hand(db, "gp-small", "energy")
    assert sorted(selection.index) == sorted(hand.index[hand["error"].between(0.5, 1.5)])
    assert selection["d_feature"].tolist() == pytest.approx((selection["sigma2 of gp-small"] * 10).tolist())
    assert out["method"]["weights"] == {"sigma2 of gp-small": 10.0}


def test_d_feature_weighs_a_sigma2_column_and_is_missing_where_it_is(runs_db: tuple[Path, str]) -> None:
    db, method_id = runs_db
    with Store(db, readonly=True) as store:
        chosen = select(store, method_id, 0, "", {"sigma2 of gp-small": 1, "error of net: energy": -1})
        frame = pd.DataFrame(chosen.rows, columns=chosen.columns).set_index("sim_id")
        expected = frame["sigma2 of gp-small"] - frame["error of net: energy"]
        assert frame["d_feature"].tolist() == pytest.approx(expected.tolist(), nan_ok=True)
        assert frame["d_feature"].isna().sum() == 2  # s04, s05: gp-small predicted no variance there
        with pytest.raises(DatasetError, match="'sigma2 of nobody', not a number column"):
            save_dataset(store, members=["s00"], description="x", weights={"sigma2 of nobody": 1},
                         method_id=method_id, t=0)


def test_errors_against_a_per_step_metric_follow_each_rows_step(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    ids = [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")]
    # A per-step metric (as CloverLeaf's wall clock): 10 * step + sim index.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO jdsi_metric VALUES ('wall', 'number', 1, 's', 0)")
        conn.executemany("INSERT INTO jdsi_metric_value VALUES ('wall', ?, ?, ?)",
                         [(t, s, 10.0 * t + i) for t in range(3) for i, s in enumerate(ids)])
    conn.close()
    with dsi.open(db) as ens, ens.run(name="clock") as run:
        run.log_predictions(pd.DataFrame({"wall": [10.0 + i for i in range(len(ids))]}, index=ids))
    with Store(db, readonly=True) as store:
        chosen = select(store, method_id, None, "`error of clock` == 0")
        assert sorted(r[:2] for r in chosen.rows) == [(s, 1) for s in ids]  # right at step 1 only
        every = pd.DataFrame(select(store, method_id).rows, columns=select(store, method_id).columns)
        hand = 10.0 + every["sim_id"].map({s: i for i, s in enumerate(ids)}) - every["wall"]
        assert every["error of clock"].tolist() == pytest.approx(hand.tolist())
        for t in range(3):
            at = select(store, method_id, t)
            errors = {r[0]: r[at.columns.index("error of clock")] for r in at.rows}
            assert set(errors.values()) == {10.0 * (1 - t)}


def test_names_that_differ_by_case_or_quote_keep_their_own_values(mdb: tuple[Path, str], cli: Cli) -> None:
    """SQLite matches identifiers without regard to ASCII case: each column keeps its own values."""
    db, method_id = mdb
    ids = [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")]
    names = ["GP", "gp", 'it\'s "gp" `x`', "модель", "energy"]
    with dsi.open(db) as ens:
        energy = ens.select(method=method_id, time=0)["energy"]
        for k, name in enumerate(names):
            with ens.run(name=name) as run:
                run.log_predictions(pd.Series(energy[ids].to_numpy() + k, index=ids), target="energy")
    with Store(db, readonly=True) as store:
        for k, name in enumerate(names):
            column = f"error of {name}"
            chosen = select(store, method_id, 0, f"{_fmt_name(column)} == {k}")
            assert len(chosen.rows) == len(ids)
            assert {r[chosen.columns.index(column)] for r in chosen.rows} == {k}


def test_many_runs_stay_one_query(mdb: tuple[Path, str]) -> None:
    """More runs than SQLite's 64 tables in a join: the predictions are one pivot, not a join each."""
    db, method_id = mdb
    ids = [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")]
    with sqlite3.connect(db) as conn:
        for k in range(80):
            conn.execute("INSERT INTO jdsi_run (id, name, status, started_at, author, host) "
                         "VALUES (?, ?, 'finished', ?, 'me', 'h')", (f"run-{k:03d}", f"r{k}", f"2026-02-01T00:00:{k % 60:02d}"))
            conn.executemany("INSERT INTO jdsi_prediction VALUES (?, ?, 'energy', ?, ?)",
                             [(f"run-{k:03d}", s, float(k), 1.0) for s in ids])
    conn.close()
    with Store(db, readonly=True) as store:
        chosen = select(store, method_id, 0, "`sigma2 of r79` == 1 and `error of r3` < 0")
        assert len([c for c in chosen.columns if " of r" in c]) == 160
        frame = pd.DataFrame(chosen.rows, columns=chosen.columns)
        assert len(frame) == int((frame["energy"] > 3).sum()) > 0
        assert np.allclose(frame["error of r3"], 3 - frame["energy"])

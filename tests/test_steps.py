"""One step number everywhere (docs/data-model.md, "Steps and times"): the CLI, the magic, the
panel's kernel variables and the exports all speak of the same 0-based step, with its simulated
time beside it. The fixture's simulations record times 1, 2, 3 for steps 0, 1, 2, so an
off-by-one anywhere shows as a wrong pairing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from jupyterlab_dsi import bridge
from jupyterlab_dsi import datasets as ds
from jupyterlab_dsi.steps import simulated_time, simulated_times
from jupyterlab_dsi.store import Store

from conftest import STEPS

LAST = STEPS - 1


def test_the_store_reads_the_simulated_time_of_each_step(mdb: tuple[Path, str]) -> None:
    db, _ = mdb
    with Store(db, readonly=True) as store:
        assert simulated_times(store) == [1.0, 2.0, 3.0]
        assert [simulated_time(store, t) for t in (0, LAST, STEPS, None)] == [1.0, 3.0, None, None]


def test_the_last_step_is_accepted_and_one_past_it_says_steps_count_from_zero(mdb: tuple[Path, str], cli: Callable[..., Any]) -> None:
    db, method_id = mdb
    ok = cli("select", "--db", db, "--method", method_id, "--time", LAST, "--format", "json")
    assert ok.code == 0, ok.err
    assert {row["t"] for row in json.loads(ok.out)} == {LAST}
    past = cli("select", "--db", db, "--method", method_id, "--time", STEPS)
    assert past.code != 0
    assert f"--time {STEPS} is outside this method's steps 0..{LAST}" in past.err
    assert f"steps count from 0: step {LAST} is simulated time 3" in past.err


def test_cli_magic_variables_and_exports_name_the_same_step(mdb: tuple[Path, str], cli: Callable[..., Any]) -> None:
    db, method_id = mdb
    t = 1  # simulated time 2: neither the first nor the last step
    saved = cli("select", "--db", db, "--method", method_id, "--time", t, "--save", "step one", "--name", "one")
    assert saved.code == 0, saved.err
    dataset_id = saved.last_line
    shown = json.loads(cli("select", "--db", db, "--method", method_id, "--time", t, "--format", "json").out)

    # The panel's state at step t: dsi_method says t and its simulated time; dsi_selection has
    # the rows the CLI selects at --time t.
    values = bridge.panel_variables(db, bridge.check_state({"method": method_id, "t": t, "weights": None, "where": ""}))
    assert (values["method"]["t"], values["method"]["simulated_time"]) == (t, 2.0)
    assert values["selection"]["d_density"].tolist() == pytest.approx([r["d_density"] for r in shown], nan_ok=True)

    # The datasets variable and every export: the same step, the same simulated time.
    with Store(db, readonly=True) as store:
        assert values["datasets"].loc[dataset_id, "time"] == t
        exported = ds.export_json(store, dataset_id)
        assert (exported["time"], exported["simulated_time"]) == (t, 2.0)
        assert f"| step | {t} (simulated time 2) |" in ds.export_card(store, dataset_id)
        activity = next(iter(ds.export_prov(store, dataset_id)["activity"].values()))
        assert (activity["jdsi:time"], activity["jdsi:simulatedTime"]) == (t, 2.0)
    listed = json.loads(cli("datasets", "--db", db, "--format", "json").out)
    assert [row["time"] for row in listed] == [t]


def test_the_magic_takes_the_same_step(mdb: tuple[Path, str], cli: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    db, method_id = mdb
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyterlab_dsi")
    frame = shell.run_line_magic("dsi", f"select --db {db} --method {method_id} --time {LAST}")
    rows = json.loads(cli("select", "--db", db, "--method", method_id, "--time", LAST, "--format", "json").out)
    assert list(frame.index) == [r["sim_id"] for r in rows]
    capsys.readouterr()
    assert shell.run_line_magic("dsi", f"select --db {db} --method {method_id} --time {STEPS}") is None
    assert f"steps count from 0: step {LAST} is simulated time 3" in capsys.readouterr().err


def test_a_source_without_times_has_steps_without_simulated_times(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store, store.write() as conn:
        conn.execute("UPDATE jdsi_simulation SET times = '[]'")
    with Store(db, readonly=True) as store:
        assert simulated_time(store, 1) is None
    values = bridge.panel_variables(db, bridge.check_state({"method": method_id, "t": 1, "weights": None, "where": ""}))
    assert values["method"]["simulated_time"] is None

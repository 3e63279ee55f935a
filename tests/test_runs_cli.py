"""Training runs from a shell (issue 15 §2): `jupyter dsi runs` and `run start|log|end`, and
`%dsi runs`: the same records as the Python API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi import runs

Cli = Callable[..., Result]


@pytest.fixture
def db(mdb: tuple[Path, str], cli: Cli) -> tuple[Path, str]:
    """A private database with one saved dataset: (path, dataset id)."""
    path, method_id = mdb
    res = cli("select", "--db", path, "--method", method_id, "--time", 1, "--where", "energy < 5", "--save", "for runs")
    assert res.code == 0, res.err
    return path, res.last_line


def ok(cli: Cli, *argv: Any) -> Result:
    res = cli(*argv)
    assert res.code == 0, res.err
    return res


def fails(cli: Cli, *argv: Any) -> str:
    """The one error line of a command that must fail with status 2."""
    res = cli(*argv)
    assert res.code == 2 and res.out == "" and len(res.err_lines) == 1, (res.code, res.out, res.err)
    return res.err


def test_a_shell_run_from_start_to_end(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, dataset_id = db
    model = tmp_path / "model.bin"
    model.write_bytes(b"trained")
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id[:8], "--name", "fortran-mlp",
                "--description", "from a batch job").last_line
    assert query(path, "SELECT pid, status FROM jdsi_run WHERE id = ?", (run_id,)) == [(None, "running")]
    ok(cli, "run", "log", run_id[:8], "--db", path, "--param", "lr=0.001", "--param", "layers=4",
       "--param", "opt=adam", "--param", "note=a=b")
    for step in range(3):
        ok(cli, "run", "log", run_id, "--db", path, "--metric", f"loss={1 / (step + 1)}", "--metric", "acc=0.5",
           "--step", step, "--context", "val")
    ok(cli, "run", "log", run_id, "--db", path, "--artifact", model, "--kind", "model")
    res = ok(cli, "run", "end", run_id, "--db", path)
    assert res.last_line == f"run {run_id[:8]} (fortran-mlp) finished"

    [record] = json.loads(ok(cli, "runs", "--db", path, "--format", "json").out)
    assert list(record) == runs.RUN_FIELDS
    assert {k: record[k] for k in ("id", "name", "description", "dataset_id", "split_id", "status", "error")} == {
        "id": run_id, "name": "fortran-mlp", "description": "from a batch job", "dataset_id": dataset_id,
        "split_id": None, "status": "finished", "error": None}
    assert record["params"] == {"lr": 0.001, "layers": 4, "opt": "adam", "note": "a=b"}
    assert record["metrics"] == {"val/loss": pytest.approx(1 / 3), "val/acc": 0.5}
    assert record["artifacts"] == [{"path": str(model.resolve()), "kind": "model", "copied_to": None,
                                    "sha256": hashlib.sha256(b"trained").hexdigest(), "size_bytes": 7}]
    assert set(record["resources"]) == {"wall_s", "host"}  # no process of ours trained it: no CPU or memory
    assert record["started_at"] <= record["ended_at"]
    with dsi.open(path) as ens:  # the Python API reads the very same record
        assert json.loads(json.dumps(ens.get_run(run_id), default=str)) == record
    kinds = [k for (k,) in query(path, "SELECT kind FROM jdsi_event WHERE record_id = ? ORDER BY seq", (run_id,))]
    assert kinds == ["run.start"] + ["run.log"] * 5 + ["run.end"]


def test_each_log_refreshes_the_heartbeat_of_a_shell_run(db: tuple[Path, str], cli: Cli) -> None:
    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id).last_line
    old = "2020-01-01T00:00:00.000+00:00"
    with runs.Store(path) as store, store.write() as conn:
        conn.execute("UPDATE jdsi_run SET heartbeat_at = ? WHERE id = ?", (old, run_id))
    [listed] = json.loads(ok(cli, "runs", "--db", path, "--format", "json").out)
    assert listed["status"] == "interrupted"
    ok(cli, "run", "log", run_id, "--db", path)  # nothing to log: still a sign of life
    [listed] = json.loads(ok(cli, "runs", "--db", path, "--format", "json").out)
    assert listed["status"] == "running"


def test_runs_table_csv_and_dataset_filter(db: tuple[Path, str], cli: Cli, mdb: tuple[Path, str]) -> None:
    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id, "--name", "=cmd|x").last_line
    ok(cli, "run", "log", run_id, "--db", path, "--metric", "loss=0.25")
    ok(cli, "run", "end", run_id, "--db", path, "--status", "failed", "--error", "diverged")
    other = ok(cli, "run", "start", "--db", path, "--name", "no dataset").last_line
    table = ok(cli, "runs", "--db", path).out_lines
    assert table[0].split() == ["id", "name", "dataset_id", "split_id", "status", "started_at", "duration_s", "metrics"]
    assert table[-1] == "(2 rows)"
    assert run_id[:8] in table[2] and "failed" in table[2] and "loss=0.25" in table[2]
    assert other[:8] in table[1] and "running" in table[1]
    csv_lines = ok(cli, "runs", "--db", path, "--format", "csv").out_lines
    assert csv_lines[0] == ",".join(runs.RUN_FIELDS)
    assert "'=cmd|x" in csv_lines[2]  # a formula-looking name is neutralised for spreadsheets
    only = json.loads(ok(cli, "runs", "--db", path, "--dataset", dataset_id[:8], "--format", "json").out)
    assert [r["id"] for r in only] == [run_id]


def test_bad_shell_input_is_one_line(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id).last_line
    before = query(path, "SELECT count(*) FROM jdsi_run_metric")[0][0], query(path, "SELECT count(*) FROM jdsi_event")[0][0]
    assert "--metric loss: the value must be a number, not 'low'" in fails(
        cli, "run", "log", run_id, "--db", path, "--metric", "loss=low")
    assert "--param takes NAME=VALUE, not 'lr'" in fails(cli, "run", "log", run_id, "--db", path, "--param", "lr")
    assert "artifact" in fails(cli, "run", "log", run_id, "--db", path, "--artifact", tmp_path / "missing.pt")
    # A missing artifact is found before the params and metrics given with it are written.
    assert "does not exist" in fails(cli, "run", "log", run_id, "--db", path, "--param", "a=1", "--metric", "m=2",
                                     "--artifact", tmp_path / "missing.pt")
    assert query(path, "SELECT count(*) FROM jdsi_run_param")[0][0] == 0
    assert "--kind applies to --artifact PATH" in fails(cli, "run", "log", run_id, "--db", path, "--kind", "model")
    assert "step must be a whole number >= 0, not -2" in fails(
        cli, "run", "log", run_id, "--db", path, "--metric", "loss=1", "--step", "-2")
    assert "an error goes with status failed" in fails(cli, "run", "end", run_id, "--db", path, "--error", "x")
    assert "not a run of this database" in fails(cli, "run", "log", "zzzzzzzz", "--db", path)
    assert "dataset 'ffffffff' is not a dataset of this database" in fails(
        cli, "run", "start", "--db", path, "--dataset", "ffffffff")
    after = query(path, "SELECT count(*) FROM jdsi_run_metric")[0][0], query(path, "SELECT count(*) FROM jdsi_event")[0][0]
    assert after == before
    ok(cli, "run", "end", run_id, "--db", path)
    assert "is finished: ended runs are immutable" in fails(cli, "run", "log", run_id, "--db", path, "--metric", "a=1")
    assert "is finished: ended runs are immutable" in fails(cli, "run", "end", run_id, "--db", path)
    assert query(path, "SELECT count(*) FROM jdsi_run")[0][0] == 2 - 1  # the refused start wrote nothing


def test_help_says_how_a_shell_run_is_shown_interrupted(cli: Cli) -> None:
    res = cli("run", "start", "--help")
    assert res.code == 0
    text = " ".join(res.out.split())
    assert "records no pid" in text and "heartbeat for 10 minutes" in text


def test_magic_runs_returns_the_api_frame(db: tuple[Path, str], cli: Cli) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id, "--name", "m").last_line
    ok(cli, "run", "log", run_id, "--db", path, "--metric", "loss=0.5")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyterlab_dsi")
    frame = shell.run_line_magic("dsi", f"runs --db {path}")
    assert frame.index.tolist() == [run_id] and frame.loc[run_id, "metrics"] == {"loss": 0.5}
    with dsi.open(path) as ens:
        assert list(frame.columns) == [c for c in ens.runs().columns if c != "id"]
    assert shell.run_line_magic("dsi", f"runs --db {path} --dataset {dataset_id[:8]}").index.tolist() == [run_id]
    assert shell.run_line_magic("dsi", f"runs --db {path} --dataset ffffffff") is None  # one line on stderr


def test_a_nan_metric_is_one_warning_line_and_stored_missing(db: tuple[Path, str], cli: Cli) -> None:
    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id).last_line
    res = ok(cli, "run", "log", run_id, "--db", path, "--metric", "loss=nan", "--step", "3")
    assert res.err_lines == ["warning: metric 'loss' at step 3 is nan: stored as missing (NULL)"]
    assert query(path, "SELECT name, step, value FROM jdsi_run_metric WHERE run_id = ?", (run_id,)) == [("loss", 3, None)]


def test_only_plain_decimals_are_read_as_numbers(db: tuple[Path, str], cli: Cli) -> None:
    path, dataset_id = db
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id).last_line
    given = {"note": "nan", "x": "inf", "big": "1e999", "count": "1_000", "padded": " 5", "hex": "0x10", "arabic": "٣",
             "layers": "4", "lr": "-1e-3", "frac": ".5", "whole": "2.", "empty": ""}
    ok(cli, "run", "log", run_id, "--db", path, *[a for k, v in given.items() for a in ("--param", f"{k}={v}")])
    ok(cli, "run", "end", run_id, "--db", path)
    record = json.loads(ok(cli, "runs", "--db", path, "--format", "json").out)[0]
    assert record["params"] == {"note": "nan", "x": "inf", "big": "1e999", "count": "1_000", "padded": " 5", "hex": "0x10",
                                "arabic": "٣", "layers": 4, "lr": -0.001, "frac": 0.5, "whole": 2.0, "empty": ""}
    run_id = ok(cli, "run", "start", "--db", path, "--dataset", dataset_id).last_line
    for text in ("1_000", " 5", "0x10"):
        assert f"--metric loss: the value must be a number, not {text!r}" in fails(
            cli, "run", "log", run_id, "--db", path, "--metric", f"loss={text}")
    ok(cli, "run", "log", run_id, "--db", path, "--metric", "loss=2e-3", "--metric", "acc=1")
    assert query(path, "SELECT name, value FROM jdsi_run_metric WHERE run_id = ? ORDER BY name", (run_id,)) == [
        ("acc", 1.0), ("loss", 0.002)]

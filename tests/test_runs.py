"""Training runs through the Python API (issue 15 §1): what a run records, how it ends, what it
refuses, and that it survives a killed process and a second writer."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi import runs
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.store import Store

Cli = Callable[..., Result]
RUN_TABLES = ("jdsi_run", "jdsi_run_param", "jdsi_run_metric", "jdsi_prediction", "jdsi_artifact")


@pytest.fixture
def db(mdb: tuple[Path, str], cli: Cli) -> Iterator[tuple[Path, str, str]]:
    """A private database with a method and two saved datasets: (path, dataset id, other id)."""
    path, method_id = mdb
    ids = []
    for where in ("energy < 5", "energy >= 3"):
        res = cli("select", "--db", path, "--method", method_id, "--time", 1, "--where", where, "--save", f"runs {where}")
        assert res.code == 0, res.err
        ids.append(res.last_line)
    yield path, ids[0], ids[1]


def counts(path: Path) -> dict[str, int]:
    return {t: query(path, f"SELECT count(*) FROM {t}")[0][0] for t in RUN_TABLES}


def events(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    rows = query(path, "SELECT kind, record_id, payload FROM jdsi_event WHERE kind LIKE 'run.%' ORDER BY seq")
    return [(k, r, json.loads(p)) for k, r, p in rows]


# -- the contract ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:split .* got no members")  # 4 members in 3 parts
def test_the_issue_example_records_everything(db: tuple[Path, str, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path, dataset_id, _ = db
    monkeypatch.chdir(tmp_path)  # model.pt lands here; not a git repository
    Path("model.pt").write_bytes(b"weights" * 1000)
    ens = dsi.open(path)
    ds = ens.dataset(dataset_id[:8])
    split = ds.split(fractions=(0.8, 0.1, 0.1), seed=0, names=("train", "val", "test"), stratify=None)
    frame = pd.DataFrame({"energy": ds.members()["energy"] * 1.1, "sigma2": 0.25}, index=ds.members().index)
    with ens.run(dataset=ds, split=split, name="gan-v3", description="…") as run:
        run.log_params({"lr": 1e-3, "layers": 4})
        run.log_metrics({"val_mse": 0.12}, step=3, context="val")
        run.log_predictions(frame)
        run.log_artifact("model.pt", kind="model")
        assert run.status == "running"
    assert run.status == "finished"

    record = ens.get_run(run.id)
    assert {k: record[k] for k in ("name", "description", "dataset_id", "split_id", "status", "error")} == {
        "name": "gan-v3", "description": "…", "dataset_id": ds.id, "split_id": split.id, "status": "finished",
        "error": None}
    assert record["params"] == {"lr": 1e-3, "layers": 4}
    assert record["metrics"] == {"val/val_mse": 0.12}
    assert record["artifacts"] == [{
        "path": str(tmp_path / "model.pt"), "kind": "model",
        "sha256": hashlib.sha256(b"weights" * 1000).hexdigest(), "size_bytes": 7000, "copied_to": None}]
    assert record["started_at"] <= record["ended_at"] and record["duration_s"] >= 0
    resources = record["resources"]
    assert {"wall_s", "cpu_s", "peak_rss_mb", "host"} <= set(resources)
    assert resources["host"] == record["host"] and resources["peak_rss_mb"] > 0
    assert record["environment"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["environment"]["numpy"] == np.__version__ and record["environment"]["pandas"] == pd.__version__
    assert "git_commit" not in record["code"] and record["code"]["cwd"] == str(tmp_path)
    stored = query(path, "SELECT sim_id, target, value, sigma2 FROM jdsi_prediction ORDER BY sim_id")
    assert stored == [(s, "energy", pytest.approx(v * 1.1), 0.25) for s, v in ds.members()["energy"].items()]
    kinds = [k for k, r, _ in events(path) if r == run.id]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end" and set(kinds[1:-1]) == {"run.log"}
    assert all(p == {"dataset_id": ds.id} for _, r, p in events(path) if r == run.id)
    assert list(ens.runs().columns) == runs.RUN_FIELDS and ens.runs()["id"].tolist() == [run.id]
    ens.close()


def test_a_run_in_a_git_tree_records_its_commit_and_dirty_flag(db: tuple[Path, str, str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "-C", str(repo), "add", "train.py"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "train.ipynb"))
    with dsi.open(path) as ens, ens.run(name="clean") as clean:
        pass
    (repo / "train.py").write_text("print(2)\n")
    with dsi.open(path) as ens, ens.run(name="dirty") as dirty:
        pass
    with dsi.open(path) as ens:
        code = {name: ens.get_run(r.id)["code"] for name, r in (("clean", clean), ("dirty", dirty))}
    assert code["clean"]["git_commit"] == head == code["dirty"]["git_commit"]
    assert (code["clean"]["git_dirty"], code["dirty"]["git_dirty"]) == (False, True)
    assert code["clean"]["notebook"] == str(repo / "train.ipynb")


def test_a_run_needs_no_dataset_and_records_only_imported_libraries(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens:
        with ens.run() as run:
            pass
        record = ens.get_run(run.id[:6])
    assert (record["dataset_id"], record["split_id"], record["name"]) == (None, None, f"run-{run.id[:8]}")
    for module, label in runs.ENVIRONMENT_MODULES:
        assert (label in record["environment"]) == (module in sys.modules)


def test_metrics_keep_every_point_and_list_the_last_of_each(db: tuple[Path, str, str]) -> None:
    path, dataset_id, _ = db
    with dsi.open(path) as ens, ens.run(dataset=dataset_id) as run:
        for step in range(5):
            run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
            run.log_metrics({"loss": 2.0 / (step + 1)}, step=step, context="val")
        run.log_metric("loss", 0.05, step=4)  # the same step again: the later point is the last
        run.log_metrics({"epoch_time": 3})  # step 0 by default; ints are numbers
    with Store(path, readonly=True) as store:
        record = runs.get_run(store, run.id)
        points = runs.metric_points(store, run.id)
    assert record["metrics"] == {"acc": 0.4, "epoch_time": 3.0, "loss": 0.05, "val/loss": 0.4}
    assert len(points) == 17
    assert [p["step"] for p in points if p["name"] == "loss" and p["context"] == ""] == [0, 1, 2, 3, 4, 4]
    assert set(points[0]) == {"name", "context", "step", "value", "at"}


def test_a_metric_name_is_listed_under_one_key(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        run.log_metrics({"loss": 1.0}, context="val")
        run.log_metrics({"val/acc": 0.5})  # a TensorBoard name without a context is fine on its own
        with pytest.raises(DsiError, match=r"metric 'val/loss' in context '' would be listed as 'val/loss', as metric "
                                           r"'loss' in context 'val' of this run is: rename one"):
            run.log_metrics({"train_loss": 2.0, "val/loss": 2.0})  # refused whole
        with pytest.raises(DsiError, match=r"metric 'acc' in context 'val' would be listed as 'val/acc', as metric "
                                           r"'val/acc' in context '' of this run is"):
            run.log_metric("acc", 0.7, context="val")
        with pytest.raises(DsiError, match=r"metric 'b/loss' in context 'a' would be listed as 'a/b/loss'"):
            run.log_metrics({"loss": 1.0}, context="a/b")
            run.log_metrics({"b/loss": 1.0}, context="a")
        run.flush()
        shell = runs.open_run(path, run.id)  # `jupyter dsi run log` knows what the run logged
        try:
            with pytest.raises(DsiError, match=r"metric 'val/loss' in context '' would be listed as 'val/loss'"):
                shell.log_metrics({"val/loss": 3.0})
        finally:
            shell.detach()
        run.log_metrics({"loss": 0.5}, step=1, context="val")
    with dsi.open(path) as ens:
        record = ens.get_run(run.id)
    assert record["metrics"] == {"a/b/loss": 1.0, "val/acc": 0.5, "val/loss": 0.5}
    with Store(path, readonly=True) as store:
        assert len(runs.metric_points(store, run.id)) == 4


def test_points_are_batched_until_a_flush(db: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, dataset_id, _ = db
    monkeypatch.setattr(runs, "FLUSH_EVERY_S", 3600.0)
    monkeypatch.setattr(runs, "FLUSH_POINTS", 1000)
    with dsi.open(path) as ens, ens.run(dataset=dataset_id) as run:
        for step in range(999):
            run.log_metrics({"loss": 1.0}, step=step)
        assert counts(path)["jdsi_run_metric"] == 0  # buffered
        run.log_metrics({"loss": 1.0}, step=999)
        assert counts(path)["jdsi_run_metric"] == 1000  # the threshold wrote them, in one batch
        logs = [k for k, r, _ in events(path) if r == run.id and k == "run.log"]
        assert len(logs) == 1
        run.log_metrics({"loss": 1.0}, step=1000)
        run.flush()
        assert counts(path)["jdsi_run_metric"] == 1001


def test_a_silent_run_keeps_its_heartbeat_and_writes_what_waits(db: tuple[Path, str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    monkeypatch.setattr(runs, "FLUSH_EVERY_S", 3600.0)
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY_S", 0.05)
    with dsi.open(path) as ens, ens.run() as run:
        run.log_metrics({"loss": 1.0})  # buffered; the training then computes for a long while
        started = query(path, "SELECT heartbeat_at FROM jdsi_run")[0][0]
        deadline = time.monotonic() + 30
        while counts(path)["jdsi_run_metric"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counts(path)["jdsi_run_metric"] == 1
        assert query(path, "SELECT heartbeat_at FROM jdsi_run")[0][0] > started


def test_a_busy_file_is_retried_and_never_loses_points(db: tuple[Path, str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    from jupyterlab_dsi.store import StoreBusy

    monkeypatch.setattr(runs, "FLUSH_POINTS", 10)
    with dsi.open(path) as ens, ens.run() as run:
        real_write, busy = run._store.write, {"left": 0}

        def write() -> Any:  # another writer holding the lock past the busy timeout, `left` times
            if busy["left"]:
                busy["left"] -= 1
                raise StoreBusy("busy: another writer holds the file; nothing was written: retry")
            return real_write()

        monkeypatch.setattr(run._store, "write", write)
        busy["left"] = 1
        with pytest.warns(RuntimeWarning, match="the points are kept and written later"):
            for step in range(10):  # the 10th point's batch meets the busy file once: kept, training goes on
                run.log_metrics({"loss": 1.0}, step=step)
        assert counts(path)["jdsi_run_metric"] == 0
        busy["left"] = runs.BUSY_RETRIES - 1
        run.flush()  # retried until the file is free
        assert counts(path)["jdsi_run_metric"] == 10
        busy["left"] = runs.BUSY_RETRIES
        run.log_metrics({"loss": 2.0}, step=10)
        with pytest.raises(StoreBusy):
            run.flush()  # busy past every retry: said, and the point is still waiting
    assert counts(path)["jdsi_run_metric"] == 11  # written with the end


class OtherWriter:
    """Another process's writer (a real second SQLite connection) holding the file's write lock,
    as a postprocess, an ingest or a panel save does, until released or for at most HOLD_S."""

    HOLD_S = 5.0  # well under the 15 s busy timeout: a log call that waited for it returns after it

    def __init__(self, path: Path, order: list[str]) -> None:
        self.path, self.order = path, order
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(str(self.path), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.taken.set()
        self.release.wait(self.HOLD_S)
        self.order.append("released")  # before the lock goes: nobody can have written after it first
        conn.execute("ROLLBACK")
        conn.close()

    def __enter__(self) -> OtherWriter:
        self.thread.start()
        assert self.taken.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(30)


@pytest.mark.filterwarnings("ignore:run .* another writer holds")
def test_logging_never_waits_for_another_writer(db: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    monkeypatch.setattr(runs, "FLUSH_EVERY_S", 0.0)  # every log call finds a batch due
    order: list[str] = []
    with dsi.open(path) as ens, ens.run() as run:
        with OtherWriter(path, order):
            for step in range(5):
                run.log_metrics({"loss": float(step)}, step=step)
            order.append("logged")
        assert order == ["logged", "released"]  # the log calls did not wait for the other writer
        assert counts(path)["jdsi_run_metric"] == 0  # kept for a later batch
    with Store(path, readonly=True) as store:
        assert [p["value"] for p in runs.metric_points(store, run.id)] == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.filterwarnings("ignore:run .* another writer holds")
def test_logging_never_waits_for_the_heartbeat_meeting_another_writer(db: tuple[Path, str, str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    monkeypatch.setattr(runs, "FLUSH_EVERY_S", 3600.0)
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY_S", 0.02)
    order: list[str] = []
    with dsi.open(path) as ens, ens.run() as run:
        beating, write = threading.Event(), run._write

        def spy(*args: Any, **kwargs: Any) -> Any:  # the real write, noting that the heartbeat is in it
            if threading.current_thread() is run._heartbeat:
                beating.set()
            return write(*args, **kwargs)

        monkeypatch.setattr(run, "_write", spy)
        with OtherWriter(path, order):
            assert beating.wait(30)  # the heartbeat meets the busy file
            for step in range(5):
                run.log_metrics({"loss": float(step)}, step=step)
            order.append("logged")
        assert order == ["logged", "released"]
        run.flush()  # the full busy timeout: written now the file is free
        assert counts(path)["jdsi_run_metric"] == 5
        run.log_metrics({"loss": 5.0}, step=5)
    assert counts(path)["jdsi_run_metric"] == 6


# -- how a run ends ----------------------------------------------------------------------------


def test_an_exception_fails_the_run_and_is_reraised(db: tuple[Path, str, str]) -> None:
    path, dataset_id, _ = db
    with dsi.open(path) as ens:
        with pytest.raises(ZeroDivisionError), ens.run(dataset=dataset_id, name="bad") as run:
            run.log_metrics({"loss": 1.0}, step=0)
            1 / 0  # noqa: B018
        record = ens.get_run(run.id)
    assert run.status == "failed"
    assert (record["status"], record["error"]) == ("failed", "ZeroDivisionError: division by zero")
    assert record["metrics"] == {"loss": 1.0}  # what it logged before failing is kept


class Noted(Exception):
    pass


def leaving(exc: BaseException) -> Callable[[], None]:
    def raise_it() -> None:
        raise exc
    return raise_it


def noted() -> None:
    exc = Noted("the real reason")
    exc.add_note("a note added on the way up")
    raise exc


@pytest.mark.parametrize(("body", "raised", "status", "error"), [
    (leaving(ValueError("x" * 20_000)), ValueError, "failed", "ValueError: " + "x" * (10_000 - 13) + "…"),
    (noted, Noted, "failed", "Noted: the real reason"),
    (leaving(RuntimeError("first line\nsecond line\nthird")), RuntimeError, "failed", "RuntimeError: first line"),
    (leaving(KeyError()), KeyError, "failed", "KeyError"),
    (leaving(SystemExit(0)), SystemExit, "finished", None),
    (leaving(SystemExit(None)), SystemExit, "finished", None),
    (leaving(SystemExit(2)), SystemExit, "failed", "SystemExit: 2"),
    (leaving(KeyboardInterrupt()), KeyboardInterrupt, "failed", "KeyboardInterrupt"),
], ids=["too-long", "note", "multi-line", "no-message", "exit-0", "exit-none", "exit-2", "ctrl-c"])
def test_how_an_exception_ends_the_run(db: tuple[Path, str, str], body: Callable[[], None],
                                       raised: type[BaseException], status: str, error: str | None) -> None:
    path, _, _ = db
    with dsi.open(path) as ens:
        with pytest.raises(raised), ens.run() as run:
            run.log_metrics({"loss": 1.0})
            body()
        record = ens.get_run(run.id)
    assert (run.status, record["status"], record["error"]) == (status, status, error)
    assert len(record["error"] or "") <= runs.LIMITS["error"] and "\n" not in (record["error"] or "")
    assert record["metrics"] == {"loss": 1.0}
    assert not run._heartbeat.is_alive()  # the thread stopped, the file is released
    with pytest.raises(Exception, match="closed"):
        run._store.conn.execute("SELECT 1")


def test_a_run_that_cannot_end_still_stops_and_releases_the_file(db: tuple[Path, str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    with dsi.open(path) as ens:
        run = ens.run()

        def refuse(*_: Any, **__: Any) -> None:
            raise DsiError("the disk is full")

        monkeypatch.setattr(run, "_write", refuse)
        with pytest.warns(RuntimeWarning, match=r"could not be marked failed \(the disk is full\)"), \
                pytest.raises(ZeroDivisionError), run:
            1 / 0  # noqa: B018
        assert not run._heartbeat.is_alive()
        with pytest.raises(Exception, match="closed"):
            run._store.conn.execute("SELECT 1")
        assert ens.get_run(run.id)["status"] == "running"  # shown interrupted once this process is gone

        run = runs.open_run(path, ens.get_run(run.id)["id"])
        monkeypatch.setattr(run, "_write", refuse)
        with pytest.raises(DsiError, match="the disk is full"):
            run.detach()
        with pytest.raises(Exception, match="closed"):  # released all the same
            run._store.conn.execute("SELECT 1")


def test_a_run_ended_by_another_process_ends_here_too(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens:
        run = ens.run()
        run.log_metrics({"loss": 1.0})
        runs.open_run(path, run.id).end("failed", error="killed by the scheduler")
        with pytest.raises(DsiError, match=r"was ended elsewhere \(failed\): ended runs are immutable"):
            run.flush()
        assert run.status == "failed"
        assert not run._heartbeat.is_alive()
        with pytest.raises(Exception, match="closed"):
            run._store.conn.execute("SELECT 1")
        with pytest.raises(DsiError, match=r"has ended \(failed\)"):
            run.log_metrics({"loss": 2.0})
        run2 = ens.run()
        runs.open_run(path, run2.id).end()
        with pytest.warns(RuntimeWarning, match="could not be marked failed"), pytest.raises(ValueError), run2:
            raise ValueError("late")
        assert not run2._heartbeat.is_alive()
        assert ens.get_run(run2.id)["status"] == "finished"


def test_ended_runs_are_immutable(db: tuple[Path, str, str], tmp_path: Path) -> None:
    path, dataset_id, _ = db
    (tmp_path / "m.bin").write_bytes(b"x")
    with dsi.open(path) as ens:
        run = ens.run(dataset=dataset_id)
        run.log_params({"lr": 0.1})
        run.end()
        before = counts(path), query(path, "SELECT * FROM jdsi_run")
        for attempt in (lambda: run.log_metrics({"loss": 1.0}), lambda: run.log_params({"lr": 0.2}),
                        lambda: run.log_artifact(tmp_path / "m.bin"), run.flush, run.end,
                        lambda: run.end("failed", error="late"),
                        lambda: run.log_predictions(pd.DataFrame({"energy": [1.0]}, index=["s00"]))):
            with pytest.raises(DsiError, match=r"has ended \(finished\): ended runs are immutable"):
                attempt()
        with pytest.raises(DsiError, match="is finished: ended runs are immutable"):
            runs.open_run(path, run.id)
    assert (counts(path), query(path, "SELECT * FROM jdsi_run")) == before


def test_end_checks_its_arguments(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        with pytest.raises(DsiError, match="a run ends as finished or failed, not 'done'"):
            run.end("done")
        with pytest.raises(DsiError, match="an error goes with status failed"):
            run.end("finished", error="oops")
        run.end("failed", error="diverged at step 3")
    with Store(path, readonly=True) as store:
        assert (runs.get_run(store, run.id)["status"], runs.get_run(store, run.id)["error"]) == ("failed", "diverged at step 3")


KILLED = textwrap.dedent("""
    import os, signal, sys
    import jupyterlab_dsi as dsi
    ens = dsi.open(sys.argv[1])
    run = ens.run(dataset=sys.argv[2], name="killed")
    run.log_params({"lr": 0.5})
    for step in range(3000):
        run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    run.flush()
    print(run.id, flush=True)
    run.log_metrics({"lost": 1.0})  # buffered, never written: the price of batching
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_process_leaves_an_interrupted_run_with_its_points(db: tuple[Path, str, str]) -> None:
    path, dataset_id, _ = db
    done = subprocess.run([sys.executable, "-c", KILLED, str(path), dataset_id], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_id = done.stdout.strip()
    assert query(path, "SELECT status FROM jdsi_run WHERE id = ?", (run_id,)) == [("running",)]
    with Store(path, readonly=True) as store:
        record = runs.get_run(store, run_id)
        points = runs.metric_points(store, run_id)
    assert record["status"] == "interrupted" and record["ended_at"] is None
    assert record["params"] == {"lr": 0.5} and record["metrics"] == {"loss": 1.0 / 3000}
    assert len(points) == 3000
    # The file's stored status says running: another process may still end it from the shell.
    started, beat = query(path, "SELECT started_at, heartbeat_at FROM jdsi_run WHERE id = ?", (run_id,))[0]
    time.sleep(0.5)  # ended a while after the kill: the wall time stops at the last sign of life
    run = runs.open_run(path, run_id)
    run.end("failed", error="killed by the scheduler")
    assert query(path, "SELECT status, error FROM jdsi_run WHERE id = ?", (run_id,)) == [("failed", "killed by the scheduler")]
    lived = (datetime.fromisoformat(beat) - datetime.fromisoformat(started)).total_seconds()
    resources = json.loads(query(path, "SELECT resources FROM jdsi_run WHERE id = ?", (run_id,))[0][0])
    assert resources == {"wall_s": pytest.approx(lived, abs=0.002), "measured": "until its last heartbeat"}


FORGOTTEN = textwrap.dedent("""
    import sys
    import jupyterlab_dsi as dsi
    run = dsi.open(sys.argv[1]).run(name="never ended")
    for step in range(10):
        run.log_metrics({"loss": 1.0}, step=step)
    print(run.id)
""")


def test_a_script_that_never_ends_its_run_keeps_its_points(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    done = subprocess.run([sys.executable, "-c", FORGOTTEN, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with Store(path, readonly=True) as store:
        record = runs.get_run(store, done.stdout.strip())
        assert len(runs.metric_points(store, record["id"])) == 10  # written at exit
    assert record["status"] == "interrupted"  # nobody said how it ended


def test_status_is_derived_from_pid_and_heartbeat() -> None:
    here = runs.host()
    fresh, old = runs.now(), "2020-01-01T00:00:00.000+00:00"
    row = {"status": "running", "pid": os.getpid(), "host": here, "heartbeat_at": fresh, "started_at": old}
    assert runs.derived_status(row) == "running"
    assert runs.derived_status({**row, "heartbeat_at": old}) == "interrupted"  # alive, silent 10 min: pid reused
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert runs.derived_status({**row, "pid": int(dead.stdout)}) == "interrupted"
    assert runs.derived_status({**row, "pid": int(dead.stdout), "host": "elsewhere"}) == "running"
    assert runs.derived_status({**row, "pid": None}) == "running"  # a shell's run: its heartbeat tells
    assert runs.derived_status({**row, "pid": None, "heartbeat_at": old}) == "interrupted"
    assert runs.derived_status({**row, "status": "finished", "heartbeat_at": old}) == "finished"


# -- values ------------------------------------------------------------------------------------


def test_nan_and_infinity_are_stored_as_missing_with_a_warning(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        with pytest.warns(RuntimeWarning, match=r"metric 'loss' at step 2 is nan: stored as missing \(NULL\)"):
            run.log_metrics({"loss": float("nan")}, step=2)
        with pytest.warns(RuntimeWarning, match="is inf"):
            run.log_metrics({"grad": np.float32("inf")}, step=2)
    assert query(path, "SELECT name, value FROM jdsi_run_metric ORDER BY name") == [("grad", None), ("loss", None)]


@pytest.mark.parametrize(("call", "message"), [
    (lambda r: r.log_metrics({"loss": True}), "must be a number, not the boolean True"),
    (lambda r: r.log_metrics({"loss": "0.1"}), "must be a number, not str '0.1'"),
    (lambda r: r.log_metrics({"loss": [1.0]}), "must be a number, not list"),
    (lambda r: r.log_metrics({"loss": 1.0}, step=-1), "step must be a whole number >= 0, not -1"),
    (lambda r: r.log_metrics({"loss": 1.0}, step=1.5), "step must be a whole number >= 0, not 1.5"),
    (lambda r: r.log_metrics({"loss": 1.0}, context=3), "the context must be text, not int"),
    (lambda r: r.log_metrics({"": 1.0}), "the metric name must not be empty"),
    (lambda r: r.log_metrics([("loss", 1.0)]), "log_metrics takes a dict of name -> number, not list"),
    (lambda r: r.log_params({"f": print}), "param 'f' must be JSON data"),
    (lambda r: r.log_params({"x": float("nan")}), "param 'x' must be JSON data"),
    (lambda r: r.log_params(["lr"]), "log_params takes a dict of name -> value, not list"),
])
def test_bad_values_are_one_line_and_write_nothing(db: tuple[Path, str, str], call: Callable[[Any], None],
                                                   message: str) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        run.log_metrics({"ok": 1.0, "also": 2.0})  # buffered: a later bad call must not lose them
        with pytest.raises(DsiError) as err:
            call(run)
        assert message in str(err.value) and "\n" not in str(err.value)
    assert counts(path)["jdsi_run_metric"] == 2 and counts(path)["jdsi_run_param"] == 0


def test_a_param_is_set_once(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        run.log_params({"lr": np.float64(0.1), "layers": np.int64(4), "arch": {"kind": "mlp", "widths": [8, 8]}})
        run.log_params({"lr": 0.1})  # the same value again is harmless
        with pytest.raises(DsiError, match=r"param 'lr' was logged as 0.1; a param is set once per run"):
            run.log_params({"lr": 0.2})
        record = ens.get_run(run.id)
    assert record["params"] == {"lr": 0.1, "layers": 4, "arch": {"kind": "mlp", "widths": [8, 8]}}


def test_a_param_is_set_once_across_processes(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens, ens.run() as run:
        shell = runs.open_run(path, run.id)  # `jupyter dsi run log` beside the live run
        try:
            run.log_metrics({"loss": 1.0})
            run.log_params({"lr": 0.1})
            with pytest.raises(DsiError, match=r"param 'lr' was logged as 0.1; a param is set once per run"):
                shell.log_params({"layers": 4, "lr": 0.2})  # refused whole: layers is not written either
            shell.log_params({"lr": 0.1, "seed": 7})  # the same value is harmless
            with pytest.raises(DsiError, match=r"param 'seed' was logged as 7; a param is set once per run"):
                run.log_params({"seed": 8})
            with pytest.raises(DsiError, match=r"param 'lr' was logged as 0.1"):
                shell.log_params({"lr": 0.3})  # what the file says is now known here too
            shell.log_metrics({"acc": 0.5})
            shell.flush()  # the refused params never come back to refuse a later batch
        finally:
            shell.detach()
        run.log_metrics({"loss": 2.0}, step=1)
    with dsi.open(path) as ens:
        record = ens.get_run(run.id)
    assert record["params"] == {"lr": 0.1, "seed": 7}
    assert record["metrics"] == {"acc": 0.5, "loss": 2.0}


# -- predictions -------------------------------------------------------------------------------


def test_unknown_sim_ids_are_named_and_nothing_is_written(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    frame = pd.DataFrame({"energy": [1.0, 2.0, 3.0]}, index=["s00", "nope1", "nope2"])
    with dsi.open(path) as ens, ens.run() as run:
        with pytest.raises(DsiError, match=r"2 sim ids of the predictions frame are not in this ensemble "
                                           r"\(nope1, nope2\); index the frame by sim_id; nothing was written"):
            run.log_predictions(frame)
    assert counts(path)["jdsi_prediction"] == 0


def test_predictions_name_their_targets(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    ids = ["s00", "s01", "s02"]
    with dsi.open(path) as ens, ens.run() as run:
        single = pd.DataFrame({"prediction": [1.0, 2.0, 3.0], "sigma2": [0.1, 0.2, 0.3]}, index=ids)
        with pytest.raises(DsiError, match="needs target=NAME"):
            run.log_predictions(single)
        assert run.log_predictions(single, target="yield") == 3
        several = pd.DataFrame({"energy": [1.0, 2.0, 3.0], "cs": [0.1, 0.2, np.nan],
                                "sigma2_cs": [0.01, 0.02, 0.03]}, index=ids)
        with pytest.warns(RuntimeWarning, match="1 values of prediction 'cs' are NaN, infinite or missing"):
            assert run.log_predictions(several) == 6
        run.log_predictions(pd.Series([9.0], index=["s00"]), target="yield")  # replaces the row while running
        for bad, target, message in [
            (several.assign(sigma2=1.0), None, "sigma2 is ambiguous with 2 targets: name it sigma2_<target>"),
            (several.assign(sigma2_x=1.0), None, "column 'sigma2_x' names no prediction column"),
            (single.assign(sigma2=-1.0), "yield", "sigma2 is a variance and cannot be negative"),
            (several.assign(label="a"), None, "column 'label' of the predictions frame is not numeric"),
            (pd.DataFrame({"sigma2": [1.0]}, index=["s00"]), None, "has no prediction column"),
            (pd.DataFrame({"energy": [1.0, 2.0]}, index=["s00", "s00"]), None, "repeats sim ids (s00)"),
            ([1.0, 2.0], None, "log_predictions takes a DataFrame indexed by sim_id, not list"),
            (several, "energy", "target= names the column `prediction` only"),
        ]:
            with pytest.raises(DsiError) as err:
                run.log_predictions(bad, target=target)
            assert message in str(err.value)
    stored = query(path, "SELECT target, sim_id, value, sigma2 FROM jdsi_prediction ORDER BY target, sim_id")
    assert stored == [("cs", "s00", 0.1, 0.01), ("cs", "s01", 0.2, 0.02), ("cs", "s02", None, 0.03),
                      ("energy", "s00", 1.0, None), ("energy", "s01", 2.0, None), ("energy", "s02", 3.0, None),
                      ("yield", "s00", 9.0, None), ("yield", "s01", 2.0, 0.2), ("yield", "s02", 3.0, 0.3)]
    with Store(path, readonly=True) as store:
        assert runs.predictions(store, run.id)[0] == {"sim_id": "s00", "target": "cs", "value": 0.1, "sigma2": 0.01}


# -- artifacts ---------------------------------------------------------------------------------


def test_artifacts_are_hashed_and_copied_only_when_asked(db: tuple[Path, str, str], tmp_path: Path) -> None:
    path, _, _ = db
    model = tmp_path / "model.pt"
    model.write_bytes(os.urandom(3 << 20))  # several read chunks
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    keep = tmp_path / "keep"
    keep.mkdir()
    with dsi.open(path) as ens, ens.run() as run:
        plain = run.log_artifact(model, kind="model")
        copied = run.log_artifact(str(model), copy_to=keep)
        assert run.log_artifact(model, copy_to=keep)["copied_to"] == str(keep / "model.pt")  # same bytes: reused
        with pytest.raises(DsiError, match=r"artifact '.*missing.pt' does not exist"):
            run.log_artifact(tmp_path / "missing.pt")
        with pytest.raises(DsiError, match="is not a file: log each file"):
            run.log_artifact(keep)
        with pytest.raises(DsiError, match="is not a folder: create it first"):
            run.log_artifact(model, copy_to=tmp_path / "nowhere")
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "model.pt").write_bytes(b"another model")
        with pytest.raises(DsiError, match="exists with other content; it is never overwritten"):
            run.log_artifact(model, copy_to=tmp_path / "other")
    assert (plain["sha256"], plain["size_bytes"], plain["copied_to"]) == (digest, 3 << 20, None)
    assert copied["copied_to"] == str(keep / "model.pt") and (keep / "model.pt").read_bytes() == model.read_bytes()
    assert sorted(p.name for p in keep.iterdir()) == ["model.pt"]  # no temporary file left
    assert (tmp_path / "other" / "model.pt").read_bytes() == b"another model"
    assert query(path, "SELECT kind, sha256 FROM jdsi_artifact ORDER BY created_at") == [
        ("model", digest), ("artifact", digest), ("artifact", digest)]


# -- datasets and splits -------------------------------------------------------------------------


def test_bad_datasets_and_splits_are_refused_before_anything_is_written(db: tuple[Path, str, str], cli: Cli) -> None:
    path, dataset_id, other_id = db
    with dsi.open(path) as ens:
        other_split = ens.dataset(other_id).split(fractions=(0.5, 0.5), names=("train", "test"), seed=1)
        assert cli("datasets", "--db", path).code == 0
        cases = [
            ({"dataset": "ffffffff"}, "dataset 'ffffffff' is not a dataset of this database"),
            ({"split": "ffffffff"}, "split 'ffffffff' is not a split of this database"),
            ({"dataset": dataset_id, "split": other_split}, f"is a split of dataset {other_id[:8]}, not of {dataset_id[:8]}"),
            ({"dataset": 3}, "dataset must be a dataset object or its id"),
        ]
        for kwargs, message in cases:
            with pytest.raises(DsiError) as err:
                ens.run(**kwargs)
            assert message in str(err.value)
        with ens.run(split=other_split) as run:  # a split alone names its dataset
            pass
        assert ens.get_run(run.id)["dataset_id"] == other_id
        with Store(path) as store:
            from jupyterlab_dsi.datasets import delete_dataset

            delete_dataset(store, dataset_id)
            delete_dataset(store, other_id)
        with pytest.raises(DsiError, match="is deleted: train on a live one, or restore it first"):
            ens.run(dataset=dataset_id)
        with pytest.raises(DsiError, match="is deleted .or its dataset is.: choose a live split"):
            ens.run(split=other_split.id)
        assert ens.runs(other_id)["id"].tolist() == [run.id]  # a deleted dataset's runs stay readable
    assert counts(path)["jdsi_run"] == 1


# -- runs recorded elsewhere ---------------------------------------------------------------------


def test_import_run_is_one_transaction_and_idempotent(db: tuple[Path, str, str]) -> None:
    path, dataset_id, _ = db
    fields: dict[str, Any] = dict(
        run_id="mlflow-1", name="imported", dataset_id=dataset_id, split_id=None, status="finished",
        started_at="2026-01-01T00:00:00+00:00", ended_at="2026-01-01T00:10:00+00:00", params={"lr": "0.1"},
        metrics=[("loss", 0.5, 0, "", 1.7e9), ("loss", 0.25, 1, "", 1.7e9 + 1), ("acc", 0.9, 1, "val", 1.7e9 + 1)],
        resources={"wall_s": 600.0}, code={"mlflow_run_id": "abc"}, environment={})
    with Store(path) as store:
        assert runs.import_run(store, **fields) == "mlflow-1"
        assert runs.import_run(store, **{**fields, "name": "changed"}) == "mlflow-1"
        record = runs.get_run(store, "mlflow-1")
        with pytest.raises(DsiError, match="dataset 'nope' is not in this database; nothing was imported"):
            runs.import_run(store, **{**fields, "run_id": "mlflow-2", "dataset_id": "nope"})
        with pytest.raises(DsiError, match="an imported run is finished or failed, not 'running'"):
            runs.import_run(store, **{**fields, "run_id": "mlflow-3", "status": "running"})
    assert record["name"] == "imported" and record["status"] == "finished" and record["duration_s"] == 600.0
    assert record["metrics"] == {"loss": 0.25, "val/acc": 0.9} and record["params"] == {"lr": "0.1"}
    assert counts(path)["jdsi_run"] == 1 and counts(path)["jdsi_run_metric"] == 3


# -- listing -----------------------------------------------------------------------------------


def test_runs_are_found_by_prefix_and_listed_per_dataset(db: tuple[Path, str, str]) -> None:
    path, dataset_id, other_id = db
    with dsi.open(path) as ens:
        with pytest.raises(DsiError, match="no runs yet; start one with ens.run"):
            ens.get_run("abcd")
        with ens.run(dataset=dataset_id, name="a") as a:
            pass
        with ens.run(dataset=other_id, name="b") as b:
            pass
        assert ens.runs()["name"].tolist() == ["b", "a"]  # newest first
        assert ens.runs(dataset_id)["name"].tolist() == ["a"]
        assert ens.runs(ens.dataset(other_id))["name"].tolist() == ["b"]
        assert ens.get_run(a.id[:8])["id"] == a.id
        with pytest.raises(DsiError, match="run prefix 'abc' is too short"):
            ens.get_run("abc")
        with pytest.raises(DsiError, match=r"run 'zzzzzzzz' is not a run of this database; latest runs: "):
            ens.get_run("zzzzzzzz")
        assert b.id != a.id


# -- two writers -------------------------------------------------------------------------------

SAVER = textwrap.dedent("""
    import sys
    from jupyterlab_dsi.datasets import save_selection
    for i in range(int(sys.argv[3])):
        record, _ = save_selection(sys.argv[1], method=sys.argv[2], time=0, where=f"energy < {2 + i % 5}",
                                   weights=None, description=f"concurrent {i}", name="", sample=None,
                                   size=None, seed=None, origin="cli")
        print(record["id"], flush=True)
""")


def test_a_run_prefix_is_exact_and_an_ambiguous_one_lists_the_runs(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    with dsi.open(path) as ens:
        made = []
        for _ in range(7):
            with ens.run() as run:
                made.append(run.id)
    with sqlite3.connect(path) as conn:  # ids that share a prefix, as two runs' ids may
        for n, old in enumerate(made):
            conn.execute("UPDATE jdsi_run SET id = ? WHERE id = ?", (f"abcd{n:04d}" + old[8:], old))
    conn.close()
    with Store(path, readonly=True) as store:
        first = f"abcd0000{made[0][8:]}"
        assert runs.get_run(store, "abcd0000")["id"] == first
        with pytest.raises(runs.RunError, match=r"run prefix 'abcd' is ambiguous: it starts 7 ids \(.*abcd.*; "
                                                r"give more characters") as err:
            runs.get_run(store, "abcd")
        assert str(err.value).count("abcd000") == 5 and "and 2 more" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(runs.RunError, match="is not a run of this database"):
            runs.get_run(store, first.upper())  # an id is compared exactly, case too



@pytest.mark.filterwarnings("ignore:run .* another writer holds")  # a batch that met a save: written later
def test_a_second_writer_saving_datasets_loses_nothing(mdb: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, method_id = mdb
    monkeypatch.setattr(runs, "FLUSH_POINTS", 500)  # many transactions, to meet the other writer often
    logged = 0
    with dsi.open(path) as ens, ens.run(name="beside a writer") as run:
        # The run has written a batch before the other writer starts (on a loaded machine the
        # saver could otherwise finish before the run's first batch, and nothing would interleave).
        run.log_metrics({"loss": 1.0, "acc": 0.5}, step=logged)
        logged += 1
        run.flush()
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path), method_id, "20"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        while saver.poll() is None or logged < 20_000:
            run.log_metrics({"loss": 1.0, "acc": 0.5}, step=logged)
            logged += 1
    out, err = saver.communicate(timeout=120)
    assert saver.returncode == 0, err
    saved = out.split()
    assert len(saved) == 20
    assert query(path, "SELECT count(*) FROM jdsi_run_metric WHERE run_id = ?", (run.id,))[0][0] == 2 * logged
    assert {r[0] for r in query(path, "SELECT id FROM jdsi_dataset")} >= set(saved)
    assert query(path, "SELECT status FROM jdsi_run") == [("finished",)]
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    # The writers took turns: dataset saves fall between the run's batches in the event log.
    kinds = [k for (k,) in query(path, "SELECT kind FROM jdsi_event WHERE kind IN ('run.log', 'dataset.created') ORDER BY seq")]
    first_log, last_log = kinds.index("run.log"), len(kinds) - 1 - kinds[::-1].index("run.log")
    assert "dataset.created" in kinds[first_log:last_log]


def test_without_pynvml_or_codecarbon_their_fields_are_absent(db: tuple[Path, str, str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, _, _ = db
    from jupyterlab_dsi import resources

    real = resources._optional
    monkeypatch.setattr(resources, "_optional", lambda name: None if name in ("pynvml", "codecarbon") else real(name))
    with dsi.open(path) as ens, ens.run() as run:
        pass
    with Store(path, readonly=True) as store:
        measured = runs.get_run(store, run.id)["resources"]
    assert set(measured) == {"wall_s", "cpu_s", "peak_rss_mb", "host"}


class FakeNvml:
    """NVML as pynvml exposes it, for three boards: the mapping to resources["gpus"] is ours to test
    (no GPU here; the real library is an optional extra)."""

    def __init__(self) -> None:
        self.names = [b"NVIDIA H100", b"NVIDIA H100", b"NVIDIA A100"]
        self.used = [2 << 30, 1 << 30, 3 << 30]
        self.energy_mj = [1_000, 2_000, 3_000]

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: return len(self.names)
    def nvmlDeviceGetHandleByIndex(self, i: int) -> int: return i
    def nvmlDeviceGetName(self, h: int) -> bytes: return self.names[h]
    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int: return self.energy_mj[h]
    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any: return type("Info", (), {"used": 40 << 30})()

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[Any]:
        return [type("Proc", (), {"pid": os.getpid(), "usedGpuMemory": self.used[h]})()]


class FakeTracker:
    options: dict[str, Any] = {}

    def __init__(self, **options: Any) -> None:
        FakeTracker.options = options
        self.final_emissions_data = None

    def start(self) -> None: ...

    def stop(self) -> float:
        self.final_emissions_data = type("Data", (), {"energy_consumed": 0.01})()
        return 0.002


@pytest.mark.parametrize(("visible", "expected"), [
    (None, [{"name": "NVIDIA H100", "count": 2, "peak_memory_mb": 3072.0, "energy_j": 10.0},
            {"name": "NVIDIA A100", "count": 1, "peak_memory_mb": 3072.0, "energy_j": 5.0}]),
    ("1", [{"name": "NVIDIA H100", "count": 1, "peak_memory_mb": 1024.0, "energy_j": 5.0}]),
])
def test_gpus_and_energy_when_their_libraries_are_there(db: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch,
                                                        visible: str | None, expected: list[dict[str, Any]]) -> None:
    path, _, _ = db
    from jupyterlab_dsi import resources

    nvml = FakeNvml()
    codecarbon = type("codecarbon", (), {"OfflineEmissionsTracker": FakeTracker})
    monkeypatch.setattr(resources, "_optional", lambda name: {"pynvml": nvml, "codecarbon": codecarbon}[name])
    monkeypatch.setenv("DSI_COUNTRY_ISO_CODE", "FRA")
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    with dsi.open(path) as ens, ens.run() as run:
        nvml.energy_mj = [e + 5_000 for e in nvml.energy_mj]  # 5 J per board while training
    with Store(path, readonly=True) as store:
        measured = runs.get_run(store, run.id)["resources"]
    assert measured["gpus"] == expected
    assert (measured["energy_kwh"], measured["emissions_kg"]) == (0.01, 0.002)
    assert FakeTracker.options == {"save_to_file": False, "log_level": "error", "country_iso_code": "FRA"}

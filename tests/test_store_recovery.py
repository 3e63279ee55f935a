"""Nothing acknowledged is ever lost: a writer killed mid-commit, a file replaced under a job,
and migrations raced by many processes.

The crash is real: a `jupyter dsi select --save` process under a file-size limit (RLIMIT_FSIZE at
the file's current size, SIGXFSZ at its default) dies after the header's new page count is on
disk but before the file grows. Every entry point must then roll the journal back and read every
acknowledged save, where they used to refuse the file as "damaged ... truncated".
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, as_schema_1, build_ensemble, query

from jupyterlab_dsi.compute import postprocess
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.store import SCHEMA_VERSION, Store, StoreError, StoreReplaced

ROOT = Path(__file__).resolve().parents[1]
# The CLI's own entry point, with SIGXFSZ back at its default: Python ignores it at startup,
# which would turn the kill into an ordinary write error.
KILLABLE = (
    "import signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); "
    "from jupyterlab_dsi.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _cli(*argv: Any, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    """`jupyter dsi ARGV` in a new process, optionally under a file-size limit of ``fsize`` bytes."""

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-c", KILLABLE, *map(str, argv)],
        capture_output=True, text=True, preexec_fn=limit, cwd=ROOT, timeout=120,
    )


def _header_pages(db: Path) -> int:
    """Bytes the header says the file holds (page size x page count)."""
    header = db.read_bytes()[:100]
    size = int.from_bytes(header[16:18], "big")
    return (65536 if size == 1 else size) * int.from_bytes(header[28:32], "big")


@pytest.fixture(scope="module")
def crashed_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """A database with three acknowledged saves and a fourth killed mid-commit: (db, the three
    acknowledged dataset ids, the method id). Never opened: tests take a copy (``crashed``)."""
    tmp_path = tmp_path_factory.mktemp("crashed")
    ens = build_ensemble(tmp_path / "ens")
    db = tmp_path / "db.sqlite"
    ingest(db, ens.root)
    method = postprocess(db, ground_truth="s00", norm="L2")
    saved = []
    for i in range(3):
        res = _cli("select", "--db", db, "--method", method, "--time", "0", "--where", "d_density < 100",
                   "--save", f"acknowledged {i}")
        assert res.returncode == 0, res.stderr
        saved.append(res.stdout.splitlines()[-1].strip())
    # A description large enough that the save must grow the file past its current size.
    res = _cli("select", "--db", db, "--method", method, "--time", "0", "--where", "d_density < 100",
               "--save", "killed " + "x" * 40_000, fsize=db.stat().st_size)
    assert res.returncode == -signal.SIGXFSZ, (res.returncode, res.stderr)
    journal = Path(f"{db}-journal")
    # The state that used to be refused as "truncated": a header counting pages never written,
    # beside the hot journal that restores the file.
    assert journal.stat().st_size > 0
    assert _header_pages(db) > db.stat().st_size
    return db, saved, method


def _copy(db: Path, target: Path) -> Path:
    """The crashed file and its journal under a new name (a journal belongs to its file by name)."""
    shutil.copyfile(db, target)
    shutil.copyfile(f"{db}-journal", f"{target}-journal")
    return target


@pytest.fixture
def crashed(crashed_once: tuple[Path, list[str], str], tmp_path: Path) -> tuple[Path, list[str], str]:
    """A copy of ``crashed_once`` (file and hot journal) for one test to recover."""
    db, saved, method = crashed_once
    return _copy(db, tmp_path / "crashed.sqlite"), saved, method


def _recovered(db: Path, saved: list[str]) -> None:
    assert not Path(f"{db}-journal").exists(), "the journal was not rolled back"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    rows = query(db, "SELECT id, description FROM jdsi_dataset ORDER BY created_at")
    assert [r[0] for r in rows] == saved
    assert all(not r[1].startswith("killed") for r in rows)


def test_the_store_rolls_a_hot_journal_back(crashed: tuple[Path, list[str], str]) -> None:
    db, saved, _ = crashed
    for readonly, name in ((True, "reader.sqlite"), (False, "writer.sqlite")):
        copy = _copy(db, db.with_name(name))
        with Store(copy, readonly=readonly) as store:
            assert store.counts()["datasets"] == 3
        _recovered(copy, saved)


def test_the_cli_rolls_a_hot_journal_back(crashed: tuple[Path, list[str], str]) -> None:
    db, saved, method = crashed
    listed = _cli("datasets", "--db", db, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(d["id"] for d in json.loads(listed.stdout)) == sorted(saved)
    _recovered(db, saved)
    # And the file takes the next save as if nothing had happened.
    res = _cli("select", "--db", db, "--method", method, "--time", "0", "--where", "d_density < 100",
               "--save", "after the crash")
    assert res.returncode == 0, res.stderr
    assert query(db, "SELECT count(*) FROM jdsi_dataset") == [(4,)]


def test_the_magic_rolls_a_hot_journal_back(crashed: tuple[Path, list[str], str]) -> None:
    from jupyterlab_dsi.magic import run

    db, saved, _ = crashed
    frame = run(f"datasets --db {db}")
    assert sorted(frame.index if frame.index.name == "id" else frame["id"]) == sorted(saved)
    _recovered(db, saved)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_root(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A real Jupyter server over ``tmp_path/root``: (base URL, root, token)."""
    root = tmp_path / "root"
    root.mkdir()
    token = uuid.uuid4().hex
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.open_browser=False", f"--IdentityProvider.token={token}",
         "--ServerApp.allow_root=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("jupyter server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/jupyterlab-dsi", root, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_server_rolls_a_hot_journal_back(
    crashed: tuple[Path, list[str], str], server_root: tuple[str, Path, str]
) -> None:
    db, saved, _ = crashed
    base, root, token = server_root
    copy = _copy(db, root / "crashed.sqlite")
    request = urllib.request.Request(f"{base}/db?path=crashed.sqlite")
    request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        snapshot = response.read()
    # The bytes the panel gets hold every acknowledged save.
    conn = sqlite3.connect(":memory:")
    conn.deserialize(snapshot)
    assert sorted(r[0] for r in conn.execute("SELECT id FROM jdsi_dataset")) == sorted(saved)
    conn.close()
    _recovered(copy, saved)


def test_a_reader_that_cannot_write_keeps_the_journal_and_says_how(
    crashed: tuple[Path, list[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyterlab_dsi import store as store_mod

    db, _, _ = crashed
    before = db.read_bytes(), Path(f"{db}-journal").read_bytes()
    # As if the file were someone else's: root ignores file modes, so pretend through os.access.
    monkeypatch.setattr(store_mod, "_writable", lambda path: False)
    with pytest.raises(StoreError, match="stopped mid-transaction.*where it is writable.*keep the journal"):
        Store(db, readonly=True)
    assert (db.read_bytes(), Path(f"{db}-journal").read_bytes()) == before


# -- a file replaced under a job -------------------------------------------------------------


@pytest.fixture
def ingested_db(tmp_path: Path) -> Path:
    ens = build_ensemble(tmp_path / "ens")
    db = tmp_path / "db.sqlite"
    ingest(db, ens.root)
    return db


def test_a_job_fails_when_its_file_is_replaced(ingested_db: Path, tmp_path: Path) -> None:
    db = ingested_db
    rebuilt = tmp_path / "rebuilt.sqlite"
    shutil.copyfile(db, rebuilt)
    replaced = []

    def progress(done: int, total: int) -> None:
        if done == 1:  # mid-job, as a rebuild's `mv` would
            os.replace(rebuilt, db)
            replaced.append(os.stat(db).st_ino)

    with pytest.raises(StoreReplaced, match="replaced, moved or deleted while it was open.*run the job again"):
        postprocess(db, ground_truth="s00", norm="L2", progress=progress)
    assert replaced
    assert query(db, "SELECT count(*) FROM jdsi_method") == [(0,)]


def test_a_server_job_on_a_replaced_file_fails_and_never_says_done(ingested_db: Path, tmp_path: Path) -> None:
    from jupyterlab_dsi.jobs import UNFINISHED, Jobs

    db = ingested_db
    rebuilt = tmp_path / "rebuilt.sqlite"
    shutil.copyfile(db, rebuilt)

    def work(progress: Any, cancel: Any) -> str:
        def swap(done: int, total: int) -> None:
            if done == 1:
                os.replace(rebuilt, db)
            progress(done, total)

        return postprocess(db, ground_truth="s00", norm="L2", progress=swap, cancel=cancel)

    jobs = Jobs(workers=1)
    job = jobs.start("postprocess", str(db), work)
    deadline = time.monotonic() + 60
    while job.state in UNFINISHED:
        assert time.monotonic() < deadline, f"the job is still {job.state}"
        time.sleep(0.02)
    assert (job.state, job.result) == ("failed", None)
    assert "was replaced, moved or deleted while it was open" in job.message
    assert query(db, "SELECT count(*) FROM jdsi_method") == [(0,)]


@pytest.mark.parametrize("how", ["replaced", "deleted"])
def test_a_write_never_commits_into_a_file_no_longer_at_its_path(ingested_db: Path, tmp_path: Path, how: str) -> None:
    """The file is swapped after the transaction has begun writing (SQLite's own check looks only
    when the journal opens): the commit must still refuse."""
    db = ingested_db
    rebuilt = tmp_path / "rebuilt.sqlite"
    shutil.copyfile(db, rebuilt)
    with Store(db) as store:
        with pytest.raises(StoreReplaced):
            with store.write() as conn:
                Store.log_event(conn, "lost", "r1")
                if how == "replaced":
                    os.replace(rebuilt, db)
                else:
                    db.unlink()
    if how == "replaced":
        assert query(db, "SELECT count(*) FROM jdsi_event WHERE kind = 'lost'") == [(0,)]
    else:
        assert not db.exists()


def test_the_cli_reports_a_replaced_file_in_one_line(ingested_db: Path, tmp_path: Path, cli: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyterlab_dsi import compute

    db = ingested_db
    rebuilt = tmp_path / "rebuilt.sqlite"
    shutil.copyfile(db, rebuilt)
    real = compute._write

    def swap_then_write(*args: Any, **kwargs: Any) -> str:
        os.replace(rebuilt, db)
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "_write", swap_then_write)
    res: Result = cli("postprocess", "--db", db, "--ground-truth", "s00", "--norm", "L2")
    assert res.code == 2
    errors = [line for line in res.err_lines if "error:" in line]
    assert len(errors) == 1 and "was replaced, moved or deleted" in errors[0], res.err
    assert "damaged" not in res.err and "Traceback" not in res.err
    assert res.out.strip() == ""  # no method id: nothing claims done
    assert query(db, "SELECT count(*) FROM jdsi_method") == [(0,)]


# -- migrations raced by many processes -------------------------------------------------------


def _open_once(db: str, readonly: bool, go: Any, results: Any) -> None:
    go.wait(60)
    results.put(("ready", os.getpid()))
    try:
        with Store(db, readonly=readonly) as store:
            results.put(("ok", store.counts()["simulations"]))
    except BaseException as exc:  # reported to the test, which names the failures
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def test_concurrent_opens_during_a_migration_all_succeed(ingested_db: Path) -> None:
    db = ingested_db
    as_schema_1(db)
    assert query(db, "PRAGMA user_version") == [(1,)]
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_open_once, args=(str(db), i % 2 == 0, go, results)) for i in range(100)]
    for p in procs:
        p.start()
    # A writer holds the lock while they all start opening: each finds schema 1 and waits for the
    # lock to migrate, so every one but the first must see, under the lock, that it is done.
    holder = sqlite3.connect(db, isolation_level=None)
    outcomes: list[tuple[str, Any]] = []
    try:
        holder.execute("BEGIN IMMEDIATE")
        go.set()
        ready = 0
        while ready < len(procs):
            message = results.get(timeout=120)
            if message[0] == "ready":
                ready += 1
            else:
                outcomes.append(message)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    outcomes += [results.get(timeout=120) for _ in range(len(procs) - len(outcomes))]
    for p in procs:
        p.join(timeout=60)
    failures = [o for o in outcomes if o[0] != "ok"]
    assert failures == [], f"{len(failures)} of 100 opens failed, e.g. {failures[:3]}"
    assert {o[1] for o in outcomes} == {6}
    assert query(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(6,)]
    assert query(db, "SELECT count(*) FROM jdsi_metric") == [(0,)]

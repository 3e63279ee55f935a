"""Errors are named for what they are: a full disk, a read-only file or folder, a lock held too
long, a malformed request and SQLite's variable limit each get their own line, and "damaged"
only when SQLite's integrity check says so. A rollback error never hides its cause."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, build_ensemble, query, sha256

from jupyterlab_dsi import store as store_mod
from jupyterlab_dsi.compute import postprocess
from jupyterlab_dsi.datasets import DatasetError, save_dataset
from jupyterlab_dsi.ingest import IngestError, ingest
from jupyterlab_dsi.store import (
    MAX_VARIABLES,
    Store,
    StoreBusy,
    StoreDamaged,
    StoreError,
    explain,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def method_db(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A small database with one method."""
    folder = tmp_path / "data"
    folder.mkdir()
    try:
        ens = build_ensemble(folder / "ens")
        db = folder / "db.sqlite"
        ingest(db, ens.root)
        yield db, postprocess(db, ground_truth="s00", norm="L2")
    finally:
        for path in [folder, *folder.rglob("*")]:  # undo the chmods of a test before removing
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


# Root writes through any file mode: a save meant to meet a read-only file runs without the
# capabilities that let it (setpriv is part of util-linux).
WITHOUT_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                    "--inh-caps=-dac_override,-dac_read_search,-fowner"]


def _save(db: Path, method: str, description: str, *, fsize: int | None = None,
          as_user: bool = False) -> subprocess.CompletedProcess[str]:
    """`jupyter dsi select --save` in a new process, under a file-size limit or, with
    ``as_user``, without root's power to write read-only files."""

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    prefix = WITHOUT_OVERRIDE if as_user and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "jupyterlab_dsi.cli", "select", "--db", str(db), "--method", method,
         "--time", "0", "--where", "d_density < 100", "--save", description],
        capture_output=True, text=True, preexec_fn=limit, cwd=ROOT, timeout=120,
    )


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in res.stderr, res.stderr
    return lines[0]


# -- a full disk -------------------------------------------------------------------------------


def test_a_full_disk_is_named_and_loses_nothing(method_db: tuple[Path, str]) -> None:
    """SIGXFSZ stays ignored (Python's default): the write fails with EFBIG, as on a full disk."""
    db, method = method_db
    assert _save(db, method, "fits").returncode == 0
    before = query(db, "SELECT id FROM jdsi_dataset")
    line = _one_error_line(_save(db, method, "x" * 40_000, fsize=db.stat().st_size))
    assert "no space left to write" in line and "ulimit -f" in line and "retry" in line, line
    # The old message named the failed ROLLBACK instead, and sent the user to a backup.
    assert "damaged" not in line and "rollback" not in line, line
    assert query(db, "SELECT id FROM jdsi_dataset") == before
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert not Path(f"{db}-journal").exists()


# -- read-only file or folder ------------------------------------------------------------------


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_file_or_folder_is_named(method_db: tuple[Path, str], what: str) -> None:
    db, method = method_db
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root, which writes read-only files, and setpriv is missing to drop that power")
    if what == "file":
        db.chmod(0o444)
    else:
        db.parent.chmod(0o555)
    before = sha256(db)
    line = _one_error_line(_save(db, method, "cannot be written", as_user=True))
    if what == "file":
        assert "the file is read-only here" in line and "chmod u+w" in line, line
    else:
        assert f"its folder {db.parent} is read-only here" in line and "journal" in line, line
    assert "damaged" not in line, line
    assert sha256(db) == before


def test_a_write_through_a_read_only_connection_is_named(method_db: tuple[Path, str]) -> None:
    db, _ = method_db
    with Store(db, readonly=True) as store:
        with pytest.raises(sqlite3.OperationalError) as info:
            store.conn.execute("INSERT INTO jdsi_event (at, kind, record_id, payload) VALUES ('a', 'b', 'c', '{}')")
    error = explain(db, info.value)
    assert isinstance(error, store_mod.StoreReadOnly) and "opened read-only" in str(error)


# -- a lock held longer than the timeout -------------------------------------------------------


@pytest.fixture
def held(method_db: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """Another connection holds the write lock; the Store waits 0.3 s instead of 15."""
    db, method = method_db
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_MS", 300)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield db, method
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_lock_held_too_long_says_busy(held: tuple[Path, str], cli: Callable[..., Result]) -> None:
    db, method = held
    res = cli("select", "--db", db, "--method", method, "--time", "0", "--where", "d_density < 100",
              "--save", "waits")
    assert res.code == 2
    line = res.err.strip()
    assert line.startswith(f"jupyter dsi select: error: busy: another writer holds {db}"), line
    assert "retry" in line and "damaged" not in line and "\n" not in line


def test_busy_is_its_own_kind(held: tuple[Path, str]) -> None:
    db, _ = held
    with Store(db) as store:  # reading needs no write lock
        with pytest.raises(StoreBusy, match="busy: another writer holds"):
            with store.write():
                pass


# -- a malformed request -----------------------------------------------------------------------


def test_a_malformed_id_names_the_field(method_db: tuple[Path, str]) -> None:
    db, method = method_db
    with Store(db) as store:
        for field, value in (("parent_id", ["x"]), ("method_id", {"id": "x"})):
            kwargs: dict[str, Any] = {"method_id": method, field: value}
            with pytest.raises(DatasetError, match=f"^{field} must be a dataset or method id .* not "):
                save_dataset(store, members=["s01"], description="typed", t=0, **kwargs)
    assert query(db, "SELECT count(*) FROM jdsi_dataset") == [(0,)]


def test_a_value_sqlite_cannot_bind_is_a_malformed_request(method_db: tuple[Path, str]) -> None:
    db, _ = method_db
    with Store(db) as store:
        with pytest.raises(sqlite3.ProgrammingError) as info:
            with store.write() as conn:
                conn.execute("SELECT id FROM jdsi_dataset WHERE id = ?", (["x"],))
    line = str(explain(db, info.value))
    assert "a malformed request" in line and "list" in line and "damaged" not in line, line


# -- SQLite's variable limit -------------------------------------------------------------------


def test_the_variable_limit_is_the_same_everywhere_and_named(method_db: tuple[Path, str]) -> None:
    """Some builds allow 250,000 values: the Store holds every connection to SQLite's default,
    so code that would fail elsewhere fails in the tests too."""
    db, _ = method_db
    with Store(db, readonly=True) as store:
        store.conn.execute(f"SELECT {','.join('?' * 100)}", [1] * 100).fetchone()
        with pytest.raises(sqlite3.OperationalError) as info:
            store.conn.execute(f"SELECT count(*) FROM jdsi_simulation WHERE sim_id IN ({','.join('?' * (MAX_VARIABLES + 1))})",
                               [str(i) for i in range(MAX_VARIABLES + 1)])
    line = str(explain(db, info.value))
    assert "bound more values than SQLite allows (32,766)" in line and "smaller batches" in line, line


def _runs_csv(path: Path, ids: range, prefix: str = "r") -> Path:
    with path.open("w") as fh:
        fh.write("run,x,loss\n")
        fh.writelines(f"{prefix}{i},{i * 0.5},{(i % 97) / 97}\n" for i in ids)
    return path


def test_an_ingest_of_40000_runs_is_batched(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    report = ingest(db, _runs_csv(tmp_path / "a.csv", range(40_000)), fmt="csv", id_column="run")
    assert report.simulations == 40_000
    # A second source checks its 40,000 ids against the 40,000 already there.
    report = ingest(db, _runs_csv(tmp_path / "b.csv", range(40_000), prefix="q"), fmt="csv", id_column="run")
    assert report.simulations == 40_000
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(80_000,)]
    # A clash in the last batch is found as surely as one in the first.
    clash = _runs_csv(tmp_path / "c.csv", range(40_001, 41_000), prefix="p")
    with clash.open("a") as fh:
        fh.write("q39999,1,0.5\n")
    with pytest.raises(IngestError, match="sim_id 'q39999' is already in"):
        ingest(db, clash, fmt="csv", id_column="run")
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(80_000,)]


# -- "damaged" only when the integrity check says so -------------------------------------------


def test_an_error_on_a_sound_file_never_says_damaged(method_db: tuple[Path, str]) -> None:
    db, _ = method_db
    exc = sqlite3.DatabaseError("database disk image is malformed")
    exc.sqlite_errorcode = store_mod.SQLITE_CORRUPT  # as SQLite raised it, on a file that checks ok
    error = explain(db, exc)
    assert not isinstance(error, StoreDamaged)
    assert "damaged" not in str(error) and "integrity check finds it sound" in str(error)


def _scribble(db: Path) -> None:
    """Overwrite every page after the schema's: the header and sqlite_master stay intact, so the
    file opens and fails only when a table is read."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    pages = len(data) // page
    assert pages >= 4
    for n in range(2, pages):
        data[n * page:(n + 1) * page] = bytes([0xA5]) * page
    db.write_bytes(bytes(data))


def test_a_damaged_file_is_named_with_what_the_check_found(method_db: tuple[Path, str],
                                                          cli: Callable[..., Result]) -> None:
    db, _ = method_db
    _scribble(db)
    res = cli("datasets", "--db", db)
    assert res.code == 2
    line = res.err.strip()
    assert "the database file is damaged" in line and "restore it from a copy" in line, line
    assert "\n" not in line


def test_the_magic_names_a_damaged_file(method_db: tuple[Path, str]) -> None:
    """%dsi reads past what opening checks: SQLite's raw error becomes the Store's line."""
    from jupyterlab_dsi.magic import run

    db, _ = method_db
    _scribble(db)
    with pytest.raises(StoreDamaged, match=f"^{db}: the database file is damaged"):
        run(f"datasets --db {db}")


# -- a rollback error never hides its cause ----------------------------------------------------


def test_a_failed_rollback_never_hides_the_cause(method_db: tuple[Path, str]) -> None:
    """SQLite ends the transaction itself after a full disk or an I/O error; the ROLLBACK that
    follows then fails ("no transaction is active") and used to replace the real error."""
    db, _ = method_db
    with Store(db) as store:
        with pytest.raises(ValueError, match="the cause"):
            with store.write() as conn:
                conn.execute("ROLLBACK")  # what SQLite does on SQLITE_FULL
                raise ValueError("the cause")
        with store.write():  # the connection is usable again
            pass


@pytest.mark.parametrize("kind", [StoreBusy, StoreDamaged, store_mod.StoreFull, store_mod.StoreReadOnly,
                                  store_mod.StoreReplaced, StoreError])
def test_every_store_error_reaches_the_user_as_one_line(
    kind: type[StoreError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Whatever kind the Store raises, `jupyter dsi` and `%dsi` say it in one line, with no
    traceback, and the CLI exits with the usage code."""
    from jupyterlab_dsi import cli, magic

    db = tmp_path / "ens.sqlite"

    def fail(*_: Any) -> Any:
        raise kind(f"{db}: what happened\nand why")

    monkeypatch.setattr(cli, "cmd_datasets", fail)
    assert cli.main(["datasets", "--db", str(db)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"jupyter dsi datasets: error: {db}: what happened\\nand why\n"
    monkeypatch.setattr(magic, "run", fail)
    assert magic.DsiMagics(shell=None).dsi(f"datasets --db {db}") is None
    assert capsys.readouterr().err == f"error: {db}: what happened and why\n"

"""The Store: file marking, refusal of files that are not ours, migrations, transactions."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import pytest
from conftest import sha256

from jupyterlab_dsi import store as store_mod
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Store,
    StoreError,
    check_ours,
    inspect_file,
    new_id,
)


def pragma(db: Path, name: str):
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite"
    Store.create(path).close()
    return path


# -- create / open ---------------------------------------------------------------------------


def test_create_marks_the_file(db: Path) -> None:
    assert pragma(db, "application_id") == APPLICATION_ID == 0x4A445349
    assert pragma(db, "user_version") == SCHEMA_VERSION >= 1
    assert pragma(db, "journal_mode") == "delete"
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert listing(db.parent) == ["db.sqlite"]  # no .partial, no -journal
    assert check_ours(db) == SCHEMA_VERSION
    assert inspect_file(db) == (APPLICATION_ID, SCHEMA_VERSION)


def test_create_makes_the_schema_tables(db: Path) -> None:
    with Store(db) as s:
        tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    ours = {t for t in tables if t != "sqlite_sequence"}
    assert all(t.startswith("jdsi_") for t in ours)
    assert {
        "jdsi_source", "jdsi_parameter", "jdsi_simulation", "jdsi_param_value", "jdsi_ground_truth",
        "jdsi_method", "jdsi_distance", "jdsi_dataset", "jdsi_dataset_member", "jdsi_tombstone",
        "jdsi_event",
    } <= ours


def test_create_returns_an_open_store(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "new.sqlite")
    try:
        assert s.counts() == {"simulations": 0, "time_steps": 0, "parameters": 0, "methods": 0, "datasets": 0}
    finally:
        s.close()


def test_create_refuses_an_existing_file(db: Path) -> None:
    before = sha256(db)
    with pytest.raises(StoreError, match="already exists"):
        Store.create(db)
    assert sha256(db) == before
    assert listing(db.parent) == ["db.sqlite"]


def test_create_needs_the_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such folder"):
        Store.create(tmp_path / "missing" / "db.sqlite")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("inside_write", [True, False])
def test_create_never_leaves_a_partial_file(tmp_path: Path, inside_write: bool) -> None:
    target = tmp_path / "db.sqlite"

    def fill(s: Store) -> None:
        if inside_write:
            with s.write() as conn:
                Store.log_event(conn, "test", new_id())
                raise RuntimeError("boom in fill")
        Store.log_event(s.conn, "test", new_id())  # autocommitted to the temporary file
        raise RuntimeError("boom in fill")

    with pytest.raises(RuntimeError, match="boom in fill"):
        Store.create(target, fill)
    assert listing(tmp_path) == []  # no target, no .partial, no -journal


def test_create_keyboard_interrupt_leaves_nothing(tmp_path: Path) -> None:
    def fill(s: Store) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Store.create(tmp_path / "db.sqlite", fill)
    assert listing(tmp_path) == []


def test_create_runs_fill_before_the_file_appears(tmp_path: Path) -> None:
    target = tmp_path / "db.sqlite"
    seen = []

    def fill(s: Store) -> None:
        seen.append(target.exists())
        with s.write() as conn:
            Store.log_event(conn, "filled", "r1")

    with Store.create(target, fill) as s:
        assert [r["kind"] for r in s.conn.execute("SELECT kind FROM jdsi_event")] == ["filled"]
    assert seen == [False]


def test_open_missing_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.sqlite"
    for readonly in (False, True):
        with pytest.raises(StoreError, match="no such database"):
            Store(path, readonly=readonly)
    assert listing(tmp_path) == []


def test_open_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


# -- files that are not ours -----------------------------------------------------------------


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _text(path: Path) -> None:
    path.write_text("sim_id,path\ns1,a.npz\n")


def _short_sqlite_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)


def _other_app(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE simulation (id TEXT PRIMARY KEY, cs REAL)")
    conn.execute("INSERT INTO simulation VALUES ('a', 0.1)")
    conn.commit()
    conn.close()


def _other_app_id(path: Path) -> None:
    _other_app(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()


def _wal_other(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def _wal_ours(path: Path) -> None:
    Store.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def _newer(path: Path) -> None:
    Store.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


REFUSED = {
    "empty": (_empty, "empty"),
    "random bytes": (_random, "not an SQLite database"),
    "a CSV": (_text, "not an SQLite database"),
    "truncated header": (_short_sqlite_header, "not an SQLite database"),
    "another app's SQLite": (_other_app, "not a jupyterlab-dsi database"),
    "another app's application_id": (_other_app_id, "0x4d2"),
    "WAL mode, not ours": (_wal_other, "WAL"),
    "WAL mode, ours": (_wal_ours, "WAL"),
    "newer schema": (_newer, "newer"),
}


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("readonly", [False, True])
def test_refuses_files_that_are_not_ours(tmp_path: Path, case: str, readonly: bool) -> None:
    make, fragment = REFUSED[case]
    path = tmp_path / "file.sqlite"
    make(path)
    files = listing(tmp_path)
    before = sha256(path)
    with pytest.raises(StoreError) as info:
        Store(path, readonly=readonly)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, DsiError)
    assert sha256(path) == before  # bytes identical
    assert listing(tmp_path) == files  # no -journal, -wal or -shm appeared
    # Creating over it is refused too.
    with pytest.raises(StoreError, match="already exists"):
        Store.create(path)
    assert sha256(path) == before


def test_refusal_explains_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    _newer(path)
    with pytest.raises(StoreError, match=rf"schema {SCHEMA_VERSION + 1}.*up to {SCHEMA_VERSION}"):
        Store(path)


# -- migrations ------------------------------------------------------------------------------


def _old(tmp_path: Path) -> Path:
    """A file of the current schema, to be read as 'old' once SCHEMA_VERSION is raised."""
    path = tmp_path / "old.sqlite"
    Store.create(path).close()
    return path


def test_migration_applies_once_and_bumps_user_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    calls = []

    def add_column(conn: sqlite3.Connection) -> None:
        calls.append(conn.execute("PRAGMA user_version").fetchone()[0])
        assert conn.in_transaction  # inside the one transaction
        conn.execute("ALTER TABLE jdsi_dataset ADD COLUMN license TEXT")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {SCHEMA_VERSION: add_column})

    with Store(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        cols = {r["name"] for r in s.conn.execute("PRAGMA table_info(jdsi_dataset)")}
        assert "license" in cols
    assert calls == [SCHEMA_VERSION]
    assert pragma(path, "user_version") == SCHEMA_VERSION + 1
    assert pragma(path, "application_id") == APPLICATION_ID

    with Store(path) as s:  # already migrated: the step does not run again
        pass
    with Store(path, readonly=True):
        pass
    assert calls == [SCHEMA_VERSION]
    assert listing(tmp_path) == ["old.sqlite"]


def test_migration_chain_runs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    order = []

    def step(n: int):
        def run(conn: sqlite3.Connection) -> None:
            order.append(n)
            conn.execute(f"CREATE TABLE jdsi_m{n} (x)")

        return run

    v = SCHEMA_VERSION
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", v + 2)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {v + 1: step(v + 1), v: step(v)})
    Store(path).close()
    assert order == [v, v + 1]
    assert pragma(path, "user_version") == v + 2


def test_failing_migration_leaves_the_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    before = sha256(path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE jdsi_dataset ADD COLUMN license TEXT")
        conn.execute("CREATE TABLE jdsi_new (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {SCHEMA_VERSION: half_then_fail})
    with pytest.raises(RuntimeError, match="migration bug"):
        Store(path)
    assert sha256(path) == before
    assert listing(tmp_path) == ["old.sqlite"]  # no -journal left
    assert pragma(path, "user_version") == SCHEMA_VERSION


def test_second_step_failing_rolls_back_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    before = sha256(path)
    v = SCHEMA_VERSION

    def ok(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE jdsi_ok (x)")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", v + 2)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {v: ok})  # no step from v + 1
    with pytest.raises(StoreError, match="no migration known"):
        Store(path)
    assert sha256(path) == before
    assert listing(tmp_path) == ["old.sqlite"]


def test_readonly_refuses_an_old_file_it_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    before = sha256(path)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {SCHEMA_VERSION: lambda conn: None})
    # A read-only file system (root ignores file modes, so the check is what is stubbed).
    monkeypatch.setattr(store_mod.os, "access", lambda *_: False)
    with pytest.raises(StoreError, match="older than .* read-only here"):
        Store(path, readonly=True)
    assert sha256(path) == before


def test_a_reader_upgrades_an_old_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old(tmp_path)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {SCHEMA_VERSION: lambda conn: conn.execute("CREATE TABLE jdsi_new (x)")})
    with Store(path, readonly=True) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert store.conn.execute("SELECT count(*) FROM jdsi_new").fetchone()[0] == 0


# -- transactions and the event log ----------------------------------------------------------


def test_write_commits(db: Path) -> None:
    with Store(db) as s:
        with s.write() as conn:
            Store.log_event(conn, "a", "r1", {"b": 2, "a": 1})
        assert not s.conn.in_transaction
    rows = sqlite3.connect(db).execute("SELECT seq, kind, record_id, payload, at FROM jdsi_event").fetchall()
    assert len(rows) == 1
    seq, kind, record_id, payload, at = rows[0]
    assert (kind, record_id) == ("a", "r1")
    assert payload == '{"a": 1, "b": 2}'  # sorted keys: the same event, the same text
    assert at.endswith("+00:00")  # UTC
    assert listing(db.parent) == ["db.sqlite"]


def test_write_rolls_back_on_exception(db: Path) -> None:
    with Store(db) as s:
        with s.write() as conn:
            Store.log_event(conn, "kept", "r0")
    before = sha256(db)
    with Store(db) as s:
        with pytest.raises(ValueError, match="inside"):
            with s.write() as conn:
                Store.log_event(conn, "lost", "r1")
                conn.execute(
                    "INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) "
                    "VALUES ('x', 'k', 'p', 'h', 0, 'now')"
                )
                raise ValueError("inside")
        assert not s.conn.in_transaction
        assert [r[0] for r in s.conn.execute("SELECT kind FROM jdsi_event")] == ["kept"]
        assert s.conn.execute("SELECT count(*) FROM jdsi_source").fetchone()[0] == 0
    assert sha256(db) == before
    assert listing(db.parent) == ["db.sqlite"]


def test_write_rolls_back_on_sql_error(db: Path) -> None:
    before = sha256(db)
    with Store(db) as s:
        with pytest.raises(sqlite3.IntegrityError):
            with s.write() as conn:
                Store.log_event(conn, "lost", "r1")
                # jdsi_simulation.source_id must reference a source (foreign keys are on).
                conn.execute("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES ('s', 'nope')")
        with s.write() as conn:  # the connection is usable again
            pass
    assert sha256(db) == before


def test_event_log_is_append_only_sequence(db: Path) -> None:
    with Store(db) as s:
        for i in range(3):
            with s.write() as conn:
                Store.log_event(conn, "k", f"r{i}")
        seqs = [r[0] for r in s.conn.execute("SELECT seq FROM jdsi_event ORDER BY seq")]
        payloads = [json.loads(r[0]) for r in s.conn.execute("SELECT payload FROM jdsi_event")]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert payloads == [{}, {}, {}]


def test_readonly_store_cannot_write(db: Path) -> None:
    before = sha256(db)
    with Store(db, readonly=True) as s:
        with pytest.raises(StoreError, match="read-only"):
            with s.write():
                pass
        with pytest.raises(sqlite3.OperationalError):
            Store.log_event(s.conn, "x", "y")
    assert sha256(db) == before


def test_snapshot_is_a_database(db: Path, tmp_path: Path) -> None:
    with Store(db) as s:
        with s.write() as conn:
            Store.log_event(conn, "k", "r")
        data = s.snapshot()
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(data)
    assert check_ours(copy) == SCHEMA_VERSION
    assert sqlite3.connect(copy).execute("SELECT kind FROM jdsi_event").fetchall() == [("k",)]


def test_ids_are_uuids() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    for i in ids:
        assert uuid.UUID(i).version == 4


def test_resolve_method_without_methods(db: Path) -> None:
    with Store(db, readonly=True) as s:
        with pytest.raises(StoreError, match="no methods yet"):
            s.resolve_method("abcd")

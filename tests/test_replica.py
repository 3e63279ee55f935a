"""The panel's replica and a stored method's distances on demand (issue 18): ``GET db`` answers every
table but the distances' rows plus jdsi_replica_method, consistent with the event seq it reports,
refused before it is built when above the panel's limit; ``GET distances?method=`` answers a
method's rows as one frame, cached, never stale for a replaced file; neither blocks the server's
event loop nor grows the server by the file."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_server import running_server

from jupyterlab_dsi import frame_codec, replica
from jupyterlab_dsi.datasets import save_dataset
from jupyterlab_dsi.store import APPLICATION_ID, SCHEMA_VERSION, Store

TOKEN = "test-token-" + uuid.uuid4().hex
SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "sample.sqlite"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Each test sees the server-side caches empty (they are process-wide)."""
    replica.INFOS.clear()
    replica.FRAMES.clear()
    replica.REPLICAS.clear()


def add_method(db: Path, source_method: str, *, null_column: str | None = None, scale: float = 1.0,
               drop: tuple[str, int] | None = None, keep_steps: tuple[int, ...] | None = None) -> str:
    """A new method with ``source_method``'s rows, values times ``scale``, ``null_column`` NULL
    throughout, the row ``drop`` (sim_id, t) missing and only ``keep_steps`` kept; logged as an event."""
    method_id = str(uuid.uuid4())
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description, code_version, created_at) "
            "SELECT ?, ground_truth_id, norm, gt_time, 'test copy', code_version, created_at FROM jdsi_method WHERE id = ?",
            (method_id, source_method),
        )
        values = [f"NULL AS {c}" if c == null_column else f"{c} * {scale!r}" for c in replica.COLUMNS]
        conn.execute(
            f"INSERT INTO jdsi_distance SELECT ?, t, sim_id, {', '.join(values)} FROM jdsi_distance WHERE method_id = ?",
            (method_id, source_method),
        )
        if drop is not None:
            conn.execute("DELETE FROM jdsi_distance WHERE method_id = ? AND sim_id = ? AND t = ?", (method_id, *drop))
        if keep_steps is not None:
            conn.execute(
                f"DELETE FROM jdsi_distance WHERE method_id = ? AND t NOT IN ({', '.join('?' * len(keep_steps))})",
                (method_id, *keep_steps),
            )
        conn.execute("INSERT INTO jdsi_event (at, kind, record_id, payload) VALUES ('now', 'method.created', ?, '{}')",
                     (method_id,))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return method_id


def open_bytes(data: bytes) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    return conn


def tables(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def cube_of_rows(db: Path, method_id: str) -> tuple[list[str], list[int], np.ndarray]:
    """The frame a method must give, computed the plain way from its rows."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?",
                        (method_id,)).fetchall()
    conn.close()
    sims = sorted({r[0] for r in rows})
    steps = sorted({r[1] for r in rows})
    cube = np.full((len(sims), len(steps), 3), np.nan, dtype=np.float32)
    si, ti = {s: i for i, s in enumerate(sims)}, {t: i for i, t in enumerate(steps)}
    for sim, t, *values in rows:
        cube[si[sim], ti[t]] = [np.nan if v is None else v for v in values]
    return sims, steps, cube


# -- the replica --------------------------------------------------------------------------------


def test_the_replica_holds_every_table_but_the_distances(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    empty = add_method(db, method_id, null_column="d_edge", keep_steps=())
    nulls = add_method(db, method_id, null_column="d_edge", keep_steps=(0, 2))
    with Store(db) as store:
        save_dataset(store, members=["s01", "s02"], description="kept", method_id=method_id, t=1)
    with Store(db, readonly=True) as store:
        data, seq = replica.build_replica(store)
    file, copy = sqlite3.connect(db), open_bytes(data)
    want = tables(file)
    got = tables(copy)
    assert want[replica.DISTANCE_TABLE] > 0
    assert got == {**want, replica.DISTANCE_TABLE: 0, replica.METHOD_TABLE: 3}
    # Indexes (the distances' too, empty) and the file's own marks.
    index_sql = ("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                 "AND tbl_name != 'jdsi_replica_method' ORDER BY name")
    assert copy.execute(index_sql).fetchall() == file.execute(index_sql).fetchall()
    for pragma in ("application_id", "user_version"):
        assert copy.execute(f"PRAGMA {pragma}").fetchone() == file.execute(f"PRAGMA {pragma}").fetchone()
    assert copy.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert copy.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert seq == file.execute("SELECT max(seq) FROM jdsi_event").fetchone()[0]
    assert copy.execute("SELECT * FROM sqlite_sequence").fetchall() == file.execute("SELECT * FROM sqlite_sequence").fetchall()
    for table in want:
        if table != replica.DISTANCE_TABLE:
            assert copy.execute(f'SELECT * FROM "{table}"').fetchall() == file.execute(f'SELECT * FROM "{table}"').fetchall(), table
    info = {r[0]: (json.loads(r[1]), json.loads(r[2])) for r in copy.execute("SELECT * FROM jdsi_replica_method")}
    steps = [r[0] for r in file.execute("SELECT DISTINCT t FROM jdsi_distance WHERE method_id = ? ORDER BY t", (method_id,))]
    assert len(steps) == 3
    assert info == {
        method_id: (steps, ["d_shock", "d_edge", "d_density"]),
        nulls: ([0, 2], ["d_shock", "d_density"]),  # d_edge NULL throughout: not a column of the method
        empty: ([], []),
    }
    file.close()
    copy.close()


def test_a_method_info_is_cached_and_the_connection_left_as_it_was(mdb: tuple[Path, str]) -> None:
    db, _ = mdb
    with Store(db, readonly=True) as store:
        first = replica.build_replica(store)
        infos, builds = replica.BUILDS["info"], replica.BUILDS["replica"]
        replica.REPLICAS.clear()
        second = replica.build_replica(store)
        assert replica.BUILDS["info"] == infos  # the second build read no distance
        assert replica.BUILDS["replica"] == builds + 1
        assert first == second
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert not store.conn.in_transaction
        assert [r[1] for r in store.conn.execute("PRAGMA database_list")] == ["main"]


def test_a_replica_is_kept_while_its_file_is_unchanged(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db, readonly=True) as store:
        first = replica.build_replica(store)
    builds = replica.BUILDS["replica"]
    with Store(db, readonly=True) as store:
        assert replica.build_replica(store) == first
    assert replica.BUILDS["replica"] == builds  # answered from the cache
    with Store(db) as store:  # a save: a new event
        save_dataset(store, members=["s01"], description="a save", method_id=method_id, t=0)
    with Store(db, readonly=True) as store:
        saved, seq = replica.build_replica(store)
    assert seq == first[1] + 1 and replica.BUILDS["replica"] == builds + 1
    conn = sqlite3.connect(db)  # a write that logs no event: SQLite's change counter tells
    with conn:
        conn.execute("UPDATE jdsi_dataset SET name = 'renamed'")
    conn.close()
    with Store(db, readonly=True) as store:
        renamed, same_seq = replica.build_replica(store)
    assert same_seq == seq and renamed != saved and replica.BUILDS["replica"] == builds + 2
    assert open_bytes(renamed).execute("SELECT name FROM jdsi_dataset").fetchall() == [("renamed",)]


def test_an_oversized_replica_is_refused_before_it_is_built(mdb: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = mdb
    with Store(db, readonly=True) as store:
        size = len(replica.build_replica(store)[0])
        estimate = replica.estimate_bytes(store)
        assert estimate is not None and size <= estimate < 4 * size + 65536

        def copied(*_: Any) -> int:
            raise AssertionError("the replica was built although it is above the limit")

        monkeypatch.setattr(replica, "_copy", copied)
        replica.REPLICAS.clear()
        builds = replica.BUILDS["replica"]
        with pytest.raises(replica.TooLarge) as caught:
            replica.build_replica(store, max_bytes=estimate - 1)
        assert replica.BUILDS["replica"] == builds
        assert not store.conn.in_transaction
    message = caught.value.message("data/ens.sqlite")
    assert message == (f"data/ens.sqlite: the panel's copy would be {math.ceil(estimate / 2**20)} MB, above the "
                       f"{(estimate - 1) // 2**20} MB limit (Settings → DSI Explorer → maxDatabaseMB).")


def test_a_write_during_builds_is_wholly_in_or_out(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    sims = [f"s{i:02d}" for i in range(6)]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Store(db) as store:
                for i in range(25):
                    save_dataset(store, members=sims[: 1 + i % 6], description=f"save {i}", method_id=method_id, t=i % 3)
                    time.sleep(0.02)  # room for builds between saves, as a panel's catch-ups have
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            done.set()

    def check() -> int:
        with Store(db, readonly=True) as store:
            data, seq = replica.build_replica(store)
        copy = open_bytes(data)
        try:
            assert seq == copy.execute("SELECT coalesce(max(seq), 0) FROM jdsi_event").fetchone()[0]
            saved = copy.execute("SELECT count(*) FROM jdsi_event WHERE kind = 'dataset.created'").fetchone()[0]
            sizes = copy.execute("SELECT d.size, (SELECT count(*) FROM jdsi_dataset_member m WHERE m.dataset_id = d.id) "
                                 "FROM jdsi_dataset d").fetchall()
            assert len(sizes) == saved and all(size == members for size, members in sizes)
            return int(saved)
        finally:
            copy.close()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    while not done.is_set():
        seen.add(check())
    thread.join()
    assert not errors, errors
    assert check() == 25
    assert len(seen - {0, 25}) >= 2  # builds ran between saves, not only before or after them all


def test_other_tables_views_and_triggers_are_copied(mdb: tuple[Path, str]) -> None:
    """A file with tables a user added (a DSI notebook's own) keeps them, defined as in the file."""
    db, _ = mdb
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE "my notes" (id INTEGER PRIMARY KEY AUTOINCREMENT, "text" TEXT);
        INSERT INTO "my notes" ("text") VALUES ('a'), ('b');
        CREATE UNIQUE INDEX IF NOT EXISTS "my notes by text" ON "my notes" ("text");
        CREATE VIEW note_count AS SELECT count(*) AS n FROM "my notes";
        CREATE TRIGGER no_empty_note BEFORE INSERT ON "my notes" WHEN new."text" = '' BEGIN SELECT raise(ABORT, 'empty'); END;
    """)
    conn.close()
    with Store(db, readonly=True) as store:
        copy = open_bytes(replica.build_replica(store)[0])
    assert copy.execute("SELECT n FROM note_count").fetchone() == (2,)
    assert copy.execute("SELECT seq FROM sqlite_sequence WHERE name = 'my notes'").fetchone() == (2,)
    with pytest.raises(sqlite3.IntegrityError, match="empty"):
        copy.execute("""INSERT INTO "my notes" ("text") VALUES ('')""")


def test_a_replica_opened_as_a_database_gives_a_replica(mdb: tuple[Path, str], tmp_path: Path) -> None:
    """A replica saved as a file and opened again: its method table is made anew, not copied twice."""
    db, method_id = mdb
    with Store(db, readonly=True) as store:
        data, _ = replica.build_replica(store)
    again = tmp_path / "replica.sqlite"
    again.write_bytes(data)
    with Store(again, readonly=True) as store:
        copy = open_bytes(replica.build_replica(store)[0])
    assert copy.execute("SELECT * FROM jdsi_replica_method").fetchall() == [(method_id, "[]", "[]")]


def test_a_replica_of_a_16_method_file_does_not_grow_the_process_by_the_file(big: dict[str, Any]) -> None:
    """The build copies in SQLite, table to table: the process grows by about the replica, not by
    the file (VmHWM of a fresh process, reset after imports and the Store's open)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to read the peak resident memory")
    script = (
        "import sys, json\n"
        "from jupyterlab_dsi import replica\n"
        "from jupyterlab_dsi.store import Store\n"
        "def kb(key):\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key + ':'))\n"
        "store = Store(sys.argv[1], readonly=True)\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = kb('VmRSS')\n"
        "data, seq = replica.build_replica(store)\n"
        "print(json.dumps({'growth': (kb('VmHWM') - before) * 1024, 'replica': len(data)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(big["db"])], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout)
    size = big["db"].stat().st_size
    assert size > 60 * 2**20
    # The replica itself lives twice (in SQLite and as the answer's bytes); the file never does.
    assert figures["growth"] < 3 * figures["replica"] + 16 * 2**20, figures
    assert figures["growth"] < size / 4, (figures, size)


# -- a stored method's distances -----------------------------------------------------------------


def check_frame(data: bytes, db: Path, method_id: str) -> dict[str, Any]:
    header, cube = frame_codec.decode(data)
    sims, steps, want = cube_of_rows(db, method_id)
    assert header["method"] == method_id
    assert header["sim_ids"] == sims and header["steps"] == steps
    assert header["columns"] == ["d_shock", "d_edge", "d_density"]
    conn = sqlite3.connect(db)
    assert header["rows"] == conn.execute("SELECT count(*) FROM jdsi_distance WHERE method_id = ?", (method_id,)).fetchone()[0]
    conn.close()
    assert cube.dtype == np.float32 and cube.shape == (len(sims), len(steps), 3)
    np.testing.assert_array_equal(cube, want)  # NaN where NaN, every other value exact in float32
    return header


def test_a_frame_is_the_methods_rows(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    holes = add_method(db, method_id, null_column="d_shock", scale=0.5, drop=("s03", 1), keep_steps=(0, 1))
    empty = add_method(db, method_id, keep_steps=())
    with Store(db, readonly=True) as store:
        check_frame(replica.method_frame(store, method_id), db, method_id)
        header = check_frame(replica.method_frame(store, holes), db, holes)
        assert header["steps"] == [0, 1] and len(header["sim_ids"]) == 6
        _, cube = frame_codec.decode(replica.method_frame(store, holes))
        assert np.isnan(cube[3, 1]).all() and np.isnan(cube[:, :, 0]).all() and np.isnan(cube[:, :, 1:]).sum() == 2
        header = check_frame(replica.method_frame(store, empty), db, empty)
        assert header["sim_ids"] == [] and header["rows"] == 0
        with pytest.raises(replica.UnknownMethod) as caught:
            replica.method_frame(store, "no-such-method")
        assert caught.value.message("ens.sqlite") == "no method no-such- in ens.sqlite"
        assert not store.conn.in_transaction


def test_ids_the_fast_path_cannot_split_are_read_row_by_row(mdb: tuple[Path, str]) -> None:
    """A sim id holding the separator (or text sorted otherwise) still lands in its own row."""
    db, method_id = mdb
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = OFF")
    with conn:
        conn.execute("UPDATE jdsi_distance SET sim_id = 'a' || char(31) || 'b' WHERE sim_id = 's02'")
    conn.close()
    with Store(db, readonly=True) as store:
        header = check_frame(replica.method_frame(store, method_id), db, method_id)
    assert "a\x1fb" in header["sim_ids"]


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} is built by `make` (examples/build_sample.sh)")
def test_frames_of_the_sample_equal_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "sample.sqlite"
    shutil.copyfile(SAMPLE, db)
    with Store(db, readonly=True) as store:
        methods = [r[0] for r in store.conn.execute("SELECT id FROM jdsi_method")]
        for method_id in methods:
            check_frame(replica.method_frame(store, method_id), db, method_id)
        data, _ = replica.build_replica(store)
    copy = open_bytes(data)
    assert copy.execute("SELECT count(*) FROM jdsi_replica_method").fetchone()[0] == len(methods)
    assert len(data) < db.stat().st_size / 4


def test_a_frame_is_cached_and_a_replaced_file_is_not_served_stale(mdb: tuple[Path, str], tmp_path: Path) -> None:
    db, method_id = mdb
    with Store(db, readonly=True) as store:
        first = replica.method_frame(store, method_id)
    builds = replica.BUILDS["frame"]
    with Store(db, readonly=True) as store:
        assert replica.method_frame(store, method_id) == first
    assert replica.BUILDS["frame"] == builds  # answered from the cache
    with Store(db) as store:  # a save changes the file's mtime, not the method
        save_dataset(store, members=["s01"], description="a save", method_id=method_id, t=0)
    with Store(db, readonly=True) as store:
        assert replica.method_frame(store, method_id) == first
    assert replica.BUILDS["frame"] == builds

    # Another file moved over the path (a new inode): same method id, other values.
    other = tmp_path / "other.sqlite"
    shutil.copyfile(db, other)
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("UPDATE jdsi_distance SET d_shock = d_shock + 1 WHERE method_id = ?", (method_id,))
    conn.close()
    os.replace(other, db)
    with Store(db, readonly=True) as store:
        moved = replica.method_frame(store, method_id)
    assert moved != first
    check_frame(moved, db, method_id)

    # Another file copied over it in place (the same inode): a row fewer.
    shutil.copyfile(db, other)
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("DELETE FROM jdsi_distance WHERE method_id = ? AND sim_id = 's04' AND t = 2", (method_id,))
    conn.close()
    inode = db.stat().st_ino
    time.sleep(0.01)  # a new mtime even on coarse file systems
    shutil.copyfile(other, db)
    assert db.stat().st_ino == inode
    with Store(db, readonly=True) as store:
        copied = replica.method_frame(store, method_id)
    assert copied != moved
    check_frame(copied, db, method_id)


def test_concurrent_asks_build_a_frame_once_and_the_prefetch_fills_the_cache(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    newer = add_method(db, method_id, scale=2.0)
    conn = sqlite3.connect(db)
    with conn:  # the newest method: what a panel shows first
        conn.execute("UPDATE jdsi_method SET created_at = '2999-01-01' WHERE id = ?", (newer,))
    conn.close()
    with Store(db, readonly=True) as store:
        assert replica.newest_method(store) == newer
    builds = replica.BUILDS["frame"]
    replica.prefetch(db, newer)
    assert replica.BUILDS["frame"] == builds + 1
    with Store(db, readonly=True) as store:
        check_frame(replica.method_frame(store, newer), db, newer)
    assert replica.BUILDS["frame"] == builds + 1
    replica.prefetch(db, "no-such-method")  # an error is left for the panel's own request

    answers: list[bytes] = []

    def ask() -> None:
        with Store(db, readonly=True) as store:
            answers.append(replica.method_frame(store, method_id))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and len(set(answers)) == 1
    assert replica.BUILDS["frame"] == builds + 2
    assert not replica._FLIGHTS.locks


def test_an_oversized_frame_is_refused_before_a_row_is_read(mdb: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, method_id = mdb
    need = 6 * 3 * 12  # every simulation x every step x 3 float32
    with Store(db, readonly=True) as store:
        replica.method_info(store, method_id)

        def read(*_: Any) -> Any:
            raise AssertionError("rows were read although the frame is above the limit")

        monkeypatch.setattr(replica, "_frame", read)
        with pytest.raises(replica.TooLarge) as caught:
            replica.method_frame(store, method_id, max_bytes=need - 1)
        monkeypatch.undo()
        assert len(replica.method_frame(store, method_id, max_bytes=need)) > need
    assert caught.value.message("ens.sqlite") == (
        f"ens.sqlite: the distances of method {method_id[:8]} would be 1 MB, above the 0 MB limit "
        "(Settings → DSI Explorer → maxDatabaseMB)."
    )


def test_frame_cache_is_bounded_by_bytes() -> None:
    cache = replica.FrameCache(100)
    key = (("/f", 1, 2), "m")
    cache.put((key[0], "a"), replica._Frame(b"x" * 60, 1, 0))
    cache.put((key[0], "b"), replica._Frame(b"x" * 30, 1, 0))
    assert cache.get((key[0], "a")) is not None  # now the most recently used
    cache.put((key[0], "c"), replica._Frame(b"x" * 30, 1, 0))
    assert cache.get((key[0], "b")) is None and cache.bytes == 90
    cache.put((key[0], "d"), replica._Frame(b"x" * 101, 1, 0))  # larger than the budget: not kept
    assert cache.get((key[0], "d")) is None and cache.bytes == 90


@pytest.mark.parametrize("text, value", [(None, None), ("", None), ("1", 1), ("536870912", 536870912)])
def test_max_bytes_is_parsed(text: str | None, value: int | None) -> None:
    assert replica.parse_max_bytes(text) == value


@pytest.mark.parametrize("text", ["0", "-5", "abc", "1e6", "9" * 30])
def test_a_bad_max_bytes_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="max_bytes must be a whole number of bytes >= 1"):
        replica.parse_max_bytes(text)


# -- a big file: 16 methods, one of them 20,000 simulations x 40 steps -------------------------------

BIG_SIMS, BIG_STEPS = 20_000, 40
SMALL_SIMS, SMALL_STEPS = 3_000, 20


@pytest.fixture(scope="module")
def big(shared_method: tuple[Any, Path, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the shared database with 20,000 simulations and 16 methods (~100 MB): the big one
    with d_edge NULL throughout (its info reads every row once), 15 smaller ones."""
    _, source, method_id = shared_method
    root = tmp_path_factory.mktemp("bigroot")
    db = root / "big.sqlite"
    shutil.copyfile(source, db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
        "INSERT INTO jdsi_simulation (sim_id, times, source_id) "
        "SELECT printf('big%06d', i), '[]', (SELECT source_id FROM jdsi_simulation LIMIT 1) FROM n",
        (BIG_SIMS,),
    )
    methods = []
    for k in range(16):
        new = str(uuid.uuid4())
        sims, steps = (BIG_SIMS, BIG_STEPS) if k == 0 else (SMALL_SIMS, SMALL_STEPS)
        conn.execute(
            "INSERT INTO jdsi_method (id, ground_truth_id, norm, description, code_version, created_at) "
            "SELECT ?, ground_truth_id, 'L1', 'big', code_version, created_at FROM jdsi_method WHERE id = ?",
            (new, method_id),
        )
        conn.execute(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?), "
            "t(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM t WHERE j + 1 < ?) "
            "INSERT INTO jdsi_distance SELECT ?, j, printf('big%06d', i), i * 1e-3 + j, "
            "CASE WHEN ? THEN NULL ELSE j * 0.5 END, (i % 97) * 0.25 FROM t, s",
            (sims, steps, new, k == 0),
        )
        methods.append(new)
    conn.execute("COMMIT")
    conn.close()
    return {"db": db, "root": root, "methods": methods}


# -- the endpoints, in a real Jupyter server -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(big: dict[str, Any], shared_method: tuple[Any, Path, str]) -> Iterator[dict[str, Any]]:
    _, db, method_id = shared_method
    root = big["root"]
    shutil.copyfile(db, root / "ens.sqlite")
    log = root.parent / f"server-{uuid.uuid4().hex}.log"
    with running_server(root, TOKEN, "--DSIConfig.store_timeout=120", log=log) as port:
        yield {"base": f"http://127.0.0.1:{port}/jupyterlab-dsi", "status": f"http://127.0.0.1:{port}/api/status",
               "root": root, "method": method_id}


def get(url: str) -> tuple[int, Any, bytes]:
    """(status, headers (names case-insensitive, as HTTP's are: Tornado sends X-Dsi-Replica), body)."""
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"token {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_get_db_answers_the_replica(server: dict[str, Any]) -> None:
    status, headers, body = get(f"{server['base']}/db?path=ens.sqlite")
    assert status == 200
    assert headers["X-DSI-Replica"] == "1" and headers["Cache-Control"] == "no-store"
    copy = open_bytes(body)
    file = sqlite3.connect(server["root"] / "ens.sqlite")
    assert int(headers["X-DSI-Event-Seq"]) == file.execute("SELECT max(seq) FROM jdsi_event").fetchone()[0]
    assert copy.execute("SELECT count(*) FROM jdsi_distance").fetchone() == (0,)
    assert copy.execute("SELECT method_id FROM jdsi_replica_method").fetchall() == [(server["method"],)]


def test_get_db_refuses_a_replica_above_max_bytes(server: dict[str, Any]) -> None:
    status, _, body = get(f"{server['base']}/db?path=ens.sqlite&max_bytes=1000")
    message = json.loads(body)["message"]
    assert status == 413
    assert message.startswith("ens.sqlite: the panel's copy would be 1 MB, above the 0 MB limit")
    assert message.endswith("(Settings → DSI Explorer → maxDatabaseMB).")
    status, _, body = get(f"{server['base']}/db?path=ens.sqlite&max_bytes=lots")
    assert status == 400 and "max_bytes must be a whole number" in json.loads(body)["message"]


def test_get_distances_of_a_method(server: dict[str, Any]) -> None:
    url = f"{server['base']}/distances?path=ens.sqlite&method={server['method']}"
    status, headers, body = get(url)
    assert status == 200
    assert headers["Content-Type"] == frame_codec.CONTENT_TYPE and headers["Cache-Control"] == "no-store"
    check_frame(body, server["root"] / "ens.sqlite", server["method"])
    assert get(url)[2] == body
    status, _, answer = get(f"{server['base']}/distances?path=ens.sqlite&method=0123abcd-0000-4000-8000-000000000000")
    assert (status, json.loads(answer)["message"]) == (404, "no method 0123abcd in ens.sqlite")
    status, _, answer = get(f"{server['base']}/distances?path=ens.sqlite&method=x'%3B%20DROP")
    assert status == 400 and json.loads(answer)["message"].startswith("malformed method id")
    status, _, answer = get(f"{url}&max_bytes=10")
    assert status == 413 and "maxDatabaseMB" in json.loads(answer)["message"]
    status, _, answer = get(f"{server['base']}/distances?path=nowhere.sqlite&method={server['method']}")
    assert status == 404


def _while_answering(server: dict[str, Any], url: str) -> tuple[float, list[float], bytes]:
    """(seconds the request took, latencies of /api/status polled meanwhile, its body)."""
    box: dict[str, Any] = {}

    def fetch() -> None:
        started = time.monotonic()
        box["answer"] = get(url)
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=fetch)
    thread.start()
    latencies = []
    while thread.is_alive():
        started = time.monotonic()
        urllib.request.urlopen(f"{server['status']}?token={TOKEN}", timeout=60).read()
        latencies.append(time.monotonic() - started)
        time.sleep(0.01)
    thread.join()
    status, _, body = box["answer"]
    assert status == 200, body[:300]
    return box["seconds"], latencies, body


def test_slow_builds_never_hold_up_the_server(server: dict[str, Any], big: dict[str, Any]) -> None:
    """The 16-method replica (whose first build reads the big method's all-NULL column) and the big
    method's frame (800,000 rows) are built on the Store's pool: /api/status answers meanwhile."""
    answers = []
    for url in (f"{server['base']}/db?path=big.sqlite",
                f"{server['base']}/distances?path=big.sqlite&method={big['methods'][0]}"):
        seconds, latencies, body = _while_answering(server, url)
        assert len(latencies) >= 3, (url, seconds, latencies)
        assert max(latencies) < max(0.1, seconds / 2), (url, seconds, max(latencies))
        answers.append(body)
    header, cube = frame_codec.decode(answers[1])
    assert cube.shape == (BIG_SIMS, BIG_STEPS, 3) and header["rows"] == BIG_SIMS * BIG_STEPS
    assert np.isnan(cube[:, :, 1]).all() and cube[7, 3, 0] == np.float32(7e-3 + 3)
    copy = open_bytes(answers[0])
    assert copy.execute("SELECT count(*) FROM jdsi_replica_method").fetchone() == (17,)
    assert json.loads(copy.execute("SELECT columns FROM jdsi_replica_method WHERE method_id = ?",
                                   (big["methods"][0],)).fetchone()[0]) == ["d_shock", "d_density"]

"""The panel's copy of a database, and one stored method's distances on demand (issue 18).

The browser used to receive the whole SQLite file, and every method adds ~35 MB of
``jdsi_distance`` rows at 10,000 simulations x 40 steps. Now:

- :func:`build_replica` answers ``GET db``: an SQLite file with every table of the database but
  the rows of ``jdsi_distance`` (the table is there, empty, with its indexes), plus
  ``jdsi_replica_method``: per method, the steps it has distances at and the distance columns it
  fills. It is built inside the Store's own connection, in one read transaction (so it matches the
  event seq it reports), by copying table to table in SQLite into an attached in-memory database:
  the server never holds more than the replica itself, never a file-sized copy.
- :func:`method_frame` answers ``GET distances?method=ID``: one method's distances as one
  frame_codec frame, float32 (S, T, 3).

A method's distances are written once, in the transaction that creates it, and never change: its
steps and columns (:class:`MethodInfo`) and its frame are cached per file (real path, device,
inode) and method id. A frame cached before the file changed is checked against the method's row
count before it is served again, so a file replaced in place by another is not answered stale. The
last replica of a file is kept while the file is unchanged (its size, SQLite's change counter and
last event seq, read under the build's read lock).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import frame_codec
from .errors import DsiError
from .store import Store, rollback

COLUMNS = ("d_shock", "d_edge", "d_density")
DISTANCE_TABLE = "jdsi_distance"
METHOD_TABLE = "jdsi_replica_method"
# The attached in-memory database the replica is built in (a name no user file uses).
SCHEMA = "jdsi_replica_build"
# Built frames the server keeps (bytes, least recently used dropped first): one method of 10,000
# simulations x 40 steps is ~5 MB, so a dozen methods stay warm for every open panel.
FRAME_CACHE_BYTES = 64 * 2**20
# Replicas kept while their file is unchanged (a second panel, a retry after "busy", a reload):
# ~6 MB for 10,000 simulations. A larger one is rebuilt each time.
REPLICA_CACHE_BYTES = 32 * 2**20
# Method infos kept (a few hundred bytes each): far more methods than any file holds.
INFO_CACHE_ENTRIES = 4096
# Rows fetched from SQLite per step of a frame build: bounds the Python objects alive at once.
FETCH_ROWS = 65536
# A method id as the worker sends it: stored ids are UUIDs, older test files use short names.
METHOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SETTING = "Settings → DSI Explorer → maxDatabaseMB"
log = logging.getLogger(__name__)

_CREATE = re.compile(
    r"^CREATE\s+(UNIQUE\s+INDEX|INDEX|TABLE|VIEW|TRIGGER)\s+(IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE
)


class TooLarge(DsiError):
    """What the panel asked for is larger than its ``max_bytes``: answered 413, nothing built."""

    def __init__(self, what: str, nbytes: int, limit: int) -> None:
        self.what, self.nbytes, self.limit = what, nbytes, limit
        super().__init__(self.message("the database"))

    def message(self, path: str) -> str:
        """One line naming the file as the user knows it and the setting that bounds it."""
        size = math.ceil(self.nbytes / 2**20)
        limit = self.limit // 2**20
        return f"{path}: {self.what} would be {size} MB, above the {limit} MB limit ({SETTING})."


class UnknownMethod(DsiError):
    """The file holds no method with this id: answered 404."""

    def __init__(self, method_id: str) -> None:
        self.method_id = method_id
        super().__init__(f"no method {method_id[:8]}")

    def message(self, path: str) -> str:
        return f"no method {self.method_id[:8]} in {path}"


def parse_max_bytes(text: str | None) -> int | None:
    """``?max_bytes=`` as an int >= 1, None when absent; ValueError with the request's fault."""
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value < 2**63:
        raise ValueError(f"max_bytes must be a whole number of bytes >= 1, not {text[:40]!r}")
    return value


@dataclass(frozen=True)
class MethodInfo:
    """Steps (distinct t, ascending) and the distance columns with at least one non-NULL value."""

    steps: tuple[int, ...]
    columns: tuple[str, ...]


FileKey = tuple[str, int, int]


def file_key(store: Store) -> FileKey:
    """(real path, device, inode) of the file the Store's connection has open: the inode checked
    when the Store opened (a file moved over the path later is another key)."""
    dev, ino = store._identity  # noqa: SLF001 - the identity the Store verified at open
    return os.path.realpath(store.path), dev, ino


class _InfoCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.items: OrderedDict[tuple[FileKey, str], MethodInfo] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[FileKey, str]) -> MethodInfo | None:
        with self.lock:
            info = self.items.get(key)
            if info is not None:
                self.items.move_to_end(key)
            return info

    def put(self, key: tuple[FileKey, str], info: MethodInfo) -> None:
        with self.lock:
            self.items[key] = info
            self.items.move_to_end(key)
            while len(self.items) > self.entries:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


# What a file holds at a moment, read under the read transaction's shared lock (no writer can
# commit meanwhile): its size and SQLite's file change counter (header bytes 24-27, bumped by
# every commit in rollback-journal mode, the only mode the Store writes).
Stamp = tuple[int, int]


def file_stamp(store: Store) -> Stamp | None:
    """The Store's file's stamp; None when the path names another file now (moved over it)."""
    try:
        with open(store.path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if (st.st_dev, st.st_ino) != store._identity:  # noqa: SLF001
                return None
            header = fh.read(100)
    except OSError:
        return None
    return st.st_size, int.from_bytes(header[24:28], "big")


@dataclass
class _Frame:
    data: bytes
    rows: int  # the method's distance rows when built: a file replaced in place shows another count
    stamp: Stamp | None  # the file's stamp when last checked: unchanged means no recount


@dataclass
class _Replica:
    data: bytes
    seq: int
    stamp: Stamp  # the file's stamp when built: unchanged means the same replica


class FrameCache:
    """Built answers (frames, replicas) bounded by their bytes, least recently used dropped first."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            frame = self.items.get(key)
            if frame is not None:
                self.items.move_to_end(key)
            return frame

    def put(self, key: Any, frame: Any) -> None:
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.bytes -= len(old.data)
            if len(frame.data) > self.budget:
                return
            self.items[key] = frame
            self.bytes += len(frame.data)
            while self.bytes > self.budget:
                _, dropped = self.items.popitem(last=False)
                self.bytes -= len(dropped.data)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.bytes = 0


INFOS = _InfoCache(INFO_CACHE_ENTRIES)
FRAMES = FrameCache(FRAME_CACHE_BYTES)
REPLICAS = FrameCache(REPLICA_CACHE_BYTES)
# Counts of real builds (not cache hits), for tests and the bench to tell the two apart.
BUILDS = {"replica": 0, "frame": 0, "info": 0}

# The steps of one method by a loose index scan over the (method_id, t, sim_id) key: one seek per
# step instead of reading every row of the method.
STEPS_SQL = """
WITH RECURSIVE step(t) AS (
  SELECT (SELECT min(t) FROM main.jdsi_distance WHERE method_id = ?1)
  UNION ALL
  SELECT (SELECT min(t) FROM main.jdsi_distance WHERE method_id = ?1 AND t > step.t)
  FROM step WHERE step.t IS NOT NULL
)
SELECT t FROM step WHERE t IS NOT NULL
"""


def method_info(store: Store, method_id: str) -> MethodInfo:
    """The steps and filled columns of a method, read on the Store's connection (inside the
    caller's transaction when it has one), cached per file and method."""
    key = (file_key(store), method_id)
    info = INFOS.get(key)
    if info is not None:
        return info
    conn = store.conn
    steps = tuple(int(r[0]) for r in conn.execute(STEPS_SQL, (method_id,)))
    # EXISTS stops at the first non-NULL value: a filled column costs a row or two; only a column
    # that is NULL throughout reads the method's rows, once per server.
    columns = tuple(
        name for name in COLUMNS
        if conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM main.jdsi_distance WHERE method_id = ? AND {name} IS NOT NULL)",
            (method_id,),
        ).fetchone()[0]
    )
    info = MethodInfo(steps, columns)
    BUILDS["info"] += 1
    INFOS.put(key, info)
    return info


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in_replica(sql: str) -> str:
    """A CREATE statement of the file's sqlite_master, creating the same object in the replica.
    SQLite stores these without a schema name (its documented normalisation)."""
    match = _CREATE.match(sql)
    if match is None:
        raise DsiError(f"cannot copy a schema object defined as {sql[:60]!r}")
    return sql[: match.end()] + SCHEMA + "." + sql[match.end():]


@dataclass(frozen=True)
class _Object:
    type: str
    name: str
    table: str
    sql: str


def _objects(conn: sqlite3.Connection) -> list[_Object]:
    """The file's tables, indexes, views and triggers in creation order, without SQLite's own
    (sqlite_sequence is filled separately; automatic indexes come with their tables) and without
    virtual tables (their modules may be missing where the replica is read)."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY rowid").fetchall()
    return [
        _Object(r[0], r[1], r[2], r[3]) for r in rows
        if r[3] is not None and not r[1].startswith("sqlite_") and not r[3].upper().startswith("CREATE VIRTUAL")
        and r[2] != METHOD_TABLE  # a replica opened as a database: its method table is made anew
    ]


def estimate_bytes(store: Store) -> int | None:
    """The replica's size before building it: the pages of every b-tree of the file but the
    distances' (SQLite's dbstat, reading only those b-trees), a page for each of the distances'
    b-trees (there, empty) and the method table's. None where SQLite lacks dbstat."""
    conn = store.conn
    page = int(conn.execute("PRAGMA main.page_size").fetchone()[0])
    trees = conn.execute("SELECT name, tbl_name = ? FROM main.sqlite_master WHERE rootpage > 0",
                         (DISTANCE_TABLE,)).fetchall()
    # The schema's own b-tree (its text spans pages): dbstat calls it sqlite_schema, or sqlite_master.
    trees += [("sqlite_schema", 0), ("sqlite_master", 0)]
    total = 0
    try:
        for name, distances in trees:
            if distances:
                total += page
                continue
            row = conn.execute(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main') WHERE name = ? AND aggregate = 1", (name,)
            ).fetchone()
            total += int(row[0])
    except sqlite3.OperationalError as exc:
        if "dbstat" in str(exc) or "no such" in str(exc):
            return None
        raise
    methods = int(conn.execute("SELECT count(*) FROM main.jdsi_method").fetchone()[0])
    # A method's row holds its id and steps as JSON: a few hundred bytes for 40 steps; two b-trees.
    return total + 2 * page + methods * 512


def build_replica(store: Store, *, max_bytes: int | None = None) -> tuple[bytes, int]:
    """(the replica's bytes, the last event seq it holds). Raises :class:`TooLarge` (before any
    copy where SQLite can estimate, else after the build) when it exceeds ``max_bytes``."""
    conn = store.conn
    if conn.in_transaction:
        raise DsiError("build_replica needs the Store's connection outside a transaction")
    # Foreign keys off for the copy: tables arrive whole, in creation order, and a row may name a
    # parent copied later (a method's parent_id). The connection's own setting is restored.
    foreign_keys = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(f"ATTACH DATABASE ':memory:' AS {SCHEMA}")
    key = file_key(store)
    cached: _Replica | None = None
    try:
        conn.execute("BEGIN")
        try:
            # The first read takes the shared lock: from here on no writer commits until the end.
            seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM main.jdsi_event").fetchone()[0])
            stamp = file_stamp(store)
            cached = REPLICAS.get(key)
            if cached is None or stamp is None or (cached.stamp, cached.seq) != (stamp, seq):
                cached = None
                if max_bytes is not None:
                    estimate = estimate_bytes(store)
                    if estimate is not None and estimate > max_bytes:
                        raise TooLarge("the panel's copy", estimate, max_bytes)
                _copy(store, _objects(conn))
            conn.execute("COMMIT")
        except BaseException as exc:
            rollback(conn, exc)
            raise
        # After COMMIT: the in-memory database's pages are final; the file's read lock is gone.
        data = cached.data if cached is not None else conn.serialize(name=SCHEMA)
    finally:
        conn.execute(f"DETACH DATABASE {SCHEMA}")
        conn.execute(f"PRAGMA foreign_keys = {foreign_keys}")
    if cached is None:
        BUILDS["replica"] += 1
        if stamp is not None:
            REPLICAS.put(key, _Replica(data, seq, stamp))
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge("the panel's copy", len(data), max_bytes)
    return data, seq


def _copy(store: Store, objects: list[_Object]) -> None:
    """Fill the attached replica inside the caller's read transaction."""
    conn = store.conn
    for obj in objects:
        if obj.type == "table":
            conn.execute(_in_replica(obj.sql))
    for obj in objects:
        if obj.type == "table" and obj.name != DISTANCE_TABLE:
            name = _quote(obj.name)
            # SQLite to SQLite, page by page in C: no row becomes a Python object.
            conn.execute(f"INSERT INTO {SCHEMA}.{name} SELECT * FROM main.{name}")
    if conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        # AUTOINCREMENT's counters as the file has them (a copy of the rows sets them to the max).
        conn.execute(f"DELETE FROM {SCHEMA}.sqlite_sequence")
        conn.execute(f"INSERT INTO {SCHEMA}.sqlite_sequence SELECT * FROM main.sqlite_sequence")
    # Indexes after the data: each is built once from sorted keys instead of row by row.
    for kind in ("index", "view", "trigger"):
        for obj in objects:
            if obj.type == kind:
                conn.execute(_in_replica(obj.sql))
    conn.execute(
        f"""CREATE TABLE {SCHEMA}.{METHOD_TABLE} (
  method_id TEXT PRIMARY KEY,
  steps     TEXT NOT NULL,
  columns   TEXT NOT NULL
)"""
    )
    rows = []
    for (method_id,) in conn.execute("SELECT id FROM main.jdsi_method ORDER BY id").fetchall():
        info = method_info(store, method_id)
        rows.append((method_id, json.dumps(list(info.steps)), json.dumps(list(info.columns))))
    conn.executemany(f"INSERT INTO {SCHEMA}.{METHOD_TABLE} VALUES (?, ?, ?)", rows)
    for pragma in ("application_id", "user_version"):
        value = int(conn.execute(f"PRAGMA main.{pragma}").fetchone()[0])
        conn.execute(f"PRAGMA {SCHEMA}.{pragma} = {value}")


def method_frame(store: Store, method_id: str, *, max_bytes: int | None = None) -> bytes:
    """One method's distances as a frame: header ``{method, sim_ids, steps, columns, rows}``, data
    float32 (S, T, 3) with NaN where a row is missing or a value NULL. ``sim_ids``: the
    simulations with at least one row, sorted as text; ``steps``: the distinct t, ascending.
    Raises :class:`UnknownMethod`, or :class:`TooLarge` (before reading a row) when S x T x 12
    bytes, S counting every simulation of the file, exceed ``max_bytes``."""
    key = (file_key(store), method_id)
    # One build per frame at a time: a second ask (the prefetch and the panel, two panels) waits
    # for the first and is answered from the cache.
    with _FLIGHTS.lock_for(key):
        return _method_frame(store, key, method_id, max_bytes)


def _method_frame(store: Store, key: tuple[FileKey, str], method_id: str, max_bytes: int | None) -> bytes:
    conn = store.conn
    conn.execute("BEGIN")
    try:
        if conn.execute("SELECT 1 FROM jdsi_method WHERE id = ?", (method_id,)).fetchone() is None:
            raise UnknownMethod(method_id)
        info = method_info(store, method_id)
        if max_bytes is not None:
            sims = int(conn.execute("SELECT count(*) FROM jdsi_simulation").fetchone()[0])
            if sims * len(info.steps) * 12 > max_bytes:
                raise TooLarge(f"the distances of method {method_id[:8]}", sims * len(info.steps) * 12, max_bytes)
        stamp = file_stamp(store)
        cached: _Frame | None = FRAMES.get(key)
        if cached is not None:
            if stamp is not None and cached.stamp == stamp:
                return cached.data
            # The file changed since (a save, or another file copied over this one in place):
            # the same method id with the same row count is the same distances.
            rows = int(conn.execute("SELECT count(*) FROM jdsi_distance WHERE method_id = ?", (method_id,)).fetchone()[0])
            if rows == cached.rows:
                FRAMES.put(key, _Frame(cached.data, rows, stamp))
                return cached.data
        data, rows = _frame(conn, method_id)
    finally:
        rollback(conn)  # a read: ending it either way releases the shared lock
    FRAMES.put(key, _Frame(data, rows, stamp))
    return data


class _Flights:
    """A lock per key while its answer is built; forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: dict[Any, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def lock_for(self, key: Any) -> Iterator[None]:
        with self.lock:
            lock, users = self.locks.get(key, (threading.Lock(), 0))
            self.locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self.lock:
                lock, users = self.locks[key]
                if users == 1:
                    del self.locks[key]
                else:
                    self.locks[key] = (lock, users - 1)


_FLIGHTS = _Flights()


def newest_method(store: Store) -> str | None:
    """The method a panel shows first (the newest one not deleted, as the worker lists them)."""
    row = store.conn.execute(
        "SELECT id FROM jdsi_method WHERE id NOT IN (SELECT record_id FROM jdsi_tombstone) "
        "ORDER BY created_at DESC, rowid DESC LIMIT 1"
    ).fetchone()
    return None if row is None else str(row[0])


def prefetch(path: str | os.PathLike[str], method_id: str) -> None:
    """Build a method's frame into the cache while the panel opens its replica: the panel asks for
    it next. Any error is left for the panel's own request to report."""
    try:
        with Store(path, readonly=True) as store:
            method_frame(store, method_id)
    except Exception:  # noqa: BLE001 - the panel's request meets the same error and says it
        log.debug("prefetching method %s of %s failed", method_id[:8], path, exc_info=True)


def _frame(conn: sqlite3.Connection, method_id: str) -> tuple[bytes, int]:
    """Read the method's rows once, in key order, into the (S, T, 3) cube.

    Python's sqlite3 makes an object of every value it returns, and that is where the time goes
    (~1 s for 400,000 rows of five columns). So the sim ids come as one text per step (usually the
    same text at every step: split once) and the rows as their three numbers only, streamed into
    one numpy array; where the ids cannot be trusted to line up (a separator inside an id, an
    order SQLite did not keep), every row is read with its key instead."""
    groups = conn.execute(
        "SELECT t, count(*), group_concat(sim_id, char(31)) FROM jdsi_distance WHERE method_id = ? "
        "GROUP BY t ORDER BY t",
        (method_id,),
    ).fetchall()
    steps = np.array([int(g[0]) for g in groups], dtype=np.int64)
    counts = [int(g[1]) for g in groups]
    rows = sum(counts)
    lists: dict[str, np.ndarray] = {}
    for _, n, text in groups:
        if text not in lists:
            ids = np.array(text.split(_SEP), dtype=str)
            # Strictly ascending and as many as the rows: the order ORDER BY t, sim_id reads them in.
            if len(ids) != n or not bool(np.all(ids[1:] > ids[:-1])):
                return _frame_by_rows(conn, method_id)
            lists[text] = ids
    if len(lists) == 1:
        sims = next(iter(lists.values()))
        index = {text: np.arange(len(sims)) for text in lists}
    else:
        sims = np.unique(np.concatenate(list(lists.values()))) if lists else np.zeros(0, dtype=str)
        index = {text: np.searchsorted(sims, ids) for text, ids in lists.items()}
    del lists
    cube = np.full((len(sims), len(steps), 3), np.nan, dtype=np.float32)
    values = _values(conn, method_id, rows)
    offset = 0
    for i, (_, n, text) in enumerate(groups):
        cube[index[text], i] = values[offset:offset + n]
        offset += n
    return _encode(method_id, sims.tolist(), steps, cube, rows), rows


_SEP = "\x1f"  # the unit separator group_concat joins sim ids with (char(31))


def _values(conn: sqlite3.Connection, method_id: str, rows: int) -> np.ndarray:
    """The method's (d_shock, d_edge, d_density) rows in key order as float32 (rows, 3), NaN for
    NULL: streamed from the cursor into one array (no list of row tuples, no float64 copy in
    between; each double is rounded to float32 as astype rounds it)."""
    cursor = conn.execute(
        "SELECT ifnull(d_shock, 'nan'), ifnull(d_edge, 'nan'), ifnull(d_density, 'nan') FROM jdsi_distance "
        "WHERE method_id = ? ORDER BY t, sim_id",
        (method_id,),
    )
    try:
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf, as in the frame's cast
            flat = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.float32, count=3 * rows)
    except ValueError as exc:  # fewer rows than counted, or a value that is not a number
        raise DsiError(f"the distances of method {method_id[:8]} could not be read as numbers ({exc})") from exc
    if cursor.fetchone() is not None:
        raise DsiError(f"the distances of method {method_id[:8]} changed while they were read")
    return flat.reshape(rows, 3)


def _frame_by_rows(conn: sqlite3.Connection, method_id: str) -> tuple[bytes, int]:
    """The cube from every row with its key (slower; for ids the fast path cannot split)."""
    cursor = conn.execute(
        "SELECT t, sim_id, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY t, sim_id",
        (method_id,),
    )
    ts: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    values: list[np.ndarray] = []
    while True:
        chunk = cursor.fetchmany(FETCH_ROWS)
        if not chunk:
            break
        t, sim, a, b, c = zip(*chunk)
        ts.append(np.array(t, dtype=np.int64))
        ids.append(np.array(sim, dtype=object))
        values.append(np.array((a, b, c), dtype=np.float64).T)
    rows = sum(len(t) for t in ts)
    if not rows:
        return _encode(method_id, [], np.zeros(0, dtype=np.int64), np.zeros((0, 0, 3), dtype=np.float32), 0), 0
    all_ts = np.concatenate(ts)
    steps = np.unique(all_ts)
    sims, s_index = np.unique(np.concatenate(ids), return_inverse=True)
    cube = np.full((len(sims), len(steps), 3), np.nan, dtype=np.float32)
    cube[s_index, np.searchsorted(steps, all_ts)] = np.concatenate(values)
    return _encode(method_id, [str(s) for s in sims], steps, cube, rows), rows


def _encode(method_id: str, sim_ids: list[str], steps: np.ndarray, cube: np.ndarray, rows: int) -> bytes:
    header: dict[str, Any] = {
        "method": method_id,
        "sim_ids": sim_ids,
        "steps": [int(t) for t in steps],
        "columns": list(COLUMNS),
        "rows": rows,
    }
    BUILDS["frame"] += 1
    return frame_codec.encode(header, cube)

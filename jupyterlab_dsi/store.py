"""The Store: the one writer of a jupyterlab-dsi SQLite file.

Every write, whether it comes from the server extension, the kernel or the CLI, goes through
:class:`Store` inside an ``IMMEDIATE`` transaction with ``journal_mode=DELETE``; SQLite's own file
locking arbitrates between processes. The browser only ever reads a replica.

A file is ours when its header says SQLite and ``PRAGMA application_id`` is :data:`APPLICATION_ID`.
Anything else is refused before a single byte is written, with a message that says what the file
is and what to do instead.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import DsiError

APPLICATION_ID = 0x4A445349  # 'JDSI'
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite's default limit on values bound to one statement (since 3.32). Some builds raise it
# (Debian's allows 250,000): the Store sets it on every connection, so a statement that would
# fail on another machine fails here too, and code that binds many values batches them.
MAX_VARIABLES = 32766
# Batches of bound values stay far below even the old limit of 999.
BATCH = 500
BUSY_TIMEOUT_MS = 15000
MIN_PREFIX = 4  # the shortest id prefix that names a record (like git's): shorter ones collide
SHOWN_IDS = 5  # the candidates an ambiguous prefix lists

# SQLite's result codes (fixed by SQLite; the sqlite3 module names them only from Python 3.11).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT = 5, 6, 8, 10, 11
SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 13, 14, 26
SQLITE_READONLY_DBMOVED = 1032  # the file was moved or unlinked since it was opened
SQLITE_LIMIT_VARIABLE_NUMBER = 9

log = logging.getLogger(__name__)


def _schema_version(text: str) -> int:
    match = re.search(r"^-- schema_version: (\d+)$", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"{SCHEMA_PATH} has no '-- schema_version: N' line")
    return int(match.group(1))


SCHEMA_SQL = SCHEMA_PATH.read_text(encoding="utf-8")
SCHEMA_VERSION = _schema_version(SCHEMA_SQL)

# Upgrades from version N to N + 1, each run inside the one transaction that also bumps
# user_version, so a failed migration leaves the file exactly as it was.
Migration = Callable[[sqlite3.Connection], None]


def _add_metrics(conn: sqlite3.Connection) -> None:
    """1 -> 2: the metrics of sources without field files (Cinema, DSI SQLite, plain CSV).

    Written out rather than taken from schema.sql: a migration must keep creating what version 2
    meant even after a later version changes these tables (tests compare it with schema.sql).
    """
    conn.execute(
        """CREATE TABLE jdsi_metric (
  name     TEXT PRIMARY KEY,
  kind     TEXT NOT NULL CHECK (kind IN ('number', 'text', 'file')),
  per_step INTEGER NOT NULL CHECK (per_step IN (0, 1)),
  unit     TEXT,
  position INTEGER NOT NULL
)"""
    )
    conn.execute(
        """CREATE TABLE jdsi_metric_value (
  name   TEXT NOT NULL REFERENCES jdsi_metric (name),
  t      INTEGER NOT NULL,
  sim_id TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  value,
  PRIMARY KEY (name, t, sim_id)
) WITHOUT ROWID"""
    )


def _add_feature(conn: sqlite3.Connection) -> None:
    """2 -> 3: a dataset's d_feature may weigh any columns, not only d_shock and d_edge; a method
    records its geometry, time matching and field (older methods: the data's own, by index,
    density)."""
    conn.execute("ALTER TABLE jdsi_dataset ADD COLUMN feature TEXT")
    conn.execute("ALTER TABLE jdsi_method ADD COLUMN geometry TEXT")
    conn.execute("ALTER TABLE jdsi_method ADD COLUMN match_time TEXT NOT NULL DEFAULT 'index'")
    conn.execute("ALTER TABLE jdsi_method ADD COLUMN field TEXT NOT NULL DEFAULT 'density'")


# What schema 4 added, as version 4 defined it (see _add_metrics for why it is written out).
RUNS_SQL = """
CREATE TABLE jdsi_split (
  id          TEXT PRIMARY KEY,
  dataset_id  TEXT NOT NULL REFERENCES jdsi_dataset (id),
  names       TEXT NOT NULL,
  fractions   TEXT NOT NULL,
  seed        INTEGER NOT NULL,
  stratify    TEXT,
  digest      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  author      TEXT NOT NULL
);
CREATE TABLE jdsi_split_member (
  split_id TEXT NOT NULL REFERENCES jdsi_split (id),
  sim_id   TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  part     TEXT NOT NULL,
  PRIMARY KEY (split_id, sim_id)
) WITHOUT ROWID;
CREATE TABLE jdsi_run (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  dataset_id   TEXT REFERENCES jdsi_dataset (id),
  split_id     TEXT REFERENCES jdsi_split (id),
  status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  error        TEXT,
  started_at   TEXT NOT NULL,
  ended_at     TEXT,
  heartbeat_at TEXT,
  author       TEXT NOT NULL,
  host         TEXT NOT NULL,
  pid          INTEGER,
  code         TEXT NOT NULL DEFAULT '{}',
  environment  TEXT NOT NULL DEFAULT '{}',
  resources    TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE jdsi_run_param (
  run_id TEXT NOT NULL REFERENCES jdsi_run (id),
  name   TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE TABLE jdsi_run_metric (
  run_id  TEXT NOT NULL REFERENCES jdsi_run (id),
  name    TEXT NOT NULL,
  context TEXT NOT NULL DEFAULT '',
  step    INTEGER NOT NULL DEFAULT 0,
  value   REAL,
  at      REAL NOT NULL
);
CREATE TABLE jdsi_prediction (
  run_id TEXT NOT NULL REFERENCES jdsi_run (id),
  sim_id TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  target TEXT NOT NULL,
  value  REAL,
  sigma2 REAL,
  PRIMARY KEY (run_id, target, sim_id)
) WITHOUT ROWID;
CREATE TABLE jdsi_artifact (
  id         TEXT PRIMARY KEY,
  run_id     TEXT NOT NULL REFERENCES jdsi_run (id),
  kind       TEXT NOT NULL,
  path       TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  copied_to  TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE jdsi_stale (
  record_id TEXT NOT NULL,
  kind      TEXT NOT NULL,
  cause_id  TEXT NOT NULL,
  reason    TEXT NOT NULL,
  found_at  TEXT NOT NULL,
  PRIMARY KEY (record_id, cause_id)
) WITHOUT ROWID;
CREATE INDEX jdsi_split_by_dataset ON jdsi_split (dataset_id);
CREATE INDEX jdsi_run_by_dataset ON jdsi_run (dataset_id);
CREATE INDEX jdsi_run_metric_by_run ON jdsi_run_metric (run_id, name, context, step);
CREATE INDEX jdsi_artifact_by_run ON jdsi_artifact (run_id)
"""


def _add_runs(conn: sqlite3.Connection) -> None:
    """3 -> 4: splits, training runs (params, metric points, predictions, artifacts) and stale marks."""
    for statement in RUNS_SQL.split(";"):
        if statement.strip():
            conn.execute(statement)


# What schema 5 added, as version 5 defined it (see _add_metrics for why it is written out).
PROPOSALS_SQL = """
CREATE TABLE jdsi_proposal (
  id           TEXT PRIMARY KEY,
  created_at   TEXT NOT NULL,
  author       TEXT NOT NULL,
  policy       TEXT NOT NULL,
  study_digest TEXT NOT NULL,
  run_id       TEXT REFERENCES jdsi_run (id),
  dataset_id   TEXT REFERENCES jdsi_dataset (id),
  n            INTEGER NOT NULL
);
CREATE TABLE jdsi_proposal_point (
  proposal_id TEXT NOT NULL REFERENCES jdsi_proposal (id),
  point_id    TEXT NOT NULL,
  component   INTEGER NOT NULL,
  "values"    TEXT NOT NULL,
  PRIMARY KEY (proposal_id, point_id)
) WITHOUT ROWID;
CREATE INDEX jdsi_proposal_by_run ON jdsi_proposal (run_id)
"""


def _add_proposals(conn: sqlite3.Connection) -> None:
    """4 -> 5: recorded active-learning proposals (issue 16 §1) and their points."""
    for statement in PROPOSALS_SQL.split(";"):
        if statement.strip():
            conn.execute(statement)


# What schema 6 added, as version 6 defined it (see _add_metrics for why it is written out).
SIM_PROPOSAL_SQL = """
CREATE TABLE jdsi_sim_proposal (
  sim_id      TEXT PRIMARY KEY REFERENCES jdsi_simulation (sim_id),
  proposal_id TEXT NOT NULL REFERENCES jdsi_proposal (id),
  point_id    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX jdsi_proposal_point_by_point ON jdsi_proposal_point (point_id)
"""


def _add_sim_proposals(conn: sqlite3.Connection) -> None:
    """5 -> 6: which recorded proposal point each ingested simulation was run for (issue 16 §3),
    and the index that finds a point by its id alone (as an ingest does)."""
    for statement in SIM_PROPOSAL_SQL.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: dict[int, Migration] = {1: _add_metrics, 2: _add_feature, 3: _add_runs, 4: _add_proposals,
                                    5: _add_sim_proposals}


class StoreError(DsiError):
    """A database that cannot be opened or written, with the reason and the way out."""


class StoreBusy(StoreError):
    """Another connection held the lock longer than the busy timeout: retrying may succeed."""


class StoreFull(StoreError):
    """The disk, or a file-size limit, left no room to write."""


class StoreReadOnly(StoreError):
    """The file or its folder cannot be written here."""


class StoreReplaced(StoreError):
    """The file at the path is no longer the one this Store opened (moved, deleted, replaced)."""


class StoreDamaged(StoreError):
    """SQLite's integrity check (or the file's own header) says the file is damaged."""


def now() -> str:
    """UTC timestamp, ISO 8601 with milliseconds: sortable as text in SQL."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return str(uuid.uuid4())


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def quote_identifier(name: str) -> str:
    """SQL identifier for an allow-listed name (a parameter from jdsi_parameter)."""
    return '"' + name.replace('"', '""') + '"'


def inspect_file(path: Path) -> tuple[int, int]:
    """(application_id, user_version) of an existing file, read without changing it."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except IsADirectoryError:
        raise StoreError(f"{path}: is a directory, not a database file") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None
    if not header:
        raise StoreError(
            f"{path}: the file is empty, not a jupyterlab-dsi database; "
            "create one with `jupyter dsi ingest ENSEMBLE_DIR --db FILE` (to a new path)"
        )
    if not header.startswith(SQLITE_MAGIC) or len(header) < 100:
        raise StoreError(
            f"{path}: not an SQLite database (the file does not start with the SQLite header); "
            "open a .sqlite file written by `jupyter dsi ingest`"
        )
    # The header holds both numbers at fixed offsets (big-endian): no connection needed, so no
    # journal or lock file is ever created next to a file that is not ours.
    user_version = int.from_bytes(header[60:64], "big")
    application_id = int.from_bytes(header[68:72], "big")
    if header[18] == 2 or header[19] == 2:
        raise StoreError(
            f"{path}: the database is in WAL mode, which jupyterlab-dsi does not write; "
            "checkpoint it with `sqlite3 FILE 'PRAGMA journal_mode=DELETE'` or open a copy"
        )
    return application_id, user_version


def damaged(path: Path | str, exc: BaseException | str) -> StoreError:
    """The one-line error for ``exc``: a sqlite3 error is named for what it is (see
    :func:`explain`); a reason given as text is damage found by the caller's own check."""
    if isinstance(exc, BaseException):
        return explain(path, exc)
    return StoreDamaged(
        f"{path}: the database file is damaged ({exc}); it was left untouched: restore it from a "
        "copy, or ingest the ensemble again into a new file"
    )


def _writable(path: Path) -> bool:
    """Whether this process may write the file and create its journal beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def integrity(path: Path | str) -> tuple[bool, str | None]:
    """(whether the check ran, the first problem it found): ``PRAGMA quick_check`` on a read-only
    connection. Only a problem found here may make an error say "damaged"."""
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=2)
    except (sqlite3.Error, OSError, ValueError):  # not a path this process can open: no verdict
        return False, None
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(1)")]
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return True, str(exc)
        return False, None  # busy, or unreadable for another reason: no verdict
    finally:
        conn.close()
    return True, (None if rows == ["ok"] else "; ".join(rows))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name the OS cannot take (a NUL byte): nothing to probe
        return False


def _no_space(path: Path) -> str | None:
    """Why a write found no room, when the file-size limit or the disk says so."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"this process may write files of at most {soft:,} bytes (ulimit -f)"
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except (OSError, ValueError):
        return None
    # A commit needs about twice what it changes (journal and file): a few MB free is "full".
    return f"{free:,} bytes free on its disk" if free < 16 << 20 else None


def explain(path: Path | str, exc: BaseException) -> StoreError:
    """Name a sqlite3 error for what it is, as one line with the way out.

    "Damaged" only when SQLite's integrity check agrees: a full disk, a read-only folder or a
    lock held too long must never send a user to restore a healthy file from a copy.
    """
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    nothing = "nothing was written"
    if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)) and "binding parameter" in text:
        return StoreError(
            f"{path}: a malformed request: {text} (fields take text, numbers or null); {nothing}: "
            "correct the request"
        )
    if primary in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in text:
        return StoreBusy(
            f"busy: another writer holds {path} longer than {BUSY_TIMEOUT_MS / 1000:g} s; {nothing}: retry"
        )
    if code == SQLITE_READONLY_DBMOVED:
        return _replaced(path)
    if primary in (SQLITE_READONLY, SQLITE_CANTOPEN) or "readonly database" in text:
        where = Path(path)
        if _exists(where) and not os.access(where, os.W_OK):
            return StoreReadOnly(
                f"{path}: the file is read-only here; {nothing}: make it writable "
                "(chmod u+w) or save into a writable copy"
            )
        if _exists(where.parent) and not os.access(where.parent, os.W_OK):
            return StoreReadOnly(
                f"{path}: its folder {where.parent} is read-only here (SQLite writes a journal "
                f"beside the file); {nothing}: make the folder writable or move the database"
            )
        if primary == SQLITE_READONLY:
            return StoreReadOnly(f"{path}: opened read-only ({text}); {nothing}: open it for writing")
        return StoreError(f"{path}: SQLite cannot open the file ({text}); check that it and its folder are readable")
    if primary in (SQLITE_FULL, SQLITE_IOERR):
        why = _no_space(Path(path))
        if primary == SQLITE_FULL or why:
            return StoreFull(
                f"{path}: no space left to write ({why or 'the disk is full'}); {nothing} and the "
                "file is as it was: free space (or raise the limit) and retry"
            )
        return StoreError(
            f"{path}: the disk failed a read or write ({text}); {nothing}: check the disk, then retry"
        )
    if "too many SQL variables" in text:
        return StoreError(
            f"{path}: one statement bound more values than SQLite allows ({MAX_VARIABLES:,}); "
            f"{nothing}: split the request into smaller batches"
        )
    checked, problem = integrity(path)
    if problem is not None:
        return damaged(path, problem)
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        verdict = "although its integrity check finds it sound" if checked else "(its integrity could not be checked now)"
        return StoreError(
            f"{path}: SQLite could not read the file ({text}) {verdict}; it was left untouched: "
            "retry, and copy it before anything else if it persists"
        )
    return StoreError(f"{path}: SQLite refused the request ({text}); {nothing}")


def _replaced(path: Path | str) -> StoreReplaced:
    return StoreReplaced(
        f"{path}: the file was replaced, moved or deleted while it was open here (a rebuild or a "
        "sync tool); nothing was written to the new file: run the job again on it"
    )


def check_complete(path: Path, header: bytes, size: int | None = None) -> None:
    """Refuse a file shorter than its header says (a copy or download cut short).

    Only meaningful on a settled header (:func:`settle`): mid-commit, a live writer's header
    already counts pages that it has not written yet.
    """
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is only valid when the "version-valid-for" number matches the change counter.
    if pages and header[92:96] == header[24:28]:
        expected = pages * page_size
        actual = path.stat().st_size if size is None else size
        if actual < expected:
            raise damaged(path, f"{actual:,} of {expected:,} bytes: truncated")


def settle(path: Path) -> tuple[bytes, int]:
    """The file's header and size once no writer is mid-commit and a hot journal is rolled back.

    A writer killed mid-commit (a crash, a file-size limit) can leave a header that counts pages
    the file never got, beside a journal that restores the file: SQLite rolls that journal back on
    the first read of a connection that may write. So the header is read under SQLite's shared
    lock, through such a connection where the file is writable, never from the bare file.
    """
    journal = Path(f"{path}-journal")
    writable = _writable(path)
    try:
        conn = _connect(path, readonly=not writable)
    except sqlite3.Error as exc:
        raise explain(path, exc) from None
    try:
        conn.execute("BEGIN")
        # The first read takes the shared lock, which is when SQLite plays back a hot journal.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        with path.open("rb") as fh:
            header = fh.read(100)
            size = os.fstat(fh.fileno()).st_size
        conn.execute("COMMIT")
        return header, size
    except sqlite3.Error as exc:
        if not writable and journal.is_file() and journal.stat().st_size > 0:
            raise StoreReadOnly(
                f"{path}: a writer stopped mid-transaction and left {journal.name}, which only a "
                "write can roll back; open the database once where it is writable (any `jupyter dsi` "
                "command that writes) to recover it, and keep the journal: it holds the undo"
            ) from None
        raise explain(path, exc) from None
    finally:
        conn.close()


def check_ours(path: Path) -> int:
    """Refuse a file that is not a jupyterlab-dsi database; return its schema version.

    Rolls back a hot journal first (:func:`settle`), so that a writer that died mid-save never
    makes a healthy file look truncated.
    """
    application_id, _ = inspect_file(path)
    if application_id != APPLICATION_ID:
        hint = f"application_id {application_id:#x}" if application_id else "no application_id"
        raise StoreError(
            f"{path}: not a jupyterlab-dsi database ({hint}); it was left untouched. "
            "Ingest its data with `jupyter dsi ingest SOURCE --db NEW_FILE` instead"
        )
    header, size = settle(path)
    check_complete(path, header, size)
    user_version = int.from_bytes(header[60:64], "big")
    if user_version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer jupyterlab-dsi (schema {user_version}, this one reads "
            f"up to {SCHEMA_VERSION}); upgrade jupyterlab-dsi to open it. The file was left untouched"
        )
    return user_version


def _connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    if hasattr(conn, "setlimit"):  # Python >= 3.11
        conn.setlimit(
            SQLITE_LIMIT_VARIABLE_NUMBER,
            min(MAX_VARIABLES, conn.getlimit(SQLITE_LIMIT_VARIABLE_NUMBER)),
        )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


def rollback(conn: sqlite3.Connection, cause: BaseException | None = None) -> None:
    """Roll back, if a transaction is still open, without ever hiding ``cause``.

    SQLite rolls back by itself after a full disk or an I/O error; a second ROLLBACK then fails
    ("no transaction is active") and must not replace the error that says what happened.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rollback after %r failed: %s", cause, exc)
        if cause is not None and hasattr(cause, "add_note"):  # Python >= 3.11
            cause.add_note(f"(the rollback that followed failed too: {exc})")


def create_schema(conn: sqlite3.Connection) -> None:
    # One transaction: every table, index and both marks commit together (and with one sync to
    # disk instead of one per statement).
    conn.executescript(
        f"BEGIN IMMEDIATE;\n{SCHEMA_SQL}\n"
        f"PRAGMA application_id = {APPLICATION_ID};\n"
        f"PRAGMA user_version = {SCHEMA_VERSION};\n"
        "COMMIT;"
    )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring an older file to SCHEMA_VERSION in one transaction, or leave it as it was.

    The version is read under the write lock: a process that read it earlier may find that
    another one has migrated meanwhile, and must not run the same steps again.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise StoreError(
                    f"{path}: schema {version} cannot be upgraded to {SCHEMA_VERSION} "
                    "(no migration known); the file was left untouched"
                )
            step(conn)
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException as exc:
        rollback(conn, exc)
        raise


class Store:
    """A jupyterlab-dsi database file, opened for reading and writing.

    Use :meth:`create` for a new file (written to a temporary name, then moved into place, so a
    crash never leaves half a database) and ``Store(path)`` for an existing one.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(
                f"{self.path}: no such database; create it with "
                "`jupyter dsi ingest ENSEMBLE_DIR --db FILE`"
            )
        version = check_ours(self.path)  # rolls back a hot journal first
        self.readonly = readonly
        if version < SCHEMA_VERSION and readonly:
            # A migration only adds, in one transaction: upgrade the file once so that readers
            # (the panel, %dsi, select) keep working on databases written by older versions.
            if not _writable(self.path):
                raise StoreReadOnly(
                    f"{self.path}: schema {version} is older than {SCHEMA_VERSION} and the file is "
                    "read-only here; open it once for writing (any `jupyter dsi` command that "
                    "writes) where it is writable, or copy it"
                )
            Store(self.path).close()
            version = SCHEMA_VERSION
        # Which file this is: a write commits only while the path still names it (see write()).
        before = self._stat_identity()
        try:
            self.conn = _connect(self.path, readonly=readonly)
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None
        try:
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = DELETE")
            if version < SCHEMA_VERSION:
                migrate(self.conn, self.path)
            from .filter import register_sql_functions

            register_sql_functions(self.conn)
            # Reads page 1 and the schema: garbage behind an intact header fails here, as one line.
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self._identity = self._stat_identity()
            if self._identity != before:
                raise _replaced(self.path)
        except sqlite3.Error as exc:
            self.conn.close()
            raise explain(self.path, exc) from None
        except BaseException:
            # A failed open (a migration that raised) must not keep the file open.
            self.conn.close()
            raise

    def _stat_identity(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise _replaced(self.path) from None
        return st.st_dev, st.st_ino

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], fill: Callable[[Store], None] | None = None
    ) -> Store:
        """Create a new database at ``path``, run ``fill`` on it, and only then move it there."""
        target = Path(path)
        if target.exists():
            raise StoreError(f"{target}: already exists; choose a new path or ingest into it")
        if not target.parent.is_dir():
            raise StoreError(f"{target.parent}: no such folder for the new database")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        store: Store | None = None
        try:
            # mkstemp makes the file private (0600); a database is shared like any other file.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
            conn = _connect(tmp_path)
            try:
                conn.execute("PRAGMA journal_mode = DELETE")
                create_schema(conn)
            finally:
                conn.close()
            store = cls(tmp_path)
            if fill is not None:
                fill(store)
            store.close()
            try:  # a hard link fails if the target appeared meanwhile: never overwrite
                os.link(tmp_path, target)
            except FileExistsError:
                raise StoreError(f"{target}: appeared while it was being created; left untouched") from None
            except OSError:  # a file system without hard links
                if target.exists():
                    raise StoreError(f"{target}: appeared while it was being created; left untouched") from None
                os.replace(tmp_path, target)
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
        except BaseException:
            if store is not None:  # close first: an open file cannot be removed on Windows
                store.close()
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            with contextlib.suppress(OSError):
                Path(str(tmp_path) + "-journal").unlink()
            raise
        return cls(target)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        if self.readonly:
            raise StoreReadOnly(f"{self.path}: opened read-only")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # busy, read-only, full: named for what it is
            raise explain(self.path, exc) from exc
        try:
            yield self.conn
            # A file moved over this path (a rebuild's `mv`, a sync tool) leaves this connection
            # on the old, unlinked file: committing there would report a save nobody can see.
            if self._stat_identity() != self._identity:
                raise _replaced(self.path)
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            rollback(self.conn, exc)
            raise explain(self.path, exc) from exc
        except BaseException as exc:
            # Constraint and type errors stay as they are: callers inside tell them apart.
            rollback(self.conn, exc)
            raise

    @staticmethod
    def log_event(
        conn: sqlite3.Connection, kind: str, record_id: str, payload: dict[str, Any] | None = None
    ) -> None:
        conn.execute(
            "INSERT INTO jdsi_event (at, kind, record_id, payload) VALUES (?, ?, ?, ?)",
            (now(), kind, record_id, json.dumps(payload or {}, sort_keys=True)),
        )

    def snapshot(self) -> bytes:
        """The whole database as bytes at one consistent moment (for the browser's replica)."""
        self.conn.execute("BEGIN")
        try:
            return self.conn.serialize()
        finally:
            rollback(self.conn)  # a read: ending it either way releases the shared lock

    # -- reads -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        q = self.conn.execute
        times = [len(json.loads(r[0])) for r in q("SELECT times FROM jdsi_simulation")]
        return {
            "simulations": q("SELECT count(*) FROM jdsi_simulation").fetchone()[0],
            "time_steps": max(times, default=0),
            "parameters": q("SELECT count(*) FROM jdsi_parameter").fetchone()[0],
            "methods": q("SELECT count(*) FROM jdsi_method").fetchone()[0],
            "datasets": q(
                "SELECT count(*) FROM jdsi_dataset WHERE id NOT IN "
                "(SELECT record_id FROM jdsi_tombstone)"
            ).fetchone()[0],
        }

    def parameters(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT name, kind, levels, unit FROM jdsi_parameter ORDER BY position"
        ).fetchall()
        return [
            {
                "name": r["name"],
                "kind": r["kind"],
                "levels": json.loads(r["levels"]) if r["levels"] is not None else None,
                "unit": r["unit"],
            }
            for r in rows
        ]

    def sim_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")]

    def methods(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            """SELECT m.id, g.sim_id AS ground_truth, m.norm, m.gt_time, m.description,
                      m.code_version, m.created_at, m.parent_id, m.geometry, m.match_time,
                      m.field
               FROM jdsi_method m JOIN jdsi_ground_truth g ON g.id = m.ground_truth_id
               ORDER BY m.created_at DESC, m.id"""
        ).fetchall()
        return [dict(r) for r in rows]

    def resolve_method(self, ref: str) -> dict[str, Any]:
        """A method by its id or a unique prefix of it (at least 4 characters), like git."""
        methods = self.methods()
        if not methods:
            raise StoreError(
                f"{self.path}: no methods yet; compute one with "
                "`jupyter dsi postprocess --db FILE --ground-truth SIM_ID --norm L2`"
            )
        exact = [m for m in methods if m["id"] == ref]
        if exact:
            return exact[0]
        found = [m for m in methods if len(ref) >= MIN_PREFIX and m["id"].startswith(ref)]
        if len(found) == 1:
            return found[0]
        known = ", ".join(m["id"][:8] for m in methods[:10])
        why = "is ambiguous" if found else "is not a method of this database"
        raise StoreError(f"method {ref!r} {why}; known methods: {known} (see `jupyter dsi methods`)")


# What resolve_prefix says, per case; a caller replaces any of them. Fields: what, ref, path,
# min, count, shown, more, known, see, make.
PREFIX_MESSAGES = {
    "invalid": "a {what} is named by its id or a prefix of it, not {ref!r}",
    "none yet": "{path}: no {what}s yet; {make}",
    "too short": "{what} prefix {ref!r} is too short: give at least {min} characters of the id{see}",
    "ambiguous": "{what} prefix {ref!r} is ambiguous: it starts {count} ids ({shown}{more}); give more characters",
    "unknown": "{what} {ref!r} is not a {what} of this database; known {what}s: {known}{see}",
}


def resolve_prefix(store: Store, table: str, ref: Any, *, what: str, error: type[DsiError],
                   columns: str = "id", order: str = "id", see: str = "", make: str = "",
                   messages: dict[str, str] | None = None) -> sqlite3.Row:
    """The row (``columns``) of ``table`` whose id is ``ref`` or starts with it (a prefix of >=
    MIN_PREFIX characters, compared exactly); else one line as ``error``: ``ref`` is not text,
    the table is empty (``make`` says how to fill it), too short, ambiguous (listing SHOWN_IDS
    whole ids, or a ``shown`` column when ``columns`` has one), or unknown (listing the first ten ids in ``order``, shortened). ``table``,
    ``columns`` and ``order`` are SQL from the caller, never input; ``see`` ends the too-short
    and unknown messages (e.g. " (see `jupyter dsi runs`)")."""
    said = {**PREFIX_MESSAGES, **(messages or {})}
    fields: dict[str, Any] = {"what": what, "ref": ref, "path": store.path, "min": MIN_PREFIX, "see": see,
                              "make": make}

    def fail(case: str, **more: Any) -> DsiError:
        return error(said[case].format(**fields, **more))

    if not isinstance(ref, str) or not ref.strip():
        raise fail("invalid")
    q = store.conn.execute
    row = q(f"SELECT {columns} FROM {table} WHERE id = ? ORDER BY {order} LIMIT 1", (ref,)).fetchone()
    if row is not None:
        return row
    if q(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
        raise fail("none yet")
    if len(ref) < MIN_PREFIX:
        raise fail("too short")
    found = q(f"SELECT {columns} FROM {table} WHERE substr(id, 1, ?) = ? ORDER BY {order}", (len(ref), ref)).fetchall()
    if len(found) == 1:
        return found[0]
    if found:
        more = f" and {len(found) - SHOWN_IDS} more" if len(found) > SHOWN_IDS else ""
        shown = ", ".join(r["shown"] if "shown" in r.keys() else r["id"] for r in found[:SHOWN_IDS])
        raise fail("ambiguous", count=len(found), shown=shown, more=more)
    known = ", ".join(r[0][:8] for r in q(f"SELECT id FROM {table} ORDER BY {order} LIMIT 10"))
    raise fail("unknown", known=known)

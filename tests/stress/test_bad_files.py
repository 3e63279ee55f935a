"""Files that are not (writable) jupyterlab-dsi databases: one clear line from the Store, the CLI
and the server, and not one byte of the file (or its -wal) changed."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.store import Store

from .stresskit import LiveServer, dsi, sha256


def _variants(good: Path, root: Path) -> dict[str, Path]:
    data = good.read_bytes()
    rng = random.Random(3)
    out: dict[str, bytes] = {"empty": b"", "random": rng.randbytes(8192),
                             "header-then-random": data[:100] + rng.randbytes(8192)}
    for cut in (50, 100, 1000, 4096, len(data) // 2, len(data) - 1):
        out[f"truncated-{cut}"] = data[:cut]
    paths = {}
    for name, content in out.items():
        paths[name] = root / f"{name}.sqlite"
        paths[name].write_bytes(content)
    other = root / "other-app.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('mine')")
    conn.close()
    paths["other-app"] = other
    newer = shutil.copy(good, root / "newer.sqlite")
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    paths["newer-schema"] = Path(newer)
    paths["wal"] = _wal_copy(good, root)
    return paths


def _wal_copy(good: Path, root: Path) -> Path:
    """A copy in WAL mode with committed pages still in its -wal file (as a live writer leaves it)."""
    work = root / "wal-work"
    work.mkdir()
    db = Path(shutil.copy(good, work / "wal.sqlite"))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("INSERT INTO jdsi_event (at, kind, record_id, payload) VALUES ('x', 'wal', 'w', '{}')")
    conn.commit()
    target = root / "wal.sqlite"
    shutil.copy(db, target)
    shutil.copy(f"{db}-wal", f"{target}-wal")
    conn.close()
    return target


def _fingerprint(path: Path) -> tuple[Any, ...]:
    return sha256(path), sha256(Path(f"{path}-wal")), os.path.exists(f"{path}-journal")


@pytest.fixture(scope="module")
def bad(shared_method: tuple[Any, Path, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("bad-root")
    paths = _variants(shared_method[1], root)
    with LiveServer(root) as server:
        yield {"paths": paths, "server": server}


# Files with an intact 100-byte header but damaged or missing pages (found by this suite: they
# used to escape as a raw sqlite3.DatabaseError, a traceback and an HTTP 500).
CASES = ["empty", "random", "truncated-50", "other-app", "newer-schema", "wal", "truncated-last-byte"] + [
    c for c in ("header-then-random", "truncated-100", "truncated-1000", "truncated-4096", "truncated-half")
]


def _path(bad: dict[str, Any], case: str) -> Path:
    paths = bad["paths"]
    if case == "truncated-half":
        return sorted((p for k, p in paths.items() if k.startswith("truncated-")), key=lambda p: p.stat().st_size)[-2]
    if case == "truncated-last-byte":
        return sorted((p for k, p in paths.items() if k.startswith("truncated-")), key=lambda p: p.stat().st_size)[-1]
    return paths[case]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_file_gets_one_clear_line_and_stays_as_it_was(bad: dict[str, Any], case: str, figures: Any) -> None:
    path = _path(bad, case)
    before = _fingerprint(path)
    problems = []
    # The Store: a DsiError with one line (not a raw sqlite3 error), on open or on first read.
    try:
        with Store(path) as store:
            store.counts()
        # SQLite ignores a partial last page: a file one byte short still reads (its
        # header's page count is intact); no error is then the right answer.
        if case != "truncated-last-byte":
            problems.append("Store: opened and read without an error")
    except DsiError as exc:
        if "\n" in str(exc):
            problems.append(f"Store: message of several lines: {exc!r}")
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        problems.append(f"Store: {type(exc).__name__}: {exc}")
    # The CLI: exit 2 with one `error:` line, no traceback.
    res = dsi("datasets", "--db", path)
    if case == "truncated-last-byte" and res.returncode == 0:
        pass
    elif res.returncode != 2 or len(res.stderr.strip().splitlines()) != 1 or "error:" not in res.stderr:
        problems.append(f"CLI: exit {res.returncode}, stderr {res.stderr.strip()[-200:]!r}")
    # The server: a 4xx with a JSON message, never a 500.
    status, body = bad["server"].call(f"db?path={path.name}")
    if case == "truncated-last-byte" and status == 200:
        pass
    elif not (400 <= status < 500 and isinstance(body, dict) and "\n" not in body.get("message", "\n")):
        problems.append(f"server: {status} {str(body)[:200]!r}")
    figures.add("ops", 3)
    figures.add("hostile")
    figures.add("lost", int(_fingerprint(path) != before))
    assert _fingerprint(path) == before, "the file or its -wal changed"
    assert not problems, "\n".join(problems)

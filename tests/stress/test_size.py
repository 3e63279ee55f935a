"""A 1M-row, ~300 MB database: the server announces its size before the body (so the panel's
maxDatabaseMB limit can refuse it first), and `jupyter dsi select` stays within a memory bound."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .stresskit import LiveServer, copy_db

SIMS, STEPS = 50_000, 20  # 1,000,000 distance rows
PAD_MB = 200
MEMORY_BOUND_MB = 1024
PANEL_DEFAULT_LIMIT_MB = 512  # schema/plugin.json maxDatabaseMB


# `jupyter dsi ARGS`, then its peak resident memory on stderr.
PEAK = ("import sys; from jupyterlab_dsi.cli import main; code = main(sys.argv[1:]); sys.stdout.flush(); "
        "sys.stderr.write(open('/proc/self/status').read()); sys.exit(code)")


@pytest.fixture(scope="module")
def big(shared_method: tuple[Any, Path, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    _, source, method = shared_method
    db = copy_db(source, tmp_path_factory.mktemp("big") / "big.sqlite")
    import sqlite3

    conn = sqlite3.connect(db)
    src = conn.execute("SELECT source_id FROM jdsi_simulation LIMIT 1").fetchone()[0]
    ids = [f"b{i:06d}" for i in range(SIMS)]
    times = json.dumps(list(range(STEPS)))
    with conn:
        conn.executemany("INSERT INTO jdsi_simulation (sim_id, times, source_id) VALUES (?, ?, ?)",
                         ((s, times, src) for s in ids))
        conn.executemany("INSERT INTO jdsi_distance VALUES (?, ?, ?, ?, ?, ?)",
                         ((method, t, s, i * 1e-5, t * 0.1, 0.5) for i, s in enumerate(ids) for t in range(STEPS)))
        pad = "p" * (1024 * 1024)
        conn.executemany("INSERT INTO jdsi_event (at, kind, record_id, payload) VALUES ('x', 'pad', ?, ?)",
                         ((str(i), json.dumps({"pad": pad})) for i in range(PAD_MB)))
    conn.close()
    return db, method


def test_the_server_announces_the_size_first(big: tuple[Path, str], figures: Any) -> None:
    """The panel's copy (the replica: every table but the distances' rows) is announced by its
    length, and refused before it is built when above the panel's limit (?max_bytes)."""
    db, _ = big
    size = db.stat().st_size
    with LiveServer(db.parent) as server:
        host, port = server.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=300)
        headers = {"Authorization": f"token {server.token}"}
        conn.request("GET", "/jupyterlab-dsi/db?path=big.sqlite&max_bytes=1048576", headers=headers)
        refused = conn.getresponse()
        message = json.loads(refused.read())["message"]
        conn.request("GET", "/jupyterlab-dsi/db?path=big.sqlite", headers=headers)
        response = conn.getresponse()
        length = int(response.getheader("Content-Length") or -1)
        conn.close()  # the panel stops here when the length is above its limit
    figures.add("ops", 2)
    figures.note("db_file_MB", round(size / 1048576, 1))
    figures.note("content_length_MB", round(length / 1048576, 1))
    assert refused.status == 413 and "maxDatabaseMB" in message, message
    assert response.status == 200
    # The event pads are in the replica; the 1,000,000 distance rows are not.
    assert PAD_MB * 1048576 < length < size - 20 * 1048576
    assert size > 250 * 1048576 and (length <= PANEL_DEFAULT_LIMIT_MB * 1048576)


def test_select_stays_within_a_memory_bound(big: tuple[Path, str], figures: Any) -> None:
    db, method = big
    peaks = {}
    for label, extra in (("one_step", ["--time", "3"]), ("all_steps", [])):
        # VmHWM of the process after exec: ru_maxrss would count the forked copy of pytest.
        proc = subprocess.Popen([sys.executable, "-c", PEAK, "select", "--db", str(db), "--method", method,
                                 "--format", "csv", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rows = sum(1 for _ in proc.stdout) - 1  # type: ignore[union-attr]
        err = proc.stderr.read()  # type: ignore[union-attr]
        assert proc.wait() == 0, err
        peaks[label] = round(int(err.split("VmHWM:")[1].split()[0]) / 1024)
        figures.note(f"select_{label}_rows", rows)
        figures.note(f"select_{label}_peak_MB", peaks[label])
        figures.add("ops")
    assert all(mb < MEMORY_BOUND_MB for mb in peaks.values()), peaks

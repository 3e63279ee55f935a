"""kill -9 in the middle of writes (a Store writer, the server, a kernel) and a lost answer:
afterwards the file opens, is intact, and holds exactly what was acknowledged (plus, at most, the
one write in flight, whole)."""

from __future__ import annotations

import json
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi import datasets as ds
from jupyterlab_dsi.store import Store

from .stresskit import MAGIC_SAVE, LiveServer, copy_db, dsi, integrity, query, save_body, start_kernel

BATCH = 30_000
# A writer that alternates a big transaction (BATCH events) and a dataset save, and says on
# stdout what each commit acknowledged.
WRITER = f"""
import sys, uuid
from jupyterlab_dsi.store import Store
from jupyterlab_dsi.datasets import save_dataset
with Store(sys.argv[1]) as store:
    for k in range(1000):
        with store.write() as conn:
            for i in range({BATCH}):
                Store.log_event(conn, "stress.batch", f"{{sys.argv[2]}}-{{k}}", {{"i": i}})
        print("BATCH", k, flush=True)
        rec = save_dataset(store, members=["s01", "s02"], description=f"writer {{k}}", method_id=None, t=1,
                           dataset_id=str(uuid.uuid4()))
        print("ACK", rec["id"], rec["digest"], flush=True)
"""


def _acks(lines: list[str]) -> tuple[set[int], dict[str, str]]:
    batches = {int(x.split()[1]) for x in lines if x.startswith("BATCH ")}
    saves = {x.split()[1]: x.split()[2] for x in lines if x.startswith("ACK ")}
    return batches, saves


def _check(db: Path, saves: dict[str, str]) -> int:
    """Assert the file is whole and holds every acknowledged save; return how many were lost."""
    assert integrity(db) == "ok"  # a read-write open: SQLite rolls a hot journal back here
    res = dsi("datasets", "--db", db, "--all", "--format", "json")
    assert res.returncode == 0, res.stderr
    listed = {d["id"]: d["digest"] for d in json.loads(res.stdout)}
    # A journal may stay behind (SQLite leaves one it judges not hot); the next write must still
    # work and keep everything acknowledged.
    with Store(db) as store:
        ds.save_dataset(store, members=["s00"], description="after the crash", method_id=None, t=1)
    assert integrity(db) == "ok"
    return sum(1 for i, dig in saves.items() if listed.get(i) != dig)


def _crash_with_hot_journal(db: Path) -> None:
    """Kill a writer once its transaction has spilled into the database file."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "hot"], stdout=subprocess.PIPE, text=True)
    journal, size = Path(f"{db}-journal"), db.stat().st_size
    deadline = time.monotonic() + 60
    # Pages written to the file itself (the cache spilled) make the journal hot.
    while not (journal.exists() and db.stat().st_size > size + 100_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_read_only_commands_after_a_writer_crash(shared_method: tuple[Any, Path, str], tmp_path: Path,
                                                 figures: Any) -> None:
    """What a user runs first after a crashed job: `jupyter dsi datasets`, or reopens the panel."""
    db = copy_db(shared_method[1], tmp_path / "root" / "ens.sqlite")
    _crash_with_hot_journal(db)
    figures.add("faults")
    res = dsi("datasets", "--db", db)
    with LiveServer(db.parent) as server:
        status, _ = server.call("db?path=ens.sqlite")
    figures.add("ops", 2)
    assert (res.returncode, status) == (0, 200), res.stderr[-300:]


def test_kill_a_store_writer_mid_transaction(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    db = copy_db(shared_method[1], tmp_path / "ens.sqlite")
    rng = random.Random(11)
    lost = 0
    all_saves: dict[str, str] = {}
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"round{round_}"], stdout=subprocess.PIPE, text=True)
        lines = _until_acknowledged(proc)
        time.sleep(rng.uniform(0.0, 2.0))  # then kill at a random point of the next batches
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        batches, saves = _acks(lines + out.splitlines())
        assert saves, f"round {round_}: the writer acknowledged nothing before it was killed"
        all_saves.update(saves)
        lost += _check(db, all_saves)
        figures.add("faults")
        figures.add("ops", len(batches) + len(saves))
        # Each batch is all or nothing: the one in flight when killed left no row behind.
        counts = dict(query(db, "SELECT record_id, count(*) FROM jdsi_event WHERE kind = 'stress.batch' "
                                "GROUP BY record_id"))
        assert set(counts.values()) <= {BATCH}
    figures.add("lost", lost)
    assert len(all_saves) >= 8 and lost == 0


def _until_acknowledged(proc: subprocess.Popen[str]) -> list[str]:
    """The writer's lines up to its first acknowledged save (it prints one within seconds)."""
    assert proc.stdout is not None
    timer = threading.Timer(120, proc.kill)  # a writer that hangs must not hang the test
    timer.start()
    try:
        lines: list[str] = []
        while not lines or not lines[-1].startswith("ACK "):
            line = proc.stdout.readline()
            assert line, "the writer exited before it acknowledged a save"
            lines.append(line.rstrip("\n"))
        return lines
    finally:
        timer.cancel()


def _poster(server: LiveServer, method: str, acked: dict[str, str], stop: threading.Event) -> None:
    while not stop.is_set():
        body = save_body(method, ["s01", "s03", "s05"])
        try:
            status, record = server.call("datasets?path=ens.sqlite", "POST", body)
        except OSError:  # the server is gone
            return
        if status == 201:
            acked[record["id"]] = record["digest"]


def test_kill_the_server_mid_save(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    _, source, method = shared_method
    db = copy_db(source, tmp_path / "root" / "ens.sqlite")
    acked: dict[str, str] = {}
    rng = random.Random(5)
    for round_ in range(2):
        server = LiveServer(db.parent)
        stop = threading.Event()
        before = len(acked)
        posters = [threading.Thread(target=_poster, args=(server, method, acked, stop)) for _ in range(3)]
        for p in posters:
            p.start()
        deadline = time.monotonic() + 60
        while len(acked) == before and time.monotonic() < deadline:  # kill only once some are in
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        server.kill()
        stop.set()
        for p in posters:
            p.join(timeout=60)
        assert len(acked) > before, f"server {round_}: no save was acknowledged before the kill"
        figures.add("faults")
    lost = _check(db, acked)
    figures.add("ops", len(acked))
    figures.add("lost", lost)
    assert acked and lost == 0


def test_kill_a_kernel_mid_magic_save(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    _, source, method = shared_method
    db = copy_db(source, tmp_path / "ens.sqlite")
    acked: dict[str, str] = {}
    for delay in (0.05, 0.3):
        kernel = start_kernel(tmp_path)
        before = len(acked)
        # One save acknowledged in full, then one killed after `delay`.
        first = MAGIC_SAVE.format(db=shlex.quote(str(db)), method=method, where="''", description="'acknowledged'")
        out = kernel.execute(first)["stdout"]
        for line in out.splitlines():
            if line.startswith("ACK "):
                ack = json.loads(line[4:])
                acked[ack["id"]] = ack["digest"]
        assert len(acked) == before + 1, out
        cell = MAGIC_SAVE.format(db=shlex.quote(str(db)), method=method, where="''", description="'killed'")
        kernel.kc.execute(cell * 1, store_history=False)
        time.sleep(delay)
        kernel.km.signal_kernel(signal.SIGKILL)
        figures.add("faults")
        while True:  # what the kernel managed to acknowledge before it died
            try:
                msg = kernel.kc.get_iopub_msg(timeout=1)
            except Exception:
                break
            text = msg["content"].get("text", "")
            for line in text.splitlines():
                if line.startswith("ACK "):
                    ack = json.loads(line[4:])
                    acked[ack["id"]] = ack["digest"]
        kernel.kc.stop_channels()
        kernel.km.cleanup_resources()
    lost = _check(db, acked)
    figures.add("ops", len(acked))
    figures.add("lost", lost)
    assert len(acked) >= 2 and lost == 0


def test_a_lost_answer_retried_with_the_same_id(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    _, source, method = shared_method
    db = copy_db(source, tmp_path / "root" / "ens.sqlite")
    with LiveServer(db.parent) as server:
        body = save_body(method, ["s00", "s02"])
        raw = json.dumps(body).encode()
        host, port = server.url.removeprefix("http://").split(":")
        # Send the request, then hang up without reading the answer: the client never learns.
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                f"POST /jupyterlab-dsi/datasets?path=ens.sqlite HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: token {server.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n".encode() + raw
            )
        figures.add("faults")
        time.sleep(0.5)
        statuses = [server.call("datasets?path=ens.sqlite", "POST", body)[0] for _ in range(3)]
        figures.add("ops", 4)
    assert statuses == [201, 201, 201]
    with Store(db, readonly=True) as store:
        same = [d for d in ds.list_datasets(store, include_deleted=True) if d["id"] == body["id"]]
        figures.add("lost", 1 - len(same) if len(same) <= 1 else 0)
        assert len(same) == 1 and ds.members(store, body["id"]) == ["s00", "s02"]
    assert integrity(db) == "ok"
    assert uuid.UUID(body["id"])

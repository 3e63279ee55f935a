"""The server extension in a real Jupyter server: authentication, confinement, and the panel's
writes going through the Store (a retry never duplicates, a delete is undone)."""

from __future__ import annotations

import contextlib
import getpass
import http.client
import json
import logging
import os
import random
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REALDATA

TOKEN = "test-token-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(root: Path, token: str, *options: str, log: Path) -> Iterator[int]:
    """jupyter_server in a subprocess serving ``root`` with ``token`` and ``options`` (e.g.
    ``--DSIConfig.store_timeout=2``), its output in ``log``: answers its port once /api/status
    answers, and terminates it on leaving."""
    port = _free_port()
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.open_browser=False", f"--IdentityProvider.token={token}",
             "--ServerApp.allow_root=True", *options],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_TOKEN": token},
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"jupyter server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# Short, so that the lock tests see "busy" quickly; far above what a request takes otherwise.
STORE_TIMEOUT = 2
MAX_QUEUED = 1
LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes stdin
conn.execute("ROLLBACK")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_method: tuple[Any, Path, str]) -> Iterator[dict[str, Any]]:
    _, db, method_id = shared_method
    root = tmp_path_factory.mktemp("root")
    shutil.copy(db, root / "ens.sqlite")
    (root / "notes.db").write_bytes(b"not a database\n" * 20)
    # Real databases where the server must not reach: outside its root, and in hidden folders.
    outside = root.parent / f"outside-{uuid.uuid4().hex}"
    outside.mkdir()
    shutil.copy(db, outside / "secret.sqlite")
    (root / "link.sqlite").symlink_to(outside / "secret.sqlite")
    for hidden in (".hidden", "sub/.git", ".ipynb_checkpoints"):
        (root / hidden).mkdir(parents=True)
        shutil.copy(db, root / hidden / "ens.sqlite")
    (root / "sub" / "ens.sqlite").symlink_to(root / ".hidden" / "ens.sqlite")
    shutil.copy(db, root / ".dotfile.sqlite")
    log = root.parent / f"server-{uuid.uuid4().hex}.log"
    with running_server(root, TOKEN, f"--DSIConfig.store_timeout={STORE_TIMEOUT}",
                        f"--DSIConfig.max_queued_jobs={MAX_QUEUED}", log=log) as port:
        yield {"base": f"http://127.0.0.1:{port}/jupyterlab-dsi", "root": root, "method": method_id,
               "outside": outside, "log": log, "status": f"http://127.0.0.1:{port}/api/status"}


def call(url: str, method: str = "GET", body: Any = None, token: str | None = TOKEN, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        status = exc.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def test_every_endpoint_needs_authentication(server: dict[str, Any]) -> None:
    for endpoint in ("db?path=ens.sqlite", "config", "datasets?path=ens.sqlite", "events?path=ens.sqlite", "jobs"):
        status, _ = call(f"{server['base']}/{endpoint}", token=None)
        assert status == 403, endpoint
    status, _ = call(f"{server['base']}/methods?path=ens.sqlite", "POST", {"ground_truth": "s00", "norm": "L1"}, token=None)
    assert status == 403


def test_get_db_is_the_replica(server: dict[str, Any]) -> None:
    """An SQLite file of the database without its distances' rows (tests/test_replica.py has the rest)."""
    status, payload = call(f"{server['base']}/db?path=ens.sqlite")
    assert status == 200
    assert payload[:16] == b"SQLite format 3\x00"
    conn = sqlite3.connect(":memory:")
    conn.deserialize(payload)
    assert conn.execute("SELECT count(*) FROM jdsi_distance").fetchone() == (0,)
    assert conn.execute("SELECT method_id FROM jdsi_replica_method").fetchall() == [(server["method"],)]
    conn.close()


def _outside(server: dict[str, Any]) -> str:
    return f"../{server['outside'].name}/secret.sqlite"


@pytest.mark.parametrize("endpoint", ["db", "datasets", "events"])
@pytest.mark.parametrize("path", ["OUT", "a/../OUT", "link.sqlite"])
def test_paths_never_leave_the_root(server: dict[str, Any], endpoint: str, path: str) -> None:
    """The targets exist and are real databases: only confinement refuses them."""
    target = path.replace("OUT", _outside(server))
    assert (Path(server["root"]) / target).resolve().is_file()
    status, body = call(f"{server['base']}/{endpoint}?path={urllib.request.quote(target)}")
    assert status == 403, body
    assert "outside the server's root" in body["message"]
    assert str(server["root"]) not in json.dumps(body)


def test_an_absolute_path_is_read_under_the_root(server: dict[str, Any]) -> None:
    secret = server["outside"] / "secret.sqlite"
    assert secret.is_file()
    status, body = call(f"{server['base']}/db?path={urllib.request.quote(str(secret))}")
    assert status == 404 and "no such file" in body["message"]


@pytest.mark.parametrize("path", [".hidden/ens.sqlite", "sub/.git/ens.sqlite", ".ipynb_checkpoints/ens.sqlite",
                                  ".dotfile.sqlite", "sub/ens.sqlite", "./.hidden/../.hidden/ens.sqlite"])
def test_hidden_files_are_not_served(server: dict[str, Any], path: str) -> None:
    """Each target is a real database (sub/ens.sqlite links into .hidden)."""
    assert (Path(server["root"]) / path).resolve().is_file()
    for endpoint in ("db", "datasets", "events"):
        status, body = call(f"{server['base']}/{endpoint}?path={urllib.request.quote(path)}")
        assert status == 403 and "hidden" in body["message"], (endpoint, body)
    status, body = call(f"{server['base']}/methods?path={urllib.request.quote(path)}", "POST",
                        {"ground_truth": "s00", "norm": "L2"})
    assert status == 403 and "hidden" in body["message"]


@pytest.mark.parametrize("path", ["x" * 300 + ".sqlite", "/".join(["d" * 250] * 20) + "/ens.sqlite"])
def test_a_path_the_os_cannot_take_is_a_4xx_never_a_500(server: dict[str, Any], path: str) -> None:
    """A name longer than the file system allows makes Path.is_file() raise on Python 3.11."""
    for endpoint in ("db", "datasets", "events"):
        status, body = call(f"{server['base']}/{endpoint}?path={urllib.request.quote(path)}")
        assert 400 <= status < 500, (endpoint, status, body)
        assert "\n" not in body["message"] and "Traceback" not in body["message"]
    status, body = call(f"{server['base']}/methods?path={urllib.request.quote(path)}", "POST",
                        {"ground_truth": "s00", "norm": "L2"})
    assert 400 <= status < 500, (status, body)


def test_a_file_that_is_not_ours_gets_a_clear_message(server: dict[str, Any]) -> None:
    status, body = call(f"{server['base']}/db?path=notes.db")
    assert status == 422
    assert "not an SQLite database" in body["message"]
    assert str(server["root"]) not in body["message"]


def _save(server: dict[str, Any], **extra: Any) -> tuple[int, Any]:
    body = {"members": ["s01", "s02", "s03"], "description": "panel save", "name": "from the panel",
            "method_id": server["method"], "t": 1, "weights": {"shock": 1, "edge": 0.5},
            "filter": "d_density < 1", "selection_kind": "brush", "settings": {"colorBy": "cs"}, **extra}
    return call(f"{server['base']}/datasets?path=ens.sqlite", "POST", body)


def test_a_retried_save_makes_no_duplicate(server: dict[str, Any]) -> None:
    dataset_id = str(uuid.uuid4())
    first = _save(server, id=dataset_id)
    second = _save(server, id=dataset_id)
    assert first[0] == second[0] == 201
    assert first[1]["id"] == second[1]["id"] == dataset_id
    status, listed = call(f"{server['base']}/datasets?path=ens.sqlite")
    assert [d["id"] for d in listed].count(dataset_id) == 1


def test_delete_and_undo(server: dict[str, Any]) -> None:
    status, record = _save(server, id=str(uuid.uuid4()), description="to delete")
    assert status == 201
    dataset = record["id"]
    assert call(f"{server['base']}/datasets/{dataset}?path=ens.sqlite", "DELETE")[0] == 200
    assert dataset not in [d["id"] for d in call(f"{server['base']}/datasets?path=ens.sqlite")[1]]
    assert call(f"{server['base']}/datasets/{dataset}/restore?path=ens.sqlite", "POST")[0] == 200
    assert dataset in [d["id"] for d in call(f"{server['base']}/datasets?path=ens.sqlite")[1]]


def test_bad_saves_are_refused_with_a_reason(server: dict[str, Any]) -> None:
    status, body = _save(server, description="   ")
    assert status == 422 and "description" in body["message"]
    status, body = call(f"{server['base']}/datasets?path=ens.sqlite", "POST", raw=b"{not json")
    assert status == 400
    status, body = _save(server, code="__import__('os')")
    assert status == 400 and "unknown field" in body["message"]


def test_exports(server: dict[str, Any]) -> None:
    _, record = _save(server, id=str(uuid.uuid4()), description="<script>alert(1)</script> {x} $x")
    base = f"{server['base']}/datasets/{record['id']}?path=ens.sqlite"
    status, exported = call(base + "&format=json")
    assert status == 200 and exported["description"] == "<script>alert(1)</script> {x} $x"
    status, prov = call(base + "&format=prov")
    assert status == 200 and "entity" in prov
    status, card = call(base + "&format=card")
    assert status == 200 and "<script>" not in card["markdown"]


def test_events_tell_a_replica_what_it_missed(server: dict[str, Any]) -> None:
    status, before = call(f"{server['base']}/events?path=ens.sqlite&since=0")
    assert status == 200 and before["seq"] >= 1
    _save(server, id=str(uuid.uuid4()), description="seen by the poll")
    status, after = call(f"{server['base']}/events?path=ens.sqlite&since={before['seq']}")
    assert [e["kind"] for e in after["events"]] == ["dataset.created"]
    assert after["seq"] == after["events"][-1]["seq"]


def test_config_names_the_root_the_paths_are_confined_to(server: dict[str, Any]) -> None:
    status, body = call(f"{server['base']}/config")
    assert status == 200
    assert body == {"default_db": "", "root": str(Path(server["root"]).resolve())}


def _wait(server: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        status, job = call(f"{server['base']}/jobs/{job['id']}")
        assert status == 200
    return job


def test_a_new_method_from_the_panel_runs_as_a_job(server: dict[str, Any], cli: Any) -> None:
    db = Path(server["root"]) / "ens.sqlite"
    before = json.loads(cli("methods", "--db", str(db), "--format", "json").out)
    sims = json.loads(cli("select", "--db", str(db), "--method", server["method"], "--time", "0", "--format", "json").out)
    status, job = call(f"{server['base']}/methods?path=ens.sqlite", "POST",
                       {"ground_truth": sims[1]["sim_id"], "norm": "L1", "gt_time": None, "description": "from the panel <b>"})
    assert status == 202 and job["state"] in ("queued", "running")
    job = _wait(server, job)
    assert job["state"] == "done", job
    assert job["done"] == job["total"] == len(sims)
    after = json.loads(cli("methods", "--db", str(db), "--format", "json").out)
    assert len(after) == len(before) + 1
    new = next(m for m in after if m["id"] == job["result"]["method_id"])
    assert (new["ground_truth"], new["norm"], new["description"]) == (sims[1]["sim_id"], "L1", "from the panel <b>")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"ground_truth": "", "norm": "L2"}, "choose a ground truth"),
        ({"ground_truth": "x", "norm": "L3"}, "unknown norm 'L3'"),
        ({"ground_truth": "x", "norm": "L2", "gt_time": -1}, "step index >= 0"),
        ({"ground_truth": "x", "norm": "L2", "code": "import os"}, "expected {ground_truth"),
        ({"ground_truth": "x", "norm": "L2", "geometry": "spherical"}, "unknown geometry 'spherical'"),
        ({"ground_truth": "x", "norm": "L2", "match_time": "closest"}, "unknown time matching 'closest'"),
        ({"ground_truth": "x", "norm": "L2", "field": ""}, "the name of a cell array"),
    ],
)
def test_bad_new_methods_are_refused_with_a_reason(server: dict[str, Any], body: dict[str, Any], reason: str) -> None:
    status, answer = call(f"{server['base']}/methods?path=ens.sqlite", "POST", body)
    assert status == 400 and reason in answer["message"]


def test_a_job_that_fails_says_why_without_the_server_path(server: dict[str, Any]) -> None:
    status, job = call(f"{server['base']}/methods?path=ens.sqlite", "POST", {"ground_truth": "no-such-sim", "norm": "L2"})
    assert status == 202
    job = _wait(server, job)
    assert job["state"] == "failed"
    assert "unknown ground truth 'no-such-sim'" in job["message"]
    assert str(Path(server["root"]).resolve()) not in job["message"]
    assert call(f"{server['base']}/jobs/{uuid.uuid4()}")[0] == 404
    # ... and the server's log says it too, where whoever runs the server looks.
    deadline = time.monotonic() + 30
    while f"job {job['id']} on ens.sqlite failed" not in server["log"].read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = [line for line in server["log"].read_text().splitlines() if job["id"] in line]
    assert logged and "unknown ground truth 'no-such-sim'" in logged[0]


@pytest.mark.skipif(not (REALDATA / "dsi-clover3d").is_dir(), reason="shared/realdata is absent")
def test_a_new_method_on_the_real_cloverleaf_database(server: dict[str, Any], cli: Any) -> None:
    """The panel's "New method…" on DSI's CloverLeaf ensemble: run_1 (DSI's run 1) as ground
    truth, steps matched by simulated time, Cartesian cells; the VTK paths resolve beside the
    DSI database inside the server's root."""
    folder = Path(server["root"]) / "clover"
    shutil.copytree(REALDATA / "dsi-clover3d", folder)
    assert cli("ingest", "-q", str(folder / "dsi_clover3d.db"), "--db", str(folder / "clover.sqlite")).code == 0
    status, job = call(f"{server['base']}/methods?path=clover/clover.sqlite", "POST",
                       {"ground_truth": "run_1", "norm": "L2", "gt_time": None, "description": "vs run 1",
                        "geometry": "cartesian", "match_time": "nearest", "field": "energy"})
    assert status == 202, job
    job = _wait(server, job)
    assert job["state"] == "done" and job["done"] == job["total"] == 8, job
    rows = json.loads(cli("select", "--db", str(folder / "clover.sqlite"), "--method", job["result"]["method_id"],
                          "--time", "9", "--format", "json").out)
    distances = [r["d_density"] for r in rows]
    assert distances[0] == 0 and all(d > 0 for d in distances[1:])
    methods = json.loads(cli("methods", "--db", str(folder / "clover.sqlite"), "--format", "json").out)
    assert [(m["ground_truth"], m["match_time"], m["geometry"], m["field"]) for m in methods] == [
        ("1", "nearest", "cartesian", "energy")
    ]


# -- a database another process holds locked --------------------------------------------------


@contextlib.contextmanager
def _locked(db: Path) -> Iterator[None]:
    """``db`` under an EXCLUSIVE lock held by another process (as a kernel's or the CLI's long
    write holds it) until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def _request(url: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], Any]:
    """``call`` with the answer's headers."""
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    request.add_header("Authorization", f"token {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, payload = exc.code, dict(exc.headers), exc.read()
    return status, headers, json.loads(payload)


def test_a_locked_database_answers_busy_and_jupyter_keeps_answering(server: dict[str, Any]) -> None:
    body = {"id": str(uuid.uuid4()), "members": ["s01", "s02"], "description": "saved while locked",
            "method_id": server["method"], "t": 1}
    raw = json.dumps(body).encode()
    host, port = urllib.parse.urlsplit(server["base"]).netloc.split(":")
    with _locked(Path(server["root"]) / "ens.sqlite"):
        # The save is on the wire before the first status request: a server that waited for the
        # lock on its event loop would answer none of those until the save gave up.
        with socket.create_connection((host, int(port)), timeout=60) as save:
            save.sendall(
                f"POST /jupyterlab-dsi/datasets?path=ens.sqlite HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: token {TOKEN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n".encode() + raw
            )
            answered_meanwhile = 0
            deadline = time.monotonic() + 60
            while not select.select([save], [], [], 0)[0] and time.monotonic() < deadline:
                status, _ = call(server["status"])
                if status == 200 and not select.select([save], [], [], 0)[0]:
                    answered_meanwhile += 1
            answer = http.client.HTTPResponse(save)
            answer.begin()
            status, retry_after, message = answer.status, answer.getheader("Retry-After"), json.loads(answer.read())["message"]
        assert status == 503, message
        assert retry_after == "1"
        assert message.startswith("ens.sqlite is busy") and "retrying" in message
        assert answered_meanwhile >= 3
        status, headers, answer_body = _request(f"{server['base']}/db?path=ens.sqlite")
        assert status == 503 and "Retry-After" in headers
    # The retry the panel makes with the same id: saved once.
    status, record = call(f"{server['base']}/datasets?path=ens.sqlite", "POST", body)
    assert status == 201 and record["id"] == body["id"]
    status, listed = call(f"{server['base']}/datasets?path=ens.sqlite")
    assert [d["id"] for d in listed].count(body["id"]) == 1


def test_jobs_queue_and_a_full_queue_is_refused(server: dict[str, Any]) -> None:
    """Two jobs run (waiting on the lock), the next one waits as "queued", one more is refused."""
    new = {"ground_truth": "no-such-sim", "norm": "L2"}
    started = []
    try:
        with _locked(Path(server["root"]) / "ens.sqlite"):
            for _ in range(2 + MAX_QUEUED):
                status, job = call(f"{server['base']}/methods?path=ens.sqlite", "POST", new)
                assert status == 202, job
                started.append(job)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                states = [call(f"{server['base']}/jobs/{j['id']}")[1]["state"] for j in started]
                if states == ["running", "running", "queued"]:
                    break
                time.sleep(0.05)
            assert states == ["running", "running", "queued"]
            status, listed = call(f"{server['base']}/jobs")
            assert sorted(j["state"] for j in listed) == ["queued", "running", "running"]
            status, answer = call(f"{server['base']}/methods?path=ens.sqlite", "POST", new)
            assert status == 429 and "DSIConfig.max_queued_jobs = 1" in answer["message"]
            # Cancelling the queued job ends it at once: it never starts.
            status, cancelled = call(f"{server['base']}/jobs/{started[2]['id']}", "DELETE")
            assert cancelled["state"] == "cancelled" and "before it started" in cancelled["message"]
    finally:
        finished = [_wait(server, job) for job in started]
    assert [j["state"] for j in finished] == ["failed", "failed", "cancelled"]
    assert "unknown ground truth 'no-such-sim'" in finished[0]["message"]


# -- who saved ----------------------------------------------------------------------------------


def test_a_panel_save_records_the_person_not_a_random_id(server: dict[str, Any]) -> None:
    """A token names nobody: jupyter_server makes up "Anonymous <moon>" with a random id; the
    author is then the operating-system user, as the CLI and the kernel record it."""
    status, record = _save(server, id=str(uuid.uuid4()), description="who saved this")
    assert status == 201
    status, exported = call(f"{server['base']}/datasets/{record['id']}?path=ens.sqlite&format=json")
    assert exported["author"] == getpass.getuser()


def test_the_author_is_the_identity_user_name_when_there_is_one() -> None:
    from jupyter_server.auth import IdentityProvider, User

    from jupyterlab_dsi.server import author_of

    assert author_of(User(username="ada", name="Ada Lovelace")) == "ada"
    assert author_of("grace") == "grace"

    class Handler:
        log = logging.getLogger("test")

    anonymous = IdentityProvider().generate_anonymous_user(Handler())  # type: ignore[arg-type]
    assert anonymous.name.startswith("Anonymous ")
    assert author_of(anonymous) == getpass.getuser()
    assert author_of(None) == author_of(User(username="anonymous")) == getpass.getuser()


# -- malformed requests -------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 7, 2**70, -(2**70), 1.5, float("nan"), float("inf"), "", "x", "s01", "s" * 20_000,
    [], ["x"], [1], [None], [["s01"]], ["s01", {"a": 1}], {}, {"a": 1}, {"shock": "x", "edge": []},
    {"kind": "p", "p": "x"}, {"kind": "n", "n": -5, "seed": "z"}, {"kind": ["p"]}, {"kind": "p", "p": 2**70},
    {"kind": "n", "n": 2**70, "seed": 2**70}, {"d_density": float("nan")}, {"": 1}, [[[[[[[[[[[]]]]]]]]]]],
]
SAVE_KEYS = ["id", "members", "description", "name", "method_id", "t", "weights", "filter", "selection_kind",
             "selection_geometry", "sampling", "settings", "parent_id"]
METHOD_KEYS = ["ground_truth", "norm", "gt_time", "description", "geometry", "match_time", "field"]
RAW_BODIES = [b"", b"{", b"\xff\xfe{}", b"[" * 100_000, b"{" * 50_000, b"null", b'"x"', b"1e999", b"[]",
              b'{"members": NaN}', b'{"t": 1e400}', b"\x00"]


def _fuzzed(rng: random.Random, valid: dict[str, Any], keys: list[str]) -> Any:
    if rng.random() < 0.05:
        return rng.choice(ODD_VALUES)
    body = dict(valid)
    for key in rng.sample(keys, rng.randint(1, 3)):
        body[key] = rng.choice(ODD_VALUES)
    if rng.random() < 0.1:
        body[rng.choice(["code", "", "__class__"])] = 1
    return body


def _assert_refused_politely(status: int, answer: Any, what: Any) -> None:
    assert status < 500, (status, answer, what)
    if status >= 400:
        assert isinstance(answer, dict) and "\n" not in answer["message"], (status, answer, what)
        assert "Traceback" not in answer["message"]


def test_malformed_requests_get_4xx_never_500(server: dict[str, Any]) -> None:
    rng = random.Random(14)
    save = {"id": str(uuid.uuid4()), "members": ["s01"], "description": "fuzz", "method_id": server["method"], "t": 1}
    base = f"{server['base']}"
    # Every field with every odd value, then a few at once.
    bodies = [{**save, "id": str(uuid.uuid4()), key: value} for key in SAVE_KEYS for value in ODD_VALUES]
    bodies += [_fuzzed(rng, {**save, "id": str(uuid.uuid4())}, SAVE_KEYS) for _ in range(100)]
    for body in bodies:
        status, answer = call(f"{base}/datasets?path=ens.sqlite", "POST", raw=json.dumps(body).encode())
        _assert_refused_politely(status, answer, body)
    # The case: a parent id that is a list.
    status, answer = call(f"{base}/datasets?path=ens.sqlite", "POST", {**save, "id": str(uuid.uuid4()), "parent_id": ["x"]})
    assert status == 400 and answer["message"] == "malformed request: parent_id must be text or null, not a list"
    started = []
    valid = {"ground_truth": "no-such-sim", "norm": "L2"}
    bodies = [{**valid, key: value} for key in METHOD_KEYS for value in ODD_VALUES if value not in ("x", "s01")]
    for body in bodies + [_fuzzed(rng, valid, METHOD_KEYS) for _ in range(40)]:
        status, answer = call(f"{base}/methods?path=ens.sqlite", "POST", raw=json.dumps(body).encode())
        _assert_refused_politely(status, answer, body)
        if status == 202:
            started.append(answer)
    for raw in RAW_BODIES:
        for endpoint in ("datasets", "methods"):
            status, answer = call(f"{base}/{endpoint}?path=ens.sqlite", "POST", raw=raw)
            _assert_refused_politely(status, answer, raw[:20])
            if status == 202:
                started.append(answer)
    for query in ("since=x", "since=-1", f"since={2**70}", "since=1e3"):
        status, answer = call(f"{base}/events?path=ens.sqlite&{query}")
        assert status == 400 and "event number" in answer["message"], query
    for query in ("path=", "path=%00", "format=exe&path=ens.sqlite"):
        status, answer = call(f"{base}/datasets/{uuid.uuid4()}?{query}")
        _assert_refused_politely(status, answer, query)
        assert status >= 400
    for job in started:  # leave no job running for the tests after this one
        assert _wait(server, job)["state"] not in ("queued", "running")


def test_a_job_refuses_a_file_that_declares_a_huge_array(server: dict[str, Any]) -> None:
    """A few hundred bytes that declare 5 GB of density: the job fails naming the file, the shape
    and the setting, before allocating it (the file holds no data: reading would fail otherwise)."""
    from jupyterlab_dsi.ingest import ingest

    from conftest import build_ensemble
    from test_jobs import declared_npz

    folder = Path(server["root"]) / "big"
    ens = build_ensemble(folder / "ens")
    ingest(folder / "big.sqlite", ens.root)
    declared_npz(ens.file("s01"), (40, 4000, 4000))
    status, job = call(f"{server['base']}/methods?path=big/big.sqlite", "POST", {"ground_truth": "s00", "norm": "L2"})
    assert status == 202, job
    job = _wait(server, job)
    assert job["state"] == "failed"
    assert job["message"] == (
        "simulation 's01': big/ens/sims/s01.npz: density has shape (40, 4000, 4000), 4,883 MB once read, above "
        "the limit of 256 MB per array (DSIConfig.max_array_mb); raise that setting, or post-process from a "
        "shell with `jupyter dsi postprocess`"
    )


def test_busy_is_told_apart_from_other_database_errors() -> None:
    import sqlite3

    from jupyterlab_dsi.server import is_busy
    from jupyterlab_dsi.store import StoreBusy, StoreError

    assert is_busy(StoreBusy("busy: another writer holds ens.sqlite longer than 15 s; nothing was written: retry"))
    assert is_busy(sqlite3.OperationalError("database is locked"))
    assert not is_busy(StoreError("ens.sqlite: the file is read-only here"))
    assert not is_busy(sqlite3.OperationalError("database or disk is full"))


@pytest.mark.parametrize(("trait", "value"), [("store_timeout", 0), ("max_array_mb", 0), ("max_queued_jobs", -1)])
def test_a_server_setting_out_of_range_is_refused_by_name(trait: str, value: float) -> None:
    from traitlets import TraitError
    from traitlets.config import Config

    from jupyterlab_dsi.server import DSIConfig

    config = Config()
    config.DSIConfig[trait] = value
    with pytest.raises(TraitError, match=f"'{trait}' trait of a DSIConfig"):
        DSIConfig(config=config)

"""The server extension in a real Jupyter server: authentication, confinement, and the panel's
writes going through the Store (a retry never duplicates, a delete is undone)."""

from __future__ import annotations

import json
import os
import shutil
import socket
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

from conftest import REALDATA

TOKEN = "test-token-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_method: tuple[Any, Path, str]) -> Iterator[dict[str, Any]]:
    _, db, method_id = shared_method
    root = tmp_path_factory.mktemp("root")
    shutil.copy(db, root / "ens.sqlite")
    (root / "notes.db").write_bytes(b"not a database\n" * 20)
    port = _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.open_browser=False", f"--IdentityProvider.token={TOKEN}",
         "--ServerApp.allow_root=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    base = f"http://127.0.0.1:{port}/jupyterlab-dsi"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("jupyter server did not start")
            time.sleep(0.3)
    yield {"base": base, "root": root, "method": method_id}
    proc.terminate()
    proc.wait(timeout=20)


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


def test_the_snapshot_is_the_database(server: dict[str, Any]) -> None:
    status, payload = call(f"{server['base']}/db?path=ens.sqlite")
    assert status == 200
    assert payload[:16] == b"SQLite format 3\x00"


@pytest.mark.parametrize("path", ["../ens.sqlite", "/etc/passwd", "a/../../x.sqlite"])
def test_paths_never_leave_the_root(server: dict[str, Any], path: str) -> None:
    status, body = call(f"{server['base']}/db?path={urllib.request.quote(path)}")
    assert status in (403, 404)
    assert str(server["root"]) not in json.dumps(body)


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
    while job["state"] == "running" and time.monotonic() < deadline:
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
    assert status == 202 and job["state"] == "running"
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

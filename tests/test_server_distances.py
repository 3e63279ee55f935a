"""A new ground truth on the fly from the panel (issue 17 §2): ``POST /distances`` answers the same
values ``jupyter dsi postprocess`` stores for that ground truth, as a binary frame, without writing;
long work becomes a job with progress and cancel; a bad request gets one line."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import query, sha256
from test_server import running_server

from jupyterlab_dsi import frame_codec
from jupyterlab_dsi.server import RequestError
from jupyterlab_dsi.server_distances import check_distances

TOKEN = "test-token-" + uuid.uuid4().hex
BUDGET_MB = 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_method: tuple[Any, Path, str]) -> Iterator[dict[str, Any]]:
    _, db, method_id = shared_method
    root = tmp_path_factory.mktemp("root")
    shutil.copy(db, root / "ens.sqlite")
    shutil.copy(db, root / "other.sqlite")
    outside = root.parent / f"outside-{uuid.uuid4().hex}"
    outside.mkdir()
    shutil.copy(db, outside / "secret.sqlite")
    log = root.parent / f"server-{uuid.uuid4().hex}.log"
    with running_server(root, TOKEN, f"--DSIConfig.field_budget_mb={BUDGET_MB}", log=log) as port:
        yield {"base": f"http://127.0.0.1:{port}/jupyterlab-dsi", "root": root, "method": method_id,
               "outside": outside}


def call(url: str, method: str = "GET", body: Any = None, token: str | None = TOKEN,
         raw: bytes | None = None) -> tuple[int, str, Any]:
    """(status, content type, payload: a frame decoded, JSON parsed, else bytes)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, kind, payload = response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        status, kind, payload = exc.code, exc.headers.get("Content-Type", ""), exc.read()
    if kind.startswith(frame_codec.CONTENT_TYPE):
        return status, kind, frame_codec.decode(payload)
    try:
        return status, kind, json.loads(payload)
    except ValueError:
        return status, kind, payload


def stored(db: Path, method_id: str) -> dict[tuple[str, int], tuple[float, float, float]]:
    """What postprocess stored: (sim_id, t) -> (d_shock, d_edge, d_density), NaN for NULL."""
    rows = query(db, "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?", (method_id,))
    return {(s, t): tuple(math.nan if v is None else v for v in values) for s, t, *values in rows}


def assert_frame_is(header: dict[str, Any], data: np.ndarray, expected: dict[tuple[str, int], tuple[float, ...]]) -> None:
    """Every stored (sim, step) is in the frame with the same three values (float32 of them),
    and the frame holds nothing else."""
    assert header["columns"] == ["d_shock", "d_edge", "d_density"]
    assert data.shape == (len(header["sim_ids"]), len(header["steps"]), 3)
    got = {}
    for i, sim in enumerate(header["sim_ids"]):
        for j, t in enumerate(header["steps"]):
            if not np.all(np.isnan(data[i, j])):
                got[(sim, t)] = data[i, j]
    assert set(got) == set(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], np.array(values, dtype=np.float64), rtol=1e-6, atol=1e-7,
                                   equal_nan=True, err_msg=str(key))


def test_a_ground_truth_on_the_fly_is_what_postprocess_stores(server: dict[str, Any]) -> None:
    db = Path(server["root"]) / "ens.sqlite"
    before = sha256(db)
    # wait=30: the answer itself even when the first call compiles the kernel and loads the fields.
    status, kind, answer = call(f"{server['base']}/distances?path=ens.sqlite&wait=30", "POST",
                                {"ground_truth": "s00", "norm": "L2", "gt_time": None})
    assert status == 200, answer
    header, data = answer
    assert (header["ground_truth"], header["norm"], header["gt_time"], header["match_time"], header["field"]) == \
        ("s00", "L2", None, "index", "density")
    assert header["resident"]["budget_bytes"] == BUDGET_MB * 2**20
    assert header["seconds"] >= 0
    assert_frame_is(header, data, stored(db, server["method"]))
    assert sha256(db) == before, "computing on the fly wrote to the database"


def test_another_ground_truth_and_a_fixed_step_equal_the_cli(server: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    """The panel's answer and `jupyter dsi postprocess` on a copy, for the same request."""
    copy = tmp_path / "copy.sqlite"
    shutil.copy(Path(server["root"]) / "ens.sqlite", copy)
    for request in ({"ground_truth": "s03", "norm": "L1", "gt_time": 1},
                    {"ground_truth": "s02", "norm": "Linf", "match_time": "nearest"}):
        status, _, answer = call(f"{server['base']}/distances?path=ens.sqlite&wait=30", "POST", request)
        assert status == 200, answer
        args = ["postprocess", "--db", copy, "--ground-truth", request["ground_truth"], "--norm", request["norm"], "-q"]
        if request.get("gt_time") is not None:
            args += ["--gt-time", str(request["gt_time"])]
        if "match_time" in request:
            args += ["--match-time", request["match_time"]]
        result = cli(*args)
        assert result.code == 0, result.err
        assert_frame_is(*answer, stored(copy, result.out.strip().splitlines()[-1]))
        assert answer[0]["gt_time"] == request.get("gt_time")


def _wait_frame(server: dict[str, Any], job_id: str) -> tuple[int, Any]:
    deadline = time.monotonic() + 60
    while True:
        status, _, answer = call(f"{server['base']}/distances/{job_id}")
        if status != 202 or time.monotonic() > deadline:
            return status, answer
        time.sleep(0.05)


def test_longer_work_is_a_job_whose_answer_is_the_frame(server: dict[str, Any]) -> None:
    """?wait=0: the answer is a job at once (what the panel gets when the work takes more than
    half a second); its progress is a job's, and GET distances/JOB_ID answers the frame."""
    status, _, job = call(f"{server['base']}/distances?path=other.sqlite&wait=0", "POST",
                          {"ground_truth": "s00", "norm": "L2"})
    assert status == 202, job
    assert job["kind"] == "distances" and job["state"] in ("queued", "running", "done")
    status, answer = _wait_frame(server, job["id"])
    assert status == 200, answer
    header, data = answer
    assert header["job"] == job["id"]
    assert_frame_is(header, data, stored(Path(server["root"]) / "other.sqlite", server["method"]))
    status, _, record = call(f"{server['base']}/jobs/{job['id']}")
    assert status == 200 and record["state"] == "done"
    assert record["done"] == record["total"] > 0
    assert record["result"]["simulations"] == len(header["sim_ids"])
    # What the server holds now: this database's fields, within the budget.
    status, _, report = call(f"{server['base']}/distances/status?path=other.sqlite")
    assert status == 200
    assert report["budget_bytes"] == BUDGET_MB * 2**20
    assert 0 < report["resident_bytes"] <= report["budget_bytes"]


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_a_cancelled_job_answers_why_and_writes_nothing(server: dict[str, Any]) -> None:
    """The job waits on the file (another program holds its lock) when the panel cancels it."""
    db = Path(server["root"]) / "other.sqlite"
    before = sha256(db)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status, _, job = call(f"{server['base']}/distances?path=other.sqlite&wait=0", "POST",
                              {"ground_truth": "s01", "norm": "L1"})
        assert status == 202, job
        status, _, cancelled = call(f"{server['base']}/jobs/{job['id']}", "DELETE")
        assert status == 200
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    status, answer = _wait_frame(server, job["id"])
    assert status == 409 and "cancelled" in answer["message"], answer
    assert call(f"{server['base']}/jobs/{job['id']}")[2]["state"] == "cancelled"
    assert sha256(db) == before


def test_an_unknown_ground_truth_is_one_line_without_the_server_path(server: dict[str, Any]) -> None:
    status, _, answer = call(f"{server['base']}/distances?path=ens.sqlite&wait=30", "POST",
                             {"ground_truth": "no-such-sim", "norm": "L2"})
    assert status == 422, answer
    assert "no-such-sim" in answer["message"] and "\n" not in answer["message"]
    assert str(Path(server["root"]).resolve()) not in answer["message"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"ground_truth": "", "norm": "L2"}, "choose a ground truth"),
        ({"ground_truth": "s00", "norm": "L3"}, "unknown norm 'L3'"),
        ({"ground_truth": "s00", "norm": "L2", "gt_time": -1}, "step index >= 0"),
        ({"ground_truth": "s00", "norm": "L2", "gt_time": True}, "step index >= 0"),
        ({"ground_truth": "s00", "norm": "L2", "gt_time": 1.5}, "step index >= 0"),
        ({"ground_truth": "s00", "norm": "L2", "match_time": "closest"}, "unknown time matching 'closest'"),
        ({"ground_truth": "s00", "norm": "L2", "field": ""}, "the name of a cell array"),
        ({"ground_truth": "s00", "norm": "L2", "description": "x"}, "expected {ground_truth"),
        (["s00", "L2"], "expected {ground_truth"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(server: dict[str, Any], body: Any, reason: str) -> None:
    with pytest.raises(RequestError, match=reason.replace("{", r"\{").replace("(", r"\(")):
        check_distances(body)
    status, _, answer = call(f"{server['base']}/distances?path=ens.sqlite", "POST", body)
    assert status == 400 and reason in answer["message"], answer


def test_the_request_is_confined_and_authenticated(server: dict[str, Any]) -> None:
    good = {"ground_truth": "s00", "norm": "L2"}
    assert call(f"{server['base']}/distances?path=ens.sqlite", "POST", good, token=None)[0] == 403
    assert call(f"{server['base']}/distances/status?path=ens.sqlite", token=None)[0] == 403
    status, _, answer = call(f"{server['base']}/distances?path=../{server['outside'].name}/secret.sqlite", "POST", good)
    assert status == 403, answer
    status, _, answer = call(f"{server['base']}/distances?path=missing.sqlite", "POST", good)
    assert status == 404 and "no such file" in answer["message"]
    status, _, answer = call(f"{server['base']}/distances?path=ens.sqlite", "POST", raw=b"{not json")
    assert status == 400 and answer["message"] == "the request body is not JSON"
    status, _, answer = call(f"{server['base']}/distances?path=ens.sqlite&wait=nan", "POST", good)
    assert status == 400 and "wait must be seconds" in answer["message"]
    status, _, answer = call(f"{server['base']}/distances/{uuid.uuid4()}")
    assert status == 404 and "no distances job" in answer["message"]


def test_kept_answers_never_drop_a_running_job() -> None:
    """Beyond KEEP_ANSWERS the oldest finished answers go; a job still running keeps its box."""
    import threading
    from collections import OrderedDict

    from jupyterlab_dsi.jobs import Jobs
    from jupyterlab_dsi.server_distances import KEEP_ANSWERS, _forget_answers

    jobs = Jobs(workers=1, max_queued=0)
    release = threading.Event()
    running = jobs.start("distances", "ens.sqlite", lambda progress, cancel: release.wait(30))
    answers: OrderedDict[str, dict[str, Any]] = OrderedDict({running.id: {"job": running.id}})
    for k in range(KEEP_ANSWERS + 3):
        answers[f"gone-{k}"] = {}  # jobs Jobs no longer knows: finished long ago
    _forget_answers(answers, jobs)
    assert running.id in answers and len(answers) == KEEP_ANSWERS
    assert list(answers)[1:] == [f"gone-{k}" for k in range(4, KEEP_ANSWERS + 3)]
    release.set()

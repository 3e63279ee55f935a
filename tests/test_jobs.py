"""The server's job runner: progress, cancel, failure, and a cancel that comes too late; a bounded
queue whose waiting jobs say "queued"; failures in the log; and the cap on what one array of a
simulation file may take, checked before anything is allocated."""

from __future__ import annotations

import io
import logging
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from conftest import sim_arrays, write_arrays
from jupyterlab_dsi import fields
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.jobs import Jobs, JobsFull


def _wait(jobs: Jobs, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while jobs.get(job_id).state in ("queued", "running") and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    return jobs.get(job_id).public()  # type: ignore[union-attr]


def test_progress_then_result() -> None:
    jobs = Jobs()

    def work(progress: Callable[[int, int], None], cancel: threading.Event) -> str:
        for i in range(1, 6):
            progress(i, 5)
        return "m1"

    job = _wait(jobs, jobs.start("postprocess", "a.sqlite", work).id)
    assert (job["state"], job["done"], job["total"], job["result"]) == ("done", 5, 5, "m1")
    assert jobs.running() == []


def test_cancel_stops_the_work_and_says_so() -> None:
    jobs = Jobs()
    started = threading.Event()

    class Cancelled(DsiError):
        pass

    def work(progress: Callable[[int, int], None], cancel: threading.Event) -> None:
        started.set()
        while not cancel.wait(0.01):
            pass
        raise Cancelled("cancelled: nothing was written")

    job = jobs.start("postprocess", "a.sqlite", work)
    started.wait(5)
    assert [j.id for j in jobs.running()] == [job.id]
    job.cancel.set()
    answer = _wait(jobs, job.id)
    assert answer["state"] == "cancelled"
    assert answer["message"] == "cancelled: nothing was written"


def test_failure_is_one_line_and_a_late_cancel_keeps_what_was_done() -> None:
    jobs = Jobs()

    def fails(progress: Callable[[int, int], None], cancel: threading.Event) -> None:
        raise DsiError("simulation 's3': file.npz: no such file")

    assert _wait(jobs, jobs.start("postprocess", "a.sqlite", fails).id)["message"] == "simulation 's3': file.npz: no such file"

    def finishes(progress: Callable[[int, int], None], cancel: threading.Event) -> str:
        cancel.set()  # the user pressed Cancel just as the write committed
        return "m2"

    assert _wait(jobs, jobs.start("postprocess", "a.sqlite", finishes).id)["state"] == "done"



def _blocker(release: threading.Event, started: threading.Event | None = None) -> Callable[..., str]:
    def work(progress: Callable[[int, int], None], cancel: threading.Event) -> str:
        if started is not None:
            started.set()
        release.wait(10)
        return "released"

    return work


def test_a_job_waits_as_queued_and_a_full_queue_is_refused() -> None:
    jobs = Jobs(workers=1, max_queued=1)
    release, started = threading.Event(), threading.Event()
    try:
        first = jobs.start("postprocess", "a.sqlite", _blocker(release, started))
        assert started.wait(5)
        second = jobs.start("postprocess", "a.sqlite", _blocker(release))
        assert (first.public()["state"], second.public()["state"]) == ("running", "queued")
        assert sorted(j.state for j in jobs.running()) == ["queued", "running"]
        with pytest.raises(JobsFull, match=r"1 jobs are running and 1 waiting.*max_queued_jobs = 1.*cancel one"):
            jobs.start("postprocess", "a.sqlite", _blocker(release))
    finally:
        release.set()
    assert _wait(jobs, second.id)["state"] == "done"
    assert _wait(jobs, jobs.start("postprocess", "a.sqlite", _blocker(release)).id)["state"] == "done"


def test_a_queued_job_cancelled_never_starts() -> None:
    jobs = Jobs(workers=1, max_queued=2)
    release, started, ran = threading.Event(), threading.Event(), threading.Event()

    def never(progress: Callable[[int, int], None], cancel: threading.Event) -> None:
        ran.set()

    try:
        first = jobs.start("postprocess", "a.sqlite", _blocker(release, started))
        assert started.wait(5)
        queued = jobs.start("postprocess", "a.sqlite", never)
        jobs.cancel(queued)
        answer = queued.public()
        assert answer["state"] == "cancelled" and "before it started" in answer["message"]
    finally:
        release.set()
    _wait(jobs, first.id)
    after = jobs.start("postprocess", "a.sqlite", _blocker(release))  # the pool went past the cancelled one
    assert _wait(jobs, after.id)["state"] == "done"
    assert not ran.is_set() and queued.state == "cancelled"


def test_a_failing_job_logs_its_traceback_and_reports_one_line(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test-jobs")
    jobs = Jobs(log=log)

    def bug(progress: Callable[[int, int], None], cancel: threading.Event) -> None:
        raise ValueError("no 'x'\nin the table")

    def bad_input(progress: Callable[[int, int], None], cancel: threading.Event) -> None:
        raise DsiError("s3.npz: no such file")

    with caplog.at_level(logging.WARNING, logger="test-jobs"):
        failed = _wait(jobs, jobs.start("postprocess", "a.sqlite", bug).id)
        refused = _wait(jobs, jobs.start("postprocess", "b.sqlite", bad_input).id)
    assert failed["state"] == "failed" and failed["message"] == "ValueError: no 'x' in the table"
    bug_record = next(r for r in caplog.records if failed["id"] in r.getMessage())
    assert bug_record.levelno == logging.ERROR and bug_record.exc_info is not None
    assert "raise ValueError" in caplog.text  # the traceback, where a developer looks
    refused_record = next(r for r in caplog.records if refused["id"] in r.getMessage())
    assert refused_record.levelno == logging.WARNING and "s3.npz: no such file" in refused_record.getMessage()
    assert refused["message"] == "s3.npz: no such file"


# -- the cap on one array ------------------------------------------------------------------------


def declared_npz(path: Path, density_shape: tuple[int, ...]) -> Path:
    """An .npz whose density header declares ``density_shape`` but holds no data: reading it
    would fail on the missing bytes, so only a check of the header refuses it with our message."""
    arrays = sim_arrays(0)
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            if name == "density":
                np.lib.format.write_array_header_1_0(
                    buffer, {"descr": "<f4", "fortran_order": False, "shape": density_shape})
            else:
                np.save(buffer, value)
            zf.writestr(f"{name}.npy", buffer.getvalue())
    return path


def test_an_array_above_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    npz = declared_npz(tmp_path / "big.npz", (40, 4000, 4000))
    h5 = tmp_path / "big.h5"
    import h5py

    with h5py.File(h5, "w") as f:  # chunks never written: a few KB on disk, 160 MB once read
        for name, value in sim_arrays(0).items():
            if name != "density":
                f[name] = value
        f.create_dataset("density", shape=(40, 1000, 1000), dtype="f4", chunks=(1, 100, 100), compression="gzip")
    assert h5.stat().st_size < 100_000
    with fields.array_limit(64 * 2**20, "DSIConfig.max_array_mb"):
        with pytest.raises(fields.FieldError) as npz_error:
            fields.read_fields(npz)
        with pytest.raises(fields.FieldError) as h5_error:
            fields.read_fields(h5)
    assert str(npz_error.value) == (
        f"{npz}: density has shape (40, 4000, 4000), 4,883 MB once read, above the limit of 64 MB per array "
        "(DSIConfig.max_array_mb); raise that setting, or post-process from a shell with `jupyter dsi postprocess`"
    )
    assert str(h5_error.value).startswith(f"{h5}: density has shape (40, 1000, 1000), 305 MB once read")
    assert fields._limit is None  # the block restored "no cap"


def test_arrays_under_the_cap_read_as_before(tmp_path: Path) -> None:
    for suffix in (".npz", ".h5"):
        path = tmp_path / f"ok{suffix}"
        write_arrays(path, sim_arrays(1))
        with fields.array_limit(3 * 4 * 6 * 8, "DSIConfig.max_array_mb"):  # exactly the density's size
            read = fields.read_fields(path)
            assert fields.read_header(path).shapes["density"] == (3, 4, 6)
        assert np.array_equal(read.density, sim_arrays(1)["density"])
        with fields.array_limit(3 * 4 * 6 * 8 - 1, "DSIConfig.max_array_mb"), pytest.raises(fields.FieldError, match="density has shape"):
            fields.read_fields(path)

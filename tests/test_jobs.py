"""The server's job runner: progress, cancel, failure, and a cancel that comes too late."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.jobs import Jobs


def _wait(jobs: Jobs, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while jobs.get(job_id).state == "running" and time.monotonic() < deadline:  # type: ignore[union-attr]
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

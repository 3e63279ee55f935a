"""Long work started from the panel ("New method…"), run in a thread of the server.

A job reports how far it got and can be cancelled; the panel polls it. The work itself writes
through the Store in one transaction at its end, so a cancelled or failed job leaves the
database as it was (DESIGN.md rule 1). A few run at a time and a bounded number wait, as
"queued": each holds a simulation's fields in memory, so an unbounded queue is unbounded memory.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import DsiError, one_line

# Finished jobs are kept this long for a panel that polls late (a reload, a slow network).
KEEP_SECONDS = 3600
UNFINISHED = ("queued", "running")


class JobsFull(DsiError):
    """The queue holds as many jobs as it may: the caller answers "try later"."""


@dataclass
class Job:
    id: str
    kind: str
    path: str
    state: str = "queued"  # queued | running | done | failed | cancelled
    done: int = 0
    total: int = 0
    result: Any = None
    message: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "result": self.result,
            "message": self.message,
            "elapsed": round((self.finished or time.time()) - self.started, 3),
        }


Work = Callable[[Callable[[int, int], None], threading.Event], Any]


class Jobs:
    """The server's queued, running and recent jobs: ``workers`` run at a time, at most
    ``max_queued`` wait; failures go to ``log`` (the server's log), tracebacks included."""

    def __init__(self, workers: int = 2, max_queued: int = 8, log: logging.Logger | None = None) -> None:
        if workers < 1 or max_queued < 0:
            raise ValueError(f"workers must be >= 1 and max_queued >= 0, not {workers} and {max_queued}")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jupyterlab-dsi-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.workers = workers
        self.max_queued = max_queued
        self.log = log or logging.getLogger("jupyterlab_dsi.jobs")

    def start(self, kind: str, path: str, work: Work) -> Job:
        """Queue ``work``; :class:`JobsFull` when ``max_queued`` jobs already wait."""
        job = Job(id=str(uuid.uuid4()), kind=kind, path=path)
        with self._lock:
            self._forget_old()
            unfinished = sum(1 for j in self._jobs.values() if j.state in UNFINISHED)
            # Counted under the lock: two requests at once cannot both take the last place.
            if unfinished >= self.workers + self.max_queued:
                raise JobsFull(
                    f"{min(unfinished, self.workers)} jobs are running and {max(0, unfinished - self.workers)} "
                    f"waiting, the most this server queues (DSIConfig.max_queued_jobs = {self.max_queued}); "
                    "wait for one to finish, or cancel one"
                )
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Ask a running job to stop; a queued one is cancelled at once and never starts."""
        with self._lock:
            job.cancel.set()
            if job.state == "queued":
                job.state, job.finished = "cancelled", time.time()
                job.message = "cancelled before it started; nothing was written"

    def running(self) -> list[Job]:
        """The jobs not over yet, queued or running (what the status bar shows)."""
        with self._lock:
            return [j for j in self._jobs.values() if j.state in UNFINISHED]

    def _run(self, job: Job, work: Work) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        with self._lock:  # against cancel(): a job starts or is cancelled while queued, not both
            if job.state != "queued":
                return
            job.state = "running"
        try:
            job.result = work(progress, job.cancel)
            job.state = "done"  # a cancel that came after the work's last check changes nothing
        # Logged before the state says so, so that whoever sees a job failed finds it in the log.
        except DsiError as exc:
            cancelled = job.cancel.is_set()
            if not cancelled:  # an input error: its message says it all
                self.log.warning("jupyterlab-dsi: %s job %s on %s failed: %s", job.kind, job.id, job.path, exc)
            job.message = str(exc)
            job.state = "cancelled" if cancelled else "failed"
        except Exception as exc:  # noqa: BLE001 - a bug or a MemoryError: the panel gets one line, the log the traceback
            self.log.error("jupyterlab-dsi: %s job %s on %s failed", job.kind, job.id, job.path, exc_info=exc)
            job.message = one_line(exc)
            job.state = "failed"
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for job_id in [j.id for j in self._jobs.values() if j.finished and j.finished < cutoff]:
            del self._jobs[job_id]

"""Long work started from the panel ("New method…"), run in a thread of the server.

A job reports how far it got and can be cancelled; the panel polls it. The work itself writes
through the Store in one transaction at its end, so a cancelled or failed job leaves the
database as it was (DESIGN.md rule 1).
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import DsiError

# Finished jobs are kept this long for a panel that polls late (a reload, a slow network).
KEEP_SECONDS = 3600


@dataclass
class Job:
    id: str
    kind: str
    path: str
    state: str = "running"  # running | done | failed | cancelled
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
    """The server's running and recent jobs; two run at a time, the rest queue."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jupyterlab-dsi-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, path: str, work: Work) -> Job:
        job = Job(id=str(uuid.uuid4()), kind=kind, path=path)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state == "running"]

    def _run(self, job: Job, work: Work) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            job.result = work(progress, job.cancel)
            job.state = "done"  # a cancel that came after the work's last check changes nothing
        except DsiError as exc:
            job.state = "cancelled" if job.cancel.is_set() else "failed"
            job.message = str(exc)
        except Exception as exc:  # noqa: BLE001 - the panel gets one line, the log the traceback
            job.state = "failed"
            job.message = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for job_id in [j.id for j in self._jobs.values() if j.finished and j.finished < cutoff]:
            del self._jobs[job_id]

"""A new ground truth on the fly: every run's distances, computed without writing (issue 17 §2).

``POST /jupyterlab-dsi/distances?path=DB`` with ``{ground_truth, norm, gt_time?, match_time?,
field?}`` answers the distances of every simulation at every step as one binary frame
(frame_codec: header + float32 (S, T, 3)), computed by the server's :class:`resident.Resident`
from fields it keeps in memory after the first load (within ``DSIConfig.field_budget_mb``).
Nothing is written: the panel shows the answer as a scratch method, and "Keep" stores the same
values through ``POST /methods`` (the same kernel).

The work runs as a job of the server's :class:`jobs.Jobs` (off the event loop, with progress and
cancel). When it ends within ``?wait=`` seconds (0.5 by default) the POST answers the frame
itself; otherwise it answers 202 with the job, as ``POST /methods`` does, and
``GET /distances/JOB_ID`` answers the frame once the job is done. ``GET /distances/status?path=DB``
answers ``Resident.report()``: what the server holds and its budget, for the panel to show.

``GET /distances?path=DB&method=ID`` answers a *stored* method's distances in the same frame layout
(replica.method_frame): the panel's replica holds no distances, and fetches a method's when a view
first needs it (issue 18).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import tornado

from . import frame_codec
from .errors import DsiError
from .jobs import UNFINISHED, Job, Jobs, JobsFull
from .server import DSIConfig, RequestError, _Handler, parse_body, scrub, short
from .resident import COLUMNS
from .store import Store

FIELDS = ("ground_truth", "norm", "gt_time", "match_time", "field")
# Seconds the POST waits for the answer before it answers a job instead: below this the panel
# draws at once; above it the user gets progress and a Cancel button.
INLINE_SECONDS = 0.5
MAX_WAIT_SECONDS = 30.0
# Finished answers kept for GET /distances/JOB_ID: each is S x T x 3 float64 (1 MB for the
# 1,000-run sample); a panel fetches its own within a second of the job ending.
KEEP_ANSWERS = 8

_resident_lock = threading.Lock()


class DistancesCancelled(DsiError):
    """The job was cancelled (the panel's Cancel): nothing was computed to the end, nothing written."""


def resident_of(settings: dict[str, Any]) -> Any:
    """The server's one Resident (made on first use, so a server that never computes on the fly
    holds no fields), bounded by ``DSIConfig.field_budget_mb``."""
    with _resident_lock:
        resident = settings.get("jupyterlab_dsi_resident")
        if resident is None:
            from .resident import Resident

            config: DSIConfig = settings["jupyterlab_dsi_config"]
            resident = Resident(int(config.field_budget_mb) * 2**20)
            settings["jupyterlab_dsi_resident"] = resident
        return resident


def _answers(settings: dict[str, Any]) -> OrderedDict[str, dict[str, Any]]:
    with _resident_lock:
        return settings.setdefault("jupyterlab_dsi_distance_answers", OrderedDict())


def _forget_answers(answers: OrderedDict[str, dict[str, Any]], jobs: Jobs) -> None:
    """Oldest answers dropped beyond KEEP_ANSWERS, never a job's still queued or running (its
    panel fetches it when it ends; Jobs bounds how many those are). Under _resident_lock."""
    for job_id in list(answers):
        if len(answers) <= KEEP_ANSWERS:
            return
        job = jobs.get(job_id)
        if job is None or job.state not in UNFINISHED:
            del answers[job_id]


def check_distances(body: Any) -> dict[str, Any]:
    """The request ``{ground_truth, norm, gt_time?, match_time?, field?}`` with each field of its
    type and range; whether the ground truth exists is for the Resident to say (422)."""
    from .compute import MATCH_TIMES
    from .norms import NORMS

    if not isinstance(body, dict) or set(body) - set(FIELDS):
        raise RequestError("expected {ground_truth, norm, gt_time, match_time, field}")
    ground_truth, norm = body.get("ground_truth"), body.get("norm")
    gt_time, match_time = body.get("gt_time"), body.get("match_time", "index")
    field = body.get("field", "density")
    if not isinstance(ground_truth, str) or not ground_truth.strip() or len(ground_truth) > 1000:
        raise RequestError("choose a ground truth simulation")
    if norm not in NORMS:
        raise RequestError(f"unknown norm {short(norm)}; choose one of {', '.join(NORMS)}")
    if gt_time is not None and (isinstance(gt_time, bool) or not isinstance(gt_time, int) or not 0 <= gt_time < 2**63):
        raise RequestError("the ground-truth time must be a step index >= 0, or null for matched steps")
    if match_time not in MATCH_TIMES:
        raise RequestError(f"unknown time matching {short(match_time)}; choose one of {', '.join(MATCH_TIMES)}")
    if not isinstance(field, str) or not field or len(field) > 200:
        raise RequestError("the field must be the name of a cell array, e.g. density")
    return {"ground_truth": ground_truth, "norm": norm, "gt_time": gt_time, "match_time": match_time, "field": field}


def frame_of(scratch: Any, report: dict[str, Any], job_id: str | None = None) -> bytes:
    """The answer's bytes: the header names the rows (sim_ids), the steps and the columns of
    ``scratch.values`` (S, T, 3), float32 with NaN where a distance is undefined."""
    header: dict[str, Any] = {
        "sim_ids": list(scratch.sim_ids),
        "steps": [int(t) for t in scratch.steps],
        "columns": list(COLUMNS),
        "ground_truth": scratch.ground_truth,
        "norm": scratch.norm,
        "gt_time": scratch.gt_time,
        "match_time": scratch.match_time,
        "field": scratch.field,
        "seconds": round(float(scratch.seconds), 6),
        "resident": report,
    }
    if job_id:
        header["job"] = job_id
    return frame_codec.encode(header, scratch.values)


class DistancesHandler(_Handler):
    """``POST /distances?path=DB``: a ground truth's distances without writing; ``GET
    /distances/JOB_ID``: a job's answer; ``GET /distances/status?path=DB``: the resident fields;
    ``GET /distances?path=DB&method=ID``: a stored method's distances."""

    def _frame(self, data: bytes) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(data, set_content_type=frame_codec.CONTENT_TYPE)

    def _job_json(self, job: Job, status: int) -> None:
        self.set_status(status)
        message = job.public()
        message["message"] = scrub(message["message"], self.root_dir, job.path)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(message))

    def _over(self, job: Job) -> None:
        """The answer for a job that ended without a frame: why, in one line."""
        message = scrub(job.message, self.root_dir, job.path)
        if job.state == "cancelled":
            self.fail(409, message or "cancelled; nothing was computed to the end")
        else:
            self.fail(422, message or "the computation failed; the Jupyter server's log has the details")

    @tornado.web.authenticated
    async def post(self, job_id: str | None = None) -> None:
        if job_id:
            self.fail(405, "a job's distances are read with GET .../distances/JOB_ID")
            return
        relative = self.get_query_argument("path", "")
        try:
            body = check_distances(parse_body(self.request.body))
            wait = float(self.get_query_argument("wait", str(INLINE_SECONDS)))
            if not 0 <= wait <= MAX_WAIT_SECONDS:  # NaN fails this too
                raise RequestError(f"wait must be seconds from 0 to {MAX_WAIT_SECONDS:g}")
        except ValueError:
            self.fail(400, f"wait must be seconds from 0 to {MAX_WAIT_SECONDS:g}")
            return
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        db = self.database(relative)
        if db is None:
            return
        settings = self.settings
        jobs: Jobs = settings["jupyterlab_dsi_jobs"]
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()
        box: dict[str, Any] = {}
        # Set once the job's id is in box: a fast answer (a recent result) may be computed
        # before jobs.start returns, and its frame must still name its job.
        named = threading.Event()

        def work(progress: Callable[[int, int], None], cancel: threading.Event) -> dict[str, Any]:
            try:
                resident = resident_of(settings)
                with Store(db, readonly=True) as store:
                    if cancel.is_set():  # cancelled while it waited for a turn or for the file's lock
                        raise DistancesCancelled("cancelled; nothing was written")
                    try:
                        scratch = resident.distances(store, body["ground_truth"], body["norm"], body["gt_time"],
                                                     match_time=body["match_time"], field=body["field"],
                                                     progress=progress, cancel=cancel)
                    except Exception as exc:
                        if cancel.is_set():  # whatever the kernel raised on its way out: a cancel
                            raise DistancesCancelled("cancelled; nothing was written") from exc
                        raise
                named.wait(5)
                box["frame"] = frame_of(scratch, resident.report(), box.get("job"))
                shape = scratch.values.shape
                return {"frame": f"distances/{box.get('job', '')}", "simulations": int(shape[0]),
                        "steps": int(shape[1]), "seconds": round(float(scratch.seconds), 6)}
            finally:
                loop.call_soon_threadsafe(ended.set)

        try:
            job = jobs.start("distances", relative, work)
        except JobsFull as exc:
            self.set_header("Retry-After", "30")
            self.fail(429, str(exc))
            return
        answers = _answers(settings)
        with _resident_lock:
            box["job"] = job.id
            answers[job.id] = box
            _forget_answers(answers, jobs)
        named.set()  # the work reads box["job"] after this, however fast it was
        try:
            await asyncio.wait_for(ended.wait(), wait)
        except asyncio.TimeoutError:
            self._job_json(job, 202)
            return
        # The work has returned or raised; Jobs records its state a moment later.
        deadline = time.monotonic() + 5
        while job.state in ("queued", "running") and "frame" not in box and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if "frame" in box:
            self._frame(box["frame"])
        elif job.state in ("failed", "cancelled"):
            self._over(job)
        else:
            self._job_json(job, 202)

    @tornado.web.authenticated
    async def get(self, job_id: str | None = None) -> None:
        if job_id is None and self.get_query_argument("method", None) is not None:
            await self._stored()
            return
        if job_id is None or job_id == "status":
            await self._status()
            return
        job = self.settings["jupyterlab_dsi_jobs"].get(job_id)
        box = _answers(self.settings).get(job_id)
        if job is None or box is None or job.kind != "distances":
            self.fail(404, f"no distances job {job_id}: it finished long ago, or the server restarted; compute again")
            return
        if job.state in ("queued", "running"):
            self._job_json(job, 202)
        elif "frame" in box:
            self._frame(box["frame"])
        else:
            self._over(job)

    async def _stored(self) -> None:
        """``GET /distances?path=DB&method=ID[&max_bytes=N]``: a stored method's distances as one
        frame (replica.method_frame), read on the Store's pool; 404 for a method the file lacks,
        413 naming maxDatabaseMB when S x T x 12 bytes exceed ``max_bytes`` (before reading)."""
        from . import replica

        relative = self.get_query_argument("path", "")
        method_id = self.get_query_argument("method", "")
        if not replica.METHOD_ID.fullmatch(method_id):
            self.fail(400, f"malformed method id {short(method_id)}: give a method's id (see `jupyter dsi methods`)")
            return
        try:
            max_bytes = replica.parse_max_bytes(self.get_query_argument("max_bytes", None))
        except ValueError as exc:
            self.fail(400, str(exc))
            return

        def read(store: Store) -> Any:
            try:
                return replica.method_frame(store, method_id, max_bytes=max_bytes)
            except (replica.TooLarge, replica.UnknownMethod) as exc:  # answered here, not as 422
                return exc

        ok, answer = await self.with_store(read)
        if not ok:
            return
        if isinstance(answer, replica.TooLarge):
            self.fail(413, answer.message(relative))
        elif isinstance(answer, replica.UnknownMethod):
            self.fail(404, answer.message(relative))
        else:
            self._frame(answer)

    async def _status(self) -> None:
        relative = self.get_query_argument("path", "")
        if relative:
            if self.database(relative) is None:
                return
        settings = self.settings
        report = await asyncio.get_running_loop().run_in_executor(
            settings["jupyterlab_dsi_store_pool"], lambda: resident_of(settings).report())
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(report))


def handlers(base: str) -> list[tuple[str, type]]:
    """The routes server.py's setup adds: POST distances, GET distances/status and distances/JOB_ID."""
    from jupyter_server.utils import url_path_join

    from .server import NAMESPACE

    return [(url_path_join(base, NAMESPACE, "distances"), DistancesHandler),
            (url_path_join(base, NAMESPACE, "distances", r"(status|[0-9a-f-]{36})"), DistancesHandler)]

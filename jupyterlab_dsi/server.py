"""The Jupyter server extension: the panel's way to the database file.

``GET /jupyterlab-dsi/db?path=P`` answers a consistent snapshot of the database at ``P`` (relative
to the server's root) as bytes for the browser's sql.js replica; ``GET /jupyterlab-dsi/config``
answers the extension's server-side settings. Every endpoint needs the user's authentication and
every path is confined to the server's root directory.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from traitlets import Unicode
from traitlets.config import Configurable

from .errors import DsiError
from .jobs import Job, Jobs
from .paths import PathError, confine
from .store import Store, current_user, damaged

NAMESPACE = "jupyterlab-dsi"


class DSIConfig(Configurable):
    """Server-side settings, e.g. ``--DSIConfig.default_db=data/sample.sqlite``."""

    default_db = Unicode(
        "", config=True, help="Database (relative to the server root) the panel opens on start."
    )


def last_event(store: Store) -> int:
    return int(store.conn.execute("SELECT coalesce(max(seq), 0) FROM jdsi_event").fetchone()[0])


class _Handler(APIHandler):
    @property
    def root_dir(self) -> str:
        return str(self.settings.get("server_root_dir") or self.contents_manager.root_dir)

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def with_store(self, work: Callable[[Store], Any], *, readonly: bool = True) -> tuple[bool, Any]:
        """Run ``work`` on the database at ``?path=``: (True, result), or (False, _) once the
        error has been answered (403/404 for paths, 422 with the Store's one-line message)."""
        relative = self.get_query_argument("path", "")
        try:
            with Store(confine(self.root_dir, relative), readonly=readonly) as store:
                return True, work(store)
        except PathError as exc:
            self.fail(404 if "no such file" in str(exc) else 403, str(exc))
        except (DsiError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.DatabaseError):  # damaged past what opening reads
                exc = damaged(relative, exc)
            # Name the file as the user knows it, not by its absolute server path.
            self.fail(422, str(exc).replace(confine_quiet(self.root_dir, relative), relative))
        return False, None


class DatabaseHandler(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        ok, answer = self.with_store(lambda store: (store.snapshot(), last_event(store)))
        if not ok:
            return
        data, seq = answer
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-DSI-Event-Seq", str(seq))
        self.finish(data)


# A dataset save carries at most this much JSON: 10k members of long ids fit many times over.
MAX_BODY_BYTES = 64 * 1024 * 1024
SAVE_FIELDS = (
    "members", "description", "name", "method_id", "t", "weights", "filter", "selection_kind",
    "selection_geometry", "sampling", "settings", "parent_id",
)


class DatasetsHandler(_Handler):
    """Saves, lists, deletes and restores datasets of the database at ``?path=``.

    Every write goes through the Store (DESIGN.md rule 1). The body is JSON, never code; a
    retry of a save with the same client-chosen ``id`` returns the first save's record.
    """

    def _run(self, action: Any) -> None:
        ok, answer = self.with_store(action, readonly=False)
        if not ok:
            return
        status, body = answer
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    @tornado.web.authenticated
    def get(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if dataset_id:
            fmt = self.get_query_argument("format", "json")
            exporters = {"json": datasets.export_json, "prov": datasets.export_prov}
            if fmt == "card":
                self._run(lambda store: (200, {"markdown": datasets.export_card(store, dataset_id)}))
            elif fmt in exporters:
                self._run(lambda store: (200, exporters[fmt](store, dataset_id)))
            else:
                self.fail(400, f"unknown export format {fmt!r}; use json, card or prov")
            return
        include = self.get_query_argument("all", "") == "1"
        self._run(lambda store: (200, datasets.list_datasets(store, include_deleted=include)))

    @tornado.web.authenticated
    def post(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if dataset_id:
            self.fail(405, "datasets are immutable: save a new one (with parent_id) instead")
            return
        if len(self.request.body) > MAX_BODY_BYTES:
            self.fail(413, f"the request is larger than {MAX_BODY_BYTES // 1048576} MB")
            return
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            self.fail(400, "the request body is not JSON")
            return
        if not isinstance(body, dict):
            self.fail(400, "the request body must be a JSON object")
            return
        unknown = sorted(set(body) - set(SAVE_FIELDS) - {"id"})
        if unknown:
            self.fail(400, f"unknown field(s) {', '.join(unknown)}")
            return
        # weights: d_feature's terms {column: weight} (older panels: {shock, edge}); see feature.py.
        fields = {k: body[k] for k in SAVE_FIELDS if k in body}
        self._run(
            lambda store: (
                201,
                datasets.save_dataset(store, dataset_id=body.get("id"), author=self._author(), **fields),
            )
        )

    @tornado.web.authenticated
    def delete(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if not dataset_id:
            self.fail(400, "name the dataset to delete: DELETE .../datasets/ID")
            return
        self._run(lambda store: (200, datasets.delete_dataset(store, dataset_id, self._author())))

    def _author(self) -> str:
        user = self.current_user
        name = getattr(user, "username", None) or getattr(user, "name", None)
        return str(name) if name and name != "anonymous" else current_user()


class RestoreHandler(DatasetsHandler):
    """``POST .../datasets/ID/restore``: undo a delete (remove its tombstone)."""

    @tornado.web.authenticated
    def post(self, dataset_id: str | None = None) -> None:
        from . import datasets

        self._run(lambda store: (200, datasets.undelete_dataset(store, str(dataset_id), self._author())))


def confine_quiet(root: str, relative: str) -> str:
    """The absolute path of ``relative`` for scrubbing messages; '' when it cannot be resolved."""
    try:
        return str(confine(root, relative))
    except PathError:
        return "\x00"


class EventsHandler(_Handler):
    """``GET .../events?path=P&since=SEQ``: what was written since a replica's snapshot.

    The panel polls this cheaply; when another writer (a kernel, the CLI) has added events, it
    reads a new snapshot.
    """

    @tornado.web.authenticated
    def get(self) -> None:
        try:
            since = int(self.get_query_argument("since", "0"))
        except ValueError:
            self.fail(400, "since must be an event number")
            return
        ok, rows = self.with_store(
            lambda store: store.conn.execute(
                "SELECT seq, at, kind, record_id FROM jdsi_event WHERE seq > ? ORDER BY seq LIMIT 100",
                (since,),
            ).fetchall()
        )
        if not ok:
            return
        last = rows[-1]["seq"] if rows else since
        self.finish(json.dumps({"seq": last, "events": [dict(r) for r in rows]}))


class ConfigHandler(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        config: DSIConfig = self.settings["jupyterlab_dsi_config"]
        # The kernel bridge resolves the panel's relative paths against this same root.
        body: dict[str, Any] = {"default_db": config.default_db, "root": str(Path(self.root_dir).resolve())}
        self.finish(json.dumps(body))


MAX_DESCRIPTION = 10_000


class MethodsHandler(_Handler):
    """``POST /methods?path=P`` starts post-processing a new method as a job (the panel's
    "New method…"); the body is JSON ``{ground_truth, norm, gt_time, description}`` with,
    optionally, ``geometry`` (null: the data's own), ``match_time`` ('index' or 'nearest') and
    ``field`` (the VTK cell array, density by default)."""

    @tornado.web.authenticated
    def post(self) -> None:
        from .compute import GEOMETRIES, MATCH_TIMES, postprocess
        from .norms import NORMS

        relative = self.get_query_argument("path", "")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            self.fail(400, "the request body is not JSON")
            return
        fields = {"ground_truth", "norm", "gt_time", "description", "geometry", "match_time", "field"}
        if not isinstance(body, dict) or set(body) - fields:
            self.fail(400, "expected {ground_truth, norm, gt_time, description, geometry, match_time, field}")
            return
        field = body.get("field", "density")
        if not isinstance(field, str) or not field or len(field) > 200:
            self.fail(400, "the field must be the name of a cell array, e.g. density")
            return
        geometry, match_time = body.get("geometry"), body.get("match_time", "index")
        if geometry is not None and geometry not in GEOMETRIES:
            self.fail(400, f"unknown geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}, or null")
            return
        if match_time not in MATCH_TIMES:
            self.fail(400, f"unknown time matching {match_time!r}; choose one of {', '.join(MATCH_TIMES)}")
            return
        ground_truth, norm = body.get("ground_truth"), body.get("norm")
        gt_time, description = body.get("gt_time"), body.get("description", "")
        if not isinstance(ground_truth, str) or not ground_truth:
            self.fail(400, "choose a ground truth simulation")
            return
        if norm not in NORMS:
            self.fail(400, f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
            return
        if gt_time is not None and (isinstance(gt_time, bool) or not isinstance(gt_time, int) or gt_time < 0):
            self.fail(400, "the ground-truth time must be a step index >= 0, or null for matched steps")
            return
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            self.fail(400, f"the description must be text of at most {MAX_DESCRIPTION:,} characters")
            return
        try:
            db = confine(self.root_dir, relative)
        except PathError as exc:
            self.fail(404 if "no such file" in str(exc) else 403, str(exc))
            return
        jobs: Jobs = self.settings["jupyterlab_dsi_jobs"]

        def work(progress: Callable[[int, int], None], cancel: Any) -> dict[str, Any]:
            method_id = postprocess(db, ground_truth, norm, gt_time, description, progress=progress,
                                    cancel=cancel, geometry=geometry, match_time=match_time, field=field)
            return {"method_id": method_id}

        job = jobs.start("postprocess", relative, work)
        self.set_status(202)
        self.finish(json.dumps(job.public()))


class JobsHandler(_Handler):
    """``GET /jobs/ID`` says how far a job got; ``DELETE /jobs/ID`` cancels it; ``GET /jobs``
    lists the running ones (the status bar)."""

    def _job(self, job_id: str) -> Job | None:
        job = self.settings["jupyterlab_dsi_jobs"].get(job_id)
        if job is None:
            self.fail(404, f"no job {job_id}: it finished more than an hour ago, or the server restarted")
        return job

    @tornado.web.authenticated
    def get(self, job_id: str | None = None) -> None:
        if job_id is None:
            running = self.settings["jupyterlab_dsi_jobs"].running()
            self.finish(json.dumps([j.public() for j in running]))
            return
        job = self._job(job_id)
        if job:
            message = job.public()
            # Errors name the file as the user knows it, not by its absolute server path.
            message["message"] = message["message"].replace(confine_quiet(self.root_dir, job.path), job.path)
            self.finish(json.dumps(message))

    @tornado.web.authenticated
    def delete(self, job_id: str | None = None) -> None:
        job = self._job(job_id or "")
        if job:
            job.cancel.set()
            self.finish(json.dumps(job.public()))


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    web_app.settings["jupyterlab_dsi_config"] = DSIConfig(config=server_app.config)
    web_app.settings["jupyterlab_dsi_jobs"] = Jobs()
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, NAMESPACE, "db"), DatabaseHandler),
            (url_path_join(base, NAMESPACE, "config"), ConfigHandler),
            (url_path_join(base, NAMESPACE, "events"), EventsHandler),
            (url_path_join(base, NAMESPACE, "methods"), MethodsHandler),
            (url_path_join(base, NAMESPACE, "jobs"), JobsHandler),
            (url_path_join(base, NAMESPACE, "jobs", r"([0-9a-f-]{36})"), JobsHandler),
            (url_path_join(base, NAMESPACE, "datasets"), DatasetsHandler),
            (url_path_join(base, NAMESPACE, "datasets", r"([0-9a-fA-F-]{4,36})"), DatasetsHandler),
            (url_path_join(base, NAMESPACE, "datasets", r"([0-9a-fA-F-]{4,36})", "restore"), RestoreHandler),
        ],
    )

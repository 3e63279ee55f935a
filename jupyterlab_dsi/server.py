"""The Jupyter server extension: the panel's way to the database file.

``GET /jupyterlab-dsi/db?path=P`` answers the browser's sql.js replica of the database at ``P``
(relative to the server's root): a consistent copy of every table but the distances' rows, which
``GET /distances?path=P&method=ID`` answers one method at a time (replica.py); ``GET /jupyterlab-dsi/config``
answers the extension's server-side settings; ``POST /jupyterlab-dsi/datasets/ID/export?path=P``
writes a dataset's export as a new file beside a notebook or the database; ``/proposals`` lists,
exports and records proposals of what to simulate next. Every endpoint needs
the user's authentication and every path is confined to the server's root directory (hidden
folders excluded).

Store calls run on a small thread pool, never on the server's event loop: a database whose lock
another process holds (a kernel's save, `jupyter dsi`, a sync tool) makes its own request answer
503 "busy" after ``DSIConfig.store_timeout`` seconds, with ``Retry-After``, while the rest of
Jupyter (the file browser, kernels, ``/api/status``) keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from traitlets import Float, Int, Unicode
from traitlets.config import Configurable

from .errors import DsiError, one_line
from .fields import ArrayLimit, set_array_limit
from .jobs import Job, Jobs, JobsFull
from .paths import FileExists, PathError, confine, confine_folder, inside
from .store import Store, StoreBusy, current_user, damaged

NAMESPACE = "jupyterlab-dsi"


class DSIConfig(Configurable):
    """Server-side settings, e.g. ``--DSIConfig.default_db=data/sample.sqlite``."""

    default_db = Unicode(
        "", config=True, help="Database (relative to the server root) the panel opens on start."
    )
    store_timeout = Float(
        5.0, min=0.1, config=True,
        help="Seconds a panel request waits for a database whose lock another process holds before "
        "it is answered 503 'busy' (the panel retries).",
    )
    max_array_mb = Int(
        256, min=1, config=True,
        help="Largest array (MB, as float64) a post-processing job started from the panel reads from "
        "a simulation file; a file declaring more is refused before anything is allocated. A job "
        "holds a few simulations at once.",
    )
    max_queued_jobs = Int(
        8, min=0, config=True, help="Post-processing jobs that may wait while two run; more are refused (429)."
    )
    field_budget_mb = Int(
        1024, min=0, config=True,
        help="Memory (MB) the server keeps fields in (float32, per database, least recently used "
        "dropped first) to compute a new ground truth's distances on the fly; a database above it "
        "streams from disk with progress. 0: always stream.",
    )


# Seconds the panel waits before it retries a request answered "busy".
RETRY_AFTER = 1
# SQLite's words for a lock held by another connection, where an error reaches us unnamed.
BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")


def is_busy(exc: BaseException) -> bool:
    if isinstance(exc, StoreBusy):
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in BUSY_WORDS)


class RequestError(DsiError):
    """A malformed request (wrong JSON types): answered 400 with its message."""


_JSON_NAMES = {dict: "an object", list: "a list", str: "text", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


def short(value: Any) -> str:
    """A value the request sent, for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_kind(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def expect(body: dict[str, Any], name: str, *kinds: type) -> None:
    """``body[name]``, when given, has one of the JSON types ``kinds`` (``int`` excludes true/false)."""
    if name not in body:
        return
    value = body[name]
    ok = any(isinstance(value, k) and not (k in (int, float) and isinstance(value, bool)) for k in kinds)
    if isinstance(value, float) and not math.isfinite(value):  # Python's JSON reads NaN, Infinity
        ok = False
    if not ok:
        wanted = " or ".join(_JSON_NAMES[k] for k in kinds)
        raise RequestError(f"malformed request: {name} must be {wanted}, not {json_kind(value)}")


def parse_body(request_body: bytes) -> Any:
    """The request's JSON body; a RequestError for anything that is not JSON."""
    try:
        return json.loads(request_body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        raise RequestError("the request body is not JSON") from None


class _Handler(APIHandler):
    @property
    def root_dir(self) -> str:
        return str(self.settings.get("server_root_dir") or self.contents_manager.root_dir)

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    @property
    def allow_hidden(self) -> bool:
        return bool(getattr(self.contents_manager, "allow_hidden", False))

    def database(self, relative: str) -> Path | None:
        """The database at ``?path=`` confined to the root, or None once 404/403 is answered."""
        try:
            return confine(self.root_dir, relative, allow_hidden=self.allow_hidden)
        except PathError as exc:
            self.fail(404 if "no such file" in str(exc) else 403, str(exc))
            return None

    def busy(self, relative: str) -> None:
        self.set_header("Retry-After", str(RETRY_AFTER))
        self.fail(503, f"{relative} is busy: another program (a kernel, `jupyter dsi`) holds its lock; retrying")

    async def with_store(self, work: Callable[[Store], Any], *, readonly: bool = True) -> tuple[bool, Any]:
        """Run ``work`` on the database at ``?path=``, on the Store's thread pool: (True, result),
        or (False, _) once the error has been answered (403/404 for paths, 400 for a malformed
        request, 503 when the file stays locked, 422 with the Store's one-line message)."""
        relative = self.get_query_argument("path", "")
        root, allow_hidden = self.root_dir, self.allow_hidden
        config: DSIConfig = self.settings["jupyterlab_dsi_config"]

        def run() -> Any:
            path = confine(root, relative, allow_hidden=allow_hidden)
            try:
                with Store(path, readonly=readonly) as store:
                    return work(store)
            except sqlite3.DatabaseError as exc:
                if is_busy(exc):
                    raise
                # Named here, on the pool's thread: explaining may run an integrity check over the
                # whole file, which must never hold up the event loop.
                raise damaged(path, exc) from exc

        pending = asyncio.get_running_loop().run_in_executor(self.settings["jupyterlab_dsi_store_pool"], run)
        try:
            # On timeout the thread goes on until SQLite's own busy timeout; a save finishing
            # then is found by the panel's retry, which reuses its id.
            return True, await asyncio.wait_for(pending, config.store_timeout)
        except asyncio.TimeoutError:
            self.busy(relative)
        except PathError as exc:
            self.fail(404 if "no such file" in str(exc) else 403, str(exc))
        except RequestError as exc:
            self.fail(400, str(exc))
        except (DsiError, sqlite3.DatabaseError) as exc:
            if is_busy(exc):
                self.busy(relative)
                return False, None
            # Name the file as the user knows it, not by its absolute server path.
            self.fail(422, scrub(str(exc), root, relative))
        except Exception as exc:  # noqa: BLE001 - a bug: the log gets the traceback, the panel one line
            self.log.error("jupyterlab-dsi: %s %s failed", self.request.method, self.request.uri, exc_info=exc)
            self.fail(500, f"jupyterlab-dsi failed ({one_line(exc)}); the Jupyter server's log has the details")
        return False, None


def scrub(message: str, root: str, relative: str) -> str:
    """``message`` without the server's absolute paths: the database as the user named it, any
    other file relative to the root."""
    message = message.replace(confine_quiet(root, relative), relative)
    return message.replace(str(Path(root).resolve()) + "/", "")


class DatabaseHandler(_Handler):
    """``GET /db?path=P[&max_bytes=N]``: the panel's replica (replica.build_replica): every table
    but the distances' rows, plus jdsi_replica_method; headers ``X-DSI-Event-Seq`` (the last event
    it holds) and ``X-DSI-Replica: 1``. 413 with one line naming maxDatabaseMB when it would exceed
    ``max_bytes``, refused before it is built. The newest method's frame is built meanwhile."""

    @tornado.web.authenticated
    async def get(self) -> None:
        from . import replica

        relative = self.get_query_argument("path", "")
        try:
            max_bytes = replica.parse_max_bytes(self.get_query_argument("max_bytes", None))
        except ValueError as exc:
            self.fail(400, str(exc))
            return

        def build(store: Store) -> Any:
            try:
                data, seq = replica.build_replica(store, max_bytes=max_bytes)
            except replica.TooLarge as exc:  # answered here, not as with_store's 422
                return exc
            return data, seq, replica.newest_method(store), store.path

        ok, answer = await self.with_store(build)
        if not ok:
            return
        if isinstance(answer, replica.TooLarge):
            self.fail(413, answer.message(relative))
            return
        data, seq, newest, path = answer
        if newest is not None:
            # The panel shows the newest method first and asks for its distances next: they are
            # built on the Store's pool meanwhile (a cached frame makes this a no-op).
            self.settings["jupyterlab_dsi_store_pool"].submit(replica.prefetch, path, newest)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-DSI-Event-Seq", str(seq))
        self.set_header("X-DSI-Replica", "1")
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

    async def _run(self, action: Any) -> None:
        ok, answer = await self.with_store(action, readonly=False)
        if not ok:
            return
        status, body = answer
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    @tornado.web.authenticated
    async def get(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if dataset_id:
            fmt = self.get_query_argument("format", "json")
            exporters = {"json": datasets.export_json, "prov": datasets.export_prov}
            if fmt in datasets.EXPORT_FORMATS and self.get_query_argument("as", "") == "text":
                # The file's text, byte for byte what `jupyter dsi export` writes (the panel's Download).
                ok, text = await self.with_store(lambda store: datasets.export_text(store, dataset_id, fmt))
                if ok:  # APIHandler.finish sets the type it is given (JSON unless told)
                    self.finish(text.encode("utf-8"), set_content_type="text/plain; charset=utf-8")
            elif fmt == "card":
                await self._run(lambda store: (200, {"markdown": datasets.export_card(store, dataset_id)}))
            elif fmt in exporters:
                await self._run(lambda store: (200, exporters[fmt](store, dataset_id)))
            else:
                self.fail(400, f"unknown export format {fmt!r} for a download; use json, card, prov or datacite "
                          "(croissant and rocrate are several files: save them next to the notebook)")
            return
        include = self.get_query_argument("all", "") == "1"
        await self._run(lambda store: (200, datasets.list_datasets(store, include_deleted=include)))

    @tornado.web.authenticated
    async def post(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if dataset_id:
            self.fail(405, "datasets are immutable: save a new one (with parent_id) instead")
            return
        if len(self.request.body) > MAX_BODY_BYTES:
            self.fail(413, f"the request is larger than {MAX_BODY_BYTES // 1048576} MB")
            return
        try:
            body = check_save(parse_body(self.request.body))
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        # weights: d_feature's terms {column: weight} (older panels: {shock, edge}); see feature.py.
        fields = {"method_id": None, "t": None, **{k: body[k] for k in SAVE_FIELDS if k in body}}
        author = self._author()
        await self._run(
            lambda store: (
                201,
                datasets.save_dataset(store, dataset_id=body.get("id"), author=author, **fields),
            )
        )

    @tornado.web.authenticated
    async def delete(self, dataset_id: str | None = None) -> None:
        from . import datasets

        if not dataset_id:
            self.fail(400, "name the dataset to delete: DELETE .../datasets/ID")
            return
        author = self._author()
        await self._run(lambda store: (200, datasets.delete_dataset(store, dataset_id, author)))

    def _author(self) -> str:
        return author_of(self.current_user)


# What the Jupyter server's default IdentityProvider makes up when nobody logged in (a token or
# no auth at all): a random id, named "Anonymous <moon>". It names no person.
_ANONYMOUS_ID = re.compile(r"[0-9a-f]{32}")


def author_of(user: Any) -> str:
    """Who saves: the identity's user name where the server knows the person (JupyterHub, a
    login), else the operating-system user, as the CLI and the kernel record."""
    username = user if isinstance(user, str) else getattr(user, "username", None)
    name = str(getattr(user, "name", "") or "")
    if isinstance(username, str) and username.strip():
        anonymous = username == "anonymous" or (
            _ANONYMOUS_ID.fullmatch(username) is not None and name.startswith("Anonymous ")
        )
        if not anonymous:
            return username.strip()
    return current_user()


def check_save(body: Any) -> dict[str, Any]:
    """A dataset save's body with each field of the JSON type it must have; the values
    themselves are checked by datasets.save_dataset (422 with its message)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = sorted(set(body) - set(SAVE_FIELDS) - {"id"})
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(unknown)}")
    missing = [name for name in ("members", "description") if name not in body]
    if missing:
        raise RequestError(f"malformed request: {' and '.join(missing)} missing; a save sends members and description")
    for name in ("id", "description", "name", "filter", "selection_kind"):
        expect(body, name, str)
    for name in ("method_id", "parent_id"):
        expect(body, name, str, type(None))
    expect(body, "members", list)
    expect(body, "t", int, type(None))
    if isinstance(body.get("t"), int) and not -(2**63) <= body["t"] < 2**63:  # SQLite's integers
        raise RequestError("malformed request: t must be a step index, not a number beyond 2**63")
    expect(body, "weights", dict, list, type(None))
    expect(body, "sampling", dict, type(None))
    expect(body, "settings", dict, type(None))
    sampling = body.get("sampling")
    if isinstance(sampling, dict):
        expect(sampling, "kind", str)
        expect(sampling, "p", int, float)
        expect(sampling, "n", int)
        expect(sampling, "seed", int)
    return body


class RestoreHandler(DatasetsHandler):
    """``POST .../datasets/ID/restore``: undo a delete (remove its tombstone)."""

    @tornado.web.authenticated
    async def post(self, dataset_id: str | None = None) -> None:
        from . import datasets

        author = self._author()
        await self._run(lambda store: (200, datasets.undelete_dataset(store, str(dataset_id), author)))


EXPORT_FIELDS = ("format", "dir", "name")
MAX_NAME = 200


def check_export(body: Any) -> dict[str, Any]:
    """An export-to-file request ``{format, dir?, name?}`` with each field of its JSON type and a
    name that is one visible file name (no folder, no leading dot)."""
    from .exports import FORMAT_NAMES, FORMATS

    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object {format, dir?, name?}")
    unknown = sorted(set(body) - set(EXPORT_FIELDS))
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(unknown)}")
    if "format" not in body:
        raise RequestError(f"malformed request: format missing; use {FORMAT_NAMES}")
    for name in EXPORT_FIELDS:
        expect(body, name, str)
    if body["format"] not in FORMATS:
        raise RequestError(f"unknown export format {short(body['format'])}; use {FORMAT_NAMES}")
    name = body.get("name")
    if name is not None:
        if not name or name in (".", "..") or any(c in name for c in "/\\\x00"):
            raise RequestError(f"the file name {short(name)} must be one file name, without a folder")
        if name.startswith("."):
            raise RequestError(f"the file name {short(name)} would be hidden; choose one that does not start with '.'")
        if len(name) > MAX_NAME:
            raise RequestError(f"the file name is longer than {MAX_NAME} characters")
    return body


def export_file_name(dataset_name: str, dataset_id: str, fmt: str) -> str:
    """The file a dataset's export is saved as, as the panel's Download names it: the dataset's
    name with anything but letters, digits, '.', '-' and '_' made '_' (never hidden), then the
    format's ending (.json, .md, .prov.json, .datacite.json, .croissant.json; .ro-crate: a folder)."""
    from .exports import FORMATS

    stem = re.sub(r"[^\w.-]+", "_", dataset_name, flags=re.ASCII).lstrip(".")[:MAX_NAME - 20]
    return (stem or dataset_id) + FORMATS[fmt]


class ExportFileHandler(_Handler):
    """``POST .../datasets/ID/export?path=DB`` with ``{format, dir?, name?}``: write the dataset's
    export (what `jupyter dsi export -o` writes: one file; croissant: the JSON-LD and its members
    CSV beside it; rocrate: a folder) in the folder ``dir`` under the server's root (default: the
    database's folder; the panel sends the linked notebook's). Without ``name`` it is named after
    the dataset and, when that exists, ``name (1).json``...; a ``name`` given that exists is
    refused (409). Never overwrites, never leaves a half-written file or folder, never writes
    outside the root or into a hidden folder. Answers 201 ``{path, format, bytes, files}``:
    ``path`` the file (or the crate's folder) named, ``files`` every file written, relative to the
    root, ``bytes`` their total size."""

    @tornado.web.authenticated
    async def post(self, dataset_id: str | None = None) -> None:
        from .datasets import get_dataset
        from .exports import free_name, prepare, save_prepared

        try:
            body = check_export(parse_body(self.request.body))
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        root, allow_hidden = self.root_dir, self.allow_hidden
        database = self.get_query_argument("path", "")
        folder_relative = body.get("dir")
        try:
            confine(root, database, allow_hidden=allow_hidden)  # the database must be one we serve
            if folder_relative is None:  # next to the database, as the user named it
                folder_relative = database.lstrip("/").replace("\\", "/").rpartition("/")[0]
            folder = confine_folder(root, folder_relative, allow_hidden=allow_hidden)
        except PathError as exc:
            self.fail(404 if "no such" in str(exc) else 403, str(exc))
            return
        fmt, name = body["format"], body.get("name")

        def read(store: Store) -> tuple[str, Any]:
            record = get_dataset(store, str(dataset_id))
            wanted = name or export_file_name(record["name"], record["id"], fmt)
            if name is not None:  # a name given that is taken: refused before the export is read
                try:
                    free_name(folder, wanted, fmt, unique=False)
                except FileExists as exc:
                    return wanted, str(exc)
            return wanted, prepare(store, record["id"], fmt)

        ok, answer = await self.with_store(read)
        if not ok:
            return
        wanted, files = answer
        if isinstance(files, str):
            self.fail(409, files)
            return

        # Written only once the export is read: a request answered "busy" has written nothing,
        # so the panel's retry does not leave a second copy.
        def write() -> tuple[int, dict[str, Any]]:
            try:
                chosen, written = save_prepared(folder, wanted, fmt, files, unique=name is None)
            except FileExists as exc:
                return 409, {"message": str(exc)}
            except OSError as exc:  # a read-only folder, a full disk: named, never a 500
                where = inside(root, folder) or folder_relative or "the server's root"
                return 422, {"message": f"cannot write {wanted} in {where}: {exc.strerror or one_line(exc)}"}
            return 201, {"path": inside(root, folder / chosen), "format": fmt,
                         "bytes": sum(len(text.encode("utf-8")) for text in written.values()),
                         "files": sorted(inside(root, folder / relative) or relative for relative in written)}

        status, reply = await asyncio.get_running_loop().run_in_executor(self.settings["jupyterlab_dsi_store_pool"], write)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))


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
    async def get(self) -> None:
        try:
            since = int(self.get_query_argument("since", "0"))
        except ValueError:
            since = -1
        if not 0 <= since < 2**63:  # SQLite's integers end there
            self.fail(400, "since must be an event number (0 for all)")
            return
        ok, rows = await self.with_store(
            lambda store: store.conn.execute(
                "SELECT seq, at, kind, record_id FROM jdsi_event WHERE seq > ? ORDER BY seq LIMIT 100",
                (since,),
            ).fetchall()
        )
        if not ok:
            return
        last = rows[-1]["seq"] if rows else since
        self.finish(json.dumps({"seq": last, "events": [dict(r) for r in rows]}))


class LineageHandler(_Handler):
    """``GET .../lineage?path=P&id=ID``: the lineage graph of any record (lineage.lineage's JSON)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        from .lineage import lineage

        ref = self.get_query_argument("id", "")
        if not ref.strip():
            self.fail(400, "give the record's id: ?id=ID (or a unique prefix of it)")
            return
        ok, graph = await self.with_store(lambda store: lineage(store, ref))
        if ok:
            # A file's path is said relative to the server's root, so the panel can open it there;
            # a file outside the root keeps only its name (the server's layout is not shown).
            root = Path(self.root_dir).resolve()
            for node in graph["nodes"]:
                if "path" in node:
                    inside = Path(node["path"]).resolve()
                    node.pop("path")
                    if inside.is_relative_to(root):
                        node["path"] = inside.relative_to(root).as_posix()
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(graph))


MAX_PROPOSALS = 100_000  # points one request may draw: a campaign is far smaller
PROPOSE_FIELDS = ("run_id", "n", "seed", "tau", "bounds", "alpha", "entropy_column", "target", "continuous")


def check_propose(body: Any) -> dict[str, Any]:
    """A propose request ``{run_id, n, seed, tau?, bounds?, alpha?, entropy_column?, target?,
    continuous?}`` with each field of its JSON type and range; what the values mean (an unknown
    parameter, a run without sigma2, a continuous parameter holding text) is checked by
    proposals.propose (422 with its one line)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object {run_id, n, seed, ...}")
    unknown = sorted(set(body) - set(PROPOSE_FIELDS))
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(short(u) for u in unknown)}")
    missing = [name for name in ("run_id", "n", "seed") if name not in body]
    if missing:
        raise RequestError(f"malformed request: {' and '.join(missing)} missing; a proposal needs run_id, n and seed")
    expect(body, "run_id", str)
    expect(body, "n", int)
    expect(body, "seed", int)
    expect(body, "tau", dict)
    expect(body, "bounds", dict)
    expect(body, "alpha", int, float)
    expect(body, "entropy_column", str)
    expect(body, "target", str)
    expect(body, "continuous", list)
    for name in body.get("continuous", []):
        if not isinstance(name, str):
            raise RequestError(f"malformed request: continuous must list parameter names (text), "
                               f"not {json_kind(name)} {short(name)}")
    if not 1 <= body["n"] <= MAX_PROPOSALS:
        raise RequestError(f"n must be a whole number from 1 to {MAX_PROPOSALS:,}, not {short(body['n'])}")
    if not 0 <= body["seed"] < 2**63:  # SQLite's integers (the policy is stored)
        raise RequestError(f"seed must be a whole number >= 0 (below 2**63), not {short(body['seed'])}")
    for name, value in body.get("tau", {}).items():
        expect({f"tau {short(name)}": value}, f"tau {short(name)}", int, float)  # a name may hold a newline
    for name, pair in body.get("bounds", {}).items():
        ok = isinstance(pair, list) and len(pair) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pair)
        if not ok:
            raise RequestError(f"malformed request: bounds {short(name)} must be [lo, hi], two numbers, "
                               f"not {short(pair)}")
    return body


class ProposalsHandler(_Handler):
    """``GET /proposals?path=P``: the recorded proposals (newest first); ``GET /proposals/ID?path=P
    &format=csv|json``: one's points, the csv byte for byte what `jupyter dsi proposals --db P ID`
    writes; ``POST /proposals?path=P`` with ``{run_id, n, seed, ...}``: draw and record one from a
    run's sigma2 (proposals.propose, the door `jupyter dsi propose --db` and Ensemble.propose use),
    answered 201 ``{id, n}``; nothing is recorded on an error."""

    def _json(self, status: int, body: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    @tornado.web.authenticated
    async def get(self, proposal_id: str | None = None) -> None:
        from .proposals import list_proposals, points_text

        if not proposal_id:
            ok, records = await self.with_store(list_proposals)
            if ok:
                self._json(200, records)
            return
        fmt = self.get_query_argument("format", "csv")
        if fmt not in ("csv", "json"):
            self.fail(400, f"unknown format {short(fmt)}; a proposal's points are csv or json")
            return
        ok, text = await self.with_store(lambda store: points_text(store, proposal_id, fmt))
        if ok:  # APIHandler.finish sets the type it is given (JSON unless told)
            self.finish(text.encode("utf-8"),
                        set_content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/json")

    @tornado.web.authenticated
    async def post(self, proposal_id: str | None = None) -> None:
        from .proposals import propose

        if proposal_id:
            self.fail(405, "proposals are immutable: draw a new one (POST .../proposals)")
            return
        try:
            body = check_propose(parse_body(self.request.body))
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        author = author_of(self.current_user)

        def record(store: Store) -> dict[str, Any]:
            frame = propose(None, body["n"], body["seed"], tau=body.get("tau"),
                            bounds={k: tuple(v) for k, v in body.get("bounds", {}).items()},
                            alpha=body.get("alpha", 1.0), entropy_column=body.get("entropy_column"),
                            continuous=body.get("continuous", ()), db=store, run=body["run_id"],
                            target=body.get("target"), author=author)
            return {"id": frame.attrs["proposal_record"], "n": len(frame)}

        ok, answer = await self.with_store(record, readonly=False)
        if ok:
            self._json(201, answer)


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
            body = parse_body(self.request.body)
        except RequestError as exc:
            self.fail(400, str(exc))
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
            self.fail(400, f"unknown geometry {short(geometry)}; choose one of {', '.join(GEOMETRIES)}, or null")
            return
        if match_time not in MATCH_TIMES:
            self.fail(400, f"unknown time matching {short(match_time)}; choose one of {', '.join(MATCH_TIMES)}")
            return
        ground_truth, norm = body.get("ground_truth"), body.get("norm")
        gt_time, description = body.get("gt_time"), body.get("description", "")
        if not isinstance(ground_truth, str) or not ground_truth:
            self.fail(400, "choose a ground truth simulation")
            return
        if norm not in NORMS:
            self.fail(400, f"unknown norm {short(norm)}; choose one of {', '.join(NORMS)}")
            return
        if gt_time is not None and (isinstance(gt_time, bool) or not isinstance(gt_time, int) or gt_time < 0):
            self.fail(400, "the ground-truth time must be a step index >= 0, or null for matched steps")
            return
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            self.fail(400, f"the description must be text of at most {MAX_DESCRIPTION:,} characters")
            return
        db = self.database(relative)
        if db is None:
            return
        jobs: Jobs = self.settings["jupyterlab_dsi_jobs"]

        def work(progress: Callable[[int, int], None], cancel: Any) -> dict[str, Any]:
            method_id = postprocess(db, ground_truth, norm, gt_time, description, progress=progress,
                                    cancel=cancel, geometry=geometry, match_time=match_time, field=field)
            return {"method_id": method_id}

        try:
            job = jobs.start("postprocess", relative, work)
        except JobsFull as exc:
            self.set_header("Retry-After", "30")
            self.fail(429, str(exc))
            return
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
            message["message"] = scrub(message["message"], self.root_dir, job.path)
            self.finish(json.dumps(message))

    @tornado.web.authenticated
    def delete(self, job_id: str | None = None) -> None:
        job = self._job(job_id or "")
        if job:
            self.settings["jupyterlab_dsi_jobs"].cancel(job)
            self.finish(json.dumps(job.public()))


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    config = DSIConfig(config=server_app.config)
    web_app.settings["jupyterlab_dsi_config"] = config
    web_app.settings["jupyterlab_dsi_jobs"] = Jobs(max_queued=config.max_queued_jobs, log=server_app.log)
    # Store calls wait on file locks: a few threads, so that a locked file cannot take them all
    # for long (each gives up after SQLite's busy timeout).
    web_app.settings["jupyterlab_dsi_store_pool"] = ThreadPoolExecutor(
        max_workers=4, thread_name_prefix="jupyterlab-dsi-store"
    )
    # Simulation files (GET field and image) are read on their own two threads: a slow file
    # system holds up the field view, never the store calls above.
    web_app.settings["jupyterlab_dsi_field_pool"] = ThreadPoolExecutor(
        max_workers=2, thread_name_prefix="jupyterlab-dsi-field"
    )
    # Jobs and the field view read simulation files in the server's process: the cap is the
    # server's setting.
    set_array_limit(ArrayLimit(config.max_array_mb * 2**20, "DSIConfig.max_array_mb"))
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, NAMESPACE, "db"), DatabaseHandler),
            (url_path_join(base, NAMESPACE, "config"), ConfigHandler),
            (url_path_join(base, NAMESPACE, "events"), EventsHandler),
            (url_path_join(base, NAMESPACE, "lineage"), LineageHandler),
            (url_path_join(base, NAMESPACE, "methods"), MethodsHandler),
            (url_path_join(base, NAMESPACE, "jobs"), JobsHandler),
            (url_path_join(base, NAMESPACE, "jobs", r"([0-9a-f-]{36})"), JobsHandler),
            (url_path_join(base, NAMESPACE, "proposals"), ProposalsHandler),
            (url_path_join(base, NAMESPACE, "proposals", r"([0-9a-fA-F-]{4,36})"), ProposalsHandler),
            (url_path_join(base, NAMESPACE, "datasets"), DatasetsHandler),
            (url_path_join(base, NAMESPACE, "datasets", r"([0-9a-fA-F-]{4,36})"), DatasetsHandler),
            (url_path_join(base, NAMESPACE, "datasets", r"([0-9a-fA-F-]{4,36})", "restore"), RestoreHandler),
            (url_path_join(base, NAMESPACE, "datasets", r"([0-9a-fA-F-]{4,36})", "export"), ExportFileHandler),
        ],
    )
    web_app.add_handlers(".*$", __import__("jupyterlab_dsi.server_fields", fromlist=["_"]).handlers(base))  # field, image
    web_app.add_handlers(".*$", __import__("jupyterlab_dsi.server_distances", fromlist=["_"]).handlers(base))  # distances

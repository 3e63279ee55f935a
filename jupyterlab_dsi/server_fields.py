"""The run behind a point (issue 17 §1): one step of one simulation's field, and a Cinema image.

``GET /jupyterlab-dsi/field?path=DB&sim=ID&t=STEP[&field=density][&gt=GT&gt_time=STEP|&match_time=
index|nearest]`` answers a frame (frame_codec): the run's field at step ``t`` as float32, block-
averaged down to at most 512 x 512 cells; with ``gt=`` three layers (the run's field, the ground
truth's at the matched step, and |gt - rho| over D+, the cells where gt * rho > 0, NaN elsewhere:
the cells the norms use). ``GET /jupyterlab-dsi/image?path=DB&sim=ID&column=NAME[&t=STEP]``
answers the bytes of a Cinema ``FILE`` column's png/jpg; without ``column``, the run's image
columns as JSON.

Files are found as post-processing finds them (the simulation's path relative to its source's
folder; a DSI database's VTK series) and are served only from inside the server's root or that
source's folder, never from a hidden folder: a database names its files, and a crafted one must
not make the server read anything else. Reads run on their own small pool (not the store pool
that /db answers on, so that slow files cannot hold up the table), never on the event loop;
decoded files stay in a small LRU (bytes-bounded), so that stepping the time slider over one run
reads its file once. The array-size cap of the server (DSIConfig.max_array_mb) holds here too.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import tornado

from . import frame_codec
from .errors import DsiError, one_line
from .compute import MATCH_TIMES
from .fields import FieldError, Fields, read_fields, source_file, split_path
from .paths import PathError
from .server import RequestError, _Handler, scrub
from .store import Store
from .vtk import read_series

# The panel draws at most this many cells per axis: more is finer than its canvas.
MAX_CELLS = 512
# Decoded files kept for the next request (a time slider stepping over one run); bytes as held.
CACHE_BYTES = 256 * 2**20
# An image larger than this is not a Cinema thumbnail: refused rather than sent to the tab.
MAX_IMAGE_BYTES = 64 * 2**20
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
# What the file's first bytes must be for its suffix: a crafted database cannot serve a text file
# renamed (or named) .png.
IMAGE_MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff"}


class Missing(DsiError):
    """A file the database names is not there: answered 404 (the message says 'no such file')."""


@dataclass(frozen=True)
class Run:
    """Where one simulation's fields are: a file, or one VTK file per step."""

    sim_id: str
    folder: Path  # the source's folder: its files' paths are relative to it
    file: str | None
    series: tuple[str, ...]
    times: tuple[float, ...]


def find_run(store: Store, sim_id: str) -> Run:
    """The simulation's files as recorded (not yet opened, nor checked against the root)."""
    row = store.conn.execute(
        """SELECT s.sim_id, s.path, s.times, src.path AS source FROM jdsi_simulation s
           JOIN jdsi_source src ON src.id = s.source_id WHERE s.sim_id = ?""",
        (sim_id,),
    ).fetchone()
    if row is None:
        raise RequestError(f"no simulation {sim_id!r} in this database")
    folder = Path(row["source"]).parent
    times = tuple(float(t) for t in json.loads(row["times"] or "[]") if isinstance(t, (int, float)))
    series: tuple[str, ...] = ()
    if row["path"] is None:
        # A DSI database's viz_files: the first file metric that names only VTK files, in step
        # order (dsi_sqlite.field_files, for one run).
        from .sources.dsi_sqlite import FIELD_SUFFIXES

        rows = store.conn.execute(
            """SELECT v.name, v.value FROM jdsi_metric_value v JOIN jdsi_metric m ON m.name = v.name
               WHERE m.kind = 'file' AND v.sim_id = ? ORDER BY m.position, v.t""",
            (sim_id,),
        ).fetchall()
        by_name: dict[str, list[str]] = {}
        for name, value in rows:
            by_name.setdefault(name, []).append(str(value))
        series = next((tuple(v) for v in by_name.values() if all(x.lower().endswith(FIELD_SUFFIXES) for x in v)), ())
        if not series:
            raise FieldError(f"simulation {sim_id!r} has no field file: its source is a table (parameters and "
                             "metrics, images at most); fields come from an ensemble folder or a DSI database's viz_files")
    return Run(sim_id, folder, row["path"], series, times)


def _hidden(relative: PurePosixPath) -> str | None:
    return next((p for p in relative.parts if p.startswith(".") and p not in (".", "..")), None)


def confine_data(root: str, folder: Path, relative: str, *, allow_hidden: bool) -> Path:
    """A file the database names, resolved: inside the server's root or inside the source's
    folder (once links resolve), never in a hidden folder; PathError otherwise (403).

    A netCDF/Zarr run's selector (``ens.nc#run=3``) is split off first: the file itself is what
    is resolved and confined (a link named ``link.nc`` is followed, wherever the selector
    points), and the selector is put back on the resolved file for read_fields."""
    shown = relative if len(relative) <= 80 else relative[:77] + "..."
    if not relative or "\x00" in relative:
        raise PathError(f"{shown!r}: not a file name")
    file, selector = split_path(relative)
    fragment = Path(relative).name.partition("#")[2] if selector else ""
    try:
        target = (folder / file).resolve()
        root_base, folder_base = Path(root).resolve(), folder.resolve()
    except OSError as exc:
        raise PathError(f"{shown}: not a path the server can use ({exc.strerror or exc})") from None
    base = next((b for b in (root_base, folder_base) if target == b or b in target.parents), None)
    if base is None:
        raise PathError(f"{shown}: outside the server's root and the ensemble's folder, which the server does not read")
    if not allow_hidden:
        # The source's folder comes from the database: a crafted one may name a hidden folder
        # (or a link to one) as its folder, so that whole path is checked, not only below it.
        hidden = (_hidden(PurePosixPath(file.as_posix().replace("\\", "/")))
                  or _hidden(PurePosixPath(target.relative_to(base).as_posix()))
                  or (_hidden(PurePosixPath(base.as_posix())) if base is not root_base else None))
        if hidden:
            raise PathError(f"{shown}: in a hidden file or folder ({hidden}), which the server does not serve")
    return target.with_name(f"{target.name}#{fragment}") if selector else target


def _size_mtime(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class FileCache:
    """Decoded files by (path, size, mtime, field), least recently used dropped beyond ``budget``
    bytes; a file larger than the budget is read each time rather than evicting everything, and
    so is a Zarr store (a folder: its size and mtime do not change when a chunk is rewritten)."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[Any, ...], tuple[Fields, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.reads = 0  # files decoded (not served from the cache): what the tests count

    def get(self, paths: tuple[Path, ...], field: str, read: Any) -> Fields:
        # A run of a netCDF/Zarr store is stored as "ens.nc#run=3": the store is what exists on
        # disk; the whole name, selector included, keys the cache.
        try:
            stats = tuple((str(p), *_size_mtime(source_file(p))) for p in paths)
        except FileNotFoundError:
            missing = next(p for p in paths if not source_file(p).exists())
            raise Missing(f"{missing}: no such file") from None
        except OSError as exc:
            raise FieldError(f"{paths[0]}: cannot be read ({exc.strerror or exc})") from None
        if any(source_file(p).is_dir() for p in paths):
            # A Zarr store is a folder: rewriting a chunk changes neither its size nor its mtime,
            # so nothing could tell a cached copy stale. Read each time (as xarray_fields does).
            self.reads += 1
            return read()
        key = (stats, field)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        fields = read()
        self.reads += 1
        size = sum(np.asarray(a).nbytes for a in (fields.density, fields.r, fields.z, fields.time))
        if size <= self.budget:
            with self._lock:
                if key not in self._items:
                    self._items[key] = (fields, size)
                    self._bytes += size
                while self._bytes > self.budget:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped
        return fields


CACHE = FileCache()


@dataclass(frozen=True)
class Step:
    """One step of one run: a 2-D array (N1, N2) on cell edges ``r`` and ``z`` ([lo, hi])."""

    values: np.ndarray
    time: float
    r: tuple[float, float]
    z: tuple[float, float]
    geometry: str
    steps: int
    times: np.ndarray | None  # every step's time; None for a VTK series whose source logged none
    edges: tuple[np.ndarray | None, np.ndarray | None] = (None, None)  # a VTK grid's cell edges


def _extent(centres: np.ndarray, edges: np.ndarray | None) -> tuple[float, float]:
    if edges is not None and edges.size >= 2:
        return float(edges[0]), float(edges[-1])
    if centres.size < 2:
        return float(centres[0]) - 0.5, float(centres[0]) + 0.5
    half = (centres[-1] - centres[0]) / (centres.size - 1) / 2
    return float(centres[0] - half), float(centres[-1] + half)


def read_step(run: Run, t: int, field: str, root: str, allow_hidden: bool, cache: FileCache = CACHE) -> Step:
    """Step ``t`` of ``run``'s ``field``; a file is read whole once (npz, h5), a VTK series only
    the step's file (its TIME, where the source logged no times)."""
    if field != "density" and not run.series:
        raise FieldError(f"simulation {run.sim_id!r}: {run.file}: field {field} applies to VTK files; "
                         ".npz and .h5 files hold density")
    if run.series:
        if not 0 <= t < len(run.series):
            raise RequestError(f"step {t} is beyond simulation {run.sim_id!r}'s {len(run.series)} steps")
        path = confine_data(root, run.folder, run.series[t], allow_hidden=allow_hidden)
        fields = cache.get((path,), field, lambda: read_series((check_file_size(path),), field))
        values = fields.density[0]
        steps = len(run.series)
        logged = len(run.times) == steps
        times = np.array(run.times, dtype=np.float64) if logged else None
        time = float(run.times[t]) if logged else float(fields.time[0])
    else:
        assert run.file is not None
        path = confine_data(root, run.folder, run.file, allow_hidden=allow_hidden)
        fields = cache.get((path,), field, lambda: read_fields(path))
        steps = fields.density.shape[0]
        if not 0 <= t < steps:
            raise RequestError(f"step {t} is beyond simulation {run.sim_id!r}'s {steps} steps")
        values, times, time = fields.density[t], fields.time, float(fields.time[t])
    edges = fields.edges or (None, None)
    return Step(np.asarray(values), time, _extent(fields.r, edges[0]), _extent(fields.z, edges[1]),
                fields.geometry, steps, times, edges)


def block_edges(edges: np.ndarray | None, cells: int, limit: int = MAX_CELLS) -> list[float] | None:
    """The edges of ``block_mean``'s blocks along an axis of ``cells`` cells, when its cells are
    not all of one width (a VTK grid may be graded); None for a uniform axis (lo and hi say it)."""
    if edges is None or edges.size != cells + 1:
        return None
    widths = np.diff(edges)
    if np.allclose(widths, widths[0], rtol=1e-6, atol=0):
        return None
    f = -(-cells // limit)
    out = edges[::f]
    if cells % f:
        out = np.append(out, edges[-1])
    return [float(e) for e in out]


def check_file_size(path: Path) -> Path:
    """A VTK file is read whole into memory (it is not compressed: its size bounds its arrays):
    refused above the server's cap per array, as an npz declaring more is."""
    from . import fields as fields_module

    limit = fields_module._limit
    try:
        size = path.stat().st_size
    except OSError:
        return path  # read_series names a missing or unreadable file
    if limit is not None and size > limit.max_bytes:
        raise FieldError(f"{path}: {size / 2**20:,.0f} MB, above the limit of {limit.max_bytes / 2**20:,.0f} MB per "
                         f"array ({limit.setting}); raise that setting")
    return path


def block_mean(values: np.ndarray, limit: int = MAX_CELLS) -> np.ndarray:
    """``values`` (N1, N2, ...) averaged over blocks of f1 x f2 cells, f = ceil(N / limit), so
    that each axis has at most ``limit`` cells; a last, partial block averages the cells it has;
    NaN cells are left out of a block's mean (a block of NaN only stays NaN)."""
    n1, n2 = values.shape[:2]
    f1, f2 = -(-n1 // limit), -(-n2 // limit)
    if f1 == 1 and f2 == 1:
        return values.astype(np.float32, copy=False)
    m1, m2 = -(-n1 // f1), -(-n2 // f2)
    padded = np.full((m1 * f1, m2 * f2) + values.shape[2:], np.nan, dtype=np.float64)
    padded[:n1, :n2] = values
    blocks = padded.reshape((m1, f1, m2, f2) + values.shape[2:])
    counts = np.sum(~np.isnan(blocks), axis=(1, 3))
    sums = np.nansum(blocks, axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)


def matched_step(run: Step, gt: Step, t: int, gt_time: int | None, match_time: str, gt_id: str,
                 gt_times: Any = None) -> int:
    """The ground truth's step compared with step ``t``, as post-processing matches them;
    ``gt_times()`` reads the ground truth's times where its first step does not carry them."""
    if gt_time is not None:
        if not 0 <= gt_time < gt.steps:
            raise RequestError(f"gt_time {gt_time} is beyond the ground truth {gt_id!r}'s {gt.steps} steps")
        return gt_time
    if match_time == "nearest":
        times = gt.times if gt.times is not None else gt_times()
        return int(np.abs(times - run.time).argmin())
    if t >= gt.steps:
        raise RequestError(f"step {t} has no match: the ground truth {gt_id!r} has {gt.steps} steps; "
                           "compare with one of its steps (gt_time) or by nearest time")
    return t


def field_frame(runs: dict[str, Run], sim_id: str, t: int, field: str, gt_id: str | None,
                gt_time: int | None, match_time: str, root: str, allow_hidden: bool,
                cache: FileCache = CACHE) -> bytes:
    """The frame GET field answers (see the module's docstring)."""
    step = read_step(runs[sim_id], t, field, root, allow_hidden, cache)
    values = np.asarray(step.values, dtype=np.float64)
    header: dict[str, Any] = {
        "sim_id": sim_id, "t": t, "time": step.time, "field": field, "r": list(step.r), "z": list(step.z),
        "axes": ["R", "z"] if step.geometry == "cylindrical" else ["x", "y"], "geometry": step.geometry,
        "source_shape": list(values.shape), "downsampled": max(values.shape) > MAX_CELLS,
    }
    # A graded grid: where each (block of) cell(s) lies, so that the view draws it there.
    graded = [block_edges(e, n) for e, n in zip(step.edges, values.shape)]
    if any(e is not None for e in graded):
        header["edges"] = graded
    if gt_id is None:
        return frame_codec.encode(header, block_mean(values))
    first = read_step(runs[gt_id], 0, field, root, allow_hidden, cache)
    # A VTK series without logged times: each file's TIME, as post-processing reads them (the
    # files stay in the cache for the next step).
    gt_times = lambda: np.array([read_step(runs[gt_id], k, field, root, allow_hidden, cache).time  # noqa: E731
                                 for k in range(first.steps)])
    gt_t = matched_step(step, first, t, gt_time, match_time, gt_id, gt_times)
    gt = first if gt_t == 0 else read_step(runs[gt_id], gt_t, field, root, allow_hidden, cache)
    reference = np.asarray(gt.values, dtype=np.float64)
    if reference.shape != values.shape:
        raise FieldError(f"simulation {sim_id!r}'s grid ({values.shape[0]}x{values.shape[1]}) differs from the "
                         f"ground truth {gt_id!r}'s ({reference.shape[0]}x{reference.shape[1]})")
    # D+: the cells both densities are positive in (norms.density_distance); the rest NaN, so
    # that the view shows exactly where the distance was measured.
    diff = np.where(reference * values > 0, np.abs(reference - values), np.nan)
    header.update(gt=gt_id, gt_t=gt_t, gt_time=gt.time, layers=["field", "ground_truth", "diff"])
    stacked = np.stack([values, reference, diff], axis=-1)
    return frame_codec.encode(header, np.moveaxis(block_mean(stacked), -1, 0))


def _int_arg(handler: _Handler, name: str, default: int | None) -> int | None:
    text = handler.get_query_argument(name, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"{name} must be a step index (a whole number >= 0), not {text[:40]!r}") from None
    if not 0 <= value < 2**31:
        raise RequestError(f"{name} must be a step index (a whole number >= 0), not {value}")
    return value


class _DataHandler(_Handler):
    """Looks the run(s) up in the database (with_store), then reads files on the field pool,
    answering each failure in one line: 400 request, 403 outside, 404 missing, 422 unreadable."""

    async def read(self, sim_ids: list[str], work: Any) -> tuple[bool, Any]:
        ok, runs = await self.with_store(lambda store: {s: find_run(store, s) for s in sim_ids})
        if not ok:
            return False, None
        root, allow_hidden = self.root_dir, self.allow_hidden
        relative = self.get_query_argument("path", "")

        def said(text: str) -> str:
            # Files named as the database records them: relative to the root or to the ensemble's
            # folder, never by the server's absolute paths.
            for run in runs.values():
                for folder in {str(run.folder), str(run.folder.resolve())}:
                    text = text.replace(folder.rstrip("/") + "/", "")
            return scrub(text, root, relative)

        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self.settings["jupyterlab_dsi_field_pool"], lambda: work(runs, root, allow_hidden))
        except PathError as exc:
            self.fail(403, said(str(exc)))
        except Missing as exc:
            self.fail(404, said(str(exc)))
        except RequestError as exc:
            self.fail(400, str(exc))
        except DsiError as exc:
            self.fail(422, said(one_line(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug: the log gets the traceback, the panel one line
            self.log.error("jupyterlab-dsi: %s %s failed", self.request.method, self.request.uri, exc_info=exc)
            self.fail(500, f"jupyterlab-dsi failed ({one_line(exc)}); the Jupyter server's log has the details")
        else:
            return True, answer
        return False, None


class FieldHandler(_DataHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            sim_id = self.get_query_argument("sim", "")
            if not sim_id:
                raise RequestError("name the simulation: ?sim=ID")
            t = _int_arg(self, "t", 0)
            field = self.get_query_argument("field", "density") or "density"
            if len(field) > 200:
                raise RequestError("field must be the name of a cell array, e.g. density")
            gt_id = self.get_query_argument("gt", "") or None
            gt_time = _int_arg(self, "gt_time", None)
            match_time = self.get_query_argument("match_time", "index")
            if match_time not in MATCH_TIMES:
                raise RequestError(f"match_time must be index or nearest, not {match_time[:40]!r}")
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        assert t is not None
        wanted = [sim_id] + ([gt_id] if gt_id and gt_id != sim_id else [])
        ok, frame = await self.read(wanted, lambda runs, root, hidden: field_frame(
            runs, sim_id, t, field, gt_id, gt_time, match_time, root, hidden))
        if ok:
            self.set_header("Cache-Control", "no-store")  # the file may be rewritten
            self.finish(frame, set_content_type=frame_codec.CONTENT_TYPE)


def image_columns(store: Store, sim_id: str) -> list[dict[str, Any]]:
    """The run's FILE columns whose values are png/jpg images: name and whether per step."""
    rows = store.conn.execute(
        """SELECT m.name, m.per_step, group_concat(v.value, char(0)) AS vals FROM jdsi_metric m
           JOIN jdsi_metric_value v ON v.name = m.name
           WHERE m.kind = 'file' AND v.sim_id = ? GROUP BY m.name ORDER BY m.position""",
        (sim_id,),
    ).fetchall()
    return [{"name": r["name"], "per_step": bool(r["per_step"])} for r in rows
            if r["vals"] and all(Path(v).suffix.lower() in IMAGE_TYPES for v in str(r["vals"]).split("\0"))]


@dataclass(frozen=True)
class ImageRef:
    folder: Path
    value: str


def image_ref(store: Store, sim_id: str, column: str, t: int) -> ImageRef:
    run = store.conn.execute(
        "SELECT src.path FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id WHERE s.sim_id = ?",
        (sim_id,)).fetchone()
    if run is None:
        raise RequestError(f"no simulation {sim_id!r} in this database")
    metric = store.conn.execute("SELECT kind, per_step FROM jdsi_metric WHERE name = ?", (column,)).fetchone()
    if metric is None or metric["kind"] != "file":
        raise RequestError(f"{column[:80]!r} is not a FILE column of this database")
    row = store.conn.execute("SELECT value FROM jdsi_metric_value WHERE name = ? AND sim_id = ? AND t = ?",
                             (column, sim_id, t if metric["per_step"] else 0)).fetchone()
    if row is None or row["value"] in (None, ""):
        raise Missing(f"simulation {sim_id!r} has no {column} at step {t}: no such file recorded")
    return ImageRef(Path(run["path"]).parent, str(row["value"]))


def read_image(ref: ImageRef, root: str, allow_hidden: bool) -> tuple[bytes, str]:
    suffix = Path(ref.value).suffix.lower()
    if suffix not in IMAGE_TYPES:
        raise FieldError(f"{ref.value}: not a png or jpg image; the panel shows those")
    path = confine_data(root, ref.folder, ref.value, allow_hidden=allow_hidden)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise FieldError(f"{ref.value}: {size / 2**20:,.0f} MB, above the {MAX_IMAGE_BYTES // 2**20} MB an image may take")
        data = path.read_bytes()
    except FileNotFoundError:
        raise Missing(f"{ref.value}: no such file") from None
    except IsADirectoryError:
        raise FieldError(f"{ref.value}: a folder, not an image") from None
    except OSError as exc:
        raise FieldError(f"{ref.value}: cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(IMAGE_MAGIC[suffix]):
        raise FieldError(f"{ref.value}: not a {suffix[1:]} image (its first bytes say otherwise)")
    return data, IMAGE_TYPES[suffix]


class ImageHandler(_DataHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        sim_id = self.get_query_argument("sim", "")
        column = self.get_query_argument("column", "")
        try:
            if not sim_id:
                raise RequestError("name the simulation: ?sim=ID")
            t = _int_arg(self, "t", 0)
        except RequestError as exc:
            self.fail(400, str(exc))
            return
        if not column:
            ok, columns = await self.with_store(lambda store: (find_sim(store, sim_id), image_columns(store, sim_id))[1])
            if ok:
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps({"sim_id": sim_id, "columns": columns}))
            return
        ok, ref = await self.with_store(lambda store: image_ref(store, sim_id, column, t or 0))
        if not ok:
            return
        root, allow_hidden, relative = self.root_dir, self.allow_hidden, self.get_query_argument("path", "")
        try:
            data, kind = await asyncio.get_running_loop().run_in_executor(
                self.settings["jupyterlab_dsi_field_pool"], lambda: read_image(ref, root, allow_hidden))
        except PathError as exc:
            self.fail(403, scrub(str(exc), root, relative))
            return
        except Missing as exc:
            self.fail(404, scrub(str(exc), root, relative))
            return
        except DsiError as exc:
            self.fail(422, scrub(one_line(exc), root, relative))
            return
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(data, set_content_type=kind)


def find_sim(store: Store, sim_id: str) -> None:
    if store.conn.execute("SELECT 1 FROM jdsi_simulation WHERE sim_id = ?", (sim_id,)).fetchone() is None:
        raise RequestError(f"no simulation {sim_id!r} in this database")


def handlers(base: str) -> list[tuple[str, type]]:
    from jupyter_server.utils import url_path_join

    from .server import NAMESPACE

    return [(url_path_join(base, NAMESPACE, "field"), FieldHandler),
            (url_path_join(base, NAMESPACE, "image"), ImageHandler)]


__all__ = ["FieldHandler", "ImageHandler", "block_mean", "confine_data", "field_frame", "handlers"]

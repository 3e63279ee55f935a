"""Post-processing: the distances of every simulation to a ground truth (seed 000, Appendix A).

Simulations are read ahead on a thread pool (one reader per core: inflating a compressed file
releases the GIL, :mod:`jupyterlab_dsi.reading`) with a bounded number loaded at once, so memory
stays bounded by a few files whatever the ensemble's size; each is compared with the ground truth
by the fused kernel (:mod:`jupyterlab_dsi.kernel`: the three norms of every step in one pass over
the field). On Dask (``workers=``, ``scheduler=`` or ``client=``) each task reads a batch of
simulations on its worker and only the distance series travel back, a bounded number of tasks in
flight at once. The method and all its distances are written in one transaction at the end: an
error, a cancel or a Ctrl-C anywhere leaves the database exactly as it was.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from dask.distributed import Client, Future

import numpy as np

from . import __version__
from .errors import DsiError
from . import kernel
from .fields import GEOMETRIES, FieldError, Fields, check_uniform
from .norms import NORMS, cell_weights
from .reading import default_threads, one_kernel_thread, read_ahead, read_simulation_file
from .sources import dsi_sqlite
from .store import Store, new_id, now
from .vtk import read_series


class PostprocessError(DsiError):
    """Bad arguments or data for post-processing; the message names the file or value."""


class PostprocessCancelled(PostprocessError):
    """The caller cancelled (a ``cancel`` event, or Ctrl-C in a notebook); nothing was written."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: a cancel is not a bug.
        return [f"{type(self).__name__}: {self}"]


class EmptyOverlapWarning(UserWarning):
    """Some (simulation, step) pairs share no cell of positive density with the ground truth."""


MATCH_TIMES = ("index", "nearest")
# A method's description (docs/data-model.md, limits): the same from the CLI, %dsi and the panel.
MAX_DESCRIPTION = 10_000


@dataclass(frozen=True)
class Simulation:
    sim_id: str
    file: Path  # the field file, or the first file of a VTK series
    steps: int
    series: tuple[Path, ...] = ()  # one VTK file per step (a DSI database's viz_files)
    times: tuple[float, ...] = ()  # simulated times the source recorded for those steps


def simulations(store: Store) -> list[Simulation]:
    rows = store.conn.execute(
        """SELECT s.sim_id, s.path, s.times, src.path AS source, src.kind
           FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id
           ORDER BY s.sim_id"""
    ).fetchall()
    series = dsi_sqlite.field_files(store.conn)
    out, without = [], []
    for r in rows:
        folder = Path(r["source"]).parent
        if r["path"] is not None:
            out.append(Simulation(r["sim_id"], folder / r["path"], len(json.loads(r["times"]))))
        elif r["kind"] == "dsi-sqlite" and series.get(r["sim_id"]):
            # DSI stores the paths relative to the database's folder.
            files = tuple(folder / f for f in series[r["sim_id"]])
            times = tuple(float(t) for t in json.loads(r["times"] or "[]"))
            out.append(Simulation(r["sim_id"], files[0], len(files), files, times))
        else:
            without.append(r["sim_id"])
    if without:
        # Tables (Cinema, CSV, DSI without viz_files) bring parameters and metrics, no fields.
        raise PostprocessError(
            f"{len(without)} of {len(rows)} simulations (e.g. {without[0]!r}) have no field file: "
            "post-processing compares density fields, so ingest an ensemble folder whose files hold "
            "them, or a DSI database whose viz_files list VTK files"
        )
    return out


# How a method's distances are computed, besides ground truth and norm: (geometry or None for
# the data's own, time matching, the VTK field compared).
How = tuple[str | None, str, str]


def _load(sim: Simulation, field: str = "density") -> Fields:
    if field != "density" and not sim.series:
        raise PostprocessError(
            f"simulation {sim.sim_id!r}: {sim.file.name}: --field {field} applies to VTK files; "
            ".npz and .h5 files are compared on their density"
        )
    try:
        fields = read_series(sim.series, field) if sim.series else read_simulation_file(sim.file)
    except FieldError as exc:
        raise PostprocessError(f"simulation {sim.sim_id!r}: {exc}") from None
    # VTK files without a TIME array count steps; the times the source logged (DSI's output
    # table) are what --match-time nearest must compare.
    if sim.times and len(sim.times) == fields.time.size and np.array_equal(fields.time, np.arange(fields.time.size)):
        fields = dataclasses.replace(fields, time=np.array(sim.times))
    return fields


Distances = tuple[np.ndarray, np.ndarray, np.ndarray]
Progress = Callable[[int, int], None]

DASK_HINT = 'Dask is not installed: pip install "jupyterlab-dsi[dask]"'
# A dead worker's tasks are rescheduled by the scheduler; `retries` reruns a task that raised
# something unexpected (a flaky network file system). Input errors come back as values instead,
# so that a bad file is not read three times.
RETRIES = 2


@dataclass(frozen=True)
class _Failed:
    message: str


def _reference(gt: Fields, fields: Fields, gt_time: int | None, match_time: str) -> np.ndarray | None:
    """Which ground-truth step each simulated step is compared with (the kernel's ``ref``; None:
    step t with step t)."""
    steps = fields.time.size
    if gt_time is not None:
        return np.full(steps, gt_time, dtype=np.int64)
    if match_time == "nearest":
        return np.abs(fields.time[:, None] - gt.time[None, :]).argmin(axis=1).astype(np.int64)
    return None


def distances(
    gt: Fields, fields: Fields, norm: str, gt_time: int | None, weights: np.ndarray,
    match_time: str = "index",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d_shock, d_edge, d_density), each shaped (T,), for one simulation.

    The fused kernel computes the three norms in one pass; the one asked is kept. No
    coefficients (VTK data) give NaN, stored as NULL, rather than a misleading 0."""
    ref = _reference(gt, fields, gt_time, match_time)
    which = kernel.NORM_INDEX[norm]
    return (
        kernel.fused_coefficients(gt.shock, fields.shock, ref)[:, which],
        kernel.fused_coefficients(gt.edge, fields.edge, ref)[:, which],
        kernel.fused_density(gt.density, fields.density, weights, ref)[:, which],
    )


def _same_axis(a: np.ndarray, b: np.ndarray) -> bool:
    # Equal arrays (the usual case) are settled without allclose's temporaries.
    return a.shape == b.shape and (np.array_equal(a, b) or bool(np.allclose(a, b)))


def _check_compatible(
    sim: Simulation, gt: Fields, fields: Fields, gt_time: int | None, match_time: str = "index"
) -> None:
    if not (_same_axis(fields.r, gt.r) and _same_axis(fields.z, gt.z)):
        raise PostprocessError(
            f"simulation {sim.sim_id!r}: {sim.file}: its grid ({fields.r.size}x{fields.z.size}) "
            f"differs from the ground truth's ({gt.r.size}x{gt.z.size}); distances need the same grid"
        )
    for name in ("shock", "edge"):
        if getattr(fields, name).shape[1] != getattr(gt, name).shape[1]:
            raise PostprocessError(
                f"simulation {sim.sim_id!r}: {sim.file}: {name} has {getattr(fields, name).shape[1]} "
                f"coefficients, the ground truth {getattr(gt, name).shape[1]}"
            )
    if gt_time is None and match_time == "index" and fields.time.size != gt.time.size:
        raise PostprocessError(
            f"simulation {sim.sim_id!r}: {sim.file}: {fields.time.size} time steps against the "
            f"ground truth's {gt.time.size}; use --gt-time INDEX to compare every step with one step, "
            "or --match-time nearest"
        )


def load_checked(
    sim: Simulation, gt: Fields, gt_time: int | None, match_time: str = "index", field: str = "density"
) -> Fields:
    """Read one simulation and check it against the ground truth: what the reader threads do."""
    fields = _load(sim, field)
    _check_compatible(sim, gt, fields, gt_time, match_time)
    return fields


def simulation_distances(
    sim: Simulation, gt: Fields, norm: str, gt_time: int | None,
    geometry: str | None = None, match_time: str = "index", field: str = "density",
) -> Distances:
    """Read one simulation and compute its (d_shock, d_edge, d_density): the unit of work.

    ``geometry`` overrides the ground truth's own (cartesian for VTK grids, cylindrical for
    npz/h5 files); ``field`` names the VTK cell array compared (its distance is d_density)."""
    fields = load_checked(sim, gt, gt_time, match_time, field)
    weights = cell_weights(geometry or gt.geometry, gt.r, gt.edges)
    return distances(gt, fields, norm, gt_time, weights, match_time)


def _batch(
    sims: list[Simulation], gt: Fields, norm: str, gt_time: int | None, geometry: str | None,
    match_time: str, field: str = "density",
) -> np.ndarray | list[Distances] | _Failed:
    """What a Dask worker runs: a batch of simulations in turn, on the worker's one thread (the
    workers are the parallelism, so the kernel runs single-threaded there too). Looked up by name,
    so the worker needs jupyterlab_dsi installed. The first bad file ends the batch as a value."""
    one_kernel_thread()
    out: list[Distances] = []
    for sim in sims:
        try:
            out.append(simulation_distances(sim, gt, norm, gt_time, geometry, match_time, field))
        except PostprocessError as exc:
            return _Failed(str(exc))
    if len({d[2].size for d in out}) == 1:
        # One (n, T, 3) array travels back (and is unpickled by the parent, which also runs the
        # scheduler) rather than 3n small ones.
        return np.stack([np.stack(d, axis=-1) for d in out]) if out else np.empty((0, 0, 3))
    return out


def postprocess(
    db: str | Path,
    ground_truth: str,
    norm: str,
    gt_time: int | None = None,
    description: str = "",
    progress: Progress | None = None,
    *,
    cancel: threading.Event | None = None,
    client: Client | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    geometry: str | None = None,
    match_time: str = "index",
    field: str = "density",
) -> str:
    """Compute a new method's distances for every simulation and step; returns the method id.

    ``progress(done, total)`` is called after each simulation; ``cancel`` is checked between
    simulations and, once set, raises :class:`PostprocessCancelled` with nothing written. At most
    one of ``client``, ``workers`` (a local cluster of that many processes, closed at the end) and
    ``scheduler`` (an address) runs the work on Dask; none runs it in this process.
    ``geometry`` ('cartesian' or 'cylindrical') overrides what the data says; ``match_time``
    compares step t with the ground truth's step t ('index') or its nearest in time ('nearest');
    ``field`` names the VTK cell array compared (density by default; stored as d_density).
    """
    if norm not in NORMS:
        raise PostprocessError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if not isinstance(description, str):
        raise PostprocessError(f"the description must be text, not {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION:
        raise PostprocessError(
            f"the description is {len(description):,} characters, above the limit of {MAX_DESCRIPTION:,}; shorten it"
        )
    if sum(x is not None for x in (client, workers, scheduler)) > 1:
        raise PostprocessError("give at most one of client, workers and scheduler")
    if workers is not None and workers < 1:
        raise PostprocessError(f"workers must be at least 1, not {workers}")
    if geometry is not None and geometry not in GEOMETRIES:
        raise PostprocessError(f"unknown geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}")
    if match_time not in MATCH_TIMES:
        raise PostprocessError(f"unknown time matching {match_time!r}; choose one of {', '.join(MATCH_TIMES)}")
    if not isinstance(field, str) or not field.strip():
        raise PostprocessError(f"--field needs the name of a cell array, not {field!r}")
    how: How = (geometry, match_time, field)
    with Store(db) as store:
        sims = simulations(store)
        gt_sim, gt = _ground_truth(store, sims, ground_truth, gt_time, field)
        if client is None and workers is None and scheduler is None:
            results = _run_local(sims, gt, norm, gt_time, how, progress, cancel)
        else:
            with _dask_client(client, workers, scheduler) as dask_client:
                results = _run_dask(dask_client, sims, gt_sim, norm, gt_time, how, progress, cancel)
        rows = _rows(sims, results)
        return _write(store, gt_sim.sim_id, norm, gt_time, description, rows, how)


def _ground_truth(
    store: Store, sims: list[Simulation], ground_truth: str, gt_time: int | None, field: str = "density"
) -> tuple[Simulation, Fields]:
    """The ground truth's simulation and fields, checked (uniform grid, --gt-time in range)."""
    by_id = {s.sim_id: s for s in sims}
    # DSI numbers its runs (1, 2, ...): a VTK series' folder name (run_1) names its run too.
    folders = [s for s in sims if s.series and s.file.parent.name == ground_truth]
    if ground_truth not in by_id and len(folders) == 1:
        by_id[ground_truth] = folders[0]
    if ground_truth not in by_id:
        examples = ", ".join(s.sim_id for s in sims[:5])
        raise PostprocessError(
            f"unknown ground truth {ground_truth!r}: {store.path} has {len(sims)} "
            f"simulation{'' if len(sims) == 1 else 's'}"
            + (f" (e.g. {examples})" if examples else "")
        )
    gt_sim = by_id[ground_truth]
    # Kept as read (float32 in most files): the kernel widens each cell to float64 as it goes,
    # and a float32 ground truth is half the bytes to read per comparison and to send to workers.
    gt = _load(gt_sim, field)
    if gt.edges is None:  # centres only: the weights assume uniform spacing
        check_uniform(gt_sim.file, "R", gt.r)
        check_uniform(gt_sim.file, "z", gt.z)
    if gt_time is not None and not 0 <= gt_time < gt.time.size:
        raise PostprocessError(
            f"--gt-time {gt_time} is outside the ground truth's steps 0..{gt.time.size - 1}"
        )
    return gt_sim, gt


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise PostprocessCancelled("post-processing cancelled; nothing was written")


# Simulations in flight per reader thread: enough to keep every core inflating, few enough that
# memory stays a few files (a finished one holds only its distances).
READ_AHEAD = 2


def _run_local(
    sims: list[Simulation], gt: Fields, norm: str, gt_time: int | None, how: How,
    progress: Progress | None, cancel: threading.Event | None, threads: int | None = None,
) -> dict[str, Distances]:
    """Every simulation in this process, on one thread per core: each thread reads and inflates
    a file (zlib releases the GIL) and runs the kernel on it (nogil), so only distances come back
    to this thread. Measured on 2 busy cores, the kernel called from this thread instead waited
    on the readers for the GIL after every call and ran 3-8x slower. Results are taken in order,
    so the first bad file is the one reported, progress counts simulations and a cancel is seen
    between them."""
    threads = threads or default_threads()
    results: dict[str, Distances] = {}
    computed = read_ahead(
        sims, lambda sim: simulation_distances(sim, gt, norm, gt_time, *how), threads, READ_AHEAD * threads
    )
    try:
        for done, (sim, future) in enumerate(computed, start=1):
            _check_cancel(cancel)
            results[sim.sim_id] = future.result()
            if progress:
                progress(done, len(sims))
    finally:
        computed.close()  # an error or a cancel: what has not started is dropped
    _check_cancel(cancel)
    return results


def _import_distributed() -> Any:
    try:
        import dask.distributed
    except ImportError:
        raise PostprocessError(DASK_HINT) from None
    return dask.distributed


@contextmanager
def _dask_client(client: Client | None, workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """The caller's client, or one on a new local cluster or a scheduler, closed at the end."""
    if client is not None:
        yield client
        return
    distributed = _import_distributed()
    if scheduler is not None:
        try:
            own = distributed.Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:  # refused, timed out, a malformed address
            raise PostprocessError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        with own:
            yield own
        return
    # Processes, one thread each: the work is numpy on one simulation, and processes sidestep
    # the GIL between the reads and the reductions.
    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster, set_as_default=False) as own:
        yield own


# Simulations per Dask task. One simulation per task (as before issue 17) cost more in the
# scheduler, the client and (de)serialisation than reading it (~1 ms on the kernel), and on a
# 2-core machine the parent's scheduler took that time from the workers: 2 workers ran 2.2x
# slower than one process. A batch makes that overhead per batch; several batches per worker keep
# the workers evenly loaded and progress moving; the cap keeps a batch to a fraction of a second.
BATCHES_PER_WORKER = 8
MAX_BATCH = 256
# How often a cancel is looked at while the batches in flight run.
CANCEL_POLL_S = 0.05


def batch_size(n_sims: int, n_workers: int) -> int:
    return max(1, min(MAX_BATCH, -(-n_sims // max(1, n_workers * BATCHES_PER_WORKER))))


def _run_dask(
    client: Client, sims: list[Simulation], gt_sim: Simulation, norm: str, gt_time: int | None,
    how: How, progress: Progress | None, cancel: threading.Event | None,
) -> dict[str, Distances]:
    # The ground truth is read once by a task, and each worker fetches that result once and keeps
    # it for every batch (it is the batches' dependency), rather than scattered: the scheduler
    # recomputes a task whose worker died, but scattered data dies with its worker.
    gt_future = client.submit(_load, gt_sim, how[2], pure=False, retries=RETRIES)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = batch_size(len(sims), workers)
    batches = iter([sims[i : i + size] for i in range(0, len(sims), size)])
    # Two batches per worker in flight: one running, one queued behind it, so no worker waits on
    # the round trip to this process; the results held stay bounded.
    window = 2 * workers
    pending: dict[Future, list[Simulation]] = {}
    results: dict[str, Distances] = {}

    def submit(count: int) -> None:
        for batch in (b for _, b in zip(range(count), batches)):
            future = client.submit(_batch, batch, gt_future, norm, gt_time, *how, pure=False, retries=RETRIES)
            pending[future] = batch

    submit(window)
    try:
        while pending:
            _check_cancel(cancel)
            done = [f for f in pending if f.done()]
            if not done:
                # Woken when the oldest batch is done (batches finish about in order), or after a
                # moment to look at the cancel again; a sleep-and-poll left a worker idle between
                # a short batch and the next submission.
                try:
                    next(iter(pending)).result(timeout=CANCEL_POLL_S)
                except Exception:  # noqa: BLE001 -- a timeout; a task's own error is raised below
                    pass
                continue
            for future in done:
                value = future.result()
                if isinstance(value, _Failed):
                    raise PostprocessError(value.message)
                if isinstance(value, np.ndarray):
                    value = [(v[:, 0], v[:, 1], v[:, 2]) for v in value]
                for sim, distances_ in zip(pending.pop(future), value):
                    results[sim.sim_id] = distances_
                    if progress:  # per simulation, as in this process
                        progress(len(results), len(sims))
            submit(len(done))
        _check_cancel(cancel)
        return results
    finally:
        client.cancel(list(pending) + [gt_future])


def _rows(sims: list[Simulation], results: dict[str, Distances]) -> list[tuple[int, str, float | None, float | None, float | None]]:
    """Rows in simulation order, whatever order the results arrived in; warns on empty D+."""
    rows: list[tuple[int, str, float | None, float | None, float | None]] = []
    empty = 0
    for sim in sims:
        d_shock, d_edge, d_density = results[sim.sim_id]
        empty += int(np.isnan(d_density).sum())
        # NaN (no distance) is stored as NULL; tolist() gives Python floats in one call.
        columns = [[None if v != v else v for v in np.asarray(d, dtype=np.float64).tolist()]
                   for d in (d_shock, d_edge, d_density)]
        rows.extend(zip(range(len(columns[2])), [sim.sim_id] * len(columns[2]), *columns))
    if empty:
        warnings.warn(
            f"{empty} (simulation, step) pairs share no cell of positive density with the "
            "ground truth (empty D+): their density distance is stored as NULL, not 0",
            EmptyOverlapWarning,
            stacklevel=3,
        )
    return rows


def _write(
    store: Store, ground_truth: str, norm: str, gt_time: int | None, description: str,
    rows: list[tuple[Any, ...]], how: How = (None, "index", "density"),
) -> str:
    method_id = new_id()
    with store.write() as conn:
        gt_row = conn.execute(
            "SELECT id FROM jdsi_ground_truth WHERE sim_id = ? ORDER BY created_at LIMIT 1",
            (ground_truth,),
        ).fetchone()
        gt_id = gt_row[0] if gt_row else new_id()
        if not gt_row:
            conn.execute(
                "INSERT INTO jdsi_ground_truth (id, sim_id, description, created_at) VALUES (?,?,?,?)",
                (gt_id, ground_truth, "", now()),
            )
        # The same computation done before (same ground truth, norm, steps, geometry, matching and
        # field) is this one's parent: a recomputation, which `verify --sources` compares with it.
        earlier = conn.execute(
            """SELECT id FROM jdsi_method WHERE ground_truth_id = ? AND norm = ? AND gt_time IS ?
               AND geometry IS ? AND match_time = ? AND field = ? ORDER BY created_at DESC, id LIMIT 1""",
            (gt_id, norm, gt_time, *how),
        ).fetchone()
        conn.execute(
            """INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description,
               code_version, created_at, geometry, match_time, field, parent_id)
               VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            (method_id, gt_id, norm, gt_time, description, f"jupyterlab-dsi {__version__}", now(), *how,
             earlier[0] if earlier else None),
        )
        conn.executemany(
            "INSERT INTO jdsi_distance (method_id, t, sim_id, d_shock, d_edge, d_density) "
            "VALUES (?,?,?,?,?,?)",
            ((method_id, *row) for row in rows),
        )
        Store.log_event(
            conn,
            "method.created",
            method_id,
            {"ground_truth": ground_truth, "norm": norm, "gt_time": gt_time, "rows": len(rows),
             "geometry": how[0], "match_time": how[1], "field": how[2]},
        )
    return method_id


"""Distances to any ground truth on the fly, over fields kept in memory (issue 17).

Post-processing reads every simulation's file for each new ground truth and stores a method. Here
the fields of one database are read once (through ``compute``'s own loading, so the same files,
checks and errors) and kept as one float32 stack (S, T, NR, NZ); a new ground truth is one call
of the fused kernel over that stack, chosen from it, writing nothing. The values equal what
``postprocess`` stores for the same ground truth, norm, step and time matching: the same
kernel on the same numbers (float32 in the files; float64 files are kept as float32, within
float32 rounding, unless one holds values float32 cannot: a positive value below its smallest
normal number (it would round to 0 and leave D+) or above a quarter of its largest; then that
database's stack stays float64, as post-processing reads it).

Memory is bounded by a budget: whole databases stay resident, least recently used evicted
first; one whose fields would not fit is streamed from disk for each request instead (progress
and cancel as post-processing has them). A database is keyed by its path, its sources' SHA-256
and the field compared, so ingesting into it (or replacing the file) loads it again.

Thread-safe: the server calls from a thread pool. One load at a time per database (a second
request waits for the first's load and then uses it); computations share the loaded arrays.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np

from . import compute, kernel
from .compute import PostprocessCancelled, PostprocessError, Simulation
from .fields import Fields, check_uniform
from .norms import cell_weights
from .reading import read_ahead
from .store import Store

Progress = Callable[[int, int], None]
DEVICES = ("auto", "cpu", "gpu")
COLUMNS = ("d_shock", "d_edge", "d_density")
# Default budget of a process's Resident (Ensemble.distances): DSI_FIELD_BUDGET_MB overrides it.
DEFAULT_BUDGET_MB = 1024
# Databases found above the budget (streamed), remembered by (path, field): at most this many.
TOO_BIG = 64
# Recent results (all three norms) kept per Resident: switching norm or going back to a recent
# ground truth costs nothing. Each is S x T x 9 float64: 2.9 MB for 1,000 x 40.
RECENT = 4


@dataclass(frozen=True)
class Scratch:
    """One ground truth's distances for every simulation and step, computed, never stored."""

    sim_ids: list[str]
    steps: list[int]
    values: np.ndarray  # float64 (S, T, 3): d_shock, d_edge, d_density; NaN = missing
    ground_truth: str
    norm: str
    gt_time: int | None
    match_time: str
    field: str
    seconds: float
    counts: list[int] = dataclass_field(default_factory=list)  # each simulation's steps (the rest is padding)


@dataclass
class _Entry:
    """One database's fields, resident."""

    key: tuple[str, str, str]
    sims: list[Simulation]
    index: dict[str, int]
    fields: list[Fields]  # per simulation, density/shock/edge viewing the stacks below
    steps: np.ndarray  # (S,) each simulation's step count
    density: Any  # (S, T, NR, NZ) float32 (float64: _needs_float64): numpy, or CuPy on a GPU
    shock: np.ndarray  # (S, T, K) float64
    edge: np.ndarray
    nbytes: int
    device: str


def _cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise PostprocessCancelled("distances cancelled; nothing was written")


def _read_in_order(
    sims: list[Simulation], load: Callable[[Simulation], Any], cancel: threading.Event | None
) -> Iterator[tuple[Simulation, Any]]:
    """``(sim, load(sim))`` in the simulations' order, loaded ahead on post-processing's reader
    threads (reading.read_ahead: bounded memory); the first error or a cancel drops the rest."""
    loaded = read_ahead(sims, load)
    try:
        for sim, future in loaded:
            _cancelled(cancel)
            yield sim, future.result()
    finally:
        loaded.close()


class _Wider(Exception):
    """A float64 file whose values float32 would change: the stack is read again as float64."""


def _needs_float64(density: np.ndarray) -> bool:
    """A float64 density with a positive |value| float32 would flush (below its smallest normal
    number: D+ would lose the cell) or bring near overflow (above a quarter of its largest)."""
    if density.dtype != np.float64 or density.size == 0:
        return False
    magnitude = np.abs(density)
    positive = magnitude[magnitude > 0]  # NaN is not > 0
    if positive.size == 0:
        return False
    f32 = np.finfo(np.float32)
    return bool(positive.min() < f32.tiny or positive.max() > f32.max / 4)


def _gpu_available() -> bool:
    from . import kernel_gpu

    return kernel_gpu.available()


class Resident:
    """Fields of a few databases kept in memory within ``budget_bytes``; distances on the fly.

    ``device``: "cpu", "gpu" (CuPy and a CUDA device required), or "auto" (the GPU when CuPy
    imports and a device is present, the CPU otherwise)."""

    def __init__(self, budget_bytes: int, device: str = "auto") -> None:
        if not isinstance(budget_bytes, int) or budget_bytes < 0:
            raise ValueError(f"the field budget is a number of bytes >= 0, not {budget_bytes!r}")
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
        if device == "gpu" and not _gpu_available():
            from . import kernel_gpu

            raise PostprocessError(f"device 'gpu': {kernel_gpu.unavailable_reason()}")
        self.budget_bytes = budget_bytes
        self.device = device if device != "auto" else ("gpu" if _gpu_available() else "cpu")
        self._lock = threading.Lock()  # every attribute below
        self._entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()  # LRU first
        # One lock per database being loaded and how many requests hold or wait for it: the
        # entry goes when the last one leaves, whether its load succeeded, failed or was cancelled.
        self._loading: dict[tuple[str, str, str], tuple[threading.Lock, list[int]]] = {}
        self._reserved = 0  # bytes of loads in progress, counted against the budget
        self._recent: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        # Databases streamed, by (path, field): (their digest, their size); at most TOO_BIG.
        self._too_big: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()

    # -- what is held -------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "budget_bytes": self.budget_bytes,
                "resident_bytes": sum(e.nbytes for e in self._entries.values()),
                "simulations": sum(len(e.sims) for e in self._entries.values()),
                "databases": len(self._entries),
                "device": self.device,
            }

    def clear(self) -> None:
        """Forget every resident database (their memory goes once no computation uses it)."""
        with self._lock:
            self._entries.clear()
            self._recent.clear()
            self._too_big.clear()

    # -- distances ---------------------------------------------------------------------------

    def distances(
        self, store: Store | str | os.PathLike[str], ground_truth: str, norm: str,
        gt_time: int | None = None, match_time: str = "index", field: str = "density",
        progress: Progress | None = None, cancel: threading.Event | None = None,
    ) -> Scratch:
        """Every simulation's (d_shock, d_edge, d_density) at every step against ``ground_truth``,
        as ``postprocess(db, ground_truth, norm, gt_time, match_time=..., field=...)`` would store
        them, without writing. ``progress(done, total)`` is called while fields are read (the
        first time, or every time above the budget); a set ``cancel`` raises
        :class:`compute.PostprocessCancelled`. ``store``: an open Store or a database's path."""
        started = time.perf_counter()
        if norm not in kernel.NORM_INDEX:
            raise PostprocessError(f"unknown norm {norm!r}; choose one of {', '.join(kernel.NORM_INDEX)}")
        if match_time not in compute.MATCH_TIMES:
            raise PostprocessError(
                f"unknown time matching {match_time!r}; choose one of {', '.join(compute.MATCH_TIMES)}")
        if gt_time is not None and (isinstance(gt_time, bool) or not isinstance(gt_time, (int, np.integer))):
            raise PostprocessError(f"gt_time is a step index or None, not {gt_time!r}")
        if not isinstance(field, str) or not field.strip():
            raise PostprocessError(f"--field needs the name of a cell array, not {field!r}")
        with _opened(store) as opened:
            key = _key(opened, field)
            with self._lock:
                held = self._entries.get(key)
            # Resident: its simulations are the database's (the key says so); listing them again
            # would cost more than the kernel on a 1,000-run sample.
            sims = held.sims if held is not None else compute.simulations(opened)
            gt_sim = self._resolve(opened, sims, ground_truth, gt_time, field)
        entry = self._resident(key, sims, field, progress, cancel)
        if entry is None:  # above the budget: read from disk, as post-processing does
            values, steps, counts = self._streamed(store, sims, gt_sim, norm, gt_time, match_time, field, progress, cancel)
        else:
            every = self._computed(entry, gt_sim, gt_time, match_time, cancel)
            # A copy: the caller owns its answer, the recent results stay as computed.
            values = np.ascontiguousarray(every[:, :, :, kernel.NORM_INDEX[norm]])
            steps = int(entry.density.shape[1])
            counts = [int(n) for n in entry.steps]
        return Scratch(
            sim_ids=[s.sim_id for s in sims], steps=list(range(steps)), values=values,
            ground_truth=gt_sim.sim_id, norm=norm, gt_time=None if gt_time is None else int(gt_time),
            match_time=match_time, field=field, seconds=time.perf_counter() - started, counts=counts,
        )

    @staticmethod
    def _resolve(store: Store, sims: list[Simulation], ground_truth: str, gt_time: int | None,
                 field: str) -> Simulation:
        """The ground truth's simulation, before anything is loaded. Names other than a sim_id
        (a VTK series' folder) and every refusal go through compute._ground_truth, so they are
        post-processing's (it reads the ground truth's file: only on those paths)."""
        gt_sim = next((s for s in sims if s.sim_id == ground_truth), None)
        if gt_sim is None:
            gt_sim, _ = compute._ground_truth(store, sims, ground_truth, gt_time, field)
        return gt_sim

    # -- resident path -----------------------------------------------------------------------

    def _resident(self, key: tuple[str, str, str], sims: list[Simulation], field: str,
                  progress: Progress | None, cancel: threading.Event | None) -> _Entry | None:
        """The database's resident fields, loaded now when missing; None when they exceed the
        budget (then the caller streams)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            load_lock, users = self._loading.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            while not load_lock.acquire(timeout=0.05):  # another request is loading it: wait, cancellable
                _cancelled(cancel)
            try:
                with self._lock:
                    entry = self._entries.get(key)
                    if entry is not None:  # loaded while this request waited
                        self._entries.move_to_end(key)
                        return entry
                    known = self._too_big.get((key[0], key[2]))
                    if known is not None and known[0] == key[1] and known[1] > self.budget_bytes:
                        return None
                return self._load(key, sims, field, progress, cancel)
            finally:
                load_lock.release()
        finally:
            with self._lock:
                users[0] -= 1
                if users[0] == 0 and self._loading.get(key, (None,))[0] is load_lock:
                    del self._loading[key]  # nobody holds or waits for it

    def _reserve(self, key: tuple[str, str, str], nbytes: int) -> bool:
        """Make room for ``nbytes`` by evicting least recently used databases (this database's
        older versions of the same field first); False when it cannot fit at all, or not beside
        the loads in progress (then nothing is evicted for it)."""
        with self._lock:
            for old in [k for k in self._entries if k[0] == key[0] and k[2] == key[2] and k[1] != key[1]]:
                del self._entries[old]  # the same file before an ingest: never asked for again
            if nbytes > self.budget_bytes:
                self._too_big[(key[0], key[2])] = (key[1], nbytes)
                self._too_big.move_to_end((key[0], key[2]))
                while len(self._too_big) > TOO_BIG:
                    self._too_big.popitem(last=False)
                return False
            if self._reserved + nbytes > self.budget_bytes:  # evicting everything would not make room
                return False
            while self._entries and self._used() + nbytes > self.budget_bytes:
                self._entries.popitem(last=False)
            if self._used() + nbytes > self.budget_bytes:  # other loads in progress hold the rest
                return False
            self._reserved += nbytes
            return True

    def _used(self) -> int:
        return sum(e.nbytes for e in self._entries.values()) + self._reserved

    def _load(self, key: tuple[str, str, str], sims: list[Simulation], field: str,
              progress: Progress | None, cancel: threading.Event | None) -> _Entry | None:
        _cancelled(cancel)
        first = compute._load(sims[0], field)
        nr, nz = first.density.shape[1:]
        k = first.shock.shape[1]
        longest = max(max(s.steps for s in sims), first.density.shape[0])
        dtype = np.dtype(np.float64 if _needs_float64(first.density) else np.float32)
        while True:
            nbytes = len(sims) * longest * (nr * nz * dtype.itemsize + 2 * k * 8)
            if not self._reserve(key, nbytes):
                return None
            try:
                entry = self._read(key, sims, field, first, longest, nbytes, progress, cancel, dtype)
            except _Wider:  # a later file holds what float32 cannot: read it all as float64
                dtype = np.dtype(np.float64)
                continue
            finally:
                with self._lock:
                    self._reserved -= nbytes
            break
        with self._lock:
            self._entries[key] = entry
        return entry

    def _read(self, key: tuple[str, str, str], sims: list[Simulation], field: str, first: Fields,
              longest: int, nbytes: int, progress: Progress | None, cancel: threading.Event | None,
              dtype: np.dtype[Any] = np.dtype(np.float32)) -> _Entry:
        count = len(sims)
        nr, nz = first.density.shape[1:]
        k = first.shock.shape[1]
        density = np.zeros((count, longest, nr, nz), dtype=dtype)  # padding: outside D+
        shock = np.zeros((count, longest, k))
        edge = np.zeros((count, longest, k))
        steps = np.zeros(count, dtype=np.int64)
        fields: list[Fields] = []

        def load(sim: Simulation) -> Fields:
            return first if sim is sims[0] else compute._load(sim, field)

        for i, (sim, f) in enumerate(_read_in_order(sims, load, cancel)):
            t = f.density.shape[0]
            same_grid = f.r.shape == first.r.shape and f.z.shape == first.z.shape and (
                np.allclose(f.r, first.r) and np.allclose(f.z, first.z))  # compute._check_compatible's test
            if not same_grid or f.shock.shape[1] != k or f.edge.shape[1] != k:
                # Post-processing refuses such an ensemble whichever the ground truth.
                raise PostprocessError(
                    f"simulation {sim.sim_id!r}: {sim.file}: its grid ({f.r.size}x{f.z.size}, "
                    f"{f.shock.shape[1]} coefficients) differs from simulation {sims[0].sim_id!r}'s "
                    f"({nr}x{nz}, {k}); distances need the same grid"
                )
            if t > longest:
                raise PostprocessError(
                    f"simulation {sim.sim_id!r}: {sim.file}: {t} time steps where the database records "
                    f"{sim.steps}; the file changed since it was ingested: ingest it again"
                )
            if dtype == np.float32 and _needs_float64(f.density):
                raise _Wider
            density[i, :t] = f.density  # float32 from here on (float64 where _needs_float64)
            shock[i, :t] = f.shock
            edge[i, :t] = f.edge
            steps[i] = t
            fields.append(replace(f, density=density[i, :t], shock=shock[i, :t], edge=edge[i, :t]))
            if progress:
                progress(i + 1, count)
        _cancelled(cancel)
        stack: Any = density
        if self.device == "gpu":
            from . import kernel_gpu

            stack = kernel_gpu.to_device(density)
            fields = [replace(f, density=np.empty((0,) + f.density.shape[1:], dtype)) for f in fields]
        return _Entry(key, sims, {s.sim_id: i for i, s in enumerate(sims)}, fields, steps, stack, shock, edge,
                      nbytes, self.device)

    def _computed(self, entry: _Entry, gt_sim: Simulation, gt_time: int | None, match_time: str,
                  cancel: threading.Event | None) -> np.ndarray:
        """(S, T, 3 columns, 3 norms) for this ground truth, over the resident stack."""
        recent_key = (entry.key, gt_sim.sim_id, gt_time, match_time)
        with self._lock:
            if recent_key in self._recent:
                self._recent.move_to_end(recent_key)
                return self._recent[recent_key]
        g = entry.index[gt_sim.sim_id]
        gt = entry.fields[g]
        t_gt = int(entry.steps[g])
        if gt.edges is None:  # centres only: the weights assume uniform spacing (as postprocess)
            check_uniform(gt_sim.file, "R", gt.r)
            check_uniform(gt_sim.file, "z", gt.z)
        if gt_time is not None and not 0 <= gt_time < t_gt:  # compute._ground_truth's words
            raise PostprocessError(f"--gt-time {gt_time} is outside the ground truth's steps 0..{t_gt - 1}")
        count, longest = entry.density.shape[:2]
        ref = np.zeros((count, longest), dtype=np.int64)
        if gt_time is not None:
            ref[:] = gt_time
        elif match_time == "index":
            wrong = np.flatnonzero(entry.steps != t_gt)
            if wrong.size:  # post-processing's refusal, worded as it words it
                i = int(wrong[0])
                compute._check_compatible(entry.sims[i], gt, entry.fields[i], gt_time, match_time)
            ref[:, :t_gt] = np.arange(t_gt)
        else:
            for i, f in enumerate(entry.fields):
                ref[i, : entry.steps[i]] = compute._reference(gt, f, None, "nearest")
        _cancelled(cancel)
        weights = cell_weights(gt.geometry, gt.r, gt.edges)
        if entry.device == "gpu":
            from . import kernel_gpu

            density = kernel_gpu.fused_density_many(entry.density[g, :t_gt], entry.density, weights, ref)
        else:
            density = kernel.fused_density_many(entry.density[g, :t_gt], entry.density, weights, ref)
        # Every (simulation, step) as one series of count * longest steps: one kernel call each.
        flat, k = ref.reshape(-1), entry.shock.shape[2]
        shock = kernel.fused_coefficients(entry.shock[g, :t_gt], entry.shock.reshape(count * longest, k), flat)
        edge = kernel.fused_coefficients(entry.edge[g, :t_gt], entry.edge.reshape(count * longest, k), flat)
        every = np.stack([shock.reshape(count, longest, 3), edge.reshape(count, longest, 3), density], axis=2)
        every[np.arange(longest)[None, :] >= entry.steps[:, None]] = np.nan  # steps a run does not have
        with self._lock:
            self._recent[recent_key] = every
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return every

    # -- above the budget: from disk ---------------------------------------------------------

    def _streamed(self, store: Any, sims: list[Simulation], gt_sim: Simulation, norm: str,
                  gt_time: int | None, match_time: str, field: str, progress: Progress | None,
                  cancel: threading.Event | None) -> tuple[np.ndarray, int, list[int]]:
        """Post-processing's own unit of work (compute.simulation_distances) on every simulation,
        read a few at a time; nothing kept, nothing written."""
        with _opened(store) as opened:
            _, gt = compute._ground_truth(opened, sims, gt_sim.sim_id, gt_time, field)
        longest = max(s.steps for s in sims)
        values = np.full((len(sims), longest, 3), np.nan)
        counts = [0] * len(sims)

        def one(sim: Simulation) -> compute.Distances:
            return compute.simulation_distances(sim, gt, norm, gt_time, None, match_time, field)

        for i, (sim, result) in enumerate(_read_in_order(sims, one, cancel)):
            t = result[2].size
            if t > longest:
                values = np.concatenate([values, np.full((len(sims), t - longest, 3), np.nan)], axis=1)
                longest = t
            values[i, :t] = np.stack(result, axis=-1)
            counts[i] = t
            if progress:
                progress(i + 1, len(sims))
        _cancelled(cancel)
        return values, longest, counts


@contextmanager
def _opened(store: Store | str | os.PathLike[str]) -> Iterator[Store]:
    if isinstance(store, Store):
        yield store
        return
    with Store(store, readonly=True) as opened:
        yield opened


def _key(store: Store, field: str) -> tuple[str, str, str]:
    """(the database's resolved path, a digest of its sources' SHA-256 and its simulations'
    files, the field): what makes loaded fields still the right ones."""
    digest = hashlib.sha256()
    for row in store.conn.execute("SELECT id, sha256 FROM jdsi_source ORDER BY id"):
        digest.update(f"{row[0]}:{row[1]}\n".encode())
    for row in store.conn.execute("SELECT sim_id, path, sha256 FROM jdsi_simulation ORDER BY sim_id"):
        digest.update(f"{row[0]}:{row[1]}:{row[2]}\n".encode())
    return (str(Path(store.path).resolve()), digest.hexdigest(), field)


_default: Resident | None = None
_default_lock = threading.Lock()


def default_budget_bytes() -> int:
    """DSI_FIELD_BUDGET_MB (megabytes) or DEFAULT_BUDGET_MB."""
    raw = os.environ.get("DSI_FIELD_BUDGET_MB", "").strip()
    if not raw:
        return DEFAULT_BUDGET_MB * 2**20
    try:
        mb = float(raw)
    except ValueError:
        raise PostprocessError(f"DSI_FIELD_BUDGET_MB={raw!r}: give a number of megabytes") from None
    if not mb >= 0 or mb == float("inf"):
        raise PostprocessError(f"DSI_FIELD_BUDGET_MB={raw!r}: give a number of megabytes >= 0")
    return int(mb * 2**20)


def default() -> Resident:
    """This process's Resident (Ensemble.distances), made on first use with the default budget."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Resident(default_budget_bytes())
        return _default

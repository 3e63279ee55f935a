"""Runs stored as netCDF (``.nc``) or Zarr (``.zarr`` folders), read through xarray.

A run holds ``density`` [time, r, z] on the cell centres ``r`` and ``z`` (cylindrical), or
[time, x, y] on ``x`` and ``y`` (Cartesian), ``time`` [T], and ``shock``/``edge`` [T, K] when
present ((T, 0) otherwise: no coefficients, no d_shock/d_edge). Names are settable
(``--variables density=rho,r=radius``; ``run=`` names the run dimension of a store).

One file may hold one run (an ensemble folder's ``simulations.csv`` lists it), or many along a
``run`` dimension (the store itself is the source): each run is then a simulation stored as the
store's name plus a selector, ``ens.nc#run=3``, that :func:`jupyterlab_dsi.fields.read_fields`
resolves; renamed variables ride in the same selector (``run0.nc#density=rho``), so a
database read later needs no option. Datasets are opened lazily: a header reads shapes and
times, never the density, and a run of a store reads only its own slice.

netCDF-4 files are read with h5netcdf (no netCDF C library needed); netCDF-3 ("classic")
files with scipy when it is installed.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .fields import FieldError, Fields, Header, check_shapes, check_sizes, checked_fields, with_selector

# What --variables may rename: the arrays of a run, the run dimension and the sim_id variable.
NAMES = ("density", "r", "z", "x", "y", "time", "shock", "edge", "run", "sim_id")
INSTALL = 'pip install "jupyterlab-dsi[xarray]"'
OPTION = "--variables"
# A selector's keys besides renamed names: the run's index, and the run dimension when renamed
# (``run`` itself is the index there).
RUN, DIM = "run", "dim"


def parse_variables(text: str | None) -> dict[str, str]:
    """``density=rho,r=radius`` -> {"density": "rho", "r": "radius"}; one-line errors."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, name = (part.strip() for part in item.partition("="))
        if not sep or not key or not name:
            raise FieldError(f"{OPTION} takes NAME=VARIABLE pairs separated by commas, not {item.strip()!r}")
        check_names({key: name})
        out[key] = name
    return out


def check_names(variables: Mapping[str, str]) -> None:
    unknown = [k for k in variables if k not in NAMES]
    if unknown:
        raise FieldError(f"{OPTION}: unknown name {unknown[0]!r}; rename any of {', '.join(NAMES)}")


def _require(path: Path) -> Any:
    """xarray and the engine the file needs, or one line saying how to install them."""
    try:
        import xarray

        if path.suffix.lower() == ".zarr":
            import zarr  # noqa: F401
        else:
            import h5netcdf  # noqa: F401
    except ImportError:
        raise FieldError(f"{path}: reading {path.suffix} files needs xarray: {INSTALL}") from None
    return xarray


def _engine(path: Path) -> str:
    if path.suffix.lower() == ".zarr":
        return "zarr"
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"CDF"):
        try:
            import scipy  # noqa: F401
        except ImportError:
            raise FieldError(
                f"{path}: a netCDF-3 (classic) file; pip install scipy to read it, or convert it to "
                "netCDF-4 with `nccopy -k nc4`"
            ) from None
        return "scipy"
    return "h5netcdf"


@contextlib.contextmanager
def open_dataset(path: Path) -> Iterator[Any]:
    """The dataset at ``path``, lazily (nothing is read until asked), closed on exit."""
    ds = _open(path)
    try:
        yield ds
    finally:
        ds.close()


# Runs of one netCDF store read one after the other (post-processing, the panel's field view)
# share an open dataset: xarray takes ~30 ms to open one, reading a run's slice ~3 ms. Keyed by
# the file's size and mtime, so a rewritten store is opened afresh; a dataset dropped from here
# is closed by xarray once no reader holds it. Zarr stores are opened each time: a folder's mtime
# does not follow its chunks, and opening one costs little next to reading its chunks.
KEEP_OPEN = 4
_kept: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
_kept_lock = threading.Lock()


@contextlib.contextmanager
def _store_run(path: Path, selector: Mapping[str, str]) -> Iterator[Any]:
    if RUN not in selector or path.suffix.lower() != ".nc":
        with open_dataset(path) as ds:
            yield ds
        return
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        with open_dataset(path) as ds:  # says what is wrong with it
            yield ds
        return
    with _kept_lock:
        ds = _kept.get(key)
        if ds is not None:
            _kept.move_to_end(key)
    if ds is None:
        ds = _open(path)
        with _kept_lock:
            ds = _kept.setdefault(key, ds)
            while len(_kept) > KEEP_OPEN:
                _kept.popitem(last=False)
    yield ds


def _open(path: Path) -> Any:
    xr = _require(path)
    if not path.exists():
        raise FieldError(f"{path}: no such file")
    try:
        engine = _engine(path)
        with warnings.catch_warnings():
            # zarr's notes about consolidated metadata concern the writer, not this reader.
            warnings.simplefilter("ignore")
            ds = xr.open_dataset(path, engine=engine, decode_times=False, decode_timedelta=False,
                                 **({"chunks": None} if engine == "zarr" else {}))
    except FieldError:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise FieldError(f"{path}: cannot read as {path.suffix} ({type(exc).__name__}: {detail})") from None
    return ds


def _listed(names: Any, most: int = 12) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:most])
    return (shown + f", ... ({len(names)} in all)" if len(names) > most else shown) or "no variables"


@dataclass
class _Run:
    """One run's variables (lazy DataArrays) and its geometry."""

    arrays: dict[str, Any]
    geometry: str
    shown: str  # how errors name the run: the file, with its selector


def _run(ds: Any, file: Path, selector: Mapping[str, str]) -> _Run:
    names = {k: v for k, v in selector.items() if k in NAMES and k != RUN}
    dim = selector.get(DIM, "run")
    shown = with_selector(str(file), selector)
    index: int | None = None
    if RUN in selector:
        try:
            index = int(selector[RUN])
        except ValueError:
            raise FieldError(f"{shown}: the run selector {selector[RUN]!r} is not an index") from None
        if dim not in ds.dims or not 0 <= index < ds.sizes[dim]:
            count = ds.sizes.get(dim, 0)
            raise FieldError(f"{shown}: no run {index}; the file holds {count} run(s) along {dim!r}")
    elif dim in ds.dims:
        raise FieldError(
            f"{shown}: holds {ds.sizes[dim]} runs along {dim!r}; ingest the file itself "
            f"(`jupyter dsi ingest {file.name} --db DB`) to make one simulation per run"
        )

    def missing(what: str, looked: str, fix: str) -> FieldError:
        return FieldError(f"{shown}: no {what} (looked for {looked}); the file has "
                          f"{_listed(ds.variables)}; name yours with {OPTION} {fix}")

    def name_of(key: str) -> str:
        return names.get(key, key)

    def looked_for(key: str) -> str:
        return f"{name_of(key)!r}" + (f" from {OPTION} {key}={name_of(key)}" if key in names else "")

    def var(key: str) -> Any:
        v = ds[name_of(key)]
        return v.isel({dim: index}) if index is not None and dim in v.dims else v

    present = set(map(str, ds.variables))
    cartesian_named = "x" in names or "y" in names
    if not cartesian_named and {name_of("r"), name_of("z")} <= present:
        axes, geometry = ("r", "z"), "cylindrical"
    elif {name_of("x"), name_of("y")} <= present:
        axes, geometry = ("x", "y"), "cartesian"
    else:
        raise missing(
            "grid coordinates", f"{looked_for('r')} and {looked_for('z')} (cylindrical) or {looked_for('x')} and "
            f"{looked_for('y')} (Cartesian)", "r=NAME,z=NAME (or x=NAME,y=NAME for a Cartesian grid)",
        )
    arrays: dict[str, Any] = {}
    for key in ("density", "time"):
        if name_of(key) not in present:
            raise missing(f"{key} variable", looked_for(key), f"{key}=NAME")
        arrays[key] = var(key)
    arrays["r"], arrays["z"] = var(axes[0]), var(axes[1])
    for key in ("shock", "edge"):
        if name_of(key) in present:
            arrays[key] = var(key)
    # Named dimensions say which density axis is which: put them in (time, R, z) order, the
    # order the norms read. Unnamed or repeated ones are taken as they come (shapes then decide).
    order = [arrays[k].dims[0] for k in ("time", "r", "z") if arrays[k].ndim == 1]
    density = arrays["density"]
    if len(set(order)) == 3 and set(density.dims) == set(order):
        arrays["density"] = density.transpose(*order)
    return _Run(arrays, geometry, shown)


def _shapes(run: _Run) -> dict[str, tuple[int, ...]]:
    shapes = {k: tuple(int(n) for n in v.shape) for k, v in run.arrays.items()}
    steps = shapes["time"][0] if len(shapes["time"]) == 1 else 0
    for key in ("shock", "edge"):
        shapes.setdefault(key, (steps, 0))  # no coefficients: no d_shock/d_edge
    return shapes


def _header(run: _Run) -> Header:
    shapes = _shapes(run)
    check_shapes(run.shown, shapes)
    check_sizes(run.shown, {"time": (shapes["time"], np.dtype(run.arrays["time"].dtype))})
    return Header(shapes=shapes, time=_numbers(run, "time"))


def _numbers(run: _Run, key: str) -> np.ndarray:
    values = np.asarray(run.arrays[key].values)
    if not np.issubdtype(values.dtype, np.number):
        raise FieldError(f"{run.shown}: {key} holds {values.dtype} values, expected numbers")
    return values.astype(np.float64, copy=False)


def read_header(file: Path, selector: Mapping[str, str]) -> Header:
    """Shapes and times of one run, checked; the density is not read."""
    with _store_run(file, selector) as ds:
        return _header(_run(ds, file, selector))


def read_fields(file: Path, selector: Mapping[str, str]) -> Fields:
    """One run's arrays (a store's run: only its slice), shapes and values checked."""
    with _store_run(file, selector) as ds:
        run = _run(ds, file, selector)
        shapes = _shapes(run)
        check_shapes(run.shown, shapes)
        check_sizes(run.shown, {k: (shapes[k], np.dtype(v.dtype)) for k, v in run.arrays.items()})
        try:
            arrays: dict[str, Any] = {k: np.asarray(v.values) for k, v in run.arrays.items()}
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise FieldError(f"{run.shown}: cannot read ({type(exc).__name__}: {detail})") from None
    for key in ("shock", "edge"):
        arrays.setdefault(key, np.zeros((shapes["time"][0], 0)))
    return checked_fields(run.shown, arrays, run.geometry)


@dataclass(frozen=True)
class StoreRuns:
    """The runs of one store, as ingest records them."""

    sim_ids: list[str]
    paths: list[str]  # the store's name plus each run's selector, relative to the store's folder
    times: list[list[float]]
    columns: dict[str, list[str]]  # variables along the run dimension alone: one text cell per run


def _cell(value: Any) -> str:
    """A value as a CSV would hold it, so that ingest classifies it as it does CSV columns."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # NaN -> 'nan', a missing value as in a CSV
    return str(value)


def read_runs(store: Path, variables: Mapping[str, str] | None = None,
              progress: Any = None) -> StoreRuns:
    """Every run of a store with a run dimension: ids, paths with selectors, times, parameters."""
    variables = dict(variables or {})
    check_names(variables)
    dim = variables.get("run", "run")
    renames = {k: v for k, v in variables.items() if k not in ("run", "sim_id")}
    if dim != "run":
        renames[DIM] = dim
    with open_dataset(store) as ds:
        if dim not in ds.dims:
            raise FieldError(
                f"{store}: no {dim!r} dimension (its dimensions: {_listed(ds.dims)}); a store holds its "
                f"runs along one: name it with {OPTION} run=NAME, or list one file per run in an "
                "ensemble folder's simulations.csv"
            )
        count = int(ds.sizes[dim])
        if count == 0:
            raise FieldError(f"{store}: the {dim!r} dimension is empty: no runs")
        id_name = variables.get("sim_id", "sim_id")
        if id_name in ds.variables and ds[id_name].dims == (dim,):
            ids = [_cell(v).strip() for v in ds[id_name].values]
        elif "sim_id" in variables:
            raise FieldError(f"{store}: no variable {id_name!r} along {dim!r} for sim_id "
                             f"({OPTION} sim_id={id_name}); the file has {_listed(ds.variables)}")
        elif dim in ds.coords:
            ids = [_cell(v).strip() for v in ds[dim].values]
        else:
            ids = [str(i) for i in range(count)]
        seen: dict[str, int] = {}
        for i, sim_id in enumerate(ids):
            if not sim_id or sim_id.lower() in ("nan", "n/a", "na", "none"):
                raise FieldError(f"{store}: run {i} has no sim_id ({sim_id!r}); every run needs one")
            if sim_id in seen:
                raise FieldError(f"{store}: sim_id {sim_id!r} names runs {seen[sim_id]} and {i}; sim_ids must be unique")
            seen[sim_id] = i
        paths, times = [], []
        used: set[str] = set()
        for i in range(count):
            selector = {RUN: str(i), **renames}
            run = _run(ds, store, selector)
            times.append(_header(run).time.tolist())
            used |= {str(v.name) for v in run.arrays.values()}
            paths.append(with_selector(store.name, selector))
            if progress:
                progress(i + 1, count)
        skip = used | {id_name, dim}
        columns = {
            str(name): [_cell(v) for v in ds[name].values]
            for name, v in ds.variables.items()
            if v.dims == (dim,) and str(name) not in skip
        }
    return StoreRuns(ids, paths, times, columns)

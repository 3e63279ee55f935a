"""Reading one simulation's raw fields from ``.npz``, ``.h5``/``.hdf5``, netCDF or Zarr.

A file holds ``r`` [NR] and ``z`` [NZ] (uniform cell centres), ``time`` [T], ``density``
[T, NR, NZ], ``shock`` [T, K] and ``edge`` [T, K] (Fourier coefficients). :func:`read_header`
checks names and shapes without reading the density (ingest stays fast on large ensembles);
:func:`read_fields` loads everything and checks the values. netCDF (``.nc``) and Zarr (``.zarr``)
runs are read through xarray (:mod:`jupyterlab_dsi.xarray_fields`); their stored path may carry
a selector after ``#`` (``ens.nc#run=3``: one run of a store; ``run0.nc#density=rho``: renamed
variables), which :func:`split_path` separates.

A process may cap what one array may take (:func:`set_array_limit`; the Jupyter server does):
the shapes a file declares are checked before anything is allocated, since a few KB of
compressed zeros can declare gigabytes.
"""

from __future__ import annotations

import contextlib
import math
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from .errors import DsiError

ARRAYS = ("r", "z", "time", "density", "shock", "edge")
XARRAY_SUFFIXES = (".nc", ".zarr")
SUFFIXES = (".npz", ".h5", ".hdf5", *XARRAY_SUFFIXES)


class FieldError(DsiError):
    """A simulation file that is missing, unreadable or shaped wrongly."""


@dataclass(frozen=True)
class Header:
    shapes: dict[str, tuple[int, ...]]
    time: np.ndarray


GEOMETRIES = ("cartesian", "cylindrical")


@dataclass(frozen=True)
class Fields:
    """One simulation. ``r`` and ``z`` are the cell centres of the density's two grid axes (R and
    z of an npz/h5 file, x and y of a VTK grid); ``edges`` holds each axis' cell edges when the
    file gives them (a VTK grid, possibly non-uniform), None for uniform centres. ``shock`` and
    ``edge`` are (T, 0) when the data has no Fourier coefficients."""

    r: np.ndarray
    z: np.ndarray
    time: np.ndarray
    density: np.ndarray
    shock: np.ndarray
    edge: np.ndarray
    geometry: str = "cylindrical"
    edges: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class ArrayLimit:
    """The most bytes one array may take once read (as float64), and the setting that raises it."""

    max_bytes: int
    setting: str


# Process-wide, not per thread: post-processing reads files on threads of its own.
_limit: ArrayLimit | None = None


def set_array_limit(limit: ArrayLimit | None) -> ArrayLimit | None:
    """Cap every array read from now on in this process (None: no cap); returns the previous cap."""
    global _limit
    previous, _limit = _limit, limit
    return previous


@contextlib.contextmanager
def array_limit(max_bytes: int, setting: str) -> Iterator[None]:
    previous = set_array_limit(ArrayLimit(max_bytes, setting))
    try:
        yield
    finally:
        set_array_limit(previous)


def check_sizes(path: Path, layout: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Refuse an array whose declared shape is above the cap, before it is allocated."""
    limit = _limit
    if limit is None:
        return
    for name, (shape, dtype) in layout.items():
        # Numbers are computed on as float64: that is what the array will take.
        nbytes = math.prod(shape) * max(int(dtype.itemsize), 8)
        if nbytes > limit.max_bytes:
            raise FieldError(
                f"{path}: {name} has shape {shape}, {nbytes / 2**20:,.0f} MB once read, above the limit of "
                f"{limit.max_bytes / 2**20:,.0f} MB per array ({limit.setting}); raise that setting, or "
                "post-process from a shell with `jupyter dsi postprocess`"
            )


def _npz_layout(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each member's declared shape and dtype, from its .npy header: nothing is inflated."""
    layout: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            layout[name] = (tuple(int(n) for n in shape), np.dtype(dtype))
    return layout


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    return {name: shape for name, (shape, _) in _npz_layout(path).items()}


def _h5_layout(f: Any) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each dataset's declared shape and dtype (an open h5py.File): nothing is read."""
    import h5py

    return {k: (tuple(int(n) for n in f[k].shape), np.dtype(f[k].dtype)) for k in ARRAYS
            if k in f and isinstance(f[k], h5py.Dataset)}


def _open_error(path: Path, exc: Exception) -> FieldError:
    if isinstance(exc, FileNotFoundError):
        return FieldError(f"{path}: no such file")
    return FieldError(f"{path}: cannot read as {path.suffix} ({type(exc).__name__}: {exc})")


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise FieldError(f"{path}: unsupported file type {path.suffix!r}; use .npz, .h5, .hdf5, .nc or .zarr")


def split_path(path: str | Path) -> tuple[Path, dict[str, str]]:
    """The file of a stored simulation path and its selector: ``ens.nc#run=3`` -> (ens.nc, {run: 3}).

    Only a netCDF/Zarr name carries a selector, so a '#' in any other file name stays part of it."""
    path = Path(path)
    base, sep, fragment = path.name.partition("#")
    if not sep or Path(base).suffix.lower() not in XARRAY_SUFFIXES:
        return path, {}
    return path.with_name(base), dict(parse_qsl(fragment, keep_blank_values=True))


def with_selector(path: str, selector: Mapping[str, Any]) -> str:
    """``path`` with ``selector`` appended after '#' (none: ``path`` itself); values are
    percent-encoded, so a variable name with '/' or '#' cannot break the path apart."""
    return f"{path}#{urlencode({k: str(v) for k, v in selector.items()})}" if selector else path


def source_file(path: str | Path) -> Path:
    """The file or Zarr folder that holds a stored simulation path's data (its selector dropped)."""
    return split_path(path)[0]


def check_shapes(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    missing = [name for name in ARRAYS if name not in shapes]
    if missing:
        raise FieldError(f"{path}: missing array(s) {', '.join(missing)}; a file holds {', '.join(ARRAYS)}")
    for name in ("r", "z", "time"):
        if len(shapes[name]) != 1:
            raise FieldError(f"{path}: {name} has shape {shapes[name]}, expected one dimension")
    t, nr, nz = shapes["time"][0], shapes["r"][0], shapes["z"][0]
    if shapes["density"] != (t, nr, nz):
        raise FieldError(
            f"{path}: density has shape {shapes['density']}, expected (T, NR, NZ) = {(t, nr, nz)}"
        )
    for name in ("shock", "edge"):
        s = shapes[name]
        if len(s) != 2 or s[0] != t:
            raise FieldError(f"{path}: {name} has shape {s}, expected (T, K) with T = {t}")


def read_header(path: Path) -> Header:
    """Shapes of every array and the time values, checked against each other."""
    file, selector = split_path(path)
    _check_suffix(file)
    if file.suffix.lower() in XARRAY_SUFFIXES:
        from . import xarray_fields

        return xarray_fields.read_header(file, selector)
    try:
        if path.suffix.lower() == ".npz":
            layout = _npz_layout(path)
            shapes = {k: shape for k, (shape, _) in layout.items()}
            check_sizes(path, {k: v for k, v in layout.items() if k == "time"})
            with np.load(path) as data:
                time = np.asarray(data["time"], dtype=np.float64) if "time" in shapes else None
        else:
            import h5py

            with h5py.File(path, "r") as f:
                shapes = {k: tuple(f[k].shape) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
                check_sizes(path, {k: v for k, v in _h5_layout(f).items() if k == "time"})
                time = np.asarray(f["time"][()], dtype=np.float64) if "time" in shapes else None
    except FieldError:
        raise
    except Exception as exc:
        raise _open_error(path, exc) from None
    check_shapes(path, shapes)
    assert time is not None
    return Header(shapes=shapes, time=time)


def read_fields(path: Path) -> Fields:
    """Every array of one simulation, with shapes and density values checked."""
    file, selector = split_path(path)
    _check_suffix(file)
    if file.suffix.lower() in XARRAY_SUFFIXES:
        from . import xarray_fields

        return xarray_fields.read_fields(file, selector)
    try:
        if path.suffix.lower() == ".npz":
            layout = _npz_layout(path)
            check_sizes(path, {k: v for k, v in layout.items() if k in ARRAYS})
            with np.load(path) as data:
                # Each data[k] decompresses the member again: read every array once.
                arrays = {k: data[k] for k in ARRAYS if k in data.files}
            shapes = {k: tuple(np.shape(v)) for k, v in arrays.items()}
        else:
            import h5py

            with h5py.File(path, "r") as f:
                check_sizes(path, _h5_layout(f))
                arrays = {k: f[k][()] for k in ARRAYS if k in f}
            shapes = {k: tuple(np.shape(v)) for k, v in arrays.items()}
    except FieldError:
        raise
    except Exception as exc:
        raise _open_error(path, exc) from None
    check_shapes(path, shapes)
    return checked_fields(path, arrays)


def checked_fields(path: Path | str, arrays: dict[str, Any], geometry: str = "cylindrical") -> Fields:
    """Fields from arrays whose shapes :func:`check_shapes` accepted, with every value checked."""
    for name in ("r", "z", "time", "shock", "edge"):
        values = np.asarray(arrays[name])
        if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
            raise FieldError(f"{path}: {name} holds NaN, infinite or non-numeric values")
    check_density(path, arrays["density"])
    return fields_of(arrays, geometry)


def fields_of(arrays: dict[str, Any], geometry: str = "cylindrical") -> Fields:
    """Fields from checked arrays: axes, times and coefficients as float64, the density as stored
    (float32 files stay float32: the kernel reads them as they are)."""
    return Fields(
        r=np.asarray(arrays["r"], dtype=np.float64),
        z=np.asarray(arrays["z"], dtype=np.float64),
        time=np.asarray(arrays["time"], dtype=np.float64),
        density=arrays["density"],
        shock=np.asarray(arrays["shock"], dtype=np.float64),
        edge=np.asarray(arrays["edge"], dtype=np.float64),
        geometry=geometry,
    )


def check_density(path: Path, density: np.ndarray) -> None:
    """Numbers, finite and non-negative, shaped (T, N1, N2); the first bad cell is named."""
    if not np.issubdtype(density.dtype, np.number):
        raise FieldError(f"{path}: density has dtype {density.dtype}, expected numbers")
    finite = np.isfinite(density)
    if not finite.all():
        t, j, k = np.argwhere(~finite)[0]
        raise FieldError(f"{path}: density is NaN or infinite at step {t}, cell ({j}, {k})")
    if (density < 0).any():
        t, j, k = np.argwhere(density < 0)[0]
        raise FieldError(f"{path}: density is negative ({density[t, j, k]:g}) at step {t}, cell ({j}, {k})")


def check_uniform(path: Path, name: str, centres: np.ndarray) -> float:
    """The spacing of uniform cell centres; an error naming the file otherwise."""
    if centres.size < 2:
        raise FieldError(f"{path}: {name} needs at least two cells")
    steps = np.diff(centres)
    spacing = float(steps.mean())
    if spacing <= 0 or not np.allclose(steps, spacing, rtol=1e-6, atol=0):
        raise FieldError(
            f"{path}: the {name} grid is not uniform (spacing from {steps.min():g} to {steps.max():g}); "
            "the distances of seed 000 need uniform cell centres"
        )
    return spacing

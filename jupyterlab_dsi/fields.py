"""Reading one simulation's raw fields from ``.npz`` or ``.h5``/``.hdf5``.

A file holds ``r`` [NR] and ``z`` [NZ] (uniform cell centres), ``time`` [T], ``density``
[T, NR, NZ], ``shock`` [T, K] and ``edge`` [T, K] (Fourier coefficients). :func:`read_header`
checks names and shapes without reading the density (ingest stays fast on large ensembles);
:func:`read_fields` loads everything and checks the values.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DsiError

ARRAYS = ("r", "z", "time", "density", "shock", "edge")
SUFFIXES = (".npz", ".h5", ".hdf5")


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


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, _ = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, _ = np.lib.format.read_array_header_2_0(fh)
            shapes[name] = tuple(int(n) for n in shape)
    return shapes


def _open_error(path: Path, exc: Exception) -> FieldError:
    if isinstance(exc, FileNotFoundError):
        return FieldError(f"{path}: no such file")
    return FieldError(f"{path}: cannot read as {path.suffix} ({type(exc).__name__}: {exc})")


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise FieldError(f"{path}: unsupported file type {path.suffix!r}; use .npz, .h5 or .hdf5")


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
    _check_suffix(path)
    try:
        if path.suffix.lower() == ".npz":
            shapes = _npz_shapes(path)
            with np.load(path) as data:
                time = np.asarray(data["time"], dtype=np.float64) if "time" in shapes else None
        else:
            import h5py

            with h5py.File(path, "r") as f:
                shapes = {k: tuple(f[k].shape) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
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
    _check_suffix(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path) as data:
                # Each data[k] decompresses the member again: read every array once.
                arrays = {k: data[k] for k in ARRAYS if k in data.files}
            shapes = {k: tuple(np.shape(v)) for k, v in arrays.items()}
        else:
            import h5py

            with h5py.File(path, "r") as f:
                arrays = {k: f[k][()] for k in ARRAYS if k in f}
            shapes = {k: tuple(np.shape(v)) for k, v in arrays.items()}
    except Exception as exc:
        raise _open_error(path, exc) from None
    check_shapes(path, shapes)
    for name in ("r", "z", "time", "shock", "edge"):
        values = np.asarray(arrays[name])
        if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
            raise FieldError(f"{path}: {name} holds NaN, infinite or non-numeric values")
    density = arrays["density"]
    check_density(path, density)
    return Fields(
        r=np.asarray(arrays["r"], dtype=np.float64),
        z=np.asarray(arrays["z"], dtype=np.float64),
        time=np.asarray(arrays["time"], dtype=np.float64),
        density=density,
        shock=np.asarray(arrays["shock"], dtype=np.float64),
        edge=np.asarray(arrays["edge"], dtype=np.float64),
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

"""Reading legacy VTK files (``DATASET RECTILINEAR_GRID``), ASCII or BINARY, with numpy only.

Codes such as CloverLeaf write one legacy file per output step: a header, the grid's edge
coordinates per axis, then ``CELL_DATA`` and ``POINT_DATA`` sections of ``SCALARS`` or ``FIELD``
arrays. BINARY files hold the same layout with each array's values as raw big-endian numbers
(what VTK's legacy writer emits) right after the line that announces them. Values run with x
fastest, so a cell array reshapes to ``(nz, ny, nx)`` cells.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fields import FieldError, Fields, check_density

# Legacy type names -> big-endian numpy types (the legacy BINARY format is always big-endian).
TYPES = {
    "bit": ">u1", "char": ">i1", "unsigned_char": ">u1", "short": ">i2", "unsigned_short": ">u2",
    "int": ">i4", "unsigned_int": ">u4", "long": ">i8", "unsigned_long": ">u8",
    "vtktypeint64": ">i8", "vtktypeuint64": ">u8", "float": ">f4", "double": ">f8",
}


@dataclass
class Grid:
    """One file's grid (edge coordinates per axis) and its named arrays."""

    coords: tuple[np.ndarray, np.ndarray, np.ndarray]
    cell: dict[str, np.ndarray] = field(default_factory=dict)
    point: dict[str, np.ndarray] = field(default_factory=dict)
    dataset: dict[str, np.ndarray] = field(default_factory=dict)  # FIELD before the grid: TIME, CYCLE


class _Cursor:
    """A position in the file's bytes: text lines and values, ASCII or binary, in turn."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.pos = path, data, 0
        self.binary = False

    def error(self, what: str) -> FieldError:
        return FieldError(f"{self.path}: {what}")

    def line(self, required: str = "") -> str:
        """The next non-blank line; '' at the end of the file unless ``required`` names what was due."""
        while self.pos < len(self.data):
            end = self.data.find(b"\n", self.pos)
            end = len(self.data) if end < 0 else end
            text = self.data[self.pos:end].decode("latin-1").strip()
            self.pos = end + 1
            if text:
                return text
        if required:
            raise self.error(f"ends before {required}")
        return ""

    def skip_block(self) -> None:
        """Skip to just past the next blank line (VTK 5.1's METADATA/INFORMATION blocks end so)."""
        while self.pos < len(self.data):
            end = self.data.find(b"\n", self.pos)
            end = len(self.data) if end < 0 else end
            blank = not self.data[self.pos:end].strip()
            self.pos = end + 1
            if blank:
                return

    def values(self, count: int, kind: str, what: str, skip: bool = False) -> np.ndarray | None:
        """The next ``count`` values; with ``skip``, only moved past (None): an array nobody
        asked for costs a scan, not a conversion."""
        dtype = TYPES.get(kind.lower())
        if dtype is None:
            raise self.error(f"{what}: unknown data type {kind!r}")
        if self.binary:
            size = np.dtype(dtype).itemsize * count
            if self.pos + size > len(self.data):
                raise self.error(f"{what}: {count} binary values announced, the file ends first")
            out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
            self.pos += size
            return None if skip else out.astype(dtype[1:])  # native byte order for numpy's fast paths
        tokens = self._tokens(count, what)
        if skip:
            return None
        try:
            return np.array(list(map(float if dtype[1] == "f" else int, tokens)))
        except ValueError:
            raise self.error(f"{what}: a value is not a number") from None

    def _tokens(self, count: int, what: str) -> list[bytes]:
        """The next ``count`` whitespace-separated tokens, split in C from a window of the data
        that grows until it holds them all (a whole-file split per array would copy the rest)."""
        window = max(4096, 24 * count)
        while True:
            chunk = self.data[self.pos:self.pos + window]
            parts = chunk.split(maxsplit=count)
            if len(parts) > count:  # the tokens, then the window's rest from the next token on
                self.pos += len(chunk) - len(parts[count])
                return parts[:count]
            if self.pos + window >= len(self.data):  # the window holds the rest of the file
                if len(parts) < count:
                    raise self.error(f"{what}: {count} values announced, {len(parts)} found")
                self.pos = len(self.data)
                return parts
            window *= 2


def _words(line: str, count: int, cursor: _Cursor, what: str) -> list[str]:
    words = line.split()
    if len(words) < count:
        raise cursor.error(f"malformed {what} line {line!r}")
    return words


def _int(word: str, cursor: _Cursor, line: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise cursor.error(f"expected a count in {line!r}") from None


# Which arrays of a CELL_DATA or POINT_DATA section to convert: all, or only the one named.
Wanted = Callable[[str], bool]


def _all(name: str) -> bool:
    return True


def _skipped(tuples: int) -> np.ndarray:
    """Stands for an array read past, not converted: its name still lists the file's arrays in
    an error, and its tuple count still checks the section."""
    return np.empty((tuples, 0))


def _field_arrays(cursor: _Cursor, line: str, wanted: Wanted = _all) -> dict[str, np.ndarray]:
    """``FIELD name N`` then N arrays ``name components tuples type``; shape (tuples, components)."""
    count = _int(_words(line, 3, cursor, "FIELD")[2], cursor, line)
    arrays: dict[str, np.ndarray] = {}
    for _ in range(count):
        head = cursor.line(required="a FIELD array")
        name, comps, tuples, kind = _words(head, 4, cursor, "FIELD array")[:4]
        n, m = _int(comps, cursor, head), _int(tuples, cursor, head)
        values = cursor.values(n * m, kind, f"array {name}", skip=not wanted(name))
        arrays[name] = _skipped(m) if values is None else values.reshape(m, n)
    return arrays


def _attributes(cursor: _Cursor, count: int, section: str, wanted: Wanted = _all) -> dict[str, np.ndarray]:
    """The arrays of one CELL_DATA or POINT_DATA section, each shaped (count, components)."""
    arrays: dict[str, np.ndarray] = {}
    while True:
        start = cursor.pos
        line = cursor.line()
        keyword = line.split()[0].upper() if line else ""
        if keyword == "SCALARS":
            words = _words(line, 3, cursor, "SCALARS")
            comps = _int(words[3], cursor, line) if len(words) > 3 else 1
            after = cursor.pos
            if not cursor.line(required="LOOKUP_TABLE").upper().startswith("LOOKUP_TABLE"):
                cursor.pos = after  # left out by some writers: that line was already data
            values = cursor.values(count * comps, words[2], f"{section} {words[1]}", skip=not wanted(words[1]))
            arrays[words[1]] = _skipped(count) if values is None else values.reshape(count, comps)
        elif keyword == "FIELD":
            for name, values in _field_arrays(cursor, line, wanted).items():
                if values.shape[0] != count:
                    raise cursor.error(f"{section} array {name} has {values.shape[0]} tuples, expected {count}")
                arrays[name] = values
        elif keyword == "METADATA":
            cursor.skip_block()
        elif keyword in ("VECTORS", "NORMALS", "TENSORS", "TEXTURE_COORDINATES", "COLOR_SCALARS"):
            raise cursor.error(f"{section}: {keyword} arrays are not read; write them as SCALARS or FIELD")
        else:
            cursor.pos = start  # another section, or the end: the caller reads it
            return arrays


def parse(path: Path, wanted: Wanted = _all) -> Grid:
    """Every array of a legacy VTK rectilinear grid (those ``wanted`` rejects only read past);
    a FieldError for anything else."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FieldError(f"{path}: no such file") from None
    except OSError as exc:
        raise FieldError(f"{path}: cannot be read ({exc.strerror})") from None
    cursor = _Cursor(Path(path), data)
    if not cursor.line().lower().startswith("# vtk datafile"):
        raise cursor.error("not a legacy VTK file (no '# vtk DataFile' header line)")
    cursor.line(required="the title line")
    encoding = cursor.line(required="ASCII or BINARY").upper()
    if encoding not in ("ASCII", "BINARY"):
        raise cursor.error(f"encoding {encoding!r}, expected ASCII or BINARY")
    cursor.binary = encoding == "BINARY"
    dataset = cursor.line(required="DATASET").split()
    if len(dataset) < 2 or dataset[0].upper() != "DATASET":
        raise cursor.error(f"expected a DATASET line, found {' '.join(dataset)!r}")
    if dataset[1].upper() != "RECTILINEAR_GRID":
        raise cursor.error(f"DATASET {dataset[1]} is not read; only RECTILINEAR_GRID is")
    extra: dict[str, np.ndarray] = {}
    dims: list[int] = []
    coords: dict[str, np.ndarray] = {}
    while len(coords) < 3:
        line = cursor.line(required="the grid's coordinates")
        words = line.split()
        keyword = words[0].upper()
        if keyword == "FIELD":
            extra.update(_field_arrays(cursor, line))
        elif keyword == "DIMENSIONS":
            dims = [_int(w, cursor, line) for w in _words(line, 4, cursor, "DIMENSIONS")[1:4]]
        elif keyword in ("X_COORDINATES", "Y_COORDINATES", "Z_COORDINATES"):
            n = _int(_words(line, 3, cursor, keyword)[1], cursor, line)
            coords[keyword[0]] = cursor.values(n, words[2], keyword).astype(np.float64)
        else:
            raise cursor.error(f"unexpected {line!r} before the grid's coordinates")
    if [c.size for c in (coords["X"], coords["Y"], coords["Z"])] != dims:
        raise cursor.error(f"coordinate counts differ from DIMENSIONS {dims}")
    grid = Grid((coords["X"], coords["Y"], coords["Z"]), dataset=extra)
    while line := cursor.line():
        words = _words(line, 2, cursor, "section")
        keyword = words[0].upper()
        if keyword not in ("CELL_DATA", "POINT_DATA"):
            raise cursor.error(f"unexpected {line!r}; expected CELL_DATA or POINT_DATA")
        arrays = _attributes(cursor, _int(words[1], cursor, line), keyword, wanted)
        (grid.cell if keyword == "CELL_DATA" else grid.point).update(arrays)
    return grid


def _shaped(values: np.ndarray, counts: list[int]) -> np.ndarray:
    """(count, components) in x-fastest order -> (nz, ny, nx[, components]); a flat z dropped."""
    nx, ny, nz = counts
    shape = (nz, ny, nx) if values.shape[1] == 1 else (nz, ny, nx, values.shape[1])
    out = values.reshape(shape)
    return out[0] if nz == 1 else out


def cell_counts(grid: Grid) -> list[int]:
    """Cells per axis: a flat axis (one coordinate) counts one cell."""
    return [max(c.size - 1, 1) for c in grid.coords]


def values_of(grid: Grid, path: Path, name: str) -> np.ndarray:
    """A named array, cell data first, shaped per :func:`_shaped`."""
    if name in grid.cell:
        return _shaped(grid.cell[name], cell_counts(grid))
    if name in grid.point:
        return _shaped(grid.point[name], [c.size for c in grid.coords])
    present = [f"cell {n}" for n in grid.cell] + [f"point {n}" for n in grid.point]
    raise FieldError(f"{path}: no field {name!r}; the file holds {', '.join(present) or 'no arrays'}")


def read_vtk(path: str | Path, field: str = "density") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z edge coordinates, values): cell data shaped (ny, nx) in 2-D, (nz, ny, nx) in 3-D."""
    grid = parse(Path(path), field.__eq__)
    return (*grid.coords, values_of(grid, Path(path), field))


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def read_series(paths: Sequence[Path], field: str = "density") -> Fields:
    """One simulation from its VTK files, one per step, in step order.

    The density is transposed to (T, NX, NY) so that the first axis is x, which plays R when the
    data is read as cylindrical. Times come from a dataset-level TIME array when every file has
    one, else they are the step indices. There are no shock or edge coefficients: (T, 0).
    """
    if not paths:
        raise FieldError("a VTK series needs at least one file")
    steps, times = [], []
    first: Grid | None = None
    for path in paths:
        grid = parse(Path(path), field.__eq__)
        if first is None:
            first = grid
            if grid.coords[2].size > 1 or min(c.size for c in grid.coords[:2]) < 2:
                raise FieldError(f"{path}: a {'x'.join(str(n) for n in cell_counts(grid))} grid; "
                                 "distances compare 2-D x/y grids (one z coordinate)")
        elif not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(grid.coords, first.coords)):
            raise FieldError(f"{path}: its grid differs from that of {paths[0]}; a series keeps one grid")
        values = values_of(grid, Path(path), field)
        if values.shape != tuple(cell_counts(grid)[1::-1]):
            raise FieldError(f"{path}: {field} is point data or has several components; expected cell scalars")
        steps.append(values.T)
        time = grid.dataset.get("TIME")
        times.append(float(time.ravel()[0]) if time is not None and time.size else None)
    assert first is not None
    density = np.stack(steps)
    check_density(Path(paths[0]), density)
    x, y = first.coords[0], first.coords[1]
    count = len(paths)
    return Fields(
        r=_centres(x),
        z=_centres(y),
        time=np.array(times if None not in times else range(count), dtype=np.float64),
        density=density,
        shock=np.zeros((count, 0)),
        edge=np.zeros((count, 0)),
        geometry="cartesian",
        edges=(x, y),
    )

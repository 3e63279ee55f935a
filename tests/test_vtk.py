"""Legacy VTK rectilinear grids: the real CloverLeaf files, BINARY files written here, and the
post-processing options (--match-time, --field, --geometry) on tiny series written here."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyterlab_dsi.compute import distances
from jupyterlab_dsi.fields import FieldError
from jupyterlab_dsi.norms import cell_weights, density_distance
from jupyterlab_dsi.vtk import parse, read_series, read_vtk

from conftest import REALDATA, query  # noqa: E402

CLOVER = REALDATA / "dsi-clover3d"
needs_clover = pytest.mark.skipif(not CLOVER.is_dir(), reason="shared/realdata/dsi-clover3d is absent")

Arrays = dict[str, np.ndarray]


def write_vtk(
    path: Path, coords: tuple[np.ndarray, ...], cell: Arrays, point: Arrays | None = None,
    *, binary: bool = False, scalars: bool = False, kind: str = "double", time: float | None = None,
) -> Path:
    """A legacy rectilinear-grid file as VTK writes it: BINARY values big-endian, right after
    the line that announces them; ``scalars`` uses SCALARS/LOOKUP_TABLE instead of FIELD."""
    dtype = {"double": ">f8", "float": ">f4"}[kind]
    out = bytearray()

    def text(line: str) -> None:
        out.extend(line.encode() + b"\n")

    def values(a: np.ndarray) -> None:
        flat = np.asarray(a).ravel()
        if binary:
            out.extend(flat.astype(dtype).tobytes() + b"\n")
        else:
            text(" ".join(repr(float(v)) for v in flat))

    def section(name: str, count: int, arrays: Arrays) -> None:
        text(f"{name} {count}")
        if not scalars:
            text(f"FIELD FieldData {len(arrays)}")
        for key, a in arrays.items():
            text(f"SCALARS {key} {kind} 1\nLOOKUP_TABLE default" if scalars else f"{key} 1 {a.size} {kind}")
            values(a)

    text("# vtk DataFile Version 3.0\nwritten by a test\n" + ("BINARY" if binary else "ASCII"))
    text("DATASET RECTILINEAR_GRID")
    if time is not None:
        text("FIELD FieldData 1\nTIME 1 1 double")
        values(np.array([time]))
    text("DIMENSIONS " + " ".join(str(c.size) for c in coords))
    for axis, c in zip("XYZ", coords):
        text(f"{axis}_COORDINATES {c.size} {kind}")
        values(c)
    sizes = [max(c.size - 1, 1) for c in coords]
    section("CELL_DATA", int(np.prod(sizes)), cell)
    if point:
        section("POINT_DATA", int(np.prod([c.size for c in coords])), point)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def clover_file(tmp_path: Path) -> Path:
    if not CLOVER.is_dir():
        pytest.skip("shared/realdata/dsi-clover3d is absent")
    return Path(shutil.copy(CLOVER / "run_8" / "clover.00000.00001.00090.vtk", tmp_path / "last.vtk"))


def test_real_clover_file(clover_file: Path) -> None:
    x, y, z, density = read_vtk(clover_file)
    assert x.shape == y.shape == (61,) and z.tolist() == [0.0]
    assert x[0] == 0.0 and x[-1] == 10.0 and y[1] == 0.1667
    assert density.shape == (60, 60)  # (ny, nx)
    assert density[0, :3].tolist() == [2.906, 2.906, 2.904]  # the file's first values, x fastest
    assert read_vtk(clover_file, "x_vel")[3].shape == (61, 61)  # point data
    grid = parse(clover_file)
    assert list(grid.cell) == ["density", "energy", "pressure", "viscosity"]
    assert list(grid.point) == ["x_vel", "y_vel"]


@pytest.mark.parametrize("scalars", [False, True])
def test_binary_copy_of_the_real_file_reads_the_same(clover_file: Path, tmp_path: Path, scalars: bool) -> None:
    grid = parse(clover_file)
    cell = {k: v.ravel() for k, v in grid.cell.items()}
    point = {k: v.ravel() for k, v in grid.point.items()}
    copy = write_vtk(tmp_path / "b.vtk", grid.coords, cell, point, binary=True, scalars=scalars)
    assert b"BINARY" in copy.read_bytes()[:80]
    for name in [*cell, *point]:
        ascii_values, binary_values = read_vtk(clover_file, name), read_vtk(copy, name)
        for a, b in zip(ascii_values, binary_values):
            assert np.array_equal(a, b), name


@pytest.mark.parametrize("binary", [False, True])
def test_three_dimensional_cells_are_x_fastest(tmp_path: Path, binary: bool) -> None:
    coords = (np.arange(4.0), np.arange(3.0), np.arange(3.0))  # 3 x 2 x 2 cells
    values = np.arange(12.0)
    path = write_vtk(tmp_path / "c.vtk", coords, {"density": values}, binary=binary, kind="float")
    got = read_vtk(path)[3]
    assert got.shape == (2, 2, 3)
    assert np.array_equal(got, values.reshape(2, 2, 3)) and got[0, 1, 2] == 5.0


def test_errors_name_the_problem(tmp_path: Path) -> None:
    coords = (np.arange(3.0), np.arange(3.0), np.zeros(1))
    good = write_vtk(tmp_path / "g.vtk", coords, {"density": np.ones(4), "energy": np.ones(4)})
    with pytest.raises(FieldError, match=r"no field 'rho'; the file holds cell density, cell energy"):
        read_vtk(good, "rho")
    other = tmp_path / "o.vtk"
    other.write_text("# vtk DataFile Version 3.0\nx\nASCII\nDATASET STRUCTURED_POINTS\n")
    with pytest.raises(FieldError, match="DATASET STRUCTURED_POINTS is not read; only RECTILINEAR_GRID"):
        read_vtk(other)
    text = tmp_path / "t.vtk"
    text.write_text("x,y\n1,2\n")
    with pytest.raises(FieldError, match="not a legacy VTK file"):
        read_vtk(text)
    cut = write_vtk(tmp_path / "cut.vtk", coords, {"density": np.ones(4)}, binary=True)
    cut.write_bytes(cut.read_bytes()[:-20])
    with pytest.raises(FieldError, match="binary values announced, the file ends first"):
        read_vtk(cut)
    with pytest.raises(FieldError, match="no such file"):
        read_vtk(tmp_path / "missing.vtk")


def test_series_non_uniform_cartesian_weights(tmp_path: Path) -> None:
    x, y = np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.5, 1.0, 2.0])  # 2 x 3 cells, non-uniform
    coords = (x, y, np.zeros(1))
    steps = [np.arange(6.0) + t for t in range(3)]
    files = [write_vtk(tmp_path / f"s{t}.vtk", coords, {"density": v}, binary=t == 1, time=0.5 * t)
             for t, v in enumerate(steps)]
    fields = read_series(files)
    assert fields.density.shape == (3, 2, 3)  # (T, NX, NY): x first
    assert np.array_equal(fields.density[1], steps[1].reshape(3, 2).T)
    assert fields.time.tolist() == [0.0, 0.5, 1.0]
    assert fields.shock.shape == fields.edge.shape == (3, 0) and fields.geometry == "cartesian"
    assert fields.r.tolist() == [0.5, 2.0] and fields.z.tolist() == [0.25, 0.75, 1.5]
    weights = cell_weights("cartesian", fields.r, fields.edges)
    assert np.array_equal(weights, np.outer([1.0, 2.0], [0.5, 0.5, 1.0]))  # true cell areas
    gt = np.ones((1, 2, 3))
    rho = gt + np.array([[[1.0, 0, 0], [0, 0, 3.0]]])
    # L1 = sum |diff| * area / total area (3 * 2) = (1 * 0.5 + 3 * 2) / 6
    assert density_distance(gt, rho, weights, "L1")[0] == pytest.approx(6.5 / 6)
    d_shock, d_edge, d_density = distances(fields, fields, "L2", None, weights)
    assert np.isnan(d_shock).all() and np.isnan(d_edge).all() and np.array_equal(d_density, np.zeros(3))


def test_uniform_grids_keep_the_old_weights() -> None:
    r = np.array([0.5, 1.5, 2.5])
    edges = (np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0]))
    assert np.array_equal(cell_weights("cartesian", r, edges), np.ones((1, 1)))
    assert np.array_equal(cell_weights("cylindrical", r, edges), r.reshape(-1, 1))
    assert np.array_equal(cell_weights("cylindrical", r), r.reshape(-1, 1))
    with pytest.raises(ValueError, match="unknown geometry"):
        cell_weights("spherical", r)


def test_series_refuses_mixed_grids(tmp_path: Path) -> None:
    a = write_vtk(tmp_path / "a.vtk", (np.arange(3.0), np.arange(3.0), np.zeros(1)), {"density": np.ones(4)})
    b = write_vtk(tmp_path / "b.vtk", (np.arange(4.0), np.arange(3.0), np.zeros(1)), {"density": np.ones(6)})
    with pytest.raises(FieldError, match="its grid differs"):
        read_series([a, b])


@pytest.mark.parametrize("scalars", [False, True])
def test_ascii_values_of_any_length_and_arrays_read_past(tmp_path: Path, scalars: bool) -> None:
    """Tokens far longer than the reader's first guess, arrays before and after the one asked
    for (read past, not converted, still listed), and a file that ends on its last value."""
    coords = (np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.5, 1.5]), np.array([0.0]))
    density = np.arange(6, dtype=float).reshape(2, 3) + 1 / 3  # repr: 16+ digits a value
    energy = np.full((2, 3), 7.0)
    path = write_vtk(tmp_path / "a.vtk", coords, {"energy": energy, "density": density, "pressure": -energy},
                     scalars=scalars)
    lines = path.read_bytes().splitlines()
    numbers = [line[:1].isdigit() or line[:1] == b"-" for line in lines]
    padded = [line.replace(b" ", b" " * 2000) if n else line for line, n in zip(lines, numbers)]
    path.write_bytes(b"\n".join(padded))  # long gaps between values, no final newline
    assert read_vtk(path, "density")[3] == pytest.approx(density)
    assert read_vtk(path, "pressure")[3] == pytest.approx(-energy)  # the last values of the file
    with pytest.raises(FieldError, match="no field 'mass'; the file holds cell energy, cell density, cell pressure"):
        read_vtk(path, "mass")
    short = path.read_bytes().rsplit(b" ", 1)[0]  # one value less than announced
    path.write_bytes(short)
    with pytest.raises(FieldError, match="6 values announced, 5 found"):
        read_vtk(path, "pressure")


# -- post-processing options on a DSI database of tiny VTK series, written here ----------------


def dsi_series(root: Path, runs: dict[int, list[tuple[float, Arrays]]], x: np.ndarray | None = None) -> Path:
    """A DSI database whose viz_files list one VTK file per step of each run (as DSI's CloverLeaf
    reader writes them, relative to the database's folder); cell arrays on an x by 1 grid, an
    x_vel point array beside them, and each file's TIME."""
    x = np.array([0.0, 1.0, 2.0]) if x is None else x
    coords = (x, np.array([0.0, 1.0]), np.zeros(1))
    rows = []
    for sim, steps in runs.items():
        (root / f"run_{sim}").mkdir(parents=True)
        for step, (time, cell) in enumerate(steps):
            rel = f"run_{sim}/f.{step:05d}.vtk"
            write_vtk(root / rel, coords, cell, {"x_vel": np.zeros(2 * x.size)}, time=time)
            rows.append((sim, rel))
    db = root / "dsi.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE simulation (sim_id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO simulation VALUES (?)", [(s,) for s in runs])
        conn.execute("CREATE TABLE viz_files (sim_id INTEGER, image_filepath VARCHAR)")
        conn.executemany("INSERT INTO viz_files VALUES (?,?)", rows)
    conn.close()
    return db


def distances_of(cli: Any, db: Path, *options: str, norm: str = "L1") -> dict[str, list[float]]:
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "1", "--norm", norm, *options)
    assert res.code == 0, res.err
    method = res.out.strip().splitlines()[-1]
    out: dict[str, list[float]] = {}
    for sim, d in query(db, "SELECT sim_id, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t", [method]):
        out.setdefault(sim, []).append(d)
    return out


def constant(value: float, cells: int = 2, **more: float) -> Arrays:
    return {"density": np.full(cells, value), **{k: np.full(cells, v) for k, v in more.items()}}


def ingested_series(cli: Any, tmp_path: Path, runs: dict[int, list[tuple[float, Arrays]]], **kw: Any) -> Path:
    source = dsi_series(tmp_path / "dsi", runs, **kw)
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", source, "--db", db)
    assert res.code == 0, res.err
    return db


def test_match_time_nearest(cli: Any, tmp_path: Path) -> None:
    """Run 2 wrote its files at other times than the ground truth (0, 1, 2): by index its step 1
    (t = 0.4) meets the ground truth's step 1; nearest in time, its step 0, whose density it has."""
    gt = [(0.0, constant(1.0)), (1.0, constant(2.0)), (2.0, constant(3.0))]
    db = ingested_series(cli, tmp_path, {1: gt, 2: [(0.0, constant(1.0)), (0.4, constant(1.0)), (2.1, constant(3.0))]})
    assert distances_of(cli, db)["2"] == [0.0, 1.0, 0.0]
    nearest = distances_of(cli, db, "--match-time", "nearest")
    assert nearest == {"1": [0.0, 0.0, 0.0], "2": [0.0, 0.0, 0.0]}


def test_match_time_nearest_takes_runs_of_other_lengths(cli: Any, tmp_path: Path) -> None:
    gt = [(0.0, constant(1.0)), (1.0, constant(2.0)), (2.0, constant(3.0))]
    db = ingested_series(cli, tmp_path, {1: gt, 2: [(0.9, constant(2.5)), (1.9, constant(3.0))]})
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "1", "--norm", "L1")
    assert res.code == 2 and "2 time steps against the" in res.err, res.err
    assert distances_of(cli, db, "--match-time", "nearest")["2"] == [0.5, 0.0]


def test_field_compares_another_cell_array(cli: Any, tmp_path: Path) -> None:
    """Same density, energies 5 and 7: the default compares density (0), --field energy (2)."""
    db = ingested_series(cli, tmp_path, {
        1: [(0.0, constant(1.0, energy=5.0)), (1.0, constant(1.0, energy=5.0))],
        2: [(0.0, constant(1.0, energy=7.0)), (1.0, constant(1.0, energy=7.5))],
    })
    assert distances_of(cli, db)["2"] == [0.0, 0.0]
    assert distances_of(cli, db, "--field", "energy", norm="Linf")["2"] == [2.0, 2.5]
    fields = {m["field"] for m in json.loads(cli("methods", "--db", db, "--format", "json").out)}
    assert fields == {"density", "energy"}
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "1", "--norm", "L2", "--field", "x_vel")
    assert res.code == 2 and "x_vel is point data" in res.err, res.err
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "1", "--norm", "L2", "--field", "mass")
    assert res.code == 2 and "no field 'mass'" in res.err and "energy" in res.err, res.err


def test_geometry_weighs_cells(cli: Any, tmp_path: Path) -> None:
    """Two cells, x in [0, 1] and [1, 2]; run 2 differs by 1 in the first. Cartesian (VTK's own)
    weighs them by area: L1 = 1/2. Cylindrical weighs them by radius 0.5 and 1.5: L1 = 1/4."""
    first = {"density": np.array([2.0, 1.0])}
    db = ingested_series(cli, tmp_path, {1: [(0.0, constant(1.0)), (1.0, constant(1.0))],
                                         2: [(0.0, first), (1.0, first)]})
    assert distances_of(cli, db)["2"] == [0.5, 0.5]
    assert distances_of(cli, db, "--geometry", "cartesian")["2"] == [0.5, 0.5]
    assert distances_of(cli, db, "--geometry", "cylindrical")["2"] == pytest.approx([0.25, 0.25])
    stored = [(m["geometry"], m["match_time"], m["field"]) for m in json.loads(
        cli("methods", "--db", db, "--format", "json").out)]
    assert sorted(stored, key=str) == sorted([(None, "index", "density"), ("cartesian", "index", "density"),
                                              ("cylindrical", "index", "density")], key=str)


def test_unknown_ground_truth_counts_the_runs(cli: Any, tmp_path: Path) -> None:
    db = ingested_series(cli, tmp_path, {1: [(0.0, constant(1.0)), (1.0, constant(2.0))]})
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "7", "--norm", "L1")
    assert res.code == 2 and len(res.err_lines) == 1, res.err
    assert "unknown ground truth '7':" in res.err and "has 1 simulation (e.g. 1)" in res.err

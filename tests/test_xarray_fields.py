"""netCDF and Zarr inputs through xarray: per-run files in an ensemble folder and one store of
runs along a ``run`` dimension give the same distances as the same arrays in ``.npz`` files;
renamed variables, Cartesian x/y grids, and every bad input is one line naming the file.
"""

from __future__ import annotations

import builtins
import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Ensemble, Result, build_ensemble, query, write_csv

xr = pytest.importorskip("xarray", reason='xarray is not installed: pip install "jupyterlab-dsi[xarray]"')
pytest.importorskip("h5netcdf")
pytest.importorskip("zarr")

from jupyterlab_dsi import compute, fields  # noqa: E402
from jupyterlab_dsi.fields import FieldError  # noqa: E402
from jupyterlab_dsi.ingest import ingest  # noqa: E402

Cli = Callable[..., Result]
ROWS = "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t"
SUFFIXES = [".nc", ".zarr"]


def dataset(arrays: dict[str, np.ndarray], names: dict[str, str] | None = None,
            axes: tuple[str, str] = ("r", "z"), coefficients: bool = True) -> Any:
    """One run as xarray writes it: density on (time, R, z) dimension coordinates."""
    n = {k: k for k in ("density", "r", "z", "x", "y", "time", "shock", "edge")} | (names or {})
    a, b = n[axes[0]], n[axes[1]]
    variables: dict[str, Any] = {n["density"]: ((n["time"], a, b), arrays["density"])}
    if coefficients:
        variables[n["shock"]] = ((n["time"], "k"), arrays["shock"])
        variables[n["edge"]] = ((n["time"], "k"), arrays["edge"])
    return xr.Dataset(variables, coords={n["time"]: arrays["time"], a: arrays["r"], b: arrays["z"]})


def write(path: Path, ds: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zarr":
        with warnings.catch_warnings():
            # zarr 3 notes that consolidated metadata and text arrays are not in its v3 spec yet.
            warnings.simplefilter("ignore")
            ds.to_zarr(path, mode="w")
    else:
        ds.to_netcdf(path, engine="h5netcdf")


def per_run(npz: Ensemble, root: Path, suffix: str, **kwargs: Any) -> Path:
    """The npz ensemble's arrays again, one netCDF or Zarr file per run, same simulations.csv."""
    rows = []
    for row in npz.rows:
        rel = f"sims/{row['sim_id']}{suffix}"
        write(root / rel, dataset(npz.arrays[row["sim_id"]], **kwargs))
        rows.append({**row, "path": rel})
    write_csv(root / "simulations.csv", rows)
    return root


def store(npz: Ensemble, path: Path, *, ids: str = "sim_id", dim: str = "run") -> Path:
    """Every run of the npz ensemble in one store along ``dim``, parameters as (run,) variables."""
    runs = xr.concat([dataset(npz.arrays[s]) for s in npz.ids], dim=dim)
    runs["cs"] = (dim, [float(r["cs"]) for r in npz.rows])
    runs["profile"] = (dim, [r["profile"] for r in npz.rows])
    runs["energy"] = (dim, [float(r["energy"]) for r in npz.rows])
    if ids == "sim_id":
        runs["sim_id"] = (dim, npz.ids)
    elif ids == "coordinate":
        runs = runs.assign_coords({dim: npz.ids})
    write(path, runs)
    return path


def rows(db: Path, method_id: str) -> list[tuple[Any, ...]]:
    return query(db, ROWS, (method_id,))


def assert_same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert [r[:2] for r in got] == [r[:2] for r in want]
    for g, w in zip(got, want):
        for a, b in zip(g[2:], w[2:]):
            assert (a is None) == (b is None)
            if a is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=0)


def parameters(db: Path) -> list[tuple[Any, ...]]:
    return query(db, "SELECT name, kind, levels FROM jdsi_parameter ORDER BY name")


def values(db: Path) -> list[tuple[Any, ...]]:
    return query(db, "SELECT sim_id, name, value FROM jdsi_param_value ORDER BY sim_id, name")


@pytest.fixture
def npz(make_ensemble: Callable[..., Ensemble]) -> Ensemble:
    return make_ensemble("npz")


@pytest.fixture
def npz_db(npz: Ensemble, tmp_path: Path) -> Path:
    db = tmp_path / "npz.sqlite"
    ingest(db, npz.root)
    return db


def one_line_error(res: Result, *parts: str) -> str:
    assert res.code == 2 and len(res.err_lines) == 1, res.err
    for part in parts:
        assert part in res.err, res.err
    return res.err


# -- per-run files ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("norm", ["L2", "Linf"])
def test_per_run_files_give_the_distances_of_the_same_npz(
    cli: Cli, npz: Ensemble, npz_db: Path, tmp_path: Path, suffix: str, norm: str
) -> None:
    root = per_run(npz, tmp_path / "xr", suffix)
    db = tmp_path / "xr.sqlite"
    res = cli("ingest", "-q", root, "--db", db)
    assert res.code == 0, res.err
    assert parameters(db) == parameters(npz_db) and values(db) == values(npz_db)
    assert query(db, "SELECT path, times FROM jdsi_simulation WHERE sim_id = 's01'") == [
        (f"sims/s01{suffix}", json.dumps([1.0, 2.0, 3.0]))]
    assert_same(rows(db, compute.postprocess(db, "s00", norm)),
                rows(npz_db, compute.postprocess(npz_db, "s00", norm)))


def test_the_header_reads_no_density(npz: Ensemble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ingest reads shapes and times only: a large ensemble is ingested without its densities.
    path = tmp_path / "one.nc"
    write(path, dataset(npz.arrays["s00"]))
    read = []
    original = xr.DataArray.values.fget

    def values(self: Any) -> Any:
        read.append(self.name)
        return original(self)

    monkeypatch.setattr(xr.DataArray, "values", property(values))
    header = fields.read_header(path)
    assert header.shapes["density"] == (3, 4, 6) and header.time.tolist() == [1.0, 2.0, 3.0]
    assert "density" not in read and "time" in read


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_renamed_variables_travel_with_the_path(
    cli: Cli, npz: Ensemble, npz_db: Path, tmp_path: Path, suffix: str
) -> None:
    names = {"density": "rho", "r": "radius", "time": "t", "shock": "front"}
    root = per_run(npz, tmp_path / "xr", suffix, names=names)
    db = tmp_path / "xr.sqlite"
    res = cli("ingest", "-q", root, "--db", db, "--variables", "density=rho, r=radius,time=t,shock=front")
    assert res.code == 0, res.err
    path = query(db, "SELECT path FROM jdsi_simulation WHERE sim_id = 's02'")[0][0]
    assert path == f"sims/s02{suffix}#density=rho&r=radius&time=t&shock=front"
    # postprocess needs no option: the names are in the stored path.
    method = cli("postprocess", "--db", db, "--ground-truth", "s00", "--norm", "L1", "-q")
    assert method.code == 0, method.err
    assert_same(rows(db, method.last_line), rows(npz_db, compute.postprocess(npz_db, "s00", "L1")))


def test_cartesian_x_y_files_are_compared_with_unit_cells(
    npz: Ensemble, npz_db: Path, tmp_path: Path
) -> None:
    # x/y grids are Cartesian, as VTK grids are: the same as --geometry cartesian on the npz twin.
    # Without shock and edge there is no d_shock or d_edge, as for VTK files.
    root = per_run(npz, tmp_path / "xy", ".nc", axes=("x", "y"), coefficients=False)
    db = tmp_path / "xy.sqlite"
    ingest(db, root)
    got = rows(db, compute.postprocess(db, "s00", "L2"))
    want = rows(npz_db, compute.postprocess(npz_db, "s00", "L2", geometry="cartesian"))
    assert [r[:2] for r in got] == [r[:2] for r in want]
    assert all(g[2] is None and g[3] is None for g in got)
    assert [g[4] for g in got] == pytest.approx([w[4] for w in want], rel=1e-12, abs=0)
    assert fields.read_fields(root / "sims/s01.nc").geometry == "cartesian"


def test_density_dimensions_in_another_order_are_put_in_time_r_z_order(npz: Ensemble, tmp_path: Path) -> None:
    arrays = npz.arrays["s03"]
    path = tmp_path / "zr.nc"
    write(path, dataset(arrays).transpose("z", "time", "r", "k"))
    assert np.array_equal(fields.read_fields(path).density, arrays["density"])


# -- one store of runs --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_store_of_runs_end_to_end(cli: Cli, npz: Ensemble, npz_db: Path, tmp_path: Path, suffix: str) -> None:
    path = store(npz, tmp_path / f"ens{suffix}")
    db = tmp_path / "store.sqlite"
    res = cli("ingest", path, "--db", db, "-q")
    assert res.code == 0, res.err
    assert "ingested 6 simulations" in res.out
    # Variables along run alone are the parameters, classified as a CSV's columns are.
    assert parameters(db) == parameters(npz_db) and values(db) == values(npz_db)
    assert query(db, "SELECT kind, path FROM jdsi_source") == [(suffix.lstrip(".").replace("nc", "netcdf"), str(path))]
    assert query(db, "SELECT sim_id, path, sha256 FROM jdsi_simulation WHERE sim_id = 's04'") == [
        ("s04", f"ens{suffix}#run=4", None)]
    selected = cli("select", "--db", db, "--where", "profile == 'flat'", "--format", "csv")
    assert selected.code == 0, selected.err
    assert [line.split(",")[0] for line in selected.out_lines[1:]] == ["s00", "s03"]
    method = cli("postprocess", "--db", db, "--ground-truth", "s03", "--norm", "L2", "-q")
    assert method.code == 0, method.err
    assert_same(rows(db, method.last_line), rows(npz_db, compute.postprocess(npz_db, "s03", "L2")))
    # The source's hash covers the store: verify finds it unchanged.
    verify = cli("verify", "--db", db, "--sources")
    assert verify.code == 0, verify.out + verify.err
    # Ingesting the same bytes again changes nothing.
    again = cli("ingest", path, "--db", db)
    assert again.code == 0 and "already ingested" in again.out


def test_a_store_names_runs_by_its_run_coordinate_else_by_index(npz: Ensemble, tmp_path: Path) -> None:
    by_coordinate = tmp_path / "coord.sqlite"
    ingest(by_coordinate, store(npz, tmp_path / "coord.nc", ids="coordinate"))
    assert [r[0] for r in query(by_coordinate, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")] == npz.ids
    by_index = tmp_path / "index.sqlite"
    ingest(by_index, store(npz, tmp_path / "index.nc", ids="none"))
    assert [r[0] for r in query(by_index, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")] == [
        str(i) for i in range(6)]
    assert rows(by_index, compute.postprocess(by_index, "0", "L2"))


def test_a_store_with_a_renamed_run_dimension(cli: Cli, npz: Ensemble, npz_db: Path, tmp_path: Path) -> None:
    path = store(npz, tmp_path / "members.zarr", dim="member")
    db = tmp_path / "members.sqlite"
    res = cli("ingest", path, "--db", db, "--variables", "run=member", "-q")
    assert res.code == 0, res.err
    assert query(db, "SELECT path FROM jdsi_simulation WHERE sim_id = 's01'") == [("members.zarr#run=1&dim=member",)]
    assert_same(rows(db, compute.postprocess(db, "s00", "L2")), rows(npz_db, compute.postprocess(npz_db, "s00", "L2")))


def test_a_zarr_store_that_changes_is_stale(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    path = store(npz, tmp_path / "ens.zarr")
    db = tmp_path / "store.sqlite"
    ingest(db, path)
    chunk = next(p for p in sorted((path / "density").rglob("*")) if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(chunk.read_bytes() + b"\0")
    verify = cli("verify", "--db", db, "--sources")
    assert verify.code == 1 and "changed since ingest" in verify.out + verify.err


# -- errors: one line naming the file and the fix -------------------------------------------------


def bad_run(npz: Ensemble, tmp_path: Path, change: Callable[[Any], Any], sid: str = "s02") -> Path:
    root = per_run(npz, tmp_path / "bad", ".nc")
    write(root / f"sims/{sid}.nc", change(dataset(npz.arrays[sid])))
    return root


@pytest.mark.parametrize(("change", "parts"), [
    (lambda ds: ds.isel(r=slice(0, 3)).assign(density=(("time", "cells", "z"), ds.density.values)), ["s02.nc: density has shape (3, 4, 6), expected (T, NR, NZ) = (3, 3, 6)"]),
    (lambda ds: ds.drop_vars("density"), ["s02.nc: no density variable (looked for 'density')", "--variables density=NAME"]),
    (lambda ds: ds.rename(r="radius"), ["s02.nc: no grid coordinates", "'r' and 'z' (cylindrical) or 'x' and 'y'", "--variables r=NAME,z=NAME"]),
    (lambda ds: ds.assign(shock=(("steps", "k"), ds.shock.values[:2])), ["s02.nc: shock has shape (2, 3), expected (T, K) with T = 3"]),
])
def test_a_bad_file_stops_ingest_in_one_line(
    cli: Cli, npz: Ensemble, tmp_path: Path, change: Callable[[Any], Any], parts: list[str]
) -> None:
    res = cli("ingest", "-q", bad_run(npz, tmp_path, change), "--db", tmp_path / "db.sqlite")
    one_line_error(res, "row 4", *parts)
    assert not (tmp_path / "db.sqlite").exists()


def test_a_missing_renamed_variable_names_the_option(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    root = per_run(npz, tmp_path / "xr", ".nc")
    res = cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite", "--variables", "density=rho")
    one_line_error(res, "s00.nc#density=rho: no density variable (looked for 'rho' from --variables density=rho)",
                   "the file has density, shock, edge, time, r, z")


@pytest.mark.parametrize(("change", "parts"), [
    (lambda ds: ds.assign(density=ds.density.where(ds.density < 1.9)), ["s02.nc: density is NaN or infinite at step"]),
    (lambda ds: ds.assign(density=-ds.density), ["s02.nc: density is negative", "at step 0, cell (0, 0)"]),
    (lambda ds: ds.assign_coords(z=ds.z + 0.5), ["s02.nc: its grid (4x6) differs from the ground truth's (4x6)"]),
])
def test_bad_values_or_grids_stop_postprocess_in_one_line(
    cli: Cli, npz: Ensemble, tmp_path: Path, change: Callable[[Any], Any], parts: list[str]
) -> None:
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", bad_run(npz, tmp_path, change), "--db", db).code == 0
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2")
    one_line_error(res, "simulation 's02'", *parts)
    assert query(db, "SELECT count(*) FROM jdsi_method") == [(0,)]


def test_a_non_uniform_ground_truth_grid_is_refused(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    bent = lambda ds: ds.assign_coords(r=ds.r.values ** 2)  # noqa: E731
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", bad_run(npz, tmp_path, bent, sid="s00"), "--db", db).code == 0
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2")
    one_line_error(res, "s00.nc: the R grid is not uniform")


def test_an_unreadable_file(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    root = per_run(npz, tmp_path / "xr", ".nc")
    (root / "sims/s01.nc").write_bytes(b"not netCDF at all")
    res = cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite")
    one_line_error(res, "row 3", "s01.nc: cannot read as .nc")


def test_an_unreadable_zarr_folder(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    root = per_run(npz, tmp_path / "xr", ".zarr")
    shutil.rmtree(root / "sims/s01.zarr")
    (root / "sims/s01.zarr").mkdir()
    res = cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite")
    one_line_error(res, "row 3", "s01.zarr: cannot read as .zarr")


def test_a_file_of_many_runs_listed_as_one_run(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    root = per_run(npz, tmp_path / "xr", ".nc")
    store(npz, root / "sims/s01.nc")
    res = cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite")
    one_line_error(res, "s01.nc: holds 6 runs along 'run'", "jupyter dsi ingest s01.nc --db DB")


def test_a_store_without_a_run_dimension(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    path = tmp_path / "one.nc"
    write(path, dataset(npz.arrays["s00"]))
    res = cli("ingest", "-q", path, "--db", tmp_path / "db.sqlite")
    one_line_error(res, "one.nc: no 'run' dimension", "--variables run=NAME")


def test_a_store_with_a_repeated_sim_id(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    path = store(npz, tmp_path / "ens.nc")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        twice = ds.load().assign(sim_id=("run", ["a", "b", "a", "c", "d", "e"]))
    write(tmp_path / "twice.nc", twice)
    res = cli("ingest", "-q", tmp_path / "twice.nc", "--db", tmp_path / "db.sqlite")
    one_line_error(res, "twice.nc: sim_id 'a' names runs 0 and 2")


@pytest.mark.parametrize(("option", "part"), [
    ("density", "--variables takes NAME=VARIABLE pairs separated by commas, not 'density'"),
    ("rho=density", "--variables: unknown name 'rho'; rename any of density, r, z"),
])
def test_a_bad_variables_option(cli: Cli, npz: Ensemble, tmp_path: Path, option: str, part: str) -> None:
    root = per_run(npz, tmp_path / "xr", ".nc")
    one_line_error(cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite", "--variables", option), part)


def test_variables_on_npz_files_are_refused(cli: Cli, npz: Ensemble, tmp_path: Path) -> None:
    res = cli("ingest", "-q", npz.root, "--db", tmp_path / "db.sqlite", "--variables", "density=rho")
    one_line_error(res, "--variables applies to .nc and .zarr files, not 'sims/s00.npz'")


def test_without_xarray_one_line_says_what_to_install(
    cli: Cli, npz: Ensemble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = per_run(npz, tmp_path / "xr", ".nc")
    real = builtins.__import__

    def no_xarray(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("xarray", "h5netcdf", "zarr"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xarray)
    res = cli("ingest", "-q", root, "--db", tmp_path / "db.sqlite")
    one_line_error(res, "s00.nc: reading .nc files needs xarray: pip install \"jupyterlab-dsi[xarray]\"")
    with pytest.raises(FieldError, match=r"pip install \"jupyterlab-dsi\[xarray\]\""):
        fields.read_fields(root / "sims/s00.nc")


def test_npz_paths_with_a_hash_sign_stay_file_names(tmp_path: Path) -> None:
    # Only a netCDF/Zarr name carries a selector: an npz file may have '#' in its name.
    assert fields.split_path(tmp_path / "run#1.npz") == (tmp_path / "run#1.npz", {})
    assert fields.split_path(tmp_path / "ens.nc#run=3&density=a%2Fb") == (tmp_path / "ens.nc", {"run": "3", "density": "a/b"})
    ens = build_ensemble(tmp_path / "hash", sims=2, ids=lambda i: f"r#{i}")
    assert fields.read_fields(ens.file("r#1")).density.shape == (3, 4, 6)


@pytest.mark.parametrize("kind", ["zarr-v2", "netcdf-3"])
def test_older_formats_read_the_same(npz: Ensemble, tmp_path: Path, kind: str) -> None:
    # Zarr format 2 (zarr-python 2 and most stores written before 2025) and netCDF-3 ("classic",
    # through scipy) hold the same run.
    arrays = npz.arrays["s01"]
    if kind == "zarr-v2":
        path = tmp_path / "v2.zarr"
        dataset(arrays).to_zarr(path, mode="w", zarr_format=2)
    else:
        pytest.importorskip("scipy")
        path = tmp_path / "classic.nc"
        dataset(arrays).to_netcdf(path, engine="scipy")
        assert path.read_bytes()[:3] == b"CDF"
    got = fields.read_fields(path)
    assert np.array_equal(got.density, arrays["density"]) and np.array_equal(got.shock, arrays["shock"])
    assert got.time.tolist() == [1.0, 2.0, 3.0]


def test_a_rewritten_store_is_read_afresh(npz: Ensemble, tmp_path: Path) -> None:
    # Runs of a netCDF store share an open dataset; rewriting the file must not serve old values.
    path = store(npz, tmp_path / "ens.nc")
    first = fields.read_fields(Path(f"{path}#run=1")).density
    assert np.array_equal(first, npz.arrays["s01"]["density"])
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        doubled = ds.load().assign(density=ds.density * 2)
    path.unlink()
    write(path, doubled)
    assert np.array_equal(fields.read_fields(Path(f"{path}#run=1")).density, 2 * first)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_field_view_serves_a_run_of_a_store(cli: Cli, npz: Ensemble, tmp_path: Path, suffix: str) -> None:
    """A store's run is recorded as ``ens.nc#run=4``: the panel's field view reads that step from
    the store (the file on disk is the store, the selector picks the run)."""
    from jupyterlab_dsi.server_fields import FileCache, find_run, read_step
    from jupyterlab_dsi.store import Store

    path = store(npz, tmp_path / f"ens{suffix}")
    db = tmp_path / "store.sqlite"
    assert cli("ingest", path, "--db", db, "-q").code == 0
    with Store(db, readonly=True) as st:
        run = find_run(st, "s04")
    cache = FileCache()
    step = read_step(run, 2, "density", str(tmp_path), False, cache)
    np.testing.assert_allclose(step.values, npz.arrays["s04"]["density"][2], rtol=1e-6)
    read_step(run, 1, "density", str(tmp_path), False, cache)
    # A netCDF file is read once, served from the cache after; a Zarr store (a folder whose size
    # and mtime stay when a chunk is rewritten) is read each time.
    assert cache.reads == (2 if suffix == ".zarr" else 1)

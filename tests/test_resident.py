"""Distances on the fly over resident fields (resident.py) and Ensemble.distances (issue 17).

What a user checks: the scratch values equal what `postprocess` stores for the same ground truth,
norm, step and time matching (NULL where it stores NULL); nothing is written; a second ground
truth reads no file; the memory budget holds (least recently used database out, a database above
it streamed from disk); a cancel stops it; errors are post-processing's.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import build_ensemble, query, sha256, sim_arrays
from test_vtk import constant, ingested_series

import jupyterlab_dsi
from jupyterlab_dsi import resident
from jupyterlab_dsi.compute import PostprocessCancelled, PostprocessError, postprocess
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.resident import COLUMNS, Resident

REL = 1e-6
BIG = 2**30


def stored(db: Path, method_id: str) -> dict[tuple[str, int], tuple[Any, Any, Any]]:
    rows = query(db, "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?", [method_id])
    return {(r[0], r[1]): r[2:] for r in rows}


def assert_equals_stored(scratch: resident.Scratch, rows: dict[tuple[str, int], tuple[Any, Any, Any]]) -> None:
    """Every stored row has its value in the scratch (NULL as NaN), and nothing more."""
    seen = 0
    for i, sim in enumerate(scratch.sim_ids):
        for t in scratch.steps:
            got = scratch.values[i, t]
            if (sim, t) not in rows:
                assert t >= scratch.counts[i] and np.isnan(got).all(), (sim, t)
                continue
            seen += 1
            for value, want in zip(got, rows[(sim, t)]):
                if want is None:
                    assert np.isnan(value), (sim, t, value)
                else:
                    assert value == pytest.approx(want, rel=REL, abs=1e-12), (sim, t)
    assert seen == len(rows)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The default ensemble (float64 files) with one step of s04 all zeros: empty D+, NULL."""

    def zero_step(sid: str, arrays: dict[str, np.ndarray]) -> None:
        if sid == "s04":
            arrays["density"][1] = 0.0

    ens = build_ensemble(tmp_path / "ens", mutate=zero_step)
    path = tmp_path / "db.sqlite"
    ingest(path, ens.root)
    return path


# -- the same values as postprocess ----------------------------------------------------------


@pytest.mark.parametrize("norm", ["L1", "L2", "Linf"])
@pytest.mark.parametrize("gt_time", [None, 2])
def test_equals_postprocess(db: Path, norm: str, gt_time: int | None) -> None:
    res = Resident(BIG)
    scratch = res.distances(db, "s03", norm, gt_time)
    assert (scratch.ground_truth, scratch.norm, scratch.gt_time, scratch.match_time, scratch.field) == (
        "s03", norm, gt_time, "index", "density")
    assert scratch.values.shape == (6, 3, 3) and scratch.values.dtype == np.float64
    assert scratch.sim_ids == [f"s{i:02d}" for i in range(6)] and scratch.steps == [0, 1, 2]
    with pytest.warns(Warning, match="empty D"):
        method = postprocess(db, "s03", norm, gt_time)
    rows = stored(db, method)
    assert rows[("s04", 1)][2] is None and np.isnan(scratch.values[4, 1, 2])
    assert_equals_stored(scratch, rows)
    assert np.array_equal(scratch.values[3, :, 2] if gt_time is None else scratch.values[3, 2:, 2],
                          np.zeros(3 if gt_time is None else 1))


def test_float32_files_and_another_ground_truth(tmp_path: Path) -> None:
    def float32(i: int) -> dict[str, np.ndarray]:
        arrays = sim_arrays(i, steps=4, nr=9, nz=20)
        arrays["density"] = arrays["density"].astype(np.float32)
        return arrays

    ens = build_ensemble(tmp_path / "ens", sims=8, arrays=float32)
    path = tmp_path / "db.sqlite"
    ingest(path, ens.root)
    res = Resident(BIG)
    for gt in ("s00", "s05"):
        scratch = res.distances(path, gt, "L2")
        assert_equals_stored(scratch, stored(path, postprocess(path, gt, "L2")))


@pytest.mark.filterwarnings("ignore::jupyterlab_dsi.compute.EmptyOverlapWarning")  # run 3's last step
def test_vtk_series_nearest_time_other_lengths_and_another_field(cli: Any, tmp_path: Path) -> None:
    # Run 2 has 2 steps against the ground truth's 3 and other times; the x grid is non-uniform
    # (Cartesian areas); energy is a second cell array. No Fourier coefficients: d_shock NaN.
    x = np.array([0.0, 1.0, 3.0])
    gt = [(0.0, constant(1.0, energy=5.0)), (1.0, constant(2.0, energy=4.0)), (2.0, constant(3.0, energy=3.0))]
    other = [(0.9, {"density": np.array([2.5, 1.0]), "energy": np.array([1.0, 6.0])}),
             (1.9, {"density": np.array([3.0, 0.5]), "energy": np.array([2.0, 2.0])})]
    path = ingested_series(cli, tmp_path, {1: gt, 2: other, 3: gt[:2] + [(2.2, constant(0.0, energy=1.0))]}, x=x)
    res = Resident(BIG)
    for field in ("density", "energy"):
        for norm in ("L1", "Linf"):
            scratch = res.distances(path, "1", norm, match_time="nearest", field=field)
            assert scratch.counts == [3, 2, 3]
            assert np.isnan(scratch.values[:, :, :2]).all()  # VTK: no coefficients
            method = postprocess(path, "1", norm, match_time="nearest", field=field)
            assert_equals_stored(scratch, stored(path, method))
    # By index, run 2's two steps against three: post-processing's refusal, word for word.
    with pytest.raises(PostprocessError) as expected:
        postprocess(path, "1", "L1")
    with pytest.raises(PostprocessError) as got:
        res.distances(path, "1", "L1")
    assert str(got.value) == str(expected.value)
    # A ground-truth step: every run's steps against it.
    scratch = res.distances(path, "1", "L2", gt_time=1)
    assert_equals_stored(scratch, stored(path, postprocess(path, "1", "L2", gt_time=1)))


# -- errors are post-processing's --------------------------------------------------------------


def test_errors_are_post_processings(db: Path) -> None:
    res = Resident(BIG)
    for args in [("s99", "L2", None), ("s01", "L2", 3), ("s01", "L3", None)]:
        with pytest.raises(PostprocessError) as expected:
            postprocess(db, *args)
        with pytest.raises(PostprocessError) as got:
            res.distances(db, *args)
        assert str(got.value) == str(expected.value)
    with pytest.raises(PostprocessError, match="unknown time matching 'closest'"):
        res.distances(db, "s01", "L2", match_time="closest")
    assert res.report()["databases"] == 1  # the valid requests loaded it once


# -- resident: read once, within the budget ------------------------------------------------------


def test_second_ground_truth_reads_no_file(db: Path, tmp_path: Path) -> None:
    res = Resident(BIG)
    calls: list[tuple[int, int]] = []
    first = res.distances(db, "s00", "L1", progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (6, 6) and len(calls) == 6
    assert res.report() == {"budget_bytes": BIG, "resident_bytes": 6 * 3 * (4 * 6 * 4 + 2 * 3 * 8),
                            "simulations": 6, "databases": 1, "device": "cpu"}
    shutil.rmtree(tmp_path / "ens" / "sims")  # the files are gone: only memory can answer
    calls.clear()
    again = res.distances(db, "s05", "Linf", progress=lambda done, total: calls.append((done, total)))
    assert calls == []
    assert np.array_equal(res.distances(db, "s00", "L1").values, first.values, equal_nan=True)
    assert np.array_equal(again.values[5], np.zeros((3, 3)))


def test_budget_evicts_the_least_recently_used(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        ens = build_ensemble(tmp_path / name)
        paths.append(tmp_path / f"{name}.sqlite")
        ingest(paths[-1], ens.root)
    one = 6 * 3 * (4 * 6 * 4 + 2 * 3 * 8)
    res = Resident(one + one // 2)  # room for one database
    res.distances(paths[0], "s00", "L2")
    assert res.report()["resident_bytes"] == one
    res.distances(paths[1], "s00", "L2")
    assert res.report() == {"budget_bytes": one + one // 2, "resident_bytes": one, "simulations": 6,
                            "databases": 1, "device": "cpu"}
    calls: list[int] = []
    res.distances(paths[0], "s01", "L2", progress=lambda done, total: calls.append(done))
    assert calls[-1] == 6  # a was evicted: read again


def test_above_the_budget_streams_from_disk(db: Path) -> None:
    res = Resident(1000)  # bytes: less than the ensemble's fields
    calls: list[tuple[int, int]] = []
    scratch = res.distances(db, "s02", "L2", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]
    assert res.report()["resident_bytes"] == 0 and res.report()["databases"] == 0
    with pytest.warns(Warning, match="empty D"):
        assert_equals_stored(scratch, stored(db, postprocess(db, "s02", "L2")))
    calls.clear()
    res.distances(db, "s01", "L1", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == 6  # read again: nothing was kept


@pytest.mark.parametrize("budget", [BIG, 1000])
def test_cancel(db: Path, budget: int) -> None:
    res = Resident(budget)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(PostprocessCancelled, match="cancelled"):
        res.distances(db, "s00", "L2", progress=progress, cancel=cancel)
    assert res.report()["databases"] == 0 and res.report()["resident_bytes"] == 0
    assert res.distances(db, "s00", "L2").values.shape == (6, 3, 3)  # usable afterwards


def test_ingest_into_the_database_loads_it_again(db: Path, tmp_path: Path) -> None:
    res = Resident(BIG)
    assert len(res.distances(db, "s00", "L2").sim_ids) == 6
    more = build_ensemble(tmp_path / "more", sims=2, ids=lambda i: f"t{i:02d}")
    ingest(db, more.root)
    scratch = res.distances(db, "s00", "L2")
    assert scratch.sim_ids[-2:] == ["t00", "t01"]
    assert res.report()["databases"] == 1 and res.report()["simulations"] == 8  # the old load dropped


def test_threads_share_one_load(db: Path) -> None:
    res = Resident(BIG)
    calls: list[int] = []
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        results[i] = res.distances(db, "s01", "L2", progress=lambda done, total: calls.append(done)).values

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == [1, 2, 3, 4, 5, 6]  # one load, whoever did it
    assert all(np.array_equal(results[i], results[0], equal_nan=True) for i in range(4))


def test_device_choice() -> None:
    from jupyterlab_dsi import kernel_gpu

    assert Resident(BIG, device="cpu").report()["device"] == "cpu"
    assert Resident(BIG).report()["device"] == ("gpu" if kernel_gpu.available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        Resident(BIG, device="tpu")
    if not kernel_gpu.available():
        with pytest.raises(PostprocessError, match="device 'gpu': "):
            Resident(BIG, device="gpu")


# -- Ensemble.distances ------------------------------------------------------------------------


def test_ensemble_distances_writes_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resident, "_default", None)
    monkeypatch.setenv("DSI_FIELD_BUDGET_MB", "64")
    before = (sha256(db), os.stat(db).st_mtime_ns)
    with jupyterlab_dsi.open(db) as ens:
        frame = ens.distances("s03", "L1", time=None)
        methods = len(ens.methods())
    assert (sha256(db), os.stat(db).st_mtime_ns) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    assert methods == 0
    assert list(frame.columns) == ["sim_id", "t", *COLUMNS] and len(frame) == 18
    assert frame.attrs["ground_truth"] == "s03" and frame.attrs["norm"] == "L1"
    assert resident.default().report()["budget_bytes"] == 64 * 2**20
    with pytest.warns(Warning, match="empty D"):
        rows = stored(db, postprocess(db, "s03", "L1"))
    for row in frame.itertuples(index=False):
        want = rows[(row.sim_id, row.t)]
        for got, value in zip((row.d_shock, row.d_edge, row.d_density), want):
            assert (np.isnan(got) and value is None) or got == pytest.approx(value, rel=REL, abs=1e-12)


def test_budget_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSI_FIELD_BUDGET_MB", "lots")
    with pytest.raises(PostprocessError, match="DSI_FIELD_BUDGET_MB='lots': give a number of megabytes"):
        resident.default_budget_bytes()
    monkeypatch.setenv("DSI_FIELD_BUDGET_MB", "0.5")
    assert resident.default_budget_bytes() == 2**19
    monkeypatch.delenv("DSI_FIELD_BUDGET_MB")
    assert resident.default_budget_bytes() == 1024 * 2**20



@pytest.mark.parametrize("which", ["s00", "s03"])  # the first file read, or one found later
def test_float64_values_float32_cannot_hold_equal_postprocess(tmp_path: Path, which: str) -> None:
    """A float64 file with positive values below float32's smallest normal number (0 in float32:
    the cells would leave D+) or near its largest: the stack stays float64, values as postprocess."""

    def extreme(sid: str, arrays: dict[str, np.ndarray]) -> None:
        if sid == which:
            arrays["density"][:, 1, :3] = 1e-50
            arrays["density"][0, 2, 4] = 2e-39
            arrays["density"][2, 3, 2] = 1e38

    ens = build_ensemble(tmp_path / "ens", mutate=extreme)
    path = tmp_path / "db.sqlite"
    ingest(path, ens.root)
    res = Resident(BIG)
    for gt in ("s01", which):
        for norm in ("L1", "L2", "Linf"):
            scratch = res.distances(path, gt, norm)
            assert_equals_stored(scratch, stored(path, postprocess(path, gt, norm)))
    assert res.report()["resident_bytes"] == 6 * 3 * (8 * 6 * 4 + 2 * 3 * 8)  # float64: 8 bytes a cell


def test_failed_loads_leave_no_lock_and_streamed_databases_are_bounded(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = Resident(BIG)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PostprocessCancelled):
        res.distances(db, "s00", "L2", cancel=cancel)
    assert res._loading == {}
    res.distances(db, "s00", "L2")
    assert res._loading == {}
    small = Resident(1000)
    monkeypatch.setattr(resident, "TOO_BIG", 2)
    for k in range(4):
        small._reserve((f"/db{k}.sqlite", "digest", "density"), 10**6)
    small._reserve(("/db3.sqlite", "newer", "density"), 10**6)  # one entry a database and field
    assert list(small._too_big) == [("/db2.sqlite", "density"), ("/db3.sqlite", "density")]
    assert small._too_big[("/db3.sqlite", "density")] == ("newer", 10**6)


def test_another_field_of_the_same_database_stays_resident(tmp_path: Path) -> None:
    res = Resident(100)
    with res._lock:
        for key in [("/a.sqlite", "d1", "density"), ("/a.sqlite", "d1", "energy"), ("/a.sqlite", "d0", "pressure")]:
            res._entries[key] = resident._Entry(key, [], {}, [], np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 10, "cpu")
    assert res._reserve(("/a.sqlite", "d2", "pressure"), 10)  # pressure's older version goes, the others stay
    assert list(res._entries) == [("/a.sqlite", "d1", "density"), ("/a.sqlite", "d1", "energy")]
    res._reserved = 80  # loads in progress hold the rest: nothing is evicted for a load that cannot fit
    assert not res._reserve(("/b.sqlite", "d", "density"), 30)
    assert len(res._entries) == 2

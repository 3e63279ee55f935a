"""Post-processing's reading (issue 17 §3): files read whole and inflated on threads give the same
fields, distances and errors as numpy's own reading, one simulation at a time; a cancel mid-way
writes nothing; Dask's batches give what this process gives.
"""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Ensemble, build_ensemble, query, sha256, sim_arrays

import jupyterlab_dsi
from jupyterlab_dsi import compute, reading
from jupyterlab_dsi.fields import FieldError, array_limit, read_fields
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.norms import coefficient_distance, cylindrical_weights, density_distance
from jupyterlab_dsi.store import Store

SIMS = 24
STEPS = 5
ROWS = "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t"


def float32_arrays(i: int) -> dict[str, np.ndarray]:
    """What the sample writes: float32 density, deflated (see compressed())."""
    arrays = sim_arrays(i, steps=STEPS, nr=8, nz=12)
    arrays["density"] = arrays["density"].astype(np.float32)
    if i % 5 == 3:  # a few cells outside D+ (zero density), so the mask matters
        arrays["density"][:, 0, :3] = 0
    return arrays


def compressed(ens: Ensemble) -> Ensemble:
    """The ensemble's files rewritten with np.savez_compressed (deflate), as the sample's are."""
    for sid, arrays in ens.arrays.items():
        with ens.file(sid).open("wb") as fh:
            np.savez_compressed(fh, **arrays)
    return ens


@pytest.fixture
def deflated(tmp_path: Path) -> tuple[Ensemble, Path]:
    ens = compressed(build_ensemble(tmp_path / "ens", sims=SIMS, arrays=float32_arrays))
    db = tmp_path / "db.sqlite"
    ingest(db, ens.root)
    return ens, db


def rows(db: Path, method_id: str) -> list[tuple[Any, ...]]:
    return query(db, ROWS, (method_id,))


def same_fields(a: Any, b: Any) -> None:
    for name in ("r", "z", "time", "density", "shock", "edge"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    assert (a.geometry, a.edges) == (b.geometry, b.edges)


# -- the reader --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["deflated float32", "stored float64", "fortran order", "extra member", "int density", "h5"]
)
def test_reader_gives_what_numpy_reads(tmp_path: Path, variant: str) -> None:
    arrays = float32_arrays(7)
    path = tmp_path / ("f.h5" if variant == "h5" else "f.npz")
    if variant == "stored float64":
        arrays["density"] = arrays["density"].astype(np.float64)
    if variant == "fortran order":
        arrays["density"] = np.asfortranarray(arrays["density"])
    if variant == "extra member":
        arrays["notes"] = np.arange(4)
    if variant == "int density":
        arrays["density"] = np.rint(arrays["density"] * 10).astype(np.int32)
    if variant == "h5":
        import h5py

        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f.create_dataset(k, data=v)
    elif variant == "stored float64":
        np.savez(path, **arrays)
    else:
        np.savez_compressed(path, **arrays)
    same_fields(reading.read_simulation_file(path), read_fields(path))


def _flip_in_density(path: Path) -> None:
    """One byte inside the density member's compressed data changed: the zip still opens."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("density.npy")
    data = bytearray(path.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "not a zip": lambda p: p.write_bytes(b"not a zip"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "a flipped byte": _flip_in_density,
    "empty": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_file_among_good_ones_is_named_in_one_line(deflated: tuple[Ensemble, Path], corruption: str) -> None:
    ens, db = deflated
    bad = ens.file("s13")
    CORRUPTIONS[corruption](bad)
    with pytest.raises(FieldError) as numpy_error:
        read_fields(bad)
    before = sha256(db)
    with pytest.raises(compute.PostprocessError) as exc:
        jupyterlab_dsi.postprocess(db, "s00", "L2")
    # The same words as numpy's reading gives, prefixed by the simulation, on one line.
    assert str(exc.value) == f"simulation 's13': {numpy_error.value}"
    assert str(bad) in str(exc.value) and "\n" not in str(exc.value)
    assert sha256(db) == before


def test_bad_values_are_named_as_before(tmp_path: Path) -> None:
    """NaN, negative density and a wrong shape: read_fields' messages, word for word."""
    cases = {
        "nan": lambda a: a["density"].__setitem__((1, 2, 3), np.nan),
        "negative": lambda a: a["density"].__setitem__((2, 0, 1), -0.5),
        "inf shock": lambda a: a["shock"].__setitem__((0, 0), np.inf),
        "shape": lambda a: a.__setitem__("density", a["density"][:, :, :-1]),
        "missing": lambda a: a.pop("edge"),
    }
    for name, spoil in cases.items():
        arrays = float32_arrays(2)
        spoil(arrays)
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        np.savez_compressed(path, **arrays)
        with pytest.raises(FieldError) as want:
            read_fields(path)
        with pytest.raises(FieldError) as got:
            reading.read_simulation_file(path)
        assert str(got.value) == str(want.value), name


def test_the_array_cap_applies_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez_compressed(path, **float32_arrays(1))
    with array_limit(1024, "the test's cap"):
        with pytest.raises(FieldError) as want:
            read_fields(path)
        with pytest.raises(FieldError) as got:
            reading.read_simulation_file(path)
        assert str(got.value) == str(want.value) and "the test's cap" in str(got.value)
        small = tmp_path / "small.npz"
        np.savez_compressed(small, **sim_arrays(1, steps=2, nr=2, nz=3))
        same_fields(reading.read_simulation_file(small), read_fields(small))


# -- postprocess ------------------------------------------------------------------------------


def test_parallel_reading_equals_serial_and_the_reference(deflated: tuple[Ensemble, Path], monkeypatch) -> None:
    ens, db = deflated
    monkeypatch.setattr(compute, "default_threads", lambda: 1)
    serial = rows(db, jupyterlab_dsi.postprocess(db, "s00", "L1"))
    monkeypatch.setattr(compute, "default_threads", lambda: 6)
    parallel = rows(db, jupyterlab_dsi.postprocess(db, "s00", "L1"))
    assert parallel == serial  # bit for bit: the same kernel on the same bytes
    gt = ens.arrays["s00"]
    weights = cylindrical_weights(gt["r"])
    for sid in ens.ids:
        got = np.array([r[2:] for r in serial if r[0] == sid], dtype=float)
        a = ens.arrays[sid]
        np.testing.assert_allclose(got[:, 0], coefficient_distance(gt["shock"], a["shock"], "L1"), rtol=1e-12)
        np.testing.assert_allclose(got[:, 1], coefficient_distance(gt["edge"], a["edge"], "L1"), rtol=1e-12)
        np.testing.assert_allclose(got[:, 2], density_distance(gt["density"], a["density"], weights, "L1"), rtol=1e-6)


def test_cancel_mid_way_writes_nothing_and_stops_the_readers(deflated: tuple[Ensemble, Path]) -> None:
    _, db = deflated
    before = sha256(db)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 5:
            cancel.set()

    with pytest.raises(compute.PostprocessCancelled, match="cancelled; nothing was written"):
        jupyterlab_dsi.postprocess(db, "s00", "L2", progress=progress, cancel=cancel)
    assert seen == [1, 2, 3, 4, 5]
    assert sha256(db) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("jupyterlab-dsi-read")]


def test_memory_stays_a_few_simulations(deflated: tuple[Ensemble, Path], monkeypatch) -> None:
    """At most READ_AHEAD per thread are loaded or waiting: the reader is never far ahead."""
    ens, db = deflated
    started: list[str] = []
    taken: list[int] = []
    real = compute.simulation_distances

    def counting(sim: Any, *args: Any, **kwargs: Any) -> Any:
        started.append(sim.sim_id)
        return real(sim, *args, **kwargs)

    def progress(done: int, total: int) -> None:
        taken.append(len(started) - done)

    with Store(db, readonly=True) as store:
        sims = compute.simulations(store)
    gt = compute._load(sims[0])
    monkeypatch.setattr(compute, "simulation_distances", counting)
    compute._run_local(sims, gt, "L2", None, (None, "index", "density"), progress, None, threads=2)
    assert max(taken) <= compute.READ_AHEAD * 2


# -- Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Any:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


def test_dask_batches_equal_this_process(deflated: tuple[Ensemble, Path], client: Any) -> None:
    _, db = deflated
    want = rows(db, jupyterlab_dsi.postprocess(db, "s05", "Linf"))
    seen: list[int] = []
    got = rows(db, jupyterlab_dsi.postprocess(db, "s05", "Linf", client=client, progress=lambda d, t: seen.append(d)))
    assert compute.batch_size(SIMS, 2) > 1  # several simulations per task
    assert got == want
    assert seen == list(range(1, SIMS + 1))


def test_dask_batches_of_runs_with_other_step_counts(tmp_path: Path, client: Any) -> None:
    """With a fixed ground-truth step, runs may have other numbers of steps, within one batch."""

    def arrays(i: int) -> dict[str, np.ndarray]:
        return sim_arrays(i, steps=2 + i % 3, nr=8, nz=12)

    ens = compressed(build_ensemble(tmp_path / "ens", sims=SIMS, arrays=arrays))
    db = tmp_path / "db.sqlite"
    ingest(db, ens.root)
    want = rows(db, jupyterlab_dsi.postprocess(db, "s02", "L2", gt_time=1))
    got = rows(db, jupyterlab_dsi.postprocess(db, "s02", "L2", gt_time=1, client=client))
    assert got == want
    assert len(got) == sum(2 + i % 3 for i in range(SIMS))


def test_batch_sizes() -> None:
    assert compute.batch_size(6, 2) == 1
    assert compute.batch_size(10_000, 2) == compute.MAX_BATCH
    assert compute.batch_size(1000, 16) == 8
    assert compute.batch_size(0, 2) == 1

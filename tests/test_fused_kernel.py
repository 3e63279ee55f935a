"""The fused kernel (jupyterlab_dsi.kernel) against the float64 reference (norms.py) and by hand.

(tests/test_kernel.py is the Jupyter kernel's: the bridge and %dsi.) The kernel computes the three
norms of Appendix A in one pass with float32 sums along a row; it must give norms.density_distance's
values within 1e-6 relative on random fields, and the hand-computed values of test_norms.py to
the same tolerance as there.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_norms import EXPECTED2, EXPECTED3, GT2, GT3, R2, R3, RHO2, RHO3

from jupyterlab_dsi.kernel import (
    NORM_INDEX,
    fused_coefficients,
    fused_density,
    fused_density_many,
)
from jupyterlab_dsi.norms import NORMS, cell_weights, coefficient_distance, cylindrical_weights, density_distance

REL = 1e-6


def reference(gt: np.ndarray, rho: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(T, 3): the three norms from the float64 reference, in NORM_INDEX order."""
    return np.stack([density_distance(gt, rho, weights, norm) for norm in NORM_INDEX], axis=-1)


def assert_close(got: np.ndarray, want: np.ndarray, rel: float = REL) -> None:
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN (empty D+) in different places"
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=rel, atol=0)


def fields(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, holes: float = 0.2) -> np.ndarray:
    """Positive densities spanning decades, with zero cells (outside D+) scattered in."""
    values = rng.lognormal(0.0, 2.0, size=shape)
    values[rng.random(shape) < holes] = 0.0
    return values.astype(dtype)


def non_uniform_cartesian(nr: int, nz: int, rng: np.random.Generator) -> np.ndarray:
    edges = (np.cumsum(np.r_[0.0, rng.uniform(0.1, 3.0, nr)]), np.cumsum(np.r_[0.0, rng.uniform(0.1, 3.0, nz)]))
    centres = (edges[0][1:] + edges[0][:-1]) / 2
    weights = cell_weights("cartesian", centres, edges)
    assert weights.shape == (nr, nz)  # the true cell areas, not ones
    return weights


# -- random fields against the float64 reference ---------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighting", ["cylindrical", "cartesian-uniform", "cartesian-non-uniform"])
@pytest.mark.parametrize(("nr", "nz"), [(1, 1), (3, 7), (16, 37), (5, 515)])
def test_random_fields_match_the_reference(dtype: type, weighting: str, nr: int, nz: int) -> None:
    rng = np.random.default_rng(nr * 1000 + nz)
    steps = 6
    gt, rho = fields(rng, (steps, nr, nz), dtype), fields(rng, (steps, nr, nz), dtype)
    rho[2] = 0.0  # a step with empty D+
    weights = {
        "cylindrical": cylindrical_weights((np.arange(nr) + 0.5) / nr),
        "cartesian-uniform": np.ones((1, 1)),
        "cartesian-non-uniform": non_uniform_cartesian(nr, nz, rng),
    }[weighting]
    got = fused_density(gt, rho, weights)
    assert got.dtype == np.float64 and got.shape == (steps, 3)
    assert np.isnan(got[2]).all()
    assert_close(got, reference(gt, rho, weights))


def test_mixed_precision_as_post_processing_passes_it() -> None:
    # compute.py widens the ground truth to float64 once and reads each run's float32 file as is.
    rng = np.random.default_rng(11)
    gt, rho = fields(rng, (4, 20, 50), np.float32), fields(rng, (4, 20, 50), np.float32)
    weights = cylindrical_weights(np.arange(20) + 0.5)
    want = reference(gt, rho, weights)
    assert_close(fused_density(gt.astype(np.float64), rho, weights), want)
    assert_close(fused_density(gt, rho.astype(np.float64), weights), want)
    # Other number types are widened, not refused.
    ints = (rho * 10).astype(np.int32)
    assert_close(fused_density(gt, ints, weights), reference(gt, ints, weights))


def test_long_rows_of_similar_values_stay_within_tolerance() -> None:
    # The worst case for float32 sums: long rows of many small, nearly equal terms.
    rng = np.random.default_rng(5)
    gt = np.full((2, 8, 4096), 1.0, dtype=np.float32)
    rho = (gt + rng.uniform(1e-3, 2e-3, gt.shape)).astype(np.float32)
    weights = cylindrical_weights(np.arange(8) + 0.5)
    assert_close(fused_density(gt, rho, weights), reference(gt, rho, weights))


# -- the hand-computed cases of test_norms.py, to their tolerance ----------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("gt", "rho", "r", "expected"), [(GT2, RHO2, R2, EXPECTED2), (GT3, RHO3, R3, EXPECTED3)])
def test_hand_computed_cases(dtype: type, gt: np.ndarray, rho: np.ndarray, r: np.ndarray,
                             expected: dict[str, float]) -> None:
    got = fused_density(gt[None].astype(dtype), rho[None].astype(dtype), cylindrical_weights(r))[0]
    for norm in NORMS:
        assert got[NORM_INDEX[norm]] == pytest.approx(expected[norm], rel=1e-14)


def test_zero_in_the_ground_truth_is_outside_d_plus() -> None:
    gt = np.array([[0.0, 1.0], [1.0, 1.0]])
    rho = np.array([[7.0, 2.0], [1.0, 1.0]])
    got = fused_density(gt[None], rho[None], cylindrical_weights(R2))[0]
    assert got.tolist() == pytest.approx([1 / 7, math.sqrt(1 / 7), 1.0], rel=1e-14)


def test_non_uniform_cartesian_areas_by_hand() -> None:
    # test_vtk's grid: x edges 0, 1, 3 and y edges 0, 0.5, 1, 2: areas outer([1, 2], [.5, .5, 1]).
    weights = cell_weights("cartesian", np.array([0.5, 2.0]), (np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.5, 1.0, 2.0])))
    gt = np.ones((1, 2, 3), dtype=np.float32)
    rho = gt + np.array([[[1.0, 0, 0], [0, 0, 3.0]]], dtype=np.float32)
    got = fused_density(gt, rho, weights)[0]
    # |diff| 1 on area 0.5 and 3 on area 2, total area 6.
    assert got.tolist() == pytest.approx([6.5 / 6, math.sqrt(18.5 / 6), 3.0], rel=1e-14)


def test_empty_d_plus_is_nan_never_zero() -> None:
    gt = np.array([[1.0, 0.0], [0.0, 2.0]])
    rho = np.array([[0.0, 3.0], [4.0, 0.0]])  # disjoint supports
    zeros = np.zeros((2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 RuntimeWarning, no numba warning
        got = fused_density(np.stack([gt, zeros, GT2]), np.stack([rho, zeros, RHO2]), cylindrical_weights(R2))
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all()
    assert got[2].tolist() == pytest.approx([EXPECTED2[n] for n in NORMS], rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_fields_are_exactly_zero(dtype: type) -> None:
    rng = np.random.default_rng(7)
    rho = fields(rng, (4, 9, 13), dtype)
    got = fused_density(rho, rho.copy(), cylindrical_weights(np.arange(9) + 0.5))
    assert np.array_equal(got, np.zeros((4, 3)))


# -- which ground-truth step each step is compared with --------------------------------------


def test_one_ground_truth_step_against_every_step() -> None:
    rng = np.random.default_rng(3)
    gt, rho = fields(rng, (5, 6, 10), np.float32), fields(rng, (3, 6, 10), np.float32)
    weights = cylindrical_weights(np.arange(6) + 0.5)
    want = reference(gt[4:5], rho, weights)  # compute's --gt-time 4
    assert_close(fused_density(gt[4:5], rho, weights), want)
    assert_close(fused_density(gt, rho, weights, ref=np.full(3, 4)), want)


def test_nearest_time_indices() -> None:
    rng = np.random.default_rng(4)
    gt, rho = fields(rng, (6, 5, 9), np.float32), fields(rng, (4, 5, 9), np.float32)
    weights = cylindrical_weights(np.arange(5) + 0.5)
    gt_time, times = np.linspace(0, 1, 6), np.array([0.05, 0.5, 0.52, 0.98])
    nearest = np.abs(times[:, None] - gt_time[None, :]).argmin(axis=1)  # compute._reference's
    assert nearest.tolist() == [0, 2, 3, 5]
    assert_close(fused_density(gt, rho, weights, ref=nearest), reference(gt[nearest], rho, weights))


def test_refused_mappings() -> None:
    gt, rho, w = np.ones((3, 2, 2)), np.ones((2, 2, 2)), np.ones((1, 1))
    with pytest.raises(ValueError, match="3 steps against 2"):
        fused_density(gt, rho, w)
    with pytest.raises(ValueError, match="outside the ground truth's 0..2"):
        fused_density(gt, rho, w, ref=[0, 3])
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        fused_density(gt, rho, w, ref=[0])
    with pytest.raises(ValueError, match="do not broadcast"):
        fused_density(gt[:2], rho, np.ones((3, 1)))
    with pytest.raises(ValueError, match="must be"):
        fused_density(gt[:, :1], rho, w)


# -- many simulations at once ----------------------------------------------------------------


def test_many_equals_one_at_a_time() -> None:
    rng = np.random.default_rng(9)
    stack = fields(rng, (7, 4, 6, 11), np.float32)
    weights = cylindrical_weights(np.arange(6) + 0.5)
    gt = stack[2]  # a ground truth chosen from the stack, as the resident fields do
    got = fused_density_many(gt, stack, weights)
    assert got.shape == (7, 4, 3)
    for s in range(7):
        assert np.array_equal(got[s], fused_density(gt, stack[s], weights))
        assert_close(got[s], reference(gt, stack[s], weights))
    assert np.array_equal(got[2], np.zeros((4, 3)))
    # A mapping per simulation (S, T): each run's own nearest steps.
    per_sim = rng.integers(0, 4, size=(7, 4))
    mapped = fused_density_many(gt, stack, weights, ref=per_sim)
    for s in range(7):
        assert_close(mapped[s], reference(gt[per_sim[s]], stack[s], weights))


def test_nothing_to_compute() -> None:
    assert fused_density_many(np.ones((1, 2, 2)), np.ones((0, 3, 2, 2)), np.ones((1, 1))).shape == (0, 3, 3)
    assert np.isnan(fused_density(np.ones((1, 2, 0)), np.ones((2, 2, 0)), np.ones((1, 1)))).all()


# -- Fourier coefficients --------------------------------------------------------------------


def test_coefficients_by_hand_and_against_the_reference() -> None:
    gt = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    c = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    got = fused_coefficients(gt, c)
    assert got[0].tolist() == pytest.approx([3.0, math.sqrt(5.0), 2.0], rel=1e-14)
    assert got[1].tolist() == [0.0, 0.0, 0.0]
    rng = np.random.default_rng(2)
    gt, c = rng.normal(size=(5, 12)), rng.normal(size=(8, 12))
    ref = rng.integers(0, 5, size=8)
    want = np.stack([coefficient_distance(gt[ref], c, n) for n in NORM_INDEX], axis=-1)
    np.testing.assert_allclose(fused_coefficients(gt, c, ref), want, rtol=1e-12)
    np.testing.assert_allclose(fused_coefficients(gt[1:2], c), np.stack(
        [coefficient_distance(gt[1:2], c, n) for n in NORM_INDEX], axis=-1), rtol=1e-12)


def test_no_coefficients_is_nan() -> None:
    # VTK data has none: no distance (NULL), not 0.
    assert np.isnan(fused_coefficients(np.zeros((3, 0)), np.zeros((3, 0)))).all()


# -- where no cache can be written ---------------------------------------------------------


def test_computes_where_no_cache_folder_is_writable(tmp_path: Path) -> None:
    # numba raises at decoration when neither the module's folder nor the user's cache folder
    # can hold a cache (a read-only install, no writable home): the kernel compiles in memory.
    # A file where each folder would be stands for read-only (the tests may run as root).
    import jupyterlab_dsi.kernel as kernel

    (tmp_path / "fk.py").write_text(Path(kernel.__file__).read_text())
    (tmp_path / "__pycache__").write_text("")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {**os.environ, "HOME": str(blocker), "XDG_CACHE_HOME": str(blocker / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    code = ("import numpy as np, fk; "
            "print(fk.fused_density(np.ones((1, 2, 3)), np.full((2, 2, 3), 3.0), np.ones((1, 1))).tolist())")
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str([[2.0, 2.0, 2.0]] * 2)


@pytest.mark.parametrize("scale", [1e-30, 1e-16, 1e20, 1e30])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_far_from_one(scale: float, dtype: type) -> None:
    # Number densities (1e20 per cm3 and more) or a near-vacuum: squares of the differences
    # leave float32's range, and the answer must not become inf, 0 or imprecise.
    rng = np.random.default_rng(int(np.log10(scale)) + 40)
    gt, rho = (fields(rng, (3, 6, 50), np.float64) * scale).astype(dtype), (fields(rng, (3, 6, 50), np.float64) * scale).astype(dtype)
    for weights in (cylindrical_weights(np.arange(6) + 0.5), non_uniform_cartesian(6, 50, rng) * 1e-30):
        got = fused_density(gt, rho, weights)
        assert np.isfinite(got).all() and (got > 0).all()
        assert_close(got, reference(gt, rho, weights))


@settings(max_examples=80, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 19)),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    zeros=st.floats(0.0, 0.9),
)
def test_any_small_fields_match_the_reference(shape: tuple[int, int, int], seed: int, dtype: type, zeros: float) -> None:
    # Signs mixed too: D+ is "the product is positive", so two negative cells count (the kernel
    # decides it on the signs for float32, on the product for float64).
    rng = np.random.default_rng(seed)
    gt, rho = (rng.normal(size=shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)).astype(dtype), rng.normal(size=shape).astype(dtype)
    gt[rng.random(shape) < zeros] = 0.0
    rho[rng.random(shape) < zeros] = 0.0
    weights = cylindrical_weights(rng.uniform(0.1, 5.0, shape[1]))
    assert_close(fused_density(gt, rho, weights), reference(gt, rho, weights))


# -- called from many threads at once (post-processing's readers, the server's pool) ------------

THREADS_SCRIPT = """
import threading, numpy as np, numba
from jupyterlab_dsi import kernel
rng = np.random.default_rng(0)
gt = rng.uniform(0, 2, (6, 16, 40)).astype(np.float32)
runs = [rng.uniform(0, 2, (6, 16, 40)).astype(np.float32) for _ in range(8)]
w = np.arange(16.0).reshape(-1, 1) + 0.5
want = [kernel.fused_density(gt, r, w) for r in runs]
bad = []
def work(single):
    if single:
        numba.set_num_threads(1)  # as post-processing's reader threads
    for _ in range(20):
        for r, expected in zip(runs, want):
            if not np.array_equal(kernel.fused_density(gt, r, w), expected):
                bad.append(1)
threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(numba.threading_layer(), kernel._serial, len(bad))
"""


@pytest.mark.parametrize("layer", ["default", "workqueue"])
def test_threads_at_once(layer: str) -> None:
    # workqueue (numba's fallback where no OpenMP/TBB exists) aborts the process when two
    # threads enter parallel code together: the kernel makes them take turns there.
    env = dict(os.environ)
    if layer == "workqueue":
        env["NUMBA_THREADING_LAYER"] = "workqueue"
    done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    used, serial, bad = done.stdout.split()
    assert bad == "0"
    assert serial == str(used == "workqueue")
    if layer == "workqueue":
        assert used == "workqueue"

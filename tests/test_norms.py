"""The distances of seed 000, Appendix A, checked against cases worked out by hand.

    L1   = (2 pi dR dz / V+) sum_{D+} |rho_gt - rho| R_j
    L2   = sqrt((2 pi dR dz / V+) sum_{D+} (rho_gt - rho)^2 R_j)
    Linf = max_{D+} |rho_gt - rho|
    D+   = cells where rho_gt * rho > 0,   V+ = sum_{D+} 2 pi R_j dR dz

The factor 2 pi dR dz is in every term of V+ as well, so it cancels: what is left is a weighted
mean with weight R_j (the cell-centre radius of row j).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from jupyterlab_dsi.fields import Fields
from jupyterlab_dsi.norms import (
    NORMS,
    check_norm,
    coefficient_distance,
    cylindrical_weights,
    density_distance,
)
from jupyterlab_dsi.compute import distances


def appendix_a(gt: np.ndarray, rho: np.ndarray, r: np.ndarray, dr: float, dz: float, norm: str) -> float:
    """The formulas exactly as printed, with the 2 pi dR dz factor and V+, cell by cell."""
    num, volume, worst, any_cell = 0.0, 0.0, 0.0, False
    for j in range(gt.shape[0]):
        for k in range(gt.shape[1]):
            if gt[j, k] * rho[j, k] > 0:
                any_cell = True
                cell = 2 * math.pi * r[j] * dr * dz
                volume += cell
                d = abs(gt[j, k] - rho[j, k])
                num += (d if norm == "L1" else d * d) * r[j]
                worst = max(worst, d)
    if not any_cell:
        return math.nan
    if norm == "Linf":
        return worst
    value = 2 * math.pi * dr * dz / volume * num
    return value if norm == "L1" else math.sqrt(value)


# 2 x 2 grid, dR = dz = 1: R = [0.5, 1.5] (rows), z = [0.5, 1.5] (columns).
R2 = np.array([0.5, 1.5])
GT2 = np.array([[1.0, 2.0], [3.0, 4.0]])
RHO2 = np.array([[2.0, 2.0], [1.0, 0.0]])
# D+ drops cell (1, 1) (rho = 0), so its difference 4 never counts.
# |diff| on D+: (0,0) = 1 with R = 0.5; (0,1) = 0 with R = 0.5; (1,0) = 2 with R = 1.5.
# V+ / (2 pi dR dz) = 0.5 + 0.5 + 1.5 = 2.5
# L1   = (1 * 0.5 + 0 * 0.5 + 2 * 1.5) / 2.5 = 3.5 / 2.5 = 1.4
# L2   = sqrt((1 * 0.5 + 0 * 0.5 + 4 * 1.5) / 2.5) = sqrt(6.5 / 2.5) = sqrt(2.6)
# Linf = max(1, 0, 2) = 2
EXPECTED2 = {"L1": 1.4, "L2": math.sqrt(2.6), "Linf": 2.0}

# 3 x 2 grid, dR = 0.5, dz = 2: R = [0.25, 0.75, 1.25].
R3 = np.array([0.25, 0.75, 1.25])
GT3 = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
RHO3 = np.array([[1.0, 3.0], [2.0, 1.0], [0.0, 5.0]])
# D+ drops cell (2, 0). |diff| on D+ with weights R_j:
#   (0,0) 0 @ 0.25, (0,1) 2 @ 0.25, (1,0) 1 @ 0.75, (1,1) 0 @ 0.75, (2,1) 4 @ 1.25
# V+ / (2 pi dR dz) = 0.25 + 0.25 + 0.75 + 0.75 + 1.25 = 3.25
# L1   = (2 * 0.25 + 1 * 0.75 + 4 * 1.25) / 3.25 = 6.25 / 3.25 = 25 / 13
# L2   = sqrt((4 * 0.25 + 1 * 0.75 + 16 * 1.25) / 3.25) = sqrt(21.75 / 3.25) = sqrt(87 / 13)
# Linf = 4
EXPECTED3 = {"L1": 25 / 13, "L2": math.sqrt(87 / 13), "Linf": 4.0}


@pytest.mark.parametrize("norm", NORMS)
def test_density_distance_2x2_by_hand(norm: str) -> None:
    got = density_distance(GT2[None], RHO2[None], cylindrical_weights(R2), norm)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(EXPECTED2[norm], rel=1e-14)
    assert got[0] == pytest.approx(appendix_a(GT2, RHO2, R2, 1.0, 1.0, norm), rel=1e-14)


@pytest.mark.parametrize("norm", NORMS)
def test_density_distance_3x2_by_hand(norm: str) -> None:
    got = density_distance(GT3[None], RHO3[None], cylindrical_weights(R3), norm)
    assert got[0] == pytest.approx(EXPECTED3[norm], rel=1e-14)
    assert got[0] == pytest.approx(appendix_a(GT3, RHO3, R3, 0.5, 2.0, norm), rel=1e-14)


@pytest.mark.parametrize("norm", NORMS)
def test_density_distance_is_symmetric_and_per_step(norm: str) -> None:
    # Two steps stacked: each step gets its own D+ and V+.
    gt = np.stack([GT2, GT3[:2]])
    rho = np.stack([RHO2, RHO3[:2]])
    got = density_distance(gt, rho, cylindrical_weights(R2), norm)
    assert got.shape == (2,)
    assert got[0] == pytest.approx(EXPECTED2[norm])
    assert got[1] == pytest.approx(appendix_a(GT3[:2], RHO3[:2], R2, 1.0, 1.0, norm))
    back = density_distance(rho, gt, cylindrical_weights(R2), norm)
    np.testing.assert_allclose(back, got, rtol=1e-14)


@pytest.mark.parametrize("norm", NORMS)
def test_zero_in_the_ground_truth_is_outside_d_plus(norm: str) -> None:
    # gt = 0 where rho = 7: that cell is not in D+ either (the product is 0).
    gt = np.array([[0.0, 1.0], [1.0, 1.0]])
    rho = np.array([[7.0, 2.0], [1.0, 1.0]])
    # D+ = (0,1) 1 @ 0.5, (1,0) 0 @ 1.5, (1,1) 0 @ 1.5; V+ ~ 3.5
    # L1 = 0.5 / 3.5 = 1/7, L2 = sqrt(0.5 / 3.5) = sqrt(1/7), Linf = 1
    expected = {"L1": 1 / 7, "L2": math.sqrt(1 / 7), "Linf": 1.0}[norm]
    got = density_distance(gt[None], rho[None], cylindrical_weights(R2), norm)[0]
    assert got == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("norm", NORMS)
def test_empty_d_plus_is_nan_never_zero(norm: str) -> None:
    gt = np.array([[1.0, 0.0], [0.0, 2.0]])
    rho = np.array([[0.0, 3.0], [4.0, 0.0]])  # disjoint supports: D+ is empty
    zeros = np.zeros((2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning (0/0) may leak out
        steps = density_distance(
            np.stack([gt, zeros, GT2]), np.stack([rho, zeros, RHO2]), cylindrical_weights(R2), norm
        )
    assert math.isnan(steps[0])  # disjoint
    assert math.isnan(steps[1])  # both empty: still undefined, not 0
    assert steps[2] == pytest.approx(EXPECTED2[norm])  # a good step next to them is unaffected
    assert math.isnan(appendix_a(gt, rho, R2, 1.0, 1.0, norm))


@pytest.mark.parametrize("norm", NORMS)
def test_identical_is_zero(norm: str) -> None:
    rng = np.random.default_rng(7)
    rho = rng.uniform(0.1, 3.0, size=(4, 3, 2))
    rho[1, 0, 0] = 0.0  # a zero cell changes D+ but not the answer
    assert np.array_equal(density_distance(rho, rho.copy(), cylindrical_weights(R3), norm), np.zeros(4))
    shock = rng.normal(size=(4, 5))
    assert np.array_equal(coefficient_distance(shock, shock.copy(), norm), np.zeros(4))


def test_norms_are_ordered_like_power_means() -> None:
    # For a weighted mean, L1 <= L2 <= Linf: a property check on random positive fields.
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.1, 2.0, size=(20, 5, 4))
    rho = rng.uniform(0.1, 2.0, size=(20, 5, 4))
    w = cylindrical_weights((np.arange(5) + 0.5) / 5)
    l1, l2, linf = (density_distance(gt, rho, w, n) for n in NORMS)
    assert np.all(l1 <= l2 + 1e-12) and np.all(l2 <= linf + 1e-12)


def test_weights_scale_invariant() -> None:
    # Only ratios of R_j matter (the 2 pi dR dz factor cancels against V+).
    for norm in NORMS:
        a = density_distance(GT3[None], RHO3[None], cylindrical_weights(R3), norm)
        b = density_distance(GT3[None], RHO3[None], cylindrical_weights(R3 * 40.0), norm)
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_cylindrical_weights_shape() -> None:
    w = cylindrical_weights(np.array([0.5, 1.5, 2.5]))
    assert w.shape == (3, 1)
    assert w[:, 0].tolist() == [0.5, 1.5, 2.5]


@pytest.mark.parametrize(
    ("norm", "expected"),
    [
        # gt = [1, 2, 3], c = [2, 0, 3]: |diff| = [1, 2, 0]
        ("L1", 3.0),  # 1 + 2 + 0
        ("L2", math.sqrt(5.0)),  # sqrt(1 + 4 + 0)
        ("Linf", 2.0),  # max(1, 2, 0)
    ],
)
def test_coefficient_distance_by_hand(norm: str, expected: float) -> None:
    gt = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    c = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    got = coefficient_distance(gt, c, norm)
    assert got.shape == (2,)
    assert got[0] == pytest.approx(expected, rel=1e-14)
    assert got[1] == 0.0  # identical coefficients


def test_unknown_norm() -> None:
    with pytest.raises(ValueError, match="L3"):
        check_norm("L3")
    with pytest.raises(ValueError, match="l2"):
        density_distance(GT2[None], RHO2[None], cylindrical_weights(R2), "l2")
    with pytest.raises(ValueError):
        coefficient_distance(np.zeros((1, 2)), np.zeros((1, 2)), "max")


def _fields(density: np.ndarray, shock: np.ndarray, edge: np.ndarray, r: np.ndarray = R2) -> Fields:
    t = density.shape[0]
    return Fields(
        r=r,
        z=np.array([0.5, 1.5]),
        time=np.arange(1.0, t + 1.0),
        density=density,
        shock=shock,
        edge=edge,
    )


def test_distances_matched_time() -> None:
    # Step t against the ground truth's step t.
    gt = _fields(np.stack([GT2, GT2]), np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), np.zeros((2, 3)))
    sim = _fields(np.stack([RHO2, GT2]), np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 0.0]]), np.ones((2, 3)))
    d_shock, d_edge, d_density = distances(gt, sim, "L1", None, cylindrical_weights(R2))
    assert d_shock.tolist() == [3.0, 0.0]
    assert d_edge.tolist() == [3.0, 3.0]  # |0 - 1| * 3 coefficients
    assert d_density[0] == pytest.approx(1.4)
    assert d_density[1] == 0.0


@pytest.mark.parametrize("norm", NORMS)
def test_distances_fixed_ground_truth_time(norm: str) -> None:
    # gt_time = 1: every step of the simulation against the ground truth's step 1 (= GT2),
    # and the simulation may have a different number of steps (here 3 against 2).
    gt = _fields(
        np.stack([np.full((2, 2), 9.0), GT2]),
        np.array([[9.0, 9.0, 9.0], [1.0, 2.0, 3.0]]),
        np.array([[9.0, 9.0, 9.0], [0.0, 0.0, 0.0]]),
    )
    sim = _fields(
        np.stack([RHO2, GT2, np.zeros((2, 2))]),
        np.array([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]),
        np.zeros((3, 3)),
    )
    d_shock, d_edge, d_density = distances(gt, sim, norm, 1, cylindrical_weights(R2))
    assert d_shock.shape == d_edge.shape == d_density.shape == (3,)
    assert d_density[0] == pytest.approx(EXPECTED2[norm])  # RHO2 against GT2 (step 1)
    assert d_density[1] == 0.0  # identical to step 1
    assert math.isnan(d_density[2])  # all zero: empty D+
    coeff = {"L1": 3.0, "L2": math.sqrt(5.0), "Linf": 2.0}[norm]
    assert d_shock.tolist() == pytest.approx([coeff, 0.0, 0.0])
    assert d_edge.tolist() == [0.0, 0.0, 0.0]
    # The same with gt_time = 0 would compare against the 9s: a different answer.
    other = distances(gt, sim, norm, 0, cylindrical_weights(R2))[2]
    assert other[1] != 0.0

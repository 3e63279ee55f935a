"""Distances between a simulation and the ground truth (seed 000, Appendix A).

On a uniform cylindrical grid with cell-centre radii ``R_j`` the cell volume is
``2 pi R_j dR dz``. Over the domain ``D+`` where both densities are positive:

* ``L1   = (2 pi dR dz / V+) sum |rho_gt - rho| R_j``
* ``L2   = sqrt((2 pi dR dz / V+) sum (rho_gt - rho)^2 R_j)``
* ``Linf = max |rho_gt - rho|``

with ``V+ = sum_{D+} 2 pi R_j dR dz``. The constant ``2 pi dR dz`` cancels, so only the radial
weights matter. A Cartesian (x, y) grid weighs each cell by its area ``dx_i dy_k``: equal weights
on a uniform grid, the true areas (from the cell edges) on a non-uniform one. An empty ``D+`` has no meaningful distance: the result is NaN (stored as NULL),
never 0, and the caller warns.
"""

from __future__ import annotations

import numpy as np

NORMS = ("L1", "L2", "Linf")


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}: choose one of {', '.join(NORMS)}")
    return norm


# Cells per block of steps: numpy's temporaries (mask, difference, products) of one block stay
# in the CPU cache, instead of streaming every step's temporaries through memory.
BLOCK_CELLS = 1 << 16


def density_distance(gt: np.ndarray, rho: np.ndarray, weights: np.ndarray, norm: str) -> np.ndarray:
    """Distance per time step between ``gt`` and ``rho``, both shaped ``(T, NR, NZ)``.

    ``gt`` may also be one step ``(1, NR, NZ)``, compared with every step of ``rho``.
    ``weights`` are the cell volumes up to a constant, shaped to broadcast against one step
    (``(NR, 1)`` holding ``R_j`` for a cylindrical grid). Returns float64 ``(T,)``, NaN where
    ``D+`` is empty.
    """
    check_norm(norm)
    gt = np.asarray(gt, dtype=np.float64)
    rho = np.asarray(rho)  # float32 files are widened block by block, in cache
    if rho.ndim != 3 or gt.ndim != 3 or gt.shape[0] not in (1, rho.shape[0]):
        return _density_block(gt, rho, weights, norm)  # other broadcasts (tests, batches): one block
    steps = rho.shape[0]
    block = max(1, BLOCK_CELLS // max(1, rho[0].size))
    out = np.empty(steps)
    for start in range(0, steps, block):
        stop = min(steps, start + block)
        ref = gt if gt.shape[0] == 1 else gt[start:stop]
        out[start:stop] = _density_block(ref, rho[start:stop], weights, norm)
    return out


def _density_block(gt: np.ndarray, rho: np.ndarray, weights: np.ndarray, norm: str) -> np.ndarray:
    rho = np.asarray(rho, dtype=np.float64)
    inside = (gt * rho) > 0
    w = np.where(inside, weights, 0.0)
    volume = w.sum(axis=(-2, -1))
    diff = np.abs(gt - rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        if norm == "L1":
            out = (diff * w).sum(axis=(-2, -1)) / volume
        elif norm == "L2":
            out = np.sqrt((diff * diff * w).sum(axis=(-2, -1)) / volume)
        else:
            out = np.where(inside, diff, -np.inf).max(axis=(-2, -1))
    return np.where(volume > 0, out, np.nan)


def coefficient_distance(gt: np.ndarray, coeffs: np.ndarray, norm: str) -> np.ndarray:
    """Distance per time step between two Fourier coefficient series shaped ``(T, K)``."""
    check_norm(norm)
    diff = np.abs(np.asarray(gt, dtype=np.float64) - np.asarray(coeffs, dtype=np.float64))
    if norm == "L1":
        return diff.sum(axis=-1)
    if norm == "L2":
        return np.sqrt((diff * diff).sum(axis=-1))
    return diff.max(axis=-1)


def cylindrical_weights(r: np.ndarray) -> np.ndarray:
    """Radial weights ``R_j`` shaped ``(NR, 1)`` for a grid whose first axis is R."""
    return np.asarray(r, dtype=np.float64).reshape(-1, 1)


def _uniform(widths: np.ndarray) -> bool:
    return bool(np.allclose(widths, widths.mean(), rtol=1e-6, atol=0))


def cell_weights(
    geometry: str, r: np.ndarray, edges: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Cell volumes up to a constant, shaped to broadcast against one step ``(N1, N2)``.

    Uniform spacing gives the exact weights of Appendix A (``R_j``, or ones for Cartesian) rather
    than edge differences, which round differently: results on uniform grids stay as they were.
    """
    if geometry not in ("cartesian", "cylindrical"):
        raise ValueError(f"unknown geometry {geometry!r}: choose cartesian or cylindrical")
    widths = [np.diff(np.asarray(e, dtype=np.float64)) for e in edges] if edges is not None else None
    if widths is None or all(_uniform(w) for w in widths):
        return cylindrical_weights(r) if geometry == "cylindrical" else np.ones((1, 1))
    area = np.outer(widths[0], widths[1])
    return area * cylindrical_weights(r) if geometry == "cylindrical" else area

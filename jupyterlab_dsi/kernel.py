"""The three density norms of seed 000 (Appendix A) in one fused pass over the fields (issue 17).

:mod:`jupyterlab_dsi.norms` is the float64 reference, written as numpy array expressions; each
norm there makes its own passes over temporaries as large as the fields. Here one compiled loop
reads every cell of the ground truth and of the run once and accumulates L1, L2 and Linf together,
so a new ground truth over fields already in memory costs about one read of them.

Precision: each cell's difference is taken in float64 (exact for float32 inputs) and rounded once
to float32; the sums along a row of NZ cells are float32, split by the compiler into vector lanes
(``REASSOCIATE``), and the rows are combined in float64. The result is within 1e-6 relative of
:func:`norms.density_distance` (float32 rounding is 6e-8), and equal to it where the values are
exact in float32 (the hand-computed cases). D+ is the reference's: the float64 product is positive.
A step whose largest difference is far from 1 (``SMALL``, ``LARGE``: squares leaving float32's
range) is computed again in float64, and cell weights are scaled to at most 1 first.

Compiled lazily (the first call, a few seconds) and cached on disk next to this file, or in the
user's cache folder when the install is read-only; where neither is writable it compiles in
memory each process (``_jit``).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable

import numpy as np

NORM_INDEX = {"L1": 0, "L2": 1, "Linf": 2}
# Floating-point reassociation only: lets LLVM split a row's float32 sums into vector lanes
# (short chains: less rounding than one running sum, and 2x the speed of a scalar loop). Not
# numba's fastmath=True: no "no NaN"/"no inf" assumptions, so D+ and NaN stay exact.
REASSOCIATE = {"reassoc"}
# The largest difference of a step for which float32 row sums of squares keep their precision
# (squares within float32's normal range, with room for long rows); outside, the step is
# computed again in float64 (rare: a difference of 0, identical fields, needs neither).
SMALL, LARGE = 1e-12, 1e15


def _jit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """numba.njit with an on-disk cache where one can be written, in memory otherwise.

    numba picks the cache folder when the function is decorated and raises RuntimeError when
    none is writable (a read-only install with no writable home): that must not break importing
    jupyterlab_dsi, so the function is then compiled without a cache."""
    import numba

    def decorate(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:
            return numba.njit(cache=False, **options)(fn)

    return decorate


_kernels: dict[str, Any] = {}
_kernels_lock = threading.Lock()
# numba's fallback threading layer (workqueue, where no OpenMP/TBB runtime exists) aborts the
# process when two threads enter parallel code at once: there, calls take turns. OpenMP and TBB
# are thread-safe, and post-processing's reader threads each run a single-threaded kernel at
# once (reading.one_kernel_thread), so there they do not. Unknown until a kernel has run.
_run_lock = threading.Lock()
_serial: bool | None = None


def _turn() -> Any:
    return _run_lock if _serial is not False else contextlib.nullcontext()


def _learn_layer(numba: Any) -> None:
    global _serial
    if _serial is None:
        try:
            _serial = numba.threading_layer() == "workqueue"
        except ValueError:  # no parallel kernel has run yet
            pass


def _compiled() -> dict[str, Any]:
    """The numba functions, defined on first use: importing numba costs ~0.3 s, and the CLI's
    other commands and the server's start should not pay it."""
    with _kernels_lock:
        if _kernels:
            return _kernels
        import numba
        from numba import prange

        def density_kernel(sign_test: bool) -> Any:
            # Two builds of one loop: float32 fields decide D+ on the signs, which is exactly
            # "the float64 product > 0" for them (a float64 product of float32 never underflows)
            # and keeps the loop in float32 lanes; float64 fields multiply, as the reference.

            @_jit(parallel=True, fastmath=REASSOCIATE, nogil=True)
            def density_many(gt, stack, weights, ref, out):  # type: ignore[no-untyped-def]
                # gt (Tg, NR, NZ); stack (S, T, NR, NZ); weights (NR, 1) or (NR, NZ) float64;
                # ref (S, T) int64; out (S, T, 3) float64.
                n_sims, n_steps, nr, nz = stack.shape
                per_cell = weights.shape[1] != 1
                zero = np.float32(0.0)
                one = np.float32(1.0)
                for i in prange(n_sims * n_steps):
                    s = i // n_steps
                    t = i - s * n_steps
                    x = gt[ref[s, t]]
                    y = stack[s, t]
                    l1 = 0.0
                    l2 = 0.0
                    volume = 0.0
                    worst = 0.0
                    for j in range(nr):
                        xr = x[j]
                        yr = y[j]
                        # float32 sums along the row (in the vector lanes reassociation allows)
                        a1 = zero
                        a2 = zero
                        av = zero
                        top = zero
                        if per_cell:
                            for k in range(nz):
                                a = np.float64(xr[k])
                                b = np.float64(yr[k])
                                inside = a * b > 0.0
                                d = abs(a - b) if inside else 0.0
                                w = weights[j, k]
                                a1 += np.float32(d * w)
                                a2 += np.float32(d * d * w)
                                av += np.float32(w) if inside else zero
                                top = max(top, np.float32(d))
                            row_w = 1.0
                        else:
                            for k in range(nz):
                                a = xr[k]
                                b = yr[k]
                                if sign_test:
                                    inside = (a > 0 and b > 0) or (a < 0 and b < 0)
                                else:
                                    inside = np.float64(a) * np.float64(b) > 0.0
                                # The difference in float64 (exact for float32 fields), rounded
                                # once to float32: the rest of the loop runs 8 cells per vector.
                                d = np.float32(abs(np.float64(a) - np.float64(b))) if inside else zero
                                a1 += d
                                a2 += d * d
                                av += one if inside else zero
                                top = max(top, d)
                            row_w = weights[j, 0]
                        l1 += row_w * np.float64(a1)
                        l2 += row_w * np.float64(a2)
                        volume += row_w * np.float64(av)
                        worst = max(worst, np.float64(top))
                    if worst != 0.0 and not (SMALL <= worst <= LARGE):
                        # Differences whose squares leave float32's range (number densities of
                        # 1e20, a near-vacuum of 1e-20): this step again, all in float64.
                        l1 = 0.0
                        l2 = 0.0
                        volume = 0.0
                        worst = 0.0
                        for j in range(nr):
                            for k in range(nz):
                                a = np.float64(x[j, k])
                                b = np.float64(y[j, k])
                                if a * b > 0.0:
                                    w = weights[j, k] if per_cell else weights[j, 0]
                                    d = abs(a - b)
                                    l1 += d * w
                                    l2 += d * d * w
                                    volume += w
                                    worst = max(worst, d)
                    if volume > 0.0:
                        out[s, t, 0] = l1 / volume
                        out[s, t, 1] = np.sqrt(l2 / volume)
                        out[s, t, 2] = worst
                    else:  # empty D+ (or zero weight over it): no distance, never 0
                        out[s, t, 0] = np.nan
                        out[s, t, 1] = np.nan
                        out[s, t, 2] = np.nan

            return density_many

        @_jit(fastmath=False, nogil=True)
        def coefficients(gt, coeffs, ref, out):  # type: ignore[no-untyped-def]
            n_steps, k = coeffs.shape
            for t in range(n_steps):
                g = ref[t]
                s1 = 0.0
                s2 = 0.0
                worst = 0.0
                for c in range(k):
                    d = abs(gt[g, c] - coeffs[t, c])
                    s1 += d
                    s2 += d * d
                    worst = max(worst, d)
                out[t, 0] = s1
                out[t, 1] = np.sqrt(s2)
                out[t, 2] = worst

        _kernels.update(sign=density_kernel(True), product=density_kernel(False), coefficients=coefficients,
                        numba=numba)
        return _kernels


def _float(a: Any, name: str) -> np.ndarray:
    """float32 and float64 read in place; any other number type widened to float64."""
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        if not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"{name} has dtype {a.dtype}, expected numbers")
        a = a.astype(np.float64)
    return np.ascontiguousarray(a)


def _weights(weights: Any, nr: int, nz: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 0:
        w = w.reshape(1, 1)
    if w.ndim != 2 or w.shape[0] not in (1, nr) or w.shape[1] not in (1, nz):
        raise ValueError(f"weights of shape {w.shape} do not broadcast against one step ({nr}, {nz})")
    shape = (nr, 1) if w.shape[1] == 1 else (nr, nz)
    if shape == (nr, nz) and w.size and np.isfinite(w).all() and w.max() > 0:
        # Cell weights go through float32 in the loop: scaled to at most 1 (only their ratios
        # matter, the volume divides them out), tiny or huge areas neither underflow nor overflow.
        w = w / w.max()
    # A fresh writable array: numba compiles read-only arrays (what broadcast_to gives) apart.
    return np.broadcast_to(w, shape).copy()


def _ref(ref: Any, tg: int, steps: int, sims: int) -> np.ndarray:
    """Which ground-truth step each (simulation, step) is compared with, as (S, T) int64."""
    if ref is None:
        if tg == 1:
            ref = np.zeros(steps, dtype=np.int64)
        elif tg == steps:
            ref = np.arange(steps, dtype=np.int64)
        else:
            raise ValueError(
                f"the ground truth has {tg} steps against {steps}: give ref (which ground-truth step "
                "each step is compared with) or one ground-truth step"
            )
    ref = np.asarray(ref)
    if not np.issubdtype(ref.dtype, np.integer):
        raise ValueError(f"ref has dtype {ref.dtype}, expected integers")
    if ref.shape not in ((steps,), (sims, steps)):
        raise ValueError(f"ref has shape {ref.shape}, expected ({steps},) or ({sims}, {steps})")
    if ref.size and (ref.min() < 0 or ref.max() >= tg):
        raise ValueError(f"ref holds steps outside the ground truth's 0..{tg - 1}")
    return np.broadcast_to(ref.astype(np.int64, copy=False), (sims, steps)).copy()


def fused_density_many(gt: Any, stack: Any, weights: Any, ref: Any = None) -> np.ndarray:
    """L1, L2 and Linf of every (simulation, step) of ``stack`` against ``gt``, in one pass.

    ``gt`` (Tg, NR, NZ) and ``stack`` (S, T, NR, NZ), float32 or float64 read as they are;
    ``weights`` broadcast to one step, (NR, 1) or (NR, NZ) (``norms.cell_weights``); ``ref``
    int (T,) or (S, T): the ground-truth step each step is compared with (None: step t with step
    t, or every step with step 0 when Tg == 1). Returns float64 (S, T, 3) in ``NORM_INDEX`` order,
    NaN where D+ is empty.
    """
    gt, stack = _float(gt, "gt"), _float(stack, "stack")
    if gt.ndim != 3 or stack.ndim != 4 or gt.shape[1:] != stack.shape[2:]:
        raise ValueError(f"gt {gt.shape} and stack {stack.shape} must be (Tg, NR, NZ) and (S, T, NR, NZ)")
    sims, steps, nr, nz = stack.shape
    w = _weights(weights, nr, nz)
    at = _ref(ref, gt.shape[0], steps, sims)
    out = np.empty((sims, steps, 3))
    if out.size == 0:
        return out
    if nr * nz == 0:  # no cells: D+ is empty
        out[:] = np.nan
        return out
    kernels = _compiled()
    kernel = kernels["sign" if gt.dtype == stack.dtype == np.float32 else "product"]
    with _turn():
        kernel(gt, stack, w, at, out)
    _learn_layer(kernels["numba"])
    return out


def fused_density(gt: Any, rho: Any, weights: Any, ref: Any = None) -> np.ndarray:
    """L1, L2, Linf per step of ``rho`` (T, NR, NZ) against ``gt`` (Tg, NR, NZ): float64 (T, 3).

    Exactly ``norms.density_distance``'s definition for each norm (D+ = cells where gt*rho > 0,
    NaN where it is empty); see :func:`fused_density_many` for the arguments."""
    rho = np.asarray(rho)
    if rho.ndim != 3:
        raise ValueError(f"rho has shape {rho.shape}, expected (T, NR, NZ)")
    if ref is not None and np.ndim(ref) != 1:
        raise ValueError(f"ref has shape {np.shape(ref)}, expected ({rho.shape[0]},)")
    return fused_density_many(gt, rho[None], weights, ref)[0]


def fused_coefficients(gt: Any, coeffs: Any, ref: Any = None) -> np.ndarray:
    """L1, L2, Linf per step between Fourier coefficient series: ``coeffs`` (T, K) against ``gt``
    (Tg, K), float64 (T, 3) as ``norms.coefficient_distance``; NaN where K == 0 (no coefficients:
    no distance rather than a misleading 0)."""
    gt = np.ascontiguousarray(np.asarray(gt, dtype=np.float64))
    coeffs = np.ascontiguousarray(np.asarray(coeffs, dtype=np.float64))
    if gt.ndim != 2 or coeffs.ndim != 2 or gt.shape[1] != coeffs.shape[1]:
        raise ValueError(f"gt {gt.shape} and coeffs {coeffs.shape} must be (Tg, K) and (T, K) with the same K")
    steps = coeffs.shape[0]
    at = _ref(ref, gt.shape[0], steps, 1)[0]
    out = np.empty((steps, 3))
    if coeffs.shape[1] == 0 or steps == 0:
        out[:] = np.nan
        return out
    _compiled()["coefficients"](gt, coeffs, at, out)
    return out

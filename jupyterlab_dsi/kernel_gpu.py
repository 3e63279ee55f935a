"""The fused density norms on a GPU with CuPy (``pip install "jupyterlab-dsi[cuda]"``), issue 17.

The same definition as :mod:`jupyterlab_dsi.kernel` (D+ = cells where the float64 product of the
two densities is positive, NaN where D+ is empty) computed with array operations on the device,
in float64 throughout: a GPU reads the resident fields at several TB/s, so the float32 lanes
that make the CPU loop fast buy nothing here, and the result sits within float32 rounding of the
CPU kernel's (tests/test_kernel_gpu.py holds them to 1e-6 relative).

The functions take an array module (``xp``): CuPy on a GPU; numpy runs the very same code, which
is how machines without a GPU (CI) check its arithmetic against the CPU kernel.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

# Bytes of float64 temporaries one chunk of simulations may take on the device (the stack itself
# stays float32): bounds the extra memory whatever the ensemble's size.
CHUNK_BYTES = 256 * 2**20
# A few temporaries of one step's size live at once per (simulation, step) in a chunk.
TEMPORARIES = 4

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[Any, str]:
    """(cupy or None, why not): importing CuPy succeeds without a GPU, so ask for a device too."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return None, f'CuPy is not importable ({type(exc).__name__}: {exc}); pip install "jupyterlab-dsi[cuda]"'
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # no driver, no device
        return None, f"CuPy finds no CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return None, "CuPy finds no CUDA device"
    return cupy, ""


def available() -> bool:
    """CuPy imports and a CUDA device is present."""
    return _probe()[0] is not None


def unavailable_reason() -> str:
    return _probe()[1] or "a GPU is available"


def _cupy() -> Any:
    cupy, why = _probe()
    if cupy is None:
        raise RuntimeError(why)
    return cupy


def to_device(array: np.ndarray) -> Any:
    """A host array copied to the GPU (float32 fields stay float32)."""
    return _cupy().asarray(array)


def fused_density_many(gt: Any, stack: Any, weights: Any, ref: Any = None, xp: Any = None) -> np.ndarray:
    """As :func:`kernel.fused_density_many`: ``gt`` (Tg, NR, NZ) and ``stack`` (S, T, NR, NZ)
    (device or host arrays), ``weights`` broadcast to one step, ``ref`` (T,) or (S, T) or None.
    Returns a host float64 (S, T, 3): L1, L2, Linf; NaN where D+ is empty. ``xp``: the array
    module (CuPy by default)."""
    from .kernel import _ref, _weights

    xp = xp or _cupy()
    stack = xp.asarray(stack)
    gt = xp.asarray(gt)
    if gt.ndim != 3 or stack.ndim != 4 or gt.shape[1:] != stack.shape[2:]:
        raise ValueError(f"gt {gt.shape} and stack {stack.shape} must be (Tg, NR, NZ) and (S, T, NR, NZ)")
    sims, steps, nr, nz = stack.shape
    if ref is not None:
        ref = ref.get() if hasattr(ref, "get") else np.asarray(ref)  # the mapping is checked on the host
    at = xp.asarray(_ref(ref, gt.shape[0], steps, sims))
    w = xp.asarray(_weights(weights, nr, nz))
    out = np.full((sims, steps, 3), np.nan)
    if out.size == 0 or nr * nz == 0:
        return out
    chunk = max(1, CHUNK_BYTES // max(1, steps * nr * nz * 8 * TEMPORARIES))
    with _lock:  # one computation at a time on the device: each fills it
        for start in range(0, sims, chunk):
            stop = min(sims, start + chunk)
            out[start:stop] = _chunk(xp, gt, stack[start:stop], w, at[start:stop])
    return out


def _chunk(xp: Any, gt: Any, rho: Any, w: Any, at: Any) -> np.ndarray:
    a = gt[at].astype(xp.float64)  # (C, T, NR, NZ): each step's ground-truth step
    b = rho.astype(xp.float64)
    inside = (a * b) > 0  # D+, on the float64 product as norms.py
    diff = xp.where(inside, xp.abs(a - b), 0.0)
    del a, b
    weighted = diff * w
    volume = xp.where(inside, w, 0.0).sum(axis=(-2, -1))
    l1 = weighted.sum(axis=(-2, -1))
    l2 = (weighted * diff).sum(axis=(-2, -1))
    linf = diff.max(axis=(-2, -1))
    empty = ~(volume > 0)
    safe = xp.where(empty, 1.0, volume)
    result = xp.stack([l1 / safe, xp.sqrt(l2 / safe), linf], axis=-1)
    result = xp.where(empty[..., None], xp.nan, result)
    return result.get() if hasattr(result, "get") else np.asarray(result)

"""The GPU kernel (kernel_gpu.py, CuPy) against the CPU kernel, to 1e-6 relative.

Its arithmetic is written against an array module, so the first tests run it with numpy on any
machine (CI has no GPU); the tests marked ``gpu`` run it with CuPy on a device and are skipped,
with the reason, where CuPy or a GPU is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import build_ensemble, sim_arrays

from jupyterlab_dsi import kernel_gpu
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.kernel import fused_density_many
from jupyterlab_dsi.norms import cell_weights, cylindrical_weights
from jupyterlab_dsi.resident import Resident

REL = 1e-6
gpu = pytest.mark.skipif(not kernel_gpu.available(), reason=f"no GPU kernel here: {kernel_gpu.unavailable_reason()}")


def cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(name, gt, stack, weights, ref): the CPU kernel's test situations in small."""
    rng = np.random.default_rng(17)

    def fields(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        values = rng.lognormal(0.0, 2.0, size=shape)
        values[rng.random(shape) < 0.2] = 0.0
        return values.astype(dtype)

    stack = fields((5, 4, 12, 37))
    stack[1, 2] = 0.0  # empty D+
    edges = (np.cumsum(np.r_[0.0, rng.uniform(0.1, 3, 12)]), np.cumsum(np.r_[0.0, rng.uniform(0.1, 3, 37)]))
    areas = cell_weights("cartesian", (edges[0][1:] + edges[0][:-1]) / 2, edges)
    return [
        ("cylindrical", stack[2], stack, cylindrical_weights(np.arange(12) + 0.5), None),
        ("non-uniform cartesian", stack[0], stack, areas, None),
        ("uniform cartesian, float64", fields((4, 12, 37), np.float64), stack.astype(np.float64), np.ones((1, 1)), None),
        ("one ground-truth step", stack[3, 1:2], stack, cylindrical_weights(np.arange(12) + 0.5), None),
        ("nearest steps per run", fields((6, 12, 37)), stack, cylindrical_weights(np.arange(12) + 0.5),
         rng.integers(0, 6, size=(5, 4))),
        ("identical", stack[4], stack[4:5], np.ones((1, 1)), None),
    ]


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == np.float64
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=REL, atol=0)


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_its_arithmetic_equals_the_cpu_kernel(case: tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]) -> None:
    _, gt, stack, weights, ref = case
    assert_close(kernel_gpu.fused_density_many(gt, stack, weights, ref, xp=np), fused_density_many(gt, stack, weights, ref))


def test_chunks_cover_every_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    _, gt, stack, weights, ref = cases()[4]
    monkeypatch.setattr(kernel_gpu, "CHUNK_BYTES", 1)  # one simulation per chunk
    assert_close(kernel_gpu.fused_density_many(gt, stack, weights, ref, xp=np), fused_density_many(gt, stack, weights, ref))


def test_without_a_gpu_it_says_why() -> None:
    if kernel_gpu.available():
        pytest.skip("a GPU is here")
    reason = kernel_gpu.unavailable_reason()
    assert "CuPy" in reason
    with pytest.raises(RuntimeError, match="CuPy"):
        kernel_gpu.fused_density_many(np.ones((1, 2, 2)), np.ones((1, 1, 2, 2)), np.ones((1, 1)))


@gpu
@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_on_the_gpu_equals_the_cpu_kernel(case: tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]) -> None:
    _, gt, stack, weights, ref = case
    on_device = kernel_gpu.fused_density_many(kernel_gpu.to_device(gt), kernel_gpu.to_device(stack), weights, ref)
    assert_close(on_device, fused_density_many(gt, stack, weights, ref))


def resident_gpu_equals_cpu(tmp_path: Path) -> None:
    def float32(i: int) -> dict[str, np.ndarray]:
        arrays = sim_arrays(i, steps=5, nr=16, nz=40)
        arrays["density"] = arrays["density"].astype(np.float32)
        return arrays

    ens = build_ensemble(tmp_path / "ens", sims=12, arrays=float32)
    db = tmp_path / "db.sqlite"
    ingest(db, ens.root)
    on_gpu, on_cpu = Resident(2**30, device="gpu"), Resident(2**30, device="cpu")
    assert on_gpu.report()["device"] == Resident(2**30).report()["device"] == "gpu"
    for gt, norm, gt_time in [("s00", "L2", None), ("s07", "L1", 3), ("s03", "Linf", None)]:
        assert_close(on_gpu.distances(db, gt, norm, gt_time).values, on_cpu.distances(db, gt, norm, gt_time).values)


def test_the_residents_gpu_path_with_numpy_standing_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything Resident does on a GPU (the stack moved to the device, the kernel there, the
    # answer brought back), with numpy as the array module: the plumbing is checked here too.
    monkeypatch.setattr(kernel_gpu, "_probe", lambda: (np, ""))
    resident_gpu_equals_cpu(tmp_path)


@gpu
def test_resident_on_the_gpu_equals_the_cpu(tmp_path: Path) -> None:
    resident_gpu_equals_cpu(tmp_path)

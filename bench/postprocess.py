"""Post-processing throughput: simulations/s and density GB/s against this machine's bandwidth.

    .venv/bin/python bench/postprocess.py          # about 3 minutes on 2 cores

Writes a synthetic ensemble (``jupyterlab_dsi.sample.write_sample``, cached in bench/.cache/),
ingests it, then times in one run, side by side:

(a) baseline: a Python loop over simulations and steps, each norm computed with numpy on one
    (simulation, step) slice, nothing vectorised across steps;
(b) ``postprocess`` in this process (vectorised over steps);
(c) and (d) ``postprocess(workers=1)`` and ``postprocess(workers=2)`` on a local Dask cluster,
    cluster start-up included (that is what ``--workers N`` costs a user);

with peak memory (tracemalloc in this process; the children's max RSS for Dask) and the
numpy copy bandwidth of a 512 MB array. Prints a table and writes bench/postprocess.json.
Knobs: BENCH_PP_SIMS, BENCH_PP_STEPS, BENCH_PP_GRID=NRxNZ.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

import jupyterlab_dsi
from jupyterlab_dsi.compute import simulations
from jupyterlab_dsi.fields import read_fields
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.norms import coefficient_distance, cylindrical_weights, density_distance
from jupyterlab_dsi.sample import write_sample
from jupyterlab_dsi.store import Store

HERE = Path(__file__).resolve().parent
SIMS = int(os.environ.get("BENCH_PP_SIMS", "300"))
STEPS = int(os.environ.get("BENCH_PP_STEPS", "40"))
GRID = tuple(int(n) for n in os.environ.get("BENCH_PP_GRID", "64x128").split("x"))
NORM = "L2"


def ensemble() -> Path:
    """The ensemble's folder, written once per (sims, steps, grid)."""
    root = HERE / ".cache" / f"pp-{SIMS}x{STEPS}x{GRID[0]}x{GRID[1]}"
    if not (root / "simulations.csv").exists():
        write_sample(root, sims=SIMS, steps=STEPS, grid=GRID, seed=0)
    return root


def bandwidth() -> float:
    """GB/s of a numpy copy of 512 MB (read + write counted once, as memcpy benchmarks do)."""
    src = np.ones(512 * 2**20 // 8)
    dst = np.empty_like(src)
    best = min(_seconds(lambda: np.copyto(dst, src)) for _ in range(5))
    return src.nbytes / best / 1e9


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def baseline(db: Path, ground_truth: str) -> None:
    """(a) one (simulation, step) slice at a time: what a straightforward script does."""
    with Store(db, readonly=True) as store:
        sims = simulations(store)
    gt = read_fields(next(s.file for s in sims if s.sim_id == ground_truth))
    weights = cylindrical_weights(gt.r)
    for sim in sims:
        fields = read_fields(sim.file)
        for t in range(fields.time.size):
            coefficient_distance(gt.shock[t : t + 1], fields.shock[t : t + 1], NORM)
            coefficient_distance(gt.edge[t : t + 1], fields.edge[t : t + 1], NORM)
            density_distance(gt.density[t : t + 1], fields.density[t : t + 1], weights, NORM)


def measure(name: str, work: Callable[[], object], sims: int, density_bytes: int, traced: bool) -> dict[str, object]:
    """Time ``work``; then, for in-process runs, run it again under tracemalloc for the peak.

    tracemalloc slows every allocation (Dask's event loop thread most), so it never runs while
    timing. The children's max RSS (Dask's workers) is the max over every child so far.
    """
    seconds = _seconds(work)
    peak = 0
    if traced:
        tracemalloc.start()
        work()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return {
        "name": name,
        "seconds": round(seconds, 3),
        "sims_per_s": round(sims / seconds, 2),
        "density_gb_per_s": round(density_bytes / seconds / 1e9, 3),
        "peak_traced_mb": round(peak / 2**20, 1) if traced else None,
        "children_max_rss_mb": round(children / 2**20, 1),
    }


def main() -> int:
    root = ensemble()
    work = Path(tempfile.mkdtemp(prefix="bench-pp-"))
    try:
        db = work / "db.sqlite"
        ingest(db, root)
        gt = "sim00000"
        density_bytes = SIMS * STEPS * GRID[0] * GRID[1] * 8
        gbps = bandwidth()
        runs = [
            measure("(a) baseline: python loop per step", lambda: baseline(db, gt), SIMS, density_bytes, True),
            measure("(b) vectorised, one process", lambda: jupyterlab_dsi.postprocess(db, gt, NORM), SIMS, density_bytes, True),
        ]
        for n in (1, 2):
            runs.append(measure(
                f"({'cd'[n - 1]}) dask, {n} worker{'s' * (n > 1)}",
                lambda n=n: jupyterlab_dsi.postprocess(db, gt, NORM, workers=n), SIMS, density_bytes, False,
            ))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "ensemble": {"sims": SIMS, "steps": STEPS, "grid": list(GRID), "norm": NORM,
                     "density_gb": round(density_bytes / 1e9, 3), "note": "distances for all three fields"},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
                    "numpy_copy_gb_per_s": round(gbps, 2)},
        "runs": runs,
    }
    print_table(report)
    (HERE / "postprocess.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def print_table(report: dict[str, object]) -> None:
    ens, machine, runs = report["ensemble"], report["machine"], report["runs"]
    print(f"{ens['sims']} simulations x {ens['steps']} steps x {ens['grid'][0]}x{ens['grid'][1]} cells "
          f"({ens['density_gb']} GB of density), norm {ens['norm']}; "
          f"numpy copy bandwidth {machine['numpy_copy_gb_per_s']} GB/s on {machine['cpus']} CPUs")
    base = runs[0]["seconds"]
    print(f"{'run':<38} {'s':>8} {'sims/s':>8} {'GB/s':>7} {'x base':>7} {'% bw':>6} {'peak MB':>8} {'child RSS MB':>13}")
    for r in runs:
        print(f"{r['name']:<38} {r['seconds']:>8.2f} {r['sims_per_s']:>8.1f} {r['density_gb_per_s']:>7.3f} "
              f"{base / r['seconds']:>7.2f} {100 * r['density_gb_per_s'] / machine['numpy_copy_gb_per_s']:>6.1f} "
              f"{r['peak_traced_mb'] or '-':>8} {r['children_max_rss_mb']:>13.1f}")


if __name__ == "__main__":
    sys.exit(main())

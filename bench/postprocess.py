"""Post-processing throughput against this machine's copy bandwidth and inflate limit (issue 17 §3).

    .venv/bin/python bench/postprocess.py            # a few minutes on 2 cores (ensembles cached)
    .venv/bin/python bench/postprocess.py --smoke    # seconds: tiny ensembles, no Dask; checks the bench runs

Writes synthetic ensembles (``jupyterlab_dsi.sample.write_sample``: float32 density in deflated
``.npz`` files, cached in bench/.cache/), ingests them into temporary databases and measures, in
one run:

- ``copy_bandwidth_gb_s``: a numpy copy of 512 MB, bytes read + bytes written per second (best of 5);
- ``inflate_limit_gb_s``: density bytes per second to only read and inflate the same files, on the
  same threads (one per core) with the same inflater as post-processing (``reading.inflate_only``:
  one read per file, one zlib.decompress per member, its CRC checked) and nothing else;
- runs, each with seconds and density GB/s (the float32 density of every simulation and step):
  ``baseline`` a Python loop over simulations and steps (np.load, the numpy norms per step);
  ``postprocess`` jupyterlab_dsi.postprocess in this process on files no process holds (the CLI's
  work: read, compare, write the method), and ``postprocess-compute`` the same without the
  database (what the inflate limit bounds), ``postprocess-cli`` the command in a new process
  (start-up and imports included); ``resident`` all three norms for a new ground truth
  over fields a resident.Resident holds; ``sample-first-load`` and ``sample-ground-truth`` the
  1,000-simulation sample as the panel's POST distances computes it (Resident + the frame), the
  first request (fields read) and a click on another ground truth (fields resident);
  ``local-spec``, ``local-spec-1-thread``, ``dask-1``, ``dask-2`` post-processing on the
  specification's scale (BENCH_PP_DASK_SIMS simulations x 40 steps x 32x64), Dask on a local
  cluster started beforehand and warmed by one run, with the steady rate (simulations/s between
  20% and 80% of the progress) beside the total.

The inflate limit and the runs it bounds are measured in BENCH_PP_REPEAT rounds, back to back in
each round: the seconds are the medians, the share of the inflate limit the median of the rounds'
ratios (a shared machine's bursts slow both of a round alike).
Prints a table and writes bench/postprocess.json. Knobs: BENCH_PP_SIMS, BENCH_PP_STEPS,
BENCH_PP_GRID=NRxNZ, BENCH_PP_DASK_SIMS (0: no Dask runs), BENCH_PP_DASK_WORKERS (1,2),
BENCH_PP_REPEAT, BENCH_PP_OUT (another file for the JSON).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import jupyterlab_dsi
from jupyterlab_dsi import compute
from jupyterlab_dsi.fields import read_fields
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.norms import coefficient_distance, cylindrical_weights, density_distance
from jupyterlab_dsi.reading import default_threads, inflate_only, read_ahead
from jupyterlab_dsi.sample import write_sample
from jupyterlab_dsi.store import Store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMOKE = "--smoke" in sys.argv[1:]
SIMS = int(os.environ.get("BENCH_PP_SIMS", "20" if SMOKE else "300"))
STEPS = int(os.environ.get("BENCH_PP_STEPS", "5" if SMOKE else "40"))
GRID = tuple(int(n) for n in os.environ.get("BENCH_PP_GRID", "16x32" if SMOKE else "64x128").split("x"))
DASK_SIMS = int(os.environ.get("BENCH_PP_DASK_SIMS", "0" if SMOKE else "10000"))
DASK_WORKERS = [int(n) for n in os.environ.get("BENCH_PP_DASK_WORKERS", "1,2").split(",") if n]
REPEAT = int(os.environ.get("BENCH_PP_REPEAT", "1" if SMOKE else "5"))
SAMPLE_SIMS = 40 if SMOKE else 1000
NORM = "L2"
GT = "sim00000"
OUT = Path(os.environ.get("BENCH_PP_OUT") or (HERE / ".cache" / "postprocess-smoke.json" if SMOKE else HERE / "postprocess.json"))


def ensemble(sims: int, steps: int, grid: tuple[int, int]) -> Path:
    """An ensemble's folder, written once per (sims, steps, grid)."""
    root = HERE / ".cache" / f"pp-{sims}x{steps}x{grid[0]}x{grid[1]}"
    if not (root / "simulations.csv").exists():
        print(f"writing {sims} simulations x {steps} steps x {grid[0]}x{grid[1]} into {root} (once)", flush=True)
        if root.exists():
            shutil.rmtree(root)  # an interrupted write: write_sample refuses no folder, only a CSV
        write_sample(root, sims=sims, steps=steps, grid=grid, seed=0)
    return root


def copy_bandwidth() -> float:
    """GB/s of a numpy copy of 512 MB, read + write counted (each byte is read once and written once)."""
    src = np.ones(512 * 2**20 // 8)
    dst = np.empty_like(src)
    best = min(_seconds(lambda: np.copyto(dst, src)) for _ in range(5))
    return 2 * src.nbytes / best / 1e9


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _files(db: Path) -> list[compute.Simulation]:
    with Store(db, readonly=True) as store:
        return compute.simulations(store)


def inflate(sims: list[compute.Simulation]) -> None:
    """Read and inflate every file on post-processing's reader threads, nothing else."""
    for _, future in read_ahead([s.file for s in sims], inflate_only):
        future.result()


def baseline(db: Path) -> None:
    """One (simulation, step) slice at a time with numpy: what a straightforward script does."""
    sims = _files(db)
    gt = read_fields(next(s.file for s in sims if s.sim_id == GT))
    weights = cylindrical_weights(gt.r)
    for sim in sims:
        fields = read_fields(sim.file)
        for t in range(fields.time.size):
            coefficient_distance(gt.shock[t : t + 1], fields.shock[t : t + 1], NORM)
            coefficient_distance(gt.edge[t : t + 1], fields.edge[t : t + 1], NORM)
            density_distance(gt.density[t : t + 1], fields.density[t : t + 1], weights, NORM)


def compute_only(db: Path, progress: compute.Progress | None = None, threads: int | None = None) -> None:
    """postprocess without the database: read ahead, the kernel, the distances in memory."""
    with Store(db, readonly=True) as store:
        sims = compute.simulations(store)
        _, gt = compute._ground_truth(store, sims, GT, None)
    compute._run_local(sims, gt, NORM, None, (None, "index", "density"), progress, None, threads)


def steady(stamps: list[tuple[int, float]], total: int) -> float | None:
    """Simulations per second between 20% and 80% of the progress: the rate without start-up."""
    if total < 10:
        return None
    lo = next(s for s in stamps if s[0] >= 0.2 * total)
    hi = next(s for s in stamps if s[0] >= 0.8 * total)
    return (hi[0] - lo[0]) / (hi[1] - lo[1]) if hi[1] > lo[1] else None


def timed(work: Callable[[compute.Progress], object], sims: int) -> tuple[float, float | None]:
    stamps: list[tuple[int, float]] = []
    seconds = _seconds(lambda: work(lambda done, total: stamps.append((done, time.perf_counter()))))
    return seconds, steady(stamps, sims)


def run(name: str, seconds: float, density_bytes: int, sims: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "seconds": round(seconds, 4), "density_gb_s": round(density_bytes / seconds / 1e9, 3),
            "sims_per_s": round(sims / seconds, 1), **extra}


def rounds(works: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Each work's times over REPEAT rounds, the works back to back within each round."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(REPEAT):
        for name, work in works.items():
            times[name].append(_seconds(work))
    return times


def resident_runs(db: Path, density_bytes: int, sims: int, prefix: str, first_name: str | None) -> list[dict[str, Any]]:
    """A Resident's first request (fields read) and a new ground truth over resident fields; with
    the frame the POST distances answer sends when the server's module is there."""
    try:
        from jupyterlab_dsi.resident import Resident
    except ImportError as exc:
        print(f"{prefix}: resident.Resident is not available ({exc}); not measured", flush=True)
        return []
    try:
        from jupyterlab_dsi.server_distances import frame_of
    except ImportError:
        frame_of = None

    resident = Resident(budget_bytes=max(4 * density_bytes, 2**30), device="cpu")
    ids = [s.sim_id for s in _files(db)]

    def request(gt: str) -> None:
        scratch = resident.distances(db, gt, NORM)
        if frame_of is not None:
            frame_of(scratch, resident.report())

    out = []
    first = _seconds(lambda: request(ids[0]))
    if first_name:
        out.append(run(first_name, first, density_bytes, sims, note="first request: every file read, then kept"))
    # Ground truths not asked before (a Resident keeps a few recent results): each is computed.
    fresh = iter(ids[1 : 1 + 2 * REPEAT + 1])
    second = min(_seconds(lambda: request(next(fresh))) for _ in range(max(REPEAT, 2)))
    note = "a new ground truth, all three norms, fields resident" + ("; with the frame" if frame_of else "")
    out.append(run(prefix, second, density_bytes, sims, note=note))
    return out


def dask_runs(db: Path, density_bytes: int, sims: int) -> list[dict[str, Any]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print('Dask is not installed (pip install "jupyterlab-dsi[dask]"): no Dask runs', flush=True)
        return []
    out = []
    for workers in DASK_WORKERS:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster, set_as_default=False) as client:
            jupyterlab_dsi.postprocess(db, GT, NORM, client=client)  # warm: imports, the kernel's cache
            before, parent = client.run(cpu_seconds), cpu_seconds()
            seconds, rate = timed(lambda p: jupyterlab_dsi.postprocess(db, GT, NORM, client=client, progress=p), sims)
            parent, after = cpu_seconds() - parent, client.run(cpu_seconds)
        worker_cpu = sum(after[w] - before[w] for w in after)
        out.append(run(f"dask-{workers}", seconds, density_bytes, sims, steady_sims_per_s=_round(rate),
                       cpu_ms_per_sim={"workers": round(1e3 * worker_cpu / sims, 3), "parent": round(1e3 * parent / sims, 3)},
                       note=f"{workers} worker process{'es' * (workers > 1)}, one thread each, cluster started beforehand; "
                            "the parent runs the scheduler, the client and the database write"))
    one = next((r for r in out if r["name"] == "dask-1"), None)
    for r in out:
        if one is not None and r is not one and r["steady_sims_per_s"] and one["steady_sims_per_s"]:
            r["steady_vs_dask_1"] = round(r["steady_sims_per_s"] / one["steady_sims_per_s"], 2)
    return out


def cpu_seconds() -> float:
    """CPU time of this process (every thread) so far: what a run took from the cores, whatever
    else the machine was running meanwhile."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def density_bytes_of(sims: int, steps: int, grid: tuple[int, int]) -> int:
    return sims * steps * grid[0] * grid[1] * 4  # float32, as the sample writes it


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-pp-"))
    runs: list[dict[str, Any]] = []
    try:
        root = ensemble(SIMS, STEPS, GRID)
        db = work / "db.sqlite"
        ingest(db, root)
        sims = _files(db)
        nbytes = density_bytes_of(SIMS, STEPS, GRID)
        bandwidth = copy_bandwidth()
        jupyterlab_dsi.postprocess(db, GT, NORM)  # the kernel compiled (or loaded from its cache)
        times = rounds({
            "inflate": lambda: inflate(sims),
            "postprocess-compute": lambda: compute_only(db),
            "postprocess": lambda: jupyterlab_dsi.postprocess(db, GT, NORM),
        })
        median = {name: float(np.median(t)) for name, t in times.items()}
        limit = nbytes / median["inflate"] / 1e9

        def share(name: str) -> dict[str, Any]:
            # Per round, the inflate limit's time over the run's, measured back to back: a burst
            # of other work on the machine slows both alike; the median of the rounds is kept.
            ratios = [i / t for i, t in zip(times["inflate"], times[name])]
            return {"of_inflate_limit": round(float(np.median(ratios)), 3),
                    "of_inflate_limit_rounds": [round(r, 3) for r in ratios]}

        runs.append(run("baseline", _seconds(lambda: baseline(db)), nbytes, SIMS,
                        note="a Python loop per simulation and step: np.load, numpy norms"))
        runs.append(run("postprocess", median["postprocess"], nbytes, SIMS, **share("postprocess"),
                        note="read, kernel, method written; files not held by any process; median of the rounds"))
        runs.append(run("postprocess-compute", median["postprocess-compute"], nbytes, SIMS, **share("postprocess-compute"),
                        note="read ahead + kernel, nothing written; median of the rounds"))
        cli = [sys.executable, "-m", "jupyterlab_dsi.cli", "postprocess", "-q", "--db", str(db),
               "--ground-truth", GT, "--norm", NORM]
        runs.append(run("postprocess-cli", _seconds(lambda: subprocess.run(cli, check=True, capture_output=True)),
                        nbytes, SIMS, note="jupyter dsi postprocess as a new process: start-up and imports included"))
        runs += resident_runs(db, nbytes, SIMS, "resident", None)

        sample_root = ensemble(SAMPLE_SIMS, STEPS, (32, 64))
        sample_db = work / "sample.sqlite"
        ingest(sample_db, sample_root)
        runs += resident_runs(sample_db, density_bytes_of(SAMPLE_SIMS, STEPS, (32, 64)), SAMPLE_SIMS,
                              "sample-ground-truth", "sample-first-load")

        if DASK_SIMS:
            spec_root = ensemble(DASK_SIMS, 40, (32, 64))
            spec_db = work / "spec.sqlite"
            ingest(spec_db, spec_root)
            spec_bytes = density_bytes_of(DASK_SIMS, 40, (32, 64))
            for name, threads in (("local-spec", None), ("local-spec-1-thread", 1)):
                used = cpu_seconds()
                seconds, rate = timed(lambda p, t=threads: compute_only(spec_db, p, t), DASK_SIMS)
                used = cpu_seconds() - used
                runs.append(run(name, seconds, spec_bytes, DASK_SIMS, steady_sims_per_s=_round(rate),
                                cpu_ms_per_sim={"process": round(1e3 * used / DASK_SIMS, 3)},
                                note=f"this process, {threads or default_threads()} reader thread(s), nothing written"))
            runs += dask_runs(spec_db, spec_bytes, DASK_SIMS)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "copy_bandwidth_gb_s": round(bandwidth, 2),
        "inflate_limit_gb_s": round(limit, 3),
        "runs": runs,
        "ensemble": {"sims": SIMS, "steps": STEPS, "grid": list(GRID), "norm": NORM,
                     "density_gb": round(nbytes / 1e9, 3), "dtype": "float32", "files": "deflated .npz",
                     "spec_sims": DASK_SIMS, "sample_sims": SAMPLE_SIMS, "repeat": REPEAT},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    print_table(report)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT) if OUT.resolve().is_relative_to(ROOT) else OUT}")
    return 0


def print_table(report: dict[str, Any]) -> None:
    ens = report["ensemble"]
    bandwidth, limit = report["copy_bandwidth_gb_s"], report["inflate_limit_gb_s"]
    print(f"{ens['sims']} simulations x {ens['steps']} steps x {ens['grid'][0]}x{ens['grid'][1]} float32 "
          f"({ens['density_gb']} GB of density), norm {ens['norm']}, {report['machine']['cpus']} CPUs; "
          f"copy bandwidth {bandwidth} GB/s (read+write), inflate limit {limit} GB/s")
    print(f"{'run':<22} {'s':>8} {'sims/s':>9} {'steady/s':>9} {'GB/s':>7} {'% copy':>7} {'% inflate':>9}")
    for r in report["runs"]:
        steady_rate = r.get("steady_sims_per_s")
        share = r.get("of_inflate_limit")
        steady_text = "-" if steady_rate is None else f"{steady_rate:.1f}"
        share_text = "-" if share is None else f"{100 * share:.0f}"
        print(f"{r['name']:<22} {r['seconds']:>8.3f} {r['sims_per_s']:>9.1f} {steady_text:>9} "
              f"{r['density_gb_s']:>7.3f} {100 * r['density_gb_s'] / bandwidth:>7.1f} {share_text:>9}")


if __name__ == "__main__":
    sys.exit(main())

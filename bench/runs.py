"""Logging a training run's metric points (issue 15: >= 50,000 points/s end to end).

    .venv/bin/python bench/runs.py          # a few seconds

Times in one run, side by side, on a copy of a small ingested ensemble with one dataset:

(a) baseline: what a quick script does, one INSERT and one commit per point (sqlite3, same table);
(b) ``Run.log_metrics`` one point per call, as a training loop logs (batched by the Run);
(c) ``Run.log_metrics`` with 20 metrics per call (a validation pass logging every metric);
(d) reading them back: ``jupyter dsi runs --format json``'s records (``runs.list_runs``).

Each point counts once; the run is ended (its last batch written) inside the timing. Prints a
table and writes bench/runs.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import jupyterlab_dsi as dsi
from jupyterlab_dsi.datasets import save_selection
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.runs import list_runs
from jupyterlab_dsi.store import Store

from timing import REPEATS, best  # noqa: E402 - bench/ is on the path when run as a script

HERE = Path(__file__).resolve().parent
POINTS = 200_000
BASELINE_POINTS = 500  # one commit (and sync) per point: more only takes longer to say the same


def main() -> int:
    smoke = "--smoke" in sys.argv
    # The smoke (in `make test`) checks that it runs and loses nothing, not its figures.
    points, baseline_points = (20_000, 50) if smoke else (POINTS, BASELINE_POINTS)
    with tempfile.TemporaryDirectory(prefix="jdsi-bench-runs-") as tmp:
        folder = Path(tmp)
        table = folder / "runs.csv"  # a table of 20 simulations: what a run logs does not depend on fields
        table.write_text("sim_id,speed\n" + "".join(f"s{i:02d},{i}\n" for i in range(20)))
        db = folder / "ens.sqlite"
        ingest(db, table)
        saved, _ = save_selection(db, method=None, time=0, where="", weights=None, name="all",
                                  description="the whole table, for the bench", origin="bench")
        dataset_id = saved["id"]
        values = np.random.default_rng(0).random(points).tolist()

        def baseline() -> None:
            conn = sqlite3.connect(db, isolation_level=None)
            run_id = f"baseline-{time.perf_counter_ns()}"
            for step in range(baseline_points):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO jdsi_run_metric (run_id, name, context, step, value, at) "
                             "VALUES (?, 'loss', '', ?, ?, ?)", (run_id, step, values[step], time.time()))
                conn.execute("COMMIT")
            conn.close()

        def one_per_call() -> None:
            with dsi.open(db) as ens, ens.run(dataset=dataset_id, name="bench one") as run:
                for step, value in enumerate(values):
                    run.log_metrics({"loss": value}, step=step)

        def twenty_per_call() -> None:
            names = [f"m{i:02d}" for i in range(20)]
            with dsi.open(db) as ens, ens.run(dataset=dataset_id, name="bench twenty") as run:
                for step in range(points // 20):
                    base = step * 20
                    run.log_metrics(dict(zip(names, values[base:base + 20])), step=step, context="val")

        def read_back() -> None:
            with Store(db, readonly=True) as store:
                list_runs(store)

        rows = [
            ("(a) baseline: one INSERT + commit per point", best(baseline), baseline_points),
            ("(b) Run.log_metrics, one point per call", best(one_per_call), points),
            ("(c) Run.log_metrics, 20 metrics per call", best(twenty_per_call), points),
        ]
        stored = sqlite3.connect(db).execute("SELECT count(*) FROM jdsi_run_metric").fetchone()[0]
        expected = REPEATS * (baseline_points + 2 * points)
        if stored != expected:
            print(f"bench/runs.py: {stored} points stored, {expected} logged: points were lost")
            return 1
        read_s = best(read_back)
    base_rate = rows[0][2] / rows[0][1]
    print(f"{'run':<46} {'s':>7} {'points/s':>11} {'vs baseline':>12}")
    results = []
    for name, seconds, n in rows:
        rate = n / seconds
        print(f"{name:<46} {seconds:7.3f} {rate:11,.0f} {rate / base_rate:11.1f}x")
        results.append({"name": name, "seconds": round(seconds, 4), "points": n, "points_per_s": round(rate)})
    print(f"{'(d) list_runs over ' + format(stored, ',') + ' points':<46} {read_s:7.3f}")
    target = min(r["points_per_s"] for r in results[1:])
    print(f"target >= 50,000 points/s end to end: {'met' if target >= 50_000 else 'not met'} ({target:,})")
    if not smoke:
        (HERE / "runs.json").write_text(json.dumps({
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "runs": results, "list_runs_s": round(read_s, 4), "stored_points": stored,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

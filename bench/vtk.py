"""Reading legacy VTK and post-processing DSI's real CloverLeaf ensemble.

    .venv/bin/python bench/vtk.py          # a few seconds

Times in one run, side by side, on a copy of shared/realdata/dsi-clover3d (8 runs x 10 ASCII
legacy-VTK files, 60x60 cells, six arrays per file):

(a) baseline: what a quick script does, every token of every file through Python's float();
(b) ``jupyterlab_dsi.vtk.read_series`` on every run (the reader post-processing uses);
(c) ``jupyter dsi ingest`` of DSI's database then ``postprocess`` against run_1 (L2), end to end.

Prints a table and writes bench/vtk.json. Skips (exit 0, one line) when the data is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jupyterlab_dsi.compute import postprocess
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.vtk import read_series

from timing import REPEATS, best  # noqa: E402 - bench/ is on the path when run as a script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CANDIDATES = [os.environ.get("DSI_REALDATA"), REPO.parent / "shared" / "realdata"]  # as tests/conftest.py


def clover() -> Path | None:
    for base in CANDIDATES:
        if base and (Path(base) / "dsi-clover3d" / "dsi_clover3d.db").is_file():
            return Path(base) / "dsi-clover3d"
    return None


def main() -> int:
    source = clover()
    if source is None:
        print("bench/vtk.py: shared/realdata/dsi-clover3d is absent; skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="jdsi-bench-vtk-") as tmp:
        folder = Path(shutil.copytree(source, Path(tmp) / "dsi-clover3d"))
        runs = [sorted(run.glob("*.vtk")) for run in sorted(folder.glob("run_*"))]
        files = [f for run in runs for f in run]
        megabytes = sum(f.stat().st_size for f in files) / 1e6

        def naive() -> None:
            for f in files:
                [float(t) for t in f.read_bytes().split() if t[:1].isdigit() or t[:1] in b"-."]

        def reader() -> None:
            for run in runs:
                read_series(run)

        def end_to_end() -> None:
            db = Path(tmp) / f"clover-{time.monotonic_ns()}.sqlite"
            ingest(db, folder / "dsi_clover3d.db")
            postprocess(db, "run_1", "L2")

        rows = [
            ("(a) baseline: float() on every token", best(naive)),
            ("(b) read_series, every run", best(reader)),
            ("(c) ingest + postprocess vs run_1, L2", best(end_to_end)),
        ]
    base = rows[0][1]
    report = {
        "ensemble": {"runs": len(runs), "files": len(files), "megabytes": round(megabytes, 2)},
        "python": sys.version.split()[0],
        "runs": [
            {"name": name, "seconds": round(s, 4), "files_per_s": round(len(files) / s, 1),
             "mb_per_s": round(megabytes / s, 1), "vs_baseline": round(base / s, 2)}
            for name, s in rows
        ],
    }
    print(f"DSI CloverLeaf: {len(runs)} runs, {len(files)} ASCII VTK files, {megabytes:.1f} MB "
          f"(best of {REPEATS})")
    print(f"{'run':<40} {'s':>7} {'files/s':>8} {'MB/s':>7} {'x base':>7}")
    for r in report["runs"]:
        print(f"{r['name']:<40} {r['seconds']:>7.3f} {r['files_per_s']:>8.1f} {r['mb_per_s']:>7.1f} "
              f"{r['vs_baseline']:>7.2f}")
    (HERE / "vtk.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

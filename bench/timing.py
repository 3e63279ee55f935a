"""Timing shared by the Python benches (bench/vtk.py, bench/runs.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

REPEATS = 3


def best(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of a few runs, in seconds: on a shared machine the minimum is the least disturbed."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)

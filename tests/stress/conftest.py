"""Stress tests: opt-in, and counted.

``pytest tests`` skips this folder; ``pytest tests/stress`` (or ``-m stress``) runs it. Every test
records what it did through the ``figures`` fixture; at the end of the session the totals go to
``stress/figures.json`` for ``python stress/report.py``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
FIGURES = HERE.parents[1] / "stress" / "figures.json"
KEYS = ("ops", "faults", "hostile", "lost")
_recorded: dict[str, dict[str, Any]] = {}


def _asked_for(config: pytest.Config) -> bool:
    """True when the run names this folder (or a file in it) or selects ``-m stress``."""
    if "stress" in (config.getoption("markexpr", "") or ""):
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # Not part of the normal `pytest tests` run: minutes of subprocesses and big files.
    if not _asked_for(config) and (collection_path == HERE or HERE in collection_path.parents):
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stress: tests that try hard to lose a recorded decision")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.stress)


class Figures:
    """What one test did: counters (ops, faults, hostile, lost) and named measurements."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.notes: dict[str, Any] = {}

    def add(self, key: str, n: int = 1) -> None:
        assert key in KEYS, key
        self.counts[key] += n

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Any:
    fig = Figures()
    start = time.monotonic()
    yield fig
    _recorded[request.node.nodeid] = {
        **{k: fig.counts[k] for k in KEYS}, "seconds": round(time.monotonic() - start, 2), **fig.notes
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _recorded:
        return
    totals = {k: sum(int(t[k]) for t in _recorded.values()) for k in KEYS}
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps({"totals": totals, "tests": _recorded}, indent=1, ensure_ascii=False) + "\n")

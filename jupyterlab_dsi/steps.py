"""One step number everywhere (docs/data-model.md, "Steps and times").

A step is the 0-based index the file stores: ``t`` in the filter language, in ``dsi_selection``
and ``dsi_method``, the ``time`` of a dataset record and its exports, ``--time`` in the CLI and
``%dsi``, and the number the panel and its datasets table show. The simulated time of a step,
when the source recorded one, is shown beside it as ``simulated_time``: it is never called ``t``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store


def simulated_times(store: Store) -> list[float]:
    """Simulated time by step: the longest ``times`` a simulation recorded (as the panel reads it)."""
    row = store.conn.execute(
        "SELECT times FROM jdsi_simulation WHERE json_valid(times) AND json_type(times) = 'array'"
        " ORDER BY json_array_length(times) DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return []
    try:
        return [float(v) for v in json.loads(row[0])]
    except (TypeError, ValueError):
        return []  # a source that logged non-numbers: steps still work, without times


def simulated_time(store: Store, t: int | None) -> float | None:
    """The simulated time of step ``t``; None for every step (``t`` None) or when unknown."""
    if t is None:
        return None
    times = simulated_times(store)
    if not 0 <= t < len(times) or not math.isfinite(times[t]):
        return None
    return times[t]


def step_text(t: int | None, time: float | None) -> str:
    """``39 (simulated time 40)``, ``39``, or ``all`` for every step."""
    if t is None:
        return "all"
    return str(t) if time is None else f"{t} (simulated time {time:.4g})"

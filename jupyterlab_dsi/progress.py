"""Progress bars: the terminal's (redrawn in place on a TTY, a line per 10% otherwise) and a
notebook's (one display updated in place)."""

from __future__ import annotations

import html
import math
import sys
import time
from typing import Any, TextIO


class TerminalProgress:
    """Callable as ``progress(done, total)``; quiet when ``enabled`` is false."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        fraction = min(done / total, 1.0)
        elapsed = time.perf_counter() - self.start
        if self.tty:
            width = 30
            filled = int(fraction * width)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(
                f"\r{self.label} [{bar}] {fraction:4.0%} {done}/{total} {elapsed:5.1f}s"
            )
            if done >= total:
                self.stream.write("\n")
        else:
            decile = int(fraction * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {done}/{total} ({fraction:.0%}, {elapsed:.1f}s)\n")
        self.stream.flush()


class NotebookProgress:
    """Callable as ``progress(done, total)``: one display in a notebook, updated in place.

    An HTML ``<progress>`` element with a text/plain fallback (``12/100 simulations (3.1 s)``),
    redrawn at most every ``interval`` seconds because each update is a message to the
    front end; the final state is always drawn.
    """

    def __init__(self, unit: str = "simulations", interval: float = 0.1) -> None:
        self.unit = unit
        self.interval = interval
        self.start = time.perf_counter()
        self._drawn_at = -math.inf
        self._handle: Any = None

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        bundle = self._bundle(done, total, now - self.start)
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _bundle(self, done: int, total: int, elapsed: float) -> dict[str, str]:
        text = f"{done}/{total} {self.unit} ({elapsed:.1f} s)"
        return {
            "text/plain": text,
            "text/html": f'<progress value="{done}" max="{max(total, 1)}"></progress> {html.escape(text)}',
        }


def in_ipython() -> bool:
    """True inside IPython or a Jupyter kernel (where ``display`` reaches a front end)."""
    if "IPython" not in sys.modules:  # never import IPython just to ask
        return False
    from IPython import get_ipython

    return get_ipython() is not None

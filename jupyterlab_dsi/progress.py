"""A progress bar for the terminal: redrawn in place on a TTY, a line per 10% otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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

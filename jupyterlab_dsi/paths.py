"""Paths confined to the server's root: shared by the server extension and the kernel bridge.

Both answer a path the panel sent (relative to the root) and must never reach outside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DsiError


class PathError(DsiError):
    """A path outside the server's root, or one that does not exist."""


def confine(root: str | os.PathLike[str], relative: str) -> Path:
    """``relative`` resolved under ``root``; an error for anything that escapes it."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise PathError("no database path given")
    base = Path(root).resolve()
    target = (base / relative.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        raise PathError(f"{relative}: outside the server's root directory")
    if not target.is_file():
        raise PathError(f"{relative}: no such file")
    return target


def inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """``path`` relative to ``root`` (POSIX separators), or None when it lies outside."""
    base = Path(root).resolve()
    try:
        return Path(path).resolve().relative_to(base).as_posix()
    except ValueError:
        return None

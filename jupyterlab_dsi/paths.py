"""Paths confined to the server's root: shared by the server extension and the kernel bridge.

Both answer a path the panel sent (relative to the root) and must never reach outside it, nor
into hidden folders (``.git``, ``.ipynb_checkpoints``, ``.ssh``...), which Jupyter itself does not
serve unless ``ContentsManager.allow_hidden`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .errors import DsiError


class PathError(DsiError):
    """A path outside the server's root, hidden, or one that does not exist."""


def _hidden_part(relative: PurePosixPath | Path) -> str | None:
    return next((part for part in relative.parts if part.startswith(".") and part not in (".", "..")), None)


def confine(root: str | os.PathLike[str], relative: str, *, allow_hidden: bool = False) -> Path:
    """``relative`` resolved under ``root``; an error for anything that escapes it or, unless
    ``allow_hidden``, that lies in a hidden file or folder (as written or once links resolve)."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise PathError("no database path given")
    base = Path(root).resolve()
    target = (base / relative.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        raise PathError(f"{relative}: outside the server's root directory")
    if not allow_hidden:
        # Checked before existence, so that the answer does not tell whether a hidden file exists.
        hidden = _hidden_part(PurePosixPath(relative.replace("\\", "/"))) or _hidden_part(target.relative_to(base))
        if hidden:
            raise PathError(
                f"{relative}: in a hidden file or folder ({hidden}), which the server does not serve; "
                "move the database to a visible folder (or set ContentsManager.allow_hidden)"
            )
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

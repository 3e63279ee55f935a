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


def _resolve(root: str | os.PathLike[str], relative: str, shown: str, hidden_what: str, allow_hidden: bool) -> Path:
    """``relative`` resolved under ``root``, never outside it nor (unless ``allow_hidden``) in a
    hidden file or folder, as written or once links resolve; what the OS cannot resolve (a name
    too long, a loop of links) is a PathError, never a traceback."""
    base = Path(root).resolve()
    try:
        target = (base / relative.lstrip("/")).resolve()
    except OSError as exc:
        raise PathError(f"{shown}: not a path the server can use ({exc.strerror or exc})") from None
    if target != base and base not in target.parents:
        raise PathError(f"{shown}: outside the server's root directory")
    if not allow_hidden:
        # Checked before existence, so that the answer does not tell whether a hidden file exists.
        hidden = _hidden_part(PurePosixPath(relative.replace("\\", "/"))) or _hidden_part(target.relative_to(base))
        if hidden:
            raise PathError(f"{shown}: {hidden_what} ({hidden}), which the server does not serve; " + (
                "move the database to a visible folder (or set ContentsManager.allow_hidden)"
                if hidden_what.startswith("in") else "choose a visible one"))
    return target


def _is(target: Path, kind: str, shown: str) -> bool:
    try:
        return target.is_file() if kind == "file" else target.is_dir()
    except OSError as exc:  # a name too long for the file system
        raise PathError(f"{shown}: not a path the server can use ({exc.strerror or exc})") from None


def confine(root: str | os.PathLike[str], relative: str, *, allow_hidden: bool = False) -> Path:
    """The file ``relative`` resolved under ``root``; an error for anything that escapes it, that
    (unless ``allow_hidden``) lies in a hidden file or folder, or that is not a file."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise PathError("no database path given")
    shown = relative if len(relative) <= 80 else relative[:77] + "..."
    target = _resolve(root, relative, shown, "in a hidden file or folder", allow_hidden)
    if not _is(target, "file", shown):
        raise PathError(f"{shown}: no such file")
    return target


def confine_folder(root: str | os.PathLike[str], relative: str, *, allow_hidden: bool = False) -> Path:
    """The folder ``relative`` resolved under ``root`` ('' is the root itself), with the rules of
    :func:`confine`."""
    if not isinstance(relative, str) or "\x00" in relative:
        raise PathError("the folder must be a path relative to the server's root")
    shown = (relative if len(relative) <= 80 else relative[:77] + "...") or "the server's root"
    target = _resolve(root, relative, shown, "a hidden folder", allow_hidden)
    if not _is(target, "folder", shown):
        raise PathError(f"{shown}: no such folder")
    return target


class FileExists(DsiError):
    """The file to write is there already: it is never overwritten."""


# Names tried after ``name.ext``: ``name (1).ext``, ``name (2).ext``... up to this many.
MAX_NUMBERED = 999


def numbered(name: str, n: int, suffix: str) -> str:
    """``name`` (which ends with ``suffix``) as its ``n``-th alternative: ``stem (n)suffix``."""
    stem = name[: len(name) - len(suffix)] if suffix and name.endswith(suffix) else name
    return f"{stem} ({n}){suffix}"


def written_aside(folder: Path, name: str, text: str) -> str:
    """``text`` (UTF-8) in a new hidden temporary file in ``folder``, flushed to disk and with the
    permissions a new ``name`` would get: the first half of an atomic write, which the caller
    finishes by linking or renaming it to its name (and removes on failure)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{name[:200]}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def link_new(tmp: str, target: Path) -> None:
    """``tmp`` (from :func:`written_aside`) given the name ``target``, never replacing one:
    FileExistsError if it is taken. The second half of an atomic write."""
    import errno

    try:
        os.link(tmp, target)  # atomic, and never replaces an existing name
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        # A file system without hard links: rename, after looking (not race-free).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(tmp, target)


def write_new(folder: Path, name: str, text: str, *, unique_suffix: str | None = None) -> Path:
    """Write ``text`` (UTF-8) as a new file ``folder/name``, atomically: into a hidden temporary
    file first, then linked to its name, which fails if a file (or link) has that name, so that a
    half-written file is never seen and an existing one never overwritten, even by a race.

    With ``unique_suffix`` (the name's ending, e.g. ``.prov.json``), an existing name is followed
    by ``name (1).ext``, ``name (2).ext``... as a file browser does; without, :class:`FileExists`.
    Answers the path written.
    """
    tmp = written_aside(folder, name, text)
    try:
        candidates = [name]
        if unique_suffix is not None:
            candidates += [numbered(name, n, unique_suffix) for n in range(1, MAX_NUMBERED + 1)]
        for candidate in candidates:
            target = folder / candidate
            try:
                link_new(tmp, target)
            except FileExistsError:
                continue
            return target
        raise FileExists(
            f"{name} exists already" + (f" (and {MAX_NUMBERED} numbered copies)" if unique_suffix is not None else "")
            + "; it is never overwritten: choose another name or remove it"
        )
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """``path`` relative to ``root`` (POSIX separators), or None when it lies outside."""
    base = Path(root).resolve()
    try:
        return Path(path).resolve().relative_to(base).as_posix()
    except ValueError:
        return None

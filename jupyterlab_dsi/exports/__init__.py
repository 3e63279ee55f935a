"""A saved training dataset leaving the tool, in the forms other tools read (issue 19).

One door: :func:`export` writes a dataset as

- ``json``: everything about it, its members included (our own shape, ``jupyterlab-dsi.dataset/1``);
- ``card``: a Markdown dataset card;
- ``prov``: W3C PROV-JSON: the selection, its method, the runs and proposals made from it;
- ``datacite``: a DataCite 4.5 JSON record to hand to a repository that mints DOIs (OSTI, Zenodo);
- ``croissant``: MLCommons Croissant 1.1 JSON-LD, with a members CSV beside it that its record set
  reads (``NAME.croissant.json`` and ``NAME.members.csv``);
- ``rocrate``: an RO-Crate 1.1 folder holding all of the above, each file listed with its sha256.

The CLI (``jupyter dsi export``), the server (the panel's Export menu) and ``Dataset.export`` all
come here, so they write the same bytes. docs/exports.md says which field comes from where.

Every format carries the dataset's digest exactly as stored (``sha256:`` and 64 hex digits).

Writing never leaves a half-written file or folder and never replaces anything: each file (or the
crate's folder) is written into a hidden temporary sibling, then linked (renamed) to its name; a
name that exists is refused before anything is written, with a one-line error naming it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datasets import DatasetError
from ..paths import MAX_NUMBERED, FileExists, link_new, numbered, written_aside
from ..store import Store

# Every format and the ending of the name it is saved under (rocrate: a folder).
FORMATS: dict[str, str] = {
    "json": ".json",
    "card": ".md",
    "prov": ".prov.json",
    "datacite": ".datacite.json",
    "croissant": ".croissant.json",
    "rocrate": ".ro-crate",
}
# The formats that are one text file (what `jupyter dsi export` can print, the panel download).
TEXT_FORMATS: dict[str, str] = {f: FORMATS[f] for f in ("json", "card", "prov", "datacite")}
FORMAT_NAMES = "json, card, prov, datacite, croissant or rocrate"


def check_format(fmt: Any) -> str:
    if fmt not in FORMATS:
        raise DatasetError(f"unknown export format {fmt!r}; use {FORMAT_NAMES}")
    return str(fmt)


def dumps(doc: Any) -> str:
    """JSON as every export writes it: indented, UTF-8 characters as they are, newline-ended."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def text(store: Store, ref: str, fmt: str) -> str:
    """A dataset exported as one of the single-file formats (json, card, prov, datacite): the
    exact text `jupyter dsi export` prints or writes."""
    check_format(fmt)
    if fmt == "card":
        from .card import export_card

        out = export_card(store, ref)
        return out if out.endswith("\n") else out + "\n"
    if fmt == "json":
        from .record import export_json

        return dumps(export_json(store, ref))
    if fmt == "prov":
        from .prov import export_prov

        return dumps(export_prov(store, ref))
    if fmt == "datacite":
        from .datacite import export_datacite

        return dumps(export_datacite(store, ref))
    raise DatasetError(f"{fmt} is written as several files: give a path to write it to (-o PATH)")


def members_csv_name(name: str) -> str:
    """The members CSV written beside a Croissant file ``name``: ``x.croissant.json`` ->
    ``x.members.csv``."""
    for ending in (".croissant.json", ".jsonld", ".json"):
        if name.endswith(ending) and len(name) > len(ending):
            return name[: -len(ending)] + ".members.csv"
    return name + ".members.csv"


def prepare(store: Store, ref: str, fmt: str) -> Callable[[str], dict[str, str]]:
    """Read what exporting ``ref`` as ``fmt`` needs now; answers ``files(name)``: what it writes
    under the file (or folder) ``name``, as {path relative to the folder it is written in: text}
    (paths with a '/' lie in the folder ``name``: rocrate), without the database."""
    check_format(fmt)
    if fmt in TEXT_FORMATS:
        one = text(store, ref, fmt)
        return lambda name: {name: one}
    if fmt == "croissant":
        from .croissant import prepare as prepare_croissant

        files = prepare_croissant(store, ref)
        return lambda name: files(name, members_csv_name(name))
    from .rocrate import crate_files

    inner = crate_files(store, ref)
    return lambda name: {f"{name}/{path}": content for path, content in inner.items()}


def outputs(store: Store, ref: str, fmt: str, name: str) -> dict[str, str]:
    """What exporting ``ref`` as ``fmt`` under the file (or folder) ``name`` writes (:func:`prepare`)."""
    return prepare(store, ref, fmt)(name)


def tops(files: dict[str, str]) -> list[str]:
    """The names a set of outputs takes in its folder (files, or the crate's folder)."""
    return list(dict.fromkeys(p.split("/", 1)[0] for p in files))


def _exists_message(shown: str, way_out: str) -> str:
    return f"{shown} exists already; it is never overwritten: {way_out}"


def _folder_aside(folder: Path, name: str, files: dict[str, str]) -> str:
    """A hidden temporary folder in ``folder`` holding ``files`` (flushed), with the permissions a
    new folder ``name`` would get: renamed to its name once complete."""
    tmp = tempfile.mkdtemp(prefix=f".{name[:200]}.", suffix=".partial", dir=folder)
    try:
        for inner, content in files.items():
            target = Path(tmp, inner)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _remove(path: str | Path, is_folder: bool) -> None:
    """Remove the file or folder ``path``, quietly: a clean-up that must not hide the error it follows."""
    if is_folder:
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def publish(folder: Path, files: dict[str, str], shown: Any = str, way_out: str = "choose another name or remove it") -> list[Path]:
    """Write ``files`` ({relative path: text}, as :func:`outputs` gives) in ``folder``, all or
    nothing: each top-level file or folder is written aside first, then linked (renamed) to its
    name; a name that exists refuses the whole export (:class:`FileExists`, naming it as
    ``shown(name)`` says) and what was already put in place is taken back. Answers the paths."""
    names = tops(files)
    for top in names:
        if os.path.lexists(folder / top):
            raise FileExists(_exists_message(shown(top), way_out))
    staged: list[tuple[str, str, bool]] = []  # (name, temporary path, is a folder)
    done: list[tuple[Path, bool]] = []
    try:
        for top in names:
            if top in files:
                staged.append((top, written_aside(folder, top, files[top]), False))
            else:
                inner = {p.split("/", 1)[1]: t for p, t in files.items() if p.split("/", 1)[0] == top}
                staged.append((top, _folder_aside(folder, top, inner), True))
        try:
            for top, tmp, is_folder in staged:
                target = folder / top
                try:
                    if is_folder:
                        if os.path.lexists(target):  # rename would replace an empty folder
                            raise FileExistsError(errno.EEXIST, "exists", str(target))
                        os.rename(tmp, target)
                    else:
                        link_new(tmp, target)
                except FileExistsError:
                    raise FileExists(_exists_message(shown(top), way_out)) from None
                done.append((target, is_folder))
        except BaseException:
            for target, is_folder in reversed(done):  # all or nothing
                _remove(target, is_folder)
            raise
    finally:
        for _, tmp, is_folder in staged:
            _remove(tmp, is_folder)
    return [folder / top for top in names]


def _store_of(source: Any) -> Store:
    if isinstance(source, Store):
        return source
    store = getattr(source, "store", None)  # an Ensemble (jupyterlab_dsi.open)
    if isinstance(store, Store):
        return store
    raise TypeError(f"export needs a Store or an Ensemble (jupyterlab_dsi.open), not {type(source).__name__}")


def export(source: Any, dataset_ref: str, fmt: str, path: str | os.PathLike[str]) -> list[Path]:
    """Write dataset ``dataset_ref`` of ``source`` (a :class:`Store` or an Ensemble) as ``fmt`` at
    ``path``: the file (json, card, prov, datacite), the Croissant JSON-LD with its members CSV
    beside it, or the RO-Crate folder. Never overwrites: an existing path is a
    :class:`FileExists` naming it. Answers the paths written, the one named first."""
    store = _store_of(source)
    check_format(fmt)
    target = Path(path)
    folder = target.parent
    if not target.name or target.name in (".", ".."):
        raise DatasetError(f"{path}: give the name of the {'folder' if fmt == 'rocrate' else 'file'} to write")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder for {target.name}")
    # Refused before the export is computed: an existing name costs nothing.
    for one in taken_by(fmt, target.name):
        if os.path.lexists(folder / one):
            raise FileExists(_exists_message(str(folder / one), "choose another path or remove it"))
    files = outputs(store, dataset_ref, fmt, target.name)
    written = publish(folder, files, shown=lambda top: str(folder / top), way_out="choose another path or remove it")
    return sorted(written, key=lambda p: p.name != target.name)


def taken_by(fmt: str, name: str) -> list[str]:
    """The names exporting as ``fmt`` under ``name`` takes in its folder."""
    return [name, members_csv_name(name)] if fmt == "croissant" else [name]


def free_name(folder: Path, name: str, fmt: str, *, unique: bool) -> str:
    """``name``, or with ``unique`` the first of ``name (1).ext``, ``name (2).ext``... (as a file
    browser numbers copies) whose files are all free in ``folder``; :class:`FileExists` if none."""
    ending = FORMATS[check_format(fmt)]
    candidates = [name] + ([numbered(name, n, ending) for n in range(1, MAX_NUMBERED + 1)] if unique else [])
    for candidate in candidates:
        if not any(os.path.lexists(folder / one) for one in taken_by(fmt, candidate)):
            return candidate
    taken = next(one for one in taken_by(fmt, name) if os.path.lexists(folder / one))
    raise FileExists(
        _exists_message(taken, "choose another name or remove it")
        + (f" (and {MAX_NUMBERED} numbered copies)" if unique else "")
    )


def save_prepared(folder: Path, name: str, fmt: str, files: Callable[[str], dict[str, str]], *,
                  unique: bool) -> tuple[str, dict[str, str]]:
    """Write ``files(name)`` in ``folder`` (the server's "Save next to the notebook"); with
    ``unique``, a taken name (even one taken meanwhile by another save) is followed by the next
    free ``name (1).ext``, ``name (2).ext``... as a file browser numbers copies; without,
    :class:`FileExists`. Answers the name written and its files."""
    while True:
        chosen = free_name(folder, name, fmt, unique=unique)
        written = files(chosen)
        try:
            publish(folder, written, shown=str)
        except FileExists:
            if not unique:
                raise
            continue  # taken between the look and the link: the next free name
        return chosen, written

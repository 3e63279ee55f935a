"""Exports written on the server (issue 14, section 3): ``POST /jupyterlab-dsi/datasets/ID/export``
writes the bytes `jupyter dsi export` writes, as a new file next to the notebook (or the database),
never over an existing file, never half-written, never outside the root or in a hidden folder, and
answers malformed requests with one line and a 4xx. A real Jupyter server (test_server's fixture).
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi import paths
from test_server import ODD_VALUES, RAW_BODIES, TOKEN, _save, call, server  # noqa: F401 - server: the fixture

FORMATS = {"json": ".json", "card": ".md", "prov": ".prov.json"}


def _dataset(server: dict[str, Any], name: str) -> str:
    status, record = _save(server, id=str(uuid.uuid4()), name=name, description=f"{name}: <b>bold</b> $x")
    assert status == 201, record
    return str(record["id"])


def _export(server: dict[str, Any], dataset_id: str, body: Any, db: str = "ens.sqlite", raw: bytes | None = None) -> tuple[int, Any]:
    return call(f"{server['base']}/datasets/{dataset_id}/export?path={db}", "POST", body, raw=raw)


def _cli_bytes(cli: Any, root: Path, dataset_id: str, fmt: str, tmp_path: Path) -> bytes:
    out = tmp_path / f"cli-{fmt}-{uuid.uuid4().hex}"  # `export -o` never overwrites (issue 19)
    assert cli("export", dataset_id, "--db", root / "ens.sqlite", "--format", fmt, "-o", out).code == 0
    return out.read_bytes()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_each_format_is_written_next_to_the_database_as_the_cli_writes_it(server: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    root: Path = server["root"]
    dataset_id = _dataset(server, "next to the db")
    for fmt, ending in FORMATS.items():
        status, answer = _export(server, dataset_id, {"format": fmt})
        assert status == 201, answer
        # Named as the panel's Download names it; beside ens.sqlite, i.e. in the root.
        assert answer["path"] == f"next_to_the_db{ending}"
        written = (root / answer["path"]).read_bytes()
        assert written == _cli_bytes(cli, root, dataset_id, fmt, tmp_path)
        assert answer["bytes"] == len(written) and answer["format"] == fmt
    assert json.loads((root / "next_to_the_db.json").read_text())["id"] == dataset_id
    # The panel's Download reads the same text (not JSON re-serialised in the browser).
    for fmt in FORMATS:
        request = urllib.request.Request(f"{server['base']}/datasets/{dataset_id}?path=ens.sqlite&format={fmt}&as=text")
        request.add_header("Authorization", f"token {TOKEN}")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Type"] == "text/plain; charset=utf-8", fmt  # not JSON: a file's text
            assert response.read() == _cli_bytes(cli, root, dataset_id, fmt, tmp_path), fmt
    # Nothing else was left behind: no temporary file of the atomic write.
    assert not [p.name for p in root.iterdir() if p.name.endswith(".partial")]


def test_written_in_the_notebooks_folder_when_the_panel_names_it(server: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    root: Path = server["root"]
    (root / "work" / "notebooks").mkdir(parents=True)
    dataset_id = _dataset(server, "for the notebook")
    status, answer = _export(server, dataset_id, {"format": "card", "dir": "work/notebooks"})
    assert status == 201, answer
    assert answer["path"] == "work/notebooks/for_the_notebook.md"
    assert (root / answer["path"]).read_bytes() == _cli_bytes(cli, root, dataset_id, "card", tmp_path)
    # The database's folder when no notebook is linked: a database in a sub-folder.
    (root / "sub2").mkdir()
    (root / "sub2" / "copy.sqlite").write_bytes((root / "ens.sqlite").read_bytes())
    status, answer = _export(server, dataset_id, {"format": "json"}, db="sub2/copy.sqlite")
    assert status == 201 and answer["path"] == "sub2/for_the_notebook.json", answer
    # The root itself: a notebook at the top level.
    status, answer = _export(server, dataset_id, {"format": "prov", "dir": ""})
    assert status == 201 and answer["path"] == "for_the_notebook.prov.json", answer


def test_an_existing_file_is_never_overwritten(server: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    root: Path = server["root"]
    (root / "keep").mkdir()
    mine = b"the user's own notes\n"
    (root / "keep" / "taken.md").write_bytes(mine)
    dataset_id = _dataset(server, "taken")
    card = _cli_bytes(cli, root, dataset_id, "card", tmp_path)
    # No name given: the next free one, as a file browser numbers copies.
    got = [_export(server, dataset_id, {"format": "card", "dir": "keep"}) for _ in range(2)]
    assert [(s, a["path"]) for s, a in got] == [(201, "keep/taken (1).md"), (201, "keep/taken (2).md")]
    assert (root / "keep" / "taken.md").read_bytes() == mine
    assert (root / "keep" / "taken (1).md").read_bytes() == card == (root / "keep" / "taken (2).md").read_bytes()
    # A name given that exists: refused, the file untouched.
    status, answer = _export(server, dataset_id, {"format": "card", "dir": "keep", "name": "taken.md"})
    assert status == 409 and "never overwritten" in answer["message"], answer
    assert (root / "keep" / "taken.md").read_bytes() == mine
    # A link with that name counts as existing (never followed and written through).
    (root / "keep" / "link.md").symlink_to(root / "keep" / "taken.md")
    status, _ = _export(server, dataset_id, {"format": "card", "dir": "keep", "name": "link.md"})
    assert status == 409 and (root / "keep" / "taken.md").read_bytes() == mine
    # A free name given is used as it is.
    status, answer = _export(server, dataset_id, {"format": "prov", "dir": "keep", "name": "lineage.json"})
    assert status == 201 and answer["path"] == "keep/lineage.json"


def test_requests_at_once_each_get_their_own_file(server: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    root: Path = server["root"]
    (root / "race").mkdir()
    dataset_id = _dataset(server, "raced")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _export(server, dataset_id, {"format": "json", "dir": "race"}), range(8)))
    assert all(status == 201 for status, _ in answers), answers
    written = sorted(a["path"] for _, a in answers)
    assert len(set(written)) == 8
    expected = _cli_bytes(cli, root, dataset_id, "json", tmp_path)
    assert _files(root / "race") == {p.removeprefix("race/"): expected for p in written}


def test_outside_the_root_and_hidden_folders_are_refused(server: dict[str, Any]) -> None:
    root: Path = server["root"]
    outside: Path = server["outside"]
    (root / "out-link").symlink_to(outside)
    dataset_id = _dataset(server, "refused")
    before = {d: _files(d) for d in (outside, root / ".hidden", root / "sub" / ".git", root / ".ipynb_checkpoints")}
    for folder in (f"../{outside.name}", "out-link", "/../..", ".hidden", "sub/.git", ".ipynb_checkpoints", "sub/../.hidden"):
        status, answer = _export(server, dataset_id, {"format": "json", "dir": folder})
        assert status == 403, (folder, status, answer)
        assert str(root) not in answer["message"] and "\n" not in answer["message"]
    status, answer = _export(server, dataset_id, {"format": "json", "dir": "no/such/folder"})
    assert status == 404 and "no such folder" in answer["message"]
    # A database in a hidden folder or outside: refused before anything is read or written.
    for db, expected in ((".hidden/ens.sqlite", 403), (f"../{outside.name}/secret.sqlite", 403), ("nothing.sqlite", 404)):
        status, answer = _export(server, dataset_id, {"format": "json"}, db=db)
        assert status == expected, (db, answer)
    for name in ("../escape.json", "a/b.json", ".hidden.json", "..", "", "x\\y.json", "x" * 300):
        status, answer = _export(server, dataset_id, {"format": "json", "name": name})
        assert status == 400, (name, answer)
    assert {d: _files(d) for d in before} == before
    assert not (root.parent / "escape.json").exists()


def test_malformed_requests_get_one_line_and_a_4xx(server: dict[str, Any]) -> None:
    dataset_id = _dataset(server, "malformed")
    cases: list[tuple[Any, int, str]] = [
        ({}, 400, "format missing"),
        ({"format": "xml"}, 400, "unknown export format"),
        ({"format": 3}, 400, "format must be text"),
        ({"format": "json", "dir": 5}, 400, "dir must be text"),
        ({"format": "json", "dir": None}, 400, "dir must be text"),
        ({"format": "json", "name": ["x"]}, 400, "name must be text"),
        ({"format": "json", "overwrite": True}, 400, "unknown field"),
        (["json"], 400, "JSON object"),
    ]
    for body, expected, words in cases:
        status, answer = _export(server, dataset_id, body)
        assert status == expected and words in answer["message"], (body, status, answer)
    status, answer = _export(server, dataset_id, None, raw=b"{not json")
    assert status == 400 and "not JSON" in answer["message"]
    status, answer = _export(server, "abcd0123", {"format": "json"})
    assert status == 422 and "not a dataset of this database" in answer["message"]
    status, _ = call(f"{server['base']}/datasets/{dataset_id}/export?path=ens.sqlite", "POST", {"format": "json"}, token=None)
    assert status == 403
    for body in [{"format": "json", key: value} for key in ("format", "dir", "name") for value in ODD_VALUES]:
        status, answer = _export(server, dataset_id, body)
        assert 400 <= status < 500 or status == 201, (body, status, answer)
        if status >= 400:
            assert "\n" not in answer["message"] and "Traceback" not in answer["message"]
    for raw in RAW_BODIES:
        status, answer = _export(server, dataset_id, None, raw=raw)
        assert 400 <= status < 500, (raw[:20], status, answer)


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temporary_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        paths.write_new(tmp_path, "card.md", "x" * 100_000)
    assert list(tmp_path.iterdir()) == []


def test_write_new_numbers_copies_and_refuses_a_taken_name(tmp_path: Path) -> None:
    (tmp_path / "d.prov.json").write_text("mine")
    assert paths.write_new(tmp_path, "d.prov.json", "a", unique_suffix=".prov.json").name == "d (1).prov.json"
    assert paths.write_new(tmp_path, "d.prov.json", "b", unique_suffix=".prov.json").name == "d (2).prov.json"
    with pytest.raises(paths.FileExists):
        paths.write_new(tmp_path, "d.prov.json", "c")
    assert sorted((p.name, p.read_text()) for p in tmp_path.iterdir()) == [
        ("d (1).prov.json", "a"), ("d (2).prov.json", "b"), ("d.prov.json", "mine")
    ]
    assert oct((tmp_path / "d (1).prov.json").stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode

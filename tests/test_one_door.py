"""DESIGN rule 8 (one door): one `select --save`, from the CLI or from %dsi, opens the database once,
and saves exactly the dataset it saved before (members and digest, as `jupyter dsi export` gives them)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from jupyterlab_dsi import store as store_module

OPTIONS = ["--time", "1", "--where", "d_density < 5", "--size", "4", "--seed", "9", "--weights", "1", "0.5"]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every Store opened from now on: (path, readonly)."""
    seen: list[tuple[str, bool]] = []
    original = store_module.Store.__init__

    def counting(self: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((str(path), bool(kwargs.get("readonly", False))))
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(store_module.Store, "__init__", counting)
    return seen


def _copy(db: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(db, target)
    return target


def _reference(db: Path, method_id: str) -> dict[str, Any]:
    """The dataset the same options save, built from the unchanged lower-level pieces."""
    from jupyterlab_dsi.datasets import sampling_options, save_dataset
    from jupyterlab_dsi.feature import from_args
    from jupyterlab_dsi.query import select
    from jupyterlab_dsi.store import Store

    with Store(db) as store:
        selection = select(store, method_id, 1, "d_density < 5", from_args(["1", "0.5"]))
        record = save_dataset(
            store, members=sorted({row[0] for row in selection.rows}), description="why", name="n",
            method_id=selection.method["id"], t=1, weights=selection.feature, filter="d_density < 5",
            selection_kind="filter", sampling=sampling_options(None, 4, 9), settings={"version": 1, "origin": "cli"},
        )
    return record


def _exported(cli: Callable[..., Any], db: Path, dataset_id: str) -> dict[str, Any]:
    result = cli("export", dataset_id, "--db", str(db), "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_cli_select_save_opens_the_database_once(
    method: tuple[Any, Path, str], tmp_path: Path, cli: Callable[..., Any], opens: list[tuple[str, bool]]
) -> None:
    _, db, method_id = method
    ours, ref = _copy(db, tmp_path, "ours.sqlite"), _copy(db, tmp_path, "ref.sqlite")
    expected = _reference(ref, method_id)
    opens.clear()
    saved = cli("select", "--db", ours, "--method", method_id, *OPTIONS, "--save", "why", "--name", "n")
    assert saved.code == 0, saved.err
    assert saved.out.splitlines()[0] == (f"saved dataset 'n': 4 of 6 selected simulations; "
                                         f"digest {expected['digest']}")
    assert opens == [(str(ours), False)]
    mine, theirs = _exported(cli, ours, saved.last_line), _exported(cli, ref, expected["id"])
    assert (mine["members"], mine["digest"]) == (theirs["members"], theirs["digest"])


@pytest.mark.parametrize("named", [True, False], ids=["with-method", "its-only-method"])
def test_magic_select_save_opens_the_database_once(
    method: tuple[Any, Path, str], tmp_path: Path, cli: Callable[..., Any], opens: list[tuple[str, bool]],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], named: bool,
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyterlab_dsi import bridge

    monkeypatch.setattr(bridge, "BRIDGE", bridge.Bridge())
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyterlab_dsi")
    _, db, method_id = method
    ours, ref = _copy(db, tmp_path, "ours.sqlite"), _copy(db, tmp_path, "ref.sqlite")
    expected = _reference(ref, method_id)
    capsys.readouterr()
    opens.clear()
    frame = ip.run_line_magic("dsi", f"select --db {ours} {'--method ' + method_id if named else ''} {shlex.join(OPTIONS)} --save why --name n")
    assert opens == [(str(ours), False)]
    out = capsys.readouterr().out.splitlines()
    assert out == [f"saved dataset 'n': 4 of 6 selected simulations; digest {expected['digest']}"]
    mine, theirs = _exported(cli, ours, frame.attrs["dataset"]["id"]), _exported(cli, ref, expected["id"])
    assert (mine["members"], mine["digest"]) == (theirs["members"], theirs["digest"])
    assert list(frame.index) == mine["members"]

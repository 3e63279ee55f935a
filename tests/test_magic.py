"""The %dsi magic in a real IPython shell: the same rows as the CLI, and user text stays text."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Callable

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyterlab_dsi")
    yield shell
    shell.user_ns.pop("x", None)


def test_select_matches_the_cli(ip: InteractiveShell, method: tuple[Any, Path, str], cli: Callable[..., Any]) -> None:
    _, db, method_id = method
    where = "d_density < 0.5 or cs == 2"
    frame = ip.run_line_magic("dsi", f'select --db {db} --method {method_id} --time 1 --where "{where}"')
    result = cli("select", "--db", str(db), "--method", method_id, "--time", "1", "--where", where, "--format", "json")
    rows = json.loads(result.out)
    assert list(frame.index) == [r["sim_id"] for r in rows]
    assert frame["d_density"].tolist() == pytest.approx([r["d_density"] for r in rows], nan_ok=True)


def test_methods_lists_the_method(ip: InteractiveShell, method: tuple[Any, Path, str]) -> None:
    _, db, method_id = method
    frame = ip.run_line_magic("dsi", f"methods --db {db}")
    assert method_id in frame.index
    assert frame.loc[method_id, "norm"] == "L2"


@pytest.mark.parametrize("text", ["{x}", "$x", "<script>alert(1)</script>", "'; drop table jdsi_simulation; --"])
def test_user_text_is_never_expanded_or_executed(
    ip: InteractiveShell, method: tuple[Any, Path, str], text: str
) -> None:
    _, db, method_id = method
    ip.user_ns["x"] = "s01"  # if {x} or $x were expanded, the filter would match s01
    literal = text.replace('"', '""')
    where = shlex.quote(f'sim_id == "{literal}"')
    frame = ip.run_line_magic("dsi", f"select --db {db} --method {method_id} --where {where}")
    assert len(frame) == 0
    again = ip.run_line_magic("dsi", f"select --db {db} --method {method_id} --time 0")
    assert len(again) > 0  # the table is still there


def test_errors_are_one_line_without_traceback(
    ip: InteractiveShell, method: tuple[Any, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, db, method_id = method
    assert ip.run_line_magic("dsi", f"select --db {db} --method {method_id} --where 'cz > 1'") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown name 'cz'" in err[0]
    assert ip.run_line_magic("dsi", "frobnicate") is None
    assert "invalid choice" in capsys.readouterr().err


def test_load_returns_the_saved_members(ip: InteractiveShell, method: tuple[Any, Path, str], tmp_path: Path, cli: Callable[..., Any]) -> None:
    import shutil

    _, db, method_id = method
    copy = tmp_path / "copy.sqlite"
    shutil.copy(db, copy)
    saved = cli("select", "--db", str(copy), "--method", method_id, "--time", "1", "--where", "d_density < 0.5",
                "--save", "{x} stays text", "--name", "low density", "-q")
    dataset_id = saved.out.strip().splitlines()[-1]
    exported = json.loads(cli("export", dataset_id, "--db", str(copy), "--format", "json").out)
    frame = ip.run_line_magic("dsi", f"load {dataset_id[:8]} --db {copy}")
    assert list(frame.index) == exported["members"]
    assert frame.attrs["dataset"]["digest"] == exported["digest"]
    listed = ip.run_line_magic("dsi", f"datasets --db {copy}")
    assert listed.loc[dataset_id, "description"] == "{x} stays text"

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


# -- open, show, defaults, sampling, save ------------------------------------------------------


@pytest.fixture
def fresh_bridge(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A kernel whose bridge has no current database and no panel linked."""
    from jupyterlab_dsi import bridge

    monkeypatch.setattr(bridge, "BRIDGE", bridge.Bridge())
    return bridge


def _copy(db: Path, tmp_path: Path, name: str = "copy.sqlite") -> Path:
    import shutil

    target = tmp_path / name
    shutil.copy(db, target)
    return target


def test_open_makes_the_database_current(
    ip: InteractiveShell, fresh_bridge: Any, method: tuple[Any, Path, str], cli: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, db, method_id = method
    assert ip.run_line_magic("dsi", "methods") is None
    assert capsys.readouterr().err.strip() == (
        "error: %dsi: no database: give --db FILE, run %dsi open FILE, or open one in the DSI Explorer panel"
    )
    assert ip.run_line_magic("dsi", f"open {db}") is None
    assert capsys.readouterr().out == f"{db}: 6 simulations, 1 method, 0 datasets\n"
    assert fresh_bridge.current_db() == str(db.resolve())
    # --db and --method (the only one) default
    frame = ip.run_line_magic("dsi", "select --time 2 --where 'cs == 0.2'")
    rows = json.loads(cli("select", "--db", db, "--method", method_id, "--time", "2", "--where", "cs == 0.2", "--format", "json").out)
    assert list(frame.index) == [r["sim_id"] for r in rows]


def test_open_refuses_a_file_that_is_not_a_database(
    ip: InteractiveShell, fresh_bridge: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not a database\n" * 20)
    assert ip.run_line_magic("dsi", f"open {bad}") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an SQLite database" in err[0]
    assert fresh_bridge.current_db() is None


@pytest.fixture
def copy(method: tuple[Any, Path, str], tmp_path: Path) -> Path:
    """A copy of the shared database that a test may write to."""
    return _copy(method[1], tmp_path)


def test_several_methods_need_one_chosen(
    ip: InteractiveShell, fresh_bridge: Any, method: tuple[Any, Path, str], copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyterlab_dsi.compute import postprocess

    method_id = method[2]
    other = postprocess(copy, ground_truth="s01", norm="L1")
    assert ip.run_line_magic("dsi", f"select --db {copy} --time 0") is None
    err = capsys.readouterr().err
    assert "2 methods; choose one with --method ID" in err and method_id[:8] in err and other[:8] in err
    assert len(ip.run_line_magic("dsi", f"select --db {copy} --time 0 --method {other[:8]}")) == 6


def test_sampling_picks_what_sampling_picks(ip: InteractiveShell, fresh_bridge: Any, method: tuple[Any, Path, str]) -> None:
    from jupyterlab_dsi.sampling import sample_n, sample_p

    _, db, _ = method
    everyone = list(ip.run_line_magic("dsi", f"select --db {db} --time 1").index)
    by_p = ip.run_line_magic("dsi", f"select --db {db} --time 1 --sample 0.5 --seed 3")
    assert list(by_p.index) == sample_p(everyone, 0.5, 3)
    by_n = ip.run_line_magic("dsi", f"select --db {db} --size 2 --seed 7")  # every step of the 2 kept
    assert sorted(set(by_n.index.get_level_values("sim_id"))) == sample_n(everyone, 2, 7)
    assert len(by_n) == 2 * 3


@pytest.mark.parametrize("options, message", [
    ("--time 1 --name n", "--name only applies with --save DESCRIPTION"),
    ("--time 1 --seed 2", "--seed only applies with --sample P or --size N"),
    ("--time 1 --sample 2", "the sampling probability must be between 0 and 1"),
    ("--sample 0.5 --size 2", "not allowed with argument"),
    ("--save 'why'", "--save needs --time INDEX"),
    ("--time 1 --save ' '", "--save needs a description"),
])
def test_option_errors_match_the_cli(
    ip: InteractiveShell, fresh_bridge: Any, method: tuple[Any, Path, str], options: str, message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, db, _ = method
    assert ip.run_line_magic("dsi", f"select --db {db} {options}") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_save_is_the_cli_save(
    ip: InteractiveShell, fresh_bridge: Any, method: tuple[Any, Path, str], tmp_path: Path,
    cli: Callable[..., Any], capsys: pytest.CaptureFixture[str],
) -> None:
    from jupyterlab_dsi.datasets import get_dataset
    from jupyterlab_dsi.store import Store

    _, db, method_id = method
    ours, theirs = _copy(db, tmp_path, "ours.sqlite"), _copy(db, tmp_path, "theirs.sqlite")
    options = ["--time", "1", "--where", "d_density < 5", "--size", "4", "--seed", "9", "--weights", "1", "0.5"]
    capsys.readouterr()
    frame = ip.run_line_magic("dsi", f"select --db {ours} {shlex.join(options)} --save '{{x}} why' --name 'n $x'")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("saved dataset 'n $x': 4 of 6 selected simulations; digest sha256:")
    saved = cli("select", "--db", theirs, "--method", method_id, *options, "--save", "{x} why", "--name", "n $x")
    with Store(ours, readonly=True) as a, Store(theirs, readonly=True) as b:
        mine, cli_record = get_dataset(a, frame.attrs["dataset"]["id"]), get_dataset(b, saved.last_line)
    assert list(frame.index) == frame.index.sort_values().tolist() and len(frame) == 4
    for key in ("name", "description", "method", "time", "weights", "filter", "sampling", "size", "digest"):
        assert mine[key] == cli_record[key], key
    assert (mine["settings"]["origin"], cli_record["settings"]["origin"]) == ("magic", "cli")


def test_show_needs_a_linked_panel(
    ip: InteractiveShell, fresh_bridge: Any, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = ip.run_line_magic("dsi", f"select --db {copy} --time 0 --save 'to show'")
    capsys.readouterr()
    assert ip.run_line_magic("dsi", f"show {frame.attrs['dataset']['id'][:6]} --db {copy}") is None
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("no DSI Explorer panel is linked to this kernel") and out.count("\n") == 1
    assert ip.run_line_magic("dsi", f"show zzzz --db {copy}") is None
    assert "is not a dataset of this database" in capsys.readouterr().err

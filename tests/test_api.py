"""The Python API (issue 15 §1, DESIGN rule 8): ``jupyterlab_dsi.open`` and what it answers, each
checked against the CLI's output on the same file (one door: the same functions underneath)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import Ensemble, Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.filter import FilterError

Cli = Callable[..., Result]


def _plain(value: Any) -> Any:
    """A frame's cell as JSON would carry it (NaN/NA -> None, numpy scalars -> Python)."""
    if isinstance(value, (list, dict)):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{c: _plain(v) for c, v in row.items()} for row in frame.to_dict(orient="records")]


def cli_json(cli: Cli, *argv: Any) -> Any:
    res = cli(*argv)
    assert res.code == 0, res.err
    return json.loads(res.out)


@pytest.fixture
def mdb(shared_method: tuple[Ensemble, Path, str], tmp_path: Path) -> tuple[Ensemble, Path, str]:
    """A private copy of the shared method database, to save datasets into."""
    ens, db, method_id = shared_method
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(db, copy)
    return ens, copy, method_id


def save(cli: Cli, db: Path, *argv: Any) -> str:
    res = cli("select", "--db", db, *argv)
    assert res.code == 0, res.err
    return res.last_line


# -- open and close --------------------------------------------------------------------------


def test_open_is_a_context_manager_that_closes(method: tuple[Ensemble, Path, str]) -> None:
    _, db, _ = method
    with dsi.open(db) as ens:
        assert isinstance(ens, dsi.Ensemble)
        store = ens.store
        assert ens.store is store  # one Store, reused
        ens.methods(), ens.datasets(), ens.select(time=0)
        assert ens.store is store
    assert ens.closed
    with pytest.raises(sqlite3.ProgrammingError):
        store.conn.execute("SELECT 1")
    with pytest.raises(DsiError, match="closed"):
        ens.methods()
    ens.close()  # twice is harmless


def test_an_exception_inside_with_still_closes(method: tuple[Ensemble, Path, str]) -> None:
    _, db, _ = method
    with pytest.raises(KeyError), dsi.open(db) as ens:
        raise KeyError("boom")
    assert ens.closed


def test_open_does_not_shadow_the_builtin() -> None:
    import builtins

    assert "open" not in vars(dsi)  # served by __getattr__: the module's own `open` stays builtins.open
    assert dsi.open is not builtins.open and callable(dsi.postprocess)
    assert "open" in dir(dsi)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DsiError) as err:
        dsi.open(tmp_path / "nope.sqlite")
    assert "no such database" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"just some text\n", b"", None])
def test_a_file_that_is_not_ours_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "other.sqlite"
    if content is None:  # a real SQLite database written by someone else
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(DsiError) as err:
        dsi.open(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert path.read_bytes() == before


def test_a_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DsiError, match="a folder") as err:
        dsi.open(tmp_path)
    assert "\n" not in str(err.value)


def test_open_rejects_a_non_path() -> None:
    with pytest.raises(DsiError, match="path"):
        dsi.open(42)  # type: ignore[arg-type]


# -- listings against the CLI ----------------------------------------------------------------


def test_methods_match_the_cli(method: tuple[Ensemble, Path, str], cli: Cli) -> None:
    _, db, method_id = method
    expected = cli_json(cli, "methods", "--db", db, "--format", "json")
    with dsi.open(db) as ens:
        frame = ens.methods()
    assert list(frame.columns) == list(expected[0])
    assert records(frame) == expected
    assert frame["id"].tolist() == [method_id]


def test_datasets_match_the_cli(mdb: tuple[Ensemble, Path, str], cli: Cli) -> None:
    _, db, m = mdb
    first = save(cli, db, "--method", m, "--time", "1", "--where", "cs == 0.1", "--save", "small cs")
    save(cli, db, "--method", m, "--time", "2", "--sample", "0.5", "--seed", "3", "--save", "half")
    with sqlite3.connect(db) as conn:  # a delete is a tombstone (datasets.delete_dataset writes this row)
        conn.execute("INSERT INTO jdsi_tombstone VALUES (?, 'dataset', '2026-01-01T00:00:00Z', 'me')", (first,))
    conn.close()
    expected = cli_json(cli, "datasets", "--db", db, "--format", "json")
    with dsi.open(db) as ens:
        frame = ens.datasets()
        everything = ens.datasets(include_deleted=True)
    assert list(frame.columns) == list(expected[0]) and len(frame) == 1
    assert records(frame) == expected
    assert records(everything) == cli_json(cli, "datasets", "--db", db, "--format", "json", "--all")
    assert everything["deleted"].tolist().count(True) == 1
    with dsi.open(db) as ens:  # members are exactly the stored ones, sampled and deleted datasets too
        for ds_id in everything["id"]:
            exported = cli_json(cli, "export", ds_id, "--db", db, "--format", "json")
            assert sorted(ens.dataset(ds_id).members().index) == exported["members"]
            assert ens.dataset(ds_id).member_ids() == exported["members"]


def test_datasets_of_a_file_without_any(method: tuple[Ensemble, Path, str], cli: Cli) -> None:
    _, db, _ = method
    assert cli_json(cli, "datasets", "--db", db, "--format", "json") == []
    with dsi.open(db) as ens:
        frame = ens.datasets()
    assert frame.empty and "digest" in frame.columns


@pytest.mark.parametrize("argv", [
    {"time": 1},
    {"time": 0, "where": "profile in ('flat', 'bump2') and d_density < 10"},
    {"time": 2, "weights": {"d_density": 2.0, "energy": 0.5}},
    {},
])
def test_select_matches_the_cli(method: tuple[Ensemble, Path, str], cli: Cli, argv: dict[str, Any]) -> None:
    _, db, method_id = method
    args: list[Any] = ["select", "--db", db, "--method", method_id[:8], "--format", "json"]
    if "time" in argv:
        args += ["--time", argv["time"]]
    if "where" in argv:
        args += ["--where", argv["where"]]
    if "weights" in argv:
        args += ["--weights", *(f"{k}={v}" for k, v in argv["weights"].items())]
    expected = cli_json(cli, *args)
    with dsi.open(db) as ens:
        frame = ens.select(method=method_id[:8], **argv)
    got = records(frame.reset_index())
    assert got == expected and expected
    if "time" in argv:
        assert frame.index.name == "sim_id" and frame.index.is_unique
    else:
        assert list(frame.index.names) == ["sim_id", "t"]


def test_select_errors_are_dsi_errors(method: tuple[Ensemble, Path, str]) -> None:
    _, db, method_id = method
    with dsi.open(db) as ens:
        with pytest.raises(DsiError):
            ens.select(method=method_id, time=99)
        with pytest.raises(DsiError):
            ens.select(method="zzzzzzzz")
        with pytest.raises(FilterError, match="unknown name 'nosuch'") as err:  # as the CLI and magic show it
            ens.select(method=method_id, time=0, where="nosuch > 1")
        assert "\n" not in str(err.value)


# -- datasets and members --------------------------------------------------------------------


def test_dataset_properties_and_members_match_the_export(mdb: tuple[Ensemble, Path, str], cli: Cli) -> None:
    ens_dir, db, m = mdb
    ds_id = save(cli, db, "--method", m, "--time", "1", "--where", "cs == 0.1 or energy > 6",
                 "--name", "mixed", "--save", "why: a mix")
    exported = cli_json(cli, "export", ds_id, "--db", db, "--format", "json")
    selected = {r["sim_id"]: r for r in cli_json(cli, "select", "--db", db, "--method", m, "--time", "1",
                                                 "--format", "json")}
    with dsi.open(db) as ens:
        ds = ens.dataset(ds_id[:6])
        assert (ds.id, ds.name, ds.description, ds.method_id, ds.t, ds.digest, ds.size) == (
            exported["id"], "mixed", "why: a mix", m, 1, exported["digest"], exported["size"])
        assert (ds.created_at, ds.author, ds.filter, ds.parent_id) == (
            exported["created_at"], exported["author"], exported["filter"], None)
        frame = ds.members()
    assert sorted(frame.index) == exported["members"] and frame.index.name == "sim_id"
    assert len(frame) == exported["size"] > 0
    for sim_id, row in frame.iterrows():
        for column in ("cs", "profile", "energy", "d_shock", "d_edge", "d_density", "d_feature"):
            assert _plain(row[column]) == selected[sim_id][column], (sim_id, column)
        path = Path(row["path"])
        assert path.is_absolute() and path == ens_dir.file(sim_id).resolve()
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    stored = dict(query(db, "SELECT sim_id, sha256 FROM jdsi_simulation"))
    assert frame["sha256"].to_dict() == {s: stored[s] for s in frame.index}


def test_members_of_a_dataset_without_a_method(tmp_path: Path, cli: Cli) -> None:
    """A CSV of runs has no field files: no distances, path and sha256 None, members exact."""
    src = tmp_path / "runs.csv"
    src.write_text("run,a,score\nr1,1,0.5\nr2,2,0.7\nr3,3,0.9\n", encoding="utf-8")
    db = tmp_path / "t.sqlite"
    assert cli("ingest", "-q", src, "--db", db, "--id-column", "run", "--metrics", "score").code == 0
    ds_id = save(cli, db, "--where", "a >= 2", "--save", "a at least two")
    exported = cli_json(cli, "export", ds_id, "--db", db, "--format", "json")
    with dsi.open(db) as ens:
        ds = ens.dataset(ds_id)
        frame = ds.members()
    assert ds.method_id is None
    assert sorted(frame.index) == exported["members"] == ["r2", "r3"]
    assert not any(c.startswith("d_") for c in frame.columns)
    assert frame["path"].isna().all() and frame["sha256"].isna().all()


def test_prefix_resolution(mdb: tuple[Ensemble, Path, str], cli: Cli) -> None:
    _, db, m = mdb
    a = save(cli, db, "--method", m, "--time", "0", "--save", "all at 0")
    b = save(cli, db, "--method", m, "--time", "1", "--save", "all at 1")
    # Give both the same long prefix, as colliding UUIDs would (ids are opaque: nothing else points at them).
    shared = "abcdef00"
    with sqlite3.connect(db) as conn:
        for old, new in ((a, shared + a[8:]), (b, shared + b[8:])):
            conn.execute("UPDATE jdsi_dataset SET id = ? WHERE id = ?", (new, old))
            conn.execute("UPDATE jdsi_dataset_member SET dataset_id = ? WHERE dataset_id = ?", (new, old))
    conn.close()
    a, b = shared + a[8:], shared + b[8:]
    with dsi.open(db) as ens:
        assert ens.dataset(a).id == a and ens.dataset(b).id == b and ens.dataset(b[:24]).id == b
        assert ens.dataset(a).description == "all at 0"
        for ref in ("abcd", shared):
            with pytest.raises(DsiError) as err:
                ens.dataset(ref)
            message = str(err.value)
            assert "ambiguous" in message and "\n" not in message
            assert a in message and b in message
        with pytest.raises(DsiError, match="too short") as err:
            ens.dataset("abc")
        with pytest.raises(DsiError) as err:
            ens.dataset("ffffffff")
        assert "not a dataset" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(DsiError):
            ens.dataset("")


def test_ambiguity_lists_a_few_candidates(mdb: tuple[Ensemble, Path, str], cli: Cli) -> None:
    _, db, m = mdb
    ids = [save(cli, db, "--method", m, "--time", "0", "--sample", "0.9", "--seed", str(s), "--save", f"s{s}")
           for s in range(8)]
    with sqlite3.connect(db) as conn:
        for i, old in enumerate(ids):
            new = f"aaaa{i:04d}" + old[8:]
            conn.execute("UPDATE jdsi_dataset SET id = ? WHERE id = ?", (new, old))
            conn.execute("UPDATE jdsi_dataset_member SET dataset_id = ? WHERE dataset_id = ?", (new, old))
    conn.close()
    with dsi.open(db) as ens:
        with pytest.raises(DsiError) as err:
            ens.dataset("aaaa")
    message = str(err.value)
    assert "8 ids" in message and "3 more" in message and message.count("aaaa0") == 5


def test_no_datasets_yet(method: tuple[Ensemble, Path, str]) -> None:
    _, db, _ = method
    with dsi.open(db) as ens, pytest.raises(DsiError, match="no datasets yet"):
        ens.dataset("abcd")

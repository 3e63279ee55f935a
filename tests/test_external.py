"""The files of ../shared/realdata/external, written by three Cinema projects and by DSI 1.2.8
(its README says where each comes from): every one is ingested, selected, saved and verified,
and DSI's DuckDB file is named for what it is.

Each test copies its input under tmp_path first: the shared files are never touched. A test
skips (alone) when the folder is absent; set DSI_REALDATA to point at shared/realdata.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REALDATA, Result, copy_writable, query, sha256, tree

Cli = Callable[..., Result]
EXTERNAL = REALDATA / "external"

# Every input in the folder (the two license files and the README are not inputs), with the
# number of runs it holds. Paths inside a *.cdb folder are ingested with the folder copied.
INPUTS = {
    "cinemasci/clover.cdb": 320,
    "cinemasci/sedov1.cdb": 490,
    "cinemasci/test_paraview.cdb": 648,
    "cinemasci/paraview_extracts.cdb": 6,
    "cinemasci/test_values.cdb": 6,
    "cinemasci/pantheon_ascent-clover.cdb": 8,
    "cinema_explorer/file_types.cdb": 20,
    "cinema_explorer/bogus_1.cdb": 23,
    "cinema_explorer/bogus_1.cdb/axis_order.csv": 3,
    "cinema_lib/example4.cdb": 5,
    "cinema_lib/example5.cdb": 5,
    "cinema_lib/nan.csv": 2,
    "lanl_dsi/wildfire_64.cdb": 1739,
    "lanl_dsi/gan_wildfire.db": 1739,
    "lanl_dsi/yosemite5.csv": 4,
    "lanl_dsi/clover_random_test.csv": 12,
    "lanl_dsi/poisson.csv": 1,
    "dsi_1.2.8/clover_tutorial.db": 8,
    "dsi_1.2.8/clover_schema.db": 8,
    "dsi_1.2.8/wildfire64_ensemble.db": 1739,
    "dsi_1.2.8/clover_input.csv": 8,
    "dsi_1.2.8/clover_output.csv": 8,
}
DUCKDB = "dsi_1.2.8/yosemite.duckdb"


@pytest.fixture
def external(tmp_path: Path) -> Callable[[str], Path]:
    """A writable copy of one input (a *.cdb folder whole, with a file inside it)."""

    def copy(relative: str) -> Path:
        if not EXTERNAL.is_dir():
            pytest.skip(f"{EXTERNAL} is absent (set DSI_REALDATA)")
        top = next((p for p in Path(relative).parents if p.suffix == ".cdb"), Path(relative))
        src, dst = EXTERNAL / top, tmp_path / "src" / top
        copy_writable(src, dst)
        return tmp_path / "src" / relative

    return copy


def ingest(cli: Cli, source: Path, db: Path, *options: object) -> Result:
    res = cli("ingest", source, "--db", db, *options)
    assert res.code == 0, res.err
    return res


def test_realdata_is_found_without_machine_paths() -> None:
    """Tests, benchmarks and specs find shared/realdata through $DSI_REALDATA or beside the clone;
    no file of the repository names this workplace's own folder."""
    repo = Path(__file__).resolve().parents[1]
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    machine = "/work/" + "shared"  # split, so that this file does not name it
    named = [name for name in listed.decode().split("\0") if name and (repo / name).is_file()
             and machine.encode() in (repo / name).read_bytes()]
    assert named == []


def test_every_input_is_listed() -> None:
    """A file added to the folder gets a case here (or the list says why it is not an input)."""
    if not EXTERNAL.is_dir():
        pytest.skip(f"{EXTERNAL} is absent (set DSI_REALDATA)")
    found = {str(p.relative_to(EXTERNAL)) for p in EXTERNAL.rglob("*") if p.is_file()}
    listed = {k if k.endswith((".csv", ".db")) else f"{k}/data.csv" for k in INPUTS} | {DUCKDB}
    assert found - listed == {"README.md", "LICENSE-cinemascience.md", "LICENSE-lanl-dsi.txt"}
    assert listed <= found and len(listed) == 23


@pytest.mark.parametrize(("relative", "runs"), INPUTS.items(), ids=list(INPUTS))
def test_ingest_select_save_verify(
    cli: Cli, external: Callable[[str], Path], tmp_path: Path, relative: str, runs: int
) -> None:
    source = external(relative)
    before = tree(tmp_path / "src")
    db = tmp_path / "db.sqlite"
    res = ingest(cli, source, db)
    noun = "simulation" if runs == 1 else "simulations"
    assert res.out_lines[0].startswith(f"ingested {runs} {noun} into"), res.out
    assert tree(tmp_path / "src") == before  # not one byte of the input changed
    ids = [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation")]
    assert len(ids) == runs
    missing = {"", "nan", "n/a", "none"}
    assert not [i for i in ids if i.strip().lower() in missing], "a missing marker became a run id"
    # No text axis has one level per run: such a column labels runs.
    for name, kind, levels in query(db, "SELECT name, kind, levels FROM jdsi_parameter"):
        if kind == "categorical" and runs > 1:
            assert len(json.loads(levels)) < runs, name

    rows = json.loads(cli("select", "--db", db, "--format", "json").out)
    assert {r["sim_id"] for r in rows} == set(ids)
    chosen = sorted(ids)[:2]
    assert not any("'" in i for i in chosen)
    where = f"sim_id in ({', '.join(repr(i) for i in chosen)})"
    saved = cli("select", "--db", db, "--where", where, "--save", f"two runs of {relative}")
    assert saved.code == 0, saved.err
    record = json.loads(cli("export", saved.last_line, "--db", db).out)
    assert sorted(record["members"]) == chosen and record["size"] == len(chosen)
    verified = cli("verify", saved.last_line, "--db", db)
    assert verified.code == 0 and verified.out.startswith("ok"), verified.out + verified.err


def test_duckdb_is_named_for_what_it_is(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    source = external(DUCKDB)
    before = sha256(source)
    for options in ((), ("--format", "csv")):
        res = cli("ingest", source, "--db", tmp_path / "db.sqlite", *options)
        assert res.code == 2 and len(res.err_lines) == 1, res.err
        assert "a DuckDB database (DSI's DuckDB backend)" in res.err and "UTF-8" not in res.err
        assert "reads SQLite, Cinema and CSV" in res.err and "COPY" in res.err
    assert not (tmp_path / "db.sqlite").exists() and sha256(source) == before


def test_file_columns_are_every_name_that_begins_with_file(
    cli: Cli, external: Callable[[str], Path], tmp_path: Path
) -> None:
    """cinema_lib's `FILE plot` is a file column as FILE is; bogus_1's FILE_IMG_8 too."""
    for relative, files in (("cinema_lib/example4.cdb", {"FILE", "FILE plot"}),
                            ("cinema_explorer/bogus_1.cdb", {"FILE_DATA_7", "FILE_IMG_8", "FILE_DATA_9",
                                                             "FILE_DATA_10", "FILE_IMG_11"})):
        db = tmp_path / f"{Path(relative).stem}.sqlite"
        ingest(cli, external(relative), db)
        kinds = dict(query(db, "SELECT name, kind FROM jdsi_metric"))
        assert {n for n, k in kinds.items() if k == "file"} == files
        assert not files & {r[0] for r in query(db, "SELECT name FROM jdsi_parameter")}
    assert query(db.with_name("example4.sqlite"),
                 "SELECT value FROM jdsi_metric_value WHERE name = 'FILE plot' AND sim_id = 'row00002'") == [
        ("plot/c.txt",)
    ]


def test_missing_markers_are_missing_values(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    """nan.csv's first column is `1.0, nan`: not ids. file_types' N/A is missing, not a level."""
    db = tmp_path / "nan.sqlite"
    ingest(cli, external("cinema_lib/nan.csv"), db)
    assert [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation")] == ["row00000", "row00001"]
    assert query(db, "SELECT sim_id, value FROM jdsi_metric_value WHERE name = 'zero'") == [("row00000", 1)]
    # Told to name a column when the one asked for has a missing marker.
    res = cli("ingest", external("cinema_lib/nan.csv"), "--db", tmp_path / "x.sqlite", "--id-column", "zero")
    assert res.code == 2 and len(res.err_lines) == 1
    assert "row 3: no zero (nan)" in res.err and "--id-column" in res.err

    db = tmp_path / "types.sqlite"
    ingest(cli, external("cinema_explorer/file_types.cdb"), db)
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'pdb' ORDER BY value") == [
        ("2LYZ",), ("caffeine",), ("good",), ("pdb100d.ent",)
    ]  # 16 N/A cells: no row, and no "N/A" level
    assert query(db, "SELECT count(*) FROM jdsi_param_value WHERE name = 'vti x-radius' AND value IS NULL") == [(14,)]


def test_integer_ids_sort_as_numbers(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite"
    ingest(cli, external("dsi_1.2.8/wildfire64_ensemble.db"), db)
    rows = json.loads(cli("select", "--db", db, "--where", "wind_speed >= 0", "--format", "json").out)
    assert [r["sim_id"] for r in rows] == [str(n) for n in range(1, 1740)]


def test_labels_are_not_axes(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    """CloverLeaf's timing runs: a git hash and a commit date per run label it; the committer
    (5 names over 12 runs) is an axis."""
    db = tmp_path / "c.sqlite"
    ingest(cli, external("lanl_dsi/clover_random_test.csv"), db)
    kinds = dict(query(db, "SELECT name, kind FROM jdsi_metric"))
    assert kinds["git_hash"] == kinds["git_committed_date"] == "text"
    assert query(db, "SELECT kind FROM jdsi_parameter WHERE name = 'git_committer'") == [("categorical",)]
    res = cli("select", "--db", db, "--where", "git_committer == 'caxwl'", "--format", "json")
    assert res.code == 0 and len(json.loads(res.out)) == 1


def test_dsi_csv_of_steps(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    """DSI's CSV of the CloverLeaf `output` table has 90 rows per run: per-step metrics in step
    order, with the logged time, as the same table in DSI's SQLite file gives."""
    db = tmp_path / "o.sqlite"
    ingest(cli, external("dsi_1.2.8/clover_output.csv"), db)
    assert dict(query(db, "SELECT name, per_step FROM jdsi_metric"))["wall_clock"] == 1
    assert query(db, "SELECT min(t), max(t), count(*) FROM jdsi_metric_value WHERE name = 'step'") == [(0, 89, 720)]
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'step' AND sim_id = '3' AND t = 4") == [(5,)]
    times = json.loads(query(db, "SELECT times FROM jdsi_simulation WHERE sim_id = '1'")[0][0])
    assert len(times) == 90 and times[0] == 0.0 and times == sorted(times)
    res = cli("select", "--db", db, "--time", "89", "--where", "wall_clock > 0", "--format", "json")
    assert res.code == 0 and [r["sim_id"] for r in json.loads(res.out)] == [str(n) for n in range(1, 9)]


def test_older_dsi_database_of_one_table(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    """lanl/dsi's GAN wildfire database predates the simulation table: its one table is read as
    the same rows its Cinema data.csv holds."""
    db, cdb = tmp_path / "g.sqlite", tmp_path / "c.sqlite"
    ingest(cli, external("lanl_dsi/gan_wildfire.db"), db)
    ingest(cli, external("lanl_dsi/wildfire_64.cdb"), cdb)
    assert query(db, "SELECT kind FROM jdsi_source") == [("dsi-sqlite",)]
    same = "SELECT sim_id, name, value FROM jdsi_param_value ORDER BY sim_id, name"
    assert query(db, same) == query(cdb, same)
    assert query(db, "SELECT kind FROM jdsi_metric WHERE name = 'FILE'") == [("file",)]


def test_short_cinema_rows_are_padded(cli: Cli, external: Callable[[str], Path], tmp_path: Path) -> None:
    """ParaView's CIS rows 4-6 leave out their last, empty field: missing, as Cinema reads it."""
    db = tmp_path / "p.sqlite"
    ingest(cli, external("cinemasci/paraview_extracts.cdb"), db)
    assert query(db, "SELECT sim_id FROM jdsi_param_value WHERE name = 'CISChannelColormap' AND value IS NULL "
                 "ORDER BY sim_id") == [("row00002",), ("row00005",)]

"""Ingest of Cinema, DSI SQLite and plain CSV sources: synthetic files written here, and the real
files of ../shared/realdata (those tests skip one by one when it is absent; the others always run).

Every test copies what it reads to a temporary folder first: the shared files are never touched.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyterlab_dsi import store as store_mod
from jupyterlab_dsi.query import select
from jupyterlab_dsi.store import SCHEMA_SQL, SCHEMA_VERSION, Store

from conftest import AS_SCHEMA_2, Ensemble, Result, as_schema_1, query, sha256, write_csv

from conftest import REALDATA, copy_writable  # noqa: E402

Cli = Callable[..., Result]


@pytest.fixture
def real(tmp_path: Path) -> Callable[[str], Path]:
    """Copy one file or folder of realdata under tmp_path (writable) and return the copy."""

    def copy(relative: str) -> Path:
        src, dst = REALDATA / relative, tmp_path / "src" / relative
        if not src.exists():
            pytest.skip(f"{src} is absent (set DSI_REALDATA)")
        return copy_writable(src, dst)

    return copy


def ingest_ok(cli: Cli, source: Path, db: Path, *options: object) -> Result:
    res = cli("ingest", "-q", source, "--db", db, *options)
    assert res.code == 0, res.err
    return res


def metrics(db: Path) -> dict[str, tuple[str, int, str | None]]:
    return {r[0]: r[1:] for r in query(db, "SELECT name, kind, per_step, unit FROM jdsi_metric")}


def parameters(db: Path) -> dict[str, tuple[str, str | None]]:
    return {r[0]: r[1:] for r in query(db, "SELECT name, kind, levels FROM jdsi_parameter")}


# -- DSI SQLite --------------------------------------------------------------------------------


def test_dsi_wildfire(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("dsi-wildfire/dsi_wildfire.db")
    before = sha256(source)
    db = tmp_path / "w.sqlite"
    ingest_ok(cli, source, db, "--metrics", "burned_area")
    assert sha256(source) == before  # opened read-only: not one byte changed
    assert query(db, "SELECT count(*) FROM jdsi_simulation WHERE path IS NULL AND sha256 IS NULL "
                 "AND times = '[]'") == [(1889,)]
    assert query(db, "SELECT kind, sha256 FROM jdsi_source") == [("dsi-sqlite", before)]
    params = parameters(db)
    assert params["fuels"][0] == "categorical" and params["wind_speed"][0] == "categorical"
    found = metrics(db)
    assert found["burned_area"] == ("number", 0, None)
    assert found["FILE"] == ("file", 0, None)  # URLs: kept, never an axis
    assert "FILE" not in params and "rationale_if_unsafe" not in params
    # NULL in the DSI file (NaN in the CSV) is missing: no row stored.
    assert query(db, "SELECT count(*) FROM jdsi_metric_value WHERE name = 'rationale_if_unsafe'")[0][0] < 1889
    res = cli("select", "--db", db, "--where", "burned_area > 10", "--format", "csv")
    assert res.code == 0, res.err
    lines = res.out_lines
    assert lines[0].split(",")[:2] == ["sim_id", "t"] and "burned_area" in lines[0].split(",")
    assert len(lines) - 1 == query(db, "SELECT count(*) FROM jdsi_metric_value "
                                   "WHERE name = 'burned_area' AND value > 10")[0][0] > 1000


def test_dsi_clover_per_step_and_units(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("dsi-clover3d/dsi_clover3d.db")
    # DSI writes units in dsi_units when its reader knows them; add some to the copy.
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE dsi_units (table_name TEXT, column_name TEXT, unit TEXT)")
        conn.executemany("INSERT INTO dsi_units VALUES (?,?,?)",
                         [("output", "time", "s"), ("input", "state2_density", "g/cc")])
    conn.close()
    before = sha256(source)
    db = tmp_path / "c.sqlite"
    ingest_ok(cli, source, db)
    assert sha256(source) == before
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(8,)]
    # The deck (`input`) holds the initial conditions: the one that varies is a numeric axis (eight
    # runs at eight densities), the constant ones and the simulation table's sim_datetime metrics.
    assert query(db, "SELECT name, kind, unit FROM jdsi_parameter") == [("state2_density", "numeric", "g/cc")]
    found = metrics(db)
    assert found["sim_datetime"] == ("text", 0, None) and found["x_cells"] == ("number", 0, None)
    assert found["time"] == ("number", 1, "s") and found["wall_clock"] == ("number", 1, None)
    assert found["control"] == ("text", 1, None)
    assert found["image_filepath"] == ("file", 1, None)  # viz_files: paths only
    # The 90 logged steps are kept at the 10 steps with a VTK file (clover.*.00010.vtk is step 10),
    # so that t means the same moment for distances and scalars; step 0 (the initial state) has no
    # log row.
    assert query(db, "SELECT min(t), max(t), count(*) FROM jdsi_metric_value WHERE name = 'step'") == [(1, 9, 72)]
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'step' AND sim_id = '3' AND t = 4") == [(40,)]
    # CloverLeaf logs the time a step starts: the file after step 10 is at t = 0.4, the last at 3.6.
    times = json.loads(query(db, "SELECT times FROM jdsi_simulation WHERE sim_id = '1'")[0][0])
    assert times == pytest.approx([0.4 * k for k in range(10)])
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'image_filepath' AND sim_id = '1' AND t = 0") == [
        ("run_1/clover.00000.00001.00000.vtk",)
    ]
    with Store(db, readonly=True) as store:
        chosen = select(store, None, time=9, where="state2_density >= 8 and wall_clock > 0")
        assert sorted(r[0] for r in chosen.rows) == ["7", "8"]
        assert {r[1] for r in chosen.rows} == {9}
        assert len(select(store, None).rows) == 8 * 10


def test_sqlite_that_is_not_dsi(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER, x REAL)")
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = sha256(other)
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", other, "--db", db)
    assert res.code == 2 and len(res.err_lines) == 1
    assert "no 'simulation' table" in res.err and "runs" in res.err
    assert not db.exists() and sha256(other) == before


def test_sqlite_of_one_table_is_a_table_of_runs(cli: Cli, tmp_path: Path) -> None:
    """Older DSI files have one data table and no simulation table: its rows are the runs, typed
    as stored (NULL and NaN missing); --id-column applies, and an empty table says so."""
    source = tmp_path / "old.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER, speed REAL, fuel TEXT, note TEXT)")
        conn.executemany("INSERT INTO runs VALUES (?,?,?,?)",
                         [(10 + i, [0.5, 1.25][i % 2], ["grass", "brush"][i % 2], None if i else f"n{i}")
                          for i in range(6)] + [(99, float("nan"), "grass", "last")])
    conn.close()
    before = sha256(source)
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    assert sha256(source) == before
    assert [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY rowid")] == [
        "10", "11", "12", "13", "14", "15", "99"]  # the unique, complete id column names runs
    assert parameters(db) == {"speed": ("categorical", "[0.5, 1.25]"), "fuel": ("categorical", '["brush", "grass"]')}
    assert query(db, "SELECT value FROM jdsi_param_value WHERE name = 'speed' AND sim_id = '99'") == [(None,)]
    assert query(db, "SELECT sim_id, value FROM jdsi_metric_value WHERE name = 'note' ORDER BY sim_id") == [
        ("10", "n0"), ("99", "last")]
    by_note = tmp_path / "by_note.sqlite"
    res = cli("ingest", "-q", source, "--db", by_note, "--id-column", "note")
    assert res.code == 2 and "no note (empty)" in res.err and "--id-column" in res.err
    assert not by_note.exists()
    with sqlite3.connect(source) as conn:
        conn.execute("DELETE FROM runs")
    conn.close()
    res = cli("ingest", "-q", source, "--db", tmp_path / "empty.sqlite")
    assert res.code == 2 and len(res.err_lines) == 1 and "table runs has no rows" in res.err


def test_id_column_refused_for_a_dsi_database(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "dsi.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE simulation (sim_id INTEGER, speed REAL)")
        conn.executemany("INSERT INTO simulation VALUES (?,?)", [(1, 0.5), (2, 1.5)])
    conn.close()
    res = cli("ingest", "-q", source, "--db", tmp_path / "db.sqlite", "--id-column", "speed")
    assert res.code == 2 and "DSI names runs by sim_id" in res.err
    assert not (tmp_path / "db.sqlite").exists()


# -- plain CSV ---------------------------------------------------------------------------------


def test_wildfire_csv(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("dsi-wildfire/wildfiredata.csv")
    db = tmp_path / "w.sqlite"
    ingest_ok(cli, source, db, "--metrics", "burned_area")
    assert query(db, "SELECT count(*), min(sim_id) FROM jdsi_simulation") == [(1889, "row00000")]
    assert query(db, "SELECT kind FROM jdsi_source") == [("csv",)]
    assert metrics(db)["burned_area"] == ("number", 0, None)
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'FILE' AND sim_id = 'row00000'")[0][0].startswith(
        "https://wifire-data.sdsc.edu/"
    )
    # Empty cells are missing, not empty text.
    assert query(db, "SELECT count(*) FROM jdsi_metric_value WHERE value = ''") == [(0,)]
    res = cli("select", "--db", db, "--where", "burned_area > 150000 and fuels == 'ST5_FF_DUET'", "--format", "json")
    assert res.code == 0, res.err
    expected = query(db, """SELECT count(*) FROM jdsi_metric_value m JOIN jdsi_param_value p
                            ON p.sim_id = m.sim_id AND p.name = 'fuels'
                            WHERE m.name = 'burned_area' AND m.value > 150000 AND p.value = 'ST5_FF_DUET'""")
    assert res.out.count('"sim_id"') == expected[0][0] > 0


def test_csv_names_that_need_backquotes(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "runs.csv"
    write_csv(source, [{"run": f"r{i}", "wind speed": i % 3, "a.b": i * 1.5, "d_loss": 0.1 * i} for i in range(30)])
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    assert query(db, "SELECT min(sim_id) FROM jdsi_simulation") == [("r0",)]  # first column, unique
    assert set(parameters(db)) == {"wind speed", "a.b"}
    assert metrics(db)["d_loss"] == ("number", 0, None)  # d_* columns are metrics
    res = cli("select", "--db", db, "--where", "`wind speed` == 1 and `a.b` < 20 and d_loss > 0.5", "--format", "csv")
    assert res.code == 0, res.err
    assert [line.split(",")[0] for line in res.out_lines[1:]] == ["r10", "r13", "r7"]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("sim_id,x\na,1\nb,2\na,3\n", ["row 4", "duplicate sim_id 'a'", "first at row 2"]),
        ("", ["empty file"]),
        ("sim_id,x\n", ["no runs"]),
        ("sim_id,t\na,1\n", ["'t'", "reserves"]),
    ],
    ids=["duplicate id", "empty", "header only", "reserved name"],
)
def test_csv_errors(cli: Cli, tmp_path: Path, content: str, fragments: list[str]) -> None:
    source = tmp_path / "runs.csv"
    source.write_text(content)
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", source, "--db", db)
    assert res.code == 2 and len(res.err_lines) == 1, res.err
    for fragment in fragments:
        assert fragment in res.err
    assert str(source) in res.err
    assert not db.exists()


def test_csv_unknown_options(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "runs.csv"
    write_csv(source, [{"a": 1, "b": 2}, {"a": 2, "b": 3}])
    for option, value in (("--id-column", "nope"), ("--metrics", "b,nope")):
        res = cli("ingest", "-q", source, "--db", tmp_path / "db.sqlite", option, value)
        assert res.code == 2 and len(res.err_lines) == 1, res.err
        assert f"{option} names nope" in res.err or f"{option} 'nope' is not a column" in res.err, res.err
        assert not (tmp_path / "db.sqlite").exists()


def test_csv_of_several_rows_per_run(cli: Cli, tmp_path: Path) -> None:
    """A repeated sim_id with a step column that orders each run (DSI's CSV of an `output`
    table): per-step metrics in step order, whatever the row order; without one, an error."""
    source = tmp_path / "steps.csv"
    rows = [{"sim_id": s, "step": n, "time": 0.5 * n, "energy": 10 * s + n} for s in (2, 1) for n in (3, 1, 2)]
    write_csv(source, rows)
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    assert metrics(db) == {"step": ("number", 1, None), "time": ("number", 1, None), "energy": ("number", 1, None)}
    assert query(db, "SELECT t, value FROM jdsi_metric_value WHERE name = 'energy' AND sim_id = '2' ORDER BY t") == [
        (0, 21), (1, 22), (2, 23)]
    assert json.loads(query(db, "SELECT times FROM jdsi_simulation WHERE sim_id = '1'")[0][0]) == [0.5, 1.0, 1.5]
    res = cli("select", "--db", db, "--time", "2", "--where", "energy > 20", "--format", "csv")
    assert res.code == 0 and res.out_lines[1:] == ["2,2,3,1.5,23"], res.out
    source.write_text("sim_id,step,x\na,1,5\na,1,6\n")  # two rows at one step: nothing orders them
    res = cli("ingest", "-q", source, "--db", tmp_path / "bad.sqlite")
    assert res.code == 2 and "duplicate sim_id 'a'" in res.err


@pytest.mark.parametrize(
    ("content", "ids"),
    [
        ("run,x\nr1,1\nN/A,2\nr3,3\n", ["row00000", "row00001", "row00002"]),  # first column: not ids
        ("x,run\n1,a\n2,b\n3,c\n", ["1", "2", "3"]),  # the first column when it is complete and unique
    ],
    ids=["first column with N/A", "first column"],
)
def test_csv_ids_never_missing_markers(cli: Cli, tmp_path: Path, content: str, ids: list[str]) -> None:
    source = tmp_path / "runs.csv"
    source.write_text(content)
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    assert [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY rowid")] == ids


@pytest.mark.parametrize("marker", ["", "nan", "NaN", "N/A"])
def test_missing_sim_id_tells_the_user_to_name_a_column(cli: Cli, tmp_path: Path, marker: str) -> None:
    source = tmp_path / "runs.csv"
    source.write_text(f"sim_id,x\na,1\n{marker},2\n")
    res = cli("ingest", "-q", source, "--db", tmp_path / "db.sqlite")
    assert res.code == 2 and len(res.err_lines) == 1, res.err
    assert f"row 3: no sim_id ({marker or 'empty'})" in res.err and "--id-column" in res.err
    assert not (tmp_path / "db.sqlite").exists()


def test_cinema_id_with_missing_values_is_data(cli: Cli, tmp_path: Path) -> None:
    cdb = tmp_path / "a.cdb"
    cdb.mkdir()
    (cdb / "data.csv").write_text("id,phi,FILE\n1,0,a.png\nNaN,10,b.png\n3,20,c.png\n")
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, cdb, db)
    assert [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY rowid")] == [
        "row00000", "row00001", "row00002"]
    assert query(db, "SELECT sim_id, value FROM jdsi_param_value WHERE name = 'id' ORDER BY sim_id") == [
        ("row00000", 1), ("row00001", None), ("row00002", 3)]  # kept as data


def test_cinema_file_columns_by_prefix(cli: Cli, tmp_path: Path) -> None:
    """Every column whose name begins with FILE holds paths, never an axis, however it goes on."""
    cdb = tmp_path / "b.cdb"
    cdb.mkdir()
    lines = ["phi,FILE,FILE plot,FILEimage,FILE_png"] + [f"{p},i{p}.png,p{p % 2}.csv,x{p % 2}.png,y{p % 2}.png"
                                                         for p in range(8)]
    (cdb / "data.csv").write_text("\n".join(lines) + "\n")
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, cdb, db)
    assert set(parameters(db)) == {"phi"}
    assert {n: k for n, (k, _, _) in metrics(db).items()} == {
        "FILE": "file", "FILE plot": "file", "FILEimage": "file", "FILE_png": "file"}


def test_text_that_differs_in_every_run_labels_it(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "runs.csv"
    write_csv(source, [{"run": i, "commit": f"c{i}abc", "fuel": ["grass", "brush"][i % 2], "note": "x" if i else ""}
                       for i in range(6)])
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    assert parameters(db) == {"fuel": ("categorical", '["brush", "grass"]')}
    assert metrics(db)["commit"] == ("text", 0, None) and metrics(db)["note"] == ("text", 0, None)


def test_integer_ids_sort_as_numbers(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "runs.csv"
    order = [100, 2, 10, 1, 11, 20, 3, 9]
    write_csv(source, [{"sim_id": i, "x": i % 3} for i in order] + [{"sim_id": "b7", "x": 1}, {"sim_id": "a", "x": 2}])
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, source, db)
    res = cli("select", "--db", db, "--format", "csv")
    assert res.code == 0, res.err
    assert [line.split(",")[0] for line in res.out_lines[1:]] == [
        "1", "2", "3", "9", "10", "11", "20", "100", "a", "b7"]


def test_counts_in_messages(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    source.write_text("name,x\nonly,1\n")
    db = tmp_path / "db.sqlite"
    res = ingest_ok(cli, source, db)
    assert res.out.startswith(f"ingested 1 simulation into {db};")
    saved = cli("select", "--db", db, "--save", "the one run")
    assert saved.code == 0, saved.err
    res = cli("verify", "--db", db)
    assert res.code == 0 and ": 1 member, sha256:" in res.out, res.out


def test_duckdb_file_is_named(cli: Cli, tmp_path: Path) -> None:
    """A DuckDB file (DSI's DuckDB backend) is said to be one, not 'not UTF-8 text'."""
    source = tmp_path / "runs.duckdb"
    source.write_bytes(b"\x5f\x2f\xb0\x46\x74\x99\x1b\xb0DUCK\xe7\x03" + bytes(4096))
    for options in ((), ("--format", "csv"), ("--format", "dsi-sqlite"), ("--format", "cinema")):
        res = cli("ingest", "-q", source, "--db", tmp_path / "db.sqlite", *options)
        assert res.code == 2 and len(res.err_lines) == 1, res.err
        assert "a DuckDB database (DSI's DuckDB backend)" in res.err and "UTF-8" not in res.err
        assert "duckdb runs.duckdb -c" in res.err
    other = tmp_path / "latin1.csv"
    other.write_bytes("name,x\ncaf\xe9,1\n".encode("latin-1"))
    res = cli("ingest", "-q", other, "--db", tmp_path / "db.sqlite")
    assert res.code == 2 and "not UTF-8 text; save the CSV as UTF-8" in res.err


def test_short_rows(cli: Cli, tmp_path: Path) -> None:
    """Cinema pads a row shorter than the header with missing cells (as its readers do); a plain
    CSV names the row, and a longer row is an error in both."""
    cdb = tmp_path / "s.cdb"
    cdb.mkdir()
    (cdb / "data.csv").write_text("phi,theta,FILE\n0,1,a.png\n10,2\n20,1,c.png\n30,2,d.png\n")
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, cdb, db)
    assert query(db, "SELECT sim_id FROM jdsi_metric_value WHERE name = 'FILE' ORDER BY sim_id") == [
        ("row00000",), ("row00002",), ("row00003",)]
    plain = tmp_path / "runs.csv"
    plain.write_text("phi,theta\n0,1\n10\n")
    res = cli("ingest", "-q", plain, "--db", tmp_path / "p.sqlite")
    assert res.code == 2 and "row 3: 1 fields where the header has 2" in res.err
    (cdb / "data.csv").write_text("phi,theta\n0,1,x\n")
    res = cli("ingest", "-q", cdb, "--db", tmp_path / "l.sqlite")
    assert res.code == 2 and "row 2: 3 fields where the header has 2" in res.err


def test_a_header_of_40000_columns(cli: Cli, tmp_path: Path) -> None:
    """The header checks are linear (they were quadratic: 42 s here): a repeated column among
    40,000 is still named, in a table of runs and in an ensemble's simulations.csv."""
    names = [f"c{i}" for i in range(40_000)]
    names[31_000] = "c17"
    for where, header in ((tmp_path / "wide.csv", names), (tmp_path / "ens" / "simulations.csv", ["sim_id", "path", *names])):
        where.parent.mkdir(exist_ok=True)
        where.write_text(",".join(header) + "\n" + ",".join("1" for _ in header) + "\n")
        res = cli("ingest", "-q", where.parent if where.name == "simulations.csv" else where, "--db", tmp_path / "db.sqlite")
        assert res.code == 2 and len(res.err_lines) == 1, res.err
        assert "column(s) c17 appear more than once" in res.err
    (tmp_path / "wide.csv").write_text(",".join(f"c{i}" for i in range(40_000)) + "\n" + "1," * 39_999 + "1\n")
    res = cli("ingest", "-q", tmp_path / "wide.csv", "--db", tmp_path / "db.sqlite", "--id-column", "nope")
    assert res.code == 2 and len(res.err_lines) == 1 and len(res.err) < 400, res.err  # named in part
    assert "--id-column 'nope' is not a column; the header has c0, c1," in res.err and "(40000 columns)" in res.err


def test_ensemble_missing_markers(cli: Cli, make_ensemble: Callable[..., Ensemble], tmp_path: Path) -> None:
    """An ensemble's simulations.csv reads NaN and N/A as missing, as the other sources do: never
    a level, never a sim_id."""
    ens = make_ensemble("ens")
    ens.rows[1]["energy"], ens.rows[2]["profile"] = "NaN", "N/A"
    write_csv(ens.csv, ens.rows)
    db = tmp_path / "db.sqlite"
    ingest_ok(cli, ens.root, db)
    assert parameters(db)["energy"] == ("numeric", "null")
    assert parameters(db)["profile"] == ("categorical", '["bump2", "bump10", "flat"]')
    assert query(db, "SELECT sim_id, name FROM jdsi_param_value WHERE value IS NULL ORDER BY sim_id") == [
        ("s01", "energy"), ("s02", "profile")]
    ens.rows[3]["sim_id"] = "nan"
    write_csv(ens.csv, ens.rows)
    res = cli("ingest", "-q", ens.root, "--db", tmp_path / "other.sqlite")
    assert res.code == 2 and len(res.err_lines) == 1 and "row 5: missing sim_id (nan)" in res.err, res.err


# -- Cinema ------------------------------------------------------------------------------------


def test_cinema_sphere(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("cinema/sphere.cdb")
    db = tmp_path / "s.sqlite"
    ingest_ok(cli, source, db)
    assert query(db, "SELECT count(*), min(sim_id) FROM jdsi_simulation") == [(20, "row00000")]
    assert query(db, "SELECT kind, path FROM jdsi_source") == [("cinema", str((source / "data.csv").resolve()))]
    assert parameters(db)["phi"][0] == "numeric"
    assert metrics(db)["theta"] == ("number", 0, None)  # never varies: a metric, not an axis
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'FILE' AND sim_id = 'row00000'") == [
        ("image/-180/0.png",)
    ]


def test_cinema_uncertainty_bubbles_without_images(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("cinema/uncertainty_bubbles.cdb") / "data.csv"  # the data.csv itself works too
    db = tmp_path / "u.sqlite"
    ingest_ok(cli, source, db)
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(409,)]
    found = metrics(db)
    assert sum(1 for kind, _, _ in found.values() if kind == "file") == 8
    assert query(db, "SELECT value FROM jdsi_metric_value WHERE name = 'FILE_gaussian' AND sim_id = 'row00001'") == [
        ("timesteps.0001_gaussian.png",)
    ]
    assert len(parameters(db)) + len(found) == 22 + 8


def test_cinema_big_bogus_nan(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    source = real("cinema/big_bogus_4.cdb")
    db = tmp_path / "b.sqlite"
    ingest_ok(cli, source, db)
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(10000,)]
    params = parameters(db)
    assert params["Integer_0"][0] == "numeric" and params["Float_1"][0] == "numeric"
    assert metrics(db)["String_2"] == ("text", 0, None)
    assert metrics(db)["FILE_IMG_6"] == ("file", 0, None)
    nan_cells = sum(1 for line in (source / "data.csv").read_text().splitlines()[1:]
                    if line.split(",")[0] in ("NaN", ""))
    assert nan_cells > 0
    assert query(db, "SELECT count(*) FROM jdsi_param_value WHERE name = 'Integer_0' AND value IS NULL") == [(nan_cells,)]
    assert query(db, "SELECT count(*) FROM jdsi_param_value WHERE typeof(value) = 'text' AND name = 'Float_1'") == [(0,)]


def test_cdb_without_data_csv(cli: Cli, tmp_path: Path) -> None:
    cdb = tmp_path / "empty.cdb"
    cdb.mkdir()
    res = cli("ingest", "-q", cdb, "--db", tmp_path / "db.sqlite")
    assert res.code == 2 and len(res.err_lines) == 1
    assert "data.csv: no such file" in res.err and str(cdb) in res.err
    assert not (tmp_path / "db.sqlite").exists()


# -- mixing with ensembles, and the schema migration -------------------------------------------


def test_ensemble_select_unchanged_by_metrics(
    cli: Cli, method: tuple[Ensemble, Path, str]
) -> None:
    _, db, method_id = method
    with Store(db, readonly=True) as store:
        chosen = select(store, method_id, time=0)
    assert chosen.columns == ["sim_id", "t", "cs", "profile", "energy", "d_shock", "d_edge", "d_density", "d_feature"]
    assert query(db, "SELECT kind FROM jdsi_source") == [("ensemble",)]


def _same_tables_as_fresh(db: Path) -> None:
    fresh = sqlite3.connect(":memory:")
    fresh.executescript(SCHEMA_SQL)
    normal = lambda rows: [(n, " ".join(s.split())) for n, s in rows]  # noqa: E731
    columns = lambda c: [  # noqa: E731
        (t, [r[1:3] for r in c.execute(f"PRAGMA table_info({t})")]) for (t,) in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'jdsi_%' ORDER BY name")
    ]
    conn = sqlite3.connect(db)
    assert columns(conn) == columns(fresh)
    written = ("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND (name LIKE 'jdsi_metric%' OR name LIKE"
               " 'jdsi_split%' OR name LIKE 'jdsi_run%' OR name LIKE 'jdsi_artifact%' OR name LIKE"
               " 'jdsi_proposal%' OR name IN ('jdsi_prediction', 'jdsi_stale', 'jdsi_sim_proposal')) ORDER BY name")
    assert normal(query(db, written)) == normal(fresh.execute(written).fetchall())
    conn.close()


def test_migration_1_to_current(cli: Cli, ingested: tuple[Ensemble, Path]) -> None:
    assert SCHEMA_VERSION == 6 and {1, 2, 3, 4, 5} <= set(store_mod.MIGRATIONS)
    _, db = ingested
    as_schema_1(db)
    with Store(db, readonly=True) as store:  # a reader upgrades the file once, in a transaction
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    _same_tables_as_fresh(db)
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(6,)]
    res = cli("select", "--db", db, "--format", "csv")  # no method, no metrics: each run at t = 0
    assert res.code == 0 and len(res.out_lines) == 7, res.err


def test_migration_2_to_current_keeps_datasets(cli: Cli, shared_method: tuple[Ensemble, Path, str], tmp_path: Path) -> None:
    """A schema-2 dataset (weights in w_shock, w_edge only) reads back with the same feature."""
    _, shared, method_id = shared_method
    db = tmp_path / "copy.sqlite"
    shutil.copyfile(shared, db)
    saved = cli("select", "--db", db, "--method", method_id, "--time", "0", "--weights", "2", "0.5",
                "--where", "d_feature < 1", "--save", "before the upgrade")
    assert saved.code == 0, saved.err
    conn = sqlite3.connect(db)
    conn.executescript(f"{AS_SCHEMA_2} PRAGMA user_version = 2;")
    conn.close()
    Store(db).close()  # a writer upgrades it (read-only commands then find it current)
    res = cli("export", saved.last_line, "--db", db)
    assert res.code == 0, res.err
    assert json.loads(res.out)["weights"] == {"d_shock": 2.0, "d_edge": 0.5}
    _same_tables_as_fresh(db)
    assert cli("verify", saved.last_line, "--db", db).code == 0
    methods = json.loads(cli("methods", "--db", db, "--format", "json").out)
    assert [(m["geometry"], m["match_time"], m["field"]) for m in methods] == [(None, "index", "density")]


def test_postprocess_refuses_tables_without_fields(cli: Cli, tmp_path: Path) -> None:
    """A Cinema or CSV ingest has no density fields: a clear error, not a crash."""
    csv = tmp_path / "runs.csv"
    csv.write_text("sim_id,speed\na,1\nb,2\n")
    db = tmp_path / "runs.sqlite"
    assert cli("ingest", csv, "--db", db).code == 0
    res = cli("postprocess", "--db", db, "--ground-truth", "a", "--norm", "L2")
    assert res.code == 2
    assert "have no field file" in res.err and "Traceback" not in res.err


def test_a_table_of_runs_saves_and_verifies_without_a_method(cli: Cli, real: Callable[[str], Path], tmp_path: Path) -> None:
    """DSI's wildfire table has no fields: select and save by its columns, and `verify`
    recomputes the filter (a later edit of the members is caught)."""
    db = tmp_path / "w.sqlite"
    ingest_ok(cli, real("dsi-wildfire/dsi_wildfire.db"), db)
    saved = cli("select", "--db", db, "--where", "burned_area > 100000 and wind_speed >= 8",
                "--weights", "burned_area=0.001", "wind_speed=1", "--save", "big fast fires")
    assert saved.code == 0, saved.err
    record = json.loads(cli("export", saved.last_line, "--db", db).out)
    assert (record["method"], record["time"], record["weights"]) == (None, 0, {"burned_area": 0.001, "wind_speed": 1.0})
    rows = json.loads(cli("select", "--db", db, "--where", "burned_area > 100000 and wind_speed >= 8", "--format", "json").out)
    assert record["size"] == len(rows) > 0
    assert cli("verify", "--db", db).code == 0
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM jdsi_dataset_member WHERE sim_id = ?", (rows[0]["sim_id"],))
    conn.commit()
    conn.close()
    res = cli("verify", "--db", db)
    assert res.code != 0 and "members" in res.out + res.err


def test_the_panel_state_of_a_table_of_runs_becomes_kernel_variables(
    cli: Cli, real: Callable[[str], Path], tmp_path: Path
) -> None:
    """The bridge without a method: dsi_selection holds the filtered runs with their parameters,
    metrics and the panel's d_feature; dsi_method is None."""
    from jupyterlab_dsi.bridge import check_state, panel_variables
    from jupyterlab_dsi.errors import DsiError

    db = tmp_path / "w.sqlite"
    ingest_ok(cli, real("dsi-wildfire/dsi_wildfire.db"), db)
    where = "burned_area > 100000"
    state = check_state({"method": None, "t": 0, "weights": {"burned_area": 0.001}, "where": where})
    out = panel_variables(db, state)
    rows = json.loads(cli("select", "--db", db, "--where", where, "--format", "json").out)
    selection = out["selection"]
    assert out["method"] is None
    assert sorted(selection.index) == sorted(r["sim_id"] for r in rows) and len(rows) > 0
    assert selection["d_feature"].tolist() == pytest.approx((selection["burned_area"] * 0.001).tolist())
    assert {"wind_speed", "burned_area"} <= set(selection.columns)
    with pytest.raises(DsiError, match="'d_density', not a number column"):  # the panel shows it
        panel_variables(db, check_state({"method": None, "t": 0, "weights": {"d_density": 1}, "where": ""}))

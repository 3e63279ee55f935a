"""A SQLite database written by LANL's DSI, opened read-only and never changed.

DSI writes a ``simulation(sim_id, ...)`` table and data tables that carry a ``sim_id`` column;
it may add ``dsi_units(table_name, column_name, unit)`` (older DSI: ``column`` for
``column_name``). A table with at most one row per run gives per-run columns; one with several
rows per run (CloverLeaf's ``output``) gives per-step columns. Tables without a ``sim_id``
column (DSI's runTable, data cards) are not about runs and are left out.

Older DSI wrote a database without a ``simulation`` table (lanl/dsi's GAN wildfire example: one
``wfdata`` table): a database that holds a single table is read as a table of runs, one row each,
the way a Cinema data.csv is.

``viz_files`` (CloverLeaf: one legacy VTK file per output step, relative to the database's
folder) are kept as file metrics in step order; :func:`field_files` gives them back per run, so
that post-processing can read a run's fields from them.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..store import APPLICATION_ID, SQLITE_MAGIC, inspect_file, quote_identifier
from .table import (
    IngestError, RunColumn, StepColumn, Table, check_names, duckdb_error, finite_number, is_file_column,
    pick_ids, text_table,
)

# Columns that order a run's rows into steps, best first. CloverLeaf's `timestep` is the step
# size, not an index: a candidate with ties within a run cannot order it and is passed over.
STEP_ORDER = ("step", "timestep", "time")
SKIPPED = ("dsi_units",)
# File metrics that hold a run's fields (one per step), as opposed to images or logs.
FIELD_SUFFIXES = (".vtk",)


def affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html, 3.1)."""
    decl = declared.upper()
    if "INT" in decl:
        return "INTEGER"
    if any(word in decl for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not decl or "BLOB" in decl:
        return "BLOB"
    if any(word in decl for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def is_sqlite(path: Path) -> bool:
    """Whether the file starts as every SQLite database does."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror})") from None


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write: the source's bytes stay as they are."""
    if not is_sqlite(path):
        raise duckdb_error(path) or IngestError(f"{path}: not an SQLite database")
    if inspect_file(path)[0] == APPLICATION_ID:
        raise IngestError(
            f"{path}: a jupyterlab-dsi database, not a DSI one; open it directly instead of ingesting it"
        )
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def read(path: Path, metrics: list[str] | None = None, id_column: str | None = None) -> Table:
    conn = connect_readonly(path)
    try:
        tables = _tables(conn)
        if "simulation" not in tables and len(tables) == 1:
            return _one_table(conn, path, tables[0], id_column, metrics or [])
        if id_column is not None:
            raise IngestError(
                f"{path}: --id-column applies to a CSV, a Cinema database or a database of one "
                "table; DSI names runs by sim_id"
            )
        return _read(conn, path, set(metrics or []))
    except sqlite3.DatabaseError as exc:
        raise IngestError(f"{path}: cannot be read as SQLite ({exc})") from None
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    return [(r[1], r[2] or "") for r in conn.execute(f"PRAGMA table_info({quote_identifier(table)})")]


def _units(conn: sqlite3.Connection, tables: list[str]) -> dict[tuple[str, str], str]:
    if "dsi_units" not in tables:
        return {}
    names = [c for c, _ in _columns(conn, "dsi_units")]
    column = next((c for c in ("column_name", "column") if c in names), None)
    if "table_name" not in names or column is None or "unit" not in names:
        return {}  # a layout this reader does not know: units are a nicety, not a reason to fail
    sql = f"SELECT table_name, {quote_identifier(column)}, unit FROM dsi_units"
    return {(t, c): u for t, c, u in conn.execute(sql) if t and c and u}


def _rows(conn: sqlite3.Connection, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    select = f"SELECT {', '.join(quote_identifier(n) for n in names)} FROM {quote_identifier(table)}"
    try:
        return conn.execute(select + " ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:  # a WITHOUT ROWID table: its own key order
        return conn.execute(select).fetchall()


def _typed(path: Path, table: str, name: str, numeric: bool, values: list[Any], where: list[str]) -> list[Any]:
    """Values as numbers or text; numbers stored as text in a numeric column are parsed."""
    out = []
    for value, sim_id in zip(values, where):
        if isinstance(value, bytes):
            raise IngestError(
                f"{path}, table {table}, column {name}, sim_id {sim_id}: a binary value; "
                "only numbers and text can be ingested (leave the column out in a copy)"
            )
        if numeric and isinstance(value, str):
            number = finite_number(value)
            if number is None and value.strip().lower() not in ("", "nan"):
                raise IngestError(
                    f"{path}, table {table}, column {name}, sim_id {sim_id}: {value!r} in a numeric "
                    "column; fix the value or the column's type in a copy of the database"
                )
            value = number
        if isinstance(value, float) and not value == value:  # NaN stored as a REAL
            value = None
        out.append(value)
    return out


@dataclass
class _Rows:
    """One DSI table's rows grouped by run (in step order for a per-step table)."""

    name: str
    data: list[str]  # its columns other than sim_id
    kinds: dict[str, str]  # declared types
    by_sim: dict[str, list[tuple[Any, ...]]]
    per_step: bool


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )]


def _cell(path: Path, table: str, name: str, number: int, value: Any) -> str:
    """A value as CSV text (repr keeps every float's digits), so that one typing rule serves
    this table and a CSV; NULL is an empty (missing) cell."""
    if isinstance(value, bytes):
        raise IngestError(
            f"{path}, table {table}, column {name}, row {number}: a binary value; "
            "only numbers and text can be ingested (leave the column out in a copy)"
        )
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _one_table(conn: sqlite3.Connection, path: Path, table: str, id_column: str | None,
               metrics: list[str]) -> Table:
    header = [n for n, _ in _columns(conn, table)]
    rows = [[_cell(path, table, n, i, v) for n, v in zip(header, row)]
            for i, row in enumerate(_rows(conn, table, header), start=1)]
    if not rows:
        raise IngestError(f"{path}: table {table} has no rows")
    id_index, ids = pick_ids(path, header, rows, id_column, strict=False)
    return text_table("dsi-sqlite", path, header, rows, id_index, ids, metrics)


def _read(conn: sqlite3.Connection, path: Path, metrics: set[str]) -> Table:
    tables = _tables(conn)
    if "simulation" not in tables:
        raise IngestError(
            f"{path}: no 'simulation' table, so not a database written by DSI (tables: "
            f"{', '.join(tables) or 'none'}); for other data export a CSV with one row per run "
            "and ingest that"
        )
    units = _units(conn, tables)
    table_obj = Table(kind="dsi-sqlite", path=path, sim_ids=_sim_ids(conn, path))
    read = [r for t in ["simulation", *(t for t in tables if t not in ("simulation", *SKIPPED))]
            if (r := _table_rows(conn, path, t, set(table_obj.sim_ids), table_obj)) is not None]
    _align_to_fields(read, table_obj)
    # DSI's Cloverleaf reader puts the deck in `input`: then it alone holds the initial conditions,
    # and the simulation table's own columns (sim_datetime) are facts about the run, not axes.
    deck = "input" in {r.name for r in read}
    taken: set[str] = set()
    for rows in read:
        for i, name in enumerate(rows.data):
            label = name if name not in taken else f"{rows.name}.{name}"
            check_names(f"{path}, table {rows.name}", [label])
            taken.add(label)
            numeric = _numeric(rows.kinds[name], [r[i] for rs in rows.by_sim.values() for r in rs])
            common = dict(numeric=numeric, unit=units.get((rows.name, name)),
                          file=is_file_column(name) or rows.name == "viz_files")
            if rows.per_step:
                values = {
                    s: _typed(path, rows.name, name, numeric, [r[i] for r in rows.by_sim[s]], [s] * len(rows.by_sim[s]))
                    for s in table_obj.sim_ids if s in rows.by_sim
                }
                table_obj.steps.append(StepColumn(label, values, **common))
            else:
                cells = [rows.by_sim[s][0][i] if rows.by_sim.get(s) else None for s in table_obj.sim_ids]
                values = _typed(path, rows.name, name, numeric, cells, table_obj.sim_ids)
                metric = label in metrics or (deck and rows.name == "simulation")
                table_obj.columns.append(RunColumn(label, values, metric=metric, **common))
    return table_obj


def _table_rows(conn: sqlite3.Connection, path: Path, table: str, known: set[str], out: Table) -> _Rows | None:
    declared = _columns(conn, table)
    names = [n for n, _ in declared]
    data = [n for n in names if n != "sim_id"]
    if "sim_id" not in names or not data:
        return None
    by_sim: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for number, row in enumerate(_rows(conn, table, ["sim_id", *data]), start=1):
        sim_id = None if row[0] is None else str(row[0])
        if sim_id not in known:
            raise IngestError(
                f"{path}, table {table}, row {number}: sim_id {row[0]!r} is not in the "
                "simulation table; every row must belong to a run"
            )
        by_sim[sim_id].append(row[1:])
    kinds = dict(declared)
    per_step = any(len(v) > 1 for v in by_sim.values())
    if per_step:
        _order_steps(table, data, kinds, by_sim, out)
    return _Rows(table, data, kinds, by_sim, per_step)


def _field_steps(read: list[_Rows]) -> tuple[_Rows, dict[str, list[int]]] | None:
    """The table of field files and, per run, the simulation step of each file, taken from the
    number that ends its name (CloverLeaf's clover.00000.00001.00010.vtk is step 10)."""
    for rows in read:
        if not rows.per_step:
            continue
        for i, name in enumerate(rows.data):
            paths = [r[i] for rs in rows.by_sim.values() for r in rs]
            if not paths or not all(isinstance(p, str) and p.lower().endswith(FIELD_SUFFIXES) for p in paths):
                continue
            steps = {s: [_trailing_number(r[i]) for r in rs] for s, rs in rows.by_sim.items()}
            if all(n is not None for ns in steps.values() for n in ns):
                return rows, steps  # type: ignore[return-value]
            return None
    return None


def _trailing_number(path: str) -> int | None:
    match = re.search(r"(\d+)$", PurePosixPath(path.replace("\\", "/")).stem)
    return int(match.group(1)) if match else None


def _align_to_fields(read: list[_Rows], out: Table) -> None:
    """Keep a per-step table's rows at the steps that have field files, so that a per-step scalar
    at step index t describes the same moment as the distances at t (CloverLeaf logs 90 steps and
    writes a VTK file every 10th). The simulated time of a field step comes from the table's
    ``time`` column: CloverLeaf logs the time at which a step starts (step 1 at time 0), so the
    state written after step n is at the start time of step n + 1, or step n's time plus its
    ``timestep``. Rows are matched on a numeric ``step`` column; a field step with no row (the
    initial state, step 0) has missing values. The DSI file keeps every row."""
    found = _field_steps(read)
    if found is None:
        return
    fields, steps = found
    for rows in read:
        if rows is fields or not rows.per_step or "step" not in rows.data:
            continue
        at = rows.data.index("step")
        if not all(isinstance(r[at], int) for rs in rows.by_sim.values() for r in rs):
            continue
        empty = (None,) * len(rows.data)
        for sim_id, wanted in steps.items():
            by_step = {r[at]: r for r in rows.by_sim.get(sim_id, [])}
            times = _field_times(rows, by_step, wanted)
            if times is not None:
                out.times[sim_id] = times
            rows.by_sim[sim_id] = [by_step.get(n, empty) for n in wanted]


def _field_times(rows: _Rows, by_step: dict[int, tuple[Any, ...]], wanted: list[int]) -> list[float] | None:
    if "time" not in rows.data or not by_step:
        return None
    t_at = rows.data.index("time")
    dt_at = rows.data.index("timestep") if "timestep" in rows.data else None
    first = by_step[min(by_step)]
    starts = min(by_step) >= 1 and first[t_at] == 0  # the time logged is the step's start
    out = []
    for n in wanted:
        row, following = by_step.get(n), by_step.get(n + 1)
        if not starts:
            value = None if row is None else row[t_at]
        elif following is not None:
            value = following[t_at]
        elif row is not None and dt_at is not None:
            value = row[t_at] + row[dt_at] if isinstance(row[dt_at], (int, float)) else None
        else:
            value = first[t_at] if n < min(by_step) else None
        if not isinstance(value, (int, float)):
            return None
        out.append(float(value))
    return out


def _sim_ids(conn: sqlite3.Connection, path: Path) -> list[str]:
    if "sim_id" not in [n for n, _ in _columns(conn, "simulation")]:
        raise IngestError(f"{path}: the simulation table has no sim_id column, so DSI did not write it")
    ids: dict[str, int] = {}
    for number, (value,) in enumerate(_rows(conn, "simulation", ["sim_id"]), start=1):
        if value is None or str(value) in ids:
            what = "no sim_id" if value is None else f"duplicate sim_id {value!r} (first at row {ids[str(value)]})"
            raise IngestError(f"{path}, table simulation, row {number}: {what}; sim_ids must be unique")
        ids[str(value)] = number
    if not ids:
        raise IngestError(f"{path}: the simulation table has no rows")
    return list(ids)


def _numeric(declared: str, values: list[Any]) -> bool:
    """By affinity; an untyped (BLOB-affinity) column by what it holds."""
    kind = affinity(declared)
    if kind != "BLOB":
        return kind != "TEXT"
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) for v in present)


def _order_steps(
    table: str, data: list[str], kinds: dict[str, str],
    by_sim: dict[str, list[tuple[Any, ...]]], out: Table,
) -> None:
    """Sort each run's rows into step order, and take its times from a ``time`` column."""
    for key in STEP_ORDER:
        if key not in data or affinity(kinds[key]) == "TEXT":
            continue
        i = data.index(key)
        columns = [[r[i] for r in rows] for rows in by_sim.values()]
        usable = all(
            all(isinstance(v, (int, float)) for v in col) and len(set(col)) == len(col) for col in columns
        )
        if usable:
            for rows in by_sim.values():
                rows.sort(key=lambda r: r[i])
            break
    if "time" in data:
        i = data.index("time")
        for sim_id, rows in by_sim.items():
            times = [r[i] for r in rows]
            if sim_id not in out.times and all(isinstance(v, (int, float)) for v in times):
                out.times[sim_id] = [float(v) for v in times]


def field_files(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Each run's field files in step order, from the first file metric (by position) whose
    values all name VTK files; read from a jupyterlab-dsi store, not from the DSI file."""
    rows = conn.execute(
        """SELECT v.sim_id, v.name, v.value FROM jdsi_metric_value v
           JOIN jdsi_metric m ON m.name = v.name
           WHERE m.kind = 'file' ORDER BY v.sim_id, m.position, v.t"""
    ).fetchall()
    by_metric: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for sim_id, name, value in rows:
        by_metric[sim_id][name].append(str(value))
    out: dict[str, list[str]] = {}
    for sim_id, metrics in by_metric.items():
        for values in metrics.values():  # insertion order follows m.position
            if all(v.lower().endswith(FIELD_SUFFIXES) for v in values):
                out[sim_id] = values
                break
    return out

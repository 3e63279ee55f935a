"""The one in-memory form of every non-ensemble source, and how its columns become axes.

Each reader (Cinema, DSI SQLite, plain CSV) turns its input into a :class:`Table`: one entry per
run, per-run columns and per-step columns. :func:`classify` then decides, the same way for
every format, which per-run columns are parameters (the axes of the panel) and which are
metrics (kept, filterable when numeric, never axes).
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DsiError

# Names the filter language already gives a meaning to: a column may not take one of them.
RESERVED = ("sim_id", "t", "d_shock", "d_edge", "d_density", "d_feature")
MAX_NUMBER_LEVELS = 12  # a numeric column with at most this many values is categorical
MAX_TEXT_LEVELS = 24  # a text column with more values is an id, a URL or a note: not an axis
# Cinema and pandas write NaN for a missing value, cinema_explorer's files N/A (compared lowercase).
MISSING = frozenset({"", "nan", "n/a"})
DUCKDB_MAGIC = b"DUCK"  # at byte 8 of every DuckDB database file


class IngestError(DsiError):
    """A source that cannot be ingested; the message names the file, table, row or column."""


@dataclass
class RunColumn:
    """One value per run (``Table.sim_ids`` order); None is missing."""

    name: str
    values: list[Any]
    numeric: bool
    unit: str | None = None
    file: bool = False  # a path or URL (Cinema FILE columns, DSI viz_files): never an axis
    metric: bool = False  # named a metric by the user (--metrics) or by convention (d_*)


@dataclass
class StepColumn:
    """Values per run in step order: t is the index in each run's list."""

    name: str
    values: dict[str, list[Any]]
    numeric: bool
    unit: str | None = None
    file: bool = False


@dataclass
class Table:
    kind: str  # jdsi_source.kind: 'cinema' | 'dsi-sqlite' | 'csv'
    path: Path  # the file whose bytes are hashed and recorded as the source
    sim_ids: list[str]
    columns: list[RunColumn] = field(default_factory=list)
    steps: list[StepColumn] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # 'number' | 'text' | 'file'
    per_step: bool
    unit: str | None
    rows: list[tuple[int, str, Any]]  # (t, sim_id, value), missing values left out


@dataclass(frozen=True)
class Classified:
    parameters: list[dict[str, Any]]  # name, kind, levels, unit (as jdsi_parameter holds them)
    values: dict[str, list[Any]]  # parameter name -> one value per run
    metrics: list[Metric]


def natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def level_key(level: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then text in natural order."""
    return (1, natural_key(level)) if isinstance(level, str) else (0, level)


def finite_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def as_number(value: float) -> int | float:
    """Integral values as int, so that 3 and 3.0 are one level and print as 3."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def listed(names: list[str], limit: int = 20) -> str:
    """Names for a one-line message: a wide file's header is named in part, with the count."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} columns)"


def repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted: one pass, so 40,000 columns take no time."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def typed_cells(cells: list[str]) -> tuple[bool, list[Any]]:
    """(numeric, values) of a text column: numeric when every present cell is a finite number."""
    present = [None if is_missing(c) else c for c in cells]
    numbers = [finite_number(c) if c is not None else None for c in present]
    numeric = any(c is not None for c in present) and all(
        n is not None for c, n in zip(present, numbers) if c is not None
    )
    if numeric:
        return True, [None if n is None else as_number(n) for n in numbers]
    return False, present


def is_file_column(name: str) -> bool:
    """Cinema Spec D: every column whose name begins with FILE (FILE, FILE_png, `FILE plot`), as
    the spec and every Cinema reader test the prefix; DSI's wildfire example follows it too."""
    return name.startswith("FILE")


def duckdb_error(path: Path) -> IngestError | None:
    """The error for a DuckDB file (DSI's DuckDB backend), None for any other file: told from
    its first bytes, so that it is named for what it is whatever --format says."""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        return IngestError(f"{path}: cannot be read ({exc.strerror})")
    if head[8:12] != DUCKDB_MAGIC:
        return None
    return IngestError(
        f"{path}: a DuckDB database (DSI's DuckDB backend), which jupyterlab-dsi does not read "
        "(it reads SQLite, Cinema and CSV); write it with DSI's Sqlite backend, or export each "
        f"table as CSV (duckdb {path.name} -c \"COPY simulation TO 'simulation.csv' (HEADER)\"), "
        "and ingest that"
    )


def not_text(path: Path) -> IngestError:
    """What a file that is not UTF-8 text is, when its bytes say so, and what to do instead."""
    return duckdb_error(path) or IngestError(f"{path}: not UTF-8 text; save the CSV as UTF-8")


def file_in(source: Path, name: str, why: str) -> Path:
    """``source/name`` for a folder, ``source`` itself for a file; an error when it is missing."""
    path = source / name if source.is_dir() else source
    if not path.is_file():
        raise IngestError(f"{path}: no such file; {why}")
    return path


def read_csv(path: Path, *, pad: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV, with one-line errors for what makes it unreadable.

    ``pad`` fills a row shorter than the header with missing cells, as Cinema readers (pandas)
    do: ParaView writes CIS rows without their trailing empty fields. A longer row is an error.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise not_text(path) from None
    except csv.Error as exc:
        raise IngestError(f"{path}: not a readable CSV ({exc})") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines are not runs
    if not rows:
        raise IngestError(f"{path}: empty file; a CSV needs a header line and one row per run")
    header = [h.strip() for h in rows[0]]
    duplicates = repeated(header)
    if duplicates:
        raise IngestError(f"{path}: column(s) {', '.join(duplicates)} appear more than once")
    if any(not h for h in header):
        raise IngestError(f"{path}: column {header.index('') + 1} has no name in the header")
    for number, row in enumerate(rows[1:], start=2):
        if pad and len(row) < len(header):
            row.extend([""] * (len(header) - len(row)))
        if len(row) != len(header):
            raise IngestError(
                f"{path}, row {number}: {len(row)} fields where the header has {len(header)}"
            )
    if len(rows) == 1:
        raise IngestError(f"{path}: no runs (the CSV has a header and no rows)")
    return header, rows[1:]


def unique_ids(path: Path, column: str, cells: list[str]) -> list[str]:
    """The run ids of one column: present and unique, or an error naming the row."""
    seen: dict[str, int] = {}
    for number, cell in enumerate(cells, start=2):  # row 1 is the header
        sim_id = cell.strip()
        if is_missing(sim_id):
            raise IngestError(
                f"{path}, row {number}: no {column} ({sim_id or 'empty'}); every run needs an id: "
                "name a column without missing values with --id-column"
            )
        if sim_id in seen:
            raise IngestError(
                f"{path}, row {number}: duplicate {column} {sim_id!r} (first at row {seen[sim_id]}); "
                "ids must be unique (choose another column with --id-column)"
            )
        seen[sim_id] = number
    return list(seen)


def check_names(where: str, names: list[str]) -> None:
    """Column names must not take a name the filter language reserves, nor repeat."""
    for name in names:
        if name in RESERVED:
            raise IngestError(
                f"{where}: column {name!r} has a name the filter language reserves "
                f"({', '.join(RESERVED)}); rename it in a copy of the source"
            )
    duplicates = repeated(names)
    if duplicates:
        raise IngestError(f"{where}: column(s) {', '.join(duplicates)} appear more than once")


def classify(table: Table) -> Classified:
    """Parameters (categorical or numeric axes) and metrics of a table; see docs/formats.md."""
    parameters: list[dict[str, Any]] = []
    values: dict[str, list[Any]] = {}
    metrics: list[Metric] = []
    for column in table.columns:
        distinct = {v for v in column.values if v is not None}
        kind = None
        metric = column.file or column.metric or column.name.startswith("d_")
        present = sum(v is not None for v in column.values)
        # Text that differs in every run (a git hash, a date, a name) labels runs: an axis of
        # it would have one level per run and group nothing.
        label = not column.numeric and len(distinct) == present
        if not metric and not label and len(distinct) > 1:  # a column that never varies is no axis
            limit = MAX_NUMBER_LEVELS if column.numeric else MAX_TEXT_LEVELS
            # Numbers are levels only when they repeat (as the ensemble ingest decides): eight
            # runs at eight state-2 densities are a numeric axis, not eight categories.
            repeats = not column.numeric or present >= 2 * len(distinct)
            if len(distinct) <= limit and repeats:
                kind = "categorical"
            elif column.numeric:
                kind = "numeric"
        if kind is None:
            rows = [(0, s, v) for s, v in zip(table.sim_ids, column.values) if v is not None]
            metrics.append(Metric(column.name, _metric_kind(column), False, column.unit, rows))
            continue
        levels = sorted(distinct, key=level_key) if kind == "categorical" else None
        parameters.append({"name": column.name, "kind": kind, "levels": levels, "unit": column.unit})
        values[column.name] = column.values
    for step in table.steps:
        rows = [
            (t, sim_id, v)
            for sim_id, series in step.values.items()
            for t, v in enumerate(series)
            if v is not None
        ]
        metrics.append(Metric(step.name, _metric_kind(step), True, step.unit, rows))
    return Classified(parameters, values, metrics)


def _metric_kind(column: RunColumn | StepColumn) -> str:
    return "file" if column.file else "number" if column.numeric else "text"


def id_column(
    path: Path, header: list[str], rows: list[list[str]], requested: str | None, *, strict: bool
) -> int | None:
    """The index of the column that names runs, or None when runs are named by row index.

    ``requested`` (--id-column) must exist. Otherwise a ``sim_id`` or ``id`` column is used: when
    ``strict`` (a plain CSV, where such a column is the user's statement that it names runs) it
    is checked later and a missing or repeated id is an error; for Cinema, where ``id`` may be
    any measure, only a complete and unique one names runs. Then a plain CSV's first column,
    when it is complete and unique. A missing marker (empty, NaN, N/A) never becomes an id.
    """
    if requested is not None:
        if requested not in header:
            raise IngestError(
                f"{path}: --id-column {requested!r} is not a column; the header has {listed(header)}"
            )
        return header.index(requested)

    def names_runs(index: int) -> bool:
        cells = [r[index].strip() for r in rows]
        return not any(is_missing(c) for c in cells) and len(set(cells)) == len(cells)

    for name in ("sim_id", "id"):
        if name in header and (strict or names_runs(header.index(name))):
            return header.index(name)
    if strict and names_runs(0):
        return 0
    return None


def pick_ids(
    path: Path, header: list[str], rows: list[list[str]], requested: str | None, *, strict: bool
) -> tuple[int | None, list[str]]:
    """(index of the id column or None, one id per row): see :func:`id_column`; failing a
    column, runs are named by row index (row00000, ...)."""
    index = id_column(path, header, rows, requested, strict=strict)
    if index is None:
        return None, [f"row{i:05d}" for i in range(len(rows))]
    return index, unique_ids(path, header[index], [r[index] for r in rows])


def text_table(
    kind: str, path: Path, header: list[str], rows: list[list[str]], id_index: int | None,
    ids: list[str], metrics: list[str],
) -> Table:
    """A Table from CSV text (Cinema's data.csv or a plain CSV): every column but the id one."""
    known, chosen = set(header), set(metrics)
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise IngestError(
            f"{path}: --metrics names {', '.join(unknown)}, not a column; the header has {listed(header)}"
        )
    names = [h for i, h in enumerate(header) if i != id_index]
    check_names(str(path), names)
    columns = []
    for i, name in enumerate(header):
        if i == id_index:
            continue
        numeric, values = typed_cells([r[i] for r in rows])
        columns.append(RunColumn(name, values, numeric, file=is_file_column(name), metric=name in chosen))
    return Table(kind=kind, path=path, sim_ids=ids, columns=columns)

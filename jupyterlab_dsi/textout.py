"""Text output shared by the CLI and the library: rows as a table, CSV or JSON, and counts.

Kept apart from :mod:`jupyterlab_dsi.cli` so that library modules (proposals, ingest) need not
import the command line to write a table or a count.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from typing import Any, TextIO


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: TextIO
) -> None:
    """Rows as an aligned table, CSV (empty field for NULL) or a JSON array of objects."""
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row)} for row in rows]
        json.dump(records, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        # The csv module quotes only what holds the line terminator ("\n"): a bare CR would split
        # the row for every reader, so a row with one is written fully quoted.
        quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for cells in [columns, *rows]:
            line = [_csv_cell(v) for v in cells]
            (quoted if any(isinstance(v, str) and "\r" in v for v in line) else writer).writerow(line)
        return
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...,
# @SUM(...)); tab and CR start one too in some. Text cells that do get a leading ' (OWASP's
# advice), which spreadsheets show as plain text. A text cell that is a plain number ("-5") is
# read as a number, never run, so it stays as it is, as do numbers themselves.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("\n", " ")


def counted(n: int, noun: str) -> str:
    """'1 simulation', '2 simulations': a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

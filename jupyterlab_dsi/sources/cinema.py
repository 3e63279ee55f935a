"""A Cinema Spec D database: a ``*.cdb`` folder whose ``data.csv`` has one row per record.

Every column whose name begins with FILE is a path relative to the folder; such columns are kept
as written and never opened (a database may ship without its images, as uncertainty_bubbles
does). A row shorter than the header has missing trailing cells, as Cinema's readers take it.
"""

from __future__ import annotations

from pathlib import Path

from .table import Table, file_in, pick_ids, read_csv, text_table


def read(source: Path, id_column: str | None = None, metrics: list[str] | None = None) -> Table:
    path = file_in(source, "data.csv", "a Cinema Spec D database is a folder holding data.csv "
                   "(one row per record, FILE columns for its images)")
    header, rows = read_csv(path, pad=True)
    id_index, ids = pick_ids(path, header, rows, id_column, strict=False)
    return text_table("cinema", path, header, rows, id_index, ids, metrics or [])

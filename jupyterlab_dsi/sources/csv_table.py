"""A plain CSV with one row per run (DSI's wildfire example): parameters and per-run metrics."""

from __future__ import annotations

from pathlib import Path

from .table import Table, pick_ids, read_csv, text_table


def read(path: Path, id_column: str | None = None, metrics: list[str] | None = None) -> Table:
    header, rows = read_csv(path)
    id_index, ids = pick_ids(path, header, rows, id_column, strict=True)
    return text_table("csv", path, header, rows, id_index, ids, metrics or [])

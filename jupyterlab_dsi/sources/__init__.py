"""Readers of the inputs that are not ensemble directories: each returns a :class:`Table`.

:func:`detect` names the format of a path; :func:`read` reads it. None of them writes to its
input; the DSI reader opens the database with SQLite's read-only mode.
"""

from __future__ import annotations

from pathlib import Path

from . import cinema, csv_table, dsi_sqlite
from .table import IngestError, Table, classify, duckdb_error

FORMATS = ("auto", "ensemble", "cinema", "dsi-sqlite", "csv", "netcdf", "zarr")
# Stores of runs along a run dimension, read by jupyterlab_dsi.xarray_fields (not as a Table).
STORES = ("netcdf", "zarr")


def detect(source: Path) -> str:
    """'ensemble' | 'cinema' | 'dsi-sqlite' | 'csv' | 'netcdf' | 'zarr' from the path and, for
    files, the bytes."""
    if source.suffix.lower() == ".zarr" and source.is_dir():
        return "zarr"
    if source.suffix.lower() == ".nc" and source.is_file():
        return "netcdf"
    if source.is_dir():
        if (source / "simulations.csv").is_file():
            return "ensemble"
        if source.suffix == ".cdb" or (source / "data.csv").is_file():
            return "cinema"
        return "ensemble"  # whose reader says that simulations.csv is missing
    if not source.is_file():
        raise IngestError(
            f"{source}: no such file or folder (an ensemble directory, a *.cdb folder, a DSI "
            "SQLite file or a CSV; make a sample with `jupyter dsi sample OUT_DIR`)"
        )
    if dsi_sqlite.is_sqlite(source):
        return "dsi-sqlite"
    foreign = duckdb_error(source)  # DSI's DuckDB backend: say so, not "not UTF-8 text"
    if foreign is not None:
        raise foreign
    if source.name == "simulations.csv":
        return "ensemble"
    if source.name == "data.csv" and source.parent.suffix == ".cdb":
        return "cinema"
    return "csv"


def read(
    source: Path, fmt: str, id_column: str | None = None, metrics: list[str] | None = None
) -> Table:
    """The Table of a non-ensemble source (``fmt`` as :func:`detect` names it)."""
    if fmt == "cinema":
        return cinema.read(source, id_column, metrics)
    if fmt == "csv":
        return csv_table.read(source, id_column, metrics)
    return dsi_sqlite.read(source, metrics, id_column)


__all__ = ["FORMATS", "STORES", "IngestError", "Table", "classify", "detect", "read"]

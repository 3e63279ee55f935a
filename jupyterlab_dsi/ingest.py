"""Ingest an ensemble directory (``simulations.csv`` plus one field file per simulation).

The CSV has a unique ``sim_id`` column, a ``path`` column (relative to the CSV) and one column
per initial condition. Each parameter's kind is inferred: text, or few distinct values, makes it
categorical with ordered levels; otherwise numeric. Sources are read, hashed and recorded; they
are never written to. Everything lands in one transaction, so a bad row leaves the database as
it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import DsiError
from .fields import FieldError, read_header
from .store import Store, StoreError, new_id, now

RESERVED = ("sim_id", "path", "t", "d_shock", "d_edge", "d_density", "d_feature")
MAX_CATEGORICAL_LEVELS = 12


class IngestError(DsiError):
    """A CSV or file that cannot be ingested; the message names the file, row or column."""


@dataclass(frozen=True)
class IngestReport:
    source_id: str | None
    simulations: int
    parameters: list[dict[str, Any]]
    already_ingested: bool = False


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _level_key(level: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then text in natural order."""
    return (1, _natural_key(level)) if isinstance(level, str) else (0, level)


def infer_parameter(name: str, cells: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """Kind, ordered levels and typed values of one column (empty cells become None)."""
    present = [c for c in cells if c.strip() != ""]
    numbers = [_number(c) for c in present]
    numeric = bool(present) and all(n is not None for n in numbers)
    distinct = set(numbers) if numeric else set(present)
    categorical = not numeric or (
        len(distinct) <= MAX_CATEGORICAL_LEVELS and len(present) >= 2 * len(distinct)
    )

    def typed(cell: str) -> Any:
        if cell.strip() == "":
            return None
        if numeric:
            value = float(cell)
            return int(value) if value.is_integer() and abs(value) < 2**53 else value
        return cell

    values = [typed(c) for c in cells]
    levels: list[Any] | None = None
    if categorical:
        unique = {v for v in values if v is not None}
        levels = sorted(unique) if numeric else sorted(unique, key=_natural_key)
    info = {"name": name, "kind": "categorical" if categorical else "numeric", "levels": levels}
    return info, values


def read_table(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except UnicodeDecodeError:
        raise IngestError(f"{csv_path}: not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise IngestError(f"{csv_path}: not a readable CSV ({exc})") from None
    for required in ("sim_id", "path"):
        if required not in header:
            raise IngestError(
                f"{csv_path}: no {required!r} column; the header has {', '.join(header) or 'nothing'} "
                "(an ensemble CSV needs sim_id, path and one column per initial condition)"
            )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise IngestError(f"{csv_path}: column(s) {', '.join(duplicates)} appear more than once")
    if not rows:
        raise IngestError(f"{csv_path}: no simulations (the CSV has a header and no rows)")
    return header, rows


def locate_csv(ensemble: Path) -> Path:
    csv_path = ensemble / "simulations.csv" if ensemble.is_dir() else ensemble
    if not csv_path.is_file():
        raise IngestError(
            f"{csv_path}: no such file; an ensemble directory holds simulations.csv "
            "(make one with `jupyter dsi sample OUT_DIR`)"
        )
    return csv_path


def ingest(
    db: str | Path,
    ensemble: str | Path,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest ``ensemble`` into ``db`` (created when missing); returns what was added."""
    csv_path = locate_csv(Path(ensemble)).resolve()
    header, rows = read_table(csv_path)
    params = [h for h in header if h not in ("sim_id", "path")]
    for name in params:
        if name in RESERVED or not name.strip():
            raise IngestError(
                f"{csv_path}: column {name!r} is a reserved name; rename it "
                f"(reserved: {', '.join(RESERVED)})"
            )

    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        sim_id = (row.get("sim_id") or "").strip()
        if not sim_id:
            raise IngestError(f"{csv_path}, row {number}: missing sim_id")
        if sim_id in seen:
            raise IngestError(
                f"{csv_path}, row {number}: duplicate sim_id {sim_id!r} (first at row {seen[sim_id]})"
            )
        seen[sim_id] = number
        if not (row.get("path") or "").strip():
            raise IngestError(f"{csv_path}, row {number}: missing path for {sim_id!r}")

    infos, columns = [], {}
    for name in params:
        info, values = infer_parameter(name, [row.get(name) or "" for row in rows])
        infos.append(info)
        columns[name] = values

    files = []
    for number, row in enumerate(rows, start=2):
        file = (csv_path.parent / row["path"].strip()).resolve()
        if not file.is_file():
            raise IngestError(f"{csv_path}, row {number}: file {row['path']!r} not found ({file})")
        try:
            header_info = read_header(file)
        except FieldError as exc:
            raise IngestError(f"{csv_path}, row {number}: {exc}") from None
        digest, _ = sha256_file(file)
        files.append((row["sim_id"].strip(), row["path"].strip(), digest, header_info.time.tolist()))
        if progress:
            progress(len(files), len(rows))

    csv_digest, csv_size = sha256_file(csv_path)
    report: list[IngestReport] = []

    def fill(store: Store) -> None:
        report.append(_write(store, csv_path, csv_digest, csv_size, infos, columns, files))

    db_path = Path(db)
    if db_path.exists():
        with Store(db_path) as store:
            return _write(store, csv_path, csv_digest, csv_size, infos, columns, files)
    Store.create(db_path, fill).close()
    return report[0]


def _write(
    store: Store,
    csv_path: Path,
    csv_digest: str,
    csv_size: int,
    infos: list[dict[str, Any]],
    columns: dict[str, list[Any]],
    files: list[tuple[str, str, str, list[float]]],
) -> IngestReport:
    with store.write() as conn:
        known = conn.execute("SELECT id FROM jdsi_source WHERE sha256 = ?", (csv_digest,)).fetchone()
        if known:
            return IngestReport(known[0], 0, infos, already_ingested=True)
        existing = {r[0]: r for r in conn.execute("SELECT name, kind, levels FROM jdsi_parameter")}
        clash = conn.execute(
            f"SELECT sim_id FROM jdsi_simulation WHERE sim_id IN ({','.join('?' * len(files))}) LIMIT 1",
            [f[0] for f in files],
        ).fetchone()
        if clash:
            raise IngestError(
                f"{csv_path}: sim_id {clash[0]!r} is already in {store.path}; "
                "sim_ids must be unique across the ensembles of one database"
            )
        source_id = new_id()
        conn.execute(
            "INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES (?,?,?,?,?,?)",
            (source_id, "ensemble-csv", str(csv_path), csv_digest, csv_size, now()),
        )
        position = len(existing)
        for info in infos:
            old = existing.get(info["name"])
            if old is None:
                conn.execute(
                    "INSERT INTO jdsi_parameter (name, kind, levels, position) VALUES (?,?,?,?)",
                    (info["name"], info["kind"], json.dumps(info["levels"]), position),
                )
                position += 1
            elif old["kind"] == "categorical" and info["levels"] is not None:
                merged = sorted(set(json.loads(old["levels"])) | set(info["levels"]), key=_level_key)
                conn.execute(
                    "UPDATE jdsi_parameter SET levels = ? WHERE name = ?",
                    (json.dumps(merged), info["name"]),
                )
        conn.executemany(
            "INSERT INTO jdsi_simulation (sim_id, path, sha256, times, source_id) VALUES (?,?,?,?,?)",
            ((sim_id, path, digest, json.dumps(times), source_id) for sim_id, path, digest, times in files),
        )
        conn.executemany(
            "INSERT INTO jdsi_param_value (sim_id, name, value) VALUES (?,?,?)",
            (
                (files[i][0], name, values[i])
                for name, values in columns.items()
                for i in range(len(files))
            ),
        )
        Store.log_event(conn, "source.ingested", source_id, {"path": str(csv_path), "simulations": len(files)})
    return IngestReport(source_id, len(files), infos)


__all__ = ["IngestError", "IngestReport", "StoreError", "ingest", "infer_parameter", "sha256_file"]

"""Ingest a source into a database: an ensemble directory, a Cinema database, a DSI SQLite
file or a plain CSV (see docs/formats.md).

An ensemble directory is ``simulations.csv`` (a unique ``sim_id`` column, a ``path`` column
relative to the CSV, one column per initial condition) plus one field file per simulation. Each
parameter's kind is inferred: text, or few distinct values, makes it categorical with ordered
levels; otherwise numeric. The other formats are read by :mod:`jupyterlab_dsi.sources` and
classified there. Sources are read, hashed and recorded; they are never written to. Everything
lands in one transaction, so a bad row leaves the database as it was.

An ensemble written by ``sample --params`` has ``proposal_id`` and ``component`` columns: these
are provenance, not parameters; each simulation whose proposal_id is a recorded proposal point
is linked to it (jdsi_sim_proposal), the others are ingested unlinked with one warning. A known
categorical parameter whose merged numeric values no longer read as levels becomes numeric.
"""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import sources
from .fields import XARRAY_SUFFIXES, FieldError, read_header, source_file, with_selector
from .sources.table import (
    IngestError, Metric, file_in, finite_number, is_missing, level_key, natural_key, repeated,
)
from .store import BATCH, Store, StoreError, new_id, now

RESERVED = ("sim_id", "path", "t", "d_shock", "d_edge", "d_density", "d_feature")
MAX_CATEGORICAL_LEVELS = 12
# Provenance of an ensemble `sample --params` wrote (issue 16 §3), never parameters: proposal_id
# names the recorded proposal point each simulation was run for (jdsi_sim_proposal), component
# the study row it was drawn from (already in jdsi_proposal_point). Only with a proposal_id
# column: elsewhere a column named component is an ensemble's own parameter.
PROPOSAL_ID = "proposal_id"
PROVENANCE = (PROPOSAL_ID, "component")


class UnlinkedProposalWarning(UserWarning):
    """Simulations whose proposal_id names no recorded proposal point: ingested, not linked."""


@dataclass(frozen=True)
class IngestReport:
    source_id: str | None
    simulations: int
    parameters: list[dict[str, Any]]
    already_ingested: bool = False
    metrics: list[str] = field(default_factory=list)
    linked: int = 0  # simulations linked to the recorded proposal point they were run for
    unlinked: int = 0  # simulations whose proposal_id names no recorded point
    promoted: list[str] = field(default_factory=list)  # categorical parameters made numeric


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file; of a Zarr folder, over its files' relative paths and bytes.
    A run of a store (``ens.nc#run=3``) hashes the store."""
    path = source_file(path)
    if path.is_dir():
        return _sha256_tree(path)
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _sha256_tree(folder: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    for file in files:
        # Names and lengths delimit each file, so moving bytes between files changes the digest.
        inner, length = sha256_file(file)
        digest.update(f"{file.relative_to(folder).as_posix()}\0{length}\0{inner}\n".encode())
        size += length
    return digest.hexdigest(), size


def levels_rule(distinct: int, present: int) -> bool:
    """Whether a column of numbers reads as levels: few distinct values, each repeated on average
    (text always does). The same rule decides whether merged values keep a parameter categorical."""
    return distinct <= MAX_CATEGORICAL_LEVELS and present >= 2 * distinct


def infer_parameter(name: str, cells: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """Kind, ordered levels and typed values of one column (missing markers, as for the other
    sources: empty, NaN, N/A, become None, never a level)."""
    present = [c for c in cells if not is_missing(c)]
    numbers = [finite_number(c) for c in present]
    numeric = bool(present) and all(n is not None for n in numbers)
    distinct = set(numbers) if numeric else set(present)
    categorical = not numeric or levels_rule(len(distinct), len(present))

    def typed(cell: str) -> Any:
        if is_missing(cell):
            return None
        if numeric:
            value = float(cell)
            return int(value) if value.is_integer() and abs(value) < 2**53 else value
        return cell

    values = [typed(c) for c in cells]
    levels: list[Any] | None = None
    if categorical:
        unique = {v for v in values if v is not None}
        levels = sorted(unique) if numeric else sorted(unique, key=natural_key)
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
    duplicates = repeated(header)  # linear: a header of 40,000 columns is checked at once
    if duplicates:
        raise IngestError(f"{csv_path}: column(s) {', '.join(duplicates)} appear more than once")
    if not rows:
        raise IngestError(f"{csv_path}: no simulations (the CSV has a header and no rows)")
    return header, rows


def locate_csv(ensemble: Path) -> Path:
    return file_in(
        ensemble, "simulations.csv",
        "an ensemble directory holds simulations.csv (make one with `jupyter dsi sample OUT_DIR`); "
        "a Cinema *.cdb folder, a DSI SQLite file or a CSV of runs can be ingested too",
    )


@dataclass
class Batch:
    """Everything one source adds, read and checked before the database is touched."""

    kind: str  # jdsi_source.kind: 'ensemble' | 'cinema' | 'dsi-sqlite' | 'csv'
    path: Path  # the file hashed: simulations.csv, data.csv, the SQLite file or the CSV
    parameters: list[dict[str, Any]]
    values: dict[str, list[Any]]  # parameter -> one value per simulation, in `simulations` order
    simulations: list[tuple[str, str | None, str | None, list[float]]]  # sim_id, path, sha256, times
    metrics: list[Metric] = field(default_factory=list)
    proposal_ids: list[str | None] | None = None  # per simulation, from a proposal_id column


def ingest(
    db: str | Path,
    ensemble: str | Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    fmt: str = "auto",
    id_column: str | None = None,
    metrics: list[str] | None = None,
    variables: dict[str, str] | None = None,
) -> IngestReport:
    """Ingest the source ``ensemble`` into ``db`` (created when missing); returns what was added.

    ``fmt`` is one of :data:`sources.FORMATS` ('auto' tells it from the path); ``id_column`` and
    ``metrics`` apply to CSV, Cinema and (``metrics`` only) DSI sources. ``variables`` renames
    the variables of netCDF/Zarr runs ({"density": "rho", "r": "radius", "run": "member"}; see
    :mod:`jupyterlab_dsi.xarray_fields`), in an ensemble folder's files or a store of runs.
    """
    source = Path(ensemble)
    kind = sources.detect(source) if fmt == "auto" else fmt
    if variables:
        try:
            xarray_fields().check_names(variables)
        except FieldError as exc:
            raise IngestError(str(exc)) from None
        if kind not in ("ensemble", *sources.STORES):
            raise IngestError(f"{source}: --variables applies to netCDF and Zarr runs (.nc, .zarr), not to a {kind} source")
    if kind in ("ensemble", *sources.STORES):
        if id_column is not None or metrics:
            raise IngestError(
                f"{source}: an ensemble directory or a store of runs names its runs by sim_id and has "
                "no metrics; --id-column and --metrics apply to CSV, Cinema and DSI sources"
            )
        batch = _ensemble_batch(source, progress, variables) if kind == "ensemble" else \
            _store_batch(source, kind, progress, variables)
    else:
        table = sources.read(source, kind, id_column, metrics)
        found = sources.classify(table)
        batch = Batch(
            kind=table.kind,
            path=table.path.resolve(),
            parameters=found.parameters,
            values=found.values,
            simulations=[(s, None, None, table.times.get(s, [])) for s in table.sim_ids],
            metrics=found.metrics,
        )
    digest, size = sha256_file(batch.path)
    report: list[IngestReport] = []

    def fill(store: Store) -> None:
        report.append(_write(store, batch, digest, size))

    db_path = Path(db)
    if db_path.exists():
        with Store(db_path) as store:
            return _write(store, batch, digest, size)
    Store.create(db_path, fill).close()
    return report[0]


def xarray_fields() -> Any:
    from . import xarray_fields as module  # xarray itself is imported only when a file needs it

    return module


def _store_batch(store: Path, kind: str, progress: Callable[[int, int], None] | None,
                 variables: dict[str, str] | None) -> Batch:
    """A netCDF/Zarr store whose runs lie along a run dimension: one simulation per run, each
    stored as the store plus a selector; no per-simulation hash (the source's covers the store)."""
    try:
        runs = xarray_fields().read_runs(store, variables, progress)
    except FieldError as exc:
        raise IngestError(str(exc)) from None
    infos, columns = [], {}
    for name, cells in runs.columns.items():
        if name in RESERVED or not name.strip():
            raise IngestError(
                f"{store}: variable {name!r} along the run dimension is a reserved name; rename it "
                f"(reserved: {', '.join(RESERVED)})"
            )
        info, values = infer_parameter(name, cells)
        infos.append(info)
        columns[name] = values
    sims = [(sim_id, path, None, times) for sim_id, path, times in zip(runs.sim_ids, runs.paths, runs.times)]
    return Batch(kind, store.resolve(), infos, columns, sims)


def _ensemble_batch(ensemble: Path, progress: Callable[[int, int], None] | None,
                    variables: dict[str, str] | None = None) -> Batch:
    csv_path = locate_csv(ensemble).resolve()
    header, rows = read_table(csv_path)
    provenance = PROVENANCE if PROPOSAL_ID in header else ()
    params = [h for h in header if h not in ("sim_id", "path", *provenance)]
    for name in params:
        if name in RESERVED or not name.strip():
            raise IngestError(
                f"{csv_path}: column {name!r} is a reserved name; rename it "
                f"(reserved: {', '.join(RESERVED)})"
            )

    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        sim_id = (row.get("sim_id") or "").strip()
        if is_missing(sim_id):  # a missing marker (nan, N/A) never names a run
            raise IngestError(f"{csv_path}, row {number}: missing sim_id{f' ({sim_id})' if sim_id else ''}")
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

    files: list[tuple[str, str | None, str | None, list[float]]] = []
    for number, row in enumerate(rows, start=2):
        file = (csv_path.parent / row["path"].strip()).resolve()
        # A Zarr run is a folder.
        found = file.is_dir() if file.suffix.lower() == ".zarr" else file.is_file()
        if not found:
            raise IngestError(f"{csv_path}, row {number}: file {row['path']!r} not found ({file})")
        path = row["path"].strip()
        if variables:
            if file.suffix.lower() not in XARRAY_SUFFIXES:
                raise IngestError(f"{csv_path}, row {number}: --variables applies to .nc and .zarr files, "
                                  f"not {row['path']!r}")
            # The names travel with the path, so post-processing reads the file as ingest did.
            path = with_selector(path, {k: v for k, v in variables.items() if k not in ("run", "sim_id")})
        try:
            header_info = read_header(csv_path.parent / path)
        except FieldError as exc:
            raise IngestError(f"{csv_path}, row {number}: {exc}") from None
        digest, _ = sha256_file(file)
        files.append((row["sim_id"].strip(), path, digest, header_info.time.tolist()))
        if progress:
            progress(len(files), len(rows))
    proposal_ids = None
    if provenance:
        proposal_ids = [None if is_missing(c := (row.get(PROPOSAL_ID) or "").strip()) else c for row in rows]
    return Batch("ensemble", csv_path, infos, columns, files, proposal_ids=proposal_ids)


def _write(store: Store, batch: Batch, digest: str, size: int) -> IngestReport:
    sims = batch.simulations
    with store.write() as conn:
        known = conn.execute("SELECT id FROM jdsi_source WHERE sha256 = ?", (digest,)).fetchone()
        if known:
            return IngestReport(known[0], 0, batch.parameters, already_ingested=True)
        clash = _first_known(conn, [s[0] for s in sims])
        if clash:
            raise IngestError(
                f"{batch.path}: sim_id {clash[0]!r} is already in {store.path}; "
                "sim_ids must be unique across the sources of one database (ingest into a new --db)"
            )
        source_id = new_id()
        conn.execute(
            "INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES (?,?,?,?,?,?)",
            (source_id, batch.kind, str(batch.path), digest, size, now()),
        )
        promoted = _write_parameters(conn, batch.parameters, batch.values)
        conn.executemany(
            "INSERT INTO jdsi_simulation (sim_id, path, sha256, times, source_id) VALUES (?,?,?,?,?)",
            ((sim_id, path, sha, json.dumps(times), source_id) for sim_id, path, sha, times in sims),
        )
        links, unmatched = _proposal_links(conn, [s[0] for s in sims], batch.proposal_ids)
        conn.executemany("INSERT INTO jdsi_sim_proposal (sim_id, proposal_id, point_id) VALUES (?,?,?)", links)
        conn.executemany(
            "INSERT INTO jdsi_param_value (sim_id, name, value) VALUES (?,?,?)",
            (
                (sims[i][0], name, values[i])
                for name, values in batch.values.items()
                for i in range(len(sims))
            ),
        )
        _write_metrics(conn, batch.path, batch.metrics)
        payload: dict[str, Any] = {"path": str(batch.path), "kind": batch.kind, "simulations": len(sims)}
        if batch.proposal_ids is not None:
            payload["linked"] = len(links)
        if promoted:
            payload["promoted"] = promoted
        Store.log_event(conn, "source.ingested", source_id, payload)
    if unmatched:
        from .textout import counted

        # After the commit: the simulations are in, only their links are missing.
        warnings.warn(
            f"{counted(len(unmatched), 'simulation')} of {batch.path.name} name a proposal_id that is no "
            f"recorded proposal point in this database (first: {unmatched[0]!r}): ingested without a link; "
            "record the proposal in this database (`jupyter dsi propose --db DB ...`) before `sample --params`",
            UnlinkedProposalWarning, stacklevel=2,
        )
    return IngestReport(source_id, len(sims), batch.parameters, metrics=[m.name for m in batch.metrics],
                        linked=len(links), unlinked=len(unmatched), promoted=promoted)


def _proposal_links(conn: Any, sim_ids: list[str], proposal_ids: list[str | None] | None
                    ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(sim_id, record id, point id) for each simulation whose proposal_id is a recorded point, and
    the proposal_ids that are none (in order). A point id names its record by its first 8
    characters (proposals.point_ids); older records' ``p{seed}-...`` ids link when only one record
    has them."""
    if not proposal_ids:
        return [], []
    wanted = sorted({p for p in proposal_ids if p is not None})
    found: dict[str, list[str]] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start:start + BATCH]
        for row in conn.execute(
            f"SELECT point_id, proposal_id FROM jdsi_proposal_point WHERE point_id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found.setdefault(row[0], []).append(row[1])
    links, unmatched = [], []
    for sim_id, point in zip(sim_ids, proposal_ids):
        if point is None:
            continue
        records = found.get(point, [])
        if len(records) > 1:
            records = [r for r in records if r[:8] == point.partition("-")[0]]
        if len(records) == 1:
            links.append((sim_id, records[0], point))
        else:
            unmatched.append(point)
    return links, unmatched


def _first_known(conn: Any, ids: list[str]) -> tuple[str] | None:
    """The first of ``ids`` already in jdsi_simulation, looked up in batches: one statement may
    bind only so many values (SQLite's limit), and a table of runs can hold more."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        row = conn.execute(
            f"SELECT sim_id FROM jdsi_simulation WHERE sim_id IN ({','.join('?' * len(chunk))}) LIMIT 1",
            chunk,
        ).fetchone()
        if row:
            return row
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _write_parameters(conn: Any, infos: list[dict[str, Any]], values: dict[str, list[Any]]) -> list[str]:
    """New parameters go after the known ones; a known categorical one gains the new levels, or,
    when its values are numbers that together no longer read as levels (:func:`levels_rule`,
    e.g. proposals off the sample's cs levels), becomes numeric. Returns the names made numeric.

    Values are stored as they are, never rewritten, so a saved filter (`cs == 0.1`) selects the
    same simulations before and after (filters compare values, not level positions)."""
    existing = {r[0]: r for r in conn.execute("SELECT name, kind, levels FROM jdsi_parameter")}
    position = len(existing)
    promoted = []
    for info in infos:
        name = info["name"]
        old = existing.get(name)
        if old is None:
            conn.execute(
                "INSERT INTO jdsi_parameter (name, kind, levels, unit, position) VALUES (?,?,?,?,?)",
                (name, info["kind"], json.dumps(info["levels"]), info.get("unit"), position),
            )
            position += 1
            continue
        if old["kind"] != "categorical":
            continue
        old_levels = json.loads(old["levels"]) if old["levels"] is not None else []
        new = [v for v in values.get(name, []) if v is not None]
        if new and all(_is_number(v) for v in [*old_levels, *new]):
            # A categorical parameter's stored values are its levels: the merged distinct values
            # are the old levels and the new values; the count of stored ones is one indexed query.
            present = conn.execute("SELECT count(value) FROM jdsi_param_value WHERE name = ?", (name,)).fetchone()[0]
            distinct = {float(v) for v in [*old_levels, *new]}
            if not levels_rule(len(distinct), present + len(new)):
                conn.execute("UPDATE jdsi_parameter SET kind = 'numeric', levels = NULL WHERE name = ?", (name,))
                promoted.append(name)
                continue
            added = new
        elif info["levels"] is not None:
            added = info["levels"]
        else:
            continue
        merged = sorted(set(old_levels) | set(added), key=level_key)
        conn.execute("UPDATE jdsi_parameter SET levels = ? WHERE name = ?", (json.dumps(merged), name))
    return promoted


def _write_metrics(conn: Any, path: Path, metrics: list[Metric]) -> None:
    """Metrics join those of earlier sources by name when kind and per-step agree."""
    existing = {r[0]: (r[1], bool(r[2])) for r in conn.execute("SELECT name, kind, per_step FROM jdsi_metric")}
    parameters = {r[0] for r in conn.execute("SELECT name FROM jdsi_parameter")}
    position = len(existing)
    for metric in metrics:
        if metric.name in parameters:
            raise IngestError(
                f"{path}: {metric.name!r} is a metric here but a parameter of an earlier source; "
                "ingest into a new --db, or make it a metric there too (--metrics)"
            )
        old = existing.get(metric.name)
        if old is None:
            conn.execute(
                "INSERT INTO jdsi_metric (name, kind, per_step, unit, position) VALUES (?,?,?,?,?)",
                (metric.name, metric.kind, int(metric.per_step), metric.unit, position),
            )
            position += 1
        elif old != (metric.kind, metric.per_step):
            raise IngestError(
                f"{path}: metric {metric.name!r} is {metric.kind}{' per step' if metric.per_step else ''} "
                f"here but {old[0]}{' per step' if old[1] else ''} in an earlier source; ingest into a new --db"
            )
        conn.executemany(
            "INSERT INTO jdsi_metric_value (name, t, sim_id, value) VALUES (?,?,?,?)",
            ((metric.name, t, sim_id, value) for t, sim_id, value in metric.rows),
        )


__all__ = ["IngestError", "IngestReport", "StoreError", "UnlinkedProposalWarning", "ingest", "infer_parameter",
           "sha256_file"]

"""The members CSV that the Croissant and RO-Crate exports carry: one row per member, sorted by
sim_id, with its parameters, the values at the dataset's method and step (d_shock, d_edge,
d_density, d_feature; a table of runs' metrics), and its data file's path (relative to the folder
of the source it was ingested from, as stored) and that file's sha256 at ingest."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

from ..datasets import members
from ..store import Store

NUMBER, TEXT = "number", "text"
FILE_COLUMNS = ("path", "sha256")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    kinds: list[str]  # NUMBER or TEXT, per column
    rows: list[list[Any]]
    descriptions: dict[str, str]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table(store: Store, record: dict[str, Any]) -> Table:
    """The members of dataset ``record`` (as get_dataset answers it) with their columns."""
    ids = members(store, record["id"])
    wanted = set(ids)
    params = store.parameters()
    names = [p["name"] for p in params]
    values: dict[str, dict[str, Any]] = {i: {} for i in ids}
    for sim_id, name, value in store.conn.execute("SELECT sim_id, name, value FROM jdsi_param_value"):
        if sim_id in wanted:
            values[sim_id][name] = value
    descriptions = {"sim_id": "the simulation's id"}
    for p in params:
        unit = f" [{p['unit']}]" if p["unit"] else ""
        descriptions[p["name"]] = f"initial condition ({p['kind']}){unit}"
    extra: list[str] = []
    if record["time"] is not None:
        from ..query import DISTANCES, select

        selection = select(store, record["method"], record["time"], "", record["weights"])
        # The distances and d_feature, and a table of runs' own metrics: what the members were
        # chosen by. Not the predictions of runs trained since (they would change an immutable export).
        metrics = {r[0] for r in store.conn.execute("SELECT name FROM jdsi_metric")}
        extra = [c for c in selection.columns if (c in (*DISTANCES, "d_feature") or c in metrics)
                 and c not in names and c not in FILE_COLUMNS]
        where = [selection.columns.index(c) for c in extra]
        for row in selection.rows:
            if row[0] in wanted:
                values[row[0]].update({c: row[i] for c, i in zip(extra, where)})
        at = f"at step {record['time']}" + ("" if record["method"] is None else f" by method {record['method']}")
        for c in extra:
            descriptions[c] = f"{c} {at}"
    files = {r[0]: (r[1], r[2]) for r in store.conn.execute("SELECT sim_id, path, sha256 FROM jdsi_simulation")}
    descriptions["path"] = "the simulation's data file, relative to the folder of the source it was ingested from"
    descriptions["sha256"] = "the SHA-256 of that data file when it was ingested"
    columns = ["sim_id", *names, *extra, *FILE_COLUMNS]
    rows = []
    for sim_id in ids:
        path, sha = files.get(sim_id, (None, None))
        rows.append([sim_id, *(values[sim_id].get(c) for c in (*names, *extra)), path, sha])
    kinds = []
    for j, c in enumerate(columns):
        numeric = c not in ("sim_id", *FILE_COLUMNS) and all(r[j] is None or _is_number(r[j]) for r in rows)
        kinds.append(NUMBER if numeric else TEXT)
    return Table(columns, kinds, rows, descriptions)


def cell(value: Any) -> str:
    """A value as the CSV writes it: numbers as Python reads them back exactly, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def to_csv(t: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(t.columns)
    for row in t.rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def members_csv(store: Store, ref: str) -> str:
    """The members CSV of dataset ``ref`` (id or unique prefix)."""
    from ..datasets import get_dataset

    return to_csv(table(store, get_dataset(store, ref)))

"""pandas views of a database, shared by the ``%dsi`` magic and the kernel bridge."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .query import Selection
from .store import Store

DATASET_COLUMNS = ["id", "name", "description", "size", "method", "time", "created_at", "author",
                   "parent", "digest", "filter", "sampling", "stale"]


def datasets_frame(store: Store, include_deleted: bool = False) -> pd.DataFrame:
    """One row per saved dataset, indexed by id (``%dsi datasets``, ``dsi_datasets``)."""
    from .datasets import list_datasets

    records = list_datasets(store, include_deleted=include_deleted)
    return pd.DataFrame.from_records(records, columns=DATASET_COLUMNS).set_index("id")


def selection_frame(selection: Selection, time: int | None) -> pd.DataFrame:
    """Rows of a selection, indexed by sim_id at one step, by (sim_id, t) over all steps."""
    frame = pd.DataFrame.from_records(selection.rows, columns=selection.columns)
    return frame.set_index(["sim_id", "t"]) if time is None else frame.set_index("sim_id")


def members_frame(store: Store, ref: str) -> pd.DataFrame:
    """A dataset's members with their parameters, indexed by sim_id; its record in ``.attrs``."""
    from .datasets import get_dataset, members

    record = get_dataset(store, ref)
    ids = members(store, record["id"])
    params = [p["name"] for p in store.parameters()]
    values: dict[str, dict[str, Any]] = {i: {} for i in ids}
    for sim_id, name, value in store.conn.execute("SELECT sim_id, name, value FROM jdsi_param_value"):
        if sim_id in values:
            values[sim_id][name] = value
    frame = pd.DataFrame.from_dict(values, orient="index", columns=params)
    frame.index.name = "sim_id"
    frame.attrs["dataset"] = {k: record[k] for k in ("id", "name", "description", "digest", "filter", "method", "time")}
    return frame

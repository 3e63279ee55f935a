"""The ``json`` export: everything about a dataset, its members included, in our own shape
(``format``: ``jupyterlab-dsi.dataset/1``)."""

from __future__ import annotations

from typing import Any

from .. import steps
from ..datasets import EXPORT_FORMAT, get_dataset, members
from ..store import Store


def method_info(store: Store, method_id: str | None) -> dict[str, Any] | None:
    if method_id is None:
        return None
    found = [m for m in store.methods() if m["id"] == method_id]
    return found[0] if found else None


def export_json(store: Store, ref: str) -> dict[str, Any]:
    """Everything about a dataset, its members included."""
    record = get_dataset(store, ref)
    out = {"format": EXPORT_FORMAT, **record}
    out["method_info"] = method_info(store, record["method"])
    # `time` is the step index (docs/data-model.md, "Steps and times"); its simulated time beside it.
    out["simulated_time"] = steps.simulated_time(store, record["time"])
    out["members"] = members(store, record["id"])
    return out

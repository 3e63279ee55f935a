"""Rows of (simulation, time step) for one method: parameters and distances, filtered.

The filter string is compiled to SQL by :mod:`jupyterlab_dsi.filter` against the names this
database allows (its parameters, ``sim_id``, ``t`` and the distances); every literal is a bound
parameter and every identifier comes from that allow-list, quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import filter as flt
from .store import Store, StoreError, quote_identifier

DISTANCES = ("d_shock", "d_edge", "d_density")
BUILTIN = ("sim_id", "t", *DISTANCES, "d_feature")


@dataclass(frozen=True)
class Selection:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    method: dict[str, Any]
    where: str


def select(
    store: Store,
    method: str,
    time: int | None = None,
    where: str = "",
    weights: tuple[float, float] = (1.0, 1.0),
) -> Selection:
    """One row per (simulation, step) of ``method`` (one step when ``time`` is given)."""
    m = store.resolve_method(method)
    params = [p["name"] for p in store.parameters()]
    if time is not None:
        steps = store.conn.execute(
            "SELECT max(t) FROM jdsi_distance WHERE method_id = ?", (m["id"],)
        ).fetchone()[0]
        if steps is None or not 0 <= time <= steps:
            raise StoreError(f"--time {time} is outside this method's steps 0..{steps}")

    pivot = ", ".join(
        f"MAX(CASE WHEN name = ? THEN value END) AS {quote_identifier(p)}" for p in params
    )
    outer = ", ".join(f"p.{quote_identifier(p)}" for p in params)
    inner = f"SELECT sim_id{', ' + pivot if pivot else ''} FROM jdsi_param_value GROUP BY sim_id"
    rows_sql = (
        "SELECT d.sim_id AS sim_id, d.t AS t"
        + (f", {outer}" if outer else "")
        + ", d.d_shock AS d_shock, d.d_edge AS d_edge, d.d_density AS d_density,"
        " (? * d.d_shock + ? * d.d_edge) AS d_feature"
        f" FROM jdsi_distance d LEFT JOIN ({inner}) p ON p.sim_id = d.sim_id"
        " WHERE d.method_id = ?"
    )
    # Bound in the order the placeholders appear in the text: the weights of d_feature (in the
    # select list), then the parameter names of the pivot (in the joined subquery), then the method.
    sql_params: list[Any] = [float(weights[0]), float(weights[1]), *params, m["id"]]
    if time is not None:
        rows_sql += " AND d.t = ?"
        sql_params.append(time)

    node = flt.parse(where)
    allowed = {name: quote_identifier(name) for name in (*params, *BUILTIN)}
    condition, condition_params = ("1", []) if node is None else flt.compile_sql(node, allowed)
    columns = ["sim_id", "t", *params, *DISTANCES]
    select_list = ", ".join(quote_identifier(c) for c in columns)
    sql = f"SELECT {select_list} FROM ({rows_sql}) WHERE {condition} ORDER BY sim_id, t"
    rows = [tuple(r) for r in store.conn.execute(sql, sql_params + list(condition_params))]
    return Selection(columns=columns, rows=rows, method=m, where=where)

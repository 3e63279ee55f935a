"""Rows of (simulation, time step): parameters, distances of one method and number metrics, filtered.

The filter string is compiled to SQL by :mod:`jupyterlab_dsi.filter` against the names this
database allows (its parameters, its number metrics, ``sim_id``, ``t``, the distances and the
runs' prediction columns of :mod:`jupyterlab_dsi.predictions`); every literal is a bound
parameter and every identifier comes from that allow-list, quoted.

With a method, the rows are the method's (simulation, step) rows. Without one (a source that has
no field files, so no distances), they are each simulation at t = 0 and at every step a per-step
metric has. A per-run metric holds at every t; a per-step metric is joined at its t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import feature as ftr
from . import filter as flt
from . import predictions as prd
from .steps import simulated_time
from .store import Store, StoreError, quote_identifier

DISTANCES = ("d_shock", "d_edge", "d_density")
# Run ids made of digits sort as numbers (1, 2, 10, not 1, 10, 2), before the other ids in text
# order: by length without leading zeros, then digits, so that no id overflows an integer.
_TEXT_ID = "(sim_id = '' OR sim_id GLOB '*[^0-9]*')"
SIM_ORDER = (
    f"{_TEXT_ID}, CASE WHEN {_TEXT_ID} THEN 0 ELSE length(ltrim(sim_id, '0')) END, "
    f"CASE WHEN {_TEXT_ID} THEN sim_id ELSE ltrim(sim_id, '0') END, sim_id"
)


@dataclass(frozen=True)
class Selection:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    method: dict[str, Any] | None
    where: str
    feature: ftr.Terms | None = None  # d_feature's terms, None where it has none to weigh


def _pivot(names: list[str], keys: str, where: str) -> tuple[str, list[Any]]:
    """One column per name from a (key..., name, value) table, grouped by ``keys``."""
    cases = ", ".join(f"MAX(CASE WHEN name = ? THEN value END) AS {quote_identifier(n)}" for n in names)
    return f"SELECT {keys}{', ' + cases if cases else ''} {where} GROUP BY {keys}", list(names)


def value_kinds(parameters: list[dict[str, Any]], numbers: tuple[str, ...]) -> dict[str, str]:
    """"number" or "text" for each name whose values are all of one kind (for check_types)."""
    kinds = {name: "number" for name in numbers}
    kinds["sim_id"] = "text"
    for p in parameters:
        levels = p["levels"]
        if p["kind"] == "numeric":
            kinds[p["name"]] = "number"
        elif levels and all(isinstance(v, (int, float)) for v in levels):
            kinds[p["name"]] = "number"
        elif levels and all(isinstance(v, str) for v in levels):
            kinds[p["name"]] = "text"
    return kinds


def number_metrics(store: Store) -> tuple[list[str], list[str]]:
    """(per-run, per-step) names of the number metrics, in position order."""
    rows = store.conn.execute(
        "SELECT name, per_step FROM jdsi_metric WHERE kind = 'number' ORDER BY position"
    ).fetchall()
    return [r[0] for r in rows if not r[1]], [r[0] for r in rows if r[1]]


def default_feature(store: Store, method_id: str | None) -> ftr.Terms | None:
    """d_shock + d_edge where the method has them (seed 000), else d_density; None without one."""
    if method_id is None:
        return None
    has = store.conn.execute(
        "SELECT 1 FROM jdsi_distance WHERE method_id = ? AND (d_shock IS NOT NULL OR d_edge IS NOT NULL) LIMIT 1",
        (method_id,),
    ).fetchone()
    return dict(ftr.DEFAULT) if has else {"d_density": 1.0}


def number_columns(store: Store, with_distances: bool) -> list[str]:
    """The columns d_feature may weigh: number parameters and metrics, the distances and the
    runs' prediction columns (as the panel offers them)."""
    per_run, per_step = number_metrics(store)
    parameters = store.parameters()
    kinds = value_kinds(parameters, ())
    params = [name for name, kind in kinds.items() if kind == "number"]
    predicted = [c.name for c in prd.read_columns(store.conn, parameters)]
    return [*params, *per_run, *per_step, *(DISTANCES if with_distances else ()), *predicted]


def _last_step_hint(store: Store, last: int) -> str:
    """Steps count from 0 (docs/data-model.md): name the last one's simulated time when known."""
    time = simulated_time(store, last)
    return "" if time is None else f" (steps count from 0: step {last} is simulated time {time:.4g})"


def select(
    store: Store,
    method: str | None,
    time: int | None = None,
    where: str = "",
    weights: Any = None,
) -> Selection:
    """One row per (simulation, step) of ``method`` (one step when ``time`` is given).

    ``weights`` are d_feature's terms (see :mod:`jupyterlab_dsi.feature`); None takes the
    method's default. Without a method d_feature exists only when terms are given.
    """
    m = store.resolve_method(method) if method is not None else None
    parameters = store.parameters()
    params = [p["name"] for p in parameters]
    per_run, per_step = number_metrics(store)
    terms = ftr.terms(weights) if weights is not None else default_feature(store, m["id"] if m else None)
    if m is not None:
        base_sql = "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?"
        base_params: list[Any] = [m["id"]]
        steps_sql, steps_params = "SELECT max(t) FROM jdsi_distance WHERE method_id = ?", [m["id"]]
        distances: tuple[str, ...] = DISTANCES
    else:
        # Each simulation at t = 0, and at each step that any per-step metric (of any kind) has.
        base_sql = (
            "SELECT sim_id, 0 AS t FROM jdsi_simulation UNION SELECT v.sim_id, v.t"
            " FROM jdsi_metric_value v JOIN jdsi_metric m ON m.name = v.name WHERE m.per_step = 1"
        )
        base_params = []
        steps_sql, steps_params = "SELECT max(t) FROM (" + base_sql + ")", []
        distances = ()
    if time is not None:
        steps = store.conn.execute(steps_sql, steps_params).fetchone()[0]
        if steps is None or not 0 <= time <= steps:
            what = "this method's steps" if m is not None else "the steps of this database"
            last = "" if steps is None else _last_step_hint(store, steps)
            raise StoreError(f"--time {time} is outside {what} 0..{steps}{last}")

    params_sql, params_bound = _pivot(params, "sim_id", "FROM jdsi_param_value")
    run_sql, run_bound = _pivot(per_run, "sim_id", "FROM jdsi_metric_value WHERE t = 0")
    step_sql, step_bound = _pivot(per_step, "sim_id, t", "FROM jdsi_metric_value")
    # The runs' predictions, named and valued as the panel's columns (predictions.py): the
    # truth of an error is the row's parameter, per-run metric or per-step metric at its t.
    predicted = prd.read_columns(store.conn, parameters)
    source = {prd.PARAMETER: "p", prd.RUN_METRIC: "r", prd.STEP_METRIC: "s"}
    pred_join, pred_bound, pred_sql = prd.pivot(
        predicted, "x", lambda c: f"{source[c.truth]}.{quote_identifier(c.set.target)}"
    )
    pred_names = [c.name for c in predicted]
    pred_alias = {c.name: prd.alias(k) for k, c in enumerate(predicted)}
    kinds = value_kinds(parameters, (*per_run, *per_step, *distances, *pred_names))
    qualified = {n: f"p.{quote_identifier(n)}" for n in params}
    qualified.update({n: f"b.{quote_identifier(n)}" for n in distances})
    qualified.update({n: f"r.{quote_identifier(n)}" for n in per_run})
    qualified.update({n: f"s.{quote_identifier(n)}" for n in per_step})
    outer = list(qualified.values())
    outer += [f"{pred_sql[n]} AS {pred_alias[n]}" for n in pred_names]
    feature_params: list[float] = []
    if terms is not None:
        numbers = {n: q for n, q in qualified.items() if kinds.get(n) == "number"}
        numbers.update(pred_sql)  # d_feature may weigh them, as in the panel
        feature_sql, feature_params = ftr.sql(terms, numbers)
        outer.append(f"{feature_sql} AS d_feature")
    rows_sql = (
        f"SELECT b.sim_id AS sim_id, b.t AS t{''.join(', ' + c for c in outer)}"
        f" FROM ({base_sql}) b"
        f" LEFT JOIN ({params_sql}) p ON p.sim_id = b.sim_id"
    )
    # Bound in the order the placeholders appear in the text.
    sql_params: list[Any] = [*feature_params, *base_params, *params_bound]
    # Joined only when there are metrics: an ensemble's query stays what it was.
    if per_run:
        rows_sql += f" LEFT JOIN ({run_sql}) r ON r.sim_id = b.sim_id"
        sql_params += run_bound
    if per_step:
        rows_sql += f" LEFT JOIN ({step_sql}) s ON s.sim_id = b.sim_id AND s.t = b.t"
        sql_params += step_bound
    rows_sql += pred_join
    sql_params += pred_bound
    if time is not None:
        rows_sql += " WHERE b.t = ?"
        sql_params.append(time)

    node = flt.parse(where)
    feature = ("d_feature",) if terms is not None else ()
    builtin = ("sim_id", "t", *distances, *feature)
    allowed = {name: quote_identifier(name) for name in (*params, *per_run, *per_step, *builtin)}
    allowed.update(pred_alias)
    condition, condition_params = ("1", []) if node is None else flt.compile_sql(node, allowed)
    # `cs == '0.1'` on a number would silently match nothing: say so instead.
    flt.check_types(node, value_kinds(parameters, (*per_run, *per_step, *builtin[2:], *pred_names)))
    columns = ["sim_id", "t", *params, *distances, *feature, *per_run, *per_step, *pred_names]
    select_list = ", ".join(pred_alias.get(c) or quote_identifier(c) for c in columns)
    sql = f"SELECT {select_list} FROM ({rows_sql}) WHERE {condition} ORDER BY {SIM_ORDER}, t"
    rows = [tuple(r) for r in store.conn.execute(sql, sql_params + list(condition_params))]
    return Selection(columns=columns, rows=rows, method=m, where=where, feature=terms)

"""Training runs' predictions as selection columns, named exactly as the panel names them.

The panel (src/db/predictions.ts: ``readPredictions``, ``predictionLabels``,
``predictionColumns``; src/model/explorer.ts says what is truth and what is taken) turns every
live run's predictions of a target into explorer columns, and the filter string a brush writes
names them. ``select --where``, ``%dsi select``, the kernel bridge, ``verify`` and d_feature's
weights must read the same names with the same values, so the rule lives here once for Python
and tests/vectors/prediction_columns.json holds both languages to it:

- one set per (run, target) of the runs that are not tombstoned, ordered by the run's
  started_at, then its id, then the target (byte order, as SQLite sorts text);
- its label is the run's name, plus `` (<first 8 UTF-16 units of the id>)`` when another such
  run has the same name, plus ``: <target>`` when the run predicted several targets;
- ``error of <label>`` (prediction - truth) when the target names a parameter whose values are
  numbers, a per-run number metric or a per-step number metric (at the row's step), else
  ``prediction of <label>``; ``sigma2 of <label>`` when any of the set's variances is known;
- a name already taken (a parameter, a number or text per-run metric, a per-step number metric,
  a distance, d_feature, or an earlier prediction column) is skipped: the first stays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .store import quote_identifier

ERROR, PREDICTION, SIGMA2 = "error", "prediction", "sigma2"
# The explorer's own numeric columns: always taken, with or without a method (explorer.ts).
RESERVED = ("d_shock", "d_edge", "d_density", "d_feature")
# Where a target's true values come from, as query.select joins them.
PARAMETER, RUN_METRIC, STEP_METRIC = "parameter", "run metric", "step metric"


@dataclass(frozen=True)
class PredictionSet:
    """One live run's predictions of one target (``IPredictionSet`` without its values)."""

    run_id: str
    run_name: str
    target: str
    has_sigma2: bool


@dataclass(frozen=True)
class PredictionColumn:
    """A column the predictions make: its name, kind (error, prediction, sigma2), its set and,
    for an error, where the truth it is measured against lives."""

    name: str
    kind: str
    set: PredictionSet
    truth: str | None = None


def read_sets(conn: sqlite3.Connection) -> list[PredictionSet]:
    """Every live run's (run, target) sets: readPredictions' query, without the values."""
    rows = conn.execute(
        """SELECT p.run_id, r.name, p.target, count(p.sigma2) AS with_sigma2
             FROM jdsi_prediction p JOIN jdsi_run r ON r.id = p.run_id
            WHERE NOT EXISTS (SELECT 1 FROM jdsi_tombstone WHERE record_id = p.run_id)
            GROUP BY p.run_id, p.target
            ORDER BY r.started_at, r.id, p.target"""
    ).fetchall()
    # String(...) in TypeScript: a stored number reads as its text there too.
    return [PredictionSet(str(r[0]), str(r[1]), str(r[2]), int(r[3]) > 0) for r in rows]


def js_prefix(text: str, units: int) -> str:
    """``text.slice(0, units)`` as JavaScript counts: UTF-16 code units, not code points, so that
    an id with characters beyond the BMP gives the label the panel shows."""
    return text.encode("utf-16-le", "surrogatepass")[: 2 * units].decode("utf-16-le", "surrogatepass")


def labels(sets: Iterable[PredictionSet]) -> list[str]:
    """Each set's label (predictionLabels): the run's name, with the id's first 8 characters when
    two runs share a name, and the target when the run predicted more than one."""
    sets = list(sets)
    runs_by_name: dict[str, set[str]] = {}
    targets_by_run: dict[str, int] = {}
    for s in sets:
        runs_by_name.setdefault(s.run_name, set()).add(s.run_id)
        targets_by_run[s.run_id] = targets_by_run.get(s.run_id, 0) + 1
    out = []
    for s in sets:
        run = f"{s.run_name} ({js_prefix(s.run_id, 8)})" if len(runs_by_name[s.run_name]) > 1 else s.run_name
        out.append(f"{run}: {s.target}" if targets_by_run[s.run_id] > 1 else run)
    return out


def columns(sets: Iterable[PredictionSet], truth: Mapping[str, str], taken: Iterable[str] = ()) -> list[PredictionColumn]:
    """The columns of the sets (predictionColumns): ``truth`` maps the names with true values to
    where they live (PARAMETER, RUN_METRIC, STEP_METRIC); a name in ``taken`` is skipped."""
    sets = list(sets)
    names = set(taken)
    out: list[PredictionColumn] = []

    def add(column: PredictionColumn) -> None:
        if column.name not in names:
            names.add(column.name)
            out.append(column)

    for s, label in zip(sets, labels(sets)):
        where = truth.get(s.target)
        if where is not None:
            add(PredictionColumn(f"error of {label}", ERROR, s, where))
        else:
            add(PredictionColumn(f"prediction of {label}", PREDICTION, s))
        if s.has_sigma2:
            add(PredictionColumn(f"sigma2 of {label}", SIGMA2, s))
    return out


def _number_levels(levels: Any) -> bool:
    """hasNumericLevels: a categorical parameter whose levels are all numbers (JSON true is not)."""
    return (
        isinstance(levels, list)
        and len(levels) > 0
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels)
    )


def truth_and_taken(conn: sqlite3.Connection, parameters: list[dict[str, Any]]) -> tuple[dict[str, str], set[str]]:
    """What the explorer measures errors against and which names its other columns hold.

    As explorer.ts builds them: parameters, then per-run number and text metrics not named like
    an earlier one (the first stays), then per-step number metrics not named like those.
    """
    truth: dict[str, str] = {}
    known: set[str] = set()
    for p in parameters:
        if p["name"] not in known:
            known.add(p["name"])
            if p["kind"] == "numeric" or _number_levels(p["levels"]):
                truth[p["name"]] = PARAMETER
    metrics = conn.execute(
        "SELECT name, kind, per_step FROM jdsi_metric WHERE kind IN ('number', 'text') ORDER BY position, name"
    ).fetchall()
    for name, kind, per_step in metrics:
        if not per_step and name not in known:
            known.add(name)
            if kind == "number":
                truth[name] = RUN_METRIC
    taken = set(known) | set(RESERVED)
    for name, kind, per_step in metrics:
        if per_step and kind == "number" and name not in known:
            taken.add(name)
            truth[name] = STEP_METRIC
    return truth, taken


def read_columns(conn: sqlite3.Connection, parameters: list[dict[str, Any]]) -> list[PredictionColumn]:
    """The prediction columns the panel shows for this database (two small queries)."""
    sets = read_sets(conn)
    if not sets:
        return []
    truth, taken = truth_and_taken(conn, parameters)
    return columns(sets, truth, taken)


def pivot(cols: list[PredictionColumn], alias: str,
          truth_sql: Callable[[PredictionColumn], str]) -> tuple[str, list[Any], dict[str, str]]:
    """SQL for the columns: ``(join, params, {name: expression})``.

    ``join`` is one LEFT JOIN of a table keyed by sim_id (one pass over jdsi_prediction, one
    output column per kept column, so any number of runs stays one join: SQLite allows 64) to be
    appended after the row source ``b``; the expressions read it through ``alias``. An error's
    truth, ``truth_sql(column)``, counts only where it holds a number (the panel's NaN else).
    """
    if not cols:
        return "", [], {}
    cases: list[str] = []
    params: list[Any] = []
    exprs: dict[str, str] = {}
    for k, c in enumerate(cols):
        field = "sigma2" if c.kind == SIGMA2 else "value"
        cases.append(f"MAX(CASE WHEN run_id = ? AND target = ? THEN {field} END) AS c{k}")
        params += [c.set.run_id, c.set.target]
        value = f"{alias}.c{k}"
        if c.kind == ERROR:
            truth = truth_sql(c)
            exprs[c.name] = f"({value} - CASE WHEN typeof({truth}) IN ('integer', 'real') THEN {truth} END)"
        else:
            exprs[c.name] = value
    runs = sorted({c.set.run_id for c in cols})
    params += runs
    join = (
        f" LEFT JOIN (SELECT sim_id, {', '.join(cases)} FROM jdsi_prediction"
        f" WHERE run_id IN ({', '.join('?' * len(runs))}) GROUP BY sim_id) {alias} ON {alias}.sim_id = b.sim_id"
    )
    return join, params, exprs


def alias(k: int) -> str:
    """A prediction column's name inside the query: SQLite matches identifiers without regard to
    ASCII case, so `error of GP` and `error of gp` (or a parameter `Error of gp`) would read one
    another's values under their own names."""
    return quote_identifier(f"jdsi prediction {k}")

"""What to simulate next: the active-learning proposal policy of seed 004 (its eq. 4), as a pure
seeded function.

The study set is a table of parameter points (one column per parameter, near-uniformly spaced,
e.g. a grid) with the model's predictive variance ``sigma2`` at each point. The policy is the
Gaussian mixture

    p(y) ∝ p_Y(y) · Σ_n w_n · exp(-½ ((y - ȳ_n) / τ)²),    w_n = σ²_n / Σ_m σ²_m

with p_Y the prior box (``bounds``). A draw picks study row n with probability w_n (times the
``prior`` column where given; with ``alpha < 1`` the weight is ``alpha · σ²_norm + (1 - alpha) ·
entropy_norm``), then draws y ~ N(ȳ_n, τ²) for each continuous parameter and copies the row's
level for each categorical one. A draw outside the box is rejected and drawn again whole (row
and offsets), which is sampling from p above; so near the box's edges a row's share of the kept
draws is below w_n, by the mass of its Gaussian outside the box.

Deterministic for a seed on any machine: one ``numpy.random.Generator(PCG64(seed))``, drawn in a
fixed order (per round: the rows of the draws still missing, then their offsets, row-major).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DsiError

SIGMA2 = "sigma2"
DEFAULT_MAX_REDRAWS = 1000


class ProposalError(DsiError):
    """Bad input to :func:`propose` (the study set, tau, bounds, alpha, n or the seed)."""


def spacing(values: Iterable[float]) -> float:
    """The smallest positive gap between the sorted distinct values (0 with one distinct value)."""
    distinct = np.unique(np.asarray(list(values), dtype=float))
    if distinct.size < 2:
        return 0.0
    return float(np.diff(distinct).min())


def _weights(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    if column not in frame.columns:
        raise ProposalError(f"the study set has no {what} column {column!r} "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise ProposalError(f"{what} column {column!r} holds a value that is not a number") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ProposalError(f"{what} column {column!r} is NaN or infinite at study row {int(bad[0])}")
    neg = np.flatnonzero(values < 0)
    if neg.size:
        raise ProposalError(f"{what} column {column!r} is negative at study row {int(neg[0])} "
                            f"({values[neg[0]]!r}); weights must be >= 0")
    total = values.sum()
    if total <= 0:
        raise ProposalError(f"{what} column {column!r} is zero at every study row: nothing to favour")
    return values / total


def _is_categorical(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series)


def _names(value: Any, what: str) -> list[str]:
    """The parameter names given as ``categorical`` or ``continuous``, once each, in order."""
    if isinstance(value, (str, bytes)):
        raise ProposalError(f"{what} takes a list of parameter names, not the text {value!r}")
    try:
        return list(dict.fromkeys(value or ()))
    except TypeError:
        raise ProposalError(f"{what} takes a list of parameter names, not {value!r}") from None


def _not_a_number(series: pd.Series) -> int | None:
    """The first study row whose value is not a number (bools are not), or None."""
    for i, v in enumerate(series.tolist()):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            return i
    return None


def propose(
    study: pd.DataFrame | str | Path | None = None,
    n: int | None = None,
    seed: int | None = None,
    tau: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    prior_column: str | None = None,
    alpha: float = 1.0,
    entropy_column: str | None = None,
    max_redraws: int = DEFAULT_MAX_REDRAWS,
    categorical: Iterable[str] = (),
    continuous: Iterable[str] = (),
    *,
    db: Any = None,
    run: Any = None,
    target: str | None = None,
    author: str | None = None,
) -> pd.DataFrame:
    """Draw ``n`` proposals from eq. 4 over ``study``; see the module docstring.

    With ``run`` (and ``db``, a database path or an open Store) the study set is the run's
    logged predictions instead: the parameters of each simulation with a ``sigma2`` for
    ``target`` (default: the first target alphabetically that has one); give no ``study`` then.
    With ``db`` the proposal is recorded once (:func:`record`) in one transaction and its id is
    in the result's ``attrs["proposal_record"]`` (``author``: who records it, default the OS
    user). Without ``db`` nothing is read or written.

    ``study``: a DataFrame (or a CSV path) with a ``sigma2`` column; every other column except
    ``prior_column`` and ``entropy_column`` is a parameter. Non-numeric (and bool) columns and
    those named in ``categorical`` are categorical. ``continuous`` names numeric parameters to
    spread even so: a run's database may keep a parameter with a few numeric levels (the
    sample's cs) as categorical, and then its draws would only copy the study rows' levels; its
    values must all be numbers, and a name may not be in both lists. With ``run``, the database's
    categorical parameters are categorical unless named in ``continuous``. ``tau``: per
    continuous parameter (default its study-set spacing: the smallest gap between its distinct
    values, its levels); ``bounds``: ``{name: (lo, hi)}`` per continuous parameter (default the
    study set's min..max). ``max_redraws``: rounds of redrawing rejected draws before the
    box is declared nearly empty. Returns ``n`` rows: the parameters, ``proposal_id``
    (``p{seed}-{i:05d}``; recorded: ``{record_id[:8]}-{i:05d}``, see :func:`point_ids`) and
    ``component`` (the position of the study row drawn from).
    Raises :class:`ProposalError` (one line) on bad input.
    """
    if db is not None or run is not None or target is not None:
        return _propose_recorded(study, n, seed, tau=tau, bounds=bounds, prior_column=prior_column,
                                 alpha=alpha, entropy_column=entropy_column, max_redraws=max_redraws,
                                 categorical=categorical, continuous=continuous, db=db, run=run,
                                 target=target, author=author)
    if author is not None:
        raise ProposalError("author= names who records a proposal: give db= too")
    if study is None:
        raise ProposalError("give a study set (a DataFrame or a CSV path), or a run with db= and run=")
    if isinstance(study, (str, Path)):
        study = read_study(study)
    if not isinstance(study, pd.DataFrame):
        raise ProposalError(f"the study set must be a pandas DataFrame, not {type(study).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ProposalError(f"n must be a whole number >= 1, not {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ProposalError(f"seed must be a whole number >= 0, not {seed!r}")
    if isinstance(max_redraws, bool) or not isinstance(max_redraws, (int, np.integer)) or max_redraws < 0:
        raise ProposalError(f"max_redraws must be a whole number >= 0, not {max_redraws!r}")
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise ProposalError(f"alpha must be a number in [0, 1], not {alpha!r}") from None
    if not 0.0 <= alpha <= 1.0:  # also false for NaN
        raise ProposalError(f"alpha must be in [0, 1], not {alpha!r}")
    if alpha < 1.0 and entropy_column is None:
        raise ProposalError(f"alpha {alpha!r} < 1 mixes in an entropy column: give entropy_column "
                            "(--entropy-column COL)")
    if len(study) == 0:
        raise ProposalError("the study set has no rows")
    if SIGMA2 not in study.columns:
        raise ProposalError(f"the study set has no {SIGMA2!r} column (the model's predictive "
                            f"variance at each point; columns: {', '.join(map(str, study.columns))})")

    if entropy_column is not None and entropy_column not in study.columns:
        raise ProposalError(f"the study set has no entropy column {entropy_column!r} "
                            f"(columns: {', '.join(map(str, study.columns))})")

    # -- weights ---------------------------------------------------------------------------
    weights = _weights(study, SIGMA2, SIGMA2)
    if alpha < 1.0:
        weights = alpha * weights + (1.0 - alpha) * _weights(study, str(entropy_column), "entropy")
    if prior_column is not None:
        weights = weights * _weights(study, prior_column, "prior")
        if weights.sum() <= 0:
            raise ProposalError(f"sigma2 times prior column {prior_column!r} is zero at every study "
                                "row: nothing to favour")
        weights = weights / weights.sum()

    # -- parameters ------------------------------------------------------------------------
    reserved = {SIGMA2, prior_column, entropy_column}
    params = [c for c in study.columns if c not in reserved]
    if not params:
        raise ProposalError("the study set has no parameter columns besides the weights")
    categorical = _names(categorical, "categorical")
    continuous_given = _names(continuous, "continuous")
    for what, names in (("categorical", categorical), ("continuous", continuous_given)):
        for name in names:
            if name not in params:
                raise ProposalError(f"{what} names {name!r}, not a parameter of the study set "
                                    f"(parameters: {', '.join(map(str, params))})")
    for name in continuous_given:
        if name in categorical:
            raise ProposalError(f"parameter {name!r} is named both categorical and continuous: give it one kind")
        row = _not_a_number(study[name])
        if row is not None:
            raise ProposalError(f"continuous names {name!r}, whose value at study row {row} is "
                                f"{_plain(study[name].iloc[row])!r}, not a number: only numbers can be spread")
    # continuous overrides both the dtype's kind and a database's categorical kind
    cat = [p for p in params if p in categorical or (p not in continuous_given and _is_categorical(study[p]))]
    cont = [p for p in params if p not in cat]
    points = {}
    for p in cont:
        values = study[p].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ProposalError(f"parameter {p!r} is NaN or infinite at study row {int(bad[0])}")
        points[p] = values

    taus = {p: spacing(points[p]) for p in cont}
    def continuous(name: Any, what: str, why: str) -> None:
        """tau and bounds name continuous parameters of the study set, or the call is refused."""
        if name not in params:
            raise ProposalError(f"{what} for {name!r}, which is not a parameter of the study set "
                                f"(parameters: {', '.join(map(str, params))})")
        if name in cat:
            raise ProposalError(f"{what} for {name!r}: a categorical parameter {why}")

    for name, value in (tau or {}).items():
        continuous(name, "tau", "is copied from its study row, never spread")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ProposalError(f"tau for {name!r} must be a number, not {value!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise ProposalError(f"tau for {name!r} must be a finite number >= 0, not {value!r}")
        taus[name] = value

    box = {p: (float(points[p].min()), float(points[p].max())) for p in cont}
    for name, pair in (bounds or {}).items():
        continuous(name, "bounds", "takes its study rows' levels, it has no range")
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ProposalError(f"bounds for {name!r} must be two numbers LO, HI, not {pair!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ProposalError(f"bounds for {name!r} must be finite with LO <= HI, not {lo!r}:{hi!r}")
        box[name] = (lo, hi)
    inside = np.ones(len(study), dtype=bool)
    for p in cont:
        lo, hi = box[p]
        inside &= (points[p] >= lo) & (points[p] <= hi)
    if not inside.any():
        raise ProposalError("the bounds exclude every point of the study set: "
                            + ", ".join(f"{p}={box[p][0]!r}:{box[p][1]!r}" for p in cont))

    # -- draws -----------------------------------------------------------------------------
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    component = np.empty(n, dtype=np.int64)
    drawn = np.empty((n, len(cont)), dtype=float)
    centre = np.column_stack([points[p] for p in cont]) if cont else np.empty((len(study), 0))
    scale = np.array([taus[p] for p in cont], dtype=float)
    lows = np.array([box[p][0] for p in cont], dtype=float)
    highs = np.array([box[p][1] for p in cont], dtype=float)
    missing = np.arange(n)
    outside_by_param = np.zeros(len(cont), dtype=np.int64)
    for _round in range(max_redraws + 1):
        k = missing.size
        rows = np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), len(cdf) - 1)
        y = centre[rows] + rng.standard_normal((k, len(cont))) * scale
        out = (y < lows) | (y > highs)
        outside_by_param += out.sum(axis=0)
        ok = ~out.any(axis=1)
        component[missing[ok]] = rows[ok]
        drawn[missing[ok]] = y[ok]
        missing = missing[~ok]
        if missing.size == 0:
            break
    else:
        worst = [cont[i] for i in np.argsort(-outside_by_param, kind="stable") if outside_by_param[i]]
        raise ProposalError(
            f"the bounds box is nearly empty for {', '.join(worst[:3])}: {missing.size} of {n} "
            f"draws still outside after {max_redraws} redraws; widen --bounds or lower --tau")

    out_frame: dict[str, Any] = {}
    for p in params:
        if p in cat:
            out_frame[p] = study[p].to_numpy()[component]
        else:
            out_frame[p] = drawn[:, cont.index(p)]
    out_frame["proposal_id"] = [f"p{int(seed)}-{i:05d}" for i in range(n)]
    out_frame["component"] = component
    return pd.DataFrame(out_frame)


def read_study(path: str | Path) -> pd.DataFrame:
    """A study set from a CSV file (one line on a missing or unreadable file)."""
    path = Path(path)
    if not path.is_file():
        raise ProposalError(f"{path}: no such study file")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise ProposalError(f"{path}: not a readable CSV study set ({' '.join(str(exc).split())})") from None


# -- a run's study set, and the recorded proposal ---------------------------------------------


def _find_run(store: Any, run: Any) -> dict[str, Any]:
    """The run's row from a run object, its record, its id or a unique prefix."""
    from .runs import _find

    ref = run.get("id") if isinstance(run, dict) else getattr(run, "id", run)
    if not isinstance(ref, str) or not ref.strip():
        raise ProposalError(f"the run must be a run object, its record or its id (or a prefix), not {run!r}")
    return _find(store, ref)


def study_from_run(store: Any, run: Any, target: str | None = None) -> tuple[pd.DataFrame, dict[str, Any], str, list[str]]:
    """(study set, the run's row, the target, its categorical parameters) from a run's logged
    predictions: one row per simulation with a ``sigma2`` for ``target``, by sim_id, with the
    parameters (in the database's order) and ``sigma2``."""
    from .runs import predictions

    row = _find_run(store, run)
    run_id = row["id"]
    by_target: dict[str, dict[str, float]] = {}
    for p in predictions(store, run_id):
        if p["sigma2"] is not None:
            by_target.setdefault(p["target"], {})[p["sim_id"]] = float(p["sigma2"])
    if not by_target:
        raise ProposalError(f"run {run_id[:8]} logged no sigma2 (predictive variance) with its predictions: "
                            "log it with run.log_predictions(frame with a sigma2 column)")
    if target is None:
        target = sorted(by_target)[0]
    elif target not in by_target:
        raise ProposalError(f"run {run_id[:8]} has no sigma2 for target {target!r}; "
                            f"targets with sigma2: {', '.join(sorted(by_target))}")
    sigma2 = by_target[target]
    params = store.parameters()
    names = [p["name"] for p in params]
    if not names:
        raise ProposalError(f"{store.path}: the database has no parameters to propose")
    sims = sorted(sigma2)
    values: dict[str, dict[str, Any]] = {s: {} for s in sims}
    marks = ",".join("?" * len(sims))
    for r in store.conn.execute(f"SELECT sim_id, name, value FROM jdsi_param_value WHERE sim_id IN ({marks})", sims):
        values[r["sim_id"]][r["name"]] = r["value"]
    for sim in sims:
        missing = [name for name in names if values[sim].get(name) is None]
        if missing:
            raise ProposalError(f"simulation {sim!r} of run {run_id[:8]} has no value for parameter "
                                f"{missing[0]!r}: it cannot be a study point")
    frame = pd.DataFrame({name: [values[sim][name] for sim in sims] for name in names})
    frame[SIGMA2] = [sigma2[sim] for sim in sims]
    categorical = [p["name"] for p in params if p["kind"] == "categorical"]
    return frame, row, target, categorical


def _canonical_cell(value: Any) -> str:
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def study_digest(study: pd.DataFrame) -> str:
    """SHA-256 of the study set's canonical CSV bytes: a header of its columns, one line per row,
    floats as repr (the shortest text that reads back to the same double), empty for missing,
    quoted by Python's csv module, "\n" line ends, UTF-8."""
    import csv
    import hashlib
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([str(c) for c in study.columns])
    for row in study.itertuples(index=False, name=None):
        writer.writerow([_canonical_cell(v) for v in row])
    return "sha256:" + hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def point_ids(record_id: str, n: int) -> list[str]:
    """A recorded proposal's point ids, ``{record_id[:8]}-{i:05d}``: unique across records (unlike
    an unrecorded draw's ``p{seed}-...``), so an ingest finds the record from a point id alone."""
    return [f"{record_id[:8]}-{i:05d}" for i in range(n)]


def record(store: Any, proposals: pd.DataFrame, study: pd.DataFrame, policy: dict[str, Any], *,
           run_id: str | None = None, dataset_id: str | None = None, author: str | None = None,
           record_id: str | None = None) -> str:
    """Write a drawn proposal as one immutable record (jdsi_proposal and a jdsi_proposal_point
    per row) with a ``proposal.save`` event, in one transaction; returns its id (``record_id``
    when the caller chose it, as it must to name the points by it). There is no update: drawing
    again is a new record."""
    from .store import current_user, new_id, now

    record_id = record_id or new_id()
    params = [c for c in proposals.columns if c not in ("proposal_id", "component")]
    points = [(record_id, str(point), int(component),
               json.dumps({p: _plain(v) for p, v in zip(params, values)}, allow_nan=False))
              for point, component, *values in proposals[["proposal_id", "component", *params]].itertuples(
                  index=False, name=None)]
    digest = study_digest(study)
    with store.write() as conn:
        conn.execute(
            "INSERT INTO jdsi_proposal (id, created_at, author, policy, study_digest, run_id, dataset_id, n) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, now(), author or current_user(), json.dumps(policy, sort_keys=True), digest,
             run_id, dataset_id, len(points)))
        conn.executemany('INSERT INTO jdsi_proposal_point (proposal_id, point_id, component, "values") '
                         "VALUES (?, ?, ?, ?)", points)
        store.log_event(conn, "proposal.save", record_id,
                        {"n": len(points), "run_id": run_id, "study_digest": digest})
    return record_id


def _propose_recorded(study: Any, n: Any, seed: Any, *, db: Any, run: Any, target: str | None,
                      author: str | None, **options: Any) -> pd.DataFrame:
    from .store import Store, new_id

    if db is None:
        raise ProposalError("run= (--run) takes the study set from a database: give db= (--db) too"
                            if run is not None else "target= (--target) names a run's target: give db= and run=")
    if run is None and target is not None:
        raise ProposalError("target= (--target) names a run's target: give run= (--run) too")
    if run is not None and study is not None and target is not None:
        raise ProposalError("target= (--target) picks a run's logged sigma2; with a study set the sigma2 is "
                            "the study set's column: drop --target")
    if run is None and study is None:
        raise ProposalError("give a study set (--study) or a run (--run) to draw from")
    store = db if isinstance(db, Store) else None
    opened = store is None
    if opened:
        if not isinstance(db, (str, Path)):
            raise ProposalError(f"db must be a database path or a Store, not {type(db).__name__}")
        store = Store(db)
    try:
        run_id = dataset_id = None
        sigma2_from = "study set"
        categorical = _names(options.pop("categorical"), "categorical")
        continuous = _names(options.pop("continuous"), "continuous")
        if run is not None and study is not None:
            # The study set holds sigma2 from the run's model at points nobody simulated (a
            # grid): the run is recorded as where it came from, its predictions are not read.
            row = _find_run(store, run)
            run_id, dataset_id = row["id"], row["dataset_id"]
            if isinstance(study, (str, Path)):
                study = read_study(study)
        elif run is not None:
            study, row, target, from_db = study_from_run(store, run, target)
            run_id, dataset_id = row["id"], row["dataset_id"]
            sigma2_from = "run predictions"
            # the database's kind yields to continuous=; the caller's own categorical= does not
            categorical += [c for c in from_db if c not in categorical and c not in continuous]
        elif isinstance(study, (str, Path)):
            study = read_study(study)
        frame = propose(study, n, seed, categorical=categorical, continuous=continuous, **options)
        record_id = new_id()  # chosen first: the points are named by it
        frame["proposal_id"] = point_ids(record_id, len(frame))
        tau_given = {k: float(v) for k, v in (options.get("tau") or {}).items()}
        bounds_given = {k: [float(v) for v in pair] for k, pair in (options.get("bounds") or {}).items()}
        policy = {"tau": tau_given, "bounds": bounds_given, "alpha": float(options["alpha"]),
                  "prior_column": options.get("prior_column"), "entropy_column": options.get("entropy_column"),
                  "categorical": categorical, "continuous": continuous,
                  "n": int(n), "seed": int(seed), "target": target,
                  "sigma2": sigma2_from}  # type: ignore[arg-type]
        frame.attrs["proposal_record"] = record(store, frame, study, policy, run_id=run_id, dataset_id=dataset_id,
                                                record_id=record_id, author=author)
        return frame
    finally:
        if opened:
            store.close()


# -- recorded proposals: listing and export (the CLI, the server and Ensemble read these) -------

PROVENANCE = ("proposal_id", "component")
RECORD_FIELDS = ("id", "created_at", "author", "run_id", "run_name", "dataset_id", "n", "policy", "linked")


def _records(store: Any, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        f"""SELECT p.id, p.created_at, p.author, p.run_id, r.name AS run_name, p.dataset_id, p.n, p.policy,
                   (SELECT count(*) FROM jdsi_sim_proposal l WHERE l.proposal_id = p.id) AS linked
            FROM jdsi_proposal p LEFT JOIN jdsi_run r ON r.id = p.run_id {where}
            ORDER BY p.created_at DESC, p.id""", params).fetchall()
    return [{k: json.loads(r[k]) if k == "policy" else r[k] for k in RECORD_FIELDS} for r in rows]


def list_proposals(store: Any) -> list[dict[str, Any]]:
    """The recorded proposals, newest first: id, created_at, author, run_id, run_name (None for a
    study file or a run since gone), dataset_id, n, policy (a dict) and linked (how many
    simulations were ingested for its points)."""
    return _records(store)


def get_proposal(store: Any, ref: Any) -> dict[str, Any]:
    """One recorded proposal (as :func:`list_proposals` gives it) by id or a unique prefix of >=
    MIN_PREFIX characters."""
    from .store import resolve_prefix

    row = resolve_prefix(store, "jdsi_proposal", ref, what="proposal", error=ProposalError,
                         order="created_at DESC, id", see=" (see `jupyter dsi proposals --db DB`)",
                         make="record one with `jupyter dsi propose --db DB --run RUN ...`")
    return _records(store, "WHERE p.id = ?", (row["id"],))[0]


def proposal_points(store: Any, ref: Any) -> tuple[dict[str, Any], list[str], list[list[Any]]]:
    """(record, columns, rows) of a recorded proposal's points, in point order: the parameters (the
    database's parameters in its order, then any others in the study set's order), proposal_id,
    component and sim_id (the simulation ingested for the point, or None; the first by sim_id
    when several were)."""
    record = get_proposal(store, ref)
    points = store.conn.execute(
        'SELECT point_id, component, "values" FROM jdsi_proposal_point WHERE proposal_id = ? ORDER BY point_id',
        (record["id"],)).fetchall()
    values = [json.loads(p["values"]) for p in points]
    named = dict.fromkeys(name for v in values for name in v)
    known = [p["name"] for p in store.parameters()]
    params = [n for n in known if n in named] + [n for n in named if n not in known]
    sims = dict(store.conn.execute("SELECT point_id, min(sim_id) FROM jdsi_sim_proposal WHERE proposal_id = ? "
                                   "GROUP BY point_id", (record["id"],)).fetchall())
    rows = [[v.get(n) for n in params] + [p["point_id"], p["component"], sims.get(p["point_id"])]
            for p, v in zip(points, values)]
    return record, [*params, *PROVENANCE, "sim_id"], rows


def points_text(store: Any, ref: Any, fmt: str = "csv") -> str:
    """A recorded proposal's points as text: ``csv`` is what `jupyter dsi propose` printed for it
    and `jupyter dsi sample OUT --params` reads (the parameters, proposal_id, component; no sim_id,
    which sample writes itself); ``json`` an array of objects with sim_id too."""
    from .textout import write_rows

    if fmt not in ("csv", "json"):
        raise ProposalError(f"unknown format {fmt!r} for a proposal's points; use csv or json")
    _, columns, rows = proposal_points(store, ref)
    if fmt == "csv":
        columns, rows = columns[:-1], [r[:-1] for r in rows]
    buffer = io.StringIO()
    write_rows(columns, rows, fmt, buffer)
    return buffer.getvalue()

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


def propose(
    study: pd.DataFrame | str | Path,
    n: int,
    seed: int,
    tau: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    prior_column: str | None = None,
    alpha: float = 1.0,
    entropy_column: str | None = None,
    max_redraws: int = DEFAULT_MAX_REDRAWS,
    categorical: Iterable[str] = (),
) -> pd.DataFrame:
    """Draw ``n`` proposals from eq. 4 over ``study``; see the module docstring.

    ``study``: a DataFrame (or a CSV path) with a ``sigma2`` column; every other column except
    ``prior_column`` and ``entropy_column`` is a parameter. Non-numeric (and bool) columns and
    those named in ``categorical`` are categorical. ``tau``: per continuous parameter (default
    its study-set spacing); ``bounds``: ``{name: (lo, hi)}`` per continuous parameter (default
    the study set's min..max). ``max_redraws``: rounds of redrawing rejected draws before the
    box is declared nearly empty. Returns ``n`` rows: the parameters, ``proposal_id``
    (``p{seed}-{i:05d}``) and ``component`` (the position of the study row drawn from).
    Raises :class:`ProposalError` (one line) on bad input.
    """
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
    categorical = list(categorical)
    for name in categorical:
        if name not in params:
            raise ProposalError(f"categorical names {name!r}, not a parameter of the study set "
                                f"(parameters: {', '.join(map(str, params))})")
    cat = [p for p in params if p in categorical or _is_categorical(study[p])]
    cont = [p for p in params if p not in cat]
    points = {}
    for p in cont:
        values = study[p].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ProposalError(f"parameter {p!r} is NaN or infinite at study row {int(bad[0])}")
        points[p] = values

    taus = {p: spacing(points[p]) for p in cont}
    for name, value in (tau or {}).items():
        if name not in params:
            raise ProposalError(f"tau for {name!r}, which is not a parameter of the study set "
                                f"(parameters: {', '.join(map(str, params))})")
        if name in cat:
            raise ProposalError(f"tau for {name!r}: a categorical parameter is copied from its "
                                "study row, never spread")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ProposalError(f"tau for {name!r} must be a number, not {value!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise ProposalError(f"tau for {name!r} must be a finite number >= 0, not {value!r}")
        taus[name] = value

    box = {p: (float(points[p].min()), float(points[p].max())) for p in cont}
    for name, pair in (bounds or {}).items():
        if name not in params:
            raise ProposalError(f"bounds for {name!r}, which is not a parameter of the study set "
                                f"(parameters: {', '.join(map(str, params))})")
        if name in cat:
            raise ProposalError(f"bounds for {name!r}: a categorical parameter takes its study "
                                "rows' levels, it has no range")
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

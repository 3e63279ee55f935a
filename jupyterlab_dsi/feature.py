"""d_feature: a weighted sum of any number columns, the scatter's default x axis.

Seed 000's implosions weigh the shock and edge distances (``d_shock + d_edge``); an ensemble
without those coefficients (CloverLeaf) weighs what it has: ``d_density``, a per-step scalar,
a numeric parameter. The terms travel and are stored as a JSON object ``{column: weight}`` in
the order the user gave them. The older form, two numbers ``[w_shock, w_edge]`` (or
``{"shock": .., "edge": ..}`` from version-1 panel settings), still reads as those two terms.
A missing value in any term leaves d_feature missing for that row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import DsiError

Terms = dict[str, float]

DEFAULT: Terms = {"d_shock": 1.0, "d_edge": 1.0}


class FeatureError(DsiError):
    """Feature terms that are not {column: finite number}."""


def _weight(name: str, value: Any) -> float:
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer past any float (JSON allows 400 digits)
            number = None
    if number is None or not math.isfinite(number):
        raise FeatureError(f"the weight of {name} in d_feature must be a finite number, not {_short(value)}")
    return number


def _short(value: Any) -> str:
    """A value in a message, as JSON where it is JSON (the TypeScript port says the same)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def terms(value: Any) -> Terms:
    """Checked terms from any accepted form; None gives the default (d_shock + d_edge)."""
    if value is None:
        return dict(DEFAULT)
    if isinstance(value, Mapping):
        if set(value) == {"shock", "edge"}:  # version-1 panel settings
            return {"d_shock": _weight("d_shock", value["shock"]), "d_edge": _weight("d_edge", value["edge"])}
        out: Terms = {}
        for name, weight in value.items():
            if not isinstance(name, str) or not name:
                raise FeatureError(f"d_feature's terms are named by columns, not {_short(name)}")
            if name == "d_feature":
                raise FeatureError("d_feature cannot be one of its own terms")
            out[name] = _weight(name, weight)
        if not out:
            raise FeatureError("d_feature needs at least one term, e.g. {\"d_density\": 1}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return {"d_shock": _weight("d_shock", value[0]), "d_edge": _weight("d_edge", value[1])}
    raise FeatureError(
        f"d_feature's weights must be {{column: weight}} or two numbers [w_shock, w_edge], not {_short(value)}"
    )


def from_args(items: Sequence[str]) -> Terms:
    """``--weights`` on the command line: ``WS WE`` (d_shock, d_edge) or ``NAME=W ...``."""
    if len(items) == 2 and all("=" not in i for i in items):
        try:
            return terms([float(items[0]), float(items[1])])
        except ValueError:
            pass
    out: Terms = {}
    for item in items:
        name, sep, weight = item.rpartition("=")
        try:
            number = float(weight)
        except ValueError:
            number = None
        if not sep or not name.strip() or number is None:
            raise FeatureError(
                f"--weights takes two numbers (W_SHOCK W_EDGE) or NAME=WEIGHT terms "
                f"(d_density=1 wall_clock=0.5), not {item!r}"
            )
        out[name.strip()] = number
    return terms(out)


def legacy(t: Terms) -> tuple[float, float]:
    """(w_shock, w_edge) for readers that know only those two columns."""
    return t.get("d_shock", 0.0), t.get("d_edge", 0.0)


def check_names(t: Terms, allowed: Iterable[str]) -> None:
    """Every term names one of ``allowed`` (the number columns at hand), or a FeatureError."""
    known = set(allowed)
    unknown = [name for name in t if name not in known]
    if unknown:
        raise FeatureError(
            f"d_feature weighs {', '.join(repr(n) for n in unknown)}, not a number column of this "
            f"selection; choose from {', '.join(sorted(known))}"
        )


def sql(t: Terms, allowed: Mapping[str, str]) -> tuple[str, list[float]]:
    """The SQL sum over quoted identifiers from ``allowed``, with the weights as parameters."""
    check_names(t, allowed)
    return "(" + " + ".join(f"? * {allowed[name]}" for name in t) + ")", list(t.values())


def stored(feature_text: str | None, w_shock: Any, w_edge: Any, method_id: str | None) -> Terms | None:
    """A dataset's terms from its columns: ``feature`` (schema 3), else (schema 2) the two weights
    a dataset with a method had; None when there are none, or when the column holds something
    that is not terms (a damaged record reads as having none rather than failing every listing).
    The TypeScript replica reads the same (storedTerms; tests/vectors/feature.json)."""
    if feature_text is None:
        if method_id is None:
            return None
        try:
            return terms([w_shock, w_edge])
        except FeatureError:
            return None
    try:
        value = json.loads(feature_text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    try:
        return terms(value)
    except FeatureError:
        return None


def weight_text(w: float) -> str:
    """A weight in full: the shortest text that reads back as the same number (``0.1``,
    ``1e-07``, ``1e+16``), without a ``.0`` on whole numbers. Exact, unlike ``{w:g}`` (which
    shows 1.0000001 as 1), and the same digits as JavaScript's shortest form."""
    text = repr(float(w))
    return text[:-2] if text.endswith(".0") else text


def formula(t: Terms) -> str:
    """Readable: ``d_feature = 1 · d_shock + 0.5 · d_edge``."""
    parts = " + ".join(f"{weight_text(w)} · {name}" for name, w in t.items())
    return f"d_feature = {parts or 'nothing (no terms)'}"

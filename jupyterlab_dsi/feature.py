"""d_feature: a weighted sum of any number columns, the scatter's default x axis.

Seed 000's implosions weigh the shock and edge distances (``d_shock + d_edge``); an ensemble
without those coefficients (CloverLeaf) weighs what it has: ``d_density``, a per-step scalar,
a numeric parameter. The terms travel and are stored as a JSON object ``{column: weight}`` in
the order the user gave them. The older form, two numbers ``[w_shock, w_edge]`` (or
``{"shock": .., "edge": ..}`` from version-1 panel settings), still reads as those two terms.
A missing value in any term leaves d_feature missing for that row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import DsiError

Terms = dict[str, float]

DEFAULT: Terms = {"d_shock": 1.0, "d_edge": 1.0}


class FeatureError(DsiError):
    """Feature terms that are not {column: finite number}."""


def _weight(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FeatureError(f"the weight of {name} in d_feature must be a finite number, not {value!r}")
    return float(value)


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
                raise FeatureError(f"d_feature's terms are named by columns, not {name!r}")
            if name == "d_feature":
                raise FeatureError("d_feature cannot be one of its own terms")
            out[name] = _weight(name, weight)
        if not out:
            raise FeatureError("d_feature needs at least one term, e.g. {\"d_density\": 1}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return {"d_shock": _weight("d_shock", value[0]), "d_edge": _weight("d_edge", value[1])}
    raise FeatureError(
        f"d_feature's weights must be {{column: weight}} or two numbers [w_shock, w_edge], not {value!r}"
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


def formula(t: Terms) -> str:
    """Readable: ``d_feature = 1 · d_shock + 0.5 · d_edge``."""
    return "d_feature = " + " + ".join(f"{w:g} · {name}" for name, w in t.items())

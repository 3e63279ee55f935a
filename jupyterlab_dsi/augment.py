"""Pool-based augmentation (issue 16 §2, seed 004 IV-B): phase k+1 of the serial workflow.

A parent dataset D_T0 and a run whose model logged its predictive variance ``sigma2`` per
simulation give D_T0 ∪ D_T1: N simulations that are not members of the parent, chosen by the
run's ``sigma2``, either drawn without replacement with probability proportional to it
(``sample``) or the N largest (``top``). The result is a new dataset whose parent is D_T0, with
the policy in its settings under ``"augment"`` so that :func:`check` (called by ``verify``) can
choose again from the same run and say whether the members still follow.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import DsiError
from .store import Store

POLICIES = ("sample", "top")


class AugmentError(DsiError):
    """Augmentation input that cannot be used, with the reason."""


def _sigma2_by_target(store: Store, run_id: str) -> dict[str, dict[str, float | None]]:
    from .runs import predictions

    out: dict[str, dict[str, float | None]] = {}
    for row in predictions(store, run_id):
        out.setdefault(row["target"], {})[row["sim_id"]] = row["sigma2"]
    return out


def choose(sigma2: dict[str, float | None], exclude: set[str], size: int, seed: int, policy: str) -> list[str]:
    """The ``size`` sim ids outside ``exclude`` that ``policy`` picks from ``sigma2`` (sim_id -> value).

    Candidates are taken in sorted sim_id order, so the choice depends only on the values and
    the seed, never on the order they were logged or read in."""
    import numpy as np

    if policy not in POLICIES:
        raise AugmentError(f"unknown policy {policy!r}: use 'sample' (proportional to sigma2) or 'top'")
    candidates = sorted(s for s, v in sigma2.items()
                        if s not in exclude and v is not None and math.isfinite(v) and v > 0)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise AugmentError(f"the size must be a whole number >= 1, not {size!r}")
    if size > len(candidates):
        raise AugmentError(
            f"the size {size} is more than the {len(candidates)} non-member simulations with a finite "
            "sigma2 > 0 in this run's predictions: ask for at most that many")
    if policy == "top":
        ranked = sorted(candidates, key=lambda s: (-float(sigma2[s]), s))  # type: ignore[arg-type]
        return sorted(ranked[:size])
    weights = np.array([float(sigma2[s]) for s in candidates], dtype=float)  # type: ignore[arg-type]
    rng = np.random.Generator(np.random.PCG64(seed))
    picked = rng.choice(len(candidates), size=int(size), replace=False, p=weights / weights.sum())
    return sorted(candidates[i] for i in picked)


def _resolve(store: Store, run: Any, target: str | None) -> tuple[str, str, dict[str, float | None]]:
    """(run id, target, that target's sigma2 per sim) of a run object, record, id or prefix."""
    from .runs import _find

    ref = run.get("id") if isinstance(run, dict) else getattr(run, "id", run)
    if not isinstance(ref, str) or not ref.strip():
        raise AugmentError(f"the run must be a run object, its record or its id (or a prefix), not {run!r}")
    run_id = _find(store, ref)["id"]
    by_target = _sigma2_by_target(store, run_id)
    with_sigma2 = sorted(t for t, values in by_target.items() if any(v is not None for v in values.values()))
    if not with_sigma2:
        raise AugmentError(
            f"run {run_id[:8]} logged no sigma2 (predictive variance) with its predictions: "
            "log it with run.log_predictions(frame with a sigma2 column)")
    if target is None:
        target = with_sigma2[0]
    elif target not in with_sigma2:
        raise AugmentError(f"run {run_id[:8]} has no sigma2 for target {target!r}; "
                           f"targets with sigma2: {', '.join(with_sigma2)}")
    return run_id, target, by_target[target]


def augment(store: Store, parent: str, run: Any, *, size: Any, seed: Any, policy: str = "sample",
            description: Any = None, name: str | None = None, target: str | None = None,
            author: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Save the parent's members and ``size`` more chosen by ``policy`` as a new dataset:
    (its record, the chosen sim ids). Everything is checked before anything is written."""
    from . import sampling as smp
    from .datasets import get_dataset, members, save_dataset

    if not isinstance(description, str) or not description.split("\x00", 1)[0].strip():
        raise AugmentError("augment needs a description (--save DESCRIPTION): why these simulations are added")
    if policy not in POLICIES:
        raise AugmentError(f"unknown policy {policy!r}: use 'sample' (proportional to sigma2) or 'top'")
    try:
        seed = smp.check_seed(seed)
    except ValueError as exc:
        raise AugmentError(str(exc)) from None
    if not isinstance(parent, str) or not parent.strip():
        raise AugmentError(f"the parent must be a dataset id or a unique prefix, not {parent!r}")
    record = get_dataset(store, parent)
    if record["deleted"]:
        raise AugmentError(f"dataset {record['id'][:8]} ({record['name']}) is deleted: augment a live one, "
                           "or restore it first (see `jupyter dsi datasets --all`)")
    run_id, target, sigma2 = _resolve(store, run, target)
    parent_members = members(store, record["id"])
    chosen = choose(sigma2, set(parent_members), size, seed, policy)
    settings = {"version": 1, "origin": "augment",
                "augment": {"policy": policy, "run_id": run_id, "size": int(size), "seed": seed, "target": target}}
    # method and t are the parent's (the digest covers them); the filter is the parent's too, as
    # the record of where D_T0 came from. `verify` does not re-run that filter on this dataset
    # (the added members never passed it): datasets.check hands a record with settings "augment"
    # to check() below, which recomputes parent ∪ choice from the run instead.
    saved = save_dataset(
        store, members=sorted(set(parent_members) | set(chosen)), description=description,
        name=name or "", method_id=record["method"], t=record["time"], weights=record["weights"],
        filter=record["filter"] or "", selection_kind="augment", sampling=None, settings=settings,
        parent_id=record["id"], author=author)
    return saved, chosen


def check(store: Store, record: dict[str, Any]) -> list[str]:
    """What differs when the augmentation is chosen again: the parent's members plus the same
    policy, size and seed over the same run's sigma2 (an empty list when it reproduces)."""
    from .datasets import members

    spec = (record.get("settings") or {}).get("augment")
    try:
        if not isinstance(spec, dict) or record["parent"] is None:
            raise AugmentError("the augment settings or the parent are missing")
        parent_members = members(store, record["parent"])
        run_id, _, sigma2 = _resolve(store, spec["run_id"], spec["target"])
        again = set(parent_members) | set(choose(sigma2, set(parent_members), spec["size"], spec["seed"],
                                                 spec["policy"]))
    except (DsiError, KeyError, TypeError, ValueError) as exc:
        return [f"cannot recompute the augmentation: {exc}"]
    stored = set(members(store, record["id"]))
    if again == stored:
        return []
    missing, extra = sorted(again - stored), sorted(stored - again)
    return [f"members differ from the parent plus the augmentation chosen again: {len(missing)} missing "
            f"({', '.join(missing[:5])}), {len(extra)} extra ({', '.join(extra[:5])})"]


def summary(record: dict[str, Any], chosen: list[str], parent_size: int) -> str:
    spec = record["settings"]["augment"]
    return (f"saved dataset {record['name']!r}: {parent_size} members of the parent + {len(chosen)} chosen "
            f"by {spec['policy']} on run {spec['run_id'][:8]}'s sigma2 of {spec['target']!r} = "
            f"{record['size']}; digest {record['digest']}")

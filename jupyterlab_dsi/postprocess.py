"""Post-processing: the distances of every simulation to a ground truth (seed 000, Appendix A).

One simulation is read at a time, so memory stays bounded by the largest single file whatever
the ensemble's size; within a simulation every time step is computed at once with numpy. The
method and all its distances are written in one transaction at the end: an error or a Ctrl-C
anywhere leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import DsiError
from .fields import FieldError, Fields, check_uniform, read_fields
from .norms import NORMS, coefficient_distance, cylindrical_weights, density_distance
from .store import Store, new_id, now


class PostprocessError(DsiError):
    """Bad arguments or data for post-processing; the message names the file or value."""


class EmptyOverlapWarning(UserWarning):
    """Some (simulation, step) pairs share no cell of positive density with the ground truth."""


@dataclass(frozen=True)
class Simulation:
    sim_id: str
    file: Path
    steps: int


def simulations(store: Store) -> list[Simulation]:
    rows = store.conn.execute(
        """SELECT s.sim_id, s.path, s.times, src.path AS source
           FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id
           ORDER BY s.sim_id"""
    ).fetchall()
    return [
        Simulation(r["sim_id"], Path(r["source"]).parent / r["path"], len(json.loads(r["times"])))
        for r in rows
    ]


def _load(sim: Simulation) -> Fields:
    try:
        return read_fields(sim.file)
    except FieldError as exc:
        raise PostprocessError(f"simulation {sim.sim_id!r}: {exc}") from None


def distances(
    gt: Fields, fields: Fields, norm: str, gt_time: int | None, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d_shock, d_edge, d_density), each shaped (T,), for one simulation."""
    if gt_time is None:
        ref_density, ref_shock, ref_edge = gt.density, gt.shock, gt.edge
    else:
        ref_density = gt.density[gt_time][None]
        ref_shock, ref_edge = gt.shock[gt_time][None], gt.edge[gt_time][None]
    return (
        coefficient_distance(ref_shock, fields.shock, norm),
        coefficient_distance(ref_edge, fields.edge, norm),
        density_distance(ref_density, fields.density, weights, norm),
    )


def _check_compatible(sim: Simulation, gt: Fields, fields: Fields, gt_time: int | None) -> None:
    if fields.r.shape != gt.r.shape or fields.z.shape != gt.z.shape or not (
        np.allclose(fields.r, gt.r) and np.allclose(fields.z, gt.z)
    ):
        raise PostprocessError(
            f"simulation {sim.sim_id!r}: {sim.file}: its grid ({fields.r.size}x{fields.z.size}) "
            f"differs from the ground truth's ({gt.r.size}x{gt.z.size}); distances need the same grid"
        )
    for name in ("shock", "edge"):
        if getattr(fields, name).shape[1] != getattr(gt, name).shape[1]:
            raise PostprocessError(
                f"simulation {sim.sim_id!r}: {sim.file}: {name} has {getattr(fields, name).shape[1]} "
                f"coefficients, the ground truth {getattr(gt, name).shape[1]}"
            )
    if gt_time is None and fields.time.size != gt.time.size:
        raise PostprocessError(
            f"simulation {sim.sim_id!r}: {sim.file}: {fields.time.size} time steps against the "
            f"ground truth's {gt.time.size}; use --gt-time INDEX to compare every step with one step"
        )


def postprocess(
    db: str | Path,
    ground_truth: str,
    norm: str,
    gt_time: int | None = None,
    description: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Compute a new method's distances for every simulation and step; returns the method id."""
    if norm not in NORMS:
        raise PostprocessError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    with Store(db) as store:
        sims = simulations(store)
        by_id = {s.sim_id: s for s in sims}
        if ground_truth not in by_id:
            examples = ", ".join(s.sim_id for s in sims[:5])
            raise PostprocessError(
                f"unknown ground truth {ground_truth!r}: {store.path} has {len(sims)} simulations"
                + (f" (e.g. {examples})" if examples else "")
            )
        gt_sim = by_id[ground_truth]
        gt = _load(gt_sim)
        check_uniform(gt_sim.file, "R", gt.r)
        check_uniform(gt_sim.file, "z", gt.z)
        if gt_time is not None and not 0 <= gt_time < gt.time.size:
            raise PostprocessError(
                f"--gt-time {gt_time} is outside the ground truth's steps 0..{gt.time.size - 1}"
            )
        weights = cylindrical_weights(gt.r)

        rows: list[tuple[int, str, float | None, float | None, float | None]] = []
        empty = 0
        for done, sim in enumerate(sims, start=1):
            fields = gt if sim is gt_sim else _load(sim)
            _check_compatible(sim, gt, fields, gt_time)
            d_shock, d_edge, d_density = distances(gt, fields, norm, gt_time, weights)
            empty += int(np.isnan(d_density).sum())
            for t in range(fields.time.size):
                rows.append((t, sim.sim_id, _real(d_shock[t]), _real(d_edge[t]), _real(d_density[t])))
            if progress:
                progress(done, len(sims))
        if empty:
            warnings.warn(
                f"{empty} (simulation, step) pairs share no cell of positive density with the "
                "ground truth (empty D+): their density distance is stored as NULL, not 0",
                EmptyOverlapWarning,
                stacklevel=2,
            )

        method_id = new_id()
        with store.write() as conn:
            gt_row = conn.execute(
                "SELECT id FROM jdsi_ground_truth WHERE sim_id = ? ORDER BY created_at LIMIT 1",
                (ground_truth,),
            ).fetchone()
            gt_id = gt_row[0] if gt_row else new_id()
            if not gt_row:
                conn.execute(
                    "INSERT INTO jdsi_ground_truth (id, sim_id, description, created_at) VALUES (?,?,?,?)",
                    (gt_id, ground_truth, "", now()),
                )
            conn.execute(
                """INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description,
                   code_version, created_at) VALUES (?,?,?,?,?,?,?)""",
                (method_id, gt_id, norm, gt_time, description, f"jupyterlab-dsi {__version__}", now()),
            )
            conn.executemany(
                "INSERT INTO jdsi_distance (method_id, t, sim_id, d_shock, d_edge, d_density) "
                "VALUES (?,?,?,?,?,?)",
                ((method_id, *row) for row in rows),
            )
            Store.log_event(
                conn,
                "method.created",
                method_id,
                {"ground_truth": ground_truth, "norm": norm, "gt_time": gt_time, "rows": len(rows)},
            )
        return method_id


def _real(value: float) -> float | None:
    return None if np.isnan(value) else float(value)

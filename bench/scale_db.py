"""The scale suite's ensemble database (bench/scale.js, issue 18 §1).

A real jupyterlab-dsi file: created by the package's own Store (schema.sql, its pragmas, a file
moved into place only once filled), then filled with sqlite3 inside one Store write transaction,
the rows the ingest and `postprocess` write: a source, the sample's 7 categorical parameters and
their levels, SIMS simulations of STEPS time steps, ground truths, METHODS methods and their
distances (SIMS x STEPS rows each), and the event log entries those writes log. The distances are
synthetic (a smooth function of the parameters, growing with t, plus seeded noise), so the views
draw something with structure; they are not physics. Deterministic for a given size.

Cached in bench/.cache/ under a name keyed by the sizes, the schema version and this script's
own bytes: a schema migration or a change here builds a new file; an unchanged one is reused.

    python bench/scale_db.py --sims 10000 --steps 40 --methods 16 [--cache bench/.cache]

prints the database's absolute path on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from jupyterlab_dsi.store import SCHEMA_VERSION, Store

HERE = Path(__file__).resolve().parent

# The sample ensemble's parameters (examples/data/sample.sqlite): name -> ordered levels.
PARAMETERS: list[tuple[str, list[float]]] = [
    ("cs", [0.1, 0.2, 0.3, 0.4, 0.5]),
    ("mrg", [0.5, 1, 2]),
    ("profile", [0, 1, 2]),
    ("s1", [0, 0.005, 0.01]),
    ("s2", [6, 8, 10]),
    ("gamma", [1.3, 1.4, 1.67]),
    ("rho_gas", [0.75, 1.5, 2.25]),
]
NORMS = ("L2", "L1", "Linf")
CREATED_AT = "2026-01-01T00:00:00.000+00:00"  # fixed: the same bytes on every build


def cache_path(cache: Path, sims: int, steps: int, methods: int) -> Path:
    """Where the database of these sizes lives: keyed by schema version and this script."""
    key = hashlib.sha256(Path(__file__).read_bytes() + f"{sims}x{steps}x{methods}".encode()).hexdigest()[:10]
    return cache / f"scale-{sims}x{steps}-{methods}m-schema{SCHEMA_VERSION}-{key}.sqlite"


def _ids(seed: str, n: int) -> list[str]:
    """n UUID-shaped ids derived from seed (deterministic, unlike uuid4)."""
    out = []
    for i in range(n):
        h = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}")
    return out


def fill(store: Store, sims: int, steps: int, methods: int) -> None:
    rng = np.random.default_rng(18)
    sim_ids = [f"sim{i:05d}" for i in range(sims)]
    # Each simulation's level index per parameter, uniform.
    levels = np.stack([rng.integers(0, len(lv), sims) for _, lv in PARAMETERS], axis=1)
    (source_id,) = _ids("source", 1)
    times = json.dumps([float(t + 1) for t in range(steps)])
    with store.write() as conn:
        conn.execute(
            "INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES (?,?,?,?,?,?)",
            (source_id, "ensemble", "/bench/scale/simulations.csv", "0" * 64, 0, CREATED_AT),
        )
        conn.executemany(
            "INSERT INTO jdsi_parameter (name, kind, levels, unit, position) VALUES (?,?,?,?,?)",
            [(name, "categorical", json.dumps(lv), None, i) for i, (name, lv) in enumerate(PARAMETERS)],
        )
        conn.executemany(
            "INSERT INTO jdsi_simulation (sim_id, path, sha256, times, source_id) VALUES (?,?,?,?,?)",
            ((s, f"sims/{s}.npz", None, times, source_id) for s in sim_ids),
        )
        conn.executemany(
            "INSERT INTO jdsi_param_value (sim_id, name, value) VALUES (?,?,?)",
            (
                (sim_ids[i], name, float(lv[levels[i, p]]))
                for p, (name, lv) in enumerate(PARAMETERS)
                for i in range(sims)
            ),
        )
        store.log_event(conn, "source.ingested", source_id,
                        {"kind": "ensemble", "path": "/bench/scale/simulations.csv", "simulations": sims})

        # Ground truths: one per four methods (a different reference simulation each), the three
        # norms, and every fourth method compared at a fixed ground-truth step (gt_time).
        gt_count = max(1, (methods + 3) // 4)
        gt_ids = _ids("ground-truth", gt_count)
        gt_sims = [sim_ids[(i * 997) % sims] for i in range(gt_count)]
        conn.executemany(
            "INSERT INTO jdsi_ground_truth (id, sim_id, description, created_at) VALUES (?,?,?,?)",
            [(g, s, "", CREATED_AT) for g, s in zip(gt_ids, gt_sims)],
        )
        x = levels / np.array([len(lv) - 1 for _, lv in PARAMETERS], dtype=float)  # in [0, 1]
        t = (np.arange(steps, dtype=float) + 1) / steps
        for m, method_id in enumerate(_ids("method", methods)):
            g = m // 4
            norm = NORMS[m % 3]
            gt_time = steps - 1 if m % 4 == 3 else None
            conn.execute(
                """INSERT INTO jdsi_method (id, ground_truth_id, norm, gt_time, description,
                   code_version, created_at, geometry, match_time, field)
                   VALUES (?,?,?,?,?,?,?,?,?,?)""",
                (method_id, gt_ids[g], norm, gt_time, f"bench scale: ground truth {gt_sims[g]}, {norm}",
                 "jupyterlab-dsi bench", CREATED_AT, None, "index", "density"),
            )
            # Distances to the ground truth's parameters along three random directions, growing
            # with t; the ground truth itself is at 0. Shapes (steps, sims).
            gt_x = x[sim_ids.index(gt_sims[g])]
            w = rng.uniform(0.2, 1.0, size=(3, len(PARAMETERS)))
            base = np.abs((x - gt_x) @ w.T)  # (sims, 3)
            noise = rng.normal(1.0, 0.08, size=(steps, sims, 3)).clip(0.5, 1.5)
            scale = np.array([0.2, 0.05, 9.0])
            d = base[None, :, :] * (0.3 + t)[:, None, None] * noise * scale
            conn.executemany(
                "INSERT INTO jdsi_distance (method_id, t, sim_id, d_shock, d_edge, d_density) VALUES (?,?,?,?,?,?)",
                (
                    (method_id, k, sim_ids[i], *row)
                    for k in range(steps)
                    for i, row in enumerate(d[k].tolist())
                ),
            )
            store.log_event(conn, "method.created", method_id,
                            {"ground_truth": gt_sims[g], "norm": norm, "gt_time": gt_time, "rows": sims * steps,
                             "geometry": None, "match_time": "index", "field": "density"})
            print(f"  method {m + 1}/{methods}", file=sys.stderr, flush=True)


def build(cache: Path, sims: int, steps: int, methods: int) -> tuple[Path, bool]:
    """The cached database's path, and whether it was built now."""
    target = cache_path(cache, sims, steps, methods)
    if target.exists():
        return target, False
    cache.mkdir(parents=True, exist_ok=True)
    # Older builds of the same sizes (another schema or script version) only take disk space.
    for old in cache.glob(f"scale-{sims}x{steps}-{methods}m-*.sqlite"):
        old.unlink()
    t0 = time.monotonic()
    Store.create(target, lambda store: fill(store, sims, steps, methods)).close()
    print(f"built {target.name} ({target.stat().st_size / 1048576:.0f} MB) in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    return target, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--methods", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    args = parser.parse_args()
    if args.sims < 2 or args.steps < 1 or args.methods < 1:
        parser.error("--sims must be at least 2, --steps and --methods at least 1")
    path, _ = build(args.cache.resolve(), args.sims, args.steps, args.methods)
    print(path)


if __name__ == "__main__":
    main()

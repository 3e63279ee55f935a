"""Tests for the synthetic ensemble: file format, determinism, and the science it must show.

The science tests compare every simulation with one ground truth, as the post-processing of
seed 000 (Appendix A) does, with the L2 norm and cylindrical weights from ``norms``.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyterlab_dsi import norms, sample
from jupyterlab_dsi.sample import PARAMETERS, write_sample

SIMS, STEPS, GRID, SEED = 120, 12, (16, 32), 7
ARRAYS = {"r", "z", "time", "density", "shock", "edge"}


class Ensemble:
    def __init__(self, csv_path: Path) -> None:
        self.csv_path = csv_path
        self.table = pd.read_csv(csv_path)
        files = [np.load(csv_path.parent / p) for p in self.table["path"]]
        self.keys = [set(f.files) for f in files]
        self.r = files[0]["r"]
        self.z = files[0]["z"]
        self.time = files[0]["time"]
        self.density = np.stack([f["density"] for f in files])  # (N, T, NR, NZ)
        self.shock = np.stack([f["shock"] for f in files])  # (N, T, K)
        self.edge = np.stack([f["edge"] for f in files])
        self.weights = norms.cylindrical_weights(self.r)

    def distances(self, gt: int) -> dict[str, np.ndarray]:
        """d_shock, d_edge, d_density ``(N, T)`` to simulation ``gt`` (itself left out)."""
        keep = np.arange(len(self.table)) != gt
        return {
            "shock": norms.coefficient_distance(self.shock[gt], self.shock, "L2")[keep],
            "edge": norms.coefficient_distance(self.edge[gt], self.edge, "L2")[keep],
            "density": norms.density_distance(self.density[gt], self.density, self.weights, "L2")[keep],
            "table": self.table[keep].reset_index(drop=True),
        }


@pytest.fixture(scope="module")
def ens(tmp_path_factory: pytest.TempPathFactory) -> Ensemble:
    out = tmp_path_factory.mktemp("ensemble")
    return Ensemble(write_sample(out, sims=SIMS, steps=STEPS, grid=GRID, seed=SEED))


def spread_ratio(values: np.ndarray, groups: pd.Series) -> float:
    """Spread of the level means over the mean spread within levels (both population std)."""
    g = pd.Series(values).groupby(groups.to_numpy())
    return float(g.mean().std(ddof=0) / g.std(ddof=0).mean())


def ground_truth_with_lowest_cs(ens: Ensemble) -> int:
    # Taking an extreme level keeps d_shock monotonic in cs (distance is |difference|).
    return int(np.flatnonzero(ens.table["cs"].to_numpy() == min(PARAMETERS["cs"]))[0])


# --- format -------------------------------------------------------------------------------------


def test_parameters_are_seven_ordered_categoricals() -> None:
    assert len(PARAMETERS) == 7
    assert {"cs", "mrg", "profile"} <= set(PARAMETERS)
    assert len(PARAMETERS["cs"]) == 5 and len(PARAMETERS["mrg"]) == 3
    assert PARAMETERS["profile"] == [0, 1, 2]
    for name, levels in PARAMETERS.items():
        assert levels == sorted(levels) and len(set(levels)) == len(levels), name


def test_csv_columns_ids_and_paths(ens: Ensemble) -> None:
    t = ens.table
    assert list(t.columns) == ["sim_id", "path", *PARAMETERS]
    assert len(t) == SIMS
    assert t["sim_id"].is_unique
    assert all(re.fullmatch(r"sim\d{5}", s) for s in t["sim_id"])
    assert list(t["path"]) == [f"sims/{s}.npz" for s in t["sim_id"]]
    for name, levels in PARAMETERS.items():
        assert set(t[name]) <= set(levels), name
        assert set(t[name]) == set(levels), f"{name}: every level should occur in {SIMS} sims"
    # Without replacement: no combination repeats while there are unused ones.
    assert not t[list(PARAMETERS)].duplicated().any()
    # Nothing else in the folder: no temp files left behind.
    assert {p.name for p in ens.csv_path.parent.iterdir()} == {"simulations.csv", "sims"}
    assert len(list((ens.csv_path.parent / "sims").iterdir())) == SIMS


def test_npz_arrays(ens: Ensemble) -> None:
    assert all(keys == ARRAYS for keys in ens.keys)
    nr, nz = GRID
    n, t, k = SIMS, STEPS, 8
    assert ens.r.shape == (nr,) and ens.z.shape == (nz,) and ens.time.shape == (t,)
    assert ens.r.dtype == ens.z.dtype == ens.time.dtype == np.float64
    assert ens.density.shape == (n, t, nr, nz) and ens.density.dtype == np.float32
    assert ens.shock.shape == ens.edge.shape == (n, t, k)
    assert ens.shock.dtype == ens.edge.dtype == np.float64
    # Uniform cell centres: R from 0 with centres at (j + 0.5) dR, z symmetric around 0.
    dr, dz = np.diff(ens.r), np.diff(ens.z)
    np.testing.assert_allclose(dr, dr[0])
    np.testing.assert_allclose(dz, dz[0])
    np.testing.assert_allclose(ens.r[0], dr[0] / 2)
    np.testing.assert_allclose(ens.z, -ens.z[::-1], atol=1e-12)
    assert np.all(np.diff(ens.time) > 0)


def test_density_values(ens: Ensemble) -> None:
    rho = ens.density
    assert np.isfinite(rho).all()
    assert (rho >= 0).all()
    # Vacuum outside the shell is exactly zero in every frame; the inside is not.
    assert ((rho == 0).sum(axis=(2, 3)) > 0).all()
    assert (rho[:, :, 0, GRID[1] // 2] > 0).all()  # the centre (R ~ 0, z ~ 0) is gas
    assert (rho[:, :, :, 0] == 0).all() and (rho[:, :, -1, :] == 0).all()  # domain boundary
    # The shock runs inside the edge and stays off the axis.
    assert (ens.shock[:, :, 0] < ens.edge[:, :, 0]).all()
    assert (ens.shock[:, :, 0] > 0).all()


def test_simulations_all_differ(ens: Ensemble) -> None:
    flat = ens.shock.reshape(SIMS, -1)
    assert len(np.unique(flat, axis=0)) == SIMS


def test_n_coeffs_changes_only_the_features(tmp_path: Path) -> None:
    def first(out: Path, n_coeffs: int) -> np.lib.npyio.NpzFile:
        csv_path = write_sample(out, sims=2, steps=3, grid=(8, 8), n_coeffs=n_coeffs)
        return np.load(csv_path.parent / "sims" / "sim00000.npz")

    a, b = first(tmp_path / "a", 3), first(tmp_path / "b", 12)
    assert a["shock"].shape == a["edge"].shape == (3, 3)
    assert b["shock"].shape == b["edge"].shape == (3, 12)
    np.testing.assert_array_equal(a["density"], b["density"])
    np.testing.assert_allclose(a["edge"], b["edge"][:, :3], atol=0.01)  # same fronts, new noise


# --- science ------------------------------------------------------------------------------------


def test_cs_separates_the_shock_distance(ens: Ensemble) -> None:
    d = ens.distances(ground_truth_with_lowest_cs(ens))
    late = d["shock"][:, -1]
    assert spread_ratio(late, d["table"]["cs"]) > 3
    means = pd.Series(late).groupby(d["table"]["cs"].to_numpy()).mean()
    assert means.is_monotonic_increasing  # ordered levels give ordered distances


def test_mrg_barely_matters(ens: Ensemble) -> None:
    d = ens.distances(ground_truth_with_lowest_cs(ens))
    for name in ("shock", "density"):
        late = d[name][:, -1]
        assert spread_ratio(late, d["table"]["mrg"]) < 0.4, name
    # ... while cs clearly does.
    assert spread_ratio(d["shock"][:, -1], d["table"]["cs"]) > 10 * spread_ratio(
        d["shock"][:, -1], d["table"]["mrg"]
    )


def pair_distances(ens: Ensemble) -> tuple[np.ndarray, np.ndarray]:
    """Feature (shock + edge) and density distances of all pairs at the last step."""
    i, j = np.triu_indices(SIMS, 1)
    feature = norms.coefficient_distance(ens.shock[i, -1], ens.shock[j, -1], "L2")
    feature += norms.coefficient_distance(ens.edge[i, -1], ens.edge[j, -1], "L2")
    density = norms.density_distance(ens.density[i, -1], ens.density[j, -1], ens.weights, "L2")
    return feature, density


def test_similar_features_do_not_imply_similar_density(ens: Ensemble) -> None:
    """Seed 000 fig. 7: feature-near pairs with far-apart densities exist."""
    feature, density = pair_distances(ens)
    near = feature <= np.quantile(feature, 0.1)
    far = density >= np.quantile(density, 0.5)
    degenerate = near & far
    assert degenerate.sum() >= 0.1 * near.sum()
    # Such pairs share the shock-setting cs and differ in what the fronts barely show: the
    # density-only rho_gas and s2, or the small shell perturbation (profile, s1).
    i, j = np.triu_indices(SIMS, 1)
    levels = ens.table[list(PARAMETERS)].to_numpy()
    same = levels[i] == levels[j]  # (pairs, 7)
    col = {name: k for k, name in enumerate(PARAMETERS)}
    assert same[degenerate, col["cs"]].mean() > 0.75
    hidden = [col[name] for name in ("rho_gas", "s2", "profile", "s1")]
    assert (~same[degenerate][:, hidden]).any(axis=1).all()


def test_similar_density_tends_to_similar_features(ens: Ensemble) -> None:
    """The other half of fig. 7, weaker in this toy: density-near pairs are feature-near."""
    feature, density = pair_distances(ens)
    nearest = density <= np.quantile(density, 0.05)
    # Mean rank (as a quantile) of their feature distance among all pairs: 0.5 would be chance.
    rank = np.searchsorted(np.sort(feature), feature[nearest]) / len(feature)
    assert rank.mean() < 0.45


def test_edge_is_smaller_and_noisier_than_shock(ens: Ensemble) -> None:
    d = ens.distances(ground_truth_with_lowest_cs(ens))
    shock, edge = d["shock"], d["edge"]
    assert edge[:, -1].mean() < 0.3 * shock[:, -1].mean()

    def roughness(x: np.ndarray) -> float:  # step-to-step jitter relative to the level
        return float(np.abs(np.diff(x, 2, axis=1)).mean() / x.mean())

    assert roughness(edge) > 3 * roughness(shock)


# --- determinism --------------------------------------------------------------------------------


def _write(out: Path, seed: int) -> tuple[bytes, list[dict[str, np.ndarray]]]:
    path = write_sample(out, sims=4, steps=3, grid=(8, 8), seed=seed)
    table = pd.read_csv(path)
    arrays = []
    for p in table["path"]:
        with np.load(path.parent / p) as f:
            arrays.append({k: f[k] for k in f.files})
    return path.read_bytes(), arrays


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    csv_a, arr_a = _write(tmp_path / "a", seed=3)
    csv_b, arr_b = _write(tmp_path / "b", seed=3)
    assert csv_a == csv_b
    for a, b in zip(arr_a, arr_b):
        for key in ARRAYS:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


def test_different_seed_differs(tmp_path: Path) -> None:
    _, arr_a = _write(tmp_path / "a", seed=3)
    _, arr_b = _write(tmp_path / "b", seed=4)
    for key in ("density", "shock", "edge"):
        assert not np.array_equal(arr_a[0][key], arr_b[0][key]), key


def test_combinations_cycle_through_all_before_repeating() -> None:
    rng = np.random.default_rng(0)
    total = int(np.prod([len(v) for v in PARAMETERS.values()]))
    idx = sample._combinations(rng, total + 10)
    assert idx.shape == (total + 10, 7)
    assert len({tuple(row) for row in idx[:total]}) == total
    for col, levels in zip(idx.T, PARAMETERS.values()):
        assert col.min() == 0 and col.max() == len(levels) - 1


# --- callbacks, safety, arguments ---------------------------------------------------------------


def test_progress_and_return_value(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    out = tmp_path / "new" / "nested"
    path = write_sample(out, sims=3, steps=2, grid=(4, 4), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert path == out / "simulations.csv"
    with path.open(newline="") as fh:
        assert len(list(csv.reader(fh))) == 4
    with zipfile.ZipFile(path.parent / "sims" / "sim00000.npz") as zf:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zf.infolist())


def test_smallest_arguments(tmp_path: Path) -> None:
    path = write_sample(tmp_path, sims=1, steps=2, grid=(4, 4), n_coeffs=1, seed=0)
    with np.load(path.parent / "sims" / "sim00000.npz") as f:
        assert f["density"].shape == (2, 4, 4)
        assert f["shock"].shape == f["edge"].shape == (2, 1)


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_sample(tmp_path, sims=2, steps=2, grid=(4, 4))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="simulations.csv"):
        write_sample(tmp_path, sims=3, steps=2, grid=(4, 4), seed=1)
    assert path.read_bytes() == before


def test_crash_leaves_no_csv(tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        if done == 2:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_sample(tmp_path, sims=4, steps=2, grid=(4, 4), progress=boom)
    assert not (tmp_path / "simulations.csv").exists()
    assert sorted(p.name for p in (tmp_path / "sims").iterdir()) == ["sim00000.npz", "sim00001.npz"]
    # The folder is still usable: a rerun completes.
    assert write_sample(tmp_path, sims=4, steps=2, grid=(4, 4)).exists()


def test_out_dir_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        write_sample(f, sims=1, steps=2, grid=(4, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sims": 0}, "sims must be >= 1"),
        ({"sims": 2.5}, "sims must be an integer"),
        ({"sims": True}, "sims must be an integer"),
        ({"steps": 1}, "steps must be >= 2"),
        ({"grid": (3, 8)}, "grid NR must be >= 4"),
        ({"grid": (8, 3)}, "grid NZ must be >= 4"),
        ({"grid": (8,)}, "grid must be a pair"),
        ({"grid": 8}, "grid must be a pair"),
        ({"n_coeffs": 0}, "n_coeffs must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_argument_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        write_sample(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # nothing is created for bad arguments


# --- make sample / examples/build_sample.sh: a user's database is never deleted ----------------

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "examples" / "build_sample.sh"
SMALL = "6"  # simulations: the build runs the real CLI end to end, kept small to stay fast


def _env() -> dict[str, str]:
    import os
    import sys

    # `jupyter dsi` of the interpreter running the tests, first on PATH for the script.
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "FORCE": ""}


def _run(*args: str, env: dict[str, str] | None = None):
    import subprocess

    return subprocess.run(args, capture_output=True, text=True, env=env or _env(), cwd=ROOT, timeout=300)


def _make_sample(data: Path, target: str = "sample", **extra: str):
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -o: the install stamp is taken as up to date, so the test never rebuilds the extension.
    variables = [f"{k}={v}" for k, v in {"DATA": str(data), "SAMPLE_SIMS": SMALL, **extra}.items()]
    return _run("make", "--no-print-directory", "-o", ".make/install", target, *variables)


def _save_dataset(db: Path) -> str:
    from jupyterlab_dsi.cli import main

    with _open(db) as store:
        method = store.methods()[0]["id"]
    assert main(["select", "--db", str(db), "--method", method, "--time", "2", "--save", "mine"]) == 0
    return method


def _open(db: Path):  # type: ignore[no-untyped-def]
    from jupyterlab_dsi.store import Store

    return Store(db, readonly=True)


def _datasets(db: Path) -> list[str]:
    from jupyterlab_dsi.datasets import list_datasets

    with _open(db) as store:
        return [r["description"] for r in list_datasets(store)]


def test_make_sample_twice_keeps_a_saved_dataset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _make_sample(data)
    assert first.returncode == 0, first.stderr
    db = data / "sample.sqlite"
    with _open(db) as store:
        assert len(store.methods()) == 3
    _save_dataset(db)
    before = db.stat().st_ino, db.read_bytes()

    again = _make_sample(data)
    assert again.returncode == 0, again.stderr
    assert "up to date; kept" in again.stdout
    assert (db.stat().st_ino, db.read_bytes()) == before
    assert _datasets(db) == ["mine"]

    # A generator change (here: another size) is reported, and the database is still kept.
    stale = _make_sample(data, SAMPLE_SIMS="7")
    assert stale.returncode == 0, stale.stderr
    assert "kept, because it may hold datasets you saved" in stale.stdout
    assert "make sample-rebuild SAMPLE_SIMS=7" in stale.stdout
    assert _datasets(db) == ["mine"]


def test_rebuild_is_refused_while_the_database_holds_datasets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _run("bash", str(BUILD), str(data), SMALL).returncode == 0
    db = data / "sample.sqlite"
    inode = db.stat().st_ino
    # Nothing saved yet: a rebuild needs no FORCE, and moves a new file in.
    rebuilt = _make_sample(data, target="sample-rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert db.stat().st_ino != inode
    _save_dataset(db)

    refused = _make_sample(data, target="sample-rebuild")
    assert refused.returncode != 0
    line = [x for x in refused.stderr.splitlines() if "build_sample.sh: error" in x]
    assert line and "holds 1 dataset;" in line[0] and "FORCE=1" in line[0], refused.stderr
    assert _datasets(db) == ["mine"]
    # `make clean`'s step keeps the folder too.
    kept = _run("bash", str(BUILD), "--remove", str(data))
    assert kept.returncode == 0 and f"kept {data}: {db} holds 1 dataset" in kept.stdout, kept.stderr
    assert _datasets(db) == ["mine"]

    forced = _make_sample(data, target="sample-rebuild", FORCE="1")
    assert forced.returncode == 0, forced.stderr
    assert _datasets(db) == []
    with _open(db) as store:
        assert len(store.methods()) == 3
    # Nothing saved any more: removed.
    assert _run("bash", str(BUILD), "--remove", str(data)).returncode == 0
    assert not data.exists()


def test_rebuild_never_takes_an_unreadable_database_for_an_empty_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "sample.sqlite"
    db.write_bytes(b"not a database, but maybe the only copy of something" * 100)
    refused = _run("bash", str(BUILD), "--rebuild", str(data), SMALL, env={**_env(), "FORCE": "1"})
    assert refused.returncode != 0
    assert "could not read" in refused.stderr
    assert db.read_bytes().startswith(b"not a database")
    kept = _run("bash", str(BUILD), "--remove", str(data))
    assert kept.returncode == 0 and "could not read" in kept.stdout
    assert db.read_bytes().startswith(b"not a database")

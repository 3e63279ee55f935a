"""The real CloverLeaf ensemble (DSI's clover3d example): ingest DSI's database, post-process
the runs' VTK files against run_1, select by distance. Cartesian, no shock/edge coefficients."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from conftest import REALDATA, query, sha256

CLOVER = REALDATA / "dsi-clover3d"
pytestmark = pytest.mark.skipif(not CLOVER.is_dir(), reason="shared/realdata/dsi-clover3d is absent")
Cli = Callable[..., Any]


@pytest.fixture
def clover(tmp_path: Path) -> Path:
    """A writable copy of the folder: DSI's paths are relative to the database's folder."""
    return Path(shutil.copytree(CLOVER, tmp_path / "dsi-clover3d"))


def state2_density(run: Path) -> float:
    match = re.search(r"state 2 density=([0-9.eE+-]+)", (run / "clover.in").read_text())
    assert match, run
    return float(match.group(1))


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values)).astype(float)


def postprocess(cli: Cli, db: Path, *options: str) -> str:
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "run_1", "--norm", "L2", *options)
    assert res.code == 0, res.err
    return res.out.strip().splitlines()[-1]


def test_clover_distances_grow_with_state2_density(cli: Cli, clover: Path, tmp_path: Path) -> None:
    source = clover / "dsi_clover3d.db"
    before = sha256(source)
    db = tmp_path / "clover.sqlite"
    res = cli("ingest", "-q", source, "--db", db)
    assert res.code == 0, res.err
    method = postprocess(cli, db)
    rows = query(db, "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ?", [method])
    assert len(rows) == 8 * 10  # 8 runs x 10 VTK files
    assert all(d_shock is None and d_edge is None for _, _, d_shock, d_edge, _ in rows)  # NULL, not 0
    assert [d for sim, _, _, _, d in rows if sim == "1"] == [0.0] * 10
    assert query(db, "SELECT sim_id FROM jdsi_ground_truth") == [("1",)]  # run_1 is DSI's run 1

    last = {sim: d for sim, t, _, _, d in rows if t == 9}
    runs = sorted(last, key=int)
    density = np.array([state2_density(clover / f"run_{sim}") for sim in runs])
    distance = np.array([last[sim] for sim in runs])
    assert density.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert np.corrcoef(ranks(density), ranks(distance))[0, 1] > 0.8  # Spearman
    assert (np.diff(distance) > 0).all()  # in fact strictly increasing

    res = cli("select", "--db", db, "--method", method, "--where", "d_density > 0", "--format", "csv")
    assert res.code == 0, res.err
    chosen = list(csv.DictReader(io.StringIO(res.out)))
    assert {r["sim_id"] for r in chosen} == {str(n) for n in range(2, 9)}
    assert len(chosen) == 7 * 10  # the initial states differ already: every step of runs 2..8
    assert sha256(source) == before


def test_clover_geometry_and_time_matching(cli: Cli, clover: Path, tmp_path: Path) -> None:
    db = tmp_path / "clover.sqlite"
    assert cli("ingest", "-q", clover / "dsi_clover3d.db", "--db", db).code == 0
    by = {}
    for options in [(), ("--match-time", "nearest"), ("--geometry", "cylindrical"), ("--geometry", "cartesian")]:
        method = postprocess(cli, db, *options)
        by[options] = [r[0] for r in query(
            db, "SELECT d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t", [method])]
    assert by[("--match-time", "nearest")] == by[()]  # the runs' steps align
    assert by[("--geometry", "cartesian")] == by[()]  # cartesian is what VTK x/y grids default to
    assert by[("--geometry", "cylindrical")] != by[()]
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "run_9", "--norm", "L2")
    assert res.code != 0 and "unknown ground truth 'run_9'" in res.err


@pytest.fixture
def clover_db(cli: Cli, clover: Path, tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "clover.sqlite"
    assert cli("ingest", "-q", clover / "dsi_clover3d.db", "--db", db).code == 0
    return db, postprocess(cli, db)


def test_clover_select_weighs_the_metrics_it_has(cli: Cli, clover_db: tuple[Path, str]) -> None:
    """No shock/edge distances: d_feature defaults to d_density and weighs any number column."""
    db, method = clover_db
    plain = json.loads(cli("select", "--db", db, "--method", method, "--time", "9", "--format", "json").out)
    assert [r["sim_id"] for r in plain] == [str(n) for n in range(1, 9)]
    assert [r["d_feature"] for r in plain] == [r["d_density"] for r in plain]
    # A per-step scalar of DSI's output table sits at the same step as the distances.
    assert {r["step"] for r in plain} == {90} and {r["time"] for r in plain} == {3.56}
    mixed = json.loads(cli("select", "--db", db, "--method", method, "--time", "9", "--weights",
                           "d_density=1", "state2_density=-0.1", "--format", "json").out)
    assert [r["d_feature"] for r in mixed] == pytest.approx([r["d_density"] - 0.1 * r["state2_density"] for r in mixed])
    bad = cli("select", "--db", db, "--method", method, "--weights", "d_density=1", "nope=2")
    assert bad.code == 2 and "'nope', not a number column" in bad.err and "state2_density" in bad.err


def test_clover_dataset_from_the_shell_and_the_magic(cli: Cli, clover_db: tuple[Path, str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    db, method = clover_db
    where = "state2_density >= 5 and d_density > 0.4"
    saved = cli("select", "--db", db, "--method", method, "--time", "9", "--where", where,
                "--save", "dense second states, far from run 1")
    assert saved.code == 0, saved.err
    record = json.loads(cli("export", saved.last_line, "--db", db).out)
    assert record["size"] == 4 and record["weights"] == {"d_density": 1.0}
    assert cli("verify", "--db", db).code == 0

    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "jupyterlab_dsi")
        frame = ip.run_line_magic("dsi", f'select --db {db} --method {method} --time 9 --where "{where}"')
        assert sorted(frame.index) == sorted(json.loads(cli("export", saved.last_line, "--db", db).out)["members"])
        members = ip.run_line_magic("dsi", f"load {saved.last_line} --db {db}")
        assert sorted(members.index) == sorted(frame.index)
    finally:
        InteractiveShell.clear_instance()  # other tests make shells of their own kind


def test_clover_from_python_with_nearest_times(clover: Path, tmp_path: Path) -> None:
    import jupyterlab_dsi
    from jupyterlab_dsi.ingest import ingest

    db = tmp_path / "clover.sqlite"
    ingest(db, clover / "dsi_clover3d.db")
    seen: list[tuple[int, int]] = []
    method = jupyterlab_dsi.postprocess(db, ground_truth="run_1", norm="L1", match_time="nearest",
                                        geometry="cartesian", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (8, 8)
    rows = query(db, "SELECT d_density FROM jdsi_distance WHERE method_id = ? AND t = 9 ORDER BY sim_id", [method])
    assert rows[0] == (0.0,) and all(a[0] < b[0] for a, b in zip(rows[1:], rows[2:]))
    from jupyterlab_dsi.errors import DsiError

    with pytest.raises(DsiError, match="unknown time matching 'closest'"):
        jupyterlab_dsi.postprocess(db, ground_truth="run_1", norm="L1", match_time="closest", progress=lambda d, t: None)


def test_clover_nearest_matching_uses_the_logged_times(clover_db: tuple[Path, str]) -> None:
    """The VTK files carry no TIME: --match-time nearest compares the times DSI's output table
    logged, and the method records how it was computed."""
    from jupyterlab_dsi.compute import _load, simulations
    from jupyterlab_dsi.store import Store

    db, method = clover_db
    with Store(db, readonly=True) as store:
        sims = simulations(store)
        assert [m["match_time"] for m in store.methods()] == ["index"]
    assert _load(sims[0]).time.tolist() == pytest.approx([0.4 * k for k in range(10)])


def test_clover_any_named_field(cli: Cli, clover_db: tuple[Path, str]) -> None:
    """--field compares another VTK cell array; the method says which."""
    db, density = clover_db
    energy = postprocess(cli, db, "--field", "energy")
    methods = {m["id"]: m for m in json.loads(cli("methods", "--db", db, "--format", "json").out)}
    assert (methods[density]["field"], methods[energy]["field"]) == ("density", "energy")
    d = query(db, "SELECT d_density FROM jdsi_distance WHERE method_id = ? AND t = 9 ORDER BY sim_id", [energy])
    assert d[0] == (0.0,) and all(v[0] > 0 for v in d[1:])
    assert d != query(db, "SELECT d_density FROM jdsi_distance WHERE method_id = ? AND t = 9 ORDER BY sim_id", [density])
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "run_1", "--norm", "L2", "--field", "x_vel")
    assert res.code == 2 and "x_vel is point data" in res.err, res.err
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "run_1", "--norm", "L2", "--field", "mass")
    assert res.code == 2 and "no field 'mass'" in res.err and "pressure" in res.err, res.err

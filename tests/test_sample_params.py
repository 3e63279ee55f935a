"""Issue 16 §3 (first half): `jupyter dsi sample OUT --params PROPOSALS.csv` runs the synthetic
model at given parameter values, so that proposals become simulations that ingest can take."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import query, tree

from jupyterlab_dsi.cli import EXIT_USAGE, main
from jupyterlab_dsi.sample import PARAMETERS, write_sample

SMALL = ["--steps", "3", "--grid", "8", "8", "-q"]


def study_csv(path: Path) -> Path:
    """A small study set over cs, gamma and profile, the other parameters fixed, with sigma2."""
    rows = [
        dict(cs=cs, mrg=1.0, profile=p, s1=0.005, s2=8.0, gamma=g, rho_gas=1.5, sigma2=1.0 + i)
        for i, (cs, g, p) in enumerate(itertools.product([0.1, 0.3, 0.5], [1.3, 1.67], [0, 1, 2]))
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture()
def proposals(tmp_path: Path) -> Path:
    """Eight proposals; profile selects a mode shape, so it is categorical (copied from the study row)."""
    out = tmp_path / "proposals.csv"
    assert main(["propose", "--study", str(study_csv(tmp_path / "study.csv")), "--n", "8",
                 "--seed", "3", "--categorical", "profile", "-o", str(out)]) == 0
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_proposals_become_simulations_that_ingest_into_a_new_database(tmp_path, proposals, capsys):
    ens = tmp_path / "ens"
    assert main(["sample", str(ens), "--params", str(proposals), "--seed", "5", *SMALL]) == 0
    assert "wrote 8 simulations" in capsys.readouterr().out
    given, written = rows(proposals), rows(ens / "simulations.csv")
    assert [r["sim_id"] for r in written] == [f"prop{i:05d}" for i in range(8)]
    assert list(written[0]) == ["sim_id", "path", *PARAMETERS, "proposal_id", "component"]
    for g, w in zip(given, written):
        for name in PARAMETERS:
            assert float(w[name]) == float(g[name]), name  # exactly the proposal's value
        assert (w["proposal_id"], w["component"]) == (g["proposal_id"], g["component"])
    # cs and gamma are continuous: the proposals are off the study grid and used as given.
    assert {float(r["cs"]) for r in written} - {0.1, 0.3, 0.5}

    db = tmp_path / "new.sqlite"
    capsys.readouterr()
    assert main(["ingest", str(ens), "--db", str(db), "-q"]) == 0
    # proposal_id and component are provenance, not parameters; an unrecorded proposal (no --db)
    # has no point in the new database to link to: one warning says so, and how to fix it.
    names = [r[0] for r in query(db, "SELECT name FROM jdsi_parameter ORDER BY position")]
    assert names == list(PARAMETERS)
    assert query(db, "SELECT count(*) FROM jdsi_sim_proposal") == [(0,)]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: 8 simulations of simulations.csv name a proposal_id")
    assert "(first: 'p3-00000')" in err and "propose --db" in err
    cs = dict(query(db, "SELECT sim_id, value FROM jdsi_param_value WHERE name = 'cs'"))
    assert {k: float(v) for k, v in cs.items()} == {w["sim_id"]: float(w["cs"]) for w in written}
    assert main(["postprocess", "--db", str(db), "--ground-truth", "prop00000", "--norm", "L2", "-q"]) == 0
    # The fields are the model's at those values: the density follows rho_gas and s2.
    data = np.load(ens / written[0]["path"])
    assert data["density"].shape == (3, 8, 8) and np.isfinite(data["density"]).all()


def test_ingest_beside_the_drawn_sample_does_not_collide(tmp_path, proposals):
    base, new = tmp_path / "base", tmp_path / "new"
    write_sample(base, sims=4, steps=3, grid=(8, 8), seed=1)
    assert main(["sample", str(new), "--params", str(proposals), *SMALL]) == 0
    db = tmp_path / "both.sqlite"
    assert main(["ingest", str(base), "--db", str(db), "-q"]) == 0
    assert main(["ingest", str(new), "--db", str(db), "-q"]) == 0
    ids = [r[0] for r in query(db, "SELECT sim_id FROM jdsi_simulation ORDER BY sim_id")]
    assert ids == [f"prop{i:05d}" for i in range(8)] + [f"sim{i:05d}" for i in range(4)]


def test_same_seed_same_bytes_other_seed_other_noise(tmp_path, proposals):
    outs = []
    for i, seed in enumerate(["4", "4", "5"]):
        out = tmp_path / f"e{i}"
        assert main(["sample", str(out), "--params", str(proposals), "--seed", seed, *SMALL]) == 0
        outs.append(out)
    assert tree(outs[0]) == tree(outs[1])
    assert (outs[0] / "simulations.csv").read_bytes() == (outs[2] / "simulations.csv").read_bytes()
    a, b = (np.load(o / "sims" / "prop00000.npz")["shock"] for o in (outs[0], outs[2]))
    assert not np.array_equal(a, b)


def test_prefix_names_the_simulations(tmp_path, proposals):
    csv_path = write_sample(tmp_path / "e", steps=3, grid=(8, 8), params=proposals, prefix="phase1_")
    assert [r["sim_id"] for r in rows(csv_path)][:2] == ["phase1_00000", "phase1_00001"]


def base_row(**change: object) -> dict[str, object]:
    row: dict[str, object] = {name: levels[0] for name, levels in PARAMETERS.items()}
    row.update(proposal_id="p0-00000", component=0)
    row.update(change)
    return row


@pytest.mark.parametrize(
    "table, message",
    [
        (pd.DataFrame([base_row()]).drop(columns=["cs", "gamma"]), "missing parameter columns cs, gamma"),
        (pd.DataFrame([base_row(profile=1.5)]), "profile = '1.5' is not a level; profile selects a mode shape, one of 0, 1, 2"),
        (pd.DataFrame([base_row(profile=3)]), "profile = '3' is not a level"),
        (pd.DataFrame([base_row(cs="fast")]), "cs = 'fast' is not a finite number"),
        (pd.DataFrame([base_row(s1=float("nan"))]), "s1 = '' is not a finite number"),
        (pd.DataFrame([base_row(cs=0.0)]), "the model needs cs > 0"),
        (pd.DataFrame([base_row(gamma=1.0)]), "the model needs gamma > 1"),
        (pd.DataFrame([base_row(sim_id="x")]), "column 'sim_id' is written by sample"),
        (pd.DataFrame(columns=list(base_row())), "no rows; one simulation is run per row"),
    ],
)
def test_bad_params_one_line_exit_2_nothing_written(tmp_path, capsys, table, message):
    src = tmp_path / "p.csv"
    table.to_csv(src, index=False)
    out = tmp_path / "out"
    assert main(["sample", str(out), "--params", str(src), *SMALL]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_bad_prefix_and_missing_file(tmp_path, capsys, proposals):
    out = tmp_path / "out"
    assert main(["sample", str(out), "--params", str(proposals), "--prefix", "a/b", *SMALL]) == EXIT_USAGE
    assert "prefix must be" in capsys.readouterr().err
    assert main(["sample", str(out), "--params", str(tmp_path / "nope.csv"), *SMALL]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read --params" in err
    assert not out.exists()


def test_without_params_the_drawn_sample_is_unchanged(tmp_path):
    a = write_sample(tmp_path / "a", sims=3, steps=3, grid=(8, 8), seed=2)
    assert [r["sim_id"] for r in rows(a)] == ["sim00000", "sim00001", "sim00002"]
    assert list(rows(a)[0]) == ["sim_id", "path", *PARAMETERS]


def test_propose_keeps_a_named_numeric_level_on_its_levels(tmp_path: Path) -> None:
    """`--categorical profile` copies the sample's mode-shape index from the study rows, so every
    proposal is a valid `sample --params` row; jittered, most are not."""
    study = study_csv(tmp_path / "study.csv")
    levels = set(pd.read_csv(study)["profile"])
    for flags, on_levels in ((["--categorical", "profile"], True), ([], False)):
        out = tmp_path / f"p{len(flags)}.csv"
        assert main(["propose", "--study", str(study), "--n", "50", "--seed", "1", *flags, "-o", str(out)]) == 0
        assert set(pd.read_csv(out)["profile"]) <= levels if on_levels else not set(pd.read_csv(out)["profile"]) <= levels

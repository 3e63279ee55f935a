"""Issue 16 §3, closing the loop: an ensemble `sample --params` ran for a recorded proposal is
ingested with each simulation linked to its proposal point (schema 6, jdsi_sim_proposal); a
numeric categorical parameter that the proposals took off its levels becomes numeric."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import AS_SCHEMA_5, Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi.ingest import levels_rule
from jupyterlab_dsi.sample import PARAMETERS, write_sample
from jupyterlab_dsi.store import SCHEMA_VERSION, Store

Cli = Callable[..., Result]
SIMS = 12
SMALL = ["--steps", "3", "--grid", "8", "8", "-q"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample ensemble (12 simulations: every parameter categorical) ingested, with a method."""
    from jupyterlab_dsi.compute import postprocess
    from jupyterlab_dsi.ingest import ingest

    root = tmp_path_factory.mktemp("linkbase")
    write_sample(root / "ens", sims=SIMS, steps=3, grid=(8, 8), seed=0)
    db = root / "db.sqlite"
    ingest(db, root / "ens")
    return db, postprocess(db, ground_truth="sim00000", norm="L2")


@pytest.fixture
def db(base: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "db.sqlite"
    shutil.copyfile(base[0], path)
    return path, base[1]


def study_csv(path: Path) -> Path:
    """cs and gamma on a coarse grid (so proposals fall between the sample's levels), profile as
    levels, the other parameters fixed on one of their levels (spacing 0: copied)."""
    rows = [dict(cs=cs, mrg=1.0, profile=p, s1=0.005, s2=8.0, gamma=g, rho_gas=1.5, sigma2=1.0 + i)
            for i, (cs, g, p) in enumerate((cs, g, p) for cs in (0.1, 0.3, 0.5) for g in (1.3, 1.67) for p in (0, 1, 2))]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def kinds(path: Path) -> dict[str, tuple[str, list | None]]:
    return {n: (k, None if lv is None else json.loads(lv))
            for n, k, lv in query(path, "SELECT name, kind, levels FROM jdsi_parameter ORDER BY position")}


def propose_sample_ingest(cli: Cli, path: Path, tmp_path: Path, n: int = 8, seed: int = 3,
                          name: str = "next") -> tuple[str, list[dict[str, str]], Result]:
    """propose --study --db (recorded), sample --params, ingest: (record id, simulations.csv rows, ingest)."""
    out = tmp_path / f"{name}.csv"
    res = cli("propose", "--study", study_csv(tmp_path / f"{name}-study.csv"), "--db", path, "--n", n,
              "--seed", seed, "--categorical", "profile", "-o", out)
    assert res.code == 0, res.err
    record_id = res.err_lines[-1].split()[-1]
    ens = tmp_path / name
    assert cli("sample", ens, "--params", out, "--prefix", name, *SMALL).code == 0
    with open(ens / "simulations.csv", newline="") as fh:
        written = list(csv.DictReader(fh))
    return record_id, written, cli("ingest", ens, "--db", path, "-q")


def test_every_simulation_is_linked_to_its_point_and_off_level_parameters_become_numeric(
        db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, method_id = db
    before = kinds(path)
    assert all(kind == "categorical" for kind, _ in before.values())
    old_values = query(path, "SELECT sim_id, name, value FROM jdsi_param_value ORDER BY sim_id, name")

    record_id, written, res = propose_sample_ingest(cli, path, tmp_path)
    assert res.code == 0, res.err
    assert "warning" not in res.err
    assert "linked 8 simulations" in res.out and "now numeric (their values no longer read as levels): cs, gamma" in res.out
    links = query(path, "SELECT sim_id, proposal_id, point_id FROM jdsi_sim_proposal ORDER BY sim_id")
    assert links == [(w["sim_id"], record_id, w["proposal_id"]) for w in written]
    assert {w["proposal_id"] for w in written} == {f"{record_id[:8]}-{i:05d}" for i in range(8)}
    # provenance, not parameters
    assert list(kinds(path)) == list(PARAMETERS)
    # cs and gamma: 5 + 8 and 3 + 8 distinct values in 20 simulations fail the levels rule; the
    # others stayed on the sample's levels (copied or spacing 0) and keep them
    after = kinds(path)
    assert after["cs"] == after["gamma"] == ("numeric", None)
    assert not levels_rule(5 + 8, SIMS + 8) and not levels_rule(3 + 8, SIMS + 8)
    for name in ("mrg", "profile", "s1", "s2", "rho_gas"):
        assert after[name] == before[name], name
    # the old simulations' values are untouched; the new ones are the proposals' values
    assert query(path, "SELECT sim_id, name, value FROM jdsi_param_value WHERE sim_id LIKE 'sim%' "
                 "ORDER BY sim_id, name") == old_values
    cs = dict(query(path, "SELECT sim_id, value FROM jdsi_param_value WHERE name = 'cs' AND sim_id LIKE 'next%'"))
    assert cs == {w["sim_id"]: float(w["cs"]) for w in written}
    event = json.loads(query(path, "SELECT payload FROM jdsi_event WHERE kind = 'source.ingested' "
                             "ORDER BY seq DESC LIMIT 1")[0][0])
    assert event["linked"] == 8 and event["promoted"] == ["cs", "gamma"]


def test_saved_datasets_select_the_same_members_after_a_promotion(db: tuple[Path, str], cli: Cli,
                                                                  tmp_path: Path) -> None:
    path, method_id = db
    selections = {
        "with a method": ["--method", method_id, "--time", 1, "--where", "cs <= 0.3 and gamma in (1.3, 1.4)"],
        "by values": ["--where", "cs == 0.2 or gamma == 1.67"],
    }
    saved, rows = {}, {}
    for label, args in selections.items():
        res = cli("select", "--db", path, *args, "--save", label)
        assert res.code == 0, res.err
        saved[label] = res.last_line
        rows[label] = cli("select", "--db", path, *args, "--format", "csv").out
    _, _, res = propose_sample_ingest(cli, path, tmp_path)
    assert res.code == 0 and kinds(path)["cs"][0] == "numeric", res.err
    for label, args in selections.items():
        assert cli("select", "--db", path, *args, "--format", "csv").out == rows[label], label
    verified = cli("verify", "--db", path)
    assert verified.code == 0, verified.out + verified.err
    assert verified.out.count("ok ") == 2
    with dsi.open(path) as ens:
        for label, ref in saved.items():
            members = ens.dataset(ref).member_ids()
            assert members and all(m.startswith("sim") for m in members), label


def test_a_few_off_level_values_join_the_levels(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    """One off-level cs among 13 simulations still reads as levels: the level is added, not promoted."""
    path, _ = db
    record_id, written, _ = propose_sample_ingest(cli, path, tmp_path, n=1, seed=5, name="one")
    after = kinds(path)
    assert after["cs"][0] == "categorical" and float(written[0]["cs"]) in after["cs"][1]
    assert after["cs"][1] == sorted(after["cs"][1]) and len(after["cs"][1]) == 6
    assert query(path, "SELECT count(*) FROM jdsi_sim_proposal WHERE proposal_id = ?", (record_id,)) == [(1,)]


def test_unmatched_ids_are_ingested_unlinked_with_one_warning(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, _ = db
    out = tmp_path / "p.csv"
    res = cli("propose", "--study", study_csv(tmp_path / "study.csv"), "--db", path, "--n", 4, "--seed", 1,
              "--categorical", "profile", "-o", out)
    record_id = res.err_lines[-1].split()[-1]
    lines = out.read_text().splitlines()
    # two rows name points nobody recorded (a draw without --db, a hand edit)
    lines[2] = lines[2].replace(f"{record_id[:8]}-00001", "p1-00001")
    lines[4] = lines[4].replace(f"{record_id[:8]}-00003", "p1-00003")
    out.write_text("\n".join(lines) + "\n")
    assert cli("sample", tmp_path / "e", "--params", out, *SMALL).code == 0
    res = cli("ingest", tmp_path / "e", "--db", path, "-q")
    assert res.code == 0
    assert res.err_lines == [
        "warning: 2 simulations of simulations.csv name a proposal_id that is no recorded proposal point in this "
        "database (first: 'p1-00001'): ingested without a link; record the proposal in this database "
        "(`jupyter dsi propose --db DB ...`) before `sample --params`"]
    assert query(path, "SELECT sim_id, point_id FROM jdsi_sim_proposal ORDER BY sim_id") == [
        ("prop00000", f"{record_id[:8]}-00000"), ("prop00002", f"{record_id[:8]}-00002")]
    assert query(path, "SELECT count(*) FROM jdsi_simulation WHERE sim_id LIKE 'prop%'") == [(4,)]


def test_an_id_two_old_records_share_is_not_guessed(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    """Schema-5 records named their points p{seed}-...: the same id in two records links to neither."""
    path, _ = db
    first = dsi.propose(study_csv(tmp_path / "s.csv"), 2, 7, db=path, categorical=["profile"]).attrs["proposal_record"]
    second = dsi.propose(study_csv(tmp_path / "s.csv"), 2, 7, db=path, categorical=["profile"]).attrs["proposal_record"]
    conn = sqlite3.connect(path)
    with conn:  # as schema 5 wrote them: p7-00000 in both records, p7-00001 in the first only
        conn.execute("UPDATE jdsi_proposal_point SET point_id = 'p7-' || substr(point_id, 10)")
        conn.execute("DELETE FROM jdsi_proposal_point WHERE proposal_id = ? AND point_id = 'p7-00001'", (second,))
    conn.close()
    pd.DataFrame([{**{n: v[0] for n, v in PARAMETERS.items()}, "proposal_id": f"p7-{i:05d}", "component": 0}
                  for i in range(2)]).to_csv(tmp_path / "p.csv", index=False)
    assert cli("sample", tmp_path / "e", "--params", tmp_path / "p.csv", *SMALL).code == 0
    res = cli("ingest", tmp_path / "e", "--db", path, "-q")
    assert res.code == 0 and "1 simulation of simulations.csv" in res.err and "'p7-00000'" in res.err
    assert query(path, "SELECT sim_id, proposal_id, point_id FROM jdsi_sim_proposal") == [("prop00001", first, "p7-00001")]


def test_from_a_run_to_linked_simulations_and_the_lineage(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    """The serial loop: a run logs sigma2, propose --db --run records, sample --params runs the
    points, ingest into the same database links every one; the lineage goes source -> proposal -> run."""
    path, _ = db
    sims = [f"sim{i:05d}" for i in range(SIMS)]
    with dsi.open(path) as ens:
        with ens.run(name="gp") as run:
            run.log_predictions(pd.DataFrame({"energy": [1.0] * SIMS, "sigma2": [0.1 * (i + 1) for i in range(SIMS)]},
                                             index=sims))
            run_id = run.id
    out = tmp_path / "p.csv"
    res = cli("propose", "--db", path, "--run", run_id[:8], "--n", 6, "--seed", 2, "-o", out)
    assert res.code == 0, res.err
    record_id = res.err_lines[-1].split()[-1]
    assert cli("sample", tmp_path / "next", "--params", out, *SMALL).code == 0
    res = cli("ingest", tmp_path / "next", "--db", path)
    assert res.code == 0 and "warning" not in res.err, res.err
    source_id = res.last_line
    assert query(path, "SELECT count(*), min(proposal_id), max(proposal_id) FROM jdsi_sim_proposal") == [
        (6, record_id, record_id)]
    assert query(path, "SELECT count(*) FROM jdsi_simulation s JOIN jdsi_sim_proposal l USING (sim_id) "
                 "WHERE s.source_id = ?", (source_id,)) == [(6,)]
    graph = json.loads(cli("lineage", source_id[:8], "--db", path).out)
    assert {"source": source_id, "target": record_id, "relation": "wasDerivedFrom"} in graph["edges"]
    assert {"source": record_id, "target": run_id, "relation": "wasDerivedFrom"} in graph["edges"]
    # the run's lineage reaches the new source through its proposal
    assert source_id in {n["id"] for n in json.loads(cli("lineage", run_id, "--db", path).out)["nodes"]}


def test_migration_5_to_6_keeps_the_proposals_and_links_after(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    from test_sources import _same_tables_as_fresh

    path, _ = db
    record_id = dsi.propose(study_csv(tmp_path / "s.csv"), 3, 1, db=path, categorical=["profile"]).attrs["proposal_record"]
    points = query(path, "SELECT * FROM jdsi_proposal_point ORDER BY point_id")
    conn = sqlite3.connect(path)
    conn.executescript(f"{AS_SCHEMA_5} PRAGMA user_version = 5;")
    conn.close()
    with Store(path, readonly=True) as store:  # a reader upgrades the file once
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    _same_tables_as_fresh(path)
    assert query(path, "SELECT * FROM jdsi_proposal_point ORDER BY point_id") == points
    assert query(path, "SELECT count(*) FROM jdsi_sim_proposal") == [(0,)]
    plan = query(path, "EXPLAIN QUERY PLAN SELECT proposal_id FROM jdsi_proposal_point WHERE point_id = 'x'")
    assert "jdsi_proposal_point_by_point" in str(plan)
    pd.DataFrame([{**{n: v[0] for n, v in PARAMETERS.items()}, "proposal_id": p[1], "component": p[2]}
                  for p in points]).to_csv(tmp_path / "p.csv", index=False)
    assert cli("sample", tmp_path / "e", "--params", tmp_path / "p.csv", *SMALL).code == 0
    assert cli("ingest", tmp_path / "e", "--db", path, "-q").code == 0
    assert query(path, "SELECT DISTINCT proposal_id FROM jdsi_sim_proposal") == [(record_id,)]

"""Issue 16 §1, recorded: `jupyter dsi propose --db DB --run RUN` and dsi.propose(db=, run=, target=)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import AS_SCHEMA_4, Result, query

import jupyterlab_dsi as dsi
from jupyterlab_dsi import proposals
from jupyterlab_dsi.proposals import ProposalError, study_digest, study_from_run
from jupyterlab_dsi.store import SCHEMA_VERSION, Store

Cli = Callable[..., Result]
SIGMA2 = {"s00": 0.5, "s01": 0.5, "s02": 0.1, "s03": 0.4, "s04": 0.2, "s05": 0.3}


@pytest.fixture
def db(mdb: tuple[Path, str], cli: Cli) -> Iterator[tuple[Path, str, str, str]]:
    """(path, dataset id, id of a run with sigma2 on every simulation, id of a run without)."""
    path, method_id = mdb
    res = cli("select", "--db", path, "--method", method_id, "--time", 1, "--save", "phase 0")
    assert res.code == 0, res.err
    dataset = res.last_line
    frame = pd.DataFrame({"energy": [1.0] * 6, "sigma2": list(SIGMA2.values())}, index=list(SIGMA2))
    with dsi.open(path) as ens:
        with ens.run(dataset=dataset, name="gp") as run:
            run.log_predictions(frame)
            # a second target, later alphabetically, with other sigma2: --target picks it
            run.log_predictions(pd.DataFrame({"zeta": [0.0] * 6, "sigma2": [1.0, 0, 0, 0, 0, 0]},
                                             index=list(SIGMA2)))
            run_id = run.id
        with ens.run(dataset=dataset, name="plain") as bare:
            bare.log_predictions(pd.DataFrame({"energy": [1.0, 2.0]}, index=["s02", "s03"]))
            bare_id = bare.id
    yield path, dataset, run_id, bare_id


def proposal_rows(path: Path) -> list[tuple]:
    return query(path, "SELECT * FROM jdsi_proposal ORDER BY id") + query(
        path, "SELECT * FROM jdsi_proposal_point ORDER BY proposal_id, point_id")


def test_study_set_is_the_runs_sigma2_with_each_simulations_parameters(db: tuple[Path, str, str, str]) -> None:
    path, _, run_id, _ = db
    with Store(path, readonly=True) as store:
        study, row, target, categorical = study_from_run(store, run_id[:8])
        names = [p["name"] for p in store.parameters()]
        values = {(s, n): v for s, n, v in store.conn.execute("SELECT sim_id, name, value FROM jdsi_param_value")}
    assert row["id"] == run_id and target == "energy"
    assert list(study.columns) == [*names, "sigma2"]
    assert study["sigma2"].tolist() == list(SIGMA2.values())  # by sim_id
    for i, sim in enumerate(sorted(SIGMA2)):
        assert [study[n][i] for n in names] == [values[(sim, n)] for n in names]
    assert set(categorical) <= set(names)


def test_cli_records_once_with_the_policy_digest_run_and_dataset(db: tuple[Path, str, str, str], cli: Cli) -> None:
    path, dataset, run_id, _ = db
    res = cli("propose", "--db", path, "--run", run_id, "--n", 20, "--seed", 7, "--tau", "energy=0.1")
    assert res.code == 0, res.err
    assert res.err_lines[-1].startswith("recorded proposal ")
    record_id = res.err_lines[-1].split()[-1]
    rows = query(path, "SELECT id, author, policy, study_digest, run_id, dataset_id, n FROM jdsi_proposal")
    assert len(rows) == 1
    rid, author, policy, digest, run, ds, n = rows[0]
    assert (rid, run, ds, n) == (record_id, run_id, dataset, 20) and author
    with Store(path, readonly=True) as store:
        study, _, _, categorical = study_from_run(store, run_id)
    assert json.loads(policy) == {"tau": {"energy": 0.1}, "bounds": {}, "alpha": 1.0, "prior_column": None,
                                  "entropy_column": None, "categorical": categorical, "continuous": [],
                                  "n": 20, "seed": 7,
                                  "target": "energy", "sigma2": "run predictions"}
    # the digest is the SHA-256 of the study set's canonical CSV (what study_digest documents)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [list(study.columns)] + [[repr(v) if isinstance(v, float) else str(v) for v in r]
                                 for r in study.astype(object).itertuples(index=False, name=None)])
    assert digest == study_digest(study) == "sha256:" + hashlib.sha256(buffer.getvalue().encode()).hexdigest()
    # the points are the printed CSV, row for row
    printed = list(csv.DictReader(io.StringIO(res.out)))
    points = query(path, 'SELECT point_id, component, "values" FROM jdsi_proposal_point '
                   "WHERE proposal_id = ? ORDER BY point_id", (record_id,))
    assert len(printed) == len(points) == 20
    for line, (point_id, component, values) in zip(printed, points):
        assert line.pop("proposal_id") == point_id and int(line.pop("component")) == component
        stored = json.loads(values)
        assert set(line) == set(stored)
        for name, text in line.items():
            assert (repr(stored[name]) if isinstance(stored[name], float) else str(stored[name])) == text
    events = query(path, "SELECT kind, record_id FROM jdsi_event WHERE kind = 'proposal.save'")
    assert events == [("proposal.save", record_id)]


def test_same_draw_as_the_pure_function_over_the_same_study(db: tuple[Path, str, str, str], cli: Cli) -> None:
    path, _, run_id, _ = db
    res = cli("propose", "--db", path, "--run", run_id, "--n", 9, "--seed", 3, "--format", "json")
    assert res.code == 0, res.err
    with Store(path, readonly=True) as store:
        study, _, _, categorical = study_from_run(store, run_id)
    pure = dsi.propose(study, 9, 3, categorical=categorical)
    record_id = res.err_lines[-1].split()[-1]
    # the same draw; only the point ids differ: a recorded proposal's name its record
    assert pure["proposal_id"].tolist() == [f"p3-{i:05d}" for i in range(9)]
    pure["proposal_id"] = [f"{record_id[:8]}-{i:05d}" for i in range(9)]
    plain = [{k: v.item() if hasattr(v, "item") else v for k, v in r.items()} for r in pure.to_dict(orient="records")]
    assert json.loads(res.out) == plain


def test_target_picks_whose_sigma2(db: tuple[Path, str, str, str]) -> None:
    path, _, run_id, _ = db
    frame = dsi.propose(n=10, seed=1, db=path, run=run_id, target="zeta")
    assert set(frame["component"]) == {0}  # zeta's sigma2 is nonzero only at s00
    (policy,) = query(path, "SELECT policy FROM jdsi_proposal WHERE id = ?", (frame.attrs["proposal_record"],))[0]
    assert json.loads(policy)["target"] == "zeta"


def test_python_with_db_and_a_study_file_records_without_a_run(db: tuple[Path, str, str, str], tmp_path: Path) -> None:
    path, _, _, _ = db
    study = tmp_path / "study.csv"
    study.write_text("x,sigma2\n0,1\n1,2\n2,1\n")
    frame = dsi.propose(study, 5, 0, db=path)
    pure = dsi.propose(study, 5, 0)
    assert frame.drop(columns="proposal_id").equals(pure.drop(columns="proposal_id"))
    assert frame["proposal_id"].tolist() == [f"{frame.attrs['proposal_record'][:8]}-{i:05d}" for i in range(5)]
    assert query(path, "SELECT run_id, dataset_id, n FROM jdsi_proposal") == [(None, None, 5)]


def test_lineage_has_the_proposal_and_its_edge(db: tuple[Path, str, str, str], cli: Cli) -> None:
    path, dataset, run_id, _ = db
    record_id = dsi.propose(n=4, seed=2, db=path, run=run_id).attrs["proposal_record"]
    res = cli("lineage", record_id[:8], "--db", path)
    assert res.code == 0, res.err
    graph = json.loads(res.out)
    assert graph["root"] == record_id
    node = next(n for n in graph["nodes"] if n["id"] == record_id)
    assert node["kind"] == "proposal" and node["label"] == "4 points (seed 2)"
    assert {"source": record_id, "target": run_id, "relation": "wasDerivedFrom"} in graph["edges"]
    assert dataset in {n["id"] for n in graph["nodes"]}
    # the run's lineage shows it as a descendant; dot and mermaid render the kind
    assert record_id in {n["id"] for n in json.loads(cli("lineage", run_id, "--db", path).out)["nodes"]}
    assert "parallelogram" in cli("lineage", record_id, "--db", path, "--format", "dot").out
    assert cli("lineage", record_id, "--db", path, "--format", "mermaid").code == 0


def test_records_are_immutable_a_second_draw_is_a_new_record(db: tuple[Path, str, str, str], cli: Cli) -> None:
    path, _, run_id, _ = db
    first = cli("propose", "--db", path, "--run", run_id, "--n", 5, "--seed", 1)
    before = proposal_rows(path)
    second = cli("propose", "--db", path, "--run", run_id, "--n", 5, "--seed", 1)
    assert first.code == second.code == 0
    # the same draw, under another record's point ids
    assert first.out.replace(first.err.split()[-1][:8], "ID") == second.out.replace(second.err.split()[-1][:8], "ID")
    assert first.out != second.out
    after = proposal_rows(path)
    assert set(before) <= set(after)  # the first record is untouched
    digests = query(path, "SELECT study_digest FROM jdsi_proposal")
    assert len(digests) == 2 and digests[0] == digests[1]
    # no update or delete path in the module
    assert not [n for n in dir(proposals) if n.startswith(("update", "delete", "edit", "amend"))]


@pytest.mark.parametrize("case", ["no sigma2", "unknown run", "run without db", "unknown target",
                                  "study, run and target", "target without run", "nothing", "bad tau"])
def test_bad_input_is_one_line_and_records_nothing(db: tuple[Path, str, str, str], cli: Cli, tmp_path: Path,
                                                   case: str) -> None:
    path, _, run_id, bare_id = db
    study = tmp_path / "study.csv"
    study.write_text("x,sigma2\n0,1\n1,2\n")
    args = {"no sigma2": ["--db", path, "--run", bare_id],
            "unknown run": ["--db", path, "--run", "ffffffff"],
            "run without db": ["--run", run_id],
            "unknown target": ["--db", path, "--run", run_id, "--target", "nope"],
            "study, run and target": ["--db", path, "--run", run_id, "--study", study, "--target", "energy"],
            "target without run": ["--db", path, "--study", study, "--target", "energy"],
            "nothing": [],
            "bad tau": ["--db", path, "--run", run_id, "--tau", "nope=1"]}[case]
    before = proposal_rows(path)
    events = query(path, "SELECT count(*) FROM jdsi_event")
    res = cli("propose", *args, "--n", 3, "--seed", 1)
    assert res.code == 2 and res.out == ""
    assert len(res.err_lines) == 1 and "Traceback" not in res.err, res.err
    expected = {"no sigma2": "logged no sigma2", "unknown run": "not a run", "run without db": "--db",
                "unknown target": "no sigma2 for target 'nope'", "study, run and target": "drop --target",
                "target without run": "--run", "nothing": "--study", "bad tau": "tau for 'nope'"}[case]
    assert expected in res.err
    assert proposal_rows(path) == before
    assert query(path, "SELECT count(*) FROM jdsi_event") == events


def test_a_study_set_with_its_run_records_the_run_as_provenance(db: tuple[Path, str, str, str], cli: Cli,
                                                                tmp_path: Path) -> None:
    """A grid nobody simulated carries the sigma2 of a run's model: the study set is drawn from,
    the run (and its dataset) recorded as where the sigma2 came from, its predictions unread."""
    path, dataset, run_id, _ = db
    study = tmp_path / "grid.csv"
    study.write_text("energy,sigma2\n0,1\n1,3\n2,0\n")
    res = cli("propose", "--db", path, "--run", run_id[:8], "--study", study, "--n", 5, "--seed", 2)
    assert res.code == 0, res.err
    record_id = res.err_lines[-1].split()[-1]
    [(run, ds, policy, digest)] = query(path, "SELECT run_id, dataset_id, policy, study_digest FROM jdsi_proposal "
                                        "WHERE id = ?", (record_id,))
    assert (run, ds) == (run_id, dataset)
    assert json.loads(policy)["sigma2"] == "study set" and json.loads(policy)["target"] is None
    assert digest == study_digest(pd.read_csv(study))
    assert [r["energy"] for r in csv.DictReader(io.StringIO(res.out))] != []
    # the same draw as without the run: the run is provenance only
    alone = cli("propose", "--study", study, "--n", 5, "--seed", 2)
    assert [line.split(",")[0] for line in alone.out_lines] == [line.split(",")[0] for line in res.out_lines]


def test_python_bad_input_raises_one_line(db: tuple[Path, str, str, str]) -> None:
    path, _, run_id, bare_id = db
    with pytest.raises(ProposalError, match="give db="):
        dsi.propose(n=3, seed=1, run=run_id)
    with pytest.raises(ProposalError, match="logged no sigma2"):
        dsi.propose(n=3, seed=1, db=path, run=bare_id)
    assert proposal_rows(path) == []


def test_migration_4_to_current_adds_the_empty_tables_and_keeps_the_runs(db: tuple[Path, str, str, str], cli: Cli) -> None:
    from test_sources import _same_tables_as_fresh

    path, _, run_id, _ = db
    predictions = query(path, "SELECT * FROM jdsi_prediction ORDER BY run_id, target, sim_id")
    conn = sqlite3.connect(path)
    conn.executescript(f"{AS_SCHEMA_4} PRAGMA user_version = 4;")
    conn.close()
    with Store(path, readonly=True) as store:  # a reader upgrades the file once
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    _same_tables_as_fresh(path)
    assert query(path, "SELECT * FROM jdsi_prediction ORDER BY run_id, target, sim_id") == predictions
    assert proposal_rows(path) == []
    res = cli("propose", "--db", path, "--run", run_id, "--n", 3, "--seed", 1)
    assert res.code == 0, res.err
    assert query(path, "SELECT count(*) FROM jdsi_proposal_point") == [(3,)]

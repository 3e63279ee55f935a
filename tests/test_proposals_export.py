"""Issue 16 §1 export: `jupyter dsi proposals --db DB [ID]` lists the recorded proposals and writes
one's points as the CSV `sample --params` reads; Ensemble.propose / proposals / proposal are the
same functions in Python; bad input records nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import Result, query
from test_proposals_link import SIMS, SMALL, base, db, study_csv  # noqa: F401 - fixtures

import jupyterlab_dsi as dsi
from jupyterlab_dsi.proposals import ProposalError

Cli = Callable[..., Result]


def log_run(path: Path, sigma2: list[float] | None = None) -> str:
    sims = [f"sim{i:05d}" for i in range(SIMS)]
    frame = pd.DataFrame({"energy": [1.0] * SIMS}, index=sims)
    if sigma2 is not False:
        frame["sigma2"] = sigma2 or [0.1 * (i + 1) for i in range(SIMS)]
    with dsi.open(path) as ens:
        with ens.run(name="gp") as run:
            run.log_predictions(frame)
            return run.id


def recorded(path: Path) -> list[tuple]:
    return query(path, "SELECT * FROM jdsi_proposal") + query(path, "SELECT * FROM jdsi_proposal_point") + query(
        path, "SELECT * FROM jdsi_event WHERE kind = 'proposal.save'")


def test_the_points_csv_is_what_propose_wrote_and_sample_reads(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, _ = db
    run_id = log_run(path)
    drawn = tmp_path / "drawn.csv"
    res = cli("propose", "--db", path, "--run", run_id, "--n", 7, "--seed", 4, "-o", drawn)
    assert res.code == 0, res.err
    record_id = res.err_lines[-1].split()[-1]
    # from a run the study set's columns are the database's parameters in its order: the same bytes
    exported = cli("proposals", "--db", path, record_id[:6])
    assert exported.code == 0 and exported.err == ""
    assert exported.out.encode() == drawn.read_bytes()
    out = tmp_path / "again.csv"
    res = cli("proposals", "--db", path, record_id[:6], "-o", out)
    assert res.code == 0 and res.out == f"wrote 7 points of proposal {record_id[:8]} to {out}\n"
    assert out.read_bytes() == drawn.read_bytes()
    assert cli("sample", tmp_path / "next", "--params", out, *SMALL).code == 0
    assert cli("ingest", tmp_path / "next", "--db", path, "-q").code == 0
    # the JSON points say which simulation was run for each
    points = json.loads(cli("proposals", "--db", path, record_id, "--format", "json").out)
    assert [p["sim_id"] for p in points] == [f"prop{i:05d}" for i in range(7)]
    assert [p["proposal_id"] for p in points] == [f"{record_id[:8]}-{i:05d}" for i in range(7)]


def test_o_never_overwrites(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, _ = db
    record_id = dsi.propose(study_csv(tmp_path / "s.csv"), 3, 1, db=path).attrs["proposal_record"]
    out = tmp_path / "p.csv"
    out.write_text("mine\n")
    res = cli("proposals", "--db", path, record_id, "-o", out)
    assert res.code == 2 and len(res.err_lines) == 1 and "never overwritten" in res.err
    assert out.read_text() == "mine\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    res = cli("proposals", "--db", path, record_id, "-o", tmp_path / "nope" / "p.csv")
    assert res.code == 2 and "no such folder" in res.err


def test_the_list_of_records(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, _ = db
    res = cli("proposals", "--db", path)
    assert res.code == 0 and res.out_lines == ["id  created_at  run  n  seed  alpha  linked", "(0 rows)"]
    run_id = log_run(path)
    first = dsi.propose(n=4, seed=9, db=path, run=run_id).attrs["proposal_record"]
    second = dsi.propose(study_csv(tmp_path / "s.csv"), 2, 3, db=path, alpha=1).attrs["proposal_record"]
    table = cli("proposals", "--db", path)
    assert table.code == 0
    assert [line.split()[0] for line in table.out_lines[1:-1]] == [second[:8], first[:8]]  # newest first
    assert table.out_lines[2].split()[2:] == ["gp", "4", "9", "1", "0"]
    records = json.loads(cli("proposals", "--db", path, "--format", "json").out)
    assert [r["id"] for r in records] == [second, first]
    assert list(records[0]) == ["id", "created_at", "author", "run_id", "run_name", "dataset_id", "n", "policy", "linked"]
    assert records[1]["run_id"] == run_id and records[1]["policy"]["seed"] == 9 and records[0]["run_name"] is None
    with dsi.open(path) as ens:
        frame = ens.proposals()
    assert frame["id"].tolist() == [second, first] and frame["policy"].tolist() == [r["policy"] for r in records]


@pytest.mark.parametrize("args, message", [
    (["zzzz"], "'zzzz' is not a proposal of this database"),
    (["ab"], "too short"),
    (["--format", "table", "IDX"], "not a table"),
    (["-o", "x.csv"], "give its ID"),
])
def test_bad_requests_are_one_line(db: tuple[Path, str], cli: Cli, tmp_path: Path, args: list[str], message: str) -> None:
    path, _ = db
    record_id = dsi.propose(study_csv(tmp_path / "s.csv"), 2, 1, db=path).attrs["proposal_record"]
    res = cli("proposals", "--db", path, *[record_id if a == "IDX" else a for a in args])
    assert res.code == 2 and res.out == "" and len(res.err_lines) == 1 and message in res.err, res.err


def test_no_proposals_yet_says_how_to_make_one(db: tuple[Path, str], cli: Cli) -> None:
    res = cli("proposals", "--db", db[0], "abcd")
    assert res.code == 2 and "no proposals yet; record one with `jupyter dsi propose --db DB" in res.err


def test_ensemble_is_the_same_door(db: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    path, _ = db
    run_id = log_run(path)
    res = cli("propose", "--db", path, "--run", run_id, "--n", 5, "--seed", 8, "--format", "json")
    cli_points = json.loads(res.out)
    with dsi.open(path) as ens:
        frame = ens.propose(run_id[:8], n=5, seed=8)
        record_id = frame.attrs["proposal_record"]
        # the same draw as the CLI's, under its own record's point ids
        assert [{k: v for k, v in p.items() if k != "proposal_id"} for p in cli_points] == [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items() if k != "proposal_id"}
            for r in frame.to_dict(orient="records")]
        points = ens.proposal(record_id[:5])
        assert points.attrs["proposal"]["id"] == record_id
        assert list(points.columns) == [*frame.columns, "sim_id"]
        assert points.drop(columns="sim_id").equals(frame)
        assert points["sim_id"].isna().all()
        assert set(ens.proposals()["id"]) == {record_id, res.err_lines[-1].split()[-1]}
        with pytest.raises(ProposalError, match="give no db="):
            ens.propose(run_id, n=2, seed=1, db=path)


def bad_study(tmp_path: Path, change: str) -> Path:
    frame = pd.read_csv(study_csv(tmp_path / "s.csv"))
    if change == "no sigma2":
        frame = frame.drop(columns="sigma2")
    elif change == "negative":
        frame.loc[3, "sigma2"] = -1.0
    elif change == "all zero":
        frame["sigma2"] = 0.0
    elif change == "nan":
        frame.loc[2, "sigma2"] = float("nan")
    frame.to_csv(tmp_path / "bad.csv", index=False)
    return tmp_path / "bad.csv"


@pytest.mark.parametrize("case, extra, message", [
    ("no sigma2", [], "no 'sigma2' column"),
    ("negative", [], "negative at study row 3"),
    ("all zero", [], "zero at every study row"),
    ("nan", [], "NaN or infinite at study row 2"),
    ("ok", ["--tau", "nope=1"], "tau for 'nope', which is not a parameter"),
    ("ok", ["--bounds", "nope=0:1"], "bounds for 'nope', which is not a parameter"),
    ("ok", ["--bounds", "cs=2:3"], "the bounds exclude every point of the study set"),
    ("run", [], "logged no sigma2"),
])
def test_the_issues_bad_input_is_one_line_and_records_nothing(db: tuple[Path, str], cli: Cli, tmp_path: Path,
                                                              case: str, extra: list[str], message: str) -> None:
    path, _ = db
    source = ["--run", log_run(path, sigma2=False)] if case == "run" else ["--study", bad_study(tmp_path, case)]
    before = recorded(path)
    res = cli("propose", "--db", path, *source, "--n", 3, "--seed", 1, "--categorical", "profile", *extra,
              "-o", tmp_path / "p.csv")
    assert res.code == 2 and res.out == "" and len(res.err_lines) == 1 and message in res.err, res.err
    assert recorded(path) == before == []
    assert not (tmp_path / "p.csv").exists()

"""Issue 16: the sample's database keeps every parameter as levels (cs: 0.1..0.5), so a proposal
from a run only copied study points; continuous= (--continuous, the POST's continuous) spreads a
numeric-level parameter as seed 004's policy spreads a continuous one."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import Result, query
from test_proposals_export import log_run, recorded
from test_proposals_link import base, db, kinds  # noqa: F401 - fixtures

import jupyterlab_dsi as dsi
from jupyterlab_dsi.proposals import ProposalError, spacing, study_from_run
from jupyterlab_dsi.store import Store

Cli = Callable[..., Result]


@pytest.fixture
def gp(db: tuple[Path, str]) -> tuple[Path, str, pd.DataFrame, list[str]]:  # noqa: F811
    """(the sample database, a run with sigma2 on its 12 simulations, the run's study set, its
    categorical parameters: all seven)."""
    path, _ = db
    run_id = log_run(path)
    with Store(path, readonly=True) as store:
        study, _, _, categorical = study_from_run(store, run_id)
    return path, run_id, study, categorical


Gp = tuple[Path, str, pd.DataFrame, list[str]]


def test_continuous_spreads_a_levels_parameter_between_its_levels(gp: Gp) -> None:
    path, run_id, study, categorical = gp
    assert kinds(path)["cs"][0] == kinds(path)["profile"][0] == "categorical" and "cs" in categorical
    copied = dsi.propose(n=200, seed=4, db=path, run=run_id)
    assert set(copied["cs"]) <= set(study["cs"])  # the database's kind: copies of the study's levels
    frame = dsi.propose(n=200, seed=4, db=path, run=run_id, continuous=["cs"])
    assert frame["cs"].between(study["cs"].min(), study["cs"].max()).all()  # bounds: the study's range
    assert (~frame["cs"].isin(study["cs"])).sum() == 200  # off-level (a float draw never lands on one)
    for name in study.columns.drop(["cs", "sigma2"]):  # the others, profile too, copied from the drawn row
        assert frame[name].tolist() == study[name].to_numpy()[frame["component"]].tolist(), name
    # tau defaults to the smallest gap between cs's levels: the same draw as tau given so
    gap = spacing(study["cs"])
    assert 0 < gap < study["cs"].max() - study["cs"].min()
    given = dsi.propose(n=200, seed=4, db=path, run=run_id, continuous=["cs"], tau={"cs": gap})
    assert given["cs"].tolist() == frame["cs"].tolist()
    # the same draw as the pure function with cs left out of the categorical parameters
    pure = dsi.propose(study, 200, 4, categorical=[c for c in categorical if c != "cs"])
    assert pure.drop(columns="proposal_id").equals(frame.drop(columns="proposal_id"))
    policy = json.loads(query(path, "SELECT policy FROM jdsi_proposal WHERE id = ?",
                              (frame.attrs["proposal_record"],))[0][0])
    assert policy["continuous"] == ["cs"] and policy["categorical"] == [c for c in categorical if c != "cs"]
    assert policy["tau"] == {} and policy["bounds"] == {}
    assert json.loads(query(path, "SELECT policy FROM jdsi_proposal WHERE id = ?",
                            (copied.attrs["proposal_record"],))[0][0])["continuous"] == []


def test_cli_continuous_same_seed_same_bytes_and_the_ensembles_door(gp: tuple[Path, str, pd.DataFrame, list[str]],
                                                                     cli: Cli) -> None:
    path, run_id, study, _ = gp
    args = ("propose", "--db", path, "--run", run_id[:8], "--n", 40, "--seed", 9, "--continuous", "cs",
            "--tau", "cs=0.05", "--bounds", "cs=0.15:0.35")
    first, second = cli(*args), cli(*args)
    assert first.code == second.code == 0, first.err
    ids = [r.err_lines[-1].split()[-1] for r in (first, second)]
    assert ids[0] != ids[1]
    assert first.out.replace(ids[0][:8], "ID") == second.out.replace(ids[1][:8], "ID")
    rows = list(csv.DictReader(io.StringIO(first.out)))
    cs = [float(r["cs"]) for r in rows]
    assert all(0.15 <= v <= 0.35 for v in cs) and not set(cs) & set(study["cs"])
    assert {int(r["profile"]) for r in rows} <= set(study["profile"])  # still its levels
    other = cli("propose", "--db", path, "--run", run_id, "--n", 40, "--seed", 10, "--continuous", "cs",
                "--tau", "cs=0.05", "--bounds", "cs=0.15:0.35")
    assert other.code == 0 and other.out.replace(other.err_lines[-1].split()[-1][:8], "ID") != first.out.replace(
        ids[0][:8], "ID")
    with dsi.open(path) as ens:
        frame = ens.propose(run_id, n=40, seed=9, continuous=["cs"], tau={"cs": 0.05}, bounds={"cs": (0.15, 0.35)})
    assert [repr(v) for v in frame["cs"]] == [r["cs"] for r in rows]
    # without --continuous cs is the database's categorical and --tau for it is refused, as before
    refused = cli("propose", "--db", path, "--run", run_id, "--n", 4, "--seed", 9, "--tau", "cs=0.05")
    assert refused.code == 2 and "categorical parameter" in refused.err


def _study_with_text(tmp_path: Path) -> Path:
    frame = pd.DataFrame({"cs": [0.1, 0.2, 0.3, 0.4], "shape": ["flat", "bump", "flat", "bump"],
                          "on": [True, False, True, True], "sigma2": [1.0, 2.0, 3.0, 4.0]})
    frame.to_csv(tmp_path / "text.csv", index=False)
    return tmp_path / "text.csv"


@pytest.mark.parametrize("source, extra, message", [
    ("run", ["--continuous", "nope"], "continuous names 'nope', not a parameter of the study set"),
    ("run", ["--continuous", "cs", "--categorical", "cs"],
     "parameter 'cs' is named both categorical and continuous: give it one kind"),
    ("study", ["--continuous", "shape"], "continuous names 'shape', whose value at study row 0 is 'flat', "
                                         "not a number"),
    ("study", ["--continuous", "on"], "continuous names 'on', whose value at study row 0 is True, not a number"),
])
def test_bad_continuous_is_one_line_and_records_nothing(gp: tuple[Path, str, pd.DataFrame, list[str]], cli: Cli,
                                                        tmp_path: Path, source: str, extra: list[str],
                                                        message: str) -> None:
    path, run_id, _, _ = gp
    before = recorded(path)
    where = ["--run", run_id] if source == "run" else ["--study", _study_with_text(tmp_path)]
    res = cli("propose", "--db", path, *where, "--n", 3, "--seed", 1, *extra, "-o", tmp_path / "p.csv")
    assert res.code == 2 and res.out == "" and len(res.err_lines) == 1 and message in res.err, res.err
    assert recorded(path) == before == []
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("continuous, message", [
    ("cs", "continuous takes a list of parameter names, not the text 'cs'"),
    (5, "continuous takes a list of parameter names, not 5"),
    ([["cs"]], "continuous takes a list of parameter names"),
])
def test_continuous_must_be_a_list_of_names(gp: tuple[Path, str, pd.DataFrame, list[str]], continuous: object,
                                            message: str) -> None:
    path, run_id, study, _ = gp
    with pytest.raises(ProposalError, match=message):
        dsi.propose(n=3, seed=1, db=path, run=run_id, continuous=continuous)  # type: ignore[arg-type]
    with pytest.raises(ProposalError, match=message):
        dsi.propose(study, 3, 1, continuous=continuous)  # type: ignore[arg-type]
    assert recorded(path) == []

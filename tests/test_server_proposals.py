"""The panel's door to proposals (issue 16 §4): GET/POST {base}/jupyterlab-dsi/proposals in a real
Jupyter server, over the same functions as `jupyter dsi propose --db` and `jupyter dsi proposals`."""

from __future__ import annotations

import getpass
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import Result, query
from test_server import TOKEN, call, server  # noqa: F401 - the module's server fixture

import jupyterlab_dsi as dsi

Cli = Callable[..., Result]
SIGMA2 = {"s00": 0.5, "s01": 0.5, "s02": 0.1, "s03": 0.4, "s04": 0.2, "s05": 0.3}


@pytest.fixture(scope="module")
def runs(server: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    """prop.sqlite under the server's root, with a run that logged sigma2 and one that did not."""
    db = server["root"] / "prop.sqlite"
    shutil.copy(server["root"] / "ens.sqlite", db)
    with dsi.open(db) as ens:
        with ens.run(name="gp") as run:
            run.log_predictions(pd.DataFrame({"energy": [1.0] * 6, "sigma2": list(SIGMA2.values())}, index=list(SIGMA2)))
        with ens.run(name="plain") as bare:
            bare.log_predictions(pd.DataFrame({"energy": [1.0, 2.0]}, index=["s02", "s03"]))
    return {"gp": run.id, "plain": bare.id, "db": str(db)}


def url(server: dict[str, Any], rest: str = "", query_text: str = "path=prop.sqlite") -> str:  # noqa: F811
    return f"{server['base']}/proposals{rest}?{query_text}"


def recorded(db: str) -> list[tuple]:
    return query(Path(db), "SELECT * FROM jdsi_proposal") + query(Path(db), "SELECT * FROM jdsi_proposal_point") + query(
        Path(db), "SELECT kind, record_id FROM jdsi_event WHERE kind = 'proposal.save'")


def get_text(address: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(address)
    request.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_record_list_and_export_as_the_cli_does(server: dict[str, Any], runs: dict[str, str], cli: Cli) -> None:  # noqa: F811
    body = {"run_id": runs["gp"][:8], "n": 6, "seed": 3, "tau": {"energy": 0.5}, "bounds": {"energy": [0, 10]}}
    status, answer = call(url(server), "POST", body)
    assert status == 201, answer
    assert answer["n"] == 6 and set(answer) == {"id", "n"}
    record_id = answer["id"]
    status, records = call(url(server))
    assert status == 200
    mine = next(r for r in records if r["id"] == record_id)
    assert mine["run_id"] == runs["gp"] and mine["run_name"] == "gp" and mine["linked"] == 0 and mine["n"] == 6
    assert mine["policy"]["tau"] == {"energy": 0.5} and mine["policy"]["bounds"] == {"energy": [0.0, 10.0]}
    assert mine["author"] == getpass.getuser()  # a token names no person: the OS user, as the CLI
    assert set(mine) == {"id", "created_at", "author", "run_id", "run_name", "dataset_id", "n", "policy", "linked"}
    # the CSV is byte for byte the CLI's export, and the same draw the CLI makes from the run
    status, kind, data = get_text(url(server, f"/{record_id[:8]}", "path=prop.sqlite&format=csv"))
    assert status == 200 and kind.startswith("text/csv")
    exported = cli("proposals", "--db", runs["db"], record_id)
    assert exported.code == 0 and data == exported.out.encode()
    drawn = cli("propose", "--run", runs["gp"], "--db", runs["db"], "--n", 6, "--seed", 3, "--tau", "energy=0.5",
                "--bounds", "energy=0:10")
    other = drawn.err_lines[-1].split()[-1]
    assert drawn.out.replace(other[:8], "ID") == exported.out.replace(record_id[:8], "ID")
    status, points = call(url(server, f"/{record_id}", "path=prop.sqlite&format=json"))
    assert status == 200 and [p["proposal_id"] for p in points] == [f"{record_id[:8]}-{i:05d}" for i in range(6)]


@pytest.mark.parametrize("body, message", [
    ([1], "must be a JSON object"),
    ({"run_id": "x", "n": 1}, "seed missing"),
    ({"run_id": "x", "n": 1, "seed": 0, "categorical": ["cs"]}, "unknown field(s) 'categorical'"),
    ({"run_id": 5, "n": 1, "seed": 0}, "run_id must be text"),
    ({"run_id": "x", "n": 0, "seed": 0}, "n must be a whole number from 1 to 100,000"),
    ({"run_id": "x", "n": 100_001, "seed": 0}, "n must be a whole number from 1 to 100,000"),
    ({"run_id": "x", "n": True, "seed": 0}, "n must be an integer"),
    ({"run_id": "x", "n": 2.5, "seed": 0}, "n must be an integer"),
    ({"run_id": "x", "n": 1, "seed": -1}, "seed must be a whole number >= 0"),
    ({"run_id": "x", "n": 1, "seed": "1"}, "seed must be an integer"),
    ({"run_id": "x", "n": 1, "seed": 2**63}, "seed must be a whole number >= 0"),
    ({"run_id": "x", "n": 1, "seed": 0, "tau": [1]}, "tau must be an object"),
    ({"run_id": "x", "n": 1, "seed": 0, "tau": {"energy": "1"}}, "tau 'energy' must be an integer or a number"),
    ({"run_id": "x", "n": 1, "seed": 0, "tau": {"a\nb": None}}, "tau 'a\\nb' must be an integer or a number"),
    ({"run_id": "x", "n": 1, "seed": 0, "tau": {"energy": 1}, "bounds": {"a\nb": 1}}, "bounds 'a\\nb' must be [lo, hi]"),
    ({"run_id": "x", "n": 1, "seed": 0, "bounds": {"energy": [0]}}, "bounds 'energy' must be [lo, hi]"),
    ({"run_id": "x", "n": 1, "seed": 0, "bounds": {"energy": [0, "1"]}}, "bounds 'energy' must be [lo, hi]"),
    ({"run_id": "x", "n": 1, "seed": 0, "alpha": "1"}, "alpha must be an integer or a number"),
    ({"run_id": "x", "n": 1, "seed": 0, "target": None}, "target must be text"),
    ({"run_id": "x", "n": 1, "seed": 0, "continuous": "cs"}, "continuous must be a list, not text"),
    ({"run_id": "x", "n": 1, "seed": 0, "continuous": {"cs": 1}}, "continuous must be a list, not an object"),
    ({"run_id": "x", "n": 1, "seed": 0, "continuous": ["cs", 1]},
     "continuous must list parameter names (text), not an integer 1"),
    ({"run_id": "x", "n": 1, "seed": 0, "continuous": [None]}, "continuous must list parameter names (text), not null"),
])
def test_malformed_requests_are_400_one_line_nothing_recorded(server: dict[str, Any], runs: dict[str, str],  # noqa: F811
                                                              body: Any, message: str) -> None:
    before = recorded(runs["db"])
    status, answer = call(url(server), "POST", body)
    assert status == 400 and message in answer["message"] and "\n" not in answer["message"], answer
    assert recorded(runs["db"]) == before


@pytest.mark.parametrize("change, message", [
    ({"run_id": "ffffffff"}, "not a run of this database"),
    ({"run": "plain"}, "logged no sigma2"),
    ({"tau": {"nope": 1}}, "tau for 'nope', which is not a parameter"),
    ({"bounds": {"nope": [0, 1]}}, "bounds for 'nope', which is not a parameter"),
    ({"bounds": {"energy": [100, 200]}}, "the bounds exclude every point of the study set"),
    ({"alpha": 0.5}, "give entropy_column"),
    ({"target": "nope"}, "no sigma2 for target 'nope'"),
    ({"continuous": ["nope"]}, "continuous names 'nope', not a parameter of the study set"),
    ({"continuous": ["profile"]}, "continuous names 'profile', whose value at study row 0 is 'flat', not a number"),
    ({"continuous": ["a\nb"]}, "continuous names 'a\\nb', not a parameter"),
])
def test_what_propose_refuses_is_422_one_line_nothing_recorded(server: dict[str, Any], runs: dict[str, str],  # noqa: F811
                                                               change: dict[str, Any], message: str) -> None:
    body = {"run_id": runs[change.pop("run", "gp")], "n": 3, "seed": 1, **change}
    before = recorded(runs["db"])
    status, answer = call(url(server), "POST", body)
    assert status == 422 and message in answer["message"] and "\n" not in answer["message"], answer
    assert str(server["root"]) not in answer["message"]
    assert recorded(runs["db"]) == before


def test_continuous_spreads_the_databases_levels(server: dict[str, Any], runs: dict[str, str]) -> None:  # noqa: F811
    """cs is stored categorical (levels 0.1, 0.2): continuous draws it between them, profile stays a level."""
    levels = dict(query(Path(runs["db"]), "SELECT name, levels FROM jdsi_parameter WHERE kind = 'categorical'"))
    cs_levels, profiles = json.loads(levels["cs"]), json.loads(levels["profile"])
    body = {"run_id": runs["gp"], "n": 50, "seed": 5, "continuous": ["cs"]}
    status, answer = call(url(server), "POST", body)
    assert status == 201, answer
    status, points = call(url(server, f"/{answer['id']}", "path=prop.sqlite&format=json"))
    assert status == 200 and len(points) == 50
    assert all(min(cs_levels) <= p["cs"] <= max(cs_levels) and p["cs"] not in cs_levels for p in points)
    assert {p["profile"] for p in points} <= set(profiles)
    status, records = call(url(server))
    policy = next(r for r in records if r["id"] == answer["id"])["policy"]
    assert policy["continuous"] == ["cs"] and policy["categorical"] == ["profile"]
    # the same seed draws the same points again (a new record, so new point ids)
    status, again = call(url(server), "POST", body)
    status, repeat = call(url(server, f"/{again['id']}", "path=prop.sqlite&format=json"))
    assert [{**p, "proposal_id": None} for p in repeat] == [{**p, "proposal_id": None} for p in points]


def test_other_requests(server: dict[str, Any], runs: dict[str, str]) -> None:  # noqa: F811
    status, answer = call(url(server), token=None)
    assert status == 403
    status, answer = call(url(server), "POST", {"run_id": runs["gp"], "n": 1, "seed": 0}, token=None)
    assert status == 403
    status, answer = call(url(server, "/abcdef12"))
    assert status == 422 and "not a proposal of this database" in answer["message"]
    status, answer = call(url(server, "/abcdef12", "path=prop.sqlite&format=xml"))
    assert status == 400 and "csv or json" in answer["message"]
    status, answer = call(url(server, "/abcdef12"), "POST", {"run_id": runs["gp"], "n": 1, "seed": 0})
    assert status == 405
    status, answer = call(url(server, "", "path=../outside.sqlite"))
    assert status in (403, 404)

"""examples/train.ipynb closes the loop on the sample: three training sets, a split and a model with
an uncertainty on each through ``ens.run``, and the answer to "which dataset made the better model".

It runs in a fresh kernel on a copy of the sample database (tests/notebooks.py); the checks read
that copy back through the public API and the CLI, as a user would after running it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("sklearn", reason="the notebook trains scikit-learn Gaussian processes")

from notebooks import ROOT, SAMPLE_DB, Run, execute, has_no_outputs, sample_db  # noqa: E402, F401

import jupyterlab_dsi as dsi  # noqa: E402
from jupyterlab_dsi.cli import main  # noqa: E402

NOTEBOOK = ROOT / "examples" / "train.ipynb"
SETS = ("near features, near density", "near features, far density", "near features, every density")


@pytest.fixture(scope="module")
def run(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return execute(NOTEBOOK, sample_db, tmp_path_factory.mktemp("train"))


def test_committed_notebook_has_no_outputs() -> None:
    has_no_outputs(NOTEBOOK)


def test_runs_without_errors(run: Run) -> None:
    assert run.errors() == []
    assert "Traceback" not in run.stderr and "error:" not in run.stderr, run.stderr


def test_three_datasets_each_split_and_trained(run: Run) -> None:
    with dsi.open(run.db) as ens:
        datasets = ens.datasets().set_index("name")
        assert set(SETS) <= set(datasets.index)
        runs = ens.runs()
        assert len(runs) == 3 and set(runs["status"]) == {"finished"}
        for name in SETS:
            ds = ens.dataset(datasets.loc[name, "id"])
            (split,) = ds.splits()
            assert split.names == ("train", "test") and sum(split.sizes.values()) == ds.size
            (record,) = runs[runs["dataset_id"] == ds.id].to_dict("records")
            assert record["split_id"] == split.id
            # The learning curve: one point per training size, on the split's test part.
            points = ens.store.conn.execute(
                "SELECT step FROM jdsi_run_metric WHERE run_id = ? AND name = 'rmse' AND context = 'test' "
                "ORDER BY step", (record["id"],)).fetchall()
            assert len(points) >= 5 and points[-1][0] == split.sizes["train"]
            assert {"test/rmse", "test_rmse", "common_rmse"} <= set(record["metrics"])
            # Predictions for every simulation but the ground truth, with a variance.
            count, variances = ens.store.conn.execute(
                "SELECT count(*), count(sigma2) FROM jdsi_prediction WHERE run_id = ? AND target = 'rho_gas'",
                (record["id"],)).fetchone()
            assert count == variances == 999
            (model,) = record["artifacts"]
            assert model["kind"] == "model" and Path(model["path"]).is_file()
            assert record["resources"]["cpu_s"] > 0 and record["resources"]["wall_s"] > 0


def test_the_broad_set_makes_the_better_model(run: Run) -> None:
    """The notebook's conclusion, read from the recorded metrics rather than from its text."""
    assert "best on the common test set: near features, every density" in run.stdout
    with dsi.open(run.db) as ens:
        names = ens.datasets().set_index("id")["name"]
        common = {names[r["dataset_id"]]: r["metrics"]["common_rmse"] for r in ens.runs().to_dict("records")}
    spread = run.number(r"spread of rho_gas in the ensemble: ([\d.]+)")
    assert common["near features, every density"] < min(common["near features, near density"],
                                                        common["near features, far density"])
    assert common["near features, every density"] < spread  # better than predicting the mean


def test_the_cli_lists_the_same_runs(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--db", str(run.db), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in listed) == sorted(f"gp · {name}" for name in SETS)
    assert all(r["params"]["target"] == "rho_gas" for r in listed)


def test_lineage_reaches_from_source_to_model(run: Run) -> None:
    assert "flowchart" in run.stdout
    assert run.number(r"(\d+) nodes, \d+ edges") == 6


def test_the_repository_sample_is_untouched() -> None:
    if SAMPLE_DB.exists():
        with dsi.open(SAMPLE_DB) as ens:
            assert not set(SETS) & set(ens.datasets()["name"])

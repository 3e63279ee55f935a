"""examples/explore.ipynb runs from top to bottom and shows what it says it shows.

It runs in a fresh kernel on a copy of the sample database (tests/notebooks.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("matplotlib", reason="the notebook draws its figures with matplotlib")

from notebooks import ROOT, SAMPLE_DB, Run, execute, has_no_outputs, sample_db  # noqa: E402, F401

NOTEBOOK = ROOT / "examples" / "explore.ipynb"


@pytest.fixture(scope="module")
def run(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return execute(NOTEBOOK, sample_db, tmp_path_factory.mktemp("examples"))


def test_committed_notebook_has_no_outputs() -> None:
    has_no_outputs(NOTEBOOK)


def test_runs_without_errors(run: Run) -> None:
    for cell in run.code_cells:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:60]
    # %dsi reports its own errors on stderr instead of raising.
    assert "error:" not in run.stderr, run.stderr
    assert any("image/png" in o.get("data", {}) for c in run.code_cells for o in c.outputs), "no figure"


def test_cs_is_recoverable_and_mrg_is_not(run: Run) -> None:
    cs = run.number(r"cs: between/within ratio ([\d.]+)")
    mrg = run.number(r"mrg: between/within ratio ([\d.]+)")
    assert cs > 2
    assert mrg < 0.3
    assert cs > 10 * mrg


def test_edge_is_small_and_noisy(run: Run) -> None:
    share = run.number(r"d_edge is (\d+)% of d_shock")
    rougher = run.number(r"([\d.]+) times rougher")
    assert share < 30 and rougher > 2


def test_l1_separates_least(run: Run) -> None:
    sep = {n: run.number(rf"{n}: cs separation ([\d.]+)") for n in ("L2", "L1", "Linf")}
    assert sep["L1"] < min(sep["L2"], sep["Linf"])
    assert "L1 separates the cs levels least" in run.stdout


def test_degeneracy_is_one_sided(run: Run) -> None:
    forward = run.number(r"near in density -> near in features: (\d+)%")
    converse = run.number(r"near in features -> near in density: (\d+)%")
    assert forward > 60
    assert converse < 50
    assert forward > converse + 15


def _constant(source: str, name: str) -> str:
    """The literal value of ``NAME = ...`` in the notebook's code."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"the notebook defines no {name}")


def test_dataset_is_saved_with_its_description(run: Run) -> None:
    from jupyterlab_dsi import magic

    source = "\n".join(c.source for c in run.code_cells if "--save" in c.source)
    name, description = _constant(source, "NAME"), _constant(source, "DESCRIPTION")
    datasets = magic.run(f"datasets --db {run.db}")
    assert list(datasets["name"]) == [name]
    assert datasets.iloc[0]["description"] == description
    assert datasets.iloc[0]["time"] == 39
    assert datasets.iloc[0]["size"] > 20
    # The repository's database is untouched.
    if SAMPLE_DB.exists():
        assert name not in set(magic.run(f"datasets --db {SAMPLE_DB}")["name"])


def test_reloaded_and_reselected_members_equal_the_saved_ones(run: Run) -> None:
    from jupyterlab_dsi import magic

    datasets = magic.run(f"datasets --db {run.db}")
    dataset_id = datasets.index[0]
    members = magic.run(f"load {dataset_id} --db {run.db}")
    assert len(members) == datasets.iloc[0]["size"]
    assert f"reselected {len(members)} simulations; identical to the saved members: True" in run.stdout
    assert "digest of the reselection matches the record: True" in run.stdout
    assert f"{'members':>12}: {len(members)}" in run.stdout
    assert str(datasets.iloc[0]["digest"]) in run.stdout

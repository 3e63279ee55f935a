"""examples/explore.ipynb runs from top to bottom and shows what it says it shows.

The notebook is executed with nbclient on a temporary copy of ``examples/`` (the notebook and
``data/sample.sqlite``; it never reads the ensemble's npz files), so the dataset it saves never
lands in the repository's sample database. When ``examples/data/sample.sqlite`` has not been
built (``make sample``), the session builds one into a temporary folder the way the Makefile
does: ``jupyter dsi sample`` (1,000 simulations, seed 0), ``ingest`` and three ``postprocess``
runs (L2, L1, Linf against sim00000).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib", reason="the notebook draws its figures with matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "explore.ipynb"
SAMPLE_DB = ROOT / "examples" / "data" / "sample.sqlite"
NORMS = {"L2": "L2 norm", "L1": "L1 norm", "Linf": "maximum norm"}


def _dsi(*args: str) -> None:
    cmd = [sys.executable, "-m", "jupyterlab_dsi.cli", *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample database: the repository's, else one built like the Makefile's $(SAMPLE_DB)."""
    if SAMPLE_DB.exists():
        return SAMPLE_DB
    out = tmp_path_factory.mktemp("sample")
    db = out / "sample.sqlite"
    _dsi("sample", str(out / "ensemble"), "--sims", "1000", "--seed", "0", "--quiet")
    _dsi("ingest", str(out / "ensemble"), "--db", str(db), "--quiet")
    for norm, words in NORMS.items():
        _dsi("postprocess", "--db", str(db), "--ground-truth", "sim00000", "--norm", norm, "--quiet",
             "--description", f"Sample ground truth, {words}, matched time steps")
    return db


class Run:
    def __init__(self, folder: Path, nb: "nbformat.NotebookNode") -> None:
        self.folder = folder
        self.nb = nb
        self.db = folder / "data" / "sample.sqlite"
        self.stdout = "".join(o.get("text", "") for c in self.code_cells for o in c.outputs
                              if o.output_type == "stream" and o.name == "stdout")
        self.stderr = "".join(o.get("text", "") for c in self.code_cells for o in c.outputs
                              if o.output_type == "stream" and o.name == "stderr")

    @property
    def code_cells(self) -> list:
        return [c for c in self.nb.cells if c.cell_type == "code"]

    def number(self, pattern: str) -> float:
        found = re.search(pattern, self.stdout)
        assert found, f"the notebook did not print {pattern!r}; its output:\n{self.stdout}"
        return float(found.group(1))


@pytest.fixture(scope="module")
def run(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("examples")
    (folder / "data").mkdir()
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    shutil.copy(sample_db, folder / "data" / "sample.sqlite")
    nb = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return Run(folder, nb)


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the example notebook has no code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


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

"""Running the example notebooks: the sample database they read and a fresh kernel over a copy.

Each notebook runs with nbclient on a temporary copy of ``examples/`` (the notebook and
``data/sample.sqlite``; never the ensemble's npz files), so what it saves never lands in the
repository's sample database. When ``examples/data/sample.sqlite`` has not been built
(``make sample``), the session builds one into a temporary folder the way the Makefile does:
``jupyter dsi sample`` (1,000 simulations, seed 0), ``ingest`` and three ``postprocess`` runs
(L2, L1, Linf against sim00000).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    """An executed notebook: its cells, what it printed, and the copy of the database it used."""

    def __init__(self, folder: Path, nb: nbformat.NotebookNode) -> None:
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

    def errors(self) -> list[str]:
        return [c.source[:60] for c in self.code_cells if any(o.output_type == "error" for o in c.outputs)]


def execute(notebook: Path, sample_db: Path, folder: Path) -> Run:
    """Run ``notebook`` top to bottom in a fresh kernel inside ``folder`` (a copy of examples/)."""
    (folder / "data").mkdir()
    shutil.copy(notebook, folder / notebook.name)
    shutil.copy(sample_db, folder / "data" / "sample.sqlite")
    nb = nbformat.read(folder / notebook.name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return Run(folder, nb)


def has_no_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{notebook.name} has no code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]

"""The sample ensemble with saved datasets and the loop around them, for the export tests
(tests/test_exports_*.py): 24 simulations of `jupyter dsi sample` (small grid), ingested, an L2
method against sim00000, then through the CLI

- ``filtered``: ``cs >= 0.3`` at step 1, sampled with p = 0.7, seed 5;
- ``sized``: every simulation at step 2, a target size of 6, seed 2;
- ``by_hand``: three members chosen by hand, no method (a record without distances);
- ``child``: three of ``filtered``'s members, saved with ``filtered`` as its parent;

a run on ``filtered`` that logs a predictive variance, a proposal drawn from that run
(``propose --db --run``) and the simulations sampled for it, ingested (linked to its points).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import jupyterlab_dsi as dsi
from jupyterlab_dsi import datasets as dsets
from jupyterlab_dsi.cli import main
from jupyterlab_dsi.sample import write_sample
from jupyterlab_dsi.store import Store

SIMS = 24
SMALL = ["--steps", "3", "--grid", "8", "8", "-q"]


@dataclass
class Sample:
    root: Path
    db: Path
    method: str
    filtered: str
    sized: str
    by_hand: str
    child: str
    run: str
    proposal: str
    proposal_source: str

    @property
    def datasets(self) -> dict[str, str]:
        return {"filtered": self.filtered, "sized": self.sized, "by_hand": self.by_hand, "child": self.child}


def cli(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def ok(*argv: object) -> str:
    code, out, err = cli(*argv)
    assert code == 0, err
    return out


def build(root: Path) -> Sample:
    from jupyterlab_dsi.compute import postprocess
    from jupyterlab_dsi.ingest import ingest

    write_sample(root / "ens", sims=SIMS, steps=3, grid=(8, 8), seed=0)
    db = root / "sample.sqlite"
    ingest(db, root / "ens")
    method = postprocess(db, ground_truth="sim00000", norm="L2")
    filtered = ok("select", "--db", db, "--method", method, "--time", 1, "--where", "cs >= 0.3",
                  "--save", "High cs: the shock model's training set", "--name", "high cs",
                  "--sample", 0.7, "--seed", 5).strip().splitlines()[-1]
    sized = ok("select", "--db", db, "--method", method, "--time", 2, "--save", "Six of all, for a quick check",
               "--name", "six", "--size", 6, "--seed", 2).strip().splitlines()[-1]
    with Store(db) as store:
        by_hand = dsets.save_dataset(store, members=["sim00001", "sim00002", "sim00003"], name="by hand",
                                     description="Three picked by hand | with *markup* <b>", method_id=None, t=None)["id"]
        first = dsets.members(store, filtered)[:3]
        child = dsets.save_dataset(store, members=first, name="child", description="A smaller one, derived",
                                   method_id=method, t=1, parent_id=filtered)["id"]
    with dsi.open(db) as ens:
        members = ens.dataset(filtered).member_ids()
        with ens.run(dataset=filtered, name="gp") as run:
            run.log_predictions(pd.DataFrame({"energy": [1.0] * len(members),
                                              "sigma2": [0.1 * (i + 1) for i in range(len(members))]}, index=members))
            run_id = run.id
    out = root / "proposal.csv"
    code, _, err = cli("propose", "--db", db, "--run", run_id, "--n", 4, "--seed", 2, "-o", out)
    assert code == 0, err
    proposal = err.strip().splitlines()[-1].split()[-1]
    ok("sample", root / "next", "--params", out, *SMALL)
    source = ok("ingest", root / "next", "--db", db, "-q").strip().splitlines()[-1]
    return Sample(root, db, method, filtered, sized, by_hand, child, run_id, proposal, source)

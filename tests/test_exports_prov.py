"""PROV export (issue 19): as before (the selection, its method, the members, the author), plus
what was made from the dataset: the runs that used it, the proposals drawn from those runs, the
sources ingested for those proposals; it round-trips through the
``prov`` package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exports_sample import Sample, build, cli

from jupyterlab_dsi import exports
from jupyterlab_dsi.datasets import get_dataset, members
from jupyterlab_dsi.store import Store

prov_model = pytest.importorskip("prov.model")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("prov"))


def prov_of(sample: Sample, ref: str) -> tuple[str, dict]:
    with Store(sample.db, readonly=True) as store:
        text = exports.text(store, ref, "prov")
    return text, json.loads(text)


@pytest.mark.parametrize("which", ["filtered", "sized", "by_hand", "child"])
def test_it_round_trips_through_the_prov_package(sample: Sample, which: str) -> None:
    text, doc = prov_of(sample, sample.datasets[which])
    read = prov_model.ProvDocument.deserialize(content=text, format="json")
    again = prov_model.ProvDocument.deserialize(content=read.serialize(format="json"), format="json")
    assert read == again
    counted = {kind: len(doc.get(kind, {})) for kind in ("entity", "activity", "agent")}
    got = {kind: 0 for kind in counted}
    for r in read.get_records():
        name = {prov_model.ProvEntity: "entity", prov_model.ProvActivity: "activity", prov_model.ProvAgent: "agent"}.get(type(r))
        if name:
            got[name] += 1
    assert got == counted
    with Store(sample.db, readonly=True) as store:
        record = get_dataset(store, sample.datasets[which])
        ids = members(store, record["id"])
    ds = read.get_record(f"dataset:{record['id']}")[0]
    assert dict((str(k), v) for k, v in ds.attributes)["jdsi:digest"] == record["digest"]
    assert {f"sim:{s}" for s in ids} <= set(doc["entity"])


def test_the_runs_and_proposals_made_from_it_are_in_it(sample: Sample) -> None:
    text, doc = prov_of(sample, sample.filtered)
    run, proposal, source = f"run:{sample.run}", f"proposal:{sample.proposal}", f"source:{sample.proposal_source}"
    ds = f"dataset:{sample.filtered}"
    assert doc["activity"][run]["prov:type"] == "jdsi:TrainingRun"
    assert {"prov:activity": run, "prov:entity": ds} in doc["used"].values()
    assert doc["entity"][proposal]["prov:type"] == "jdsi:Proposal"
    assert doc["entity"][proposal]["jdsi:n"] == 4
    generated = [g for g in doc["wasGeneratedBy"].values() if g["prov:entity"] == proposal]
    assert [g["prov:activity"] for g in generated] == [run]
    derived = [(d["prov:generatedEntity"], d["prov:usedEntity"]) for d in doc["wasDerivedFrom"].values()]
    assert (source, proposal) in derived  # the simulations run for its points
    with Store(sample.db, readonly=True) as store:
        sha = store.conn.execute("SELECT sha256 FROM jdsi_source WHERE id = ?", (sample.proposal_source,)).fetchone()[0]
    assert doc["entity"][source]["jdsi:sha256"] == sha
    assert doc["prefix"]["proposal"] == "urn:jupyterlab-dsi:proposal:"
    # The prov package reads the new records as what they are.
    read = prov_model.ProvDocument.deserialize(content=text, format="json")
    assert read.get_record(proposal) and read.get_record(source)
    # A dataset with nothing made from it has no proposal.
    assert not [k for k in prov_of(sample, sample.sized)[1]["entity"] if k.startswith("proposal:")]


def test_the_cli_prints_the_same_text(sample: Sample, tmp_path: Path) -> None:
    code, out, err = cli("export", sample.filtered, "--db", sample.db, "--format", "prov")
    assert code == 0, err
    assert out == prov_of(sample, sample.filtered)[0]

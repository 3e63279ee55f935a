"""DataCite 4.5 export (issue 19): the record validates against the schema with the ``datacite``
package's validator, offline (the schema ships in the package), and carries the digest, the
author, the dates, the sources it is derived from and the parameters as subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exports_sample import Sample, build, cli

from jupyterlab_dsi import exports
from jupyterlab_dsi.datasets import get_dataset
from jupyterlab_dsi.store import Store

schema45 = pytest.importorskip("datacite.schema45")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("datacite"))


def errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema45.validator.iter_errors(doc)]


@pytest.mark.parametrize("which", ["filtered", "sized", "by_hand", "child"])
def test_every_dataset_validates_against_datacite_4_5(sample: Sample, which: str) -> None:
    with Store(sample.db, readonly=True) as store:
        doc = json.loads(exports.text(store, sample.datasets[which], "datacite"))
    assert errors(doc) == []
    assert schema45.validate(doc)
    assert "<resource" in schema45.tostring(doc)  # and it converts to DataCite XML


def test_the_validator_is_not_a_rubber_stamp(sample: Sample) -> None:
    with Store(sample.db, readonly=True) as store:
        doc = json.loads(exports.text(store, sample.filtered, "datacite"))
    broken = {k: v for k, v in doc.items() if k != "titles"}
    assert errors(broken)
    assert errors({**doc, "types": {"resourceTypeGeneral": "Training set"}})


def test_the_record_says_what_the_dataset_is_and_where_it_came_from(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "ds.datacite.json"
    code, _, err = cli("export", sample.filtered, "--db", sample.db, "--format", "datacite", "-o", out)
    assert code == 0, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    with Store(sample.db, readonly=True) as store:
        record = get_dataset(store, sample.filtered)
        sources = {r[0] for r in store.conn.execute(
            """SELECT DISTINCT src.sha256 FROM jdsi_dataset_member m JOIN jdsi_simulation s USING (sim_id)
               JOIN jdsi_source src ON src.id = s.source_id WHERE m.dataset_id = ?""", (sample.filtered,))}
        params = [p["name"] for p in store.parameters()]
    assert doc["types"]["resourceTypeGeneral"] == "Dataset"
    assert doc["titles"] == [{"title": record["name"]}]
    assert doc["creators"] == [{"name": record["author"], "nameType": "Personal"}]
    assert doc["publicationYear"] == record["created_at"][:4]
    assert {"date": record["created_at"], "dateType": "Created"} in doc["dates"]
    assert {"alternateIdentifier": record["digest"], "alternateIdentifierType": "sha256"} in doc["alternateIdentifiers"]
    assert {"description": record["description"], "descriptionType": "Abstract"} in doc["descriptions"]
    derived = {r["relatedIdentifier"] for r in doc["relatedIdentifiers"] if r["relationType"] == "IsDerivedFrom"}
    assert derived == {f"urn:hash::sha256:{sha}" for sha in sources}
    subjects = [s["subject"] for s in doc["subjects"]]
    for name in params:
        assert any(s.startswith(f"{name}: ") for s in subjects), name
    assert "doi" not in doc  # nothing is minted


def test_a_child_names_its_parent(sample: Sample) -> None:
    with Store(sample.db, readonly=True) as store:
        doc = json.loads(exports.text(store, sample.child, "datacite"))
    assert {"relatedIdentifier": f"urn:jupyterlab-dsi:dataset:{sample.filtered}", "relatedIdentifierType": "URN",
            "relationType": "IsDerivedFrom", "resourceTypeGeneral": "Dataset"} in doc["relatedIdentifiers"]

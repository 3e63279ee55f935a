"""RO-Crate 1.1 export (issue 19): a folder whose ro-crate-metadata.json lists the members CSV,
the Croissant, DataCite and PROV files and the card, each with its sha256; the rocrate package
reads it, its JSON-LD parses (offline, with the RO-Crate 1.1 context the rocrate package ships),
every file it names is there with that digest, and the folder is written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from exports_sample import Sample, build, cli

import jupyterlab_dsi as dsi
from jupyterlab_dsi import exports
from jupyterlab_dsi.paths import FileExists
from jupyterlab_dsi.store import Store

rocrate = pytest.importorskip("rocrate.rocrate")
rdflib = pytest.importorskip("rdflib")

PARTS = {"members.csv", "croissant.json", "datacite.json", "prov.json", "card.md", "dataset.json"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("rocrate"))


def local_context() -> dict:
    """The RO-Crate 1.1 JSON-LD context as the rocrate package ships it (no download)."""
    import rocrate as package

    shipped = Path(package.__file__).with_name("data") / "ro-crate.jsonld"
    return json.loads(shipped.read_text(encoding="utf-8"))["@context"]


@pytest.mark.parametrize("which", ["filtered", "by_hand"])
def test_the_crate_lists_every_file_with_its_digest(sample: Sample, tmp_path: Path, which: str) -> None:
    ref = sample.datasets[which]
    with dsi.open(sample.db) as ens:
        written = ens.dataset(ref).export("rocrate", tmp_path / "crate")
        record = ens.dataset(ref).record
    assert written == [tmp_path / "crate"]
    folder = tmp_path / "crate"
    assert {p.name for p in folder.iterdir()} == PARTS | {"ro-crate-metadata.json"}
    metadata = json.loads((folder / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    assert metadata["@context"] == "https://w3id.org/ro/crate/1.1/context"
    graph = {e["@id"]: e for e in metadata["@graph"]}
    assert graph["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    root = graph["./"]
    assert record["digest"] in root["identifier"] and root["name"] == record["name"]
    assert {p["@id"] for p in root["hasPart"]} == PARTS
    for name in PARTS:
        data = (folder / name).read_bytes()
        assert graph[name]["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert graph[name]["contentSize"] == str(len(data)), name
        if name != "members.csv":  # the data itself; each description of it names the digest in full
            assert record["digest"] in data.decode("utf-8"), name
    # The rocrate package reads it back: the same files with the same digests.
    crate = rocrate.ROCrate(folder)
    assert crate.name == record["name"]
    assert {e.id: e["sha256"] for e in crate.data_entities} == {n: graph[n]["sha256"] for n in PARTS}
    # Its JSON-LD parses as RDF (the shipped context instead of the URL: offline).
    g = rdflib.Graph()
    g.parse(data=json.dumps({**metadata, "@context": local_context()}), format="json-ld",
            base=folder.resolve().as_uri() + "/")
    sha = rdflib.URIRef("http://schema.org/sha256")
    hashes = {str(o) for o in g.objects(None, sha)}
    assert hashes == {graph[n]["sha256"] for n in PARTS}


def test_the_croissant_inside_the_crate_loads(sample: Sample, tmp_path: Path) -> None:
    mlc = pytest.importorskip("mlcroissant")
    with Store(sample.db, readonly=True) as store:
        exports.export(store, sample.sized, "rocrate", tmp_path / "c")
    loaded = list(mlc.Dataset(jsonld=tmp_path / "c" / "croissant.json").records(record_set="members"))
    with dsi.open(sample.db) as ens:
        assert [r["members/sim_id"].decode() for r in loaded] == ens.dataset(sample.sized).member_ids()


def test_a_crate_is_written_whole_or_not_at_all(sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(sample.db, readonly=True) as store:
        (tmp_path / "taken").mkdir()
        with pytest.raises(FileExists, match="taken exists already; it is never overwritten"):
            exports.export(store, sample.filtered, "rocrate", tmp_path / "taken")
        assert list((tmp_path / "taken").iterdir()) == []
        # A failure half-way through writing the files leaves no folder and no temporary one.
        calls = []
        real = os.fsync

        def fail_third(fd: int) -> None:
            calls.append(fd)
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
            real(fd)

        monkeypatch.setattr(os, "fsync", fail_third)
        with pytest.raises(OSError, match="No space left"):
            exports.export(store, sample.filtered, "rocrate", tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_the_cli_needs_a_path_for_a_crate(sample: Sample, tmp_path: Path) -> None:
    code, _, err = cli("export", sample.filtered, "--db", sample.db, "--format", "rocrate")
    assert code != 0 and "writes a folder: give -o PATH" in err
    code, out, err = cli("export", sample.filtered, "--db", sample.db, "--format", "rocrate", "-o", tmp_path / "r")
    assert code == 0 and out.strip() == f"wrote {tmp_path / 'r'}", err
    code, _, err = cli("export", sample.filtered, "--db", sample.db, "--format", "rocrate", "-o", tmp_path / "r")
    assert code != 0 and f"{tmp_path / 'r'} exists already" in err and len(err.strip().splitlines()) == 1

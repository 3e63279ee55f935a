"""Croissant 1.1 export (issue 19): the JSON-LD validates with mlcroissant offline, loading its
record set yields exactly the stored members, a tampered members CSV fails by its digest, and the
Responsible-AI fields say how the members were chosen."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exports_sample import Sample, build, cli

import jupyterlab_dsi as dsi
from jupyterlab_dsi import exports
from jupyterlab_dsi.store import Store

mlc = pytest.importorskip("mlcroissant")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("croissant"))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No connection can be opened in this process: validation and loading are offline."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a network connection was attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def export(sample: Sample, ref: str, folder: Path, name: str = "ds.croissant.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    written = exports.export(Store(sample.db, readonly=True), ref, "croissant", folder / name)
    assert [p.name for p in written] == [name, exports.members_csv_name(name)]
    return written[0]


def records(path: Path) -> list[dict[str, Any]]:
    dataset = mlc.Dataset(jsonld=path)  # raises mlcroissant's ValidationError on any error
    return list(dataset.records(record_set="members"))


def plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@pytest.mark.parametrize("which", ["filtered", "sized", "by_hand", "child"])
def test_loading_the_export_yields_exactly_the_stored_members(sample: Sample, tmp_path: Path, offline: None,
                                                             which: str) -> None:
    ref = sample.datasets[which]
    path = export(sample, ref, tmp_path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    column = {f["@id"]: f["name"] for f in doc["recordSet"][0]["field"]}  # records are keyed by field @id
    loaded = [{column[k]: plain(v) for k, v in r.items()} for r in records(path)]
    with dsi.open(sample.db) as ens:
        ds = ens.dataset(ref)
        frame, ids = ds.members(), ds.member_ids()
    assert [r["sim_id"] for r in loaded] == ids == list(frame.index)
    assert len(loaded) == ds.size
    with Store(sample.db, readonly=True) as store:
        stored_paths = dict(store.conn.execute("SELECT sim_id, path FROM jdsi_simulation").fetchall())
    for row in loaded:
        expected = frame.loc[row["sim_id"]]
        for column in frame.columns:
            if column == "path":  # the CSV keeps the stored path (relative to the source's folder)
                assert row["path"] == stored_paths[row["sim_id"]]
                assert str(expected["path"]).endswith(row["path"])
                continue
            want = expected[column]
            want = None if want is None or (isinstance(want, float) and math.isnan(want)) else want
            got = row[column]
            if isinstance(want, (int, float)) and not isinstance(want, bool):
                assert got == pytest.approx(float(want), rel=0, abs=0), (column, row["sim_id"])
            else:
                assert got == want, (column, row["sim_id"])
    distances = {"d_shock", "d_edge", "d_density", "d_feature"}
    assert distances <= set(loaded[0]) if which != "by_hand" else not distances & set(loaded[0])


def test_mlcroissant_validate_passes_offline(sample: Sample, tmp_path: Path) -> None:
    path = export(sample, sample.filtered, tmp_path)
    script = Path(sys.executable).with_name("mlcroissant")
    if not script.exists():
        pytest.skip("the mlcroissant command is not installed beside this Python")
    # The command validates the JSON-LD alone (no file is read): offline by construction; in this
    # process the `offline` fixture proves the same of loading.
    res = subprocess.run([str(script), "validate", "--jsonld", str(path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "error" not in res.stderr.lower().replace("0 error", ""), res.stderr[-2000:]


def test_the_metadata_carries_the_digest_the_file_hashes_and_the_rai_fields(sample: Sample, tmp_path: Path) -> None:
    path = export(sample, sample.filtered, tmp_path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    with dsi.open(sample.db) as ens:
        record = ens.dataset(sample.filtered).record
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert doc["name"] == record["name"] and doc["description"] == record["description"]
    assert record["digest"] in doc["identifier"] and len(record["digest"]) == len("sha256:") + 64
    assert record["digest"] in doc["citeAs"]
    (csv_file,) = doc["distribution"]
    import hashlib

    csv_path = path.with_name(csv_file["contentUrl"])
    assert csv_file["sha256"] == hashlib.sha256(csv_path.read_bytes()).hexdigest()
    assert csv_path.name == "ds.members.csv"
    header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[0] == "sim_id" and header[-2:] == ["path", "sha256"]
    # What the members were chosen by, never the predictions of a run trained since (the sample's
    # run "gp" logged some for these very members): the export of an immutable record stays the same.
    with Store(sample.db, readonly=True) as store:
        params = [p["name"] for p in store.parameters()]
    assert header == ["sim_id", *params, "d_shock", "d_edge", "d_density", "d_feature", "path", "sha256"]
    # Responsible AI: collected by simulation; preprocessing names the method, its norm and ground
    # truth, the filter, the sampling and its seed; the description is the intended use.
    assert doc["rai:dataCollectionType"] == ["Simulation"]
    protocol = " | ".join(doc["rai:dataPreprocessingProtocol"])
    for needle in ("L2 norm", "ground truth sim00000", "filter: cs >= 0.3", "p = 0.7", "seed 5",
                   f"method {sample.method}", "step: 1", record["digest"]):
        assert needle in protocol, needle
    assert doc["rai:dataUseCases"] == [record["description"]]
    # The sources it came from, by content.
    with Store(sample.db, readonly=True) as store:
        shas = {r[0] for r in store.conn.execute("SELECT sha256 FROM jdsi_source")}
    assert {s["sha256"] for s in doc["isBasedOn"]} <= shas


def test_a_tampered_members_file_fails_by_its_digest(sample: Sample, tmp_path: Path, offline: None) -> None:
    path = export(sample, sample.filtered, tmp_path)
    csv_path = path.with_name("ds.members.csv")
    assert len(records(path)) > 0
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_path.write_text("".join(lines[:-1]), encoding="utf-8")  # one member dropped
    with pytest.raises(Exception) as caught:
        records(path)
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any("Hash of downloaded file" in text for text in chain), chain


def test_the_cli_writes_both_files_and_never_overwrites(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "x.croissant.json"
    code, stdout, err = cli("export", sample.sized[:8], "--db", sample.db, "--format", "croissant", "-o", out)
    assert code == 0, err
    assert stdout.strip() == f"wrote {out} and {tmp_path / 'x.members.csv'}"
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = cli("export", sample.sized, "--db", sample.db, "--format", "croissant", "-o", out)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert str(out) in err and "never overwritten" in err and "remove it" in err
    # The CSV alone in the way refuses too, naming it.
    (tmp_path / "y.members.csv").write_text("mine", encoding="utf-8")
    code, _, err = cli("export", sample.sized, "--db", sample.db, "--format", "croissant", "-o", tmp_path / "y.croissant.json")
    assert code != 0 and "y.members.csv exists already" in err
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == {**before, "y.members.csv": b"mine"}  # nothing else written, no temporary left
    code, _, err = cli("export", sample.sized, "--db", sample.db, "--format", "croissant")
    assert code != 0 and "give -o PATH" in err

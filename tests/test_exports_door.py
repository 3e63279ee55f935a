"""One door for every export (issue 19): `jupyter dsi export -o`, ``Dataset.export``,
``exports.export`` and the server's "Save next to the notebook" write the same bytes in every
format; each carries the full stored digest; the old names (datasets.export_json, export_text...)
still answer; the server names a taken export's files as a file browser numbers copies, the
Croissant's CSV with it, and saves at once each get their own."""

from __future__ import annotations

import json
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from exports_sample import Sample, build, cli
from test_server import TOKEN, call, server  # noqa: F401 - server: the fixture

import jupyterlab_dsi as dsi
from jupyterlab_dsi import datasets as dsets
from jupyterlab_dsi import exports
from jupyterlab_dsi.paths import FileExists
from jupyterlab_dsi.store import Store

FORMATS = list(exports.FORMATS)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("door"))


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def name_for(fmt: str) -> str:
    return "x" + exports.FORMATS[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_cli_python_and_the_door_write_the_same_bytes(sample: Sample, tmp_path: Path, fmt: str) -> None:
    made = {}
    for how in ("cli", "dataset", "door"):
        folder = tmp_path / how
        folder.mkdir()
        target = folder / name_for(fmt)
        if how == "cli":
            code, _, err = cli("export", sample.filtered[:8], "--db", sample.db, "--format", fmt, "-o", target)
            assert code == 0, err
        elif how == "dataset":
            with dsi.open(sample.db) as ens:
                written = ens.dataset(sample.filtered).export(fmt, target)
            assert written[0] == target
        else:
            exports.export(Store(sample.db, readonly=True), sample.filtered, fmt, target)
        made[how] = tree(folder)
    assert made["cli"] == made["dataset"] == made["door"]
    with Store(sample.db, readonly=True) as store:
        digest = dsets.get_dataset(store, sample.filtered)["digest"]
    described = {k: v for k, v in made["cli"].items() if not k.endswith(".csv")}
    assert described, made["cli"].keys()
    for name, data in described.items():  # one digest, in full, in every file that describes it
        assert digest in data.decode("utf-8"), name
    if fmt in exports.TEXT_FORMATS:  # printed without -o: the same text
        code, out, _ = cli("export", sample.filtered, "--db", sample.db, "--format", fmt)
        assert code == 0 and out.encode("utf-8") == made["cli"][name_for(fmt)]


def test_the_names_of_before_still_answer(sample: Sample) -> None:
    with Store(sample.db, readonly=True) as store:
        ref = sample.filtered
        assert dsets.export_text(store, ref, "json") == exports.text(store, ref, "json")
        assert json.loads(exports.text(store, ref, "json")) == dsets.export_json(store, ref)
        assert json.loads(exports.text(store, ref, "prov")) == dsets.export_prov(store, ref)
        assert exports.text(store, ref, "card") == dsets.export_card(store, ref) + ("" if dsets.export_card(store, ref).endswith("\n") else "\n")
        assert dsets.EXPORT_FORMATS == {"json": ".json", "card": ".md", "prov": ".prov.json", "datacite": ".datacite.json"}
        assert dsets.level_counts(store, dsets.members(store, ref))
        with pytest.raises(AttributeError):
            dsets.no_such_name  # noqa: B018


def test_bad_requests_are_one_line(sample: Sample, tmp_path: Path) -> None:
    with Store(sample.db, readonly=True) as store:
        with pytest.raises(dsets.DatasetError, match="unknown export format 'xml'; use json, card, prov, datacite, croissant or rocrate"):
            exports.export(store, sample.filtered, "xml", tmp_path / "x")
        with pytest.raises(dsets.DatasetError, match="no such folder"):
            exports.export(store, sample.filtered, "json", tmp_path / "nope" / "x.json")
        (tmp_path / "x.json").write_text("mine", encoding="utf-8")
        with pytest.raises(FileExists, match=r"x\.json exists already; it is never overwritten: choose another path or remove it"):
            exports.export(store, sample.filtered, "json", tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text(encoding="utf-8") == "mine"
    code, _, err = cli("export", sample.filtered, "--db", sample.db, "--format", "xml")
    assert code != 0 and "invalid choice" in err


# -- the server's "Save next to the notebook" ------------------------------------------------------


def _served(server: dict[str, Any], sample: Sample) -> str:
    root: Path = server["root"]
    (root / "exp").mkdir(exist_ok=True)
    if not (root / "exp" / "sample.sqlite").exists():
        shutil.copy(sample.db, root / "exp" / "sample.sqlite")
    return "exp/sample.sqlite"


def _save(server: dict[str, Any], db: str, dataset_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    return call(f"{server['base']}/datasets/{dataset_id}/export?path={db}", "POST", body)


def test_the_server_saves_every_format_as_the_cli_writes_it(server: dict[str, Any], sample: Sample, tmp_path: Path) -> None:
    db = _served(server, sample)
    root: Path = server["root"]
    for fmt in FORMATS:
        status, answer = _save(server, db, sample.filtered, {"format": fmt})
        assert status == 201, answer
        assert answer["path"] == f"exp/high_cs{exports.FORMATS[fmt]}" and answer["format"] == fmt
        cli_folder = tmp_path / fmt
        cli_folder.mkdir()
        code, _, err = cli("export", sample.filtered, "--db", sample.db, "--format", fmt, "-o", cli_folder / f"high_cs{exports.FORMATS[fmt]}")
        assert code == 0, err
        expected = tree(cli_folder)
        assert answer["files"] == sorted(f"exp/{k}" for k in expected)
        assert {f[len("exp/"):]: (root / f).read_bytes() for f in answer["files"]} == expected
        assert answer["bytes"] == sum(len(v) for v in expected.values())
    # The one-file formats download as the same text (DataCite included).
    request = urllib.request.Request(f"{server['base']}/datasets/{sample.filtered}?path={db}&format=datacite&as=text")
    request.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == (root / "exp" / "high_cs.datacite.json").read_bytes()
    assert not [p.name for p in (root / "exp").iterdir() if p.name.endswith(".partial")]


def test_a_taken_croissant_is_numbered_with_its_csv(server: dict[str, Any], sample: Sample) -> None:
    mlc = pytest.importorskip("mlcroissant")
    db = _served(server, sample)
    root: Path = server["root"]
    (root / "exp" / "six.members.csv").write_text("someone else's", encoding="utf-8")  # only the CSV is taken
    status, answer = _save(server, db, sample.sized, {"format": "croissant"})
    assert status == 201, answer
    assert answer["files"] == ["exp/six (1).croissant.json", "exp/six (1).members.csv"]
    doc = json.loads((root / "exp" / "six (1).croissant.json").read_text(encoding="utf-8"))
    assert doc["distribution"][0]["contentUrl"] == "six (1).members.csv"
    loaded = list(mlc.Dataset(jsonld=root / "exp" / "six (1).croissant.json").records(record_set="members"))
    with dsi.open(sample.db) as ens:
        assert [r["members/sim_id"].decode() for r in loaded] == ens.dataset(sample.sized).member_ids()
    # A name given that is taken is refused, naming it; nothing is written.
    before = tree(root / "exp")
    status, answer = _save(server, db, sample.sized, {"format": "croissant", "name": "six (1).croissant.json"})
    assert status == 409 and answer["message"] == "six (1).croissant.json exists already; it is never overwritten: choose another name or remove it"
    status, answer = _save(server, db, sample.sized, {"format": "rocrate", "name": "six (1).croissant.json"})
    assert status == 409
    assert tree(root / "exp") == before


def test_saves_at_once_each_get_their_own_files(server: dict[str, Any], sample: Sample) -> None:
    db = _served(server, sample)
    root: Path = server["root"]
    for fmt in ("croissant", "rocrate"):
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: _save(server, db, sample.by_hand, {"format": fmt}), range(4)))
        assert all(status == 201 for status, _ in answers), answers
        paths = {a["path"] for _, a in answers}
        assert len(paths) == 4
        files = [f for _, a in answers for f in a["files"]]
        assert len(files) == len(set(files))
        for f in files:
            assert (root / f).is_file()
    assert not [p.name for p in (root / "exp").iterdir() if p.name.startswith(".")]


def test_the_server_refuses_an_unknown_format_in_one_line(server: dict[str, Any], sample: Sample) -> None:
    db = _served(server, sample)
    status, answer = _save(server, db, sample.filtered, {"format": "xml"})
    assert status == 400
    assert answer["message"] == "unknown export format 'xml'; use json, card, prov, datacite, croissant or rocrate"


def test_a_download_of_a_several_file_format_says_to_save_it(server: dict[str, Any], sample: Sample) -> None:
    db = _served(server, sample)
    for fmt in ("croissant", "rocrate"):
        status, answer = call(f"{server['base']}/datasets/{sample.filtered}?path={db}&format={fmt}&as=text")
        assert status == 400
        assert answer["message"] == (
            f"unknown export format '{fmt}' for a download; use json, card, prov or datacite "
            "(croissant and rocrate are several files: save them next to the notebook)")

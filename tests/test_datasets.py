"""Training datasets: deterministic sampling (shared vectors), save/list/delete/undo, retries,
exports (JSON, Markdown card, PROV-JSON), verify, and the CLI end to end."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Ensemble, Result, query, sha256

from jupyterlab_dsi import datasets as ds
from jupyterlab_dsi import sampling as smp
from jupyterlab_dsi.errors import DsiError
from jupyterlab_dsi.query import select
from jupyterlab_dsi.store import Store

VECTORS = json.loads((Path(__file__).parent / "vectors" / "sampling.json").read_text(encoding="utf-8"))
Cli = Callable[..., Result]
HOSTILE = "Robert'); DROP TABLE jdsi_dataset;-- <script>alert(1)</script> {x} $y `z` | \\ é😀\u0000\ttab"


# -- sampling: the shared vectors ------------------------------------------------------------


@pytest.mark.parametrize("v", VECTORS["unit"], ids=lambda v: f"{v['seed']}:{v['sim_id'][:12]!r}")
def test_unit_vectors(v: dict[str, Any]) -> None:
    assert smp.unit(v["seed"], v["sim_id"]) == v["unit"]
    assert float(smp.units(v["seed"], [v["sim_id"]])[0]) == v["unit"]


def test_units_vectorised_matches_reference() -> None:
    ids = [v["sim_id"] for v in VECTORS["unit"]] + [f"sim{i:05d}" for i in range(500)]
    for seed in (0, 1, 2**31, 2**53 - 1):
        assert list(smp.units(seed, ids)) == [smp.unit(seed, s) for s in ids]
    assert len(smp.units(0, [])) == 0


@pytest.mark.parametrize("v", VECTORS["p"], ids=lambda v: f"seed{v['seed']}-p{v['p']}")
def test_p_vectors(v: dict[str, Any]) -> None:
    assert smp.sample_p(v["ids"], v["p"], v["seed"]) == v["members"]


@pytest.mark.parametrize("v", VECTORS["n"], ids=lambda v: f"seed{v['seed']}-n{v['n']}")
def test_n_vectors(v: dict[str, Any]) -> None:
    assert smp.sample_n(v["ids"], v["n"], v["seed"]) == v["members"]
    assert len(v["members"]) == min(v["n"], len(set(v["ids"])))


@pytest.mark.parametrize("v", VECTORS["digest"], ids=lambda v: v["digest"][7:15])
def test_digest_vectors(v: dict[str, Any]) -> None:
    assert smp.digest(v["method"], v["t"], v["members"]) == v["digest"]
    assert smp.digest(v["method"], v["t"], list(reversed(v["members"]))) == v["digest"]


def test_vectors_cover_the_edges() -> None:
    seeds = {v["seed"] for v in VECTORS["unit"]}
    assert {0, 1, 2**31, 2**53 - 1} <= seeds
    ids = [v["sim_id"] for v in VECTORS["unit"]]
    assert "" in ids and any(len(s) > 200 for s in ids) and any(ord(c) > 0xFFFF for s in ids for c in s)
    assert len(VECTORS["unit"]) >= 40


def test_sampling_is_deterministic_and_order_independent() -> None:
    ids = [f"sim{i:05d}" for i in range(2000)]
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    for seed in (0, 5, 2**40):
        assert smp.sample_p(ids, 0.3, seed) == smp.sample_p(shuffled, 0.3, seed)
        assert smp.sample_p(ids, 0.3, seed) == smp.sample_p(ids + ids[:10], 0.3, seed)  # duplicates
        assert smp.sample_n(ids, 123, seed) == smp.sample_n(shuffled, 123, seed)
        assert len(smp.sample_n(ids, 123, seed)) == 123
    # A different seed picks differently; p is roughly the kept fraction; nested in p.
    assert smp.sample_p(ids, 0.3, 0) != smp.sample_p(ids, 0.3, 1)
    assert 450 < len(smp.sample_p(ids, 0.3, 0)) < 750
    assert set(smp.sample_p(ids, 0.2, 9)) <= set(smp.sample_p(ids, 0.4, 9))
    # A member's fate does not depend on the others.
    assert set(smp.sample_p(ids[:100], 0.5, 3)) == set(smp.sample_p(ids, 0.5, 3)) & set(ids[:100])
    assert smp.sample_p(ids, 0.0, 0) == [] and smp.sample_p(ids, 1.0, 0) == sorted(ids)
    assert smp.sample_n(ids, 0, 0) == [] and smp.sample_n(ids[:5], 50, 0) == sorted(ids[:5])


def test_sampling_refuses_bad_arguments() -> None:
    for p in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ValueError):
            smp.sample_p(["a"], p, 0)  # type: ignore[arg-type]
    for n in (-1, 1.5, "3", True):
        with pytest.raises(ValueError):
            smp.sample_n(["a"], n, 0)  # type: ignore[arg-type]
    for seed in (-1, 2**53, 1.0, "1", None):
        with pytest.raises(ValueError):
            smp.unit(seed, "a")  # type: ignore[arg-type]


def test_units_of_ten_thousand_ids_are_the_reference_values() -> None:
    # The vectorised path over the specification's ensemble size (ids of mixed lengths, so that
    # the longest-first byte loop is exercised) gives each id exactly the pure-Python unit. How
    # fast it is belongs to make bench, never to a timed test.
    ids = [f"sim{i:05d}" for i in range(10_000)] + ["", "a", "x" * 40]
    got = smp.units(7, ids)
    assert got.shape == (len(ids),)
    assert [float(v) for v in got] == [smp.unit(7, s) for s in ids]


# -- the library -----------------------------------------------------------------------------


def selected(store: Store, method_id: str, t: int, where: str = "") -> list[str]:
    return sorted({row[0] for row in select(store, method_id, t, where).rows})


def save(store: Store, method_id: str, **kw: Any) -> dict[str, Any]:
    t = kw.pop("t", 1)
    where = kw.pop("filter", "")
    kw.setdefault("description", "training set for the shock model")
    kw.setdefault("members", selected(store, method_id, t, where))
    return ds.save_dataset(store, method_id=method_id, t=t, filter=where, **kw)


def test_save_list_get(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        rec = save(store, method_id, name="shock set", filter="cs == 0.1",
                   settings={"color_by": "d_density", "axes": ["cs", "energy"]},
                   selection_geometry={"brushes": {"cs": [0.05, 0.15]}}, author="alice")
        assert rec["name"] == "shock set" and rec["size"] == 3 and rec["author"] == "alice"
        assert rec["method"] == method_id and rec["time"] == 1 and rec["filter"] == "cs == 0.1"
        assert rec["settings"] == {"version": 1, "color_by": "d_density", "axes": ["cs", "energy"]}
        assert rec["selection_geometry"] == {"brushes": {"cs": [0.05, 0.15]}}
        assert rec["parent"] is None and not rec["deleted"]
        assert ds.members(store, rec["id"]) == ["s00", "s02", "s04"]
        assert rec["digest"] == smp.digest(method_id, 1, ["s00", "s02", "s04"])
        assert [d["id"] for d in ds.list_datasets(store)] == [rec["id"]]
        assert ds.get_dataset(store, rec["id"][:6]) == rec
        with pytest.raises(DsiError, match="not a dataset"):
            ds.get_dataset(store, "zzzzzzzz")
        with pytest.raises(DsiError, match="not a dataset"):
            ds.get_dataset(store, rec["id"][:3])  # too short for a prefix
    events = query(db, "SELECT kind, record_id FROM jdsi_event ORDER BY seq")
    assert events[-1] == ("dataset.created", rec["id"])


def test_name_defaults_and_sampling_inside_save(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        everyone = selected(store, method_id, 1)
        rec = save(store, method_id, sampling={"kind": "n", "n": 2, "seed": 4})
        assert rec["name"].startswith("dataset-") and rec["size"] == 2
        assert ds.members(store, rec["id"]) == smp.sample_n(everyone, 2, 4)
        assert rec["sampling"] == {"kind": "n", "n": 2, "seed": 4}
        rec_p = save(store, method_id, sampling={"kind": "p", "p": 0.5, "seed": 11})
        assert ds.members(store, rec_p["id"]) == smp.sample_p(everyone, 0.5, 11)
        with pytest.raises(DsiError, match="between 0 and 1"):
            save(store, method_id, sampling={"kind": "p", "p": 2, "seed": 1})
        with pytest.raises(DsiError, match="'p'"):
            save(store, method_id, sampling={"kind": "q", "seed": 1})


def test_same_selection_twice_same_digest_and_parent(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        a = save(store, method_id, filter="energy > 2", members=list(reversed(selected(store, method_id, 1, "energy > 2"))))
        b = save(store, method_id, filter="energy > 2", description="the same, again", parent_id=a["id"])
        assert a["id"] != b["id"] and a["digest"] == b["digest"] and b["parent"] == a["id"]
        c = save(store, method_id, filter="energy > 3")
        assert c["digest"] != a["digest"]
        d = save(store, method_id, t=2, filter="energy > 2")
        assert d["digest"] != a["digest"]  # another time step, same members
        with pytest.raises(DsiError, match="parent dataset"):
            save(store, method_id, parent_id=str(uuid.uuid4()))


def test_retry_with_the_same_id_is_no_duplicate(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    client_id = str(uuid.uuid4())
    with Store(db) as store:
        first = save(store, method_id, dataset_id=client_id, sampling={"kind": "p", "p": 0.5, "seed": 2})
        again = save(store, method_id, dataset_id=client_id, sampling={"kind": "p", "p": 0.5, "seed": 2})
        assert first == again and first["id"] == client_id
        before = sha256(db)
        with pytest.raises(DsiError, match="already exists with different content"):
            save(store, method_id, dataset_id=client_id, description="something else")
        with pytest.raises(DsiError, match="UUID"):
            save(store, method_id, dataset_id="not-a-uuid")
    assert sha256(db) == before
    assert query(db, "SELECT count(*) FROM jdsi_dataset") == [(1,)]
    assert query(db, "SELECT count(*) FROM jdsi_event WHERE kind = 'dataset.created'") == [(1,)]


# "\x00 why": SQLite's CHECK reads up to the NUL and finds nothing (the stress suite found it).
@pytest.mark.parametrize("description", ["", "   ", "\n\t ", "\x00", " \x00 why"])
def test_description_is_required(mdb: tuple[Path, str], description: str) -> None:
    db, method_id = mdb
    before = sha256(db)
    with Store(db) as store, pytest.raises(DsiError, match="why this training set exists"):
        save(store, method_id, description=description)
    assert sha256(db) == before


def test_unknown_member_is_named_and_nothing_written(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    before = sha256(db)
    with Store(db) as store, pytest.raises(DsiError, match="'nope'"):
        save(store, method_id, members=["s00", "nope", "nope2"])
    assert sha256(db) == before


def test_hostile_text_is_stored_byte_for_byte(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        rec = save(store, method_id, name=HOSTILE, description=HOSTILE, author=HOSTILE)
        assert ds.get_dataset(store, rec["id"])["name"] == HOSTILE
    assert query(db, "SELECT name, description, author FROM jdsi_dataset") == [(HOSTILE, HOSTILE, HOSTILE)]
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(6,)]  # nothing was executed
    with Store(db) as store:
        card = ds.export_card(store, rec["id"])
        assert "<script>" not in card and "&#60;script&#62;" in card
        prov = ds.export_prov(store, rec["id"])
        assert prov["entity"][f"dataset:{rec['id']}"]["prov:label"] == HOSTILE
        assert list(prov["agent"].values())[0]["prov:label"] == HOSTILE


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["settings", "selection_geometry"])
def test_json_fields_are_bounded_in_size_and_depth(mdb: tuple[Path, str], field: str) -> None:
    # Unbounded, a 975-level object saved fine and then made every `%dsi load` of the file fail.
    db, method_id = mdb
    what = field.replace("_", " ")
    chars, depth = ds.JSON_LIMITS[what]
    before = sha256(db)
    with Store(db) as store:
        with pytest.raises(DsiError, match=rf"^{what}: lists and objects nested more than {depth} levels") as info:
            save(store, method_id, **{field: {"deep": _nested(depth)}})  # depth + 1 with the object
        assert "\n" not in str(info.value)
        # The JSON around the text: {"x": ""}, and the settings' "version" key that save adds.
        around = len(json.dumps({"x": "", **({"version": 1} if field == "settings" else {})}))
        with pytest.raises(DsiError, match=rf"^{what}: {chars + 1:,} characters of JSON, above the limit of {chars:,}"):
            save(store, method_id, **{field: {"x": "a" * (chars + 1 - around)}})
        with pytest.raises(DsiError, match="nested more than"):
            save(store, method_id, **{field: {"x": _nested(5000)}})  # far past Python's recursion limit
        if field == "settings":
            with pytest.raises(DsiError, match="^settings must be a JSON object"):
                save(store, method_id, settings=[1])
    assert sha256(db) == before
    with Store(db) as store:  # at the limits, both are saved and read back
        at_depth = {"deep": _nested(depth - 1)}
        rec = save(store, method_id, **{field: at_depth})
        assert rec[field]["deep"] == at_depth["deep"]
        big = save(store, method_id, **{field: {"x": "a" * (chars - around)}})
        assert len(big[field]["x"]) == chars - around
        assert len(ds.list_datasets(store)) == 2


def test_a_too_deep_record_saved_before_the_limit_never_hides_the_others(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        ok = save(store, method_id, description="fine")
        old = save(store, method_id, description="from an older version")
    deep = "[" * 100_000 + "]" * 100_000  # what an older version stored, past any parser's stack
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE jdsi_dataset SET settings = ?, selection_geometry = ? WHERE id = ?",
                     ('{"a": ' + deep + "}", deep, old["id"]))
    conn.close()
    with Store(db, readonly=True) as store:
        records = {r["id"]: r for r in ds.list_datasets(store)}
        assert records[ok["id"]]["settings"] == {"version": 1}
        assert "nest too deeply" in records[old["id"]]["settings"]["unreadable"]
        assert "selection geometry nest too deeply" in records[old["id"]]["selection_geometry"]["unreadable"]
        assert ds.members(store, old["id"]) == ds.members(store, ok["id"])


def test_json_fields_cyclic_value_is_refused_with_a_message(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with Store(db) as store, pytest.raises(DsiError, match="selection geometry: .*nested more than"):
        save(store, method_id, selection_geometry=loop)


def test_delete_is_a_tombstone_and_undo_removes_it(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        rec = save(store, method_id)
        gone = ds.delete_dataset(store, rec["id"], author="bob")
        assert gone["deleted"] and ds.list_datasets(store) == []
        assert [d["id"] for d in ds.list_datasets(store, include_deleted=True)] == [rec["id"]]
        ds.delete_dataset(store, rec["id"], author="bob")  # idempotent
        assert ds.members(store, rec["id"]) == selected(store, method_id, 1)  # the record is intact
        back = ds.undelete_dataset(store, rec["id"])
        assert not back["deleted"] and {**back, "deleted": False} == {**rec, "deleted": False}
        ds.undelete_dataset(store, rec["id"])  # idempotent
        assert [d["id"] for d in ds.list_datasets(store)] == [rec["id"]]
    kinds = [k for (k,) in query(db, "SELECT kind FROM jdsi_event WHERE record_id = ? ORDER BY seq", [rec["id"]])]
    assert kinds == ["dataset.created", "dataset.deleted", "dataset.restored"]
    assert query(db, "SELECT count(*) FROM jdsi_tombstone") == [(0,)]


def test_exports(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        parent = save(store, method_id, description="all of them")
        rec = save(store, method_id, filter="profile in ('flat', 'bump2')", parent_id=parent["id"],
                   description="flat and bump2 profiles for the edge model",
                   settings={"weights": [1, 1], "color_by": "cs", "brushes": {}, "axis_order": ["cs"]})
        doc = ds.export_json(store, rec["id"])
        for key in ("id", "digest", "members", "filter", "sampling", "method", "time", "settings",
                    "name", "description", "created_at", "author", "weights", "parent", "size"):
            assert key in doc, key
        assert doc["members"] == ["s00", "s01", "s03", "s04"] and doc["settings"]["version"] == 1
        json.dumps(doc, allow_nan=False)

        prov = json.loads(json.dumps(ds.export_prov(store, rec["id"])))
        for key in ("prefix", "entity", "activity", "agent", "wasGeneratedBy", "used",
                    "wasAttributedTo", "wasAssociatedWith", "wasDerivedFrom"):
            assert key in prov, key
        labels = {e.get("prov:label") for e in prov["entity"].values() if e.get("prov:type") == "jdsi:Simulation"}
        assert labels == set(doc["members"])
        used = {u["prov:entity"] for u in prov["used"].values()}
        assert all(f"sim:{m}" in used for m in doc["members"])
        derived = list(prov["wasDerivedFrom"].values())[0]
        assert derived == {"prov:generatedEntity": f"dataset:{rec['id']}", "prov:usedEntity": f"dataset:{parent['id']}"}
        assert "wasDerivedFrom" not in ds.export_prov(store, parent["id"])

        card = ds.export_card(store, rec["id"])
        assert "flat and bump2 profiles for the edge model" in card
        assert "profile in ('flat', 'bump2')" in card
        assert f"%dsi load {rec['id']}" in card and f"jupyter dsi export {rec['id']}" in card
        assert rec["digest"] in card
        # counts per level over the members s00 (0.1, flat), s01 (0.2, bump2), s03 (0.2, flat), s04 (0.1, bump2)
        assert "| 0.1 | 2 |" in card and "| 0.2 | 2 |" in card
        assert "| flat | 2 |" in card and "| bump2 | 2 |" in card and "| bump10 | 0 |" in card


def test_card_is_markdown_that_fetches_nothing_and_names_no_server_path(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    image = "![](http://tracker.example/pixel.png) <img src=http://tracker.example/x.png> see www.example.org"
    with Store(db) as store:
        rec = save(store, method_id, name="[x](http://e.example)", description=image, author="@someone",
                   filter="cs == 0.1")
        card = ds.export_card(store, rec["id"])
    # No image, link or tag a Markdown preview could act on: each opener is a character reference.
    assert "![" not in card and "<img" not in card and "](" not in card.replace("&#93;(", "")
    assert ds.escape_markdown(image) in card.splitlines()
    assert "# Dataset card: &#91;x&#93;(http&#58;//e.example)" in card
    assert "by &#64;someone" in card
    # The server's folders never appear; the commands name the file, run from its folder.
    assert str(db.parent) not in card and str(db) not in card
    assert f"%dsi load {rec['id']} --db {db.name}" in card
    assert f"jupyter dsi verify {rec['id']} --db {db.name}" in card
    assert "| 0.1 | 3 |" in card  # numbers are not escaped into references


def test_verify_ok_and_detects_tampering(mdb: tuple[Path, str], cli: Cli) -> None:
    db, method_id = mdb
    with Store(db) as store:
        a = save(store, method_id, filter="energy < 5", sampling={"kind": "p", "p": 0.7, "seed": 3})
        b = save(store, method_id, sampling={"kind": "n", "n": 3, "seed": 1})
        assert ds.verify(store) == []
    res = cli("verify", "--db", db)
    assert res.code == 0, res.err
    assert len(res.out_lines) == 2 and all(line.startswith("ok") for line in res.out_lines)

    conn = sqlite3.connect(db)
    with conn:
        victim = conn.execute("SELECT sim_id FROM jdsi_dataset_member WHERE dataset_id = ? ORDER BY sim_id",
                              (b["id"],)).fetchone()[0]
        conn.execute("DELETE FROM jdsi_dataset_member WHERE dataset_id = ? AND sim_id = ?", (b["id"], victim))
    conn.close()
    with Store(db, readonly=True) as store:
        problems = ds.verify(store)
        assert [p["id"] for p in problems] == [b["id"]]
        text = " ".join(problems[0]["problems"])
        assert victim in text and "digest" in text
        assert ds.verify(store, a["id"]) == []
    res = cli("verify", "--db", db)
    assert res.code == 1
    assert any(line.startswith("DIFFERS") and b["id"] in line for line in res.out_lines)
    assert any(line.startswith("ok") and a["id"] in line for line in res.out_lines)
    assert cli("verify", a["id"][:8], "--db", db).code == 0
    assert cli("verify", b["id"], "--db", db).code == 1


def test_verify_detects_a_changed_digest(mdb: tuple[Path, str]) -> None:
    db, method_id = mdb
    with Store(db) as store:
        rec = save(store, method_id)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE jdsi_dataset SET digest = 'sha256:00' WHERE id = ?", (rec["id"],))
    conn.close()
    with Store(db, readonly=True) as store:
        assert [p["id"] for p in ds.verify(store)] == [rec["id"]]


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_select_save_datasets_export(mdb: tuple[Path, str], cli: Cli, tmp_path: Path) -> None:
    db, method_id = mdb
    res = cli("select", "--db", db, "--method", method_id[:8], "--time", "1", "--where", "cs == 0.2",
              "--save", "high cs for the density model", "--name", "high cs")
    assert res.code == 0, res.err
    ds_id = res.last_line
    assert str(uuid.UUID(ds_id)) == ds_id
    res = cli("datasets", "--db", db, "--format", "json")
    assert res.code == 0, res.err
    rows = json.loads(res.out)
    assert len(rows) == 1
    row = rows[0]
    for key in ("id", "name", "description", "size", "digest", "created_at", "parent"):
        assert key in row, key
    assert (row["id"], row["name"], row["description"], row["size"]) == (ds_id, "high cs", "high cs for the density model", 3)
    assert row["digest"] == smp.digest(method_id, 1, ["s01", "s03", "s05"])

    sampled = cli("select", "--db", db, "--method", method_id, "--time", "1", "--save", "half",
                  "--sample", "0.5", "--seed", "7")
    assert sampled.code == 0, sampled.err
    again = cli("select", "--db", db, "--method", method_id, "--time", "1", "--save", "half",
                "--sample", "0.5", "--seed", "7")
    with Store(db, readonly=True) as store:
        one, two = ds.get_dataset(store, sampled.last_line), ds.get_dataset(store, again.last_line)
        assert one["digest"] == two["digest"] and one["id"] != two["id"]
        assert ds.members(store, one["id"]) == smp.sample_p([f"s0{i}" for i in range(6)], 0.5, 7)
    sized = cli("select", "--db", db, "--method", method_id, "--time", "1", "--save", "two",
                "--size", "2", "--seed", "1")
    assert sized.code == 0 and json.loads(cli("export", sized.last_line, "--db", db).out)["size"] == 2

    res = cli("export", ds_id, "--db", db, "--format", "json")
    doc = json.loads(res.out)
    assert doc["members"] == ["s01", "s03", "s05"] and doc["filter"] == "cs == 0.2"
    assert doc["method"] == method_id and doc["time"] == 1 and doc["sampling"] is None
    out = tmp_path / "card.md"
    res = cli("export", ds_id[:8], "--db", db, "--format", "card", "-o", out)
    assert res.code == 0, res.err
    assert "high cs for the density model" in out.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".card")] == []  # no temp left
    prov = json.loads(cli("export", ds_id, "--db", db, "--format", "prov").out)
    assert {"sim:s01", "sim:s03", "sim:s05"} <= set(prov["entity"])
    assert cli("verify", "--db", db).code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--save", "why"], "--time"),
        (["--time", "1", "--save", "  "], "description"),
        (["--time", "1", "--seed", "3"], "--save"),
        (["--time", "1", "--save", "x", "--seed", "3"], "--sample"),
        (["--time", "1", "--save", "x", "--sample", "1.5"], "between 0 and 1"),
        (["--time", "1", "--save", "x", "--size", "-1"], ">= 0"),
    ],
)
def test_cli_save_errors(mdb: tuple[Path, str], cli: Cli, args: list[str], message: str) -> None:
    db, method_id = mdb
    before = sha256(db)
    res = cli("select", "--db", db, "--method", method_id, *args)
    assert res.code == 2 and message in res.err and len(res.err_lines) == 1
    assert sha256(db) == before


def test_cli_sample_and_size_are_exclusive(mdb: tuple[Path, str], cli: Cli) -> None:
    db, method_id = mdb
    res = cli("select", "--db", db, "--method", method_id, "--time", "1", "--save", "x",
              "--sample", "0.5", "--size", "2")
    assert res.code == 2 and "not allowed with" in res.err


def test_cli_datasets_all_and_empty(mdb: tuple[Path, str], cli: Cli) -> None:
    db, method_id = mdb
    assert json.loads(cli("datasets", "--db", db, "--format", "json").out) == []
    assert cli("verify", "--db", db).code == 0
    ds_id = cli("select", "--db", db, "--method", method_id, "--time", "0", "--save", "x").last_line
    with Store(db) as store:
        ds.delete_dataset(store, ds_id)
    assert json.loads(cli("datasets", "--db", db, "--format", "json").out) == []
    rows = json.loads(cli("datasets", "--db", db, "--format", "json", "--all").out)
    assert [(r["id"], r["deleted"]) for r in rows] == [(ds_id, True)]
    res = cli("export", "nope", "--db", db)
    assert res.code == 2 and "not a dataset" in res.err


def test_dataset_without_a_method_checks_its_digest_only(mdb: tuple[Path, str], cli: Cli) -> None:
    db, _ = mdb
    with Store(db) as store:
        rec = ds.save_dataset(store, members=["s03", "s01"], description="hand-picked", method_id=None, t=None)
        assert rec["digest"] == smp.digest(None, None, ["s01", "s03"])
        assert ds.verify(store) == []
    res = cli("verify", "--db", db)
    assert res.code == 0 and "not recomputed" in res.out
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM jdsi_dataset_member WHERE sim_id = 's03'")
    conn.close()
    assert cli("verify", "--db", db).code == 1


# -- CSV output a spreadsheet opens safely -----------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\tstarts with a tab", "\rstarts with CR"]


def test_csv_text_cells_never_start_a_formula() -> None:
    import csv
    import io

    from jupyterlab_dsi.cli import write_rows

    out = io.StringIO()
    rows = [[f, -1.5, -3, "-5", "+1e3", "plain", None] for f in FORMULAS]
    write_rows(["=name", "x", "n", "level", "level2", "text", "none"], rows, "csv", out)
    got = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert got[0] == ["'=name", "x", "n", "level", "level2", "text", "none"]
    for formula, row in zip(FORMULAS, got[1:]):
        # text that would run is prefixed; numbers, and text that is a plain number, are as they were
        assert row == ["'" + formula, "-1.5", "-3", "-5", "+1e3", "plain", ""]


def test_select_and_datasets_csv_escape_formulas(cli: Cli, tmp_path: Path) -> None:
    runs = tmp_path / "runs.csv"
    levels = ["=1+1", "@A1", "flat", "-x"]
    lines = ["run,shape,energy"] + [f"r{i},{levels[i % 4]},{-(i + 0.5)}" for i in range(12)]
    runs.write_text("\n".join(lines) + "\n")
    db = tmp_path / "runs.sqlite"
    assert cli("ingest", "-q", runs, "--db", db, "--id-column", "run").code == 0
    res = cli("select", "--db", db, "--format", "csv", "--where", "sim_id == 'r0' or sim_id == 'r1'")
    assert res.code == 0, res.err
    text = res.out
    assert "\n=" not in text and ",=" not in text and ",@" not in text
    import csv
    import io

    rows = {r["sim_id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    # text that would run is prefixed; a negative number stays a number
    assert {sim: (r["shape"], r["energy"]) for sim, r in rows.items()} == {"r0": ("'=1+1", "-0.5"), "r1": ("'@A1", "-1.5")}
    saved = cli("select", "--db", db, "--where", "shape == 'flat'", "--save", "=WEBSERVICE(\"http://x\")")
    assert saved.code == 0, saved.err
    listing = cli("datasets", "--db", db, "--format", "csv")
    assert "'=WEBSERVICE" in listing.out and ",=WEBSERVICE" not in listing.out


CSV_VECTORS = json.loads((Path(__file__).parent / "vectors" / "csv.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("v", CSV_VECTORS["cells"], ids=lambda v: repr(v["text"])[:30])
def test_csv_formula_vectors(v: dict[str, str]) -> None:
    """The CLI defuses a text cell as the panel's selection CSV does (src/panel/exportViews.ts)."""
    from jupyterlab_dsi.cli import _csv_cell

    assert _csv_cell(v["text"]) == v["cell"]

"""Staleness (issue 15, section 4): `jupyter dsi verify --sources` re-hashes every source and
simulation file; a changed byte, a missing file or a recomputed method marks what depends on it
as stale (listings, Dataset.stale, exports, lineage), a fix clears it, and simulations ingested
later never change a saved dataset."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import jupyterlab_dsi as dsi
from conftest import Result, query, sha256, write_csv
from jupyterlab_dsi import datasets as dsets
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.lineage import lineage
from jupyterlab_dsi.staleness import new_matches, stale_reasons, verify_sources
from jupyterlab_dsi.store import Store
from test_lineage import Loop, make_loop, recompute

Cli = Callable[..., Result]


@pytest.fixture
def loop(tmp_path: Path) -> Loop:
    return make_loop(tmp_path)


def flip_byte(path: Path, offset: int = -5) -> bytes:
    """Change one byte of ``path`` in place; return the original bytes."""
    original = path.read_bytes()
    data = bytearray(original)
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return original


def marks(db: Path) -> dict[str, set[str]]:
    """kind -> the ids marked stale."""
    out: dict[str, set[str]] = {}
    for record_id, kind in query(db, "SELECT record_id, kind FROM jdsi_stale"):
        out.setdefault(kind, set()).add(record_id)
    return out


def events(db: Path, kind: str) -> list[str]:
    return [r[0] for r in query(db, "SELECT record_id FROM jdsi_event WHERE kind = ? ORDER BY seq", (kind,))]


def test_unchanged_sources_exit_0(loop: Loop, cli: Cli) -> None:
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 0, res.err
    assert res.out_lines == ["all 7 sources unchanged (1 source file, 6 simulation files)"]
    assert query(loop.db, "SELECT count(*) FROM jdsi_stale") == [(0,)]


def test_a_changed_byte_marks_everything_downstream_and_a_fix_clears_it(loop: Loop, cli: Cli) -> None:
    data = loop.ens.file("s02")
    original = flip_byte(data)
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 1
    reason_start = "simulation s02: data file sims/s02.npz changed since ingest (sha256 "
    by_id = {line.split()[2].rstrip(":"): line for line in res.out_lines}
    assert set(by_id) == {"s02", loop.method, loop.dataset, loop.child, loop.split, loop.run, loop.bare_run,
                          loop.artifact}
    assert all(line.startswith("STALE  ") and reason_start in line for line in res.out_lines)
    assert res.out_lines[0].startswith("STALE  simulation s02: ")  # upstream first
    assert res.err_lines == ["8 records stale"]
    assert marks(loop.db) == {"simulation": {"s02"}, "method": {loop.method}, "dataset": {loop.dataset, loop.child},
                              "split": {loop.split}, "run": {loop.run, loop.bare_run}, "artifact": {loop.artifact}}
    # The reason names the old and new hashes; the source and the other simulations stay fresh.
    with Store(loop.db, readonly=True) as store:
        reasons = stale_reasons(store)
    old, new = hashlib.sha256(original).hexdigest(), sha256(data) or ""
    assert reasons[loop.dataset] == [f"{reason_start}{old[:12]} -> {new[:12]})"]
    assert loop.source not in reasons
    # Shown where users look: Dataset.stale, the listing, the exports and the lineage.
    with dsi.open(loop.db) as ens:
        assert ens.dataset(loop.dataset).stale == reasons[loop.dataset]
        assert ens.datasets().set_index("id").loc[loop.dataset, "stale"] == reasons[loop.dataset]
    listed = {d["id"]: d for d in json.loads(cli("datasets", "--db", loop.db, "--format", "json").out)}
    assert listed[loop.dataset]["stale"] == reasons[loop.dataset]
    table = cli("datasets", "--db", loop.db).out
    assert "stale" in table.splitlines()[0] and reason_start in table
    exported = json.loads(cli("export", loop.dataset, "--db", loop.db, "--format", "json").out)
    assert exported["stale"] == reasons[loop.dataset]
    card = cli("export", loop.dataset, "--db", loop.db, "--format", "card").out
    assert "| stale | simulation s02&#58; data file" in card
    prov = json.loads(cli("export", loop.dataset, "--db", loop.db, "--format", "prov").out)
    assert prov["entity"][f"dataset:{loop.dataset}"]["jdsi:stale"] == reasons[loop.dataset][0]
    assert prov["activity"][f"run:{loop.run}"]["jdsi:stale"] == reasons[loop.run][0]
    with Store(loop.db, readonly=True) as store:
        nodes = {n["id"]: n for n in lineage(store, loop.dataset)["nodes"]}
    assert nodes[loop.run]["stale"] == reasons[loop.run] and "stale" not in nodes[loop.source]
    assert set(events(loop.db, "stale.mark")) == set(by_id)
    # A second verify with the same cause changes nothing; fixing the bytes clears every mark.
    seq = query(loop.db, "SELECT max(seq) FROM jdsi_event")
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 1
    assert query(loop.db, "SELECT max(seq) FROM jdsi_event") == seq
    data.write_bytes(original)
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 0 and res.out_lines == ["all 7 sources unchanged (1 source file, 6 simulation files)"]
    assert marks(loop.db) == {}
    assert set(events(loop.db, "stale.clear")) == set(by_id)
    with dsi.open(loop.db) as ens:
        assert ens.dataset(loop.dataset).stale == []


def test_a_simulation_outside_every_dataset_still_stales_the_method_and_its_datasets(loop: Loop, cli: Cli) -> None:
    flip_byte(loop.ens.file("s05"))
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 1
    found = marks(loop.db)
    assert found["simulation"] == {"s05"} and found["method"] == {loop.method}
    assert found["dataset"] == {loop.dataset, loop.child}  # members or not: their distances changed


def test_a_hand_picked_dataset_is_stale_only_through_its_members(loop: Loop, cli: Cli) -> None:
    with Store(loop.db) as store:
        hand = dsets.save_dataset(store, members=["s03"], description="by hand", method_id=None, t=None)
        other = dsets.save_dataset(store, members=["s04"], description="by hand", method_id=None, t=None)
    flip_byte(loop.ens.file("s03"))
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 1
    assert hand["id"] in marks(loop.db)["dataset"] and other["id"] not in marks(loop.db)["dataset"]


def test_a_missing_file_is_a_reason(loop: Loop, cli: Cli) -> None:
    loop.ens.file("s01").unlink()
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 1
    with Store(loop.db, readonly=True) as store:
        reasons = stale_reasons(store)
    assert reasons[loop.dataset] == [f"simulation s01: data file sims/s01.npz is missing ({loop.ens.file('s01')})"]


def test_a_changed_source_file_stales_all_it_fed(loop: Loop, cli: Cli) -> None:
    csv = loop.ens.csv
    original = csv.read_bytes()
    csv.write_bytes(original + b"\n")
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 1
    assert res.out_lines[0].startswith(f"STALE  source     {loop.source}: source simulations.csv changed since ingest")
    found = marks(loop.db)
    assert found["source"] == {loop.source} and found["dataset"] == {loop.dataset, loop.child}
    assert found["artifact"] == {loop.artifact}
    csv.write_bytes(original)
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 0
    assert marks(loop.db) == {}


def test_a_recomputed_method_stales_its_datasets_not_itself(loop: Loop, cli: Cli) -> None:
    newer = recompute(loop.db, loop.method)
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 1
    found = marks(loop.db)
    assert "method" not in found
    assert found["dataset"] == {loop.dataset, loop.child} and found["run"] == {loop.run, loop.bare_run}
    with Store(loop.db, readonly=True) as store:
        reason = stale_reasons(store)[loop.split]
    assert reason == [f"method {loop.method[:8]} (L2 vs s00) was recomputed as {newer[:8]} at "
                      + query(loop.db, "SELECT created_at FROM jdsi_method WHERE id = ?", (newer,))[0][0]]
    assert query(loop.db, "SELECT DISTINCT cause_id FROM jdsi_stale") == [(newer,)]


def test_bad_use_is_one_line(loop: Loop, cli: Cli, tmp_path: Path) -> None:
    res = cli("verify", loop.dataset, "--sources", "--db", loop.db)
    assert res.code == 2 and res.err_lines == [
        "jupyter dsi verify: error: --sources checks every source file; give no dataset id with it"]
    res = cli("verify", "--sources", "--db", tmp_path / "none.sqlite")
    assert res.code == 2 and len(res.err_lines) == 1 and "no such database" in res.err


def test_progress_is_shown_for_the_files(loop: Loop, cli: Cli) -> None:
    res = cli("verify", "--sources", "--db", loop.db)
    assert res.code == 0
    assert "verify: 7/7 (100%" in res.err


def test_verify_sources_writes_nothing_half(loop: Loop) -> None:
    flip_byte(loop.ens.file("s02"))
    with Store(loop.db) as store:
        calls: list[tuple[int, int]] = []
        stale = verify_sources(store, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (7, 7) and len(calls) == 7
    assert [e["kind"] for e in stale] == ["simulation", "method", "dataset", "dataset", "split", "run", "run",
                                          "artifact"]


# -- simulations added later -----------------------------------------------------------------


def test_simulations_added_later_never_change_a_dataset(tmp_path: Path, cli: Cli) -> None:
    first, later = tmp_path / "runs.csv", tmp_path / "more.csv"
    write_csv(first, [{"sim_id": f"r{i}", "energy": e, "shape": s}
                      for i, (e, s) in enumerate([(1.0, "a"), (2.0, "b"), (3.0, "a"), (4.0, "b")])])
    write_csv(later, [{"sim_id": f"n{i}", "energy": e, "shape": s}
                      for i, (e, s) in enumerate([(0.5, "a"), (3.5, "a"), (5.0, "b"), (6.0, "a")])])
    db = tmp_path / "db.sqlite"
    ingest(db, first, fmt="csv")
    res = cli("select", "--db", db, "--where", "energy >= 2", "--save", "the high-energy runs", "--name", "high")
    assert res.code == 0, res.err
    ds_id = res.last_line
    with Store(db, readonly=True) as store:
        before = dsets.get_dataset(store, ds_id)
        assert new_matches(store, ds_id) == 0
    ingest(db, later, fmt="csv")
    with Store(db, readonly=True) as store:
        after = dsets.get_dataset(store, ds_id)
        assert dsets.members(store, ds_id) == ["r1", "r2", "r3"]
        assert (after["digest"], after["size"]) == (before["digest"], before["size"])
        assert new_matches(store, ds_id) == 3  # n1, n2, n3
    assert cli("verify", ds_id, "--db", db).code == 1  # its filter now picks more: verify says so
    assert cli("verify", "--sources", "-q", "--db", db).code == 0  # but nothing upstream changed


def test_many_changed_files_give_one_line_per_source(loop: Loop, cli: Cli) -> None:
    for sid in ("s01", "s02", "s03", "s04", "s05", "s00"):
        flip_byte(loop.ens.file(sid))
    loop.ens.csv.write_bytes(loop.ens.csv.read_bytes() + b"\n")
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 1
    with Store(loop.db, readonly=True) as store:
        reasons = stale_reasons(store)
    assert reasons["s03"] == [f"simulation s03: data file sims/s03.npz changed since ingest (sha256 "
                              f"{query(loop.db, 'SELECT sha256 FROM jdsi_simulation WHERE sim_id = ?', ('s03',))[0][0][:12]}"
                              f" -> {(sha256(loop.ens.file('s03')) or '')[:12]})"]
    [line] = reasons[loop.dataset]
    assert line.startswith("source simulations.csv changed since ingest (sha256 ")
    assert line.endswith("; 6 simulation files of source simulations.csv changed since ingest or are missing "
                         "(s00, s01, s02, s03, s04, ...)")
    assert query(loop.db, "SELECT DISTINCT cause_id FROM jdsi_stale WHERE record_id = ?", (loop.dataset,)) == [
        (loop.source,)]


def test_postprocess_again_is_a_recomputation_stale_only_when_the_numbers_differ(loop: Loop, cli: Cli) -> None:
    """Computing the same method again (same ground truth, norm and matching) records the earlier one
    as its parent; datasets chosen on the earlier numbers are stale only if the numbers changed."""
    from jupyterlab_dsi.compute import postprocess

    again = postprocess(loop.db, ground_truth="s00", norm="L2")
    assert query(loop.db, "SELECT parent_id FROM jdsi_method WHERE id = ?", (again,)) == [(loop.method,)]
    other = postprocess(loop.db, ground_truth="s00", norm="L1")  # another computation: no parent
    assert query(loop.db, "SELECT parent_id FROM jdsi_method WHERE id = ?", (other,)) == [(None,)]
    assert cli("verify", "--sources", "-q", "--db", loop.db).code == 0
    assert marks(loop.db) == {}
    # The same computation giving other numbers (a fixed bug, another code version): stale.
    with Store(loop.db) as store, store.write() as conn:
        conn.execute("UPDATE jdsi_distance SET d_density = d_density + 1 WHERE method_id = ? AND t = 0", (again,))
    res = cli("verify", "--sources", "-q", "--db", loop.db)
    assert res.code == 1
    assert loop.dataset in marks(loop.db)["dataset"]
    with Store(loop.db, readonly=True) as store:
        assert any(f"was recomputed as {again[:8]}" in r for r in stale_reasons(store)[loop.dataset])


def test_simulations_added_then_the_method_computed_again_leave_datasets_fresh(
        tmp_path: Path, cli: Cli) -> None:
    """More runs ingested, then the same method computed again (so they get distances too): the
    earlier runs' numbers are unchanged, so nothing chosen on them is stale."""
    from conftest import build_ensemble
    from jupyterlab_dsi.compute import postprocess

    first = build_ensemble(tmp_path / "first", sims=6)
    more = build_ensemble(tmp_path / "more", sims=4, ids=lambda i: f"m{i:02d}")
    db = tmp_path / "db.sqlite"
    ingest(db, first.root)
    method = postprocess(db, ground_truth="s00", norm="L2")
    res = cli("select", "--db", db, "--method", method, "--time", 1, "--save", "all six", "--name", "six")
    assert res.code == 0, res.err
    ingest(db, more.root)
    again = postprocess(db, ground_truth="s00", norm="L2")
    assert query(db, "SELECT parent_id FROM jdsi_method WHERE id = ?", (again,)) == [(method,)]
    assert query(db, "SELECT count(*) FROM jdsi_distance WHERE method_id = ?", (again,))[0][0] > \
        query(db, "SELECT count(*) FROM jdsi_distance WHERE method_id = ?", (method,))[0][0]
    assert cli("verify", "--sources", "-q", "--db", db).code == 0
    assert marks(db) == {}

"""ingest -> postprocess -> methods -> select through ``jupyter dsi``, and every input error."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import NR, NZ, SIMS, STEPS, Ensemble, Result, query, sha256, tree, write_arrays, write_csv

from jupyterlab_dsi.norms import NORMS, coefficient_distance, cylindrical_weights, density_distance

Cli = Callable[..., Result]


def reference(gt: dict, sim: dict, norm: str, gt_time: int | None = None) -> list[tuple[float, float, float]]:
    """(d_shock, d_edge, d_density) per step, straight from Appendix A with Python loops."""
    out = []
    r = gt["r"]
    for t in range(sim["time"].size):
        g = t if gt_time is None else gt_time
        row = []
        for name in ("shock", "edge"):
            d = [abs(a - b) for a, b in zip(gt[name][g], sim[name][t])]
            row.append(sum(d) if norm == "L1" else math.sqrt(sum(x * x for x in d)) if norm == "L2" else max(d))
        num = vol = worst = 0.0
        cells = 0
        for j in range(r.size):
            for k in range(gt["z"].size):
                a, b = gt["density"][g, j, k], sim["density"][t, j, k]
                if a * b > 0:
                    cells += 1
                    d = abs(a - b)
                    vol += r[j]
                    num += (d if norm == "L1" else d * d) * r[j]
                    worst = max(worst, d)
        if not cells:
            row.append(math.nan)
        elif norm == "Linf":
            row.append(worst)
        else:
            row.append(num / vol if norm == "L1" else math.sqrt(num / vol))
        out.append(tuple(row))
    return out


def assert_distances(got: list[tuple], expected: list[tuple[float, float, float]]) -> None:
    """Rows of (d_shock, d_edge, d_density) against the reference: the coefficients' sums are
    float64 (1e-12), the density's are the fused kernel's float32 sums along a row (issue 17:
    within 1e-6 relative of the float64 reference); NaN where NaN."""
    got_a, want = np.array(got, dtype=float), np.array(expected)
    np.testing.assert_allclose(got_a[:, :2], want[:, :2], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got_a[:, 2], want[:, 2], rtol=1e-6, atol=0)


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_one_line_error(res: Result, *fragments: str) -> None:
    assert res.code == 2, (res.code, res.out, res.err)
    assert len(res.err_lines) == 1, res.err
    line = res.err_lines[0]
    assert line.startswith("jupyter dsi"), line
    assert "error" in line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert "Traceback" not in res.err


# -- ingest ----------------------------------------------------------------------------------


def test_ingest_infers_kinds_and_ordered_levels(cli: Cli, ensemble: Ensemble, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", ensemble.root, "--db", db)
    assert res.code == 0, res.err
    assert res.err == ""
    assert f"ingested {SIMS} simulations" in res.out
    params = query(db, "SELECT name, kind, levels, position FROM jdsi_parameter ORDER BY position")
    assert [(n, k, json.loads(lv) if lv else None, p) for n, k, lv, p in params] == [
        ("cs", "categorical", [0.1, 0.2], 0),  # numbers, 2 distinct in 6 rows
        ("profile", "categorical", ["bump2", "bump10", "flat"], 1),  # text, natural order
        ("energy", "numeric", None, 2),  # 6 distinct numbers in 6 rows
    ]
    values = dict(
        ((s, n), v) for s, n, v in query(db, "SELECT sim_id, name, value FROM jdsi_param_value")
    )
    assert values[("s01", "cs")] == 0.2 and isinstance(values[("s01", "cs")], float)
    assert values[("s02", "profile")] == "bump10"
    assert values[("s05", "energy")] == 6.5


def test_ingest_records_source_and_file_hashes(cli: Cli, ensemble: Ensemble, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", ensemble.root, "--db", db)
    assert res.code == 0, res.err
    (source,) = query(db, "SELECT id, kind, path, sha256, size_bytes FROM jdsi_source")
    source_id, kind, path, digest, size = source
    assert res.last_line == source_id  # the new record's id is the last line
    assert Path(path) == ensemble.csv.resolve()
    assert digest == sha256(ensemble.csv)
    assert size == ensemble.csv.stat().st_size
    sims = query(db, "SELECT sim_id, path, sha256, times, source_id FROM jdsi_simulation ORDER BY sim_id")
    assert [s[0] for s in sims] == ensemble.ids
    for sid, rel, file_digest, times, src in sims:
        assert rel == f"sims/{sid}.npz"
        assert file_digest == sha256(ensemble.file(sid))
        assert json.loads(times) == [1.0, 2.0, 3.0]
        assert src == source_id
    events = query(db, "SELECT kind, record_id, payload FROM jdsi_event")
    assert len(events) == 1
    assert events[0][:2] == ("source.ingested", source_id)
    assert json.loads(events[0][2])["simulations"] == SIMS


def test_ingest_never_writes_to_the_ensemble(cli: Cli, ensemble: Ensemble, tmp_path: Path) -> None:
    before = tree(ensemble.root)
    mtimes = {p: p.stat().st_mtime_ns for p in ensemble.root.rglob("*")}
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", ensemble.root, "--db", db).code == 0
    assert cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L1").code == 0
    assert tree(ensemble.root) == before
    assert {p: p.stat().st_mtime_ns for p in ensemble.root.rglob("*")} == mtimes


def test_reingest_is_a_no_op(cli: Cli, ingested: tuple[Ensemble, Path]) -> None:
    ens, db = ingested
    before = sha256(db)
    (source_id,) = query(db, "SELECT id FROM jdsi_source")[0]
    res = cli("ingest", "-q", ens.root, "--db", db)
    assert res.code == 0, res.err
    assert "already ingested" in res.out
    assert res.last_line == source_id
    assert sha256(db) == before
    # The CSV itself (not the folder) is accepted as the source, and is the same source.
    res = cli("ingest", "-q", ens.csv, "--db", db)
    assert res.code == 0 and "already ingested" in res.out
    assert sha256(db) == before


def test_ingest_a_second_ensemble_merges_levels(cli: Cli, ingested: tuple[Ensemble, Path], make_ensemble) -> None:
    _, db = ingested
    more = make_ensemble("more", ids=lambda i: f"t{i:02d}")
    # A new level for profile in the second ensemble.
    rows = [dict(r, profile="bump4") if r["sim_id"] == "t00" else r for r in more.rows]
    write_csv(more.csv, rows)
    res = cli("ingest", "-q", more.root, "--db", db)
    assert res.code == 0, res.err
    assert query(db, "SELECT count(*) FROM jdsi_simulation") == [(2 * SIMS,)]
    assert query(db, "SELECT count(*) FROM jdsi_source") == [(2,)]
    (levels,) = query(db, "SELECT levels FROM jdsi_parameter WHERE name = 'profile'")[0]
    assert json.loads(levels) == ["bump2", "bump4", "bump10", "flat"]


def test_ingest_hdf5_gives_the_same_distances(cli: Cli, make_ensemble, tmp_path: Path) -> None:
    npz = make_ensemble("npz", suffix=".npz")
    h5 = make_ensemble("h5", suffix=".h5")
    hdf5 = make_ensemble("hdf5", suffix=".hdf5")
    results = []
    for ens in (npz, h5, hdf5):
        db = tmp_path / f"{ens.root.name}.sqlite"
        assert cli("ingest", "-q", ens.root, "--db", db).code == 0
        res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s03", "--norm", "Linf")
        assert res.code == 0, res.err
        res = cli("select", "--db", db, "--method", res.last_line, "--format", "json")
        results.append([{k: v for k, v in row.items()} for row in json.loads(res.out)])
        assert query(db, "SELECT path FROM jdsi_simulation WHERE sim_id = 's00'") == [
            (f"sims/s00{ens.file('s00').suffix}",)
        ]
    assert results[0] == results[1] == results[2]


# -- postprocess -----------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_postprocess_matches_direct_computation(cli: Cli, ingested: tuple[Ensemble, Path], norm: str) -> None:
    ens, db = ingested
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s02", "--norm", norm)
    assert res.code == 0, res.err
    assert res.err == ""
    method_id = res.last_line
    rows = query(
        db,
        "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t",
        (method_id,),
    )
    assert len(rows) == SIMS * STEPS
    gt = ens.arrays["s02"]
    for sid in ens.ids:
        expected = reference(gt, ens.arrays[sid], norm)
        got = [r[2:] for r in rows if r[0] == sid]
        assert [r[1] for r in rows if r[0] == sid] == list(range(STEPS))
        assert_distances(got, expected)
    # The ground truth against itself: exactly 0, not NULL.
    assert all(r[2:] == (0.0, 0.0, 0.0) for r in rows if r[0] == "s02")


def test_postprocess_records_the_method(cli: Cli, ingested: tuple[Ensemble, Path]) -> None:
    _, db = ingested
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s01", "--norm", "L1",
              "--description", "why: a test")
    assert res.code == 0
    method_id = res.last_line
    assert len(method_id) == 36
    res = cli("methods", "--db", db, "--format", "json")
    assert res.code == 0
    (m,) = json.loads(res.out)
    assert m["id"] == method_id
    assert m["ground_truth"] == "s01"
    assert m["norm"] == "L1"
    assert m["gt_time"] is None  # matched
    assert m["description"] == "why: a test"
    assert m["created_at"]
    assert query(db, "SELECT kind, record_id FROM jdsi_event ORDER BY seq")[-1] == ("method.created", method_id)
    # A second method on the same ground truth reuses its ground-truth record.
    res2 = cli("postprocess", "-q", "--db", db, "--ground-truth", "s01", "--norm", "Linf", "--gt-time", "2")
    assert res2.code == 0
    assert query(db, "SELECT count(*) FROM jdsi_ground_truth") == [(1,)]
    methods = {m["id"]: m for m in json.loads(cli("methods", "--db", db, "--format", "json").out)}
    assert methods[res2.last_line]["gt_time"] == 2
    assert set(methods) == {method_id, res2.last_line}
    # csv and table list them too.
    out = cli("methods", "--db", db, "--format", "csv").out
    assert {r["id"] for r in read_csv(out)} == set(methods)
    table = cli("methods", "--db", db).out
    assert method_id in table and "(2 rows)" in table


def test_postprocess_fixed_gt_time(cli: Cli, make_ensemble, tmp_path: Path) -> None:
    # With a fixed ground-truth step, simulations may have other numbers of steps.
    ens = make_ensemble(mutate=lambda sid, a: _steps(a, 2) if sid == "s04" else None)
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", ens.root, "--db", db).code == 0
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2", "--gt-time", "1")
    assert res.code == 0, res.err
    rows = query(db, "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance ORDER BY sim_id, t")
    assert len(rows) == (SIMS - 1) * STEPS + 2
    for sid in ens.ids:
        expected = reference(ens.arrays["s00"], ens.arrays[sid], "L2", gt_time=1)
        got = [r[2:] for r in rows if r[0] == sid]
        assert_distances(got, expected)
    assert [r[2:] for r in rows if r[0] == "s00" and r[1] == 1] == [(0.0, 0.0, 0.0)]
    assert [r for r in rows if r[0] == "s00" and r[1] != 1 and r[4] == 0.0] == []


def _steps(a: dict, steps: int) -> dict:
    return {k: (v[:steps] if k in ("time", "density", "shock", "edge") else v) for k, v in a.items()}


def _zero_density(a: dict, t: int | None = None) -> None:
    if t is None:
        a["density"][:] = 0.0
    else:
        a["density"][t] = 0.0


def test_empty_overlap_is_null_with_a_warning(cli: Cli, make_ensemble, tmp_path: Path) -> None:
    # s03 is vacuum at step 1: D+ is empty there, so its density distance is NULL, never 0.
    ens = make_ensemble(mutate=lambda sid, a: _zero_density(a, 1) if sid == "s03" else None)
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", ens.root, "--db", db).code == 0
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L1")
    assert res.code == 0, res.err
    assert len(res.err_lines) == 1
    assert res.err_lines[0].startswith("warning: 1 (simulation, step) pair")
    assert "NULL" in res.err
    method_id = res.last_line
    nulls = query(db, "SELECT sim_id, t, d_shock, d_edge FROM jdsi_distance WHERE d_density IS NULL")
    assert [r[:2] for r in nulls] == [("s03", 1)]
    assert nulls[0][2] is not None and nulls[0][3] is not None  # the fronts still have distances
    # select: an empty csv field, null in json, a dash in the table.
    res = cli("select", "--db", db, "--method", method_id, "--time", "1", "--format", "csv")
    row = next(r for r in read_csv(res.out) if r["sim_id"] == "s03")
    assert row["d_density"] == ""
    assert float(row["d_shock"]) > 0
    res = cli("select", "--db", db, "--method", method_id, "--time", "1", "--format", "json")
    row = next(r for r in json.loads(res.out) if r["sim_id"] == "s03")
    assert row["d_density"] is None
    # NULL satisfies no comparison; `not` is the complement.
    res = cli("select", "--db", db, "--method", method_id, "--where", "d_density >= 0", "--format", "json")
    assert len(json.loads(res.out)) == SIMS * STEPS - 1
    res = cli("select", "--db", db, "--method", method_id, "--where", "not d_density >= 0", "--format", "json")
    assert [(r["sim_id"], r["t"]) for r in json.loads(res.out)] == [("s03", 1)]


def test_postprocess_is_one_transaction(cli: Cli, ingested: tuple[Ensemble, Path], monkeypatch) -> None:
    # An interruption after every distance was computed, while writing, leaves the db as it was.
    from jupyterlab_dsi import compute as pp

    _, db = ingested
    before = sha256(db)
    real = pp.Store.log_event

    def boom(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pp.Store, "log_event", staticmethod(boom))
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2")
    assert res.code == 130
    assert "nothing was written" in res.err
    assert sha256(db) == before
    assert sorted(os.listdir(db.parent)) == ["db.sqlite", "ens"]


# -- select ----------------------------------------------------------------------------------


def test_select_formats(cli: Cli, method: tuple[Ensemble, Path, str]) -> None:
    ens, db, method_id = method
    columns = ["sim_id", "t", "cs", "profile", "energy", "d_shock", "d_edge", "d_density", "d_feature"]
    res = cli("select", "--db", db, "--method", method_id, "--format", "csv")
    assert res.code == 0 and res.err == ""
    rows = read_csv(res.out)
    assert list(rows[0]) == columns
    assert [(r["sim_id"], int(r["t"])) for r in rows] == [(s, t) for s in ens.ids for t in range(STEPS)]
    by_id = {r["sim_id"]: r for r in rows if r["t"] == "0"}
    for i, sid in enumerate(ens.ids):  # every parameter, in its own column
        assert float(by_id[sid]["cs"]) == float(ens.rows[i]["cs"])
        assert by_id[sid]["profile"] == ens.rows[i]["profile"]
        assert float(by_id[sid]["energy"]) == float(ens.rows[i]["energy"])

    res = cli("select", "--db", db, "--method", method_id, "--format", "json")
    records = json.loads(res.out)
    assert len(records) == SIMS * STEPS
    assert list(records[0]) == columns
    assert isinstance(records[0]["t"], int)
    # Values round-trip exactly between csv and json and match the reference.
    for rec, row in zip(records, rows):
        assert rec["d_density"] == float(row["d_density"])
    s1 = next(r for r in records if r["sim_id"] == "s01" and r["t"] == 2)
    expected = reference(ens.arrays["s00"], ens.arrays["s01"], "L2")[2]
    assert (s1["d_shock"], s1["d_edge"]) == pytest.approx(expected[:2], rel=1e-12)
    assert s1["d_density"] == pytest.approx(expected[2], rel=1e-6)
    assert (s1["cs"], s1["profile"], s1["energy"]) == (0.2, "bump2", 2.5)

    res = cli("select", "--db", db, "--method", method_id)  # table is the default
    lines = res.out_lines
    assert lines[0].split() == columns
    assert lines[-1] == f"({SIMS * STEPS} rows)"
    assert len(lines) == SIMS * STEPS + 2


def test_select_one_time_step(cli: Cli, method: tuple[Ensemble, Path, str]) -> None:
    _, db, method_id = method
    res = cli("select", "--db", db, "--method", method_id, "--time", "2", "--format", "json")
    records = json.loads(res.out)
    assert len(records) == SIMS
    assert {r["t"] for r in records} == {2}


def test_select_method_prefix(cli: Cli, method: tuple[Ensemble, Path, str]) -> None:
    _, db, method_id = method
    full = cli("select", "--db", db, "--method", method_id, "--format", "csv").out
    assert cli("select", "--db", db, "--method", method_id[:4], "--format", "csv").out == full
    res = cli("select", "--db", db, "--method", method_id[:3])  # too short to be a prefix
    assert_one_line_error(res, repr(method_id[:3]), method_id[:8])


@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ("cs == 0.1", lambda r: r["cs"] == 0.1),
        ("profile in ('flat', 'bump10')", lambda r: r["profile"] in ("flat", "bump10")),
        ("energy between 2 and 4.5 and t >= 1", lambda r: 2 <= r["energy"] <= 4.5 and r["t"] >= 1),
        ("sim_id != 's00' and d_density < 0.7", lambda r: r["sim_id"] != "s00" and r["d_density"] < 0.7),
        ("d_shock > 1 or d_edge > 1.5", lambda r: r["d_shock"] > 1 or r["d_edge"] > 1.5),
        ("not (cs == 0.2 and `profile` == 'flat')", lambda r: not (r["cs"] == 0.2 and r["profile"] == "flat")),
        ("(energy, d_density) in polygon ((0, -1), (4, -1), (4, 0.8), (0, 0.8))",
         lambda r: 0 < r["energy"] < 4 and r["d_density"] < 0.8),
    ],
)
def test_select_where(cli: Cli, method: tuple[Ensemble, Path, str], where: str, keep) -> None:
    _, db, method_id = method
    everything = json.loads(cli("select", "--db", db, "--method", method_id, "--format", "json").out)
    res = cli("select", "--db", db, "--method", method_id, "--where", where, "--format", "json")
    assert res.code == 0, res.err
    got = json.loads(res.out)
    expected = [r for r in everything if keep(r)]
    assert got == expected
    assert 0 < len(got) < len(everything)  # the case filters something and keeps something


def test_select_where_d_feature_with_weights(cli: Cli, method: tuple[Ensemble, Path, str]) -> None:
    _, db, method_id = method
    everything = json.loads(cli("select", "--db", db, "--method", method_id, "--format", "json").out)
    features = sorted(2.0 * r["d_shock"] + 0.5 * r["d_edge"] for r in everything)
    cut = features[len(features) // 2]
    res = cli("select", "--db", db, "--method", method_id, "--weights", "2", "0.5",
              "--where", f"d_feature < {cut!r}", "--format", "json")
    assert res.code == 0, res.err
    got = json.loads(res.out)
    expected = [r for r in everything if 2.0 * r["d_shock"] + 0.5 * r["d_edge"] < cut]
    assert [{**r, "d_feature": None} for r in got] == [{**r, "d_feature": None} for r in expected]
    assert [r["d_feature"] for r in got] == pytest.approx([2.0 * r["d_shock"] + 0.5 * r["d_edge"] for r in expected])
    assert 0 < len(got) < len(everything)
    # The same terms by name, in any order, and a term over a parameter.
    named = cli("select", "--db", db, "--method", method_id, "--weights", "d_edge=0.5", "d_shock=2",
                "--where", f"d_feature < {cut!r}", "--format", "json")
    assert [r["sim_id"] for r in json.loads(named.out)] == [r["sim_id"] for r in got]
    mixed = json.loads(cli("select", "--db", db, "--method", method_id, "--time", "0",
                           "--weights", "d_density=1", "energy=0.25", "--format", "json").out)
    assert [r["d_feature"] for r in mixed] == pytest.approx([r["d_density"] + 0.25 * r["energy"] for r in mixed])
    # Default weights are 1 and 1.
    res = cli("select", "--db", db, "--method", method_id, "--where", "d_feature < 1", "--format", "json")
    assert json.loads(res.out) == [r for r in everything if r["d_shock"] + r["d_edge"] < 1]


def test_select_missing_parameter_is_an_empty_field(cli: Cli, make_ensemble, tmp_path: Path) -> None:
    ens = make_ensemble()
    write_csv(ens.csv, [dict(r, energy="") if r["sim_id"] == "s02" else r for r in ens.rows])
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", ens.root, "--db", db).code == 0
    method_id = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2").last_line
    rows = read_csv(cli("select", "--db", db, "--method", method_id, "--time", "0", "--format", "csv").out)
    assert [r["energy"] for r in rows if r["sim_id"] == "s02"] == [""]
    assert all(r["energy"] != "" for r in rows if r["sim_id"] != "s02")


def test_select_and_methods_do_not_write(cli: Cli, method: tuple[Ensemble, Path, str]) -> None:
    _, db, method_id = method
    before = sha256(db)
    # Both commands did their work (a crash before opening the file would also write nothing).
    want = [sim for (sim,) in query(db, "SELECT sim_id FROM jdsi_param_value WHERE name = 'cs' AND value = 0.1")]
    others = [sim for (sim,) in query(db, "SELECT sim_id FROM jdsi_simulation") if sim not in want]
    assert want and others
    selected = cli("select", "--db", db, "--method", method_id, "--where", "cs == 0.1")
    assert selected.code == 0, selected.err
    assert all(sim in selected.out for sim in want) and not any(sim in selected.out for sim in others), selected.out
    methods = cli("methods", "--db", db, "--format", "json")
    assert methods.code == 0, methods.err
    assert [m["id"] for m in json.loads(methods.out)] == [method_id]
    assert sha256(db) == before


# -- bad input: one line, exit 2, nothing written ---------------------------------------------


def _set(name: str, value):
    def mutate(sid: str, a: dict) -> None:
        if sid == "s02":
            a[name] = value(a) if callable(value) else value

    return mutate


INGEST_ERRORS = {
    # case: (how to spoil the ensemble, fragments the message must hold)
    "missing sim_id": (lambda e: _edit_csv(e, 2, sim_id=""), ["row 4", "missing sim_id"]),
    "duplicate sim_id": (lambda e: _edit_csv(e, 3, sim_id=e.ids[1]), ["row 5", "duplicate sim_id 's01'", "row 3"]),
    "no sim_id column": (lambda e: _drop_column(e, "sim_id"), ["'sim_id'", "simulations.csv"]),
    "no path column": (lambda e: _drop_column(e, "path"), ["'path'"]),
    "missing path": (lambda e: _edit_csv(e, 1, path=""), ["row 3", "missing path", "'s01'"]),
    "reserved column": (lambda e: _rename_column(e, "energy", "d_shock"), ["'d_shock'", "reserved"]),
    "missing file": (lambda e: e.file(e.ids[4]).unlink(), ["row 6", "sims/s04.npz", "not found"]),
    "no simulations.csv": (lambda e: e.csv.unlink(), ["simulations.csv", "no such file"]),
    "empty csv": (lambda e: e.csv.write_text("sim_id,path,cs\n"), ["no simulations"]),
    "density wrong shape": (
        lambda e: _rewrite(e, e.ids[2], density=lambda a: a["density"][:, :, :-1]),
        ["row 4", "s02.npz", "density", "(3, 4, 5)", "(3, 4, 6)"],
    ),
    "shock wrong T": (lambda e: _rewrite(e, e.ids[2], shock=lambda a: a["shock"][:2]), ["s02.npz", "shock", "(2, 3)"]),
    "edge not 2-D": (lambda e: _rewrite(e, e.ids[2], edge=lambda a: a["edge"][:, 0]), ["s02.npz", "edge"]),
    "time 2-D": (lambda e: _rewrite(e, e.ids[2], time=lambda a: a["time"][:, None]), ["s02.npz", "time"]),
    "missing array": (lambda e: _rewrite(e, e.ids[2], drop="edge"), ["s02.npz", "missing array(s) edge"]),
    "not an npz": (lambda e: e.file(e.ids[2]).write_bytes(b"not a zip file at all"), ["row 4", "s02.npz", "cannot read"]),
    "unsupported suffix": (lambda e: _edit_csv(e, 2, b"x", path="sims/s02.txt"), ["row 4", "s02.txt", "unsupported"]),
    "not an h5": (lambda e: _edit_csv(e, 2, b"\x89HDF" + bytes(200), path="sims/s02.h5"), ["row 4", "s02.h5", "cannot read"]),
    "newline in the path": (lambda e: _edit_csv(e, 2, path="sims/s\n02.npz"), ["row 4", "not found", "s\\n02.npz"]),
}


def _edit_csv(ens: Ensemble, index: int, content: bytes | None = None, **changes: str) -> None:
    """Change one row of the CSV; ``content``: bytes for the file its new path names."""
    rows = [dict(r) for r in ens.rows]
    rows[index].update(changes)
    if content is not None:
        (ens.root / changes["path"]).write_bytes(content)
    write_csv(ens.csv, rows)


def _drop_column(ens: Ensemble, column: str) -> None:
    write_csv(ens.csv, ens.rows, [h for h in ens.rows[0] if h != column])


def _rename_column(ens: Ensemble, old: str, new: str) -> None:
    write_csv(ens.csv, [{(new if k == old else k): v for k, v in r.items()} for r in ens.rows])


def _rewrite(ens: Ensemble, sid: str, drop: str | None = None, **changes) -> None:
    arrays = dict(ens.arrays[sid])
    for name, change in changes.items():
        arrays[name] = change(arrays)
    if drop:
        del arrays[drop]
    write_arrays(ens.file(sid), arrays)


@pytest.mark.parametrize("case", list(INGEST_ERRORS))
def test_ingest_errors_create_no_database(cli: Cli, make_ensemble, tmp_path: Path, case: str) -> None:
    spoil, fragments = INGEST_ERRORS[case]
    ens = make_ensemble("bad")
    spoil(ens)
    before = tree(ens.root)
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", ens.root, "--db", db)
    assert_one_line_error(res, *fragments)
    assert not db.exists()
    assert sorted(os.listdir(tmp_path)) == ["bad"]  # no partial file either
    assert tree(ens.root) == before


@pytest.mark.parametrize("case", ["missing sim_id", "duplicate sim_id", "missing file", "density wrong shape", "missing array"])
def test_ingest_errors_leave_an_existing_database(cli: Cli, ingested: tuple[Ensemble, Path], make_ensemble, case: str) -> None:
    _, db = ingested
    before = sha256(db)
    spoil, fragments = INGEST_ERRORS[case]
    ens = make_ensemble("bad", ids=lambda i: f"b{i:02d}")
    spoil(ens)
    res = cli("ingest", "-q", ens.root, "--db", db)
    assert res.code == 2 and len(res.err_lines) == 1, res.err
    assert sha256(db) == before


def test_ingest_sim_id_already_in_the_database(cli: Cli, ingested: tuple[Ensemble, Path], make_ensemble) -> None:
    _, db = ingested
    before = sha256(db)
    other = make_ensemble("other", ids=lambda i: f"s{i + 5:02d}")  # s05 clashes
    res = cli("ingest", "-q", other.root, "--db", db)
    assert_one_line_error(res, "'s05'", "already in", str(db))
    assert sha256(db) == before


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 50, "sqlite-other"])
def test_ingest_into_a_file_that_is_not_ours(cli: Cli, ensemble: Ensemble, tmp_path: Path, content) -> None:
    db = tmp_path / "notours.sqlite"
    if content == "sqlite-other":
        import sqlite3

        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE simulation (x)")
        conn.commit()
        conn.close()
    else:
        db.write_bytes(content)
    before = sha256(db)
    res = cli("ingest", "-q", ensemble.root, "--db", db)
    assert_one_line_error(res, str(db))
    assert sha256(db) == before
    assert sorted(os.listdir(tmp_path)) == ["ens", "notours.sqlite"]


def _uneven(a: dict) -> np.ndarray:
    r = a["r"].copy()
    r[-1] += 0.05
    return r


POSTPROCESS_ERRORS = {
    # case: (mutate for s02, extra args, fragments)
    "NaN density": (_set("density", lambda a: np.where(np.arange(NZ) == 3, np.nan, a["density"])), [],
                    ["'s02'", "s02.npz", "NaN", "step 0, cell (0, 3)"]),
    "infinite density": (_set("density", lambda a: np.where(np.arange(NZ) == 1, np.inf, a["density"])), [],
                         ["s02.npz", "infinite"]),
    "negative density": (_set("density", lambda a: a["density"] * np.where(np.arange(NZ) == 5, -1, 1)), [],
                         ["'s02'", "s02.npz", "negative", "cell (0, 5)"]),
    "other grid shape": (lambda sid, a: _regrid(a, NR, NZ + 2) if sid == "s02" else None, [],
                         ["'s02'", "s02.npz", "grid", "4x8", "4x6"]),
    "other grid values": (_set("z", lambda a: a["z"] + 0.1), [], ["'s02'", "s02.npz", "grid", "differs"]),
    "simulation grid not uniform": (_set("r", _uneven), [], ["'s02'", "s02.npz", "grid"]),
    "ground truth grid not uniform": (lambda sid, a: a.update(r=_uneven(a)) if sid == "s00" else None, [],
                                      ["s00.npz", "R grid is not uniform"]),
    "other K": (_set("shock", lambda a: a["shock"][:, :2]), [], ["'s02'", "s02.npz", "shock", "2 coefficients"]),
    "other number of steps": (lambda sid, a: _steps(a, 2) if sid == "s02" else None, [],
                              ["'s02'", "s02.npz", "2 time steps", "--gt-time"]),
    "unknown ground truth": (None, ["--ground-truth", "nope"], ["unknown ground truth 'nope'", "s00"]),
    "gt-time out of range": (None, ["--gt-time", "3"], ["--gt-time 3", "0..2"]),
    "gt-time not a number": (None, ["--gt-time", "last"], ["--gt-time", "'last'"]),
    "gt-time negative": (None, ["--gt-time", "-1"], ["--gt-time", "-1"]),
}


def _regrid(a: dict, nr: int, nz: int) -> dict:
    from conftest import sim_arrays

    return sim_arrays(2, nr=nr, nz=nz)


@pytest.mark.parametrize("case", list(POSTPROCESS_ERRORS))
def test_postprocess_errors_leave_the_database(cli: Cli, make_ensemble, tmp_path: Path, case: str) -> None:
    mutate, extra, fragments = POSTPROCESS_ERRORS[case]
    ens = make_ensemble(mutate=mutate)
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", ens.root, "--db", db)
    assert res.code == 0, res.err  # ingest reads headers only; the values are checked here
    before = sha256(db)
    # A repeated option (--ground-truth) takes its last value.
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2", *extra)
    assert_one_line_error(res, *fragments)
    assert sha256(db) == before
    assert sorted(os.listdir(tmp_path)) == ["db.sqlite", "ens"]  # no -journal left


def test_postprocess_file_gone_after_ingest(cli: Cli, ingested: tuple[Ensemble, Path]) -> None:
    ens, db = ingested
    ens.file("s03").unlink()
    before = sha256(db)
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L1")
    assert_one_line_error(res, "'s03'", "s03.npz", "no such file")
    assert sha256(db) == before


@pytest.mark.parametrize("command", [
    ["postprocess", "--ground-truth", "s00", "--norm", "L2"],
    ["methods"],
    ["select", "--method", "abcd"],
])
def test_missing_database_is_not_created(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "missing.sqlite"
    res = cli(command[0], "--db", db, *command[1:])
    assert_one_line_error(res, str(db), "no such database")
    assert os.listdir(tmp_path) == []


SELECT_ERRORS = {
    "unknown name": (["--where", "mass > 1"], ["unknown name 'mass'", "known names:", "cs", "d_feature", "energy"]),
    "close name": (["--where", "energi > 1"], ["'energi'", "did you mean 'energy'"]),
    "syntax error": (["--where", "cs < "], ["filter:", "at 5"]),
    "unclosed paren": (["--where", "(cs == 0.1"], ["filter:", "')'"]),
    "bad token": (["--where", "cs = 0.1"], ["filter:"]),
    "unknown method": (["--method", "ffffffff"], ["'ffffffff'", "not a method"]),
    "time out of range": (["--time", "3"], ["--time 3", "0..2"]),
    "negative time": (["--time", "-1"], ["--time -1"]),
}


@pytest.mark.parametrize("case", list(SELECT_ERRORS))
def test_select_errors(cli: Cli, method: tuple[Ensemble, Path, str], case: str) -> None:
    _, db, method_id = method
    extra, fragments = SELECT_ERRORS[case]
    before = sha256(db)
    args = ["select", "--db", db, "--method", method_id, *extra]
    res = cli(*args)
    assert_one_line_error(res, *fragments)
    assert res.out == ""
    assert sha256(db) == before


@pytest.mark.parametrize("argv", [
    ["ingest", "x"],  # --db missing
    ["postprocess", "--db", "x.sqlite", "--ground-truth", "s", "--norm", "L3"],
    ["select", "--db", "x.sqlite", "--method", "m", "--format", "xml"],
    ["frobnicate"],
    [],
])
def test_usage_errors_are_one_line(cli: Cli, tmp_path: Path, argv: list[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = cli(*argv)
    assert_one_line_error(res, "see --help")
    assert os.listdir(tmp_path) == []


def test_error_without_quiet_ends_with_the_error_line(cli: Cli, make_ensemble, tmp_path: Path) -> None:
    # Progress lines may come first on stderr; the error is still one line, the last one.
    ens = make_ensemble(mutate=_set("density", lambda a: -a["density"]))
    db = tmp_path / "db.sqlite"
    assert cli("ingest", ens.root, "--db", db).code == 0
    res = cli("postprocess", "--db", db, "--ground-truth", "s00", "--norm", "L2")
    assert res.code == 2
    assert res.err_lines[-1].startswith("jupyter dsi postprocess: error: ")
    assert "s02.npz" in res.err_lines[-1]
    assert all(line.startswith("postprocess: ") for line in res.err_lines[:-1])


def test_sample_then_pipeline(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "sample"
    res = cli("sample", "-q", out, "--sims", 4, "--steps", 2, "--grid", 4, 5, "--seed", 3)
    assert res.code == 0, res.err
    before = tree(out)
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-q", out, "--db", db).code == 0
    method_id = cli("postprocess", "-q", "--db", db, "--ground-truth", "sim00001", "--norm", "L1").last_line
    rows = json.loads(cli("select", "--db", db, "--method", method_id, "--format", "json").out)
    assert len(rows) == 4 * 2
    assert {"cs", "mrg", "profile", "s1", "s2", "gamma", "rho_gas"} <= set(rows[0])
    assert tree(out) == before
    # Sampling into an ensemble that exists is refused, one line, nothing changed.
    res = cli("sample", "-q", out, "--sims", 2, "--steps", 2, "--grid", 4, 4)
    assert_one_line_error(res, "simulations.csv", "already exists")
    assert tree(out) == before
    res = cli("sample", "-q", tmp_path / "none", "--sims", 0)
    assert_one_line_error(res, "sims")


# -- the real executable ---------------------------------------------------------------------


def _exe() -> list[str]:
    jupyter = Path(sys.executable).with_name("jupyter")
    if jupyter.exists():
        return [str(jupyter), "dsi"]
    found = shutil.which("jupyter-dsi")
    if found:
        return [found]
    pytest.skip("no jupyter executable next to this Python")


def test_executable_help_and_exit_codes(tmp_path: Path) -> None:
    exe = _exe()
    res = subprocess.run([*exe, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for command in ("sample", "ingest", "postprocess", "methods", "select"):
        assert command in res.stdout
    res = subprocess.run([*exe, "select", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "--where" in res.stdout and "--time" in res.stdout
    db = tmp_path / "missing.sqlite"
    res = subprocess.run([*exe, "methods", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and str(db) in res.stderr
    assert not db.exists()


def test_executable_pipeline(tmp_path: Path, ensemble: Ensemble) -> None:
    exe = _exe()
    db = tmp_path / "db.sqlite"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*exe, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)

    assert run("ingest", "-q", str(ensemble.root), "--db", str(db)).returncode == 0
    res = run("postprocess", "-q", "--db", str(db), "--ground-truth", "s00", "--norm", "Linf")
    assert res.returncode == 0, res.stderr
    method_id = res.stdout.splitlines()[-1]
    res = run("select", "--db", str(db), "--method", method_id[:8], "--time", "0", "--format", "csv",
              "--where", "profile == 'flat'")
    assert res.returncode == 0, res.stderr
    assert [r["sim_id"] for r in read_csv(res.stdout)] == ["s00", "s03"]
    res = run("select", "--db", str(db), "--method", method_id, "--where", "nope == 1")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "'nope'" in res.stderr


@pytest.mark.parametrize(
    ("where", "says"),
    [("cs == '2'", "'cs' holds numbers but is compared with the text '2'"),
     ("sim_id == 3", "'sim_id' holds text")],
)
def test_select_refuses_a_comparison_that_cannot_match(cli: Cli, method: tuple[Ensemble, Path, str], where: str,
                                                      says: str) -> None:
    """A quoted number on a numeric column would silently select nothing: an error says why."""
    _, db, method_id = method
    res = cli("select", "--db", db, "--method", method_id, "--where", where)
    assert res.code == 2 and says in res.err and res.out == ""

"""Hostile text as names, descriptions, sim ids, parameter names and CSV headers: stored byte for
byte through the server, the magic and the CLI, the tables intact, nothing executed."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path
from typing import Any

from jupyterlab_dsi.store import Store

from .stresskit import LiveServer, copy_db, dsi, integrity, query, save_body, start_kernel, stop_kernel

HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{x}", "$x", "'\"`", "'; DROP TABLE jdsi_dataset; --",
    "a\x00b", "\u202egnp.exe", "\u200fright-to-left", "line\nbreak", "${{7*7}}", "%s%n",
]
# A line magic ends at the line's end: text with a newline cannot be one %dsi argument (a limit
# of IPython's syntax, not of jupyterlab-dsi).
MAGIC_TEXTS = [t for t in HOSTILE if "\n" not in t]
BIG = "x" * (10 * 1024 * 1024)


def _tables(db: Path) -> int:
    return len(query(db, "SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_server_stores_hostile_text_byte_for_byte(shared_method: tuple[Any, Path, str], tmp_path: Path,
                                                  figures: Any) -> None:
    _, source, method = shared_method
    db = copy_db(source, tmp_path / "root" / "ens.sqlite")
    tables = _tables(db)
    sent = {}
    with LiveServer(db.parent) as server:
        for text in HOSTILE:
            body = save_body(method, ["s01"], name=text, description=text, filter=text,
                             settings={text: text}, selection_kind=text[:100])
            status, record = server.call("datasets?path=ens.sqlite", "POST", body)
            assert status == 201, record
            sent[body["id"]] = text
            figures.add("hostile")
            figures.add("ops")
        # 10 MB of text is over the limits: refused with a message naming the field and the limit.
        for field in ("name", "description", "filter"):
            body = save_body(method, ["s01"], **{"name": "n", "description": "d", field: BIG})
            status, record = server.call("datasets?path=ens.sqlite", "POST", body)
            assert status == 422 and f"the {field} is 10,485,760 characters, above the limit" in record["message"]
            figures.add("hostile")
            figures.add("ops")
        status, listed = server.call("datasets?path=ens.sqlite")
        assert status == 200
    got = {ds_id: (n, d, f, k) for ds_id, n, d, f, k in
           query(db, "SELECT id, name, description, filter, selection_kind FROM jdsi_dataset")}
    # The description is stripped of surrounding whitespace on save (documented): compare stripped.
    wrong = [t[:40] for i, t in sent.items() if got[i] != (t, t.strip(), t, t[:100])]
    figures.add("lost", len(wrong))
    assert wrong == []
    assert _tables(db) == tables and integrity(db) == "ok"


def test_magic_and_cli_store_hostile_descriptions(shared_method: tuple[Any, Path, str], tmp_path: Path,
                                                  figures: Any) -> None:
    _, source, method = shared_method
    db = copy_db(source, tmp_path / "ens.sqlite")
    kernel = start_kernel(tmp_path)
    try:
        kernel.execute("x = 'EXPANDED'")
        for text in MAGIC_TEXTS:
            line = f"%dsi select --db {shlex.quote(str(db))} --method {method} --time 1 --save {shlex.quote(text)} --name {shlex.quote(text)}"
            out = kernel.execute(line)
            assert out["errors"] == [] and "saved dataset" in out["stdout"], (text, out["stderr"], [e["content"]["evalue"] for e in out["errors"]])
            figures.add("hostile")
    finally:
        stop_kernel(kernel)
    cli_texts = [t for t in HOSTILE if "\x00" not in t]  # argv cannot hold NUL: the OS refuses it
    for text in cli_texts:
        res = dsi("select", "-q", "--db", db, "--method", method, "--time", 1, "--save", text, "--name", text)
        assert res.returncode == 0, res.stderr
        figures.add("hostile")
    stored = query(db, "SELECT name, description FROM jdsi_dataset")
    expected = [(t, t.strip()) for t in MAGIC_TEXTS + cli_texts]
    figures.add("ops", len(expected))
    missing = [e for e in expected if e not in stored]
    figures.add("lost", len(missing))
    assert missing == []
    assert ("EXPANDED", "EXPANDED") not in stored  # {x} and $x were never expanded
    assert integrity(db) == "ok"


def test_ingest_a_csv_with_hostile_headers_and_ids(tmp_path: Path, figures: Any) -> None:
    header = ["sim_id"] + [h for h in HOSTILE if "\x00" not in h]  # the csv module refuses NUL
    ids = [h for h in HOSTILE if "\x00" not in h and "\n" not in h]
    source = tmp_path / "runs.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i, sid in enumerate(ids):
            writer.writerow([sid] + [str(i + j) for j in range(len(header) - 1)])
    db = tmp_path / "runs.sqlite"
    res = dsi("ingest", "-q", source, "--db", db, "--format", "csv")
    figures.add("hostile", len(header) + len(ids))
    figures.add("ops")
    assert res.returncode == 0, res.stderr
    with Store(db, readonly=True) as store:
        assert sorted(store.sim_ids()) == sorted(ids)
        names = {p["name"] for p in store.parameters()} | {r[0] for r in store.conn.execute("SELECT name FROM jdsi_metric")}
    assert set(header[1:]) <= names
    res = dsi("select", "--db", db, "--format", "json", "--where", "`<script>alert(1)</script>` >= 0")
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)) == len(ids)
    assert integrity(db) == "ok"

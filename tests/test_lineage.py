"""Lineage graphs (issue 15, section 2): the exact JSON of each kind of record, the dot and
mermaid renderings with hostile names, PROV-JSON with splits, runs and artifacts, and the
server's lineage endpoint (authentication, one-line errors, confinement)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Ensemble, Result, build_ensemble, query
from jupyterlab_dsi import datasets as dsets
from jupyterlab_dsi.compute import postprocess
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.lineage import LineageError, lineage, render, to_dot, to_mermaid
from jupyterlab_dsi.runs import start_run
from jupyterlab_dsi.splits import save_split
from jupyterlab_dsi.store import Store, new_id, now

HOSTILE = 'x"] --> y["z\n}; digraph { a -> b } %% `--` [[<b>]] \\N \\"; #quot; | end'


def add_run(db: Path, dataset_id: str, split_id: str | None, name: str = "gan-v3",
            artifact: Path | None = None, status: str = "finished") -> tuple[str, str | None]:
    """An ended run (and the artifact it generated), recorded through runs.py as a shell's
    `jupyter dsi run start/log/end` would."""
    run = start_run(db, dataset=dataset_id, split=split_id, name=name, live=False)
    artifact_id = None
    if artifact is not None:
        artifact.parent.mkdir(parents=True, exist_ok=True)
        artifact.write_bytes(b"abc")
        artifact_id = run.log_artifact(artifact, kind="model")["id"]
    run.end(status)
    return run.id, artifact_id


def source_path(loop: Loop) -> str:
    return query(loop.db, "SELECT path FROM jdsi_source WHERE id = ?", (loop.source,))[0][0]


def artifact_path(loop: Loop) -> str:
    return query(loop.db, "SELECT path FROM jdsi_artifact WHERE id = ?", (loop.artifact,))[0][0]


def recompute(db: Path, method_id: str) -> str:
    """A recomputation of a method: a newer method whose parent_id names it; its id."""
    newer = new_id()
    with Store(db) as store, store.write() as conn:
        conn.execute(
            "INSERT INTO jdsi_method (id, ground_truth_id, norm, description, code_version, created_at, parent_id) "
            "SELECT ?, ground_truth_id, norm, 'again', code_version, ?, id FROM jdsi_method WHERE id = ?",
            (newer, now(), method_id))
    return newer


@dataclass
class Loop:
    """A database with every kind of record: source -> method -> dataset -> child dataset,
    split -> run -> artifact, and a second run on the dataset itself."""

    ens: Ensemble
    db: Path
    source: str
    method: str
    dataset: str
    child: str
    split: str
    run: str
    artifact: str
    bare_run: str


def make_loop(root: Path, dataset_name: str = "small feature") -> Loop:
    ens = build_ensemble(root / "ens")
    db = root / "db.sqlite"
    source = ingest(db, ens.root).source_id
    assert source is not None
    method = postprocess(db, ground_truth="s00", norm="L2")
    with Store(db) as store:
        ds = dsets.save_dataset(store, members=["s01", "s02", "s03", "s04"], description="why",
                                name=dataset_name, method_id=method, t=1, filter="t == 1")
        child = dsets.save_dataset(store, members=["s01", "s02"], description="smaller", name="child",
                                   method_id=method, t=1, parent_id=ds["id"])
        split = save_split(store, ds["id"], ["train", "test"], [0.5, 0.5], 0)
    run, artifact = add_run(db, ds["id"], split["id"], artifact=root / "out" / "model.pt")
    bare, _ = add_run(db, ds["id"], None, name="baseline", status="failed")
    assert artifact is not None
    return Loop(ens, db, source, method, ds["id"], child["id"], split["id"], run, artifact, bare)


@pytest.fixture
def loop(tmp_path: Path) -> Loop:
    return make_loop(tmp_path)


def graph_of(db: Path, ref: str) -> dict[str, Any]:
    with Store(db, readonly=True) as store:
        return lineage(store, ref)


def test_lineage_of_a_dataset_is_its_ancestors_and_descendants(loop: Loop) -> None:
    g = graph_of(loop.db, loop.dataset)
    assert g == {
        "root": loop.dataset,
        "nodes": [
            {"id": loop.source, "kind": "source", "label": "simulations.csv", "path": source_path(loop)},
            {"id": loop.method, "kind": "method", "label": "L2 vs s00"},
            {"id": loop.dataset, "kind": "dataset", "label": "small feature"},
            {"id": loop.child, "kind": "dataset", "label": "child"},
            {"id": loop.split, "kind": "split", "label": "train/test (seed 0)"},
            {"id": loop.run, "kind": "run", "label": "gan-v3 (finished)"},
            {"id": loop.bare_run, "kind": "run", "label": "baseline (failed)"},
            {"id": loop.artifact, "kind": "artifact", "label": "model.pt", "path": artifact_path(loop)},
        ],
        "edges": [
            {"source": loop.method, "target": loop.source, "relation": "used"},
            {"source": loop.dataset, "target": loop.method, "relation": "wasDerivedFrom"},
            {"source": loop.child, "target": loop.method, "relation": "wasDerivedFrom"},
            {"source": loop.child, "target": loop.dataset, "relation": "wasDerivedFrom"},
            {"source": loop.split, "target": loop.dataset, "relation": "wasDerivedFrom"},
            {"source": loop.run, "target": loop.split, "relation": "used"},
            {"source": loop.bare_run, "target": loop.dataset, "relation": "used"},
            {"source": loop.artifact, "target": loop.run, "relation": "wasGeneratedBy"},
        ],
    }


def test_lineage_of_each_kind_leaves_out_siblings_subtrees(loop: Loop) -> None:
    kinds = lambda g: [(n["kind"], n["id"]) for n in g["nodes"]]  # noqa: E731
    # An artifact: its run, the split, the dataset, method and source; not the child dataset
    # (a sibling of the split) nor the other run.
    art = graph_of(loop.db, loop.artifact)
    assert kinds(art) == [("source", loop.source), ("method", loop.method), ("dataset", loop.dataset),
                          ("split", loop.split), ("run", loop.run), ("artifact", loop.artifact)]
    assert {(e["source"], e["target"]) for e in art["edges"]} == {
        (loop.method, loop.source), (loop.dataset, loop.method), (loop.split, loop.dataset),
        (loop.run, loop.split), (loop.artifact, loop.run)}
    # The child dataset: its parent (and up), nothing of the parent's split or runs.
    child = graph_of(loop.db, loop.child)
    assert kinds(child) == [("source", loop.source), ("method", loop.method), ("dataset", loop.dataset),
                            ("dataset", loop.child)]
    # A split and a run by unique prefix; the run without split used the dataset.
    assert [n["id"] for n in graph_of(loop.db, loop.split[:6])["nodes"]] == [
        loop.source, loop.method, loop.dataset, loop.split, loop.run, loop.artifact]
    bare = graph_of(loop.db, loop.bare_run)
    assert bare["root"] == loop.bare_run
    assert {"source": loop.bare_run, "target": loop.dataset, "relation": "used"} in bare["edges"]
    assert loop.split not in {n["id"] for n in bare["nodes"]}
    # A method and a source reach everything downstream.
    for ref in (loop.method, loop.source):
        assert len(graph_of(loop.db, ref)["nodes"]) == 8


def test_recomputed_method_and_methodless_dataset(loop: Loop, tmp_path: Path) -> None:
    newer = recompute(loop.db, loop.method)
    with Store(loop.db) as store:
        hand = dsets.save_dataset(store, members=["s03", "s05"], description="picked by hand",
                                  name="hand", method_id=None, t=None)
    g = graph_of(loop.db, newer)
    assert {"source": newer, "target": loop.method, "relation": "wasDerivedFrom"} in g["edges"]
    assert g["nodes"][2] == {"id": newer, "kind": "method", "label": "L2 vs s00"}
    h = graph_of(loop.db, hand["id"])
    assert h["nodes"] == [{"id": loop.source, "kind": "source", "label": "simulations.csv", "path": source_path(loop)},
                          {"id": hand["id"], "kind": "dataset", "label": "hand"}]
    assert h["edges"] == [{"source": hand["id"], "target": loop.source, "relation": "wasDerivedFrom"}]


def test_deleted_records_stay_flagged(loop: Loop) -> None:
    with Store(loop.db) as store:
        dsets.delete_dataset(store, loop.child)
    nodes = {n["id"]: n for n in graph_of(loop.db, loop.dataset)["nodes"]}
    assert nodes[loop.child]["deleted"] is True
    assert "deleted" not in nodes[loop.dataset]
    # Deleting the dataset hides its split too (as `jupyter dsi splits` lists it); its runs stay.
    with Store(loop.db) as store:
        dsets.delete_dataset(store, loop.dataset)
    nodes = {n["id"]: n for n in graph_of(loop.db, loop.dataset)["nodes"]}
    assert nodes[loop.split]["deleted"] is True and "deleted" not in nodes[loop.run]


def test_prov_says_a_killed_run_is_interrupted(loop: Loop) -> None:
    with Store(loop.db) as store, store.write() as conn:  # still running, silent for a day: interrupted
        conn.execute("UPDATE jdsi_run SET status = 'running', ended_at = NULL, pid = NULL, "
                     "heartbeat_at = '2026-01-01T00:00:00+00:00' WHERE id = ?", (loop.run,))
    with Store(loop.db, readonly=True) as store:
        prov = json.loads(dsets.export_text(store, loop.dataset, "prov"))
    assert prov["activity"][f"run:{loop.run}"]["jdsi:status"] == "interrupted"


def test_unknown_short_and_ambiguous_ids_are_one_line(loop: Loop, cli: Callable[..., Result]) -> None:
    with Store(loop.db, readonly=True) as store:
        with pytest.raises(LineageError, match="is not the id of a source, method, dataset, split, run, artifact or proposal"):
            lineage(store, "ffffffff-0000")
        with pytest.raises(LineageError, match="too short"):
            lineage(store, loop.dataset[:3])
    res = cli("lineage", "nope-nope", "--db", loop.db)
    assert res.code == 2 and len(res.err_lines) == 1 and "jupyter dsi datasets" in res.err
    # Two records whose ids share a prefix: ambiguous, both named.
    twin = loop.dataset[:8] + str(uuid.uuid4())[8:]
    with Store(loop.db) as store:
        dsets.save_dataset(store, members=["s01"], description="twin", method_id=None, t=None, dataset_id=twin)
    res = cli("lineage", loop.dataset[:8], "--db", loop.db)
    assert res.code == 2 and "ambiguous" in res.err and loop.dataset in res.err and twin in res.err


def test_cli_formats(loop: Loop, cli: Callable[..., Result]) -> None:
    res = cli("lineage", loop.run, "--db", loop.db)
    assert res.code == 0, res.err
    assert json.loads(res.out) == graph_of(loop.db, loop.run)
    dot = cli("lineage", loop.run, "--db", loop.db, "--format", "dot")
    assert dot.out.startswith("digraph lineage {") and f'"{loop.run}" -> "{loop.split}" [label="used"];' in dot.out
    mm = cli("lineage", loop.run, "--db", loop.db, "--format", "mermaid")
    assert mm.out.startswith("flowchart BT\n") and 'n4 -->|"used"| n3' in mm.out


# -- hostile names ---------------------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Any]:
    loop = make_loop(tmp_path, dataset_name=HOSTILE)
    add_run(loop.db, loop.dataset, loop.split, name=HOSTILE)
    return graph_of(loop.db, loop.dataset)


def test_dot_reads_back_every_label_exactly(hostile: dict[str, Any]) -> None:
    pydot = pytest.importorskip("pydot")
    parsed = pydot.graph_from_dot_data(to_dot(hostile))
    assert parsed is not None and len(parsed) == 1
    graph = parsed[0]
    nodes = {n.get_name().strip('"'): n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")}
    assert set(nodes) == {n["id"] for n in hostile["nodes"]}
    one_line = " ".join(HOSTILE.split())
    labels = [nodes[n["id"]].get_label() for n in hostile["nodes"]]
    unescaped = [lab[1:-1].replace('\\"', '"').replace("\\\\", "\\") for lab in labels]
    assert f"dataset: {one_line}" in unescaped
    assert f"run: {one_line} (finished)" in unescaped
    assert len(graph.get_edges()) == len(hostile["edges"])


def _node_available() -> bool:
    root = Path(__file__).resolve().parents[1]
    return shutil.which("node") is not None and (root / "node_modules" / "mermaid").is_dir() \
        and (root / "node_modules" / "jsdom").is_dir()


MERMAID_READER = """
import { JSDOM } from 'jsdom';
const dom = new JSDOM('');
globalThis.window = dom.window; globalThis.document = dom.window.document;
const mermaid = (await import('mermaid')).default;
let text = '';
for await (const chunk of process.stdin) text += chunk;
await mermaid.parse(text);  // registers the diagram types, and throws on a syntax error
const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
const vertices = [...diagram.db.getVertices().values()].map(v => [v.id, v.text]);
const edges = diagram.db.getEdges().map(e => [e.start, e.end, e.text]);
console.log(JSON.stringify({ vertices, edges }));
"""


@pytest.mark.skipif(not _node_available(), reason="node with mermaid and jsdom (npm install) is absent")
def test_mermaid_parses_with_every_label_as_text(hostile: dict[str, Any], tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    script = root / f".mermaid-reader-{uuid.uuid4().hex}.mjs"  # in the repo: node resolves its modules
    script.write_text(MERMAID_READER, encoding="utf-8")
    try:
        out = subprocess.run(["node", str(script)], input=to_mermaid(hostile), capture_output=True,
                             text=True, timeout=120, cwd=root)
    finally:
        script.unlink()
    assert out.returncode == 0, out.stderr
    read = json.loads(out.stdout.strip().splitlines()[-1])
    assert [v[0] for v in read["vertices"]] == [f"n{i}" for i in range(len(hostile["nodes"]))]
    assert len(read["edges"]) == len(hostile["edges"])
    assert {e[2] for e in read["edges"]} == {"used", "wasDerivedFrom", "wasGeneratedBy"}
    # Mermaid keeps each entity code as a placeholder until it draws the character: decoded, every
    # label reads back exactly, hostile text included, and none of it became syntax.
    decode = lambda text: re.sub("\ufb02\u00b0\u00b0(\\d+)\u00b6\u00df", lambda m: chr(int(m[1])), text)  # noqa: E731
    labels = [decode(v[1]) for v in read["vertices"]]
    one_line = " ".join(HOSTILE.split())
    assert f"dataset: {one_line}" in labels and f"run: {one_line} (finished)" in labels
    assert labels[0] == "source: simulations.csv"


def test_render_rejects_an_unknown_format(hostile: dict[str, Any]) -> None:
    with pytest.raises(LineageError, match="use json, dot, mermaid"):
        render(hostile, "svg")


# -- PROV-JSON -------------------------------------------------------------------------------


def test_prov_has_splits_runs_and_artifacts(loop: Loop) -> None:
    with Store(loop.db, readonly=True) as store:
        prov = json.loads(dsets.export_text(store, loop.dataset, "prov"))
    ds = f"dataset:{loop.dataset}"
    split, run, art = f"split:{loop.split}", f"run:{loop.run}", f"artifact:{loop.artifact}"
    assert prov["entity"][split]["prov:type"] == "jdsi:Split"
    assert prov["entity"][art] == {"prov:type": "jdsi:Artifact", "prov:label": "model.pt", "jdsi:kind": "model",
                                   "jdsi:sha256": hashlib.sha256(b"abc").hexdigest(),
                                   "jdsi:sizeBytes": 3}
    assert prov["activity"][run]["prov:type"] == "jdsi:TrainingRun"
    assert prov["activity"][f"run:{loop.bare_run}"]["jdsi:status"] == "failed"
    used = {(u["prov:activity"], u["prov:entity"]) for u in prov["used"].values()}
    assert {(run, split), (f"run:{loop.bare_run}", ds)} <= used
    generated = {(g["prov:entity"], g.get("prov:activity")) for g in prov["wasGeneratedBy"].values()}
    assert (art, run) in generated
    derived = {(d["prov:generatedEntity"], d["prov:usedEntity"]) for d in prov["wasDerivedFrom"].values()}
    assert (split, ds) in derived
    for prefix in ("split", "run", "artifact"):
        assert prov["prefix"][prefix] == f"urn:jupyterlab-dsi:{prefix}:"
    # Every relation names things the document defines.
    defined = set(prov["entity"]) | set(prov["activity"]) | set(prov["agent"])
    for relations in ("used", "wasGeneratedBy", "wasDerivedFrom", "wasAssociatedWith"):
        for value in prov[relations].values():
            assert {v for k, v in value.items() if k != "prov:time"} <= defined, value
    # The child dataset's PROV has no runs: they used its parent.
    with Store(loop.db, readonly=True) as store:
        assert not [k for k in dsets.export_prov(store, loop.child)["activity"] if k.startswith("run:")]


# -- the server's endpoint -------------------------------------------------------------------

PORT = 8933
TOKEN = "lineage-" + uuid.uuid4().hex


def call(url: str, token: str | None = TOKEN) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("lineage-server")
    loop = make_loop(base / "work")  # its source and artifact files lie under the server's root
    root = base
    shutil.copy(loop.db, root / "ens.sqlite")
    (root / ".hidden").mkdir()
    shutil.copy(loop.db, root / ".hidden" / "ens.sqlite")
    outside = tmp_path_factory.mktemp("elsewhere") / "outside.sqlite"
    shutil.copy(loop.db, outside)
    env = {**os.environ, "JUPYTER_TOKEN": TOKEN}
    log = base / "server.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={PORT}", "--ServerApp.port_retries=50", "--ServerApp.open_browser=False",
             f"--IdentityProvider.token={TOKEN}", "--ServerApp.allow_root=True"],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
        )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None:  # the port the server took (8933, or the next free one)
            for line in log.read_text(errors="replace").splitlines():
                if "http://127.0.0.1:" in line and "/lab" not in line:
                    port = line.split("http://127.0.0.1:")[1].split("/")[0]
                    if port.isdigit():
                        url = f"http://127.0.0.1:{port}"
            if url is None:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"jupyter server did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.3)
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield {"api": f"{url}/jupyterlab-dsi/lineage", "loop": loop, "outside": outside}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_endpoint_answers_the_lineage_json(server: dict[str, Any]) -> None:
    loop: Loop = server["loop"]
    status, body = call(f"{server['api']}?path=ens.sqlite&id={loop.run[:8]}")
    assert status == 200, body
    # Files are named relative to the server's root, where the panel opens them.
    expected = graph_of(loop.db, loop.run)
    root = loop.db.parent.parent
    for node in expected["nodes"]:
        if "path" in node:
            node["path"] = Path(node["path"]).resolve().relative_to(root.resolve()).as_posix()
    assert body == expected
    assert {n["kind"]: n.get("path") for n in body["nodes"]}["artifact"].startswith("work/")


def test_endpoint_keeps_only_the_name_of_a_file_outside_the_root(server: dict[str, Any], tmp_path: Path) -> None:
    loop: Loop = server["loop"]
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"weights")
    run = start_run(loop.db.parent.parent / "ens.sqlite", dataset=loop.dataset, name="outside")
    run.log_artifact(elsewhere, kind="model")
    run.end()
    status, body = call(f"{server['api']}?path=ens.sqlite&id={run.id}")
    assert status == 200, body
    (artifact,) = [n for n in body["nodes"] if n["kind"] == "artifact"]
    assert artifact["label"] == "elsewhere.bin" and "path" not in artifact
    assert str(tmp_path) not in json.dumps(body)


def test_endpoint_needs_authentication(server: dict[str, Any]) -> None:
    loop: Loop = server["loop"]
    status, _ = call(f"{server['api']}?path=ens.sqlite&id={loop.run}", token=None)
    assert status == 403
    status, _ = call(f"{server['api']}?path=ens.sqlite&id={loop.run}", token="wrong")
    assert status == 403


def test_endpoint_errors_are_one_line(server: dict[str, Any]) -> None:
    status, body = call(f"{server['api']}?path=ens.sqlite&id=ffffffff-0000")
    assert status == 422 and "is not the id of" in body["message"] and "\n" not in body["message"]
    assert str(server["loop"].db.parent) not in body["message"]  # no server path leaks
    status, body = call(f"{server['api']}?path=ens.sqlite")
    assert status == 400 and body["message"] == "give the record's id: ?id=ID (or a unique prefix of it)"


def test_endpoint_is_confined_to_the_root(server: dict[str, Any]) -> None:
    loop: Loop = server["loop"]
    for path in (f"../{server['outside'].name}", str(server["outside"]), ".hidden/ens.sqlite", "missing.sqlite"):
        status, body = call(f"{server['api']}?path={urllib.parse.quote(path)}&id={loop.run}")
        assert status in (403, 404), (path, status, body)
        assert "message" in body

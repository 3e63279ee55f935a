"""Lineage graphs: where a record came from and what was made from it, in PROV's words.

Nodes are the records of one database (sources, methods, datasets, splits, runs, artifacts,
proposals);
edges point from the newer record to what it came from:

    method   --used-->           source   (the sources of its ground truth's and members' data)
    method   --wasDerivedFrom--> method   (a recomputed method: its parent)
    dataset  --wasDerivedFrom--> method   (its method; without one: its members' sources)
    dataset  --wasDerivedFrom--> dataset  (its parent)
    split    --wasDerivedFrom--> dataset
    run      --used-->           split    (else its dataset, when it has no split)
    artifact --wasGeneratedBy--> run
    proposal --wasDerivedFrom--> run      (whose sigma2 made its study set; else the run's dataset)
    source   --wasDerivedFrom--> proposal (its simulations were run for the proposal's points)

The graph of a record holds all its ancestors and all its descendants, not its siblings'
subtrees. dot and mermaid renderings treat every label as text: no user string can end a quoted
label or start a statement.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from .errors import DsiError
from .store import Store, resolve_prefix

KINDS = ("source", "method", "dataset", "split", "run", "artifact", "proposal")
FORMATS = ("json", "dot", "mermaid")


class LineageError(DsiError):
    """An id that names no record (or several), with the way to find the right one."""


@dataclass
class Graph:
    """Every record of the database as a node, every link as an edge (child -> parent)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> node (with "_created")
    parents: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def node(self, record_id: str, kind: str, label: str, created: str | None) -> None:
        self.nodes[record_id] = {"id": record_id, "kind": kind, "label": label, "_created": created or ""}

    def edge(self, child: str | None, parent: str | None, relation: str) -> None:
        # A link to a record that is not there (a hand-edited file) is left out, never a dangling edge.
        if child in self.nodes and parent in self.nodes and (parent, relation) not in self.parents[child]:
            self.parents[child].append((parent, relation))
            self.children[parent].append(child)


def _file_name(path: str) -> str:
    return PurePath(path).name or path


def _split_label(names_text: str, seed: int) -> str:
    try:
        names = json.loads(names_text)
    except ValueError:
        names = []
    parts = "/".join(str(n) for n in names) if isinstance(names, list) and names else "split"
    return f"{parts} (seed {seed})"


def _proposal_label(n: int, policy_text: str) -> str:
    try:
        policy = json.loads(policy_text)
    except ValueError:
        policy = {}
    seed = policy.get("seed") if isinstance(policy, dict) else None
    return f"{n} points (seed {seed})"


def load_graph(store: Store) -> Graph:
    """The whole graph of ``store``, from a handful of queries (no per-record round trips)."""
    q = store.conn.execute
    g = Graph()
    for r in q("SELECT id, path, ingested_at FROM jdsi_source"):
        g.node(r["id"], "source", _file_name(r["path"]), r["ingested_at"])
        g.nodes[r["id"]]["path"] = r["path"]  # files are opened from the graph (the panel's lineage)
    methods = q(
        """SELECT m.id, m.norm, m.created_at, m.parent_id, gt.sim_id AS gt_sim, s.source_id AS gt_source
           FROM jdsi_method m JOIN jdsi_ground_truth gt ON gt.id = m.ground_truth_id
           LEFT JOIN jdsi_simulation s ON s.sim_id = gt.sim_id"""
    ).fetchall()
    for r in methods:
        g.node(r["id"], "method", f"{r['norm']} vs {r['gt_sim']}", r["created_at"])
    datasets = q("SELECT id, name, created_at, method_id, parent_id FROM jdsi_dataset").fetchall()
    for r in datasets:
        g.node(r["id"], "dataset", r["name"], r["created_at"])
    splits = q("SELECT id, dataset_id, names, seed, created_at FROM jdsi_split").fetchall()
    for r in splits:
        g.node(r["id"], "split", _split_label(r["names"], r["seed"]), r["created_at"])
    from .runs import derived_status  # a stored 'running' whose process is gone shows 'interrupted'

    runs = q("SELECT id, name, status, dataset_id, split_id, started_at, heartbeat_at, host, pid "
             "FROM jdsi_run").fetchall()
    for r in runs:
        g.node(r["id"], "run", f"{r['name']} ({derived_status(r)})", r["started_at"])
    artifacts = q("SELECT id, run_id, path, created_at FROM jdsi_artifact").fetchall()
    for r in artifacts:
        g.node(r["id"], "artifact", _file_name(r["path"]), r["created_at"])
        g.nodes[r["id"]]["path"] = r["path"]
    proposals = q("SELECT id, n, policy, run_id, dataset_id, created_at FROM jdsi_proposal").fetchall()
    for r in proposals:
        g.node(r["id"], "proposal", _proposal_label(r["n"], r["policy"]), r["created_at"])

    # Edges, in the order of the module's table (lineage() sorts them for output).
    for r in methods:
        for source_id in {r["gt_source"], *_method_sources(store, r["id"])}:
            g.edge(r["id"], source_id, "used")
        g.edge(r["id"], r["parent_id"], "wasDerivedFrom")
    for r in datasets:
        g.edge(r["id"], r["method_id"], "wasDerivedFrom")
        g.edge(r["id"], r["parent_id"], "wasDerivedFrom")
    for r in q(
        """SELECT DISTINCT m.dataset_id, s.source_id
           FROM jdsi_dataset_member m JOIN jdsi_simulation s ON s.sim_id = m.sim_id
           JOIN jdsi_dataset d ON d.id = m.dataset_id WHERE d.method_id IS NULL"""
    ):
        g.edge(r["dataset_id"], r["source_id"], "wasDerivedFrom")
    for r in splits:
        g.edge(r["id"], r["dataset_id"], "wasDerivedFrom")
    for r in runs:
        g.edge(r["id"], r["split_id"] if r["split_id"] is not None else r["dataset_id"], "used")
    for r in artifacts:
        g.edge(r["id"], r["run_id"], "wasGeneratedBy")
    for r in proposals:
        g.edge(r["id"], r["run_id"] if r["run_id"] is not None else r["dataset_id"], "wasDerivedFrom")
    for r in q("""SELECT DISTINCT s.source_id, l.proposal_id FROM jdsi_sim_proposal l
                  JOIN jdsi_simulation s ON s.sim_id = l.sim_id"""):
        g.edge(r["source_id"], r["proposal_id"], "wasDerivedFrom")

    # A tombstone hides its record and the splits made of it (as `jupyter dsi splits` says);
    # runs and artifacts stay as they were: what was trained happened.
    for r in q("""SELECT record_id FROM jdsi_tombstone UNION
                  SELECT s.id FROM jdsi_split s JOIN jdsi_tombstone t ON t.record_id = s.dataset_id"""):
        if r["record_id"] in g.nodes:
            g.nodes[r["record_id"]]["deleted"] = True
    from .staleness import stale_reasons

    for record_id, reasons in stale_reasons(store).items():
        if record_id in g.nodes:
            g.nodes[record_id]["stale"] = reasons
    return g


def _method_sources(store: Store, method_id: str) -> list[str]:
    """The sources of the simulations a method compared. Its members are read at its first step
    through the (method_id, t, sim_id) key: one step of 10,000 simulations, never every step of
    every method (a full scan of the distances takes seconds at 10,000 x 40 x a few methods)."""
    first = store.conn.execute("SELECT min(t) FROM jdsi_distance WHERE method_id = ?", (method_id,)).fetchone()[0]
    if first is None:
        return []
    return [r[0] for r in store.conn.execute(
        """SELECT DISTINCT s.source_id FROM jdsi_distance d CROSS JOIN jdsi_simulation s ON s.sim_id = d.sim_id
           WHERE d.method_id = ? AND d.t = ? ORDER BY s.source_id""", (method_id, first))]


def resolve(store: Store, ref: str) -> tuple[str, str]:
    """(id, kind) of the record ``ref`` names: an id or a unique prefix of >= 4 characters of a
    source, method, dataset, split, run, artifact or proposal."""
    if isinstance(ref, str):
        ref = ref.strip()
    # Every kind's ids as one table (jdsi_<kind>, from the fixed KINDS, never from input).
    every = " UNION ALL ".join(f"SELECT id, '{kind}' AS kind, {rank} AS rank FROM jdsi_{kind}"
                               for rank, kind in enumerate(KINDS))
    unknown = ("{ref!r} is not the id of a source, method, dataset, split, run, artifact or proposal of {path.name}; "
               "see `jupyter dsi datasets`, `jupyter dsi methods` or `jupyter dsi runs`")
    row = resolve_prefix(store, f"({every})", ref, what="record", error=LineageError,
                         columns="id, kind, kind || ' ' || id AS shown", order="rank, id", messages={
                             "none yet": unknown, "unknown": unknown,
                             "too short": "id prefix {ref!r} is too short: give at least {min} characters of the id",
                             "ambiguous": "id prefix {ref!r} is ambiguous: it starts {count} ids ({shown}{more}); "
                                          "give more characters"})
    return row["id"], row["kind"]


def _reach(start: str, step: dict[str, list[Any]], pick: Any) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in (pick(x) for x in step.get(todo.pop(), [])):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def lineage(store: Store, ref: str) -> dict[str, Any]:
    """The lineage of the record ``ref`` names: ``{"root", "nodes", "edges"}`` with nodes
    ``{"id", "kind", "label"}`` (plus ``"path"`` of a source's or artifact's file, as recorded,
    ``"deleted": true`` and ``"stale": [reasons]`` when so)
    ordered by kind, creation time and id, and edges ``{"source", "target", "relation"}``."""
    root, _ = resolve(store, ref)
    g = load_graph(store)
    keep = _reach(root, g.parents, lambda p: p[0]) | _reach(root, g.children, lambda c: c)
    order = sorted(keep, key=lambda i: (KINDS.index(g.nodes[i]["kind"]), g.nodes[i]["_created"], i))
    position = {record_id: n for n, record_id in enumerate(order)}
    nodes = [{k: v for k, v in g.nodes[i].items() if k != "_created"} for i in order]
    edges = sorted(
        ((child, parent, relation) for child in order for parent, relation in g.parents.get(child, [])
         if parent in keep),
        key=lambda e: (position[e[0]], position[e[1]], e[2]),
    )
    return {"root": root, "nodes": nodes,
            "edges": [{"source": s, "target": t, "relation": r} for s, t, r in edges]}


# -- renderings ------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", str(text)).strip()


def _dot_string(text: str) -> str:
    """A DOT double-quoted string holding ``text`` literally: backslashes are escapes in DOT
    (and in Graphviz labels, where \\N or \\G would substitute names), quotes end the string."""
    return '"' + _one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _display(node: dict[str, Any]) -> str:
    label = f"{node['kind']}: {node['label']}"
    if node.get("deleted"):
        label += " [deleted]"
    if node.get("stale"):
        label += " [stale]"
    return label


_DOT_SHAPES = {"source": "note", "method": "component", "dataset": "cylinder", "split": "folder",
               "run": "box", "artifact": "note", "proposal": "parallelogram"}


def to_dot(graph: dict[str, Any]) -> str:
    """Graphviz DOT text of a :func:`lineage` graph (``dot -Tsvg``)."""
    lines = ["digraph lineage {", "  rankdir=BT;", "  node [fontname=\"Helvetica\"];"]
    for node in graph["nodes"]:
        style = ", style=dashed" if node.get("deleted") else ""
        lines.append(f"  {_dot_string(node['id'])} [label={_dot_string(_display(node))}, "
                     f"shape={_DOT_SHAPES[node['kind']]}{style}];")
    for e in graph["edges"]:
        lines.append(f"  {_dot_string(e['source'])} -> {_dot_string(e['target'])} [label={_dot_string(e['relation'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 .,:_/()+=·-]")  # safe inside a quoted label


def _mermaid_text(text: str) -> str:
    """Mermaid label text: all but letters, digits, spaces and plain punctuation as an entity code (#35;),
    which Mermaid shows as the character and never reads as syntax (quotes, brackets, -->)."""
    return "".join(c if _MERMAID_PLAIN.fullmatch(c) else f"#{ord(c)};" for c in _one_line(text))


def to_mermaid(graph: dict[str, Any]) -> str:
    """Mermaid flowchart text of a :func:`lineage` graph; node ids are n0, n1, ... in node order."""
    ids = {node["id"]: f"n{i}" for i, node in enumerate(graph["nodes"])}
    lines = ["flowchart BT"]
    for node in graph["nodes"]:
        lines.append(f'  {ids[node["id"]]}["{_mermaid_text(_display(node))}"]')
    for e in graph["edges"]:
        lines.append(f'  {ids[e["source"]]} -->|"{_mermaid_text(e["relation"])}"| {ids[e["target"]]}')
    return "\n".join(lines) + "\n"


def render(graph: dict[str, Any], fmt: str) -> str:
    """The graph as ``fmt``: json (indented), dot or mermaid."""
    if fmt == "json":
        return json.dumps(graph, indent=2, ensure_ascii=False) + "\n"
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    raise LineageError(f"unknown lineage format {fmt!r}; use {', '.join(FORMATS)}")


# -- PROV-JSON -------------------------------------------------------------------------------

PROV_PREFIXES = {
    "split": "urn:jupyterlab-dsi:split:",
    "run": "urn:jupyterlab-dsi:run:",
    "artifact": "urn:jupyterlab-dsi:artifact:",
}


def add_prov_loop(store: Store, dataset_id: str, doc: dict[str, Any], agent_of: Any) -> None:
    """Add to a dataset's PROV-JSON ``doc`` what was made from the dataset: its splits (entities
    derived from it), the runs that used it or one of its splits (activities) and the artifacts
    they generated (entities). ``agent_of(author)`` gives the agent's QName, adding the agent."""
    from .staleness import stale_reasons

    stale = stale_reasons(store)
    deleted = {r[0] for r in store.conn.execute("SELECT record_id FROM jdsi_tombstone")}
    entity, activity = doc["entity"], doc.setdefault("activity", {})
    ds = f"dataset:{dataset_id}"

    def flags(attrs: dict[str, Any], record_id: str) -> dict[str, Any]:
        # PROV attribute values are strings or numbers: reasons joined, present only when stale.
        if record_id in stale:
            attrs["jdsi:stale"] = "; ".join(stale[record_id])
        if record_id in deleted:
            attrs["jdsi:deleted"] = "true"
        return attrs

    def relation(kind: str, key: str, value: dict[str, Any]) -> None:
        doc.setdefault(kind, {})[key] = value

    q = store.conn.execute
    for r in q("SELECT id, names, fractions, seed, stratify, digest, created_at FROM jdsi_split "
               "WHERE dataset_id = ? ORDER BY created_at, id", (dataset_id,)):
        key = f"split:{r['id']}"
        attrs = {"prov:type": "jdsi:Split", "prov:label": _split_label(r["names"], r["seed"]),
                 "jdsi:names": r["names"], "jdsi:fractions": r["fractions"], "jdsi:seed": r["seed"],
                 "jdsi:digest": r["digest"]}
        if r["stratify"] is not None:
            attrs["jdsi:stratify"] = r["stratify"]
        entity[key] = flags(attrs, r["id"])
        relation("wasDerivedFrom", f"_:split-{r['id']}", {"prov:generatedEntity": key, "prov:usedEntity": ds})
        relation("wasGeneratedBy", f"_:split-{r['id']}", {"prov:entity": key, "prov:time": r["created_at"]})
    runs = q(
        """SELECT id, name, status, split_id, started_at, ended_at, author, heartbeat_at, host, pid FROM jdsi_run
           WHERE dataset_id = ? OR split_id IN (SELECT id FROM jdsi_split WHERE dataset_id = ?)
           ORDER BY started_at, id""", (dataset_id, dataset_id)
    ).fetchall()
    from .runs import derived_status  # as every other view: a killed run reads interrupted

    for r in runs:
        act = f"run:{r['id']}"
        attrs = {"prov:type": "jdsi:TrainingRun", "prov:label": r["name"], "prov:startTime": r["started_at"],
                 "jdsi:status": derived_status(r)}
        if r["ended_at"] is not None:
            attrs["prov:endTime"] = r["ended_at"]
        activity[act] = flags(attrs, r["id"])
        used = ds if r["split_id"] is None else f"split:{r['split_id']}"
        entity.setdefault(used, {"prov:type": "jdsi:Split"})  # a split of another dataset: named anyway
        relation("used", f"_:run-{r['id']}", {"prov:activity": act, "prov:entity": used})
        relation("wasAssociatedWith", f"_:run-{r['id']}", {"prov:activity": act, "prov:agent": agent_of(r["author"])})
        for a in q("SELECT id, kind, path, size_bytes, sha256, created_at FROM jdsi_artifact "
                   "WHERE run_id = ? ORDER BY created_at, id", (r["id"],)):
            key = f"artifact:{a['id']}"
            # The file's name, never its absolute path: the export travels, the path does not.
            entity[key] = flags({"prov:type": "jdsi:Artifact", "prov:label": _file_name(a["path"]),
                                 "jdsi:kind": a["kind"], "jdsi:sha256": a["sha256"],
                                 "jdsi:sizeBytes": a["size_bytes"]}, a["id"])
            relation("wasGeneratedBy", f"_:artifact-{a['id']}",
                     {"prov:entity": key, "prov:activity": act, "prov:time": a["created_at"]})
    if dataset_id in stale:
        entity[ds]["jdsi:stale"] = "; ".join(stale[dataset_id])
    doc["prefix"].update(PROV_PREFIXES)

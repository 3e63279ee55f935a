"""Staleness: upstream changes flagged on everything downstream of them (issue 15, section 4).

:func:`verify_sources` re-hashes every ingested source file and every simulation data file. A
file whose bytes changed (or that is gone), or a method recomputed (a newer method whose
parent_id names it), is a *cause*; every record downstream of a cause in the lineage graph
(methods, datasets, splits, runs, artifacts) gets a row in ``jdsi_stale`` naming the cause (for
changed files their source, one row summing up its files; else the recomputed method's successor)
and the reason in one line, and the changed source or simulation gets one with its own reason. A later verify that
finds the cause fixed removes its rows. Both happen in one transaction with ``stale.mark`` and
``stale.clear`` events, so the panel's replica sees them like any other write.

Simulations ingested later never change a saved dataset: :func:`new_matches` only counts them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .store import Store, now

Progress = Callable[[int, int], None]
# The order stale records are listed in: upstream first, as lineage orders its nodes.
ORDER = ("source", "simulation", "method", "dataset", "split", "run", "artifact")
HASH_PREFIX = 12  # characters of a SHA-256 shown in a reason: enough to tell two versions apart


@dataclass(frozen=True)
class SourceFile:
    """One file the database recorded a SHA-256 for: an ingested source or a simulation's data."""

    record_id: str  # the source id, or the simulation's sim_id
    kind: str  # 'source' | 'simulation'
    path: Path
    sha256: str
    shown: str  # how a reason names it
    source_id: str  # the source it came with (a source: itself)
    source_name: str


def source_files(store: Store) -> list[SourceFile]:
    """Every ingested source file and every simulation data file, with the SHA-256 at ingest."""
    out = []
    sources = store.conn.execute("SELECT id, path, sha256 FROM jdsi_source ORDER BY ingested_at, id").fetchall()
    for r in sources:
        path = Path(r["path"])
        out.append(SourceFile(r["id"], "source", path, r["sha256"], f"source {path.name}", r["id"], path.name))
    for r in store.conn.execute(
        """SELECT s.sim_id, s.path, s.sha256, s.source_id, src.path AS source FROM jdsi_simulation s
           JOIN jdsi_source src ON src.id = s.source_id
           WHERE s.path IS NOT NULL AND s.sha256 IS NOT NULL ORDER BY s.sim_id"""
    ):
        # Relative to the source's folder, as ingest stored it and post-processing resolves it.
        path = Path(r["source"]).parent / r["path"]
        out.append(SourceFile(r["sim_id"], "simulation", path, r["sha256"],
                              f"simulation {r['sim_id']}: data file {r['path']}", r["source_id"],
                              Path(r["source"]).name))
    return out


def _changed(file: SourceFile) -> str | None:
    """Why ``file`` no longer holds the bytes that were ingested, or None when it does."""
    from .ingest import sha256_file

    try:
        digest, _ = sha256_file(file.path)
    except FileNotFoundError:
        return f"{file.shown} is missing ({file.path})"
    except OSError as exc:
        return f"{file.shown} cannot be read ({exc.strerror or exc})"
    if digest == file.sha256:
        return None
    return (f"{file.shown} changed since ingest (sha256 {file.sha256[:HASH_PREFIX]} -> "
            f"{digest[:HASH_PREFIX]})")


def _downstream(graph: Any, starts: set[str]) -> set[str]:
    """``starts`` and every record made from them, following lineage edges downwards. A method
    recomputed from another is not made from the old one's results, so method -> method is not
    followed (the new method is reached through the data it used, when that changed)."""
    seen = set(starts)
    todo = list(starts)
    while todo:
        node = todo.pop()
        for child in graph.children.get(node, []):
            if child in seen or graph.nodes[node]["kind"] == graph.nodes[child]["kind"] == "method":
                continue
            seen.add(child)
            todo.append(child)
    return seen


def _users_of(store: Store, sim_ids: set[str]) -> dict[str, set[str]]:
    """sim_id -> the methods that compared it (as ground truth or member) and the datasets
    holding it, for the simulations in ``sim_ids`` (one pass over the distances, not one per sim)."""
    users: dict[str, set[str]] = {sid: set() for sid in sim_ids}
    if not sim_ids:
        return users
    rows = store.conn.execute(
        """SELECT g.sim_id, m.id FROM jdsi_method m JOIN jdsi_ground_truth g ON g.id = m.ground_truth_id
           UNION SELECT DISTINCT sim_id, method_id FROM jdsi_distance
           UNION SELECT sim_id, dataset_id FROM jdsi_dataset_member"""
    )
    for sid, record_id in rows:
        if sid in users:
            users[sid].add(record_id)
    return users


def _marks(store: Store, changed: dict[SourceFile, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(record_id, cause_id) -> (kind, reason) for every record downstream of a cause."""
    from .lineage import load_graph

    graph = load_graph(store)
    marks: dict[tuple[str, str], tuple[str, str]] = {}

    def mark(records: set[str], cause: str, reason: str) -> None:
        for record_id in records:
            if record_id in graph.nodes:
                marks[(record_id, cause)] = (graph.nodes[record_id]["kind"], reason)

    # A changed file marks itself with its own reason; what depends on it gets one mark per source
    # (cause_id: the source), whose reason sums up the source's changed files that reach it, so a
    # regenerated ensemble of 10,000 files gives each dataset one line, not 10,000.
    users = _users_of(store, {f.record_id for f in changed if f.kind == "simulation"})
    reach: dict[tuple[str, str], list[tuple[SourceFile, str]]] = defaultdict(list)
    for file, reason in changed.items():
        marks[(file.record_id, file.record_id)] = (file.kind, reason)
        starts = {file.record_id} if file.kind == "source" else users[file.record_id]
        for record_id in _downstream(graph, starts) - {file.record_id}:
            reach[(record_id, file.source_id)].append((file, reason))
    for (record_id, source_id), causes in reach.items():
        mark({record_id}, source_id, _summed_up(causes))
    for r in store.conn.execute(
        """SELECT old.id AS old_id, old.norm, g.sim_id, new.id AS new_id, new.created_at
           FROM jdsi_method new JOIN jdsi_method old ON old.id = new.parent_id
           JOIN jdsi_ground_truth g ON g.id = old.ground_truth_id"""
    ).fetchall():
        if _same_distances(store, r["old_id"], r["new_id"]):
            continue  # recomputed to the same numbers: what was chosen on them still holds
        reason = (f"method {r['old_id'][:8]} ({r['norm']} vs {r['sim_id']}) was recomputed as "
                  f"{r['new_id'][:8]} at {r['created_at']}")
        made = {c for c in graph.children.get(r["old_id"], []) if graph.nodes[c]["kind"] != "method"}
        mark(_downstream(graph, made), r["new_id"], reason)
    return marks


def _same_distances(store: Store, old: str, new: str) -> bool:
    """Whether the newer method holds every distance of the older one, bit for bit. It may hold
    more: simulations ingested since then change no dataset chosen on the older numbers."""
    differing = store.conn.execute(
        """SELECT 1 FROM jdsi_distance a LEFT JOIN jdsi_distance b
             ON b.method_id = ? AND b.t = a.t AND b.sim_id = a.sim_id
           WHERE a.method_id = ? AND (b.sim_id IS NULL OR a.d_shock IS NOT b.d_shock
             OR a.d_edge IS NOT b.d_edge OR a.d_density IS NOT b.d_density) LIMIT 1""",
        (new, old),
    ).fetchone()
    return differing is None


SHOWN_SIMULATIONS = 5


def _summed_up(causes: list[tuple[SourceFile, str]]) -> str:
    """One line for the changed files of one source that reach a record: the source file's own
    reason, then the one simulation's, or how many simulation files changed and the first ids."""
    own = [reason for file, reason in causes if file.kind == "source"]
    sims = sorted((file.record_id, reason) for file, reason in causes if file.kind == "simulation")
    if len(sims) == 1:
        own.append(sims[0][1])
    elif sims:
        ids = ", ".join(sid for sid, _ in sims[:SHOWN_SIMULATIONS]) + (", ..." if len(sims) > SHOWN_SIMULATIONS else "")
        name = next(file.source_name for file, _ in causes)
        own.append(f"{len(sims)} simulation files of source {name} changed since ingest or are missing ({ids})")
    return "; ".join(own)


def verify_sources(store: Store, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Re-hash every source and simulation file, record what is stale now (and clear what no
    longer is) in one transaction; return the stale records: ``{"id", "kind", "reasons"}`` each,
    upstream first."""
    files = source_files(store)
    changed: dict[SourceFile, str] = {}
    for done, file in enumerate(files, 1):  # hashing stays outside the write lock: it takes long
        reason = _changed(file)
        if reason is not None:
            changed[file] = reason
        if progress is not None:
            progress(done, len(files))
    with store.write() as conn:
        marks = _marks(store, changed)
        found = {(r["record_id"], r["cause_id"]): (r["kind"], r["reason"])
                 for r in conn.execute("SELECT record_id, cause_id, kind, reason FROM jdsi_stale")}
        cleared: dict[str, list[str]] = defaultdict(list)
        for key in sorted(set(found) - set(marks)):
            conn.execute("DELETE FROM jdsi_stale WHERE record_id = ? AND cause_id = ?", key)
            cleared[key[0]].append(key[1])
        added: dict[str, list[str]] = defaultdict(list)
        at = now()
        for key in sorted(marks):
            kind, reason = marks[key]
            if key not in found:
                conn.execute(
                    "INSERT INTO jdsi_stale (record_id, kind, cause_id, reason, found_at) VALUES (?, ?, ?, ?, ?)",
                    (*key[:1], kind, key[1], reason, at),
                )
                added[key[0]].append(key[1])
            elif found[key][1] != reason:  # the same cause, changed again: the reason says how now
                conn.execute("UPDATE jdsi_stale SET reason = ? WHERE record_id = ? AND cause_id = ?",
                             (reason, *key))
                added[key[0]].append(key[1])
        for record_id, causes in cleared.items():
            Store.log_event(conn, "stale.clear", record_id, {"causes": causes})
        for record_id, causes in added.items():
            Store.log_event(conn, "stale.mark", record_id, {"kind": marks[(record_id, causes[0])][0], "causes": causes})
    return stale_records(store)


def stale_records(store: Store) -> list[dict[str, Any]]:
    """The records marked stale: ``{"id", "kind", "reasons"}``, upstream kinds first, then by id."""
    by_record: dict[str, dict[str, Any]] = {}
    for r in store.conn.execute("SELECT record_id, kind, reason FROM jdsi_stale ORDER BY record_id, reason"):
        entry = by_record.setdefault(r["record_id"], {"id": r["record_id"], "kind": r["kind"], "reasons": []})
        entry["reasons"].append(r["reason"])
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(by_record.values(), key=lambda e: (rank.get(e["kind"], len(ORDER)), e["id"]))


def stale_reasons(store: Store) -> dict[str, list[str]]:
    """record id -> the reasons it is stale (sorted); records that are fresh are absent."""
    return {e["id"]: e["reasons"] for e in stale_records(store)}


def reasons_of(store: Store, record_id: str) -> list[str]:
    """The reasons one record is stale ([] when it is fresh)."""
    return [r[0] for r in store.conn.execute(
        "SELECT reason FROM jdsi_stale WHERE record_id = ? ORDER BY reason", (record_id,))]


def new_matches(store: Store, dataset_ref: str) -> int:
    """How many simulations ingested after the dataset was saved now match its filter at its
    method and step (sampling aside): the panel's "N new simulations match this dataset's
    filter". The dataset itself never changes."""
    from .datasets import get_dataset, members
    from .query import select

    record = get_dataset(store, dataset_ref)
    if record["method"] is None and not record["filter"]:
        return 0  # chosen by hand: no filter to match
    later = {r[0] for r in store.conn.execute(
        """SELECT s.sim_id FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id
           WHERE src.ingested_at > ?""", (record["created_at"],))}
    if not later:
        return 0
    selection = select(store, record["method"], record["time"], record["filter"], record["weights"])
    matched = {row[0] for row in selection.rows} & later
    return len(matched - set(members(store, record["id"])))


def summary(reasons: list[str], shown: int = 3) -> str:
    """Reasons on one line: the first few and how many more."""
    text = "; ".join(reasons[:shown])
    return text + (f"; and {len(reasons) - shown} more" if len(reasons) > shown else "")


__all__ = ["source_files", "verify_sources", "stale_records", "stale_reasons", "reasons_of",
           "new_matches", "summary"]

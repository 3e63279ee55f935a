"""The ``prov`` export: W3C PROV-JSON of a dataset: the simulations and the dataset as entities,
the selection as an activity, the author as agent, what it was derived from, and what was made from
it (its splits, the runs that used it and their artifacts, the proposals derived from those runs or
from it, the sources ingested for those proposals). The datasets saved with it as their parent
are not in it (as before: each names its own parent; `jupyter dsi lineage` draws both ways). The
``prov`` package reads it back (tests/test_exports_prov.py)."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from .. import steps
from ..datasets import get_dataset, members
from ..store import Store
from .record import method_info


def _q(text: str) -> str:
    """A QName local part for any id (percent-encoded: ids may hold spaces, colons, ...)."""
    from urllib.parse import quote

    return quote(text, safe="")


def export_prov(store: Store, ref: str) -> dict[str, Any]:
    """W3C PROV-JSON: the simulations and the dataset as entities, the selection as an activity,
    the author as agent."""
    record = get_dataset(store, ref)
    ids = members(store, record["id"])
    ds = f"dataset:{record['id']}"
    act = f"selection:{record['id']}"
    agent = f"person:{_q(record['author'])}"
    entity: dict[str, Any] = {
        ds: {
            "prov:type": "jdsi:TrainingDataset",
            "prov:label": record["name"],
            "jdsi:description": record["description"],
            "jdsi:digest": record["digest"],
            "jdsi:size": record["size"],
        }
    }
    used: dict[str, Any] = {}
    for i, sid in enumerate(ids, 1):
        key = f"sim:{_q(sid)}"
        entity[key] = {"prov:type": "jdsi:Simulation", "prov:label": sid}
        used[f"_:u{i}"] = {"prov:activity": act, "prov:entity": key}
    if record["method"] is not None:
        mkey = f"method:{record['method']}"
        entity[mkey] = {"prov:type": "jdsi:Method"}
        info = method_info(store, record["method"])
        if info is not None:
            entity[mkey].update({"jdsi:norm": info["norm"], "jdsi:groundTruth": info["ground_truth"]})
        used["_:method"] = {"prov:activity": act, "prov:entity": mkey}
    doc: dict[str, Any] = {
        "prefix": {
            "jdsi": "urn:jupyterlab-dsi:",
            "dataset": "urn:jupyterlab-dsi:dataset:",
            "selection": "urn:jupyterlab-dsi:selection:",
            "sim": "urn:jupyterlab-dsi:simulation:",
            "method": "urn:jupyterlab-dsi:method:",
            "person": "urn:jupyterlab-dsi:person:",
        },
        "entity": entity,
        "activity": {
            act: {
                "prov:type": "jdsi:Selection",
                "prov:startTime": record["created_at"],
                "prov:endTime": record["created_at"],
                "jdsi:selectionKind": record["selection_kind"],
                "jdsi:filter": record["filter"],
                "jdsi:time": "all" if record["time"] is None else record["time"],
                "jdsi:weights": json.dumps(record["weights"]),
                "jdsi:sampling": json.dumps(record["sampling"], sort_keys=True),
            }
        },
        "agent": {agent: {"prov:type": "prov:Person", "prov:label": record["author"]}},
        "wasGeneratedBy": {"_:g1": {"prov:entity": ds, "prov:activity": act, "prov:time": record["created_at"]}},
        "used": used,
        "wasAttributedTo": {"_:a1": {"prov:entity": ds, "prov:agent": agent}},
        "wasAssociatedWith": {"_:w1": {"prov:activity": act, "prov:agent": agent}},
    }
    simulated = steps.simulated_time(store, record["time"])
    if simulated is not None:  # PROV attributes take no null: absent when the source logged no times
        doc["activity"][act]["jdsi:simulatedTime"] = simulated
    if record["parent"] is not None:
        parent = f"dataset:{record['parent']}"
        entity.setdefault(parent, {"prov:type": "jdsi:TrainingDataset"})
        doc["wasDerivedFrom"] = {"_:d1": {"prov:generatedEntity": ds, "prov:usedEntity": parent}}

    def agent_of(author: str) -> str:
        key = f"person:{_q(author)}"
        doc["agent"].setdefault(key, {"prov:type": "prov:Person", "prov:label": author})
        return key

    from ..lineage import add_prov_loop

    add_prov_loop(store, record["id"], doc, agent_of)  # its splits, the runs on it, what they made
    add_proposals(store, record["id"], doc, agent_of)
    return doc


PREFIXES = {
    "proposal": "urn:jupyterlab-dsi:proposal:",
    "source": "urn:jupyterlab-dsi:source:",
}


def add_proposals(store: Store, dataset_id: str, doc: dict[str, Any], agent_of: Any) -> None:
    """The active-learning proposals made from the dataset (issue 12): those recorded against it
    and those whose study set a run on it (or on one of its splits) predicted. Each is an entity
    derived from that run (else from the dataset), attributed to its author; a source ingested
    for a proposal's points (issue 16) is an entity derived from the proposal."""
    entity = doc["entity"]
    runs = {key.split(":", 1)[1] for key in doc.get("activity", {}) if key.startswith("run:")}
    q = store.conn.execute
    rows = q("SELECT id, created_at, author, policy, study_digest, run_id, dataset_id, n FROM jdsi_proposal "
             "ORDER BY created_at, id").fetchall()
    found = [r for r in rows if r["dataset_id"] == dataset_id or r["run_id"] in runs]
    for r in found:
        key = f"proposal:{r['id']}"
        entity[key] = {"prov:type": "jdsi:Proposal", "prov:label": f"{r['n']} proposed parameter sets",
                       "jdsi:policy": r["policy"], "jdsi:studyDigest": r["study_digest"], "jdsi:n": r["n"],
                       "jdsi:createdAt": r["created_at"]}
        used = f"run:{r['run_id']}" if r["run_id"] in runs else f"dataset:{dataset_id}"
        if used.startswith("run:"):
            # A run is an activity: the proposal was generated by what the run's predictions fed.
            doc.setdefault("wasGeneratedBy", {})[f"_:proposal-{r['id']}"] = {
                "prov:entity": key, "prov:activity": used, "prov:time": r["created_at"]}
        else:
            doc.setdefault("wasDerivedFrom", {})[f"_:proposal-{r['id']}"] = {
                "prov:generatedEntity": key, "prov:usedEntity": used}
        doc.setdefault("wasAttributedTo", {})[f"_:proposal-{r['id']}"] = {
            "prov:entity": key, "prov:agent": agent_of(r["author"])}
        for s in q("""SELECT DISTINCT src.id, src.path, src.sha256 FROM jdsi_sim_proposal l
                      JOIN jdsi_simulation sim ON sim.sim_id = l.sim_id
                      JOIN jdsi_source src ON src.id = sim.source_id
                      WHERE l.proposal_id = ? ORDER BY src.id""", (r["id"],)):
            skey = f"source:{s['id']}"
            entity.setdefault(skey, {"prov:type": "jdsi:Source", "prov:label": PurePath(s["path"]).name,
                                     "jdsi:sha256": s["sha256"]})
            doc.setdefault("wasDerivedFrom", {})[f"_:source-{s['id']}-{r['id']}"] = {
                "prov:generatedEntity": skey, "prov:usedEntity": key}
    doc["prefix"].update(PREFIXES)

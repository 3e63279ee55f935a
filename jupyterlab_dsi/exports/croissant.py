"""The ``croissant`` export: MLCommons Croissant 1.1 JSON-LD describing a dataset, with its
Responsible-AI (RAI) fields, and the members CSV beside it that its one record set (``members``)
reads. ``mlcroissant validate`` passes offline and ``mlcroissant.Dataset(jsonld=...).records(
"members")`` yields the stored members (tests/test_exports_croissant.py). The CSV is a FileObject
with its sha256, so a changed members file fails when the records are read."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from .. import feature as ftr
from .. import steps
from ..datasets import get_dataset
from ..store import Store
from . import members as mem
from .record import method_info

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RECORD_SET = "members"

# The @context of Croissant 1.1 (mlcroissant's make_context for a 1.1 document).
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def sampling_text(sampling: dict[str, Any] | None) -> str:
    if sampling is None:
        return "none (every selected simulation)"
    if sampling["kind"] == "p":
        return f"each selected simulation kept with probability p = {sampling['p']!r}, seed {sampling['seed']}"
    return f"target size n = {sampling['n']}, seed {sampling['seed']}"


def method_text(method: dict[str, Any] | None, method_id: str | None) -> str:
    if method is None:
        return "no post-processing method" if method_id is None else f"method {method_id} (not in this database)"
    gt_time = ("each step against the ground truth's same step" if method["gt_time"] is None
               else f"each step against the ground truth's step {method['gt_time']}")
    geometry = f", {method['geometry']} cell volumes" if method.get("geometry") else ""
    return (f"method {method['id']}: distances d_shock, d_edge, d_density by the {method['norm']} norm between each "
            f"simulation's {method.get('field') or 'density'} and the ground truth {method['ground_truth']} "
            f"({gt_time}, matched by {method.get('match_time') or 'index'}{geometry}); "
            f"code {method['code_version']}" + (f"; {method['description']}" if method["description"] else ""))


def preprocessing(store: Store, record: dict[str, Any]) -> list[str]:
    """How the members were chosen, one statement each: the method (its norm and ground truth),
    the step, the feature, the filter string, the selection, the sampling and its seed."""
    simulated = steps.simulated_time(store, record["time"])
    out = [
        method_text(method_info(store, record["method"]), record["method"]),
        f"step: {steps.step_text(record['time'], simulated)}",
        f"feature: {'none' if record['weights'] is None else ftr.formula(record['weights'])}",
        f"filter: {record['filter'] or '(none: every simulation)'}",
        f"selection: {record['selection_kind']}",
        f"sampling: {sampling_text(record['sampling'])}",
        f"digest: {record['digest']} (SHA-256 of the method id, the step and the sorted member ids)",
    ]
    if record["parent"] is not None:
        out.append(f"derived from dataset {record['parent']}")
    return out


def sources(store: Store, dataset_id: str) -> list[dict[str, Any]]:
    """The sources (ingested files) the members came from: id, kind, path, sha256, size."""
    rows = store.conn.execute(
        """SELECT DISTINCT src.id, src.kind, src.path, src.sha256, src.size_bytes, src.ingested_at
           FROM jdsi_dataset_member m JOIN jdsi_simulation s ON s.sim_id = m.sim_id
           JOIN jdsi_source src ON src.id = s.source_id WHERE m.dataset_id = ? ORDER BY src.ingested_at, src.id""",
        (dataset_id,)).fetchall()
    return [dict(r) for r in rows]


def cite_as(record: dict[str, Any]) -> str:
    def braced(text: Any) -> str:  # BibTeX: braces balanced, one line
        line = " ".join(str(text).split())
        return line.replace("{", "(").replace("}", ")")

    return (f"@misc{{jupyterlab-dsi-{record['id']},\n  title = {{{braced(record['name'])}}},\n"
            f"  author = {{{braced(record['author'])}}},\n  year = {{{record['created_at'][:4]}}},\n"
            f"  note = {{jupyterlab-dsi training dataset {record['id']}, digest {record['digest']}}}\n}}")


CSV_ID = "members-csv"  # the FileObject's @id, whatever the CSV's name (mlcroissant takes no blank in an @id)


def field_ids(columns: list[str]) -> dict[str, str]:
    """A field @id per column: ``members/`` and the name with anything but letters, digits, '.',
    '-' and '_' made '_' (mlcroissant takes no blank in an @id, even escaped), unique."""
    out: dict[str, str] = {}
    for column in columns:
        base = f"{RECORD_SET}/{re.sub(r'[^A-Za-z0-9._-]', '_', column) or '_'}"
        candidate, n = base, 1
        while candidate in out.values():
            n += 1
            candidate = f"{base}_{n}"
        out[column] = candidate
    return out


def croissant(store: Store, record: dict[str, Any], table: mem.Table, csv_name: str, csv_sha256: str) -> dict[str, Any]:
    """The Croissant JSON-LD of dataset ``record`` whose members CSV ``csv_name`` (beside it) has
    the sha256 ``csv_sha256``."""
    srcs = sources(store, record["id"])
    names = ", ".join(PurePath(s["path"]).name for s in srcs) or "no recorded source"
    fields = []
    ids = field_ids(table.columns)
    for column, kind in zip(table.columns, table.kinds):
        fields.append({
            "@type": "cr:Field",
            "@id": ids[column],
            "name": column,
            "description": table.descriptions.get(column, column),
            "dataType": "sc:Float" if kind == mem.NUMBER else "sc:Text",
            "source": {"fileObject": {"@id": CSV_ID}, "extract": {"column": column}},
        })
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": record["name"],
        "description": record["description"],
        "identifier": [record["digest"], f"urn:jupyterlab-dsi:dataset:{record['id']}"],
        "citeAs": cite_as(record),
        "creator": {"@type": "sc:Person", "name": record["author"]},
        "dateCreated": record["created_at"],
        "datePublished": record["created_at"],
        # Saved records never change (a change is a new dataset): each is the first version of itself.
        "version": "1.0.0",
        "keywords": ["training dataset", "simulation ensemble", *(p["name"] for p in store.parameters())],
        "isBasedOn": [
            {"@type": "sc:CreativeWork", "name": PurePath(s["path"]).name, "identifier": f"urn:hash::sha256:{s['sha256']}",
             "sha256": s["sha256"], "contentSize": f"{s['size_bytes']} B"}
            for s in srcs
        ],
        # Responsible AI (Croissant RAI): how the data came to be and what it is for.
        "rai:dataCollection": (
            f"Simulation: the {record['size']} members are simulations of an ensemble ingested from {names}; "
            "each one's data file and its SHA-256 at ingest are in the members CSV (path, sha256)."),
        "rai:dataCollectionType": ["Simulation"],
        "rai:dataCollectionRawData": (
            "The simulations' data files (paths relative to the folder of the source they were ingested from), "
            "not copied into this export; the members CSV lists each with its SHA-256."),
        "rai:dataPreprocessingProtocol": preprocessing(store, record),
        "rai:dataUseCases": [record["description"]],
        "rai:dataReleaseMaintenancePlan": (
            "The record is immutable: a changed selection is saved as a new dataset with this one as its parent; "
            "`jupyter dsi verify` recomputes it from the stored method, step, filter and sampling."),
        "distribution": [{
            "@type": "cr:FileObject",
            "@id": CSV_ID,
            "name": csv_name,
            "description": f"The {record['size']} members, one row each, sorted by sim_id.",
            "contentUrl": csv_name,
            "encodingFormat": "text/csv",
            "sha256": csv_sha256,
        }],
        "recordSet": [{
            "@type": "cr:RecordSet",
            "@id": RECORD_SET,
            "name": RECORD_SET,
            "description": "The dataset's members: parameters, the values at its method and step, the data file and its sha256.",
            "key": {"@id": ids["sim_id"]},
            "field": fields,
        }],
    }
    if not srcs:
        del doc["isBasedOn"]
    if record.get("stale"):
        doc["rai:dataLimitations"] = ["Stale: " + "; ".join(record["stale"])]
    return doc


def renamed(doc: dict[str, Any], csv_name: str) -> dict[str, Any]:
    """``doc`` with its members CSV named ``csv_name`` (the FileObject's name and contentUrl)."""
    out = json.loads(json.dumps(doc))
    (csv_file,) = out["distribution"]
    csv_file["name"] = csv_file["contentUrl"] = csv_name
    return out


def prepare(store: Store, ref: str) -> Callable[[str, str], dict[str, str]]:
    """Read what the export needs now; answers ``files(name, csv_name)``: {csv_name: the members
    CSV, name: the Croissant JSON-LD}, which needs the database no more (the server names the files
    only once it writes them). The CSV comes first: it is put in place first, so the JSON-LD never
    names a file not there yet."""
    from . import dumps

    record = get_dataset(store, ref)
    table = mem.table(store, record)
    csv_text = mem.to_csv(table)
    sha = hashlib.sha256(csv_text.encode("utf-8")).hexdigest()
    doc = croissant(store, record, table, "members.csv", sha)
    return lambda name, csv_name: {csv_name: csv_text, name: dumps(renamed(doc, csv_name))}


def croissant_files(store: Store, ref: str, name: str, csv_name: str) -> dict[str, str]:
    """{csv_name: the members CSV, name: the Croissant JSON-LD}, for files side by side."""
    return prepare(store, ref)(name, csv_name)

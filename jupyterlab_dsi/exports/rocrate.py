"""The ``rocrate`` export: an RO-Crate 1.1 folder holding every other export of a dataset, each
file listed in ``ro-crate-metadata.json`` with its sha256 and size:

    members.csv          the members (the Croissant record set reads it)
    croissant.json       Croissant 1.1 JSON-LD (its FileObject is members.csv beside it)
    datacite.json        DataCite 4.5 JSON
    prov.json            W3C PROV-JSON
    card.md              the Markdown dataset card
    dataset.json         everything about it, our own shape (``jupyter dsi export --format json``)

The crate's root is the dataset: its name, description, author, date and, as identifier, its digest
exactly as stored. The rocrate package reads it back and every file it names is there with that
digest (tests/test_exports_rocrate.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..datasets import get_dataset
from ..store import Store

CONTEXT = "https://w3id.org/ro/crate/1.1/context"
PROFILE = "https://w3id.org/ro/crate/1.1"
METADATA = "ro-crate-metadata.json"
CSV = "members.csv"

# (file, format, name, encodingFormat, the specification it conforms to or None)
PARTS = (
    (CSV, None, "Members", "text/csv", None),
    ("croissant.json", "croissant", "Croissant 1.1 metadata", "application/ld+json", "http://mlcommons.org/croissant/1.1"),
    ("datacite.json", "datacite", "DataCite 4.5 metadata", "application/json", "http://datacite.org/schema/kernel-4"),
    ("prov.json", "prov", "Provenance (W3C PROV-JSON)", "application/json", "https://www.w3.org/submissions/prov-json/"),
    ("card.md", "card", "Dataset card", "text/markdown", None),
    ("dataset.json", "json", "Dataset record (jupyterlab-dsi)", "application/json", None),
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def crate_files(store: Store, ref: str) -> dict[str, str]:
    """{file name in the crate's folder: text}, ``ro-crate-metadata.json`` last."""
    from . import dumps, text
    from .croissant import croissant_files

    record = get_dataset(store, ref)
    files = croissant_files(store, record["id"], "croissant.json", CSV)
    for name, fmt, *_ in PARTS:
        if fmt not in (None, "croissant"):
            files[name] = text(store, record["id"], fmt)
    graph: list[dict[str, Any]] = [
        {"@id": METADATA, "@type": "CreativeWork", "conformsTo": {"@id": PROFILE}, "about": {"@id": "./"}},
        {
            "@id": "./",
            "@type": "Dataset",
            "name": record["name"],
            "description": record["description"],
            "datePublished": record["created_at"],
            "dateCreated": record["created_at"],
            "identifier": [record["digest"], f"urn:jupyterlab-dsi:dataset:{record['id']}"],
            "author": {"@id": "#author"},
            "keywords": ["training dataset", "simulation ensemble"],
            "hasPart": [{"@id": name} for name, *_ in PARTS],
        },
        {"@id": "#author", "@type": "Person", "name": record["author"]},
    ]
    for name, _fmt, title, encoding, conforms in PARTS:
        entity: dict[str, Any] = {
            "@id": name,
            "@type": "File",
            "name": title,
            "encodingFormat": encoding,
            "contentSize": str(len(files[name].encode("utf-8"))),
            "sha256": sha256(files[name]),
        }
        if conforms is not None:
            entity["conformsTo"] = {"@id": conforms}
        if name == CSV:
            entity["description"] = f"The {record['size']} members of dataset {record['digest']}, one row each."
        graph.append(entity)
    files[METADATA] = dumps({"@context": CONTEXT, "@graph": graph})
    return files

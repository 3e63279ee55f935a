"""The ``datacite`` export: a DataCite Metadata Schema 4.5 record, in the JSON that DataCite's REST
API and the ``datacite`` package read, validated offline by that package's schema validator
(tests/test_exports_datacite.py). No DOI is minted: the record is what a user hands to a
repository that mints one (OSTI, Zenodo), which adds the ``doi`` and usually sets itself as the
publisher."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from ..datasets import get_dataset, members
from ..store import Store
from .card import level_counts
from .croissant import preprocessing, sources

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
DIGEST_TYPE = "sha256"  # alternateIdentifierType of the dataset's digest


def source_identifier(sha256: str) -> str:
    """A source file named by its content: ``urn:hash::sha256:HEX`` (the hash URN draft)."""
    return f"urn:hash::sha256:{sha256}"


def subjects(store: Store, ids: list[str]) -> list[dict[str, str]]:
    """One subject per parameter with the levels (or the range) its members take."""
    out = []
    for entry in level_counts(store, ids):
        if entry["kind"] == "categorical":
            present = [str(level) for level, count in entry["counts"] if count]
            detail = ", ".join(present) if present else "no members"
        else:
            detail = f"{entry['min']!r} to {entry['max']!r}" if entry["count"] else "no values"
        unit = f" [{entry['unit']}]" if entry["unit"] else ""
        out.append({"subject": f"{entry['name']}{unit}: {detail}", "subjectScheme": "jupyterlab-dsi parameter"})
    return out


def export_datacite(store: Store, ref: str) -> dict[str, Any]:
    """The DataCite 4.5 record of a dataset (see the module's docstring)."""
    record = get_dataset(store, ref)
    ids = members(store, record["id"])
    related = [
        {"relatedIdentifier": source_identifier(s["sha256"]), "relatedIdentifierType": "URN",
         "relationType": "IsDerivedFrom", "resourceTypeGeneral": "Dataset"}
        for s in sources(store, record["id"])
    ]
    if record["parent"] is not None:
        related.append({"relatedIdentifier": f"urn:jupyterlab-dsi:dataset:{record['parent']}",
                        "relatedIdentifierType": "URN", "relationType": "IsDerivedFrom",
                        "resourceTypeGeneral": "Dataset"})
    methods = "; ".join(preprocessing(store, record))
    descriptions = [
        {"description": record["description"], "descriptionType": "Abstract"},
        {"description": f"Selected from a simulation ensemble: {methods}.", "descriptionType": "Methods"},
        {"description": (f"{record['size']} simulations, listed one per row (sim_id, parameters, distances, data file "
                         f"path and sha256) in the members CSV of the Croissant export; database {store.path.name}."),
         "descriptionType": "TechnicalInfo"},
    ]
    if record.get("stale"):
        descriptions.append({"description": "Stale: " + "; ".join(record["stale"]), "descriptionType": "Other"})
    names = [PurePath(s["path"]).name for s in sources(store, record["id"])]
    out: dict[str, Any] = {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Training dataset"},
        "creators": [{"name": record["author"], "nameType": "Personal"}],
        "titles": [{"title": record["name"]}],
        "publisher": {"name": record["author"]},
        "publicationYear": record["created_at"][:4],
        "dates": [{"date": record["created_at"], "dateType": "Created"}],
        "language": "en",
        "alternateIdentifiers": [
            {"alternateIdentifier": record["digest"], "alternateIdentifierType": DIGEST_TYPE},
            {"alternateIdentifier": f"urn:jupyterlab-dsi:dataset:{record['id']}", "alternateIdentifierType": "URN"},
        ],
        "subjects": [{"subject": "training dataset"}, {"subject": "simulation ensemble"}, *subjects(store, ids)],
        "descriptions": descriptions,
        "sizes": [f"{record['size']} simulations"],
        "formats": ["text/csv"],
        "schemaVersion": SCHEMA_VERSION,
    }
    if related:
        out["relatedIdentifiers"] = related
    if names:
        out["descriptions"].append({"description": "Derived from the ensemble source(s): " + ", ".join(names),
                                    "descriptionType": "Other"})
    return out

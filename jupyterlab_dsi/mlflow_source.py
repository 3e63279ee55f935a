"""The MLflow dataset source of a saved jupyterlab-dsi dataset (source type ``dsi``).

MLflow loads it through the ``mlflow.dataset_source`` entry point (pyproject.toml) while
``import mlflow`` runs, so that ``mlflow.data.get_source(...)`` reads our inputs back in any
process. It lives apart from jupyterlab_dsi.mlflow for that reason: that module imports MLflow
first, which loads this one whole; were the class there, the entry point would find it half
imported (a circular import) and MLflow would warn on every ``jupyter dsi import-mlflow``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlflow.data.dataset_source import DatasetSource

from .errors import DsiError

SOURCE_TYPE = "dsi"


def dataset_uri(db: str | os.PathLike[str], dataset_id: str) -> str:
    """``dsi:///abs/path/db.sqlite#dataset=<id>``: the file's URI with our scheme."""
    return SOURCE_TYPE + Path(db).resolve().as_uri()[len("file"):] + f"#dataset={dataset_id}"


def _parse_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    found = re.fullmatch(r"dataset=([^&]+)", parts.fragment)
    if parts.scheme != SOURCE_TYPE or not parts.path or found is None:
        raise DsiError(f"{uri!r} is not a jupyterlab-dsi dataset uri (dsi:///path/db.sqlite#dataset=ID)")
    return unquote(parts.path), found.group(1)


class DsiDatasetSource(DatasetSource):
    """A saved jupyterlab-dsi dataset: its database file, id and full SHA-256 digest.

    ``load()`` opens the database and returns the dataset's members frame, as
    ``jupyterlab_dsi.open(db).dataset(id).members()`` gives it, after checking that the dataset
    there is the one that was logged (same digest).
    """

    def __init__(self, db: str, dataset_id: str, digest: str | None = None) -> None:
        self.db = db
        self.dataset_id = dataset_id
        self.digest = digest

    @property
    def uri(self) -> str:
        return dataset_uri(self.db, self.dataset_id)

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self) -> Any:
        from .ensemble import Ensemble

        with Ensemble(self.db) as ens:
            ds = ens.dataset(self.dataset_id)
            if self.digest is not None and ds.digest != self.digest:
                raise DsiError(f"{self.db}: dataset {self.dataset_id} has digest {ds.digest}, not the "
                               f"{self.digest} that was logged; this is another copy of the database")
            return ds.members()

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and raw_source.startswith(SOURCE_TYPE + "://")

    @classmethod
    def _resolve(cls, raw_source: Any) -> DsiDatasetSource:
        db, dataset_id = _parse_uri(str(raw_source))
        return cls(db, dataset_id)

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "db": self.db, "dataset_id": self.dataset_id, "digest": self.digest}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> DsiDatasetSource:
        if "db" in source_dict and "dataset_id" in source_dict:
            return cls(str(source_dict["db"]), str(source_dict["dataset_id"]), source_dict.get("digest"))
        db, dataset_id = _parse_uri(str(source_dict.get("uri", "")))
        return cls(db, dataset_id, source_dict.get("digest"))

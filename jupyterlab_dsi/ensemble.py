"""The one door in Python (DESIGN rule 8): ``jupyterlab_dsi.open(path)`` returns an :class:`Ensemble`.

Training scripts, batch jobs and notebooks read the database through this object rather than
through SQL, so that what they see is exactly what ``jupyter dsi`` and the panel see: every call
here goes through the same functions the CLI uses (``Store.methods``, ``datasets.list_datasets``,
``query.select``, ``datasets.get_dataset`` / ``members``), never a second copy of their logic.

One read-only :class:`~jupyterlab_dsi.store.Store` is opened once and reused by every call; the
Ensemble is a context manager that closes it. Errors are :class:`~jupyterlab_dsi.errors.DsiError`
with one line naming the problem and the way out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .errors import DsiError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from .runs import Run
    from .splits import Split
    from .store import Store

# The columns of `jupyter dsi methods` and `jupyter dsi datasets --format json` (cli.py reads
# them from here): the frames carry the same fields in the same order.
METHOD_COLUMNS = ["id", "ground_truth", "norm", "gt_time", "match_time", "geometry", "field",
                  "description", "created_at", "code_version"]
DATASET_COLUMNS = ["id", "name", "description", "size", "method", "time", "created_at", "author",
                   "parent", "digest", "weights", "filter", "selection_kind", "sampling", "stale"]


class EnsembleClosed(DsiError):
    """A call on an Ensemble after ``close()`` (or after its ``with`` block)."""


def open(path: str | os.PathLike[str]) -> Ensemble:  # noqa: A001 - the documented name (issue 15)
    """Open a jupyterlab-dsi database for reading: ``with jupyterlab_dsi.open("ens.sqlite") as ens``."""
    return Ensemble(path)


class Ensemble:
    """A jupyterlab-dsi database as training code sees it: methods, datasets, selections.

    Holds one read-only Store for its lifetime (opening validates the file once: that it exists,
    is ours and is not newer than this version), so many calls cost no reopening.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise DsiError(f"jupyterlab_dsi.open takes the path of a database file, not {type(path).__name__}")
        from .store import Store

        target = Path(path)
        if target.is_dir():  # Store would report it as "not a jupyterlab-dsi database": say what it is
            raise DsiError(f"{target}: a folder, not a database file; ingest it with "
                           f"`jupyter dsi ingest {target} --db FILE` and open FILE")
        self.path = target
        self._store: Store | None = Store(target, readonly=True)
        self._write_store: Store | None = None  # opened on the first write (see _writer)

    # -- lifetime ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The open Store (for the layers built over this object); raises once closed."""
        if self._store is None:
            raise EnsembleClosed(f"{self.path}: this Ensemble is closed; open it again with jupyterlab_dsi.open")
        return self._store

    @property
    def closed(self) -> bool:
        return self._store is None

    def _writer(self) -> Store:
        """A writable Store on the same file, opened on the first write and kept until close():
        reading needs no write access, so a read-only file stays usable until something is saved."""
        from .store import Store

        self.store  # noqa: B018 - raises EnsembleClosed once closed
        if self._write_store is None:
            self._write_store = Store(self.path)
        return self._write_store

    def close(self) -> None:
        """Close the Stores; calling it twice is harmless."""
        if self._write_store is not None:
            self._write_store.close()
            self._write_store = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Ensemble:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<jupyterlab_dsi.Ensemble {str(self.path)!r}{' (closed)' if self.closed else ''}>"

    # -- listings ---------------------------------------------------------------------------

    def methods(self) -> pd.DataFrame:
        """The post-processing methods, newest first: the rows of `jupyter dsi methods`."""
        import pandas as pd

        rows = self.store.methods()
        return pd.DataFrame.from_records([[m[c] for c in METHOD_COLUMNS] for m in rows], columns=METHOD_COLUMNS)

    def datasets(self, include_deleted: bool = False) -> pd.DataFrame:
        """The saved training datasets, newest first: the rows of `jupyter dsi datasets --format json`
        (``include_deleted`` as ``--all``, which adds the ``deleted`` column)."""
        import pandas as pd

        from .datasets import list_datasets

        records = list_datasets(self.store, include_deleted=include_deleted)
        columns = DATASET_COLUMNS + (["deleted"] if include_deleted else [])
        return pd.DataFrame.from_records([[r[c] for c in columns] for r in records], columns=columns)

    def select(self, method: str | None = None, time: int | None = None, where: str | None = None,
               weights: Any = None) -> pd.DataFrame:
        """Rows of (simulation, step) as `jupyter dsi select` gives them (the same function).

        Indexed by sim_id when ``time`` is given, by (sim_id, t) over all steps (as ``%dsi select``).
        ``method`` is an id or unique prefix; ``weights`` d_feature's terms, e.g. ``{"d_density": 1}``.
        """
        from .frames import selection_frame
        from .query import select

        selection = select(self.store, method, time, where or "", weights)
        return selection_frame(selection, time)

    def distances(self, ground_truth: str, norm: str, time: int | None = None, match_time: str = "index",
                  field: str = "density") -> pd.DataFrame:
        """Every simulation's distances at every step to any ground truth, computed now and not
        stored (issue 17): the values `jupyter dsi postprocess --ground-truth GT --norm NORM
        [--gt-time TIME] [--match-time M] [--field F]` would store, without writing anything.

        One row per (sim_id, t) that the simulation has: d_shock, d_edge, d_density (NaN where
        undefined: no coefficients, or no cell of positive density shared with the ground truth).
        The fields stay in this process's memory after the first call (resident.default(): a
        budget of DSI_FIELD_BUDGET_MB megabytes, 1024 by default; an ensemble above it is read
        from disk each call), so a second ground truth costs one pass over them. ``attrs`` holds
        the ground truth, norm, gt_time, match_time, field and the seconds taken.
        """
        import numpy as np
        import pandas as pd

        from .resident import COLUMNS, default

        scratch = default().distances(self.store, ground_truth, norm, time, match_time, field)
        keep = np.arange(len(scratch.steps))[None, :] < np.asarray(scratch.counts)[:, None]  # (S, T)
        sims, steps = np.nonzero(keep)
        frame = pd.DataFrame({"sim_id": np.asarray(scratch.sim_ids, dtype=object)[sims], "t": steps})
        for c, column in enumerate(COLUMNS):
            frame[column] = scratch.values[sims, steps, c]
        frame.attrs.update(ground_truth=scratch.ground_truth, norm=scratch.norm, gt_time=scratch.gt_time,
                           match_time=scratch.match_time, field=scratch.field, seconds=scratch.seconds)
        return frame

    # -- datasets ---------------------------------------------------------------------------

    def dataset(self, ref: str) -> Dataset:
        """A saved dataset (deleted ones too, flagged) by its id or a unique prefix of >= MIN_PREFIX
        characters (store.MIN_PREFIX)."""
        from .datasets import get_dataset

        return Dataset(self, get_dataset(self.store, ref))

    # -- training runs ----------------------------------------------------------------------

    def run(self, dataset: Any = None, split: Any = None, name: str | None = None, description: str = "") -> Run:
        """Start recording a training run: ``with ens.run(dataset=ds, split=split, name="gan-v3") as run:``.

        ``dataset``/``split``: Dataset/Split objects, ids or unique prefixes (a split alone names its
        dataset; neither is a run tied to no dataset). The run writes through its own Store (runs.py).
        """
        from .runs import start_run

        self.store  # noqa: B018 - raises EnsembleClosed once closed
        return start_run(self.path, dataset=dataset, split=split, name=name, description=description)

    def runs(self, dataset: Any = None) -> pd.DataFrame:
        """The training runs, newest first (a dataset's only, given one): the fields of
        `jupyter dsi runs --format json`, one column each; params, metrics, resources as dicts."""
        from .runs import runs_frame

        return runs_frame(self.store, dataset)

    def get_run(self, ref: str) -> dict[str, Any]:
        """One run's record (as `jupyter dsi runs --format json` gives it) by id or unique prefix."""
        from .runs import get_run

        return get_run(self.store, ref)

    # -- proposals (issue 16) ---------------------------------------------------------------

    def propose(self, run: Any = None, study: Any = None, *, n: int, seed: int, **options: Any) -> pd.DataFrame:
        """Draw ``n`` proposals of what to simulate next and record them in this database: the
        study set is ``run``'s logged sigma2 (a Run, its record, id or prefix) or ``study`` (a
        DataFrame or CSV path). ``options`` are :func:`jupyterlab_dsi.propose`'s (tau, bounds,
        prior_column, alpha, entropy_column, categorical, continuous, target, max_redraws). Returns the points,
        the record's id in ``attrs["proposal_record"]``; `jupyter dsi propose --db` is this call."""
        from .proposals import ProposalError, propose

        if "db" in options:
            raise ProposalError("Ensemble.propose records in its own database: give no db=")
        return propose(study, n, seed, db=self._writer(), run=run, **options)

    def proposals(self) -> pd.DataFrame:
        """The recorded proposals, newest first: the fields of `jupyter dsi proposals --format json`
        (id, created_at, author, run_id, run_name, dataset_id, n, policy as a dict, linked)."""
        import pandas as pd

        from .proposals import RECORD_FIELDS, list_proposals

        records = list_proposals(self.store)
        return pd.DataFrame.from_records([[r[c] for c in RECORD_FIELDS] for r in records], columns=list(RECORD_FIELDS))

    def proposal(self, ref: str) -> pd.DataFrame:
        """A recorded proposal's points (by id or unique prefix), in point order: the parameters,
        proposal_id, component and sim_id (the simulation ingested for the point, or None). The
        record is in ``attrs["proposal"]``."""
        import pandas as pd

        from .proposals import proposal_points

        record, columns, rows = proposal_points(self.store, ref)
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame.attrs["proposal"] = record
        return frame


class Dataset:
    """One saved training dataset: its record (immutable, so read once) and its members."""

    def __init__(self, ensemble: Ensemble, record: dict[str, Any]) -> None:
        self.ensemble = ensemble
        self._record = record

    @property
    def record(self) -> dict[str, Any]:
        """Every stored field, as `jupyter dsi export --format json` names them (a copy)."""
        return json.loads(json.dumps(self._record))

    id = property(lambda self: self._record["id"], doc="The dataset's UUID.")
    name = property(lambda self: self._record["name"])
    description = property(lambda self: self._record["description"], doc="Why it exists (required).")
    method_id = property(lambda self: self._record["method"], doc="Its method's id, or None.")
    t = property(lambda self: self._record["time"], doc="The step index it was selected at, or None.")
    digest = property(lambda self: self._record["digest"], doc="SHA-256 of method, step and sorted members.")
    size = property(lambda self: self._record["size"], doc="Number of members.")
    created_at = property(lambda self: self._record["created_at"])
    author = property(lambda self: self._record["author"])
    filter = property(lambda self: self._record["filter"], doc="The filter string that selected it.")
    parent_id = property(lambda self: self._record["parent"], doc="The dataset it was derived from, or None.")
    weights = property(lambda self: self._record["weights"], doc="d_feature's terms it was selected with.")
    sampling = property(lambda self: self._record["sampling"])
    deleted = property(lambda self: self._record["deleted"], doc="Whether a tombstone hides it.")

    @property
    def stale(self) -> list[str]:
        """Why an upstream change (`jupyter dsi verify --sources`) made it stale; [] when fresh.
        Read from the database each time: a verify may mark or clear it while this object lives."""
        from .staleness import reasons_of

        return reasons_of(self.ensemble.store, self.id)

    def __repr__(self) -> str:
        return f"<jupyterlab_dsi.Dataset {self.id[:8]} {self.name!r}: {self.size} members>"

    def member_ids(self) -> list[str]:
        """The stored member ids, sorted (as the JSON export lists them)."""
        from .datasets import members

        return members(self.ensemble.store, self.id)

    def members(self) -> pd.DataFrame:
        """The members, indexed by sim_id: parameters, the distances (and d_feature with the
        dataset's weights) at its method and step when it has both, ``path`` (absolute path of
        the simulation's data file, or None) and ``sha256`` (of that file at ingest, or None)."""
        from .frames import members_frame
        from .query import DISTANCES, select

        store = self.ensemble.store
        frame = members_frame(store, self.id)  # parameters of exactly the stored members
        if self.method_id is not None and self.t is not None:
            selection = select(store, self.method_id, self.t, "", self.weights)
            keep = [c for c in (*DISTANCES, "d_feature") if c in selection.columns]
            at = {row[0]: row for row in selection.rows}
            where = [selection.columns.index(c) for c in keep]
            for column, i in zip(keep, where):
                frame[column] = [at[s][i] if s in at else None for s in frame.index]
        files = _files(store)
        frame["path"] = [files.get(s, (None, None))[0] for s in frame.index]
        frame["sha256"] = [files.get(s, (None, None))[1] for s in frame.index]
        frame.attrs["dataset"] = self.record
        return frame

    def split(self, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
              names: Sequence[str] = ("train", "val", "test"), stratify: str | None = None) -> Split:
        """Split the members into named parts, deterministically (splits.py says how) and recorded:
        the same arguments again return the same split. ``stratify`` balances on a parameter."""
        from .splits import Split, save_split

        record = save_split(self.ensemble._writer(), self.id, names, fractions, seed, stratify)
        return Split(self, record)

    def augment(self, run: Any, *, size: int, seed: int, policy: str = "sample", description: str | None = None,
                name: str | None = None, target: str | None = None) -> Dataset:
        """Pool-based augmentation (issue 16 §2): a NEW dataset, derived from this one, of its
        members plus ``size`` non-members chosen by ``run``'s logged ``sigma2`` (a Run object, its
        record, id or prefix): ``policy="sample"`` draws them without replacement with probability
        proportional to sigma2 (deterministic for ``seed``), ``"top"`` takes the largest. With
        several targets, ``target`` names whose sigma2 (default: the first alphabetically)."""
        from .augment import augment

        record, _ = augment(self.ensemble._writer(), self.id, run, size=size, seed=seed, policy=policy,
                            description=description, name=name, target=target)
        return Dataset(self.ensemble, record)

    def export(self, format: str, path: str | os.PathLike[str]) -> list[Path]:  # noqa: A002 - the CLI's word
        """Write this dataset as ``format`` at ``path``, as `jupyter dsi export --format FORMAT -o
        PATH` does: ``json``, ``card``, ``prov``, ``datacite`` (one file), ``croissant`` (the
        JSON-LD at ``path`` and its members CSV beside it) or ``rocrate`` (a new folder).
        Never overwrites. Answers the paths written, ``path`` first (docs/exports.md)."""
        from .exports import export

        return export(self.ensemble.store, self.id, format, path)

    def splits(self) -> list[Split]:
        """The recorded splits of this dataset, oldest first."""
        from .splits import Split, list_splits

        return [Split(self, r) for r in list_splits(self.ensemble.store, self.id)]


def _files(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """sim_id -> (absolute data file path, its SHA-256 at ingest), from jdsi_simulation.

    A simulation's path is stored relative to its source's folder (schema.sql), as the
    post-processing resolves it; sources without field files (tables) store none.
    """
    rows = store.conn.execute(
        """SELECT s.sim_id, s.path, s.sha256, src.path AS source
           FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id"""
    ).fetchall()
    out: dict[str, tuple[str | None, str | None]] = {}
    for r in rows:
        path = None if r["path"] is None else str((Path(r["source"]).parent / r["path"]).resolve())
        out[r["sim_id"]] = (path, r["sha256"])
    return out

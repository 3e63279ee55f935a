"""MLflow, where users already log (issue 15, section 5): the optional ``jupyterlab-dsi[mlflow]``.

``dsi.mlflow.log_input(ds)`` logs a saved dataset as an input of the active MLflow run, and
``jupyter dsi import-mlflow`` (:func:`import_runs`) brings MLflow runs that used our datasets in
as runs linked to those datasets.

A dataset is logged as a pandas dataset of ``ds.members()`` (so MLflow's UI shows its schema and
row count) whose source is a :class:`DsiDatasetSource`, source type ``dsi``: the database file, the
dataset id and our full SHA-256 digest, with the uri ``dsi:///abs/path/db.sqlite#dataset=<id>``
(mlflow_source.py). MLflow caps a dataset's ``digest`` field at 36 characters (``MAX_DATASET_DIGEST_SIZE``, checked
before anything is stored), so that field holds the first 36 of our digest's 64 hex digits; the
full ``sha256:...`` travels in the source and in the input tag ``dsi.digest``.

This module's name is MLflow's: ``import mlflow`` below is an absolute import and reaches the
MLflow package, never this file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import DsiError


class MlflowMissing(DsiError, ImportError):
    """MLflow is not installed: ``dsi.mlflow`` and ``jupyter dsi import-mlflow`` need the extra."""


try:
    import mlflow  # first: it loads our dataset source through its entry point (mlflow_source.py)
    from mlflow.exceptions import MlflowException
except ImportError as exc:  # one line for the CLI, the magic and a notebook, not a traceback
    raise MlflowMissing(
        f"MLflow is not installed ({exc}); install the extra: pip install 'jupyterlab-dsi[mlflow]'"
    ) from None

from .mlflow_source import SOURCE_TYPE, DsiDatasetSource, dataset_uri

if TYPE_CHECKING:
    from mlflow.data.pandas_dataset import PandasDataset

    from .ensemble import Dataset
    from .splits import Split
    from .store import Store

__all__ = ["DsiDatasetSource", "ImportSummary", "MlflowMissing", "dataset_uri", "import_runs", "log_input"]

DIGEST_CHARS = 36  # MLflow's MAX_DATASET_DIGEST_SIZE: a longer digest is refused by log_input
TEXT_CHARS = 500  # MLflow's MAX_DATASET_NAME_SIZE and MAX_INPUT_TAG_VALUE_SIZE
TAG_PREFIX = "dsi."
# The namespace of imported runs' ids: uuid5(namespace, "<tracking uri> <mlflow run id>").
RUN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jupyterlab-dsi:mlflow-run")
STATUSES = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed"}
PAGE = 1000


def short_digest(digest: str) -> str:
    """What MLflow's digest field holds of ours: the first 36 hex digits, without ``sha256:``."""
    return digest.split(":", 1)[-1][:DIGEST_CHARS]


class MlflowError(DsiError):
    """The tracking store could not be read, or the call was made where it cannot work."""


def _register_source() -> None:
    """Register the ``dsi`` source type when its entry point has not (a source tree used without
    reinstalling), so that MLflow can read back what log_input writes. Run once MLflow is fully
    imported: registering twice would make MLflow warn that a dsi uri resolves two ways."""
    from mlflow.data.dataset_source_registry import get_registered_sources, register_dataset_source

    if not any(s._get_source_type() == SOURCE_TYPE for s in get_registered_sources()):
        register_dataset_source(DsiDatasetSource)


_register_source()


# -- logging an input -----------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's INFO lines (database creation, migrations) and its hints are not ours to show:
    raise its loggers to ERROR and drop its warnings for the duration of one call."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
            warnings.filterwarnings("ignore", module=r"alembic(\.|$)")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _split_id(ds: Dataset, split: Split | str | None) -> str | None:
    """The split's id, after checking that it is a live split of ``ds``."""
    if split is None:
        return None
    from .splits import get_split

    ref = split if isinstance(split, str) else getattr(split, "id", None)
    if not isinstance(ref, str):
        raise DsiError(f"split= takes a Split (ds.split(...)) or a split id, not {type(split).__name__}")
    record = get_split(ds.ensemble.store, ref)
    if record["dataset_id"] != ds.id:
        raise DsiError(f"split {record['id'][:8]} is a split of dataset {record['dataset_id'][:8]}, "
                       f"not of {ds.id[:8]}; use one of ds.splits()")
    if record["deleted"]:
        raise DsiError(f"split {record['id'][:8]} is deleted; make a new one with ds.split(...)")
    return str(record["id"])


def log_input(ds: Dataset, context: str = "training", *, split: Split | str | None = None) -> PandasDataset:
    """Log ``ds`` as an input of the active MLflow run and return the MLflow dataset logged.

    The input's source names this database and the dataset id (source type ``dsi``) and holds our
    full SHA-256 digest; its tags are ``dsi.dataset_id``, ``dsi.digest``, ``dsi.name``,
    ``dsi.size`` and, when ``split`` (a Split or a split id of ``ds``) is given, ``dsi.split_id``.
    ``context`` is MLflow's input context ("training", "validation", ...).
    """
    from .ensemble import Dataset

    if not isinstance(ds, Dataset):
        raise DsiError("log_input takes a Dataset (jupyterlab_dsi.open(path).dataset(id)), "
                       f"not {type(ds).__name__}")
    if not isinstance(context, str) or not context.strip():
        raise DsiError(f"context must be a non-empty string such as 'training', not {context!r}")
    if mlflow.active_run() is None:
        raise MlflowError("no active MLflow run: call dsi.mlflow.log_input(ds) inside "
                          "`with mlflow.start_run():`")
    if ds.deleted:
        raise DsiError(f"dataset {ds.id[:8]} is deleted; log a live one (see `jupyter dsi datasets`)")
    split_id = _split_id(ds, split)
    db = str(ds.ensemble.path.resolve())
    source = DsiDatasetSource(db, ds.id, ds.digest)
    tags = {"dataset_id": ds.id, "digest": ds.digest, "name": ds.name, "size": str(ds.size)}
    if split_id is not None:
        tags["split_id"] = split_id
    frame = ds.members()
    with _quiet():
        dataset = mlflow.data.from_pandas(frame, source=source, name=str(ds.name)[:TEXT_CHARS],
                                          digest=short_digest(ds.digest))
        try:
            mlflow.log_input(dataset, context=context,
                             tags={TAG_PREFIX + k: str(v)[:TEXT_CHARS] for k, v in tags.items()})
        except MlflowException as exc:  # the store's refusal, as the one line it is
            raise MlflowError(f"MLflow did not log dataset {ds.id[:8]}: {_first_line(exc)}") from None
    return dataset


# -- importing runs -------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What one import did: our run ids imported, already there, and the MLflow runs skipped
    (with why), and how many runs the store held that used none of our datasets."""

    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unrelated: int = 0

    def line(self) -> str:
        def n(count: int, noun: str = "run") -> str:
            return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

        return (f"imported {n(len(self.imported))}, {len(self.already)} already there, "
                f"{len(self.skipped)} skipped; {n(self.unrelated)} used none of this database's datasets")


def _public_uri(uri: str) -> str:
    """The tracking uri without credentials (user:password@), as stored and hashed; a SQLite
    store by its absolute path, so the same store reached from two folders is one store."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite" and parts.path.startswith("/") and parts.path not in ("/", "/:memory:"):
        return "sqlite:///" + str(Path(unquote(parts.path[1:])).resolve())
    if "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return uri


def _redacted(uri: str) -> str:
    """The uri as said in messages: without user:password@ (error lines end up in CI logs)."""
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
    return uri


def imported_run_id(tracking_uri: str, mlflow_run_id: str) -> str:
    """Our id of an imported MLflow run: the same for every import from the same store."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{_public_uri(tracking_uri)} {mlflow_run_id}"))


@contextlib.contextmanager
def _patient_http() -> Iterator[None]:
    """MLflow retries a refused connection for about four minutes by default; a user typing
    import-mlflow wants to hear at once. Their own MLFLOW_HTTP_REQUEST_* settings win."""
    chosen = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
              "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    added = [k for k in chosen if k not in os.environ]
    os.environ.update({k: chosen[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _tracking_error(uri: str, exc: BaseException) -> MlflowError:
    """One line naming the tracking uri and what went wrong, for any failure reading it. MLflow
    wraps what it met (requests', SQLAlchemy's errors) in its own exception as text: read that."""
    text = str(exc).replace(uri, _redacted(uri))
    uri = _redacted(uri)
    if "unsupported URI" in text or "Could not find a registered" in text:
        return MlflowError(f"{uri}: not an MLflow tracking uri; give e.g. sqlite:///path/mlflow.db "
                           "or http://host:5000")
    if "Max retries exceeded" in text or "Failed to establish" in text or "ConnectionError" in text:
        return MlflowError(f"{uri}: cannot reach the MLflow tracking server; is it running?")
    if "file is not a database" in text:
        return MlflowError(f"{uri}: not an MLflow SQLite database (the file is not a database)")
    return MlflowError(f"{uri}: MLflow could not be read: {_first_line(RuntimeError(text))}")


def _client(uri: str) -> Any:
    """An MlflowClient on ``uri``, checked to answer; a SQLite path that does not exist is refused
    (MLflow would create an empty store there)."""
    if not isinstance(uri, str) or not uri.strip():
        raise MlflowError("--tracking-uri is empty; give e.g. sqlite:///path/mlflow.db or http://host:5000")
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        path = Path(unquote(parts.path[1:])) if parts.path.startswith("/") else None
        if path is None or not path.is_file():
            raise MlflowError(f"{_redacted(uri)}: no MLflow database at {path or parts.path!s}; check --tracking-uri "
                              "(sqlite:/// then the path; four slashes for an absolute path)")
    elif parts.scheme in ("", "file") and not Path(unquote(parts.path)).is_dir():
        raise MlflowError(f"{_redacted(uri)}: no MLflow folder there; check --tracking-uri")
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # MLflow, SQLAlchemy and requests each raise their own
        raise _tracking_error(uri, exc) from None
    return client


def _experiments(client: Any, uri: str, name: str | None) -> dict[str, str]:
    """experiment id -> name: the one named, or all of them."""
    everything = {e.experiment_id: e.name for e in _paged(
        lambda token: client.search_experiments(max_results=PAGE, page_token=token))}
    if name is None:
        return everything
    chosen = {i: n for i, n in everything.items() if n == name}
    if not chosen:
        shown = ", ".join(repr(n) for n in sorted(everything.values())[:10]) or "none"
        raise MlflowError(f"{_redacted(uri)}: no MLflow experiment named {name!r}; its experiments: {shown}")
    return chosen


def _paged(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


@dataclass
class _Ours:
    """This database's datasets and splits, to match MLflow inputs against."""

    db: Path
    datasets: dict[str, dict[str, Any]]
    splits: dict[str, str]  # split id -> its dataset id

    @classmethod
    def read(cls, store: Store) -> _Ours:
        from .datasets import list_datasets

        records = list_datasets(store, include_deleted=True)
        if not records:
            raise DsiError(f"{store.path}: no datasets, so no MLflow run can have used one; save one "
                           "(jupyter dsi select --save ...) and log it with dsi.mlflow.log_input(ds)")
        splits = dict(store.conn.execute("SELECT id, dataset_id FROM jdsi_split").fetchall())
        return cls(store.path.resolve(), {r["id"]: r for r in records}, splits)

    def by_digest(self, digest: str) -> dict[str, Any] | None:
        """The dataset with this digest (a full one, or the 36 digits MLflow keeps): the oldest
        live one when the same selection was saved twice (they have the same members)."""
        if not isinstance(digest, str) or len(digest.split(":", 1)[-1]) < DIGEST_CHARS:
            return None
        hexdigits = digest.split(":", 1)[-1]
        same = [r for r in self.datasets.values() if r["digest"].split(":", 1)[-1].startswith(hexdigits)]
        same.sort(key=lambda r: (r["deleted"], r["created_at"], r["id"]))
        return same[0] if same else None

    def match(self, dataset_input: Any) -> tuple[dict[str, Any], str | None] | None:
        """(our dataset, our split id or None) that an MLflow dataset input names, else None."""
        logged = dataset_input.dataset
        tags = {t.key: t.value for t in dataset_input.tags}
        source: dict[str, Any] = {}
        if logged.source_type == SOURCE_TYPE:
            with contextlib.suppress(ValueError, TypeError):
                loaded = json.loads(logged.source)
                source = loaded if isinstance(loaded, dict) else {}
        dataset_id = source.get("dataset_id") or tags.get(TAG_PREFIX + "dataset_id")
        digest = source.get("digest") or tags.get(TAG_PREFIX + "digest")
        record = self.datasets.get(dataset_id) if isinstance(dataset_id, str) else None
        if record is not None and record["digest"] != digest and not self._is_this_db(source.get("db")):
            record = None  # an id from another database that happens to be here: trust digests only
        record = record or self.by_digest(digest) or self.by_digest(logged.digest)
        if record is None:
            return None
        split_id = tags.get(TAG_PREFIX + "split_id")
        return record, split_id if self.splits.get(split_id) == record["id"] else None

    def _is_this_db(self, db: Any) -> bool:
        try:
            return isinstance(db, str) and Path(db).resolve() == self.db
        except OSError:
            return False


def _iso(ms: int | None) -> str | None:
    """MLflow's milliseconds since the epoch as the Store's timestamps (store.now's format)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def _chosen_input(ours: _Ours, run: Any) -> tuple[dict[str, Any], str | None] | None:
    """The dataset a run trained on: the first input of ours logged with context 'training',
    else the first input of ours."""
    matched = []
    for dataset_input in run.inputs.dataset_inputs if run.inputs else []:
        found = ours.match(dataset_input)
        if found is not None:
            context = {t.key: t.value for t in dataset_input.tags}.get("mlflow.data.context")
            matched.append((context != "training", len(matched), found))
    return min(matched)[2] if matched else None


def _run_fields(client: Any, uri: str, experiment: str, run: Any) -> dict[str, Any]:
    """import_run's keyword arguments for one MLflow run (its whole metric history)."""
    info, data = run.info, run.data
    points = []
    for name in sorted(data.metrics):
        for m in client.get_metric_history(info.run_id, name):
            points.append((name, m.value, int(m.step), "", m.timestamp / 1000))
    started, ended = info.start_time, info.end_time
    tags = data.tags
    code: dict[str, Any] = {"mlflow": {"tracking_uri": _public_uri(uri), "experiment": experiment,
                                       "experiment_id": info.experiment_id, "run_id": info.run_id}}
    if "mlflow.source.git.commit" in tags:
        code["git_commit"] = tags["mlflow.source.git.commit"]
    if "mlflow.source.name" in tags:
        code["source"] = tags["mlflow.source.name"]
    resources: dict[str, Any] = {}
    if started is not None and ended is not None:
        resources["wall_s"] = (ended - started) / 1000
    error = None if info.status == "FINISHED" else f"{info.status.lower()} in MLflow"
    return {
        "name": info.run_name or info.run_id, "status": STATUSES[info.status], "error": error,
        "author": info.user_id or tags.get("mlflow.user") or None,
        "started_at": _iso(started), "ended_at": _iso(ended), "params": dict(data.params),
        "metrics": points, "resources": resources, "code": code, "environment": {},
        "description": tags.get("mlflow.note.content", ""),
    }


def import_runs(db: str | os.PathLike[str], tracking_uri: str, experiment: str | None = None,
                *, report: Callable[[str], None] | None = None) -> ImportSummary:
    """Bring in the MLflow runs at ``tracking_uri`` (one experiment, or all) that used a dataset
    of ``db``, as ended runs linked to that dataset (and split), each in one transaction.

    A run is matched by its inputs: the ``dsi`` source or tags that log_input writes, or a digest
    equal to one of ours. Its id is derived from the tracking uri and the MLflow run id, so a
    second import adds nothing. Runs still running in MLflow are skipped. ``report`` hears one
    line per run imported or skipped.
    """
    from .store import Store

    summary = ImportSummary()
    with Store(db) as store:
        ours = _Ours.read(store)  # before MLflow is asked anything: a database without datasets
        with _quiet(), _patient_http():
            client = _client(tracking_uri)
            try:
                names = _experiments(client, tracking_uri, experiment)
                runs = list(_paged(lambda t: client.search_runs(list(names), max_results=PAGE, page_token=t)))
            except MlflowError:
                raise
            except Exception as exc:
                raise _tracking_error(tracking_uri, exc) from None
            for run in sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id)):
                _import_one(store, ours, client, tracking_uri, names[run.info.experiment_id], run,
                            summary, report or (lambda line: None))
    return summary


def _import_one(store: Store, ours: _Ours, client: Any, uri: str, experiment: str, run: Any,
                summary: ImportSummary, say: Callable[[str], None]) -> None:
    from .runs import import_run

    found = _chosen_input(ours, run)
    if found is None:
        summary.unrelated += 1
        return
    record, split_id = found
    label = f"MLflow run {run.info.run_id} {run.info.run_name or ''!r}"
    if run.info.status not in STATUSES:
        summary.skipped.append(run.info.run_id)
        say(f"skipped {label}: {run.info.status.lower()} in MLflow; import again once it has ended")
        return
    run_id = imported_run_id(uri, run.info.run_id)
    if store.conn.execute("SELECT 1 FROM jdsi_run WHERE id = ?", (run_id,)).fetchone() is not None:
        summary.already.append(run_id)
        return
    try:  # everything read before anything is written: one run, one transaction
        fields = _run_fields(client, uri, experiment, run)
    except Exception as exc:
        raise _tracking_error(uri, exc) from None
    import_run(store, run_id=run_id, dataset_id=record["id"], split_id=split_id, **fields)
    summary.imported.append(run_id)
    say(f"imported {label} as {run_id} (dataset {record['id'][:8]} {record['name']!r})")


def cli_import(db: str, tracking_uri: str, experiment: str | None) -> int:
    """``jupyter dsi import-mlflow``: a line per run imported or skipped, then the counts."""
    summary = import_runs(db, tracking_uri, experiment, report=print)  # cli.main says our warnings
    print(summary.line())
    return 0

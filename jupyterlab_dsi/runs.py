"""Training runs (issue 15): the model trained on a dataset (and split), recorded as it trains.

A :class:`Run` holds one writable :class:`~jupyterlab_dsi.store.Store` for its life. Params and
metric points are buffered and written in batches (``executemany``), each batch one
``Store.write()`` transaction that also refreshes the run's heartbeat and logs at most one event
(``run.start``, ``run.log``, ``run.end``) so that replicas catch up. A batch is written when a
log call comes at least :data:`FLUSH_EVERY_S` after the last one, when :data:`FLUSH_POINTS`
points wait, on ``log_params`` / ``log_predictions`` / ``log_artifact`` / ``flush()``, and at the
end. A thread refreshes the heartbeat every :data:`HEARTBEAT_EVERY_S` so a long epoch that logs
nothing is never taken for a dead process. A batch due while another writer holds the file waits
for it at most :data:`PERIODIC_BUSY_MS` and is kept for a later one: logging never waits.

Status is stored as running, finished or failed. A stored ``running`` is shown ``interrupted``
(:func:`derived_status`) when its process is gone: on this host with a pid that is not alive, or
with no heartbeat for :data:`HEARTBEAT_TIMEOUT_S`. A process killed mid-run loses at most the
points logged since the last batch. Ended runs are immutable.

A run started from the shell (``jupyter dsi run start``) has no live process: it records no
pid, so only its heartbeat (each ``jupyter dsi run log``) keeps it from showing interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import hashlib
import json
import math
import numbers
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .errors import DsiError
from .resources import ResourceMeter, host
from .store import BUSY_TIMEOUT_MS, MIN_PREFIX, Store, StoreBusy, current_user, new_id, now, resolve_prefix

if TYPE_CHECKING:
    import pandas as pd

RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
ENDINGS = (FINISHED, FAILED)
FLUSH_EVERY_S = 2.0
FLUSH_POINTS = 10_000
HEARTBEAT_EVERY_S = 60.0
HEARTBEAT_TIMEOUT_S = 600.0
BUSY_RETRIES = 3  # each waits up to the Store's busy timeout (15 s) for the other writer
PERIODIC_BUSY_MS = 50  # what a periodic flush waits for another writer before keeping the points for later
SHOWN_IDS = 5
# Longest texts a run takes (characters), as datasets.LIMITS: a name, not a novel.
LIMITS = {"name": 1_000, "description": 100_000, "metric name": 1_000, "context": 1_000,
          "param name": 1_000, "target": 1_000, "kind": 100, "error": 10_000}
# Libraries whose versions a run records when the training code has imported them (never
# imported here): import name -> the name the environment object uses.
ENVIRONMENT_MODULES = (("numpy", "numpy"), ("pandas", "pandas"), ("torch", "torch"),
                       ("sklearn", "scikit-learn"), ("tensorflow", "tensorflow"), ("jax", "jax"),
                       ("jupyterlab_dsi", "jupyterlab-dsi"))
# The fields of `jupyter dsi runs --format json`, in order (and the columns of ens.runs()).
RUN_FIELDS = ["id", "name", "description", "dataset_id", "split_id", "status", "error", "started_at",
              "ended_at", "duration_s", "params", "metrics", "resources", "code", "environment",
              "artifacts", "host", "author", "stale"]


class RunError(DsiError):
    """A run that cannot be started, found, logged to or ended, with the reason and the way out."""


class _ParamConflict(RunError):
    """A param already stored with another value (by another process): ``stored`` name -> JSON."""

    def __init__(self, message: str, stored: dict[str, str]) -> None:
        super().__init__(message)
        self.stored = stored


def _set_once(name: str, stored: str) -> str:
    return f"param {name!r} was logged as {stored}; a param is set once per run (log what changes as a metric)"


class _EndedElsewhere(RunError):
    """A write found the run ended (or removed) by another process: this handle ends too."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def _insert(conn: Any, table: str, record: Mapping[str, Any]) -> None:
    """INSERT one row: the record's keys (this module's own column names, never input) are the
    columns, its values bound."""
    conn.execute(f"INSERT INTO {table} ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                 tuple(record.values()))


# -- checking input --------------------------------------------------------------------------


def _text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RunError(f"the {what} must be text, not {type(value).__name__}")
    if not empty and not value.strip():
        raise RunError(f"the {what} must not be empty")
    if len(value) > LIMITS[what]:
        raise RunError(f"the {what} is {len(value):,} characters long; at most {LIMITS[what]:,} are kept")
    return value


def _step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise RunError(f"step must be a whole number >= 0, not {step!r}")
    if step < 0:
        raise RunError(f"step must be a whole number >= 0, not {step}")
    return int(step)


def _number(what: str, value: Any) -> float | None:
    """A metric or prediction value as a float; NaN and infinities as None, with a warning."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise RunError(f"{what} must be a number, not the boolean {value!r} (log 0 or 1 if you mean it)")
    if isinstance(value, numbers.Real):
        number = float(value)
    elif not isinstance(value, (str, bytes)) and hasattr(value, "__float__"):
        try:  # a 0-d tensor or array: its one number
            number = float(value)
        except (TypeError, ValueError):
            raise RunError(f"{what} must be a number, not {type(value).__name__} (pass one number)") from None
    else:
        raise RunError(f"{what} must be a number, not {type(value).__name__} {str(value)[:40]!r}")
    if not math.isfinite(number):
        warnings.warn(f"{what} is {number}: stored as missing (NULL)", RuntimeWarning, stacklevel=3)
        return None
    return number


def _plain(value: Any) -> Any:
    """JSON for the numpy scalars a param often is (np.int64(4)); anything else is refused."""
    if hasattr(value, "item") and callable(value.item):
        with contextlib.suppress(Exception):
            item = value.item()
            if isinstance(item, (int, float, str, bool)) or item is None:
                return item
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _param_json(name: str, value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise RunError(f"param {name!r} must be JSON data (numbers, text, true/false, lists, objects): {exc}") from None


def _stored_json(text: str | None) -> Any:
    """A stored JSON column; text edited by another tool is reported, never a traceback."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {"unreadable": f"not JSON ({exc})"}


def _ref_id(value: Any, what: str) -> str | None:
    """A Dataset/Split object's id, or the id/prefix string given."""
    if value is None:
        return None
    ref = getattr(value, "id", value)
    if not isinstance(ref, str) or not ref.strip():
        raise RunError(f"{what} must be a {what} object or its id (or a prefix of >= {MIN_PREFIX} characters), "
                       f"not {value!r}")
    return ref


def resolve_inputs(store: Store, dataset: Any = None, split: Any = None) -> tuple[str | None, str | None]:
    """(dataset id, split id) a new run may use: known, not deleted, the split of that dataset.

    A split alone names its dataset too; neither is allowed (a run not tied to a dataset).
    """
    from .datasets import get_dataset
    from .splits import get_split

    dataset_ref, split_ref = _ref_id(dataset, "dataset"), _ref_id(split, "split")
    dataset_id = split_id = None
    if dataset_ref is not None:
        record = get_dataset(store, dataset_ref)
        if record["deleted"]:
            raise RunError(f"dataset {record['id'][:8]} ({record['name']}) is deleted: train on a live one, "
                           "or restore it first (see `jupyter dsi datasets --all`)")
        dataset_id = record["id"]
    if split_ref is not None:
        split_record = get_split(store, split_ref)
        if split_record["deleted"]:
            raise RunError(f"split {split_record['id'][:8]} is deleted (or its dataset is): "
                           "choose a live split (see `jupyter dsi splits`)")
        if dataset_id is not None and split_record["dataset_id"] != dataset_id:
            raise RunError(f"split {split_record['id'][:8]} is a split of dataset "
                           f"{split_record['dataset_id'][:8]}, not of {dataset_id[:8]}: "
                           f"give that dataset, or a split of this one (`jupyter dsi splits --dataset {dataset_id[:8]}`)")
        split_id, dataset_id = split_record["id"], split_record["dataset_id"]
    return dataset_id, split_id


# -- what ran --------------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, *args], cwd=os.getcwd(), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _notebook() -> str | None:
    """The notebook's path when this runs in a kernel that Jupyter started for one."""
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        return session
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return None
    shell = ipython_module.get_ipython()
    value = getattr(shell, "user_ns", {}).get("__session__") if shell is not None else None
    return value if isinstance(value, str) and value else None


def code_info() -> dict[str, Any]:
    """git commit and dirty flag of the working tree at the cwd (absent outside a repository or
    without git), the notebook's path from a kernel, and the command line."""
    out: dict[str, Any] = {}
    head = _git("rev-parse", "HEAD")
    if head is not None and head.strip():
        out["git_commit"] = head.strip()
        status = _git("status", "--porcelain")
        if status is not None:
            out["git_dirty"] = bool(status.strip())
    notebook = _notebook()
    if notebook is not None:
        out["notebook"] = notebook
    out["argv"] = list(sys.argv)
    out["cwd"] = os.getcwd()
    return out


def environment_info() -> dict[str, Any]:
    """Python, the platform, and the versions of the libraries in ENVIRONMENT_MODULES that this
    process has imported (importing one here would cost seconds and change nothing)."""
    from importlib import metadata

    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for module_name, label in ENVIRONMENT_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        version = getattr(module, "__version__", None)
        if not isinstance(version, str):
            with contextlib.suppress(Exception):
                version = metadata.version(label)
        if isinstance(version, str):
            env[label] = version
    return env


# -- the run ---------------------------------------------------------------------------------


def start_run(path: str | os.PathLike[str], *, dataset: Any = None, split: Any = None, name: str | None = None,
              description: str = "", code: dict[str, Any] | None = None, live: bool = True) -> Run:
    """Record a new running run and return it (use it as a context manager).

    ``dataset``/``split``: Dataset/Split objects or ids (or unique prefixes). ``code`` replaces the
    detected code object (git commit, notebook, argv). ``live=False`` is a run with no process
    behind it (the shell's ``jupyter dsi run start``): no pid, no resource meters, no environment
    of this process, ended by a later :func:`open_run`.
    """
    if name is not None:
        _text(name, "name")
    _text(description, "description", empty=True)
    if code is not None and not isinstance(code, dict):
        raise RunError(f"code must be a dict (git commit, notebook, ...), not {type(code).__name__}")
    store = Store(path)
    try:
        dataset_id, split_id = resolve_inputs(store, dataset, split)
        run_id = new_id()
        started = now()
        row = {
            "id": run_id, "name": name if name is not None else f"run-{run_id[:8]}", "description": description,
            "dataset_id": dataset_id, "split_id": split_id, "status": RUNNING, "started_at": started,
            "heartbeat_at": started, "author": current_user(), "host": host(),
            "pid": os.getpid() if live else None,
            "code": json.dumps(code_info() if code is None else code, sort_keys=True, default=str),
            "environment": json.dumps(environment_info() if live else {"platform": platform.platform()}),
        }
        meter = ResourceMeter() if live else None
        try:
            with store.write() as conn:
                _insert(conn, "jdsi_run", row)
                Store.log_event(conn, "run.start", run_id, {"dataset_id": dataset_id})
        except BaseException:
            if meter is not None:
                meter.cancel()
            raise
    except BaseException:
        store.close()
        raise
    return Run(store, row, meter=meter, live=live)


def open_run(path: str | os.PathLike[str], ref: str) -> Run:
    """A running run (by id or unique prefix) to log to or end from another process: the shell's
    ``jupyter dsi run log`` / ``run end``. An ended run is refused: ended runs are immutable."""
    store = Store(path)
    try:
        record = _find(store, ref)
        if record["status"] != RUNNING:
            raise RunError(f"run {record['id'][:8]} ({record['name']}) is {record['status']}: "
                           "ended runs are immutable; start a new run with `jupyter dsi run start`")
        params = {r[0]: r[1] for r in store.conn.execute(
            "SELECT name, value FROM jdsi_run_param WHERE run_id = ?", (record["id"],))}
        run = Run(store, record, meter=None, live=False)
        run._params = params
        run._known_metrics(_metric_groups(store, record["id"]))
        return run
    except BaseException:
        store.close()
        raise


class Run:
    """A training run as it runs: ``with ens.run(dataset=ds, split=split, name="gan-v3") as run:``.

    Made by :func:`start_run` (or ``Ensemble.run``), never directly. An exception inside the
    ``with`` ends it as failed with the exception's type and the first line of its message, and is
    re-raised; leaving it normally (or by ``sys.exit(0)``) ends it as finished. Either way the
    heartbeat stops and the file is released, even when the end cannot be written.
    """

    def __init__(self, store: Store, row: Mapping[str, Any], *, meter: ResourceMeter | None, live: bool) -> None:
        self._store = store
        self.id: str = row["id"]
        self.name: str = row["name"]
        self.description: str = row["description"]
        self.dataset_id: str | None = row["dataset_id"]
        self.split_id: str | None = row["split_id"]
        self.started_at: str = row["started_at"]
        # A process's run ended from elsewhere (`jupyter dsi run end` after a kill): it last lived at
        # its heartbeat, which is where its wall time stops.
        self._last_alive: str | None = row.get("heartbeat_at") if row.get("pid") is not None else None
        self._status = RUNNING
        self._meter = meter
        self._resources: dict[str, Any] | None = None  # measured once, kept if the end must be retried
        # Two locks, so that logging never waits for the file: _buffers guards the buffers (held
        # only to append or swap them), _conn the one connection shared with the heartbeat (held
        # across a write, which may wait for another writer).
        self._buffers = threading.Lock()
        self._conn = threading.RLock()
        self._points: list[tuple[Any, ...]] = []
        self._pending_params: dict[str, str] = {}
        self._params: dict[str, str] = {}  # every param logged, as JSON text: a second value is refused
        # The metric names logged per context (each checked once), and the key each (name, context)
        # is listed under (_metric_key): two pairs of one run never share a key.
        self._logged: dict[str, set[str]] = {}
        self._metric_keys: dict[str, tuple[str, str]] = {}
        self._last_flush = time.time()
        self._next_try = 0.0  # after a periodic flush found the file busy: not before this time
        self._busy_warned = False
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        if live:
            self._heartbeat = threading.Thread(target=self._beat, name=f"dsi-run-{self.id[:8]}", daemon=True)
            self._heartbeat.start()
        atexit.register(self._at_exit)

    # -- state ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """running until ended, then finished or failed."""
        return self._status

    def __repr__(self) -> str:
        return f"<jupyterlab_dsi.Run {self.id[:8]} {self.name!r}: {self._status}>"

    def _check_running(self) -> None:
        if self._status != RUNNING:
            raise RunError(f"run {self.id[:8]} ({self.name}) has ended ({self._status}): ended runs are "
                           "immutable; start a new run to log more")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._status != RUNNING:  # ended inside the block by run.end()
            return
        if exc is None:
            self.end(FINISHED)
            return
        status, error = _ending_of(exc)
        try:
            self.end(status, error=error)
        except Exception as end_exc:  # never hide the exception that ended the run
            warnings.warn(f"run {self.id[:8]} could not be marked {status} ({end_exc}); it will show as "
                          "interrupted", RuntimeWarning, stacklevel=2)
        finally:  # ended or not, the heartbeat stops and the file is released
            self._close()

    # -- logging -------------------------------------------------------------------------

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters (JSON values). A param is set once: logging it again with
        another value is refused (log a metric for what changes during training), also when
        another process (``jupyter dsi run log``) set it; nothing of a refused call is written."""
        self._check_running()
        if not isinstance(params, Mapping):
            raise RunError(f"log_params takes a dict of name -> value, not {type(params).__name__}")
        checked: dict[str, str] = {}
        for key, value in params.items():
            _text(key, "param name")
            text = _param_json(key, value)
            before = self._params.get(key)
            if before is not None and before != text:
                raise RunError(_set_once(key, before))
            checked[key] = text
        with self._buffers:
            earlier = {k: self._params.get(k) for k in checked}
            self._pending_params.update(checked)
            self._params.update(checked)
        try:
            self._flush()
        except _ParamConflict as exc:  # set by another process meanwhile: this call is refused whole
            with self._buffers:
                for key, before in earlier.items():
                    self._pending_params.pop(key, None)
                    if before is None:
                        self._params.pop(key, None)
                    else:
                        self._params[key] = before
                self._params.update(exc.stored)
            raise

    def log_metric(self, name: str, value: Any, step: int = 0, context: str = "") -> None:
        """One metric point: ``log_metrics({name: value}, step, context)``."""
        self.log_metrics({name: value}, step=step, context=context)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0, context: str = "") -> None:
        """Record metric points at ``step`` (a whole number >= 0) in ``context`` ("val", "train";
        "" for none). Values are numbers; NaN and infinities are kept as missing, with a warning.

        A run lists its metrics as ``context/name`` (``name`` without a context), so within one
        run a (name, context) whose listed name is another's is refused: metric ``loss`` in
        context ``val`` and metric ``val/loss`` without one cannot both be logged (either alone
        can)."""
        if self._status != RUNNING:
            self._check_running()
        if type(step) is not int or step < 0:
            step = _step(step)
        names = self._logged.get(context) if type(context) is str else None
        if names is None:
            _text(context, "context", empty=True)
            names = self._logged.setdefault(context, set())
        if not isinstance(metrics, Mapping):
            raise RunError(f"log_metrics takes a dict of name -> number, not {type(metrics).__name__}")
        at = time.time()
        rows, new = [], []
        for name, value in metrics.items():  # every value checked before any is kept
            if name not in names:
                _text(name, "metric name")
                self._check_key(name, context)
                new.append(name)
            if type(value) is not float or not math.isfinite(value):
                value = _number(f"metric {name!r} at step {step}", value)
            rows.append((self.id, name, context, step, value, at))
        if new:
            self._known_metrics((name, context) for name in new)
        with self._buffers:
            self._points.extend(rows)
            due = at >= self._next_try and (len(self._points) >= FLUSH_POINTS or at - self._last_flush >= FLUSH_EVERY_S)
        if due:
            self._flush(periodic=True)

    def _check_key(self, name: str, context: str) -> None:
        key = _metric_key(name, context)
        other = self._metric_keys.get(key)
        if other is not None and other != (name, context):
            raise RunError(f"metric {name!r} in context {context!r} would be listed as {key!r}, as metric "
                           f"{other[0]!r} in context {other[1]!r} of this run is: rename one")

    def _known_metrics(self, pairs: Iterable[tuple[str, str]]) -> None:
        for name, context in pairs:
            self._logged.setdefault(context, set()).add(name)
            self._metric_keys[_metric_key(name, context)] = (name, context)

    def log_predictions(self, frame: pd.DataFrame | pd.Series, target: str | None = None) -> int:
        """Record the model's predictions per simulation; returns the number of values written.

        ``frame`` is indexed by sim_id. Each numeric column other than ``sigma2`` predicts the
        target of the same name (a parameter, a metric, any name); a frame with the one column
        ``prediction`` needs ``target=`` to name it. ``sigma2`` is the predictive variance (with
        several targets, ``sigma2_<target>``). Predicting a (target, simulation) again while the
        run is running replaces the earlier value. Unknown sim ids: nothing is written.
        """
        self._check_running()
        with self._conn:  # the heartbeat thread shares the connection
            rows = _prediction_rows(self._store, self.id, frame, target)
        self._flush(extra=lambda conn: conn.executemany(
            "INSERT OR REPLACE INTO jdsi_prediction (run_id, sim_id, target, value, sigma2) VALUES (?, ?, ?, ?, ?)",
            rows))
        return len(rows)

    def log_artifact(self, path: str | os.PathLike[str], kind: str = "artifact",
                     copy_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Record a file the run produced (or read): absolute path, size and SHA-256, read once.

        Files are never copied unless ``copy_to`` names a folder: then the file is copied there
        (under its own name, atomically, never over another file) and the copy is recorded too.
        Returns the artifact's record.
        """
        self._check_running()
        _text(kind, "kind")
        source = artifact_file(path)
        if copy_to is None:
            sha256, size = _hash_file(source)
            copied = None
        else:
            copied, sha256, size = _copy_into(source, Path(os.fspath(copy_to)).expanduser())
        record = {"id": new_id(), "run_id": self.id, "kind": kind, "path": str(source), "size_bytes": size,
                  "sha256": sha256, "copied_to": None if copied is None else str(copied), "created_at": now()}
        self._flush(extra=lambda conn: _insert(conn, "jdsi_artifact", record))
        return record

    def flush(self) -> None:
        """Write the buffered params and metric points now (one transaction)."""
        self._check_running()
        self._flush()

    # -- ending --------------------------------------------------------------------------

    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        """End the run as finished or failed (``error``: one line saying why). Buffered points
        are written with the end, and the resources measured; the run is immutable after."""
        self._check_running()
        if status not in ENDINGS:
            raise RunError(f"a run ends as {' or '.join(ENDINGS)}, not {status!r}")
        if error is not None:
            _text(error, "error")
            if status == FINISHED:
                raise RunError("an error goes with status failed; a finished run has none")
        if self._resources is None:
            self._resources = self._measure()
        resources = json.dumps(self._resources, sort_keys=True)

        def finish(conn: Any) -> None:
            conn.execute("UPDATE jdsi_run SET status = ?, error = ?, ended_at = ?, resources = ? WHERE id = ?",
                         (status, error, now(), resources, self.id))

        self._flush(extra=finish, event="run.end")
        self._status = status
        self._close()

    def detach(self) -> None:
        """Write what is buffered and release the file, leaving the run running: another process
        (``jupyter dsi run log|end``, :func:`open_run`) goes on with it."""
        try:
            if self._status == RUNNING:
                self._flush()
        finally:  # written or not, the heartbeat stops and the file is released
            self._close()

    def _measure(self) -> dict[str, Any]:
        if self._meter is not None:
            return self._meter.stop()
        # No process of ours trained this run (the shell's run start/end): its wall time only.
        if self._last_alive is not None:
            wall = _seconds_since(self.started_at) - _seconds_since(self._last_alive)
            return {"wall_s": round(max(wall, 0.0), 3), "measured": "until its last heartbeat"}
        return {"wall_s": round(_seconds_since(self.started_at), 3), "host": host()}

    def _close(self) -> None:
        self._stop.set()
        atexit.unregister(self._at_exit)
        if self._meter is not None:  # a run that could not end: its samplers stop unread
            self._meter.cancel()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=HEARTBEAT_EVERY_S)
        with self._conn:
            self._store.close()

    def _at_exit(self) -> None:
        """The interpreter exits with the run still running: keep its buffered points. It stays
        running in the file, so it shows interrupted (nobody said how it ended)."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self._flush()
        with contextlib.suppress(Exception):
            if self._meter is not None:
                self._meter.cancel()
            self._store.close()

    # -- writing -------------------------------------------------------------------------

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                self._flush(periodic=True)
            except Exception:  # a closed or busy store: the next beat, or the end, writes
                pass

    def _flush(self, *, extra: Any = None, event: str = "run.log", periodic: bool = False) -> None:
        """One transaction: the buffered params and points, ``extra(conn)``, the heartbeat, and one
        event when something was written. A busy file is retried (each try waiting up to the
        Store's busy timeout); anything else raises with nothing lost from the buffers.

        A periodic flush (a log call that finds a batch due, the heartbeat) never waits: when the
        connection is in use it is skipped, and it tries the file once with a short busy timeout;
        a busy file keeps the points for a later batch (training goes on)."""
        if periodic:
            if not self._conn.acquire(blocking=False):  # the other thread is writing: a later batch takes these
                return
        else:
            self._conn.acquire()
        try:
            if self._status != RUNNING or (periodic and self._stop.is_set()):
                return
            with self._buffers:
                points, self._points = self._points, []
                params, self._pending_params = self._pending_params, {}
            try:
                self._write(points, params, extra, event, periodic=periodic)
            except _EndedElsewhere as exc:
                ended = exc  # nothing more can be written: the run is over here too
            except BaseException as exc:
                with self._buffers:
                    self._points = points + self._points
                    self._pending_params = {**params, **self._pending_params}
                    if isinstance(exc, _ParamConflict):  # never written: kept, it would refuse every batch
                        for key in exc.stored:
                            self._pending_params.pop(key, None)
                        self._params.update(exc.stored)
                if periodic and isinstance(exc, StoreBusy):
                    if not self._busy_warned:
                        self._busy_warned = True
                        warnings.warn(f"run {self.id[:8]}: another writer holds {self._store.path}; the points "
                                      "are kept and written later", RuntimeWarning, stacklevel=4)
                    self._next_try = time.time() + FLUSH_EVERY_S
                    return
                raise
            else:
                self._last_flush = time.time()
                return
        finally:
            self._conn.release()
        self._status = ended.status
        self._close()
        raise ended

    def _write(self, points: list[tuple[Any, ...]], params: dict[str, str], extra: Any, event: str, *,
               periodic: bool) -> None:
        """One transaction (the caller holds the connection). Periodic: one try with a short busy
        timeout; else BUSY_RETRIES tries with the Store's."""
        if not periodic:
            return self._write_retried(points, params, extra, event, BUSY_RETRIES)
        self._store.conn.execute(f"PRAGMA busy_timeout = {PERIODIC_BUSY_MS}")
        try:
            return self._write_retried(points, params, extra, event, 1)
        finally:
            with contextlib.suppress(Exception):
                self._store.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _write_retried(self, points: list[tuple[Any, ...]], params: dict[str, str], extra: Any, event: str,
                       retries: int) -> None:
        for attempt in range(retries):
            try:
                with self._store.write() as conn:
                    stored = conn.execute("SELECT status FROM jdsi_run WHERE id = ?", (self.id,)).fetchone()
                    if stored is None or stored[0] != RUNNING:  # ended by another process meanwhile
                        raise _EndedElsewhere(
                            f"run {self.id[:8]} ({self.name}) was ended elsewhere "
                            f"({stored[0] if stored else 'removed'}): ended runs are immutable",
                            stored[0] if stored is not None and stored[0] in ENDINGS else FAILED)
                    if params:  # set once, also against another process: checked where it is written
                        conn.executemany("INSERT INTO jdsi_run_param (run_id, name, value) VALUES (?, ?, ?) "
                                         "ON CONFLICT (run_id, name) DO NOTHING",
                                         [(self.id, k, v) for k, v in params.items()])
                        stored = {k: conn.execute("SELECT value FROM jdsi_run_param WHERE run_id = ? AND name = ?",
                                                  (self.id, k)).fetchone()[0] for k in params}
                        differ = {k: v for k, v in stored.items() if v != params[k]}
                        if differ:  # raised inside the transaction: nothing of this batch is written
                            key = next(iter(differ))
                            raise _ParamConflict(_set_once(key, differ[key]), differ)
                    if points:
                        conn.executemany("INSERT INTO jdsi_run_metric (run_id, name, context, step, value, at) "
                                         "VALUES (?, ?, ?, ?, ?, ?)", points)
                    if extra is not None:
                        extra(conn)
                    conn.execute("UPDATE jdsi_run SET heartbeat_at = ? WHERE id = ?", (now(), self.id))
                    if params or points or extra is not None:
                        Store.log_event(conn, event, self.id, {"dataset_id": self.dataset_id})
                return
            except StoreBusy:
                if attempt == retries - 1:
                    raise


def _ending_of(exc: BaseException) -> tuple[str, str | None]:
    """How the exception that left a run's ``with`` block ends the run: (status, error).

    ``sys.exit(0)`` / ``sys.exit()`` finish it; anything else fails it with one line, the
    exception's type and the first line of its message (never a note added to it), cut to
    LIMITS["error"] with a closing "…" when longer.
    """
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return FINISHED, None
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a __str__ that fails: the type alone says enough
        message = ""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    error = f"{name}: {first}" if first else name
    limit = LIMITS["error"]
    return FAILED, error if len(error) <= limit else error[:limit - 1] + "…"


def _seconds_since(stamp: str) -> float:
    return (_dt.datetime.now(_dt.timezone.utc) - _dt.datetime.fromisoformat(stamp)).total_seconds()


# -- files -----------------------------------------------------------------------------------

CHUNK = 1 << 20


def artifact_file(path: str | os.PathLike[str]) -> Path:
    """The absolute path of an artifact to log, or one line saying why it cannot be."""
    source = Path(os.fspath(path)).expanduser()
    if not source.exists():
        raise RunError(f"artifact {str(path)!r} does not exist (from {os.getcwd()}): save the file first, "
                       "or give its path")
    if not source.is_file():
        raise RunError(f"artifact {str(path)!r} is not a file: log each file, or an archive of the folder")
    return source.resolve()


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_into(source: Path, folder: Path) -> tuple[Path, str, int]:
    """Copy ``source`` into ``folder`` under its name, hashing the bytes as they are copied (so
    the record describes the copy exactly); a hidden temporary file is linked to the name, which
    never replaces another file. The same bytes already there are the copy."""
    if not folder.is_dir():
        raise RunError(f"copy_to {str(folder)!r} is not a folder: create it first")
    target = folder / source.name
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=f".{source.name[:200]}.", suffix=".partial", dir=folder)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        try:
            os.link(tmp, target)
        except FileExistsError:
            if target.is_file() and _hash_file(target) == (sha256, size):
                return target.resolve(), sha256, size
            raise RunError(f"{target} exists with other content; it is never overwritten: copy to another "
                           "folder or rename the artifact") from None
        return target.resolve(), sha256, size
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# -- predictions -----------------------------------------------------------------------------


def _prediction_rows(store: Store, run_id: str, frame: Any, target: str | None) -> list[tuple[Any, ...]]:
    """(run_id, sim_id, target, value, sigma2) rows of a predictions frame, every check first."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name="prediction" if target is not None or frame.name is None else frame.name)
    if not isinstance(frame, pd.DataFrame):
        raise RunError(f"log_predictions takes a DataFrame indexed by sim_id, not {type(frame).__name__}")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise RunError("the predictions frame has repeated column names: give each target one column")
    for column in frame.columns:
        if not is_numeric_dtype(frame[column]) or is_bool_dtype(frame[column]):
            raise RunError(f"column {str(column)!r} of the predictions frame is not numeric "
                           f"({frame[column].dtype}): predictions and sigma2 are numbers; drop other columns")
    variances = [c for c in columns if c == "sigma2" or c.startswith("sigma2_")]
    targets = [c for c in columns if c not in variances]
    if not targets:
        raise RunError("the predictions frame has no prediction column: one column per target (or `prediction` "
                       "with target=NAME), and optionally sigma2")
    if targets == ["prediction"]:
        if target is None:
            raise RunError("a frame with one column `prediction` needs target=NAME: what it predicts "
                           "(a parameter, a metric or any name)")
        names = {"prediction": _text(target, "target")}
    elif target is not None:
        raise RunError("target= names the column `prediction` only; here each column names its target "
                       f"({', '.join(targets[:SHOWN_IDS])})")
    else:
        names = {c: _text(c, "target") for c in targets}
    sigma_of: dict[str, str] = {}
    for column in variances:
        if column == "sigma2":
            if len(targets) > 1:
                raise RunError(f"sigma2 is ambiguous with {len(targets)} targets: name it sigma2_<target> "
                               f"(e.g. sigma2_{targets[0]})")
            sigma_of[targets[0]] = column
        else:
            owner = column[len("sigma2_"):]
            if owner not in targets and not (targets == ["prediction"] and owner == target):
                raise RunError(f"column {column!r} names no prediction column (targets: {', '.join(targets)})")
            sigma_of["prediction" if owner not in targets else owner] = column
    ids = [str(i) for i in frame.index]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:SHOWN_IDS]
        raise RunError(f"the predictions frame repeats sim ids ({', '.join(repeated)}): one row per simulation")
    known = {r[0] for r in store.conn.execute("SELECT sim_id FROM jdsi_simulation")}
    unknown = [i for i in ids if i not in known]
    if unknown:
        more = f" and {len(unknown) - SHOWN_IDS} more" if len(unknown) > SHOWN_IDS else ""
        raise RunError(f"{len(unknown)} sim id{'s' if len(unknown) != 1 else ''} of the predictions frame "
                       f"{'are' if len(unknown) != 1 else 'is'} not in this ensemble ({', '.join(unknown[:SHOWN_IDS])}"
                       f"{more}); index the frame by sim_id; nothing was written")
    rows = []
    for column in targets:
        values = _finite(frame[column], f"prediction {names[column]!r}")
        variance: list[float | None] = [None] * len(ids)
        if column in sigma_of:
            variance = _finite(frame[sigma_of[column]], f"sigma2 of {names[column]!r}")
            negative = [i for i, v in zip(ids, variance) if v is not None and v < 0]
            if negative:
                raise RunError(f"sigma2 is a variance and cannot be negative ({', '.join(negative[:SHOWN_IDS])}); "
                               "nothing was written")
        rows.extend((run_id, i, names[column], v, s) for i, v, s in zip(ids, values, variance))
    return rows


def _finite(column: Any, what: str) -> list[float | None]:
    """A numeric column as floats, NaN / infinities / missing as None, with one warning."""
    import numpy as np

    values = column.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        warnings.warn(f"{int(bad.sum())} values of {what} are NaN, infinite or missing: stored as missing (NULL)",
                      RuntimeWarning, stacklevel=4)
    return [None if b else v for v, b in zip(values.tolist(), bad.tolist())]


# -- reading ---------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):  # a zombie (killed, not yet reaped) is gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def derived_status(row: Mapping[str, Any]) -> str:
    """The status to show: a stored 'running' is 'interrupted' when its process is gone (this
    host and its pid not alive) or its heartbeat is older than HEARTBEAT_TIMEOUT_S."""
    status = row["status"]
    if status != RUNNING:
        return str(status)
    pid = row["pid"]
    # os.kill on Windows would end the process: there only the heartbeat tells.
    if pid is not None and row["host"] == host() and os.name == "posix" and not _alive(int(pid)):
        return INTERRUPTED
    beat = row["heartbeat_at"] or row["started_at"]
    try:
        if _seconds_since(beat) > HEARTBEAT_TIMEOUT_S:
            return INTERRUPTED
    except (TypeError, ValueError):  # a stamp edited by hand: no sign of life
        return INTERRUPTED
    return RUNNING


def _duration(row: Mapping[str, Any], status: str) -> float | None:
    """Seconds from start to end; so far for a running run; to its last heartbeat when interrupted."""
    end = {RUNNING: None, INTERRUPTED: row["heartbeat_at"]}.get(status, row["ended_at"])
    try:
        start = _dt.datetime.fromisoformat(row["started_at"])
        stop = _dt.datetime.now(_dt.timezone.utc) if end is None else _dt.datetime.fromisoformat(end)
    except (TypeError, ValueError):
        return None
    return round((stop - start).total_seconds(), 3)


def _metric_key(name: str, context: str) -> str:
    """The name a run lists a metric under: ``context/name``, or ``name`` without a context. A
    run never logs two (name, context) of one key (Run.log_metrics refuses the second)."""
    return f"{context}/{name}" if context else name


_RUN_COLUMNS = ("id, name, description, dataset_id, split_id, status, error, started_at, ended_at, heartbeat_at, "
                "author, host, pid, code, environment, resources")


def _records(store: Store, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Run records (RUN_FIELDS), newest first; ``where`` filters jdsi_run (bound ``params``)."""
    q = store.conn.execute
    rows = q(f"SELECT {_RUN_COLUMNS} FROM jdsi_run {where} ORDER BY started_at DESC, id", params).fetchall()
    if not rows:
        return []
    chosen = f"(SELECT id FROM jdsi_run {where})"
    run_params: dict[str, dict[str, Any]] = {r["id"]: {} for r in rows}
    for run_id, name, value in q(f"SELECT run_id, name, value FROM jdsi_run_param WHERE run_id IN {chosen} "
                                 "ORDER BY run_id, name", params):
        run_params[run_id][name] = _stored_json(value)
    metrics = {r["id"]: _last_values(store, r["id"]) for r in rows}
    artifacts: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    for a in q(f"SELECT run_id, path, kind, sha256, size_bytes, copied_to FROM jdsi_artifact "
               f"WHERE run_id IN {chosen} ORDER BY created_at, id", params):
        artifacts[a["run_id"]].append({"path": a["path"], "kind": a["kind"], "sha256": a["sha256"],
                                       "size_bytes": a["size_bytes"], "copied_to": a["copied_to"]})
    stale: dict[str, list[str]] = {r["id"]: [] for r in rows}
    for record_id, reason in q(f"SELECT record_id, reason FROM jdsi_stale WHERE record_id IN {chosen} "
                               "ORDER BY found_at, cause_id", params):
        stale[record_id].append(reason)
    out = []
    for r in rows:
        status = derived_status(r)
        out.append({
            "id": r["id"], "name": r["name"], "description": r["description"], "dataset_id": r["dataset_id"],
            "split_id": r["split_id"], "status": status, "error": r["error"], "started_at": r["started_at"],
            "ended_at": r["ended_at"], "duration_s": _duration(r, status), "params": run_params[r["id"]],
            "metrics": metrics[r["id"]], "resources": _stored_json(r["resources"]), "code": _stored_json(r["code"]),
            "environment": _stored_json(r["environment"]), "artifacts": artifacts[r["id"]], "host": r["host"],
            "author": r["author"], "stale": stale[r["id"]],
        })
    return out


def _metric_groups(store: Store, run_id: str) -> Iterator[tuple[str, str]]:
    """Each (name, context) a run logged, by name then context. Index seeks only (a skip scan):
    a run of a million points lists as fast as one of ten."""
    q = store.conn.execute
    group = q("SELECT name, context FROM jdsi_run_metric WHERE run_id = ? ORDER BY name, context LIMIT 1",
              (run_id,)).fetchone()
    while group is not None:
        name, context = group
        yield name, context
        # The next group: a later context of this name, else the next name (two seeks; a row-value
        # range would scan every point of this name).
        later = q("SELECT context FROM jdsi_run_metric WHERE run_id = ? AND name = ? AND context > ? "
                  "ORDER BY context LIMIT 1", (run_id, name, context)).fetchone()
        group = (name, later[0]) if later is not None else q(
            "SELECT name, context FROM jdsi_run_metric WHERE run_id = ? AND name > ? ORDER BY name, context LIMIT 1",
            (run_id, name)).fetchone()


def _last_values(store: Store, run_id: str) -> dict[str, Any]:
    """The last value of each (name, context) of a run: the highest step, the latest logged among
    equal steps (one index seek each)."""
    out: dict[str, Any] = {}
    for name, context in list(_metric_groups(store, run_id)):
        out[_metric_key(name, context)] = store.conn.execute(
            "SELECT value FROM jdsi_run_metric WHERE run_id = ? AND name = ? AND context = ? "
            "ORDER BY step DESC, rowid DESC LIMIT 1", (run_id, name, context)).fetchone()[0]
    return dict(sorted(out.items()))


def list_runs(store: Store, dataset: Any = None) -> list[dict[str, Any]]:
    """Every run (or a dataset's: a Dataset, an id or a unique prefix, deleted ones too), newest
    first: exactly the objects of `jupyter dsi runs --format json`."""
    if dataset is None:
        return _records(store)
    from .datasets import get_dataset

    dataset_id = get_dataset(store, _ref_id(dataset, "dataset") or "")["id"]
    return _records(store, "WHERE dataset_id = ?", (dataset_id,))


def _find(store: Store, ref: Any) -> dict[str, Any]:
    """The stored jdsi_run row (as a dict) of an id or unique prefix of >= MIN_PREFIX characters."""
    return dict(resolve_prefix(
        store, "jdsi_run", ref, what="run", error=RunError, columns=_RUN_COLUMNS, order="started_at DESC, id",
        see=" (see `jupyter dsi runs`)", make="start one with ens.run(...) or `jupyter dsi run start`",
        messages={"unknown": "run {ref!r} is not a run of this database; latest runs: {known}{see}"}))


def get_run(store: Store, ref: str) -> dict[str, Any]:
    """One run's record (as list_runs gives it) by id or unique prefix of >= 4 characters."""
    return _records(store, "WHERE id = ?", (_find(store, ref)["id"],))[0]


def metric_points(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Every metric point of a run (id or prefix), by name, context, step, then as logged."""
    found = _find(store, run_id)["id"]
    rows = store.conn.execute("SELECT name, context, step, value, at FROM jdsi_run_metric WHERE run_id = ? "
                              "ORDER BY name, context, step, rowid", (found,))
    return [dict(r) for r in rows]


def predictions(store: Store, run_id: str) -> list[dict[str, Any]]:
    """A run's predictions: dict(sim_id, target, value, sigma2), by target then sim_id."""
    found = _find(store, run_id)["id"]
    rows = store.conn.execute("SELECT sim_id, target, value, sigma2 FROM jdsi_prediction WHERE run_id = ? "
                              "ORDER BY target, sim_id", (found,))
    return [dict(r) for r in rows]


def runs_frame(store: Store, dataset: Any = None) -> pd.DataFrame:
    """list_runs as a DataFrame: one column per field, params/metrics/resources as dicts."""
    import pandas as pd

    records = list_runs(store, dataset)
    return pd.DataFrame.from_records([[r[c] for c in RUN_FIELDS] for r in records], columns=RUN_FIELDS)


# -- runs recorded elsewhere -------------------------------------------------------------------


def import_run(store: Store, *, run_id: str, name: str, dataset_id: str | None, split_id: str | None,
               status: str, started_at: str, ended_at: str | None, params: Mapping[str, Any],
               metrics: Iterable[Sequence[Any]], resources: Mapping[str, Any], code: Mapping[str, Any],
               environment: Mapping[str, Any], description: str = "", error: str | None = None,
               author: str | None = None) -> str:
    """Insert an ended run recorded by another tool (MLflow), whole, in one transaction.

    ``metrics``: (name, value, step, context, at) tuples, ``at`` in seconds since the epoch.
    Idempotent: a ``run_id`` already present is left as it is and returned.
    """
    if not isinstance(run_id, str) or not run_id.strip():
        raise RunError(f"run_id must be a non-empty id, not {run_id!r}")
    _text(name, "name")
    _text(description, "description", empty=True)
    if status not in ENDINGS:
        raise RunError(f"an imported run is {' or '.join(ENDINGS)}, not {status!r}")
    for stamp, what in ((started_at, "started_at"), (ended_at, "ended_at")):
        if stamp is not None:
            try:
                _dt.datetime.fromisoformat(stamp)
            except (TypeError, ValueError):
                raise RunError(f"{what} must be an ISO 8601 time, not {stamp!r}") from None
    if store.conn.execute("SELECT 1 FROM jdsi_run WHERE id = ?", (run_id,)).fetchone() is not None:
        return run_id
    for ref, table, what in ((dataset_id, "jdsi_dataset", "dataset"), (split_id, "jdsi_split", "split")):
        if ref is not None and store.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (ref,)).fetchone() is None:
            raise RunError(f"{what} {ref!r} is not in this database; nothing was imported")
    param_rows = [(run_id, _text(k, "param name"), _param_json(k, v)) for k, v in params.items()]
    point_rows = []
    for point in metrics:
        if not isinstance(point, Sequence) or len(point) != 5:
            raise RunError(f"each imported metric point is (name, value, step, context, at), not {point!r}")
        metric, value, step, context, at = point
        _text(metric, "metric name")
        point_rows.append((run_id, metric, _text(context or "", "context", empty=True), _step(step),
                           _number(f"metric {metric!r} at step {step}", value), float(at)))
    record = {
        "id": run_id, "name": name, "description": description, "dataset_id": dataset_id, "split_id": split_id,
        "status": status, "error": error, "started_at": started_at, "ended_at": ended_at,
        "heartbeat_at": ended_at, "author": author or current_user(), "host": str(resources.get("host") or "unknown"),
        "pid": None, "code": json.dumps(dict(code), sort_keys=True, default=str),
        "environment": json.dumps(dict(environment), sort_keys=True, default=str),
        "resources": json.dumps(dict(resources), sort_keys=True, default=str),
    }
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM jdsi_run WHERE id = ?", (run_id,)).fetchone() is not None:
            return run_id  # imported by another process meanwhile
        _insert(conn, "jdsi_run", record)
        conn.executemany("INSERT INTO jdsi_run_param (run_id, name, value) VALUES (?, ?, ?)", param_rows)
        conn.executemany("INSERT INTO jdsi_run_metric (run_id, name, context, step, value, at) VALUES (?, ?, ?, ?, ?, ?)",
                         point_rows)
        Store.log_event(conn, "run.end", run_id, {"dataset_id": dataset_id})
    return run_id

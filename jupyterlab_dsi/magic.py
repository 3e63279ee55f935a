"""The IPython extension: ``%load_ext jupyterlab_dsi``, then ``%dsi open|methods|select|load|datasets|runs|show``.

The magic speaks the same options as ``jupyter dsi`` and returns pandas DataFrames. It is
declared with ``@no_var_expand``: IPython would otherwise evaluate ``{x}`` and ``$x`` inside the
line before the magic sees it, and a filter or description would run code.
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from . import bridge, frames
from .errors import DsiError
from .store import Store, damaged


class _ArgumentError(DsiError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(f"%dsi: {message} (see %dsi?)")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise _ArgumentError((message or "").strip() or f"%dsi: exit {status}")


NO_DB = "%dsi: no database: give --db FILE, run %dsi open FILE, or open one in the DSI Explorer panel"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%dsi", add_help=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("open", add_help=False)
    p.add_argument("file", metavar="DB")
    p = sub.add_parser("methods", add_help=False)
    p.add_argument("--db")
    p = sub.add_parser("select", add_help=False)
    p.add_argument("--db")
    p.add_argument("--method")
    p.add_argument("--time", type=int)
    p.add_argument("--where", default="")
    p.add_argument("--weights", nargs="+")
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument("--sample", type=float)
    sampling.add_argument("--size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--save")
    p.add_argument("--name")
    p = sub.add_parser("datasets", add_help=False)
    p.add_argument("--db")
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("runs", add_help=False)
    p.add_argument("--db")
    p.add_argument("--dataset")
    for command in ("load", "show"):
        p = sub.add_parser(command, add_help=False)
        p.add_argument("dataset")
        p.add_argument("--db")
    return parser


def run(line: str) -> Any:
    """Run one ``%dsi`` line and return its result (also used by tests without IPython)."""
    from .filter import FilterError

    try:
        args = _parser().parse_args(shlex.split(line))
    except ValueError as exc:  # unbalanced quotes
        raise _ArgumentError(f"%dsi: {exc}") from None
    try:
        return _COMMANDS[args.command](args)
    except FilterError as exc:
        raise _ArgumentError(str(exc)) from None
    except sqlite3.DatabaseError as exc:  # a read past what opening checks: named by the Store
        where = getattr(args, "db", None) or getattr(args, "file", None) or bridge.current_db()
        raise damaged(where or "the database", exc) from None


def _db(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    current = bridge.current_db()
    if current is None:
        raise _ArgumentError(NO_DB)
    return Path(current)


def _tell_panel(db: Path, *messages: dict[str, Any]) -> None:
    """Send ``messages`` (with ``db`` relative to the server root) to a linked panel, if any."""
    if not bridge.linked():
        return
    rel = bridge.relative(db)
    if rel is None:
        print(f"the DSI Explorer panel cannot show {db}: it is outside the server's root directory")
        return
    for message in messages:
        bridge.send({**message, "db": rel})


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun if n != 1 else noun[:-1]}"


def _open(args: argparse.Namespace) -> None:
    path = Path(args.file).expanduser().resolve()
    with Store(path, readonly=True) as store:  # a bad file fails here, before it becomes current
        counts = store.counts()
    bridge.set_db(path)
    print(f"{args.file}: " + ", ".join(_plural(counts[k], k) for k in ("simulations", "methods", "datasets")))
    _tell_panel(path, {"type": "open"})


def _methods(args: argparse.Namespace) -> pd.DataFrame:
    with Store(_db(args), readonly=True) as store:
        return pd.DataFrame(store.methods()).set_index("id")


def _datasets(args: argparse.Namespace) -> pd.DataFrame:
    with Store(_db(args), readonly=True) as store:
        return frames.datasets_frame(store, include_deleted=args.all)


def _runs(args: argparse.Namespace) -> pd.DataFrame:
    from .runs import runs_frame

    with Store(_db(args), readonly=True) as store:
        return runs_frame(store, args.dataset).set_index("id")


def _load(args: argparse.Namespace) -> pd.DataFrame:
    with Store(_db(args), readonly=True) as store:
        return frames.members_frame(store, args.dataset)


def _show(args: argparse.Namespace) -> None:
    from .datasets import get_dataset

    db = _db(args)
    with Store(db, readonly=True) as store:
        record = get_dataset(store, args.dataset)
    if not bridge.linked():
        print("no DSI Explorer panel is linked to this kernel: open the panel with this notebook active, "
              "then run %dsi show again")
        return
    _tell_panel(db, {"type": "show", "dataset": record["id"]})


class _OneStore:
    """The one Store a ``%dsi select --save`` opens: for writing, at its first use, closed at the end."""

    def __init__(self, db: Path) -> None:
        self.db, self._store = db, None

    def __call__(self) -> Store:
        if self._store is None:
            self._store = Store(self.db)
        return self._store

    def __enter__(self) -> _OneStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._store is not None:
            self._store.close()


def _method(args: argparse.Namespace, db: Path, opened: _OneStore | None = None) -> str | None:
    """--method, else the linked panel's method on this database, else the database's only one;
    None for a table of runs (no field files, so no methods): parameters and metrics only.
    ``opened``: the command's Store, used instead of opening one here."""
    if args.method is not None:
        return str(args.method)
    current = bridge.current_method(db)
    if current is not None:
        return current
    if opened is not None:
        methods = _methods_of(opened())
    else:
        with Store(db, readonly=True) as store:
            methods = _methods_of(store)
    if not methods:
        return None
    if len(methods) == 1:
        return str(methods[0]["id"])
    known = ", ".join(f"{m['id'][:8]} ({m['norm']} vs {m['ground_truth']})" for m in methods[:10])
    raise _ArgumentError(f"%dsi select: this database has {len(methods)} methods; choose one with --method ID: {known}")


def _methods_of(store: Store) -> list[dict[str, Any]]:
    methods = store.methods()
    if not methods and not store.conn.execute("SELECT 1 FROM jdsi_metric LIMIT 1").fetchone():
        store.resolve_method("")  # an ensemble not post-processed yet: the Store says how
    return methods


def _select(args: argparse.Namespace) -> pd.DataFrame:
    from .datasets import DatasetError, sampling_options, save_selection, saved_message
    from .feature import from_args
    from .query import select
    from .sampling import apply

    db = _db(args)
    if args.save is not None:
        with _OneStore(db) as opened:
            method = _method(args, db, opened)
            weights = None if args.weights is None else from_args(args.weights)
            record, selected = save_selection(
                db, method=method, time=args.time, where=args.where, weights=weights,
                description=args.save, name=args.name or "", sample=args.sample, size=args.size,
                seed=args.seed, origin="magic", store=opened,
            )
            print(saved_message(record, selected))
            _tell_panel(db, _select_message(record["method"], args.time, record["weights"], args.where),
                        {"type": "saved", "dataset": record["id"]})
            return frames.members_frame(opened(), record["id"])
    method = _method(args, db)
    weights = None if args.weights is None else from_args(args.weights)
    if args.name is not None:
        raise DatasetError("--name only applies with --save DESCRIPTION")
    sampling = sampling_options(args.sample, args.size, args.seed)
    with Store(db, readonly=True) as store:
        selection = select(store, method, args.time, args.where, weights)
    frame = frames.selection_frame(selection, args.time)
    if sampling is not None:
        try:
            kept = apply(frame.index.get_level_values("sim_id"), sampling)
        except ValueError as exc:  # a probability outside [0, 1], a negative size or seed
            raise DatasetError(str(exc)) from None
        frame = frame[frame.index.get_level_values("sim_id").isin(kept)]
    _tell_panel(db, _select_message(method and selection.method["id"], args.time, selection.feature, args.where))
    return frame


def _select_message(method: str | None, time: int | None, weights: dict[str, float] | None, where: str) -> dict[str, Any]:
    """weights: d_feature's terms as used, so that the panel weighs the same columns."""
    return {"type": "select", "method": method, "t": time, "weights": weights, "where": where}


_COMMANDS = {"open": _open, "methods": _methods, "select": _select, "datasets": _datasets,
             "runs": _runs, "load": _load, "show": _show}


@magics_class
class DsiMagics(Magics):
    @no_var_expand
    @line_magic
    def dsi(self, line: str) -> Any:
        """Select training data from a jupyterlab-dsi database.

        %dsi open DB
            make DB the kernel's current database (and open it in a linked DSI Explorer panel);
            prints "DB: N simulations, M methods, K datasets".
        %dsi methods [--db DB]
            the post-processing methods, one row per method.
        %dsi select [--db DB] [--method ID] [--time STEP] [--where EXPR] [--weights TERM ...]
                    [--sample P | --size N] [--seed S] [--save DESCRIPTION [--name NAME]]
            the rows of `jupyter dsi select`: parameters and distances indexed by sim_id at one
            step (counted from 0 as the panel shows it; by (sim_id, t) without --time), filtered by EXPR in the filter language of
            `jupyter dsi select --where` (e.g. "cs in (0.1, 0.2) and d_density < 1").
            --sample P keeps each simulation with probability P, --size N keeps N of them
            (deterministic for --seed S, 0 by default).
            --save DESCRIPTION saves the simulations selected at --time as a training dataset
            (after --sample/--size), named NAME (generated when absent); returns its members like
            %dsi load. With a linked panel, the panel shows the same selection.
        %dsi load ID [--db DB]
            a dataset's members with their parameters (ID or its first characters); the
            dataset's record is in the result's .attrs["dataset"].
        %dsi datasets [--db DB] [--all]
            the saved training datasets, one row per dataset (--all: deleted ones too).
        %dsi runs [--db DB] [--dataset ID]
            the training runs, newest first, indexed by run id (one dataset's with --dataset):
            the fields of `jupyter dsi runs --format json`; params, metrics (the last value of
            each) and resources as dicts.
        %dsi show ID [--db DB]
            restore that dataset's settings (method, time, weights, selection) in the linked panel.

        --db defaults to the kernel's current database (set by %dsi open or by the linked DSI
        Explorer panel); --method defaults to the linked panel's method, else the database's only
        method. A database outside the server's root works here, but the panel cannot show it.

        The line is never expanded: {x} and $x stay text.
        """
        try:
            return run(line)
        except (DsiError, sqlite3.DatabaseError) as exc:
            # One line, no traceback: the message names the problem and the way out.
            message = " ".join(str(exc).splitlines())
            print(f"error: {message}", file=sys.stderr)
            return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(DsiMagics)

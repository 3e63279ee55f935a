"""The IPython extension: ``%load_ext jupyterlab_dsi``, then ``%dsi methods|select ...``.

The magic speaks the same options as ``jupyter dsi`` and returns pandas DataFrames. It is
declared with ``@no_var_expand``: IPython would otherwise evaluate ``{x}`` and ``$x`` inside the
line before the magic sees it, and a filter or description would run code.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import pandas as pd
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from .errors import DsiError


class _ArgumentError(DsiError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(f"%dsi: {message} (see %dsi?)")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise _ArgumentError((message or "").strip() or f"%dsi: exit {status}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%dsi", add_help=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("methods", add_help=False)
    p.add_argument("--db", required=True)
    p = sub.add_parser("select", add_help=False)
    p.add_argument("--db", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--time", type=int)
    p.add_argument("--where", default="")
    p.add_argument("--weights", type=float, nargs=2, default=(1.0, 1.0))
    p = sub.add_parser("datasets", add_help=False)
    p.add_argument("--db", required=True)
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("load", add_help=False)
    p.add_argument("dataset")
    p.add_argument("--db", required=True)
    return parser


def run(line: str) -> pd.DataFrame:
    """Run one ``%dsi`` line and return its result (also used by tests without IPython)."""
    from .filter import FilterError
    from .query import select
    from .store import Store

    try:
        args = _parser().parse_args(shlex.split(line))
    except ValueError as exc:  # unbalanced quotes
        raise _ArgumentError(f"%dsi: {exc}") from None
    try:
        with Store(args.db, readonly=True) as store:
            if args.command == "methods":
                return pd.DataFrame(store.methods()).set_index("id")
            if args.command == "datasets":
                from .datasets import list_datasets

                records = list_datasets(store, include_deleted=args.all)
                return pd.DataFrame.from_records(records, columns=DATASET_COLUMNS).set_index("id")
            if args.command == "load":
                return _load(store, args.dataset)
            selection = select(store, args.method, args.time, args.where, tuple(args.weights))
    except FilterError as exc:
        raise _ArgumentError(str(exc)) from None
    frame = pd.DataFrame.from_records(selection.rows, columns=selection.columns)
    return frame.set_index(["sim_id", "t"]) if args.time is None else frame.set_index("sim_id")


DATASET_COLUMNS = ["id", "name", "description", "size", "method", "time", "created_at", "author",
                   "parent", "digest", "filter", "sampling"]


def _load(store: Any, ref: str) -> pd.DataFrame:
    """A dataset's members with their parameters, indexed by sim_id; its record in ``.attrs``."""
    from .datasets import get_dataset, members

    record = get_dataset(store, ref)
    ids = members(store, record["id"])
    params = [p["name"] for p in store.parameters()]
    values: dict[str, dict[str, Any]] = {i: {} for i in ids}
    for sim_id, name, value in store.conn.execute("SELECT sim_id, name, value FROM jdsi_param_value"):
        if sim_id in values:
            values[sim_id][name] = value
    frame = pd.DataFrame.from_dict(values, orient="index", columns=params)
    frame.index.name = "sim_id"
    frame.attrs["dataset"] = {k: record[k] for k in ("id", "name", "description", "digest", "filter", "method", "time")}
    return frame


@magics_class
class DsiMagics(Magics):
    @no_var_expand
    @line_magic
    def dsi(self, line: str) -> Any:
        """Select training data from a jupyterlab-dsi database.

        %dsi methods --db DB
            the post-processing methods, one row per method.
        %dsi datasets --db DB [--all]
            the saved training datasets, one row per dataset.
        %dsi load ID --db DB
            a dataset's members with their parameters (ID or its first characters); the
            dataset's record is in the result's .attrs["dataset"].
        %dsi select --db DB --method ID [--time INDEX] [--where EXPR] [--weights WS WE]
            parameters and distances per (simulation, step), filtered by EXPR in the filter
            language of `jupyter dsi select --where` (e.g. "cs in (0.1, 0.2) and d_density < 1").

        The line is never expanded: {x} and $x stay text.
        """
        try:
            return run(line)
        except DsiError as exc:
            # One line, no traceback: the message names the problem and the way out.
            print(f"error: {exc}", file=sys.stderr)
            return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(DsiMagics)

"""``jupyter dsi runs`` and ``jupyter dsi run start|log|end``: training runs from a shell, for
trainers that are not Python (issue 15 §2). The same functions as the Python API (runs.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from .errors import DsiError

FORMATS = ["table", "csv", "json"]
# What a table shows of a run (every field goes to json and csv).
TABLE_COLUMNS = ["id", "name", "dataset_id", "split_id", "status", "started_at", "duration_s", "metrics"]

SHELL_RUN_NOTE = (
    "A run started here has no process behind it: it records no pid, so it is never shown "
    "interrupted because a process died, only when no `jupyter dsi run log` (or `run end`) has "
    "refreshed its heartbeat for 10 minutes."
)


# A number as a person writes one: digits, an optional point and exponent, nothing else (no
# `nan`, `inf`, `1_000`, spaces or other scripts' digits, all of which float() takes).
DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
# What a metric may also be: stored as missing, with a warning (runs._number).
NOT_FINITE = {"nan", "-nan", "inf", "-inf", "infinity", "-infinity"}


def _decimal(text: str) -> int | float | None:
    """A plain decimal's number (an int without point or exponent), else None."""
    if DECIMAL.fullmatch(text) is None:
        return None
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:  # more digits than int() converts: not a number anyone means
        return None


def _value(text: str) -> Any:
    """A --param's value: a number when the text is a plain finite decimal, else the text."""
    number = _decimal(text)
    return text if number is None or not math.isfinite(number) else number


def _metric(text: str) -> float | int | None:
    """A --metric's value: a plain decimal, or nan / inf (kept as missing, with a warning)."""
    number = _decimal(text)
    if number is None and text.lower() in NOT_FINITE:
        return float(text)
    return number


def _pairs(items: list[str] | None, option: str, numbers_only: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise DsiError(f"{option} takes NAME=VALUE, not {item!r}")
        if numbers_only:
            value = _metric(text)
            if value is None:
                raise DsiError(f"{option} {key}: the value must be a number, not {text!r}")
        else:
            value = _value(text)
        out[key] = value
    return out


def _cell(field: str, value: Any, fmt: str) -> Any:
    """A field as a table or CSV cell: nested values as JSON text, a table's metrics as k=v."""
    if fmt == "table" and field == "metrics":
        return ", ".join(f"{k}={'—' if v is None else format(v, '.6g')}" for k, v in value.items())
    if fmt == "table" and field in ("id", "dataset_id", "split_id") and value is not None:
        return value[:8]
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def cmd_runs(args: argparse.Namespace) -> int:
    from .textout import write_rows
    from .runs import RUN_FIELDS, list_runs
    from .store import Store

    with Store(args.db, readonly=True) as store:
        records = list_runs(store, args.dataset)
    if args.format == "json":
        json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    columns = TABLE_COLUMNS if args.format == "table" else RUN_FIELDS
    write_rows(columns, [[_cell(c, r[c], args.format) for c in columns] for r in records], args.format, sys.stdout)
    return 0


def cmd_run_start(args: argparse.Namespace) -> int:
    from .runs import start_run

    run = start_run(args.db, dataset=args.dataset, split=args.split, name=args.name,
                    description=args.description, live=False)
    run.detach()  # the run goes on without this process: later `run log` / `run end` open it
    where = f" on dataset {run.dataset_id[:8]}" if run.dataset_id else " (not tied to a dataset)"
    print(f"started run {run.name!r}{where}")
    print(run.id)
    return 0


def cmd_run_log(args: argparse.Namespace) -> int:
    from .runs import artifact_file, open_run

    params = _pairs(args.param, "--param", numbers_only=False)
    metrics = _pairs(args.metric, "--metric", numbers_only=True)
    if args.kind is not None and not args.artifact:
        raise DsiError("--kind applies to --artifact PATH")
    for path in args.artifact or []:  # every file checked before anything is written
        artifact_file(path)
    run = open_run(args.db, args.id)
    try:
        if params:
            run.log_params(params)
        if metrics:
            run.log_metrics(metrics, step=args.step, context=args.context)
        for path in args.artifact or []:
            run.log_artifact(path, kind=args.kind or "artifact", copy_to=args.copy_to)
    finally:
        run.detach()  # writes what is buffered, and the heartbeat when nothing else was given
    print(f"run {run.id[:8]}: logged {len(params)} params, {len(metrics)} metrics, "
          f"{len(args.artifact or [])} artifacts")
    return 0


def cmd_run_end(args: argparse.Namespace) -> int:
    from .runs import open_run

    run = open_run(args.db, args.id)
    try:
        run.end(args.status, error=args.error)
    finally:
        if run.status == "running":  # the end was refused: release the file, keep that error
            with contextlib.suppress(Exception):
                run.detach()
    print(f"run {run.id[:8]} ({run.name}) {run.status}")
    return 0


def register(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add `runs` and `run start|log|end` through cli.build_parser's ``command`` helper."""
    p = command("runs", "list the training runs (newest first), with their params, last metrics and resources")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--dataset", metavar="ID", help="only the runs of this dataset (id or unique prefix)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(run=cmd_runs)

    p = command("run", "record a training run from a shell: start, log, end")
    p.epilog = SHELL_RUN_NOTE
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_text, description=f"{help_text}. {SHELL_RUN_NOTE}")
        a.add_argument("--db", required=True, metavar="DB")
        return a

    a = action("start", "start a run; prints its id on the last line")
    a.add_argument("--dataset", metavar="ID", help="the dataset trained on (id or unique prefix)")
    a.add_argument("--split", metavar="ID", help="the split used (id or prefix; names its dataset too)")
    a.add_argument("--name", metavar="N", help="the run's name (run-<id> when absent)")
    a.add_argument("--description", default="", metavar="D", help="what this run tries")
    a.set_defaults(run=cmd_run_start)

    a = action("log", "log params, metric points or artifacts to a running run (refreshes its heartbeat)")
    a.add_argument("id", metavar="ID", help="the run's id or a unique prefix")
    a.add_argument("--param", action="append", metavar="K=V", help="a param (a plain decimal is a number, anything else text)")
    a.add_argument("--metric", action="append", metavar="K=V", help="a metric point (a number)")
    a.add_argument("--step", type=int, default=0, metavar="S", help="the metrics' step (0)")
    a.add_argument("--context", default="", metavar="C", help="the metrics' context, e.g. val")
    a.add_argument("--artifact", action="append", metavar="PATH", help="a file the run produced (hashed, not copied)")
    a.add_argument("--kind", metavar="K", help="the artifacts' kind (artifact), e.g. model")
    a.add_argument("--copy-to", metavar="DIR", help="also copy the artifacts into DIR")
    a.set_defaults(run=cmd_run_log)

    a = action("end", "end a run as finished or failed; it is immutable after")
    a.add_argument("id", metavar="ID", help="the run's id or a unique prefix")
    a.add_argument("--status", choices=["finished", "failed"], default="finished")
    a.add_argument("--error", metavar="TEXT", help="why it failed (one line; with --status failed)")
    a.set_defaults(run=cmd_run_end)

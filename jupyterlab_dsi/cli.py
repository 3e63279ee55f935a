"""``jupyter dsi``: the ensemble pipeline from a shell or a batch job.

Errors caused by input print one line naming the file, row, column or name and exit with status
2; nothing is half-written. Commands that create a record print its id on their last line so
scripts can capture it (``METHOD=$(jupyter dsi postprocess ... | tail -n 1)``).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DsiError
from .progress import TerminalProgress
# The table writers live in textout (proposals and ingest use them without the CLI); their names
# stay importable from here.
from .textout import _cell, _csv_cell, _json_value, counted, write_rows  # noqa: F401

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that keeps usage errors to the same one-line form and exit status."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _progress(args: argparse.Namespace, label: str) -> TerminalProgress:
    return TerminalProgress(label, enabled=not args.quiet)


# -- commands -----------------------------------------------------------------------------


def cmd_sample(args: argparse.Namespace) -> int:
    from .sample import write_sample

    try:
        csv_path = write_sample(
            args.out_dir,
            sims=args.sims,
            steps=args.steps,
            grid=tuple(args.grid),
            seed=args.seed,
            progress=_progress(args, "sample"),
            params=args.params,
            prefix=args.prefix,
        )
    except ValueError as exc:
        raise DsiError(str(exc)) from None
    with open(csv_path, encoding="utf-8") as fh:
        written = sum(1 for _ in fh) - 1
    print(f"wrote {counted(written, 'simulation')} to {csv_path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest

    metrics = [m.strip() for m in (args.metrics or "").split(",") if m.strip()]
    variables = None
    if args.variables:
        from .xarray_fields import parse_variables

        variables = parse_variables(args.variables)
    report = ingest(args.db, args.ensemble, progress=_progress(args, "ingest"), fmt=args.format,
                    id_column=args.id_column, metrics=metrics, variables=variables)
    if report.already_ingested:
        print(f"{args.ensemble}: already ingested into {args.db} (same SHA-256); nothing changed")
    else:
        kinds = ", ".join(
            f"{p['name']} ({len(p['levels'])} levels)" if p["levels"] else f"{p['name']} (numeric)"
            for p in report.parameters
        )
        print(f"ingested {counted(report.simulations, 'simulation')} into {args.db}; parameters: {kinds or 'none'}")
        if report.metrics:
            print(f"metrics: {', '.join(report.metrics)}")
        if report.linked:
            print(f"linked {counted(report.linked, 'simulation')} to the recorded proposal points they were run for")
        if report.promoted:
            print(f"now numeric (their values no longer read as levels): {', '.join(report.promoted)}")
    print(report.source_id)
    return 0


def cmd_postprocess(args: argparse.Namespace) -> int:
    from .compute import postprocess

    gt_time = None if args.gt_time == "matched" else _index(args.gt_time, "--gt-time")
    method_id = postprocess(
        args.db,
        ground_truth=args.ground_truth,
        norm=args.norm,
        gt_time=gt_time,
        description=args.description,
        progress=_progress(args, "postprocess"),
        workers=args.workers,
        scheduler=args.scheduler,
        geometry=args.geometry,
        match_time=args.match_time,
        field=args.field,
    )
    print(method_id)
    return 0


def _index(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DsiError(f"{option} must be 'matched' or a step index, not {text!r}") from None
    if value < 0:
        raise DsiError(f"{option} must be a step index >= 0, not {value}")
    return value


def _positive(text: str) -> int:
    """argparse type: an integer >= 1 (the usage error names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {value}")
    return value


def cmd_methods(args: argparse.Namespace) -> int:
    from .store import Store

    with Store(args.db, readonly=True) as store:
        methods = store.methods()
    from .ensemble import METHOD_COLUMNS as columns  # the Python API's frame has the same columns

    rows = [[m[c] for c in columns] for m in methods]
    write_rows(columns, rows, args.format, sys.stdout)
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from .query import select
    from .store import Store

    if args.save is None:
        for option, value in (("--name", args.name), ("--sample", args.sample),
                              ("--size", args.size), ("--seed", args.seed)):
            if value is not None:
                raise DsiError(f"{option} only applies with --save DESCRIPTION")
        with Store(args.db, readonly=True) as store:
            selection = select(store, args.method, args.time, args.where or "", _weights(args))
        write_rows(selection.columns, selection.rows, args.format, sys.stdout)
        return 0
    return _save_selection(args)


def _weights(args: argparse.Namespace) -> Any:
    from .feature import from_args

    return None if args.weights is None else from_args(args.weights)


def _save_selection(args: argparse.Namespace) -> int:
    from .datasets import save_selection, saved_message

    record, selected = save_selection(
        args.db, method=args.method, time=args.time, where=args.where or "",
        weights=_weights(args), description=args.save, name=args.name or "",
        sample=args.sample, size=args.size, seed=args.seed, origin="cli",
    )
    print(saved_message(record, selected))
    print(record["id"])
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import list_datasets
    from .store import Store

    with Store(args.db, readonly=True) as store:
        records = list_datasets(store, include_deleted=args.all)
    from .ensemble import DATASET_COLUMNS

    # Scripts (json, and the Python API's frame) get every field of the record, filter and
    # sampling included; a table shows the first ten and whether upstream changes made it stale.
    columns = list(DATASET_COLUMNS if args.format == "json" else [*DATASET_COLUMNS[:10], "stale"])
    if args.all:
        columns.append("deleted")
    # stale: json has the reasons ([] when fresh); a table or CSV them on one line.
    rows = [[_stale_text(r[c]) if c == "stale" and args.format != "json" else r[c] for c in columns]
            for r in records]
    write_rows(columns, rows, args.format, sys.stdout)
    return 0


def _stale_text(reasons: list[str]) -> str:
    from .staleness import summary

    return summary(reasons, 1)


def _listed(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise DsiError(f"{option} is a comma-separated list with no empty items, not {text!r}")
    return items


def cmd_split(args: argparse.Namespace) -> int:
    from .splits import save_split
    from .store import Store

    fractions: list[float] = []
    for item in _listed(args.fractions, "--fractions"):
        try:
            fractions.append(float(item))
        except ValueError:
            raise DsiError(f"--fractions takes numbers such as 0.8,0.1,0.1, not {item!r}") from None
    names = _listed(args.names, "--names")
    with Store(args.db) as store:
        record = save_split(store, args.dataset, names, fractions, args.seed, args.stratify)
    sizes = ", ".join(f"{n} {c}" for n, c in record["sizes"].items())
    how = f", stratified on {record['stratify']}" if record["stratify"] else ""
    print(f"split dataset {record['dataset_id'][:8]} (seed {record['seed']}{how}): {sizes}")
    print(record["id"])
    return 0


def cmd_splits(args: argparse.Namespace) -> int:
    from .splits import list_splits
    from .store import Store

    with Store(args.db, readonly=True) as store:
        records = list_splits(store, args.dataset)
    columns = ["id", "dataset_id", "names", "fractions", "seed", "stratify", "sizes", "digest",
               "created_at", "author", "deleted"]
    if args.format == "json":  # lists and the sizes object as JSON values
        rows = [[r[c] for c in columns] for r in records]
    else:  # one cell each, in part order: train,val,test | 0.8,0.1,0.1 | 48,6,6
        rows = [[",".join(map(str, r[c])) if c in ("names", "fractions") else
                 ",".join(str(r["sizes"][n]) for n in r["names"]) if c == "sizes" else r[c]
                 for c in columns] for r in records]
    write_rows(columns, rows, args.format, sys.stdout)
    return 0


def _write_atomic(path: Path, text: str) -> None:
    from .paths import written_aside

    folder = path.parent
    if not folder.is_dir():
        raise DsiError(f"{folder}: no such folder for {path.name}")
    tmp = written_aside(folder, path.name, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cmd_export(args: argparse.Namespace) -> int:
    from . import exports
    from .store import Store

    # The server's "Save next to the notebook" and Dataset.export write the same (exports.export).
    with Store(args.db, readonly=True) as store:
        if args.output is None:
            if args.format not in exports.TEXT_FORMATS:
                raise DsiError(f"--format {args.format} writes " + (
                    "a folder" if args.format == "rocrate" else "two files (the JSON-LD and its members CSV)")
                    + ": give -o PATH")
            sys.stdout.write(exports.text(store, args.dataset, args.format))
            return 0
        written = exports.export(store, args.dataset, args.format, args.output)
    print("wrote " + " and ".join(str(p) for p in [args.output, *written[1:]]))
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from .lineage import lineage, render
    from .store import Store

    with Store(args.db, readonly=True) as store:
        sys.stdout.write(render(lineage(store, args.id), args.format))
    return 0


def cmd_verify_sources(args: argparse.Namespace) -> int:
    from .staleness import source_files, summary, verify_sources
    from .store import Store

    if args.dataset is not None:
        raise DsiError("--sources checks every source file; give no dataset id with it")
    with Store(args.db) as store:  # writable: the stale marks are recorded for every reader
        files = source_files(store)
        stale = verify_sources(store, progress=_progress(args, "verify"))
    for entry in stale:
        text = _one_line(summary(entry["reasons"]))  # a path may hold a newline
        print(f"STALE  {entry['kind']:<10} {entry['id']}: {text}")
    if stale:
        print(f"{counted(len(stale), 'record')} stale", file=sys.stderr)
        return 1
    simulations = sum(f.kind == "simulation" for f in files)
    print(f"all {counted(len(files), 'source')} unchanged ({counted(len(files) - simulations, 'source file')}, "
          f"{counted(simulations, 'simulation file')})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .datasets import check, get_dataset, list_datasets
    from .store import Store

    if args.sources:
        return cmd_verify_sources(args)

    differ = 0
    with Store(args.db, readonly=True) as store:
        records = list_datasets(store) if args.dataset is None else [get_dataset(store, args.dataset)]
        for record in records:
            problems = check(store, record)
            label = f"{record['id']}  {_cell(record['name'])}"
            if problems:
                differ += 1
                print(f"DIFFERS  {label}: " + "; ".join(p.replace("\n", " ") for p in problems))
            else:
                note = " (no method stored: digest checked, selection not recomputed)" if record["method"] is None else ""
                print(f"ok       {label}: {counted(record['size'], 'member')}, {record['digest']}{note}")
    if not records:
        print("no datasets to verify")
    if differ:
        print(f"{differ} of {len(records)} dataset{'s' if len(records) != 1 else ''} differ", file=sys.stderr)
        return 1
    return 0


def cmd_import_mlflow(args: argparse.Namespace) -> int:
    from .mlflow import cli_import  # the optional extra: one line when MLflow is not installed

    return cli_import(args.db, args.tracking_uri, args.experiment)


def _name_value(text: str, option: str, shape: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise DsiError(f"{option} takes {shape}, not {text!r}")
    return name, value


def cmd_propose(args: argparse.Namespace) -> int:
    import io

    from .proposals import propose, read_study

    tau: dict[str, float] = {}
    for item in args.tau or []:
        name, value = _name_value(item, "--tau", "NAME=VALUE")
        try:
            tau[name] = float(value)
        except ValueError:
            raise DsiError(f"--tau {name}= must be a number, not {value!r}") from None
    bounds: dict[str, tuple[float, float]] = {}
    for item in args.bounds or []:
        name, value = _name_value(item, "--bounds", "NAME=LO:HI")
        lo, sep, hi = value.partition(":")
        try:
            if not sep:
                raise ValueError
            bounds[name] = (float(lo), float(hi))
        except ValueError:
            raise DsiError(f"--bounds {name}= takes LO:HI numbers, not {value!r}") from None
    if args.study is None and args.run_ref is None:
        raise DsiError("give --study STUDY.csv, or --db DB --run RUN to take the study set from a run's sigma2")
    if args.run_ref is not None and args.db is None:
        raise DsiError("--run takes the study set from a database: give --db DB too")
    if args.target is not None and args.run_ref is None:
        raise DsiError("--target names a run's target: give --db DB --run RUN too")
    study = read_study(args.study) if args.study is not None else None
    frame = propose(study, args.n, args.seed, tau=tau, bounds=bounds,
                    prior_column=args.prior_column, alpha=args.alpha,
                    entropy_column=args.entropy_column, categorical=tuple(args.categorical or ()),
                    continuous=tuple(args.continuous or ()),
                    db=args.db, run=args.run_ref, target=args.target)
    buffer = io.StringIO()
    rows = [[v.item() if hasattr(v, "item") else v for v in row]
            for row in frame.itertuples(index=False, name=None)]
    write_rows(list(frame.columns), rows, args.format, buffer)
    if args.output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        _write_atomic(Path(args.output), buffer.getvalue())
        print(f"wrote {len(frame)} proposals to {args.output}")
    if "proposal_record" in frame.attrs:  # stdout stays the proposals themselves
        print(f"recorded proposal {frame.attrs['proposal_record']}", file=sys.stderr)
    return 0


def cmd_proposals(args: argparse.Namespace) -> int:
    from .proposals import get_proposal, list_proposals, points_text
    from .store import Store

    if args.id is None:
        if args.output is not None:
            raise DsiError("-o writes one proposal's points: give its ID (see `jupyter dsi proposals --db DB`)")
        with Store(args.db, readonly=True) as store:
            records = list_proposals(store)
        fmt = args.format or "table"
        if fmt == "json":
            write_rows(list(records[0]) if records else [], [list(r.values()) for r in records], fmt, sys.stdout)
            return 0
        columns = ["id", "created_at", "run", "n", "seed", "alpha", "linked"]
        rows = [[r["id"][:8] if fmt == "table" else r["id"], r["created_at"], r["run_name"], r["n"],
                 r["policy"].get("seed"), r["policy"].get("alpha"), r["linked"]] for r in records]
        write_rows(columns, rows, fmt, sys.stdout)
        return 0
    fmt = args.format or "csv"
    if fmt == "table":
        raise DsiError("a proposal's points are csv (what `sample --params` reads) or json, not a table")
    with Store(args.db, readonly=True) as store:
        record = get_proposal(store, args.id)
        text = points_text(store, record["id"], fmt)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    from .paths import write_new

    out = Path(args.output)
    if not out.parent.is_dir():
        raise DsiError(f"{out.parent}: no such folder for {out.name}")
    write_new(out.parent, out.name, text)  # atomic, and never over an existing file
    print(f"wrote {counted(record['n'], 'point')} of proposal {record['id'][:8]} to {args.output}")
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    from .augment import augment, summary
    from .datasets import members
    from .store import Store

    with Store(args.db) as store:
        record, chosen = augment(store, args.dataset, args.run_ref, size=args.size, seed=args.seed,
                                 policy=args.policy, description=args.save, name=args.name,
                                 target=args.target)
        parent_size = len(members(store, record["parent"]))
    print(summary(record, chosen, parent_size))
    print(record["id"])
    return 0


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jupyter dsi",
        description="Choose, record and reproduce training datasets from simulation ensembles.",
        epilog="Typical run: jupyter dsi sample ens && jupyter dsi ingest ens --db ens.sqlite && "
        "jupyter dsi postprocess --db ens.sqlite --ground-truth sim00000 --norm L2",
    )
    parser.add_argument("--version", action="version", version=f"jupyterlab-dsi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        return p

    p = command("sample", "write a synthetic shell-implosion ensemble (deterministic for a seed)")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--sims", type=int, default=1000, help="number of simulations (1000)")
    p.add_argument("--steps", type=int, default=40, help="time steps per simulation (40)")
    p.add_argument("--grid", type=int, nargs=2, default=(32, 64), metavar=("NR", "NZ"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--params", metavar="PROPOSALS.csv",
                   help="run at these parameter values (one simulation per row, e.g. the CSV of "
                        "`jupyter dsi propose`) instead of drawing them; --sims is ignored and the "
                        "other columns (proposal_id, component) are kept")
    p.add_argument("--prefix", metavar="P",
                   help="sim id prefix: P00000, P00001, ... (sim; prop with --params)")
    p.set_defaults(run=cmd_sample)

    p = command("ingest", "read an ensemble directory, a netCDF/Zarr store of runs, a Cinema *.cdb, "
                "a DSI SQLite file or a CSV of runs into a database (created when missing); the source is never modified")
    p.add_argument("ensemble", metavar="SOURCE")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=["auto", "ensemble", "cinema", "dsi-sqlite", "csv", "netcdf", "zarr"], default="auto",
                   help="what SOURCE is (auto: told from the path and the file's first bytes)")
    p.add_argument("--id-column", metavar="NAME",
                   help="CSV or Cinema column naming the runs (default: sim_id or id; for a CSV "
                   "then its first column when unique; else row00000, row00001, ...)")
    p.add_argument("--metrics", metavar="A,B,C",
                   help="columns kept as per-run metrics, not parameters (d_* columns always are)")
    p.add_argument("--variables", metavar="NAME=VAR,...",
                   help="netCDF/Zarr variable names, e.g. density=rho,r=radius,time=t (also z, x, y, "
                   "shock, edge; run= the run dimension and sim_id= the run names of a store)")
    p.set_defaults(run=cmd_ingest)

    p = command("postprocess", "compute distances to a ground truth; prints the new method's id")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--ground-truth", required=True, metavar="SIM_ID")
    p.add_argument("--norm", required=True, choices=["L1", "L2", "Linf"])
    p.add_argument("--gt-time", default="matched", metavar="{matched,INDEX}",
                   help="compare step t with the ground truth's step t (matched) or with one fixed step")
    p.add_argument("--description", default="", help="why this method (stored with it)")
    p.add_argument("--geometry", choices=["cartesian", "cylindrical"],
                   help="cell volumes: dx*dy or R-weighted (default: cartesian for VTK x/y grids, "
                   "cylindrical for npz/h5 r/z files)")
    p.add_argument("--match-time", choices=["index", "nearest"], default="index",
                   help="compare step t with the ground truth's step t (index) or its nearest in time")
    p.add_argument("--field", default="density", metavar="NAME",
                   help="the VTK cell array to compare (default density; e.g. energy, pressure); "
                   "its distances are the d_density column")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--workers", type=_positive, metavar="N",
                      help="run on a local Dask cluster of N worker processes (needs jupyterlab-dsi[dask])")
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="run on the Dask scheduler at ADDRESS, e.g. tcp://10.0.0.5:8786; "
                      "its workers must see the simulation files at the same paths")
    p.set_defaults(run=cmd_postprocess)

    formats = ["table", "csv", "json"]
    p = command("methods", "list the post-processing methods")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=formats, default="table")
    p.set_defaults(run=cmd_methods)

    p = command("select", "rows of (simulation, step) with parameters and distances")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--method", metavar="ID", help="method id or a unique prefix (none: the "
                   "simulations with their metrics, for sources without field files)")
    p.add_argument("--time", type=int, metavar="STEP",
                   help="one step, counted from 0 as the panel shows it (all when absent)")
    p.add_argument("--where", metavar="EXPR", help="filter, e.g. \"cs in (1, 2) and d_density < 0.5\"")
    p.add_argument("--weights", nargs="+", metavar="TERM",
                   help="d_feature's terms: NAME=WEIGHT for any number columns (d_density=1 "
                   "wall_clock=0.5), or two numbers W_SHOCK W_EDGE; default d_shock + d_edge, or "
                   "d_density for a method without shock and edge distances")
    p.add_argument("--format", choices=formats, default="table")
    p.add_argument("--save", metavar="DESCRIPTION",
                   help="save the simulations selected at --time as a training dataset with this "
                   "description (why it exists); prints the new dataset's id on the last line")
    p.add_argument("--name", metavar="NAME", help="the dataset's name (generated when absent)")
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument("--sample", type=float, metavar="P",
                          help="keep each simulation with probability P (deterministic for --seed)")
    sampling.add_argument("--size", type=int, metavar="N",
                          help="keep N simulations (deterministic for --seed)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of --sample or --size (0)")
    p.set_defaults(run=cmd_select)

    p = command("datasets", "list the saved training datasets")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=formats, default="table")
    p.add_argument("--all", action="store_true", help="include deleted datasets")
    p.set_defaults(run=cmd_datasets)

    p = command("split", "split a dataset's members into named parts (deterministic for --seed, "
                "recorded; the same request again gives the same split); prints the split's id last")
    p.add_argument("dataset", metavar="DATASET", help="dataset id or a unique prefix")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--fractions", default="0.8,0.1,0.1", metavar="F,F,...", help="one per part, summing to 1")
    p.add_argument("--names", default="train,val,test", metavar="NAME,NAME,...", help="the parts' names")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--stratify", metavar="PARAM", help="balance the parts on this parameter's values")
    p.set_defaults(run=cmd_split)

    p = command("splits", "list the recorded splits, oldest first")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--dataset", metavar="ID", help="only this dataset's (id or a unique prefix)")
    p.add_argument("--format", choices=formats, default="table")
    p.set_defaults(run=cmd_splits)

    p = command("export", "export a dataset as JSON, a Markdown dataset card, PROV-JSON, DataCite 4.5 JSON, "
                "Croissant 1.1 JSON-LD (with its members CSV) or an RO-Crate 1.1 folder (docs/exports.md)")
    p.add_argument("dataset", metavar="ID", help="dataset id or a unique prefix")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=["json", "card", "prov", "datacite", "croissant", "rocrate"], default="json")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write a new file PATH instead of printing (croissant: and PATH's .members.csv beside it; "
                   "rocrate: a new folder PATH); written whole or not at all, never over an existing path")
    p.set_defaults(run=cmd_export)

    p = command("verify", "recompute datasets from their stored selection; exit 1 if any differs")
    p.add_argument("dataset", metavar="ID", nargs="?", help="one dataset (all live ones when absent)")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--sources", action="store_true",
                   help="instead: re-hash every ingested source and simulation file and mark what "
                   "depends on a changed one (or a recomputed method) as stale; exit 1 if anything is")
    p.set_defaults(run=cmd_verify)

    p = command("lineage", "the records a source, method, dataset, split, run or artifact came from "
                "and those made from it, as a graph")
    p.add_argument("id", metavar="ID", help="the record's id or a unique prefix (>= 4 characters)")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=["json", "dot", "mermaid"], default="json")
    p.set_defaults(run=cmd_lineage)

    p = command("import-mlflow", "bring in the MLflow runs that used this database's datasets (logged "
                "with dsi.mlflow.log_input) as runs linked to them; needs jupyterlab-dsi[mlflow]")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--tracking-uri", required=True, metavar="URI",
                   help="the MLflow tracking store, e.g. sqlite:///path/mlflow.db or http://host:5000")
    p.add_argument("--experiment", metavar="NAME", help="only this MLflow experiment (all when absent)")
    p.set_defaults(run=cmd_import_mlflow)

    p = command("propose", "draw N simulation parameters where the model is least certain "
                "(seed 004's eq. 4 over a study set with sigma2; deterministic for --seed)")
    p.add_argument("--study", metavar="STUDY.csv",
                   help="parameter points (one column each) with the model's sigma2 at each "
                   "(or --db DB --run RUN)")
    p.add_argument("--db", metavar="DB", help="record the proposal in DB (an immutable record in its lineage)")
    p.add_argument("--run", dest="run_ref", metavar="RUN",  # args.run is the handler
                   help="take the study set from this run's logged sigma2 (id or prefix; needs --db); "
                   "with --study, the run whose model gave the study set's sigma2, recorded as its provenance")
    p.add_argument("--target", metavar="NAME",
                   help="whose sigma2 with --run (default: the run's first target alphabetically with one)")
    p.add_argument("--n", type=int, required=True, metavar="N", help="number of proposals")
    p.add_argument("--seed", type=int, required=True, metavar="S")
    p.add_argument("--tau", action="append", metavar="NAME=VALUE",
                   help="spread of a continuous parameter (default: its study-set spacing); repeatable")
    p.add_argument("--bounds", action="append", metavar="NAME=LO:HI",
                   help="prior box of a continuous parameter (default: the study set's range); "
                   "draws outside are redrawn; repeatable")
    p.add_argument("--prior-column", metavar="COL", help="a study column multiplying the weights")
    p.add_argument("--alpha", type=float, default=1.0, metavar="A",
                   help="weight A*sigma2 + (1-A)*entropy, both normalised (1: sigma2 alone)")
    p.add_argument("--entropy-column", metavar="COL", help="the classification entropy column (with --alpha < 1)")
    p.add_argument("--categorical", action="append", metavar="NAME",
                   help="a numeric parameter whose values are levels (copied from the drawn study row, "
                        "never jittered), e.g. the sample's profile; text columns always are")
    p.add_argument("--continuous", action="append", metavar="NAME",
                   help="spread this numeric parameter even where the database keeps it categorical "
                        "(e.g. the sample's cs levels); --tau defaults to its smallest gap between levels; "
                        "repeatable")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    p.set_defaults(run=cmd_propose)

    p = command("proposals", "list the recorded proposals (newest first), or write one's points as the CSV "
                "`jupyter dsi sample OUT --params` reads")
    p.add_argument("id", metavar="ID", nargs="?", help="a proposal's id or a unique prefix: its points")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--format", choices=formats, help="table (the list's default), csv (the points' default) or json")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the points to FILE (atomically; an existing FILE is never overwritten)")
    p.set_defaults(run=cmd_proposals)

    p = command("augment", "a new dataset: a parent's members plus N non-members chosen by a run's "
                "sigma2 (pool-based active learning, issue 16 §2); prints the new dataset's id last")
    p.add_argument("--db", required=True, metavar="DB")
    p.add_argument("--dataset", required=True, metavar="PARENT", help="the parent dataset (id or prefix)")
    p.add_argument("--run", dest="run_ref", required=True, metavar="RUN",  # args.run is the handler
                   help="the run whose logged sigma2 chooses (id or prefix)")
    p.add_argument("--size", type=int, required=True, metavar="N", help="number of simulations to add")
    p.add_argument("--seed", type=int, required=True, metavar="S")
    p.add_argument("--policy", default="sample", metavar="sample|top",
                   help="sample: without replacement, proportional to sigma2 (default); top: the N largest")
    p.add_argument("--target", metavar="NAME", help="whose sigma2 (default: the run's first target alphabetically)")
    p.add_argument("--save", required=True, metavar="DESCRIPTION", help="why these simulations are added")
    p.add_argument("--name", metavar="NAME", help="the new dataset's name (generated when absent)")
    p.set_defaults(run=cmd_augment)

    from .cli_runs import register as register_runs  # runs, run start|log|end

    register_runs(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Warnings (a NaN stored as missing, an empty split part, pairs with no overlap) are one line
    # each on stderr, never Python's two-line form with a source path; said even when the command
    # then fails.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            return _run(args)
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                print(f"warning: {_one_line(message)}", file=sys.stderr)


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _run(args: argparse.Namespace) -> int:
    from .filter import FilterError
    from .store import damaged

    try:
        return int(args.run(args) or 0)
    except (DsiError, FilterError, sqlite3.DatabaseError) as exc:
        if isinstance(exc, sqlite3.DatabaseError):  # pages damaged past what opening reads
            exc = damaged(getattr(args, "db", None) or "the database", exc)
        # One line whatever the message holds (a file name or a CSV cell may contain a newline).
        print(f"jupyter dsi {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"jupyter dsi {args.command}: cancelled; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `jupyter dsi select ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``card`` export: a Markdown dataset card (description, provenance, counts per level, the
filter, how to load it). User text is escaped so that it renders as written (never markup)."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from typing import Any

from .. import feature as ftr
from .. import steps
from ..datasets import code_span, escape_markdown, get_dataset, members
from ..store import Store
from .record import method_info


def _md(text: Any) -> str:
    """User text inside Markdown prose or a table cell."""
    return escape_markdown(text)


def _cell(value: Any) -> str:
    # Numbers (levels, counts) are not user text: as Python writes them, readable in the source.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return escape_markdown(value)


def _fence(text: str, info: str = "") -> str:
    ticks = max([3] + [len(run) + 1 for run in re.findall(r"`+", text)])
    return f"{'`' * ticks}{info}\n{text}\n{'`' * ticks}"


def _sampling_text(sampling: dict[str, Any] | None) -> str:
    if sampling is None:
        return "none (every selected simulation)"
    if sampling["kind"] == "p":
        return f"probability p = {sampling['p']!r}, seed {sampling['seed']}"
    return f"target size n = {sampling['n']}, seed {sampling['seed']}"


def level_counts(store: Store, member_ids: list[str]) -> list[dict[str, Any]]:
    """Per parameter: counts of members per level (categorical) or their range (numeric)."""
    out = []
    wanted = set(member_ids)
    for p in store.parameters():
        values = [
            r[1] for r in store.conn.execute(
                "SELECT sim_id, value FROM jdsi_param_value WHERE name = ?", (p["name"],)
            ) if r[0] in wanted
        ]
        entry: dict[str, Any] = {"name": p["name"], "kind": p["kind"], "unit": p["unit"]}
        if p["kind"] == "categorical":
            counts = Counter(values)
            levels = list(p["levels"] or [])
            extra = sorted((v for v in counts if v not in levels), key=repr)
            entry["counts"] = [[lv, counts.get(lv, 0)] for lv in levels + extra]
        else:
            nums = [v for v in values if isinstance(v, (int, float))]
            entry["count"] = len(nums)
            entry["min"] = min(nums) if nums else None
            entry["max"] = max(nums) if nums else None
        out.append(entry)
    return out


def export_card(store: Store, ref: str) -> str:
    """A Markdown dataset card: description, provenance, counts per level, filter, how to load."""
    record = get_dataset(store, ref)
    ids = members(store, record["id"])
    method = method_info(store, record["method"])
    if method is None:
        method_text = "none"
    else:
        gt_time = "matched steps" if method["gt_time"] is None else f"ground-truth step {method['gt_time']}"
        method_text = f"`{method['id']}`: {method['norm']} against ground truth {_cell(method['ground_truth'])}, {gt_time}"
    lines = [
        f"# Dataset card: {_md(record['name'])}",
        "",
        _md(record["description"]),
        "",
        "## Provenance",
        "",
        "| | |",
        "|---|---|",
        f"| id | `{record['id']}` |",
        f"| digest | `{record['digest']}` |",
        f"| members | {record['size']} simulations |",
        f"| created | {code_span(record['created_at'])} by {_cell(record['author'])} |",
        f"| method | {method_text} |",
        f"| step | {steps.step_text(record['time'], steps.simulated_time(store, record['time']))} |",
        f"| feature | {'none' if record['weights'] is None else code_span(ftr.formula(record['weights']))} |",
        f"| selection | {_cell(record['selection_kind'])} |",
        f"| sampling | {_sampling_text(record['sampling'])} |",
        f"| parent | {'none' if record['parent'] is None else '`' + record['parent'] + '`'} |",
        f"| stale | {'no' if not record['stale'] else _md('; '.join(record['stale']))} |",
        f"| database | {_cell(store.path.name)} |",
        "",
        "## Filter",
        "",
        _fence(record["filter"] or "(none: every simulation)", "text"),
        "",
        "## Members per parameter level",
        "",
    ]
    for entry in level_counts(store, ids):
        unit = f" [{_md(entry['unit'])}]" if entry["unit"] else ""
        lines.append(f"### {_md(entry['name'])}{unit}")
        lines.append("")
        if entry["kind"] == "categorical":
            lines += ["| level | members |", "|---|---|"]
            lines += [f"| {_cell(level)} | {count} |" for level, count in entry["counts"]]
        else:
            lines.append(
                f"numeric: {entry['count']} members, from {entry['min']!r} to {entry['max']!r}"
                if entry["count"] else "numeric: no values"
            )
        lines.append("")
    # The file's name, never the server's absolute path: the card travels, the path does not.
    db = shlex.quote(store.path.name)
    lines += [
        "## Load it",
        "",
        f"From the folder that holds {_md(store.path.name)}, in a notebook:",
        "",
        _fence(f"%load_ext jupyterlab_dsi\n%dsi load {record['id']} --db {db}", "python"),
        "",
        "or from a shell:",
        "",
        _fence(
            f"jupyter dsi export {record['id']} --db {db} --format json -o dataset.json\n"
            f"jupyter dsi verify {record['id']} --db {db}",
            "sh",
        ),
        "",
    ]
    return "\n".join(lines)

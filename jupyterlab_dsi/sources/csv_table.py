"""A plain CSV of runs: one row per run (DSI's wildfire example), parameters and per-run metrics;
or several rows per run, ordered by a step column (DSI's ``write(..., "CSV", "output")`` of a
CloverLeaf database), whose columns are then per-step metrics."""

from __future__ import annotations

from pathlib import Path

from .table import (
    IngestError, StepColumn, Table, check_names, id_column, is_file_column, is_missing, listed, pick_ids,
    read_csv, text_table, typed_cells,
)

# Columns that order a run's rows into steps, best first (as in DSI databases).
STEP_ORDER = ("step", "timestep", "time")


def read(path: Path, id_column_name: str | None = None, metrics: list[str] | None = None) -> Table:
    header, rows = read_csv(path)
    index = id_column(path, header, rows, id_column_name, strict=True)
    if index is not None:
        per_step = _per_step(path, header, rows, index, metrics or [])
        if per_step is not None:
            return per_step
    id_index, ids = pick_ids(path, header, rows, id_column_name, strict=True)
    return text_table("csv", path, header, rows, id_index, ids, metrics or [])


def _per_step(path: Path, header: list[str], rows: list[list[str]], index: int, metrics: list[str]) -> Table | None:
    """A Table of per-step columns when the id column repeats and a step column orders each run's
    rows (a number, present and distinct within every run); None otherwise, so that a repeated
    id with nothing to order it stays the error it is."""
    cells = [r[index].strip() for r in rows]
    if len(set(cells)) == len(cells) or any(is_missing(c) for c in cells):
        return None
    typed = {i: typed_cells([r[i] for r in rows]) for i in range(len(header)) if i != index}
    order = None
    for key in STEP_ORDER:
        at = header.index(key) if key in header and header.index(key) != index else None
        if at is None or not typed[at][0]:
            continue
        seen: dict[str, set[float]] = {}
        usable = True
        for sim_id, value in zip(cells, typed[at][1]):
            steps = seen.setdefault(sim_id, set())
            if value is None or value in steps:
                usable = False
                break
            steps.add(value)
        if usable:
            order = at
            break
    if order is None:
        return None
    unknown = [m for m in metrics if m not in set(header)]
    if unknown:
        raise IngestError(
            f"{path}: --metrics names {', '.join(unknown)}, not a column; the header has {listed(header)}"
        )
    names = [h for i, h in enumerate(header) if i != index]
    check_names(str(path), names)
    by_sim: dict[str, list[int]] = {}
    for row_index, sim_id in enumerate(cells):
        by_sim.setdefault(sim_id, []).append(row_index)
    for members in by_sim.values():
        members.sort(key=lambda r: typed[order][1][r])
    table = Table(kind="csv", path=path, sim_ids=list(by_sim))
    for i, name in enumerate(header):
        if i == index:
            continue
        numeric, values = typed[i]
        series = {s: [values[r] for r in members] for s, members in by_sim.items()}
        table.steps.append(StepColumn(name, series, numeric, file=is_file_column(name)))
    if "time" in header and header.index("time") != index and typed[header.index("time")][0]:
        times = typed[header.index("time")][1]
        for sim_id, members in by_sim.items():
            if all(times[r] is not None for r in members):
                table.times[sim_id] = [float(times[r]) for r in members]
    return table

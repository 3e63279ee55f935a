"""Print the figures of the last stress run (stress/figures.json, written by tests/stress).

The last line is exactly: ``stress: <ops> operations, <faults> faults, <hostile> hostile inputs, <lost> lost``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().with_name("figures.json")
KEYS = ("ops", "faults", "hostile", "lost")


def main() -> int:
    if not FIGURES.exists():
        print(f"{FIGURES}: no figures yet; run `pytest tests/stress` first", file=sys.stderr)
        return 1
    data = json.loads(FIGURES.read_text(encoding="utf-8"))
    # One row per test file (what was tried), its measurements (sizes, memory peaks) beneath.
    files: dict[str, dict[str, float]] = {}
    measured: dict[str, list[str]] = {}
    for name, row in sorted(data["tests"].items()):
        file = name.split("::")[0].rsplit("/", 1)[-1]
        total = files.setdefault(file, {key: 0 for key in (*KEYS, "seconds", "tests")})
        for key in (*KEYS, "seconds"):
            total[key] += row.get(key, 0)
        total["tests"] += 1
        measured.setdefault(file, []).extend(
            f"{key}: {value}" for key, value in row.items() if key not in KEYS and key != "seconds"
        )
    width = max([len("file"), *map(len, files)])
    print(f"{'file'.ljust(width)}  {'tests':>5} {'ops':>7} {'faults':>6} {'hostile':>7} {'lost':>4} {'s':>7}")
    for file, row in files.items():
        print(f"{file.ljust(width)}  {row['tests']:>5} {row['ops']:>7} {row['faults']:>6} {row['hostile']:>7} "
              f"{row['lost']:>4} {row['seconds']:>7.1f}")
        for line in measured[file]:
            print(f"    {line}")
    t = data["totals"]
    print(f"stress: {t['ops']} operations, {t['faults']} faults, {t['hostile']} hostile inputs, {t['lost']} lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())

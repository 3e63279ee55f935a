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
    tests = data["tests"]
    width = max(len(name) for name in tests)
    print(f"{'test'.ljust(width)}  {'ops':>7} {'faults':>6} {'hostile':>7} {'lost':>4} {'s':>6}")
    for name, row in sorted(tests.items()):
        print(f"{name.ljust(width)}  {row['ops']:>7} {row['faults']:>6} {row['hostile']:>7} {row['lost']:>4} {row['seconds']:>6}")
        for key, value in row.items():  # measurements (sizes, memory peaks) under their test
            if key not in KEYS and key != "seconds":
                print(f"    {key}: {value}")
    t = data["totals"]
    print(f"stress: {t['ops']} operations, {t['faults']} faults, {t['hostile']} hostile inputs, {t['lost']} lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())

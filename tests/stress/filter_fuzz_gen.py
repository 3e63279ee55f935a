"""Generate tests/vectors/filter_fuzz.json: the Python parser's answer to ~2,000 inputs.

Run ``python tests/stress/filter_fuzz_gen.py`` to rewrite it (deterministic: a fixed seed).

Format: {"about": [...], "seed": N, "vectors": [V, ...]} where each V is either
  {"input": TEXT, "canonical": TEXT}   parse succeeds; to_string of the tree is canonical
                                       ("" when the input is empty: it matches everything), or
  {"input": TEXT, "error": KIND, "position": P}
                                       parse raises FilterError of KIND (syntax | type) at code
                                       point P (null when the error has no position, e.g. length).
Names are not checked (no unknown_name here): only parse and to_string. Inputs are grammar-based
filters, mutations of tests/vectors/filter.json inputs and random text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from jupyterlab_dsi.filter import FilterError, parse, to_string

SEED = 20240607
COUNT = 2000
VECTORS = Path(__file__).resolve().parents[1] / "vectors"
OUT = VECTORS / "filter_fuzz.json"
NAMES = ["cs", "energy", "profile", "sim_id", "t", "d_shock", "d_edge", "d_density", "d_feature", "`in`",
         "`a b`", "`x``y`", "IN", "Not"]
ALPHABET = list("()`'\",.-+eE0123456789 \t\nabcdinotrpylgwe_=<>!") + ["\u00a0", "é", "\u202e", "\ud800", "\x00"]


def literal(rng: random.Random) -> str:
    return rng.choice([str(rng.randint(-10**17, 10**17)), repr(rng.uniform(-1e6, 1e6)), f"{rng.random():.3e}",
                       "'it''s'", '"q"', "''", "0", "-0", "0.5"] + (["1e400"] if rng.random() < 0.05 else []))


def grammar(rng: random.Random, depth: int = 0) -> str:
    """A (mostly) valid filter, built from the grammar."""
    pick = rng.randint(0, 7 if depth < 4 else 3)
    name = rng.choice(NAMES)
    if pick == 0:
        return f"{name} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} {literal(rng)}"
    if pick == 1:
        return f"{name} in ({', '.join(literal(rng) for _ in range(rng.randint(1, 4)))})"
    if pick == 2:
        return f"{name} between {literal(rng)} and {literal(rng)}"
    if pick == 3:
        pts = ", ".join(f"({rng.randint(-5, 5)}, {rng.uniform(-5, 5):.2f})" for _ in range(rng.randint(2 if rng.random() < 0.1 else 3, 5)))
        return f"({name}, {rng.choice(NAMES)}) in polygon({pts})"
    if pick == 4:
        return f"{rng.choice(['not', 'NOT', 'Not'])} {grammar(rng, depth + 1)}"
    if pick == 5:
        return f"({grammar(rng, depth + 1)})"
    word = rng.choice(["and", "or", "AND", "Or"])
    return f"{grammar(rng, depth + 1)} {word} {grammar(rng, depth + 1)}"


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        op = rng.randint(0, 2)
        i = rng.randint(0, len(chars))
        if op == 0:
            chars.insert(i, rng.choice(ALPHABET))
        elif op == 1 and chars:
            del chars[min(i, len(chars) - 1)]
        elif chars:
            j = rng.randint(0, len(chars))
            chars[min(i, j):max(i, j)] = chars[min(i, j):max(i, j)][::-1]
    return "".join(chars)


def seeds() -> list[str]:
    return [v["input"] for v in json.loads((VECTORS / "filter.json").read_text(encoding="utf-8"))["parse"]]


def inputs(rng: random.Random) -> list[str]:
    base = seeds()
    out = []
    for i in range(COUNT):
        kind = i % 4
        if kind == 0:
            out.append(grammar(rng))
        elif kind == 1:
            out.append(mutate(rng, rng.choice(base)))
        elif kind == 2:
            out.append(mutate(rng, grammar(rng)))
        else:
            out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))))
    return out


def answer(text: str) -> dict[str, Any]:
    try:
        return {"input": text, "canonical": to_string(parse(text))}
    except FilterError as exc:
        return {"input": text, "error": exc.kind, "position": exc.position}


def build() -> dict[str, Any]:
    rng = random.Random(SEED)
    return {
        "about": [line for line in (__doc__ or "").strip().splitlines()],
        "seed": SEED,
        "vectors": [answer(t) for t in inputs(rng)],
    }


def text() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(), encoding="utf-8")
    print(f"wrote {OUT}")

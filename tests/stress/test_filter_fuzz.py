"""Fuzz the Python filter parser: every input parses to SQL that SQLite runs with bound
parameters, or raises FilterError; nothing else. And the shared fuzz vectors are up to date."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyterlab_dsi.filter import FilterError, compile_sql, parse, register_sql_functions, to_string

from . import filter_fuzz_gen as gen

EVAL = json.loads((gen.VECTORS / "filter.json").read_text(encoding="utf-8"))["eval"]
COLUMNS = {n: '"' + n.replace('"', '""') + '"' for n in EVAL["names"]}


def _table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    register_sql_functions(conn)
    conn.execute(f"CREATE TABLE t ({', '.join(COLUMNS.values())})")  # no type affinity, as the vectors
    rows = [[row.get(n) if isinstance(row, dict) else row[i] for i, n in enumerate(EVAL["names"])] for row in EVAL["rows"]]
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    return conn


CONN = _table()
COUNT = {"n": 0}


def _run(text: str) -> None:
    COUNT["n"] += 1
    try:
        node = parse(text)
        assert parse(to_string(node)) == node  # the canonical text reads back to the same tree
        sql, params = compile_sql(node, COLUMNS)
    except FilterError:
        return
    CONN.execute(f"SELECT count(*) FROM t WHERE {sql}", params).fetchone()


FAST = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(st.text(max_size=60))
def test_random_text(text: str) -> None:
    _run(text)


@FAST
@given(st.randoms(use_true_random=False), st.booleans())
def test_grammar_and_mutations(rng: Any, mutate_seed: bool) -> None:
    text = gen.grammar(rng)
    _run(text)
    _run(gen.mutate(rng, rng.choice(gen.seeds()) if mutate_seed else text))


def test_fuzz_vectors_are_current(figures: Any) -> None:
    """tests/vectors/filter_fuzz.json is what the generator writes (run it after a parser change)."""
    assert gen.OUT.read_text(encoding="utf-8") == gen.text()
    for vector in json.loads(gen.OUT.read_text(encoding="utf-8"))["vectors"]:
        _run(vector["input"])
    figures.add("hostile", COUNT["n"])
    figures.add("ops", COUNT["n"])

"""Tests of the filter language: shared vectors, SQL against sqlite3, evaluate, properties."""

from __future__ import annotations

import json
import math
import pickle
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from jupyterlab_dsi import filter as F  # noqa: E402
from jupyterlab_dsi.filter import (  # noqa: E402
    And,
    Between,
    Compare,
    FilterError,
    In,
    Not,
    Or,
    Polygon,
    compile_sql,
    evaluate,
    names,
    parse,
    to_string,
)

VECTORS = json.loads((ROOT / "tests" / "vectors" / "filter.json").read_text(encoding="utf-8"))
KNOWN: list[str] = VECTORS["eval"]["names"]
ROWS: list[dict] = VECTORS["eval"]["rows"]
COLUMNS = {k: '"' + k.replace('"', '""') + '"' for k in KNOWN}
PARSE_OK = [v for v in VECTORS["parse"] if "canonical" in v]
PARSE_ERR = [v for v in VECTORS["parse"] if "error" in v]


def _id(v: Mapping[str, Any]) -> str:
    text = v["input"]
    return ascii(text if len(text) <= 50 else text[:47] + "...")


def to_json(node: Optional[F.Node]) -> Any:
    """The language-neutral AST encoding described in the vectors' "about"."""
    if node is None:
        return None
    if isinstance(node, Or):
        return {"or": [to_json(o) for o in node.operands]}
    if isinstance(node, And):
        return {"and": [to_json(o) for o in node.operands]}
    if isinstance(node, Not):
        return {"not": to_json(node.operand)}
    if isinstance(node, Compare):
        return {"compare": [node.name, node.op, node.value]}
    if isinstance(node, In):
        return {"in": [node.name, list(node.values)]}
    if isinstance(node, Between):
        return {"between": [node.name, node.low, node.high]}
    if isinstance(node, Polygon):
        return {"polygon": [node.x, node.y, [list(p) for p in node.points]]}
    raise TypeError(node)


def make_table(rows: Iterable[Mapping[str, object]], known: list[str] = KNOWN) -> sqlite3.Connection:
    """Rows in a table whose columns have no type affinity (what evaluate models)."""
    con = sqlite3.connect(":memory:")
    F.register_sql_functions(con)
    cols = ", ".join('"' + k.replace('"', '""') + '"' for k in known)
    con.execute(f"CREATE TABLE t (i INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join(["?"] * (len(known) + 1))
    for i, r in enumerate(rows):
        con.execute(f"INSERT INTO t VALUES ({marks})", [i] + [r[k] for k in known])
    return con


def sql_matches(con: sqlite3.Connection, node: Optional[F.Node], columns: Mapping[str, str] = COLUMNS) -> list[int]:
    sql, params = compile_sql(node, columns)
    return [i for (i,) in con.execute(f"SELECT i FROM t WHERE {sql} ORDER BY i", params)]


# ----------------------------------------------------------------------------------------------
# Vectors


def test_vectors_file_is_documented_and_large_enough() -> None:
    assert VECTORS["about"]
    assert len(PARSE_OK) >= 40 and len(PARSE_ERR) >= 40
    assert {v["error"] for v in PARSE_ERR} == {"syntax", "unknown_name", "type"}
    assert len(VECTORS["eval"]["cases"]) >= 30
    for row in ROWS:
        assert set(row) == set(KNOWN)


@pytest.mark.parametrize("vector", PARSE_OK, ids=_id)
def test_parse_vector(vector: dict) -> None:
    node = parse(vector["input"])
    text = to_string(node)
    assert text == vector["canonical"]
    if vector["canonical"] == "":
        assert node is None and "ast" not in vector
        return
    assert to_json(node) == vector["ast"]
    again = parse(text)
    # Equality of ~200-deep trees would recurse through dataclass __eq__; compare the text.
    assert to_string(again) == text
    if len(vector["input"]) < 500:
        assert again == node


@pytest.mark.parametrize("vector", PARSE_ERR, ids=_id)
def test_error_vector(vector: dict) -> None:
    with pytest.raises(FilterError) as info:
        node = parse(vector["input"])
        assert vector["error"] == "unknown_name", "parse should have failed"
        compile_sql(node, COLUMNS)
    err = info.value
    assert (err.kind, err.position) == (vector["error"], vector["position"]), str(err)
    assert str(err).startswith("filter: ") and "\n" not in str(err)
    if err.kind == "unknown_name":
        # The same error, with the same position, from evaluate and from the message's listing.
        with pytest.raises(FilterError) as again:
            evaluate(node, ROWS[0])
        assert (again.value.kind, again.value.position) == (err.kind, err.position)
        assert "known names: cs, d_density, d_shock, level, mrg, `run label`, sim_id, x, y" in str(err)


@pytest.fixture(scope="module")
def vector_table() -> sqlite3.Connection:
    return make_table(ROWS)


@pytest.mark.parametrize("case", VECTORS["eval"]["cases"], ids=_id)
def test_eval_vector(case: dict, vector_table: sqlite3.Connection) -> None:
    node = parse(case["input"])
    assert sql_matches(vector_table, node) == case["match"]
    assert [i for i, r in enumerate(ROWS) if evaluate(node, r)] == case["match"]


# ----------------------------------------------------------------------------------------------
# API details


def test_error_messages() -> None:
    with pytest.raises(FilterError) as info:
        compile_sql(parse("cz == 1"), COLUMNS)
    assert str(info.value).startswith("filter: unknown name 'cz' at 0 (did you mean 'cs'?); known names: cs, ")
    with pytest.raises(FilterError) as info:
        parse("cs >= ")
    assert str(info.value) == "filter: expected a value after '>=' at 6, found end of filter"
    # Text the user typed never breaks the one-line message.
    with pytest.raises(FilterError) as info:
        compile_sql(parse("`a\nb\x00` == 1"), {"cs": '"cs"'})
    assert "\n" not in str(info.value) and "\x00" not in str(info.value)
    assert info.value.position == 0
    # Errors survive pickling with their fields (e.g. from a Dask worker).
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.kind, copy.position) == (str(info.value), "unknown_name", 0)


def test_limits() -> None:
    ok = " or ".join(["cs == 1"] * 9091)[: F.MAX_LENGTH]
    ok = ok[: ok.rfind(" or ")]
    assert len(ok) <= F.MAX_LENGTH and parse(ok) is not None
    with pytest.raises(FilterError) as info:
        parse("cs == 1" + " " * F.MAX_LENGTH)
    assert info.value.kind == "syntax" and "too long" in str(info.value)
    for text in ["(" * 50_000, "not " * 25_000, "not (" * 20_000, "(" * 201 + ")" * 201]:
        with pytest.raises(FilterError) as info:
            parse(text)
        assert "nested too deeply" in str(info.value)


def _deepest(levels: int) -> str:
    # Every '(' holds an or whose second operand is an and: two tree levels per nesting level.
    text = "cs == 1"
    for _ in range(levels):
        text = f"(cs == 1 or mrg == 'lo' and {text})"
    return text


@pytest.mark.parametrize(
    "text",
    [_deepest(F.MAX_DEPTH), "not (" * 100 + "cs < 1" + ")" * 100, "not " * F.MAX_DEPTH + "cs < 1"],
    ids=["paren-or-and", "not-paren", "not"],
)
def test_deepest_filters_never_overflow_the_stack(text: str, vector_table: sqlite3.Connection) -> None:
    node = parse(text)
    canonical = to_string(node)
    assert to_string(parse(canonical)) == canonical
    assert names(node) <= {"cs", "mrg"}
    expected = [i for i, r in enumerate(ROWS) if evaluate(node, r)]
    try:
        assert sql_matches(vector_table, node) == expected
    except FilterError as err:
        # 400 alternating and/or groups are more than SQLite's parser can take.
        assert text.startswith("(") and "for the database" in str(err) and err.position is not None


def test_sql_nesting_limit(vector_table: sqlite3.Connection) -> None:
    levels = F.SQL_MAX_NESTING // 2  # two SQL groups per level of _deepest
    node = parse(_deepest(levels))
    assert sql_matches(vector_table, node) == [i for i, r in enumerate(ROWS) if evaluate(node, r)]
    with pytest.raises(FilterError, match="for the database"):
        compile_sql(parse(_deepest(levels + 1)), COLUMNS)
    # not is pushed down and same-kind groups merge, so these compile to flat SQL.
    node = parse("not (cs < 1 or not (mrg == 'lo' and not (cs > 2 or not d_density < 0.5)))")
    sql, params = compile_sql(node, COLUMNS)
    assert sql.count("(COALESCE") + sql.count("(NOT") == 1
    assert sql_matches(vector_table, node) == [i for i, r in enumerate(ROWS) if evaluate(node, r)]


def test_long_chains_stay_within_sqlite_limits(vector_table: sqlite3.Connection) -> None:
    # SQLite refuses expression trees deeper than 1000: a 4000-term or (a lasso of sim ids).
    ids = [f"s{i:03d}" for i in range(4000)]
    node = parse(" or ".join(f"sim_id == '{s}'" for s in ids))
    assert sql_matches(vector_table, node) == list(range(8))
    node = parse(" and ".join(f"sim_id != '{s}'" for s in ids[3:]))
    assert sql_matches(vector_table, node) == [0, 1, 2]


def test_sql_shape_and_parameters() -> None:
    node = parse("cs == 1 and not mrg in ('a', 'b')")
    assert compile_sql(node, {"cs": '"cs"', "mrg": 't."mrg"'}) == (
        '(COALESCE("cs" = ?, 0) AND NOT COALESCE(t."mrg" IN (?, ?), 0))',
        [1, "a", "b"],
    )
    # A caller's compound expression is parenthesised; a polygon is one JSON parameter.
    sql, params = compile_sql(parse("(f, cs) in polygon((0, 0), (1.5, 0), (0, 1))"), {"f": '2 * "a" + "b"', "cs": '"cs"'})
    assert sql == 'COALESCE(jdsi_in_polygon((2 * "a" + "b"), "cs", ?), 0)'
    assert params == ["[[0,0],[1.5,0],[0,1]]"]
    assert compile_sql(None, {}) == ("1", [])
    assert evaluate(None, {}) is True and names(None) == set() and to_string(None) == ""


def test_user_text_never_reaches_the_sql() -> None:
    hostile = ["'; drop table t; --", '" or 1=1 --', "{x}", "$x", "<script>", "?", "', ?)", "``", "\x00"]
    text = " or ".join(f"mrg == {F._fmt_literal(h)}" for h in hostile)
    sql, params = compile_sql(parse(text), COLUMNS)
    assert params == hostile
    assert re.fullmatch(r"[A-Z ()=?,0]*", sql.replace('"mrg"', ""))


def test_sql_is_two_valued(vector_table: sqlite3.Connection) -> None:
    # The compiled expression is 0 or 1 for every row, never NULL, so callers may negate it.
    # d_density and mrg hold NULLs: raw SQL would answer NULL for some rows.
    node = parse("d_density < 0.5 or cs == 1 and not mrg == 'x'")
    sql, params = compile_sql(node, COLUMNS)
    values = [v for (v,) in vector_table.execute(f"SELECT {sql} FROM t ORDER BY i", params)]
    assert values == [int(evaluate(node, r)) for r in ROWS]
    assert set(values) == {0, 1}


def test_in_polygon() -> None:
    square = "[[0,0],[1,0],[1,1],[0,1]]"
    assert F.in_polygon(0.5, 0.5, square) == 1
    assert F.in_polygon(2, 0.5, square) == 0
    assert F.in_polygon(None, 0.5, square) is None and F.in_polygon(0.5, None, square) is None
    assert F.in_polygon("0.5", 0.5, square) == 0 and F.in_polygon(float("nan"), 0.5, square) == 0
    with pytest.raises(ValueError):
        F.in_polygon(0, 0, "[[0,0],[1,1]]")
    con = sqlite3.connect(":memory:")
    F.register_sql_functions(con)
    assert con.execute("SELECT jdsi_in_polygon(0.5, 0.5, ?), jdsi_in_polygon(NULL, 1, ?)", [square, square]).fetchone() == (1, None)


def test_evaluate_value_types() -> None:
    node = parse("cs >= 1")
    assert evaluate(node, {"cs": True}) and not evaluate(node, {"cs": float("nan")})
    # SQLite's order: every number before every text, and a text never equals a number.
    assert evaluate(node, {"cs": "0"}) and not evaluate(parse("cs == 5"), {"cs": "5"})
    assert evaluate(parse("cs < 'a'"), {"cs": 10**30})
    with pytest.raises(FilterError) as info:
        evaluate(node, {"cz": 1})
    assert info.value.kind == "unknown_name"


def test_ast_validation() -> None:
    with pytest.raises(ValueError):
        Or((Compare("a", "==", 1),))
    with pytest.raises(ValueError):
        Compare("a", "=", 1)
    with pytest.raises(TypeError):
        Compare("a", "==", True)
    with pytest.raises(ValueError):
        Compare("a", "==", float("inf"))
    with pytest.raises(ValueError):
        Compare("a", "==", 2**53)
    with pytest.raises(ValueError):
        Polygon("x", "y", ((0, 0), (1, 1)))
    with pytest.raises(FilterError):
        Between("a", 1, "b")
    assert In("a", [1, "b"]) == In("a", (1, "b"))
    # Positions are not part of a node's identity.
    assert Compare("a", "==", 1, pos=5) == Compare("a", "==", 1)


def test_check_types() -> None:
    kinds = {"cs": "number", "mrg": "text", "x": "number", "y": "number"}
    F.check_types(parse("cs < 1 and mrg in ('a', 'b') and (x, y) in polygon((0, 0), (1, 0), (0, 1))"), kinds)
    F.check_types(parse("unknown == 'a' or unknown == 1"), kinds)
    for text, pos in [("cs == '5'", 0), ("d == 1 and mrg == 1", 11), ("cs between 'a' and 'b'", 0), ("(mrg, x) in polygon((0, 0), (1, 0), (0, 1))", 1)]:
        with pytest.raises(FilterError) as info:
            F.check_types(parse(text), kinds)
        assert (info.value.kind, info.value.position) == ("type", pos)
    with pytest.raises(FilterError, match="remove the quotes, 5"):
        F.check_types(parse("cs == '5'"), kinds)


# ----------------------------------------------------------------------------------------------
# Properties

ODD_NAMES = st.text(min_size=1, max_size=8)
ANY_NAME = st.one_of(st.sampled_from(KNOWN + ["and", "IN", "a`b", "not_", "x y"]), ODD_NAMES)
NUMBER = st.one_of(
    st.integers(-F.MAX_SAFE_INTEGER, F.MAX_SAFE_INTEGER),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
)
ANY_LITERAL = st.one_of(NUMBER, st.text(max_size=8))


def asts(name: st.SearchStrategy, literal: st.SearchStrategy, number: st.SearchStrategy) -> st.SearchStrategy:
    point = st.tuples(number, number)
    mixed_ok = st.one_of(st.tuples(number, number), st.tuples(st.text(max_size=4), st.text(max_size=4)))
    leaves = st.one_of(
        st.builds(Compare, name, st.sampled_from(F.OPS), literal),
        st.builds(In, name, st.lists(literal, min_size=1, max_size=4).map(tuple)),
        mixed_ok.flatmap(lambda b: st.builds(Between, name, st.just(b[0]), st.just(b[1]))),
        st.builds(Polygon, name, name, st.lists(point, min_size=3, max_size=6).map(tuple)),
    )
    return st.recursive(
        leaves,
        lambda kids: st.one_of(
            st.builds(Not, kids),
            st.builds(And, st.lists(kids, min_size=2, max_size=3).map(tuple)),
            st.builds(Or, st.lists(kids, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=10,
    )


@settings(max_examples=400, deadline=None)
@given(asts(ANY_NAME, ANY_LITERAL, NUMBER))
def test_round_trip(node: F.Node) -> None:
    text = to_string(node)
    again = parse(text)
    assert again == node
    assert to_string(again) == text
    assert names(again) == names(node)


TOKENS = st.sampled_from(
    ["cs", "mrg", "`x y`", "`", "and", "AND", "or", "not", "in", "between", "polygon", "(", ")", ",",
     "==", "!=", "<", "<=", ">", ">=", "=", "1", "-2.5e3", "0.", "'a'", "'", '"b""c"', " ", "\n", "x", "y",
     "$", "{", "\u00a0", "\u00e9", "\ud800", "-", "1e999", "--", ";"]
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=40), st.lists(TOKENS, max_size=25).map(" ".join), st.lists(TOKENS, max_size=25).map("".join)))
def test_any_text_parses_or_raises_filter_error(text: str) -> None:
    try:
        node = parse(text)
    except FilterError as err:
        assert err.kind in ("syntax", "type")
        assert err.position is None or 0 <= err.position <= len(text)
        assert "\n" not in str(err)
        return
    canonical = to_string(node)
    assert parse(canonical) == node
    try:
        compile_sql(node, COLUMNS)
    except FilterError as err:
        assert err.kind == "unknown_name" and err.position is not None


# Values that make comparisons interesting against the rows: equal, near, across types.
POOL_VALUES = [0, 1, 1.0, 0.5, -2, 2, 1000, 1e-5, 0.25, -1.5, 3.5, 10**15, "lo", "hi", "Lo", "lo ", "1", "10", "b", "", "a", "z", "\x00", "é"]
POOL_LITERAL = st.one_of(st.sampled_from(POOL_VALUES), ANY_LITERAL)
POOL_NUMBER = st.one_of(st.sampled_from([v for v in POOL_VALUES if not isinstance(v, str)]), st.floats(-3, 3))
ROW_VALUE = st.one_of(st.none(), st.sampled_from(POOL_VALUES), NUMBER, st.text(max_size=4))
EXTRA_ROW = st.fixed_dictionaries({k: ROW_VALUE for k in KNOWN})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asts(st.sampled_from(KNOWN), POOL_LITERAL, POOL_NUMBER), st.lists(EXTRA_ROW, max_size=6))
def test_sql_agrees_with_evaluate(node: F.Node, extra: list[dict]) -> None:
    rows = ROWS + extra
    con = make_table(rows)
    expected = [i for i, r in enumerate(rows) if evaluate(node, r)]
    assert sql_matches(con, node) == expected
    # not is the complement, whatever is missing.
    assert sql_matches(con, Not(node)) == [i for i in range(len(rows)) if i not in expected]

"""The filter language shared by the panel, ``%dsi select --where`` and ``jupyter dsi``.

Grammar (keywords are case-insensitive)::

    expr    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" expr ")" | compare
    compare := name op literal
             | name "in" "(" literal ("," literal)* ")"
             | name "between" literal "and" literal
             | "(" name "," name ")" "in" "polygon" "(" point ("," point)* ")"
    op      := "==" | "!=" | "<" | "<=" | ">" | ">="
    point   := "(" number "," number ")"
    name    := identifier | backquoted name
    literal := number | quoted string

Lexical rules (the TypeScript parser implements the same; ``tests/vectors/filter.json`` pins them):

* Whitespace is space, tab, LF, CR, FF, VT and NO-BREAK SPACE (U+00A0, common in pasted text).
* Keywords: ``and or not in between polygon``, in any letter case. A keyword is never a name;
  write a parameter called ``in`` as ```in```.
* Identifiers are ASCII ``[A-Za-z_][A-Za-z0-9_]*`` and case-sensitive. Any other name goes in
  backquotes, which may hold any text except nothing; a backquote inside is doubled.
* Strings are in single or double quotes, the quote doubled inside (``'it''s'``). There are no
  backslash escapes: what is between the quotes is the value, so text never becomes code.
* Numbers are JSON numbers: ``-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?``, not followed by a
  letter, digit, ``_`` or ``.``. A literal without fraction or exponent is an integer when its
  magnitude is at most 2**53 - 1 (JavaScript's safe integers), otherwise a double. A number
  that overflows a double is an error; ``-0`` is 0.
* Text holding a lone UTF-16 surrogate is refused.

``(`` at the start of a unary opens a polygon test when it is followed by a name and a comma,
otherwise a parenthesised expression. The ``and`` of ``between a and b`` belongs to ``between``.
``between`` is inclusive and its bounds must both be numbers or both be text.

Errors: checks run in this order and the first problem wins: length (at most 100,000
characters), lone surrogates, tokens left to right, grammar left to right (nesting of ``(`` and
``not`` at most 200 deep). Positions count Unicode code points from 0; the end of the text is
``len(text)``. An empty or whitespace-only filter means "everything" (``parse`` returns None).

Semantics (SQL via ``compile_sql`` and Python via ``evaluate`` agree; tests check it):

* A missing value (NULL, None, NaN) never satisfies a comparison, ``!=`` included.
* ``not`` is the complement of the set its operand matches, so ``not d_density < 1`` *does*
  match rows where d_density is missing. In SQL every comparison is wrapped in
  ``COALESCE(..., 0)`` so that three-valued logic never leaks out: the compiled expression is
  always 0 or 1, and a caller may negate it or combine it freely.
* Values compare the way SQLite compares values without type affinity: numbers numerically
  (integers and doubles alike), text by Unicode code point (case-sensitive), and every number
  sorts before every text, so a number never equals a text.
* A polygon test is even-odd ray casting (see ``in_polygon``); a point with a missing or
  non-numeric coordinate is not inside.

Canonical text (``to_string``): lowercase keywords, minimal parentheses (a parenthesised group
of the same kind stays a group, so the tree survives the round trip), strings in single quotes,
names bare unless they need backquotes, integers as digits and doubles as Python's ``repr``
(shortest round-trip digits; positional for 0 and 1e-4 <= |x| < 1e16, with ".0" when integral;
otherwise ``1.5e+300`` / ``1e-05``).

SQL (``compile_sql``) is equivalent, not literal: ``not`` is pushed down to the comparisons,
groups of the same kind are merged, the most nested operand goes first and chains longer than
16 terms are split in balanced halves, all so that SQLite's parser stack and expression-depth
limits are not reached. What still nests more than ``SQL_MAX_NESTING`` and/or groups deep
is refused with a FilterError. ``check_types`` optionally refuses comparisons of a numeric name
with text (or a text name with a number), which would otherwise match nothing.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, NoReturn, Optional, Union

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Between",
    "Compare",
    "FilterError",
    "In",
    "Node",
    "Not",
    "Or",
    "Polygon",
    "check_types",
    "compile_sql",
    "evaluate",
    "in_polygon",
    "names",
    "parse",
    "register_sql_functions",
    "to_string",
]

MAX_LENGTH = 100_000
MAX_DEPTH = 200
# Integers beyond this are not exact in JavaScript: such literals become doubles on both sides.
MAX_SAFE_INTEGER = 2**53 - 1
KEYWORDS = frozenset({"and", "or", "not", "in", "between", "polygon"})
OPS = ("==", "!=", "<", "<=", ">", ">=")
_SQL_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WHITESPACE = frozenset(" \t\n\r\f\v\u00a0")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A caller's column expression that is one (optionally qualified) identifier needs no parentheses.
_SIMPLE_SQL = re.compile(r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*))*')
# SQLite parses "a OR b OR c" into a left-deep tree and refuses trees deeper than 1000, so long
# chains (a lasso of 5000 sim ids) are split into balanced groups of at most this many terms.
_SQL_CHAIN = 16
# SQLite 3.40's parser overflows at about 80 nested parentheses and refuses expression trees
# deeper than 1000; compile_sql stays well inside both, leaving room for the caller's SQL.
SQL_MAX_NESTING = 40
SQL_MAX_HEIGHT = 500

KINDS = ("syntax", "unknown_name", "type")

Literal = Union[int, float, str]


class FilterError(ValueError):
    """A filter that cannot be used. ``str()`` is one line meant for the person who typed it.

    ``position`` is the 0-based offset (in code points) of the problem in the filter text, or
    None when unknown (an AST built in code). ``kind`` is "syntax", "unknown_name" or "type".
    """

    def __init__(self, message: str, position: Optional[int] = None, kind: str = "syntax") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown FilterError kind {kind!r}")
        super().__init__(f"filter: {message}")
        self.message = message
        self.position = position
        self.kind = kind

    def __reduce__(self):  # keep position and kind across pickling (e.g. to a Dask worker)
        return (FilterError, (self.message, self.position, self.kind))


# ----------------------------------------------------------------------------------------------
# AST. Frozen dataclasses; ``pos`` fields are where a node started in the text, excluded from
# equality so that ``parse(to_string(n)) == n`` holds.


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or _SURROGATE.search(name):
        raise ValueError(f"a filter name must be a non-empty string, got {name!r}")


def _check_literal(value: object, number_only: bool = False) -> None:
    # bool is an int in Python but not a value of the language.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"a filter value must be an int, float or str, got {value!r}")
    if isinstance(value, str):
        if number_only:
            raise TypeError(f"expected a number, got {value!r}")
        if _SURROGATE.search(value):
            raise ValueError("a filter string may not hold a lone surrogate")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond 2**53 - 1; use a float")
    elif not math.isfinite(value):
        raise ValueError(f"a filter number must be finite, got {value!r}")


@dataclass(frozen=True)
class Compare:
    name: str
    op: str
    value: Literal
    pos: Optional[int] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")
        _check_literal(self.value)


@dataclass(frozen=True)
class In:
    name: str
    values: tuple[Literal, ...]
    pos: Optional[int] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("'in' needs at least one value")
        for v in self.values:
            _check_literal(v)


@dataclass(frozen=True)
class Between:
    name: str
    low: Literal
    high: Literal
    pos: Optional[int] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_literal(self.low)
        _check_literal(self.high)
        if isinstance(self.low, str) != isinstance(self.high, str):
            raise FilterError(_mixed_between(self.name, self.pos), self.pos, "type")


@dataclass(frozen=True)
class Polygon:
    x: str
    y: str
    points: tuple[tuple[Union[int, float], Union[int, float]], ...]
    pos: Optional[int] = field(default=None, compare=False, repr=False)
    y_pos: Optional[int] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.x)
        _check_name(self.y)
        points = tuple(tuple(p) for p in self.points)
        object.__setattr__(self, "points", points)
        if len(points) < 3:
            raise ValueError("a polygon needs at least 3 points")
        for p in points:
            if len(p) != 2:
                raise ValueError(f"a polygon point has two coordinates, got {p!r}")
            _check_literal(p[0], number_only=True)
            _check_literal(p[1], number_only=True)

    @property
    def json(self) -> str:
        """The polygon as the JSON text ``[[x1, y1], ...]`` passed to ``jdsi_in_polygon``."""
        return _polygon_json(self.points)


@dataclass(frozen=True)
class Not:
    operand: "Node"
    pos: Optional[int] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.operand, _NODE_TYPES):
            raise TypeError(f"not a filter node: {self.operand!r}")


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]

    def __post_init__(self) -> None:
        _check_operands(self, "and")


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]

    def __post_init__(self) -> None:
        _check_operands(self, "or")


Node = Union[Or, And, Not, Compare, In, Between, Polygon]
_NODE_TYPES = (Or, And, Not, Compare, In, Between, Polygon)


def _check_operands(node: Union[And, Or], word: str) -> None:
    operands = tuple(node.operands)
    object.__setattr__(node, "operands", operands)
    # One operand would print without the keyword and parse back as a different tree.
    if len(operands) < 2:
        raise ValueError(f"'{word}' needs at least two operands")
    for o in operands:
        if not isinstance(o, _NODE_TYPES):
            raise TypeError(f"not a filter node: {o!r}")


@lru_cache(maxsize=256)
def _polygon_json(points: tuple) -> str:
    return json.dumps([list(p) for p in points], separators=(",", ":"))


# ----------------------------------------------------------------------------------------------
# Messages. Everything the user typed goes through _show so that str(error) stays one line.


def _show(text: str, limit: int = 40) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    out = []
    for c in text:
        out.append(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def _fmt_name(name: str) -> str:
    if _IDENT.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def _at(pos: Optional[int]) -> str:
    return "" if pos is None else f" at {pos}"


def _mixed_between(name: str, pos: Optional[int]) -> str:
    return (
        f"the bounds of '{_show(_fmt_name(name))} between'{_at(pos)} mix a number and a text; "
        "use two numbers or two quoted texts"
    )


def _unknown_name(name: str, pos: Optional[int], known: Iterable[str]) -> FilterError:
    known = sorted(set(known))
    hint = ""
    by_case = [k for k in known if k.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    if close:
        hint = f" (did you mean '{_show(_fmt_name(close[0]))}'?)"
    listing = ", ".join(_show(_fmt_name(k)) for k in known) if known else "(none)"
    return FilterError(
        f"unknown name '{_show(name)}'{_at(pos)}{hint}; known names: {listing}", pos, "unknown_name"
    )


# ----------------------------------------------------------------------------------------------
# Tokenizer


@dataclass(frozen=True)
class _Token:
    kind: str  # "name" "kw" "num" "str" "op" "(" ")" "," "end"
    value: object  # name text, lowercase keyword, number, string value, operator
    pos: int
    text: str  # as written, for messages


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "end of filter"
    if tok.kind == "kw":
        return f"keyword '{_show(tok.text)}'"
    if tok.kind == "name":
        return f"name '{_show(tok.text)}'"
    if tok.kind in ("num", "str"):
        return f"value {_show(tok.text)}"
    return f"'{_show(tok.text)}'"


_HINTS = {
    "&": "write 'and'",
    "|": "write 'or'",
    "!": "write 'not', or '!=' for 'differs from'",
    "=": "write '==' to test equality",
    ".": "numbers start with a digit: write 0.5, not .5",
    "+": "numbers take no '+': write 5, not +5",
    "\u2018": "use straight quotes ' or \"",
    "\u2019": "use straight quotes ' or \"",
    "\u201c": "use straight quotes ' or \"",
    "\u201d": "use straight quotes ' or \"",
}


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted run starting at ``start`` (the opening quote); return (value, end)."""
    parts = []
    i = start + 1
    n = len(text)
    while True:
        j = text.find(quote, i)
        if j < 0:
            what = "name" if quote == "`" else "string"
            raise FilterError(f"unterminated {what} starting{_at(start)}: add the closing {quote}", start)
        parts.append(text[i:j])
        if j + 1 < n and text[j + 1] == quote:  # doubled quote stands for itself
            parts.append(quote)
            i = j + 2
            continue
        return "".join(parts), j + 1


def _number(text: str, start: int) -> tuple[Union[int, float], int]:
    m = _NUMBER.match(text, start)
    if m is None:
        raise FilterError(f"'-' must be followed by digits{_at(start)}", start)
    end = m.end()
    if end < len(text) and (text[end] in "._" or text[end].isascii() and text[end].isalnum()):
        # "1.", "1e", "007", "1and": refuse instead of guessing where the number ends.
        k = end
        while k < len(text) and (text[k] in "._-+" or text[k].isascii() and text[k].isalnum()):
            k += 1
        raise FilterError(f"malformed number '{_show(text[start:k])}'{_at(start)}", start)
    literal = m.group(0)
    value: Union[int, float]
    # int() of a very long digit string is slow (and limited in Python 3.11): 17+ digits are
    # beyond 2**53 anyway, so they go straight to float.
    if m.group(1) is None and m.group(2) is None and len(literal.lstrip("-")) <= 16:
        value = int(literal)
        if abs(value) > MAX_SAFE_INTEGER:
            value = float(literal)
    else:
        value = float(literal)
        if not math.isfinite(value):
            raise FilterError(f"number '{_show(literal)}' is too large{_at(start)}", start)
    return value, end


def _tokenize(text: str) -> list[_Token]:
    toks: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in _WHITESPACE:
            i += 1
        elif c in "(),":
            toks.append(_Token(c, c, i, c))
            i += 1
        elif c in "=!<>":
            two = text[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                toks.append(_Token("op", two, i, two))
                i += 2
            elif c in "<>":
                toks.append(_Token("op", c, i, c))
                i += 1
            else:
                raise FilterError(f"unexpected '{c}'{_at(i)}: {_HINTS[c]}", i)
        elif c in "'\"":
            value, end = _quoted(text, i, c)
            toks.append(_Token("str", value, i, text[i:end]))
            i = end
        elif c == "`":
            value, end = _quoted(text, i, c)
            if not value:
                raise FilterError(f"empty name ``{_at(i)}", i)
            toks.append(_Token("name", value, i, text[i:end]))
            i = end
        elif c == "-" or "0" <= c <= "9":
            value, end = _number(text, i)
            toks.append(_Token("num", value, i, text[i:end]))
            i = end
        elif c == "_" or (c.isascii() and c.isalpha()):
            m = _IDENT.match(text, i)
            assert m is not None
            word = m.group(0)
            low = word.lower()
            if low in KEYWORDS:
                toks.append(_Token("kw", low, i, word))
            else:
                toks.append(_Token("name", word, i, word))
            i = m.end()
        else:
            hint = _HINTS.get(c)
            if hint is None and c.isalpha():
                hint = "names with letters beyond A-Z go in backquotes, e.g. `\u03c1_max`"
            raise FilterError(f"unexpected character '{_show(c)}'{_at(i)}" + (f": {hint}" if hint else ""), i)
    toks.append(_Token("end", None, n, ""))
    return toks


# ----------------------------------------------------------------------------------------------
# Parser: recursive descent. Only "(" recurses (two Python frames per level); "not" chains and
# and/or chains are loops, so MAX_DEPTH bounds the stack well below Python's recursion limit.


class _Parser:
    def __init__(self, toks: list[_Token]) -> None:
        self.toks = toks
        self.i = 0
        self.depth = 0

    def peek(self, k: int = 0) -> _Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at_kw(self, word: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "kw" and tok.value == word

    def fail(self, message: str, tok: _Token) -> NoReturn:
        raise FilterError(f"{message}{_at(tok.pos)}, found {_describe(tok)}", tok.pos)

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(
                f"nested too deeply{_at(tok.pos)} (more than {MAX_DEPTH} levels of '(' and 'not')", tok.pos
            )

    def expect(self, kind: str, message: str) -> _Token:
        tok = self.peek()
        if tok.kind != kind:
            self.fail(message, tok)
        return self.take()

    def parse(self) -> Node:
        node = self.expr()
        tok = self.peek()
        if tok.kind == ")":
            raise FilterError(f"unmatched ')'{_at(tok.pos)}", tok.pos)
        if tok.kind != "end":
            self.fail("expected 'and', 'or' or the end of the filter", tok)
        return node

    def expr(self) -> Node:
        ors: list[Node] = []
        while True:
            ands = [self.unary()]
            while self.at_kw("and"):
                self.i += 1
                ands.append(self.unary())
            ors.append(ands[0] if len(ands) == 1 else And(tuple(ands)))
            if not self.at_kw("or"):
                break
            self.i += 1
        return ors[0] if len(ors) == 1 else Or(tuple(ors))

    def unary(self) -> Node:
        nots: list[int] = []
        while self.at_kw("not"):
            tok = self.take()
            self.enter(tok)
            nots.append(tok.pos)
        tok = self.peek()
        node: Node
        if tok.kind == "(" and self.peek(1).kind == "name" and self.peek(2).kind == ",":
            node = self.polygon()
        elif tok.kind == "(":
            self.enter(tok)
            self.take()
            node = self.expr()
            close = self.peek()
            if close.kind != ")":
                self.fail(f"expected ')' (to close the '(' at {tok.pos})", close)
            self.take()
            self.depth -= 1
        else:
            node = self.compare()
        for pos in reversed(nots):
            node = Not(node, pos=pos)
        self.depth -= len(nots)
        return node

    def literal(self, after: str) -> Literal:
        tok = self.peek()
        if tok.kind in ("num", "str"):
            self.take()
            return tok.value  # type: ignore[return-value]
        if tok.kind == "name":
            self.fail(f"expected a value after {after} (text goes in quotes: '{_show(tok.value)}')", tok)  # type: ignore[arg-type]
        self.fail(f"expected a value after {after}", tok)

    def compare(self) -> Node:
        tok = self.peek()
        if tok.kind != "name":
            if tok.kind in ("num", "str"):
                self.fail("expected a name (the name comes first, e.g. cs > 1)", tok)
            if tok.kind == "kw":
                self.fail("expected a name (a name that is a keyword goes in backquotes)", tok)
            self.fail("expected a comparison", tok)
        self.take()
        name: str = tok.value  # type: ignore[assignment]
        shown = f"'{_show(tok.text)}'"
        op = self.peek()
        if op.kind == "op":
            self.take()
            return Compare(name, op.value, self.literal(f"'{op.text}'"), pos=tok.pos)  # type: ignore[arg-type]
        if op.kind == "kw" and op.value == "in":
            self.take()
            self.expect("(", f"expected '(' after '{_show(op.text)}' to open the list of values")
            values = [self.literal("'('")]
            while True:
                sep = self.peek()
                if sep.kind == ")":
                    self.take()
                    return In(name, tuple(values), pos=tok.pos)
                if sep.kind != ",":
                    self.fail("expected ',' or ')' in the list of values", sep)
                self.take()
                values.append(self.literal("','"))
        if op.kind == "kw" and op.value == "between":
            self.take()
            low = self.literal(f"'{_show(op.text)}'")
            and_ = self.peek()
            if not (and_.kind == "kw" and and_.value == "and"):
                self.fail(f"expected 'and' in '{_show(op.text)} ... and ...'", and_)
            self.take()
            high = self.literal(f"'{_show(and_.text)}'")
            if isinstance(low, str) != isinstance(high, str):
                raise FilterError(_mixed_between(name, tok.pos), tok.pos, "type")
            return Between(name, low, high, pos=tok.pos)
        if op.kind == "kw" and op.value == "not":
            self.fail(f"expected an operator after {shown} (to negate, put 'not' first: not {_show(tok.text)} in (...))", op)
        self.fail(f"expected an operator (==, !=, <, <=, >, >=, in, between) after {shown}", op)

    def polygon(self) -> Node:
        self.take()  # "("
        x = self.take()  # a name, by the caller's lookahead
        self.take()  # ","
        y = self.expect("name", "expected the second name of '(x, y) in polygon(...)'")
        self.expect(")", "expected ')' after the two names of '(x, y) in polygon(...)'")
        in_ = self.peek()
        if not (in_.kind == "kw" and in_.value == "in"):
            self.fail("expected 'in polygon' after '(x, y)'", in_)
        self.take()
        kw = self.peek()
        if not (kw.kind == "kw" and kw.value == "polygon"):
            self.fail("expected 'polygon' after '(x, y) in'", kw)
        self.take()
        self.expect("(", "expected '(' to open the points of the polygon")
        points = [self.point()]
        while True:
            sep = self.peek()
            if sep.kind == ")":
                self.take()
                break
            if sep.kind != ",":
                self.fail("expected ',' or ')' in the points of the polygon", sep)
            self.take()
            points.append(self.point())
        if len(points) < 3:
            raise FilterError(
                f"a polygon needs at least 3 points{_at(kw.pos)}, it has {len(points)}", kw.pos
            )
        return Polygon(x.value, y.value, tuple(points), pos=x.pos, y_pos=y.pos)  # type: ignore[arg-type]

    def point(self) -> tuple[Union[int, float], Union[int, float]]:
        self.expect("(", "expected a point '(x, y)'")
        a = self.expect("num", "expected a number in the point")
        self.expect(",", "expected ',' between the two numbers of a point")
        b = self.expect("num", "expected a number in the point")
        self.expect(")", "expected ')' to close the point")
        return (a.value, b.value)  # type: ignore[return-value]


def parse(text: str) -> Optional[Node]:
    """Parse a filter; None for an empty or whitespace-only one (it matches everything).

    Raises FilterError (kind "syntax" or "type") for anything else that is not a filter.
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FilterError(f"too long ({len(text)} characters; at most {MAX_LENGTH})")
    bad = _SURROGATE.search(text)
    if bad:
        raise FilterError(f"invalid character (lone surrogate){_at(bad.start())}", bad.start())
    toks = _tokenize(text)
    if toks[0].kind == "end":
        return None
    return _Parser(toks).parse()


# ----------------------------------------------------------------------------------------------
# Walkers. Recursive over the AST (depth bounded by parse); plain loops, not comprehensions or
# generator expressions, because in Python 3.11 each of those costs one more stack frame.


def _leaves(node: Node) -> list[Node]:
    """Compare/In/Between/Polygon nodes in text order (iterative, any depth)."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (Or, And)):
            stack.extend(reversed(n.operands))
        elif isinstance(n, Not):
            stack.append(n.operand)
        else:
            out.append(n)
    return out


def _leaf_names(leaf: Node) -> list[tuple[str, Optional[int]]]:
    if isinstance(leaf, Polygon):
        return [(leaf.x, leaf.pos), (leaf.y, leaf.y_pos)]
    return [(leaf.name, leaf.pos)]  # type: ignore[union-attr]


def names(node: Optional[Node]) -> set[str]:
    """The names a filter uses."""
    out: set[str] = set()
    if node is not None:
        for leaf in _leaves(node):
            for name, _ in _leaf_names(leaf):
                out.add(name)
    return out


def _check_known(node: Node, known: Iterable[str]) -> None:
    known = set(known)
    for leaf in _leaves(node):
        for name, pos in _leaf_names(leaf):
            if name not in known:
                raise _unknown_name(name, pos, known)


def _fmt_literal(value: Literal) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    # repr of a float is the shortest text that reads back to the same double.
    return repr(value)


def _fmt(node: Node) -> str:
    if isinstance(node, (Or, And)):
        word = " or " if isinstance(node, Or) else " and "
        # Parentheses only where the tree differs from what precedence would give.
        wrap = (Or,) if isinstance(node, Or) else (Or, And)
        parts = []
        for o in node.operands:
            s = _fmt(o)
            parts.append(f"({s})" if isinstance(o, wrap) else s)
        return word.join(parts)
    if isinstance(node, Not):
        s = _fmt(node.operand)
        return f"not ({s})" if isinstance(node.operand, (Or, And)) else f"not {s}"
    if isinstance(node, Compare):
        return f"{_fmt_name(node.name)} {node.op} {_fmt_literal(node.value)}"
    if isinstance(node, In):
        values = []
        for v in node.values:
            values.append(_fmt_literal(v))
        return f"{_fmt_name(node.name)} in ({', '.join(values)})"
    if isinstance(node, Between):
        return f"{_fmt_name(node.name)} between {_fmt_literal(node.low)} and {_fmt_literal(node.high)}"
    if isinstance(node, Polygon):
        points = []
        for a, b in node.points:
            points.append(f"({_fmt_literal(a)}, {_fmt_literal(b)})")
        return f"({_fmt_name(node.x)}, {_fmt_name(node.y)}) in polygon({', '.join(points)})"
    raise TypeError(f"not a filter node: {node!r}")


def to_string(node: Optional[Node]) -> str:
    """Canonical text: lowercase keywords, minimal parentheses, single-quoted strings, names in
    backquotes only when needed, integers as digits and doubles as Python's ``repr``.
    ``parse(to_string(n)) == n``; None (everything) gives ""."""
    return "" if node is None else _fmt(node)


# ----------------------------------------------------------------------------------------------
# SQL


@dataclass
class _Part:
    """Compiled SQL for a subtree, with what the SQLite limits care about."""

    sql: str
    params: list
    nest: int  # and/or groups in parentheses, one inside another
    height: int  # an upper estimate of SQLite's expression-tree height
    pos: Optional[int]  # a leaf of the deepest group, to point at when refusing


def _leaf_sql(node: Node, negate: bool, columns: Mapping[str, str]) -> _Part:
    def col(name: str) -> str:
        expr = columns[name]  # names were checked by compile_sql
        return expr if _SIMPLE_SQL.fullmatch(expr) else f"({expr})"

    # Every test is made two-valued here: COALESCE turns NULL (a missing value) into "no
    # match", so NOT is the complement of the match set and the whole expression is 0 or 1.
    params: list
    if isinstance(node, Compare):
        params = [node.value]
        sql = f"COALESCE({col(node.name)} {_SQL_OPS[node.op]} ?, 0)"
    elif isinstance(node, In):
        params = list(node.values)
        sql = f"COALESCE({col(node.name)} IN ({', '.join(['?'] * len(params))}), 0)"
    elif isinstance(node, Between):
        params = [node.low, node.high]
        sql = f"COALESCE({col(node.name)} BETWEEN ? AND ?, 0)"
    elif isinstance(node, Polygon):
        params = [node.json]
        sql = f"COALESCE(jdsi_in_polygon({col(node.x)}, {col(node.y)}, ?), 0)"
    else:
        raise TypeError(f"not a filter node: {node!r}")
    if negate:
        return _Part("NOT " + sql, params, 0, 4, node.pos)
    return _Part(sql, params, 0, 3, node.pos)


def _sql_chain(parts: list[_Part], word: str) -> _Part:
    if len(parts) > _SQL_CHAIN:
        # Balanced halves: "a OR b OR ..." is a left-deep tree in SQLite, one level per term.
        mid = len(parts) // 2
        parts = [_sql_chain(parts[:mid], word), _sql_chain(parts[mid:], word)]
    params: list = []
    height = 0
    for k, p in enumerate(parts):
        params.extend(p.params)
        height = p.height if k == 0 else 1 + max(height, p.height)
    deepest = parts[0]  # the caller sorts the deepest first; the halves keep it first
    sql = "(" + f" {word} ".join([p.sql for p in parts]) + ")"
    return _Part(sql, params, 1 + deepest.nest, height, deepest.pos)


def _sql(node: Node, negate: bool, columns: Mapping[str, str]) -> _Part:
    # not is pushed to the tests (De Morgan, exact because every test is two-valued) and nested
    # groups of the same kind are merged: SQLite's parser has a small fixed stack (about 80
    # nested parentheses in 3.40), so the SQL should nest no more than the logic needs.
    while isinstance(node, Not):
        node = node.operand
        negate = not negate
    if not isinstance(node, (Or, And)):
        return _leaf_sql(node, negate, columns)
    is_or = isinstance(node, Or) != negate
    items: list[tuple[Node, bool]] = []
    stack: list[tuple[Node, bool]] = [(o, negate) for o in reversed(node.operands)]
    while stack:
        n, neg = stack.pop()
        while isinstance(n, Not):
            n = n.operand
            neg = not neg
        if isinstance(n, (Or, And)) and (isinstance(n, Or) != neg) == is_or:
            for o in reversed(n.operands):
                stack.append((o, neg))
        else:
            items.append((n, neg))
    parts = []
    for n, neg in items:
        parts.append(_sql(n, neg, columns))
    # Deepest operand first: a left-nested "((((x) OR a) AND b) OR c)" costs SQLite's parser one
    # stack slot per level, a right-nested one three. and/or are commutative here (no NULLs).
    parts.sort(key=lambda p: -p.nest)
    return _sql_chain(parts, "OR" if is_or else "AND")


def compile_sql(node: Optional[Node], columns: Mapping[str, str]) -> tuple[str, list]:
    """SQL for a WHERE clause and its parameters, in order, for ``?`` placeholders.

    ``columns`` maps each name the filter may use to a SQL expression the caller built from
    allow-listed identifiers (e.g. ``{"cs": '"cs"'}``); an expression that is not a plain
    (qualified) identifier is put in parentheses. Every literal becomes a parameter, a polygon
    one JSON text for ``jdsi_in_polygon`` (see ``register_sql_functions``). The expression is
    always 0 or 1, never NULL. None (everything) gives ``("1", [])``.

    The SQL is equivalent, not literal: ``not`` is pushed down to the tests, groups of the same
    kind are merged and operands may be reordered. A filter whose and/or groups still nest more
    than ``SQL_MAX_NESTING`` deep is refused (FilterError, kind "syntax"): SQLite could not parse it.

    SQLite applies a column's type affinity to a parameter compared with it, so on a REAL column
    ``x == '5'`` matches 5; ``evaluate`` models columns without affinity. ``check_types``
    refuses such mixes before they get here.
    """
    if node is None:
        return "1", []
    # Report the leftmost unknown name, whatever order the SQL ends up in.
    _check_known(node, columns.keys())
    part = _sql(node, False, columns)
    if part.nest > SQL_MAX_NESTING or part.height > SQL_MAX_HEIGHT:
        raise FilterError(
            f"nested too deeply for the database{_at(part.pos)} (and/or groups inside one another"
            f" more than {SQL_MAX_NESTING} deep); simplify the filter",
            part.pos,
        )
    return part.sql, part.params


@lru_cache(maxsize=64)
def _load_polygon(polygon_json: str) -> tuple[tuple[float, float], ...]:
    data = json.loads(polygon_json)
    if not isinstance(data, list) or len(data) < 3:
        raise ValueError("a polygon is a JSON list of at least 3 [x, y] points")
    points = []
    for p in data:
        if (
            not isinstance(p, list)
            or len(p) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        ):
            raise ValueError(f"a polygon point is [x, y] with two numbers, got {p!r}")
        points.append((float(p[0]), float(p[1])))
    return tuple(points)


def _number_or_none(v: object) -> Optional[float]:
    if v is None or isinstance(v, (str, bytes)):
        return None
    if isinstance(v, numbers.Real):
        f = float(v)
        return None if math.isnan(f) else f
    return None


def in_polygon(x: object, y: object, polygon_json: str) -> Optional[int]:
    """1 if (x, y) is inside the polygon by the even-odd rule, else 0; None if x or y is None.

    ``polygon_json`` is ``[[x1, y1], [x2, y2], ...]`` (closed implicitly). A coordinate that is
    not a number (text, NaN) gives 0. The arithmetic is in doubles, edge by edge from the last
    point to the first (PNPOLY), so the TypeScript version can reproduce it bit for bit; a point
    exactly on an edge may fall either way.
    """
    if x is None or y is None:
        return None
    px = _number_or_none(x)
    py = _number_or_none(y)
    if px is None or py is None:
        return 0
    pts = _load_polygon(polygon_json)
    inside = False
    xj, yj = pts[-1]
    for xi, yi in pts:
        if (yi > py) != (yj > py) and px < (xj - xi) * (py - yi) / (yj - yi) + xi:
            inside = not inside
        xj, yj = xi, yi
    return 1 if inside else 0


def register_sql_functions(conn: sqlite3.Connection) -> None:
    """Register ``jdsi_in_polygon(x, y, polygon_json)`` on a connection (needed by polygons)."""
    conn.create_function("jdsi_in_polygon", 3, in_polygon, deterministic=True)


# ----------------------------------------------------------------------------------------------
# Python evaluation with the SQL semantics above.


def _rank(v: object) -> tuple[int, object]:
    """(type rank, comparable value) in SQLite's order: numbers < text < blob."""
    if isinstance(v, str):
        return 1, v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return 2, bytes(v)
    return 0, v


def _cmp(value: object, literal: Literal) -> Optional[int]:
    """-1, 0 or 1 comparing a row value with a literal; None when the value is missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        value = float(value)  # numpy scalars, Decimal-like: SQLite would store a double
    elif not isinstance(value, (int, float, str, bytes, bytearray, memoryview)):
        raise TypeError(f"cannot filter on a value of type {type(value).__name__}")
    if isinstance(value, float) and math.isnan(value):
        return None  # SQLite stores NaN as NULL
    a = _rank(value)
    b = _rank(literal)
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    av, bv = a[1], b[1]
    return 0 if av == bv else (-1 if av < bv else 1)  # type: ignore[operator]


_CMP_OK = {
    "==": (0,),
    "!=": (-1, 1),
    "<": (-1,),
    "<=": (-1, 0),
    ">": (1,),
    ">=": (0, 1),
}


def _eval(node: Node, row: Mapping[str, object]) -> bool:
    if isinstance(node, Or):
        for o in node.operands:
            if _eval(o, row):
                return True
        return False
    if isinstance(node, And):
        for o in node.operands:
            if not _eval(o, row):
                return False
        return True
    if isinstance(node, Not):
        return not _eval(node.operand, row)
    if isinstance(node, Compare):
        return _cmp(row[node.name], node.value) in _CMP_OK[node.op]
    if isinstance(node, In):
        value = row[node.name]
        for v in node.values:
            if _cmp(value, v) == 0:
                return True
        return False
    if isinstance(node, Between):
        value = row[node.name]
        lo = _cmp(value, node.low)
        hi = _cmp(value, node.high)
        return lo is not None and hi is not None and lo >= 0 and hi <= 0
    if isinstance(node, Polygon):
        return in_polygon(row[node.x], row[node.y], node.json) == 1
    raise TypeError(f"not a filter node: {node!r}")


def evaluate(node: Optional[Node], row: Mapping[str, object]) -> bool:
    """Whether ``row`` (name -> value, None for missing) matches, as ``compile_sql`` would say.

    A name the filter uses that ``row`` lacks is a FilterError (kind "unknown_name").
    """
    if node is None:
        return True
    _check_known(node, row.keys())
    return _eval(node, row)


# ----------------------------------------------------------------------------------------------
# Optional static check against what each name holds.


def check_types(node: Optional[Node], kinds: Mapping[str, str]) -> None:
    """Refuse comparisons that can never do what was meant, as FilterError(kind="type").

    ``kinds`` maps a name to "number" or "text"; names not in it are not checked. A number name
    compared with a quoted text (``cs == '5'``), a text name compared with a number
    (``mrg == 1``) or a text name in a polygon is an error: without it the filter would silently
    match nothing (or, on a REAL column, SQLite would convert the text and disagree with
    ``evaluate``).
    """
    if node is None:
        return
    for leaf in _leaves(node):
        if isinstance(leaf, Polygon):
            for name, pos in _leaf_names(leaf):
                if kinds.get(name) == "text":
                    raise FilterError(
                        f"'{_show(_fmt_name(name))}' holds text and cannot be a polygon coordinate{_at(pos)}",
                        pos,
                        "type",
                    )
            continue
        kind = kinds.get(leaf.name)  # type: ignore[union-attr]
        if kind not in ("number", "text"):
            continue
        if isinstance(leaf, Compare):
            values: tuple = (leaf.value,)
        elif isinstance(leaf, In):
            values = leaf.values
        else:
            values = (leaf.low, leaf.high)  # type: ignore[union-attr]
        for v in values:
            shown = _show(_fmt_name(leaf.name))  # type: ignore[union-attr]
            if kind == "number" and isinstance(v, str):
                hint = ""
                if _NUMBER.fullmatch(v.strip()):
                    hint = f": remove the quotes, {v.strip()}"
                raise FilterError(
                    f"'{shown}' holds numbers but is compared with the text {_show(_fmt_literal(v))}"
                    f"{_at(leaf.pos)}{hint}",  # type: ignore[union-attr]
                    leaf.pos,  # type: ignore[union-attr]
                    "type",
                )
            if kind == "text" and not isinstance(v, str):
                raise FilterError(
                    f"'{shown}' holds text but is compared with the number {_fmt_literal(v)}"
                    f"{_at(leaf.pos)}: put it in quotes, '{_fmt_literal(v)}'",  # type: ignore[union-attr]
                    leaf.pos,  # type: ignore[union-attr]
                    "type",
                )

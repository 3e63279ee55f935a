"""d_feature's terms and the Markdown escaping of user text, held to the vectors that the
TypeScript ports read too (tests/vectors/feature.json, tests/vectors/markdown.json): where the
two languages meet (a dataset saved by the panel, read by the kernel; the card and the
provenance cell of one dataset) they say the same."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi import feature
from jupyterlab_dsi.datasets import code_span, escape_markdown

VECTORS = Path(__file__).parent / "vectors"
FEATURE = json.loads((VECTORS / "feature.json").read_text(encoding="utf-8"))
MARKDOWN = json.loads((VECTORS / "markdown.json").read_text(encoding="utf-8"))


def decode(value: Any) -> Any:
    """{"$number": "NaN" | "Infinity" | "-Infinity"} as that float; the rest as it is."""
    if isinstance(value, dict) and set(value) == {"$number"}:
        return float(value["$number"].replace("Infinity", "inf"))
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


@pytest.mark.parametrize("v", FEATURE["terms"], ids=lambda v: json.dumps(v.get("input", "json"))[:40])
def test_terms_vectors(v: dict[str, Any]) -> None:
    value = json.loads(v["input_json"]) if "input_json" in v else decode(v["input"])
    if "terms" in v:
        got = feature.terms(value)
        assert got == v["terms"] and list(got) == list(v["terms"])  # the user's order too
        return
    with pytest.raises(feature.FeatureError) as info:
        feature.terms(value)
    if "error" in v:
        assert str(info.value) == v["error"]
    else:
        assert str(info.value).startswith(v["error_prefix"])


@pytest.mark.parametrize("v", FEATURE["weight_text"], ids=lambda v: repr(v["weight"]))
def test_weight_text_vectors(v: dict[str, Any]) -> None:
    assert feature.weight_text(v["weight"]) == v["text"]
    # The text reads back as the same number, sign of zero included (the vector itself is right).
    assert float(v["text"]) == float(v["weight"])
    assert math.copysign(1, float(v["text"])) == math.copysign(1, v["weight"])


@pytest.mark.parametrize("v", FEATURE["formula"], ids=lambda v: v["text"][12:40])
def test_formula_vectors(v: dict[str, Any]) -> None:
    assert feature.formula(v["terms"]) == v["text"]


@pytest.mark.parametrize("v", FEATURE["stored"], ids=lambda v: str(v["feature"])[:30])
def test_stored_vectors(v: dict[str, Any]) -> None:
    got = feature.stored(v["feature"], v["w_shock"], v["w_edge"], v["method"])
    assert got == v["terms"]
    if got is not None:
        assert list(got) == list(v["terms"])


def test_feature_vectors_cover_both_outcomes() -> None:
    assert sum("terms" in v for v in FEATURE["terms"]) >= 8 and sum("error" in v for v in FEATURE["terms"]) >= 15
    assert any(v["terms"] is None for v in FEATURE["stored"]) and any(v["terms"] for v in FEATURE["stored"])
    texts = {v["text"] for v in FEATURE["weight_text"]}
    assert {"1e-07", "1e+16", "0.0001", "1e-05", "-0"} <= texts


@pytest.mark.parametrize("v", MARKDOWN["escape"], ids=lambda v: v["text"][:30])
def test_markdown_vectors(v: dict[str, Any]) -> None:
    assert escape_markdown(v["text"]) == v["markdown"]


@pytest.mark.parametrize("v", MARKDOWN["code_span"], ids=lambda v: v["text"][:30])
def test_code_span_vectors(v: dict[str, Any]) -> None:
    assert code_span(v["text"]) == v["markdown"]


def test_markdown_escaping_leaves_no_markup_outside_references() -> None:
    # Whatever the text, the output has no raw character that opens HTML, a link, an image,
    # emphasis, code or a table cell: each such character appears only as &#N;.
    markup = set("\\`*_[]|~<>!#:@$\r\n")
    texts = [v["text"] for v in MARKDOWN["escape"]]
    texts.append("a " + " ".join(sorted(markup)) + " ![x](http://e/x.png) <img src=x> | *b* `c` www.e.org")
    assert markup <= set("".join(texts))  # every markup character is tried
    for text in texts:
        bare = escape_markdown(text)
        for ref in {f"&#{ord(c)};" for c in set(text)}:
            bare = bare.replace(ref, "")
        assert not set(bare) & markup, (text, bare)

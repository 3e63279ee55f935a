"""Documented limits (docs/data-model.md, "Limits") hold at every entry point, not only the
server's: a method's description here (a dataset's fields: tests/test_datasets.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import Ensemble, sha256

from jupyterlab_dsi.compute import MAX_DESCRIPTION, PostprocessError, postprocess


def test_cli_refuses_a_method_description_above_the_limit(
    ingested: tuple[Ensemble, Path], cli: Callable[..., Any]
) -> None:
    _, db = ingested
    before = sha256(db)
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2",
              "--description", "x" * (MAX_DESCRIPTION + 1))
    assert res.code == 2
    assert res.err_lines == [
        f"jupyter dsi postprocess: error: the description is {MAX_DESCRIPTION + 1:,} characters, "
        f"above the limit of {MAX_DESCRIPTION:,}; shorten it"
    ]
    assert sha256(db) == before  # refused before anything is computed or written
    ok = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2",
             "--description", "x" * MAX_DESCRIPTION)
    assert ok.code == 0, ok.err


def test_postprocess_refuses_a_description_that_is_not_text(ingested: tuple[Ensemble, Path]) -> None:
    _, db = ingested
    with pytest.raises(PostprocessError, match="^the description must be text, not list$"):
        postprocess(db, ground_truth="s00", norm="L2", description=["x"])  # type: ignore[arg-type]

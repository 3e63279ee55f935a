"""Every endpoint needs the token; every path stays under the root and no answer names the root."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from .stresskit import LiveServer, copy_db

ID = str(uuid.uuid4())
ENDPOINTS = [
    ("GET", "db?path=ens.sqlite"), ("GET", "config"), ("GET", "datasets?path=ens.sqlite"),
    ("POST", "datasets?path=ens.sqlite"), ("DELETE", f"datasets/{ID}?path=ens.sqlite"),
    ("POST", f"datasets/{ID}/restore?path=ens.sqlite"), ("GET", "events?path=ens.sqlite"),
    ("POST", "methods?path=ens.sqlite"), ("GET", "jobs"), ("GET", f"jobs/{ID}"), ("DELETE", f"jobs/{ID}"),
]
TRAVERSALS = ["../outside.sqlite", "a/../../outside.sqlite", "%2e%2e%2foutside.sqlite", "..%2foutside.sqlite",
              "%252e%252e%252foutside.sqlite", "link.sqlite", "linkdir/outside.sqlite", "ens.sqlite%00.txt",
              "%00", "", "/etc/passwd", "....//outside.sqlite"]


@pytest.fixture(scope="module")
def server(shared_method: tuple[Any, Path, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    top = tmp_path_factory.mktemp("sec")
    root = top / "root"
    copy_db(shared_method[1], root / "ens.sqlite")
    copy_db(shared_method[1], top / "outside.sqlite")
    os.symlink(top / "outside.sqlite", root / "link.sqlite")
    os.symlink(top, root / "linkdir")
    with LiveServer(root) as live:
        yield live


@pytest.mark.parametrize(("method", "endpoint"), ENDPOINTS)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_no_token_no_answer(server: Any, method: str, endpoint: str, token: str | None, figures: Any) -> None:
    body = {"members": ["s01"], "description": "x"} if method == "POST" else None
    status, answer = server.call(endpoint, method, body, token=token)
    figures.add("ops")
    figures.add("hostile")
    assert status == 403, (status, answer)


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize(("method", "endpoint"), [("GET", "db"), ("GET", "datasets"), ("GET", "events"),
                                                   ("POST", "datasets"), ("POST", "methods")])
def test_paths_stay_under_the_root(server: Any, method: str, endpoint: str, path: str, figures: Any) -> None:
    body = None
    if endpoint == "datasets" and method == "POST":
        body = {"members": ["s01"], "description": "escape"}
    elif endpoint == "methods":
        body = {"ground_truth": "s00", "norm": "L2"}
    status, answer = server.call(f"{endpoint}?path={path}", method, body)
    figures.add("ops")
    figures.add("hostile")
    text = json.dumps(answer) if isinstance(answer, dict) else repr(answer)
    assert status in (400, 403, 404), (status, text[:200])
    assert str(server.root.resolve()) not in text and str(server.root.parent) not in text

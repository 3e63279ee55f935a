"""The kernel variable names the panel's settings give the bridge: refused when assigning them
would hide a builtin, a keyword or IPython's own names (without a kernel: see test_kernel.py for
the refusal as the panel sees it)."""

from __future__ import annotations

import builtins

import pytest

from jupyterlab_dsi.bridge import BridgeError, check_names, reserved_name

NAMES = {"selection": "dsi_selection", "method": "dsi_method", "datasets": "dsi_datasets"}


@pytest.mark.parametrize("name, hidden", [
    ("print", "Python's builtin print"),
    ("list", "Python's builtin list"),
    ("type", "Python's builtin type"),
    ("__builtins__", "one of Python's special __names__"),
    ("__name__", "one of Python's special __names__"),
    ("__anything__", "one of Python's special __names__"),
    ("_", "a name IPython keeps for itself"),
    ("___", "a name IPython keeps for itself"),
    ("_i3", "a name IPython keeps for itself"),
    ("_12", "a name IPython keeps for itself"),
    ("In", "a name IPython keeps for itself"),
    ("get_ipython", "a name IPython keeps for itself"),
    ("None", "a Python keyword"),
])
def test_a_name_that_would_hide_something_is_refused(name: str, hidden: str) -> None:
    assert reserved_name(name) == hidden
    with pytest.raises(BridgeError) as info:
        check_names({**NAMES, "method": name})
    # The one line the panel shows: what the name would hide, and where to change it.
    where = "Settings → DSI Explorer → Kernel variables"
    if hidden == "a Python keyword":
        expected = f"the method variable name {name!r} is not a Python identifier; change it in {where}"
    else:
        expected = f"the method variable name {name!r} would replace {hidden}; choose another in {where}"
    assert str(info.value) == expected


def test_every_builtin_is_refused() -> None:
    for name in dir(builtins):
        if name.isidentifier():
            with pytest.raises(BridgeError):
                check_names({**NAMES, "selection": name})


@pytest.mark.parametrize("name", ["dsi_selection", "sel", "match", "case", "_sel", "inputs", "Input", "i3"])
def test_ordinary_names_are_taken(name: str) -> None:
    assert reserved_name(name) is None
    assert check_names({**NAMES, "selection": name})["selection"] == name

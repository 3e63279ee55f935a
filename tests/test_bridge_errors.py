"""The kernel bridge's errors: the panel gets one line, and an unexpected failure's traceback goes
to the log (the kernel's stderr), so that a developer can see where it came from."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from jupyterlab_dsi import bridge


class Comm:
    comm_id = "c1"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    def on_msg(self, _f: Any) -> None:
        pass

    def on_close(self, _f: Any) -> None:
        pass


def _linked(root: Path) -> tuple[bridge.Bridge, Comm]:
    b, comm = bridge.Bridge(), Comm()
    names = {"selection": "dsi_selection", "method": "dsi_method", "datasets": "dsi_datasets"}
    b.on_open(comm, {"content": {"data": {"protocol": bridge.PROTOCOL, "root": str(root), "names": names}}})
    assert comm.sent[-1]["type"] == "hello"
    return b, comm


def _state(b: bridge.Bridge, comm: Comm, db: str, method: str | None, where: str = "") -> dict[str, Any]:
    b.on_msg(b.links["c1"], {"content": {"data": {"type": "state", "seq": 7, "db": db, "method": method, "t": 1,
                                                    "weights": None, "where": where}}})
    return comm.sent[-1]


def _tracebacks(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return ["".join(traceback.format_exception(*r.exc_info)) for r in caplog.records
            if r.name == "jupyterlab_dsi.bridge" and r.levelno == level and r.exc_info]


def test_an_unexpected_failure_is_one_line_for_the_panel_and_a_traceback_in_the_log(
    method: tuple[Any, Path, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, db, method_id = method
    b, comm = _linked(db.parent)

    def broken(*_a: Any) -> Any:
        return {}["selection"]  # a bug deep inside: a KeyError the panel cannot explain

    monkeypatch.setattr(bridge, "panel_variables", broken)
    with caplog.at_level(logging.DEBUG, logger="jupyterlab_dsi.bridge"):
        reply = _state(b, comm, db.name, method_id)
    assert reply == {"type": "error", "seq": 7, "message": "KeyError: 'selection'"}
    [logged] = _tracebacks(caplog, logging.ERROR)
    assert "in broken" in logged and "KeyError: 'selection'" in logged
    assert db.name in caplog.records[-1].getMessage()


def test_reading_the_datasets_logs_its_traceback_too(
    method: tuple[Any, Path, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, db, _ = method
    b, comm = _linked(db.parent)
    b.db = db
    import jupyterlab_dsi.frames as frames

    def broken(_store: Any) -> Any:
        raise RuntimeError("the frame could not be built")

    monkeypatch.setattr(frames, "datasets_frame", broken)
    with caplog.at_level(logging.DEBUG, logger="jupyterlab_dsi.bridge"):
        b.on_msg(b.links["c1"], {"content": {"data": {"type": "datasets"}}})
    assert comm.sent[-1] == {"type": "error", "message": "RuntimeError: the frame could not be built"}
    [logged] = _tracebacks(caplog, logging.ERROR)
    assert "the frame could not be built" in logged and "in broken" in logged


def test_a_users_mistake_is_one_line_and_no_error_in_the_log(
    method: tuple[Any, Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, db, method_id = method
    b, comm = _linked(db.parent)
    with caplog.at_level(logging.DEBUG, logger="jupyterlab_dsi.bridge"):
        reply = _state(b, comm, db.name, method_id, where="cz > 1")
    assert reply["type"] == "error" and "unknown name 'cz'" in reply["message"]
    assert "\n" not in reply["message"]
    assert _tracebacks(caplog, logging.ERROR) == []
    assert len(_tracebacks(caplog, logging.DEBUG)) == 1  # still there for a developer who asks


def test_the_log_reaches_the_kernels_stderr_when_nothing_is_configured(
    method: tuple[Any, Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A kernel configures no logging: Python's last-resort handler writes errors to stderr.
    _, db, method_id = method
    b, comm = _linked(db.parent)
    monkeypatch.setattr(bridge, "panel_variables", lambda *_a: 1 / 0)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        reply = _state(b, comm, db.name, method_id)
    finally:
        root.handlers[:] = saved
    assert reply["message"] == "ZeroDivisionError: division by zero"
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err

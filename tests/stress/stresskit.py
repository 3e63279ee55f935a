"""Helpers shared by the stress tests: live servers, kernels, the CLI in a subprocess, checks.

The plain test helpers (``tests/conftest.py``, ``tests/test_server.py``, ``tests/test_kernel.py``)
are loaded by path: both conftest files are named ``conftest``, so ``from conftest import`` would
be ambiguous here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_dsi_tests_{name}", TESTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


base = _load("conftest")
_server_tests = _load("test_server")
call = _server_tests.call
sha256 = base.sha256
query = base.query


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db))  # read-write on purpose: a hot journal must roll back here
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def copy_db(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    return dest


# -- the CLI, as a user runs it ----------------------------------------------------------------

JUPYTER_DSI = [str(Path(sys.executable).with_name("jupyter-dsi"))]


def dsi(*args: Any, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``jupyter dsi ARGS`` in a subprocess (text output)."""
    return subprocess.run(JUPYTER_DSI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A Python subprocess running ``code`` with ``args`` in sys.argv[1:]."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


# -- a real jupyter_server ---------------------------------------------------------------------


class LiveServer:
    """jupyter_server in a subprocess with a token, serving ``root``; ``kill()`` is SIGKILL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = "stress-" + uuid.uuid4().hex
        port = _server_tests._free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.base = f"{self.url}/jupyterlab-dsi"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.open_browser=False", f"--IdentityProvider.token={self.token}",
             "--ServerApp.allow_root=True"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "JUPYTER_TOKEN": self.token},
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("jupyter server did not start")
                time.sleep(0.3)

    def call(self, endpoint: str, method: str = "GET", body: Any = None, **kw: Any) -> tuple[int, Any]:
        kw.setdefault("token", self.token)
        return call(f"{self.base}/{endpoint}", method, body, **kw)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def save_body(method: str, members: list[str], **extra: Any) -> dict[str, Any]:
    """A panel save request (with a client-chosen id, so that a retry is safe)."""
    return {"id": str(uuid.uuid4()), "members": members, "description": "stress save", "method_id": method,
            "t": 1, "filter": "", "selection_kind": "brush", **extra}


# -- a real kernel -----------------------------------------------------------------------------


def start_kernel(cwd: Path) -> Any:
    """A python3 kernel with the extension loaded, wrapped in test_kernel's client."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(cwd))
    kernel = _load("test_kernel").Kernel(km, kc, cwd)
    kernel.execute("%load_ext jupyterlab_dsi")
    return kernel


def stop_kernel(kernel: Any) -> None:
    kernel.kc.stop_channels()
    kernel.km.shutdown_kernel(now=True)


# Run in the kernel: a magic save, then its id, digest and members as one JSON line on stdout.
MAGIC_SAVE = (
    "_r = %dsi select --db {db} --method {method} --time 1 --where {where} --save {description}\n"
    "print('ACK ' + __import__('json').dumps({{'id': _r.attrs['dataset']['id'], "
    "'digest': _r.attrs['dataset']['digest'], 'members': sorted(_r.index.get_level_values('sim_id'))}}))"
)

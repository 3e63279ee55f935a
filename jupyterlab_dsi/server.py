"""The Jupyter server extension: the panel's way to the database file.

``GET /jupyterlab-dsi/db?path=P`` answers a consistent snapshot of the database at ``P`` (relative
to the server's root) as bytes for the browser's sql.js replica; ``GET /jupyterlab-dsi/config``
answers the extension's server-side settings. Every endpoint needs the user's authentication and
every path is confined to the server's root directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from traitlets import Unicode
from traitlets.config import Configurable

from .errors import DsiError
from .store import Store

NAMESPACE = "jupyterlab-dsi"


class DSIConfig(Configurable):
    """Server-side settings, e.g. ``--DSIConfig.default_db=data/sample.sqlite``."""

    default_db = Unicode(
        "", config=True, help="Database (relative to the server root) the panel opens on start."
    )


class PathError(DsiError):
    """A path outside the server's root, or one that does not exist."""


def confine(root: str | os.PathLike[str], relative: str) -> Path:
    """``relative`` resolved under ``root``; an error for anything that escapes it."""
    if not relative or "\x00" in relative:
        raise PathError("no database path given")
    base = Path(root).resolve()
    target = (base / relative.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        raise PathError(f"{relative}: outside the server's root directory")
    if not target.is_file():
        raise PathError(f"{relative}: no such file")
    return target


class _Handler(APIHandler):
    @property
    def root_dir(self) -> str:
        return str(self.settings.get("server_root_dir") or self.contents_manager.root_dir)

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))


class DatabaseHandler(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        relative = self.get_query_argument("path", "")
        try:
            path = confine(self.root_dir, relative)
            with Store(path, readonly=True) as store:
                data = store.snapshot()
                seq = store.conn.execute("SELECT coalesce(max(seq), 0) FROM jdsi_event").fetchone()[0]
        except PathError as exc:
            self.fail(404 if "no such file" in str(exc) else 403, str(exc))
            return
        except DsiError as exc:
            # Name the file as the user knows it, not by its absolute server path.
            self.fail(422, str(exc).replace(str(path), relative))
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-DSI-Event-Seq", str(seq))
        self.finish(data)


class ConfigHandler(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        config: DSIConfig = self.settings["jupyterlab_dsi_config"]
        body: dict[str, Any] = {"default_db": config.default_db}
        self.finish(json.dumps(body))


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    web_app.settings["jupyterlab_dsi_config"] = DSIConfig(config=server_app.config)
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, NAMESPACE, "db"), DatabaseHandler),
            (url_path_join(base, NAMESPACE, "config"), ConfigHandler),
        ],
    )

"""JupyterLab server for the Galata tests: no authentication, loopback only. Tests only."""

import getpass
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter injects)
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = 8899  # noqa: F821
c.ServerApp.open_browser = False  # noqa: F821
if getpass.getuser() == "root":
    c.ServerApp.allow_root = True  # noqa: F821
# Keep the user's own settings out of the tests.
c.LabApp.user_settings_dir = mkdtemp(prefix="galata-settings-")  # noqa: F821
# The panel opens this database on start when it exists (the tests upload it there).
c.DSIConfig.default_db = "startup/sample.sqlite"  # noqa: F821

"""JupyterLab for the Binder replay test: the repository as the root (as on Binder), loopback
only, no authentication (tests only). The default database comes from binder/postBuild's
config, not from here: that is what the test checks."""

import getpass
import sys
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server
from traitlets.config.loader import JSONFileConfigLoader

# --config replaces the usual config files: load the one postBuild wrote, as Binder's server would.
c.merge(JSONFileConfigLoader("jupyter_server_config.json", path=str(Path(sys.prefix, "etc", "jupyter"))).load_config())  # noqa: F821
configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter injects)
c.ServerApp.root_dir = str(Path(__file__).resolve().parents[1])  # noqa: F821
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = 8900  # noqa: F821
c.ServerApp.open_browser = False  # noqa: F821
if getpass.getuser() == "root":
    c.ServerApp.allow_root = True  # noqa: F821

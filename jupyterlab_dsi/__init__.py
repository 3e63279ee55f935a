"""jupyterlab-dsi: choose, record and reproduce the training data of ML models trained on
simulation ensembles, inside JupyterLab.

The package holds the Store (the one writer of the SQLite file), the ensemble pipeline behind
``jupyter dsi``, the Jupyter server extension that serves the panel and the IPython extension.
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0+unknown"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyterlab-dsi"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyterlab_dsi"}]


def _load_jupyter_server_extension(server_app) -> None:  # type: ignore[no-untyped-def]
    from .server import setup_handlers

    setup_handlers(server_app)


def load_ipython_extension(ipython) -> None:  # type: ignore[no-untyped-def]
    """``%load_ext jupyterlab_dsi``: registers the ``%dsi`` magic."""
    from .magic import load_ipython_extension as load

    load(ipython)

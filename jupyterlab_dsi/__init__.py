"""jupyterlab-dsi: choose, record and reproduce the training data of ML models trained on
simulation ensembles, inside JupyterLab.

The package holds the Store (the one writer of the SQLite file), the ensemble pipeline behind
``jupyter dsi``, the Jupyter server extension that serves the panel and the IPython extension.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from dask.distributed import Client

    from .ensemble import Dataset, Ensemble

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0+unknown"


# The Python API (issue 15, DESIGN rule 8): `jupyterlab_dsi.open(path)` -> Ensemble. Served by
# __getattr__ rather than defined here, so that `open` never shadows the builtin inside this
# module and `import jupyterlab_dsi` (the server and IPython entry points) stays light.
_API = ("open", "Ensemble", "Dataset")
_SUBMODULES = ("mlflow",)  # optional extras, imported on first use: `dsi.mlflow.log_input(ds)`


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import ensemble

        return getattr(ensemble, name)
    if name == "propose":  # seed 004's active-learning policy (issue 16)
        from .proposals import propose

        return propose
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API, *_SUBMODULES, "propose"})


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


def postprocess(
    db: str | Path,
    ground_truth: str,
    norm: str,
    gt_time: int | None = None,
    description: str = "",
    *,
    client: Client | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    geometry: str | None = None,
    match_time: str = "index",
    field: str = "density",
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Distances of every simulation to ``ground_truth`` under ``norm``; returns the method id.

    ``workers=N`` runs on a local Dask cluster of N processes, ``scheduler="tcp://..."`` on a
    running one, ``client=`` on a Dask client you hold. In a notebook a progress bar is shown
    when no ``progress`` callback is given. Nothing is written unless every simulation succeeds.
    ``geometry`` ('cartesian' or 'cylindrical') overrides the cell volumes the data implies;
    ``match_time='nearest'`` compares each step with the ground truth's step nearest in simulated
    time instead of the step with the same index; ``field`` names the VTK cell array compared.
    """
    # Imported here so that ``import jupyterlab_dsi`` (the server and IPython extension entry
    # points) does not pay for numpy and the store.
    from .compute import PostprocessCancelled
    from .compute import postprocess as run
    from .progress import NotebookProgress, in_ipython

    notebook = in_ipython()
    if progress is None and notebook:
        progress = NotebookProgress()
    options: dict[str, Any] = {
        "client": client, "workers": workers, "scheduler": scheduler, "progress": progress, "cancel": cancel,
        "geometry": geometry, "match_time": match_time, "field": field,
    }
    try:
        return run(db, ground_truth, norm, gt_time, description, **options)
    except KeyboardInterrupt:
        if not notebook:  # a script keeps Python's own Ctrl-C behaviour
            raise
        # A kernel interrupt: IPython shows this exception as its one line, not a traceback.
        raise PostprocessCancelled("interrupted; nothing was written") from None

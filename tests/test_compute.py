"""Post-processing on Dask (a local cluster, a scheduler address, a client), cancel, interrupt,
the notebook progress bar and the hint when Dask is missing.

The clusters are started once per module: a worker process costs about a second to start.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Ensemble, Result, query, sha256

distributed = pytest.importorskip("dask.distributed")

import jupyterlab_dsi  # noqa: E402
from jupyterlab_dsi import compute  # noqa: E402

Cli = Callable[..., Result]
ROWS = "SELECT sim_id, t, d_shock, d_edge, d_density FROM jdsi_distance WHERE method_id = ? ORDER BY sim_id, t"


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[int, Any]]:
    """Local clusters of 1 and 2 worker processes (one thread each), by worker count."""
    started = {}
    try:
        for n in (1, 2):
            started[n] = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
        yield started
    finally:
        for cluster in started.values():
            cluster.close()


@pytest.fixture(scope="module")
def client(clusters: dict[int, Any]) -> Iterator[Any]:
    with distributed.Client(clusters[2], set_as_default=False) as c:
        yield c


def rows(db: Path, method_id: str) -> list[tuple[Any, ...]]:
    return query(db, ROWS, (method_id,))


def assert_same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Same keys, every distance equal to 1e-12 relative (NULL where NULL)."""
    assert [r[:2] for r in got] == [r[:2] for r in want]
    for g, w in zip(got, want):
        for a, b in zip(g[2:], w[2:]):
            assert (a is None) == (b is None)
            if a is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=0)


def local_rows(db: Path, norm: str = "L2") -> list[tuple[Any, ...]]:
    return rows(db, compute.postprocess(db, "s00", norm))


# -- equality ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", [("--workers", "1"), ("--workers", "2"), ("--scheduler", None)])
def test_cli_on_dask_equals_one_process(
    cli: Cli, ingested: tuple[Ensemble, Path], clusters: dict[int, Any], option: tuple[str, str | None]
) -> None:
    _, db = ingested
    want = local_rows(db)
    flag, value = option
    value = value or clusters[1].scheduler_address
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2", flag, value)
    assert res.code == 0, res.err
    assert_same(rows(db, res.last_line), want)


@pytest.mark.parametrize("norm", ["L1", "Linf"])
def test_python_function_with_a_client(ingested: tuple[Ensemble, Path], client: Any, norm: str) -> None:
    _, db = ingested
    want = local_rows(db, norm)
    seen: list[tuple[int, int]] = []
    method_id = jupyterlab_dsi.postprocess(db, "s00", norm, client=client, progress=lambda d, t: seen.append((d, t)))
    assert_same(rows(db, method_id), want)
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == list(range(1, 7))


def test_python_function_with_workers_and_fixed_gt_time(ingested: tuple[Ensemble, Path]) -> None:
    _, db = ingested
    want = rows(db, compute.postprocess(db, "s03", "L1", gt_time=2))
    assert_same(rows(db, jupyterlab_dsi.postprocess(db, "s03", "L1", gt_time=2, workers=1)), want)


# -- failures ----------------------------------------------------------------------------------


def _die_once(marker: str) -> None:
    """Installed on every worker: the first task to run kills its worker process."""
    real = compute.simulation_distances

    def dying(*args: Any, **kwargs: Any) -> Any:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return real(*args, **kwargs)
        os.close(fd)
        os._exit(1)

    compute.simulation_distances = dying


def test_a_dead_worker_is_retried(ingested: tuple[Ensemble, Path], clusters: dict[int, Any], tmp_path: Path) -> None:
    _, db = ingested
    want = local_rows(db)
    marker = tmp_path / "died"
    # Its own cluster: the nanny restarts the dead process, which the shared clusters need not see.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        c.run(_die_once, str(marker))
        method_id = jupyterlab_dsi.postprocess(db, "s00", "L2", client=c)
    assert marker.exists()
    assert_same(rows(db, method_id), want)


def test_an_unreadable_file_fails_as_in_one_process(
    cli: Cli, ingested: tuple[Ensemble, Path], client: Any
) -> None:
    ens, db = ingested
    ens.file("s04").write_bytes(b"not a zip")
    before = sha256(db)
    with pytest.raises(compute.PostprocessError) as local:
        compute.postprocess(db, "s00", "L2")
    with pytest.raises(compute.PostprocessError) as on_dask:
        jupyterlab_dsi.postprocess(db, "s00", "L2", client=client)
    assert str(on_dask.value) == str(local.value)
    assert "s04" in str(local.value) and "\n" not in str(local.value)
    assert sha256(db) == before


@pytest.mark.parametrize("on_dask", [False, True])
def test_cancel_writes_nothing(ingested: tuple[Ensemble, Path], client: Any, on_dask: bool) -> None:
    _, db = ingested
    before = sha256(db)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(compute.PostprocessCancelled, match="cancelled; nothing was written"):
        compute.postprocess(db, "s00", "L2", progress=progress, cancel=cancel, client=client if on_dask else None)
    assert sha256(db) == before


def test_cancel_from_another_thread(ingested: tuple[Ensemble, Path]) -> None:
    # The server's contract: postprocess(db, gt, norm, gt_time, description, progress=, cancel=)
    # in a thread, the event set from elsewhere.
    _, db = ingested
    before = sha256(db)
    cancel, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def progress(done: int, total: int) -> None:
        started.set()
        assert cancel.wait(5)

    def work() -> None:
        try:
            compute.postprocess(db, "s00", "L2", None, "", progress=progress, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    assert started.wait(5)
    cancel.set()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], compute.PostprocessCancelled)
    assert sha256(db) == before


def test_missing_dask_gives_the_install_hint(cli: Cli, ingested: tuple[Ensemble, Path], monkeypatch) -> None:
    _, db = ingested
    before = sha256(db)
    real_import = builtins.__import__

    def no_dask(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "dask" or name.startswith("dask."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2", "--workers", "2")
    assert res.code == 2
    assert res.err_lines == ['jupyter dsi postprocess: error: Dask is not installed: pip install "jupyterlab-dsi[dask]"']
    assert sha256(db) == before


def test_bad_scheduler_address_is_one_line(cli: Cli, ingested: tuple[Ensemble, Path]) -> None:
    _, db = ingested
    res = cli("postprocess", "-q", "--db", db, "--ground-truth", "s00", "--norm", "L2", "--scheduler", "nonsense://x")
    assert res.code == 2 and len(res.err_lines) == 1
    assert "cannot reach the Dask scheduler at 'nonsense://x'" in res.err


# -- notebook ----------------------------------------------------------------------------------


@pytest.fixture
def shell() -> Any:
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    return start_ipython() or get_ipython()  # None once started (test_magic may have)


def test_notebook_progress_bar(ingested: tuple[Ensemble, Path], shell: Any, monkeypatch) -> None:
    _, db = ingested
    shown: list[dict[str, str]] = []

    class Handle:
        def update(self, bundle: dict[str, str], raw: bool = False) -> None:
            shown.append(bundle)

    def display(bundle: dict[str, str], raw: bool = False, display_id: bool = False) -> Handle:
        assert raw and display_id
        shown.append(bundle)
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    monkeypatch.setattr("jupyterlab_dsi.progress.NotebookProgress.__init__.__defaults__", ("simulations", 0.0))
    shell.user_ns["db"] = str(db)
    result = shell.run_cell("import jupyterlab_dsi; m = jupyterlab_dsi.postprocess(db, 's00', 'L2')")
    assert result.success, result.error_in_exec
    assert len(shown) == 6
    assert shown[-1]["text/plain"].startswith("6/6 simulations (")
    assert '<progress value="6" max="6"></progress>' in shown[-1]["text/html"]
    assert rows(db, shell.user_ns["m"])


def test_notebook_progress_is_throttled() -> None:
    from jupyterlab_dsi.progress import NotebookProgress

    calls: list[int] = []
    bar = NotebookProgress(interval=60)
    bar._handle = type("H", (), {"update": lambda self, b, raw: calls.append(1)})()
    bar._drawn_at = time.perf_counter()
    for done in range(1, 100):
        bar(done, 100)
    assert calls == []
    bar(100, 100)  # the final state is always drawn
    assert calls == [1]


def test_kernel_interrupt_is_one_line(ingested: tuple[Ensemble, Path], shell: Any, monkeypatch, capsys) -> None:
    _, db = ingested
    before = sha256(db)

    def interrupt(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    shell.user_ns.update(db=str(db), interrupt=interrupt)
    capsys.readouterr()
    result = shell.run_cell("import jupyterlab_dsi; jupyterlab_dsi.postprocess(db, 's00', 'L2', progress=interrupt)")
    assert isinstance(result.error_in_exec, compute.PostprocessCancelled)
    out = capsys.readouterr()
    assert (out.out + out.err).strip().splitlines() == ["PostprocessCancelled: interrupted; nothing was written"]
    assert sha256(db) == before
    assert sys.exc_info() == (None, None, None)

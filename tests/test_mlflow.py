"""MLflow, where users already log (issue 15 §5), against a real local MLflow store: its SQLite
tracking backend in tmp_path, no mock. ``dsi.mlflow.log_input`` writes what MLflow keeps;
``jupyter dsi import-mlflow`` brings those runs back as runs linked to their datasets."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, query, sha256

import jupyterlab_dsi as dsi
from jupyterlab_dsi.errors import DsiError

Cli = Callable[..., Result]
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_mlflow = pytest.mark.skipif(
    not HAS_MLFLOW, reason="MLflow is not installed: pip install 'jupyterlab-dsi[mlflow]' (make install does)")


@pytest.fixture
def db(mdb: tuple[Path, str], cli: Cli) -> tuple[Path, str, str]:
    """A private database with two saved datasets: (path, dataset id, other dataset id)."""
    path, method_id = mdb
    ids = []
    for where in ("energy < 5", "energy >= 3"):
        res = cli("select", "--db", path, "--method", method_id, "--time", 1, "--where", where,
                  "--save", f"mlflow {where}", "--name", f"set {where}")
        assert res.code == 0, res.err
        ids.append(res.last_line)
    return path, ids[0], ids[1]


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An MLflow SQLite store with one experiment, made once (creating one runs every migration
    of MLflow's schema, seconds): (its file, the experiment id). Tests use copies."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    path = root / "template.db"
    with warnings.catch_warnings():  # SQLAlchemy's deprecation notes about MLflow's models
        warnings.simplefilter("ignore", DeprecationWarning)
        experiment = mlflow.MlflowClient(f"sqlite:///{path}").create_experiment(
            "dsi-tests", artifact_location=(root / "artifacts").as_uri())
    return path, experiment


@pytest.fixture
def tracking(mlflow_store: tuple[Path, str], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A private copy of that store: (tracking uri, experiment id). Set as the process's tracking
    uri for mlflow.start_run, and put back afterwards."""
    import mlflow

    template, experiment = mlflow_store
    path = tmp_path / "mlflow.db"
    shutil.copyfile(template, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        yield uri, experiment
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # back to the default


def train(experiment: str, ds: Any, *, status: str = "FINISHED", name: str = "gp-v1",
          steps: int = 5, **log: Any) -> str:
    """One MLflow run as a training script writes it: log_input, params, a loss per step."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        if ds is not None:
            dsi.mlflow.log_input(ds, **log)
        mlflow.log_params({"lr": 0.001, "kernel": "rbf"})
        for step in range(steps):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("r2", 0.9)
        mlflow.end_run(status)
    return run.info.run_id


def runs_json(cli: Cli, path: Path) -> list[dict[str, Any]]:
    res = cli("runs", "--db", path, "--format", "json")
    assert res.code == 0, res.err
    return json.loads(res.out)


# -- the module ---------------------------------------------------------------------------


@needs_mlflow
def test_dsi_mlflow_is_our_module_and_reaches_the_mlflow_package() -> None:
    import mlflow

    assert "mlflow" in dir(dsi)
    assert dsi.mlflow is sys.modules["jupyterlab_dsi.mlflow"]
    assert dsi.mlflow.mlflow is mlflow and Path(mlflow.__file__).parent.name == "mlflow"
    assert dsi.mlflow.mlflow is not dsi.mlflow


def test_without_mlflow_the_module_and_the_command_say_how_to_install_it(db: tuple[Path, str, str]) -> None:
    path, _, _ = db
    script = textwrap.dedent(f"""
        import sys
        sys.modules["mlflow"] = None  # as if it were not installed: importing it raises ImportError
        import jupyterlab_dsi as dsi
        from jupyterlab_dsi.cli import main
        from jupyterlab_dsi.errors import DsiError
        try:
            dsi.mlflow
        except DsiError as exc:
            print("API:", exc, isinstance(exc, ImportError))
        sys.exit(main(["import-mlflow", "--db", {str(path)!r}, "--tracking-uri", "sqlite:///x.db"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout.startswith("API: MLflow is not installed") and done.stdout.rstrip().endswith("True")
    assert "pip install 'jupyterlab-dsi[mlflow]'" in done.stdout
    assert done.stderr.count("\n") == 1 and "pip install 'jupyterlab-dsi[mlflow]'" in done.stderr


# -- log_input ----------------------------------------------------------------------------


@needs_mlflow
def test_log_input_keeps_our_digest_and_names_the_database_and_dataset(
        db: tuple[Path, str, str], tracking: tuple[str, str]) -> None:
    import mlflow
    from mlflow.data import get_source

    path, dataset_id, _ = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        ds = ens.dataset(dataset_id)
        run_id = train(experiment, ds)
        members = ds.member_ids()
    (logged,) = mlflow.MlflowClient(uri).get_run(run_id).inputs.dataset_inputs
    dataset = logged.dataset
    assert ds.digest == "sha256:" + dataset.digest + ds.digest[43:]  # MLflow keeps at most 36 characters
    assert dataset.name == ds.name and json.loads(dataset.profile)["num_rows"] == ds.size == len(members)
    assert dataset.source_type == "dsi"
    source = json.loads(dataset.source)
    assert source == {"uri": f"dsi://{path.resolve()}#dataset={dataset_id}", "db": str(path.resolve()),
                      "dataset_id": dataset_id, "digest": ds.digest}
    tags = {t.key: t.value for t in logged.tags}
    assert tags == {"mlflow.data.context": "training", "dsi.dataset_id": dataset_id, "dsi.digest": ds.digest,
                    "dsi.name": ds.name, "dsi.size": str(ds.size)}
    # MLflow reads the source back as ours, and loading it gives the members again.
    back = get_source(logged)
    assert type(back).__name__ == "DsiDatasetSource" and back.uri == source["uri"]
    assert list(back.load().index) == members


@needs_mlflow
def test_a_source_in_a_fresh_process_resolves_through_the_entry_point(db: tuple[Path, str, str]) -> None:
    path, dataset_id, _ = db
    uri = f"dsi://{path.resolve()}#dataset={dataset_id}"
    script = ("import mlflow.data.dataset_source_registry as r, sys; s = r.resolve_dataset_source(sys.argv[1]); "
              "print(type(s).__module__, s.dataset_id, len(s.load()))")
    done = subprocess.run([sys.executable, "-c", script, uri], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with dsi.open(path) as ens:
        assert done.stdout.split() == ["jupyterlab_dsi.mlflow_source", dataset_id, str(ens.dataset(dataset_id).size)]


@needs_mlflow
def test_log_input_records_the_split_and_the_context(db: tuple[Path, str, str], tracking: tuple[str, str]) -> None:
    import mlflow

    path, dataset_id, other_id = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        ds, other = ens.dataset(dataset_id), ens.dataset(other_id)
        split = ds.split(fractions=(0.5, 0.5), names=("train", "test"), seed=1)
        by_object = train(experiment, ds, split=split, context="validation")
        by_id = train(experiment, ds, split=split.id)
        with mlflow.start_run(experiment_id=experiment):
            with pytest.raises(DsiError, match=f"split {split.id[:8]} is a split of dataset {dataset_id[:8]}, "
                               f"not of {other_id[:8]}"):
                dsi.mlflow.log_input(other, split=split)
            with pytest.raises(DsiError, match="context must be a non-empty string"):
                dsi.mlflow.log_input(ds, context="")
    client = mlflow.MlflowClient(uri)
    for run_id, context in ((by_object, "validation"), (by_id, "training")):
        (logged,) = client.get_run(run_id).inputs.dataset_inputs
        tags = {t.key: t.value for t in logged.tags}
        assert tags["dsi.split_id"] == split.id and tags["mlflow.data.context"] == context


@needs_mlflow
def test_log_input_outside_a_run_or_of_something_else_is_one_line(db: tuple[Path, str, str],
                                                                  tracking: tuple[str, str]) -> None:
    path, dataset_id, _ = db
    with dsi.open(path) as ens:
        ds = ens.dataset(dataset_id)
        with pytest.raises(DsiError) as no_run:
            dsi.mlflow.log_input(ds)
        assert str(no_run.value) == ("no active MLflow run: call dsi.mlflow.log_input(ds) inside "
                                     "`with mlflow.start_run():`")
        with pytest.raises(DsiError, match=r"log_input takes a Dataset .* not DataFrame"):
            dsi.mlflow.log_input(ds.members())


@needs_mlflow
def test_a_deleted_dataset_is_refused_and_nothing_is_logged(db: tuple[Path, str, str],
                                                           tracking: tuple[str, str]) -> None:
    import mlflow

    from jupyterlab_dsi.datasets import delete_dataset
    from jupyterlab_dsi.store import Store

    path, dataset_id, _ = db
    uri, experiment = tracking
    with Store(path) as store:
        delete_dataset(store, dataset_id)
    with dsi.open(path) as ens, mlflow.start_run(experiment_id=experiment) as run:
        with pytest.raises(DsiError) as deleted:
            dsi.mlflow.log_input(ens.dataset(dataset_id))
    assert str(deleted.value) == f"dataset {dataset_id[:8]} is deleted; log a live one (see `jupyter dsi datasets`)"
    assert mlflow.MlflowClient(uri).get_run(run.info.run_id).inputs.dataset_inputs == []


@needs_mlflow
def test_a_run_the_store_refuses_is_one_line(db: tuple[Path, str, str], tracking: tuple[str, str]) -> None:
    import mlflow

    path, dataset_id, _ = db
    uri, experiment = tracking
    client = mlflow.MlflowClient(uri)
    run = mlflow.start_run(experiment_id=experiment)
    client.delete_run(run.info.run_id)  # deleted in the store (another process, the UI) while active here
    with dsi.open(path) as ens, pytest.raises(DsiError) as refused:
        dsi.mlflow.log_input(ens.dataset(dataset_id))
    assert str(refused.value) == (f"MLflow did not log dataset {dataset_id[:8]}: The run {run.info.run_id} must be "
                                  "in the 'active' state. Current state is deleted.")
    client.restore_run(run.info.run_id)
    mlflow.end_run()
    assert client.get_run(run.info.run_id).inputs.dataset_inputs == []


# -- import-mlflow ------------------------------------------------------------------------


@needs_mlflow
def test_round_trip_logged_runs_come_back_linked_to_their_dataset(
        db: tuple[Path, str, str], tracking: tuple[str, str], cli: Cli) -> None:
    import mlflow

    path, dataset_id, other_id = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        ds = ens.dataset(dataset_id)
        split = ds.split(fractions=(0.5, 0.5), names=("train", "test"), seed=1)
        trained = train(experiment, ds, split=split)
        failed = train(experiment, ens.dataset(other_id), status="FAILED", name="gp-bad", steps=2)
    unrelated = train(experiment, None, name="no-dsi-input")

    res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
    assert res.code == 0 and res.err == ""  # MLflow's own logging stays quiet
    ours = dsi.mlflow.imported_run_id(uri, trained), dsi.mlflow.imported_run_id(uri, failed)
    assert res.out_lines == [
        f"imported MLflow run {trained} 'gp-v1' as {ours[0]} (dataset {dataset_id[:8]} 'set energy < 5')",
        f"imported MLflow run {failed} 'gp-bad' as {ours[1]} (dataset {other_id[:8]} 'set energy >= 3')",
        "imported 2 runs, 0 already there, 0 skipped; 1 run used none of this database's datasets",
    ]
    listed = {r["id"]: r for r in runs_json(cli, path)}
    good, bad = listed[ours[0]], listed[ours[1]]
    assert (good["name"], good["dataset_id"], good["split_id"], good["status"]) == ("gp-v1", dataset_id, split.id, "finished")
    assert good["params"] == {"lr": "0.001", "kernel": "rbf"}  # MLflow keeps params as strings
    assert good["metrics"] == {"loss": 0.2, "r2": 0.9}  # the last point of each
    assert good["code"]["mlflow"] == {"tracking_uri": uri, "experiment": "dsi-tests", "experiment_id": experiment,
                                      "run_id": trained}
    run = mlflow.MlflowClient(uri).get_run(trained).info
    assert good["resources"]["wall_s"] == (run.end_time - run.start_time) / 1000
    assert good["started_at"] < good["ended_at"]
    assert (bad["status"], bad["error"], bad["split_id"], bad["metrics"]) == (
        "failed", "failed in MLflow", None, {"loss": 0.5, "r2": 0.9})
    # Every point of the history, with its step and MLflow's timestamp.
    history = mlflow.MlflowClient(uri).get_metric_history(trained, "loss")
    points = query(path, "SELECT step, value, at FROM jdsi_run_metric WHERE run_id = ? AND name = 'loss' "
                   "ORDER BY step", (ours[0],))
    assert points == [(m.step, m.value, m.timestamp / 1000) for m in sorted(history, key=lambda m: m.step)]
    assert [p[0] for p in points] == [0, 1, 2, 3, 4]

    # A second import adds nothing and says so.
    before = query(path, "SELECT count(*) FROM jdsi_run")[0][0], query(path, "SELECT count(*) FROM jdsi_run_metric")[0][0]
    again = cli("import-mlflow", "--db", path, "--tracking-uri", uri, "--experiment", "dsi-tests")
    assert again.code == 0 and again.err == ""
    assert again.out_lines == ["imported 0 runs, 2 already there, 0 skipped; 1 run used none of this database's datasets"]
    assert (query(path, "SELECT count(*) FROM jdsi_run")[0][0], query(path, "SELECT count(*) FROM jdsi_run_metric")[0][0]) == before
    assert unrelated not in json.dumps(runs_json(cli, path))


@needs_mlflow
def test_the_command_in_a_fresh_process_prints_only_its_own_lines(db: tuple[Path, str, str],
                                                                 tracking: tuple[str, str]) -> None:
    """Importing MLflow first thing (as the command does) loads our dataset source through its
    entry point: no circular-import warning, no MLflow logging, on stderr."""
    path, dataset_id, _ = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        train(experiment, ens.dataset(dataset_id))
    done = subprocess.run([sys.executable, "-m", "jupyterlab_dsi.cli", "import-mlflow", "--db", str(path),
                           "--tracking-uri", uri], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == ("imported 1 run, 0 already there, 0 skipped; "
                                            "0 runs used none of this database's datasets")


@needs_mlflow
def test_a_running_run_is_skipped_then_imported_once_it_ends(db: tuple[Path, str, str], tracking: tuple[str, str],
                                                           cli: Cli) -> None:
    import mlflow

    path, dataset_id, _ = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        with mlflow.start_run(experiment_id=experiment, run_name="still-going") as run:
            dsi.mlflow.log_input(ens.dataset(dataset_id))
            res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
            assert res.code == 0, res.err
            assert res.out_lines == [
                f"skipped MLflow run {run.info.run_id} 'still-going': running in MLflow; import again once it has ended",
                "imported 0 runs, 0 already there, 1 skipped; 0 runs used none of this database's datasets"]
        killed = train(experiment, ens.dataset(dataset_id), status="KILLED", name="killed")
    assert query(path, "SELECT count(*) FROM jdsi_run")[0][0] == 0
    res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
    assert res.code == 0 and res.last_line.startswith("imported 2 runs, 0 already there, 0 skipped")
    statuses = {r["name"]: (r["status"], r["error"]) for r in runs_json(cli, path)}
    assert statuses == {"still-going": ("finished", None), "killed": ("failed", "killed in MLflow")}
    assert dsi.mlflow.imported_run_id(uri, killed) in {r["id"] for r in runs_json(cli, path)}


@needs_mlflow
def test_a_run_that_logged_our_digest_without_log_input_is_matched_by_it(
        db: tuple[Path, str, str], tracking: tuple[str, str], cli: Cli) -> None:
    """A script that logs its own pandas dataset with the (36-digit) digest MLflow accepts."""
    import mlflow

    path, dataset_id, _ = db
    uri, experiment = tracking
    with dsi.open(path) as ens:
        ds = ens.dataset(dataset_id)
        frame = ds.members()[["energy"]]
    with mlflow.start_run(experiment_id=experiment, run_name="by-hand"):
        mlflow.log_input(mlflow.data.from_pandas(frame, name="mine", digest=ds.digest[7:43]), context="training")
    res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
    assert res.code == 0, res.err
    (run,) = runs_json(cli, path)
    assert (run["name"], run["dataset_id"], run["split_id"]) == ("by-hand", dataset_id, None)


@needs_mlflow
def test_a_nan_point_is_imported_as_missing_with_one_warning_line(db: tuple[Path, str, str],
                                                                 tracking: tuple[str, str], cli: Cli) -> None:
    import mlflow

    path, dataset_id, _ = db
    uri, experiment = tracking
    with dsi.open(path) as ens, mlflow.start_run(experiment_id=experiment, run_name="diverged"):
        dsi.mlflow.log_input(ens.dataset(dataset_id))
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", float("nan"), step=1)
    res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
    assert res.code == 0 and res.last_line.startswith("imported 1 run, 0 already there")
    assert res.err_lines == ["warning: metric 'loss' at step 1 is nan: stored as missing (NULL)"]
    summary = dsi.mlflow.import_runs(path, uri)  # the Python API behind the command
    assert (summary.imported, len(summary.already), summary.skipped) == ([], 1, [])
    points = query(path, "SELECT step, value FROM jdsi_run_metric WHERE run_id = ? ORDER BY step", (summary.already[0],))
    assert points == [(0, 0.5), (1, None)]


@needs_mlflow
def test_imported_ids_are_the_same_from_any_folder_and_without_credentials(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ident = dsi.mlflow.imported_run_id
    monkeypatch.chdir(tmp_path)
    assert ident("sqlite:///ml.db", "abc") == ident(f"sqlite:///{tmp_path / 'ml.db'}", "abc")
    assert ident("https://me:secret@mlflow.example:5000", "abc") == ident("https://mlflow.example:5000", "abc")
    assert ident("sqlite:///ml.db", "abc") != ident("sqlite:///ml.db", "abd")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_mlflow
@pytest.mark.parametrize("uri, message", [
    ("nosuch://host", "not an MLflow tracking uri; give e.g. sqlite:///path/mlflow.db or http://host:5000"),
    ("sqlite:///{tmp}/missing.db", "no MLflow database at {tmp}/missing.db; check --tracking-uri "
     "(sqlite:/// then the path; four slashes for an absolute path)"),
    ("sqlite:///{tmp}/notes.txt", "not an MLflow SQLite database (the file is not a database)"),
    ("http://127.0.0.1:{port}", "cannot reach the MLflow tracking server; is it running?"),
    # Credentials in the uri never reach the message (error lines end up in CI logs).
    ("http://bob:s3cret@127.0.0.1:{port}", "cannot reach the MLflow tracking server; is it running?"),
    ("", "--tracking-uri is empty"),
])
def test_a_bad_tracking_uri_is_one_line_and_writes_nothing(db: tuple[Path, str, str], tmp_path: Path, cli: Cli,
                                                           uri: str, message: str) -> None:
    path, _, _ = db
    (tmp_path / "notes.txt").write_text("not a database\n")
    values = {"tmp": tmp_path, "port": closed_port()}
    uri, message = uri.format(**values), message.format(**values)
    before = sha256(path)
    res = cli("import-mlflow", "--db", path, "--tracking-uri", uri)
    assert res.code == 2 and res.out == ""
    said = uri.replace("bob:s3cret@", "***@")
    assert "s3cret" not in res.err
    assert res.err_lines == [f"jupyter dsi import-mlflow: error: {said}: {message}" if uri else
                             f"jupyter dsi import-mlflow: error: {message}; give e.g. sqlite:///path/mlflow.db "
                             "or http://host:5000"]
    assert sha256(path) == before and not (tmp_path / "missing.db").exists()


@needs_mlflow
def test_a_database_without_datasets_or_an_unknown_experiment_is_one_line(
        ingested: tuple[Any, Path], db: tuple[Path, str, str], tracking: tuple[str, str], cli: Cli) -> None:
    _, empty = ingested
    uri, _ = tracking
    res = cli("import-mlflow", "--db", empty, "--tracking-uri", uri)
    assert res.code == 2 and res.out == ""
    assert res.err_lines == [f"jupyter dsi import-mlflow: error: {empty}: no datasets, so no MLflow run can have "
                             "used one; save one (jupyter dsi select --save ...) and log it with "
                             "dsi.mlflow.log_input(ds)"]
    res = cli("import-mlflow", "--db", db[0], "--tracking-uri", uri, "--experiment", "nope")
    assert res.code == 2 and res.err_lines == [
        f"jupyter dsi import-mlflow: error: {uri}: no MLflow experiment named 'nope'; its experiments: "
        "'Default', 'dsi-tests'"]

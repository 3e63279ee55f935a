"""Shared fixtures: tiny ensembles written by hand with numpy, and the CLI run in-process.

The default ensemble has 6 simulations, 3 time steps, a 4 x 6 (R, z) grid and K = 3 Fourier
coefficients, so that a bad variant (a wrong shape, a NaN, another grid, a missing file, ...) is
one line of a test. Nothing here calls ``jupyter dsi sample``: the arrays are known exactly.
"""

from __future__ import annotations

import os
import shutil

import csv
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyterlab_dsi.cli import main

SIMS = 6
STEPS = 3
NR, NZ = 4, 6
K = 3


# -- arrays ----------------------------------------------------------------------------------


def grid(nr: int = NR, nz: int = NZ) -> tuple[np.ndarray, np.ndarray]:
    """Uniform cell centres: R in [0, 1], z in [-1, 1]."""
    r = (np.arange(nr) + 0.5) / nr
    z = -1.0 + (np.arange(nz) + 0.5) * (2.0 / nz)
    return r, z


def sim_arrays(index: int, steps: int = STEPS, nr: int = NR, nz: int = NZ, k: int = K) -> dict[str, np.ndarray]:
    """One simulation's arrays, deterministic for ``index``; density strictly positive."""
    rng = np.random.default_rng(1000 + index)
    r, z = grid(nr, nz)
    return {
        "r": r,
        "z": z,
        "time": np.arange(1.0, steps + 1.0),
        "density": rng.uniform(0.5, 2.0, size=(steps, nr, nz)),
        "shock": rng.normal(size=(steps, k)),
        "edge": rng.normal(size=(steps, k)),
    }


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``.npz`` with numpy, ``.h5``/``.hdf5`` with h5py; any other suffix as raw npz bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            for name, value in arrays.items():
                f.create_dataset(name, data=value)
    else:
        with path.open("wb") as fh:
            np.savez(fh, **arrays)


# -- ensembles -------------------------------------------------------------------------------

# Three parameters: cs (numbers with 2 distinct values -> categorical, levels [0.1, 0.2]),
# profile (text -> categorical, natural order), energy (6 distinct numbers -> numeric).
CS = [0.1, 0.2, 0.1, 0.2, 0.1, 0.2]
PROFILE = ["flat", "bump2", "bump10", "flat", "bump2", "bump10"]
ENERGY = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]


def sim_id(i: int) -> str:
    return f"s{i:02d}"


@dataclass
class Ensemble:
    root: Path
    rows: list[dict[str, str]]
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def csv(self) -> Path:
        return self.root / "simulations.csv"

    @property
    def ids(self) -> list[str]:
        return [row["sim_id"] for row in self.rows]

    def file(self, sid: str) -> Path:
        row = next(r for r in self.rows if r["sim_id"] == sid)
        return self.root / row["path"]


def write_csv(path: Path, rows: Sequence[dict[str, Any]], header: Sequence[str] | None = None) -> None:
    header = list(header or rows[0].keys())
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])


def build_ensemble(
    root: Path,
    *,
    sims: int = SIMS,
    suffix: str = ".npz",
    arrays: Callable[[int], dict[str, np.ndarray]] = sim_arrays,
    ids: Callable[[int], str] = sim_id,
    mutate: Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray] | None] | None = None,
) -> Ensemble:
    """Write ``simulations.csv`` and one field file per simulation under ``root``.

    ``mutate(sim_id, arrays)`` may change a simulation's arrays in place (or return new ones)
    before they are written: the way to make a bad variant.
    """
    root.mkdir(parents=True, exist_ok=True)
    ens = Ensemble(root=root, rows=[])
    for i in range(sims):
        sid = ids(i)
        data = arrays(i)
        if mutate is not None:
            data = mutate(sid, data) or data
        rel = f"sims/{sid}{suffix}"
        write_arrays(root / rel, data)
        ens.arrays[sid] = data
        ens.rows.append(
            {"sim_id": sid, "path": rel, "cs": repr(CS[i % 6]), "profile": PROFILE[i % 6], "energy": repr(ENERGY[i % 6] + 10 * (i // 6))}
        )
    write_csv(ens.csv, ens.rows)
    return ens


@pytest.fixture
def ensemble(tmp_path: Path) -> Ensemble:
    """The default ensemble in ``tmp_path/ens``."""
    return build_ensemble(tmp_path / "ens")


@pytest.fixture
def make_ensemble(tmp_path: Path) -> Callable[..., Ensemble]:
    """Factory: ``make_ensemble("bad", mutate=...)`` writes ``tmp_path/bad``."""

    def make(name: str = "ens", **kwargs: Any) -> Ensemble:
        return build_ensemble(tmp_path / name, **kwargs)

    return make


# -- CLI -------------------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    @property
    def last_line(self) -> str:
        return self.out_lines[-1] if self.out_lines else ""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``jupyter dsi ARGS`` in-process: ``cli("select", "--db", db, ...)``."""

    def run(*argv: Any) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def ingested(cli: Callable[..., Result], ensemble: Ensemble, tmp_path: Path) -> tuple[Ensemble, Path]:
    """The default ensemble ingested into ``tmp_path/db.sqlite``."""
    db = tmp_path / "db.sqlite"
    res = cli("ingest", "-q", ensemble.root, "--db", db)
    assert res.code == 0, res.err
    return ensemble, db


@pytest.fixture(scope="session")
def shared_method(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ensemble, Path, str]:
    """An L2 method against s00 (matched steps) on the default ensemble, built once."""
    from jupyterlab_dsi.ingest import ingest
    from jupyterlab_dsi.compute import postprocess

    root = tmp_path_factory.mktemp("shared")
    ens = build_ensemble(root / "ens")
    db = root / "db.sqlite"
    ingest(db, ens.root)
    return ens, db, postprocess(db, ground_truth="s00", norm="L2")


@pytest.fixture
def method(shared_method: tuple[Ensemble, Path, str]) -> Iterator[tuple[Ensemble, Path, str]]:
    """``shared_method`` for a test that only reads it: its bytes must not change."""
    ens, db, method_id = shared_method
    before = sha256(db), tree(ens.root)
    yield shared_method
    assert (sha256(db), tree(ens.root)) == before, "a read-only command changed the database"


# -- bytes -----------------------------------------------------------------------------------


def sha256(path: Path) -> str | None:
    """SHA-256 of a file's bytes, None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def tree(root: Path) -> dict[str, str | None]:
    """Every file under ``root`` (relative path -> SHA-256): a byte-for-byte fingerprint."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def query(db: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Read a database without the Store (read-only URI: never changes the file)."""
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql, tuple(params))]
    finally:
        conn.close()


def _realdata() -> Path:
    """The shared real inputs: $DSI_REALDATA, else shared/realdata beside the clone. Nothing
    machine-specific: a clone elsewhere sets DSI_REALDATA. Tests on them skip when it is absent."""
    chosen = os.environ.get("DSI_REALDATA")
    return Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "shared" / "realdata"


REALDATA = _realdata()


def copy_writable(src: Path, dst: Path) -> Path:
    """Copy a realdata file or folder to ``dst``, writable (the shared originals are read-only and
    never modified), and return ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    return dst


def needs_realdata(relative: str = "") -> pytest.MarkDecorator:
    """Skip one test (not its module) when ``REALDATA / relative`` is absent."""
    return pytest.mark.skipif(not (REALDATA / relative).exists(),
                              reason=f"{REALDATA / relative} is absent (set DSI_REALDATA)")


@pytest.fixture
def mdb(shared_method: tuple[Ensemble, Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A private copy of the shared method database, for tests that write to it."""
    _, db, method_id = shared_method
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(db, copy)
    return copy, method_id


# What later schemas added, taken away again: files as older versions of jupyterlab-dsi wrote them.
AS_SCHEMA_5 = "DROP INDEX jdsi_proposal_point_by_point; DROP TABLE jdsi_sim_proposal;"
AS_SCHEMA_4 = AS_SCHEMA_5 + " DROP TABLE jdsi_proposal_point; DROP TABLE jdsi_proposal;"
AS_SCHEMA_3 = AS_SCHEMA_4 + " " + " ".join(
    f"DROP TABLE {t};" for t in ("jdsi_split_member", "jdsi_split", "jdsi_run_param", "jdsi_run_metric",
                                 "jdsi_prediction", "jdsi_artifact", "jdsi_run", "jdsi_stale")
)
AS_SCHEMA_2 = AS_SCHEMA_3 + (
    " ALTER TABLE jdsi_dataset DROP COLUMN feature; ALTER TABLE jdsi_method DROP COLUMN geometry;"
    " ALTER TABLE jdsi_method DROP COLUMN match_time; ALTER TABLE jdsi_method DROP COLUMN field;"
)


def as_schema_1(db: Path) -> None:
    """What jupyterlab-dsi wrote before schema 2: the same file without the metric tables."""
    conn = sqlite3.connect(db)
    conn.executescript(f"DROP TABLE jdsi_metric_value; DROP TABLE jdsi_metric; {AS_SCHEMA_2} PRAGMA user_version = 1;")
    conn.close()

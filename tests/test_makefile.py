"""The Makefile's promises on a fresh clone: each target installs what it uses, and installing the
npm packages never rewrites the tracked ``package-lock.json``.

(``make sample`` keeping a user's database is tested in ``test_sample.py``.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(target: str, stamps: Path) -> list[str]:
    """The commands ``make TARGET`` would run with no stamp made yet, as on a fresh clone."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", f"STAMPS={stamps}", target],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_make_test_js_installs_the_venv_that_the_jest_specs_run(tmp_path: Path) -> None:
    # tests/js/*.spec.ts run .venv/bin/jupyter and .venv/bin/python: the package must be installed
    # into the venv before jest starts, not only the npm packages.
    lines = _dry_run("test-js", tmp_path / "stamps")
    jest = next(i for i, line in enumerate(lines) if "jest" in line)
    editable = [i for i, line in enumerate(lines) if "pip install" in line and "-e " in line]
    assert editable and editable[0] < jest, lines
    assert any(line.startswith("npm ci ") for line in lines[:jest]), lines


def test_the_spec_that_needs_the_venv_is_what_test_js_runs() -> None:
    # If the specs stop using .venv, the dependency above may go; if they move, it must follow.
    specs = [p for p in (ROOT / "tests" / "js").glob("*.spec.ts") if "'.venv'" in p.read_text()]
    assert specs, "no jest spec runs .venv any more: test-js could depend on the npm packages alone"


def test_npm_install_leaves_the_lock_as_it_is(tmp_path: Path) -> None:
    # A lock missing entries that npm adds (before: @emnapi/*, deps of rspack's wasm binding)
    # is rewritten by `npm install` on every fresh clone. Resolve the tree from package.json and
    # the lock alone (no node_modules, no scripts) and compare.
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    out = subprocess.run(
        [npm, "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
         "--prefer-offline", "--loglevel=error"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    if out.returncode != 0 and ("ENOTFOUND" in out.stderr or "ENOTCACHED" in out.stderr):
        pytest.skip("npm could not reach the registry or its cache to resolve the tree")
    assert out.returncode == 0, out.stderr
    after = (tmp_path / "package-lock.json").read_text()
    assert after == (ROOT / "package-lock.json").read_text(), (
        "npm install rewrites package-lock.json: run `npm install` and commit the lock it writes"
    )


def test_make_clean_leaves_the_sample_database_to_the_script(tmp_path: Path) -> None:
    # The script keeps a database that holds datasets (tests/test_sample.py); clean must not
    # remove the folder itself.
    lines = _dry_run("clean", tmp_path / "stamps")
    assert any("build_sample.sh --remove examples/data" in line for line in lines), lines
    assert not any("rm " in line and "examples/data" in line for line in lines), lines

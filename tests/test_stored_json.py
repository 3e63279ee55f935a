"""A dataset whose stored JSON (settings, sampling) was damaged by hand or another tool: the
listing says which column cannot be read, in one line, and never fails for every other dataset
(it raised JSONDecodeError with a traceback) nor reads it as null (the panel's side is
src/db/__tests__/datasetJson.spec.ts)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from jupyterlab_dsi import datasets as ds
from jupyterlab_dsi.store import Store


def test_damaged_json_is_named_and_the_other_datasets_still_list(method: tuple[Any, Path, str], tmp_path: Path) -> None:
    _, shared, method_id = method
    db = tmp_path / "copy.sqlite"
    shutil.copy(shared, db)
    with Store(db) as store:
        sims = [r[0] for r in store.conn.execute("SELECT sim_id FROM jdsi_simulation LIMIT 3")]
        ok = ds.save_dataset(store, members=sims, description="fine", method_id=method_id, t=0, settings={"version": 1})
        bad = ds.save_dataset(store, members=sims, description="edited by hand", method_id=method_id, t=0,
                              settings={"version": 1}, sampling={"kind": "p", "p": 0.5, "seed": 1})
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE jdsi_dataset SET settings = ?, sampling = ? WHERE id = ?", ('{"version": 2, "axes": [', "{p: 0.5}", bad["id"]))
    conn.close()
    with Store(db, readonly=True) as store:
        records = {r["id"]: r for r in ds.list_datasets(store)}
    assert records[ok["id"]]["settings"] == {"version": 1}
    assert records[bad["id"]]["settings"] == {"unreadable": records[bad["id"]]["settings"]["unreadable"]}
    assert records[bad["id"]]["settings"]["unreadable"].startswith("the stored settings is not JSON (")
    assert records[bad["id"]]["sampling"]["unreadable"].startswith("the stored sampling is not JSON (")
    # The CLI lists them too, without a traceback.
    out = subprocess.run([sys.executable, "-m", "jupyterlab_dsi.cli", "datasets", "--db", str(db)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "edited by hand" in out.stdout

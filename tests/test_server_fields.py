"""The run behind a point (issue 17 §1): GET field and GET image in a real Jupyter server.

A step is the file's array, a ground truth adds its matched step and |gt - rho| over D+ (NaN
elsewhere), a grid above 512 cells is block-averaged, and a file the database names is read only
inside the server's root or the ensemble's folder; a missing or unreadable one is one line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import build_ensemble, grid, sim_arrays
from test_server import TOKEN, server  # noqa: F401 - the module's server fixture

from jupyterlab_dsi import frame_codec
from jupyterlab_dsi.fields import FieldError, array_limit
from jupyterlab_dsi.ingest import ingest
from jupyterlab_dsi.server_fields import FileCache, Run, block_mean, field_frame

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # the signature is what the server checks


def get(server: dict[str, Any], endpoint: str, **query: Any) -> tuple[int, str, bytes]:  # noqa: F811
    text = "&".join(f"{k}={v}" for k, v in query.items())
    request = urllib.request.Request(f"{server['base']}/{endpoint}?{text}")
    request.add_header("Authorization", f"token {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def frame(server: dict[str, Any], **query: Any) -> tuple[dict[str, Any], np.ndarray]:  # noqa: F811
    status, kind, body = get(server, "field", **query)
    assert status == 200, body
    assert kind == frame_codec.CONTENT_TYPE
    return frame_codec.decode(body)


def message(status_body: tuple[int, str, bytes]) -> tuple[int, str]:
    import json

    status, _, body = status_body
    text = json.loads(body)["message"]
    assert "\n" not in text
    return status, text


def with_zeros(index: int) -> dict[str, np.ndarray]:
    """Arrays whose density is 0 on a known pattern: D+ differs from run to run."""
    arrays = sim_arrays(index)
    density = arrays["density"]
    density[:, index % 4, :] = 0.0  # a row of R empty, another one per run
    density[1, :, 5] = 0.0
    return arrays


@pytest.fixture(scope="module")
def dbs(server: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Databases under the server's root: ens.sqlite (its ensemble outside the root), zeros (D+),
    big (a grid above 512 cells), and copies whose paths escape, hide or vanish."""
    root: Path = server["root"]
    zeros = build_ensemble(root / "zeros", sims=4, arrays=with_zeros)
    ingest(root / "zeros.sqlite", zeros.root)

    def big_arrays(index: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(index)
        r, z = grid(1030, 700)
        return {"r": r, "z": z, "time": np.array([0.5, 1.0]),
                "density": rng.uniform(0.0, 2.0, size=(2, 1030, 700)).astype(np.float32),
                "shock": np.zeros((2, 1)), "edge": np.zeros((2, 1))}

    big = build_ensemble(root / "big", sims=2, arrays=big_arrays)
    ingest(root / "big.sqlite", big.root)
    escapes = root / "escape.sqlite"
    shutil.copy(root / "zeros.sqlite", escapes)
    secret = root.parent / "secret-fields.npz"
    shutil.copy(zeros.file("s01"), secret)
    (zeros.root / ".hidden").mkdir()
    shutil.copy(zeros.file("s01"), zeros.root / ".hidden" / "s01.npz")
    (zeros.root / "broken.npz").write_bytes(b"not a zip file at all")
    with sqlite3.connect(escapes) as conn:
        conn.execute("UPDATE jdsi_simulation SET path = ? WHERE sim_id = 's00'", (f"../../{secret.name}",))
        conn.execute("UPDATE jdsi_simulation SET path = '.hidden/s01.npz' WHERE sim_id = 's01'")
        conn.execute("UPDATE jdsi_simulation SET path = 'sims/gone.npz' WHERE sim_id = 's02'")
    broken = root / "broken.sqlite"
    shutil.copy(root / "zeros.sqlite", broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE jdsi_simulation SET path = 'broken.npz' WHERE sim_id = 's01'")
    return {"zeros": zeros, "big": big}


def test_a_step_is_the_files_array_on_its_axes(server: dict[str, Any]) -> None:  # noqa: F811
    header, data = frame(server, path="ens.sqlite", sim="s02", t=1)
    with np.load(_shared_file(server, "s02")) as npz:
        expected = npz["density"][1]
    assert data.shape == (4, 6) and data.dtype == np.float32
    np.testing.assert_array_equal(data, expected.astype(np.float32))
    assert header["sim_id"] == "s02" and header["t"] == 1 and header["time"] == 2.0 and header["field"] == "density"
    # cell edges: R in [0, 1], z in [-1, 1] (conftest.grid's centres, half a cell each way)
    assert header["r"] == pytest.approx([0.0, 1.0]) and header["z"] == pytest.approx([-1.0, 1.0])
    assert header["axes"] == ["R", "z"] and header["geometry"] == "cylindrical"
    assert header["downsampled"] is False and header["source_shape"] == [4, 6]


def _shared_file(server: dict[str, Any], sim: str) -> Path:  # noqa: F811
    with sqlite3.connect(server["root"] / "ens.sqlite") as conn:
        (path, source), = conn.execute(
            "SELECT s.path, src.path FROM jdsi_simulation s JOIN jdsi_source src ON src.id = s.source_id "
            "WHERE sim_id = ?", (sim,)).fetchall()
    folder = Path(source).parent
    assert not folder.is_relative_to(server["root"])  # the ensemble lies outside the root: still served
    return folder / path


def test_ground_truth_layers_and_diff_over_d_plus(server: dict[str, Any], dbs: dict[str, Any]) -> None:  # noqa: F811
    arrays = dbs["zeros"].arrays
    header, data = frame(server, path="zeros.sqlite", sim="s01", t=1, gt="s02")
    rho, gt = arrays["s01"]["density"][1], arrays["s02"]["density"][1]
    assert data.shape == (3, 4, 6) and header["layers"] == ["field", "ground_truth", "diff"]
    assert header["gt"] == "s02" and header["gt_t"] == 1 and header["gt_time"] == 2.0
    np.testing.assert_array_equal(data[0], rho.astype(np.float32))
    np.testing.assert_array_equal(data[1], gt.astype(np.float32))
    d_plus = (gt * rho) > 0
    assert 0 < d_plus.sum() < d_plus.size  # rows 1 and 2 and column 5 are empty in one or the other
    np.testing.assert_array_equal(np.isnan(data[2]), ~d_plus)
    np.testing.assert_allclose(data[2][d_plus], np.abs(gt - rho)[d_plus], rtol=1e-6)
    # one ground-truth step for every step
    header, data = frame(server, path="zeros.sqlite", sim="s01", t=0, gt="s02", gt_time=2)
    assert header["gt_t"] == 2
    np.testing.assert_array_equal(data[1], arrays["s02"]["density"][2].astype(np.float32))
    # nearest in time: equal times here, so the same index
    header, _ = frame(server, path="zeros.sqlite", sim="s01", t=2, gt="s00", match_time="nearest")
    assert header["gt_t"] == 2


def test_a_grid_above_512_cells_is_block_averaged(server: dict[str, Any], dbs: dict[str, Any]) -> None:  # noqa: F811
    density = dbs["big"].arrays["s01"]["density"][1].astype(np.float64)
    header, data = frame(server, path="big.sqlite", sim="s01", t=1)
    # 1030 rows in blocks of 3 (344, the last holding one row), 700 columns in blocks of 2 (350)
    assert data.shape == (344, 350) and header["downsampled"] is True and header["source_shape"] == [1030, 700]
    assert data[0, 0] == pytest.approx(density[0:3, 0:2].mean(), rel=1e-6)
    assert data[100, 200] == pytest.approx(density[300:303, 400:402].mean(), rel=1e-6)
    assert data[343, 349] == pytest.approx(density[1029:1030, 698:700].mean(), rel=1e-6)
    np.testing.assert_allclose(data[:343].mean(), density[:1029].mean(), rtol=1e-5)
    assert header["r"] == pytest.approx([0.0, 1.0])  # the extent is the grid's, not the blocks'
    _, layers = frame(server, path="big.sqlite", sim="s01", t=1, gt="s00")
    assert layers.shape == (3, 344, 350)


def test_block_edges_of_a_graded_axis() -> None:
    from jupyterlab_dsi.server_fields import block_edges

    assert block_edges(np.linspace(0, 1, 11), 10) is None  # uniform: lo and hi say it all
    graded = np.concatenate([[0.0], np.cumsum(np.arange(1, 11, dtype=float))])  # 10 cells, widths 1..10
    assert block_edges(graded, 10) == list(graded)
    assert block_edges(graded, 10, limit=4) == [0.0, 6.0, 21.0, 45.0, 55.0]  # blocks of 3, the last of 1


def test_block_mean_leaves_nan_cells_out() -> None:
    values = np.arange(24, dtype=np.float64).reshape(4, 6)
    values[0, 0] = np.nan
    out = block_mean(values, limit=2)  # blocks of 2 x 3
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(np.mean([1, 2, 6, 7, 8]))
    assert out[1, 1] == pytest.approx(values[2:, 3:].mean())
    assert np.isnan(block_mean(np.full((4, 4), np.nan), limit=2)).all()
    np.testing.assert_array_equal(block_mean(values[1:], limit=8), values[1:].astype(np.float32))


@pytest.mark.parametrize("sim, status, words", [
    ("s00", 403, "outside the server's root and the ensemble's folder"),
    ("s01", 403, "in a hidden file or folder (.hidden)"),
    ("s02", 404, "sims/gone.npz: no such file"),
])
def test_files_outside_hidden_or_missing(server: dict[str, Any], dbs: dict[str, Any], sim: str, status: int,  # noqa: F811
                                         words: str) -> None:
    got, text = message(get(server, "field", path="escape.sqlite", sim=sim, t=0))
    assert got == status and words in text, text
    assert not text.startswith("/")  # the file as the database names it, not by its absolute path
    assert str(server["root"].parent) not in text
    # the ground truth's file is held to the same rules
    got, text = message(get(server, "field", path="escape.sqlite", sim="s03", t=0, gt=sim))
    assert got == status and words in text, text


def test_unreadable_file_and_bad_requests_are_one_line(server: dict[str, Any], dbs: dict[str, Any]) -> None:  # noqa: F811
    status, text = message(get(server, "field", path="broken.sqlite", sim="s01", t=0))
    assert status == 422 and text.startswith("broken.npz: cannot read as .npz"), text
    # a file outside the root is named as the database records it, not by its absolute path
    status, text = message(get(server, "field", path="ens.sqlite", sim="nope"))
    assert status == 400
    for query, words in [
        ({"sim": "s01", "t": "x"}, "t must be a step index"),
        ({"sim": "s01", "t": -1}, "t must be a step index"),
        ({"sim": "s01", "t": 3}, "step 3 is beyond simulation 's01''s 3 steps"),
        ({"sim": "nope", "t": 0}, "no simulation 'nope'"),
        ({"t": 0}, "name the simulation"),
        ({"sim": "s01", "gt": "s00", "match_time": "soon"}, "match_time must be index or nearest"),
        ({"sim": "s01", "gt": "s00", "gt_time": 9}, "gt_time 9 is beyond the ground truth 's00''s 3 steps"),
        ({"sim": "s01", "field": "pressure"}, "field pressure applies to VTK files"),
    ]:
        status, text = message(get(server, "field", path="zeros.sqlite", **query))
        assert status in (400, 422) and words in text, (query, text)
    status, text = message(get(server, "field", path="../outside.sqlite", sim="s01"))
    assert status in (403, 404)


def test_the_array_limit_holds_and_files_are_cached(dbs: dict[str, Any], server: dict[str, Any]) -> None:  # noqa: F811
    zeros = dbs["zeros"]
    runs = {s: Run(s, zeros.root, f"sims/{s}.npz", (), ()) for s in ("s00", "s01")}
    cache = FileCache()
    root = str(server["root"])
    with array_limit(100, "DSIConfig.max_array_mb"):
        with pytest.raises(FieldError, match=r"above the limit of 0 MB per array \(DSIConfig.max_array_mb\)"):
            field_frame(runs, "s01", 0, "density", None, None, "index", root, False, cache)
    assert cache.reads == 0
    first = field_frame(runs, "s01", 0, "density", "s00", None, "index", root, False, cache)
    field_frame(runs, "s01", 1, "density", "s00", None, "index", root, False, cache)  # the slider's next step
    assert cache.reads == 2  # each file once
    # a file written again is read again
    path = zeros.file("s01")
    os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns + 10**9))
    assert field_frame(runs, "s01", 0, "density", "s00", None, "index", root, False, cache) == first
    assert cache.reads == 3
    small = FileCache(budget=100)  # smaller than a file: read each time, nothing kept
    field_frame(runs, "s01", 0, "density", None, None, "index", root, False, small)
    field_frame(runs, "s01", 0, "density", None, None, "index", root, False, small)
    assert small.reads == 2


@pytest.fixture(scope="module")
def cinema(server: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    root: Path = server["root"]
    cdb = root / "views.cdb"
    (cdb / "img").mkdir(parents=True)
    (cdb / "img" / "a.png").write_bytes(PNG)
    (cdb / "img" / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 16)
    (cdb / "img" / "fake.png").write_text("just text\n")
    (root.parent / "leak.png").write_bytes(PNG)
    (cdb / "data.csv").write_text(
        "id,phi,FILE,FILE_notes\n1,0,img/a.png,n.txt\n2,10,img/c.jpg,n.txt\n3,20,img/gone.png,n.txt\n"
        "4,30,img/fake.png,n.txt\n5,40,../../leak.png,n.txt\n")
    ingest(root / "views.sqlite", cdb)
    return {"cdb": cdb}


def test_cinema_images_are_served_confined(server: dict[str, Any], cinema: dict[str, Any]) -> None:  # noqa: F811
    import json

    status, kind, body = get(server, "image", path="views.sqlite", sim="1", column="FILE")
    assert status == 200 and kind == "image/png" and body == PNG
    status, kind, body = get(server, "image", path="views.sqlite", sim="2", column="FILE")
    assert status == 200 and kind == "image/jpeg"
    status, kind, body = get(server, "image", path="views.sqlite", sim="1")
    assert status == 200 and json.loads(body) == {"sim_id": "1", "columns": [{"name": "FILE", "per_step": False}]}
    for sim, expected, words in [("3", 404, "img/gone.png: no such file"), ("4", 422, "not a png image"),
                                 ("5", 403, "outside the server's root")]:
        status, text = message(get(server, "image", path="views.sqlite", sim=sim, column="FILE"))
        assert status == expected and words in text, text
    status, text = message(get(server, "image", path="views.sqlite", sim="1", column="FILE_notes"))
    assert status == 422 and "not a png or jpg image" in text
    status, text = message(get(server, "image", path="views.sqlite", sim="1", column="phi"))
    assert status == 400 and "not a FILE column" in text
    # a table run has no field: said in one line
    status, text = message(get(server, "field", path="views.sqlite", sim="1"))
    assert status == 422 and "has no field file" in text


def test_a_vtk_series_step_any_cell_array_and_nearest_time(server: dict[str, Any]) -> None:  # noqa: F811
    """A DSI database's viz_files: one file per step, read alone; x/y axes on the grid's edges;
    matched by the files' TIME (the source logged none), as post-processing matches them."""
    from test_vtk import dsi_series

    def cells(value: float, energy: float) -> dict[str, np.ndarray]:
        return {"density": np.array([value, value + 1]), "energy": np.array([energy, 2 * energy])}

    source = dsi_series(server["root"] / "dsi", {
        1: [(0.0, cells(1.0, 5.0)), (1.0, cells(2.0, 6.0)), (2.0, cells(3.0, 7.0))],
        2: [(0.9, cells(2.5, 1.0)), (1.9, cells(0.0, 2.0))],
    }, x=np.array([0.0, 1.0, 3.0]))
    ingest(server["root"] / "series.sqlite", source)
    header, data = frame(server, path="series.sqlite", sim="2", t=1)
    assert header["axes"] == ["x", "y"] and header["geometry"] == "cartesian"
    assert header["r"] == [0.0, 3.0] and header["z"] == [0.0, 1.0] and header["time"] == pytest.approx(1.9)
    assert header["edges"] == [[0.0, 1.0, 3.0], None]  # x graded: its cells are drawn where they lie
    np.testing.assert_array_equal(data, [[0.0], [1.0]])  # (x cells, y cells)
    header, data = frame(server, path="series.sqlite", sim="2", t=0, field="energy")
    np.testing.assert_array_equal(data, [[1.0], [2.0]])
    header, data = frame(server, path="series.sqlite", sim="2", t=1, gt="1", match_time="nearest")
    assert header["gt_t"] == 2 and header["gt_time"] == 2.0  # 1.9 is nearest 2.0
    np.testing.assert_array_equal(data[1], [[3.0], [4.0]])
    np.testing.assert_array_equal(np.isnan(data[2]), [[True], [False]])  # density 0 in the first cell
    from jupyterlab_dsi.server_fields import check_file_size

    with array_limit(100, "DSIConfig.max_array_mb"), pytest.raises(FieldError, match=r"above the limit of 0 MB per array"):
        check_file_size(source.parent / "run_2" / "f.00000.vtk")
    status, text = message(get(server, "field", path="series.sqlite", sim="2", t=0, field="x_vel"))
    assert status == 422 and "point data" in text, text
    header, _ = frame(server, path="series.sqlite", sim="2", t=1, gt="1")
    assert header["gt_t"] == 1  # by index: step 1 with step 1


def test_field_and_image_need_authentication(server: dict[str, Any]) -> None:  # noqa: F811
    from test_server import call

    for endpoint in ("field?path=ens.sqlite&sim=s01&t=0", "image?path=ens.sqlite&sim=s01"):
        status, _ = call(f"{server['base']}/{endpoint}", token=None)
        assert status == 403, endpoint


def test_a_selector_does_not_hide_a_link_out_of_the_root(tmp_path: Path) -> None:
    """``link.nc#run=0``: the link is what is resolved and confined, not a name with '#' in it."""
    from jupyterlab_dsi.paths import PathError
    from jupyterlab_dsi.server_fields import confine_data

    root, outside = tmp_path / "root", tmp_path / "outside"
    folder = root / "ens"
    folder.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.nc").write_bytes(b"CDF\x01")
    (folder / "link.nc").symlink_to(outside / "secret.nc")
    (folder / "real.nc").write_bytes(b"CDF\x01")
    with pytest.raises(PathError, match="outside the server's root"):
        confine_data(str(root), folder, "link.nc#run=0", allow_hidden=False)
    got = confine_data(str(root), folder, "real.nc#run=0", allow_hidden=False)
    assert got == (folder / "real.nc").resolve().with_name("real.nc#run=0")
    (folder / ".hide").mkdir()
    (folder / ".hide" / "h.nc").write_bytes(b"CDF\x01")
    with pytest.raises(PathError, match=r"hidden file or folder \(\.hide\)"):
        confine_data(str(root), folder, ".hide/h.nc#run=0", allow_hidden=False)


def test_a_source_folder_in_a_hidden_folder_is_refused(tmp_path: Path) -> None:
    """The source's folder comes from the database: a crafted one naming a hidden folder outside
    the root is not a place the server reads from."""
    from jupyterlab_dsi.paths import PathError
    from jupyterlab_dsi.server_fields import confine_data

    root, folder = tmp_path / "root", tmp_path / ".secret" / "ens"
    root.mkdir()
    folder.mkdir(parents=True)
    (folder / "s00.npz").write_bytes(b"PK")
    with pytest.raises(PathError, match=r"hidden file or folder \(\.secret\)"):
        confine_data(str(root), folder, "s00.npz", allow_hidden=False)
    assert confine_data(str(root), folder, "s00.npz", allow_hidden=True) == (folder / "s00.npz").resolve()


def test_a_zarr_store_is_never_cached(tmp_path: Path) -> None:
    """A Zarr store is a folder whose size and mtime stay when a chunk is rewritten: read each time."""
    store = tmp_path / "ens.zarr"
    store.mkdir()
    cache, reads = FileCache(), []
    fields = Run  # any object: the cache only holds what read() returns

    def read() -> Any:
        reads.append(1)
        return fields

    path = Path(f"{store}#run=0")
    assert cache.get((path,), "density", read) is fields
    assert cache.get((path,), "density", read) is fields
    assert len(reads) == 2 and cache.reads == 2

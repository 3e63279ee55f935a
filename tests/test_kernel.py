"""The bridge and the magic in a real kernel: the test plays the DSI Explorer panel over a comm.

One kernel for the module (its cwd is the server root the "panel" sends); the database lives
under that root. Every check reads what a user sees: iopub output, comm messages, the variables.
"""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

from jupyterlab_dsi.datasets import list_datasets, members  # noqa: E402
from jupyterlab_dsi.store import Store  # noqa: E402

INSTALL = "__import__('jupyterlab_dsi.bridge').bridge.install()"
NAMES = {"selection": "dsi_selection", "method": "dsi_method", "datasets": "dsi_datasets"}
HOSTILE = "{x} $x \"quoted\" 'single' <script>alert(1)</script> '; drop table jdsi_dataset; --"
TIMEOUT = 60


class Kernel:
    """A kernel client with the few requests a panel makes, each collected until idle."""

    def __init__(self, km: Any, kc: Any, root: Path) -> None:
        self.km, self.kc, self.root = km, kc, root

    def _collect(self, msg_id: str) -> list[dict[str, Any]]:
        out = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
            out.append(msg)

    def execute(self, code: str, **expressions: str) -> dict[str, Any]:
        """Run ``code``: its stdout, stderr, result text, comm messages and user expressions."""
        msg_id = self.kc.execute(code, user_expressions=expressions, store_history=False)
        iopub = self._collect(msg_id)
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        values = {}
        for key, value in reply["content"].get("user_expressions", {}).items():
            assert value["status"] == "ok", value
            values[key] = ast.literal_eval(value["data"]["text/plain"])
        return {
            "stdout": "".join(m["content"]["text"] for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"),
            "stderr": "".join(m["content"]["text"] for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"),
            "errors": [m for m in iopub if m["msg_type"] == "error"],
            "comm": [m["content"]["data"] for m in iopub if m["msg_type"] == "comm_msg"],
            "values": values,
            "reply": reply["content"],
        }

    def value(self, expression: str) -> Any:
        """``expression`` evaluated in the kernel, as JSON."""
        return json.loads(self.execute("", v=f"__import__('json').dumps({expression}, default=str)")["values"]["v"])

    def shell(self, msg_type: str, content: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a comm message as the frontend does; the data of the comm messages it caused."""
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        return [m["content"]["data"] for m in self._collect(msg["header"]["msg_id"]) if m["msg_type"] == "comm_msg"]

    def link(self, names: dict[str, str] = NAMES, root: Path | None = None) -> tuple[str, dict[str, Any]]:
        """install() as the panel runs it, then comm_open: (comm id, the kernel's answer)."""
        answer = self.kc.execute_interactive("", silent=True, store_history=False, user_expressions={"dsi": INSTALL},
                                             timeout=TIMEOUT)["content"]["user_expressions"]["dsi"]
        assert answer["data"]["application/json"]["protocol"] == 1
        comm_id = uuid.uuid4().hex
        data = {"protocol": 1, "names": names, "root": str(root or self.root)}
        replies = self.shell("comm_open", {"comm_id": comm_id, "target_name": "jupyterlab-dsi", "data": data})
        assert len(replies) == 1
        return comm_id, replies[0]

    def state(self, comm_id: str, **state: Any) -> dict[str, Any]:
        data = {"type": "state", "seq": 1, "db": "ens.sqlite", "method": None, "t": 1, "weights": [1.0, 1.0],
                "where": "", **state}
        replies = self.shell("comm_msg", {"comm_id": comm_id, "data": data})
        assert len(replies) == 1
        return replies[0]

    def close(self, comm_id: str) -> None:
        self.shell("comm_close", {"comm_id": comm_id, "data": {}})


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, shared_method: tuple[Any, Path, str]) -> Iterator[Kernel]:
    from jupyter_client.manager import start_new_kernel

    root = tmp_path_factory.mktemp("kernel-root").resolve()
    shutil.copy(shared_method[1], root / "ens.sqlite")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(root))
    k = Kernel(km, kc, root)
    assert k.value("__import__('sys').executable") == km.format_kernel_cmd()[0]  # the venv's python
    k.execute("%load_ext jupyterlab_dsi\nx = 's01'")
    yield k
    kc.stop_channels()
    km.shutdown_kernel(now=True)


@pytest.fixture
def method_id(shared_method: tuple[Any, Path, str]) -> str:
    return shared_method[2]


def cli_rows(cli: Callable[..., Any], db: Path, method_id: str, *args: str) -> list[dict[str, Any]]:
    result = cli("select", "--db", db, "--method", method_id, *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


# -- the magic ------------------------------------------------------------------------------


def test_select_matches_the_cli(kernel: Kernel, method_id: str, cli: Callable[..., Any]) -> None:
    where = 'd_density < 0.5 or profile == "flat"'
    run = kernel.execute(f"r = %dsi select --db ens.sqlite --method {method_id[:8]} --time 1 --where {shlex.quote(where)}",
                         ids="list(r.index)", density="list(r['d_density'])")
    rows = cli_rows(cli, kernel.root / "ens.sqlite", method_id, "--time", "1", "--where", where)
    assert run["values"]["ids"] == [r["sim_id"] for r in rows]
    assert run["values"]["density"] == pytest.approx([r["d_density"] for r in rows])
    assert run["stderr"] == ""


def test_help_shows_every_subcommand(kernel: Kernel) -> None:
    shown = kernel.execute("%dsi?")
    text = json.dumps(shown["reply"]) + shown["stdout"]  # the pager payload carries the docstring
    for sub in ("open DB", "methods", "select", "--sample P | --size N", "--save DESCRIPTION", "load ID", "datasets", "show ID"):
        assert sub in text


def test_hostile_text_stays_text(kernel: Kernel, method_id: str) -> None:
    for text in ("{x}", "$x", "<script>alert(1)</script>", "'; drop table jdsi_dataset; --"):
        where = 'sim_id == "' + text.replace('"', '""') + '"'
        run = kernel.execute(f"r = %dsi select --db ens.sqlite --where {shlex.quote(where)}", n="len(r)")
        assert run["values"]["n"] == 0, text  # {x} or $x expanded to s01 would match one simulation
    where = 'cs == 0.1 or sim_id == "$x" or sim_id == "{x}"'
    run = kernel.execute(
        f"r = %dsi select --db ens.sqlite --time 1 --where {shlex.quote(where)} --save {shlex.quote(HOSTILE)} "
        f"--name {shlex.quote(HOSTILE + ' name')}",
        ids="list(r.index)", x="x",
    )
    assert run["stderr"] == "" and not run["errors"]
    assert run["stdout"].count("\n") == 1 and run["stdout"].startswith("saved dataset")
    assert run["values"] == {"ids": ["s00", "s02", "s04"], "x": "s01"}
    with Store(kernel.root / "ens.sqlite", readonly=True) as store:
        saved = [d for d in list_datasets(store) if d["description"] == HOSTILE]
        assert len(saved) == 1
        assert saved[0]["name"] == HOSTILE + " name" and saved[0]["filter"] == where
        assert members(store, saved[0]["id"]) == ["s00", "s02", "s04"]
        assert len(store.sim_ids()) == 6  # the tables are intact


def test_errors_are_one_line_without_traceback(kernel: Kernel) -> None:
    for line, expected in (
        ("select --db ens.sqlite --where 'cz > 1'", "unknown name 'cz'"),
        ("select --db missing.sqlite", "no such database"),
        ("frobnicate", "invalid choice"),
        ("select --db ens.sqlite --time 1 --save ''", "--save needs a description"),
        ("select --db ens.sqlite --seed 3", "--seed only applies with --sample P or --size N"),
        ("load zzzz --db ens.sqlite", "is not a dataset"),
    ):
        run = kernel.execute(f"%dsi {line}")
        assert run["stderr"].count("\n") == 1 and expected in run["stderr"], (line, run["stderr"])
        assert "Traceback" not in json.dumps(run) and not run["errors"]


def test_without_a_database_the_magic_says_how_to_get_one(kernel: Kernel) -> None:
    run = kernel.execute("%dsi methods")
    assert run["stderr"].strip() == (
        "error: %dsi: no database: give --db FILE, run %dsi open FILE, or open one in the DSI Explorer panel"
    )


# -- the comm -------------------------------------------------------------------------------


def test_the_panel_state_becomes_the_three_variables(kernel: Kernel, method_id: str, cli: Callable[..., Any]) -> None:
    comm_id, hello = kernel.link()
    assert hello["type"] == "hello" and hello["protocol"] == 1 and hello["db"] in (None, "ens.sqlite")
    where = "cs == 0.2 or d_feature < 1"
    answer = kernel.state(comm_id, seq=7, method=method_id, t=2, weights=[2.0, 0.5], where=where)
    rows = cli_rows(cli, kernel.root / "ens.sqlite", method_id, "--time", "2", "--weights", "2", "0.5", "--where", where)
    assert answer == {"type": "updated", "seq": 7, "rows": len(rows)}
    assert kernel.value("list(dsi_selection.index)") == [r["sim_id"] for r in rows]
    assert kernel.value("list(dsi_selection.columns)") == ["cs", "profile", "energy", "d_shock", "d_edge", "d_density", "d_feature"]
    assert kernel.value("list(dsi_selection['d_feature'])") == pytest.approx([2 * r["d_shock"] + 0.5 * r["d_edge"] for r in rows])
    m = kernel.value("dsi_method")
    assert m["id"] == method_id and m["norm"] == "L2" and m["ground_truth"] == "s00"
    assert (m["t"], m["weights"], m["where"], m["db"]) == (2, {"d_shock": 2.0, "d_edge": 0.5}, where, str(kernel.root / "ens.sqlite"))
    assert kernel.value("list(dsi_datasets.columns)")[:3] == ["name", "description", "size"]
    with Store(kernel.root / "ens.sqlite", readonly=True) as store:
        assert kernel.value("sorted(dsi_datasets.index)") == sorted(d["id"] for d in list_datasets(store))
    kernel.close(comm_id)


def test_bad_state_is_an_error_and_changes_nothing(kernel: Kernel, method_id: str) -> None:
    comm_id, _ = kernel.link()
    assert kernel.state(comm_id, method=method_id, t=1, where="cs == 0.1")["rows"] == 3
    before = kernel.value("[len(dsi_selection), dsi_method['where']]")
    for state, expected in (
        ({"where": "cz > 1"}, "unknown name 'cz'"),
        ({"db": "../ens.sqlite"}, "outside the server's root"),
        ({"db": "/etc/passwd"}, "no such file"),
        ({"t": 99}, "outside this method's steps"),
        ({"weights": [1, "x"]}, "the weight of d_edge in d_feature must be a finite number"),
        ({"weights": {"d_density": 1, "nope": 2}}, "'nope', not a number column"),
    ):
        answer = kernel.state(comm_id, seq=3, **{"method": method_id, "t": 1, **state})
        assert answer["type"] == "error" and answer["seq"] == 3 and expected in answer["message"], answer
        assert "\n" not in answer["message"] and str(kernel.root) not in answer["message"]
    assert kernel.value("[len(dsi_selection), dsi_method['where']]") == before
    kernel.close(comm_id)


@pytest.mark.parametrize("names, setting", [
    ({**NAMES, "selection": "1x"}, "selection"),
    ({**NAMES, "method": "class"}, "method"),
    ({**NAMES, "datasets": "dsi_method"}, "three different names"),
    ({**NAMES, "selection": "print"}, "would replace Python's builtin print"),
    ({**NAMES, "method": "__builtins__"}, "would replace one of Python's special"),
])
def test_bad_variable_names_are_refused(kernel: Kernel, names: dict[str, str], setting: str) -> None:
    comm_id, answer = kernel.link(names=names)
    assert answer["type"] == "error" and setting in answer["message"] and "Kernel variables" in answer["message"]
    assert kernel.state(comm_id)["type"] == "error"
    kernel.close(comm_id)


def test_the_magic_talks_to_the_linked_panel(kernel: Kernel, method_id: str, shared_method: tuple[Any, Path, str]) -> None:
    comm_id, _ = kernel.link()
    assert kernel.state(comm_id, method=method_id, t=1)["type"] == "updated"
    # --db and --method default to the panel's
    run = kernel.execute("r = %dsi select --time 2 --where 'cs == 0.1' --weights 1 0.5", n="len(r)")
    assert run["values"]["n"] == 3
    assert run["comm"] == [{"type": "select", "db": "ens.sqlite", "method": method_id, "t": 2,
                            "weights": {"d_shock": 1.0, "d_edge": 0.5}, "where": "cs == 0.1"}]
    run = kernel.execute("%dsi open ens.sqlite")
    assert run["comm"] == [{"type": "open", "db": "ens.sqlite"}]
    assert run["stdout"].startswith("ens.sqlite: 6 simulations, 1 method, ")
    run = kernel.execute("r = %dsi select --time 1 --where 'cs == 0.2' --save 'for the panel'", ids="list(r.index)")
    dataset = run["comm"][1]["dataset"]
    assert [c["type"] for c in run["comm"]] == ["select", "saved"]
    assert run["comm"][1] == {"type": "saved", "db": "ens.sqlite", "dataset": dataset}
    assert run["values"]["ids"] == ["s01", "s03", "s05"]
    assert kernel.execute(f"%dsi show {dataset[:8]}")["comm"] == [{"type": "show", "db": "ens.sqlite", "dataset": dataset}]
    # a database outside the root: the magic works, the panel is told nothing, one line says so
    outside = shared_method[1]
    run = kernel.execute(f"r = %dsi select --db {outside} --time 0", n="len(r)")
    assert run["values"]["n"] == 6 and run["comm"] == []
    assert run["stdout"].strip() == f"the DSI Explorer panel cannot show {outside}: it is outside the server's root directory"
    kernel.close(comm_id)
    assert kernel.execute(f"%dsi show {dataset}")["stdout"].startswith("no DSI Explorer panel is linked to this kernel")


def test_a_restarted_kernel_links_again(kernel: Kernel, method_id: str) -> None:
    kernel.km.restart_kernel(now=True)
    kernel.kc.wait_for_ready(timeout=TIMEOUT)
    assert kernel.execute("", n="'dsi_selection' in dir()")["values"]["n"] is False
    comm_id, hello = kernel.link()
    assert hello["type"] == "hello" and hello["db"] is None
    assert kernel.state(comm_id, method=method_id, t=0, where="cs == 0.1")["rows"] == 3
    assert kernel.value("[len(dsi_selection), dsi_method['t']]") == [3, 0]
    kernel.execute("x = 's01'")  # for any test that runs after this one


# -- no frontend, no package ------------------------------------------------------------------


def test_a_kernel_without_the_package_gives_the_error_the_panel_explains() -> None:
    """The panel reads the install expression's ename: it must be ModuleNotFoundError."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive("import sys; sys.modules['jupyterlab_dsi'] = None", timeout=TIMEOUT)
        answer = kc.execute_interactive("", silent=True, store_history=False, user_expressions={"dsi": INSTALL},
                                        timeout=TIMEOUT)["content"]["user_expressions"]["dsi"]
        assert answer["status"] == "error"
        assert answer["ename"] == "ModuleNotFoundError"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_magic_runs_headless_under_nbconvert(tmp_path: Path, shared_method: tuple[Any, Path, str]) -> None:
    """A notebook of %dsi cells executed by nbclient, as `jupyter nbconvert --execute` does."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    db = tmp_path / "ens.sqlite"
    shutil.copy(shared_method[1], db)
    method_id = shared_method[2]
    cells = [
        "%load_ext jupyterlab_dsi",
        "%dsi open ens.sqlite",
        f"sel = %dsi select --method {method_id} --time 1 --where \"d_density >= 0\"\nlen(sel)",
        f"%dsi select --method {method_id} --time 1 --save \"headless {{x}} $x\" --name nb",
        "d = %dsi datasets\nlen(d)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = [
        "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        for cell in nb.cells
    ]
    with Store(db, readonly=True) as store:
        size = len(store.conn.execute("SELECT DISTINCT sim_id FROM jdsi_distance").fetchall())
        saved = list_datasets(store)
    assert text[1].startswith("ens.sqlite: ")
    assert text[2].strip() == str(size)
    assert "saved dataset 'nb'" in text[3]
    assert text[4].strip() == "1"
    assert saved[0]["description"] == "headless {x} $x"

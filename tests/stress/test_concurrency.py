"""Three real writers on one file at once (server, kernel, CLI), then a stateful model of the
Store: no acknowledged save or delete is ever lost, duplicated or changed."""

from __future__ import annotations

import json
import random
import shlex
import threading
import uuid
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from jupyterlab_dsi import datasets as ds
from jupyterlab_dsi.sampling import digest
from jupyterlab_dsi.store import Store
from .stresskit import MAGIC_SAVE, LiveServer, copy_db, dsi, integrity, python, save_body, start_kernel, stop_kernel

SIMS = [f"s{i:02d}" for i in range(6)]
DELETE = "import sys; from jupyterlab_dsi.store import Store; from jupyterlab_dsi.datasets import delete_dataset\n" \
         "with Store(sys.argv[1]) as s: print(delete_dataset(s, sys.argv[2])['deleted'])"


class Ledger:
    """What the writers were told: saves (id -> digest, members or None) and deletes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.saved: dict[str, tuple[str, list[str] | None]] = {}
        self.deleted: set[str] = set()
        self.failures: list[str] = []
        self.ops = 0

    def ack(self, ds_id: str, dig: str, members: list[str] | None) -> None:
        with self.lock:
            self.ops += 1
            self.saved[ds_id] = (dig, members)

    def gone(self, ds_id: str) -> None:
        with self.lock:
            self.ops += 1
            self.deleted.add(ds_id)

    def fail(self, what: str) -> None:
        with self.lock:
            self.ops += 1
            self.failures.append(what)


def _server_writer(server: LiveServer, method: str, ledger: Ledger, rng: random.Random) -> None:
    for i in range(30):
        body = save_body(method, sorted(rng.sample(SIMS, rng.randint(1, 6))), description=f"server {i}")
        for _ in range(2 if i % 4 == 0 else 1):  # every 4th save is retried with the same id
            status, record = server.call("datasets?path=ens.sqlite", "POST", body)
            if status != 201:
                ledger.fail(f"server save {status} {record}")
                break
            ledger.ack(record["id"], record["digest"], body["members"])
        if i % 3 == 2 and status == 201:
            status, record = server.call(f"datasets/{body['id']}?path=ens.sqlite", "DELETE")
            ledger.gone(body["id"]) if status == 200 else ledger.fail(f"server delete {status} {record}")


def _kernel_writer(kernel: Any, db: Path, method: str, ledger: Ledger) -> None:
    for i in range(10):
        code = MAGIC_SAVE.format(db=shlex.quote(str(db)), method=method, where=shlex.quote(f"energy < {2 + i % 6}"),
                                 description=shlex.quote(f"kernel {i}"))
        out = kernel.execute(code)
        line = [x for x in out["stdout"].splitlines() if x.startswith("ACK ")]
        if not line:
            ledger.fail(f"kernel save: {out['stderr'] or out['errors']}")
            continue
        ack = json.loads(line[0][4:])
        ledger.ack(ack["id"], ack["digest"], ack["members"])


def _cli_writer(db: Path, method: str, ledger: Ledger) -> None:
    mine = []
    for i in range(6):
        res = dsi("select", "-q", "--db", db, "--method", method, "--time", 1, "--where", f"energy > {i + 1}",
                  "--save", f"cli {i}")
        if res.returncode != 0:
            ledger.fail(f"cli save: {res.stderr}")
            continue
        ds_id = res.stdout.splitlines()[-1]
        ledger.ack(ds_id, res.stdout.split("digest ")[1].split()[0], None)
        mine.append(ds_id)
        if i % 2 == 1:
            res = python(DELETE, str(db), mine[-2])
            ledger.gone(mine[-2]) if res.returncode == 0 else ledger.fail(f"cli delete: {res.stderr}")


def test_three_writers_lose_nothing(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    _, source, method = shared_method
    root = tmp_path / "root"
    db = copy_db(source, root / "ens.sqlite")
    ledger = Ledger()
    kernel = start_kernel(root)
    try:
        with LiveServer(root) as server:
            writers = [
                threading.Thread(target=_server_writer, args=(server, method, ledger, random.Random(7))),
                threading.Thread(target=_kernel_writer, args=(kernel, db, method, ledger)),
                threading.Thread(target=_cli_writer, args=(db, method, ledger)),
            ]
            for w in writers:
                w.start()
            for w in writers:
                w.join(timeout=300)
    finally:
        stop_kernel(kernel)

    with Store(db, readonly=True) as store:
        everything = ds.list_datasets(store, include_deleted=True)
        found = {d["id"]: d for d in everything}
        lost = [i for i in ledger.saved if i not in found]
        changed = [i for i, (dig, mem) in ledger.saved.items()
                   if i in found and (found[i]["digest"] != dig
                                      or (mem is not None and ds.members(store, i) != mem)
                                      or digest(method, 1, ds.members(store, i)) != dig)]
        undeleted = [i for i in ledger.deleted if not found[i]["deleted"]]
    figures.add("ops", ledger.ops)
    figures.add("lost", len(lost) + len(changed) + len(undeleted))
    figures.note("acknowledged_saves", len(ledger.saved))
    figures.note("acknowledged_deletes", len(ledger.deleted))
    assert ledger.failures == []
    assert (lost, changed, undeleted) == ([], [], [])
    assert len(everything) == len(found) == len(ledger.saved)  # a retried id is one record
    assert integrity(db) == "ok"


# -- a model of the Store ------------------------------------------------------------------------


class StoreModel(RuleBasedStateMachine):
    """save / retry / delete / undelete through several connections, against a dict."""

    source: Path
    workdir: Path

    def __init__(self) -> None:
        super().__init__()
        self.db = copy_db(self.source, self.workdir / f"{uuid.uuid4().hex}.sqlite")
        self.stores = [Store(self.db) for _ in range(3)]
        self.model: dict[str, dict[str, Any]] = {}  # id -> {"members", "deleted"}
        self.ops = 0

    ids = Bundle("ids")

    @rule(target=ids, who=st.integers(0, 2), members=st.lists(st.sampled_from(SIMS), unique=True),
          desc=st.text(min_size=1, max_size=20).filter(lambda t: t.split("\x00", 1)[0].strip()))
    def save(self, who: int, members: list[str], desc: str) -> str:
        record = ds.save_dataset(self.stores[who], members=members, description=desc, method_id=None, t=1,
                                 dataset_id=str(uuid.uuid4()))
        self.model[record["id"]] = {"members": sorted(members), "desc": desc, "deleted": False}
        self.ops += 1
        return record["id"]

    @rule(ds_id=ids, who=st.integers(0, 2))
    def retry_same_id(self, ds_id: str, who: int) -> None:
        want = self.model[ds_id]
        record = ds.save_dataset(self.stores[who], members=want["members"], description=want["desc"],
                                 method_id=None, t=1, dataset_id=ds_id)
        assert record["id"] == ds_id
        self.ops += 1

    @rule(ds_id=ids, who=st.integers(0, 2))
    def retry_with_other_members_is_refused(self, ds_id: str, who: int) -> None:
        other = [s for s in SIMS if s not in self.model[ds_id]["members"]][:1] or []
        if other == self.model[ds_id]["members"]:
            return
        try:
            ds.save_dataset(self.stores[who], members=other, description=self.model[ds_id]["desc"],
                            method_id=None, t=1, dataset_id=ds_id)
        except ds.DatasetError as exc:
            assert "already exists with different content" in str(exc)
        else:
            raise AssertionError("a save with a reused id and other members was accepted")
        self.ops += 1

    @rule(ds_id=ids, who=st.integers(0, 2))
    def delete(self, ds_id: str, who: int) -> None:
        assert ds.delete_dataset(self.stores[who], ds_id)["deleted"]
        self.model[ds_id]["deleted"] = True
        self.ops += 1

    @rule(ds_id=ids, who=st.integers(0, 2))
    def undelete(self, ds_id: str, who: int) -> None:
        assert not ds.undelete_dataset(self.stores[who], ds_id)["deleted"]
        self.model[ds_id]["deleted"] = False
        self.ops += 1

    @invariant()
    def every_connection_sees_the_model(self) -> None:
        for store in self.stores:
            seen = {d["id"]: d for d in ds.list_datasets(store, include_deleted=True)}
            assert set(seen) == set(self.model)
            for ds_id, want in self.model.items():
                assert seen[ds_id]["deleted"] == want["deleted"]
                assert ds.members(store, ds_id) == want["members"]

    def teardown(self) -> None:
        for store in self.stores:
            store.close()
        StoreModel.total_ops += self.ops
        assert integrity(self.db) == "ok"

    total_ops = 0


def test_store_model(shared_method: tuple[Any, Path, str], tmp_path: Path, figures: Any) -> None:
    StoreModel.source, StoreModel.workdir, StoreModel.total_ops = shared_method[1], tmp_path, 0
    test = StoreModel.TestCase
    test.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
    test("runTest").runTest()
    figures.add("ops", StoreModel.total_ops)

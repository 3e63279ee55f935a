"""The kernel side of the DSI Explorer's notebook bridge (docs/bridge.md, protocol 1).

The panel links a notebook by evaluating ``__import__('jupyterlab_dsi.bridge').bridge.install()``
as a user expression, then opens a comm on target ``jupyterlab-dsi``. Only JSON crosses the comm:
the panel's state names a database (relative to the server root), a method id, a time step,
weights and a filter string; the kernel reads the rows itself and writes three variables into
the user's namespace. The ``%dsi`` magic sends its own messages back through :func:`send`.
"""

from __future__ import annotations

import builtins
import keyword
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__, feature, steps
from .errors import DsiError, one_line
from .filter import FilterError
from .paths import confine, inside

PROTOCOL = 1
TARGET = "jupyterlab-dsi"
ROLES = ("selection", "method", "datasets")
SETTINGS = "Settings → DSI Explorer → Kernel variables"

log = logging.getLogger(__name__)


class BridgeError(DsiError):
    """A message from the panel that the kernel cannot act on."""


class _Answer(dict):  # type: ignore[type-arg]
    """install()'s answer: a dict that also reaches the frontend as application/json."""

    def _repr_json_(self) -> dict[str, Any]:
        return dict(self)


def _logged(exc: BaseException, doing: str) -> str:
    """The panel's one line for ``exc``; the traceback goes to the log (the kernel's stderr when
    nothing else is configured), where a developer looks. A DsiError or a filter error is the
    user's to fix and its line says all: it is logged at debug level only."""
    level = logging.DEBUG if isinstance(exc, (DsiError, FilterError)) else logging.ERROR
    log.log(level, "jupyterlab-dsi bridge: %s failed", doing, exc_info=exc)
    return one_line(exc, (DsiError, ValueError))


@dataclass
class Link:
    """One open comm: the server root it speaks for and the variable names, or why it was refused."""

    comm: Any
    root: Path | None = None
    names: dict[str, str] = field(default_factory=dict)
    refused: str | None = None


# Names the bridge never assigns: Python's builtins (assigning `print` hides it in every later
# cell), and the names IPython keeps in the namespace for itself (In, Out, _, _i1, _oh, ...).
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_ih", "_oh", "_dh"})
_IPYTHON_PATTERN = re.compile(r"_+|_i+|_i?\d+")


def reserved_name(name: str) -> str | None:
    """What assigning ``name`` in the user's namespace would hide, or None when it is free."""
    if keyword.iskeyword(name):
        return "a Python keyword"
    if re.fullmatch(r"__\w+__", name):  # __builtins__, __name__, ...: the module's own machinery
        return "one of Python's special __names__"
    if hasattr(builtins, name):
        return f"Python's builtin {name}"
    if name in _IPYTHON_NAMES or _IPYTHON_PATTERN.fullmatch(name):
        return "a name IPython keeps for itself"
    return None


def check_names(names: Any) -> dict[str, str]:
    if not isinstance(names, dict):
        raise BridgeError(f"the kernel variable names must be an object {{{', '.join(ROLES)}}} ({SETTINGS})")
    out: dict[str, str] = {}
    for role in ROLES:
        name = names.get(role)
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise BridgeError(f"the {role} variable name {name!r} is not a Python identifier; change it in {SETTINGS}")
        hidden = reserved_name(name)
        if hidden is not None:
            raise BridgeError(
                f"the {role} variable name {name!r} would replace {hidden}; choose another in {SETTINGS}"
            )
        out[role] = name
    if len(set(out.values())) != len(ROLES):
        raise BridgeError(
            f"the kernel variable names must be three different names, not {list(out.values())}; "
            f"change them in {SETTINGS}"
        )
    return out


def check_state(data: dict[str, Any]) -> dict[str, Any]:
    """The panel's method, time, weights and filter, checked (the database is confined apart)."""
    method, t, weights, where = data.get("method"), data.get("t"), data.get("weights"), data.get("where", "")
    if method is not None and not isinstance(method, str):
        raise BridgeError(f"state: the method must be an id or null, not {method!r}")
    if (method is not None or t is not None) and (isinstance(t, bool) or not isinstance(t, int) or t < 0):
        raise BridgeError(f"state: the time must be a step index >= 0, not {t!r}")
    try:  # None: the method's default terms
        terms = None if weights is None else feature.terms(weights)
    except feature.FeatureError as exc:
        raise BridgeError(f"state: {exc}") from None
    if not isinstance(where, str):
        raise BridgeError(f"state: the filter must be text, not {where!r}")
    return {"method": method, "t": t, "weights": terms, "where": where}


def panel_variables(db: Path, state: dict[str, Any]) -> dict[str, Any]:
    """``selection``, ``method`` and ``datasets`` for the panel's state, read from ``db``."""
    from .frames import datasets_frame, selection_frame
    from .query import select
    from .store import Store

    with Store(db, readonly=True) as store:
        # Without a method (a table of runs: parameters and metrics) the panel's step is that of
        # the per-step metrics, 0 when there are none.
        t = state["t"] if state["t"] is not None else 0
        chosen = select(store, state["method"], t, state["where"], state["weights"])
        selection = selection_frame(chosen, t).drop(columns="t")
        method = None
        if chosen.method is not None:
            m = chosen.method
            method = {k: m[k] for k in ("id", "ground_truth", "norm", "gt_time", "match_time", "geometry", "field", "description")}
            method.update(
                t=state["t"],
                simulated_time=steps.simulated_time(store, state["t"]),
                weights=chosen.feature,
                where=state["where"],
                db=str(db),
            )
        datasets = datasets_frame(store)
    return {"selection": selection, "method": method, "datasets": datasets}


def _user_ns() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise BridgeError("the bridge runs in an IPython kernel")
    return shell.user_ns  # type: ignore[no-any-return]


class Bridge:
    """One per kernel: the open comms, the current database and the panel's last state."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}  # comm id -> link, in opening order
        self.db: Path | None = None
        self.state: dict[str, Any] | None = None  # with "db": the database it was computed on

    # -- comms -------------------------------------------------------------------------------

    def on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data") or {}
        link = self.links[comm.comm_id] = Link(comm)
        comm.on_msg(lambda m: self.on_msg(link, m))
        comm.on_close(lambda _m: self.links.pop(comm.comm_id, None))
        try:
            if data.get("protocol") != PROTOCOL:
                raise BridgeError(
                    f"the panel speaks protocol {data.get('protocol')!r}, this kernel's jupyterlab-dsi "
                    f"{__version__} speaks {PROTOCOL}: install the same version in the kernel's environment"
                )
            root = data.get("root")
            if not isinstance(root, str) or not Path(root).is_absolute():
                raise BridgeError(f"the server root must be an absolute path, not {root!r}")
            link.root = Path(root).resolve()
            link.names = check_names(data.get("names"))
        except DsiError as exc:
            link.refused = one_line(exc, (DsiError, ValueError))
            comm.send({"type": "error", "message": link.refused})
            return
        comm.send({"type": "hello", "protocol": PROTOCOL, "version": __version__, "db": self.relative(self.db)})

    def on_msg(self, link: Link, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "state":
            reply = self.on_state(link, data)  # type: ignore[arg-type]
        elif kind == "datasets":
            reply = self.on_datasets(link)
        else:
            reply = {"type": "error", "message": f"unknown message type {kind!r} (protocol {PROTOCOL})"}
        if reply is not None:
            link.comm.send(reply)

    def on_state(self, link: Link, data: dict[str, Any]) -> dict[str, Any]:
        seq = data.get("seq")
        relative = data.get("db")
        try:
            if link.refused:
                raise BridgeError(link.refused)
            db = confine(link.root or "/", relative)  # type: ignore[arg-type]
            state = check_state(data)
            values = panel_variables(db, state)
        except Exception as exc:  # the panel gets one line whatever failed: it never waits on a traceback
            message = _logged(exc, f"the panel's state on {relative!r}")
            if isinstance(relative, str) and relative and link.root is not None:
                message = message.replace(str(link.root / relative), relative)  # name the file as the panel does
            return {"type": "error", "seq": seq, "message": message}
        # All three at once, only after everything was computed: an error leaves them as they were.
        _user_ns().update({link.names[role]: values[role] for role in ROLES})
        self.db, self.state = db, {**state, "db": db}
        return {"type": "updated", "seq": seq, "rows": len(values["selection"])}

    def on_datasets(self, link: Link) -> dict[str, Any] | None:
        if link.refused or self.db is None:
            return None
        from .frames import datasets_frame
        from .store import Store

        try:
            with Store(self.db, readonly=True) as store:
                frame = datasets_frame(store)
        except Exception as exc:
            return {"type": "error", "message": _logged(exc, f"reading the datasets of {str(self.db)!r}")}
        _user_ns()[link.names["datasets"]] = frame
        return None

    def open_links(self) -> list[Link]:
        for comm_id, link in list(self.links.items()):
            if getattr(link.comm, "_closed", False):
                self.links.pop(comm_id, None)
        return list(self.links.values())

    # -- what the magic asks -------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        for link in self.open_links():
            link.comm.send(message)

    def relative(self, path: str | Path | None) -> str | None:
        roots = [link.root for link in self.open_links() if link.root is not None]
        if path is None or not roots:
            return None
        return inside(roots[-1], path)  # the most recently linked panel's root

    def current_method(self, db: str | Path | None = None) -> str | None:
        """The panel's method, when its state was computed on ``db`` (the current database)."""
        target = Path(db).resolve() if db is not None else self.db
        if self.state is None or target is None or self.state["db"] != target:
            return None
        return self.state["method"]  # type: ignore[no-any-return]


BRIDGE = Bridge()


def _on_open(comm: Any, msg: dict[str, Any]) -> None:
    BRIDGE.on_open(comm, msg)


def install() -> dict[str, Any]:
    """Register the comm target and load ``%dsi``; idempotent (the panel calls it on every link)."""
    import comm
    from IPython import get_ipython

    comm.get_comm_manager().register_target(TARGET, _on_open)  # registering again replaces it
    shell = get_ipython()
    if shell is not None:
        shell.extension_manager.load_extension("jupyterlab_dsi")
    return _Answer(protocol=PROTOCOL, version=__version__)


def current_db() -> str | None:
    """The kernel's current database (absolute path), set by ``%dsi open`` or the panel."""
    return None if BRIDGE.db is None else str(BRIDGE.db)


def set_db(path: str | Path) -> None:
    BRIDGE.db = Path(path).resolve()


def current_method(db: str | Path | None = None) -> str | None:
    return BRIDGE.current_method(db)


def linked() -> bool:
    """Whether a DSI Explorer panel has a comm open to this kernel."""
    return bool(BRIDGE.open_links())


def send(message: dict[str, Any]) -> None:
    """Send ``message`` (JSON) to every open comm."""
    BRIDGE.send(message)


def relative(path: str | Path | None) -> str | None:
    """``path`` relative to the linked panel's server root; None when outside it or unlinked."""
    return BRIDGE.relative(path)

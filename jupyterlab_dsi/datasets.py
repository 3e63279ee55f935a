"""Training datasets: a selection saved with its description, provenance and members.

Records are immutable (DESIGN.md rule 2): a dataset is keyed by a UUID, a change is a new record
with a parent link, a delete is a tombstone and the undo removes it. Saving with a client-chosen
id is idempotent: a retry with the same id and the same content returns the record already
there, never a second one. Every write goes through :meth:`Store.write` with an event in the log.

A dataset's members are the simulations of the selection after its sampling
(:mod:`jupyterlab_dsi.sampling`); its digest covers the method, the time index and the sorted
members, so :func:`verify` can recompute both from the stored method, time, weights, filter
string and sampling and say what differs.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

from . import feature as ftr
from . import sampling as smp
from .errors import DsiError
from .store import Store, StoreError, current_user, new_id, now, resolve_prefix

SETTINGS_VERSION = 1
EXPORT_FORMAT = "jupyterlab-dsi.dataset/1"

_COLUMNS = (
    "id, name, description, created_at, author, method_id, t, w_shock, w_edge, filter, "
    "selection_kind, selection_geometry, sampling, settings, parent_id, size, digest, feature"
)


class DatasetError(DsiError):
    """A dataset that cannot be saved, found or exported, with the reason."""


# -- checking input ------------------------------------------------------------------------


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{what} must be plain JSON data ({exc})") from None


def _check_sampling(sampling: Any) -> dict[str, Any] | None:
    if sampling is None:
        return None
    if not isinstance(sampling, dict):
        raise DatasetError(f"sampling must be {{'kind': 'p'|'n', ...}}, not {sampling!r}")
    kind = sampling.get("kind")
    try:
        seed = smp.check_seed(sampling.get("seed", 0))
        if kind == "p":
            p = sampling.get("p")
            smp.sample_p([], p, seed)  # checks p
            return {"kind": "p", "p": float(p), "seed": seed}
        if kind == "n":
            n = sampling.get("n")
            smp.sample_n([], n, seed)  # checks n
            return {"kind": "n", "n": int(n), "seed": seed}
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    raise DatasetError(f"sampling kind must be 'p' (probability) or 'n' (target size), not {kind!r}")


def _check_id(dataset_id: Any) -> str:
    try:
        return str(uuid.UUID(str(dataset_id)))
    except ValueError:
        raise DatasetError(f"a dataset id must be a UUID, not {dataset_id!r}") from None


def _stored_terms(row: Any) -> ftr.Terms | None:
    """d_feature's terms: the feature column, or (schema 2) the two weights it then had."""
    return ftr.stored(row["feature"], row["w_shock"], row["w_edge"], row["method_id"])


def _stored_json(text: str | None, what: str) -> Any:
    """A JSON column; a record saved before the nesting limit that no parser can read any more
    becomes a note, so that it never makes the listing of every other dataset fail."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except RecursionError:
        limit = f" (saved before the limit of {JSON_LIMITS[what][1]} levels)" if what in JSON_LIMITS else ""
        return {"unreadable": f"the stored {what} nest too deeply to read{limit}"}
    except ValueError as exc:  # edited by hand or by another tool: say so, never a traceback or null
        return {"unreadable": f"the stored {what} is not JSON ({exc})"}


def _record(row: Any, deleted: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
        "author": row["author"],
        "method": row["method_id"],
        "time": row["t"],
        "weights": _stored_terms(row),
        "filter": row["filter"],
        "selection_kind": row["selection_kind"],
        "selection_geometry": _stored_json(row["selection_geometry"], "selection geometry"),
        "sampling": _stored_json(row["sampling"], "sampling"),
        "settings": _stored_json(row["settings"], "settings"),
        "parent": row["parent_id"],
        "size": row["size"],
        "digest": row["digest"],
        "deleted": deleted,
    }


# Longest texts a dataset record takes (characters): a rationale fits many times over; 10 MB of
# pasted text does not belong in every listing, export and kernel variable.
LIMITS = {"name": 1_000, "description": 100_000, "filter": 100_000, "selection kind": 100}


# JSON a dataset record keeps (characters of its JSON text, levels of nesting). GUI settings and a
# lasso's polygon take a few kilobytes; the depth bound keeps every reader's JSON parser (the
# kernel's runs deep in IPython's stack) far from Python's recursion limit, so one record can
# never make `%dsi load` or a listing fail for every dataset in the file.
JSON_LIMITS = {"settings": (1_000_000, 32), "selection geometry": (1_000_000, 32)}


def _nesting_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` levels (iterative: any depth,
    and a cycle, which only deepens, stops at the limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _bounded_json(value: Any, what: str) -> str:
    """``value`` as JSON text within :data:`JSON_LIMITS`, or a one-line error naming the field."""
    max_chars, max_depth = JSON_LIMITS[what]
    if _nesting_over(value, max_depth):  # checked first: serialising it could itself recurse too deep
        raise DatasetError(
            f"{what}: lists and objects nested more than {max_depth} levels deep, above the limit of "
            f"{max_depth}; save a flatter structure"
        )
    text = _json_text(value, f"the {what}")
    if len(text) > max_chars:
        raise DatasetError(
            f"{what}: {len(text):,} characters of JSON, above the limit of {max_chars:,}; "
            "keep large data out of the dataset record (save it to a file and name the file)"
        )
    return text


# Content that must match for a retry with the same id to count as the same save.
_SAME = ("name", "description", "method", "time", "weights", "filter", "selection_kind",
         "selection_geometry", "sampling", "settings", "parent", "size", "digest")


# -- writes --------------------------------------------------------------------------------


def save_dataset(
    store: Store,
    *,
    members: Any,
    description: str,
    name: str = "",
    method_id: str | None,
    t: int | None,
    weights: Any = None,
    filter: str = "",
    selection_kind: str = "filter",
    selection_geometry: Any = None,
    sampling: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    parent_id: str | None = None,
    dataset_id: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """Save ``members`` (after ``sampling``) as a new dataset; return its record."""
    # The table's CHECK (length(trim(description)) > 0) reads only up to a NUL, as SQLite's text
    # functions do: the words must come before any NUL, or the insert fails with a traceback.
    if not isinstance(description, str) or not description.split("\x00", 1)[0].strip():
        raise DatasetError(
            "a dataset needs a description: it is the record of why this training set exists "
            "(what it is for, why these simulations), read by whoever trains on it or audits it later"
        )
    description = description.strip()
    if not isinstance(name, str):
        raise DatasetError(f"the name must be text, not {name!r}")
    if not isinstance(filter, str):
        raise DatasetError(f"the filter must be text, not {filter!r}")
    # Ids reach SQL as bound values: a list or object there is a malformed request, said as such.
    for field_name, value in (("method_id", method_id), ("parent_id", parent_id)):
        if value is not None and not isinstance(value, str):
            raise DatasetError(
                f"{field_name} must be a dataset or method id (text) or null, not {type(value).__name__}"
            )
    if not isinstance(selection_kind, str) or not selection_kind.strip():
        raise DatasetError(f"the selection kind must be a non-empty text, not {selection_kind!r}")
    for what, text in (("name", name), ("description", description), ("filter", filter),
                       ("selection kind", selection_kind)):
        if len(text) > LIMITS[what]:
            raise DatasetError(
                f"the {what} is {len(text):,} characters, above the limit of {LIMITS[what]:,}; "
                + ("shorten it" if what != "description" else "keep the rationale here and link longer documents")
            )
    member_list = smp.text_ids(members, DatasetError)
    if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 0):
        raise DatasetError(f"the time must be a step index >= 0, not {t!r}")
    try:
        # None: the terms the method's selection uses by default (none without a method).
        terms = ftr.terms(weights) if weights is not None else None
    except ftr.FeatureError as exc:
        raise DatasetError(str(exc)) from None
    sampling = _check_sampling(sampling)
    if settings is not None and not isinstance(settings, dict):
        raise DatasetError(f"settings must be a JSON object ({{...}}) or null, not {type(settings).__name__}")
    settings_obj = dict(settings or {})
    settings_obj.setdefault("version", SETTINGS_VERSION)
    settings_text = _bounded_json(settings_obj, "settings")
    geometry_text = None if selection_geometry is None else _bounded_json(selection_geometry, "selection geometry")
    sampling_text = None if sampling is None else _json_text(sampling, "sampling")
    ds_id = new_id() if dataset_id is None else _check_id(dataset_id)
    if author is None:
        author = current_user()
    if not isinstance(author, str) or not author.strip():
        raise DatasetError(f"the author must be a non-empty text, not {author!r}")

    from .query import default_feature, number_columns

    if method_id is not None:
        method_id = store.resolve_method(method_id)["id"]
        if terms is None:
            terms = default_feature(store, method_id)
    if terms is not None:
        try:  # terms that name no column could never be recomputed by `verify`
            ftr.check_names(terms, number_columns(store, method_id is not None))
        except ftr.FeatureError as exc:
            raise DatasetError(str(exc)) from None
    w_shock, w_edge = ftr.legacy(terms) if terms is not None else (0.0, 0.0)
    feature_text = None if terms is None else json.dumps(terms)  # in the user's order

    known = set(store.sim_ids())
    for m in member_list:
        if m not in known:
            raise DatasetError(f"simulation {m!r} is not in this database (see `jupyter dsi select`)")
    chosen = smp.apply(member_list, sampling)
    dig = smp.digest(method_id, t, chosen)
    if not name.strip():
        name = f"dataset-{ds_id[:8]}"

    with store.write() as conn:
        if parent_id is not None:
            parent_row = conn.execute("SELECT id FROM jdsi_dataset WHERE id = ?", (parent_id,)).fetchone()
            if parent_row is None:
                raise DatasetError(f"parent dataset {parent_id!r} is not in this database")
        existing = conn.execute(f"SELECT {_COLUMNS} FROM jdsi_dataset WHERE id = ?", (ds_id,)).fetchone()
        if existing is not None:
            old = _record(existing, False)
            new = {
                "name": name, "description": description, "method": method_id, "time": t,
                "weights": terms, "filter": filter, "selection_kind": selection_kind,
                "selection_geometry": None if geometry_text is None else json.loads(geometry_text),
                "sampling": sampling, "settings": json.loads(settings_text), "parent": parent_id,
                "size": len(chosen), "digest": dig,
            }
            differ = [k for k in _SAME if old[k] != new[k]]
            if differ:
                raise DatasetError(
                    f"dataset {ds_id} already exists with different content ({', '.join(differ)}); "
                    "a change is a new dataset: save it without an id or with a new one"
                )
        else:
            conn.execute(
                f"INSERT INTO jdsi_dataset ({_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                (ds_id, name, description, now(), author, method_id, t, w_shock, w_edge, filter,
                 selection_kind, geometry_text, sampling_text, settings_text, parent_id,
                 len(chosen), dig, feature_text),
            )
            conn.executemany(
                "INSERT INTO jdsi_dataset_member (dataset_id, sim_id) VALUES (?, ?)",
                [(ds_id, m) for m in chosen],
            )
            Store.log_event(conn, "dataset.created", ds_id,
                            {"name": name, "size": len(chosen), "digest": dig})
    return get_dataset(store, ds_id)


def delete_dataset(store: Store, ref: str, author: str | None = None) -> dict[str, Any]:
    """Tombstone a dataset (idempotent: deleting a deleted one changes nothing)."""
    record = get_dataset(store, ref)
    with store.write() as conn:
        done = conn.execute("SELECT 1 FROM jdsi_tombstone WHERE record_id = ?", (record["id"],)).fetchone()
        if done is None:
            conn.execute(
                "INSERT INTO jdsi_tombstone (record_id, kind, deleted_at, author) VALUES (?, 'dataset', ?, ?)",
                (record["id"], now(), author or current_user()),
            )
            Store.log_event(conn, "dataset.deleted", record["id"])
    return get_dataset(store, record["id"])


def undelete_dataset(store: Store, ref: str, author: str | None = None) -> dict[str, Any]:
    """Remove a dataset's tombstone: the undo of :func:`delete_dataset` (idempotent)."""
    record = get_dataset(store, ref)
    with store.write() as conn:
        cur = conn.execute("DELETE FROM jdsi_tombstone WHERE record_id = ? AND kind = 'dataset'", (record["id"],))
        if cur.rowcount:
            Store.log_event(conn, "dataset.restored", record["id"], {"author": author or current_user()})
    return get_dataset(store, record["id"])


# -- reads ---------------------------------------------------------------------------------


def list_datasets(store: Store, include_deleted: bool = False) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        f"SELECT {_COLUMNS}, (id IN (SELECT record_id FROM jdsi_tombstone)) AS deleted "
        "FROM jdsi_dataset ORDER BY created_at DESC, id"
    ).fetchall()
    from .staleness import stale_reasons

    stale = stale_reasons(store)  # one query for the listing; [] for a fresh dataset
    return [{**_record(r, bool(r["deleted"])), "stale": stale.get(r["id"], [])}
            for r in rows if include_deleted or not r["deleted"]]


def get_dataset(store: Store, ref: str) -> dict[str, Any]:
    """A dataset (deleted ones too) by its id or a unique prefix of at least MIN_PREFIX characters."""
    found = resolve_prefix(
        store, "jdsi_dataset", ref, what="dataset", error=DatasetError, order="created_at DESC, id",
        see=" (see `jupyter dsi datasets --all`)", make="save one with `jupyter dsi select ... --save DESCRIPTION`",
        messages={"too short": "dataset {ref!r} is not a dataset of this database, and too short for a prefix: "
                               "give at least {min} characters of the id{see}"})
    return next(d for d in list_datasets(store, include_deleted=True) if d["id"] == found["id"])


def members(store: Store, ref: str) -> list[str]:
    ds_id = get_dataset(store, ref)["id"]
    rows = store.conn.execute(
        "SELECT sim_id FROM jdsi_dataset_member WHERE dataset_id = ?", (ds_id,)
    ).fetchall()
    return sorted(r[0] for r in rows)


# -- exports (moved to jupyterlab_dsi.exports; these names stay for the callers of before) ----

_MOVED = {
    "export_json": ("record", "export_json"),
    "export_card": ("card", "export_card"),
    "level_counts": ("card", "level_counts"),
    "export_prov": ("prov", "export_prov"),
}


def export_text(store: Store, ref: str, fmt: str) -> str:
    """A dataset exported as one of the single-file formats (json, card, prov, datacite): the
    exact text `jupyter dsi export` prints or writes (:func:`jupyterlab_dsi.exports.text`)."""
    from .exports import text

    return text(store, ref, fmt)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        module, attr = _MOVED[name]
        return getattr(importlib.import_module(f".exports.{module}", __package__), attr)
    if name == "EXPORT_FORMATS":  # the single-file formats and their endings
        from .exports import TEXT_FORMATS

        return TEXT_FORMATS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- Markdown that renders as the text it holds (the card, the provenance cells) -------------------

# Characters that can start markup anywhere in a line (autolinks start at `:`, `@`, `www.`).
_MARKUP = frozenset("\\`*_[]|~<>&$!#:@")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]|^[\d \t]")
_NEWLINE = re.compile(r"\r\n?|\n")


def escape_markdown(text: Any) -> str:
    """Markdown that renders as exactly ``text``, on one line, as the provenance cells write it
    (escapeMarkdown in src/bridge/provenance.ts; tests/vectors/markdown.json holds both to it).

    Characters that could become markup (and any punctuation, digit or blank opening the line: a
    list, a heading, a quote, a code block) are written as numeric character references, which CommonMark and GFM
    always read as literal characters: never HTML, a link, an image fetched from a remote host,
    or a table pipe. The rest stays readable in the card's source.
    """
    line = _NEWLINE.sub(" ", str(text))

    def one(match: re.Match[str]) -> str:
        c, i = match.group(), match.start()
        if i == 0 or c in _MARKUP or (c == "." and line[max(0, i - 3):i].lower() == "www"):
            return f"&#{ord(c)};"
        return c

    return _PUNCTUATION.sub(one, line)


def code_span(text: Any) -> str:
    """A code span around ``text`` on one line that no backtick inside can close, for a table
    cell, as the provenance cells write one (codeSpan; tests/vectors/markdown.json): ``|``
    becomes ``\\|``, which GFM reads back as ``|``. A table cannot hold an odd run of
    backslashes before a pipe in code (the pipe would end the cell, the rest lost): such text is
    escaped as prose instead."""
    line = _NEWLINE.sub(" ", str(text))
    if _ODD_BACKSLASHES_PIPE.search(line):
        return escape_markdown(line)
    fence = "`" * (max([0] + [len(run) for run in re.findall(r"`+", line)]) + 1)
    # CommonMark strips one space from both ends when both are spaces: pad then too.
    spaced = line.startswith(" ") and line.endswith(" ") and line.strip(" ") != ""
    pad = " " if line.startswith("`") or line.endswith("`") or spaced else ""
    return f"{fence}{pad}{line.replace('|', chr(92) + '|')}{pad}{fence}"


_ODD_BACKSLASHES_PIPE = re.compile(r"(^|[^\\])(\\\\)*\\\|")


# -- verify --------------------------------------------------------------------------------


def recompute(store: Store, record: dict[str, Any]) -> list[str]:
    """The members a dataset's stored method, time, weights, filter and sampling give now."""
    from .query import select

    if record["method"] is None and not record["filter"]:
        raise DatasetError("no method and no filter stored, so the selection cannot be recomputed")
    # Without a method (a table of runs: wildfire, Cinema) the filter is over parameters and
    # metrics at the stored step.
    selection = select(store, record["method"], record["time"], record["filter"], record["weights"])
    return smp.apply({row[0] for row in selection.rows}, record["sampling"])


def check(store: Store, record: dict[str, Any]) -> list[str]:
    """What differs for one dataset (an empty list when it reproduces exactly)."""
    from .filter import FilterError

    problems = []
    stored = members(store, record["id"])
    if len(stored) != record["size"]:
        problems.append(f"size is {record['size']} but {len(stored)} members are stored")
    if smp.digest(record["method"], record["time"], stored) != record["digest"]:
        problems.append("the stored members do not match the stored digest")
    settings = record.get("settings")
    if isinstance(settings, dict) and "augment" in settings:
        # Pool-based augmentation (augment.py): the parent plus members chosen by a run's sigma2,
        # which the stored filter never selected; chosen again from the run instead.
        from .augment import check as check_augmented

        return problems + check_augmented(store, record)
    if record["method"] is None and not record["filter"]:
        # Members chosen by hand, with no method or filter: only the digest can be checked.
        return problems
    try:
        again = recompute(store, record)
    except (DsiError, FilterError, ValueError) as exc:
        problems.append(f"cannot recompute: {exc}")
        return problems
    if again != stored:
        missing = sorted(set(again) - set(stored))
        extra = sorted(set(stored) - set(again))
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
        if extra:
            parts.append(f"{len(extra)} extra ({', '.join(extra[:5])}{', ...' if len(extra) > 5 else ''})")
        problems.append("members differ from the recomputed selection: " + "; ".join(parts))
    recomputed_digest = smp.digest(record["method"], record["time"], again)
    if recomputed_digest != record["digest"]:
        problems.append(f"digest differs: stored {record['digest']}, recomputed {recomputed_digest}")
    return problems


def verify(store: Store, ref: str | None = None) -> list[dict[str, Any]]:
    """Every (live) dataset, or the one ``ref`` names, that does not reproduce: id, name, problems."""
    records = list_datasets(store) if ref is None else [get_dataset(store, ref)]
    out = []
    for record in records:
        problems = check(store, record)
        if problems:
            out.append({"id": record["id"], "name": record["name"], "problems": problems})
    return out


# -- saving a selection (`jupyter dsi select --save` and `%dsi select --save`) -----------------


def sampling_options(sample: float | None, size: int | None, seed: int | None) -> dict[str, Any] | None:
    """The sampling of ``--sample P | --size N [--seed S]``, or None for every simulation."""
    if seed is not None and sample is None and size is None:
        raise DatasetError("--seed only applies with --sample P or --size N")
    seed = 0 if seed is None else seed
    if sample is not None:
        return {"kind": "p", "p": sample, "seed": seed}
    if size is not None:
        return {"kind": "n", "n": size, "seed": seed}
    return None


def save_selection(
    db: Any,
    *,
    method: str | None,
    time: int | None,
    where: str,
    weights: Any,
    description: str,
    name: str,
    sample: float | None = None,
    size: int | None = None,
    seed: int | None = None,
    origin: str,
    store: Callable[[], Store] | None = None,
) -> tuple[dict[str, Any], int]:
    """Save the simulations ``select`` picks at ``time`` as a dataset: (its record, how many
    were selected before sampling). The options' names are those of the CLI and the magic.

    ``store``: gives the write-capable Store on ``db`` that the caller holds (the magic's one open
    per command), called once the options are checked; without it ``db`` is opened here then."""
    if time is None and method is None:
        time = 0  # a table of runs: its per-run values are at step 0
    if time is None:
        raise DatasetError("--save needs --time INDEX: a dataset is the simulations selected at one time step")
    if not description.strip():
        raise DatasetError(
            "--save needs a description: it is the record of why this training set exists "
            "(what it is for, why these simulations)"
        )
    sampling = sampling_options(sample, size, seed)
    if store is None:
        with Store(db) as opened:
            return _save_selected(opened, method, time, where, weights, description, name, sampling, origin)
    return _save_selected(store(), method, time, where, weights, description, name, sampling, origin)


def _save_selected(store: Store, method: str | None, time: int, where: str, weights: Any, description: str,
                   name: str, sampling: dict[str, Any] | None, origin: str) -> tuple[dict[str, Any], int]:
    from .query import select

    selection = select(store, method, time, where, weights)
    selected = sorted({row[0] for row in selection.rows})
    record = save_dataset(
        store,
        members=selected,
        description=description,
        name=name,
        method_id=None if selection.method is None else selection.method["id"],
        t=time,
        weights=selection.feature,
        filter=where,
        selection_kind="filter",
        sampling=sampling,
        settings={"version": 1, "origin": origin},
    )
    return record, len(selected)


def saved_message(record: dict[str, Any], selected: int) -> str:
    return (
        f"saved dataset {record['name']!r}: {record['size']} of {selected} selected simulations; "
        f"digest {record['digest']}"
    )

"""Reading simulation files fast: one read per file, deflate members inflated on threads.

``np.load`` inflates an ``.npz`` member through :mod:`zipfile`'s streaming reader: Python code
per chunk, the GIL taken back between chunks, and a copy of each chunk into the array. Here a file
is read whole in one call, each member is inflated by one :func:`zlib.decompress` into a buffer of
its declared size (zlib releases the GIL, so threads inflate on every core at once) and the array
is a view of that buffer (``np.frombuffer``): no copy after the inflate. A stored (uncompressed)
member is a view of the file's bytes. The CRC of every member is checked, as zipfile does.

Anything this path does not handle (zip64, encryption, another compression, a member that is not
an ``.npy``, object arrays) and any file that fails a check is handed to
:func:`fields.read_fields`, which reads it the usual way and raises its usual error: the messages
for bad files do not depend on which path read them.

:func:`read_ahead` runs a loader over items on a thread pool and yields the results in order with a
bounded number loaded at once (memory stays bounded by a few simulations).
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import fields as _fields
from .fields import ARRAYS, Fields, FieldError, check_shapes, check_sizes, fields_of, read_fields

T = TypeVar("T")
R = TypeVar("R")

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED


class _Fallback(Exception):
    """This file is not for the fast path: read_fields reads it (and names what is wrong)."""


def default_threads() -> int:
    """One reader per core this process may run on: inflating is CPU-bound and releases the GIL."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _members(path: Path, data: bytes) -> Iterator[tuple[zipfile.ZipInfo, memoryview]]:
    """Each member's info and its raw (compressed) bytes, as views of ``data``."""
    import io

    view = memoryview(data)
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _Fallback from None
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (_STORED, _DEFLATED):
            raise _Fallback  # encrypted, or a compression zlib does not inflate
        offset = info.header_offset
        if offset + _LOCAL_HEADER.size > len(data):
            raise _Fallback
        fields = _LOCAL_HEADER.unpack_from(data, offset)
        if fields[0] != _LOCAL_SIGNATURE:
            raise _Fallback
        start = offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
        stop = start + info.compress_size
        if stop > len(data):
            raise _Fallback
        yield info, view[start:stop]


# Parsed .npy headers by their bytes: numpy parses one with ast.literal_eval (a compile, holding
# the GIL), and the files of one ensemble share a handful of headers.
_headers: dict[bytes, tuple[tuple[int, ...], bool, np.dtype, int]] = {}
_HEADERS_KEPT = 4096


def _npy_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) from the start of an .npy member."""
    known = _headers.get(head)
    if known is None:
        known = _parse_npy_header(head)
        if len(_headers) >= _HEADERS_KEPT:
            _headers.clear()
        _headers[head] = known
    return known


def _parse_npy_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    import io

    fh = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise _Fallback
    except (ValueError, EOFError, OSError):
        raise _Fallback from None
    if dtype.hasobject:
        raise _Fallback
    return tuple(int(n) for n in shape), bool(fortran), np.dtype(dtype), fh.tell()


def _header_length(head: bytes) -> int:
    """How many bytes an .npy header takes, from its first 12 bytes (magic, version, length)."""
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        raise _Fallback
    if head[6] == 1:
        return 10 + struct.unpack_from("<H", head, 8)[0]
    if len(head) < 12:
        raise _Fallback
    return 12 + struct.unpack_from("<I", head, 8)[0]


def _peek(info: zipfile.ZipInfo, raw: memoryview) -> bytes:
    """The member's .npy header, inflating only its start (shapes are checked before the data
    is allocated: a few KB of compressed zeros can declare gigabytes)."""
    if info.compress_type == _STORED:
        head = bytes(raw[:12])
        return bytes(raw[: _header_length(head)])
    inflater = zlib.decompressobj(-15)
    try:
        head = inflater.decompress(raw, 12)
        need = _header_length(head)
        while len(head) < need and inflater.unconsumed_tail:
            head += inflater.decompress(inflater.unconsumed_tail, need - len(head))
    except zlib.error:
        raise _Fallback from None
    if len(head) < need:
        raise _Fallback
    return head


def _inflate(info: zipfile.ZipInfo, raw: memoryview) -> bytes | memoryview:
    """The member's bytes (header and data), its CRC checked."""
    if info.compress_type == _STORED:
        out: bytes | memoryview = raw
    else:
        try:
            out = zlib.decompress(raw, -15, max(1, info.file_size))
        except zlib.error:
            raise _Fallback from None
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        raise _Fallback
    return out


def _read_npz(path: Path) -> Fields:
    with open(path, "rb") as fh:
        data = fh.read()
    members = {}
    layout = {}
    # Under a cap on array sizes (the server's), each header is inflated and checked before the
    # member: the size a zip declares is the writer's word. Without one (the CLI, notebooks) the
    # member is inflated whole and its header read from the result, saving an inflater per member.
    capped = getattr(_fields, "_limit", None) is not None
    for info, raw in _members(path, data):
        name = info.filename
        if not name.endswith(".npy"):
            raise _Fallback  # np.load would hand such a member back as bytes
        key = name[: -len(".npy")]
        if key not in ARRAYS:
            _npy_header(_peek(info, raw))  # read_fields reads every member's header too
            continue
        buf = None if capped else _inflate(info, raw)
        head = _peek(info, raw) if buf is None else bytes(buf[: _header_length(bytes(buf[:12]))])
        shape, fortran, dtype, offset = _npy_header(head)
        members[key] = (info, raw, buf, shape, fortran, dtype, offset)
        layout[key] = (shape, dtype)
    check_sizes(path, layout)  # FieldError: the same message read_fields gives
    shapes = {k: v[0] for k, v in layout.items()}
    check_shapes(path, shapes)
    arrays: dict[str, np.ndarray] = {}
    for key, (info, raw, buf, shape, fortran, dtype, offset) in members.items():
        count = math.prod(shape)  # Python ints: np.prod costs ~7 us a call, 6 calls a file
        if buf is None:
            buf = _inflate(info, raw)
        if len(buf) != offset + count * dtype.itemsize:
            raise _Fallback
        flat = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
        arrays[key] = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    for name in ("r", "z", "time", "shock", "edge"):
        values = arrays[name]
        # dtype.kind rather than np.issubdtype(np.number) (the same set: ints, floats, complex).
        if values.dtype.kind not in "iufc" or not np.isfinite(values).all():
            raise _Fallback
    density = arrays["density"]
    if density.dtype.kind not in "fiu" or not _density_ok(density):
        raise _Fallback
    return fields_of(arrays)


def _density_ok(density: np.ndarray) -> bool:
    """Finite and non-negative, in two vectorised reductions and no temporary: a NaN makes the
    minimum NaN, -inf or a negative value makes it negative, +inf makes the maximum infinite.
    (fields.check_density builds masks as large as the field; it runs only to name a bad cell.)"""
    if density.size == 0:
        return True
    low, high = density.min(), density.max()
    return bool(low >= 0) and bool(np.isfinite(high))


def read_simulation_file(path: Path) -> Fields:
    """:func:`fields.read_fields`, faster for ``.npz``; the same result and the same errors."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        try:
            return _read_npz(path)
        except _Fallback:
            pass
        except FieldError:
            pass  # read_fields raises it again, with the same words
        except OSError:
            pass
    return read_fields(path)


def inflate_only(path: Path) -> int:
    """Read one file and inflate its members, nothing else: the inflate limit's unit of work
    (bench/postprocess.py). Returns the bytes inflated."""
    with open(path, "rb") as fh:
        data = fh.read()
    return sum(len(_inflate(info, raw)) for info, raw in _members(Path(path), data))


def one_kernel_thread() -> None:
    """Numba's parallel kernels on this thread run on this thread alone (numba's setting is per
    thread). Reader threads are already one per core; a parallel kernel launched from one would
    wait on cores the other readers hold (measured on 2 busy cores: 114 us for a 40x32x64
    simulation alone, 0.8-5 ms parallel beside the readers)."""
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 -- no numba, or its threads cannot start: the kernel says so
        return  # itself when called, with its own message; a reader thread must not fail to start


def _reader_started(initializer: Callable[[], object] | None) -> None:
    one_kernel_thread()
    if initializer is not None:
        initializer()


def read_ahead(
    items: Iterable[T], load: Callable[[T], R], threads: int | None = None, depth: int | None = None,
    initializer: Callable[[], object] | None = None,
) -> Iterator[tuple[T, Future[R]]]:
    """``(item, done future)`` in the items' order, ``load(item)`` run on ``threads`` threads,
    at most ``depth`` loaded or loading at once (the memory bound). The caller takes
    ``future.result()`` (the item's error, raised there); stopping the iteration early (an error,
    a cancel) drops what has not started and waits for what has. A kernel called from ``load``
    runs single-threaded (:func:`one_kernel_thread`): the threads are the parallelism."""
    threads = threads or default_threads()
    depth = max(depth or 2 * threads, 1)
    queue = iter(items)
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix="jupyterlab-dsi-read", initializer=_reader_started,
        initargs=(initializer,),
    ) as pool:
        try:
            while True:
                while len(pending) < depth:
                    item = next(queue, _END)
                    if item is _END:
                        break
                    pending.append((item, pool.submit(load, item)))  # type: ignore[arg-type]
                if not pending:
                    return
                item, future = pending.popleft()
                wait([future])
                yield item, future
        finally:
            for _, future in pending:
                future.cancel()


_END: Any = object()

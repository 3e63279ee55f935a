"""One binary answer for arrays the panel draws (a field step, a scratch method's distances).

Layout, little-endian: ``uint32`` length of a UTF-8 JSON header, the header, zero padding to a
multiple of 4 bytes, then the float32 data, C order. The header says what the numbers are; it
always holds ``shape`` (the data's shape) and ``dtype`` ("float32"). JSON for the few names and
numbers, raw float32 for the many: 40k distances are 160 KB instead of ~1 MB of JSON text, and
the browser reads them as a Float32Array without parsing.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

CONTENT_TYPE = "application/vnd.jupyterlab-dsi.frame"


def encode(header: dict[str, Any], data: np.ndarray) -> bytes:
    """The frame of ``data`` (cast to float32) with ``header`` plus its shape and dtype."""
    values = np.ascontiguousarray(data, dtype="<f4")
    meta = dict(header, shape=list(values.shape), dtype="float32")
    text = json.dumps(meta, allow_nan=False, separators=(",", ":")).encode("utf-8")
    pad = (-(4 + len(text))) % 4
    return struct.pack("<I", len(text)) + text + b" " * pad + values.tobytes()


def decode(frame: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """(header, float32 array) of a frame; ValueError for anything that is not one."""
    if len(frame) < 4:
        raise ValueError("not a frame: shorter than its 4-byte header length")
    (length,) = struct.unpack_from("<I", frame, 0)
    start = 4 + length + ((-(4 + length)) % 4)
    if start > len(frame):
        raise ValueError(f"not a frame: a {length}-byte header in {len(frame)} bytes")
    header = json.loads(frame[4:4 + length].decode("utf-8"))
    shape = tuple(int(n) for n in header.get("shape", ()))
    expected = 4 * math.prod(shape)
    if len(frame) - start != expected:
        raise ValueError(f"not a frame: {len(frame) - start} data bytes for shape {shape} ({expected} expected)")
    return header, np.frombuffer(frame, dtype="<f4", offset=start).reshape(shape)

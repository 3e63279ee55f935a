"""The binary frame the panel reads: round trip, the shared vectors, and refusals."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from jupyterlab_dsi.frame_codec import decode, encode

VECTORS = json.loads((Path(__file__).parent / "vectors" / "frames.json").read_text())


def test_round_trip_keeps_header_shape_and_float32_values():
    data = np.linspace(-1, 1, 24).reshape(2, 3, 4)
    header, back = decode(encode({"sim_id": "sim7", "t": 5}, data))
    assert header == {"sim_id": "sim7", "t": 5, "shape": [2, 3, 4], "dtype": "float32"}
    np.testing.assert_array_equal(back, data.astype(np.float32))


def test_data_starts_on_a_four_byte_boundary_whatever_the_header_length():
    for name in ("", "a", "ab", "abc", "abcd"):
        frame = encode({"n": name}, np.ones(2))
        length = int.from_bytes(frame[:4], "little")
        assert (len(frame) - 8) % 4 == 0 and (4 + length + (-(4 + length)) % 4) == len(frame) - 8


@pytest.mark.parametrize("case", VECTORS, ids=range(len(VECTORS)))
def test_shared_vectors_decode_as_stored(case):
    """The same bytes tests/vectors/frames.json holds are what the TS decoder is tested on."""
    header, data = decode(base64.b64decode(case["base64"]))
    assert header == case["header"]
    for value, expected, special in zip(data.ravel(), case["values"], case["nonfinite"]):
        if special == "nan":
            assert np.isnan(value)
        elif special:
            assert value == (np.inf if special == "inf" else -np.inf)
        else:
            assert value == np.float32(expected)


@pytest.mark.parametrize("frame, message", [
    (b"\x01", "shorter than"),
    (b"\xff\x00\x00\x00{}", "header in"),
    (encode({}, np.ones(3))[:-1], "data bytes for shape"),
])
def test_bytes_that_are_not_a_frame_are_refused_in_one_line(frame, message):
    with pytest.raises(ValueError, match=message):
        decode(frame)

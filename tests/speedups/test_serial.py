"""The codec: orjson and the stdlib fallback write identical bytes and read the same values."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import uuid
from collections import namedtuple
from pathlib import PurePosixPath
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papyra import _serial
from papyra.address import ActorAddress
from papyra.persistence._records import json_default

BACKENDS = _serial.available_backends()
needs_both = pytest.mark.skipif(len(BACKENDS) < 2, reason="orjson is not installed")


def encode_both(obj: Any, default: Any = json_default) -> list[bytes]:
    out = []
    for name in BACKENDS:
        previous = _serial.set_backend(name)
        try:
            out.append(_serial.encode_line(obj, default))
        finally:
            _serial.set_backend(previous)
    return out


def same_bytes(obj: Any, default: Any = json_default) -> bytes:
    lines = encode_both(obj, default)
    assert all(line == lines[0] for line in lines), lines
    return lines[0]


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):
    FAST = "fast"


Point = namedtuple("Point", "x y")


@dataclasses.dataclass
class Payload:
    a: int
    _hidden: str = "kept"


# The pinned differences between orjson and json, and how both paths resolve them.
PINNED = [
    (float("nan"), b"null\n"),
    (float("inf"), b"null\n"),
    (-float("inf"), b"null\n"),
    (2**64 - 1, b"18446744073709551615\n"),
    (-(2**63), b"-9223372036854775808\n"),
    (2**64, b'"18446744073709551616"\n'),
    (-(2**63) - 1, b'"-9223372036854775809"\n'),
    ({2: "a", True: "b", None: "c", 1.5: "d"}, b'{"2":"a","true":"b","null":"c","1.5":"d"}\n'),
    ({Mode.FAST: 1, Level.HIGH: 2}, b'{"fast":1,"3":2}\n'),
    ({(1, 2): 0}, b'{"(1, 2)":0}\n'),
    ({float("nan"): 0}, b'{"NaN":0}\n'),
    ("a\ud800b", '"a\ufffdb"\n'.encode()),
    (1e-7, b"1e-7\n"),
    (1e-5, b"0.00001\n"),
    (-1.5e-5, b"-0.000015\n"),
    (1e16, b"1e+16\n"),
    (0.1, b"0.1\n"),
    (-0.0, b"-0.0\n"),
    (Color.RED, b'"red"\n'),
    (Level.HIGH, b"3\n"),
    (Mode.FAST, b'"fast"\n'),
    (Point(1, 2), b"[1,2]\n"),
    ((1, (2,)), b"[1,[2]]\n"),
    (Payload(1), b'{"a":1,"_hidden":"kept"}\n'),
    (ActorAddress("local", 1), b'{"system":"local","actor_id":1}\n'),
    (PurePosixPath("/tmp/x"), b'"/tmp/x"\n'),
    (datetime.datetime(2020, 1, 2, 3, 4, 5), b'"2020-01-02 03:04:05"\n'),
    (uuid.UUID(int=1), b'"00000000-0000-0000-0000-000000000001"\n'),
    (frozenset(), b'"frozenset()"\n'),
    ("é\u2028\x00\x1f\"\\", '"é\u2028\\u0000\\u001f\\"\\\\"\n'.encode()),
    ({"kind": "event", "payload": {}}, b'{"kind":"event","payload":{}}\n'),
]


@pytest.mark.parametrize(("value", "expected"), PINNED, ids=[repr(v)[:30] for v, _ in PINNED])
def test_pinned_cases_encode_identically(value: Any, expected: bytes) -> None:
    assert same_bytes(value) == expected


@pytest.mark.parametrize("codec_name", BACKENDS)
def test_depth_limit_is_orjsons(codec_name: str) -> None:
    deep: Any = 1
    for _ in range(254):
        deep = [deep]
    previous = _serial.set_backend(codec_name)  # type: ignore[arg-type]
    try:
        assert _serial.encode_line(deep).startswith(b"[" * 254 + b"1")
        with pytest.raises(TypeError):
            _serial.encode_line([deep])
    finally:
        _serial.set_backend(previous)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError):
        _serial.set_backend("simdjson")  # type: ignore[arg-type]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.tuples(children, children)
    | st.dictionaries(
        st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.none(), st.floats()),
        children,
        max_size=4,
    ),
    max_leaves=20,
)


@needs_both
@settings(max_examples=400, deadline=None)
@given(json_values)
def test_encoders_agree_on_any_value(value: Any) -> None:
    line = same_bytes({"kind": "event", "payload": value})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    # The line is strict JSON for orjson.
    assert orjson.loads(line)["kind"] == "event"


@needs_both
@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_with_identical_text(x: float) -> None:
    line = same_bytes(x)
    assert orjson.loads(line) == x
    assert math.copysign(1.0, orjson.loads(line)) == math.copysign(1.0, x)


DECODE_CASES = [
    b'{"a":1}',
    b'  {"kind": "event", "timestamp": 1}\r',
    b"[1,2]",
    b"123",
    b'"x"',
    b"",
    b"   ",
    b"{",
    b'{"a":NaN}',
    b"Infinity",
    b"\xef\xbb\xbf{}",
    b'{"a":"\xff"}',
    b"1e400",
    b'{"a":1} x',
    b'{"a":1}{"b":2}',
    b"\x0c{}",
    b'{"a":1,"a":2}',
    b"18446744073709551616",
    b"-0",
]


@needs_both
@pytest.mark.parametrize("data", DECODE_CASES)
def test_decoders_agree(data: bytes) -> None:
    results = []
    for name in BACKENDS:
        previous = _serial.set_backend(name)
        try:
            try:
                results.append(("ok", _serial.decode(data)))
            except ValueError:
                results.append(("error", None))
        finally:
            _serial.set_backend(previous)
    assert results[0] == results[1]


def test_known_decoder_difference_lone_surrogate_escape() -> None:
    """Pinned, not resolved: json accepts a ``\\ud800`` escape, orjson rejects it."""
    data = b'{"a":"\\ud800"}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(data)
    previous = _serial.set_backend("json")
    try:
        assert _serial.decode(data) == {"a": "\ud800"}
    finally:
        _serial.set_backend(previous)

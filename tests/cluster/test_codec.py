"""``JsonCodec``: every kind of value it carries comes back as what it was, and what it cannot
carry fails at encode with the fix in the message. No server needed."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import pytest

from papyra.cluster import JsonCodec
from papyra.exceptions import MessageNotSerializable
from papyra.system import STOP


@dataclasses.dataclass(frozen=True)
class Deposit:
    account: str
    amount: int
    tags: tuple[str, ...] = ()


class Color(enum.Enum):
    RED = "red"


def _no_refs(obj: Any) -> str | None:
    return None


def _round_trip(codec: JsonCodec, value: Any) -> Any:
    return codec.decode(codec.encode(value, _no_refs), lambda uri: ("ref", uri))


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", [1, "a", None], {"a": {"b": [1, 2]}},
    {"$p": "a plain dict whose key is the tag"}, "$p", ["$p"], {"k": "$p"},
    (1, (2, "x")), b"\x00\xffbytes", {"nested": (b"x", [(1,)])},
])
def test_values_come_back_as_they_were(value: Any) -> None:
    back = _round_trip(JsonCodec(), value)
    assert back == value
    assert type(back) is type(value)


def test_registered_dataclasses_and_enums_come_back_and_stop_stays_stop() -> None:
    codec = JsonCodec()
    codec.register(Deposit)
    codec.register(Color)
    value = {"d": Deposit("acc", 5, ("x",)), "c": Color.RED, "s": STOP}
    back = _round_trip(codec, value)
    assert back == value
    assert back["s"] is STOP and type(back["d"].tags) is tuple


def test_what_cannot_be_carried_fails_at_encode_naming_the_fix() -> None:
    codec = JsonCodec()
    with pytest.raises(MessageNotSerializable, match=r"codec\.register\(Deposit\)"):
        codec.encode({"d": Deposit("acc", 1)}, _no_refs)
    with pytest.raises(MessageNotSerializable, match="not a str"):
        codec.encode({1: "int key"}, _no_refs)
    with pytest.raises(MessageNotSerializable, match="cannot encode"):
        codec.encode(2**70, _no_refs)


def test_nan_and_the_infinities_come_back_as_themselves() -> None:
    codec = JsonCodec()
    value = codec.decode(codec.encode(
        {"x": [math.inf, -math.inf, math.nan, 1.5], "y": (math.nan,)}, _no_refs
    ), _no_refs)
    assert value["x"][:2] == [math.inf, -math.inf] and value["x"][3] == 1.5
    assert math.isnan(value["x"][2]) and math.isnan(value["y"][0])
    assert type(value["y"]) is tuple


@pytest.mark.parametrize("depth", [300, 100_000])
def test_a_message_nested_too_deeply_fails_at_encode(depth: int) -> None:
    message: Any = "leaf"
    for _ in range(depth):
        message = [message]
    with pytest.raises(MessageNotSerializable, match="cannot encode the message"):
        JsonCodec().encode(message, _no_refs)


def test_a_type_the_receiver_did_not_register_fails_at_decode() -> None:
    sender, receiver = JsonCodec(), JsonCodec()
    sender.register(Deposit)
    data = sender.encode(Deposit("acc", 1), _no_refs)
    with pytest.raises(MessageNotSerializable, match="not registered"):
        receiver.decode(data, lambda uri: uri)

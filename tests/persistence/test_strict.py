"""``strict=True``: values without a JSON form are refused, in every backend, with one rule.

The rule lives in ``papyra.persistence._records`` (``strict_default``, ``strict_error``,
``check_strict``); the backends only choose their hook with ``json_default_for(strict)``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from papyra import _serial
from papyra.address import ActorAddress
from papyra.persistence._records import (
    check_strict,
    json_default,
    json_default_for,
    strict_default,
)
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.redis import RedisStreamsPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedDeadLetter, PersistedEvent
from tests.redis_server import redis_backend

pytestmark = pytest.mark.anyio


@dataclasses.dataclass
class Point:
    x: int
    y: Any = None


class Color(enum.Enum):
    RED = "red"


def test_strict_default_keeps_the_structured_conversions_only() -> None:
    assert strict_default(ActorAddress("a", 3)) == {"system": "a", "actor_id": 3}
    assert strict_default(Point(1, 2)) == {"x": 1, "y": 2}
    assert strict_default(PurePosixPath("a/b")) == "a/b"
    for value in (datetime.date(2020, 1, 2), {1, 2}, object(), decimal.Decimal("1.5"), Point):
        with pytest.raises(TypeError, match="has no JSON form"):
            strict_default(value)
    assert json_default_for(True) is strict_default
    assert json_default_for(False) is json_default


def test_strict_default_refuses_object_keys_on_both_codecs(codec: str) -> None:
    record = {"payload": {(1, 2): 0}}
    assert _serial.encode_line(record, json_default) == b'{"payload":{"(1, 2)":0}}\n'
    with pytest.raises(TypeError, match="tuple has no JSON form"):
        _serial.encode_line(record, strict_default)
    # Keys JSON writers convert by themselves stay accepted; so do dataclass and path keys.
    fine = {"payload": {2: 0, True: 1, None: 2, 1.5: 3, Color.RED: 4, Path("p"): 5}}
    assert _serial.encode_line(fine, strict_default) == (
        b'{"payload":{"2":0,"true":1,"null":2,"1.5":3,"red":4,"p":5}}\n'
    )


# -- the three backends -------------------------------------------------------------------------

Make = Callable[..., Any]


@pytest.fixture(params=["memory", "json", "rotating", "redis"])
async def make(request: pytest.FixtureRequest, tmp_path: Path, impl: Any) -> AsyncIterator[Make]:
    made: list[Any] = []

    def factory(*, strict: bool, name: str = "log") -> Any:
        path = tmp_path / f"{name}.ndjson"
        backend: Any
        if request.param == "memory":
            backend = InMemoryPersistence(strict=strict)
        elif request.param == "json":
            backend = JsonFilePersistence(path, strict=strict, _ndjson=impl.ndjson)
        elif request.param == "rotating":
            backend = RotatingFilePersistence(
                path, max_bytes=200, strict=strict, _ndjson=impl.ndjson
            )
        else:  # a real server: tests/redis_server.py
            backend = redis_backend(strict=strict, _ndjson=impl.ndjson)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.aclose()


async def stored_bytes(backend: Any) -> bytes:
    """What a file or Redis backend holds, byte for byte."""
    if isinstance(backend, RedisStreamsPersistence):
        entries = await backend._redis.xrange(backend._events_key)
        return b"\n".join(fields["data"].encode() for _, fields in entries)
    return bytes(backend.path.read_bytes())


REFUSED = [
    ({"when": datetime.datetime(2020, 1, 2)}, r"payload\['when'\]: datetime\.datetime"),
    ({"a": [1, {"tags": {"x"}}]}, r"payload\['a'\]\[1\]\['tags'\]: set"),
    ({"p": Point(1, decimal.Decimal(2))}, r"payload\['p'\]\.y: decimal\.Decimal"),
    ({object(): 1}, r"payload \(a dict key\): object"),
]


@pytest.mark.parametrize(("payload", "where"), REFUSED)
async def test_strict_refuses_values_without_a_json_form_and_stores_nothing(
    make: Make, codec: str, payload: dict[Any, Any], where: str
) -> None:
    backend = make(strict=True)
    assert backend.strict
    with pytest.raises(TypeError, match=f"event record with strict=True: {where} has no JSON"):
        await backend.record_event({"event_type": "x", "payload": payload, "timestamp": 1.0})
    with pytest.raises(TypeError, match=where):
        backend.record_nowait("event", {"payload": payload, "timestamp": 2.0})
    with pytest.raises(TypeError, match="dead_letter record with strict=True"):
        await backend.record_dead_letter(PersistedDeadLetter("local", None, "X", payload, 3.0))
    await backend.flush()
    assert await backend.list_events() == ()
    assert await backend.list_dead_letters() == ()
    assert backend.metrics.write_errors == 3 and backend.metrics.records_written == 0


async def test_strict_still_converts_dataclasses_addresses_and_paths(
    make: Make, codec: str
) -> None:
    payload = {
        "who": ActorAddress("local", 7),
        "where": Point(1, Path("/tmp/x")),
        "tags": ("a", Color.RED),
        "id": uuid.UUID(int=1),
        "n": [1.5, None, True],
    }
    strict, lenient = make(strict=True, name="strict"), make(strict=False, name="lenient")
    record = PersistedEvent("local", ActorAddress("local", 7), "x", payload, 1.0)
    for backend in (strict, lenient):
        await backend.record_event(record)
    stored = await strict.list_events()
    assert stored == await lenient.list_events()
    if isinstance(strict, InMemoryPersistence):
        assert stored[0] is record  # checked, then kept as the object itself
    else:
        assert await stored_bytes(strict) == await stored_bytes(lenient)
        assert stored[0].payload["where"] == {"x": 1, "y": "/tmp/x"}


async def test_without_strict_unknown_values_are_written_as_their_text(
    make: Make, codec: str
) -> None:
    backend = make(strict=False)
    assert not backend.strict
    when = datetime.datetime(2020, 1, 2, 3, 4, 5)
    await backend.record_event({"payload": {"when": when, object: 1}, "timestamp": 1.0})
    (event,) = await backend.list_events()
    if isinstance(backend, InMemoryPersistence):
        assert event.payload["when"] is when
    else:
        assert event.payload == {"when": "2020-01-02 03:04:05", str(object): 1}


async def test_strict_memory_refuses_what_no_file_backend_stores() -> None:
    lenient, strict = InMemoryPersistence(), InMemoryPersistence(strict=True)
    odd = object()
    await lenient.record_event(odd)
    assert lenient.events == (odd,)  # stored as given (0.3.0, tests rely on it)
    with pytest.raises(TypeError, match="must be a PersistedEvent or a mapping"):
        await strict.record_event(odd)
    assert strict.events == () and strict.metrics.write_errors == 1


def test_check_strict_names_the_kind_and_passes_good_records() -> None:
    check_strict("event", PersistedEvent("local", "local:1", "x", {"a": [1]}, 1.0))
    with pytest.raises(TypeError, match="must be a PersistedAudit"):
        check_strict("audit", {"not": "a model"})

"""System facts take their place in the log when they happen, before records actors write.

Checked for the built-in backends and for two third-party ones: a ``PersistenceBackend``
subclass that only implements ``record_*``, and a duck-typed object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import orjson
import pytest

from papyra.actor import Actor
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Counter(Actor):
    """The quickstart's pattern: an actor writing its own facts to the system's backend."""

    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Any) -> Any:
        self.total += message
        await self.context.system.persistence.record_event(
            {
                "system_id": "local",
                "actor_address": self.context.self_ref.address,
                "event_type": "counter.incremented",
                "payload": {"value": message, "total": self.total},
                "timestamp": self.context.system.clock.now(),
            }
        )
        return self.total


async def _run(system: ActorSystem) -> None:
    async with system:
        counter = system.spawn(Counter, name="counter")
        await counter.tell(5)
        await counter.tell(2)


async def test_json_file_holds_facts_in_the_order_they_happened(impl: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    await _run(ActorSystem(persistence=JsonFilePersistence(path), _dispatch=impl.dispatch))
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [(r["event_type"], r["actor_address"]) for r in lines] == [
        ("ActorStarted", "local:1"),
        ("counter.incremented", "local:1"),
        ("counter.incremented", "local:1"),
        ("ActorStopped", "local:1"),
    ]
    assert [r["payload"]["total"] for r in lines[1:3]] == [5, 7]


async def test_memory_backend_holds_facts_in_the_order_they_happened(impl: Any) -> None:
    backend = InMemoryPersistence()
    await _run(ActorSystem(persistence=backend, _dispatch=impl.dispatch))
    assert [e.event_type for e in await backend.list_events()] == [
        "ActorStarted",
        "counter.incremented",
        "counter.incremented",
        "ActorStopped",
    ]


# -- third-party backends ----------------------------------------------------------------------


def _event_type(record: Any) -> str:
    """The event type of a stored record: facts arrive as models, actor writes as mappings."""
    if isinstance(record, dict):
        return str(record["event_type"])
    return str(record.event_type)


class ThirdPartyBackend(PersistenceBackend):
    """A backend written against the base class: only ``record_*``, no write protocol of its own.

    Each write yields to the scheduler first, as a backend doing real I/O would.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[Any] = []

    async def record_event(self, event: Any) -> None:
        await anyio.lowlevel.checkpoint()
        self.stored.append(event)


class DuckTypedBackend:
    """A backend that is not a ``PersistenceBackend``: ``record_*`` and ``aclose`` only."""

    def __init__(self) -> None:
        self.stored: list[Any] = []

    async def record_event(self, event: Any) -> None:
        await anyio.lowlevel.checkpoint()
        self.stored.append(event)

    async def record_audit(self, report: Any) -> None:
        await anyio.lowlevel.checkpoint()

    async def record_dead_letter(self, dead_letter: Any) -> None:
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await anyio.lowlevel.checkpoint()


FACT_ORDER = ["ActorStarted", "counter.incremented", "counter.incremented", "ActorStopped"]


async def test_third_party_subclass_backend_holds_facts_in_the_order_they_happened(
    impl: Any,
) -> None:
    backend = ThirdPartyBackend()
    system = ActorSystem(persistence=backend, _dispatch=impl.dispatch)
    assert system.persistence is backend
    await _run(system)
    assert [_event_type(r) for r in backend.stored] == FACT_ORDER


async def test_duck_typed_backend_holds_facts_in_the_order_they_happened(impl: Any) -> None:
    backend = DuckTypedBackend()
    system = ActorSystem(persistence=backend, _dispatch=impl.dispatch)  # type: ignore[arg-type]
    assert system.persistence is backend  # the user's own object, not an adapter
    await _run(system)
    assert type(backend) is DuckTypedBackend
    assert [_event_type(r) for r in backend.stored] == FACT_ORDER

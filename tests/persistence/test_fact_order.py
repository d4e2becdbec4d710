"""System facts take their place in the log when they happen, before records actors write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from papyra.actor import Actor
from papyra.persistence.backends.memory import InMemoryPersistence
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

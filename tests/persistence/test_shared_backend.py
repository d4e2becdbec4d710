"""One backend object serving several systems one after another (docs/persistence.md, "One
backend, several systems"): closing a system closes its backend, and the next system's first
write reopens it. 0.3.0 dropped every later write silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem
from tests.redis_server import redis_backend

Factory = Callable[[Path], Any]

BACKENDS: dict[str, Factory] = {
    "memory": lambda tmp: InMemoryPersistence(),
    "json": lambda tmp: JsonFilePersistence(tmp / "facts.ndjson"),
    "json-always": lambda tmp: JsonFilePersistence(tmp / "facts.ndjson", fsync="always"),
    "rotating": lambda tmp: RotatingFilePersistence(tmp / "facts.ndjson", max_bytes=600),
    "redis": lambda tmp: redis_backend(),  # a real server: see tests/redis_server.py
}


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def run_system(backend: Any, system_id: str, dispatch: Any = None) -> None:
    """Start, spawn, ask, stop an actor, leave a dead letter, close."""
    async with ActorSystem(system_id=system_id, persistence=backend, _dispatch=dispatch) as system:
        ref = system.spawn(Echo)
        assert await ref.ask("hi") == "hi"
        await system.stop(ref)
        try:
            await ref.tell("late")
        except Exception:
            pass


async def facts(backend: Any) -> list[tuple[str, str]]:
    events = [(e.system_id, e.event_type) for e in await backend.list_events()]
    letters = [(d.system_id, "dead letter") for d in await backend.list_dead_letters()]
    return events + letters


EXPECTED = [
    ("one", "ActorStarted"),
    ("one", "ActorStopped"),
    ("two", "ActorStarted"),
    ("two", "ActorStopped"),
    ("one", "dead letter"),
    ("two", "dead letter"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_the_second_system_on_a_backend_has_its_facts_stored(
    impl: Any, tmp_path: Path, kind: str
) -> None:
    backend = BACKENDS[kind](tmp_path)
    await run_system(backend, "one", impl.dispatch)
    assert backend.closed  # aclose() of the system closed it
    await run_system(backend, "two", impl.dispatch)
    assert backend.closed
    assert await facts(backend) == EXPECTED
    assert backend.metrics.records_written == 6 and backend.metrics.write_errors == 0
    await backend.aclose()  # the reads reopened it (Redis: a connection)


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_one_backend_serves_a_system_on_asyncio_then_one_on_trio(
    tmp_path: Path, kind: str
) -> None:
    """Nothing bound to the first event loop (a lock, say) survives the reopening."""
    backend = BACKENDS[kind](tmp_path)
    anyio.run(run_system, backend, "one", backend="asyncio")
    anyio.run(run_system, backend, "two", backend="trio")
    assert anyio.run(facts, backend, backend="asyncio") == EXPECTED
    anyio.run(backend.aclose, backend="asyncio")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_a_direct_write_after_close_reopens_and_is_stored(
    tmp_path: Path, kind: str
) -> None:
    backend = BACKENDS[kind](tmp_path)
    await backend.record_event({"system_id": "a", "event_type": "first", "timestamp": 1.0})
    await backend.aclose()
    assert backend.closed
    await backend.record_event({"system_id": "a", "event_type": "second", "timestamp": 2.0})
    assert not backend.closed
    assert [e.event_type for e in await backend.list_events()] == ["first", "second"]
    await backend.aclose()

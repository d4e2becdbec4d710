"""Nothing grows without bound: event log, dead letters, terminated actors."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.events import ActorStarted
from papyra.exceptions import ActorStopped
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def _spawn_and_stop(system: ActorSystem, count: int, *, remaining: int = 0) -> None:
    """Spawn and stop ``count`` actors, returning once only ``remaining`` actors still run."""
    start = system._facts.events_total
    for _ in range(count):
        await system.stop(system.spawn(Echo))
    while system._lifecycle.running > remaining:
        await system.wait_for_event(
            lambda e: type(e).__name__ == "ActorStopped", start_index=start, timeout=30
        )
        start = system._facts.events_total


async def test_event_log_keeps_the_newest(make_system: Callable[..., Any]) -> None:
    class Hooks:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def on_event(self, event: Any) -> None:
            self.events.append(event)

    hooks = Hooks()
    system = await make_system(max_events=5, hooks=hooks)
    refs = [system.spawn(Echo) for _ in range(8)]
    for ref in refs:
        await ref.ask("sync")
    assert len(hooks.events) == 8
    assert system.events() == tuple(hooks.events[-5:])
    # Indices for wait_for_event count every event ever emitted.
    found = await system.wait_for_event(ActorStarted, start_index=7)
    assert found is hooks.events[7]
    with pytest.raises(TimeoutError):
        await system.wait_for_event(ActorStarted, start_index=8, timeout=0.01)


async def test_dead_letters_keep_the_newest(make_system: Callable[..., Any]) -> None:
    system = await make_system(max_dead_letters=3)
    ref = system.spawn(Echo)
    await system.stop(ref)
    for i in range(10):
        with pytest.raises(ActorStopped):
            await ref.tell(i)
    assert [d.message for d in system.dead_letters.messages] == [7, 8, 9]
    assert system.audit().dead_letters_count == 3


async def test_terminated_records_are_released_beyond_the_retention(
    make_system: Callable[..., Any],
) -> None:
    system = await make_system(retain_terminated=4)
    keeper = system.spawn(Echo, name="keeper")
    await _spawn_and_stop(system, 20, remaining=1)
    assert len(system._by_id) == 5  # the live actor and the 4 newest terminated ones
    assert system.list_actors()[0] == keeper.address
    report = system.audit()
    assert report.total_actors == 21
    assert report.alive_actors == 1
    released: list[str] = []
    for rid in range(2, 22):
        try:
            system.actor_info(rid)
        except ActorStopped as exc:
            released.append(str(exc))
    assert released == ["Actor does not exist."] * 16


async def test_children_lists_do_not_grow_with_short_lived_children(
    make_system: Callable[..., Any],
) -> None:
    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            child = self.context.spawn_child(Echo)
            await self.context.stop(child)
            return None

    system = await make_system(retain_terminated=2)
    parent = system.spawn(Parent)
    for _ in range(10):
        await parent.ask("spawn a child")
    while system._lifecycle.running > 1:
        await anyio.wait_all_tasks_blocked()
    assert len(system.actor_info(parent).children_rids) <= 2


@pytest.mark.slow
async def test_ten_thousand_spawned_and_stopped_actors_leave_memory_flat(
    impl: Any, anyio_backend: str
) -> None:
    async with ActorSystem(_dispatch=impl.dispatch) as system:
        await _spawn_and_stop(system, 10_000)  # warm-up: fills every bounded buffer
        await anyio.wait_all_tasks_blocked()  # the persistence writer has caught up
        gc.collect()
        before = sys.getallocatedblocks()
        await _spawn_and_stop(system, 10_000)
        await anyio.wait_all_tasks_blocked()
        gc.collect()
        after = sys.getallocatedblocks()
        assert system.audit(include_actor_details=False).total_actors == 20_000
    # Keeping each actor's record would cost dozens of blocks per actor (>= 200,000 here).
    assert after - before < 5_000, f"{after - before} more memory blocks in use"

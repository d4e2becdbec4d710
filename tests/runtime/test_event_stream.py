"""Following events: ``events_total`` as a start index, ``wait_for_event`` and ``subscribe()``.

A subscription reads the system's bounded event buffer through its own cursor: every event is
yielded once, in order; a consumer that falls behind by more than ``max_events`` gets one
``MissedEvents`` with the count it lost; the iteration ends once the system has closed.
"""

from __future__ import annotations

import inspect
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.events import ActorEvent, ActorStarted, EventSubscription, MissedEvents
from papyra.exceptions import EventNotEmitted
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.startup import PersistenceStartupConfig
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


def started_by(ref: Any) -> Any:
    address = ref.address.to_dict()
    return lambda e: isinstance(e, ActorStarted) and e.address == address


async def collect(subscription: EventSubscription) -> list[ActorEvent | MissedEvents]:
    return [item async for item in subscription]


# -- events_total and wait_for_event --------------------------------------------------------------


async def test_events_total_counts_every_event_ever_emitted(make_system: Any) -> None:
    system = await make_system(max_events=2)
    assert system.events_total == 0
    for _ in range(3):
        ref = system.spawn(Echo)
        await system.wait_for_event(started_by(ref), start_index=system.events_total, timeout=5)
    assert system.events_total == 3
    assert len(system.events()) == 2


async def test_events_total_is_a_start_index_for_new_events_only(system: ActorSystem) -> None:
    first = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    mark = system.events_total
    assert mark == 1

    second = system.spawn(Echo)
    event = await system.wait_for_event(ActorStarted, start_index=mark, timeout=5)

    assert event.address == second.address.to_dict() != first.address.to_dict()


def test_wait_for_event_times_out_after_one_second_by_default() -> None:
    parameter = inspect.signature(ActorSystem.wait_for_event).parameters["timeout"]
    assert parameter.default == 1.0


async def test_wait_for_event_raises_timeout_error(system: ActorSystem) -> None:
    with pytest.raises(TimeoutError):
        await system.wait_for_event(ActorStarted, timeout=0)


async def test_wait_for_event_on_a_closed_system_ends_at_once(make_system: Any) -> None:
    system = await make_system()
    ref = system.spawn(Echo)
    await system.aclose()
    # A retained event is still found ...
    assert await system.wait_for_event(started_by(ref), timeout=None)
    # ... but one that can no longer come ends the wait now, even without a timeout.
    with anyio.fail_after(5), pytest.raises(EventNotEmitted, match="has closed"):
        await system.wait_for_event(lambda e: False, timeout=None)
    with pytest.raises(TimeoutError):  # what 0.3.0 code catches
        await system.wait_for_event(lambda e: False, start_index=system.events_total)


async def test_a_wait_in_progress_ends_when_the_system_closes(make_system: Any) -> None:
    system = await make_system()
    outcome: list[BaseException] = []

    async def waiter() -> None:
        try:
            await system.wait_for_event(lambda e: False, timeout=None)
        except EventNotEmitted as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            await system.aclose()
    assert len(outcome) == 1


# -- subscribe() ----------------------------------------------------------------------------------


async def test_a_subscription_yields_the_events_after_it_in_order_then_ends(
    make_system: Any,
) -> None:
    system = await make_system()
    early = system.spawn(Echo)
    await system.wait_for_event(started_by(early), timeout=5)
    subscription = system.subscribe()
    assert subscription.next_index == 1

    refs = [system.spawn(Echo, name=f"e{i}") for i in range(3)]
    await system.aclose()

    items = await collect(subscription)
    assert items == list(system.events())[1:]
    assert len(items) == 7  # three starts, four stops (``early`` too)
    assert subscription.next_index == system.events_total == 8
    assert {e.address["actor_id"] for e in items if isinstance(e, ActorStarted)} == {
        r._rid for r in refs
    }


async def test_a_concurrent_subscriber_sees_every_event_exactly_once(make_system: Any) -> None:
    system = await make_system(start=False)
    subscription = system.subscribe()
    received: list[Any] = []

    async def consume() -> None:
        async for item in subscription:
            received.append(item)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await system.start()
            for _ in range(5):
                refs = [system.spawn(Echo) for _ in range(20)]
                for ref in refs:
                    await system.stop(ref)
                await anyio.wait_all_tasks_blocked()
            await system.aclose()  # the consumer's loop ends on its own

    assert received == list(system.events())
    assert len(received) == 200
    assert not any(isinstance(item, MissedEvents) for item in received)


async def test_a_slow_subscriber_is_told_how_many_events_it_missed(make_system: Any) -> None:
    system = await make_system(max_events=4)
    subscription = system.subscribe()
    for _ in range(5):
        system.spawn(Echo)
    await system.aclose()  # ten events, of which the buffer keeps the last four
    assert system.events_total == 10

    items = await collect(subscription)

    assert items[0] == MissedEvents(count=6, start_index=0)
    assert items[1:] == list(system.events())
    assert len(items) == 5


async def test_a_subscriber_behind_a_discarding_buffer_resumes_at_the_oldest_event(
    make_system: Any,
) -> None:
    system = await make_system(max_events=3)
    refs = [system.spawn(Echo) for _ in range(2)]
    subscription = system.subscribe(start_index=0)
    await system.wait_for_event(started_by(refs[1]), timeout=5)
    first = await subscription.__anext__()
    assert first == system.events()[0]

    for ref in refs:
        await system.stop(ref)
    await system.aclose()  # four events in all; the buffer holds indices 1..3

    assert await collect(subscription) == list(system.events())
    assert subscription.next_index == 4

    late = system.subscribe(start_index=0)
    assert await late.__anext__() == MissedEvents(count=1, start_index=0)


async def test_a_waiting_subscriber_ends_when_the_system_closes(make_system: Any) -> None:
    system = await make_system(start=False)
    done = anyio.Event()

    async def consume() -> None:
        assert await collect(system.subscribe()) == []
        done.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await system.start()
            await anyio.wait_all_tasks_blocked()
            assert not done.is_set()
            await system.aclose()
    assert done.is_set()


async def test_a_subscription_made_after_close_replays_then_ends(make_system: Any) -> None:
    system = await make_system()
    system.spawn(Echo)
    await system.aclose()
    assert await collect(system.subscribe()) == []
    assert await collect(system.subscribe(start_index=0)) == list(system.events())


async def test_a_failed_start_ends_subscriptions() -> None:
    class Unreadable(InMemoryPersistence):
        async def scan(self) -> Any:
            raise OSError("disk gone")

    system = ActorSystem(
        persistence=Unreadable(),
        persistence_startup=PersistenceStartupConfig(mode="fail_on_anomaly"),
    )
    subscription = system.subscribe()
    with pytest.raises(OSError, match="disk gone"):
        await system.start()
    with anyio.fail_after(5):
        assert await collect(subscription) == []


async def test_subscribe_checks_its_start_index(system: ActorSystem) -> None:
    with pytest.raises(TypeError):
        system.subscribe(start_index="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        system.subscribe(start_index=True)
    with pytest.raises(ValueError):
        system.subscribe(start_index=-1)


async def test_nobody_waits_once_every_subscriber_has_stopped(system: ActorSystem) -> None:
    subscription = system.subscribe()
    with anyio.move_on_after(0):
        await subscription.__anext__()  # cancelled while waiting
    ref = system.spawn(Echo)
    await system.wait_for_event(started_by(ref), timeout=5)
    assert system._facts.event_waiters == []

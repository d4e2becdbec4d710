"""Idle actors hold no task (docs/runtime.md, "Idle actors hold no task").

An actor is scheduled only while it has work. These tests check what a user relies on when
actors go dormant and come back: state, order, start and stop, supervision, context variables,
and that a system that had many actors gives their memory back.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from papyra.actor import Actor
from papyra.events import ActorStarted, ActorStopped
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem
from tests.conftest import MakeSystem

pytestmark = pytest.mark.anyio

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Tally(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return list(self.seen)


def cell_of(system: ActorSystem, ref: Any) -> Any:
    cell = system._lifecycle.cell_of(ref)
    assert cell is not None
    return cell


async def settle() -> None:
    await anyio.wait_all_tasks_blocked()
    await checkpoint()
    await anyio.wait_all_tasks_blocked()


async def test_an_idle_actor_holds_no_task_and_keeps_its_state(system: ActorSystem) -> None:
    ref = system.spawn(Tally)
    await settle()
    cell = cell_of(system, ref)
    assert cell.task is None  # dormant from the start: no on_start of its own

    await ref.tell("a")
    await settle()
    assert cell.task is None  # handled, then dormant again
    await ref.tell("b")
    assert await ref.ask("c") == ["a", "b", "c"]  # the same instance, in order


async def test_many_dormant_actors_each_handle_their_messages_in_order(
    system: ActorSystem,
) -> None:
    refs = [system.spawn(Tally) for _ in range(200)]
    await settle()
    for round_ in range(3):
        for ref in refs:
            await ref.tell(round_)
        await settle()
    for ref in refs:
        assert await ref.ask("end") == [0, 1, 2, "end"]
    await settle()
    assert all(cell_of(system, ref).task is None for ref in refs)


async def test_on_start_ends_before_the_first_message_of_a_dormant_actor(
    system: ActorSystem,
) -> None:
    order: list[str] = []

    class Slow(Actor):
        async def on_start(self) -> None:
            await checkpoint()
            order.append("started")

        async def receive(self, message: Any) -> None:
            order.append(message)

    ref = system.spawn(Slow)
    await ref.tell("first")  # sent while on_start runs
    await settle()
    await ref.tell("second")  # sent to the dormant actor
    await ref.ask("third")
    assert order == ["started", "first", "second", "third"]


async def test_actor_started_comes_after_spawn_returns(system: ActorSystem) -> None:
    mark = system.events_total
    ref = system.spawn(Tally)
    event = await system.wait_for_event(ActorStarted, start_index=mark, timeout=5)
    assert event.address == ref.address.to_dict()


@pytest.mark.parametrize("with_on_stop", [False, True])
async def test_stopping_a_dormant_actor_terminates_it(
    system: ActorSystem, with_on_stop: bool
) -> None:
    stopped: list[str] = []

    class Quiet(Actor):
        async def receive(self, message: Any) -> None:
            return None

    class Tidy(Quiet):
        async def on_stop(self) -> None:
            await checkpoint()
            stopped.append("on_stop")

    ref = system.spawn(Tidy if with_on_stop else Quiet)
    await settle()
    assert cell_of(system, ref).task is None

    mark = system.events_total
    await system.stop(ref, wait=True)
    event = await system.wait_for_event(
        lambda e: isinstance(e, ActorStopped) and e.address == ref.address.to_dict(),
        start_index=mark, timeout=5,
    )
    assert event.reason == "stopped"
    assert stopped == (["on_stop"] if with_on_stop else [])
    assert not ref.is_alive()


async def test_a_watcher_that_is_dormant_gets_the_notice(system: ActorSystem) -> None:
    seen: list[str] = []

    class Watcher(Actor):
        async def receive(self, message: Any) -> None:
            if isinstance(message, tuple):
                await self.context.watch(message[1])
            else:
                seen.append(type(message).__name__)

    target = system.spawn(Tally)
    watcher = system.spawn(Watcher)
    await watcher.ask(("watch", target))
    await settle()
    assert cell_of(system, watcher).task is None
    await system.stop(target, wait=True)
    await settle()
    assert seen == ["ActorTerminated"]


async def test_a_dormant_parent_handles_its_childs_escalation(system: ActorSystem) -> None:
    class Child(Actor):
        async def receive(self, message: Any) -> None:
            raise RuntimeError("child failed")

    class Parent(Actor):
        async def receive(self, message: Any) -> Any:
            return self.context.spawn_child(
                Child, policy=SupervisionPolicy(strategy=Strategy.ESCALATE)
            )

    parent = system.spawn(Parent, policy=SupervisionPolicy(strategy=Strategy.STOP))
    child = await parent.ask("spawn")
    await settle()
    assert cell_of(system, parent).task is None
    with pytest.raises(RuntimeError):
        await child.ask("fail")
    with anyio.fail_after(5):
        await system.join(parent)  # the escalation stopped the parent
    assert not parent.is_alive()


async def test_every_task_of_an_actor_runs_in_the_spawners_context(
    system: ActorSystem, anyio_backend: Any
) -> None:
    class Reader(Actor):
        def __init__(self) -> None:
            self.mine = contextvars.ContextVar("mine", default=0)

        async def receive(self, message: Any) -> Any:
            self.mine.set(self.mine.get() + 1)
            return REQUEST_ID.get(), self.mine.get()

    token = REQUEST_ID.set("spawner")
    try:
        ref = system.spawn(Reader)
    finally:
        REQUEST_ID.reset(token)
    REQUEST_ID.set("sender")  # the sender's context is not the actor's
    assert await ref.ask(None) == ("spawner", 1)
    await settle()
    assert cell_of(system, ref).task is None
    value, count = await ref.ask(None)
    assert value == "spawner"
    # asyncio on 3.11+: one context for the actor's life, so its own variable carried over.
    asyncio_311 = anyio_backend != "trio" and sys.version_info >= (3, 11)
    assert count == (2 if asyncio_311 else 1)


async def test_the_cell_table_gives_its_room_back(make_system: MakeSystem) -> None:
    system = await make_system(retain_terminated=10)
    by_id = system._lifecycle.by_id
    refs = [system.spawn(Tally) for _ in range(10_000)]
    await settle()
    peak = sys.getsizeof(by_id)
    for ref in refs:
        await system.stop(ref)
    del refs
    await system._lifecycle.wait_all_finished()
    assert len(by_id) <= 10
    # Rebuilt once it held an eighth of its peak: no bigger than a table of 4,096 entries.
    assert sys.getsizeof(by_id) <= sys.getsizeof(dict.fromkeys(range(4096)))
    assert sys.getsizeof(by_id) < peak // 4

"""``tell(STOP)`` is a stop request from the moment it is enqueued (0.3.0 behaviour): later sends
are refused at once and become dead letters; what was queued before it is still processed."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra._envelope import STOP
from papyra.actor import Actor
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Log(Actor):
    """Records what it handles; ``on_stop`` publishes the record."""

    handled: list[Any]

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return message

    async def on_stop(self) -> None:
        Log.handled = list(self.seen)


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


async def test_tell_after_tell_stop_raises_at_once_and_is_a_dead_letter(
    make_system: Any,
) -> None:
    system = await make_system()
    ref = system.spawn(Log, name="log")
    await ref.tell("before")
    await ref.tell(STOP)
    assert not ref.is_alive()  # at once, not when the STOP is dequeued
    with pytest.raises(ActorStopped, match=r"^Actor is not running\.$"):
        await ref.tell("after")
    with pytest.raises(ActorStopped):
        await ref.ask("asked after")
    with pytest.raises(ActorStopped):
        await ref.tell(STOP)
    letters = [(d.message, d.expects_reply) for d in system.dead_letters.messages]
    assert letters == [("after", False), ("asked after", True), (STOP, False)]
    assert all(d.target == ref for d in system.dead_letters.messages)
    await until_stopped(system, ref)
    assert Log.handled == ["before"]
    assert "log" not in system.list_names()


async def test_tell_stop_on_a_full_mailbox_waits_then_refuses_later_sends(
    make_system: Any, gate: Any
) -> None:
    system = await make_system()
    ref = system.spawn(gate, mailbox_capacity=1)
    await ref.tell("block")
    await gate.entered.wait()
    await ref.tell("queued")  # the mailbox is full now
    async with anyio.create_task_group() as tg:
        tg.start_soon(ref.tell, STOP)  # waits for room (back-pressure)
        await anyio.wait_all_tasks_blocked()
        assert ref.is_alive()  # not accepted yet
        gate.release.set()
    assert not ref.is_alive()
    with pytest.raises(ActorStopped):
        await ref.tell("after")
    await until_stopped(system, ref)
    assert [d.message for d in system.dead_letters.messages] == ["after"]


async def test_ask_stop_returns_once_the_earlier_messages_are_processed(
    make_system: Any,
) -> None:
    system = await make_system()
    ref = system.spawn(Log)
    await ref.tell(1)
    await ref.tell(2)
    with anyio.fail_after(5):  # a regression would hang
        assert await ref.ask(STOP) is None  # 0.3.0: it waited forever
    await until_stopped(system, ref)
    assert Log.handled == [1, 2]
    with pytest.raises(ActorStopped):
        await ref.tell(3)


async def test_broadcast_stop_counts_each_actor_once(make_system: Any) -> None:
    system = await make_system()
    refs = [system.spawn(Log) for _ in range(3)]
    assert await system.broadcast(STOP) == 3
    assert await system.broadcast("late") == 0
    for ref in refs:
        await until_stopped(system, ref)
    assert system.dead_letters.messages == []

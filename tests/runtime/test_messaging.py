"""tell / ask / send: ordering, replies, errors, back-pressure, timeouts, dead letters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from papyra._envelope import DeadLetter
from papyra.actor import Actor
from papyra.exceptions import ActorStopped, AskTimeout
from papyra.system import ActorSystem
from tests.support import Gate

pytestmark = pytest.mark.anyio


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        if isinstance(message, Exception):
            raise message
        self.seen.append(message)
        return message


async def test_tell_is_processed_in_enqueue_order(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    ref = system.spawn(Recorder)
    for i in range(2000):
        await ref.tell(i)
    assert await ref.ask("seen") == list(range(2000))


async def test_send_is_tell(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    ref = system.spawn(Recorder)
    await ref.send("a")
    await ref.tell("b")
    assert await ref.ask("seen") == ["a", "b"]


async def test_ask_returns_receive_value_and_raises_the_same_exception(
    make_system: Callable[..., Any],
) -> None:
    system = await make_system()
    ref = system.spawn(Recorder, name="r")
    assert await ref.ask({"x": 1}) == {"x": 1}
    boom = ValueError("boom")
    with pytest.raises(ValueError) as info:
        await ref.ask(boom)
    assert info.value is boom


async def test_interleaved_asks_from_many_tasks_all_get_their_own_reply(
    make_system: Callable[..., Any],
) -> None:
    system = await make_system()
    ref = system.spawn(Recorder)
    results: dict[int, Any] = {}

    async def asker(i: int) -> None:
        results[i] = await ref.ask(i)

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(asker, i)
    assert results == {i: i for i in range(200)}


async def test_tell_on_full_mailbox_waits_and_never_loses_the_message(
    make_system: Callable[..., Any], gate: type[Gate]
) -> None:
    system = await make_system()
    ref = system.spawn(gate, mailbox_capacity=1)
    await ref.tell("block")
    await gate.entered.wait()
    await ref.tell(1)  # fills the only slot
    delivered = anyio.Event()

    async def late_tell() -> None:
        await ref.tell(2)
        delivered.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(late_tell)
        await anyio.wait_all_tasks_blocked()
        assert not delivered.is_set()  # back-pressure: waiting for room
        gate.release.set()
    assert await ref.ask("seen") == [1, 2]
    assert system.dead_letters.messages == []


async def test_ask_timeout_bounds_the_wait_for_room(
    make_system: Callable[..., Any], gate: type[Gate]
) -> None:
    system = await make_system()
    ref = system.spawn(gate, mailbox_capacity=1)
    await ref.tell("block")
    await gate.entered.wait()
    await ref.tell("fill")
    with pytest.raises(AskTimeout, match=r"ask\(\) timed out after 0.05 seconds."):
        await ref.ask("never enqueued", timeout=0.05)
    gate.release.set()
    assert await ref.ask("seen") == ["fill"]  # the timed-out message was not enqueued


async def test_ask_timeout_after_enqueue_does_not_crash_the_actor(
    make_system: Callable[..., Any], gate: type[Gate]
) -> None:
    system = await make_system()
    ref = system.spawn(gate, name="g")
    await ref.tell("block")
    await gate.entered.wait()
    with pytest.raises(AskTimeout):
        await ref.ask("late", timeout=0.01)
    gate.release.set()
    # The message is still processed; its undeliverable reply is dropped, not a failure.
    assert await ref.ask("seen") == ["late"]
    names = [type(e).__name__ for e in system.events()]
    assert "ActorCrashed" not in names


async def test_ask_with_timeout_returns_value_in_time(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    ref = system.spawn(Recorder)
    assert await ref.ask("quick", timeout=5) == "quick"


async def test_messages_sent_during_on_start_wait_for_it(make_system: Callable[..., Any]) -> None:
    release = anyio.Event()

    class Slow(Actor):
        async def on_start(self) -> None:
            await release.wait()
            self.ready = True

        async def receive(self, message: Any) -> Any:
            return getattr(self, "ready", False)

    system = await make_system()
    ref = system.spawn(Slow)
    results: list[Any] = []

    async with anyio.create_task_group() as tg:

        async def ask() -> None:
            results.append(await ref.ask("ready?"))

        tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        assert results == []
        release.set()
    assert results == [True]


async def test_tell_and_ask_to_stopped_actor_dead_letter_and_raise(
    make_system: Callable[..., Any],
) -> None:
    letters: list[DeadLetter] = []
    system = await make_system(on_dead_letter=letters.append)
    ref = system.spawn(Recorder)
    await system.stop(ref)
    assert not ref.is_alive()
    with pytest.raises(ActorStopped, match=r"Actor is not running\.") as info:
        await ref.tell("t")
    assert info.value.reason is None
    with pytest.raises(ActorStopped, match=r"Actor is not running\."):
        await ref.ask("a")
    with pytest.raises(ActorStopped):
        ref.proxy()
    assert [(d.message, d.expects_reply) for d in letters] == [
        ("t", False),
        ("a", True),
        ("proxy", True),
    ]
    assert system.dead_letters.messages == letters
    assert all(d.target._rid == ref._rid for d in letters)


async def test_refs_of_a_closed_system_are_not_alive(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    await system.start()
    ref = system.spawn(Recorder)
    await system.aclose()
    assert not ref.is_alive()
    with pytest.raises(ActorStopped):
        await ref.tell("after close")
    assert system.dead_letters.messages[-1].message == "after close"


async def test_dead_letter_sink_errors_are_swallowed(make_system: Callable[..., Any]) -> None:
    def broken(_: DeadLetter) -> None:
        raise RuntimeError("sink failed")

    system = await make_system(on_dead_letter=broken)
    ref = system.spawn(Recorder)
    await system.stop(ref)
    with pytest.raises(ActorStopped):
        await ref.tell("x")
    assert len(system.dead_letters.messages) == 1


async def test_dead_letters_are_persisted(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    ref = system.spawn(Recorder)
    await system.stop(ref)
    with pytest.raises(ActorStopped):
        await ref.tell({"a": 1})
    await anyio.wait_all_tasks_blocked()  # the persistence writer has caught up
    letters = await system.persistence.list_dead_letters()
    assert len(letters) == 1
    assert letters[0].target == str(ref.address)
    assert letters[0].message_type == "dict"
    assert letters[0].payload == {"a": 1}


async def test_many_actors_process_independently(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    refs = [system.spawn(Recorder) for _ in range(50)]
    for i in range(20):
        for ref in refs:
            await ref.tell(i)
    for ref in refs:
        assert await ref.ask("seen") == list(range(20))

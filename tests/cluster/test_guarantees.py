"""The guarantees of docs/cluster.md that need a member held back: deadlines, back-pressure,
redelivery after a restart, a restarted Redis."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.cluster import RedisStreamsTransport
from papyra.exceptions import AskTimeout
from papyra.system import ActorSystem
from tests.cluster.conftest import MakeMember, poll_until
from tests.redis_server import RedisServer, unique_prefix

pytestmark = pytest.mark.anyio


class Recorder(Actor):
    def __init__(self, seen: list[Any], gate: anyio.Event | None = None) -> None:
        self.seen = seen
        self.gate = gate

    async def receive(self, message: Any) -> Any:
        if message == "block" and self.gate is not None:
            await self.gate.wait()
        self.seen.append(message)
        return message


async def held_recorder(
    make_member: MakeMember, make_gate: Any, **options: Any
) -> tuple[ActorSystem, ActorSystem, anyio.Event, list[Any], Any]:
    """Members node-a and node-b; on node-b a ``Recorder`` named "rec" (spawned with
    ``options``) that holds on "block" until the gate returned is set; what it has seen; and
    node-a's ref to it."""
    a = await make_member("node-a")
    b = await make_member("node-b")
    gate = make_gate()
    seen: list[Any] = []
    b.spawn(lambda: Recorder(seen, gate), name="rec", **options)
    return a, b, gate, seen, a.ref_for_name("rec", system="node-b")


async def test_an_ask_past_its_deadline_is_skipped_by_the_receiver(
    make_member: MakeMember,
) -> None:
    a = await make_member("node-a")
    b = await make_member("node-b", start=False)  # not reading yet
    seen: list[Any] = []
    with pytest.raises(AskTimeout):
        await a.ref_for_name("rec", system="node-b").ask("too late", timeout=0.05)
    await b.start()
    b.spawn(lambda: Recorder(seen), name="rec")
    assert await a.ref_for_name("rec", system="node-b").ask("in time", timeout=5) == "in time"
    assert seen == ["in time"]
    letters = [(d.target, d.message) for d in b.dead_letters.messages]
    assert letters == [("papyra://node-b/rec", "too late")]


async def test_a_full_mailbox_holds_the_reader_back(
    make_member: MakeMember, make_gate: Any
) -> None:
    _, b, gate, seen, rec = await held_recorder(make_member, make_gate, mailbox_capacity=2)
    for message in ["block", 1, 2, 3, 4, 5]:
        await rec.tell(message)  # accepted by Redis: tell does not wait for the mailbox
    transport: RedisStreamsTransport = b._transport

    async def backlog_held() -> bool:  # "block" handled, 1 and 2 queued, 3 in the reader's hand
        return await transport.backlog("node-b") == 6 and len(seen) == 0

    await poll_until(backlog_held)
    gate.set()

    async def all_seen() -> bool:
        return len(seen) == 6

    await poll_until(all_seen)
    assert seen == ["block", 1, 2, 3, 4, 5]
    await poll_until(lambda: _backlog_is(transport, "node-b", 0))


async def _backlog_is(transport: RedisStreamsTransport, member: str, n: int) -> bool:
    return await transport.backlog(member) == n


async def test_a_sender_waits_while_the_target_backlog_is_at_its_bound(
    make_member: MakeMember,
) -> None:
    a = await make_member("node-a", max_backlog=3)
    b = await make_member("node-b", start=False)
    rec = a.ref_for_name("rec", system="node-b")
    for i in range(3):
        await rec.tell(i)
    with anyio.move_on_after(0.3) as scope:
        await rec.tell(3)  # the backlog is at 3: this waits
    assert scope.cancelled_caught  # the caller gave up; the message is still sent, later
    seen: list[Any] = []
    await b.start()
    b.spawn(lambda: Recorder(seen), name="rec")
    with anyio.fail_after(10):
        await rec.tell(4)  # room again once node-b reads
    await poll_until(lambda: _true(len(seen) == 5))
    assert seen == [0, 1, 2, 3, 4]


async def _true(value: bool) -> bool:
    return value


async def test_unsettled_messages_are_delivered_again_after_a_restart(
    make_member: MakeMember, make_gate: Any, cluster_name: str
) -> None:
    """A member that stops before handling what it read gets it again when it comes back."""
    _, b, _, first, rec = await held_recorder(make_member, make_gate)
    await rec.tell("block")
    await rec.tell("after")
    transport: RedisStreamsTransport = b._transport
    await poll_until(lambda: _backlog_is(transport, "node-b", 2))
    # node-b is cancelled mid-message: nothing of what it read is settled
    b._shutdown_grace = 0.0
    await b.aclose()
    assert first == []
    assert list(b.dead_letters.messages) == []  # handed back for redelivery, not lost
    again: list[Any] = []
    b2 = await make_member("node-b")
    b2.spawn(lambda: Recorder(again), name="rec")
    await poll_until(lambda: _true(len(again) == 2))
    assert again == ["block", "after"]


class Picky(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")  # the default supervision restarts the actor
        return message


async def test_tells_are_settled_once_handled_even_when_the_handler_raises(
    make_member: MakeMember, make_gate: Any
) -> None:
    a, b, gate, seen, rec = await held_recorder(make_member, make_gate)
    b.spawn(Picky, name="picky")
    picky = a.ref_for_name("picky", system="node-b")
    await rec.tell("block")  # first (FIFO per sender): it holds those behind it
    async with anyio.create_task_group() as tg:  # sent together: read together
        for message in [1, 2]:
            tg.start_soon(rec.tell, message)
        for message in [1, "boom", 2]:
            tg.start_soon(picky.tell, message)
    transport: RedisStreamsTransport = b._transport
    assert await transport.backlog("node-b") >= 3  # those of "rec" are not handled yet
    assert seen == []
    gate.set()
    await poll_until(lambda: _backlog_is(transport, "node-b", 0))
    assert seen[0] == "block" and sorted(seen[1:]) == [1, 2]
    assert await picky.ask("after", timeout=5) == "after"  # restarted, still there
    await poll_until(lambda: _backlog_is(transport, "node-b", 0))


async def test_members_carry_on_after_redis_restarts(anyio_backend: str) -> None:
    server = RedisServer(durable=True)
    server.start()
    try:
        cluster = unique_prefix()

        def member(name: str) -> ActorSystem:
            transport = RedisStreamsTransport(
                server.url, cluster=cluster, heartbeat_interval=0.2, member_ttl=2.0, timeout=1.0
            )
            return ActorSystem(system_id=name, transport=transport)

        seen: list[Any] = []
        async with member("node-a") as a, member("node-b") as b:
            b.spawn(lambda: Recorder(seen), name="rec")
            rec = a.ref_for_name("rec", system="node-b")
            assert await rec.ask("before", timeout=5) == "before"
            server.restart()
            with anyio.fail_after(15):
                while True:
                    try:
                        assert await rec.ask("after", timeout=2) == "after"
                        break
                    except (ConnectionError, AskTimeout):
                        await anyio.sleep(0.1)  # the server is still starting
            assert seen[0] == "before" and seen[-1] == "after"
    finally:
        server.stop()


async def test_a_message_handed_out_too_often_becomes_a_dead_letter(
    make_member: MakeMember, make_gate: Any
) -> None:
    a = await make_member("node-a")
    rec = a.ref_for_name("rec", system="node-b")
    await rec.tell("block")  # the poison: its handler never finishes
    for _ in range(2):  # two runs of node-b die while handling it
        entered = anyio.Event()

        class Stuck(Actor):
            async def receive(self, message: Any, entered: anyio.Event = entered) -> Any:
                entered.set()
                await anyio.sleep_forever()

        b = await make_member("node-b", max_deliveries=2)
        b.spawn(Stuck, name="rec")
        with anyio.fail_after(10):
            await entered.wait()
        b._shutdown_grace = 0.0
        await b.aclose()
    seen: list[Any] = []
    last = await make_member("node-b", max_deliveries=2)
    last.spawn(lambda: Recorder(seen), name="rec")

    async def dead() -> bool:
        return bool(last.dead_letters.messages)

    await poll_until(dead)
    assert [d.message for d in last.dead_letters.messages] == ["block"]
    assert seen == []

"""``RedisStreamsTransport`` on its own, against the real server: how frames sent together
share one stream entry, what the backlog counts, and when an entry is acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from papyra._redis.client import RedisClient
from papyra.cluster import RedisStreamsTransport
from papyra.cluster.transport import Frame
from tests.redis_server import shared_server

pytestmark = pytest.mark.anyio


def _frame(n: int) -> Frame:
    return {"k": "t", "i": f"sender/run/{n}", "f": "sender", "to": "sink", "m": b"%d" % n}


@pytest.fixture
async def member(cluster_name: str) -> AsyncIterator[RedisStreamsTransport]:
    transport = RedisStreamsTransport(shared_server().url, cluster=cluster_name)
    await transport.open("node-b")
    yield transport
    await transport.aclose()


async def _receive(transport: RedisStreamsTransport, count: int) -> list[tuple[str, Frame]]:
    """The next ``count`` frames (the first call after ``open`` only looks at the frames
    handed out before, so a few calls may be needed)."""
    got: list[tuple[str, Frame]] = []
    with anyio.fail_after(5):
        while len(got) < count:
            got += await transport.receive(100)
    assert len(got) == count
    return got


async def _pending(transport: RedisStreamsTransport, member: str) -> int:
    client = RedisClient(shared_server().url)
    try:
        reply = await client.execute_command("XPENDING", transport.inbox_key(member), "papyra")
        return int(reply[0])
    finally:
        await client.aclose()


async def test_one_send_is_one_entry_and_the_backlog_counts_its_frames(
    member: RedisStreamsTransport,
) -> None:
    await member.send("node-b", [_frame(n) for n in range(5)])
    client = RedisClient(shared_server().url)
    try:
        assert await client.execute_command("XLEN", member.inbox_key("node-b")) == 1
    finally:
        await client.aclose()
    assert await member.backlog("node-b") == 5
    got = await _receive(member, 5)
    assert [frame["m"] for _, frame in got] == [b"%d" % n for n in range(5)]
    assert [frame["i"] for _, frame in got] == [f"sender/run/{n}" for n in range(5)]
    assert len({token for token, _ in got}) == 5


async def test_an_entry_is_acknowledged_once_every_frame_in_it_is_settled(
    member: RedisStreamsTransport,
) -> None:
    await member.send("node-b", [_frame(n) for n in range(3)])
    got = await _receive(member, 3)
    await member.settle([(got[0][0], None), (got[2][0], None)])
    assert await member.backlog("node-b") == 3  # the middle frame is still in progress
    assert await _pending(member, "node-b") == 1
    await member.settle([(got[1][0], None)])
    assert await member.backlog("node-b") == 0
    assert await _pending(member, "node-b") == 0
    await member.settle([(token, None) for token, _ in got])  # again: changes nothing
    assert await member.backlog("node-b") == 0


async def test_a_reopened_member_gets_the_frames_of_an_entry_not_fully_settled(
    cluster_name: str, member: RedisStreamsTransport,
) -> None:
    await member.send("node-b", [_frame(n) for n in range(3)])
    got = await _receive(member, 3)
    await member.settle([(got[0][0], None)])
    await member.aclose()  # a crash: frames 1 and 2 were never settled

    again = RedisStreamsTransport(shared_server().url, cluster=cluster_name)
    await again.open("node-b")
    try:
        redelivered = await _receive(again, 3)
        # at least once: the entry comes back whole, each frame counted as handed out twice
        assert [frame["m"] for _, frame in redelivered] == [b"0", b"1", b"2"]
        assert {frame["n"] for _, frame in redelivered} == {2}
        await again.settle([(token, None) for token, _ in redelivered])
        assert await again.backlog("node-b") == 0
    finally:
        await again.aclose()


async def test_a_sender_is_held_at_the_bound_in_frames_not_entries(
    cluster_name: str, member: RedisStreamsTransport,
) -> None:
    sender = RedisStreamsTransport(shared_server().url, cluster=cluster_name, max_backlog=4)
    await sender.open("node-a")
    try:
        dest = ("member", "node-b")
        assert await sender.try_send_many({dest: [_frame(n) for n in range(4)]}) == {dest: True}
        other = ("member", "node-c")  # one round trip, each destination on its own
        assert await sender.try_send_many({dest: [_frame(4)], other: [_frame(5)]}) == {
            dest: False, other: True,
        }
        assert await member.backlog("node-b") == 4
        assert await member.backlog("node-c") == 1
        got = await _receive(member, 4)
        await member.settle([(token, None) for token, _ in got])
        assert await sender.try_send_many({dest: [_frame(4)]}) == {dest: True}
    finally:
        await sender.aclose()


async def test_an_entry_of_an_earlier_wire_form_is_still_read(
    member: RedisStreamsTransport,
) -> None:
    client = RedisClient(shared_server().url)
    try:
        await client.execute_command(
            "XADD", member.inbox_key("node-b"), "*", "f",
            b'{"k":"t","i":"old/1","f":"old","to":"sink"}\n"hello"',
        )
    finally:
        await client.aclose()
    ((token, frame),) = await _receive(member, 1)
    assert frame == {"k": "t", "i": "old/1", "f": "old", "to": "sink", "m": b'"hello"'}
    await member.settle([(token, None)])
    assert await _pending(member, "node-b") == 0


async def test_settling_works_after_the_server_forgot_its_scripts(
    member: RedisStreamsTransport,
) -> None:
    await member.send("node-b", [_frame(n) for n in range(2)])
    got = await _receive(member, 2)
    client = RedisClient(shared_server().url)
    try:
        await client.execute_command("SCRIPT", "FLUSH")  # what a restart does
    finally:
        await client.aclose()
    await member.settle([(token, None) for token, _ in got])
    assert await _pending(member, "node-b") == 0
    assert await member.backlog("node-b") == 0

"""Papyra's Redis client: the RESP2 codec, URL parsing, pipelines and errors, event loops."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from papyra._redis.client import (
    RedisClient,
    RedisResponseError,
    RedisUnavailableError,
    parse_url,
)
from papyra._redis.resp import ProtocolError, ReplyError, ReplyParser, encode_command
from tests.redis_server import shared_server, unique_prefix

# -- the protocol ------------------------------------------------------------------------------


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert encode_command(["SET", "k", b"\x00\xff", 12, 1.5]) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00\xff\r\n$2\r\n12\r\n$3\r\n1.5\r\n"
    )
    with pytest.raises(TypeError, match="cannot be a bool"):
        encode_command(["SET", "k", True])
    with pytest.raises(TypeError, match="not NoneType"):
        encode_command(["GET", None])  # type: ignore[list-item]


REPLIES = (
    b"+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n-ERR wrong\r\n"
    b"*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\ndata\r\n$2\r\n{}\r\n:7\r\n$0\r\n\r\n"
)
EXPECTED = [
    "OK", 42, b"hello", None, None, [], ReplyError("ERR wrong"),
    [[b"1-0", [b"data", b"{}"]], 7], b"",
]


def test_replies_of_every_type_parse() -> None:
    parser = ReplyParser()
    parser.feed(REPLIES)
    assert parser.replies() == EXPECTED
    assert parser.replies() == []


@given(st.lists(st.integers(min_value=1, max_value=len(REPLIES)), max_size=30))
def test_replies_parse_the_same_in_any_pieces(cuts: list[int]) -> None:
    parser = ReplyParser()
    got: list[Any] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(REPLIES)]:
        parser.feed(REPLIES[start:cut])
        got += parser.replies()
        start = cut
    assert got == EXPECTED


def test_garbage_is_a_protocol_error() -> None:
    parser = ReplyParser()
    parser.feed(b"?what\r\n")
    with pytest.raises(ProtocolError):
        parser.replies()


# -- URLs --------------------------------------------------------------------------------------


def test_urls() -> None:
    a = parse_url("redis://user:pa%40ss@example.org:6380/2")
    assert (a.host, a.port, a.db, a.username, a.password, a.tls) == (
        "example.org", 6380, 2, "user", "pa@ss", False,
    )
    assert a.url == "redis://user:***@example.org:6380/2"
    b = parse_url("rediss://:secret@h")
    assert (b.port, b.db, b.username, b.password, b.tls, b.url) == (
        6379, 0, None, "secret", True, "rediss://:***@h",
    )
    c = parse_url("unix:///run/redis.sock?db=3")
    assert (c.unix_path, c.db, c.host) == ("/run/redis.sock", 3, None)
    for bad, message in [
        ("", "non-empty"),
        ("localhost:6379", "scheme"),
        ("redis://h:99999", "invalid port"),
        ("redis://h/-1", "invalid database"),
        ("unix://", "socket path"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_url(bad)
    # a malformed URL's error never shows its password
    for bad in ("redis://:hunter2@h:99999", "redis://u:hunter2@h/x"):
        with pytest.raises(ValueError) as info:
            parse_url(bad)
        assert "hunter2" not in str(info.value) and "***" in str(info.value)


def test_client_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        RedisClient("redis://h", timeout=-1)
    with pytest.raises(ValueError, match="max_connections"):
        RedisClient("redis://h", max_connections=0)


# -- against the server ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_pipelines_and_errors() -> None:
    client = RedisClient(shared_server().url)
    key = unique_prefix()
    async with client.pipeline() as pipe:
        pipe.xadd(key, {"data": "1"}).xadd(key, {"data": "2"}).xlen(key)
        first, second, length = await pipe.execute()
    assert first < second and length == 2
    with pytest.raises(RedisResponseError, match="WRONGTYPE"):
        await client.execute_command("GET", key)
    # The connection is still in step after an error reply.
    assert await client.xlen(key) == 2
    pipe = client.pipeline()
    pipe.execute_command("GET", key).xlen(key)
    with pytest.raises(RedisResponseError, match="WRONGTYPE"):
        await pipe.execute()
    pipe.execute_command("GET", key).xlen(key)
    error, length = await pipe.execute(raise_on_error=False)
    assert isinstance(error, ReplyError) and length == 2
    async with client.pipeline(transaction=True) as tx:
        tx.xlen(key).delete(key)
        assert await tx.execute() == [2, 1]
    assert await client.ping()
    await client.aclose()


@pytest.mark.anyio
async def test_concurrent_requests_each_get_their_own_reply() -> None:
    client = RedisClient(shared_server().url, max_connections=3)
    key = unique_prefix()
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        await client.execute_command("SET", f"{key}:{i}", i)
        results[i] = int(await client.execute_command("GET", f"{key}:{i}"))

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert results == {i: i for i in range(50)}
    await client.aclose()


@pytest.mark.anyio
async def test_a_cancelled_request_does_not_leave_its_reply_to_the_next() -> None:
    client = RedisClient(shared_server().url, max_connections=1)
    key = unique_prefix()
    await client.execute_command("SET", key, "value")
    with anyio.move_on_after(0.05):
        await client.execute_command("BLPOP", unique_prefix(), 1, extra_time=2)
    assert await client.get(key) == "value"
    await client.aclose()


def test_one_client_serves_one_event_loop_after_another() -> None:
    client = RedisClient(shared_server().url)
    key = unique_prefix()

    async def incr() -> int:
        return int(await client.execute_command("INCR", key))

    assert [anyio.run(incr, backend=b) for b in ("asyncio", "trio", "asyncio")] == [1, 2, 3]
    anyio.run(client.aclose)


@pytest.mark.anyio
async def test_a_closed_port_is_unavailable_and_names_the_url() -> None:
    from tests.redis_server import free_port

    client = RedisClient(f"redis://127.0.0.1:{free_port()}/0", timeout=1)
    with pytest.raises(RedisUnavailableError, match=r"Redis at redis://127\.0\.0\.1:\d+/0"):
        await client.ping()

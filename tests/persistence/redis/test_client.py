"""Papyra's Redis client: the RESP2 codec, URL parsing, pipelines and errors, event loops."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from papyra._redis.client import (
    RedisClient,
    RedisResponseError,
    RedisUnavailableError,
    parse_url,
)
from papyra._redis.resp import ProtocolError, ReplyError, ReplyParser
from tests.redis_server import shared_server, unique_prefix

# -- the protocol (both twins: impl.resp is resp_py or the compiled resp_c) --------------------


def test_the_module_re_exports_the_selected_twin() -> None:
    from papyra import _accel
    from papyra._redis import resp

    assert resp.ReplyParser is _accel.resp.ReplyParser
    assert resp.encode_command is _accel.resp.encode_command
    assert (ProtocolError, ReplyError, ReplyParser) == (
        resp.ProtocolError, resp.ReplyError, resp.ReplyParser,
    )


def test_commands_are_arrays_of_bulk_strings(impl: Any) -> None:
    encode_command = impl.resp.encode_command
    assert encode_command(["SET", "k", b"\x00\xff", 12, 1.5]) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00\xff\r\n$2\r\n12\r\n$3\r\n1.5\r\n"
    )
    assert encode_command([]) == b"*0\r\n"
    assert encode_command(["é", -7, 10**30, b""]) == (
        b"*4\r\n$2\r\n\xc3\xa9\r\n$2\r\n-7\r\n$31\r\n1" + b"0" * 30 + b"\r\n$0\r\n\r\n"
    )
    assert impl.resp.encode_commands([["PING"], ("GET", "k")]) == (
        b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    )
    with pytest.raises(TypeError, match="cannot be a bool"):
        encode_command(["SET", "k", True])
    with pytest.raises(TypeError, match="not NoneType"):
        encode_command(["GET", None])


@given(st.lists(st.one_of(
    st.binary(max_size=40), st.text(max_size=20), st.integers(), st.floats(allow_nan=False),
), max_size=12))
def test_the_encoders_agree(impl: Any, args: list[Any]) -> None:
    from papyra._speedups import resp_py

    assert impl.resp.encode_command(args) == resp_py.encode_command(args)


_header_fields = st.dictionaries(
    st.sampled_from(["k", "i", "f", "to", "c", "d", "s", "é"]), st.text(max_size=12), max_size=5
)


@given(st.lists(st.tuples(_header_fields, st.none() | st.binary(max_size=60)), max_size=8))
def test_cluster_frames_encode_as_bulk_field_value_pairs(
    impl: Any, items: list[tuple[dict[str, str], bytes | None]]
) -> None:
    from papyra._speedups import resp_py

    frames: list[dict[str, Any]] = [
        {**header, **({} if payload is None else {"m": payload})} for header, payload in items
    ]
    before = [dict(frame) for frame in frames]
    data = impl.resp.encode_frames(frames)
    assert data == resp_py.encode_frames(frames)
    assert frames == before  # the caller's frames are left as they were
    parser = impl.resp.ReplyParser()
    parser.feed(b"*%d\r\n" % (2 * len(frames)) + data)
    (flat,) = parser.replies()
    assert [orjson.loads(field) for field in flat[::2]] == [header for header, _ in items]
    assert flat[1::2] == [payload or b"" for _, payload in items]


@given(st.lists(st.tuples(_header_fields, st.binary(max_size=60)), max_size=8))
def test_cluster_frames_decode_as_they_were_encoded(
    impl: Any, items: list[tuple[dict[str, str], bytes]]
) -> None:
    frames = [{**header, "m": payload} for header, payload in items]
    parser = impl.resp.ReplyParser()
    data = impl.resp.encode_frames(frames)
    parser.feed(b"*%d\r\n" % (2 * len(frames)) + data)
    (flat,) = parser.replies()
    assert impl.resp.decode_frames(flat) == (frames or [{}])


@given(st.lists(st.one_of(
    st.binary(max_size=20), st.sampled_from([b"f", b'{"k":"t"}', b"[1]", b"{", b'{"k":1}\nx']),
), max_size=7))
def test_any_entry_decodes_the_same_with_both_twins(impl: Any, flat: list[bytes]) -> None:
    from papyra._speedups import resp_py

    assert impl.resp.decode_frames(list(flat)) == resp_py.decode_frames(list(flat))


def test_entries_that_are_not_frames_decode_as_empty_frames(impl: Any) -> None:
    decode = impl.resp.decode_frames
    assert decode([]) == [{}]
    assert decode([b"not json", b"x", b"[1]", b"y", b'{"k":"t"}', b"z"]) == [
        {}, {}, {"k": "t", "m": b"z"},
    ]
    shared = decode([b'{"k":"t","to":"a"}', b"1", b'{"k":"t","to":"a"}', b"2"])
    assert shared == [{"k": "t", "to": "a", "m": b"1"}, {"k": "t", "to": "a", "m": b"2"}]
    shared[0]["n"] = 2  # frames sharing a header are still frames of their own
    assert "n" not in shared[1]
    # an entry of an earlier version: one field "f", the header and the payload on two lines
    assert decode([b"f", b'{"k":"t","to":"a"}\n"hi"']) == [{"k": "t", "to": "a", "m": b'"hi"'}]


@pytest.mark.parametrize("frames", [[1], [{"m": "text"}], [{"k": "t"}, {"m": None}]])
def test_a_frame_that_is_not_a_dict_with_bytes_is_refused(impl: Any, frames: list[Any]) -> None:
    with pytest.raises(TypeError, match="a frame"):
        impl.resp.encode_frames(frames)


REPLIES = (
    b"+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n-ERR wrong\r\n"
    b"*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\ndata\r\n$2\r\n{}\r\n:7\r\n$0\r\n\r\n"
    b":-12\r\n:-9223372036854775808\r\n:123456789012345678901\r\n$4\r\na\r\nb\r\n+\xe9\r\n"
)
EXPECTED = [
    "OK", 42, b"hello", None, None, [], ReplyError("ERR wrong"),
    [[b"1-0", [b"data", b"{}"]], 7], b"", -12, -9223372036854775808, 123456789012345678901,
    b"a\r\nb", "\ufffd",
]


def test_replies_of_every_type_parse(impl: Any) -> None:
    parser = impl.resp.ReplyParser()
    parser.feed(REPLIES)
    assert parser.replies() == EXPECTED
    assert parser.replies() == []


@given(st.lists(st.integers(min_value=1, max_value=len(REPLIES)), max_size=30))
def test_replies_parse_the_same_in_any_pieces(impl: Any, cuts: list[int]) -> None:
    parser = impl.resp.ReplyParser()
    got: list[Any] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(REPLIES)]:
        parser.feed(REPLIES[start:cut])
        got += parser.replies()
        start = cut
    assert got == EXPECTED


def test_a_large_reply_in_pieces_keeps_its_place(impl: Any) -> None:
    entry = b"*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$300\r\n" + b"x" * 300 + b"\r\n"
    data = b"*1000\r\n" + entry * 1000 + b":1\r\n"
    parser = impl.resp.ReplyParser()
    got: list[Any] = []
    for start in range(0, len(data), 4096):
        parser.feed(data[start:start + 4096])
        got += parser.replies()
    assert got == [[[b"1-0", [b"f", b"x" * 300]]] * 1000, 1]


@pytest.mark.parametrize("data", [b"?what\r\n", b"$abc\r\n", b"*1x\r\n", b":\r\n", b":1-\r\n"])
def test_garbage_is_a_protocol_error(impl: Any, data: bytes) -> None:
    parser = impl.resp.ReplyParser()
    parser.feed(data)
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

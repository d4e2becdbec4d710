"""The Redis backend when the server is away: at start, mid-run, restarted, or too slow.

What a user relies on: a write raises a clear error naming the URL within ``timeout`` (never a
silent drop, never a hang); the records stay queued and reach Redis once it answers, once each
(never duplicated by the retry, even when the lost reply hid a write that did happen); the
actor system keeps running meanwhile. Each test has a server of its own (append-only file,
synced per write, so a killed server keeps what it acknowledged).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

from papyra.actor import Actor
from papyra.persistence.backends.redis import RedisStreamsPersistence, RedisUnavailableError
from papyra.system import ActorSystem
from tests.redis_server import RedisServer, free_port, redis_backend

pytestmark = pytest.mark.anyio

#: Bounds a wait for something the code under test does on its own (a retry with backoff).
DEADLINE = 15


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` after :data:`DEADLINE` s.

    For states the backend exposes no event for (its retry runs on its own schedule, with
    backoff): polling under a deadline is the honest wait.
    """
    with anyio.move_on_after(DEADLINE):
        while not await condition():  # noqa: ASYNC110
            await anyio.sleep(0.02)
        return
    pytest.fail(f"timed out waiting until {what}")


@pytest.fixture
def server() -> Iterator[RedisServer]:
    srv = RedisServer(durable=True)
    srv.start()
    yield srv
    srv.stop()


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


def event(name: str, ts: float) -> dict[str, Any]:
    return {"system_id": "s", "event_type": name, "timestamp": ts}


async def test_no_server_at_start_raises_naming_the_url_and_keeps_the_record() -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    backend = redis_backend(url=url, timeout=0.5)
    with pytest.raises(RedisUnavailableError) as caught:
        await backend.record_event(event("a", 1.0))
    message = str(caught.value)
    assert re.search(r"127\.0\.0\.1:\d+/0 is unreachable", message), message
    assert "secret" not in message and "***" in message
    assert backend.queued_records == 1 and backend.metrics.write_errors == 1
    with pytest.raises(RedisUnavailableError):
        await backend.list_events()
    with pytest.raises(RedisUnavailableError):
        await backend.scan()
    assert backend.metrics.scan_errors == 1


async def test_records_queued_while_away_are_written_once_when_it_returns(
    server: RedisServer,
) -> None:
    backend = redis_backend(url=server.url, timeout=0.5)
    await backend.record_event(event("before", 1.0))
    server.stop()
    for i in range(3):
        with pytest.raises(RedisUnavailableError):
            await backend.record_event(event(f"away-{i}", 2.0 + i))
    backend.record_nowait("event", event("fact", 9.0))
    with pytest.raises(RedisUnavailableError):
        await backend.flush()
    assert backend.queued_records == 4
    server.start()
    await backend.flush()
    assert backend.queued_records == 0
    names = [e.event_type for e in await backend.list_events()]
    assert names == ["before", "away-0", "away-1", "away-2", "fact"]
    await backend.aclose()


async def test_a_lost_reply_does_not_duplicate_the_write(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server runs the write but the reply never arrives (it was frozen past the timeout):
    the retry is recognised and skipped."""
    backend = redis_backend(url=server.url, timeout=0.3)
    await backend.record_event(event("first", 1.0))  # connected, script cached
    sleeper = await anyio.to_thread.run_sync(server.freeze, 1.5)
    with pytest.raises(RedisUnavailableError, match=r"did not answer within 0\.3 s"):
        await backend.record_event(event("second", 2.0))
    await anyio.to_thread.run_sync(sleeper.recv, 16)  # the server is awake again
    sleeper.close()
    probe = redis_backend(url=server.url, prefix=backend.config.prefix)
    # The frozen server read the write before our client gave up, and ran it on waking.
    assert await probe._redis.xlen(backend._events_key) == 2
    with caplog.at_level(logging.INFO, logger="papyra"):
        await backend.flush()  # the retry of the same group
    assert "had already stored group" in caplog.text
    assert backend.queued_records == 0
    assert [e.event_type for e in await backend.list_events()] == ["first", "second"]
    await backend.aclose()
    await probe.aclose()


async def test_max_pending_bounds_what_waits_for_the_server() -> None:
    backend = redis_backend(url=f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, max_pending=2)
    backend.record_nowait("event", event("a", 1.0))
    backend.record_nowait("event", event("b", 2.0))
    with pytest.raises(RedisUnavailableError, match=r"max_pending.*not kept"):
        backend.record_nowait("event", event("c", 3.0))
    assert backend.queued_records == 2


async def test_the_system_keeps_running_and_its_facts_arrive_after_a_restart(
    server: RedisServer, impl: Any, caplog: pytest.LogCaptureFixture
) -> None:
    backend = redis_backend(url=server.url, timeout=0.3)
    async with ActorSystem(system_id="s", persistence=backend, _dispatch=impl.dispatch) as system:
        first = system.spawn(Echo, name="first")
        assert await first.ask(1) == 1
        await backend.flush()
        server.stop()
        second = system.spawn(Echo, name="second")
        assert await second.ask(2) == 2  # the runtime does not wait for Redis
        await system.stop(second)

        async def writer_failed() -> bool:
            return backend.metrics.write_errors > 0

        await wait_until(writer_failed, "the fact writer has met the stopped server")
        assert backend.queued_records >= 2
        server.start()

        async def drained() -> bool:
            return backend.queued_records == 0

        await wait_until(drained, "the writer has retried the queued facts")
    events = [(e.actor_name, e.event_type) for e in await backend.list_events()]
    assert events == [
        ("first", "ActorStarted"),
        ("second", "ActorStarted"),
        ("second", "ActorStopped"),
        ("first", "ActorStopped"),
    ]
    assert "persisting records failed" in caplog.text
    await backend.aclose()


async def test_closing_while_the_server_is_away_says_what_is_left(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    backend: RedisStreamsPersistence = redis_backend(url=server.url, timeout=0.3)
    await backend.record_event(event("a", 1.0))
    server.stop()
    backend.record_nowait("event", event("b", 2.0))
    with caplog.at_level(logging.ERROR, logger="papyra"):
        await backend.aclose()
    assert backend.closed
    assert "1 records could not be written to Redis at redis://127.0.0.1" in caplog.text
    server.start()
    await backend.flush()  # used again: the kept record is written
    assert [e.event_type for e in await backend.list_events()] == ["a", "b"]
    await backend.aclose()

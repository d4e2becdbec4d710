"""The consumer-group API of the Redis backend (spec persistence.md §9), on a real server."""

from __future__ import annotations

import anyio
import pytest

from papyra.persistence.backends.redis import (
    RedisConsumerGroupConfig,
    RedisResponseError,
    RedisStreamEntry,
    RedisStreamsPersistence,
)
from papyra.persistence.models import PersistedEvent

pytestmark = pytest.mark.anyio


def event(name: str, ts: float) -> PersistedEvent:
    return PersistedEvent("sys", "local:1", name, {}, ts)


def names(entries: tuple[RedisStreamEntry, ...] | list[RedisStreamEntry]) -> list[str]:
    return [e.data["event_type"] for e in entries]


async def test_ensure_group_is_idempotent(backend: RedisStreamsPersistence) -> None:
    await backend.ensure_consumer_group(kind="events", group="g")
    await backend.ensure_consumer_group(kind="events", group="g")  # BUSYGROUP: ignored
    assert await backend._redis.exists(backend._events_key) == 1  # MKSTREAM
    with pytest.raises(RedisResponseError):
        await backend.ensure_consumer_group(kind="events", group="h", start_id="not-an-id")


async def test_consume_reads_new_entries_once_and_keeps_them_pending(
    backend: RedisStreamsPersistence,
) -> None:
    cfg = RedisConsumerGroupConfig(group="g", consumer="c1", count=10, block_ms=None)
    for i in range(3):
        await backend.record_event(event(f"e{i}", float(i)))
    first = await backend.consume(kind="events", cfg=cfg)
    assert names(first) == ["e0", "e1", "e2"]
    assert all(isinstance(e.id, str) and e.data["kind"] == "event" for e in first)
    assert await backend.consume(kind="events", cfg=cfg) == ()  # nothing new
    pending = await backend.consume(kind="events", cfg=cfg, read_id="0")
    assert names(pending) == ["e0", "e1", "e2"]  # not acknowledged yet
    summary = await backend.pending_summary(kind="events", group="g")
    assert summary["raw"]["pending"] == 3
    assert summary["raw"]["consumers"] == [{"name": "c1", "pending": 3}]
    assert await backend.ack(kind="events", group="g", ids=[first[0].id, first[1].id]) == 2
    assert await backend.ack(kind="events", group="g", ids=[]) == 0
    assert (await backend.pending_summary(kind="events", group="g"))["raw"]["pending"] == 1


async def test_consume_skips_malformed_entries(backend: RedisStreamsPersistence) -> None:
    await backend._redis.xadd(backend._events_key, {"data": "{bad"})
    await backend.record_event(event("ok", 1.0))
    cfg = RedisConsumerGroupConfig(group="g", consumer="c", block_ms=None)
    assert names(await backend.consume(kind="events", cfg=cfg)) == ["ok"]


async def test_a_blocking_consume_returns_when_an_entry_arrives(
    backend: RedisStreamsPersistence,
) -> None:
    await backend.ensure_consumer_group(kind="audits", group="g", start_id="$")
    cfg = RedisConsumerGroupConfig(group="g", consumer="c", block_ms=10_000)
    got: list[tuple[RedisStreamEntry, ...]] = []

    async def consumer() -> None:
        got.append(await backend.consume(kind="audits", cfg=cfg))

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        # Wait until the server reports the blocked client, then write. The state lives in
        # another process: there is no event to wait on, so poll it under a deadline.
        with anyio.fail_after(5):
            info = backend._redis.execute_command
            while b"blocked_clients:0" in await info("INFO", "clients"):  # noqa: ASYNC110
                await anyio.sleep(0.01)
        await backend.record_audit({"timestamp": 7.0})
    ((entry,),) = got
    assert entry.data["timestamp"] == 7.0


async def test_a_consume_with_block_ms_times_out_empty(backend: RedisStreamsPersistence) -> None:
    cfg = RedisConsumerGroupConfig(group="g", consumer="c", block_ms=50)
    assert await backend.consume(kind="dead_letters", cfg=cfg) == ()


async def test_claim_moves_pending_entries_to_another_consumer(
    backend: RedisStreamsPersistence,
) -> None:
    await backend.record_event(event("a", 1.0))
    await backend._redis.xadd(backend._events_key, {"data": "[]"})  # claimed, not returned
    first = RedisConsumerGroupConfig(group="g", consumer="c1", block_ms=None)
    (_,) = await backend.consume(kind="events", cfg=first)
    raw = await backend._redis.xrange(backend._events_key)
    ids = [entry_id for entry_id, _ in raw]
    assert await backend.claim("events", group="g", consumer="c2", min_idle_ms=0,
                               entry_ids=[]) == []
    claimed = await backend.claim(
        "events", group="g", consumer="c2", min_idle_ms=0, entry_ids=ids
    )
    assert isinstance(claimed, list) and names(claimed) == ["a"]
    summary = (await backend.pending_summary(kind="events", group="g"))["raw"]
    assert summary["consumers"] == [{"name": "c2", "pending": 2}]

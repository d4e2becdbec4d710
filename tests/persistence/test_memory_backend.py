"""``InMemoryPersistence``: storage, coercion, reads, the bound, closing and maintenance calls."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra.address import ActorAddress
from papyra.persistence import InMemoryPersistence
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)

pytestmark = pytest.mark.anyio


def event(ts: float, kind: str = "ActorStarted", rid: int = 1) -> PersistedEvent:
    return PersistedEvent("local", f"local:{rid}", kind, {}, ts)


def audit(ts: float) -> PersistedAudit:
    return PersistedAudit("local", ts, 1, 1, 0, 0, 1, (), (), 0)


def letter(ts: float) -> PersistedDeadLetter:
    return PersistedDeadLetter("local", "local:2", "str", "hi", ts)


async def test_records_are_stored_in_write_order_per_kind() -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    await backend.record_audit(audit(2))
    await backend.record_event(event(3, "ActorStopped"))
    await backend.record_dead_letter(letter(4))
    assert await backend.list_events() == (event(1), event(3, "ActorStopped"))
    assert await backend.list_audits() == (audit(2),)
    assert await backend.list_dead_letters() == (letter(4),)
    assert backend.events == (event(1), event(3, "ActorStopped"))
    assert backend.audits == (audit(2),)
    assert backend.dead_letters == (letter(4),)


async def test_the_stores_are_plain_lists_callers_can_append_to() -> None:
    backend = InMemoryPersistence()
    backend._events.append(event(7))
    backend._audits.append(audit(8))
    backend._dead_letters.append(letter(9))
    assert await backend.list_events() == (event(7),)
    assert await backend.list_audits(since=8) == (audit(8),)
    assert await backend.list_dead_letters(limit=1) == (letter(9),)
    assert type(backend._events) is list


async def test_snapshots_are_immutable_copies() -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    snapshot = backend.events
    await backend.record_event(event(2))
    assert snapshot == (event(1),)
    assert isinstance(await backend.list_events(), tuple)


async def test_seed_mapping_is_stored_as_a_model() -> None:
    backend = InMemoryPersistence()
    await backend.record_event({
        "system_id": "local",
        "actor_address": ActorAddress("local", 1),
        "event_type": "counter.incremented",
        "payload": {"value": 5, "total": 5},
        "timestamp": 100.0,
    })
    await backend.record_dead_letter(
        {"target": ActorAddress("local", 2), "payload": 1, "timestamp": 101.0}
    )
    await backend.record_audit({"total_actors": 3, "timestamp": 102.0, "kind": "audit"})
    (stored,) = await backend.list_events(since=50)
    assert stored == PersistedEvent(
        "local", "local:1", "counter.incremented", {"value": 5, "total": 5}, 100.0
    )
    assert (await backend.list_dead_letters())[0].target == "local:2"
    assert (await backend.list_audits())[0].total_actors == 3
    assert backend.metrics.records_written == 3
    assert backend.metrics.bytes_written == 0


async def test_other_objects_are_stored_as_given() -> None:
    backend = InMemoryPersistence()
    marker = object()
    await backend.record_event(marker)
    await backend.record_dead_letter("anything")
    assert backend.events == (marker,)
    assert backend.dead_letters == ("anything",)
    # Without a timestamp they cannot match a time filter, but they do not break it either.
    assert await backend.list_events(since=0) == ()
    assert await backend.list_events(limit=5) == (marker,)


async def test_since_and_limit() -> None:
    backend = InMemoryPersistence()
    for ts in range(1, 7):
        await backend.record_event(event(ts))
        await backend.record_audit(audit(ts))
        await backend.record_dead_letter(letter(ts))
    for lister in (backend.list_events, backend.list_audits, backend.list_dead_letters):
        assert [r.timestamp for r in await lister(since=4)] == [4, 5, 6]
        assert [r.timestamp for r in await lister(limit=2)] == [5, 6]
        assert [r.timestamp for r in await lister(since=2, limit=3)] == [4, 5, 6]
        assert [r.timestamp for r in await lister(since=5.5, limit=3)] == [6]
        assert await lister(limit=0) == ()
        assert await lister(since=7) == ()


async def test_retention_is_accepted_but_not_applied() -> None:
    policy = RetentionPolicy(max_records=1, max_age_seconds=0)
    backend = InMemoryPersistence(policy)
    await backend.record_event(event(1))
    await backend.record_event(event(2))
    assert backend.retention is policy
    assert len(await backend.list_events()) == 2


async def test_each_list_is_bounded_keeping_the_newest() -> None:
    backend = InMemoryPersistence(max_records=3)
    assert backend.max_records == 3
    for ts in range(10):
        await backend.record_event(event(ts))
    await backend.record_audit(audit(0))
    assert [e.timestamp for e in backend.events] == [7, 8, 9]
    assert len(backend._events) == 3
    assert backend.audits == (audit(0),)  # the bound is per list
    assert backend.metrics.records_written == 11  # dropped-by-bound records were still written


async def test_a_large_bound_is_exact_for_every_read_and_memory_stays_bounded() -> None:
    backend = InMemoryPersistence(max_records=64)
    for ts in range(1000):
        await backend.record_event(event(ts))
        assert len(backend._events) <= 64 + 64 // 8
        kept = [e.timestamp for e in backend.events]
        assert kept == list(range(max(0, ts - 63), ts + 1))
    assert [e.timestamp for e in await backend.list_events()] == list(range(936, 1000))
    assert [e.timestamp for e in await backend.list_events(limit=2)] == [998, 999]
    assert [e.timestamp for e in await backend.list_events(since=990)] == list(range(990, 1000))
    assert (await backend.compact())["after_records"] == 64


async def test_default_bound_is_ten_thousand() -> None:
    backend = InMemoryPersistence()
    assert backend.max_records == 10_000
    for ts in range(10_005):
        await backend.record_dead_letter(letter(ts))
    assert len(backend.dead_letters) == 10_000
    assert backend.dead_letters[0].timestamp == 5


async def test_unbounded_when_max_records_is_none() -> None:
    backend = InMemoryPersistence(max_records=None)
    for ts in range(10_050):
        await backend.record_audit(audit(ts))
    assert len(backend.audits) == 10_050


@pytest.mark.parametrize("bad", [0, -1, True])
async def test_invalid_bound_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        InMemoryPersistence(max_records=bad)


async def test_max_records_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        InMemoryPersistence(None, 5)  # type: ignore[call-arg]


async def test_a_write_after_close_reopens_the_backend() -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    assert not backend.closed
    await backend.aclose()
    assert backend.closed
    assert await backend.list_events() == (event(1),)  # reads keep working
    await backend.record_event(event(2))  # 0.3.0 dropped it silently
    assert not backend.closed
    await backend.record_audit({"timestamp": 3})
    backend.record_nowait("dead_letter", letter(4))
    assert await backend.list_events() == (event(1), event(2))
    assert len(backend.audits) == 1 and backend.dead_letters == (letter(4),)
    assert backend.metrics.records_written == 4
    assert backend.metrics.write_errors == 0
    await backend.aclose()
    await backend.aclose()  # idempotent
    assert backend.closed
    backend.record_nowait("event", event(5))
    assert not backend.closed and backend.events[-1] == event(5)


async def test_clear_empties_all_three_lists() -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    await backend.record_audit(audit(1))
    await backend.record_dead_letter(letter(1))
    await backend.clear()
    assert (backend.events, backend.audits, backend.dead_letters) == ((), (), ())
    await backend.record_event(event(2))  # still open after a clear
    assert backend.events == (event(2),)


async def test_compact_returns_a_dict_with_unchanged_counts() -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    await backend.record_event(event(2))
    await backend.record_audit(audit(1))
    backend._dead_letters.append(letter(1))
    report = await backend.compact()
    assert report == {
        "backend": "memory", "before_records": 4, "after_records": 4,
        "before_bytes": None, "after_bytes": None,
    }
    assert list(report) == [
        "backend", "before_records", "after_records", "before_bytes", "after_bytes"
    ]
    assert len(backend.events) == 2
    assert backend.metrics.compactions == 1


async def test_scan_never_finds_anomalies_and_counts_a_scan() -> None:
    backend = InMemoryPersistence()
    report = await backend.scan()
    assert report == PersistenceScanReport(backend="memory", anomalies=())
    assert not report.has_anomalies
    assert backend.metrics.scans == 1
    assert backend.metrics.anomalies_detected == 0


@pytest.mark.parametrize(
    "config",
    [
        None,
        PersistenceRecoveryConfig(),
        PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR),
        PersistenceRecoveryConfig(
            mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir="/nowhere"
        ),
    ],
)
async def test_recover_reports_an_empty_scan_without_running_one(config: Any) -> None:
    backend = InMemoryPersistence()
    await backend.record_event(event(1))
    report = await backend.recover(config)
    assert report == PersistenceRecoveryReport(
        backend="memory", scan=PersistenceScanReport(backend="memory", anomalies=())
    )
    assert report.repaired_files == () and report.quarantined_files == ()
    assert backend.metrics.recoveries == 1
    assert backend.metrics.scans == 0
    assert backend.events == (event(1),)


async def test_a_failing_write_counts_an_error_and_raises() -> None:
    class Broken(InMemoryPersistence):
        def _append(self, store: list[Any], record: Any) -> bool:
            raise MemoryError("full")

    backend = Broken()
    with pytest.raises(MemoryError):
        await backend.record_event(event(1))
    assert backend.metrics.write_errors == 1
    assert backend.metrics.records_written == 0


async def test_concurrent_writers_lose_nothing() -> None:
    backend = InMemoryPersistence(max_records=None)

    async def writer(rid: int) -> None:
        for ts in range(50):
            await backend.record_event(event(ts, rid=rid))

    async with anyio.create_task_group() as tg:
        for rid in range(20):
            tg.start_soon(writer, rid)
    assert len(backend.events) == 1000
    assert backend.metrics.records_written == 1000
    for rid in range(20):
        mine = [e.timestamp for e in backend.events if e.actor_address == f"local:{rid}"]
        assert mine == list(range(50))  # each writer's records keep their order


async def test_a_write_that_started_is_not_lost_to_cancellation() -> None:
    backend = InMemoryPersistence()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await backend.record_event(event(1))
    assert backend.events == (event(1),)


def test_constructed_outside_a_loop_and_used_under_both_libraries() -> None:
    backend = InMemoryPersistence()

    async def write(ts: float) -> None:
        await backend.record_event(event(ts))

    anyio.run(write, 1.0)
    anyio.run(write, 2.0, backend="trio")
    assert [e.timestamp for e in backend.events] == [1.0, 2.0]

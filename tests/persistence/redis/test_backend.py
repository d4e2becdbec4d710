"""RedisStreamsPersistence against a real server (spec persistence.md §9): keys, entry bytes,
reads, retention, metrics, scan / recover / compact, strict mode, the 0.3.0 ``_redis`` calls."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import papyra.persistence
from papyra.persistence import JsonFilePersistence
from papyra.persistence.backends.redis import (
    RedisStreamsConfig,
    RedisStreamsPersistence,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from tests.persistence.redis.conftest import MakeBackend

pytestmark = pytest.mark.anyio


def event(name: str, ts: float, **payload: Any) -> PersistedEvent:
    return PersistedEvent("sys", "local:1", name, payload, ts)


# -- construction ------------------------------------------------------------------------------


def test_keys_follow_prefix_and_system_id() -> None:
    b = RedisStreamsPersistence(RedisStreamsConfig(prefix="app", system_id="node-a"))
    assert (b._events_key, b._audits_key, b._dead_letters_key) == (
        "app:node-a:events", "app:node-a:audits", "app:node-a:dead_letters",
    )
    assert b._stream_key("audits") == "app:node-a:audits"
    with pytest.raises(ValueError, match="Unknown stream kind: logs"):
        b._stream_key("logs")  # type: ignore[arg-type]
    assert b._quarantine_key("app:node-a:events") == "app:node-a:quarantine:app_node-a_events"
    q = RedisStreamsPersistence(RedisStreamsConfig(quarantine_prefix="bad"))
    assert q._quarantine_key("papyra:local:events") == "bad:papyra_local_events"


def test_nothing_connects_at_construction() -> None:
    # A port nobody listens on: constructing must not fail (0.3.0 connected lazily too).
    b = RedisStreamsPersistence(RedisStreamsConfig(url="redis://127.0.0.1:1/0"))
    assert not b.closed and b.queued_records == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "http://localhost"}, "scheme must be redis://"),
        ({"url": "redis://localhost/x"}, "invalid database number"),
        ({"prefix": ""}, "prefix must be a non-empty string"),
        ({"max_read": 0}, "max_read must be an int >= 1"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": float("inf")}, "timeout must be a positive number"),
    ],
)
def test_unusable_config_is_refused_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedisStreamsPersistence(RedisStreamsConfig(**config))


def test_config_must_be_a_config() -> None:
    with pytest.raises(TypeError, match="RedisStreamsConfig"):
        RedisStreamsPersistence({"url": "redis://x"})  # type: ignore[arg-type]


def test_public_names() -> None:
    assert papyra.persistence.RedisStreamsPersistence is RedisStreamsPersistence
    from papyra.persistence import redis as alias

    assert alias.RedisStreamsConfig is RedisStreamsConfig


# -- writes and reads --------------------------------------------------------------------------


async def test_an_entry_holds_the_json_backends_line(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    b = make_backend()
    record = PersistedEvent("sys", "local:1", "Started", {"ü": [1, 2.5, None]}, 12.5)
    await b.record_event(record)
    json_backend = JsonFilePersistence(tmp_path / "f.ndjson")
    await json_backend.record_event(record)
    await json_backend.aclose()
    line = (tmp_path / "f.ndjson").read_bytes()
    raw = await b._redis.execute_command("XRANGE", b._events_key, "-", "+")
    assert raw[0][1] == [b"data", line[:-1]]
    assert b.metrics.bytes_written == len(line) - 1 and b.metrics.records_written == 1


async def test_each_kind_has_its_stream_and_reads_back(backend: RedisStreamsPersistence) -> None:
    await backend.record_event(event("a", 1.0))
    await backend.record_audit(PersistedAudit("sys", 2.0, 3, 2, 1, 0, 2, ("x",), (), 4))
    await backend.record_dead_letter(PersistedDeadLetter("sys", "local:9", "Ping", {"n": 1}, 3.0))
    await backend.record_event({"event_type": "b", "timestamp": 4.0, "kind": "ignored"})
    assert await backend._redis.xlen(backend._events_key) == 2
    assert await backend._redis.xlen(backend._audits_key) == 1
    assert await backend._redis.xlen(backend._dead_letters_key) == 1
    events = await backend.list_events()
    assert [(e.event_type, e.system_id) for e in events] == [("a", "sys"), ("b", "local")]
    (audit,) = await backend.list_audits()
    assert (audit.total_actors, audit.registry_orphans, audit.dead_letters_count) == (3, ["x"], 4)
    (letter,) = await backend.list_dead_letters()
    assert (letter.target, letter.message_type, letter.payload) == ("local:9", "Ping", {"n": 1})


async def test_since_and_limit(backend: RedisStreamsPersistence) -> None:
    for i in range(10):
        await backend.record_event(event(f"e{i}", float(i)))
    names = [e.event_type for e in await backend.list_events(since=4.0, limit=3)]
    assert names == ["e7", "e8", "e9"]
    assert [e.event_type for e in await backend.list_events(since=8.5)] == ["e9"]
    assert await backend.list_events(limit=0) == ()


async def test_reads_take_the_newest_max_read_entries(make_backend: MakeBackend) -> None:
    b = make_backend(max_read=3)
    for i in range(7):
        await b.record_event(event(f"e{i}", float(i)))
    assert [e.event_type for e in await b.list_events()] == ["e4", "e5", "e6"]


async def test_reads_are_tolerant(make_backend: MakeBackend) -> None:
    b = make_backend(system_id="node-7")
    key = b._events_key
    await b._redis.xadd(key, {"data": '{"kind":"event","timestamp":1.0,"extra":1}'})
    await b._redis.xadd(key, {"data": '{"kind":"event","event_type":"no timestamp"}'})
    await b._redis.xadd(key, {"data": "not json"})
    await b._redis.xadd(key, {"data": "[1,2]"})
    await b._redis.xadd(key, {"other": "field"})
    await b._redis.xadd(key, {"data": '{"kind":"audit","timestamp":2.0}'})
    (only,) = await b.list_events()
    assert (only.system_id, only.actor_address, only.event_type, only.payload) == (
        "node-7", None, "", {},
    )


async def test_retention_applies_to_reads(make_backend: MakeBackend) -> None:
    b = make_backend(retention_policy=RetentionPolicy(max_records=2))
    for i in range(5):
        await b.record_event(event(f"e{i}", float(i)))
    assert [e.event_type for e in await b.list_events()] == ["e3", "e4"]
    assert await b._redis.xlen(b._events_key) == 5  # nothing deleted by a read


async def test_records_that_are_not_models_or_mappings_are_refused(
    backend: RedisStreamsPersistence,
) -> None:
    with pytest.raises(TypeError, match="PersistedEvent or a mapping"):
        await backend.record_event(42)
    with pytest.raises(ValueError, match="unknown record kind"):
        backend.record_nowait("logs", event("x", 1.0))
    assert backend.metrics.write_errors == 1
    assert backend.queued_records == 0


async def test_strict_refuses_values_json_cannot_encode(make_backend: MakeBackend) -> None:
    lax = make_backend()
    await lax.record_event(event("x", 1.0, obj=object()))
    (stored,) = await lax.list_events()
    assert stored.payload["obj"].startswith("<object object at")

    strict = make_backend(strict=True)
    assert strict.strict
    with pytest.raises(TypeError, match="has no JSON form"):
        await strict.record_event(event("x", 1.0, obj=object()))
    await strict.record_event(event("ok", 1.0, path=[1, "two"]))
    assert [e.event_type for e in await strict.list_events()] == ["ok"]


async def test_the_0_3_0_client_calls_keep_working(backend: RedisStreamsPersistence) -> None:
    client = backend._redis
    entry_id = await client.xadd(backend._events_key, {"data": '{"kind":"event","timestamp":5}'})
    assert isinstance(entry_id, str) and "-" in entry_id
    assert await client.xlen(backend._events_key) == 1
    ((read_id, fields),) = await client.xrange(backend._events_key)
    assert read_id == entry_id and fields == {"data": '{"kind":"event","timestamp":5}'}
    assert [e.timestamp for e in await backend.list_events()] == [5]
    assert await client.delete(*backend._keys) == 1
    assert await client.xlen(backend._events_key) == 0


# -- scan, recover, compact --------------------------------------------------------------------


async def damage(b: RedisStreamsPersistence) -> None:
    await b.record_event(event("good", 1.0))
    await b._redis.xadd(b._events_key, {"other": "x"})
    await b._redis.xadd(b._audits_key, {"data": "{broken"})
    await b._redis.xadd(b._dead_letters_key, {"data": '"a string"'})


DETAILS = [
    ("events", "Missing 'data' field or non-string payload"),
    ("audits", "Invalid JSON payload in stream entry"),
    ("dead_letters", "JSON payload is not an object/dict"),
]


async def test_scan_reports_each_bad_entry(backend: RedisStreamsPersistence) -> None:
    clean = await backend.scan()
    assert clean.backend == "redis" and not clean.has_anomalies
    await damage(backend)
    report = await backend.scan()
    assert [(a.type, a.path.rsplit(":", 1)[1], a.detail) for a in report.anomalies] == [
        (PersistenceAnomalyType.CORRUPTED_LINE, stream, detail) for stream, detail in DETAILS
    ]
    snap = backend.metrics.snapshot()
    assert (snap["scans"], snap["anomalies_detected"]) == (2, 3)


async def test_scan_checks_only_the_newest_sample(make_backend: MakeBackend) -> None:
    b = make_backend(scan_sample_size=2)
    await b._redis.xadd(b._events_key, {"data": "{old damage"})
    await b.record_event(event("a", 1.0))
    await b.record_event(event("b", 2.0))
    assert not (await b.scan()).has_anomalies


async def test_recover_ignore_changes_nothing(backend: RedisStreamsPersistence) -> None:
    await damage(backend)
    for config in (None, PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.IGNORE)):
        report = await backend.recover(config)
        assert report.scan.has_anomalies and report.repaired_files == ()
    assert await backend._redis.xlen(backend._events_key) == 2


async def test_recover_repair_deletes_bad_entries(backend: RedisStreamsPersistence) -> None:
    await damage(backend)
    report = await backend.recover(PersistenceRecoveryConfig(mode="repair"))
    assert report.repaired_files == backend._keys and report.quarantined_files == ()
    assert not (await backend.scan()).has_anomalies
    assert [e.event_type for e in await backend.list_events()] == ["good"]
    assert backend.metrics.recoveries == 1


async def test_recover_quarantine_moves_bad_entries(backend: RedisStreamsPersistence) -> None:
    await damage(backend)
    before = time.time()
    report = await backend.recover(PersistenceRecoveryConfig(mode="quarantine"))
    qkeys = tuple(backend._quarantine_key(k) for k in backend._keys)
    assert report.quarantined_files == qkeys and report.repaired_files == backend._keys
    moved = [await backend._redis.xrange(q) for q in qkeys]
    assert [m[0][1]["data"] for m in moved] == ["", "{broken", '"a string"']
    assert [m[0][1]["source"] for m in moved] == list(backend._keys)
    assert all(float(m[0][1]["timestamp"]) >= before for m in moved)
    assert not (await backend.scan()).has_anomalies


async def test_compact_trims_to_max_records(make_backend: MakeBackend) -> None:
    b = make_backend(approx_trim=False, retention_policy=RetentionPolicy(max_records=3))
    for i in range(10):
        await b.record_event(event(f"e{i}", float(i)))
    await b.record_audit({"timestamp": 1.0})
    report = await b.compact()
    assert (report.backend, report.before_records, report.after_records) == ("redis", 11, 4)
    assert (report.before_bytes, report.after_bytes, report.removed_records) == (None, None, 7)
    assert [e.event_type for e in await b.list_events()] == ["e7", "e8", "e9"]
    assert b.metrics.compactions == 1


async def test_compact_without_a_record_limit_only_counts(backend: RedisStreamsPersistence) -> None:
    await backend.record_event(event("a", 1.0))
    report = await backend.compact()
    assert (report.before_records, report.after_records) == (1, 1)


# -- startup checks of a system on Redis -------------------------------------------------------


async def test_a_system_refuses_to_start_on_damaged_streams(
    backend: RedisStreamsPersistence, impl: Any
) -> None:
    from papyra.persistence.startup import PersistenceStartupConfig
    from papyra.system import ActorSystem

    await damage(backend)
    system = ActorSystem(
        persistence=backend, _dispatch=impl.dispatch,
        persistence_startup=PersistenceStartupConfig(mode="fail_on_anomaly"),
    )
    with pytest.raises(RuntimeError, match="Persistence anomalies detected"):
        await system.start()


async def test_a_system_recovers_damaged_streams_at_startup(
    backend: RedisStreamsPersistence, impl: Any
) -> None:
    from papyra.persistence.startup import PersistenceStartupConfig
    from papyra.system import ActorSystem

    await damage(backend)
    config = PersistenceStartupConfig(
        mode="recover", recovery=PersistenceRecoveryConfig(mode="quarantine")
    )
    async with ActorSystem(
        persistence=backend, _dispatch=impl.dispatch, persistence_startup=config
    ):
        pass
    assert not (await backend.scan()).has_anomalies
    assert await backend._redis.xlen(backend._quarantine_key(backend._audits_key)) == 1

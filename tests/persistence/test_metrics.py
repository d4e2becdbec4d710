"""Metrics counters: snapshot shape, reset semantics and the mixin helpers."""

from __future__ import annotations

import anyio
import pytest
from anyio.lowlevel import checkpoint

from papyra.persistence.metrics import PersistenceMetrics, PersistenceMetricsMixin

pytestmark = pytest.mark.anyio

KEYS = [
    "records_written", "bytes_written", "scans", "anomalies_detected", "recoveries",
    "compactions", "write_errors", "scan_errors", "recovery_errors", "compaction_errors",
]


async def test_snapshot_has_every_counter_in_order_and_is_a_copy() -> None:
    metrics = PersistenceMetrics()
    snap = metrics.snapshot()
    assert isinstance(snap, dict)
    assert list(snap) == KEYS
    assert set(snap.values()) == {0}
    snap["records_written"] = 99
    assert metrics.records_written == 0
    assert metrics.snapshot() is not metrics.snapshot()


async def test_reset_zeroes_activity_but_keeps_error_counters() -> None:
    metrics = PersistenceMetrics(*range(1, 11))
    metrics.reset()
    assert metrics.snapshot() == {
        **dict.fromkeys(KEYS[:6], 0),
        "write_errors": 7, "scan_errors": 8, "recovery_errors": 9, "compaction_errors": 10,
    }


class Backend(PersistenceMetricsMixin):
    pass


async def test_mixin_helpers_update_the_right_counters() -> None:
    backend = Backend()
    await backend._metrics_on_write_ok(bytes_written=120)
    await backend._metrics_on_write_ok(bytes_written=30, records=2)
    await backend._metrics_on_write_ok(bytes_written=-5)  # negative sizes never subtract
    await backend._metrics_on_write_error()
    await backend._metrics_on_scan_start()
    await backend._metrics_on_scan_error()
    await backend._metrics_on_scan_anomalies(3)
    await backend._metrics_on_scan_anomalies(0)
    await backend._metrics_on_scan_anomalies(-2)
    await backend._metrics_on_anomalies_detected(2)
    await backend._metrics_on_recover_start()
    await backend._metrics_on_recovery_error()
    await backend._metrics_on_recover_error()
    await backend._metrics_on_compact_start()
    await backend._metrics_on_compact_error()
    assert backend.metrics.snapshot() == {
        "records_written": 4, "bytes_written": 150, "scans": 1, "anomalies_detected": 5,
        "recoveries": 1, "compactions": 1, "write_errors": 1, "scan_errors": 1,
        "recovery_errors": 2, "compaction_errors": 1,
    }


async def test_each_backend_instance_has_its_own_counters() -> None:
    a, b = Backend(), Backend()
    await a._metrics_on_write_ok()
    assert b.metrics.records_written == 0
    assert a.metrics is a.metrics


async def test_concurrent_updates_are_not_lost() -> None:
    backend = Backend()

    async def writer() -> None:
        for _ in range(100):
            await backend._metrics_on_write_ok(bytes_written=2)
            await checkpoint()

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(writer)
    assert backend.metrics.records_written == 2000
    assert backend.metrics.bytes_written == 4000


def test_a_backend_built_outside_an_event_loop_works_under_both_libraries() -> None:
    backend = Backend()
    anyio.run(backend._metrics_on_scan_start)
    anyio.run(backend._metrics_on_scan_start, backend="trio")
    assert backend.metrics.scans == 2

"""Per-backend operation counters (in-process only; nothing here is persisted)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ("PersistenceMetrics", "PersistenceMetricsMixin")


@dataclass(slots=True)
class PersistenceMetrics:
    """Counters a backend updates as it works.

    ``records_written``/``bytes_written`` count successful ``record_*`` calls (bytes as encoded:
    0 for the memory backend). ``scans``, ``recoveries`` and ``compactions`` count calls at their
    start; ``anomalies_detected`` adds up what scans reported. The ``*_errors`` counters count
    calls that raised.
    """

    records_written: int = 0
    bytes_written: int = 0
    scans: int = 0
    anomalies_detected: int = 0
    recoveries: int = 0
    compactions: int = 0
    write_errors: int = 0
    scan_errors: int = 0
    recovery_errors: int = 0
    compaction_errors: int = 0

    def reset(self) -> None:
        """Zero the six activity counters. The four ``*_errors`` counters are deliberately kept.

        Error counts survive a reset so that a monitoring interval restart cannot hide that a
        backend has been failing (the original behaves this way and callers test for it).
        """
        self.records_written = 0
        self.bytes_written = 0
        self.scans = 0
        self.anomalies_detected = 0
        self.recoveries = 0
        self.compactions = 0

    def snapshot(self) -> Mapping[str, int]:
        """Return a new ``dict`` of all ten counters, in declaration order. Never raises."""
        try:
            return {
                "records_written": self.records_written,
                "bytes_written": self.bytes_written,
                "scans": self.scans,
                "anomalies_detected": self.anomalies_detected,
                "recoveries": self.recoveries,
                "compactions": self.compactions,
                "write_errors": self.write_errors,
                "scan_errors": self.scan_errors,
                "recovery_errors": self.recovery_errors,
                "compaction_errors": self.compaction_errors,
            }
        except Exception:  # pragma: no cover - only reachable if a subclass breaks an attribute
            return {}


class PersistenceMetricsMixin:
    """Gives a backend a :class:`PersistenceMetrics` and async helpers to update it.

    The helpers are coroutines (backends ``await`` them) but never suspend: each update is a few
    integer additions with no ``await`` in between, which cooperative scheduling already makes
    atomic. So no lock is taken, and a backend built outside an event loop (or used from asyncio
    and later trio) never trips over a lock bound to another loop.
    """

    def __init__(self) -> None:
        self._metrics = PersistenceMetrics()

    @property
    def metrics(self) -> PersistenceMetrics:
        """The backend's live counters (one object, updated in place; ``snapshot()`` copies)."""
        return self._metrics

    async def _metrics_on_write_ok(self, *, bytes_written: int = 0, records: int = 1) -> None:
        self._metrics.records_written += records
        self._metrics.bytes_written += max(0, int(bytes_written))

    async def _metrics_on_write_error(self) -> None:
        self._metrics.write_errors += 1

    async def _metrics_on_scan_start(self) -> None:
        self._metrics.scans += 1

    async def _metrics_on_scan_error(self) -> None:
        self._metrics.scan_errors += 1

    async def _metrics_on_scan_anomalies(self, count: int) -> None:
        """Add ``count`` to ``anomalies_detected``; zero or negative counts are ignored."""
        if count > 0:
            self._metrics.anomalies_detected += int(count)

    async def _metrics_on_anomalies_detected(self, count: int) -> None:
        await self._metrics_on_scan_anomalies(count)

    async def _metrics_on_recover_start(self) -> None:
        self._metrics.recoveries += 1

    async def _metrics_on_recover_error(self) -> None:
        self._metrics.recovery_errors += 1

    async def _metrics_on_recovery_error(self) -> None:
        await self._metrics_on_recover_error()

    async def _metrics_on_compact_start(self) -> None:
        self._metrics.compactions += 1

    async def _metrics_on_compact_error(self) -> None:
        self._metrics.compaction_errors += 1

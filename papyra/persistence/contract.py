"""The structural contract of a persistence backend and two helpers that never raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = (
    "PersistenceBackendCapabilities",
    "PersistenceBackendContract",
    "backend_capabilities",
    "safe_metrics_snapshot",
)


@dataclass(frozen=True, slots=True)
class PersistenceBackendCapabilities:
    """What :func:`backend_capabilities` found on a backend.

    ``supports_record_nowait``: the backend has its own ``record_nowait`` and ``flush`` (every
    ``PersistenceBackend`` subclass does, through the base's defaults), so the actor system
    writes to it as is; without them it is written through an adapter
    (``papyra.persistence._outbox.as_writer``).
    """

    supports_scan: bool
    supports_recover: bool
    supports_compact: bool
    supports_metrics: bool
    supports_record_nowait: bool = False


@runtime_checkable
class PersistenceBackendContract(Protocol):
    """What the actor system expects of a backend. Any object with these members qualifies.

    ``isinstance(obj, PersistenceBackendContract)`` only checks that the members exist; the read
    API (``list_events`` and friends) is expected on built-in backends but is not part of it.

    ``record_nowait`` and ``flush`` are the write protocol (``papyra.persistence._outbox``):
    the system hands each fact over with ``record_nowait`` when it happens and awaits ``flush``
    to get it written. ``PersistenceBackend`` provides both. An object that has only the three
    ``record_*`` coroutines does not satisfy this Protocol, but the system still accepts it and
    writes to it through an adapter that queues the facts.
    """

    @property
    def retention(self) -> Any:
        """The backend's retention policy (``papyra.persistence.backends.retention``)."""
        ...

    async def record_event(self, event: Any) -> None:
        """Store one ``PersistedEvent`` (or a mapping of its fields); awaited by the caller."""
        ...

    async def record_audit(self, report: Any) -> None:
        """Store one ``PersistedAudit`` (or a mapping of its fields)."""
        ...

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Store one ``PersistedDeadLetter`` (or a mapping of its fields)."""
        ...

    def record_nowait(self, kind: str, record: Any) -> None:
        """Take one fact (``"event"``, ``"audit"`` or ``"dead_letter"``) without waiting.

        Called by the system in the task where the fact happens; it must not block. The record
        is written by the next :meth:`flush`, in the order it was handed over.
        """
        ...

    async def flush(self) -> None:
        """Write everything handed over with :meth:`record_nowait`, oldest first; then raise
        the first write error, if any (a failed record is not retried)."""
        ...

    async def aclose(self) -> None:
        """Release the backend's resources (files, connections); idempotent."""
        ...

    async def scan(self) -> Any:
        """Check the stored records and return a ``PersistenceScanReport`` of anomalies."""
        ...

    async def recover(self, config: Any | None = None) -> Any:
        """Repair or quarantine what :meth:`scan` finds (``PersistenceRecoveryConfig``);
        returns a ``PersistenceRecoveryReport``."""
        ...

    async def compact(self) -> Any:
        """Apply the retention policy to the stored records; returns a compaction report."""
        ...


_NOTHING = PersistenceBackendCapabilities(
    supports_scan=False,
    supports_recover=False,
    supports_compact=False,
    supports_metrics=False,
    supports_record_nowait=False,
)


def backend_capabilities(backend: Any) -> PersistenceBackendCapabilities:
    """Report which optional operations ``backend`` offers, by looking for callable members.

    ``supports_metrics`` needs a non-``None`` ``metrics`` with a callable ``snapshot``, and
    ``supports_record_nowait`` both ``record_nowait`` and ``flush``. Never raises: if inspecting
    the object fails (a property that raises, say), every flag is ``False``.
    """
    try:
        metrics = getattr(backend, "metrics", None)
        return PersistenceBackendCapabilities(
            supports_scan=callable(getattr(backend, "scan", None)),
            supports_recover=callable(getattr(backend, "recover", None)),
            supports_compact=callable(getattr(backend, "compact", None)),
            supports_metrics=metrics is not None and callable(getattr(metrics, "snapshot", None)),
            supports_record_nowait=callable(getattr(backend, "record_nowait", None))
            and callable(getattr(backend, "flush", None)),
        )
    except Exception:
        return _NOTHING


def safe_metrics_snapshot(backend: Any) -> Mapping[str, int]:
    """Return ``backend.metrics.snapshot()`` if that is a ``dict``, else ``{}``. Never raises."""
    try:
        metrics = getattr(backend, "metrics", None)
        if metrics is None:
            return {}
        snapshot = metrics.snapshot()
    except Exception:
        return {}
    return snapshot if isinstance(snapshot, dict) else {}

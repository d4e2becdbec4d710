"""``PersistenceBackend``: the base class of every built-in backend (all operations are no-ops here)."""

from __future__ import annotations

from typing import Any

from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.metrics import PersistenceMetricsMixin
from papyra.persistence.models import PersistenceScanReport

__all__ = ("PersistenceBackend",)


class PersistenceBackend(PersistenceMetricsMixin):
    """A place where the actor system writes its facts: events, audits and dead letters.

    Subclasses override what they support. The base accepts and discards every record, and its
    ``scan()`` returns ``None``, which the startup check reads as "scanning is not supported".
    The system calls ``record_*`` from background tasks; a backend must not block for long and
    should not raise for records it merely cannot store.
    """

    def __init__(self, *, retention_policy: RetentionPolicy | None = None) -> None:
        super().__init__()
        self._retention = RetentionPolicy() if retention_policy is None else retention_policy

    @property
    def retention(self) -> RetentionPolicy | None:
        """The retention policy; an empty ``RetentionPolicy()`` (no limits) when none was given."""
        return self._retention

    async def record_event(self, event: Any) -> None:
        """Store one lifecycle event (a ``PersistedEvent`` or a mapping of its fields)."""

    async def record_audit(self, report: Any) -> None:
        """Store one audit snapshot (a ``PersistedAudit`` or a mapping of its fields)."""

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Store one dead letter (a ``PersistedDeadLetter`` or a mapping of its fields)."""

    async def compact(self) -> Any:
        """Physically apply retention and drop unreadable data; ``None`` when unsupported."""
        return None

    async def scan(self) -> PersistenceScanReport | None:
        """Look for damage without changing anything; ``None`` when unsupported."""
        return None

    async def recover(self, config: Any | None = None) -> Any:
        """Repair or quarantine what ``scan()`` finds; ``None`` when unsupported."""
        return None

    async def aclose(self) -> None:
        """Release resources. Later writes are dropped silently; reads keep working."""

"""``PersistenceBackend``: the base of every backend, with the default write protocol."""

from __future__ import annotations

import inspect
from typing import Any

from papyra.persistence._outbox import Outbox, drains_first
from papyra.persistence._records import KINDS
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.metrics import PersistenceMetricsMixin
from papyra.persistence.models import PersistenceScanReport

__all__ = ("PersistenceBackend",)


class PersistenceBackend(PersistenceMetricsMixin):
    """A place where the actor system writes its facts: events, audits and dead letters.

    Subclasses override what they support. The base accepts and discards every record, and its
    ``scan()`` returns ``None``, which the startup check reads as "scanning is not supported".
    A backend must not block for long and should not raise for records it merely cannot store.

    **The write protocol.** The actor system hands each fact over with
    ``record_nowait(kind, record)`` (synchronous, no I/O) the moment it happens, and a writer
    task then awaits ``flush()``. Actors and other code may also ``await record_event(...)``
    (and its two siblings) directly. The defaults here queue in ``record_nowait`` and write the
    queue, oldest first, through ``record_event`` / ``record_audit`` / ``record_dead_letter`` in
    ``flush`` (``papyra.persistence._outbox.Outbox``, created on the first record, so a subclass
    that never calls ``super().__init__()`` still works). A backend that can do better (the
    memory and file backends) overrides both.

    **Ordering contract.** A record handed over with ``record_nowait`` reaches the store before
    any record written directly afterwards. For the default queue this holds because a subclass
    that keeps the default ``record_nowait`` has its own ``record_*`` coroutines wrapped when
    the class is created: each first flushes what is queued (one attribute check when nothing
    is), then writes its record. Errors of queued records written that way are logged on the
    ``"papyra"`` logger, not raised to the direct writer. A subclass that overrides
    ``record_nowait`` is not wrapped: it keeps the contract itself.

    **What** ``flush`` **guarantees.** When it returns, every record handed over before the
    call was passed to the store or its error raised: records are written in order and once
    each, a record whose write raises is not retried, the remaining ones are still written and
    the first error is raised after them (later ones are logged). A cancelled flush leaves the
    records it has not written queued, in order, for the next one.
    """

    #: The queue of the default write protocol; set on the first ``record_nowait``.
    _papyra_outbox: Outbox | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "record_nowait", None) is not PersistenceBackend.record_nowait:
            return  # the subclass (or a parent) takes records itself and keeps the contract
        for spec in KINDS.values():
            own = cls.__dict__.get(spec.method)
            if inspect.isfunction(own):
                setattr(cls, spec.method, drains_first(own))

    def __init__(self, *, retention_policy: RetentionPolicy | None = None) -> None:
        super().__init__()
        self._retention = RetentionPolicy() if retention_policy is None else retention_policy

    @property
    def retention(self) -> RetentionPolicy | None:
        """The retention policy; an empty ``RetentionPolicy()`` (no limits) when none was given."""
        return self._retention

    def record_nowait(self, kind: str, record: Any) -> None:
        """Queue ``record`` of ``kind`` for the next :meth:`flush`; never awaits, never does I/O.

        ``kind`` is ``"event"``, ``"audit"`` or ``"dead_letter"``; any other value raises
        ``ValueError`` here. The record itself is not looked at until it is written.
        """
        outbox = self._papyra_outbox
        if outbox is None:
            outbox = Outbox(self)
            # object.__setattr__: a subclass with a guarded __setattr__ still gets its queue.
            object.__setattr__(self, "_papyra_outbox", outbox)
        outbox.record_nowait(kind, record)

    async def flush(self) -> None:
        """Write every queued record through ``record_*``, oldest first (see the class doc)."""
        outbox = self._papyra_outbox
        if outbox is not None:
            await outbox.flush()

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
        """Release resources; the base holds none, so here this does nothing.

        The built-in backends (memory, JSON, rotating) keep serving reads after it, and the
        next write reopens them, so that one backend object can serve several systems one
        after another (0.3.0 dropped later writes silently).
        """

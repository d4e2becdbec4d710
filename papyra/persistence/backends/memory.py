"""``InMemoryPersistence``: the default backend, holding records in three bounded lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anyio.lowlevel import cancel_shielded_checkpoint

from papyra.persistence._records import KINDS, _unknown_kind, check_strict, select_window
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)

__all__ = ("InMemoryPersistence",)


# kind -> (the list attribute holding it, the mapping coercion)
_STORES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    name: (f"_{kind.plural}", kind.coerce) for name, kind in KINDS.items()
}


class InMemoryPersistence(PersistenceBackend):
    """Keeps events, audits and dead letters in process memory, oldest first.

    Nothing survives the process. ``record_*`` accepts the ``Persisted*`` model, a mapping of
    its fields (converted to the model, see ``papyra.persistence._records``), or any other
    object, which is stored as given. The retention policy is accepted but not applied.

    ``max_records`` (keyword-only, default ``10_000``) bounds **each** of the three lists: when
    a write would exceed it, the oldest entries of that list are discarded, so a long-running
    system does not grow without bound. ``None`` removes the bound.

    ``strict`` (keyword-only, default ``False``): ``True`` refuses, with the ``TypeError`` a
    ``strict=True`` file backend raises, every record that backend would not store: an object
    that is neither the model nor a mapping of its fields, or a value without a JSON form
    (a ``datetime``, a ``set``, ...). The check encodes the record once and throws the line
    away; what is stored is still the object itself.

    Every list mutation happens without an intervening ``await``, so concurrent writers from
    many tasks need no lock and a record is stored in the order its ``record_*`` call ran. A
    ``record_*`` call does not suspend at all (the system's writer awaits one per record), so
    a cancelled caller never loses a write that has started.

    :meth:`aclose` marks the backend closed; reads keep working, and the next write reopens it
    (it is stored and counted as usual), so one backend can serve several systems one after
    another. 0.3.0 dropped writes after ``aclose()`` silently.

    Use it from the event loop of the system it serves (no locks: not thread-safe).

    :raises ValueError: ``max_records`` is not ``None`` or an int >= 1.
    """

    def __init__(
        self,
        retention_policy: RetentionPolicy | None = None,
        *,
        max_records: int | None = 10_000,
        strict: bool = False,
    ) -> None:
        super().__init__(retention_policy=retention_policy)
        if max_records is not None and (isinstance(max_records, bool) or max_records < 1):
            raise ValueError(f"max_records must be a positive int or None, got {max_records!r}")
        self._max_records = max_records
        self._strict = bool(strict)
        # Plain lists on purpose: callers (tests among them) append to them directly.
        self._events: list[Any] = []
        self._audits: list[Any] = []
        self._dead_letters: list[Any] = []
        self._closed = False

    # -- writes ---------------------------------------------------------------------------

    def _append(self, store: list[Any], record: Any) -> None:
        self._closed = False  # a write after aclose() reopens the backend
        store.append(record)
        bound = self._max_records
        # The oldest entries go in batches of an eighth of the bound: dropping one per write
        # would move the whole list each time. Reads see only the last ``bound`` (``_kept``).
        if bound is not None and len(store) > bound + (bound >> 3):
            del store[: len(store) - bound]

    def _kept(self, store: list[Any]) -> list[Any]:
        """The entries of ``store`` within the bound: the last ``max_records``."""
        bound = self._max_records
        if bound is None or len(store) <= bound:
            return store
        return store[len(store) - bound :]

    def _store(self, kind: str, record: Any) -> None:
        """Coerce, check (``strict``) and append one record; errors count as write errors."""
        attribute, coerce = _STORES[kind]
        try:
            coerced = coerce(record)
            if self._strict:
                check_strict(kind, coerced)
            self._append(getattr(self, attribute), coerced)
        except Exception:
            self.metrics.write_errors += 1
            raise

    async def _write(self, kind: str, record: Any) -> None:
        self._store(kind, record)
        await self._metrics_on_write_ok(records=1, bytes_written=0)
        # Deliberately no checkpoint: the system's persistence writer awaits one call per
        # record, and a scheduler round trip per write would let it fall behind a busy system.

    def record_nowait(self, kind: str, record: Any) -> None:
        """Store one ``(kind, record)`` at once (``"event"``, ``"audit"``, ``"dead_letter"``).

        The actor system stores its facts through this, so they are in the backend the moment
        they happen, in order with records actors write themselves.

        :raises ValueError: an unknown ``kind`` (not counted as a write error).
        :raises TypeError: with ``strict=True``, a record a strict file backend would refuse
            (counted as a write error).
        """
        try:
            known = kind in _STORES
        except TypeError:  # unhashable
            known = False
        if not known:
            raise ValueError(_unknown_kind(kind))
        self._store(kind, record)
        self.metrics.records_written += 1

    async def flush(self) -> None:
        """Nothing to do: every record is stored when it is handed over."""

    async def record_event(self, event: Any) -> None:
        """Store a ``PersistedEvent`` (or a mapping of its fields, or any object as given).

        Stored at the call, without suspending (no cancellation can lose it), in call order.

        :raises TypeError: with ``strict=True``, a record a strict file backend would refuse.
        """
        await self._write("event", event)

    async def record_audit(self, audit: Any) -> None:
        """Store a ``PersistedAudit`` (or a mapping of its fields, or any object as given).

        Stored at the call, without suspending (no cancellation can lose it), in call order.

        :raises TypeError: with ``strict=True``, a record a strict file backend would refuse.
        """
        await self._write("audit", audit)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Store a ``PersistedDeadLetter`` (or a mapping of its fields, or any object as
        given).

        Stored at the call, without suspending (no cancellation can lose it), in call order.

        :raises TypeError: with ``strict=True``, a record a strict file backend would refuse.
        """
        await self._write("dead_letter", dead_letter)

    # -- reads ----------------------------------------------------------------------------

    async def list_events(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedEvent, ...]:
        """Stored events, oldest first: those with ``timestamp >= since``, then the last ``limit``.

        With ``since`` given, stored objects without a numeric ``timestamp`` are left out.
        """
        result = select_window(self._kept(self._events), since=since, limit=limit)
        await cancel_shielded_checkpoint()
        return result

    async def list_audits(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedAudit, ...]:
        """Stored audits, oldest first, filtered like :meth:`list_events`."""
        result = select_window(self._kept(self._audits), since=since, limit=limit)
        await cancel_shielded_checkpoint()
        return result

    async def list_dead_letters(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedDeadLetter, ...]:
        """Stored dead letters, oldest first, filtered like :meth:`list_events`."""
        result = select_window(self._kept(self._dead_letters), since=since, limit=limit)
        await cancel_shielded_checkpoint()
        return result

    @property
    def events(self) -> tuple[PersistedEvent, ...]:
        """A snapshot of every stored event, oldest first."""
        return tuple(self._kept(self._events))

    @property
    def audits(self) -> tuple[PersistedAudit, ...]:
        """A snapshot of every stored audit, oldest first."""
        return tuple(self._kept(self._audits))

    @property
    def dead_letters(self) -> tuple[PersistedDeadLetter, ...]:
        """A snapshot of every stored dead letter, oldest first."""
        return tuple(self._kept(self._dead_letters))

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose` until the next write reopens the backend."""
        return self._closed

    @property
    def strict(self) -> bool:
        """True: records a ``strict=True`` file backend would refuse are refused here too."""
        return self._strict

    @property
    def max_records(self) -> int | None:
        """The per-list bound given at construction (``None``: unbounded)."""
        return self._max_records

    # -- maintenance ----------------------------------------------------------------------

    async def clear(self) -> None:
        """Empty all three lists (also allowed after :meth:`aclose`)."""
        self._events.clear()
        self._audits.clear()
        self._dead_letters.clear()
        await cancel_shielded_checkpoint()

    async def aclose(self) -> None:
        """Mark the backend closed (idempotent); records stay readable and a later write
        reopens it."""
        self._closed = True
        await cancel_shielded_checkpoint()

    def _total(self) -> int:
        stores = (self._events, self._audits, self._dead_letters)
        return sum(len(self._kept(store)) for store in stores)

    async def compact(self) -> dict[str, Any]:
        """Nothing to reclaim: ``{"backend": "memory", ...}`` with equal before/after counts.

        A plain ``dict`` (not a ``CompactionReport``), as in the original backend.
        """
        await self._metrics_on_compact_start()
        total = self._total()
        return {
            "backend": "memory",
            "before_records": total,
            "after_records": total,
            "before_bytes": None,
            "after_bytes": None,
        }

    async def scan(self) -> PersistenceScanReport:
        """Memory cannot be damaged: always a report without anomalies (counted as a scan)."""
        await self._metrics_on_scan_start()
        return PersistenceScanReport(backend="memory", anomalies=())

    async def recover(self, config: Any = None) -> PersistenceRecoveryReport:
        """Nothing to repair: a report holding an empty scan. Counts a recovery, not a scan."""
        await self._metrics_on_recover_start()
        return PersistenceRecoveryReport(
            backend="memory", scan=PersistenceScanReport(backend="memory", anomalies=())
        )

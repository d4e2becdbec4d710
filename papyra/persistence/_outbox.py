"""The write protocol: how the actor system hands its facts to a backend.

The system reports a fact (an event, an audit, a dead letter) the moment it happens, from code
that must not wait. So every backend is written to through two calls, declared by
:class:`RecordWriter`:

* ``record_nowait(kind, record)`` takes the record synchronously: it never awaits and does no
  I/O, it only gives the record its place in the order of writes;
* ``await flush()`` gets everything taken so far written to the store.

The **ordering contract**: a record handed over with ``record_nowait`` reaches the store before
any record that someone writes directly afterwards (an actor calling
``await system.persistence.record_event(...)``, say). The built-in backends meet it natively:
the memory backend stores at once, the file backends reserve the record's place in their next
group commit. Every other backend gets it from here:

* :class:`Outbox` is the queue, written once: ``record_nowait`` appends, ``flush`` writes the
  queue in FIFO order through the backend's ``record_event`` / ``record_audit`` /
  ``record_dead_letter``.
* A subclass of ``PersistenceBackend`` that keeps the default ``record_nowait`` has its
  ``record_*`` coroutines wrapped by :func:`drains_first` when the class is created, so that a
  direct write first flushes what is queued. It costs one attribute check when nothing is.
* Any other object (a duck-typed backend) goes through :func:`as_writer`, which returns the
  object itself if it already has ``record_nowait`` and ``flush``, and otherwise an adapter
  holding an :class:`Outbox` that installs the same wrapping on the instance.

A direct write that drains the queue first does not raise the errors of the queued records it
writes (they are logged on ``"papyra"``): its caller is owed the outcome of its own record.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import anyio

from papyra.persistence._records import KINDS, RecordKind, _unknown_kind

__all__ = ("Outbox", "RecordWriter", "as_writer", "drains_first")

log = logging.getLogger("papyra")

_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])

#: The outbox whose ``flush`` is running in the current task (``None`` outside any flush).
#: A ``record_*`` call made by that flush (the write of a queued record, or a subclass's
#: ``super().record_event(...)`` inside it) must not wait for the flush it is part of.
_DRAINING: ContextVar[Outbox | None] = ContextVar("papyra_outbox_draining", default=None)

#: Marks a wrapper made by :func:`drains_first` (the value: the wrapped function).
_WRAPPED = "__papyra_drains_first__"
#: Marks an instance wrapper installed by :func:`as_writer` (the value: its adapter).
_WRITER = "__papyra_writer__"


@runtime_checkable
class RecordWriter(Protocol):
    """The two calls through which the actor system writes its facts (see the module doc)."""

    def record_nowait(self, kind: str, record: Any) -> None:
        """Take ``record`` of ``kind`` (``"event"``, ``"audit"``, ``"dead_letter"``) now.

        Synchronous: never awaits, never does I/O. An unknown kind raises ``ValueError``.
        """

    async def flush(self) -> None:
        """Return once every record taken before the call was passed to the store or raised."""


class Outbox:
    """A FIFO queue of ``(kind, record)`` pairs written through a backend's ``record_*`` calls.

    :meth:`record_nowait` appends synchronously. :meth:`flush` writes the queue, oldest first,
    with these guarantees:

    * **Order.** Records are written in the order they were queued, each once (but see
      cancellation below). Only one flush writes at a time (a lock): a concurrent ``flush()``
      waits for the running one and then writes what is left, so it neither writes a record
      twice nor overtakes one.
    * **Records queued meanwhile.** A flush writes the records queued when it starts writing
      (including those queued while it waited for the lock). Records queued while it runs
      stay, in order, for the next flush; so a steady stream of new records cannot keep a
      flush from returning.
    * **When flush returns**, every record queued before the call was passed to the backend,
      by this flush or by one that ran before it.
    * **Errors.** A record whose write raises an ``Exception`` is dropped (it is not retried)
      and the remaining records are still attempted. After the drain the first exception is
      raised; later ones are logged on the ``"papyra"`` logger.
    * **Cancellation** (or any ``BaseException``) stops the drain: the record being written and
      every record after it stay queued, in order, for the next flush. The interrupted record
      is written again by that flush, so a backend that had already stored it when the
      cancellation arrived sees it twice: at least once, never lost.

    Writes go through ``getattr(backend, kind.method)`` at the time of the write, so the
    backend's current ``record_*`` is used.
    """

    __slots__ = ("_backend", "_lock", "_queue")

    def __init__(self, backend: object) -> None:
        self._backend = backend
        # A record stays at the head of the queue while it is being written, so "the queue is
        # empty" also means "no flush is writing".
        self._queue: deque[tuple[RecordKind, Any]] = deque()
        self._lock: anyio.Lock | None = None  # created by the first flush that needs it

    def __len__(self) -> int:
        """The number of queued records (the one being written, if any, included)."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """``True`` when nothing is queued, which also means that no flush is writing."""
        return not self._queue

    def record_nowait(self, kind: str, record: Any) -> None:
        """Queue ``record`` of ``kind``; ``ValueError`` at once for an unknown kind."""
        try:
            spec = KINDS[kind]
        except (KeyError, TypeError):
            raise ValueError(_unknown_kind(kind)) from None
        self._queue.append((spec, record))

    async def flush(self) -> None:
        """Write the queued records in order (see the class doc for the guarantees).

        Returns at once when nothing is queued and no other flush is writing, and when called
        from inside this outbox's own flush (a backend's ``record_*`` that flushes): the
        enclosing flush is already writing the queue.
        """
        if self.idle or _DRAINING.get() is self:
            return
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            await self._drain()

    async def _drain(self) -> None:
        queue = self._queue
        backend = self._backend
        first: Exception | None = None
        token = _DRAINING.set(self)
        try:
            for _ in range(len(queue)):
                if not queue:  # only the lock holder takes records off; never true today
                    break
                spec, record = queue[0]
                try:
                    await getattr(backend, spec.method)(record)
                except Exception as exc:
                    if first is None:
                        first = exc
                    else:
                        log.warning("persisting a %s record failed", spec.name, exc_info=exc)
                # Reached only when the write returned or raised an Exception: a cancelled
                # write leaves its record at the head of the queue.
                queue.popleft()
        except BaseException:
            if first is not None:
                log.warning("persisting a record failed before the flush was interrupted",
                            exc_info=first)
            raise
        finally:
            _DRAINING.reset(token)
        if first is not None:
            try:
                raise first
            finally:
                first = None  # no reference cycle through the traceback


def drains_first(write: _F) -> _F:
    """Wrap the ``record_*`` coroutine function ``write`` so that it flushes the queue first.

    The queue is the instance's ``_papyra_outbox`` (``PersistenceBackend`` creates it on the
    first ``record_nowait``; ``None`` until then). The wrapper awaits its flush unless it is
    idle or the call comes from that very flush, then awaits ``write``. Wrapping a wrapper
    returns it unchanged.
    """
    if hasattr(write, _WRAPPED):
        return write

    @functools.wraps(write)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        outbox: Outbox | None = getattr(self, "_papyra_outbox", None)
        if outbox is not None and outbox._queue:
            await _drain_before_direct_write(outbox)
        return await write(self, *args, **kwargs)

    setattr(wrapper, _WRAPPED, write)
    return cast(_F, wrapper)


async def _drain_before_direct_write(outbox: Outbox) -> None:
    """Flush ``outbox`` ahead of a direct write, unless this task is that flush's own write.

    Errors of the queued records written this way are logged on ``"papyra"``, not raised: the
    direct writer is owed the outcome of its own record only.
    """
    if _DRAINING.get() is outbox:
        return
    try:
        await outbox.flush()
    except Exception:
        log.warning("persisting a queued record failed", exc_info=True)


class _OutboxWriter:
    """The :class:`RecordWriter` of a backend without its own: an :class:`Outbox` over it."""

    __slots__ = ("backend", "outbox")

    def __init__(self, backend: object) -> None:
        self.backend = backend
        self.outbox = Outbox(backend)

    def record_nowait(self, kind: str, record: Any) -> None:
        self.outbox.record_nowait(kind, record)

    async def flush(self) -> None:
        await self.outbox.flush()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} over {self.backend!r}, {len(self.outbox)} queued>"


def _instance_wrapper(
    bound: Callable[..., Awaitable[Any]], writer: _OutboxWriter
) -> Callable[..., Awaitable[Any]]:
    """A bound ``record_*`` that flushes ``writer``'s queue first (the duck-typed twin of
    :func:`drains_first`)."""
    outbox = writer.outbox

    @functools.wraps(bound)
    async def method(*args: Any, **kwargs: Any) -> Any:
        if outbox._queue:
            await _drain_before_direct_write(outbox)
        return await bound(*args, **kwargs)

    setattr(method, _WRITER, writer)
    return method


def _install_drain_first(backend: object, writer: _OutboxWriter) -> bool:
    """Make the instance's ``record_*`` drain ``writer``'s queue first; ``False`` if refused."""
    own = getattr(backend, "__dict__", {})
    replaced: list[tuple[str, Any]] = []  # (name, the instance's own value or _MISSING)
    try:
        for spec in KINDS.values():
            bound = getattr(backend, spec.method, None)
            if callable(bound):
                previous = own.get(spec.method, _MISSING)
                setattr(backend, spec.method, _instance_wrapper(bound, writer))
                replaced.append((spec.method, previous))
    except (AttributeError, TypeError):
        # All or nothing: put back what was there (an assignment just worked, so does this).
        for name, previous in replaced:
            if previous is _MISSING:
                delattr(backend, name)
            else:
                setattr(backend, name, previous)
        return False
    return True


_MISSING = object()


def as_writer(backend: Any) -> RecordWriter:
    """The :class:`RecordWriter` through which the actor system writes to ``backend``.

    * ``backend`` itself when it has callable ``record_nowait`` and ``flush`` (every
      ``PersistenceBackend`` subclass, every built-in backend).
    * Otherwise an adapter holding an :class:`Outbox` over the backend's ``record_*``
      coroutines. The adapter also replaces the instance's ``record_event`` / ``record_audit``
      / ``record_dead_letter`` with wrappers that flush the queue first (instance attributes:
      the object, and so ``system.persistence``, stays the user's own), which gives the
      ordering contract of the module doc. Calling ``as_writer`` again on that object returns
      the same adapter.
    * If the instance refuses attribute assignment (``__slots__``, a frozen dataclass), the
      adapter is returned without the wrapping and one debug line is logged. Facts are then
      still written in order among themselves, but a direct ``record_*`` call can reach the
      store before facts queued earlier.
    """
    if callable(getattr(backend, "record_nowait", None)) and callable(
        getattr(backend, "flush", None)
    ):
        return cast(RecordWriter, backend)
    for spec in KINDS.values():
        existing = getattr(getattr(backend, spec.method, None), _WRITER, None)
        if isinstance(existing, _OutboxWriter) and existing.backend is backend:
            return existing
    writer = _OutboxWriter(backend)
    if not _install_drain_first(backend, writer):
        log.debug(
            "%s refuses new attributes: its direct record_* writes are not ordered after "
            "queued facts",
            type(backend).__name__,
        )
    return writer

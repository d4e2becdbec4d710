"""The system's record of what happened: events, hooks, dead letters and their persistence.

A *fact* is a lifecycle event, an audit or a dead letter. :class:`Facts` is where the runtime
reports one, and it fans the fact out, synchronously and in this order:

1. the in-memory record (the event ring behind ``ActorSystem.events()``, or the dead-letter
   mailbox);
2. the user's hook (``on_event``, ``on_dead_letter``, ``on_audit``, ``on_failure``), whose
   exceptions are logged and swallowed; an async hook is awaited in a task of its own;
3. the persistence backend, through the write protocol: ``record_nowait(kind, record)`` hands
   the record over at once, so facts reach the store in the order they happened and before
   any record an actor writes after them; one writer task then awaits ``flush()`` to get them
   written, and logs (never raises) a backend's errors;
4. the tasks waiting for events (``wait_for_event`` and subscriptions: one future each,
   woken by the next event; there is no cost per event while nobody waits).

Nothing here awaits on the hot path: reporting a fact never blocks the actor that caused it.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from papyra.exceptions import EventNotEmitted
from papyra.persistence._outbox import as_writer
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent

if TYPE_CHECKING:
    import anyio.abc

    from papyra._envelope import DeadLetter
    from papyra.address import ActorAddress
    from papyra.audit import AuditReport
    from papyra.events import ActorEvent
    from papyra.persistence.base import PersistenceBackend

__all__ = ("Facts",)

log = logging.getLogger("papyra")

#: Pauses between attempts to flush records a backend kept after a failed write (seconds).
_RETRY_FIRST = 0.05
_RETRY_MAX = 2.0


class Facts:
    """Records, announces and persists the facts of one actor system (see the module doc).

    The persistence hand-off is open between :meth:`open` (the system started) and the end
    of :meth:`run_writer` (the system closed): facts reported outside that window are kept
    in memory and shown to hooks, but not persisted.
    """

    def __init__(
        self,
        *,
        system_id: str,
        hooks: Any,
        time_fn: Callable[[], float],
        dead_letters: Any,
        persistence: PersistenceBackend,
        max_events: int | None,
        create_future: Callable[[], Any],
    ) -> None:
        self.system_id = system_id
        self.hooks = hooks
        self.time_fn = time_fn
        self.dead_letters = dead_letters
        self.create_future = create_future
        self.events: deque[ActorEvent] = deque(maxlen=max_events)
        #: Every event ever emitted (indices of ``wait_for_event`` count from here).
        self.events_total = 0
        self.event_waiters: list[Any] = []
        #: True once the system has closed: no event follows (subscriptions end).
        self.ended = False
        self.writer = as_writer(persistence)
        #: The ``ActorSystem.run_id`` of the current run, recorded with every persisted fact.
        self.run_id: str | None = None
        self.tg: anyio.abc.TaskGroup | None = None
        self.cancelled_exc: type[BaseException] = BaseException
        #: True while records are handed to the backend (from open() to the writer's end).
        self.persisting = False
        self._draining = False
        self._unflushed = False
        self._wakeup: Any = None

    # -- reporting ------------------------------------------------------------------------------

    def emit(
        self, address: ActorAddress, event: ActorEvent, payload: dict[str, object] | None = None
    ) -> None:
        """Record ``event`` of the actor at ``address``; ``payload``: precomputed, if known."""
        self.events.append(event)
        self.events_total += 1
        self.call_hook("on_event", event)
        if self.persisting:
            # Positional: with eight fields, keywords cost a third more (spawn+stop emits two).
            self.persist(
                "event",
                PersistedEvent(
                    self.system_id,
                    str(address),
                    type(event).__name__,
                    event.payload if payload is None else dict(payload),
                    self.time_fn(),
                    self.run_id,
                    event.actor_name,
                    event.actor_type,
                ),
            )
        if self.event_waiters:
            self.wake_event_waiters()

    def dead_letter(self, dl: DeadLetter) -> None:
        """The dead-letter sink of every ref the system hands out."""
        self.dead_letters.push(dl)
        self.call_hook("on_dead_letter", dl)
        if not self.persisting:
            return
        target = dl.target
        address = getattr(target, "_address", None)
        if address is not None:
            target_text: str | None = str(address)
        elif isinstance(target, (str, dict)):
            target_text = str(target)
        else:
            target_text = None
        self.persist(
            "dead_letter",
            PersistedDeadLetter(
                system_id=self.system_id,
                target=target_text,
                message_type=type(dl.message).__name__,
                payload=dl.message,
                timestamp=self.time_fn(),
                run_id=self.run_id,
            ),
        )

    def audit(self, report: AuditReport, *, persist: bool) -> None:
        """Announce an audit report to the ``on_audit`` hook and, if ``persist``, the backend."""
        self.call_hook("on_audit", report)
        if persist and self.persisting:
            self.persist(
                "audit",
                PersistedAudit(
                    system_id=report.system_id,
                    timestamp=self.time_fn(),
                    total_actors=report.total_actors,
                    alive_actors=report.alive_actors,
                    stopping_actors=report.stopping_actors,
                    restarting_actors=report.restarting_actors,
                    registry_size=report.registry_size,
                    registry_orphans=report.registry_orphans,
                    registry_dead=report.registry_dead,
                    dead_letters_count=report.dead_letters_count,
                    dead_letters_total=report.dead_letters_total,
                    run_id=self.run_id,
                ),
            )

    # -- hooks -------------------------------------------------------------------------------------

    def call_hook(self, name: str, argument: Any) -> None:
        """Call hook ``name`` if the hooks object has it; never raises.

        A hook that returns an awaitable is awaited in a task of its own while the system runs
        (its exceptions are logged); outside that window its coroutine is closed unawaited.
        """
        fn = getattr(self.hooks, name, None)
        if fn is None:
            return
        try:
            result = fn(argument)
        except Exception:
            log.debug("hook %s failed", name, exc_info=True)
            return
        if result is None or not inspect.isawaitable(result):
            return
        if self.tg is not None and self.persisting:
            self.tg.start_soon(_await_quietly, result)
        elif inspect.iscoroutine(result):
            result.close()

    async def call_hook_now(self, name: str, argument: Any) -> None:
        """Call hook ``name`` and await its result in this task (startup hooks); never raises."""
        fn = getattr(self.hooks, name, None)
        if fn is None:
            return
        try:
            result = fn(argument)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.debug("hook %s failed", name, exc_info=True)

    # -- waiting for events ------------------------------------------------------------------------

    def end(self) -> None:
        """The system has closed: wake every waiter, and let subscriptions finish."""
        self.ended = True
        self.wake_event_waiters()

    def wake_event_waiters(self) -> None:
        waiters, self.event_waiters = self.event_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def next_matching(
        self, matches: Callable[[ActorEvent], bool], start_index: int
    ) -> ActorEvent:
        """The first event at index >= ``start_index`` that ``matches``, waiting for new ones.

        Once the system has closed (:meth:`end`) nothing new can come: ``EventNotEmitted``.
        """
        index = max(start_index, 0)
        while True:
            events = self.events
            total = self.events_total
            base = total - len(events)
            for i in range(max(index, base), total):
                event = events[i - base]
                if matches(event):
                    return event
            index = total
            if self.ended:
                raise EventNotEmitted(
                    "the actor system has closed and emitted no matching event"
                    + (f" at index {start_index} or later" if start_index else "")
                )
            waiter = self.create_future()
            self.event_waiters.append(waiter)
            await waiter

    # -- the persistence hand-off ------------------------------------------------------------------

    def open(
        self, tg: anyio.abc.TaskGroup, cancelled_exc: type[BaseException], run_id: str
    ) -> None:
        """Start handing facts of run ``run_id`` to the backend; the system runs
        :meth:`run_writer` in ``tg``."""
        self.run_id = run_id
        self.tg = tg
        self.cancelled_exc = cancelled_exc
        self.persisting = True

    def persist(self, kind: str, record: Any) -> None:
        """Hand ``record`` to the backend now and make sure the writer flushes it soon."""
        try:
            self.writer.record_nowait(kind, record)
        except Exception:
            log.warning("persisting a %s record failed", kind, exc_info=True)
            return
        if self._unflushed:
            return  # the writer was already woken for an earlier record
        self._unflushed = True
        self._wake_writer()

    def close_writer(self) -> None:
        """Let the writer finish once it has flushed everything handed over so far."""
        self._draining = True
        self._wake_writer()

    def _wake_writer(self) -> None:
        waiter = self._wakeup
        if waiter is not None:
            self._wakeup = None
            if not waiter.done():
                waiter.set_result(None)

    async def run_writer(self) -> None:
        """Flush the backend whenever records were handed over; errors are logged, not raised.

        Runs in the system's task group from ``start()`` until ``close_writer()`` was called
        and everything handed over before it is flushed.
        """
        writer = self.writer
        backoff = _RETRY_FIRST
        try:
            while True:
                if self._unflushed:
                    self._unflushed = False
                    try:
                        await writer.flush()
                    except self.cancelled_exc:
                        raise
                    except Exception:
                        log.warning("persisting records failed", exc_info=True)
                        # A backend that keeps records it could not write (Redis while the
                        # server is away) says how many with ``queued_records``: try again
                        # after a growing pause, or once more while closing.
                        if getattr(writer, "queued_records", 0) and not self._draining:
                            self._unflushed = True
                            await self._pause(backoff)
                            backoff = min(backoff * 2, _RETRY_MAX)
                    else:
                        backoff = _RETRY_FIRST
                    continue
                if self._draining:
                    return
                waiter = self.create_future()
                self._wakeup = waiter
                await waiter
        finally:
            self.persisting = False

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` before retrying a failed flush, less if the system starts closing."""
        with anyio.move_on_after(seconds):
            waiter = self.create_future()
            self._wakeup = waiter  # close_writer() wakes it; new records do not (see persist)
            await waiter


async def _await_quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        log.debug("async hook failed", exc_info=True)

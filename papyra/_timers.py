"""The system's time line: when actor timers fire and restart backoffs end.

A system schedules every delayed callback (``ctx.timers``, the restart backoff of
``SupervisionPolicy``) on one time line:

* :class:`LoopScheduler`, the default: one task per system, started on first use, sleeping on
  the event loop's monotonic clock until the earliest entry is due.
* :class:`papyra.clock.ManualClock`, given as ``ActorSystem(clock=...)``: nothing moves until
  the test calls ``await clock.advance(seconds)``.

Both keep their entries in a :class:`TimerHeap`. Callbacks run synchronously in the
scheduling task and must not block (they post a message or set an event); an exception they
raise is logged and the time line goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import anyio
import anyio.abc

__all__ = ("LoopScheduler", "TimeLine", "TimerEntry", "TimerHeap", "wait_until_set")

log = logging.getLogger("papyra")


class TimerEntry:
    """One scheduled callback. :meth:`cancel` is idempotent and safe after it has run."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<TimerEntry at {self.when:.6f}{state}>"


class TimeLine(Protocol):
    """What the runtime asks of a time line (a :class:`LoopScheduler` or a ManualClock)."""

    def time(self) -> float:
        """The current time of this time line (seconds; only differences matter)."""

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerEntry:
        """Run ``callback()`` once the time line reaches ``when``."""


class TimerHeap:
    """Entries ordered by due time, then by scheduling order (equal times fire FIFO).

    A cancelled entry stays in the heap until it surfaces, unless cancelled entries come to
    outnumber live ones: then the heap is rebuilt, so a timer restarted over and over does not
    grow it without bound.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerEntry]] = []
        self._order = itertools.count()

    def _push(self, when: float, callback: Callable[[], None]) -> TimerEntry:
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if not isinstance(when, (int, float)) or math.isnan(when):
            raise ValueError(f"when must be a number of seconds, not {when!r}")
        entry = TimerEntry(float(when), callback)
        heap = self._heap
        if len(heap) >= 64 and 2 * sum(e.cancelled for _, _, e in heap) > len(heap):
            heap[:] = [item for item in heap if not item[2].cancelled]
            heapq.heapify(heap)
        heapq.heappush(heap, (entry.when, next(self._order), entry))
        return entry

    def _next_due(self) -> float | None:
        """The due time of the earliest live entry (cancelled ones are dropped), or None."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _pop_due(self, now: float) -> TimerEntry | None:
        """Remove and return the earliest live entry due at ``now``, or None."""
        due = self._next_due()
        if due is None or due > now:
            return None
        entry = heapq.heappop(self._heap)[2]
        entry.cancelled = True  # done: a later cancel() is a no-op
        return entry

    @staticmethod
    def _run(entry: TimerEntry) -> None:
        try:
            entry.callback()
        except Exception:
            log.exception("a timer callback failed: %r", entry.callback)

    @property
    def pending(self) -> int:
        """How many live entries wait (cancelled ones not counted)."""
        return sum(not e.cancelled for _, _, e in self._heap)


class LoopScheduler(TimerHeap):
    """The real-time line of one system: the event loop's clock, one task.

    The task starts in the system's service task group on the first :meth:`call_at` and
    ends at :meth:`close`. It sleeps until the earliest entry is due (or until an earlier
    one is scheduled), runs every due callback, and sleeps again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._tg: anyio.abc.TaskGroup | None = None
        self._running = False
        self._closed = False
        self._wake: anyio.Event | None = None

    def open(self, tg: anyio.abc.TaskGroup) -> None:
        """Run the scheduling task in ``tg`` once something is scheduled."""
        self._tg = tg

    def time(self) -> float:
        return anyio.current_time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerEntry:
        if self._closed:
            raise RuntimeError("the actor system is closed: nothing can be scheduled")
        earliest = self._next_due()
        entry = self._push(when, callback)
        if not self._running:
            if self._tg is None:
                raise RuntimeError("the actor system is not running: nothing can be scheduled")
            self._running = True
            self._tg.start_soon(self._run_task)
        elif (earliest is None or when < earliest) and self._wake is not None:
            self._wake.set()
        return entry

    def close(self) -> None:
        """Drop every entry and end the task (the system is closing)."""
        self._closed = True
        for _, _, entry in self._heap:
            entry.cancelled = True
        self._heap.clear()
        if self._wake is not None:
            self._wake.set()

    async def _run_task(self) -> None:
        while not self._closed:
            now = anyio.current_time()
            entry = self._pop_due(now)
            if entry is not None:
                self._run(entry)
                continue
            due = self._next_due()
            self._wake = wake = anyio.Event()
            if due is None:
                await wake.wait()
            else:
                with anyio.move_on_after(due - now):
                    await wake.wait()
            self._wake = None


async def wait_until_set(
    timeline: Any, event: anyio.Event, delay: float
) -> None:
    """Wait until ``event`` is set or ``delay`` seconds of ``timeline`` have passed."""
    if isinstance(timeline, LoopScheduler):
        with anyio.move_on_after(delay):  # the loop clock: no entry needed
            await event.wait()
        return
    entry = timeline.call_at(timeline.time() + delay, event.set)
    try:
        await event.wait()
    finally:
        entry.cancel()

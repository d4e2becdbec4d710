"""Clocks: the system clock (``system.clock.now()`` always equals ``system.now()``) and the
manual clock of tests (:class:`ManualClock`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from anyio import wait_all_tasks_blocked

from papyra._timers import TimerEntry, TimerHeap

__all__ = ("Clock", "ManualClock", "SystemClock")


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()``: the time in seconds, as ``system.now()`` reads it."""

    def now(self) -> float:
        """The current time in seconds."""
        ...


class SystemClock:
    """A :class:`Clock` reading a time function (``time.time`` unless one was injected)."""

    __slots__ = ("_time_fn",)

    def __init__(self, time_fn: Callable[[], float]) -> None:
        self._time_fn = time_fn

    def now(self) -> float:
        """The time function's current value."""
        return self._time_fn()

    def __repr__(self) -> str:
        return f"SystemClock({self._time_fn!r})"


class ManualClock(TimerHeap):
    """A clock that moves only when told to: deterministic time for tests.

    Give it to a system, ``ActorSystem(clock=ManualClock())``: the system then reads its time
    from it (event timestamps, restart windows, ``system.now()``) and schedules on it what
    would otherwise wait on the event loop's clock: actor timers (``ctx.timers``) and restart
    backoffs. Nothing of that moves until the test calls :meth:`advance`, so a test of a
    ten-minute timer runs in milliseconds. Deadlines that guard a caller are not on this clock:
    ``ask(timeout=...)``, ``aclose()``'s grace period and the test kit's waits stay real time,
    so a test cannot hang on a clock nobody advances.

    One manual clock may drive several systems of the same event loop.

    :raises TypeError: ``start`` is not a real number (a ``bool`` included).
    :raises ValueError: ``start`` is infinite or NaN.
    """

    def __init__(self, start: float = 0.0) -> None:
        if isinstance(start, bool) or not isinstance(start, numbers.Real):
            raise TypeError(f"start must be a number of seconds, not {start!r}.")
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, not {start!r}.")
        super().__init__()
        self._now: float = float(start)

    def now(self) -> float:
        """The manual time, in seconds (``start`` plus everything advanced so far)."""
        return self._now

    def time(self) -> float:
        """:meth:`now` under the name event-loop clocks use (the runtime's timer line)."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerEntry:
        """Run ``callback()`` when :meth:`advance` reaches ``when`` (used by the runtime)."""
        return self._push(when, callback)

    async def advance(self, seconds: float) -> None:
        """Move the time ``seconds`` forward, firing what falls due on the way, in order.

        Each due entry fires at its own due time (``now()`` reads that time while it runs),
        and before the next one fires every task of the event loop is let run until it blocks
        (``anyio.wait_all_tasks_blocked``): the message a timer posted is handled, a periodic
        timer has rescheduled itself, a restarted actor has started. Entries scheduled during
        the advance fire in it too when they fall due before its end. Returns once the time
        is ``now() + seconds`` and everything has settled. The callbacks run in the caller's
        task; call it from a task of the event loop the systems run on (the test's).

        :raises TypeError: ``seconds`` is not a real number (a ``bool`` included).
        :raises ValueError: ``seconds`` is negative, infinite or NaN.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
            raise TypeError(f"advance() takes a number of seconds >= 0, not {seconds!r}.")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"advance() takes a number of seconds >= 0, not {seconds!r}.")
        target = self._now + float(seconds)
        await wait_all_tasks_blocked()
        while True:
            entry = self._pop_due(target)
            if entry is None:
                break
            self._now = max(self._now, entry.when)
            self._run(entry)
            await wait_all_tasks_blocked()
        self._now = target
        await wait_all_tasks_blocked()

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r}, pending={self.pending})"

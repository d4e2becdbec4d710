"""Actor timers: messages an actor schedules to itself (``self.context.timers``).

Each actor has one :class:`Timers`, reached as ``self.context.timers`` from its own code. A
timer is named by a key of your choosing (any hashable value); starting a key that is active
replaces that timer. Every timer of an actor is cancelled when a stop of the actor is
requested (or it is aborted), and when it restarts: timers are state of the instance that
started them.

When a timer fires, its message is put in the actor's mailbox, past the capacity if the
mailbox is full (a timer has at most one message queued at a time, so this stays bounded),
and handled by ``receive`` like any other message. A cancelled timer's message is never
handled, even one already queued: cancelling takes it back out of the mailbox.

Periodic timers have *fixed-delay* semantics: the next tick is scheduled ``interval``
seconds after the previous tick was handled (or failed), so a slow handler stretches the
period instead of piling up a burst of ticks.

Timers run on the system's time line, one for the whole system (no task per timer): the
event loop's clock, or the :class:`~papyra.clock.ManualClock` given as
``ActorSystem(clock=...)``, which fires them only when a test calls ``advance()``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Generic

from papyra._envelope import STOP, Envelope
from papyra.actor import _M
from papyra.exceptions import ActorStopped, MailboxClosed

if TYPE_CHECKING:
    from papyra._lifecycle import Lifecycle
    from papyra._speedups.dispatch_py import ActorCell
    from papyra._timers import TimerEntry

__all__ = ("Timers",)


def _seconds(value: object, what: str, *, positive: bool) -> float:
    """``value`` as a finite number of seconds (> 0 when ``positive``, else >= 0)."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds {bound}, not {value!r}.")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        raise ValueError(f"{what} must be a finite number of seconds {bound}, not {value!r}.")
    return seconds


class _Timer:
    """One active timer. It is also the reply slot of the envelope its message travels in:
    the kernel calls :meth:`set_result` / :meth:`set_exception` once the message is handled,
    which is when a periodic timer schedules its next tick (fixed delay)."""

    __slots__ = ("entry", "interval", "key", "message", "owner", "queued", "stopped")

    def __init__(self, owner: Timers, key: Hashable, message: Any, interval: float | None) -> None:
        self.owner = owner
        self.key = key
        self.message = message
        self.interval = interval
        self.entry: TimerEntry | None = None
        self.queued: Envelope | None = None  # the message in the mailbox, not yet handled
        self.stopped = False

    def schedule(self, delay: float) -> None:
        timeline = self.owner._lifecycle.timeline
        self.entry = timeline.call_at(timeline.time() + delay, self.fire)

    def fire(self) -> None:
        """Due: put the message in the mailbox (called by the time line)."""
        self.entry = None
        if self.stopped:
            return
        cell = self.owner._cell
        if not cell.accepting:  # stopping: the stop request cancels every timer anyway
            return
        env = Envelope(self.message, self)
        mailbox = cell.mailbox
        try:
            if not mailbox.offer(env):
                mailbox.force(env, False)  # in its own lane, like a sent message
        except MailboxClosed:
            return
        self.queued = env
        if self.message is STOP:
            cell.stop_accepted()

    def cancel(self) -> None:
        self.stopped = True
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None
        queued = self.queued
        if queued is not None:
            self.queued = None
            self.owner._cell.mailbox.discard(queued)

    # -- the reply slot, as the kernel sees it --------------------------------------------

    def done(self) -> bool:
        return self.stopped

    def cancelled(self) -> bool:
        return self.stopped

    def set_result(self, value: object) -> None:
        self.queued = None
        if self.stopped:
            return
        if self.interval is None:
            self.stopped = True
            self.owner._forget(self)
        else:
            self.schedule(self.interval)

    def set_exception(self, exc: BaseException) -> None:
        self.set_result(None)

    def __repr__(self) -> str:
        kind = "single" if self.interval is None else f"every {self.interval}s"
        return f"<timer {self.key!r} {kind}>"


class Timers(Generic[_M]):
    """The timers of one actor (``self.context.timers``); use them from the actor's own code.

    Methods are synchronous and refuse bad input at the call: a key that is not hashable
    (``TypeError``), a delay that is not a finite number of seconds (``TypeError`` /
    ``ValueError``), and starting a timer on an actor whose stop was requested
    (:class:`~papyra.exceptions.ActorStopped`).
    """

    __slots__ = ("_active", "_cell", "_lifecycle")

    def __init__(self, lifecycle: Lifecycle, cell: ActorCell) -> None:
        self._lifecycle = lifecycle
        self._cell = cell
        self._active: dict[Hashable, _Timer] = {}

    def start_single(self, key: Hashable, message: _M, delay: float) -> None:
        """Put ``message`` in this actor's mailbox once, ``delay`` seconds from now (>= 0).

        Replaces the active timer ``key``, if any (its queued message is taken back). Takes
        effect at the call; the message is handled by ``receive`` in the actor's own task.

        :raises TypeError: ``key`` is not hashable, or ``delay`` is not a real number.
        :raises ValueError: ``delay`` is negative, infinite or NaN.
        :raises ActorStopped: a stop of the actor was requested (or it has terminated).
        """
        self._start(key, message, None, _seconds(delay, "delay", positive=False))

    def start_periodic(
        self,
        key: Hashable,
        message: _M,
        interval: float,
        *,
        initial_delay: float | None = None,
    ) -> None:
        """Put ``message`` in the mailbox every ``interval`` seconds (> 0), fixed delay.

        The first tick comes after ``initial_delay`` (default: ``interval``); each next one
        ``interval`` seconds after the previous tick was handled. Replaces the active timer
        ``key``, if any. Runs until cancelled, or until the actor stops or restarts.

        :raises TypeError: ``key`` is not hashable, or ``interval`` / ``initial_delay`` is not
            a real number.
        :raises ValueError: ``interval`` is not > 0, or ``initial_delay`` is negative; either
            is infinite or NaN.
        :raises ActorStopped: a stop of the actor was requested (or it has terminated).
        """
        every = _seconds(interval, "interval", positive=True)
        first = every if initial_delay is None else _seconds(
            initial_delay, "initial_delay", positive=False
        )
        self._start(key, message, every, first)

    def cancel(self, key: Hashable) -> bool:
        """Cancel timer ``key``: its message, even if already queued, is not handled.

        Takes effect at the call. Returns False when no timer ``key`` was active.
        """
        timer = self._active.pop(key, None)
        if timer is None:
            return False
        timer.cancel()
        return True

    def cancel_all(self) -> None:
        """Cancel every timer of this actor at once (queued timer messages included)."""
        active = list(self._active.values())
        self._active.clear()
        for timer in active:
            timer.cancel()

    def is_active(self, key: Hashable) -> bool:
        """True from ``start_*`` until the timer is cancelled or, for a single timer, its
        message has been handled."""
        return key in self._active

    def keys(self) -> tuple[Hashable, ...]:
        """The keys of the active timers, oldest first."""
        return tuple(self._active)

    def __len__(self) -> int:
        return len(self._active)

    def __repr__(self) -> str:
        return f"<Timers of {self._cell.address}: {list(self._active.values())!r}>"

    def _start(self, key: Hashable, message: Any, interval: float | None, delay: float) -> None:
        hash(key)  # TypeError for an unhashable key, before anything changes
        cell = self._cell
        if not cell.alive or cell.stopping:
            raise ActorStopped(
                f"{cell.address} is stopping: its timers are cancelled and no new one starts."
            )
        old = self._active.pop(key, None)
        if old is not None:
            old.cancel()
        timer = _Timer(self, key, message, interval)
        self._active[key] = timer
        timer.schedule(delay)

    def _forget(self, timer: _Timer) -> None:
        if self._active.get(timer.key) is timer:
            del self._active[timer.key]

"""The test kit: probe actors, expectations of events and dead letters, deterministic time."""

from __future__ import annotations

import numbers
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio import wait_all_tasks_blocked

from papyra._envelope import ActorTerminated, DeadLetter
from papyra.actor import Actor
from papyra.clock import ManualClock
from papyra.events import ActorEvent, MissedEvents

if TYPE_CHECKING:
    from papyra.ref import ActorRef
    from papyra.system import ActorSystem

__all__ = ("Probe", "TestKit")

#: What an expectation accepts: a class (``isinstance``), a predicate (truthy), or a value (``==``).
Match = Any


def _matcher(match: Match) -> Callable[[Any], bool]:
    if isinstance(match, type):
        return lambda value: isinstance(value, match)
    if callable(match):
        return lambda value: bool(match(value))
    return lambda value: bool(value == match)


def _describe(match: Match) -> str:
    if isinstance(match, type):
        return f"an instance of {match.__qualname__}"
    if callable(match):
        return f"a value for which {getattr(match, '__qualname__', repr(match))} is true"
    return repr(match)


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds >= 0, not {value!r}.")
    seconds = float(value)
    if not seconds >= 0:
        raise ValueError(f"{what} must be a number of seconds >= 0, not {value!r}.")
    return seconds


class _ProbeActor(Actor):
    def __init__(self, probe: Probe) -> None:
        self._probe = probe

    async def receive(self, message: Any) -> Any:
        return self._probe._arrive(message)


class Probe:
    """An actor the test holds: pass :attr:`ref` around, then expect what it was sent.

    Every message sent to :attr:`ref` is queued here in arrival order; each ``expect*`` call
    takes the next one. An ``ask`` to the probe is answered with ``reply(message)`` (``None``
    when no ``reply`` was given). Make probes with :meth:`TestKit.probe`.

    Waits are real time, bounded by ``within`` (default: the kit's ``within``). A failed
    expectation raises ``AssertionError`` saying what was expected and what arrived. The probe
    actor takes messages in its own task; the ``expect*`` calls wait in the caller's (the
    test's) task. A ``within`` that is not a number of seconds >= 0 raises ``TypeError`` /
    ``ValueError``.
    """

    __test__ = False

    def __init__(
        self, kit: TestKit, name: str | None, reply: Callable[[Any], Any] | None
    ) -> None:
        self._kit = kit
        self._reply = reply
        self._queue: deque[Any] = deque()
        self._arrived: anyio.Event | None = None
        self._label = f"probe {name!r}" if name else "probe"
        self.ref: ActorRef[Any, Any] = kit.system.spawn(lambda: _ProbeActor(self), name=name)

    def __repr__(self) -> str:
        return f"<{self._label} {self.ref!r} queued={len(self._queue)}>"

    def _arrive(self, message: Any) -> Any:
        self._queue.append(message)
        if self._arrived is not None:
            self._arrived.set()
        return None if self._reply is None else self._reply(message)

    @property
    def queued(self) -> tuple[Any, ...]:
        """The messages received and not yet taken by an expectation, oldest first."""
        return tuple(self._queue)

    async def _next(self, within: float | None, expected: str) -> Any:
        limit = self._kit.within if within is None else _seconds(within, "within")
        with anyio.move_on_after(limit):
            while not self._queue:
                self._arrived = anyio.Event()
                await self._arrived.wait()
            return self._queue.popleft()
        raise AssertionError(
            f"{self._label}: expected {expected} within {limit:g} s; no message arrived."
        )

    async def receive(self, *, within: float | None = None) -> Any:
        """The next message, whatever it is; taken off the queue.

        :raises AssertionError: no message arrived within ``within`` seconds.
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        return await self._next(within, "a message")

    async def expect(self, match: Match, *, within: float | None = None) -> Any:
        """The next message, which must match: a class (``isinstance``), a predicate (a
        callable that is not a class: truthy), or a value (``==``). Returns the message.

        The next message is taken off the queue whether it matches or not.

        :raises AssertionError: no message arrived within ``within`` seconds, or the next one
            does not match.
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        expected = _describe(match)
        message = await self._next(within, expected)
        if not _matcher(match)(message):
            raise AssertionError(f"{self._label}: expected {expected}; got {message!r}.")
        return message

    async def expect_no_message(self, *, within: float = 0.0) -> None:
        """Fail if a message is queued once every task has settled, or arrives in ``within``.

        First waits until every task of the event loop is blocked
        (``anyio.wait_all_tasks_blocked``), so whatever the system was doing in-process has
        had its chance to reach the probe; ``within`` (real seconds) adds a wait for what
        comes from outside the event loop (threads, sockets). Takes no message.

        :raises AssertionError: a message is queued.
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        limit = _seconds(within, "within")
        await wait_all_tasks_blocked()
        if not self._queue and limit > 0:
            with anyio.move_on_after(limit):
                self._arrived = anyio.Event()
                await self._arrived.wait()
        if self._queue:
            raise AssertionError(
                f"{self._label}: expected no message; got {self._queue[0]!r}."
            )

    def watch(self, ref: Any) -> None:
        """Have the probe receive ``ActorTerminated`` when ``ref``'s actor terminates.

        :meth:`ActorContext.watch <papyra.context.ActorContext.watch>` on the probe's behalf:
        takes effect at once; for an actor that has already terminated the notice is queued
        at once.

        :raises TypeError: ``ref`` is not a ref, an ``ActorAddress`` or an address string.
        :raises ValueError: an unparsable address, or one of another system.
        """
        self._kit.system._watch(self.ref, ref)

    async def expect_terminated(
        self, ref: Any, *, within: float | None = None
    ) -> ActorTerminated:
        """Watch ``ref`` and expect its ``ActorTerminated`` as the next message.

        Works for an actor that has already terminated too (the notice comes at once).

        :raises AssertionError: the next message is not that notice, or nothing came within
            ``within`` seconds.
        """
        self.watch(ref)

        def is_notice(message: Any) -> bool:
            return isinstance(message, ActorTerminated) and message.ref == ref

        is_notice.__qualname__ = f"ActorTerminated of {ref!r}"
        notice: ActorTerminated = await self.expect(is_notice, within=within)
        return notice


class TestKit:
    """Probes and expectations around one started :class:`~papyra.system.ActorSystem`.

    ``TestKit(system, clock=clock)`` wraps a system you made; :meth:`start` makes one (on a
    :class:`~papyra.clock.ManualClock` by default) and closes it afterwards. The pytest plugin
    hands one out as the ``papyra_kit`` fixture.

    Expectations of events and dead letters look at what happened since the kit was made,
    in order, each taking the first match after the previous one it returned. Every wait has
    a real-time deadline, ``within`` seconds (3.0 by default, per call or per kit); a missed
    expectation raises ``AssertionError`` that says what was expected and what was seen.
    Await its methods from the test's task (any task of the system's event loop).

    :raises TypeError: ``clock`` is not a :class:`~papyra.clock.ManualClock` or None, or
        ``within`` is not a number.
    :raises ValueError: ``within`` is negative or NaN.
    """

    __test__ = False

    def __init__(
        self, system: ActorSystem, *, clock: ManualClock | None = None, within: float = 3.0
    ) -> None:
        if clock is not None and not isinstance(clock, ManualClock):
            raise TypeError(f"clock must be a papyra ManualClock or None, not {clock!r}.")
        self.system = system
        self._clock = clock
        self.within = _seconds(within, "within")
        self._events = system.subscribe()
        self._dead_seen = system.dead_letters.total

    @classmethod
    @asynccontextmanager
    async def start(
        cls, *, clock: ManualClock | None = None, within: float = 3.0, **system_args: Any
    ) -> AsyncIterator[TestKit]:
        """A started system on ``clock`` (a new ManualClock if None) with its kit; closed after.

        ``system_args`` go to ``ActorSystem`` (``system_id``, ``persistence``, hooks...),
        which raises what its constructor and ``start()`` raise. The system is closed
        (``aclose()``) when the ``async with`` block ends, also on an exception.
        """
        from papyra.system import ActorSystem

        clock = ManualClock() if clock is None else clock
        system = ActorSystem(clock=clock, **system_args)
        await system.start()
        try:
            yield cls(system, clock=clock, within=within)
        finally:
            await system.aclose()

    @property
    def clock(self) -> ManualClock:
        """The manual clock of the system.

        :raises RuntimeError: the kit was given no clock.
        """
        if self._clock is None:
            raise RuntimeError("this TestKit has no manual clock: pass clock= to TestKit().")
        return self._clock

    async def advance(self, seconds: float) -> None:
        """``await kit.clock.advance(seconds)``: fire the timers and backoffs due meanwhile.

        :raises RuntimeError: the kit was given no clock.
        :raises TypeError: ``seconds`` is not a number.
        :raises ValueError: ``seconds`` is negative or not finite.
        """
        await self.clock.advance(seconds)

    def probe(self, name: str | None = None, *, reply: Callable[[Any], Any] | None = None) -> Probe:
        """A new :class:`Probe`, spawned in the system now (named ``name`` if given).

        ``reply(message)`` answers each ``ask`` to the probe (``None`` without it).

        :raises TypeError: ``reply`` is not callable.
        :raises ValueError: ``name`` is empty or already in use.
        :raises ActorStopped: the system is not running.
        """
        if reply is not None and not callable(reply):
            raise TypeError(f"reply must be a callable (message -> answer), not {reply!r}.")
        return Probe(self, name, reply)

    async def expect_event(self, match: Match, *, within: float | None = None) -> ActorEvent:
        """The next event (since the kit was made, or since the last one this returned) that
        matches ``match`` (an event class, a predicate or an event); events that do not match
        are passed over.

        :raises AssertionError: none came within ``within`` seconds, or the system closed
            first (the message lists the events passed over).
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        matches = _matcher(match)
        limit = self.within if within is None else _seconds(within, "within")
        passed: list[Any] = []
        with anyio.move_on_after(limit):
            while True:
                try:
                    event = await self._events.__anext__()
                except StopAsyncIteration:
                    raise AssertionError(
                        f"expected an event: {_describe(match)}; the system closed first. "
                        f"Seen meanwhile: {passed!r}"
                    ) from None
                if not isinstance(event, MissedEvents) and matches(event):
                    return event
                passed.append(event)
        raise AssertionError(
            f"expected an event: {_describe(match)} within {limit:g} s. Seen meanwhile: "
            f"{passed!r}"
        )

    async def expect_no_event(self, match: Match, *, within: float = 0.0) -> None:
        """Fail if an event matching ``match`` comes after the last one :meth:`expect_event`
        returned, once every task has settled (and, with ``within``, in that many real
        seconds). Takes no event: a later ``expect_event`` still sees them all.

        :raises AssertionError: such an event was emitted.
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        matches = _matcher(match)
        limit = _seconds(within, "within")
        await wait_all_tasks_blocked()
        start = self._events.next_index

        def found() -> ActorEvent | None:
            events = self.system.events()
            first = self.system.events_total - len(events)
            for event in events[max(start - first, 0):]:
                if matches(event):
                    return event
            return None

        event = found()
        if event is None and limit > 0:
            with anyio.move_on_after(limit):
                await self.system.wait_for_event(
                    lambda e: bool(matches(e)), timeout=None, start_index=start
                )
            event = found()
        if event is not None:
            raise AssertionError(f"expected no event: {_describe(match)}; got {event!r}.")

    async def expect_dead_letter(
        self, match: Match = None, *, target: Any = None, within: float | None = None
    ) -> DeadLetter:
        """The next dead letter (since the kit was made, or since the last one this returned)
        whose message matches ``match`` (``None``: any) and, if given, whose target is
        ``target``; others are passed over.

        :raises AssertionError: none came within ``within`` seconds (the message lists the
            dead letters passed over).
        :raises TypeError: ``within`` is not a number.
        :raises ValueError: ``within`` is negative or NaN.
        """
        matches: Callable[[Any], bool] = (lambda _: True) if match is None else _matcher(match)
        limit = self.within if within is None else _seconds(within, "within")
        box = self.system.dead_letters
        passed: list[DeadLetter] = []
        with anyio.move_on_after(limit):
            while True:
                total = box.total
                retained = box.messages
                first = total - len(retained)  # the index of retained[0]
                for index in range(max(self._dead_seen, first), total):
                    letter = retained[index - first]
                    self._dead_seen = index + 1
                    if matches(letter.message) and (target is None or letter.target == target):
                        return letter
                    passed.append(letter)
                await box.wait_for_more(total)
        wanted = "any message" if match is None else _describe(match)
        raise AssertionError(
            f"expected a dead letter: {wanted}"
            + ("" if target is None else f" to {target!r}")
            + f" within {limit:g} s. Seen meanwhile: {passed!r}"
        )

    async def settle(self) -> None:
        """Wait until every task of the event loop is blocked: what was sent has been handled."""
        await wait_all_tasks_blocked()

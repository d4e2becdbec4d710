"""Actor timers (``ctx.timers``) and the manual clock that drives them in tests.

Time moves only through ``ManualClock.advance``, which settles every task before it returns:
the assertions after an ``advance`` see everything the fired timers caused.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import anyio
import pytest

from papyra._envelope import STOP
from papyra.actor import Actor
from papyra.clock import ManualClock
from papyra.events import ActorRestarted
from papyra.exceptions import ActorStopped
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem
from tests.conftest import MakeSystem

pytestmark = pytest.mark.anyio


class Arm:
    """Ask a Ticker to start a timer: ``Arm(key, message, delay, periodic=False)``."""

    def __init__(self, key: Hashable, message: Any, delay: float, *, periodic: bool = False,
                 initial_delay: float | None = None) -> None:
        self.key = key
        self.message = message
        self.delay = delay
        self.periodic = periodic
        self.initial_delay = initial_delay


class Ticker(Actor):
    """Records every message it handles with the system time; obeys Arm and a few commands."""

    def __init__(self, seen: list[tuple[float, Any]], gate: anyio.Event | None = None) -> None:
        self.seen = seen
        self.gate = gate

    async def receive(self, message: Any) -> Any:
        timers = self.context.timers
        if isinstance(message, Arm):
            if message.periodic:
                timers.start_periodic(
                    message.key, message.message, message.delay,
                    initial_delay=message.initial_delay,
                )
            else:
                timers.start_single(message.key, message.message, message.delay)
            return None
        if isinstance(message, tuple) and message[0] == "cancel":
            return timers.cancel(message[1])
        if message == "keys":
            keys = timers.keys()
            return (keys, len(timers), [timers.is_active(k) for k in keys])
        if message == "crash":
            raise RuntimeError("crash")
        self.seen.append((self.context.system.now(), message))
        if message == "slow" and self.gate is not None:
            await self.gate.wait()
        return None


async def start_ticker(
    make_system: MakeSystem, *, start: float = 0.0, gate: anyio.Event | None = None,
    policy: SupervisionPolicy | None = None,
) -> tuple[ActorSystem, ManualClock, Any, list[tuple[float, Any]]]:
    clock = ManualClock(start)
    system = await make_system(clock=clock)
    seen: list[tuple[float, Any]] = []
    ref = system.spawn(lambda: Ticker(seen, gate), policy=policy)
    return system, clock, ref, seen


async def test_a_single_timer_fires_once_at_its_delay(make_system: MakeSystem) -> None:
    _system, clock, ref, seen = await start_ticker(make_system, start=100.0)
    await ref.ask(Arm("k", "wake", 10))
    await clock.advance(9.999)
    assert seen == []
    await clock.advance(0.001)
    assert seen == [(110.0, "wake")]
    await clock.advance(1000)
    assert seen == [(110.0, "wake")]
    assert await ref.ask("keys") == ((), 0, [])


async def test_a_zero_delay_timer_fires_on_the_next_advance(make_system: MakeSystem) -> None:
    _system, clock, ref, seen = await start_ticker(make_system)
    await ref.ask(Arm("k", "now", 0))
    assert seen == []
    await clock.advance(0)
    assert seen == [(0.0, "now")]


async def test_periodic_ticks_every_interval_after_the_first(make_system: MakeSystem) -> None:
    _system, clock, ref, seen = await start_ticker(make_system)
    await ref.ask(Arm("tick", "tick", 10, periodic=True))
    await clock.advance(35)
    assert seen == [(10.0, "tick"), (20.0, "tick"), (30.0, "tick")]
    await ref.ask(Arm("tick", "tock", 5, periodic=True, initial_delay=0))
    await clock.advance(11)
    assert [m for _, m in seen[3:]] == ["tock", "tock", "tock"]
    assert [t for t, _ in seen[3:]] == [35.0, 40.0, 45.0]


async def test_a_slow_handler_stretches_the_period_instead_of_queueing_a_burst(
    make_system: MakeSystem, make_gate: Any
) -> None:
    gate = make_gate()
    system, clock, ref, seen = await start_ticker(make_system, gate=gate)
    await ref.ask(Arm("tick", "slow", 10, periodic=True))
    await clock.advance(10)
    assert seen == [(10.0, "slow")]  # the handler is blocked on the gate now
    await clock.advance(100)  # ten periods pass while the first tick is still being handled
    assert seen == [(10.0, "slow")]
    assert len(system._lifecycle.cell_of(ref).mailbox) == 0  # no backlog of ticks either
    gate.set()
    await anyio.wait_all_tasks_blocked()
    await clock.advance(9)
    assert len(seen) == 1
    await clock.advance(1)  # fixed delay: interval after the slow tick was handled (t=110)
    assert seen[1] == (120.0, "slow")


async def test_starting_a_key_again_replaces_that_timer(make_system: MakeSystem) -> None:
    _system, clock, ref, seen = await start_ticker(make_system)
    await ref.ask(Arm("k", "first", 10))
    await ref.ask(Arm("k", "second", 20))
    await ref.ask(Arm("other", "third", 15))
    await clock.advance(30)
    assert seen == [(15.0, "third"), (20.0, "second")]


async def test_cancel_stops_a_timer_and_says_whether_one_was_active(
    make_system: MakeSystem,
) -> None:
    _system, clock, ref, seen = await start_ticker(make_system)
    await ref.ask(Arm("k", "never", 10, periodic=True))
    keys = await ref.ask("keys")
    assert keys == (("k",), 1, [True])
    assert await ref.ask(("cancel", "k")) is True
    assert await ref.ask(("cancel", "k")) is False
    await clock.advance(100)
    assert seen == []


async def test_a_cancelled_timer_message_already_queued_is_never_handled(
    make_system: MakeSystem, make_gate: Any
) -> None:
    gate = make_gate()
    system, clock, ref, seen = await start_ticker(make_system, gate=gate)
    await ref.ask(Arm("k", "late", 10))
    await ref.tell("slow")  # the actor blocks on the gate
    await ref.tell(("cancel", "k"))  # queued behind it
    await clock.advance(10)  # the timer fires: its message is queued behind the cancel
    cell = system._lifecycle.cell_of(ref)
    assert len(cell.mailbox) == 2
    gate.set()
    await anyio.wait_all_tasks_blocked()
    assert [m for _, m in seen] == ["slow"]
    assert len(cell.mailbox) == 0 and system.dead_letters.messages == []


async def test_timers_are_cancelled_when_the_actor_stops(make_system: MakeSystem) -> None:
    system, clock, ref, seen = await start_ticker(make_system)
    await ref.ask(Arm("a", "a", 10))
    await ref.ask(Arm("b", "b", 5, periodic=True))
    await system.stop(ref, wait=True)
    assert system._lifecycle.timers == {}
    await clock.advance(100)
    assert seen == [] and system.dead_letters.messages == []
    assert clock.pending == 0


async def test_timers_are_cancelled_when_the_actor_restarts(make_system: MakeSystem) -> None:
    system, clock, ref, seen = await start_ticker(
        make_system, policy=SupervisionPolicy(strategy=Strategy.RESTART)
    )
    await ref.ask(Arm("k", "old", 10, periodic=True))
    with pytest.raises(RuntimeError):
        await ref.ask("crash")
    await system.wait_for_event(ActorRestarted)
    await clock.advance(100)
    assert seen == []
    assert await ref.ask("keys") == ((), 0, [])
    await ref.ask(Arm("k", "new", 10))  # the new instance starts its own
    await clock.advance(10)
    assert seen == [(110.0, "new")]


async def test_a_timer_can_stop_its_actor(make_system: MakeSystem) -> None:
    system, clock, ref, _seen = await start_ticker(make_system)
    await ref.ask(Arm("bye", STOP, 60))
    await clock.advance(59)
    assert ref.is_alive()
    await clock.advance(1)
    await system.join(ref)
    assert not ref.is_alive()


async def test_timer_messages_pass_a_full_mailbox(make_system: MakeSystem, make_gate: Any) -> None:
    clock = ManualClock()
    system = await make_system(clock=clock)
    gate = make_gate()
    seen: list[tuple[float, Any]] = []
    ref = system.spawn(lambda: Ticker(seen, gate), mailbox_capacity=1)
    await ref.ask(Arm("k", "tick", 1))
    await ref.tell("slow")
    await anyio.wait_all_tasks_blocked()
    await ref.tell("filler")  # the mailbox is full now
    await clock.advance(1)
    gate.set()
    await anyio.wait_all_tasks_blocked()
    assert [m for _, m in seen] == ["slow", "filler", "tick"]


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda t: t.start_single("k", "m", -1), ValueError, "delay must be"),
        (lambda t: t.start_single("k", "m", math.nan), ValueError, "delay must be"),
        (lambda t: t.start_single("k", "m", math.inf), ValueError, "delay must be"),
        (lambda t: t.start_single("k", "m", True), TypeError, "delay must be"),
        (lambda t: t.start_single("k", "m", "5"), TypeError, "delay must be"),
        (lambda t: t.start_periodic("k", "m", 0), ValueError, "interval must be"),
        (lambda t: t.start_periodic("k", "m", 1, initial_delay=-2), ValueError,
         "initial_delay must be"),
        (lambda t: t.start_single(["unhashable"], "m", 1), TypeError, "unhashable"),
    ],
)
async def test_bad_timer_arguments_are_refused_at_the_call(
    make_system: MakeSystem, call: Any, error: type[Exception], text: str
) -> None:
    system = await make_system(clock=ManualClock())
    outcome: list[BaseException] = []

    class Caller(Actor):
        async def receive(self, message: Any) -> Any:
            try:
                call(self.context.timers)
            except Exception as exc:
                outcome.append(exc)
            return len(self.context.timers)

    ref = system.spawn(Caller)
    assert await ref.ask("go") == 0
    assert len(outcome) == 1 and isinstance(outcome[0], error)
    assert text in str(outcome[0])


async def test_no_timer_starts_once_a_stop_was_requested(make_system: MakeSystem) -> None:
    system = await make_system(clock=ManualClock())
    refused: list[BaseException] = []

    class Stopper(Actor):
        async def receive(self, message: Any) -> Any:
            await self.context.stop_self()
            try:
                self.context.timers.start_single("k", "m", 1)
            except ActorStopped as exc:
                refused.append(exc)

    ref = system.spawn(Stopper)
    await ref.tell("go")
    await system.join(ref)
    assert len(refused) == 1 and "is stopping" in str(refused[0])


async def test_timers_run_on_real_time_without_a_manual_clock(make_system: MakeSystem) -> None:
    system = await make_system()
    fired = anyio.Event()
    ticks: list[Any] = []

    class Waker(Actor):
        async def on_start(self) -> None:
            self.context.timers.start_periodic("p", "tick", 0.01)
            self.context.timers.start_single("s", "single", 0.005)

        async def receive(self, message: Any) -> Any:
            ticks.append(message)
            if ticks.count("tick") == 3:
                self.context.timers.cancel("p")
                fired.set()

    system.spawn(Waker)
    with anyio.fail_after(10):
        await fired.wait()
    assert ticks.count("single") == 1 and ticks.count("tick") == 3
    scheduler = system._scheduler
    assert scheduler is not None and scheduler.pending == 0


async def test_one_scheduler_task_serves_every_timer(make_system: MakeSystem) -> None:
    system = await make_system()
    got = anyio.Event()
    count = 0

    class Many(Actor):
        async def on_start(self) -> None:
            for i in range(50):
                self.context.timers.start_single(i, i, 0.001 * (i % 5))

        async def receive(self, message: Any) -> Any:
            nonlocal count
            count += 1
            if count == 500:
                got.set()

    for _ in range(10):
        system.spawn(Many)
    with anyio.fail_after(10):
        await got.wait()
    assert count == 500


# -- the manual clock --------------------------------------------------------------------------


async def test_the_manual_clock_is_the_system_time(make_system: MakeSystem) -> None:
    clock = ManualClock(1_000.0)
    system = await make_system(clock=clock)
    assert system.now() == system.clock.now() == clock.now() == 1_000.0
    await clock.advance(2.5)
    assert system.now() == 1_002.5
    seen: list[tuple[float, Any]] = []
    ref = system.spawn(lambda: Ticker(seen))
    await ref.ask("what time")
    assert seen == [(1_002.5, "what time")]


async def test_time_fn_and_clock_together_are_refused() -> None:
    with pytest.raises(ValueError, match="time_fn or clock"):
        ActorSystem(time_fn=lambda: 0.0, clock=ManualClock())
    with pytest.raises(TypeError, match="now"):
        ActorSystem(clock=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "error"), [(-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
                           (True, TypeError), ("1", TypeError)]
)
async def test_advance_refuses_what_is_not_a_duration(seconds: Any, error: type[Exception]) -> None:
    clock = ManualClock()
    with pytest.raises(error, match="advance"):
        await clock.advance(seconds)
    assert clock.now() == 0.0


def test_a_manual_clock_starts_at_a_finite_time() -> None:
    with pytest.raises(ValueError, match="finite"):
        ManualClock(math.nan)
    with pytest.raises(ValueError, match="finite"):
        ManualClock(-math.inf)
    with pytest.raises(TypeError):
        ManualClock("5")  # type: ignore[arg-type]
    assert ManualClock(5).now() == 5.0
    assert repr(ManualClock(1)) == "ManualClock(now=1.0, pending=0)"


async def test_entries_due_together_fire_in_scheduling_order() -> None:
    clock = ManualClock()
    order: list[str] = []
    for name in "abc":
        clock.call_at(5.0, lambda name=name: order.append(name))
    clock.call_at(1.0, lambda: order.append("first"))
    cancelled = clock.call_at(2.0, lambda: order.append("cancelled"))
    cancelled.cancel()
    at: list[float] = []
    clock.call_at(3.0, lambda: at.append(clock.now()))
    await clock.advance(10)
    assert order == ["first", "a", "b", "c"] and at == [3.0] and clock.now() == 10.0


async def test_a_failing_callback_is_logged_and_time_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    ran: list[int] = []

    def bad() -> None:
        raise RuntimeError("bad callback")

    clock.call_at(1.0, bad)
    clock.call_at(2.0, lambda: ran.append(1))
    await clock.advance(5)
    assert ran == [1]
    assert "timer callback failed" in caplog.text


async def test_many_cancelled_entries_do_not_accumulate() -> None:
    clock = ManualClock()
    for _ in range(10_000):
        clock.call_at(100.0, lambda: None).cancel()
    assert len(clock._heap) < 200
    assert clock.pending == 0


async def test_a_cancelled_timer_message_is_taken_back_from_a_priority_mailbox(
    make_system: MakeSystem, make_gate: Any
) -> None:
    clock = ManualClock()
    system = await make_system(clock=clock)
    gate = make_gate()
    seen: list[tuple[float, Any]] = []
    # every message but "slow" and 7 is urgent: the cancels and the "late" tick
    ref = system.spawn(lambda: Ticker(seen, gate), priority=lambda m: m not in ("slow", 7))
    await ref.ask(Arm("urgent", "late", 10))
    await ref.ask(Arm("plain", 7, 10))
    await ref.tell("slow")
    await anyio.wait_all_tasks_blocked()  # "slow" is being handled: blocked on the gate
    await ref.tell(("cancel", "urgent"))
    await ref.tell(("cancel", "plain"))
    await clock.advance(10)  # both fire: "late" to the urgent lane, 7 to the ordinary one
    cell = system._lifecycle.cell_of(ref)
    assert len(cell.mailbox) == 4
    gate.set()
    await anyio.wait_all_tasks_blocked()
    assert [m for _, m in seen] == ["slow"]  # both ticks were taken back by their cancels
    assert len(cell.mailbox) == 0 and system.dead_letters.messages == []

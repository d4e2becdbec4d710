"""Restart backoff of ``SupervisionPolicy`` and the restart-budget-exhausted hook.

No timing assertions: the delay sequence is checked as a function (jitter injected), and the
runtime behaviour through ordering and events. ``backoff_random`` doubles as the signal that an
actor has entered its backoff (it is called just before the wait when ``backoff_jitter > 0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from papyra._envelope import DeadLetter
from papyra.actor import Actor
from papyra.clock import ManualClock
from papyra.events import ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.hooks import DefaultHooks, RestartBudgetExhausted
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem
from papyra.testing import TestKit

RESTART = Strategy.RESTART


class Boom(Exception):
    pass


class Log:
    def __init__(self) -> None:
        self.entries: list[tuple[str, int, Any]] = []
        self.instances = 0


class Worker(Actor):
    """Records its start, stop and messages; ``"boom"`` raises."""

    def __init__(self, log: Log) -> None:
        log.instances += 1
        self.number = log.instances
        self.log = log

    async def on_start(self) -> None:
        self.log.entries.append(("start", self.number, None))

    async def on_stop(self) -> None:
        self.log.entries.append(("stop", self.number, None))

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise Boom("boom")
        self.log.entries.append(("msg", self.number, message))
        return message


class Hooks(DefaultHooks):
    def __init__(self) -> None:
        self.exhausted: list[RestartBudgetExhausted] = []
        self.dead: list[DeadLetter] = []

    def on_restart_budget_exhausted(self, info: RestartBudgetExhausted) -> None:
        self.exhausted.append(info)

    def on_dead_letter(self, dead_letter: DeadLetter) -> None:
        self.dead.append(dead_letter)


def signalling_random(value: float = 0.0) -> tuple[Callable[[], float], list[anyio.Event]]:
    """A ``backoff_random`` returning ``value`` and setting the next of its events per call."""
    events = [anyio.Event() for _ in range(8)]
    calls = [0]

    def rand() -> float:
        events[calls[0]].set()
        calls[0] += 1
        return value

    return rand, events


async def manual_kit(make_system: Any, **kwargs: Any) -> TestKit:
    """A started system on a manual clock, and its test kit."""
    clock = ManualClock()
    return TestKit(await make_system(clock=clock, **kwargs), clock=clock)


def kinds(system: ActorSystem, ref: ActorRef) -> list[str]:
    address = ref.address.to_dict()
    return [type(e).__name__ for e in system.events() if e.address == address]


async def until(system: ActorSystem, kind: type[Any], ref: ActorRef, count: int = 1) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, kind) and e.address == address
        and sum(1 for x in system.events() if isinstance(x, kind) and x.address == address)
        >= count,
        timeout=5,
    )


# -- the policy ----------------------------------------------------------------------------------


def test_defaults_mean_no_backoff_and_keep_the_030_repr_and_equality() -> None:
    policy = SupervisionPolicy(strategy="restart", max_restarts=2, within_seconds=5.0)
    assert not policy.has_backoff
    assert policy.backoff_delay(1) == 0.0
    assert repr(policy) == (
        "SupervisionPolicy(strategy=<Strategy.RESTART: 'restart'>, max_restarts=2, "
        "within_seconds=5.0)"
    )
    assert policy == SupervisionPolicy(strategy=RESTART, max_restarts=2, within_seconds=5.0)
    assert repr(SupervisionPolicy(backoff_min=0.5)).endswith("backoff_min=0.5)")


def test_delay_sequence_grows_by_factor_up_to_max_with_jitter() -> None:
    draws = iter([0.0, 0.5, 1.0, 0.25, 0.0, 0.5])
    policy = SupervisionPolicy(
        strategy=RESTART, backoff_min=0.1, backoff_max=1.0, backoff_factor=3.0,
        backoff_jitter=0.5, backoff_random=lambda: next(draws),
    )
    delays = [policy.backoff_delay(n) for n in range(1, 7)]
    # bases 0.1, 0.3, 0.9, 1.0 (capped), 1.0, 1.0; each times (1 - 0.5 * draw)
    assert delays == pytest.approx([0.1, 0.225, 0.45, 0.875, 1.0, 0.75])


def test_delay_without_jitter_never_calls_random_and_survives_huge_attempts() -> None:
    def never() -> float:
        raise AssertionError("random called without jitter")

    policy = SupervisionPolicy(backoff_min=0.5, backoff_max=30.0, backoff_random=never)
    assert [policy.backoff_delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.backoff_delay(100_000) == 30.0
    assert SupervisionPolicy(backoff_min=0.5).backoff_delay(100_000) == math.inf


def test_random_takes_no_part_in_equality() -> None:
    a = SupervisionPolicy(backoff_min=1.0, backoff_random=lambda: 0.0)
    assert a == SupervisionPolicy(backoff_min=1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backoff_min": -1.0}, "backoff_min must be a finite number >= 0"),
        ({"backoff_min": math.nan}, "backoff_min must be a finite number >= 0"),
        ({"backoff_min": math.inf}, "backoff_min must be a finite number >= 0"),
        ({"backoff_min": 2.0, "backoff_max": 1.0}, r"backoff_max must be a number >= backoff_min"),
        ({"backoff_max": math.nan}, "backoff_max must be a number >= backoff_min"),
        ({"backoff_max": -1.0}, "backoff_max must be a number >= backoff_min"),
        ({"backoff_factor": 0.5}, "backoff_factor must be a finite number >= 1"),
        ({"backoff_factor": math.nan}, "backoff_factor must be a finite number >= 1"),
        ({"backoff_jitter": -0.1}, r"backoff_jitter must be a number in \[0, 1\]"),
        ({"backoff_jitter": 1.5}, r"backoff_jitter must be a number in \[0, 1\]"),
        ({"backoff_jitter": math.nan}, r"backoff_jitter must be a number in \[0, 1\]"),
        ({"backoff_reset_after": -1.0}, "backoff_reset_after must be a number >= 0 or None"),
        ({"backoff_reset_after": math.nan}, "backoff_reset_after must be a number >= 0 or None"),
    ],
)
def test_invalid_backoff_values_raise_value_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SupervisionPolicy(strategy=RESTART, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"backoff_min": "1"}, {"backoff_factor": True}, {"backoff_random": 0.5}],
)
def test_wrong_types_raise_type_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        SupervisionPolicy(**kwargs)


# -- the runtime ---------------------------------------------------------------------------------


async def crashed_into_backoff(
    make_system: Any, backoff_min: float, jitter: float, *, before: tuple[str, ...] = ()
) -> tuple[Any, Hooks, Log, Any]:
    """A started system with one ``Worker`` that was told ``before`` then crashed, and is now
    waiting out its restart backoff: (system, hooks, log, ref)."""
    hooks = Hooks()
    system = await make_system(hooks=hooks)
    rand, entered = signalling_random(0.0)
    policy = SupervisionPolicy(
        strategy=RESTART, backoff_min=backoff_min, backoff_jitter=jitter, backoff_random=rand
    )
    log = Log()
    ref = system.spawn(lambda: Worker(log), policy=policy)
    for message in (*before, "boom"):
        await ref.tell(message)
    with anyio.fail_after(5):
        await entered[0].wait()
    return system, hooks, log, ref


@pytest.mark.anyio
async def test_messages_told_during_the_backoff_wait_and_are_processed_after_it_in_order(
    make_system: Any,
) -> None:
    kit = await manual_kit(make_system)
    log = Log()
    policy = SupervisionPolicy(strategy=RESTART, backoff_min=10.0, backoff_max=10.0)
    ref = kit.system.spawn(lambda: Worker(log), policy=policy)
    for message in ("before", "boom", "a", "b", "c"):
        await ref.tell(message)
    await kit.advance(9.9)
    assert log.entries == [("start", 1, None), ("msg", 1, "before")]  # still backing off
    await kit.advance(0.1)
    assert await ref.ask("d") == "d"

    assert log.entries == [
        ("start", 1, None), ("msg", 1, "before"), ("stop", 1, None), ("start", 2, None),
        ("msg", 2, "a"), ("msg", 2, "b"), ("msg", 2, "c"), ("msg", 2, "d"),
    ]
    assert kinds(kit.system, ref) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]
    await kit.expect_no_event(ActorStoppedEvent)
    assert kit.system.dead_letters.messages == []


@pytest.mark.anyio
async def test_graceful_stop_ends_a_long_backoff_and_drains_the_queue(make_system: Any) -> None:
    system, hooks, log, ref = await crashed_into_backoff(make_system, 60.0, 0.1)
    with anyio.fail_after(5):
        await ref.tell("queued")
        await system.stop(ref, wait=True)

    assert log.entries == [
        ("start", 1, None), ("stop", 1, None), ("start", 2, None), ("msg", 2, "queued"),
        ("stop", 2, None),
    ]
    assert hooks.dead == []


@pytest.mark.anyio
async def test_immediate_stop_ends_a_long_backoff_without_a_new_instance(
    make_system: Any,
) -> None:
    system, hooks, log, ref = await crashed_into_backoff(make_system, 60.0, 0.1)
    with anyio.fail_after(5):
        await ref.tell("queued")
        await system.stop(ref, wait=True, immediate=True)

    assert log.instances == 1
    assert log.entries == [("start", 1, None), ("stop", 1, None)]
    assert [d.message for d in hooks.dead] == ["queued"]
    assert kinds(system, ref) == ["ActorStarted", "ActorCrashed", "ActorStopped"]


@pytest.mark.anyio
async def test_closing_the_system_ends_a_long_backoff(make_system: Any) -> None:
    system = await make_system(start=False)
    rand, entered = signalling_random(0.0)
    policy = SupervisionPolicy(
        strategy=RESTART, backoff_min=60.0, backoff_jitter=0.1, backoff_random=rand
    )
    log = Log()
    with anyio.fail_after(5):
        async with system:
            ref = system.spawn(lambda: Worker(log), policy=policy)
            await ref.tell("boom")
            await entered[0].wait()
    assert ("stop", 1, None) in log.entries
    assert not ref.is_alive()


@pytest.mark.anyio
async def test_budget_exhausted_hook_fires_once(make_system: Any) -> None:
    hooks = Hooks()
    kit = await manual_kit(make_system, hooks=hooks)
    policy = SupervisionPolicy(
        strategy=RESTART, max_restarts=2, within_seconds=10.0, backoff_min=1.0,
        backoff_max=1.0,
    )
    log = Log()
    ref = kit.system.spawn(lambda: Worker(log), policy=policy)
    for _ in range(2):
        await ref.tell("boom")
        await kit.advance(1.0)
        await kit.expect_event(ActorRestarted)
    await ref.tell("boom")
    await kit.expect_event(ActorStoppedEvent)

    assert len(hooks.exhausted) == 1
    info = hooks.exhausted[0]
    assert info.address == ref.address
    assert isinstance(info.error, Boom)
    assert (info.max_restarts, info.within_seconds) == (2, 10.0)
    assert log.instances == 3


@pytest.mark.anyio
async def test_no_budget_hook_without_a_budget_or_while_restarting(
    make_system: Any, clock: Any
) -> None:
    hooks = Hooks()
    system = await make_system(hooks=hooks, time_fn=clock)
    never = system.spawn(
        lambda: Worker(Log()), policy=SupervisionPolicy(strategy=RESTART, max_restarts=0)
    )
    again = system.spawn(lambda: Worker(Log()), policy=SupervisionPolicy(strategy=RESTART))
    await never.tell("boom")
    await again.tell("boom")
    await until(system, ActorStoppedEvent, never)
    await until(system, ActorRestarted, again)
    assert hooks.exhausted == []


@pytest.mark.anyio
async def test_consecutive_count_resets_after_a_healthy_period(make_system: Any) -> None:
    attempts: list[int] = []

    class Recording(SupervisionPolicy):
        __slots__ = ()

        def backoff_delay(self, attempt: int) -> float:
            attempts.append(attempt)
            return super().backoff_delay(attempt)

    kit = await manual_kit(make_system)
    policy = Recording(
        strategy=RESTART, max_restarts=100, within_seconds=1.0, backoff_min=1.0,
        backoff_max=1.0, backoff_reset_after=30.0,
    )
    ref = kit.system.spawn(lambda: Worker(Log()), policy=policy)

    async def fail() -> None:
        await ref.tell("boom")
        await kit.advance(1.0)  # the backoff
        await kit.expect_event(ActorRestarted)

    await fail()
    await fail()
    await kit.advance(28.0)  # healthy for 29 s: not long enough
    await fail()
    await kit.advance(30.0)  # healthy for backoff_reset_after: the count starts over
    await fail()
    await fail()
    assert attempts == [1, 2, 3, 1, 2]
    assert kinds(kit.system, ref).count("ActorCrashed") == 5

"""Supervision under stress: who runs a cell's supervision, and budgets of any size.

An escalation is carried out by the failing parent's own task, between two of its messages:
a restarted parent never receives a message before its new instance's ``on_start`` finished,
an instance's ``on_stop`` never runs while its own ``receive`` is running, and two escalations
reaching one parent at once replace its instance once. Restart budgets are a loop, not a
recursion, whatever their size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

ESCALATE = SupervisionPolicy(strategy=Strategy.ESCALATE)


class Boom(Exception):
    pass


class Log:
    """What the instances of one test did, and which of those broke the guarantees."""

    def __init__(self) -> None:
        self.instances: list[Supervisor] = []
        self.stopped: list[int] = []  # instance numbers, in on_stop order
        self.seen: list[tuple[int, Any]] = []
        self.violations: list[str] = []
        self.start_gate: anyio.Event | None = None  # instances > 1 wait for it in on_start
        self.start_entered = anyio.Event()
        self.block_gate: anyio.Event | None = None  # "block" waits for it in receive
        self.blocking = anyio.Event()
        self.children = 0  # children each instance spawns in on_start


class Worker(Actor):
    """A child: an exception sent as a message is raised from ``receive``."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


class Supervisor(Actor):
    """Records every hook call and flags those the runtime must never make."""

    def __init__(self, log: Log) -> None:
        self.log = log
        log.instances.append(self)
        self.number = len(log.instances)
        self.started = False
        self.stopped = False
        self.in_receive = False
        self.kids: list[ActorRef] = []

    async def on_start(self) -> None:
        log = self.log
        await anyio.lowlevel.checkpoint()
        if self.number > 1 and log.start_gate is not None:
            log.start_entered.set()
            await log.start_gate.wait()
        for _ in range(log.children):
            self.kids.append(self.context.spawn_child(Worker, policy=ESCALATE))
        self.started = True

    async def on_stop(self) -> None:
        if self.in_receive:
            self.log.violations.append(f"on_stop of {self.number} during its receive")
        if self.stopped:
            self.log.violations.append(f"on_stop of {self.number} twice")
        self.stopped = True
        self.log.stopped.append(self.number)
        await anyio.lowlevel.checkpoint()

    async def receive(self, message: Any) -> Any:
        log = self.log
        if not self.started:
            log.violations.append(f"{message!r} reached {self.number} before its on_start ended")
        if self.stopped:
            log.violations.append(f"{message!r} reached {self.number} after its on_stop")
        self.in_receive = True
        try:
            if message == "spawn":
                return self.context.spawn_child(Worker, policy=ESCALATE)
            if message == "kids":
                return list(self.kids)
            if message in ("block", "block-then-fail"):
                assert log.block_gate is not None
                log.blocking.set()
                await log.block_gate.wait()
                if message == "block-then-fail":
                    raise Boom("parent")
            log.seen.append((self.number, message))
            return self.number
        finally:
            self.in_receive = False


def supervisor(log: Log) -> Callable[[], Supervisor]:
    return lambda: Supervisor(log)


def kinds(system: ActorSystem, ref: ActorRef) -> list[str]:
    address = ref.address.to_dict()
    return [type(e).__name__ for e in system.events() if e.address == address]


async def until(system: ActorSystem, kind: type[Any], ref: ActorRef, count: int = 1) -> None:
    address = ref.address.to_dict()
    seen = 0
    index = 0
    while seen < count:
        await system.wait_for_event(
            lambda e: isinstance(e, kind) and e.address == address, start_index=index, timeout=30
        )
        seen = sum(1 for e in system.events() if isinstance(e, kind) and e.address == address)
        index = len(system.events())


# -- escalations are carried out by the parent's own task -----------------------------------------


async def blocked_supervisor(
    system: ActorSystem, make_gate: Any, request: str = "spawn", block: str = "block",
    children: int = 0,
) -> tuple[Log, ActorRef, Any]:
    """A named supervisor, its answer to ``request``, and ``block`` in progress in its task."""
    log = Log()
    log.children = children
    log.block_gate = make_gate()
    root = system.spawn(supervisor(log), name="root")
    answer = await root.ask(request)
    await root.tell(block)
    with anyio.fail_after(5):
        await log.blocking.wait()
    return log, root, answer


async def test_an_escalation_restart_starts_before_the_next_message(
    system: ActorSystem, make_gate: Any
) -> None:
    log = Log()
    root = system.spawn(supervisor(log), name="root")  # RESTART by default
    child = await root.ask("spawn")
    log.start_gate = make_gate()

    await child.tell(Boom("child"))
    with anyio.fail_after(5):
        await log.start_entered.wait()  # the parent's new instance is inside on_start
    await root.tell("hello")
    await anyio.wait_all_tasks_blocked()  # a loop that ignored on_start has taken it by now
    assert log.seen == []
    log.start_gate.set()

    assert await root.ask("sync") == 2
    assert log.seen == [(2, "hello"), (2, "sync")]
    assert log.violations == []
    assert kinds(system, root) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]


async def test_an_escalation_waits_for_the_parents_receive_to_end(
    system: ActorSystem, make_gate: Any
) -> None:
    log, root, child = await blocked_supervisor(system, make_gate)

    with pytest.raises(Boom):
        await child.ask(Boom("child"))
    await until(system, ActorStoppedEvent, child)
    await anyio.wait_all_tasks_blocked()
    assert log.stopped == []  # the parent is still inside receive: nothing happened to it
    assert kinds(system, root) == ["ActorStarted"]
    log.block_gate.set()

    assert await root.ask("sync") == 2  # the escalation was handled right after "block"
    assert log.seen == [(1, "block"), (2, "sync")]
    assert log.stopped == [1]
    assert log.violations == []
    assert kinds(system, root) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]


async def test_two_escalations_at_once_replace_the_parent_once(
    system: ActorSystem, make_gate: Any
) -> None:
    log, root, (first, second) = await blocked_supervisor(
        system, make_gate, request="kids", children=2
    )

    await first.tell(Boom("first"))
    await second.tell(Boom("second"))
    await until(system, ActorStoppedEvent, first)
    await until(system, ActorStoppedEvent, second)
    log.block_gate.set()
    kids = await root.ask("kids")

    # Both failures were about instance 1: one restart replaced it, the second had nothing
    # left to act on. Each instance was stopped at most once, the new one has its own kids.
    assert len(log.instances) == 2
    assert log.stopped == [1]
    assert log.violations == []
    assert kinds(system, root) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]
    assert len(kids) == 2
    assert all(kid.is_alive() for kid in kids)
    alive = [rid for rid in system.actor_info(root).children_rids if system.actor_info(rid).alive]
    assert sorted(alive) == sorted(kid._rid for kid in kids)


async def test_an_escalation_to_a_parent_that_restarts_anyway_is_not_applied_twice(
    system: ActorSystem, make_gate: Any
) -> None:
    log, root, child = await blocked_supervisor(system, make_gate, block="block-then-fail")
    await child.tell(Boom("child"))
    await until(system, ActorStoppedEvent, child)
    # The parent's message in progress fails: that restart replaces instance 1, and the
    # escalation about instance 1, still waiting, has nothing left to act on.
    log.block_gate.set()

    assert await root.ask("sync") == 2
    assert len(log.instances) == 2
    assert log.stopped == [1]
    assert log.violations == []
    assert kinds(system, root) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]


async def test_a_stop_requested_after_an_escalation_still_drains(
    system: ActorSystem, make_gate: Any
) -> None:
    log, root, child = await blocked_supervisor(system, make_gate)
    await root.tell("queued")
    await child.tell(Boom("child"))
    await until(system, ActorStoppedEvent, child)  # its escalation waits for the parent
    await system.stop(root)  # graceful: "queued" was enqueued before it
    log.block_gate.set()
    await until(system, ActorStoppedEvent, root)

    assert log.seen == [(1, "block"), (1, "queued")]
    assert kinds(system, root) == ["ActorStarted", "ActorStopped"]
    assert log.stopped == [1]
    assert log.violations == []


async def test_an_escalation_chain_is_handled_by_each_ancestor(system: ActorSystem) -> None:
    top_log, mid_log = Log(), Log()
    top = system.spawn(supervisor(top_log), name="top")
    # top (RESTART) -> mid (ESCALATE) -> leaf (ESCALATE): each hop runs in the next task.
    mid_ref = system.spawn(supervisor(mid_log), parent=top, policy=ESCALATE)
    leaf = await mid_ref.ask("spawn")

    with pytest.raises(Boom):
        await leaf.ask(Boom("leaf"))
    await until(system, ActorRestarted, top)
    await until(system, ActorStoppedEvent, mid_ref)

    assert kinds(system, leaf) == ["ActorStarted", "ActorCrashed", "ActorStopped"]
    assert kinds(system, mid_ref) == ["ActorStarted", "ActorCrashed", "ActorStopped"]
    assert kinds(system, top) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]
    assert top_log.violations == mid_log.violations == []


# -- restart budgets -------------------------------------------------------------------------------


class NeverStarts(Actor):
    instances = 0

    def __init__(self) -> None:
        NeverStarts.instances += 1

    async def on_start(self) -> None:
        raise Boom("no")

    async def receive(self, message: Any) -> Any:
        return message


class Counting:
    def __init__(self) -> None:
        self.failures = 0
        self.crashed = 0
        self.restarted = 0

    def on_failure(self, failure: Any) -> None:
        self.failures += 1

    def on_event(self, event: Any) -> None:
        if isinstance(event, ActorCrashed):
            self.crashed += 1
        elif isinstance(event, ActorRestarted):
            self.restarted += 1


async def test_a_large_restart_budget_ends_in_stop_not_recursion(make_system: Any) -> None:
    hooks = Counting()
    system = await make_system(hooks=hooks, log_crashes=False, time_fn=lambda: 1000.0)
    budget = 10_000
    NeverStarts.instances = 0
    ref = system.spawn(
        NeverStarts, policy=SupervisionPolicy(Strategy.RESTART, max_restarts=budget)
    )
    await ref.tell("queued")

    with anyio.fail_after(60):
        await until(system, ActorStoppedEvent, ref)

    assert NeverStarts.instances == budget + 1
    assert hooks.crashed == hooks.failures == budget + 1
    assert hooks.restarted == 0  # no restart ever completed
    assert not any(isinstance(e, ActorStarted) for e in system.events())
    assert [dl.message for dl in system.dead_letters.messages] == ["queued"]
    with pytest.raises(ActorStopped):
        await ref.ask("late")

"""Supervision (actors.md §11, with the actor loop rules of §13 that failures rely on).

Default policies, every strategy, restart budgets driven by an injected clock, parent decisions,
escalation chains, the ``on_failure`` hook, event sequences, ``on_start`` failures, and what an
``ask`` that crashed its actor observes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from papyra._envelope import DeadLetter
from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.hooks import FailureInfo
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

STARTED, CRASHED, RESTARTED, STOPPED = (
    "ActorStarted", "ActorCrashed", "ActorRestarted", "ActorStopped"
)
RESTART = SupervisionPolicy(strategy=Strategy.RESTART)
STOP = SupervisionPolicy(strategy=Strategy.STOP)
ESCALATE = SupervisionPolicy(strategy=Strategy.ESCALATE)


class Boom(Exception):
    pass


class Probe:
    """What the actors of one test did, shared through their factory."""

    def __init__(self) -> None:
        self.instances: list[Worker] = []
        self.started: list[Worker] = []
        self.stopped: list[Worker] = []
        self.seen: list[tuple[int, Any]] = []
        self.child_failures: list[tuple[Any, BaseException]] = []
        self.fail_start: set[int] = set()  # instance numbers whose on_start raises
        self.start_errors: list[BaseException] = []
        self.start_gate: anyio.Event | None = None  # later instances wait for it in on_start
        self.start_entered: anyio.Event | None = None
        self.decision: SupervisorDecision | None = None
        self.decision_raises = False
        self.suspend = False  # on_start / on_child_failure really suspend (a checkpoint)


class Worker(Actor):
    """Counts messages; an exception sent as a message is raised from ``receive``."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.count = 0
        probe.instances.append(self)
        self.number = len(probe.instances)

    async def on_start(self) -> None:
        probe = self.probe
        if probe.suspend:
            await anyio.lowlevel.checkpoint()
        if self.number > 1 and probe.start_gate is not None:
            assert probe.start_entered is not None
            probe.start_entered.set()
            await probe.start_gate.wait()
        if self.number in probe.fail_start:
            error = ValueError(f"start {self.number}")
            probe.start_errors.append(error)
            raise error
        probe.started.append(self)

    async def on_stop(self) -> None:
        self.probe.stopped.append(self)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "count":
            return self.count
        if message == "self":
            return self
        self.count += 1
        self.probe.seen.append((self.number, message))
        return self.count


class Parent(Worker):
    """A worker that spawns children on request and answers ``on_child_failure`` from its probe."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message and message[0] == "spawn":
            _, factory, policy = message
            return self.context.spawn_child(factory, policy=policy)
        return await super().receive(message)

    async def on_child_failure(self, child_ref: ActorRef, exc: BaseException) -> Any:
        self.probe.child_failures.append((child_ref, exc))
        if self.probe.suspend:
            await anyio.lowlevel.checkpoint()
        if self.probe.decision_raises:
            raise RuntimeError("on_child_failure broke")
        return self.probe.decision


def worker(probe: Probe) -> Callable[[], Worker]:
    return lambda: Worker(probe)


def parent(probe: Probe) -> Callable[[], Parent]:
    return lambda: Parent(probe)


def kinds(system: ActorSystem, ref: ActorRef) -> list[str]:
    address = ref.address.to_dict()
    return [type(e).__name__ for e in system.events() if e.address == address]


def crashes(system: ActorSystem, ref: ActorRef) -> list[BaseException]:
    """The ``error`` of each ``ActorCrashed`` of ``ref``: detached copies of the exceptions."""
    address = ref.address.to_dict()
    return [
        e.error
        for e in system.events()
        if isinstance(e, ActorCrashed) and e.address == address
    ]


def same(copy: BaseException | None, original: BaseException | None) -> bool:
    """``copy`` is the event log's copy of ``original``: same class and arguments, no traceback."""
    if copy is None or original is None:
        return copy is original
    return (
        type(copy) is type(original)
        and copy.args == original.args
        and copy.__traceback__ is None
        and same(copy.__cause__, original.__cause__)
    )


def all_same(copies: list[BaseException], originals: list[BaseException]) -> bool:
    return len(copies) == len(originals) and all(map(same, copies, originals))


async def until(system: ActorSystem, kind: type[Any], ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, kind) and e.address == address, timeout=5
    )


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


async def until_started(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStarted) and e.address == address, timeout=5
    )


async def crash(ref: ActorRef, exc: BaseException | None = None) -> BaseException:
    """Make ``ref``'s actor fail through ``ask``; returns the exception the caller got."""
    exc = Boom("crash") if exc is None else exc
    with pytest.raises(type(exc)) as info:
        await ref.ask(exc)
    assert info.value is exc
    return exc


async def spawn_child(parent_ref: ActorRef, factory: Any, policy: Any = None) -> ActorRef:
    child = await parent_ref.ask(("spawn", factory, policy))
    assert isinstance(child, ActorRef)
    return child


class RecordingHooks:
    def __init__(self) -> None:
        self.failures: list[FailureInfo] = []

    def on_failure(self, failure: FailureInfo) -> None:
        self.failures.append(failure)


# -- default policies ----------------------------------------------------------------------------


async def test_named_actor_restarts_by_default(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), name="w")
    assert await ref.ask("a") == 1
    assert await ref.ask("b") == 2

    exc = await crash(ref)

    assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED]
    assert all_same(crashes(system, ref), [exc])
    assert ref.is_alive()
    assert await ref.ask("count") == 0
    assert len(probe.instances) == 2


async def test_named_default_allows_three_restarts_then_stops(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    probe = Probe()
    ref = system.spawn(worker(probe), name="w")
    for _ in range(3):
        await crash(ref)
        assert ref.is_alive()
    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED] + [CRASHED, RESTARTED] * 3 + [CRASHED, STOPPED]
    assert len(probe.instances) == 4


async def test_named_default_window_is_sixty_seconds(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    ref = system.spawn(worker(Probe()), name="w")
    for _ in range(3):
        await crash(ref)
    clock.advance(60.5)  # the three restarts of t=1000 fall out of the default window
    await crash(ref)

    assert ref.is_alive()
    assert kinds(system, ref) == [STARTED] + [CRASHED, RESTARTED] * 4


async def test_unnamed_actor_stops_by_default(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe))
    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED, CRASHED, STOPPED]
    assert len(probe.instances) == 1
    with pytest.raises(ActorStopped):
        await ref.ask("count")


async def test_children_stop_by_default_even_under_a_named_parent(system: ActorSystem) -> None:
    probe, child_probe = Probe(), Probe()
    parent_ref = system.spawn(parent(probe), name="p")
    child = await spawn_child(parent_ref, worker(child_probe))

    await crash(child)
    await until_stopped(system, child)

    assert kinds(system, child) == [STARTED, CRASHED, STOPPED]
    assert len(child_probe.instances) == 1
    assert kinds(system, parent_ref) == [STARTED]
    assert parent_ref.is_alive()


# -- strategies ----------------------------------------------------------------------------------


async def test_explicit_stop_strategy_overrides_the_named_default(system: ActorSystem) -> None:
    ref = system.spawn(worker(Probe()), name="w", policy=STOP)
    await crash(ref)
    await until_stopped(system, ref)
    assert kinds(system, ref) == [STARTED, CRASHED, STOPPED]
    assert "w" not in system.list_names()


async def test_explicit_restart_strategy_on_an_unnamed_actor(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), policy=RESTART)
    await ref.tell("x")
    await crash(ref)
    assert ref.is_alive()
    assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED]
    assert await ref.ask("count") == 0
    assert len(probe.instances) == 2


async def test_stop_strategy_stops_the_whole_subtree(system: ActorSystem) -> None:
    probe = Probe()
    root = system.spawn(parent(probe), policy=STOP)
    child = await spawn_child(root, parent(Probe()), RESTART)
    grandchild = await spawn_child(child, worker(Probe()), RESTART)

    await crash(root)
    assert not root.is_alive()
    assert not child.is_alive()
    assert not grandchild.is_alive()
    for ref in (grandchild, child, root):
        await until_stopped(system, ref)

    assert kinds(system, root) == [STARTED, CRASHED, STOPPED]
    assert kinds(system, child) == [STARTED, STOPPED]
    assert kinds(system, grandchild) == [STARTED, STOPPED]


async def test_restart_strategy_stops_children_then_restarts(system: ActorSystem) -> None:
    probe, child_probe = Probe(), Probe()
    root = system.spawn(parent(probe), name="root")
    child = await spawn_child(root, worker(child_probe), RESTART)

    await crash(root)

    assert root.is_alive()
    assert not child.is_alive()
    assert kinds(system, root) == [STARTED, CRASHED, RESTARTED]
    await until_stopped(system, child)
    assert kinds(system, child) == [STARTED, STOPPED]
    assert len(child_probe.instances) == 1
    assert system.actor_info(root).children_rids == (child._rid,)


async def test_escalate_without_a_parent_stops_the_actor(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), name="w", policy=ESCALATE)
    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)
    assert kinds(system, ref) == [STARTED, CRASHED, STOPPED]
    assert len(probe.instances) == 1


async def test_escalate_hands_the_same_exception_to_the_parent(system: ActorSystem) -> None:
    parent_probe = Probe()
    root = system.spawn(parent(parent_probe), name="root")  # RESTART by default
    child = await spawn_child(root, worker(Probe()), ESCALATE)

    exc = await crash(child)

    # The parent handles the escalation in its own task, between two of its messages.
    await until(system, ActorRestarted, root)
    assert all_same(crashes(system, root), [exc])
    assert kinds(system, root) == [STARTED, CRASHED, RESTARTED]
    assert len(parent_probe.instances) == 2
    assert root.is_alive()
    assert not child.is_alive()
    await until_stopped(system, child)
    assert kinds(system, child) == [STARTED, CRASHED, STOPPED]
    assert all_same(crashes(system, child), [exc])


async def test_escalation_chain_reaches_the_root(system: ActorSystem) -> None:
    root = system.spawn(parent(Probe()), policy=STOP)
    mid = await spawn_child(root, parent(Probe()), ESCALATE)
    leaf = await spawn_child(mid, worker(Probe()), ESCALATE)
    start = len(system.events())

    exc = await crash(leaf)
    await until_stopped(system, root)  # each hop is handled by the next ancestor's own task

    crashed = [e for e in system.events()[start:] if isinstance(e, ActorCrashed)]
    assert [e.address["actor_id"] for e in crashed] == [leaf._rid, mid._rid, root._rid]
    assert all(same(e.error, exc) for e in crashed)
    for ref in (leaf, mid, root):
        assert not ref.is_alive()
        await until_stopped(system, ref)
        assert kinds(system, ref) == [STARTED, CRASHED, STOPPED]


# -- restart budget and window (injected clock) ---------------------------------------------------


async def test_max_restarts_counts_restarts_at_the_same_instant(
    make_system: Any, clock: Any
) -> None:
    system = await make_system(time_fn=clock)
    probe = Probe()
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=2, within_seconds=10.0)
    ref = system.spawn(worker(probe), policy=policy)

    await crash(ref)
    await crash(ref)
    assert ref.is_alive()
    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED, CRASHED, RESTARTED, CRASHED, STOPPED]
    assert len(probe.instances) == 3
    assert probe.stopped == probe.instances


async def test_max_restarts_zero_never_restarts(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    probe = Probe()
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=0)
    ref = system.spawn(worker(probe), name="w", policy=policy)

    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED, CRASHED, STOPPED]
    assert probe.instances == probe.stopped
    assert len(probe.instances) == 1


@pytest.mark.parametrize(
    ("elapsed", "restarted"),
    [(10.0, False), (10.25, True), (9.75, False)],
    ids=["exactly-at-edge-counts", "just-past-edge-dropped", "inside-window"],
)
async def test_restart_window_edge(
    make_system: Any, clock: Any, elapsed: float, restarted: bool
) -> None:
    system = await make_system(time_fn=clock)
    clock.now = 100.0
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=1, within_seconds=10.0)
    ref = system.spawn(worker(Probe()), policy=policy)

    await crash(ref)  # restart recorded at t=100
    assert ref.is_alive()
    clock.now = 100.0 + elapsed
    await crash(ref)

    assert ref.is_alive() is restarted
    if restarted:
        assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED, CRASHED, RESTARTED]
    else:
        await until_stopped(system, ref)
        assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED, CRASHED, STOPPED]


async def test_restart_window_slides(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=2, within_seconds=10.0)
    ref = system.spawn(worker(Probe()), policy=policy)

    clock.now = 1000.0
    await crash(ref)
    clock.now = 1005.0
    await crash(ref)
    clock.now = 1012.0  # the restart of t=1000 is out of the window, the one of t=1005 is in
    await crash(ref)
    assert ref.is_alive()
    await crash(ref)  # t=1005 and t=1012 in the window: budget exhausted
    assert not ref.is_alive()
    await until_stopped(system, ref)
    assert kinds(system, ref).count(RESTARTED) == 3


# -- parent decisions ----------------------------------------------------------------------------


async def test_on_child_failure_gets_the_child_ref_and_the_exception(system: ActorSystem) -> None:
    probe = Probe()
    root = system.spawn(parent(probe))
    child_probe = Probe()
    child = await spawn_child(root, worker(child_probe), RESTART)

    exc = await crash(child)

    assert len(probe.child_failures) == 1
    child_ref, seen = probe.child_failures[0]
    assert seen is exc
    assert child_ref._rid == child._rid
    assert child_ref.address == child.address
    # No decision: the child's own policy (RESTART) applied.
    assert kinds(system, child) == [STARTED, CRASHED, RESTARTED]
    assert len(child_probe.instances) == 2


async def test_on_child_failure_is_not_delivered_as_a_message(system: ActorSystem) -> None:
    probe = Probe()
    root = system.spawn(parent(probe))
    child = await spawn_child(root, worker(Probe()))
    await crash(child)
    assert len(probe.child_failures) == 1
    assert await root.ask("count") == 0  # nothing but our own asks reached receive()
    assert probe.seen == []


async def test_on_child_failure_exception_counts_as_no_decision(system: ActorSystem) -> None:
    probe = Probe()
    probe.decision = SupervisorDecision.STOP
    probe.decision_raises = True
    root = system.spawn(parent(probe))
    child_probe = Probe()
    child = await spawn_child(root, worker(child_probe), RESTART)

    await crash(child)

    assert child.is_alive()
    assert kinds(system, child) == [STARTED, CRASHED, RESTARTED]
    assert root.is_alive()
    assert kinds(system, root) == [STARTED]


async def test_restart_decision_overrides_a_stop_policy_within_the_childs_budget(
    make_system: Any, clock: Any
) -> None:
    system = await make_system(time_fn=clock)
    probe = Probe()
    probe.decision = SupervisorDecision.RESTART
    root = system.spawn(parent(probe))
    child_probe = Probe()
    policy = SupervisionPolicy(strategy=Strategy.STOP, max_restarts=1)
    child = await spawn_child(root, worker(child_probe), policy)

    await crash(child)
    assert child.is_alive()
    assert kinds(system, child) == [STARTED, CRASHED, RESTARTED]

    await crash(child)  # the child's own limit (1) is reached
    assert not child.is_alive()
    await until_stopped(system, child)
    assert kinds(system, child) == [STARTED, CRASHED, RESTARTED, CRASHED, STOPPED]
    assert len(child_probe.instances) == 2
    assert root.is_alive()


async def test_restart_decision_keeps_the_childs_children(system: ActorSystem) -> None:
    probe = Probe()
    probe.decision = SupervisorDecision.RESTART
    root = system.spawn(parent(probe))
    child = await spawn_child(root, parent(Probe()))
    grandchild = await spawn_child(child, worker(Probe()))

    await crash(child)

    assert child.is_alive()
    assert grandchild.is_alive()
    assert await grandchild.ask("ping") == 1
    assert kinds(system, grandchild) == [STARTED]


async def test_restart_policy_without_decision_stops_the_childs_children(
    system: ActorSystem,
) -> None:
    root = system.spawn(parent(Probe()))  # decision None
    child = await spawn_child(root, parent(Probe()), RESTART)
    grandchild = await spawn_child(child, worker(Probe()), RESTART)

    await crash(child)

    assert child.is_alive()
    assert not grandchild.is_alive()
    await until_stopped(system, grandchild)


@pytest.mark.parametrize("decision", [SupervisorDecision.STOP, SupervisorDecision.IGNORE])
async def test_stop_and_ignore_decisions_stop_the_child_and_its_subtree(
    system: ActorSystem, decision: SupervisorDecision
) -> None:
    probe = Probe()
    probe.decision = decision
    root = system.spawn(parent(probe))
    child_probe = Probe()
    child = await spawn_child(root, parent(child_probe), RESTART)
    grandchild = await spawn_child(child, worker(Probe()), RESTART)

    await crash(child)

    assert not child.is_alive()
    assert not grandchild.is_alive()
    await until_stopped(system, child)
    await until_stopped(system, grandchild)
    assert kinds(system, child) == [STARTED, CRASHED, STOPPED]
    assert kinds(system, grandchild) == [STARTED, STOPPED]
    assert len(child_probe.instances) == 1
    assert root.is_alive()
    assert kinds(system, root) == [STARTED]


async def test_escalate_decision_fails_the_parent_with_the_same_exception(
    system: ActorSystem,
) -> None:
    probe = Probe()
    probe.decision = SupervisorDecision.ESCALATE
    root = system.spawn(parent(probe), policy=STOP)
    child = await spawn_child(root, worker(Probe()), RESTART)

    exc = await crash(child)

    assert not child.is_alive()
    await until_stopped(system, root)  # the parent failed in its own task
    assert all_same(crashes(system, root), [exc])
    assert not root.is_alive()
    await until_stopped(system, child)
    assert kinds(system, child) == [STARTED, CRASHED, STOPPED]


async def test_escalate_decision_climbs_to_the_grandparents_decision(
    system: ActorSystem,
) -> None:
    top_probe, mid_probe = Probe(), Probe()
    top_probe.decision = SupervisorDecision.RESTART
    mid_probe.decision = SupervisorDecision.ESCALATE
    top = system.spawn(parent(top_probe), name="top")
    mid = await spawn_child(top, parent(mid_probe))
    leaf = await spawn_child(mid, worker(Probe()), RESTART)

    exc = await crash(leaf)
    await until(system, ActorRestarted, mid)  # mid failed in its own task, top decided

    assert [f[1] for f in mid_probe.child_failures] == [exc]
    assert [(f[0]._rid, f[1]) for f in top_probe.child_failures] == [(mid._rid, exc)]
    # top decided RESTART for mid: mid restarted (keeping its children), the leaf stopped.
    assert kinds(system, mid) == [STARTED, CRASHED, RESTARTED]
    assert mid.is_alive()
    assert not leaf.is_alive()
    await until_stopped(system, leaf)
    assert kinds(system, top) == [STARTED]


# -- the on_failure hook --------------------------------------------------------------------------


async def test_on_failure_hook_called_once_without_a_decision(make_system: Any) -> None:
    hooks = RecordingHooks()
    system = await make_system(hooks=hooks)
    ref = system.spawn(worker(Probe()), name="w")

    exc = await crash(ref)

    assert hooks.failures == [
        FailureInfo(
            address=ref.address, error=exc, strategy=Strategy.RESTART, supervisor_decision=None
        )
    ]
    assert hooks.failures[0].error is exc


async def test_on_failure_hook_called_again_with_the_decision(make_system: Any) -> None:
    hooks = RecordingHooks()
    system = await make_system(hooks=hooks)
    probe = Probe()
    probe.decision = SupervisorDecision.IGNORE
    root = system.spawn(parent(probe))
    child = await spawn_child(root, worker(Probe()), RESTART)

    exc = await crash(child)

    assert hooks.failures == [
        FailureInfo(child.address, exc, Strategy.RESTART, None),
        FailureInfo(child.address, exc, Strategy.RESTART, SupervisorDecision.IGNORE),
    ]


async def test_failure_while_stopping_runs_no_supervision(make_system: Any) -> None:
    hooks = RecordingHooks()
    system = await make_system(hooks=hooks)
    probe = Probe()
    ref = system.spawn(worker(probe), name="w")
    await ref.tell(Boom("late"))
    await ref.tell("after")
    await system.stop(ref)  # before the actor even started: both messages are queued

    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED, STOPPED]
    assert hooks.failures == []
    assert probe.seen == []  # the loop ended at the failing message
    assert len(probe.instances) == 1
    assert [dl.message for dl in system.dead_letters.messages] == ["after"]


# -- on_start failures ----------------------------------------------------------------------------


async def test_on_start_failure_with_restart(make_system: Any) -> None:
    hooks = RecordingHooks()
    system = await make_system(hooks=hooks)
    probe = Probe()
    probe.fail_start = {1}
    ref = system.spawn(worker(probe), name="w")
    await ref.tell("queued")

    assert await ref.ask("count") == 1
    assert kinds(system, ref) == [CRASHED, RESTARTED, STARTED]
    assert probe.seen == [(2, "queued")]
    [error] = crashes(system, ref)
    assert type(error) is RuntimeError
    assert str(error) == "actor.on_start() failed"
    assert same(error.__cause__, probe.start_errors[0])
    [failure] = hooks.failures
    assert same(error, failure.error)
    assert failure.error.__cause__ is probe.start_errors[0]  # the hook sees the exception itself
    assert probe.stopped == [probe.instances[0]]


async def test_on_start_failure_with_stop_processes_nothing(system: ActorSystem) -> None:
    probe = Probe()
    probe.fail_start = {1}
    ref = system.spawn(worker(probe))
    await ref.tell("queued")
    outcome: list[BaseException] = []

    async def ask_it() -> None:
        try:
            await ref.ask("count")
        except ActorStopped as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask_it)
        await until_stopped(system, ref)

    assert kinds(system, ref) == [CRASHED, STOPPED]
    assert probe.seen == []
    assert len(outcome) == 1
    assert "queued" in [dl.message for dl in system.dead_letters.messages]
    [error] = crashes(system, ref)
    assert str(error) == "actor.on_start() failed"
    assert same(error.__cause__, probe.start_errors[0])
    assert probe.stopped == probe.instances  # on_stop once, on the only instance


async def test_on_start_failure_during_restart_is_a_new_failure(system: ActorSystem) -> None:
    probe = Probe()
    probe.fail_start = {2}
    ref = system.spawn(worker(probe), name="w")
    await until_started(system, ref)

    exc = await crash(ref)

    assert kinds(system, ref) == [STARTED, CRASHED, CRASHED, RESTARTED]
    first, second = crashes(system, ref)
    assert same(first, exc)
    assert str(second) == "actor.on_start() failed"
    assert same(second.__cause__, probe.start_errors[0])
    assert len(probe.instances) == 3
    assert probe.stopped == probe.instances[:2]
    assert await ref.ask("count") == 0


async def test_on_start_failures_during_restart_are_bounded(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    probe = Probe()
    probe.fail_start = {2, 3, 4, 5}
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=2)
    ref = system.spawn(worker(probe), policy=policy)
    await until_started(system, ref)

    await crash(ref)
    assert not ref.is_alive()
    await until_stopped(system, ref)

    assert kinds(system, ref) == [STARTED, CRASHED, CRASHED, CRASHED, STOPPED]
    assert len(probe.instances) == 3
    assert probe.stopped == probe.instances  # once per instance, the last one at termination


# -- what the caller and the new instance observe ------------------------------------------------


async def test_crashing_ask_returns_after_the_restart(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), name="w")
    await crash(ref)
    # No waiting: the restart is complete when the ask raises.
    assert isinstance(system.events()[-1], ActorRestarted)
    info = system.actor_info(ref)
    assert (info.alive, info.stopping, info.restarting) == (True, False, False)
    assert probe.started == probe.instances


async def test_crashing_ask_returns_after_an_asynchronous_restart(system: ActorSystem) -> None:
    probe = Probe()
    probe.suspend = True  # the new instance's on_start yields to the scheduler
    ref = system.spawn(worker(probe), name="w")
    await crash(ref)
    assert kinds(system, ref) == [STARTED, CRASHED, RESTARTED]
    assert not system.actor_info(ref).restarting
    assert len(probe.started) == 2


async def test_crashing_ask_returns_after_an_asynchronous_decision(system: ActorSystem) -> None:
    probe = Probe()
    probe.suspend = True  # on_child_failure yields to the scheduler before deciding
    probe.decision = SupervisorDecision.STOP
    root = system.spawn(parent(probe))
    child = await spawn_child(root, worker(Probe()), RESTART)
    await crash(child)
    assert not child.is_alive()
    assert system.actor_info(child).stopping


async def test_crashing_ask_returns_after_the_stop_decision(system: ActorSystem) -> None:
    ref = system.spawn(worker(Probe()))
    await crash(ref)
    assert not ref.is_alive()
    assert system.actor_info(ref).stopping
    with pytest.raises(ActorStopped):
        await ref.tell("late")


@pytest.mark.parametrize(
    "policy",
    [STOP, ESCALATE, SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=0)],
    ids=["stop", "escalate-without-parent", "restart-limit"],
)
async def test_failure_stop_ends_right_after_the_failing_message(
    system: ActorSystem, policy: SupervisionPolicy
) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), policy=policy)
    exc = Boom("x")
    await ref.tell(exc)
    await ref.tell("after")
    with pytest.raises(ActorStopped):
        await ref.ask("count")  # queued behind the failing message
    await until_stopped(system, ref)

    assert probe.seen == []
    letters = system.dead_letters.messages
    assert [(dl.message, dl.expects_reply) for dl in letters] == [("after", False), ("count", True)]
    assert all(isinstance(dl, DeadLetter) and dl.target._rid == ref._rid for dl in letters)


async def test_restarted_instance_gets_a_fresh_context_and_state(system: ActorSystem) -> None:
    root = system.spawn(parent(Probe()))
    probe = Probe()
    child = await spawn_child(root, worker(probe), RESTART)
    await child.tell("x")
    old = await child.ask("self")
    assert old.count == 1

    await crash(child)
    new = await child.ask("self")

    assert new is not old
    assert new.count == 0
    assert new.context is not old.context
    assert new.context.self_ref == child
    assert new.context.self_ref.address == child.address
    assert new.context.system is system
    assert new.context.parent == root
    assert system.actor_info(child).address == child.address


async def test_decision_stop_ends_right_after_the_failing_message(system: ActorSystem) -> None:
    probe = Probe()
    probe.decision = SupervisorDecision.IGNORE
    root = system.spawn(parent(probe))
    child_probe = Probe()
    child = await spawn_child(root, worker(child_probe), RESTART)
    await child.tell(Boom("x"))
    await child.tell("after")
    await until_stopped(system, child)
    assert child_probe.seen == []
    assert [dl.message for dl in system.dead_letters.messages] == ["after"]


async def test_messages_queued_during_a_restart_go_to_the_new_instance(
    system: ActorSystem, make_gate: Any
) -> None:
    probe = Probe()
    probe.start_gate = make_gate()
    probe.start_entered = anyio.Event()
    ref = system.spawn(worker(probe), name="w")
    await ref.tell("before")

    async with anyio.create_task_group() as tg:
        tg.start_soon(crash, ref)
        with anyio.fail_after(5):
            await probe.start_entered.wait()  # the new instance is starting
        assert system.actor_info(ref).restarting
        await ref.tell("during-1")
        await ref.tell("during-2")
        probe.start_gate.set()

    assert await ref.ask("count") == 2
    assert probe.seen == [(1, "before"), (2, "during-1"), (2, "during-2")]
    assert not system.actor_info(ref).restarting


async def test_on_stop_runs_once_per_instance(system: ActorSystem) -> None:
    probe = Probe()
    ref = system.spawn(worker(probe), name="w")
    await crash(ref)
    await crash(ref)
    assert probe.stopped == probe.instances[:2]

    await system.stop(ref)
    await until_stopped(system, ref)

    assert len(probe.instances) == 3
    assert probe.stopped == probe.instances
    assert kinds(system, ref).count(STARTED) == 1

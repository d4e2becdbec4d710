"""Bad input is refused at the call, with one line naming the argument (docs/runtime.md,
"Validation"), and an actor asking itself gets ``AskDeadlock`` instead of waiting forever."""

from __future__ import annotations

import logging
import math
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import anyio
import pytest

from papyra._envelope import ActorTerminated
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.events import ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import AskDeadlock, AskTimeout, PapyraError
from papyra.hooks import DefaultHooks, FailureInfo
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.startup import PersistenceStartupConfig
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Echo(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return message


class SyncReceive(Actor):
    def receive(self, message: Any) -> Any:  # type: ignore[override]
        return message


# -- ActorSystem(...) ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["events.ndjson", Path("events.ndjson"), b"events.ndjson"])
def test_a_path_as_persistence_is_refused_with_the_backend_to_use(path: Any) -> None:
    with pytest.raises(TypeError, match=r"not the path .*use JsonFilePersistence\(path\)"):
        ActorSystem(persistence=path)


def test_a_backend_class_instead_of_an_instance_is_refused() -> None:
    with pytest.raises(TypeError, match=r"not the class InMemoryPersistence.*instance"):
        ActorSystem(persistence=InMemoryPersistence)  # type: ignore[arg-type]


class NoAudit:
    async def record_event(self, event: Any) -> None: ...

    async def record_dead_letter(self, dead_letter: Any) -> None: ...


class SyncWrites:
    def record_event(self, event: Any) -> None: ...

    def record_audit(self, report: Any) -> None: ...

    def record_dead_letter(self, dead_letter: Any) -> None: ...


class AsyncCallable:
    async def __call__(self, record: Any) -> None: ...


class DuckWithCallables:
    """Duck-typed, its writers are callable objects whose ``__call__`` is ``async def``."""

    record_event = record_audit = record_dead_letter = AsyncCallable()


def test_a_backend_without_the_record_coroutines_is_refused() -> None:
    with pytest.raises(TypeError, match=r"NoAudit has no record_audit\(\)"):
        ActorSystem(persistence=NoAudit())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"persistence.record_event must be a coroutine function"):
        ActorSystem(persistence=SyncWrites())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="record_event"):
        ActorSystem(persistence=object())  # type: ignore[arg-type]


def test_duck_typed_backends_are_accepted() -> None:
    ActorSystem(persistence=DuckWithCallables())  # type: ignore[arg-type]


def test_time_fn_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"time_fn must be a callable .* not 5"):
        ActorSystem(time_fn=5)  # type: ignore[arg-type]


class NotCallableHook:
    on_event = "print"


def test_hooks_must_be_an_instance_with_callable_hooks() -> None:
    with pytest.raises(TypeError, match=r"not the class DefaultHooks: pass an instance"):
        ActorSystem(hooks=DefaultHooks)
    with pytest.raises(TypeError, match=r"hooks.on_event must be callable"):
        ActorSystem(hooks=NotCallableHook())
    ActorSystem(hooks=object())  # any object: missing hooks are simply not called


def test_startup_and_recovery_configs_must_be_config_objects() -> None:
    with pytest.raises(TypeError, match=r"persistence_startup must be a PersistenceStartupConfig"):
        ActorSystem(persistence_startup="recover")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"persistence_recovery must be a PersistenceRecoveryConf"):
        ActorSystem(persistence_recovery=PersistenceRecoveryMode.REPAIR)  # type: ignore[arg-type]
    system = ActorSystem()
    with pytest.raises(TypeError, match="persistence_recovery"):
        system.persistence_recovery = "repair"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"recovery must be a PersistenceRecoveryConfig"):
        PersistenceStartupConfig(mode="recover", recovery="repair")  # type: ignore[arg-type]
    for timeout in (-1, math.nan, "5", True):
        with pytest.raises((TypeError, ValueError), match="timeout_seconds"):
            PersistenceStartupConfig(timeout_seconds=timeout)  # type: ignore[arg-type]


# -- enum-valued options -------------------------------------------------------------------------


@pytest.mark.parametrize("given", [Strategy.RESTART, "restart", "RESTART", "Restart"])
def test_strategy_accepts_the_member_its_value_or_its_name(given: Any) -> None:
    assert SupervisionPolicy(strategy=given).strategy is Strategy.RESTART


def test_a_mistyped_strategy_lists_the_choices() -> None:
    with pytest.raises(ValueError) as info:
        SupervisionPolicy(strategy="restrat")  # type: ignore[arg-type]
    assert str(info.value) == (
        "Invalid supervision strategy 'restrat': expected a Strategy or one of "
        "'stop', 'restart', 'escalate' (any case)."
    )
    with pytest.raises(TypeError, match="Invalid supervision strategy 1"):
        SupervisionPolicy(strategy=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_restarts": -1}, ValueError),
        ({"max_restarts": "3"}, TypeError),
        ({"max_restarts": True}, TypeError),
        ({"within_seconds": -0.5}, ValueError),
        ({"within_seconds": math.nan}, ValueError),
        ({"within_seconds": "60"}, TypeError),
    ],
)
def test_restart_budget_must_be_non_negative_numbers(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        SupervisionPolicy(**kwargs)


def test_recovery_mode_anomaly_type_and_failure_info_take_values_or_names() -> None:
    repair: Any = "Repair"
    assert PersistenceRecoveryConfig(mode=repair).mode is PersistenceRecoveryMode.REPAIR
    fix: Any = "fix"
    with pytest.raises(ValueError, match=r"'ignore', 'repair', 'quarantine', 'rebuild'"):
        PersistenceRecoveryConfig(mode=fix)
    corrupted = PersistenceAnomalyType.CORRUPTED_LINE
    for spelling in ("3", "corrupted_line", "CORRUPTED_LINE", corrupted):
        typ: Any = spelling
        assert PersistenceAnomaly(typ, "p").type is corrupted
    broken: Any = "broken"
    with pytest.raises(ValueError, match=r"one of TRUNCATED_LINE, PARTIAL_WRITE"):
        PersistenceAnomaly(broken, "p")
    stop: Any = "stop"
    ignore: Any = "Ignore"
    info = FailureInfo(ActorAddress("local", 1), RuntimeError(), stop, ignore)
    assert info.strategy is Strategy.STOP
    assert info.supervisor_decision is SupervisorDecision.IGNORE


def test_file_backend_fsync_modes(tmp_path: Path) -> None:
    always: Any = "ALWAYS"
    assert JsonFilePersistence(tmp_path / "a", fsync=always).fsync_mode == "always"
    with pytest.raises(ValueError, match=r"fsync must be one of 'always', 'batch', 'never'"):
        JsonFilePersistence(tmp_path / "a", fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fsync must be one of"):
        JsonFilePersistence(tmp_path / "a", fsync=True)  # type: ignore[arg-type]
    # The rotating backend takes the same modes and its 0.3.0 bool; anything else is a
    # ValueError naming all of them.
    for given, mode in [
        (True, "always"), (False, "never"), ("never", "never"), ("Batch", "batch"),
        ("always", "always"),
    ]:
        assert RotatingFilePersistence(tmp_path / "r", fsync=given).fsync_mode == mode
    assert RotatingFilePersistence(tmp_path / "r").fsync_mode == "never"
    for bad in ("sometimes", 1, None, 0.0):
        with pytest.raises(
            ValueError, match=r"fsync must be True, False or one of 'always', 'batch', 'never'"
        ):
            RotatingFilePersistence(tmp_path / "r", fsync=bad)  # type: ignore[arg-type]


# -- spawn / register ----------------------------------------------------------------------------


async def test_an_actor_instance_instead_of_its_class_is_refused(make_system: Any) -> None:
    system = await make_system()
    with pytest.raises(TypeError) as info:
        system.spawn(Echo())  # type: ignore[arg-type]
    assert str(info.value) == (
        "actor_factory must be an actor class or a factory, not a Echo instance: "
        "pass the class (Echo) or a factory (lambda: Echo(...))."
    )
    with pytest.raises(TypeError, match="pass the class"):
        system.register("e", Echo())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable returning an actor"):
        system.spawn("Echo")  # type: ignore[arg-type]
    assert system.audit().total_actors == 0 and system.events() == ()


async def test_a_receive_that_is_not_async_is_refused_before_scheduling(
    make_system: Any,
) -> None:
    system = await make_system()
    with pytest.raises(TypeError, match=r"SyncReceive.receive must be a coroutine function"):
        system.spawn(SyncReceive)
    with pytest.raises(TypeError, match=r"SyncReceive.receive must be a coroutine function"):
        system.spawn(lambda: SyncReceive())
    await anyio.wait_all_tasks_blocked()
    assert system.audit().total_actors == 0 and system.events() == ()
    assert system.list_actors() == ()


async def test_parent_must_be_a_ref_of_this_system(make_system: Any) -> None:
    system = await make_system()
    other = await make_system(system_id="other")
    with pytest.raises(TypeError, match=r"parent must be an ActorRef or None, not str"):
        system.spawn(Echo, parent="local:1")
    with pytest.raises(ValueError, match="another system"):
        system.spawn(Echo, parent=other.spawn(Echo))
    parent = system.spawn(Echo)
    child = system.spawn(Echo, parent=parent)
    assert system.actor_info(child).parent_rid == parent._rid


async def test_mailbox_capacity_is_checked_at_spawn_and_register(make_system: Any) -> None:
    system = await make_system()
    for bad, error in ((-1, ValueError), (sys.maxsize + 1, ValueError), (True, TypeError),
                       (2.0, TypeError)):
        with pytest.raises(error, match=r"mailbox_capacity must be None or an int from 0 to"):
            system.spawn(Echo, mailbox_capacity=bad)
        with pytest.raises(error, match=r"mailbox_capacity must be None or an int from 0 to"):
            system.register(f"r{bad}", Echo, mailbox_capacity=bad)
    with pytest.raises(TypeError, match="policy must be a SupervisionPolicy"):
        system.register("p", Echo, policy="restart")  # type: ignore[arg-type]
    assert system.audit().total_actors == 0
    ref = system.spawn(Echo, mailbox_capacity=sys.maxsize)
    assert await ref.ask("hi") == "hi"


# -- watch / unwatch -----------------------------------------------------------------------------


class Watcher(Actor):
    """Watches what it is asked to; returns the error instead of failing."""

    def __init__(self) -> None:
        self.terminated: list[int] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorTerminated):
            self.terminated.append(message.ref._rid)
            return None
        kind, target = message
        try:
            if kind == "watch":
                await self.context.watch(target)
            else:
                await self.context.unwatch(target)
        except (TypeError, ValueError) as exc:
            return exc
        return None


@pytest.mark.parametrize(
    ("target", "error", "text"),
    [
        (42, TypeError, "watch() expects an ActorRef, an ActorAddress or an address string"),
        (None, TypeError, "not NoneType"),
        ("garbage", ValueError, "Invalid actor address 'garbage'"),
        ("other:1", ValueError, "'other:1' is not an address of this system ('local')"),
        (ActorAddress("other", 1), ValueError, "is not an address of this system"),
    ],
)
async def test_watch_refuses_what_is_not_a_ref_or_an_address_of_this_system(
    make_system: Any, target: Any, error: type[Exception], text: str
) -> None:
    system = await make_system()
    watcher = system.spawn(Watcher)
    for kind in ("watch", "unwatch"):
        result = await watcher.ask((kind, target))
        assert type(result) is error and text.replace("watch()", f"{kind}()") in str(result)


async def test_watch_takes_an_address_or_an_address_string(make_system: Any) -> None:
    system = await make_system()
    watcher = system.spawn(Watcher)
    by_address, by_string, unwatched = (system.spawn(Echo) for _ in range(3))
    assert await watcher.ask(("watch", by_address.address)) is None
    assert await watcher.ask(("watch", str(by_string.address))) is None
    assert await watcher.ask(("watch", unwatched.address)) is None
    assert await watcher.ask(("unwatch", str(unwatched.address))) is None
    assert await watcher.ask(("watch", "local:999")) is None  # unknown actor: a no-op
    for ref in (unwatched, by_address, by_string):
        await system.stop(ref)
        await system.wait_for_event(
            lambda e, ref=ref: isinstance(e, ActorStoppedEvent)
            and e.address == ref.address.to_dict(),
            timeout=5,
        )
    # Watchers are notified before the target's ActorStopped, so the notes are queued first.
    assert await watcher.proxy().terminated.get() == [by_address._rid, by_string._rid]


async def test_watch_refuses_a_ref_of_another_system(make_system: Any) -> None:
    system = await make_system()
    other = await make_system()  # the same system id: only the ref's cell tells them apart
    watcher = system.spawn(Watcher)
    foreign = other.spawn(Echo)
    result = await watcher.ask(("watch", foreign))
    assert isinstance(result, ValueError) and "another system" in str(result)


# -- ask(timeout=...) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(True, TypeError), ("5", TypeError), (-1, ValueError), (math.nan, ValueError),
     (-math.inf, ValueError)],
)
async def test_a_bad_ask_timeout_is_refused_before_sending(
    make_system: Any, timeout: Any, error: type[Exception]
) -> None:
    system = await make_system()
    ref = system.spawn(Echo)
    with pytest.raises(error) as info:
        await ref.ask("x", timeout=timeout)
    assert str(info.value) == (
        f"ask() timeout must be None or a number of seconds >= 0, not {timeout!r}."
    )
    assert await ref.ask("seen") == []  # nothing was sent


async def test_ask_timeout_zero_gives_up_at_once_on_every_backend(make_system: Any) -> None:
    system = await make_system()
    ref = system.spawn(Echo)
    with pytest.raises(AskTimeout, match=r"ask\(\) timed out after 0 seconds\."):
        await ref.ask("x", timeout=0)
    assert await ref.ask("seen") == ["x"]  # enqueued, so still processed


@pytest.mark.parametrize("timeout", [Fraction(5, 1), math.inf, 5, 5.0])
async def test_other_real_timeouts_are_accepted(make_system: Any, timeout: Any) -> None:
    system = await make_system()
    ref = system.spawn(Echo)
    assert await ref.ask("x", timeout=timeout) == "x"


# -- an actor asking itself ----------------------------------------------------------------------


class SelfAsker(Actor):
    """Asks itself in the way ``message`` says, and returns what happened."""

    def __init__(self) -> None:
        self.value = 1

    async def receive(self, message: Any) -> Any:
        ctx = self.context
        try:
            if message == "self_ref":
                await ctx.self_ref.ask("value")
            elif message == "with_timeout":
                await ctx.self_ref.ask("value", timeout=5)
            elif message == "looked_up":
                await ctx.system.ref_for(ctx.self_ref.address).ask("value")
            elif message == "proxy":
                await ctx.self_ref.proxy().value
            elif message == "full":
                await ctx.self_ref.tell("value")  # capacity 1: now full
                await ctx.self_ref.ask("value")
            elif message == "after_stop":
                await ctx.stop_self()
                await ctx.self_ref.ask("value")
            elif message == "value":
                return self.value
        except PapyraError as exc:
            return exc
        return "no error"


@pytest.mark.parametrize("how", ["self_ref", "with_timeout", "looked_up", "proxy", "full"])
async def test_an_actor_asking_itself_gets_ask_deadlock_at_once(
    make_system: Any, how: str
) -> None:
    system = await make_system()
    ref = system.spawn(SelfAsker, mailbox_capacity=1)
    with anyio.fail_after(5):  # a regression would hang
        result = await ref.ask(how)
    assert isinstance(result, AskDeadlock) and isinstance(result, RuntimeError)
    assert str(result).startswith("An actor cannot ask itself from its own task")
    assert system.dead_letters.messages == []
    assert await ref.ask("value") == 1  # the actor is fine


async def test_asking_itself_after_stop_self_is_actor_stopped_not_a_deadlock(
    make_system: Any,
) -> None:
    system = await make_system()
    ref = system.spawn(SelfAsker)
    result = await ref.ask("after_stop")
    assert type(result).__name__ == "ActorStopped"


class AsksItselfOnStart(Actor):
    error: BaseException | None = None

    async def on_start(self) -> None:
        try:
            await self.context.self_ref.ask("ping")
        except AskDeadlock as exc:
            AsksItselfOnStart.error = exc

    async def receive(self, message: Any) -> Any:
        return message


async def test_asking_itself_in_on_start_is_refused(make_system: Any) -> None:
    system = await make_system()
    AsksItselfOnStart.error = None
    ref = system.spawn(AsksItselfOnStart)
    assert await ref.ask("after start") == "after start"
    assert isinstance(AsksItselfOnStart.error, AskDeadlock)


class Parent(Actor):
    async def receive(self, message: Any) -> Any:
        return self.context.spawn_child(Crasher)

    async def on_child_failure(self, child_ref: ActorRef, exc: BaseException) -> Any:
        await child_ref.ask("state")  # runs in the child's task: refused, logged
        return SupervisorDecision.STOP


class Crasher(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


async def test_a_parent_asking_the_failing_child_does_not_hang(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    system = await make_system()
    child = await system.spawn(Parent).ask("spawn")
    with caplog.at_level(logging.DEBUG, logger="papyra"), pytest.raises(RuntimeError):
        with anyio.fail_after(5):  # a regression would hang
            await child.ask("crash")
    assert any(isinstance(r.exc_info[1], AskDeadlock) for r in caplog.records if r.exc_info)


async def test_asking_a_busy_actor_from_another_task_still_works(
    make_system: Any, gate: Any
) -> None:
    system = await make_system()
    ref = system.spawn(gate)
    await ref.tell("block")
    await gate.entered.wait()  # the actor is busy: the ask looks the current task up
    async with anyio.create_task_group() as tg:

        async def ask() -> None:
            assert await ref.ask("after") == "after"

        tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        gate.release.set()


# -- SupervisorDecision returned by on_child_failure ---------------------------------------------


class DecidingParent(Actor):
    decision: Any = None

    async def receive(self, message: Any) -> Any:
        return self.context.spawn_child(Crasher, policy=SupervisionPolicy(Strategy.STOP))

    async def on_child_failure(self, child_ref: ActorRef, exc: BaseException) -> Any:
        return DecidingParent.decision


async def test_a_decision_may_be_a_value_or_a_name(make_system: Any) -> None:
    system = await make_system()
    DecidingParent.decision = "Restart"
    child = await system.spawn(DecidingParent).ask("spawn")
    with pytest.raises(RuntimeError):
        await child.ask("crash")
    assert any(isinstance(e, ActorRestarted) for e in system.events())
    assert await child.ask("alive") == "alive"


async def test_an_invalid_decision_is_logged_with_the_choices(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    system = await make_system()
    DecidingParent.decision = "restrat"
    child = await system.spawn(DecidingParent).ask("spawn")
    with caplog.at_level(logging.WARNING, logger="papyra"), pytest.raises(RuntimeError):
        await child.ask("crash")
    assert (
        "Invalid on_child_failure decision 'restrat': expected a SupervisorDecision or one of "
        "'restart', 'stop', 'escalate', 'ignore' (any case). The child's own policy applies."
    ) in caplog.messages
    assert not child.is_alive()  # its own policy: STOP

"""Lifecycle events (actors.md §16), runtime hooks (§17), ``events()`` and ``wait_for_event``.

Persisted records are checked in the default in-memory backend. The persistence startup hooks
(``on_persistence_scan`` / ``on_persistence_recovery``) are covered with the startup tests.
"""

from __future__ import annotations

import gc
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from papyra._envelope import DeadLetter
from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorEvent, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.hooks import DefaultHooks, FailureInfo, SystemHooks
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistedDeadLetter, PersistedEvent
from papyra.ref import ActorRef
from papyra.supervision import Strategy
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

ADDRESS = {"system": "local", "actor_id": 1}


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


# -- payload conversion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    x: int
    y: tuple[int, ...]


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@dataclass(slots=True, frozen=True)
class Everything(ActorEvent):
    nothing: Any = None
    text: Any = "t"
    number: Any = 3
    ratio: Any = 0.5
    flag: Any = True
    error: Any = None
    items: Any = None
    mapping: Any = None
    point: Any = None
    other: Any = None


def test_builtin_event_payloads() -> None:
    exc = RuntimeError("crash")
    assert ActorStarted(address=ADDRESS).payload == {}
    assert ActorCrashed(ADDRESS, error=exc, reason="RuntimeError: crash").payload == {
        "error": "RuntimeError: crash",
        "reason": "RuntimeError: crash",
        "error_type": "RuntimeError",  # derived when not given
        "error_message": "crash",
        "error_traceback": "",
    }
    assert ActorRestarted(ADDRESS, reason="actor restarted").payload == {
        "reason": "actor restarted"
    }
    assert ActorRestarted(ADDRESS, reason=ValueError("bad")).payload == {
        "reason": "ValueError: bad"
    }
    assert ActorStoppedEvent(ADDRESS).payload == {"reason": None}
    assert ActorStoppedEvent(ADDRESS, reason="stopped").payload == {"reason": "stopped"}


def test_payload_converts_every_field_to_plain_data() -> None:
    event = Everything(
        address=ADDRESS,
        error=KeyError("k"),
        items=[ValueError("a"), (1, {2}), {"b": [Opaque()]}],
        mapping={1: ValueError("v"), "k": (1, 2), None: 2.5},
        point=Point(1, (2, 3)),
        other=Opaque(),
    )
    assert event.payload == {
        "nothing": None,
        "text": "t",
        "number": 3,
        "ratio": 0.5,
        "flag": True,
        "error": "KeyError: 'k'",
        "items": ["ValueError: a", [1, [2]], {"b": ["<opaque>"]}],
        "mapping": {"1": "ValueError: v", "k": [1, 2], "None": 2.5},
        "point": {"x": 1, "y": [2, 3]},
        "other": "<opaque>",
    }
    assert type(event.payload["flag"]) is bool


def test_events_are_frozen() -> None:
    event = ActorStarted(address=ADDRESS)
    with pytest.raises(FrozenInstanceError):
        event.address = {}  # type: ignore[misc]


async def test_runtime_event_fields(system: ActorSystem) -> None:
    named = system.spawn(Echo, name="e")
    exc = RuntimeError("crash")
    with pytest.raises(RuntimeError):
        await named.ask(exc)
    await system.stop(named)
    await until_stopped(system, named)

    started, crashed, restarted, stopped = system.events()
    assert started == ActorStarted(address=ADDRESS)
    assert isinstance(crashed, ActorCrashed)
    assert crashed.address == ADDRESS
    # A detached copy of the exception: the event log keeps no traceback alive.
    assert type(crashed.error) is RuntimeError and crashed.error.args == exc.args
    assert crashed.error.__traceback__ is None
    assert crashed.reason == "RuntimeError: crash"
    assert (crashed.error_type, crashed.error_message) == ("RuntimeError", "crash")
    assert crashed.error_traceback.endswith("RuntimeError: crash\n")
    assert restarted == ActorRestarted(address=ADDRESS, reason="actor restarted")
    assert stopped == ActorStoppedEvent(address=ADDRESS, reason="stopped")


async def test_events_is_an_ordered_snapshot(system: ActorSystem) -> None:
    assert system.events() == ()
    first = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    second = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, start_index=1, timeout=5)
    snapshot = system.events()
    assert isinstance(snapshot, tuple)
    await system.stop(first)
    await until_stopped(system, first)
    assert len(snapshot) == 2
    assert system.events()[:2] == snapshot
    assert [e.address["actor_id"] for e in snapshot] == [first._rid, second._rid]


# -- persisted events and dead letters ------------------------------------------------------------


async def test_lifecycle_events_are_persisted(make_system: Any, clock: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, time_fn=clock)
    clock.now = 10.0
    ref = system.spawn(Echo, name="e")
    assert await ref.ask("hi") == "hi"
    clock.now = 20.0
    with pytest.raises(RuntimeError):
        await ref.ask(RuntimeError("crash"))
    clock.now = 30.0
    await system.aclose()  # the ActorStopped of the shutdown is persisted too

    run = {"run_id": system.run_id, "actor_name": "e", "actor_type": "Echo"}
    crashed = backend.events[1].payload
    assert crashed.pop("error_traceback").endswith("RuntimeError: crash\n")
    assert crashed == {
        "error": "RuntimeError: crash",
        "reason": "RuntimeError: crash",
        "error_type": "RuntimeError",
        "error_message": "crash",
    }
    assert list(backend.events) == [
        PersistedEvent(
            system_id="local", actor_address="local:1", event_type="ActorStarted",
            payload={}, timestamp=10.0, **run,
        ),
        PersistedEvent(
            system_id="local", actor_address="local:1", event_type="ActorCrashed",
            payload=crashed,
            timestamp=20.0, **run,
        ),
        PersistedEvent(
            system_id="local", actor_address="local:1", event_type="ActorRestarted",
            payload={"reason": "actor restarted"}, timestamp=20.0, **run,
        ),
        PersistedEvent(
            system_id="local", actor_address="local:1", event_type="ActorStopped",
            payload={"reason": "stopped"}, timestamp=30.0, **run,
        ),
    ]
    assert backend.closed


async def test_events_are_persisted_while_running(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, system_id="edge", time_fn=lambda: 5.0)
    ref = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    await ref.ask("sync")
    await anyio.wait_all_tasks_blocked()
    assert list(backend.events) == [
        PersistedEvent("edge", "edge:1", "ActorStarted", {}, 5.0, system.run_id, None, "Echo"),
    ]
    assert system.running


async def test_dead_letters_are_persisted(make_system: Any, clock: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, time_fn=clock)
    ref = system.spawn(Echo)
    await system.stop(ref)
    payload = {"id": 1}
    clock.now = 42.0
    with pytest.raises(ActorStopped):
        await ref.tell(payload)
    with pytest.raises(ActorStopped):
        await ref.ask("question")
    await anyio.wait_all_tasks_blocked()

    first, second = backend.dead_letters
    assert first == PersistedDeadLetter(
        system_id="local", target="local:1", message_type="dict", payload=payload, timestamp=42.0,
        run_id=system.run_id,
    )
    assert first.payload is payload
    assert second == PersistedDeadLetter(
        "local", "local:1", "str", "question", 42.0, system.run_id
    )


# -- hooks ----------------------------------------------------------------------------------------


class SyncHooks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.system: ActorSystem | None = None
        self.last_event_at_hook: list[bool] = []

    def on_event(self, event: Any) -> None:
        assert self.system is not None
        self.last_event_at_hook.append(self.system.events()[-1] is event)
        self.calls.append(("event", event))

    def on_dead_letter(self, dead_letter: Any) -> None:
        self.calls.append(("dead_letter", dead_letter))

    def on_failure(self, failure: Any) -> None:
        self.calls.append(("failure", failure))

    def on_audit(self, report: Any) -> None:
        self.calls.append(("audit", report))


async def test_sync_hooks_see_every_fact(make_system: Any) -> None:
    hooks = SyncHooks()
    system = await make_system(hooks=hooks)
    hooks.system = system
    ref = system.spawn(Echo)
    exc = ValueError("bad")
    with pytest.raises(ValueError):
        await ref.ask(exc)
    await until_stopped(system, ref)
    with pytest.raises(ActorStopped):
        await ref.tell("late")
    report = system.audit()

    events = [arg for kind, arg in hooks.calls if kind == "event"]
    assert events == list(system.events())
    assert all(a is b for a, b in zip(events, system.events(), strict=True))
    assert all(hooks.last_event_at_hook)  # the log is appended before the hook runs
    failures = [arg for kind, arg in hooks.calls if kind == "failure"]
    assert failures == [FailureInfo(ref.address, exc, Strategy.STOP, None)]
    assert failures[0].error is exc
    letters = [arg for kind, arg in hooks.calls if kind == "dead_letter"]
    assert letters == system.dead_letters.messages
    assert letters[0].message == "late"
    assert hooks.calls[-1] == ("audit", report)
    assert hooks.calls[-1][1] is report


async def test_failure_hook_runs_before_the_crash_event(make_system: Any) -> None:
    hooks = SyncHooks()
    system = await make_system(hooks=hooks)
    hooks.system = system
    ref = system.spawn(Echo, name="e")
    with pytest.raises(ValueError):
        await ref.ask(ValueError("x"))
    order = [
        kind if kind != "event" else type(arg).__name__
        for kind, arg in hooks.calls
    ]
    assert order == ["ActorStarted", "failure", "ActorCrashed", "ActorRestarted"]


class AsyncHooks:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.audits: list[Any] = []
        self.letters: list[Any] = []
        self.failures: list[Any] = []

    async def on_event(self, event: Any) -> None:
        await anyio.lowlevel.checkpoint()  # really asynchronous: background tasks interleave
        self.events.append(event)

    async def on_audit(self, report: Any) -> None:
        self.audits.append(report)

    async def on_dead_letter(self, dead_letter: Any) -> None:
        self.letters.append(dead_letter)

    async def on_failure(self, failure: Any) -> None:
        self.failures.append(failure)


async def test_async_hooks_run_as_background_tasks(make_system: Any) -> None:
    hooks = AsyncHooks()
    system = await make_system(hooks=hooks)
    ref = system.spawn(Echo, name="e")
    exc = ValueError("x")
    with pytest.raises(ValueError):
        await ref.ask(exc)

    report = system.audit()
    assert hooks.audits == []  # scheduled, not run inline
    await anyio.wait_all_tasks_blocked()
    assert hooks.audits == [report]
    assert sorted(map(id, hooks.events)) == sorted(map(id, system.events()))
    assert [f.error for f in hooks.failures] == [exc]  # on_failure sees the exception itself

    await system.stop(ref)
    with pytest.raises(ActorStopped):
        await ref.tell("late")
    await until_stopped(system, ref)
    await anyio.wait_all_tasks_blocked()
    assert [dl.message for dl in hooks.letters] == ["late"]
    assert len(hooks.events) == 4


class RaisingHooks:
    def on_event(self, event: Any) -> None:
        raise RuntimeError("on_event")

    def on_dead_letter(self, dead_letter: Any) -> None:
        raise RuntimeError("on_dead_letter")

    def on_failure(self, failure: Any) -> None:
        raise RuntimeError("on_failure")

    def on_audit(self, report: Any) -> None:
        raise RuntimeError("on_audit")


class AsyncRaisingHooks:
    async def on_event(self, event: Any) -> None:
        raise RuntimeError("on_event")

    async def on_dead_letter(self, dead_letter: Any) -> None:
        raise RuntimeError("on_dead_letter")

    async def on_failure(self, failure: Any) -> None:
        raise RuntimeError("on_failure")

    async def on_audit(self, report: Any) -> None:
        raise RuntimeError("on_audit")


@pytest.mark.parametrize("hooks_cls", [RaisingHooks, AsyncRaisingHooks, object, DefaultHooks])
async def test_hook_errors_and_missing_hooks_are_harmless(
    make_system: Any, hooks_cls: type
) -> None:
    backend = InMemoryPersistence()
    system = await make_system(hooks=hooks_cls(), persistence=backend)
    ref = system.spawn(Echo, name="e")
    with pytest.raises(ValueError):
        await ref.ask(ValueError("x"))
    assert await ref.ask("still here") == "still here"
    await system.stop(ref)
    await until_stopped(system, ref)
    with pytest.raises(ActorStopped):
        await ref.tell("late")
    report = system.audit()
    await anyio.wait_all_tasks_blocked()

    assert report.total_actors == 1
    assert [type(e).__name__ for e in system.events()] == [
        "ActorStarted", "ActorCrashed", "ActorRestarted", "ActorStopped",
    ]
    assert [dl.message for dl in system.dead_letters.messages] == ["late"]
    assert len(backend.events) == 4
    assert len(backend.dead_letters) == 1
    assert len(backend.audits) == 1
    await system.aclose()


async def test_async_hook_is_not_run_once_the_system_is_closed(make_system: Any) -> None:
    hooks = AsyncHooks()
    system = await make_system(hooks=hooks)
    ref = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    await system.aclose()
    letters_before = len(hooks.letters)

    with pytest.raises(ActorStopped):
        await ref.tell("after close")
    gc.collect()  # an unawaited, unclosed coroutine would warn here (warnings are errors)

    assert len(system.dead_letters.messages) == 1
    assert len(hooks.letters) == letters_before == 0


def test_default_hooks_satisfy_the_protocol() -> None:
    hooks = DefaultHooks()
    assert isinstance(hooks, SystemHooks)
    assert hooks.on_event(ActorStarted(ADDRESS)) is None
    assert hooks.on_audit(object()) is None


async def test_dead_letter_steps_run_in_order(make_system: Any) -> None:
    order: list[str] = []
    holder: dict[str, ActorSystem] = {}

    def callback(dl: DeadLetter) -> None:
        assert holder["system"].dead_letters.messages[-1] is dl
        order.append("callback")

    class Hooks:
        def on_dead_letter(self, dl: DeadLetter) -> None:
            order.append("hook")

    system = await make_system(on_dead_letter=callback, hooks=Hooks())
    holder["system"] = system
    ref = system.spawn(Echo)
    await system.stop(ref)
    with pytest.raises(ActorStopped):
        await ref.ask("late")
    assert order == ["callback", "hook"]
    [letter] = system.dead_letters.messages
    assert (letter.message, letter.expects_reply, letter.target) == ("late", True, ref)


async def test_dead_letter_callback_errors_are_swallowed(make_system: Any) -> None:
    hook_calls: list[DeadLetter] = []

    def callback(dl: DeadLetter) -> None:
        raise RuntimeError("callback broke")

    class Hooks:
        def on_dead_letter(self, dl: DeadLetter) -> None:
            hook_calls.append(dl)

    system = await make_system(on_dead_letter=callback, hooks=Hooks())
    ref = system.spawn(Echo)
    await system.stop(ref)
    with pytest.raises(ActorStopped, match=r"^Actor is not running\.$"):
        await ref.tell("late")
    assert hook_calls == system.dead_letters.messages
    assert len(hook_calls) == 1


# -- wait_for_event ------------------------------------------------------------------------------


async def test_wait_for_event_returns_an_existing_match(system: ActorSystem) -> None:
    first = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    system.spawn(Echo)
    await system.wait_for_event(ActorStarted, start_index=1, timeout=5)
    events = system.events()

    found = await system.wait_for_event(ActorStarted)
    assert found is events[0]
    assert found.address == first.address.to_dict()
    assert await system.wait_for_event(ActorStarted, start_index=1) is events[1]
    assert await system.wait_for_event(ActorEvent) is events[0]  # isinstance, not exact type


async def test_wait_for_event_callable_predicate_uses_truthiness(system: ActorSystem) -> None:
    system.spawn(Echo)
    second = system.spawn(Echo)
    found = await system.wait_for_event(
        lambda e: "yes" if e.address["actor_id"] == second._rid else "", timeout=5
    )
    assert found.address == second.address.to_dict()
    assert await system.wait_for_event(lambda e: 1) is system.events()[0]


async def test_wait_for_event_waits_for_a_future_event(system: ActorSystem) -> None:
    ref = system.spawn(Echo, name="e")
    await system.wait_for_event(ActorStarted, timeout=5)
    start = len(system.events())
    found: list[ActorEvent] = []

    async def waiter() -> None:
        found.append(await system.wait_for_event(ActorRestarted, start_index=start, timeout=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert found == []
        with pytest.raises(ValueError):
            await ref.ask(ValueError("x"))

    assert found == [system.events()[start + 1]]


async def test_wait_for_event_start_index_skips_older_matches(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    found: list[ActorEvent] = []

    async def waiter() -> None:
        found.append(await system.wait_for_event(ActorStarted, start_index=1, timeout=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert found == []
        later = system.spawn(Echo)

    assert [e.address["actor_id"] for e in found] == [later._rid]
    assert ref._rid != later._rid


async def test_wait_for_event_times_out(system: ActorSystem) -> None:
    system.spawn(Echo)
    await system.wait_for_event(ActorStarted, timeout=5)
    with pytest.raises(TimeoutError):
        await system.wait_for_event(ActorCrashed, timeout=0.01)
    with pytest.raises(TimeoutError):
        await system.wait_for_event(ActorStarted, start_index=1, timeout=0.01)


async def test_wait_for_event_never_misses_events(system: ActorSystem) -> None:
    count = 300
    found: dict[int, ActorEvent] = {}

    async def waiter(actor_id: int) -> None:
        found[actor_id] = await system.wait_for_event(
            lambda e: isinstance(e, ActorStarted) and e.address["actor_id"] == actor_id,
            timeout=10,
        )

    async with anyio.create_task_group() as tg:
        for actor_id in (1, 2, count // 2, count - 1, count):
            tg.start_soon(waiter, actor_id)
        await anyio.wait_all_tasks_blocked()
        for _ in range(count):  # one burst: hundreds of events between two waiter wake-ups
            system.spawn(Echo)

    assert sorted(found) == [1, 2, count // 2, count - 1, count]
    started = {e.address["actor_id"]: e for e in system.events() if isinstance(e, ActorStarted)}
    assert len(started) == count
    assert all(found[i] is started[i] for i in found)

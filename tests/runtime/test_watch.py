"""Watching actors (actors.md §15) and the termination sequence (§13 step 3)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra._envelope import STOP, ActorTerminated
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.events import ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


class Watcher(Actor):
    """Watches/unwatches on request and records every ``ActorTerminated`` it receives."""

    def __init__(self, notified: anyio.Event | None = None) -> None:
        self.terminated: list[ActorTerminated] = []
        self.notified = notified

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorTerminated):
            self.terminated.append(message)
            if self.notified is not None:
                self.notified.set()
            return "ignored"
        kind, *rest = message
        if kind == "watch":
            await self.context.watch(rest[0])
        elif kind == "unwatch":
            await self.context.unwatch(rest[0])
        elif kind == "spawn":
            return self.context.spawn_child(rest[0])
        elif kind == "stop":
            await self.context.stop(rest[0])
        elif kind == "terminated":
            return list(self.terminated)
        elif kind == "crash":
            raise Boom("crash")
        return None


class Target(Actor):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "stop-self":
            await self.context.stop_self()
        return message


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


async def watch(watcher: ActorRef, target: ActorRef) -> None:
    await watcher.ask(("watch", target))


async def terminations(watcher: ActorRef) -> list[ActorTerminated]:
    result = await watcher.ask(("terminated",))
    assert isinstance(result, list)
    return result


async def test_watcher_gets_one_notification_when_the_target_stops(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target)
    await watch(watcher, target)

    await system.stop(target)
    await until_stopped(system, target)

    [note] = await terminations(watcher)
    assert isinstance(note, ActorTerminated)
    assert note.ref._rid == target._rid
    assert note.ref.address == target.address
    assert note.ref.is_alive() is False


async def test_notification_ref_is_inert(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target, name="t")
    await watch(watcher, target)
    await system.stop(target)
    await until_stopped(system, target)
    [note] = await terminations(watcher)

    # Even a new actor spawned afterwards does not bring the inert ref back to life.
    system.spawn(Target, name="t")
    assert note.ref.is_alive() is False
    with pytest.raises(ActorStopped, match=r"^Actor is not running\.$"):
        await note.ref.tell("hello")
    [letter] = system.dead_letters.messages
    assert letter.message == "hello"
    assert letter.target._rid == target._rid


async def test_watching_twice_still_notifies_once(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target)
    await watch(watcher, target)
    await watch(watcher, target)

    await system.stop(target)
    await until_stopped(system, target)

    assert len(await terminations(watcher)) == 1


async def test_every_watcher_is_notified(system: ActorSystem) -> None:
    watchers = [system.spawn(Watcher) for _ in range(3)]
    target = system.spawn(Target)
    for w in watchers:
        await watch(w, target)

    await system.stop(target)
    await until_stopped(system, target)

    for w in watchers:
        assert [n.ref._rid for n in await terminations(w)] == [target._rid]


async def test_no_notification_on_restart(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target, name="t")  # RESTART by default
    await watch(watcher, target)

    exc = Boom("crash")
    with pytest.raises(Boom):
        await target.ask(exc)
    assert target.is_alive()
    assert await terminations(watcher) == []

    await system.stop(target)
    await until_stopped(system, target)
    assert len(await terminations(watcher)) == 1


@pytest.mark.parametrize(
    "ending",
    ["failure", "restart-limit", "tell-stop", "stop-self", "parent-stops-child"],
)
async def test_every_permanent_termination_notifies_once(
    system: ActorSystem, ending: str
) -> None:
    watcher = system.spawn(Watcher)
    if ending == "parent-stops-child":
        target = await watcher.ask(("spawn", Target))
    elif ending == "restart-limit":
        policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=1)
        target = system.spawn(Target, policy=policy)
    else:
        target = system.spawn(Target)
    await watch(watcher, target)

    if ending == "failure":
        with pytest.raises(Boom):
            await target.ask(Boom("x"))
    elif ending == "restart-limit":
        for _ in range(2):
            with pytest.raises(Boom):
                await target.ask(Boom("x"))
    elif ending == "tell-stop":
        await target.tell(STOP)
    elif ending == "stop-self":
        await target.tell("stop-self")
    else:
        await watcher.ask(("stop", target))
    await until_stopped(system, target)

    assert [n.ref._rid for n in await terminations(watcher)] == [target._rid]


async def test_unwatch_cancels_the_notification(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    first, second = system.spawn(Target), system.spawn(Target)
    await watch(watcher, first)
    await watch(watcher, second)
    await watcher.ask(("unwatch", first))

    await system.stop(first)
    await system.stop(second)
    await until_stopped(system, first)
    await until_stopped(system, second)

    assert [n.ref._rid for n in await terminations(watcher)] == [second._rid]


async def test_stopped_watchers_are_skipped_without_dead_letters(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target)
    await watch(watcher, target)
    await system.stop(watcher)
    await until_stopped(system, watcher)

    await system.stop(target)
    await until_stopped(system, target)

    assert system.dead_letters.messages == []


async def test_watching_unknown_refs_is_a_no_op(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    stranger = ActorRef(999, lambda env: None, lambda: True)
    await watch(watcher, stranger)
    await watcher.ask(("unwatch", stranger))
    assert await terminations(watcher) == []
    assert watcher.is_alive()


async def test_watching_an_already_terminated_actor_notifies_at_once(
    system: ActorSystem,
) -> None:
    watcher = system.spawn(Watcher)
    target = system.spawn(Target)
    await system.stop(target)
    await until_stopped(system, target)

    await watch(watcher, target)

    [note] = await terminations(watcher)
    assert note.ref == target
    assert note.ref.is_alive() is False
    assert system._by_id[target._rid].watchers == ()
    assert watcher.is_alive()


async def test_watching_a_released_actor_notifies_at_once(make_system: Any) -> None:
    system = await make_system(retain_terminated=0)
    watcher = system.spawn(Watcher)
    target = system.spawn(Target)
    await system.stop(target)
    await until_stopped(system, target)
    assert target._rid not in system._by_id  # its record is gone

    await watch(watcher, target)

    [note] = await terminations(watcher)
    assert note.ref._rid == target._rid
    assert note.ref.address == target.address
    assert note.ref.is_alive() is False
    with pytest.raises(ActorStopped):
        await note.ref.tell("late")
    assert [dl.message for dl in system.dead_letters.messages] == ["late"]


async def test_watching_while_the_target_terminates_notifies_at_once(
    system: ActorSystem, make_gate: Any
) -> None:
    in_on_stop, release = make_gate(), make_gate()

    class SlowStop(Target):
        async def on_stop(self) -> None:
            in_on_stop.set()
            await release.wait()

    watcher = system.spawn(Watcher)
    target = system.spawn(SlowStop)
    await system.stop(target)
    await in_on_stop.wait()  # the watchers of the target were notified already

    await watch(watcher, target)
    [note] = await terminations(watcher)
    assert note.ref._rid == target._rid
    release.set()
    await until_stopped(system, target)
    assert len(await terminations(watcher)) == 1


async def test_refs_of_actors_never_spawned_here_are_not_notified(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    future_rid = ActorRef(999, lambda env: None, lambda: True, None, ActorAddress("local", 999))
    other_system = ActorRef(1, lambda env: None, lambda: True, None, ActorAddress("other", 1))
    await watch(watcher, future_rid)  # an id this system has not spawned (yet): a no-op
    assert await terminations(watcher) == []
    with pytest.raises(ValueError, match="actor of another system"):
        await watch(watcher, other_system)  # refused at the call (a failure of the watcher)


@pytest.mark.parametrize("ending", ["stop", "failure"])
async def test_terminated_watchers_leave_the_watcher_set(
    system: ActorSystem, ending: str
) -> None:
    target = system.spawn(Target)
    watchers = [system.spawn(Watcher) for _ in range(20)]
    for w in watchers:
        await watch(w, target)
    target_cell = system._by_id[target._rid]
    assert len(target_cell.watchers) == 20

    for w in watchers:
        if ending == "stop":
            await system.stop(w)
        else:
            with pytest.raises(Boom):
                await w.ask(("crash",))  # unnamed: the STOP policy ends it
        await until_stopped(system, w)

    assert len(target_cell.watchers) == 0
    assert system._lifecycle._watching == {}
    assert target.is_alive()
    await system.stop(target)
    await until_stopped(system, target)
    assert system.dead_letters.messages == []


async def test_watch_links_are_released_when_the_target_terminates(system: ActorSystem) -> None:
    watcher = system.spawn(Watcher)
    targets = [system.spawn(Target) for _ in range(3)]
    for t in targets:
        await watch(watcher, t)
    await watcher.ask(("unwatch", targets[0]))
    assert system._by_id[targets[0]._rid].watchers == ()

    for t in targets[1:]:
        await system.stop(t)
        await until_stopped(system, t)

    assert len(await terminations(watcher)) == 2
    assert system._lifecycle._watching == {}
    assert all(len(system._by_id[t._rid].watchers) == 0 for t in targets)


async def test_watchers_are_notified_before_on_stop(system: ActorSystem) -> None:
    notified = anyio.Event()
    observed: dict[str, Any] = {}

    class Observed(Target):
        async def on_stop(self) -> None:
            # The watcher can only receive the notification now if it was enqueued before on_stop.
            with anyio.move_on_after(5):
                await notified.wait()
            observed["notified"] = notified.is_set()

    watcher = system.spawn(lambda: Watcher(notified))
    target = system.spawn(Observed)
    await watch(watcher, target)

    await system.stop(target)
    await until_stopped(system, target)

    assert observed == {"notified": True}


async def test_termination_sequence(system: ActorSystem) -> None:
    observed: dict[str, Any] = {}

    class Observed(Target):
        async def on_stop(self) -> None:
            ctx = self.context
            address = ctx.self_ref.address.to_dict()
            observed["alive"] = ctx.self_ref.is_alive()
            observed["info_alive"] = ctx.system.actor_info(ctx.self_ref).alive
            observed["name_registered"] = "t" in ctx.system.list_names()
            observed["stopped_event"] = any(
                isinstance(e, ActorStoppedEvent) and e.address == address
                for e in ctx.system.events()
            )

    target = system.spawn(Observed, name="t")
    await system.stop(target)
    event = await system.wait_for_event(ActorStoppedEvent, timeout=5)

    assert observed == {
        "alive": False,
        "info_alive": False,
        "name_registered": False,
        "stopped_event": False,
    }
    assert event.address == target.address.to_dict()
    assert event.reason == "stopped"
    assert [type(e) for e in system.events()] == [ActorStarted, ActorStoppedEvent]


async def test_parent_watching_its_child(system: ActorSystem) -> None:
    parent = system.spawn(Watcher)
    child = await parent.ask(("spawn", Target))
    await watch(parent, child)

    await parent.ask(("stop", child))
    await until_stopped(system, child)

    [note] = await terminations(parent)
    assert note.ref._rid == child._rid
    assert parent.is_alive()

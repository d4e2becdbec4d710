"""Shutdown from anywhere: explicit start/aclose under deadlines, from other tasks and from
inside an actor; the grace period; awaitable and immediate stops; children of stopping actors."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Hang(Actor):
    """Blocks forever on ``"hang"`` after setting ``entered``; echoes anything else."""

    def __init__(self, entered: anyio.Event) -> None:
        self.entered = entered

    async def receive(self, message: Any) -> Any:
        if message == "hang":
            self.entered.set()
            await anyio.Event().wait()
        return message


def event_names(system: ActorSystem) -> list[str]:
    return [type(e).__name__ for e in system.events()]


# -- start() / aclose() independent of the caller's cancel scopes ---------------------------------


async def test_explicit_start_and_aclose_under_deadlines(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    with anyio.fail_after(5):
        await system.start()
    ref = system.spawn(Echo)
    assert await ref.ask("after the start scope ended") == "after the start scope ended"
    with anyio.move_on_after(5):
        await system.aclose()
    assert not system.running
    assert event_names(system) == ["ActorStarted", "ActorStopped"]


async def test_start_inside_a_scope_that_is_cancelled_later_keeps_the_system_running(
    impl: Any,
) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    with anyio.CancelScope() as scope:
        await system.start()
        scope.cancel()
    ref = system.spawn(Echo)
    assert await ref.ask(1) == 1
    with anyio.fail_after(5):
        await system.aclose()


async def test_start_and_aclose_from_different_tasks(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    async with anyio.create_task_group() as tg:
        tg.start_soon(system.start)
    ref = system.spawn(Echo)
    assert await ref.ask("x") == "x"
    async with anyio.create_task_group() as tg:
        tg.start_soon(system.aclose)
    assert not system.running
    assert not ref.is_alive()


async def test_a_second_aclose_waits_for_the_first(impl: Any) -> None:
    entered = anyio.Event()
    system = ActorSystem(_dispatch=impl.dispatch, shutdown_grace=None)
    await system.start()
    release = anyio.Event()

    class Slow(Actor):
        async def on_stop(self) -> None:
            entered.set()
            await release.wait()

        async def receive(self, message: Any) -> Any:
            return message

    system.spawn(Slow)
    done: list[str] = []

    async def close(tag: str) -> None:
        await system.aclose()
        done.append(tag)

    async with anyio.create_task_group() as tg:
        tg.start_soon(close, "first")
        await entered.wait()
        tg.start_soon(close, "second")
        await anyio.wait_all_tasks_blocked()
        assert done == []  # both wait for the slow on_stop
        release.set()
    assert sorted(done) == ["first", "second"]


async def test_aclose_from_inside_an_actor_returns_and_the_system_closes(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    await system.start()

    class Closer(Actor):
        async def receive(self, message: Any) -> Any:
            await self.context.system.aclose()
            return "closing"

    ref = system.spawn(Closer)
    other = system.spawn(Echo)
    with anyio.fail_after(5):
        assert await ref.ask("close") == "closing"
        await system.wait_closed()
    assert not system.running
    assert not other.is_alive()
    assert event_names(system).count("ActorStopped") == 2


async def test_a_cancelled_aclose_leaves_nothing_hanging(impl: Any) -> None:
    entered = anyio.Event()
    backend = InMemoryPersistence()
    letters: list[Any] = []
    system = ActorSystem(
        _dispatch=impl.dispatch, persistence=backend, on_dead_letter=letters.append
    )
    await system.start()
    ref = system.spawn(lambda: Hang(entered))
    await ref.tell("hang")
    await entered.wait()
    outcomes: list[Any] = []

    async def pending_ask() -> None:
        try:
            await ref.ask("queued behind the hang")
        except ActorStopped as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(pending_ask)
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(TimeoutError), anyio.fail_after(0.05):
            await system.aclose()
    assert len(outcomes) == 1  # the ask got ActorStopped instead of hanging
    assert [dl.message for dl in letters] == ["queued behind the hang"]
    assert not system.running
    stored = [e.event_type for e in await backend.list_events()]
    assert stored == ["ActorStarted", "ActorStopped"]  # flushed before the backend closed
    assert backend.closed


async def test_aclose_after_a_failed_start_returns(impl: Any) -> None:
    from papyra.persistence.startup import PersistenceStartupConfig

    class Broken(InMemoryPersistence):
        async def scan(self) -> Any:
            raise OSError("disk gone")

    system = ActorSystem(
        _dispatch=impl.dispatch,
        persistence=Broken(),
        persistence_startup=PersistenceStartupConfig(mode="fail_on_anomaly"),
    )
    with pytest.raises(OSError, match="disk gone"):
        await system.start()
    with anyio.fail_after(5):
        await system.aclose()
        await system.wait_closed()


def test_wait_closed_refuses_a_system_never_started() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="neither started nor closed"):
            await ActorSystem().wait_closed()

    anyio.run(main)


# -- the shutdown grace period -------------------------------------------------------------------


async def test_an_on_stop_that_never_returns_is_cancelled_after_the_grace_period(
    impl: Any,
) -> None:
    class NeverStops(Actor):
        async def on_stop(self) -> None:
            await anyio.Event().wait()

        async def receive(self, message: Any) -> Any:
            return message

    system = ActorSystem(_dispatch=impl.dispatch, shutdown_grace=0.05)
    await system.start()
    system.spawn(NeverStops)
    with anyio.fail_after(5):
        await system.aclose()
    stopped = [e for e in system.events() if type(e).__name__ == "ActorStopped"]
    assert [e.reason for e in stopped] == ["cancelled: the shutdown grace period ran out"]


async def test_a_receive_that_never_returns_is_cancelled_after_the_grace_period(
    impl: Any,
) -> None:
    entered = anyio.Event()
    backend = InMemoryPersistence()
    system = ActorSystem(_dispatch=impl.dispatch, shutdown_grace=0.05, persistence=backend)
    await system.start()
    ref = system.spawn(lambda: Hang(entered))
    await ref.tell("hang")
    await entered.wait()
    with anyio.fail_after(5):
        await system.aclose()
    events = await backend.list_events()
    assert [(e.event_type, e.payload.get("reason")) for e in events][-1] == (
        "ActorStopped",
        "cancelled: the shutdown grace period ran out",
    )


@pytest.mark.parametrize("grace", [-1, "10", True, float("nan")])
def test_shutdown_grace_must_be_a_number_of_seconds(grace: Any) -> None:
    with pytest.raises(ValueError, match="shutdown_grace"):
        ActorSystem(shutdown_grace=grace)


# -- awaitable and immediate stops -----------------------------------------------------------------


async def test_stop_and_wait_returns_after_on_stop_and_frees_the_name(
    make_system: Any,
) -> None:
    system = await make_system()
    log: list[str] = []

    class Named(Actor):
        async def on_stop(self) -> None:
            await anyio.lowlevel.checkpoint()
            log.append("on_stop done")

        async def receive(self, message: Any) -> Any:
            return message

    for round_ in range(3):  # stop-then-respawn by the same name, no race
        ref = system.spawn(Named, name="worker")
        assert await ref.ask(round_) == round_
        await system.stop(ref, wait=True)
        assert log[-1] == "on_stop done"
        assert "worker" not in system.list_names()
    assert log == ["on_stop done"] * 3


async def test_join_waits_for_a_graceful_stop_to_drain(make_system: Any) -> None:
    system = await make_system()
    seen: list[int] = []

    class Recorder(Actor):
        async def receive(self, message: Any) -> Any:
            await anyio.lowlevel.checkpoint()
            seen.append(message)

    ref = system.spawn(Recorder)
    for i in range(5):
        await ref.tell(i)
    await system.stop(ref)
    await system.join(ref)
    assert seen == [0, 1, 2, 3, 4]
    await system.join(ref)  # a terminated actor: returns at once


async def test_immediate_stop_turns_the_backlog_into_dead_letters(make_system: Any) -> None:
    entered = anyio.Event()
    release = anyio.Event()
    letters: list[Any] = []

    class Busy(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "first":
                entered.set()
                await release.wait()
            return message

    system = await make_system(on_dead_letter=letters.append)
    ref = system.spawn(Busy)
    first_reply: list[Any] = []
    failures: list[Any] = []

    async def ask_first() -> None:
        first_reply.append(await ref.ask("first"))

    async def ask_queued() -> None:
        try:
            await ref.ask("queued ask")
        except ActorStopped as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask_first)
        await entered.wait()
        await ref.tell("queued tell")
        tg.start_soon(ask_queued)
        await anyio.wait_all_tasks_blocked()
        await system.stop(ref, immediate=True)
        release.set()
        await system.join(ref)
    assert first_reply == ["first"]  # the message in progress completes
    assert [dl.message for dl in letters] == ["queued tell", "queued ask"]
    assert len(failures) == 1


async def test_an_actor_cannot_join_itself(make_system: Any) -> None:
    system = await make_system()

    class SelfJoin(Actor):
        async def receive(self, message: Any) -> Any:
            try:
                await self.context.system.join(self.context.self_ref)
            except RuntimeError as exc:
                return str(exc)
            return "joined"

    ref = system.spawn(SelfJoin)
    with anyio.fail_after(5):
        assert "cannot wait for its own termination" in await ref.ask("join")


# -- children of stopping actors are refused ------------------------------------------------------


async def test_spawning_a_child_of_a_stopped_actor_is_refused(make_system: Any) -> None:
    system = await make_system()
    parent = system.spawn(Echo)
    await system.stop(parent, wait=True)
    with pytest.raises(ActorStopped, match="stopping or stopped"):
        system.spawn(Echo, parent=parent)


async def test_spawning_a_child_of_a_released_actor_is_refused(make_system: Any) -> None:
    system = await make_system(retain_terminated=0)
    parent = system.spawn(Echo)
    await system.stop(parent, wait=True)
    assert parent._rid not in system._by_id
    with pytest.raises(ActorStopped, match="record was released"):
        system.spawn(Echo, parent=parent)


async def test_a_child_spawned_in_on_stop_is_refused_and_aclose_does_not_hang(
    impl: Any,
) -> None:
    errors: list[BaseException] = []

    class SpawnsOnStop(Actor):
        async def on_stop(self) -> None:
            try:
                self.context.spawn_child(Echo)
            except ActorStopped as exc:
                errors.append(exc)

        async def receive(self, message: Any) -> Any:
            return message

    system = ActorSystem(_dispatch=impl.dispatch)
    await system.start()
    ref = system.spawn(SpawnsOnStop)
    await system.stop(ref, wait=True)
    system.spawn(SpawnsOnStop)
    with anyio.fail_after(5):
        await system.aclose()
    assert len(errors) == 2

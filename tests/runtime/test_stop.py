"""Stop semantics: graceful stops drain, failure stops do not, nothing is silently dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import anyio
import pytest

from papyra._envelope import STOP
from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.system import ActorSystem
from tests.support import Gate

pytestmark = pytest.mark.anyio


class Log(Actor):
    """Records messages; its on_stop snapshot shows what was processed before termination."""

    stopped_with: ClassVar[list[list[Any]]] = []

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        self.seen.append(message)
        return message

    async def on_stop(self) -> None:
        Log.stopped_with.append(list(self.seen))


@pytest.fixture(autouse=True)
def _reset_log() -> None:
    Log.stopped_with = []


class Blocker(Gate):
    async def on_stop(self) -> None:
        Log.stopped_with.append(list(self.seen))


@pytest.fixture
def blocker(gate: type[Gate]) -> type[Blocker]:
    return Blocker


async def test_exiting_the_context_processes_queued_messages(impl: Any) -> None:
    async with ActorSystem(_dispatch=impl.dispatch) as system:
        ref = system.spawn(Log)
        await ref.tell("a")
        await ref.tell("b")
    assert Log.stopped_with == [["a", "b"]]


async def test_stop_drains_messages_enqueued_before_it(
    make_system: Callable[..., Any], blocker: type[Blocker]
) -> None:
    system = await make_system()
    ref = system.spawn(blocker)
    await ref.tell("block")
    await blocker.entered.wait()
    for i in range(5):
        await ref.tell(i)
    await system.stop(ref)
    assert not ref.is_alive()  # immediately, although messages are still queued
    with pytest.raises(ActorStopped):
        await ref.tell("after stop")
    blocker.release.set()
    await system.wait_for_event(lambda e: type(e).__name__ == "ActorStopped")
    assert Log.stopped_with == [[0, 1, 2, 3, 4]]
    assert [d.message for d in system.dead_letters.messages] == ["after stop"]


async def test_tell_stop_ends_the_actor_after_earlier_messages_and_frees_its_name(
    make_system: Callable[..., Any],
) -> None:
    system = await make_system()
    ref = system.spawn(Log, name="log")
    await ref.tell(1)
    await ref.tell(STOP)
    await system.wait_for_event(lambda e: type(e).__name__ == "ActorStopped")
    assert Log.stopped_with == [[1]]
    assert "log" not in system.list_names()
    system.spawn(Log, name="log")  # the name can be reused


async def test_failure_stop_dead_letters_the_rest_and_fails_pending_asks(
    make_system: Callable[..., Any], blocker: type[Blocker]
) -> None:
    system = await make_system()
    ref = system.spawn(blocker)  # unnamed: policy STOP
    await ref.tell("block")
    await blocker.entered.wait()
    await ref.tell("crash")
    await ref.tell("t1")
    outcomes: list[Any] = []

    async def pending_ask() -> None:
        try:
            outcomes.append(await ref.ask("q1"))
        except ActorStopped as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(pending_ask)
        await anyio.wait_all_tasks_blocked()
        blocker.release.set()
    assert len(outcomes) == 1 and isinstance(outcomes[0], ActorStopped)
    assert Log.stopped_with == [[]]  # nothing after the crash was processed
    letters = [(d.message, d.expects_reply) for d in system.dead_letters.messages]
    assert letters == [("t1", False), ("q1", True)]
    names = [type(e).__name__ for e in system.events()]
    assert names == ["ActorStarted", "ActorCrashed", "ActorStopped"]


async def test_stop_cascades_to_children_depth_first(make_system: Callable[..., Any]) -> None:
    order: list[str] = []

    class Node(Actor):
        def __init__(self, label: str = "root") -> None:
            self.label = label

        async def receive(self, message: Any) -> Any:
            if message == "spawn":
                child = self.context.spawn_child(lambda: Node(self.label + ".c"))
                return child
            return self.label

        async def on_stop(self) -> None:
            order.append(self.label)

    system = await make_system()
    root = system.spawn(Node)
    child = await root.ask("spawn")
    grandchild = await child.ask("spawn")
    await system.stop(root)
    assert not root.is_alive() and not child.is_alive() and not grandchild.is_alive()
    index = 0
    for _ in range(3):
        event = await system.wait_for_event(
            lambda e: type(e).__name__ == "ActorStopped", start_index=index
        )
        index = system.events().index(event) + 1
    assert sorted(order) == ["root", "root.c", "root.c.c"]


async def test_stop_is_a_noop_for_unknown_refs_and_closed_systems(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    await system.start()
    await system.stop(object())
    await system.stop(None)
    ref = system.spawn(Log)
    await system.aclose()
    await system.stop(ref)
    await system.stop_all()


async def test_stop_all_keeps_the_system_open(make_system: Callable[..., Any]) -> None:
    system = await make_system()
    refs = [system.spawn(Log) for _ in range(3)]
    await system.stop_all()
    assert not any(r.is_alive() for r in refs)
    fresh = system.spawn(Log)
    assert await fresh.ask("still works") == "still works"


async def test_blocked_sender_gets_actor_stopped_when_the_actor_stops(
    make_system: Callable[..., Any], blocker: type[Blocker]
) -> None:
    system = await make_system()
    ref = system.spawn(blocker, mailbox_capacity=1)
    await ref.tell("block")
    await blocker.entered.wait()
    await ref.tell("queued")
    errors: list[BaseException] = []

    async def blocked() -> None:
        try:
            await ref.tell("waiting for room")
        except ActorStopped as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(blocked)
        await anyio.wait_all_tasks_blocked()
        await system.stop(ref)
        await anyio.wait_all_tasks_blocked()
        assert len(errors) == 1
        blocker.release.set()
    assert [d.message for d in system.dead_letters.messages] == ["waiting for room"]
    await system.wait_for_event(lambda e: type(e).__name__ == "ActorStopped")
    assert Log.stopped_with == [["queued"]]


async def test_aclose_persists_shutdown_events_before_closing_the_backend(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    async with system:
        system.spawn(Log, name="a")
        system.spawn(Log, name="b")
    persisted = await system.persistence.list_events()
    kinds = sorted((e.actor_address, e.event_type) for e in persisted)
    assert kinds == [
        ("local:1", "ActorStarted"),
        ("local:1", "ActorStopped"),
        ("local:2", "ActorStarted"),
        ("local:2", "ActorStopped"),
    ]
    assert system.persistence.closed


async def test_aclose_is_idempotent_and_start_after_close_fails(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch)
    await system.start()
    await system.aclose()
    await system.aclose()
    with pytest.raises(ActorStopped, match=r"ActorSystem is closed\.") as info:
        await system.start()
    assert info.value.reason == "shutdown"
    with pytest.raises(ActorStopped, match=r"ActorSystem is not running\."):
        system.spawn(Log)


async def test_on_stop_failure_does_not_prevent_termination(
    make_system: Callable[..., Any],
) -> None:
    class BadStop(Actor):
        async def receive(self, message: Any) -> Any:
            return message

        async def on_stop(self) -> None:
            raise RuntimeError("on_stop failed")

    system = await make_system()
    ref = system.spawn(BadStop)
    await system.stop(ref)
    event = await system.wait_for_event(lambda e: type(e).__name__ == "ActorStopped")
    assert event.address == {"system": "local", "actor_id": ref._rid}


async def test_cancelled_shutdown_cancels_the_actors(impl: Any) -> None:
    stuck = anyio.Event()

    class Stuck(Actor):
        async def receive(self, message: Any) -> Any:
            stuck.set()
            await anyio.Event().wait()  # never returns by itself

    system = ActorSystem(_dispatch=impl.dispatch)
    # the deadline fires while leaving `async with system`, so the whole block belongs inside
    with pytest.raises(TimeoutError):  # noqa: PT012
        with anyio.fail_after(0.05):
            async with system:
                ref = system.spawn(Stuck)
                await ref.tell("hang")
                await stuck.wait()
                # leaving the block waits for the stuck actor until the deadline cancels it
    await anyio.wait_all_tasks_blocked()
    assert system._lifecycle.running == 0
    assert not ref.is_alive()
    assert [type(e).__name__ for e in system.events()] == ["ActorStarted", "ActorStopped"]


# -- trees deeper than the recursion limit ------------------------------------------------------


class Node(Actor):
    """Asked a positive number, spawns one child and returns its ref."""

    async def receive(self, message: Any) -> Any:
        if message == "child":
            return self.context.spawn_child(Node)
        return None


DEEP = 3000  # deeper than sys.getrecursionlimit() (1000)


async def build_chain(system: ActorSystem) -> list[Any]:
    refs = [system.spawn(Node)]
    for _ in range(DEEP):
        refs.append(await refs[-1].ask("child"))
    return refs


async def test_stopping_a_tree_deeper_than_the_recursion_limit(make_system: Any) -> None:
    system = await make_system()
    refs = await build_chain(system)
    with anyio.fail_after(30):
        await system.stop(refs[0])
    assert not any(ref.is_alive() for ref in refs)


async def test_closing_a_system_with_a_very_deep_tree(make_system: Any) -> None:
    system = await make_system()
    refs = await build_chain(system)
    with anyio.fail_after(30):
        await system.aclose()
    assert not any(ref.is_alive() for ref in refs)
    stopped = [e for e in system.events() if type(e).__name__ == "ActorStopped"]
    assert len(stopped) == DEEP + 1

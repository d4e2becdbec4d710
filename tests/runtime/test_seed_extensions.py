"""Seed extensions E1–E4 (seed-extensions.md): ``register``, ``actor(name)``, ``send``,
``clock``."""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from papyra.actor import Actor
from papyra.clock import Clock, SystemClock
from papyra.events import ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Counter(Actor):
    """The quickstart's counter: state initialised in ``on_start``, not in ``__init__``."""

    async def on_start(self) -> None:
        await anyio.lowlevel.checkpoint()  # a genuinely asynchronous start
        self.total = 0
        self.stamps: list[float] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "get":
            return self.total
        if message == "stamps":
            return list(self.stamps)
        if message == "block":
            await self.gate.wait()
            return None
        self.total += message["value"]
        self.stamps.append(self.context.system.clock.now())
        return self.total


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


def assert_stopped_error(error: BaseException, message: str, reason: str | None) -> None:
    assert type(error) is ActorStopped
    assert str(error) == message
    assert error.reason == reason


def started_count(system: ActorSystem) -> int:
    return sum(isinstance(e, ActorStarted) for e in system.events())


# -- E1 register ----------------------------------------------------------------------------------


async def test_register_before_start_then_actor(make_system: Any) -> None:
    system = await make_system(start=False)
    system.register("counter", Counter)
    await system.start()
    await system.start()  # the documented no-op

    counter = system.actor("counter")
    await counter.send({"type": "increment", "value": 5})
    await counter.send({"type": "increment", "value": 2})
    assert await counter.ask("get") == 7


async def test_register_after_start(system: ActorSystem) -> None:
    system.register("counter", Counter)
    counter = system.actor("counter")
    await counter.tell({"value": 1})
    assert await counter.ask("get") == 1


async def test_register_spawns_nothing(system: ActorSystem) -> None:
    system.register("counter", Counter)
    system.register("other", Counter)
    await anyio.wait_all_tasks_blocked()
    assert system.events() == ()
    assert system.list_actors() == ()
    assert system.list_names() == {}  # registrations are not the runtime name registry
    assert system.audit().total_actors == 0


async def test_register_duplicate_name(system: ActorSystem) -> None:
    system.register("counter", Counter)
    with pytest.raises(ValueError) as info:
        system.register("counter", Counter)
    assert str(info.value) == "Actor name 'counter' is already registered."


@pytest.mark.parametrize("name", ["", None, 3])
async def test_register_needs_a_non_empty_string(system: ActorSystem, name: Any) -> None:
    with pytest.raises(ValueError):
        system.register(name, Counter)


async def test_register_on_a_closed_system(make_system: Any) -> None:
    system = await make_system()
    await system.aclose()
    with pytest.raises(ActorStopped) as info:
        system.register("counter", Counter)
    assert_stopped_error(info.value, "ActorSystem is closed.", "shutdown")


async def test_registration_name_independent_of_direct_spawns(system: ActorSystem) -> None:
    direct = system.spawn(Counter, name="taken")
    system.register("taken", Counter)  # allowed: registrations are a separate table
    assert system.actor("taken") == direct
    assert system.audit().total_actors == 1


# -- E2 actor(name) ------------------------------------------------------------------------------


async def test_actor_spawns_once_and_returns_the_same_actor(system: ActorSystem) -> None:
    system.register("counter", Counter)
    first = system.actor("counter")
    second = system.actor("counter")
    assert first == second
    assert first._rid == second._rid == 1
    await first.send({"value": 2})
    await second.send({"value": 3})
    assert await system.actor("counter").ask("get") == 5
    assert started_count(system) == 1
    assert system.audit().total_actors == 1
    assert system.list_names() == {"counter": first.address}


async def test_actor_finds_directly_spawned_named_actors(system: ActorSystem) -> None:
    direct = system.spawn(Counter, name="plain")
    found = system.actor("plain")
    assert found == direct
    assert found is not direct
    await found.send({"value": 4})
    assert await direct.ask("get") == 4


async def test_actor_behaves_like_a_named_actor(system: ActorSystem) -> None:
    system.register("counter", Counter)
    counter = system.actor("counter")
    await counter.send({"value": 4})
    with pytest.raises(KeyError):
        await counter.ask({"wrong": 1})  # RESTART is the named default
    assert counter.is_alive()
    assert await counter.ask("get") == 0  # a fresh instance
    assert isinstance(system.events()[-1], ActorRestarted)
    assert system.actor_info(counter).name == "counter"
    assert system.audit().registry_size == 1


async def test_registered_policy_is_used(system: ActorSystem) -> None:
    system.register("fragile", Counter, policy=SupervisionPolicy(strategy=Strategy.STOP))
    fragile = system.actor("fragile")
    with pytest.raises(KeyError):
        await fragile.ask({})
    assert not fragile.is_alive()
    await until_stopped(system, fragile)
    again = system.actor("fragile")
    assert again._rid == 2


async def test_registered_mailbox_capacity_is_used(system: ActorSystem, make_gate: Any) -> None:
    system.register("small", Counter, mailbox_capacity=1)
    small = system.actor("small")
    assert await small.ask("get") == 0
    gate = make_gate()
    instance_gate = small.proxy().gate
    await instance_gate.set(gate)
    await small.send("block")  # taken by the actor, which now waits on the gate
    await anyio.wait_all_tasks_blocked()
    await small.send({"value": 1})  # fills the single slot
    sent: list[str] = []

    async def third() -> None:
        await small.send({"value": 2})
        sent.append("third")

    async with anyio.create_task_group() as tg:
        tg.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        assert sent == []  # back-pressure: the mailbox is full
        gate.set()
    assert sent == ["third"]
    assert await small.ask("get") == 3


async def test_actor_respawns_after_permanent_termination(system: ActorSystem) -> None:
    system.register("counter", Counter)
    first = system.actor("counter")
    await first.send({"value": 9})
    assert await first.ask("get") == 9
    await system.stop(first)
    await until_stopped(system, first)

    second = system.actor("counter")
    assert second._rid == 2
    assert second != first
    assert await second.ask("get") == 0
    assert not first.is_alive()
    assert system.list_names() == {"counter": second.address}
    assert started_count(system) == 2


async def test_actor_spawns_a_fresh_one_while_the_old_one_is_stopping(
    system: ActorSystem, make_gate: Any
) -> None:
    system.register("counter", Counter)
    old = system.actor("counter")
    assert await old.ask("get") == 0
    gate = make_gate()
    await old.proxy().gate.set(gate)
    await old.send("block")
    await anyio.wait_all_tasks_blocked()
    await system.stop(old)  # stopping, not yet terminated

    new = system.actor("counter")
    assert new != old
    assert new.is_alive()
    gate.set()
    await until_stopped(system, old)

    assert system.list_names() == {"counter": new.address}  # the old one did not take it away
    assert system.actor("counter") == new
    assert await new.ask("get") == 0


async def test_actor_after_a_direct_spawn_terminates(system: ActorSystem) -> None:
    direct = system.spawn(Counter, name="plain")
    await system.stop(direct)
    await until_stopped(system, direct)
    with pytest.raises(ActorStopped) as info:
        system.actor("plain")  # never registered: nothing to respawn
    assert_stopped_error(info.value, "Actor with name 'plain' does not exist.", "shutdown")


async def test_actor_unknown_name(system: ActorSystem) -> None:
    with pytest.raises(ActorStopped) as info:
        system.actor("nope")
    assert_stopped_error(info.value, "Actor with name 'nope' does not exist.", "shutdown")


async def test_actor_needs_a_running_system(make_system: Any) -> None:
    system = await make_system(start=False)
    system.register("counter", Counter)
    with pytest.raises(ActorStopped) as info:
        system.actor("counter")
    assert_stopped_error(info.value, "ActorSystem is not running.", "shutdown")
    assert system.list_actors() == ()

    await system.start()
    ref = system.actor("counter")
    await system.aclose()
    with pytest.raises(ActorStopped) as info:
        system.actor("counter")
    assert_stopped_error(info.value, "ActorSystem is not running.", "shutdown")
    assert not ref.is_alive()


async def test_messages_sent_right_after_actor_wait_for_on_start(system: ActorSystem) -> None:
    system.register("counter", Counter)
    counter = system.actor("counter")
    # No yield between actor() and the sends: on_start has not run yet.
    await counter.send({"type": "increment", "value": 5})
    await counter.send({"type": "increment", "value": 2})
    assert await counter.ask("get") == 7
    assert system.events()[0] == ActorStarted(address=counter.address.to_dict())


# -- E3 send ---------------------------------------------------------------------------------------


async def test_send_is_tell(system: ActorSystem) -> None:
    ref = system.spawn(Counter)
    assert await ref.send({"value": 3}) is None
    assert await ref.ask("get") == 3


async def test_send_to_a_stopped_actor(system: ActorSystem) -> None:
    ref = system.spawn(Counter)
    await system.stop(ref)
    message = {"value": 1}
    with pytest.raises(ActorStopped) as info:
        await ref.send(message)
    assert_stopped_error(info.value, "Actor is not running.", None)
    [letter] = system.dead_letters.messages
    assert letter.message is message
    assert letter.expects_reply is False
    assert letter.target == ref


# -- E4 clock ------------------------------------------------------------------------------------


async def test_clock_follows_an_injected_time_fn(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    assert system.clock.now() == system.now() == 1000.0
    clock.now = 1234.5
    assert system.clock.now() == system.now() == 1234.5
    assert system.clock is system.clock
    assert isinstance(system.clock, SystemClock)
    assert isinstance(system.clock, Clock)


async def test_clock_inside_an_actor(make_system: Any, clock: Any) -> None:
    system = await make_system(time_fn=clock)
    ref = system.spawn(Counter)
    clock.now = 50.0
    await ref.send({"value": 1})
    assert await ref.ask("get") == 1
    clock.now = 60.0
    await ref.send({"value": 1})
    assert await ref.ask("stamps") == [50.0, 60.0]


async def test_clock_is_read_only(system: ActorSystem) -> None:
    with pytest.raises(AttributeError):
        system.clock = SystemClock(lambda: 0.0)  # type: ignore[misc]


async def test_default_clock_is_epoch_seconds(system: ActorSystem) -> None:
    before = time.time()
    now = system.clock.now()
    system_now = system.now()
    after = time.time()
    assert before <= now <= system_now <= after


def test_system_clock_wraps_a_time_function() -> None:
    readings = iter([1.0, 2.0])
    clock = SystemClock(lambda: next(readings))
    assert clock.now() == 1.0
    assert clock.now() == 2.0

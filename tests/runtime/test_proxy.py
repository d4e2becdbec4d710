"""Actor proxies (actors.md §8): attribute reads, writes and calls executed inside the actor
loop."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from papyra._envelope import Envelope
from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
from papyra.proxy import ActorProxy, ProxyAccessor
from papyra.ref import ActorRef
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class Level:
    def __init__(self) -> None:
        self.level = 1


class Helper:
    def __init__(self) -> None:
        self.factor = 10

    def compute(self, value: int) -> int:
        return value * self.factor


class Account(Actor):
    def __init__(self) -> None:
        self.balance = 0
        self.cfg = Level()
        self.helper = Helper()
        self.received: list[Any] = []
        self._secret = "hidden"

    async def receive(self, message: Any) -> Any:
        self.received.append(message)
        return self.balance

    def add(self, amount: int, *, k: int = 0) -> int:
        self.balance += amount + k
        return self.balance

    async def add_later(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    def awaitable_total(self) -> Awaitable[int]:
        return self._total()

    async def _total(self) -> int:
        return self.balance

    def fail(self) -> None:
        raise ValueError("refused")


def recording_ref() -> tuple[ActorRef, list[Any]]:
    """A ref without a system that records every envelope put into its 'mailbox'."""
    puts: list[Any] = []

    async def put(env: Any) -> None:
        puts.append(env)

    return ActorRef(7, put, lambda: True), puts


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


def kinds(system: ActorSystem, ref: ActorRef) -> list[str]:
    address = ref.address.to_dict()
    return [type(e).__name__ for e in system.events() if e.address == address]


async def test_await_and_get_read_an_attribute(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    assert isinstance(proxy, ActorProxy)
    assert proxy.actor_ref is ref
    assert await proxy.balance == 0
    await ref.tell("deposit")
    assert await proxy.received.get() == ["deposit"]


async def test_set_assigns_and_returns_none(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    assert await proxy.balance.set(42) is None
    assert await proxy.balance == 42
    assert await ref.ask("balance?") == 42  # the actor itself sees the value


async def test_nested_paths(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    accessor = proxy.cfg.level
    assert isinstance(accessor, ProxyAccessor)
    assert accessor.attr_path == ("cfg", "level")
    assert await accessor == 1
    await proxy.cfg.level.set(3)
    assert await proxy.cfg.level.get() == 3
    assert await proxy.helper.compute(4) == 40
    await proxy.helper.factor.set(2)
    assert await proxy.helper.compute(4) == 8


async def test_call_with_args_and_kwargs(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    assert await proxy.add(1, k=2) == 3
    assert await proxy.add(5) == 8
    assert await proxy.balance == 8


async def test_call_awaits_coroutines_and_awaitables(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    assert await proxy.add_later(4) == 4
    assert await proxy.awaitable_total() == 4


async def test_defer_does_not_wait_and_is_ordered(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    assert await proxy.add.defer(5, k=1) is None
    await ref.tell("after-defer")
    await proxy.add.defer(1)
    assert await proxy.balance == 7
    assert await proxy.received == ["after-defer"]  # proxy messages never reach receive()


async def test_proxy_messages_are_serialised_with_ordinary_messages(
    system: ActorSystem,
) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    await ref.tell("a")
    await proxy.add.defer(10)
    await ref.tell("b")
    assert await ref.ask("c") == 10
    assert await proxy.received == ["a", "b", "c"]


async def test_proxy_messages_are_the_documented_types() -> None:
    ref, puts = recording_ref()
    await ref.proxy().cfg.add.defer(1, 2, k=3)
    [env] = puts
    assert isinstance(env, Envelope)
    assert env.message == ProxyCall(("cfg", "add"), (1, 2), {"k": 3})
    assert env.reply is None
    assert ProxyGetAttr(("a",)).attr_path == ("a",)
    assert ProxySetAttr(("a", "b"), 5).value == 5
    assert ProxyCall(("f",)) == ProxyCall(("f",), (), None)


@pytest.mark.parametrize(
    ("make", "path"),
    [
        (lambda p: p._secret, "_secret"),
        (lambda p: p.cfg._level, "cfg._level"),
        (lambda p: p.cfg.__secret__, "cfg.__secret__"),
        (lambda p: p.__dict__, "__dict__"),
    ],
    ids=["top", "nested", "dunder-nested", "dunder"],
)
async def test_private_names_are_refused_in_the_caller(make: Any, path: str) -> None:
    ref, puts = recording_ref()
    with pytest.raises(AttributeError) as info:
        make(ref.proxy())
    assert str(info.value) == f"ActorProxy does not expose private attribute '{path}'"
    assert puts == []


async def test_private_refusal_sends_nothing_to_a_real_actor(system: ActorSystem) -> None:
    ref = system.spawn(Account, name="acc")
    proxy = ref.proxy()
    with pytest.raises(AttributeError):
        proxy._secret
    with pytest.raises(AttributeError):
        proxy.cfg._x
    assert await ref.ask("ping") == 0
    assert await proxy.received == ["ping"]
    assert kinds(system, ref) == ["ActorStarted"]


async def test_runtime_rechecks_private_names(system: ActorSystem) -> None:
    ref = system.spawn(Account, name="acc")
    with pytest.raises(AttributeError) as info:
        await ref.ask(ProxyGetAttr(("_secret",)))
    assert str(info.value).startswith("Actor proxy does not expose private attribute")
    with pytest.raises(AttributeError):
        await ref.ask(ProxyCall(("helper", "_x")))
    with pytest.raises(AttributeError):
        await ref.ask(ProxySetAttr(("_secret",), "exposed"))
    with pytest.raises(AttributeError):
        await ref.ask(ProxySetAttr((), "nothing"))


async def test_missing_attribute_is_an_actor_failure_with_restart(system: ActorSystem) -> None:
    ref = system.spawn(Account, name="acc")
    proxy = ref.proxy()
    await proxy.balance.set(5)

    with pytest.raises(AttributeError) as info:
        await proxy.missing
    crash = system.events()[-2]
    assert isinstance(crash, ActorCrashed)
    assert type(crash.error) is type(info.value)  # a detached copy of what the caller got
    assert crash.error.args == info.value.args
    assert crash.address == ref.address.to_dict()
    assert kinds(system, ref) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]
    assert await proxy.balance == 0  # a fresh instance


@pytest.mark.parametrize(
    ("use", "error"),
    [
        (lambda p: p.missing.get(), AttributeError),
        (lambda p: p.cfg.missing.deeper.set(1), AttributeError),
        (lambda p: p.nothing_here(1), AttributeError),
        (lambda p: p.fail(), ValueError),
        (lambda p: p.add("not a number"), TypeError),
    ],
    ids=["get", "nested-set", "call-missing", "method-raises", "bad-arguments"],
)
async def test_proxy_failure_stops_an_unnamed_actor(
    system: ActorSystem, use: Any, error: type[BaseException]
) -> None:
    ref = system.spawn(Account)
    with pytest.raises(error) as info:
        await use(ref.proxy())
    assert not ref.is_alive()
    await until_stopped(system, ref)
    assert kinds(system, ref) == ["ActorStarted", "ActorCrashed", "ActorStopped"]
    [crash] = [e for e in system.events() if isinstance(e, ActorCrashed)]
    assert type(crash.error) is type(info.value)  # a detached copy of what the caller got
    assert crash.error.args == info.value.args


async def test_deferred_failure_is_supervised(system: ActorSystem) -> None:
    ref = system.spawn(Account, name="acc")
    await ref.proxy().missing.defer()
    assert await ref.ask("after") == 0
    assert kinds(system, ref) == ["ActorStarted", "ActorCrashed", "ActorRestarted"]


async def test_proxy_acts_on_the_current_instance(system: ActorSystem) -> None:
    ref = system.spawn(Account, name="acc")
    proxy = ref.proxy()
    await proxy.add(3)
    with pytest.raises(ValueError):
        await proxy.fail()
    assert await proxy.balance == 0
    assert await proxy.add(2) == 2


async def test_proxy_on_a_dead_ref_is_a_dead_letter(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    await system.stop(ref)
    with pytest.raises(ActorStopped) as info:
        ref.proxy()
    assert str(info.value) == "Actor is not running."
    assert info.value.reason is None
    [letter] = system.dead_letters.messages
    assert letter.message == "proxy"
    assert letter.expects_reply is True
    assert letter.target == ref
    assert letter.target._rid == ref._rid


async def test_existing_proxy_on_a_stopped_actor_raises(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    await system.stop(ref)
    await until_stopped(system, ref)
    with pytest.raises(ActorStopped):
        await proxy.balance
    [letter] = system.dead_letters.messages
    assert letter.message == ProxyGetAttr(("balance",))
    assert letter.expects_reply is True


async def test_proxy_objects_are_immutable(system: ActorSystem) -> None:
    ref = system.spawn(Account)
    proxy = ref.proxy()
    with pytest.raises(FrozenInstanceError):
        proxy.actor_ref = ref  # type: ignore[misc]
    accessor = proxy.balance
    with pytest.raises(FrozenInstanceError):
        accessor.attr_path = ("x",)  # type: ignore[misc]
    assert proxy.balance == accessor  # accessors are plain values
    await system.wait_for_event(ActorStarted, timeout=5)

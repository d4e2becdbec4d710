"""Typed actors and refs at run time (issue 13 §5): the parameters change nothing.

``Actor[M, R]`` subclasses and the refs ``spawn`` returns for them behave exactly like bare
ones on every backend and twin: same ref class, same slots, same equality, same messages
delivered (the types are not checked at run time, a wrong message still reaches ``receive``).
The static side is pinned by tests/api/test_typing.py.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.system import STOP, ActorSystem

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Increment:
    by: int = 1


class Counter(Actor[Increment, int]):
    def __init__(self) -> None:
        self.value = 0
        self.seen: list[Any] = []

    async def receive(self, message: Increment) -> int:
        self.seen.append(message)
        if isinstance(message, Increment):
            self.value += message.by
        return self.value


class Bare(Actor):
    async def receive(self, message: Any) -> Any:
        return message


def test_parameters_are_for_type_checkers_only() -> None:
    # Both classes are generic with two parameters that default to Any (PEP 696).
    for cls in (Actor, ActorRef):
        m, r = cls.__parameters__  # type: ignore[attr-defined]
        assert (m.__default__, r.__default__) == (Any, Any)
        assert (m.__contravariant__, r.__covariant__) == (True, True)
    alias = ActorRef[Increment, int]
    assert typing.get_origin(alias) is ActorRef
    assert typing.get_args(alias) == (Increment, int)
    assert typing.get_args(Counter.__orig_bases__[0]) == (Increment, int)  # type: ignore[attr-defined]
    # No per-instance cost: the ref keeps its slots and gets no __dict__.
    assert ActorRef.__slots__ == (
        "_rid", "_mailbox_put", "_is_alive", "_dead_letter", "_address", "_cell",
    )
    assert "__init__" not in vars(typing.Generic)
    assert "__new__" not in vars(typing.Generic)


async def test_typed_actor_and_ref_behave_as_before(system: ActorSystem) -> None:
    ref = system.spawn(Counter, name="counter")
    bare = system.spawn(Bare)
    assert type(ref) is type(bare)  # the same ref class, typed or not
    assert isinstance(ref, ActorRef)
    assert not hasattr(ref, "__dict__")
    await ref.tell(Increment(2))
    await ref.send(Increment(3))
    assert await ref.ask(Increment(), timeout=5) == 6
    assert await bare.ask("echo") == "echo"
    # Equal and hash-equal to the ref looked up by name, as bare refs are.
    same = system.actor("counter")
    assert same == ref
    assert hash(same) == hash(ref)
    assert repr(ref) == repr(same)


async def test_types_are_not_checked_at_run_time(system: ActorSystem) -> None:
    actor: list[Counter] = []

    def factory() -> Counter:
        actor.append(Counter())
        return actor[0]

    ref = system.spawn(factory)
    await ref.tell("not an Increment")  # type: ignore[arg-type]  # mypy refuses it; it runs
    assert await ref.ask(Increment()) == 1
    assert actor[0].seen == ["not an Increment", Increment()]


async def test_stop_and_proxy_through_a_typed_ref(system: ActorSystem) -> None:
    ref = system.spawn(Counter)
    assert await ref.proxy().value == 0
    assert await ref.ask(Increment()) == 1
    assert await ref.ask(STOP) is None
    assert not ref.is_alive()
    with pytest.raises(ActorStopped):
        await ref.tell(Increment())

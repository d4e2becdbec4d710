"""Uses of typed actors and refs that ``mypy --strict`` must accept without a single error."""

from __future__ import annotations

from functools import partial
from typing import Any

from typing_extensions import assert_type

from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.system import STOP, ActorSystem
from tests.api.typing_samples.messages import (
    Counter,
    Increment,
    LegacyActor,
    LegacyNarrow,
    Reset,
    Resettable,
)


async def bump(ref: ActorRef[Increment, int]) -> int:
    return await ref.ask(Increment(2))


async def anything(ref: ActorRef) -> Any:
    return await ref.ask("ping")


async def typed(system: ActorSystem) -> None:
    ref = system.spawn(Counter, name="counter")
    assert_type(ref, ActorRef[Increment, int])
    assert_type(await ref.ask(Increment()), int)
    assert_type(await ref.ask(Increment(), timeout=1.5), int)
    await ref.tell(Increment(3))
    await ref.send(Increment(3))
    assert_type(await bump(ref), int)
    await ref.tell(STOP)  # STOP is accepted by every ref
    assert_type(await ref.ask(STOP), None)

    from_factory = system.spawn(lambda: Counter())
    assert_type(from_factory, ActorRef[Increment, int])
    from_partial = system.spawn(partial(Counter))
    assert_type(from_partial, ActorRef[Increment, int])
    annotated: ActorRef[Increment, int] = system.actor("counter")
    assert_type(await annotated.ask(Increment()), int)

    # A ref that accepts more messages (contravariance of M) stands in for a narrower one.
    wide = system.spawn(Resettable)
    assert_type(wide, ActorRef[Increment | Reset, int])
    assert_type(await bump(wide), int)
    # A reply may be read as a supertype (covariance of R).
    loose: ActorRef[Increment, object] = ref
    assert_type(await loose.ask(Increment()), object)
    # A typed ref goes wherever a bare one is expected.
    await anything(ref)


async def untyped(system: ActorSystem) -> None:
    old = system.spawn(LegacyActor)
    assert_type(old, ActorRef[Any, Any])
    await old.tell("anything")
    await old.tell(42)
    reply = await old.ask({"any": "thing"})
    assert_type(reply, Any)
    assert_type(await bump(old), int)  # an untyped ref passes as a typed one, as Any does

    narrow = system.spawn(LegacyNarrow)
    await narrow.tell("still anything: the actor is bare")

    looked_up = system.actor("counter")
    assert_type(looked_up, ActorRef[Any, Any])
    bare: ActorRef = system.spawn(Counter)
    await bare.tell("bare refs accept anything")



# The package root re-exports its public names for type checkers too.
from papyra import Actor as RootActor  # noqa: E402
from papyra import ActorRef as RootActorRef  # noqa: E402
from papyra import ActorSystem as RootActorSystem  # noqa: E402


class RootCounter(RootActor[Increment, int]):
    async def receive(self, message: Increment) -> int:
        return message.by


async def root_uses(system: RootActorSystem) -> None:
    ref: RootActorRef[Increment, int] = system.spawn(RootCounter)
    assert_type(await ref.ask(Increment()), int)


class Parent(RootActor[str, ActorRef[Increment, int]]):
    """``spawn_child`` is typed like ``spawn``."""

    async def receive(self, message: str) -> ActorRef[Increment, int]:
        child = self.context.spawn_child(Counter)
        assert_type(child, ActorRef[Increment, int])
        return child


def policies() -> None:
    # ``strategy`` by member, value or name; the field always holds the member.
    by_name = SupervisionPolicy(strategy="restart", max_restarts=5)
    assert_type(by_name.strategy, Strategy)
    SupervisionPolicy(Strategy.ESCALATE, 1, 10.0)

"""Uses that ``mypy --strict`` must reject: each wrong line ends with ``# E: <error code>``.

tests/api/test_typing.py checks that mypy reports exactly these lines, with these codes.
"""

from __future__ import annotations

from papyra.actor import Actor
from papyra.ref import ActorRef
from papyra.system import ActorSystem
from tests.api.typing_samples.messages import Counter, Increment, Reset


async def reset(ref: ActorRef[Reset, int]) -> None:
    await ref.tell(Reset())


async def wrong(system: ActorSystem) -> None:
    ref = system.spawn(Counter)
    await ref.tell("x")  # E: arg-type
    await ref.send(Reset())  # E: arg-type
    await ref.ask("x")  # E: call-overload
    text: str = await ref.ask(Increment())  # E: assignment
    await reset(ref)  # E: arg-type
    wider: ActorRef[Increment | Reset, int] = ref  # E: assignment
    exact: ActorRef[Increment, bool] = ref  # E: assignment
    del text, wider, exact


class WrongMessage(Actor[Increment, int]):
    async def receive(self, message: Reset) -> int:  # E: override
        return 0


class WrongReply(Actor[Increment, int]):
    async def receive(self, message: Increment) -> str:  # E: override
        return ""


class WrongChildUse(Actor[str, None]):
    async def receive(self, message: str) -> None:
        child = self.context.spawn_child(Counter)
        await child.tell("x")  # E: arg-type

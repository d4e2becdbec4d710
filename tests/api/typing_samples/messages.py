"""Messages and actors shared by the typing samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from papyra.actor import Actor

__all__ = ("Counter", "Increment", "LegacyActor", "LegacyNarrow", "Reset", "Resettable")


@dataclass(frozen=True)
class Increment:
    by: int = 1


@dataclass(frozen=True)
class Reset:
    pass


class Counter(Actor[Increment, int]):
    """Receives ``Increment``, replies with the new count."""

    def __init__(self) -> None:
        self.value = 0

    async def receive(self, message: Increment) -> int:
        self.value += message.by
        return self.value


class Resettable(Actor[Increment | Reset, int]):
    """Accepts more messages than ``Counter``: its refs can stand in for ``Counter``'s."""

    def __init__(self) -> None:
        self.value = 0

    async def receive(self, message: Increment | Reset) -> int:
        self.value = 0 if isinstance(message, Reset) else self.value + message.by
        return self.value


class LegacyActor(Actor):
    """Papyra 0.3.0 style: no parameters, ``Any`` in and out."""

    async def receive(self, message: Any) -> Any:
        return message


class LegacyNarrow(Actor):
    """Also 0.3.0 style: a bare ``Actor`` whose ``receive`` annotates a narrower message."""

    async def receive(self, message: Increment) -> int | None:
        return message.by

"""Typing aids for actors; no runtime effect."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeAlias, TypeVar, runtime_checkable

__all__ = ("MessageT", "Priority", "Receives", "ReceivesAny", "ReturnT")

#: The ``priority`` option of ``spawn``: a class, an iterable of classes (urgent messages are
#: instances of one of them), or a predicate called with each sent message.
Priority: TypeAlias = type | Iterable[type] | Callable[[Any], object]

MessageT = TypeVar("MessageT", contravariant=True)
ReturnT = TypeVar("ReturnT", covariant=True)


@runtime_checkable
class Receives(Protocol[MessageT, ReturnT]):
    """An actor whose ``receive`` takes ``MessageT`` and returns ``ReturnT``."""

    async def receive(self, msg: MessageT) -> ReturnT:
        """Handle ``msg`` and return the reply (the method of :class:`~papyra.actor.Actor`)."""
        ...


@runtime_checkable
class ReceivesAny(Protocol):
    """An actor that accepts any message."""

    async def receive(self, msg: Any) -> Any:
        """Handle any message and return the reply."""
        ...

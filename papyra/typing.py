"""Typing aids for actors; no runtime effect."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ("MessageT", "Receives", "ReceivesAny", "ReturnT")

MessageT = TypeVar("MessageT", contravariant=True)
ReturnT = TypeVar("ReturnT", covariant=True)


@runtime_checkable
class Receives(Protocol[MessageT, ReturnT]):
    """An actor whose ``receive`` takes ``MessageT`` and returns ``ReturnT``."""

    async def receive(self, msg: MessageT) -> ReturnT: ...


@runtime_checkable
class ReceivesAny(Protocol):
    """An actor that accepts any message."""

    async def receive(self, msg: Any) -> Any: ...

"""Attribute-style access to an actor, executed inside the actor's loop."""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from papyra.messages import AttrPath, ProxyCall, ProxyGetAttr, ProxySetAttr

if TYPE_CHECKING:
    from papyra.ref import ActorRef

__all__ = ("ActorProxy", "ProxyAccessor")


def _check_public(path: AttrPath) -> None:
    if any(part.startswith("_") for part in path):
        raise AttributeError(
            f"ActorProxy does not expose private attribute '{'.'.join(path)}'"
        )


@dataclass(frozen=True, slots=True)
class ActorProxy:
    """``ref.proxy()``: ``await proxy.counter`` reads, ``await proxy.add(1)`` calls,
    ``await proxy.cfg.level.set(3)`` assigns. Each access is one message to the actor, handled
    in order with its other messages; a failure there is an actor failure (supervised) and is
    raised here. Names starting with ``_`` are refused before anything is sent.
    """

    actor_ref: ActorRef

    def __getattr__(self, name: str) -> ProxyAccessor:
        path = (name,)
        _check_public(path)
        return ProxyAccessor(actor_ref=self.actor_ref, attr_path=path)


@dataclass(frozen=True, slots=True)
class ProxyAccessor:
    """One attribute path of a proxied actor."""

    actor_ref: ActorRef
    attr_path: AttrPath

    def __getattr__(self, name: str) -> ProxyAccessor:
        path = (*self.attr_path, name)
        _check_public(path)
        return ProxyAccessor(actor_ref=self.actor_ref, attr_path=path)

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        """Call the attribute in the actor and return (an awaitable of) its result."""
        return self.actor_ref.ask(ProxyCall(self.attr_path, args, dict(kwargs)))

    async def defer(self, *args: Any, **kwargs: Any) -> None:
        """Call the attribute in the actor without waiting for the result."""
        await self.actor_ref.tell(ProxyCall(self.attr_path, args, dict(kwargs)))

    async def get(self) -> Any:
        """Read the attribute's current value."""
        return await self.actor_ref.ask(ProxyGetAttr(self.attr_path))

    async def set(self, value: Any) -> None:
        """Assign the attribute; returns once the actor did it."""
        await self.actor_ref.ask(ProxySetAttr(self.attr_path, value))

    def __await__(self) -> Generator[Any, None, Any]:
        return self.get().__await__()

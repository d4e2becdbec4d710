"""System messages used by actor proxies; the runtime executes them before ``receive``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ("AttrPath", "ProxyCall", "ProxyGetAttr", "ProxySetAttr")

AttrPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProxyCall:
    """Call ``actor.<attr_path>(*args, **kwargs)`` inside the actor (awaited if awaitable)."""

    attr_path: AttrPath
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ProxyGetAttr:
    """Read ``actor.<attr_path>`` inside the actor."""

    attr_path: AttrPath


@dataclass(frozen=True, slots=True)
class ProxySetAttr:
    """Assign ``actor.<attr_path> = value`` inside the actor."""

    attr_path: AttrPath
    value: Any

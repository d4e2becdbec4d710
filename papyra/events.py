"""Lifecycle events emitted by the system (``system.events()``, hooks, persistence)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = (
    "ActorCrashed",
    "ActorEvent",
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "to_plain",
)


def to_plain(value: Any) -> Any:
    """Convert ``value`` to JSON-friendly plain data (the rule used for event payloads)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return repr(value)


@dataclass(slots=True, frozen=True)
class ActorEvent:
    """Base of every lifecycle event; ``address`` is ``{"system": str, "actor_id": int}``."""

    address: dict[str, object]

    @property
    def payload(self) -> dict[str, object]:
        """Every field but ``address``, as plain data (what gets persisted)."""
        return {
            f.name: to_plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "address"
        }


@dataclass(slots=True, frozen=True)
class ActorStarted(ActorEvent):
    """The actor's first ``on_start`` succeeded (not re-emitted on restarts)."""


@dataclass(slots=True, frozen=True)
class ActorRestarted(ActorEvent):
    """A restart completed: the new instance's ``on_start`` succeeded."""

    reason: BaseException | str


@dataclass(slots=True, frozen=True)
class ActorStopped(ActorEvent):
    """The actor terminated permanently, after its ``on_stop``."""

    reason: str | None = None


@dataclass(slots=True, frozen=True)
class ActorCrashed(ActorEvent):
    """A failure was handled (emitted before the supervision decision is applied)."""

    error: BaseException
    reason: str | None = None

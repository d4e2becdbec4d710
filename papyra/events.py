"""Lifecycle events emitted by the system (``system.events()``, hooks, persistence)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from papyra import _crash

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
        return _crash.reason(value)  # never raises, even for an exception that cannot print
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
    """A failure was handled (emitted before the supervision decision is applied).

    ``reason`` is ``"TypeName: message"``. ``error_type`` (``module.QualName``, bare for
    builtins), ``error_message`` and ``error_traceback`` (formatted, bounded) describe the
    failure as text, and are persisted with the event. The runtime sets ``error`` to a
    detached copy of the exception (same class, arguments and attributes, no traceback): the
    event log never keeps the failing frames alive. The exception itself, traceback included,
    goes to the ``ask`` caller and to the ``on_failure`` hook.
    """

    error: BaseException
    reason: str | None = None
    error_type: str = ""
    error_message: str = ""
    error_traceback: str = ""

    def __post_init__(self) -> None:
        if not self.error_type:  # made without the text (e.g. by 0.3.0 code): derive it
            object.__setattr__(self, "error_type", _crash.type_name(self.error))
            object.__setattr__(self, "error_message", _crash.message(self.error))

"""Lifecycle events emitted by the system (``system.events()``, hooks, persistence), and
:class:`EventSubscription`, the iterator behind ``system.subscribe()``."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from papyra import _crash

__all__ = (
    "ActorCrashed",
    "ActorEvent",
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "EventSubscription",
    "MissedEvents",
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


#: The fields that say which actor an event is about; not part of its ``payload``.
_IDENTITY = frozenset({"address", "actor_name", "actor_type"})


@dataclass(slots=True, frozen=True)
class ActorEvent:
    """Base of every lifecycle event; ``address`` is ``{"system": str, "actor_id": int}``.

    The runtime also sets ``actor_name`` (the actor's registered name, ``None`` for an unnamed
    actor) and ``actor_type`` (the ``__qualname__`` of its class), keyword-only. They describe
    the actor the address already identifies, so they take no part in equality (an event
    compares as in 0.3.0) and are not in ``payload``: they are persisted as fields of their own.
    """

    address: dict[str, object]
    actor_name: str | None = dataclasses.field(default=None, kw_only=True, compare=False)
    actor_type: str | None = dataclasses.field(default=None, kw_only=True, compare=False)

    @property
    def payload(self) -> dict[str, object]:
        """Every field but the actor's identity, as plain data (what gets persisted)."""
        return {
            f.name: to_plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _IDENTITY
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


@dataclass(frozen=True, slots=True)
class MissedEvents:
    """What an :class:`EventSubscription` yields in place of events it can no longer show.

    ``count`` events, from index ``start_index`` on (indices count every event the system
    ever emitted, as in ``wait_for_event``), were discarded from the system's event buffer
    (its newest ``max_events``) before the subscriber got to them. The next item is the event
    at index ``start_index + count``.
    """

    count: int
    start_index: int


class _EventSource(Protocol):
    """What a subscription reads: the system's event ring (``papyra._facts.Facts``)."""

    events: deque[ActorEvent]
    events_total: int
    event_waiters: list[Any]
    ended: bool
    create_future: Callable[[], Any]


class EventSubscription:
    """An async iterator over a system's lifecycle events, in emission order, from an index on.

    Made by ``ActorSystem.subscribe()``. It reads the system's bounded event buffer (the
    newest ``max_events`` events) through a cursor of its own, so it holds no events itself
    and costs the system nothing per event: a consumer that falls more than ``max_events``
    events behind gets one :class:`MissedEvents` item saying how many it lost, then the
    retained events. Every other event is yielded exactly once. Iteration ends once the
    system has closed and every event emitted until then was yielded (the ``ActorStopped``
    events of the shutdown included). Use it from a task of its own: an actor that iterates
    it in ``receive`` would keep the system from closing.
    """

    __slots__ = ("_index", "_source")

    def __init__(self, source: _EventSource, start_index: int) -> None:
        self._source = source
        self._index = start_index

    @property
    def next_index(self) -> int:
        """The index of the next event this subscription yields (a ``start_index``)."""
        return self._index

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> ActorEvent | MissedEvents:
        source = self._source
        while True:
            index = self._index
            total = source.events_total
            if index < total:
                events = source.events
                base = total - len(events)
                if index < base:
                    self._index = base
                    return MissedEvents(base - index, index)
                self._index = index + 1
                return events[index - base]
            if source.ended:
                raise StopAsyncIteration
            waiter = source.create_future()
            source.event_waiters.append(waiter)
            await waiter

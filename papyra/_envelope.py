"""Transport types between senders and an actor's mailbox.

``Envelope`` is allocated only when a message needs company (an ``ask`` carries its reply slot);
a plain ``tell`` puts the bare message in the mailbox. The dispatch loop accepts both.
"""

from __future__ import annotations

import types
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Final

__all__ = ("STOP", "ActorTerminated", "DeadLetter", "Envelope", "Reply", "Traced", "untraced")


class _Stop:
    """Type of the :data:`STOP` sentinel."""

    __slots__ = ()
    _instance: _Stop | None = None

    def __new__(cls) -> _Stop:
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<PapyraStop>"

    def __reduce__(self) -> str:
        return "STOP"


#: Told to an actor (``await ref.tell(STOP)``), it ends the actor's loop when dequeued: every
#: message enqueued before it is processed first.
STOP: Final = _Stop()


class Envelope:
    """A message with its optional reply slot (a one-shot future completed by the actor).

    Treat as immutable. Kept as a plain ``__slots__`` class rather than a frozen dataclass: it
    is built once per ``ask``, and a frozen dataclass constructor costs twice as much.
    """

    __slots__ = ("message", "reply")
    __match_args__ = ("message", "reply")

    def __init__(self, message: Any, reply: Any = None) -> None:
        self.message = message
        self.reply = reply

    def __repr__(self) -> str:
        return f"Envelope(message={self.message!r}, reply={self.reply!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Envelope:
            return NotImplemented
        return self.message == other.message and self.reply is other.reply

    __hash__ = None  # type: ignore[assignment]


class Traced:
    """A message sent with tracing on (:mod:`papyra.tracing`): the message and the sender's
    OpenTelemetry context. The kernel hands it to the host like a proxy message; the host
    handles ``message`` inside a span whose parent is ``context``. Never seen by an actor."""

    __slots__ = ("context", "message")

    def __init__(self, message: Any, context: Any) -> None:
        self.message = message
        self.context = context

    def __repr__(self) -> str:
        return f"Traced({self.message!r})"


def untraced(message: Any) -> Any:
    """``message`` without its :class:`Traced` wrapper (for dead letters)."""
    return message.message if type(message) is Traced else message


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply value or error (kept for API compatibility; replies travel on futures)."""

    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True)
class ActorTerminated:
    """Delivered to every watcher of an actor when it terminates permanently.

    ``ref`` is an inert reference to the terminated actor: ``ref.is_alive()`` is always False.
    """

    ref: Any


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be delivered (or could never be processed) by ``target``."""

    target: Any
    message: Any
    expects_reply: bool


@types.coroutine
def bare_yield() -> Generator[None, None, None]:
    """Let an asyncio loop run everything else once: ``asyncio.sleep(0)`` minus a frame.

    Lives in this pure-Python module (not the dispatch twins) so that it stays a generator
    ``types.coroutine`` can mark: the compiled twin awaits it like any coroutine.
    """
    yield

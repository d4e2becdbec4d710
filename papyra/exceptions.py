"""Exceptions raised by the actor runtime."""

from __future__ import annotations

__all__ = (
    "ActorStopped", "AskDeadlock", "AskTimeout", "EventNotEmitted", "MailboxClosed",
    "MessageNotSerializable", "PapyraError", "RemoteError",
)


class PapyraError(Exception):
    """Base class of every Papyra exception."""


class ActorStopped(PapyraError):
    """The target actor (or the whole system) is not running.

    ``reason`` is ``"shutdown"`` for system-level refusals (closed or not started system, unknown
    actor) and ``None`` for a message sent to an actor that is no longer running.
    """

    def __init__(self, message: str = "Actor stopped", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class AskTimeout(PapyraError):
    """``ask(..., timeout=t)`` got no reply within ``t`` seconds (including any wait for room)."""


class AskDeadlock(PapyraError, RuntimeError):
    """An actor ``ask``-ed itself from its own task (``receive``, ``on_start``, a proxied call,
    or a parent's ``on_child_failure`` asking the failing child).

    The reply could only come from the message loop that is busy running the asking code, so
    the call would wait forever; it is refused at once instead and nothing is enqueued. Use
    ``tell``, or call the method directly.
    """

    def __init__(
        self,
        message: str = (
            "An actor cannot ask itself from its own task: the reply would wait for the "
            "message it is handling. Use tell(), or call the method directly."
        ),
    ) -> None:
        super().__init__(message)


class MailboxClosed(PapyraError):
    """``Mailbox.put`` on a mailbox whose send side is closed."""


class EventNotEmitted(PapyraError, TimeoutError):
    """``wait_for_event`` on a system that has closed, when no retained event matches.

    A closed system emits nothing more, so the wait could only end by its timeout (or never,
    with ``timeout=None``); it ends at once instead. A ``TimeoutError``, so code written for
    0.3.0, which timed out, keeps working.
    """


class MessageNotSerializable(PapyraError, TypeError):
    """A message sent to an actor of another member cannot be carried by the cluster codec.

    Raised by the ``tell``/``ask`` that sends it, before anything is sent (docs/cluster.md).
    """


class RemoteError(PapyraError):
    """The handler of an ``ask`` on another member raised; no pickle crosses the wire.

    ``type_name`` is the qualified name of the exception class raised there (e.g.
    ``"builtins.ValueError"``), ``message`` its ``str()``, ``system`` the member that ran the
    handler.
    """

    def __init__(self, type_name: str, message: str, *, system: str) -> None:
        super().__init__(f"{type_name}: {message} (raised on {system})")
        self.type_name = type_name
        self.message = message
        self.system = system

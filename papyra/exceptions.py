"""Exceptions raised by the actor runtime."""

from __future__ import annotations

__all__ = ("ActorStopped", "AskTimeout", "MailboxClosed", "PapyraError")


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


class MailboxClosed(PapyraError):
    """``Mailbox.put`` on a mailbox whose send side is closed."""

"""Decisions a parent can return from ``Actor.on_child_failure``."""

from __future__ import annotations

from enum import Enum

__all__ = ("SupervisorDecision",)


class SupervisorDecision(str, Enum):
    """``IGNORE`` behaves like ``STOP``: a failed message is never resumed."""

    RESTART = "restart"
    STOP = "stop"
    ESCALATE = "escalate"
    IGNORE = "ignore"

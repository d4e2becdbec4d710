"""What an actor's own supervision does when it fails."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ("Strategy", "SupervisionPolicy")


class Strategy(str, Enum):
    """``STOP`` the actor, ``RESTART`` it with a fresh instance, or ``ESCALATE`` to its parent."""

    STOP = "stop"
    RESTART = "restart"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    """Strategy plus restart budget: at most ``max_restarts`` within ``within_seconds``.

    ``max_restarts=0`` never restarts. The window is measured with the system clock.
    """

    strategy: Strategy = Strategy.STOP
    max_restarts: int = 3
    within_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")
        if self.within_seconds < 0:
            raise ValueError("within_seconds must be >= 0")

"""What an actor's own supervision does when it fails."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from papyra._validate import enum_member

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
    ``strategy`` takes a :class:`Strategy`, its value or its name in any case (``"restart"``,
    ``"RESTART"``) and always holds the member; any other string raises ``ValueError``, any
    other type ``TypeError``.
    """

    strategy: Strategy = Strategy.STOP
    max_restarts: int = 3
    within_seconds: float = 60.0

    def __post_init__(self) -> None:
        strategy = self.strategy
        if type(strategy) is not Strategy:
            object.__setattr__(
                self, "strategy", enum_member(Strategy, strategy, "supervision strategy")
            )
        max_restarts = self.max_restarts
        if not isinstance(max_restarts, int) or isinstance(max_restarts, bool):
            raise TypeError(f"max_restarts must be an int >= 0, not {max_restarts!r}.")
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, not {max_restarts!r}.")
        within = self.within_seconds
        if not isinstance(within, (int, float)) or isinstance(within, bool):
            raise TypeError(f"within_seconds must be a number >= 0, not {within!r}.")
        if not within >= 0:  # NaN too
            raise ValueError(f"within_seconds must be a number >= 0, not {within!r}.")

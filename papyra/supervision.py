"""What an actor's own supervision does when it fails."""

from __future__ import annotations

import dataclasses
import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from papyra._validate import enum_member

__all__ = ("Strategy", "SupervisionPolicy")

# The backoff fields and their defaults ("no backoff"); left out of the repr while at them.
_BACKOFF_DEFAULTS: dict[str, object] = {
    "backoff_min": 0.0,
    "backoff_max": math.inf,
    "backoff_factor": 2.0,
    "backoff_jitter": 0.0,
    "backoff_reset_after": None,
    "backoff_random": None,
}


class Strategy(str, Enum):
    """``STOP`` the actor, ``RESTART`` it with a fresh instance, or ``ESCALATE`` to its parent."""

    STOP = "stop"
    RESTART = "restart"
    ESCALATE = "escalate"


def _number(name: str, value: object, rule: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number {rule}, not {value!r}.")
    return float(value)


@dataclass(frozen=True, slots=True, repr=False)
class SupervisionPolicy:
    """Strategy plus restart budget: at most ``max_restarts`` within ``within_seconds``.

    ``max_restarts=0`` never restarts. The window is measured with the system clock.
    ``strategy`` takes a :class:`Strategy`, its value or its name in any case (``"restart"``,
    ``"RESTART"``) and always holds the member.

    **Restart backoff** (off by default: ``backoff_min=0``). The *n*-th consecutive restart
    waits ``min(backoff_max, backoff_min * backoff_factor ** (n - 1))`` seconds, shortened by
    up to the fraction ``backoff_jitter`` of it: the delay is ``base * (1 - backoff_jitter *
    r)`` with ``r = backoff_random()`` in ``[0, 1)`` (:func:`random.random` when ``None``;
    inject a function to make it deterministic). The count of consecutive restarts starts over
    once an instance has run ``backoff_reset_after`` seconds of the system clock without
    failing (``None``: ``within_seconds``). See :meth:`backoff_delay`.
    ``backoff_random`` takes no part in equality.

    Every field is checked when the policy is made:

    :raises ValueError: a ``strategy`` string that names no strategy; a negative
        ``max_restarts`` or ``within_seconds``; a ``backoff_*`` value out of range
        (``backoff_min`` finite and >= 0, ``backoff_max`` >= ``backoff_min``,
        ``backoff_factor`` finite and >= 1, ``backoff_jitter`` in [0, 1],
        ``backoff_reset_after`` >= 0); NaN anywhere.
    :raises TypeError: a ``strategy`` that is neither a string nor a :class:`Strategy`, a
        ``max_restarts`` that is not an int, a number field that is not a number (a ``bool``
        included), or a ``backoff_random`` that is not callable.
    """

    strategy: Strategy = Strategy.STOP
    max_restarts: int = 3
    within_seconds: float = 60.0
    backoff_min: float = 0.0
    backoff_max: float = math.inf
    backoff_factor: float = 2.0
    backoff_jitter: float = 0.0
    backoff_reset_after: float | None = None
    backoff_random: Callable[[], float] | None = dataclasses.field(default=None, compare=False)

    if TYPE_CHECKING:  # the constructor type checkers see: ``strategy`` also by name
        def __init__(
            self,
            strategy: Strategy | str = Strategy.STOP,
            max_restarts: int = 3,
            within_seconds: float = 60.0,
            backoff_min: float = 0.0,
            backoff_max: float = math.inf,
            backoff_factor: float = 2.0,
            backoff_jitter: float = 0.0,
            backoff_reset_after: float | None = None,
            backoff_random: Callable[[], float] | None = None,
        ) -> None: ...

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
        low = _number("backoff_min", self.backoff_min, ">= 0")
        if not (low >= 0 and math.isfinite(low)):  # NaN fails every comparison
            raise ValueError(
                f"backoff_min must be a finite number >= 0, not {self.backoff_min!r}."
            )
        high = _number("backoff_max", self.backoff_max, ">= backoff_min")
        if not high >= low:
            raise ValueError(
                f"backoff_max must be a number >= backoff_min ({self.backoff_min!r}), "
                f"not {self.backoff_max!r}."
            )
        factor = _number("backoff_factor", self.backoff_factor, ">= 1")
        if not (factor >= 1 and math.isfinite(factor)):
            raise ValueError(
                f"backoff_factor must be a finite number >= 1, not {self.backoff_factor!r}."
            )
        jitter = _number("backoff_jitter", self.backoff_jitter, "in [0, 1]")
        if not 0 <= jitter <= 1:
            raise ValueError(
                f"backoff_jitter must be a number in [0, 1], not {self.backoff_jitter!r}."
            )
        reset = self.backoff_reset_after
        if reset is not None and not _number("backoff_reset_after", reset, ">= 0 or None") >= 0:
            raise ValueError(f"backoff_reset_after must be a number >= 0 or None, not {reset!r}.")
        rand = self.backoff_random
        if rand is not None and not callable(rand):
            raise TypeError(f"backoff_random must be a callable or None, not {rand!r}.")

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _BACKOFF_DEFAULTS and value == _BACKOFF_DEFAULTS[f.name]:
                continue  # a backoff field at its default: the 0.3.0 repr is unchanged
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def has_backoff(self) -> bool:
        """Whether restarts wait at all (``backoff_min > 0``)."""
        return self.backoff_min > 0

    @property
    def reset_after(self) -> float:
        """Seconds without failing after which the backoff count starts over."""
        reset = self.backoff_reset_after
        return self.within_seconds if reset is None else reset

    def backoff_delay(self, attempt: int) -> float:
        """The delay (seconds) before the ``attempt``-th consecutive restart (from 1).

        0 without backoff. ``backoff_random`` is called once per call when ``backoff_jitter``
        is above 0; a value outside ``[0, 1]`` is clamped.
        """
        if not self.backoff_min > 0 or attempt < 1:
            return 0.0
        try:
            base = self.backoff_min * self.backoff_factor ** (attempt - 1)
        except OverflowError:
            base = math.inf
        base = min(base, self.backoff_max)
        jitter = self.backoff_jitter
        if jitter > 0:
            rand = self.backoff_random or _random.random
            r = float(rand())
            r = min(max(r, 0.0), 1.0) if r == r else 0.0  # NaN counts as 0
            base *= 1.0 - jitter * r
        return base


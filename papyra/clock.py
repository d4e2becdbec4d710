"""The system clock: ``system.clock.now()`` always equals ``system.now()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ("Clock", "SystemClock")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """A :class:`Clock` reading a time function (``time.time`` unless one was injected)."""

    __slots__ = ("_time_fn",)

    def __init__(self, time_fn: Callable[[], float]) -> None:
        self._time_fn = time_fn

    def now(self) -> float:
        return self._time_fn()

    def __repr__(self) -> str:
        return f"SystemClock({self._time_fn!r})"

"""Helpers shared by the test packages (imported as ``tests.support``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from papyra.actor import Actor

REPO_ROOT = Path(__file__).resolve().parents[1]


class ManualClock:
    """A time function the test moves by hand: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Gate(Actor):
    """Blocks on ``"block"`` until ``Gate.release`` is set, so tests can fill its mailbox.

    ``"seen"`` returns what it recorded, ``"crash"`` raises; anything else is recorded.
    The ``gate`` fixture gives every test fresh ``entered`` / ``release`` events.
    """

    entered: anyio.Event
    release: anyio.Event

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "block":
            Gate.entered.set()
            await Gate.release.wait()
            return None
        if message == "seen":
            return list(self.seen)
        if message == "crash":
            raise RuntimeError("crash")
        self.seen.append(message)
        return message

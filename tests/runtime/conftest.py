"""Fixtures for the runtime tests: started systems on both dispatch twins and both anyio backends.

Every system made here runs on ``impl.dispatch`` (the python or the cython twin), so each async
test runs four times: {asyncio, trio} x {python, cython}. Systems are closed in the reverse order
of their creation (their task groups nest), in the test's own task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from papyra.system import ActorSystem

MakeSystem = Callable[..., Awaitable[ActorSystem]]


class ManualClock:
    """A time function the test moves by hand: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def make_system(impl: Any) -> AsyncIterator[MakeSystem]:
    """Factory: ``await make_system(time_fn=..., hooks=..., start=False, ...)``.

    Keyword arguments go to ``ActorSystem`` (``_dispatch`` defaults to the twin under test).
    The system is started unless ``start=False``. Every system made is closed at teardown.
    """
    created: list[ActorSystem] = []

    async def make(*, start: bool = True, **kwargs: Any) -> ActorSystem:
        kwargs.setdefault("_dispatch", impl.dispatch)
        system = ActorSystem(**kwargs)
        created.append(system)
        if start:
            await system.start()
        return system

    try:
        yield make
    finally:
        for system in reversed(created):
            await system.aclose()


@pytest.fixture
async def system(make_system: MakeSystem) -> ActorSystem:
    """A started ``ActorSystem`` with default arguments (closed by ``make_system``'s teardown)."""
    return await make_system()


@pytest.fixture
async def make_gate(make_system: MakeSystem) -> AsyncIterator[Callable[[], anyio.Event]]:
    """Factory of ``anyio.Event`` gates that actors block on until the test opens them.

    Every gate is set at teardown, before the systems close (this fixture depends on
    ``make_system``), so a test that fails while an actor is blocked fails instead of hanging
    in ``aclose()``.
    """
    gates: list[anyio.Event] = []

    def make() -> anyio.Event:
        gate = anyio.Event()
        gates.append(gate)
        return gate

    try:
        yield make
    finally:
        for gate in gates:
            gate.set()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at t=1000.0, to inject as ``time_fn``."""
    return ManualClock()

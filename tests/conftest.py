"""Fixtures of the test suite: started systems on the twin under test, gates and a clock.

``impl`` and ``anyio_backend`` come from the root ``conftest.py`` (shared with the benchmarks),
so every async test that builds a system runs four times: {asyncio, trio} x {python, cython}.
Systems are closed in the reverse order of their creation (their task groups nest), in the
test's own task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

from papyra.system import ActorSystem
from tests.support import Gate, ManualClock

MakeSystem = Callable[..., Awaitable[ActorSystem]]


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
def gate(make_system: MakeSystem) -> Iterator[type[Gate]]:
    """The :class:`~tests.support.Gate` actor class, with fresh events for this test.

    Its release event is set at teardown, before the systems close, like ``make_gate``'s.
    """
    Gate.entered = anyio.Event()
    Gate.release = anyio.Event()
    yield Gate
    Gate.release.set()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at t=1000.0, to inject as ``time_fn``."""
    return ManualClock()

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from papyra.system import ActorSystem
from tests_support import Gate


@pytest.fixture
async def make_system(impl: Any) -> AsyncIterator[Callable[..., Any]]:
    """Build started systems on the dispatch twin under test; all are closed afterwards."""
    systems: list[ActorSystem] = []

    async def make(**kwargs: Any) -> ActorSystem:
        system = ActorSystem(_dispatch=impl.dispatch, **kwargs)
        await system.start()
        systems.append(system)
        return system

    yield make
    for system in reversed(systems):
        await system.aclose()


@pytest.fixture
def gate() -> type[Gate]:
    """The :class:`~tests_support.Gate` actor class, with fresh events for this test."""
    Gate.entered = anyio.Event()
    Gate.release = anyio.Event()
    return Gate

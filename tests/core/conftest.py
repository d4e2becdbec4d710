from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from papyra.system import ActorSystem


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

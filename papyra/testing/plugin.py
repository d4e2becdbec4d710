"""The pytest plugin of Papyra: fixtures for testing actors (docs/testing.md).

Registered through the ``pytest11`` entry point, so it is active wherever Papyra is installed
(``-p no:papyra`` turns it off). The async fixtures run on the anyio backend of the test:
mark tests ``@pytest.mark.anyio`` (anyio's pytest plugin runs them on asyncio, trio, or both
through the ``anyio_backend`` fixture).

* ``papyra_clock``: a new :class:`~papyra.clock.ManualClock` at time 0.0.
* ``papyra_system``: a started ``ActorSystem`` on ``papyra_clock``, closed after the test.
* ``papyra_kit``: a :class:`~papyra.testing.TestKit` on that system and clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from papyra.clock import ManualClock
    from papyra.system import ActorSystem
    from papyra.testing import TestKit

__all__ = ("papyra_clock", "papyra_kit", "papyra_system")


@pytest.fixture
def papyra_clock() -> ManualClock:
    """A manual clock at 0.0: time moves only through ``await papyra_clock.advance(s)``."""
    from papyra.clock import ManualClock

    return ManualClock()


@pytest.fixture
async def papyra_system(papyra_clock: ManualClock) -> AsyncIterator[ActorSystem]:
    """A started actor system on ``papyra_clock``; closed (gracefully) after the test."""
    from papyra.system import ActorSystem

    system = ActorSystem(system_id="test", clock=papyra_clock)
    await system.start()
    try:
        yield system
    finally:
        await system.aclose()


@pytest.fixture
def papyra_kit(papyra_system: ActorSystem, papyra_clock: ManualClock) -> TestKit:
    """A test kit on ``papyra_system`` and ``papyra_clock``."""
    from papyra.testing import TestKit

    return TestKit(papyra_system, clock=papyra_clock)

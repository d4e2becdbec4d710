"""Testing actors: probes, expectations and a manual clock (docs/testing.md).

``from papyra.testing import TestKit, Probe``; the clock is ``papyra.clock.ManualClock``.
The pytest plugin (:mod:`papyra.testing.plugin`, registered through the ``pytest11`` entry
point, so installed with Papyra) adds the fixtures ``papyra_clock``, ``papyra_system`` and
``papyra_kit``.
"""

from __future__ import annotations

from papyra.testing._kit import Probe, TestKit

__all__ = ("Probe", "TestKit")

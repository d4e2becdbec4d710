"""Starlette integration: ``pip install papyra[starlette]``.

```python
integ = StarlettePapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Starlette()
integ.install(app)              # /healthz/ and /metrics/; system started with the app
# or: app = Starlette(lifespan=integ.lifespan)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import starlette  # noqa: F401 - this module requires Starlette (the papyra[starlette] extra)

from papyra.contrib._integration import PapyraIntegration

__all__ = ("StarlettePapyra",)


@dataclass(slots=True)
class StarlettePapyra(PapyraIntegration):
    """Ties an :class:`~papyra.system.ActorSystem` to a Starlette app and serves its probes.

    ``StarlettePapyra(system_factory, config=PapyraASGIConfig())``; ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks.

    * ``install(app) -> ActorSystem``: calls ``system_factory()`` once, now, and returns that
      system; mounts the health endpoint at ``config.health_path`` and the metrics endpoint at
      ``config.metrics_path`` (``app.mount``); and wraps the app's lifespan. Mounted apps answer
      under the path with a trailing slash: ``GET /healthz`` gets a 307 redirect to ``/healthz/``
      (likewise ``/metrics``), so point probes at ``/healthz/``. The system starts in the server's
      lifespan task before the app's own lifespan runs (a failed ``start()``, such as a
      ``FAIL_ON_ANOMALY`` startup check, fails the app's startup) and closes after it. Raises
      ``RuntimeError``, before changing the app, when the app cannot mount an ASGI app or take
      startup/shutdown hooks.
    * ``lifespan``: ``Starlette(lifespan=integ.lifespan)``, or ``async with integ.lifespan() as
      system:``; a new system each time it is entered, closed on exit, and no endpoints (see
      :class:`~papyra.contrib.asgi.lifecycle.PapyraLifespan`).
    """

    framework: ClassVar[str] = "Starlette"

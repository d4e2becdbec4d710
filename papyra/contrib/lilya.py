"""Lilya integration: ``pip install papyra[lilya]``.

```python
integ = LilyaPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Lilya()
integ.install(app)              # /healthz/ and /metrics/; system started with the app
# or: app = Lilya(lifespan=integ.lifespan)
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import lilya  # noqa: F401 - this module requires Lilya (the papyra[lilya] extra)

from papyra.contrib._integration import ASGIApp, PapyraIntegration

__all__ = ("LilyaPapyra",)


@dataclass(slots=True)
class LilyaPapyra(PapyraIntegration):
    """Ties an :class:`~papyra.system.ActorSystem` to a Lilya app and serves its probes.

    ``LilyaPapyra(system_factory, config=PapyraASGIConfig())``; ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks.

    * ``install(app) -> ActorSystem``: calls ``system_factory()`` once, now, and returns that
      system; mounts the health endpoint at ``config.health_path`` and the metrics endpoint at
      ``config.metrics_path`` (``app.include``); and wraps the app's lifespan. Mounted apps answer
      under the path with a trailing slash: ``GET /healthz`` gets a 303 redirect to ``/healthz/``
      (likewise ``/metrics``), so point probes at ``/healthz/``. The system starts in the server's
      lifespan task before the app's own lifespan runs (a failed ``start()``, such as a
      ``FAIL_ON_ANOMALY`` startup check, fails the app's startup) and closes after it. Raises
      ``RuntimeError``, before changing the app, when the app cannot mount an ASGI app or take
      startup/shutdown hooks.
    * ``lifespan``: ``Lilya(lifespan=integ.lifespan)``, or ``async with integ.lifespan() as
      system:``; a new system each time it is entered, closed on exit, and no endpoints (see
      :class:`~papyra.contrib.asgi.lifecycle.PapyraLifespan`).
    """

    framework: ClassVar[str] = "Lilya"
    resolve_method_lifespan: ClassVar[bool] = True

    def _mounter(self, app: Any) -> Callable[[str, ASGIApp], None]:
        include = getattr(app, "include", None)
        if not callable(include):
            raise self._cannot_mount("include")

        def do(path: str, endpoint: ASGIApp) -> None:
            include(path, endpoint)

        return do

"""Ravyn integration: ``pip install papyra[ravyn]``.

```python
integ = RavynPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Ravyn()
integ.install(app)              # /healthz/ and /metrics/; system started with the app
# or: app = Ravyn(lifespan=integ.lifespan)
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ravyn import Include  # this module requires Ravyn (the papyra[ravyn] extra)

from papyra.contrib._integration import ASGIApp, PapyraIntegration

__all__ = ("RavynPapyra",)


@dataclass(slots=True)
class RavynPapyra(PapyraIntegration):
    """Ties an :class:`~papyra.system.ActorSystem` to a Ravyn app and serves its probes.

    ``RavynPapyra(system_factory, config=PapyraASGIConfig())``; ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks.

    * ``install(app) -> ActorSystem``: calls ``system_factory()`` once, now, and returns that
      system; mounts the health endpoint at ``config.health_path`` and the metrics endpoint at
      ``config.metrics_path`` (``app.add_include(Include(path, app=...))``); and wraps the app's
      lifespan. Mounted apps answer under the path with a trailing slash: ``GET /healthz`` gets a
      303 redirect to ``/healthz/`` (likewise ``/metrics``), so point probes at ``/healthz/``. The
      system starts in the server's lifespan task before the app's own lifespan runs (a failed
      ``start()``, such as a ``FAIL_ON_ANOMALY`` startup check, fails the app's startup) and closes
      after it. Raises ``RuntimeError``, before changing the app, when the app cannot mount an ASGI
      app or take startup/shutdown hooks.
    * ``lifespan``: ``Ravyn(lifespan=integ.lifespan)``, or ``async with integ.lifespan() as
      system:``; a new system each time it is entered, closed on exit, and no endpoints (see
      :class:`~papyra.contrib.asgi.lifecycle.PapyraLifespan`).
    """

    framework: ClassVar[str] = "Ravyn"
    resolve_method_lifespan: ClassVar[bool] = True

    def _mounter(self, app: Any) -> Callable[[str, ASGIApp], None]:
        add_include = getattr(app, "add_include", None)
        if not callable(add_include):
            raise self._cannot_mount("add_include")

        def do(path: str, endpoint: ASGIApp) -> None:
            add_include(Include(path, app=endpoint))

        return do

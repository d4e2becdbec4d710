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

    ``LilyaPapyra(system_factory, config=PapyraASGIConfig())``: ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks. Either :meth:`install` it on an app: the system starts
    and stops with the app, and the health and metrics endpoints are mounted with
    ``app.include`` (the bare paths get a 303 redirect to ``/healthz/`` and ``/metrics/``, so
    point probes there). Or pass ``Lilya(lifespan=integ.lifespan)``: a system for the app's
    life, without endpoints (:meth:`lifespan`).
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

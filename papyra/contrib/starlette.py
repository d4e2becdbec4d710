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

    ``StarlettePapyra(system_factory, config=PapyraASGIConfig())``: ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks. Either :meth:`install` it on an app: the system starts
    and stops with the app, and the health and metrics endpoints are mounted with
    ``app.mount`` (the bare paths get a 307 redirect to ``/healthz/`` and ``/metrics/``, so
    point probes there). Or pass ``Starlette(lifespan=integ.lifespan)``: a system for the app's
    life, without endpoints (:meth:`lifespan`).
    """

    framework: ClassVar[str] = "Starlette"

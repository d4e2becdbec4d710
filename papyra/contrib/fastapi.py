"""FastAPI integration: ``pip install papyra[fastapi]``.

```python
integ = FastAPIPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = FastAPI()
integ.install(app)              # /healthz/ and /metrics/; system started with the app
# or: app = FastAPI(lifespan=integ.lifespan)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import fastapi  # noqa: F401 - this module requires FastAPI (the papyra[fastapi] extra)

from papyra.contrib._integration import PapyraIntegration

__all__ = ("FastAPIPapyra",)


@dataclass(slots=True)
class FastAPIPapyra(PapyraIntegration):
    """Ties an :class:`~papyra.system.ActorSystem` to a FastAPI app and serves its probes.

    ``FastAPIPapyra(system_factory, config=PapyraASGIConfig())``: ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks. Either :meth:`install` it on an app: the system starts
    and stops with the app, and the health and metrics endpoints are mounted with
    ``app.mount`` (the bare paths get a 307 redirect to ``/healthz/`` and ``/metrics/``, so
    point probes there). Or pass ``FastAPI(lifespan=integ.lifespan)``: a system for the app's
    life, without endpoints (:meth:`lifespan`).
    """

    framework: ClassVar[str] = "FastAPI"

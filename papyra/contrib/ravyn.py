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

    ``RavynPapyra(system_factory, config=PapyraASGIConfig())``: ``system_factory`` builds the
    system, ``config`` (:class:`~papyra.contrib.asgi.PapyraASGIConfig`) sets the paths, the
    health mode and the startup checks. Either :meth:`install` it on an app: the system starts
    and stops with the app, and the health and metrics endpoints are mounted with
    ``app.add_include(Include(path, app=...))`` (the bare paths get a 303 redirect to
    ``/healthz/`` and ``/metrics/``, so point probes there). Or pass
    ``Ravyn(lifespan=integ.lifespan)``: a system for the app's life, without endpoints
    (:meth:`lifespan`).
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

"""Ravyn integration: ``pip install papyra[ravyn]``.

```python
integ = RavynPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Ravyn()
integ.install(app)              # GET /healthz, GET /metrics; system started with the app
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
    """Install Papyra into a Ravyn app (``app.add_include(Include(path, app=...))``) or use
    ``lifespan``; see :class:`~papyra.contrib._integration.PapyraIntegration`."""

    framework: ClassVar[str] = "Ravyn"
    resolve_method_lifespan: ClassVar[bool] = True

    def _mounter(self, app: Any) -> Callable[[str, ASGIApp], None]:
        add_include = getattr(app, "add_include", None)
        if not callable(add_include):
            raise self._cannot_mount("add_include")

        def do(path: str, endpoint: ASGIApp) -> None:
            add_include(Include(path, app=endpoint))

        return do

"""Lilya integration: ``pip install papyra[lilya]``.

```python
integ = LilyaPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Lilya()
integ.install(app)              # GET /healthz, GET /metrics; system started with the app
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
    """Install Papyra into a Lilya app (``app.include``) or use ``lifespan``; see
    :class:`~papyra.contrib._integration.PapyraIntegration`."""

    framework: ClassVar[str] = "Lilya"
    resolve_method_lifespan: ClassVar[bool] = True

    def _mounter(self, app: Any) -> Callable[[str, ASGIApp], None]:
        include = getattr(app, "include", None)
        if not callable(include):
            raise self._cannot_mount("include")

        def do(path: str, endpoint: ASGIApp) -> None:
            include(path, endpoint)

        return do

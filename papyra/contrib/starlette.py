"""Starlette integration: ``pip install papyra[starlette]``.

```python
integ = StarlettePapyra(system_factory=lambda: ActorSystem(persistence=...))
app = Starlette()
integ.install(app)              # GET /healthz, GET /metrics; system started with the app
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
    """Install Papyra into a Starlette app (``app.mount``) or use ``lifespan``; see
    :class:`~papyra.contrib._integration.PapyraIntegration`."""

    framework: ClassVar[str] = "Starlette"

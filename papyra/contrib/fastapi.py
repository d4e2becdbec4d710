"""FastAPI integration: ``pip install papyra[fastapi]``.

```python
integ = FastAPIPapyra(system_factory=lambda: ActorSystem(persistence=...))
app = FastAPI()
integ.install(app)              # GET /healthz, GET /metrics; system started with the app
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
    """Install Papyra into a FastAPI app (``app.mount``) or use ``lifespan``; see
    :class:`~papyra.contrib._integration.PapyraIntegration`."""

    framework: ClassVar[str] = "FastAPI"

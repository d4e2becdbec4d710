"""Framework-agnostic ASGI support: health and metrics endpoints, and a lifespan helper.

``healthz`` and ``metrics`` are raw ASGI callables taking the system (and options) as keyword
arguments; bind them with ``functools.partial`` or use a framework helper
(:mod:`papyra.contrib.fastapi` ...). See ``docs/web.md``.
"""

from papyra.contrib.asgi.endpoints import healthz, metrics
from papyra.contrib.asgi.lifesycle import papyra_lifecycle
from papyra.contrib.asgi.types import PapyraASGIConfig

__all__ = ("PapyraASGIConfig", "healthz", "metrics", "papyra_lifecycle")

"""0.3.0 shipped this file (a typo of ``__init__``); kept as an alias of the package."""

from papyra.contrib.asgi import PapyraASGIConfig, healthz, metrics, papyra_lifecycle

__all__ = ("PapyraASGIConfig", "healthz", "metrics", "papyra_lifecycle")

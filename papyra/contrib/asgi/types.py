"""Types shared by the ASGI contrib."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from papyra.persistence.models import PersistenceRecoveryConfig
from papyra.persistence.startup import PersistenceStartupConfig

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ("ActorSystemFactory", "JsonDict", "PapyraASGIConfig")

#: A JSON object as the endpoints build it.
JsonDict = dict[str, Any]


class ActorSystemFactory(Protocol):
    """Builds a new (not yet started) :class:`~papyra.system.ActorSystem`."""

    def __call__(self) -> ActorSystem: ...


@dataclass(frozen=True)
class PapyraASGIConfig:
    """What the framework helpers mount and how they start the system.

    * ``health_path`` / ``metrics_path``: where ``install()`` mounts the two endpoints.
    * ``health_mode``: ``"scan"`` or ``"startup-check"`` (``"startup_check"`` too); see
      :func:`papyra.contrib.asgi.endpoints.healthz`.
    * ``persistence_startup``: assigned to ``system.persistence_startup`` before ``start()``,
      and the configuration of the ``startup-check`` health mode.
    * ``persistence_recovery``: passed to ``system.persistence.recover()`` before ``start()``.
    * ``metrics_format``: ``"json"``, ``"text"`` or ``"prometheus"``.
    """

    health_path: str = "/healthz"
    metrics_path: str = "/metrics"
    health_mode: str = "scan"
    persistence_startup: PersistenceStartupConfig | None = None
    persistence_recovery: PersistenceRecoveryConfig | None = None
    metrics_format: str = "json"

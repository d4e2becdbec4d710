"""Configuration of the persistence check that ``ActorSystem.start()`` runs before any actor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from papyra.persistence.models import PersistenceRecoveryConfig

__all__ = ("PersistenceStartupConfig", "PersistenceStartupMode")


class PersistenceStartupMode(str, Enum):
    """What ``start()`` does when the startup scan finds anomalies.

    * ``IGNORE`` / ``SCAN_ONLY``: start anyway (the scan still runs and is reported to hooks).
    * ``FAIL_ON_ANOMALY``: raise ``RuntimeError``; the system stays closed.
    * ``RECOVER``: run ``recover()``, scan again, and raise ``RuntimeError`` if damage remains.

    A ``str`` enum, so a plain ``"recover"`` compares equal to ``RECOVER``.
    """

    IGNORE = "ignore"
    SCAN_ONLY = "scan_only"
    RECOVER = "recover"
    FAIL_ON_ANOMALY = "fail_on_anomaly"


@dataclass(slots=True)
class PersistenceStartupConfig:
    """Startup check settings: ``mode`` (enum member or its string value), ``recovery`` (what
    ``RECOVER`` passes to ``backend.recover``; ``None`` = the backend default) and an optional
    ``timeout_seconds`` for the whole check."""

    mode: PersistenceStartupMode | str = PersistenceStartupMode.IGNORE
    recovery: PersistenceRecoveryConfig | None = None
    timeout_seconds: float | None = None

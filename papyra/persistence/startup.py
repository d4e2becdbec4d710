"""The persistence check that runs before any actor: its configuration and its one procedure.

``ActorSystem.start()``, ``papyra persistence startup-check`` and ``papyra doctor run`` all call
:func:`run_startup_check`: clean up after an interrupted rewrite, scan the backend, decide by
the startup mode, recover when asked and (optionally) scan again to verify. Where the callers
differ -- on purpose, for 0.3.0 compatibility -- the difference is an argument, not a copy of
the procedure:

* ``start()``: ``verify=True``, ``raise_on_failure=True``; ``recovery`` falls back to the
  system's ``persistence_recovery``; its ``step`` feeds the ``on_persistence_*`` hooks.
* ``persistence startup-check``: ``verify=False`` (0.3.0 reports success without looking again,
  even when the backend's default recovery repaired nothing); ``recovery`` only with
  ``--recovery-mode``.
* ``doctor run``: ``verify=True``; ``recovery`` defaults to ``REPAIR``; failures become exit
  codes 1 and 2.

All of them treat ``SCAN_ONLY`` as ``IGNORE``: the scan ran and is reported, nothing else happens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol, TypeVar

from papyra._validate import check_recovery_config, enum_member
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceRecoveryConfig,
    PersistenceScanReport,
)

__all__ = (
    "PersistenceStartupConfig",
    "PersistenceStartupMode",
    "StartupOutcome",
    "StartupStatus",
    "StartupStep",
    "StepLabel",
    "run_startup_check",
)

_T = TypeVar("_T")

#: What a :class:`StartupStep` is wrapping: the first scan, the recovery, the verifying scan.
StepLabel = Literal["scan", "recover", "verify"]


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
    """Startup check settings, checked when the config is made.

    * ``mode``: a :class:`PersistenceStartupMode`, its value or its name in any case
      (``"recover"``, ``"RECOVER"``); stored as the member (a ``str`` enum, so it still
      compares equal to the plain value).
    * ``recovery``: what ``RECOVER`` passes to ``backend.recover`` (a
      :class:`~papyra.persistence.models.PersistenceRecoveryConfig`, or any object with a
      ``mode``); ``None`` = the system's ``persistence_recovery``, else the backend default.
    * ``timeout_seconds``: ``None`` or a number of seconds ``>= 0`` for the whole check.

    :raises ValueError: a ``mode`` string that names no mode, or a negative or NaN
        ``timeout_seconds``.
    :raises TypeError: a ``mode`` that is not a string or a mode, a ``recovery`` that is not
        a recovery config (a bare mode such as ``"repair"``), or a ``timeout_seconds`` that is
        not a number.
    """

    mode: PersistenceStartupMode | str = PersistenceStartupMode.IGNORE
    recovery: PersistenceRecoveryConfig | None = None
    timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        self.mode = _resolve_mode(self.mode)
        check_recovery_config(self.recovery, "PersistenceStartupConfig recovery")
        timeout = self.timeout_seconds
        if timeout is not None:
            if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
                raise TypeError(
                    f"timeout_seconds must be None or a number of seconds >= 0, not {timeout!r}."
                )
            if not timeout >= 0:  # NaN too
                raise ValueError(
                    f"timeout_seconds must be None or a number of seconds >= 0, not {timeout!r}."
                )


class StartupStatus(str, Enum):
    """How a startup check ended (a ``str`` enum: ``status == "healthy"`` works)."""

    #: ``scan()`` returned ``None``: the backend cannot scan, so there is nothing to decide.
    UNSUPPORTED = "unsupported"
    #: The scan found no anomaly.
    HEALTHY = "healthy"
    #: Anomalies, and the mode is ``IGNORE`` or ``SCAN_ONLY``.
    IGNORED = "ignored"
    #: Anomalies, and the mode is ``FAIL_ON_ANOMALY``.
    FAILED = "failed"
    #: ``RECOVER`` ran ``recover()``; the verifying scan found nothing (or was not made, or
    #: returned ``None``).
    RECOVERED = "recovered"
    #: ``RECOVER`` ran ``recover()`` and the verifying scan still found anomalies.
    RECOVERY_INCOMPLETE = "recovery_incomplete"


@dataclass(frozen=True, slots=True)
class StartupOutcome:
    """What :func:`run_startup_check` did and found.

    ``scan`` is the first scan (``None``: unsupported), ``recovery`` whatever ``recover()``
    returned (``None`` when it was not called or is unsupported), ``verification`` the scan
    made after the recovery (``None`` when not made or unsupported).
    """

    status: StartupStatus
    mode: PersistenceStartupMode
    scan: PersistenceScanReport | None
    recovery: Any = None
    verification: PersistenceScanReport | None = None

    @property
    def anomalies(self) -> tuple[PersistenceAnomaly, ...]:
        """The anomalies of the first scan."""
        return tuple(self.scan.anomalies) if self.scan is not None else ()

    @property
    def remaining(self) -> tuple[PersistenceAnomaly, ...]:
        """The anomalies the verifying scan still found."""
        return tuple(self.verification.anomalies) if self.verification is not None else ()

    @property
    def ok(self) -> bool:
        """``False`` for ``FAILED`` and ``RECOVERY_INCOMPLETE``: the system must not start."""
        return self.status not in (StartupStatus.FAILED, StartupStatus.RECOVERY_INCOMPLETE)


class StartupStep(Protocol):
    """Wraps each backend call of a startup check: ``return await call()`` plus whatever the
    caller needs around it (a progress bar, hooks fed with the result, ...).

    ``label`` says which call it is: ``"scan"``, ``"recover"`` or ``"verify"``. The step must
    return what ``call()`` returned; exceptions it raises end the check.
    """

    def __call__(
        self, label: StepLabel, call: Callable[[], Awaitable[_T]], /
    ) -> Awaitable[_T]: ...


class _Checkable(Protocol):
    async def scan(self) -> PersistenceScanReport | None: ...

    async def recover(self, config: Any | None = None) -> Any: ...


async def _direct(label: StepLabel, call: Callable[[], Awaitable[_T]], /) -> _T:
    return await call()


def _resolve_mode(mode: PersistenceStartupMode | str) -> PersistenceStartupMode:
    """The enum member for ``mode``: a member, its value or its name in any case
    (``"scan_only"``, ``"SCAN_ONLY"``).

    Any other string raises ``ValueError``, any other type ``TypeError`` -- before the
    backend is touched.
    """
    return enum_member(PersistenceStartupMode, mode, "persistence startup mode")


async def run_startup_check(
    backend: _Checkable,
    mode: PersistenceStartupMode | str,
    recovery: PersistenceRecoveryConfig | None = None,
    *,
    verify: bool = True,
    step: StartupStep | None = None,
    raise_on_failure: bool = False,
) -> StartupOutcome:
    """Scan ``backend`` and act on anomalies by ``mode``; see :class:`StartupStatus`.

    * ``mode``: a :class:`PersistenceStartupMode`, its value or its name in any case (else
      ``ValueError``).
      ``IGNORE`` and ``SCAN_ONLY`` both only report.
    * ``recovery``: passed as is to ``backend.recover`` under ``RECOVER`` (``None`` = the
      backend's default, which for the built-in backends repairs nothing).
    * ``verify``: under ``RECOVER``, scan again after the recovery and report what remains.
      ``False`` trusts the recovery (0.3.0's ``persistence startup-check``).
    * ``step``: wraps every backend call (see :class:`StartupStep`).
    * ``raise_on_failure``: raise ``RuntimeError`` instead of returning ``FAILED``
      (``"Persistence anomalies detected at startup: <anomalies>"``) or ``RECOVERY_INCOMPLETE``
      (``"Persistence recovery completed but anomalies still exist"``), as ``start()`` does.

    Before the scan, in every mode, a backend with ``clean_up_rewrites()`` (the file backends)
    removes or finishes what a killed compaction or recovery left, so a crash in the middle of
    one does not show up as anomalies (the rotating backend's orphans) at the next start.

    Runs in the caller's task, one backend call after the other. Backend exceptions
    propagate. No timeout is applied here (wrap the call in ``anyio.fail_after``).

    :raises RuntimeError: with ``raise_on_failure``, the check failed (see above).
    :raises ValueError: a ``mode`` string that names no mode, before the backend is touched.
    :raises TypeError: a ``mode`` that is neither a string nor a mode.
    """
    resolved = _resolve_mode(mode)
    wrap: StartupStep = _direct if step is None else step
    clean_up = getattr(backend, "clean_up_rewrites", None)
    if clean_up is not None:
        await clean_up()
    scan = await wrap("scan", backend.scan)
    if scan is None:
        return StartupOutcome(StartupStatus.UNSUPPORTED, resolved, None)
    if not scan.anomalies:
        return StartupOutcome(StartupStatus.HEALTHY, resolved, scan)
    if resolved is PersistenceStartupMode.FAIL_ON_ANOMALY:
        if raise_on_failure:
            raise RuntimeError(f"Persistence anomalies detected at startup: {scan.anomalies}")
        return StartupOutcome(StartupStatus.FAILED, resolved, scan)
    if resolved is not PersistenceStartupMode.RECOVER:
        return StartupOutcome(StartupStatus.IGNORED, resolved, scan)
    report = await wrap("recover", lambda: backend.recover(recovery))
    post = await wrap("verify", backend.scan) if verify else None
    if post is not None and post.anomalies:
        if raise_on_failure:
            raise RuntimeError("Persistence recovery completed but anomalies still exist")
        return StartupOutcome(StartupStatus.RECOVERY_INCOMPLETE, resolved, scan, report, post)
    return StartupOutcome(StartupStatus.RECOVERED, resolved, scan, report, post)

"""``papyra doctor run``: the persistence start-up check, as an operator command.

Runs the check of ``ActorSystem.start()`` (``run_startup_check``) on the backend (``--path``,
``--url`` or ``settings.persistence``) without starting any actor: scan, then by ``--mode``
report the anomalies, fail, or recover and verify with a second scan.

Exit codes: 0 healthy / ignored / recovered; 1 anomalies with ``fail_on_anomaly`` or invalid
configuration; 2 recovery ran but anomalies remain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from papyra.cli._backend import (
    BackendSource,
    backend_options,
    open_backend,
    parse_recovery_mode,
    parse_startup_mode,
    prepare_quarantine_dir,
)
from papyra.cli._base import (
    PapyraGroup,
    anomaly_headline,
    anomaly_line,
    anomaly_to_json,
    echo_json,
    error,
    fail,
    info,
    run_async,
)
from papyra.cli._progress import startup_step
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import (
    PersistenceStartupMode,
    StartupOutcome,
    StartupStatus,
    StepLabel,
    run_startup_check,
)

__all__ = ("EXIT_FAILED", "EXIT_RECOVERY_INCOMPLETE", "NOTHING_CONFIGURED", "doctor", "run")

_T = TypeVar("_T")

EXIT_FAILED = 1
EXIT_RECOVERY_INCOMPLETE = 2

_EXIT_CODES = {
    StartupStatus.FAILED: EXIT_FAILED,
    StartupStatus.RECOVERY_INCOMPLETE: EXIT_RECOVERY_INCOMPLETE,
}
#: stderr note when the settings give an in-memory backend (the default settings do): the
#: check ran on the in-memory store of the ``papyra`` process itself, which is always empty.
NOTHING_CONFIGURED = (
    "Note: no persistent store is configured, so this checked the empty in-memory store of "
    "the papyra process itself. Point it at your data with --path FILE (JSON file), "
    "--url redis://HOST:PORT/DB (Redis streams) or PAPYRA_SETTINGS_MODULE (your settings)."
)
_HEALTHY = (StartupStatus.HEALTHY, StartupStatus.UNSUPPORTED, StartupStatus.RECOVERED)
_RECOVERY_RAN = (StartupStatus.RECOVERED, StartupStatus.RECOVERY_INCOMPLETE)


@click.group(cls=PapyraGroup)
def doctor() -> None:
    """Run system pre-flight checks (persistence scan/recovery) without starting actors."""


@doctor.command("run")
@backend_options
@click.option(
    "--mode",
    default="fail_on_anomaly",
    show_default=True,
    help="What to do about anomalies: ignore, scan_only, recover or fail_on_anomaly (any case).",
)
@click.option(
    "--recovery-mode",
    default=None,
    help="With --mode recover: repair (default), rebuild, quarantine or ignore.",
)
@click.option(
    "--quarantine-dir",
    type=click.Path(readable=False),
    default=None,
    help="Directory for quarantined files (created if missing); "
    "required with --recovery-mode quarantine.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def run(
    source: BackendSource,
    mode: str,
    recovery_mode: str | None,
    quarantine_dir: str | None,
    as_json: bool,
) -> None:
    """Scan persistence and report, fail on, or recover from anomalies.

    Exit codes: 0 healthy / ignored / recovered, 1 anomalies with fail_on_anomaly or invalid
    configuration, 2 recovery left anomalies behind.
    """
    startup = parse_startup_mode(mode, label="mode")
    config: PersistenceRecoveryConfig | None = None
    if startup is PersistenceStartupMode.RECOVER:
        recovery = parse_recovery_mode(recovery_mode or "repair")
        if (
            recovery is PersistenceRecoveryMode.QUARANTINE
            and not quarantine_dir
            and not source.url  # Redis quarantines into streams, not a directory
        ):
            fail("quarantine recovery requires --quarantine-dir")
        config = PersistenceRecoveryConfig(mode=recovery, quarantine_dir=quarantine_dir or None)
    elif recovery_mode is not None:
        parse_recovery_mode(recovery_mode)  # a bad value is refused even when unused
    outcome = run_async(_run, source, startup, config)
    status = outcome.status
    if as_json:
        recovery_doc: dict[str, Any] | None = None
        if config is not None and status in _RECOVERY_RAN:
            report = outcome.recovery
            recovery_doc = {
                "mode": config.mode.value,
                "repaired_files": list(getattr(report, "repaired_files", ()) or ()),
                "quarantined_files": list(getattr(report, "quarantined_files", ()) or ()),
            }
        echo_json(
            {
                "mode": startup.value,
                "status": status.value,
                "healthy": status in _HEALTHY,
                "anomalies": [anomaly_to_json(a) for a in outcome.anomalies],
                "recovery": recovery_doc,
                "remaining_anomalies": [anomaly_to_json(a) for a in outcome.remaining],
            }
        )
    elif status is StartupStatus.UNSUPPORTED:
        info("Persistence scan not supported by backend.")
    elif status is StartupStatus.HEALTHY:
        info("Persistence is healthy")
    elif status in (StartupStatus.IGNORED, StartupStatus.FAILED):
        suffix = " (ignored)" if status is StartupStatus.IGNORED else ""
        error(f"Persistence anomalies detected{suffix}: {outcome.anomalies!r}")
        for anomaly in outcome.anomalies:
            error(anomaly_line(anomaly))
    elif status is StartupStatus.RECOVERY_INCOMPLETE:
        error("Recovery attempted but anomalies still exist")
        for anomaly in outcome.remaining:
            error(anomaly_headline(anomaly))
    else:
        info("Recovery successful")
    code = _EXIT_CODES.get(status, 0)
    if code:
        click.get_current_context().exit(code)


async def _run(
    source: BackendSource,
    mode: PersistenceStartupMode,
    config: PersistenceRecoveryConfig | None,
) -> StartupOutcome:
    async with open_backend(source, writes=config is not None) as backend:
        if not source.explicit and isinstance(backend, InMemoryPersistence):
            click.echo(NOTHING_CONFIGURED, err=True)
        bar = startup_step(backend)

        async def step(label: StepLabel, call: Callable[[], Awaitable[_T]], /) -> _T:
            if label == "recover" and config is not None and config.quarantine_dir:
                # Created only once anomalies call for the recovery.
                prepare_quarantine_dir(config.quarantine_dir)
            return await bar(label, call)

        # scan_only reports like ignore (0.3.0 let it fall through to recovery).
        return await run_startup_check(backend, mode, config, step=step)

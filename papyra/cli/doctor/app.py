"""``papyra doctor run``: the persistence start-up check, as an operator command.

Scans the backend (``--path`` or ``settings.persistence``) without starting any actor and acts
on anomalies by ``--mode``, like ``ActorSystem.start()`` with a ``PersistenceStartupConfig``:
report them, fail, or recover and verify with a second scan.

Exit codes: 0 healthy / ignored / recovered; 1 anomalies with ``fail_on_anomaly`` or invalid
configuration; 2 recovery ran but anomalies remain.
"""

from __future__ import annotations

from typing import Any

import click

from papyra.cli._backend import (
    open_backend,
    parse_recovery_mode,
    parse_startup_mode,
    prepare_quarantine_dir,
)
from papyra.cli._base import (
    PapyraGroup,
    anomaly_line,
    anomaly_to_json,
    echo_json,
    error,
    fail,
    info,
    run_async,
)
from papyra.cli._progress import progress_label, tracked
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupMode

__all__ = ("doctor",)

EXIT_FAILED = 1
EXIT_RECOVERY_INCOMPLETE = 2


def _factory(path: str) -> Any:
    # Looked up in this module when the command runs, so tests can substitute the class.
    return JsonFilePersistence(path)


@click.group(cls=PapyraGroup)
def doctor() -> None:
    """Run system pre-flight checks (persistence scan/recovery) without starting actors."""


@doctor.command("run")
@click.option(
    "--path",
    type=click.Path(readable=False),
    default=None,
    help="NDJSON file to check (a JsonFilePersistence); default: the configured settings.persistence.",
)
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
    help="Directory for quarantined files (created if missing); required with --recovery-mode quarantine.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def run(
    path: str | None,
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
        if recovery is PersistenceRecoveryMode.QUARANTINE and not quarantine_dir:
            fail("quarantine recovery requires --quarantine-dir")
        config = PersistenceRecoveryConfig(mode=recovery, quarantine_dir=quarantine_dir or None)
    elif recovery_mode is not None:
        parse_recovery_mode(recovery_mode)  # a bad value is refused even when unused
    result = run_async(_run, path, startup, config)
    status = result["status"]
    anomalies = result["anomalies"]
    code = {"failed": EXIT_FAILED, "recovery_incomplete": EXIT_RECOVERY_INCOMPLETE}.get(status, 0)
    if as_json:
        echo_json(
            {
                "mode": startup.value,
                "status": status,
                "healthy": status in ("healthy", "unsupported", "recovered"),
                "anomalies": [anomaly_to_json(a) for a in anomalies],
                "recovery": result["recovery"],
                "remaining_anomalies": [anomaly_to_json(a) for a in result["remaining"]],
            }
        )
    elif status == "unsupported":
        info("Persistence scan not supported by backend.")
    elif status == "healthy":
        info("Persistence is healthy")
    elif status in ("ignored", "failed"):
        suffix = " (ignored)" if status == "ignored" else ""
        error(f"Persistence anomalies detected{suffix}: {anomalies!r}")
        for anomaly in anomalies:
            error(anomaly_line(anomaly))
    elif status == "recovery_incomplete":
        error("Recovery attempted but anomalies still exist")
    else:
        info("Recovery successful")
    if code:
        click.get_current_context().exit(code)


async def _run(
    path: str | None, mode: PersistenceStartupMode, config: PersistenceRecoveryConfig | None
) -> dict[str, Any]:
    result: dict[str, Any] = {"anomalies": (), "recovery": None, "remaining": ()}
    async with open_backend(path, _factory, writes=config is not None) as backend:
        report = await tracked(backend, progress_label("Scanning", backend), backend.scan)
        if report is None:
            return {**result, "status": "unsupported"}
        anomalies = tuple(report.anomalies)
        result["anomalies"] = anomalies
        if not anomalies:
            return {**result, "status": "healthy"}
        if mode in (PersistenceStartupMode.IGNORE, PersistenceStartupMode.SCAN_ONLY):
            # 0.3.0 let scan_only fall through to recovery; it reports, as ignore does.
            return {**result, "status": "ignored"}
        if mode is PersistenceStartupMode.FAIL_ON_ANOMALY or config is None:
            return {**result, "status": "failed"}
        if config.quarantine_dir:
            prepare_quarantine_dir(config.quarantine_dir)
        recovered = await tracked(
            backend, progress_label("Recovering", backend), lambda: backend.recover(config), passes=2
        )
        result["recovery"] = {
            "mode": config.mode.value,
            "repaired_files": list(getattr(recovered, "repaired_files", ()) or ()),
            "quarantined_files": list(getattr(recovered, "quarantined_files", ()) or ()),
        }
        post = await tracked(backend, progress_label("Verifying", backend), backend.scan)
        remaining = tuple(post.anomalies) if post is not None else ()
        result["remaining"] = remaining
        return {**result, "status": "recovery_incomplete" if remaining else "recovered"}

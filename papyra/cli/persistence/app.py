"""``papyra persistence``: scan, recover, startup-check, compact and inspect a backend.

Every command takes ``--path PATH`` (a ``JsonFilePersistence`` on that file) or ``--url URL``
(a ``RedisStreamsPersistence``) or, without them, uses the configured ``settings.persistence``
(see :mod:`papyra.cli._backend`). Exit codes: see ``docs/cli.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import click

from papyra.cli._backend import (
    BackendSource,
    backend_options,
    is_connection_error,
    open_backend,
    parse_recovery_mode,
    parse_startup_mode,
    prepare_quarantine_dir,
    retention_options,
)
from papyra.cli._base import (
    COUNT,
    PapyraGroup,
    anomaly_headline,
    anomaly_line,
    anomaly_to_json,
    echo_json,
    error,
    fail,
    info,
    run_async,
    success,
)
from papyra.cli._progress import progress_label, startup_step, tracked
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.contract import safe_metrics_snapshot
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import (
    PersistenceStartupMode,
    StartupOutcome,
    StartupStatus,
    run_startup_check,
)

__all__ = (
    "EXIT_ANOMALIES",
    "compact",
    "inspect_",
    "persistence",
    "recover",
    "scan",
    "startup_check",
)

#: Exit code of ``persistence scan`` when anomalies were found.
EXIT_ANOMALIES = 2


@click.group(cls=PapyraGroup)
def persistence() -> None:
    """Persistence Management CLI Module.

    Scan, recover, compact and inspect the persistence backend (the file given with --path,
    the Redis server given with --url, or the configured settings.persistence).
    """


# -- scan ---------------------------------------------------------------------------------------


@persistence.command("scan")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def scan(source: BackendSource, as_json: bool) -> None:
    """Scan persistence for anomalies (read-only).

    Exit codes: 0 healthy (or scanning unsupported), 2 anomalies found, 1 invalid input.
    """
    report = run_async(_scan, source)
    anomalies = tuple(report.anomalies) if report is not None else ()
    if as_json:
        echo_json(
            {
                "backend": getattr(report, "backend", None),
                "supported": report is not None,
                "healthy": not anomalies,
                "anomalies": [anomaly_to_json(a) for a in anomalies],
            }
        )
    elif report is None:
        info("Persistence backend does not support scanning.")
    elif not anomalies:
        success("Persistence is healthy.")
    else:
        error(f"Found {len(anomalies)} persistence anomalies:")
        for anomaly in anomalies:
            error(anomaly_line(anomaly))
    if anomalies:
        click.get_current_context().exit(EXIT_ANOMALIES)


async def _scan(source: BackendSource) -> Any:
    async with open_backend(source) as backend:
        return await tracked(backend, progress_label("Scanning", backend), backend.scan)


# -- recover ------------------------------------------------------------------------------------


@persistence.command("recover")
@backend_options
@click.option(
    "--mode",
    default="repair",
    show_default=True,
    help="Recovery mode: ignore, repair, quarantine or rebuild (any case).",
)
@click.option(
    "--quarantine-dir",
    type=click.Path(readable=False),
    default=None,
    help="Directory for quarantined files (created if missing); required with --mode quarantine.",
)
def recover(source: BackendSource, mode: str, quarantine_dir: str | None) -> None:
    """Recover from anomalies: drop damaged lines (repair), after moving the file aside
    (quarantine).

    Exit codes: 0 completed (also when nothing needed repair), 1 invalid input.
    """
    recovery = parse_recovery_mode(mode)
    # Redis quarantines into streams of its own: a directory means nothing there.
    if recovery is PersistenceRecoveryMode.QUARANTINE and not quarantine_dir and not source.url:
        fail("quarantine mode requires --quarantine-dir")
    config = PersistenceRecoveryConfig(mode=recovery, quarantine_dir=quarantine_dir or None)
    report = run_async(_recover, source, config)
    info("Recovery completed")
    if report is None:
        return
    for name in getattr(report, "repaired_files", ()) or ():
        info(f"repaired {name}")
    for name in getattr(report, "quarantined_files", ()) or ():
        info(f"quarantined {name}")
    # After the 0.3.0 lines: what the scan of the recovery found, one line each.
    for anomaly in getattr(getattr(report, "scan", None), "anomalies", ()) or ():
        info(f"found {anomaly_headline(anomaly)}")


async def _recover(source: BackendSource, config: PersistenceRecoveryConfig) -> Any:
    async with open_backend(source, writes=True) as backend:
        if config.quarantine_dir:
            # Created only once the --path has been accepted: bad input changes nothing.
            prepare_quarantine_dir(config.quarantine_dir)
        return await tracked(
            backend, progress_label("Recovering", backend), lambda: backend.recover(config)
        )


# -- startup-check ------------------------------------------------------------------------------


@persistence.command("startup-check")
@backend_options
@click.option(
    "--mode",
    default="fail_on_anomaly",
    show_default=True,
    help="Startup mode: ignore, scan_only, recover or fail_on_anomaly (any case).",
)
@click.option(
    "--recovery-mode",
    default=None,
    help="Recovery mode for --mode recover: ignore, repair, quarantine or rebuild "
    "(default: the backend's, which repairs nothing).",
)
def startup_check(source: BackendSource, mode: str, recovery_mode: str | None) -> None:
    """Simulate the ActorSystem start-up check without starting anything.

    Exit codes: 0 healthy / recovered / ignored, 1 anomalies with fail_on_anomaly or invalid input.
    """
    startup = parse_startup_mode(mode)
    recovery = parse_recovery_mode(recovery_mode) if recovery_mode is not None else None
    config = PersistenceRecoveryConfig(mode=recovery) if recovery is not None else None
    outcome = run_async(_startup_check, source, startup, config)
    if outcome.status in (StartupStatus.HEALTHY, StartupStatus.UNSUPPORTED):
        info("Persistence is healthy")
    elif outcome.status is StartupStatus.FAILED:
        error(f"Persistence anomalies detected: {outcome.anomalies!r}")
        for anomaly in outcome.anomalies:
            error(anomaly_headline(anomaly))
        click.get_current_context().exit(1)
    elif outcome.status is StartupStatus.RECOVERED:
        info("Recovery successful")


async def _startup_check(
    source: BackendSource,
    mode: PersistenceStartupMode,
    config: PersistenceRecoveryConfig | None,
) -> StartupOutcome:
    writes = mode is PersistenceStartupMode.RECOVER
    async with open_backend(source, writes=writes) as backend:
        # verify=False, as 0.3.0: success is reported without a second scan, even when the
        # backend's default recovery (IGNORE, without --recovery-mode) repaired nothing.
        return await run_startup_check(
            backend, mode, config, verify=False, step=startup_step(backend)
        )


# -- compact ------------------------------------------------------------------------------------


@persistence.command("compact")
@backend_options
@retention_options
def compact(source: BackendSource, retention: RetentionPolicy | None) -> None:
    """Physically compact persistence: apply retention and drop unreadable lines.

    --max-records / --max-age / --max-bytes (with --path or --url) set the retention policy
    to apply; otherwise the backend's own. Prints the compaction report. Exit codes: 0 done,
    1 invalid input, 2 bad usage.
    \f

    :raises click.UsageError: a retention option without ``--path`` or ``--url`` (exit
        code 2).
    """
    if retention is not None and not source.explicit:
        raise click.UsageError(
            "--max-records, --max-age and --max-bytes need --path or --url "
            "(the configured backend applies its own retention policy).",
            ctx=click.get_current_context(),
        )
    if retention is not None and source.url is not None and (
        retention.max_age_seconds is not None or retention.max_total_bytes is not None
    ):
        click.echo(
            "Note: Redis compaction trims by --max-records only; --max-age and --max-bytes "
            "filter what is read, they delete nothing.",
            err=True,
        )
    report = run_async(_compact, source, retention)
    info("Compaction completed")
    fields: Mapping[str, Any] | None = None
    if isinstance(report, Mapping):
        fields = report
    elif dataclasses.is_dataclass(report) and not isinstance(report, type):
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    for key, value in (fields or {}).items():
        info(f"  {key}: {value}")


async def _compact(source: BackendSource, retention: RetentionPolicy | None) -> Any:
    async with open_backend(source, writes=True, retention=retention) as backend:
        return await tracked(backend, progress_label("Compacting", backend), backend.compact)


# -- inspect ------------------------------------------------------------------------------------


@persistence.command("inspect")
@backend_options
@click.option(
    "--limit",
    type=COUNT,
    default=1000,
    show_default=True,
    help="Maximum records read per category.",
)
@click.option("--show-metrics", is_flag=True, help="Also print the backend's metrics snapshot.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def inspect_(source: BackendSource, limit: int, show_metrics: bool, as_json: bool) -> None:
    """Show the backend, its retention policy and sampled record counts (read-only).

    Exit code: 0 (1 for invalid input).
    """
    name, retention, counts, metrics = run_async(_inspect, source, limit, show_metrics)
    if as_json:
        document: dict[str, Any] = {
            "backend": name,
            "retention": retention,
            "limit": limit,
            "counts": None,
        }
        if counts is not None:
            document["counts"] = {
                kind: {"sampled": n, "capped": n == limit} for kind, n in counts.items()
            }
        if show_metrics:
            document["metrics"] = metrics or None
        echo_json(document)
        return
    click.echo("Persistence Inspect")
    click.echo("-" * 18)
    click.echo(f"backend: {name}")
    if retention is None:
        click.echo("retention: <none>")
    else:
        click.echo(
            f"retention: max_records={retention['max_records']} "
            f"max_age_seconds={retention['max_age_seconds']} "
            f"max_total_bytes={retention['max_total_bytes']}"
        )
    if counts is None:
        click.echo("counts: <unavailable>")
    else:
        for kind, n in counts.items():
            click.echo(f"{kind}_sampled: {n}{' (capped)' if n == limit else ''}")
    if show_metrics:
        if metrics:
            click.echo("metrics:")
            for key, value in metrics.items():
                click.echo(f"  {key}: {value}")
        else:
            click.echo("metrics: <unavailable>")


async def _inspect(
    source: BackendSource, limit: int, show_metrics: bool
) -> tuple[str, dict[str, Any] | None, dict[str, int] | None, dict[str, Any]]:
    async with open_backend(source) as backend:
        policy = getattr(backend, "retention", None)
        retention = None
        if policy is not None:
            retention = {
                key: getattr(policy, key, None)
                for key in ("max_records", "max_age_seconds", "max_total_bytes")
            }
        counts: dict[str, int] | None = None
        try:
            counts = {
                "events": len(await backend.list_events(limit=limit)),
                "audits": len(await backend.list_audits(limit=limit)),
                "dead_letters": len(await backend.list_dead_letters(limit=limit)),
            }
        except Exception as exc:
            # A backend without the read API, or one that fails to read: no counts, no crash.
            # A Redis server that cannot be reached is an error, though (open_backend's).
            if source.url is not None and is_connection_error(exc):
                raise
            counts = None
        metrics = dict(safe_metrics_snapshot(backend)) if show_metrics else {}
        return type(backend).__name__, retention, counts, metrics

"""``papyra inspect``: read the events, audits and dead letters a backend holds.

Read-only. The backend is the one of ``--path`` / ``--url``, else ``settings.persistence``.
Each record is one ``ℹ`` line and nothing else is printed; ``--json`` prints one document
instead. ``events --follow`` keeps printing new events until Ctrl-C. Exit 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from papyra.cli._backend import BackendSource, backend_options, open_backend
from papyra.cli._base import (
    COUNT,
    POSITIVE_SECONDS,
    PapyraGroup,
    echo_json,
    info,
    jsonable,
    run_async,
)
from papyra.cli._follow import DEFAULT_INTERVAL, follow

__all__ = ("audits", "dead_letters", "events", "inspect", "summary")

_LIMIT = click.option(
    "--limit",
    type=COUNT,
    default=None,
    help="Only the newest N records (applied before the other filters).",
)
_SINCE = click.option(
    "--since",
    type=float,
    default=None,
    help="Only records with timestamp >= T (epoch seconds).",
)
_JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of text."
)


def _ts(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3f}"
    return str(value)


def _record_json(record: Any) -> Any:
    """``record`` as plain JSON; a field added since 0.3.0 only when set, as in the files."""
    document = jsonable(record)
    if isinstance(document, dict) and dataclasses.is_dataclass(record):
        for f in dataclasses.fields(record):
            if f.metadata.get("added") and document.get(f.name) is None:
                del document[f.name]
    return document


async def _list(
    source: BackendSource, method: str, limit: int | None, since: float | None
) -> tuple[Any, ...]:
    async with open_backend(source) as backend:
        return tuple(await getattr(backend, method)(limit=limit, since=since))


@click.group(cls=PapyraGroup)
def inspect() -> None:
    """Inspect persisted Papyra system state"""


@inspect.command("events")
@backend_options
@_LIMIT
@_SINCE
@click.option("--event-type", default=None, help="Only events of this type (after --limit).")
@click.option("--reverse", is_flag=True, help="Newest first.")
@_JSON
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new events as they are recorded, until Ctrl-C.",
)
@click.option(
    "--interval",
    type=POSITIVE_SECONDS,
    default=None,
    help=f"With --follow: seconds between two looks for new events (default: {DEFAULT_INTERVAL}).",
)
def events(
    source: BackendSource,
    limit: int | None,
    since: float | None,
    event_type: str | None,
    reverse: bool,
    as_json: bool,
    follow: bool,
    interval: float | None,
) -> None:
    """List persisted lifecycle and user events (--follow: and then the new ones).
    \f

    :raises click.UsageError: ``--follow`` with ``--reverse`` or ``--json``, or
        ``--interval`` without ``--follow`` (exit code 2).
    """
    if follow:
        for flag, given in (("--reverse", reverse), ("--json", as_json)):
            if given:
                raise click.UsageError(
                    f"{flag} cannot be used with --follow.", ctx=click.get_current_context()
                )
        _follow_events(source, limit, since, event_type, interval or DEFAULT_INTERVAL)
        return
    if interval is not None:
        raise click.UsageError("--interval needs --follow.", ctx=click.get_current_context())
    items = list(run_async(_list, source, "list_events", limit, since))
    if reverse:
        items.reverse()
    if event_type is not None:
        items = [e for e in items if getattr(e, "event_type", None) == event_type]
    if as_json:
        echo_json({"events": [_record_json(e) for e in items]})
        return
    if not items:
        info("No events recorded.")
    for e in items:
        info(_event_line(e))


def _event_line(e: Any) -> str:
    return (
        f"[{_ts(getattr(e, 'timestamp', None))}] {getattr(e, 'event_type', None)} "
        f"{getattr(e, 'actor_address', None)}"
    )


def _follow_events(
    source: BackendSource,
    limit: int | None,
    since: float | None,
    event_type: str | None,
    interval: float,
) -> None:
    """Print events as they come until Ctrl-C, which ends the command with exit code 0."""

    def emit(e: Any) -> None:
        if event_type is None or getattr(e, "event_type", None) == event_type:
            info(_event_line(e))

    async def run() -> None:
        async with open_backend(source) as backend:
            await follow(
                backend, "event", limit=limit, since=since, interval=interval, emit=emit
            )

    try:
        run_async(run)
    except KeyboardInterrupt:
        pass


@inspect.command("audits")
@backend_options
@_LIMIT
@_SINCE
@_JSON
def audits(source: BackendSource, limit: int | None, since: float | None, as_json: bool) -> None:
    """List persisted audit snapshots."""
    items = run_async(_list, source, "list_audits", limit, since)
    if as_json:
        echo_json({"audits": [_record_json(a) for a in items]})
        return
    if not items:
        info("No audit reports recorded.")
    for a in items:
        info(
            f"[{_ts(getattr(a, 'timestamp', None))}] total={getattr(a, 'total_actors', None)} "
            f"alive={getattr(a, 'alive_actors', None)} "
            f"stopping={getattr(a, 'stopping_actors', None)} "
            f"restarting={getattr(a, 'restarting_actors', None)} "
            f"dead_letters={getattr(a, 'dead_letters_count', None)}"
        )


@inspect.command("dead-letters")
@backend_options
@_LIMIT
@_SINCE
@click.option("--reverse", is_flag=True, help="Newest first.")
@click.option(
    "--target",
    default=None,
    help="Only dead letters for this address, e.g. local:2 (after --limit).",
)
@_JSON
def dead_letters(
    source: BackendSource,
    limit: int | None, since: float | None, reverse: bool, target: str | None, as_json: bool
) -> None:
    """List persisted dead letters (messages that could not be delivered)."""
    items = list(run_async(_list, source, "list_dead_letters", limit, since))
    if reverse:
        items.reverse()
    if target is not None:
        items = [d for d in items if str(getattr(d, "target", None)) == target]
    if as_json:
        echo_json({"dead_letters": [_record_json(d) for d in items]})
        return
    if not items:
        info("No dead letters recorded.")
    for d in items:
        info(
            f"[{_ts(getattr(d, 'timestamp', None))}] target={getattr(d, 'target', None)} "
            f"type={getattr(d, 'message_type', None)} payload={getattr(d, 'payload', None)!r}"
        )


@inspect.command("summary")
@backend_options
@_JSON
def summary(source: BackendSource, as_json: bool) -> None:
    """Show the latest audit snapshot: actor counts and dead letters."""
    latest = run_async(_list, source, "list_audits", 1, None)
    audit = latest[-1] if latest else None
    if as_json:
        if audit is None:
            echo_json({"available": False, "actors": None, "dead_letters": None, "timestamp": None})
        else:
            echo_json(
                {
                    "available": True,
                    "actors": {
                        "total": getattr(audit, "total_actors", None),
                        "alive": getattr(audit, "alive_actors", None),
                        "stopping": getattr(audit, "stopping_actors", None),
                        "restarting": getattr(audit, "restarting_actors", None),
                    },
                    "dead_letters": getattr(audit, "dead_letters_count", None),
                    "timestamp": getattr(audit, "timestamp", None),
                }
            )
        return
    if audit is None:
        info("No audit data available.")
        return
    info(
        f"Actors: total={getattr(audit, 'total_actors', None)} "
        f"alive={getattr(audit, 'alive_actors', None)} "
        f"stopping={getattr(audit, 'stopping_actors', None)} "
        f"restarting={getattr(audit, 'restarting_actors', None)}"
    )
    info(f"Dead letters: {getattr(audit, 'dead_letters_count', None)}")

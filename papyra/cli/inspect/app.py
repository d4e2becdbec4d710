"""``papyra inspect``: read the events, audits and dead letters of ``settings.persistence``.

Read-only; no ``--path`` (these commands always use the configured backend). Each record is
one ``ℹ`` line and nothing else is printed; ``--json`` prints one document instead. Exit 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from papyra.cli._backend import open_backend
from papyra.cli._base import COUNT, PapyraGroup, echo_json, info, jsonable, run_async

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


def _no_path(path: str) -> Any:  # pragma: no cover - inspect commands never take --path
    raise AssertionError(path)


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


async def _list(method: str, limit: int | None, since: float | None) -> tuple[Any, ...]:
    async with open_backend(None, _no_path) as backend:
        return tuple(await getattr(backend, method)(limit=limit, since=since))


@click.group(cls=PapyraGroup)
def inspect() -> None:
    """Inspect persisted Papyra system state"""


@inspect.command("events")
@_LIMIT
@_SINCE
@click.option("--event-type", default=None, help="Only events of this type (after --limit).")
@click.option("--reverse", is_flag=True, help="Newest first.")
@_JSON
def events(
    limit: int | None, since: float | None, event_type: str | None, reverse: bool, as_json: bool
) -> None:
    """List persisted lifecycle and user events."""
    items = list(run_async(_list, "list_events", limit, since))
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
        info(
            f"[{_ts(getattr(e, 'timestamp', None))}] {getattr(e, 'event_type', None)} "
            f"{getattr(e, 'actor_address', None)}"
        )


@inspect.command("audits")
@_LIMIT
@_SINCE
@_JSON
def audits(limit: int | None, since: float | None, as_json: bool) -> None:
    """List persisted audit snapshots."""
    items = run_async(_list, "list_audits", limit, since)
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
    limit: int | None, since: float | None, reverse: bool, target: str | None, as_json: bool
) -> None:
    """List persisted dead letters (messages that could not be delivered)."""
    items = list(run_async(_list, "list_dead_letters", limit, since))
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
@_JSON
def summary(as_json: bool) -> None:
    """Show the latest audit snapshot: actor counts and dead letters."""
    latest = run_async(_list, "list_audits", 1, None)
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

"""Helpers of the contrib tests: damaged logs, the facts a log holds, raw ASGI calls."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOOD_LINE = (
    b'{"kind":"event","system_id":"local","actor_address":"local:1",'
    b'"event_type":"ActorStarted","payload":{},"timestamp":1763800000.0}\n'
)
CORRUPT_LINE = b'{"kind":"event","oops\n'


def write_damaged_log(path: Path) -> Path:
    """A log with one good record followed by one corrupted line (line 2)."""
    path.write_bytes(GOOD_LINE + CORRUPT_LINE)
    return path


def append_corrupt_line(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(CORRUPT_LINE)


def facts(path: Path) -> list[dict[str, Any]]:
    """Every record of an NDJSON log that parses (damaged lines are skipped)."""
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def events_of(path: Path, actor_name: str) -> list[str]:
    """The ``event_type``s recorded for the actor named ``actor_name``, in log order."""
    return [
        r["event_type"]
        for r in facts(path)
        if r.get("kind") == "event" and r.get("actor_name") == actor_name
    ]


@dataclass
class Reply:
    """What a raw ASGI endpoint sent."""

    messages: list[dict[str, Any]]

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> bytes:
        return bytes(self.messages[1]["body"])

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    endpoint: Callable[..., Awaitable[None]], *, scope_type: str = "http", **options: Any
) -> Reply:
    """Call ``endpoint(scope, receive, send, **options)`` for one GET and collect what it sent."""
    sent: list[dict[str, Any]] = []
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": scope_type, "method": "GET", "path": "/", "headers": []}
    await endpoint(scope, receive, send, **options)
    return Reply(sent)

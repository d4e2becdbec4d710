"""Helpers of the CLI tests: record factories, NDJSON content, a backend without scan support."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceScanReport,
)

#: The installed console script (``pip install -e .``); subprocess tests need it.
PAPYRA_BIN = shutil.which("papyra", path=os.path.dirname(sys.executable))


class UnsupportedBackend(PersistenceBackend):
    """The no-op base: scan / recover / compact return ``None`` (unsupported)."""


def event(ts: float, event_type: str = "ActorStarted", address: str = "local:1") -> PersistedEvent:
    return PersistedEvent("local", address, event_type, {}, ts)


def audit(ts: float, total: int = 3, dead: int = 1) -> PersistedAudit:
    return PersistedAudit("local", ts, total, total - 1, 1, 0, total, (), (), dead)


def dead_letter(
    ts: float, target: str = "local://1", payload: Any = "hello"
) -> PersistedDeadLetter:
    return PersistedDeadLetter("local", target, type(payload).__name__, payload, ts)


GOOD = (
    b'{"kind":"event","system_id":"local","actor_address":"local:1","event_type":"ActorStarted","payload":{},"timestamp":1.0}\n'
    b'{"kind":"dead_letter","system_id":"local","target":"local:2","message_type":"str","payload":"x","timestamp":2.0}\n'
)


def write_log(path: Path, *extra: bytes) -> bytes:
    """Two valid records followed by ``extra`` raw bytes; returns the whole content."""
    data = GOOD + b"".join(extra)
    path.write_bytes(data)
    return data


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


CORRUPT = b'{"kind":"event"\n'
TORN = b'{"kind":"event","timestamp":3'


class ScriptedBackend(UnsupportedBackend):
    """Returns canned reports and records what the CLI asked for."""

    def __init__(
        self, scans: list[Any], recover_result: Any = None, compact_result: Any = None
    ) -> None:
        super().__init__()
        self.scans = list(scans)
        self.recover_result = recover_result
        self.compact_result = compact_result
        self.calls: list[tuple[str, Any]] = []

    async def scan(self) -> Any:
        self.calls.append(("scan", None))
        return self.scans.pop(0) if len(self.scans) > 1 else self.scans[0]

    async def recover(self, config: Any = None) -> Any:
        self.calls.append(("recover", config))
        return self.recover_result

    async def compact(self) -> Any:
        self.calls.append(("compact", None))
        return self.compact_result


def anomalous(*details: str) -> PersistenceScanReport:
    return PersistenceScanReport(
        "fake",
        tuple(
            PersistenceAnomaly(PersistenceAnomalyType.CORRUPTED_LINE, "ev.ndjson", d)
            for d in details
        ),
    )


CLEAN = PersistenceScanReport("fake", ())

"""Fixtures of the file-persistence tests: an oracle for reads, a spy twin (``codec``: one up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from papyra.persistence._records import record_from_dict, select_window
from papyra.persistence._retention import apply_retention
from papyra.persistence.backends.retention import RetentionPolicy


def full_read(
    paths: list[Path],
    kind: str,
    policy: RetentionPolicy | None = None,
    *,
    since: float | None = None,
    limit: int | None = None,
) -> tuple[Any, ...]:
    """The spec's definition of ``list_*``: read everything, then filter (the test oracle)."""
    records: list[dict[str, Any]] = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                records.append(value)
    if policy is not None:
        records = apply_retention(records, policy)
    models = []
    for record in records:
        if record.get("kind") != kind:
            continue
        model = record_from_dict(kind, record)
        if model is not None:
            models.append(model)
    return select_window(models, since=since, limit=limit)


class SpyTwin:
    """An NDJSON twin (``_ndjson=``) that delegates to ``twin`` and notes the functions called."""

    def __init__(self, twin: Any) -> None:
        self._twin = twin
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._twin, name)
        if not callable(value) or isinstance(value, type):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self.called.add(name)
            return value(*args, **kwargs)

        return call

    def take(self) -> set[str]:
        """The functions called since the last ``take``."""
        called, self.called = self.called, set()
        return called

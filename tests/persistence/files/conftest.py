"""Fixtures of the file-persistence tests: a codec switch, an oracle for reads, a spy twin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from papyra import _serial
from papyra.persistence._records import record_from_dict, select_window
from papyra.persistence._retention import apply_retention
from papyra.persistence.backends.retention import RetentionPolicy


@pytest.fixture(params=_serial.available_backends())
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each JSON codec backend active (orjson, then the stdlib fallback)."""
    previous = _serial.set_backend(request.param)
    try:
        yield str(request.param)
    finally:
        _serial.set_backend(previous)


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

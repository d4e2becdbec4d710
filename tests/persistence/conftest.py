"""Fixtures of the persistence tests: ``codec`` runs a test with each JSON codec backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from papyra import _serial


@pytest.fixture(params=_serial.available_backends())
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each JSON codec backend active (orjson, then the stdlib fallback)."""
    previous = _serial.set_backend(request.param)
    try:
        yield str(request.param)
    finally:
        _serial.set_backend(previous)

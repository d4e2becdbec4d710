"""Fixtures of the Redis backend tests: a backend under a fresh prefix on the shared server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from papyra.persistence.backends.redis import RedisStreamsPersistence
from tests.redis_server import redis_backend

MakeBackend = Callable[..., RedisStreamsPersistence]


@pytest.fixture
async def make_backend(impl: Any) -> AsyncIterator[MakeBackend]:
    """Factory of backends on the shared server (``RedisStreamsConfig`` fields as keywords);
    each on the encoder twin under test, each closed at teardown."""
    made: list[RedisStreamsPersistence] = []

    def make(**config: Any) -> RedisStreamsPersistence:
        config.setdefault("_ndjson", impl.ndjson)
        backend = redis_backend(**config)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


@pytest.fixture
async def backend(make_backend: MakeBackend) -> RedisStreamsPersistence:
    return make_backend()

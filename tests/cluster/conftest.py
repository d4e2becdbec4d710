"""Fixtures of the cluster tests: members on the shared real Redis server, a fresh cluster name
per test (so tests never see each other's inboxes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from papyra.cluster import JsonCodec, RedisStreamsTransport
from papyra.system import ActorSystem
from tests.conftest import MakeSystem
from tests.redis_server import shared_server, unique_prefix

MakeMember = Callable[..., Awaitable[ActorSystem]]


@pytest.fixture
def cluster_name() -> str:
    return unique_prefix()


@pytest.fixture
def codec() -> JsonCodec:
    return JsonCodec()


@pytest.fixture
def make_member(make_system: MakeSystem, cluster_name: str, codec: JsonCodec) -> MakeMember:
    """``await make_member("node-a", **transport_args)``: a started system in the test's
    cluster, on the twin under test; closed at teardown by ``make_system``."""
    url = shared_server().url

    async def make(system_id: str, *, start: bool = True, **transport_args: Any) -> ActorSystem:
        transport_args.setdefault("codec", codec)
        transport_args.setdefault("heartbeat_interval", 0.2)
        transport_args.setdefault("member_ttl", 1.0)
        transport = RedisStreamsTransport(url, cluster=cluster_name, **transport_args)
        return await make_system(system_id=system_id, transport=transport, start=start)

    return make


async def poll_until(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    """Wait until ``await check()`` is true, asking every 50 ms, at most ``timeout`` seconds.

    For state owned by other processes (leases in Redis, a member process's output file):
    nothing in this event loop can signal it, so it is looked at again and again.
    """
    with anyio.fail_after(timeout):
        while True:
            if await check():
                return
            await anyio.sleep(0.05)

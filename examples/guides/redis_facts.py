"""Guide: the system's facts in Redis (docs/guides/redis.md).

Needs a running redis-server; the URL comes from PAPYRA_REDIS_URL.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

import anyio

from papyra import Actor, ActorSystem
from papyra.persistence.redis import (
    RedisStreamsConfig,
    RedisStreamsPersistence,
    RedisUnavailableError,
)

URL = os.environ.get("PAPYRA_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"guide{uuid.uuid4().hex[:8]}"  # a fresh prefix: reruns never see old facts


class Echo(Actor):
    async def receive(self, message):
        return message


class ShowLogs(logging.Handler):
    """Print the ERROR lines of the ``papyra`` logger, count its WARNINGs."""

    def __init__(self, port: int) -> None:
        super().__init__(logging.WARNING)
        self.port = str(port)
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.warnings += 1
        else:
            message = record.getMessage().replace(self.port, "<port>")
            print(f"{record.levelname}: {message}")


def closed_port() -> int:
    """A port nothing listens on: a Redis that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> None:
    config = RedisStreamsConfig(url=URL, prefix=PREFIX, system_id="node-a")

    # 1. A system writing its facts to Redis.
    async with ActorSystem(persistence=RedisStreamsPersistence(config)) as system:
        echo = system.spawn(Echo, name="echo")
        print("reply:", await echo.ask("hello"))

    # 2. Reading them back, from another backend object (another process would do the same).
    reader = RedisStreamsPersistence(config)
    events = await reader.list_events()
    print("events:", [(e.event_type, e.actor_name) for e in events])
    keys = sorted(await reader._redis.keys(f"{PREFIX}:*"))
    print("streams:", [k.replace(PREFIX, "<prefix>") for k in keys if ":writer:" not in k])
    await reader.aclose()

    # 3. Redis is down: a direct write raises, and keeps the record queued.
    port = closed_port()
    down = RedisStreamsPersistence(
        RedisStreamsConfig(url=f"redis://127.0.0.1:{port}/0", prefix=PREFIX, timeout=0.5)
    )
    event = {
        "system_id": "node-a", "actor_address": "local:1",
        "event_type": "Manual", "payload": {}, "timestamp": time.time(),
    }
    try:
        await down.record_event(event)
    except RedisUnavailableError as exc:
        print("record_event raised", type(exc).__name__, isinstance(exc, ConnectionError))
        print(" ", str(exc).replace(str(port), "<port>"))

    # 4. A system on that backend still runs its actors; only the fact writer complains.
    logs = ShowLogs(port)
    logging.getLogger("papyra").addHandler(logs)
    async with ActorSystem(persistence=down) as system:
        echo = system.spawn(Echo)
        with anyio.fail_after(5):
            print("reply while Redis is down:", await echo.ask("still here"))
    logging.getLogger("papyra").removeHandler(logs)
    print("writer warnings logged:", logs.warnings > 0)

if __name__ == "__main__":
    anyio.run(main)

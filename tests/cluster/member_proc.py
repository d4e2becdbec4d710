"""A cluster member in a process of its own, for the fail-over tests (tests/cluster).

``python -m tests.cluster.member_proc URL CLUSTER SYSTEM_ID OUT_FILE BACKEND`` runs a member
that hosts ``Order`` entities. Each handled message (``(key, seq)``) is appended to OUT_FILE as
``key seq system_id`` with one unbuffered ``write``, so the record survives a SIGKILL of the
process. It prints ``ready`` once it has joined, then runs until killed or sent SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import anyio

from papyra.actor import Actor
from papyra.cluster import RedisStreamsTransport
from papyra.system import ActorSystem


def main() -> None:
    url, cluster, system_id, out_file, backend = sys.argv[1:6]
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    class Order(Actor):
        async def receive(self, message: Any) -> Any:
            key, seq = message
            os.write(fd, f"{key} {seq} {system_id}\n".encode())
            return seq

    async def run() -> None:
        transport = RedisStreamsTransport(
            url, cluster=cluster, heartbeat_interval=0.2, member_ttl=1.0, shards=8
        )
        async with ActorSystem(system_id=system_id, transport=transport) as system:
            system.register_entity("Order", Order)
            print("ready", flush=True)
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    break

    anyio.run(run, backend=backend)


if __name__ == "__main__":
    main()

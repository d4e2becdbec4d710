"""A cluster member process for benchmarks/test_bench_cluster.py.

``python -m benchmarks.cluster_member URL CLUSTER SYSTEM_ID`` hosts a named actor ``sink``
(counts what it is told; an ask of ``"count"`` answers the count, an ask of anything else
answers the message) and ``Sink`` entities that do the same. Prints ``ready``; ends on SIGTERM.
With ``PAPYRA_MEMBER_PROFILE=path`` set, the process runs under cProfile and writes its stats
there on exit.
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


class Sink(Actor):
    count = 0  # per process: the entities add up

    async def receive(self, message: Any) -> Any:
        if message == "count":
            return Sink.count
        Sink.count += 1
        return message


def main() -> None:
    url, cluster, system_id = sys.argv[1:4]

    async def run() -> None:
        transport = RedisStreamsTransport(url, cluster=cluster, shards=16)
        async with ActorSystem(system_id=system_id, transport=transport) as system:
            system.spawn(Sink, name="sink", mailbox_capacity=4096)
            system.register_entity("Sink", Sink)
            print("ready", flush=True)
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    break

    profile = os.environ.get("PAPYRA_MEMBER_PROFILE")  # a path: cProfile stats written there
    if not profile:
        anyio.run(run)
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        anyio.run(run)
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


if __name__ == "__main__":
    main()

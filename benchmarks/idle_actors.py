"""One million idle actors in one system: what each costs in RSS, and that it all comes back.

``python -m benchmarks.idle_actors N python|cython`` spawns ``N`` idle actors, tells each one
message and waits until all were handled, stops them all, and prints one JSON object: the RSS
(bytes) at the start, with the ``N`` actors idle, after the message round, after the stop, and
after glibc's ``malloc_trim`` (what the allocator kept for reuse, returned to the OS), the
number of objects left beyond the start, and the seconds each phase took. Run in a child
process by ``test_bench_runtime.py`` so that the RSS is this workload's alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import sys
import time
from functools import partial
from importlib import import_module
from typing import Any

import anyio

from benchmarks.test_bench_runtime import _Latch
from papyra.actor import Actor
from papyra.system import ActorSystem


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (returns freed heap to the OS), or None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


trim = _malloc_trim()


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Device(Actor):
    """Idle until told; counts its message down on a shared latch."""

    def __init__(self, latch: _Latch) -> None:
        self.latch = latch

    async def receive(self, message: Any) -> None:
        self.latch.count_down()


async def run(n: int, twin: str) -> dict[str, float]:
    dispatch = import_module("papyra._speedups.dispatch_" + ("c" if twin == "cython" else "py"))
    out: dict[str, float] = {"actors": n}
    clock = time.perf_counter
    latch = _Latch(n)
    async with ActorSystem(_dispatch=dispatch, retain_terminated=1000) as system:
        gc.collect()
        objects_start = len(gc.get_objects())
        out["rss_start"] = rss()
        start = clock()
        refs = [system.spawn(partial(Device, latch)) for _ in range(n)]
        await asyncio.sleep(0)  # every ActorStarted is emitted
        out["spawn_s"] = clock() - start
        gc.collect()
        out["rss_idle"] = rss()
        start = clock()
        for ref in refs:
            await ref.tell(None)
        await latch.done
        out["message_s"] = clock() - start
        gc.collect()
        out["rss_after_message"] = rss()
        start = clock()
        for ref in refs:
            await system.stop(ref)
        del refs
        await system._lifecycle.wait_all_finished()
        out["stop_s"] = clock() - start
        gc.collect()
        out["rss_after_stop"] = rss()
        out["objects_after_stop_minus_start"] = len(gc.get_objects()) - objects_start
        # What the allocator keeps for reuse, given back: the rest is still in use.
        if trim is not None:
            trim(0)
            out["rss_after_trim"] = rss()
    return out


def main() -> None:
    n, twin = int(sys.argv[1]), sys.argv[2]
    print(json.dumps(anyio.run(run, n, twin)), flush=True)


if __name__ == "__main__":
    main()

"""One peer, one workload, in a fresh interpreter: ``python workloads.py PEER WORKLOAD N ROUNDS``.

Prints one JSON object on stdout. :mod:`benchmarks.peers.run` starts this file once per
(peer, workload) with the ``PYTHONPATH`` that selects the peer's code: the checkout for
``papyra``, a ``pip install --target`` directory for ``papyra-0.3.0`` (same import name), the
installed packages for ``pykka`` and ``thespian``.

The workloads are the same for every peer, written the way each library's documentation does
it:

* ``tell``: one producer sends N messages to one actor; the clock stops when an ``ask`` sent
  after them is answered (every peer here delivers a sender's messages in order).
* ``ask``: N sequential request/reply round trips to one actor.
* ``fan-out``: 1,000 actors, N messages each sent round-robin; then one ``ask`` per actor.
* ``spawn+stop``: spawn N actors, stop each, until all have run their stop hook.
* ``idle-memory``: RSS growth while N spawned actors sit idle (one measurement).

The ``ceiling`` peers (``ceiling``, ``ceiling-uvloop``) are no library: raw asyncio primitives
doing the same work (:func:`ceiling_peer`), so every panel also shows what the loop itself costs.

Throughput workloads run one untimed warm-up round and ``ROUNDS`` timed rounds; only the
workload itself is timed (starting and closing the actor system is not, for any peer).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

FAN_ACTORS = 1_000
WARM_ACTORS = 100  # spawned before the idle-memory baseline, so lazy set-up is not counted


def rss_bytes() -> int:
    """Resident set size of this process (Linux: ``/proc/self/statm``)."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- Papyra (this checkout, or 0.3.0 from its own target directory: same public API) --------------


def papyra_peer(backend_options: dict[str, Any] | None = None) -> dict[str, Callable[[int], Any]]:
    import anyio

    from papyra import Actor, ActorSystem

    class Counter(Actor):
        def __init__(self) -> None:
            self.count = 0

        async def receive(self, message: Any) -> int:
            self.count += 1
            return self.count

    class Idle(Actor):
        async def receive(self, message: Any) -> None:
            return None

    stopped: list[int] = []

    class Stoppable(Actor):
        async def receive(self, message: Any) -> None:
            return None

        async def on_stop(self) -> None:
            stopped.append(1)

    def run(main: Callable[..., Any], n: int) -> Any:
        return anyio.run(main, n, backend="asyncio", backend_options=backend_options)

    async def tell(n: int) -> tuple[float, int]:
        async with ActorSystem() as system:
            ref = system.spawn(Counter)
            start = time.perf_counter()
            for i in range(n):
                await ref.tell(i)
            count = await ref.ask(None)
            return time.perf_counter() - start, count - 1

    async def ask(n: int) -> tuple[float, int]:
        async with ActorSystem() as system:
            ref = system.spawn(Counter)
            start = time.perf_counter()
            last = 0
            for i in range(n):
                last = await ref.ask(i)
            return time.perf_counter() - start, last

    async def fan_out(n: int) -> tuple[float, int]:
        async with ActorSystem() as system:
            refs = [system.spawn(Counter) for _ in range(FAN_ACTORS)]
            start = time.perf_counter()
            for i in range(n):
                for ref in refs:
                    await ref.tell(i)
            total = 0
            for ref in refs:
                total += await ref.ask(None) - 1
            return time.perf_counter() - start, total

    async def spawn_stop(n: int) -> tuple[float, int]:
        stopped.clear()
        system = ActorSystem()
        await system.start()
        start = time.perf_counter()
        refs = [system.spawn(Stoppable) for _ in range(n)]
        for ref in refs:
            await system.stop(ref)
        await system.aclose()  # returns once every actor has terminated
        return time.perf_counter() - start, len(stopped)

    async def idle_memory(n: int) -> tuple[int, int]:
        async with ActorSystem() as system:
            warm = [system.spawn(Idle) for _ in range(WARM_ACTORS)]
            await anyio.wait_all_tasks_blocked()
            gc.collect()
            before = rss_bytes()
            refs = [system.spawn(Idle) for _ in range(n)]
            await anyio.wait_all_tasks_blocked()  # every actor started and parked
            gc.collect()
            after = rss_bytes()
            assert len(refs) + len(warm) == n + WARM_ACTORS
            return after - before, n

    return {
        "tell": lambda n: run(tell, n),
        "ask": lambda n: run(ask, n),
        "fan-out": lambda n: run(fan_out, n),
        "spawn+stop": lambda n: run(spawn_stop, n),
        "idle-memory": lambda n: run(idle_memory, n),
    }


# -- pykka: one thread per actor (ThreadingActor) ---------------------------------------------


def pykka_peer() -> dict[str, Callable[[int], Any]]:
    import pykka

    class Counter(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> int:
            self.count += 1
            return self.count

    class Idle(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> None:
            return None

    stopped: list[int] = []

    class Stoppable(Idle):
        def on_stop(self) -> None:
            stopped.append(1)  # list.append is atomic under the GIL

    def tell(n: int) -> tuple[float, int]:
        ref = Counter.start()
        try:
            start = time.perf_counter()
            for i in range(n):
                ref.tell(i)
            count = ref.ask(None)
            return time.perf_counter() - start, count - 1
        finally:
            ref.stop()

    def ask(n: int) -> tuple[float, int]:
        ref = Counter.start()
        try:
            start = time.perf_counter()
            last = 0
            for i in range(n):
                last = ref.ask(i)
            return time.perf_counter() - start, last
        finally:
            ref.stop()

    def fan_out(n: int) -> tuple[float, int]:
        refs = [Counter.start() for _ in range(FAN_ACTORS)]
        try:
            start = time.perf_counter()
            for i in range(n):
                for ref in refs:
                    ref.tell(i)
            counts = pykka.get_all([ref.ask(None, block=False) for ref in refs])
            return time.perf_counter() - start, sum(counts) - len(refs)
        finally:
            pykka.ActorRegistry.stop_all()

    def spawn_stop(n: int) -> tuple[float, int]:
        stopped.clear()
        start = time.perf_counter()
        refs = [Stoppable.start() for _ in range(n)]
        pykka.get_all([ref.stop(block=False) for ref in refs])
        return time.perf_counter() - start, len(stopped)

    def idle_memory(n: int) -> tuple[int, int]:
        try:
            [Idle.start() for _ in range(WARM_ACTORS)]
            gc.collect()
            before = rss_bytes()
            refs = [Idle.start() for _ in range(n)]  # start() returns once the thread runs
            gc.collect()
            after = rss_bytes()
            assert len(refs) == n
            return after - before, n
        finally:
            pykka.ActorRegistry.stop_all()

    return {
        "tell": tell,
        "ask": ask,
        "fan-out": fan_out,
        "spawn+stop": spawn_stop,
        "idle-memory": idle_memory,
    }


# -- Thespian: the in-process base (simpleSystemBase: actors run in the caller's thread) -----------


def thespian_peer() -> dict[str, Callable[[int], Any]]:
    from thespian.actors import Actor, ActorExitRequest, ActorSystem

    class Counter(Actor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.count = 0

        def receiveMessage(self, message: Any, sender: Any) -> None:
            if isinstance(message, ActorExitRequest):
                return
            self.count += 1
            if message is None:
                self.send(sender, self.count)

    class Idle(Actor):
        def receiveMessage(self, message: Any, sender: Any) -> None:
            return None

    stopped: list[int] = []

    class Stoppable(Actor):
        def receiveMessage(self, message: Any, sender: Any) -> None:
            if isinstance(message, ActorExitRequest):
                stopped.append(1)

    class Answering(Counter):
        def receiveMessage(self, message: Any, sender: Any) -> None:
            if isinstance(message, ActorExitRequest):
                return
            self.count += 1
            self.send(sender, self.count)

    def system() -> Any:
        return ActorSystem("simpleSystemBase")

    def tell(n: int) -> tuple[float, int]:
        asys = system()
        try:
            addr = asys.createActor(Counter)
            start = time.perf_counter()
            for i in range(n):
                asys.tell(addr, i)
            count = asys.ask(addr, None, 60)
            return time.perf_counter() - start, count - 1
        finally:
            asys.shutdown()

    def ask(n: int) -> tuple[float, int]:
        asys = system()
        try:
            addr = asys.createActor(Answering)
            start = time.perf_counter()
            last = 0
            for i in range(n):
                last = asys.ask(addr, i, 60)
            return time.perf_counter() - start, last
        finally:
            asys.shutdown()

    def fan_out(n: int) -> tuple[float, int]:
        asys = system()
        try:
            addrs = [asys.createActor(Counter) for _ in range(FAN_ACTORS)]
            start = time.perf_counter()
            for i in range(n):
                for addr in addrs:
                    asys.tell(addr, i)
            total = sum(asys.ask(addr, None, 60) - 1 for addr in addrs)
            return time.perf_counter() - start, total
        finally:
            asys.shutdown()

    def spawn_stop(n: int) -> tuple[float, int]:
        stopped.clear()
        asys = system()
        try:
            start = time.perf_counter()
            addrs = [asys.createActor(Stoppable) for _ in range(n)]
            for addr in addrs:
                asys.tell(addr, ActorExitRequest())
            return time.perf_counter() - start, len(stopped)
        finally:
            asys.shutdown()

    def idle_memory(n: int) -> tuple[int, int]:
        asys = system()
        try:
            [asys.createActor(Idle) for _ in range(WARM_ACTORS)]
            gc.collect()
            before = rss_bytes()
            addrs = [asys.createActor(Idle) for _ in range(n)]
            gc.collect()
            after = rss_bytes()
            assert len(addrs) == n
            return after - before, n
        finally:
            asys.shutdown()

    return {
        "tell": tell,
        "ask": ask,
        "fan-out": fan_out,
        "spawn+stop": spawn_stop,
        "idle-memory": idle_memory,
    }


# -- the ceilings: raw asyncio primitives doing the same work, no actor runtime ----------------


def ceiling_peer(backend_options: dict[str, Any] | None = None) -> dict[str, Callable[[int], Any]]:
    """What the event loop's own primitives cost for each workload: the most any asyncio actor
    runtime could reach on this loop (the baselines of ``benchmarks/test_bench_runtime.py``).

    * ``tell``: one ``asyncio.Queue(1024)`` (Papyra's default mailbox capacity), the producer
      awaits ``put``, a consumer task counts; the clock stops when the consumer has all N;
    * ``ask``: two tasks, two bare futures per round trip (the request carries the reply future);
    * ``fan-out``: 1,000 queues with a consumer task each, the same send order; the clock stops
      when every consumer has its N;
    * ``spawn+stop``: N tasks parked on a future, each cancelled, until all ran their ``finally``
      (the stop hook);
    * ``idle-memory``: N tasks parked on a future (an idle Papyra actor holds no task, so it can
      come out below this one).
    """
    import asyncio

    import anyio

    mailbox = 1024

    def run(main: Callable[..., Any], n: int) -> Any:
        return anyio.run(main, n, backend="asyncio", backend_options=backend_options)

    async def tell(n: int) -> tuple[float, int]:
        queue: asyncio.Queue[int] = asyncio.Queue(mailbox)
        seen = 0

        async def consumer() -> None:
            nonlocal seen
            get = queue.get
            while seen < n:
                await get()
                seen += 1

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0)  # started and parked, like a spawned actor
        start = time.perf_counter()
        put = queue.put
        for i in range(n):
            await put(i)
        await task
        return time.perf_counter() - start, seen

    async def ask(n: int) -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        inbox: list[Any] = [loop.create_future()]

        async def server() -> None:
            count = 0
            while True:
                message, reply = await inbox[0]
                inbox[0] = loop.create_future()  # re-armed before the client can send again
                if message is None:
                    return
                count += 1
                reply.set_result(count)

        task = loop.create_task(server())
        await asyncio.sleep(0)
        start = time.perf_counter()
        last = 0
        for i in range(n):
            reply = loop.create_future()
            inbox[0].set_result((i, reply))
            last = await reply
        elapsed = time.perf_counter() - start
        inbox[0].set_result((None, None))
        await task
        return elapsed, last

    async def fan_out(n: int) -> tuple[float, int]:
        total = 0

        async def consumer(queue: asyncio.Queue[int]) -> None:
            nonlocal total
            get = queue.get
            count = 0
            while count < n:
                await get()
                count += 1
            total += count

        queues: list[asyncio.Queue[int]] = [asyncio.Queue(mailbox) for _ in range(FAN_ACTORS)]
        tasks = [asyncio.create_task(consumer(queue)) for queue in queues]
        await asyncio.sleep(0)
        start = time.perf_counter()
        puts = [queue.put for queue in queues]
        for i in range(n):
            for put in puts:
                await put(i)
        await asyncio.wait(tasks)
        return time.perf_counter() - start, total

    async def spawn_stop(n: int) -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        stopped: list[int] = []

        async def parked() -> None:
            try:
                await loop.create_future()  # never completed: parked like an idle actor
            finally:
                stopped.append(1)

        start = time.perf_counter()
        tasks = [loop.create_task(parked()) for _ in range(n)]
        await asyncio.sleep(0)  # every task starts and parks
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        return time.perf_counter() - start, len(stopped)

    async def idle_memory(n: int) -> tuple[int, int]:
        loop = asyncio.get_running_loop()

        async def parked() -> None:
            await loop.create_future()

        warm = [loop.create_task(parked()) for _ in range(WARM_ACTORS)]
        await asyncio.sleep(0)
        gc.collect()
        before = rss_bytes()
        tasks = [loop.create_task(parked()) for _ in range(n)]
        await asyncio.sleep(0)  # every task started and parked
        gc.collect()
        after = rss_bytes()
        for task in warm + tasks:
            task.cancel()
        await asyncio.wait(warm + tasks)
        return after - before, len(tasks)

    return {
        "tell": lambda n: run(tell, n),
        "ask": lambda n: run(ask, n),
        "fan-out": lambda n: run(fan_out, n),
        "spawn+stop": lambda n: run(spawn_stop, n),
        "idle-memory": lambda n: run(idle_memory, n),
    }


# -- the driver ----------------------------------------------------------------------------------

PEERS: dict[str, Callable[[], dict[str, Callable[[int], Any]]]] = {
    "papyra": papyra_peer,
    "papyra-uvloop": lambda: papyra_peer({"use_uvloop": True}),
    "papyra-0.3.0": papyra_peer,
    "pykka": pykka_peer,
    "thespian": thespian_peer,
    "ceiling": ceiling_peer,
    "ceiling-uvloop": lambda: ceiling_peer({"use_uvloop": True}),
}

#: What each workload's check value must be for ``n``: a wrong count is a broken run.
EXPECTED: dict[str, Callable[[int], int]] = {
    "tell": lambda n: n,
    "ask": lambda n: n,
    "fan-out": lambda n: n * FAN_ACTORS,
    "spawn+stop": lambda n: n,
    "idle-memory": lambda n: n,
}


def describe(peer: str) -> dict[str, Any]:
    """Which code this process actually runs (version, file, compiled twins)."""
    if peer.startswith("papyra"):
        import papyra

        info: dict[str, Any] = {"version": papyra.__version__, "file": papyra.__file__}
        try:
            from papyra import _accel
        except ImportError:
            info["implementation"] = "python (no twins in this version)"
        else:
            info["implementation"] = _accel.IMPLEMENTATION
        return info
    if peer.startswith("ceiling"):
        import platform

        return {"version": f"{platform.python_implementation()} {platform.python_version()}"}
    from importlib.metadata import version

    return {"version": version(peer)}


def main(argv: list[str]) -> None:
    peer, workload, n_text, rounds_text = argv
    n, rounds = int(n_text), int(rounds_text)
    fn = PEERS[peer]()[workload]
    result: dict[str, Any] = {"peer": peer, "workload": workload, "n": n, **describe(peer)}
    if workload == "idle-memory":
        grown, count = fn(n)
        checks = [count]
        result["rss_growth_bytes"] = grown
        result["bytes_per_actor"] = grown / n
    else:
        fn(n)  # warm-up
        seconds, checks = [], []
        for _ in range(rounds):
            elapsed, count = fn(n)
            seconds.append(elapsed)
            checks.append(count)
        result["seconds"] = seconds
    expected = EXPECTED[workload](n)
    if any(check != expected for check in checks):
        raise SystemExit(f"{peer} {workload}: counted {checks}, expected {expected} each round")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

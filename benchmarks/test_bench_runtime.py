"""Message-delivery benchmarks: Papyra (both dispatch twins) against raw asyncio.

Every benchmarked call is one ``anyio.run(..., backend="asyncio")`` round: it builds what it
needs (an ``ActorSystem`` or raw queues and tasks), moves N messages, waits until the receiving
side has seen all of them, and tears everything down. Each group has a raw-asyncio baseline row
doing the same work in the same session; the runtime rows report ``ops_per_s`` and
``ratio = runtime ops/s / baseline ops/s`` in ``extra_info``, and the session ends with a
summary table (benchmarks/conftest.py). Goals are targets, never assertions. The ``(uvloop)``
groups repeat the four workloads on asyncio with uvloop's event loop, each against its baseline
run on uvloop too.

The counts are checked after timing (a wrong count means a broken benchmark, not a slow one).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from types import ModuleType
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.hooks import DefaultHooks
from papyra.system import ActorSystem

# Every row runs ``Spec.rounds`` timed rounds after one untimed warm-up round. A full run of
# this module (both twins) takes about 40 s on two cores; see docs/benchmarks.md.
WARMUP = 1

#: Default ``spawn(mailbox_capacity=...)``; the baselines bound their queues the same way.
MAILBOX = 1024


@dataclass(frozen=True)
class Spec:
    group: str
    ops: int  # operations per round: messages, asks or actors
    unit: str
    goal: float
    baseline: Callable[[], Awaitable[int]]
    expected: int  # what one round returns when every operation arrived
    rounds: int = 10
    uvloop: bool = False  # asyncio on uvloop's event loop, for both sides of the ratio

    @property
    def workload(self) -> str:
        """The key of :data:`RUNTIME`: the group without its loop suffix."""
        return self.group.removesuffix(UVLOOP)


UVLOOP = " (uvloop)"


def _round(
    main: Callable[..., Awaitable[int]], *args: Any, backend: str = "asyncio", uvloop: bool = False
) -> int:
    options = {"use_uvloop": True} if uvloop else None
    return anyio.run(main, *args, backend=backend, backend_options=options)


# -- tell: one producer, one consumer --------------------------------------------------------------

TELLS = 200_000


class Counter(Actor):
    """Counts every message; the reply to an ``ask`` is the count so far (itself included)."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> int:
        self.count += 1
        return self.count


async def papyra_tell(dispatch: ModuleType, n: int = TELLS) -> int:
    async with ActorSystem(_dispatch=dispatch) as system:
        ref = system.spawn(Counter)
        tell = ref.tell
        for i in range(n):
            await tell(i)
        return int(await ref.ask(None))  # FIFO: answered after all n tells were handled


async def asyncio_queue_tell(n: int = TELLS) -> int:
    queue: asyncio.Queue[int] = asyncio.Queue(MAILBOX)
    seen = 0

    async def consumer() -> None:
        nonlocal seen
        get = queue.get
        while seen < n:
            await get()
            seen += 1

    task = asyncio.create_task(consumer())
    put = queue.put
    for i in range(n):
        await put(i)
    await task
    return seen + 1  # + the final ask of the runtime side, so both report n + 1


class DequeMailbox:
    """The smallest sound bounded mailbox in pure Python: a deque, one parked consumer future,
    producer futures while full. The ``tell vs deque`` baseline: what one message costs with
    nothing but queueing and waking (no liveness, supervision, stop or reply handling)."""

    def __init__(self, capacity: int) -> None:
        self.items: deque[Any] = deque()
        self.capacity = capacity
        self.getter: asyncio.Future[None] | None = None
        self.putters: deque[asyncio.Future[None]] = deque()
        self.loop = asyncio.get_running_loop()

    async def put(self, message: Any) -> None:
        while len(self.items) >= self.capacity:
            fut = self.loop.create_future()
            self.putters.append(fut)
            await fut
        self.items.append(message)
        getter = self.getter
        if getter is not None:
            self.getter = None
            getter.set_result(None)

    async def receive(self) -> Any:
        while not self.items:
            fut = self.getter = self.loop.create_future()
            await fut
        message = self.items.popleft()
        if self.putters:
            self.putters.popleft().set_result(None)
        return message


async def deque_mailbox_tell(n: int = TELLS) -> int:
    mailbox = DequeMailbox(MAILBOX)
    seen = 0

    async def consumer() -> None:
        nonlocal seen
        receive = mailbox.receive
        while seen < n:
            await receive()
            seen += 1

    task = asyncio.create_task(consumer())
    put = mailbox.put
    for i in range(n):
        await put(i)
    await task
    return seen + 1  # as asyncio_queue_tell


# -- ask: sequential request/reply round trips -----------------------------------------------------

ASKS = 20_000


async def papyra_ask(dispatch: ModuleType, n: int = ASKS) -> int:
    async with ActorSystem(_dispatch=dispatch) as system:
        ask = system.spawn(Counter).ask
        last = 0
        for i in range(n):
            last = await ask(i)
        return int(last)


async def future_round_trip(n: int = ASKS) -> int:
    """Two tasks, two bare futures per round trip: request (client -> server), reply (back)."""
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
    last = 0
    for i in range(n):
        reply = loop.create_future()
        inbox[0].set_result((i, reply))
        last = await reply
    inbox[0].set_result((None, None))
    await task
    return int(last)


# -- fan-out: one producer, many consumers ---------------------------------------------------------

FAN_ACTORS = 1_000
FAN_MESSAGES = 100  # per actor, sent round-robin


class _Latch:
    """Completes ``done`` (an asyncio future) once ``count_down`` was called ``n`` times."""

    def __init__(self, n: int) -> None:
        self.remaining = n
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def count_down(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set_result(None)


class Sink(Actor):
    def __init__(self, latch: _Latch, expected: int) -> None:
        self.latch = latch
        self.expected = expected
        self.count = 0

    async def receive(self, message: Any) -> None:
        self.count += 1
        if self.count == self.expected:
            self.latch.count_down()


async def papyra_fan_out(
    dispatch: ModuleType, actors: int = FAN_ACTORS, per_actor: int = FAN_MESSAGES
) -> int:
    latch = _Latch(actors)
    async with ActorSystem(_dispatch=dispatch) as system:
        tells = [system.spawn(partial(Sink, latch, per_actor)).tell for _ in range(actors)]
        for i in range(per_actor):
            for tell in tells:
                await tell(i)
        await latch.done
    return actors * per_actor


async def asyncio_queues_fan_out(actors: int = FAN_ACTORS, per_actor: int = FAN_MESSAGES) -> int:
    latch = _Latch(actors)

    async def consumer(queue: asyncio.Queue[int]) -> None:
        get = queue.get
        count = 0
        while count < per_actor:
            await get()
            count += 1
        latch.count_down()

    queues: list[asyncio.Queue[int]] = [asyncio.Queue(MAILBOX) for _ in range(actors)]
    tasks = [asyncio.create_task(consumer(queue)) for queue in queues]
    puts = [queue.put for queue in queues]
    for i in range(per_actor):
        for put in puts:
            await put(i)
    await latch.done
    await asyncio.wait(tasks)
    return actors * per_actor


# -- spawn + stop ----------------------------------------------------------------------------------

SPAWNS = 10_000


class Idle(Actor):
    """Does nothing; no ``on_start``/``on_stop`` of its own."""

    async def receive(self, message: Any) -> None:
        return None


class _CountStops(DefaultHooks):
    """Counts ``ActorStopped`` events: one per terminated actor (a no-op hook otherwise)."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = 0

    def on_event(self, event: Any) -> None:
        if type(event) is ActorStoppedEvent:
            self.stopped += 1


async def papyra_spawn_stop(dispatch: ModuleType, n: int = SPAWNS) -> int:
    hooks = _CountStops()
    async with ActorSystem(hooks=hooks, _dispatch=dispatch) as system:
        refs = [system.spawn(Idle) for _ in range(n)]
        await asyncio.sleep(0)  # every actor runs on_start and parks on its empty mailbox
        for ref in refs:
            await system.stop(ref)
    # leaving the block awaited every actor task: all n have terminated
    return hooks.stopped


async def asyncio_spawn_cancel(n: int = SPAWNS) -> int:
    loop = asyncio.get_running_loop()

    async def parked() -> None:
        await loop.create_future()  # never completed: parked like an idle actor

    tasks = [loop.create_task(parked()) for _ in range(n)]
    await asyncio.sleep(0)  # every task starts and parks
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    return sum(task.cancelled() for task in tasks)


# -- the rows --------------------------------------------------------------------------------------

SPECS = {
    "tell": Spec("tell", TELLS, "msg", 1.0, asyncio_queue_tell, TELLS + 1),
    "tell vs deque": Spec("tell vs deque", TELLS, "msg", 1.0, deque_mailbox_tell, TELLS + 1),
    "ask": Spec("ask", ASKS, "ask", 1.2, future_round_trip, ASKS),
    "fan-out": Spec(
        "fan-out", FAN_ACTORS * FAN_MESSAGES, "msg", 1.5, asyncio_queues_fan_out,
        FAN_ACTORS * FAN_MESSAGES,
    ),
    "spawn+stop": Spec(
        "spawn+stop", SPAWNS, "actor", 1.0, asyncio_spawn_cancel, SPAWNS, rounds=5
    ),
}

RUNTIME = {
    "tell": papyra_tell,
    "tell vs deque": papyra_tell,
    "ask": papyra_ask,
    "fan-out": papyra_fan_out,
    "spawn+stop": papyra_spawn_stop,
}


def _bench_baseline(benchmark: Any, baselines: Any, spec: Spec) -> None:
    result = benchmark.pedantic(
        _round, args=(spec.baseline,), kwargs={"uvloop": spec.uvloop}, rounds=spec.rounds,
        warmup_rounds=WARMUP, iterations=1,
    )
    assert result == spec.expected
    timing = baselines.record(spec.group, benchmark, spec.ops)
    if timing is not None:
        benchmark.extra_info.update(ops_per_s=round(timing.ops_per_s), unit=spec.unit)


def _bench_runtime(benchmark: Any, baselines: Any, impl: Any, spec: Spec) -> None:
    main = RUNTIME[spec.workload]
    result = benchmark.pedantic(
        _round, args=(main, impl.dispatch), kwargs={"uvloop": spec.uvloop}, rounds=spec.rounds,
        warmup_rounds=WARMUP, iterations=1,
    )
    assert result == spec.expected
    if benchmark.stats is None:  # --benchmark-disable: a single smoke run, nothing to compare
        return
    stats = benchmark.stats.stats
    ops_per_s = spec.ops / stats.mean
    base = baselines.get(
        spec.group, partial(_round, spec.baseline, uvloop=spec.uvloop), spec.ops, spec.rounds,
        WARMUP,
    )
    ratio = ops_per_s / base.ops_per_s
    # The median is steadier on a shared machine; reported beside the mean-based ratio.
    ratio_median = base.median / stats.median
    benchmark.extra_info.update(
        ops_per_s=round(ops_per_s),
        unit=spec.unit,
        baseline_ops_per_s=round(base.ops_per_s),
        ratio=round(ratio, 3),
        ratio_median=round(ratio_median, 3),
        goal=spec.goal,
    )
    baselines.add_row(
        spec.group, impl.name, spec.unit, ops_per_s, base.ops_per_s, ratio, spec.goal,
        ratio_median,
    )


# One pair of functions per group so pytest-benchmark groups (and --benchmark-group-by=func)
# put the baseline, python and cython rows side by side.


@pytest.mark.baseline
@pytest.mark.benchmark(group="tell")
def test_tell_baseline_asyncio_queue(benchmark: Any, baselines: Any) -> None:
    _bench_baseline(benchmark, baselines, SPECS["tell"])


@pytest.mark.benchmark(group="tell")
def test_tell(benchmark: Any, baselines: Any, impl: Any) -> None:
    _bench_runtime(benchmark, baselines, impl, SPECS["tell"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="tell vs deque")
def test_tell_baseline_deque_mailbox(benchmark: Any, baselines: Any) -> None:
    _bench_baseline(benchmark, baselines, SPECS["tell vs deque"])


@pytest.mark.benchmark(group="tell vs deque")
def test_tell_vs_deque(benchmark: Any, baselines: Any, impl: Any) -> None:
    _bench_runtime(benchmark, baselines, impl, SPECS["tell vs deque"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="ask")
def test_ask_baseline_future_round_trip(benchmark: Any, baselines: Any) -> None:
    _bench_baseline(benchmark, baselines, SPECS["ask"])


@pytest.mark.benchmark(group="ask")
def test_ask(benchmark: Any, baselines: Any, impl: Any) -> None:
    _bench_runtime(benchmark, baselines, impl, SPECS["ask"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="fan-out")
def test_fan_out_baseline_asyncio_queues(benchmark: Any, baselines: Any) -> None:
    _bench_baseline(benchmark, baselines, SPECS["fan-out"])


@pytest.mark.benchmark(group="fan-out")
def test_fan_out(benchmark: Any, baselines: Any, impl: Any) -> None:
    _bench_runtime(benchmark, baselines, impl, SPECS["fan-out"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="spawn+stop")
def test_spawn_stop_baseline_asyncio_tasks(benchmark: Any, baselines: Any) -> None:
    _bench_baseline(benchmark, baselines, SPECS["spawn+stop"])


@pytest.mark.benchmark(group="spawn+stop")
def test_spawn_stop(benchmark: Any, baselines: Any, impl: Any) -> None:
    _bench_runtime(benchmark, baselines, impl, SPECS["spawn+stop"])


# -- the same rows on uvloop's event loop, each against its baseline run on uvloop ----------------

UVLOOP_SPECS = {
    name: replace(spec, group=name + UVLOOP, uvloop=True) for name, spec in SPECS.items()
}


@pytest.fixture
def uvloop_available() -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed: `pip install uvloop`")


@pytest.mark.baseline
@pytest.mark.benchmark(group="tell" + UVLOOP)
def test_tell_baseline_asyncio_queue_uvloop(
    benchmark: Any, baselines: Any, uvloop_available: None
) -> None:
    _bench_baseline(benchmark, baselines, UVLOOP_SPECS["tell"])


@pytest.mark.benchmark(group="tell" + UVLOOP)
def test_tell_uvloop(benchmark: Any, baselines: Any, impl: Any, uvloop_available: None) -> None:
    _bench_runtime(benchmark, baselines, impl, UVLOOP_SPECS["tell"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="ask" + UVLOOP)
def test_ask_baseline_future_round_trip_uvloop(
    benchmark: Any, baselines: Any, uvloop_available: None
) -> None:
    _bench_baseline(benchmark, baselines, UVLOOP_SPECS["ask"])


@pytest.mark.benchmark(group="ask" + UVLOOP)
def test_ask_uvloop(benchmark: Any, baselines: Any, impl: Any, uvloop_available: None) -> None:
    _bench_runtime(benchmark, baselines, impl, UVLOOP_SPECS["ask"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="fan-out" + UVLOOP)
def test_fan_out_baseline_asyncio_queues_uvloop(
    benchmark: Any, baselines: Any, uvloop_available: None
) -> None:
    _bench_baseline(benchmark, baselines, UVLOOP_SPECS["fan-out"])


@pytest.mark.benchmark(group="fan-out" + UVLOOP)
def test_fan_out_uvloop(
    benchmark: Any, baselines: Any, impl: Any, uvloop_available: None
) -> None:
    _bench_runtime(benchmark, baselines, impl, UVLOOP_SPECS["fan-out"])


@pytest.mark.baseline
@pytest.mark.benchmark(group="spawn+stop" + UVLOOP)
def test_spawn_stop_baseline_asyncio_tasks_uvloop(
    benchmark: Any, baselines: Any, uvloop_available: None
) -> None:
    _bench_baseline(benchmark, baselines, UVLOOP_SPECS["spawn+stop"])


@pytest.mark.benchmark(group="spawn+stop" + UVLOOP)
def test_spawn_stop_uvloop(
    benchmark: Any, baselines: Any, impl: Any, uvloop_available: None
) -> None:
    _bench_runtime(benchmark, baselines, impl, UVLOOP_SPECS["spawn+stop"])


# -- for information: tell on trio (one round, no baseline, no ratio) ------------------------------


@pytest.mark.benchmark(group="tell-trio (info)")
def test_tell_trio(benchmark: Any, baselines: Any, impl: Any) -> None:
    result = benchmark.pedantic(
        _round,
        args=(papyra_tell, impl.dispatch),
        kwargs={"backend": "trio"},
        rounds=1,
        iterations=1,
    )
    assert result == TELLS + 1
    if benchmark.stats is None:
        return
    ops_per_s = TELLS / benchmark.stats.stats.mean
    benchmark.extra_info.update(ops_per_s=round(ops_per_s), unit="msg", backend="trio")
    baselines.add_row("tell-trio (info)", impl.name, "msg", ops_per_s)


# -- a million idle actors: RSS per actor (benchmarks/idle_actors.py, in a child process) ----------

IDLE_ACTORS = 1_000_000
#: Goal: at most this many bytes of RSS per idle actor.
IDLE_GOAL_BYTES = 1024


@pytest.mark.benchmark(group="idle 1M")
def test_million_idle_actors(benchmark: Any, baselines: Any, impl: Any) -> None:
    """Spawn 1,000,000 idle actors, tell each one message, stop them all: RSS at each step.

    One round in a child process (its RSS is this workload's alone): about 90 s per twin on
    two cores. The row reports bytes of RSS per idle actor (goal <= 1 KB); ``extra_info`` has
    every figure (``benchmarks/idle_actors.py``).
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    figures: dict[str, float] = {}

    def run() -> None:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.idle_actors", str(IDLE_ACTORS), impl.name],
            cwd=root, env={**os.environ, "PYTHONPATH": root}, capture_output=True, text=True,
            check=True, timeout=900,
        )
        figures.update(json.loads(out.stdout))

    benchmark.pedantic(run, rounds=1, iterations=1)
    per_actor = (figures["rss_idle"] - figures["rss_start"]) / IDLE_ACTORS
    benchmark.extra_info.update(figures, rss_per_idle_actor=round(per_actor))
    if benchmark.stats is not None:
        baselines.add_row(
            f"idle 1M (goal <= {IDLE_GOAL_BYTES} B)", impl.name, "B/actor", per_actor
        )

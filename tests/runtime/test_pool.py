"""Pools and routers (issue 13 §4; docs/runtime.md, "Pools and routers")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.pool import PoolRef, Routing, _key_bytes, spawn_pool
from papyra.supervision import Strategy, SupervisionPolicy
from tests.conftest import MakeSystem

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


class Worker(Actor):
    """Replies with its own ref; records what it handled in a list shared by the test."""

    def __init__(self, log: list[tuple[Any, Any]] | None = None) -> None:
        self.log = log

    async def receive(self, message: Any) -> Any:
        if self.log is not None:
            self.log.append((self.context.self_ref, message))
        if message == "boom":
            raise Boom("boom")
        return self.context.self_ref


def _worker(log: list[tuple[Any, Any]]) -> Callable[[], Worker]:
    return lambda: Worker(log)


async def test_round_robin_visits_workers_in_turn(make_system: MakeSystem) -> None:
    system = await make_system()
    pool = spawn_pool(system, Worker, size=3)
    assert pool.routing is Routing.ROUND_ROBIN and pool.size == 3
    replies = [await pool.ask(i) for i in range(7)]
    workers = list(pool.workers)
    assert replies == workers + workers + workers[:1]
    assert len(set(workers)) == 3


async def test_consistent_hashing_is_stable_for_equal_keys(make_system: MakeSystem) -> None:
    system = await make_system()

    def key(message: Any) -> Any:
        return message[0]

    pool = spawn_pool(system, Worker, size=4, routing="consistent_hashing", key=key)
    twin = spawn_pool(system, Worker, size=4, routing=Routing.CONSISTENT_HASHING, key=key)
    keys = [f"user-{i}" for i in range(40)]
    first = {k: await pool.ask((k, 1)) for k in keys}
    for k in keys:
        assert await pool.ask((k, 2)) == first[k]  # same key, same worker
    assert len(set(first.values())) > 1  # the keys spread over several workers
    # Another pool of the same size maps each key to the worker at the same position: the
    # mapping is a BLAKE2b digest, not Python's per-process salted hash().
    index = {k: pool.workers.index(ref) for k, ref in first.items()}
    for k in keys:
        assert twin.workers.index(await twin.ask((k, 1))) == index[k]
    assert _key_bytes("a") == b"sa" and _key_bytes(7) == b"i7" and _key_bytes(b"x") == b"bx"

    # Growing moves only some keys; the keys of the surviving workers mostly stay put.
    await pool.resize(5)
    moved = [k for k in keys if await pool.ask((k, 3)) != first[k]]
    assert 0 < len(moved) < len(keys) // 2
    added = pool.workers[-1]
    assert [await pool.ask((k, 4)) for k in moved] == [added] * len(moved)


async def test_smallest_mailbox_prefers_an_idle_worker(
    make_system: MakeSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    system = await make_system()
    entered, release = make_gate(), make_gate()

    class Blocking(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "block":
                entered.set()
                await release.wait()
            return self.context.self_ref

    pool = spawn_pool(system, Blocking, size=2, routing=Routing.SMALLEST_MAILBOX)
    busy = pool.route("block")
    await busy.tell("block")
    await entered.wait()
    idle = next(ref for ref in pool.workers if ref != busy)
    # The busy worker has an empty mailbox but a message in progress: it is not picked.
    for _ in range(5):
        assert await pool.ask("who") == idle
    release.set()
    assert await busy.ask("who") == busy


async def test_broadcast_reaches_every_worker_and_refuses_ask(make_system: MakeSystem) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    pool = spawn_pool(system, _worker(log), size=3, routing="BROADCAST")
    await pool.tell("hello")
    for ref in pool.workers:  # each worker has handled "hello" once its ask returns
        await ref.ask("sync")
    assert sorted(map(repr, (r for r, m in log if m == "hello"))) == sorted(
        map(repr, pool.workers)
    )
    with pytest.raises(TypeError, match="broadcast"):
        await pool.ask("hello")
    with pytest.raises(TypeError, match="broadcast"):
        pool.route("hello")


async def test_broadcast_method_works_with_any_routing(make_system: MakeSystem) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    pool = spawn_pool(system, _worker(log), size=2)
    await pool.broadcast("all")
    for ref in pool.workers:
        await ref.ask("sync")
    assert {r for r, m in log if m == "all"} == set(pool.workers)


@pytest.mark.parametrize("routing", ["round_robin", "smallest_mailbox", "consistent_hashing"])
async def test_ask_reaches_exactly_one_worker(make_system: MakeSystem, routing: str) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    key = (lambda m: m) if routing == "consistent_hashing" else None
    pool: PoolRef[Any, Any] = spawn_pool(system, _worker(log), size=3, routing=routing, key=key)
    reply = await pool.ask("question")
    assert log == [(reply, "question")]
    for ref in pool.workers:
        await ref.ask("sync")
    assert [m for _, m in log].count("question") == 1


async def test_crashed_worker_is_restarted_and_the_pool_keeps_serving(
    make_system: MakeSystem,
) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    pool = spawn_pool(system, _worker(log), size=2)
    victim = pool.workers[0]
    with pytest.raises(Boom):
        await pool.ask("boom")
    assert victim.is_alive() and pool.is_alive() and pool.size == 2
    assert pool.workers[0] == victim  # restarted in place: same ref
    replies = [await pool.ask(i) for i in range(4)]
    assert set(replies) == set(pool.workers)


async def test_worker_that_gives_up_leaves_the_pool(make_system: MakeSystem) -> None:
    system = await make_system()
    pool = spawn_pool(system, Worker, size=2, policy=SupervisionPolicy(strategy=Strategy.STOP))
    victim, survivor = pool.workers
    with pytest.raises(Boom):
        await victim.ask("boom")
    await system.join(victim)
    assert pool.is_alive()
    # Dead workers are skipped at once, and dropped once the pool handled the notice.
    assert [await pool.ask(i) for i in range(3)] == [survivor] * 3
    await pool.ref.ask("flush")  # the ActorTerminated notice was queued before this
    assert pool.workers == (survivor,)


async def test_resize_grows_and_shrinks_gracefully(make_system: MakeSystem) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    pool = spawn_pool(system, _worker(log), size=2)
    await pool.resize(4)
    assert pool.size == 4
    assert {await pool.ask(i) for i in range(4)} == set(pool.workers)

    removed = pool.workers[1:]
    for ref in removed:
        await ref.tell("queued")  # queued before the shrink: still processed
    await pool.resize(1)
    assert pool.size == 1 and pool.workers[0] not in removed
    for ref in removed:
        await system.join(ref)
        assert not ref.is_alive()
        assert (ref, "queued") in log
    assert [await pool.ask(i) for i in range(2)] == [pool.workers[0]] * 2
    await pool.resize(3)
    assert pool.size == 3 and len(set(pool.workers)) == 3


async def test_concurrent_sends_and_resizes(make_system: MakeSystem) -> None:
    system = await make_system()
    pool = spawn_pool(system, Worker, size=3)
    replies: list[Any] = []

    async def asker() -> None:
        for i in range(20):
            replies.append(await pool.ask(i))

    async def resizer() -> None:
        for n in (5, 1, 4, 2, 3):
            await pool.resize(n)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(asker)
        tg.start_soon(resizer)
    assert len(replies) == 80 and pool.size == 3


async def test_stopping_the_pool_stops_its_workers(make_system: MakeSystem) -> None:
    system = await make_system()
    pool = spawn_pool(system, Worker, size=3)
    workers = pool.workers
    await pool.stop(wait=True)
    assert not pool.is_alive()
    assert not any(ref.is_alive() for ref in workers)
    with pytest.raises(ActorStopped):
        await pool.tell("late")
    with pytest.raises(ActorStopped):
        await pool.ask("late")
    with pytest.raises(ActorStopped):
        await pool.resize(2)


async def test_bad_arguments_are_refused_at_the_call(make_system: MakeSystem) -> None:
    system = await make_system()
    with pytest.raises(ValueError, match="size"):
        spawn_pool(system, Worker, size=0)
    with pytest.raises(TypeError, match="size"):
        spawn_pool(system, Worker, size=True)
    with pytest.raises(ValueError, match="routing"):
        spawn_pool(system, Worker, size=1, routing="random")
    with pytest.raises(ValueError, match="key"):
        spawn_pool(system, Worker, size=1, routing="consistent_hashing")
    with pytest.raises(ValueError, match="key"):
        spawn_pool(system, Worker, size=1, key=str)
    with pytest.raises(TypeError, match="key"):
        spawn_pool(system, Worker, size=1, routing="consistent_hashing", key="id")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy"):
        spawn_pool(system, Worker, size=1, policy="restart")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="actor_factory"):
        spawn_pool(system, Worker(), size=1)  # type: ignore[arg-type]
    assert system.refs() == ()  # nothing was spawned
    pool = spawn_pool(system, Worker, size=1)
    with pytest.raises(ValueError, match="size"):
        await pool.resize(0)
    assert pool.size == 1


async def test_a_factory_failing_while_growing_leaves_the_new_workers_in_routing(
    make_system: MakeSystem,
) -> None:
    system = await make_system()
    log: list[tuple[Any, Any]] = []
    made = 0

    def factory() -> Worker:
        nonlocal made
        made += 1
        if made == 3:  # the second worker of the resize below
            raise Boom("no more workers")
        return Worker(log)

    pool = spawn_pool(system, factory, size=1, routing="consistent_hashing", key=lambda m: m)
    with pytest.raises(Boom):
        await pool.resize(3)
    assert pool.size == 2
    for n in range(40):
        await pool.tell(f"key-{n}")
    for ref in pool.workers:
        await ref.ask("sync")
    # Both workers get keys: the one spawned before the failure is on the hashing ring too.
    assert {ref for ref, message in log if message != "sync"} == set(pool.workers)

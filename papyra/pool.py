"""Pools: N workers behind one :class:`PoolRef` (docs/runtime.md, "Pools and routers").

The routing decision is made on the caller's side: :meth:`PoolRef.tell` and :meth:`PoolRef.ask`
pick one worker ref and send to it directly, so an ``ask`` through a pool costs one ``ask`` to a
worker and never queues behind other asks in a router actor. The pool *actor* owns membership
only: it is the parent (supervisor) of every worker and watches them, dropping a worker that
terminated for good from the routing table.

Membership changes (:func:`spawn_pool`, :meth:`PoolRef.resize`, a worker's termination) are
synchronous on the event loop, without an ``await`` between deciding and applying them, so
concurrent sends, resizes and crashes never observe a half-applied change.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic

from papyra._envelope import ActorTerminated
from papyra._validate import check_factory, enum_member
from papyra.actor import _M, _R, Actor
from papyra.exceptions import ActorStopped
from papyra.supervision import Strategy, SupervisionPolicy

if TYPE_CHECKING:
    from papyra.ref import ActorRef
    from papyra.system import ActorSystem

__all__ = ("PoolRef", "Routing", "spawn_pool")

#: Points per worker on the consistent-hashing ring (more points: a more even spread).
_VNODES = 64

#: The worker policy when ``spawn_pool`` gets none: restart a crashed worker (3 times a minute).
_DEFAULT_WORKER_POLICY = SupervisionPolicy(strategy=Strategy.RESTART)


class Routing(str, Enum):
    """How a :class:`PoolRef` picks the worker of a message."""

    #: Workers in turn: 0, 1, ..., n-1, 0, ...
    ROUND_ROBIN = "round_robin"
    #: The worker with the fewest messages queued plus in progress (ties: in turn).
    SMALLEST_MAILBOX = "smallest_mailbox"
    #: ``key(message)`` hashed with BLAKE2b onto a ring of workers: equal keys, same worker.
    CONSISTENT_HASHING = "consistent_hashing"
    #: ``tell`` goes to every worker; ``ask`` is refused (``TypeError``).
    BROADCAST = "broadcast"


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _key_bytes(key: object) -> bytes:
    """A process-independent encoding of a routing key (never Python's salted ``hash()``)."""
    if isinstance(key, bytes):
        return b"b" + key
    if isinstance(key, str):
        return b"s" + key.encode("utf-8", "surrogatepass")
    if isinstance(key, int) and not isinstance(key, bool):
        return b"i" + str(key).encode()
    return b"r" + repr(key).encode("utf-8", "surrogatepass")


def _check_size(size: object, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{what} must be an int >= 1, not {size!r}.")
    if size < 1:
        raise ValueError(f"{what} must be an int >= 1, not {size!r}.")
    return size


class _Worker:
    """One member: its ref, its ring id and (smallest-mailbox) how many messages it handles."""

    __slots__ = ("busy", "ref", "wid")

    def __init__(self, wid: int) -> None:
        self.wid = wid
        self.busy = 0
        self.ref: ActorRef = None  # type: ignore[assignment]  # set right after the spawn

    def load(self) -> int:
        cell = self.ref._cell
        return self.busy + (len(cell.mailbox) if cell is not None else 0)


def _instrumented(factory: Callable[[], Any], worker: _Worker) -> Callable[[], Any]:
    """Wrap each instance's ``receive`` to count the message in progress (smallest-mailbox)."""

    def make() -> Any:
        actor = factory()
        inner = actor.receive

        async def receive(message: Any) -> Any:
            worker.busy += 1
            try:
                return await inner(message)
            finally:
                worker.busy -= 1

        actor.receive = receive
        return actor

    return make


class _PoolActor(Actor):
    """The workers' parent: drops a worker that terminated for good from the routing table."""

    def __init__(self, state: _PoolState) -> None:
        self._state = state

    async def receive(self, message: Any) -> None:
        if isinstance(message, ActorTerminated):
            self._state.drop(message.ref)


class _PoolState:
    """Membership and routing; mutated only synchronously on the system's event loop."""

    def __init__(
        self,
        system: ActorSystem,
        factory: Any,
        routing: Routing,
        key: Callable[[Any], Hashable] | None,
        policy: SupervisionPolicy,
        mailbox_capacity: int | None,
    ) -> None:
        self.system = system
        self.factory = factory
        self.routing = routing
        self.key = key
        self.policy = policy
        self.mailbox_capacity = mailbox_capacity
        self.workers: list[_Worker] = []  # sorted by wid
        self.next = 0  # round-robin cursor
        self.ring: list[int] = []
        self.ring_owner: list[_Worker] = []
        self.pool_ref: ActorRef = None  # type: ignore[assignment]

    # -- membership ------------------------------------------------------------------------------

    def grow(self, count: int) -> None:
        """Spawn ``count`` workers into routing. A factory that raises stops the growth there;
        the workers spawned before it serve all the same (the routing tables are rebuilt)."""
        used = {w.wid for w in self.workers}
        wid = 0
        try:
            for _ in range(count):
                while wid in used:
                    wid += 1
                used.add(wid)
                worker = _Worker(wid)
                factory = self.factory
                if self.routing is Routing.SMALLEST_MAILBOX:
                    factory = _instrumented(factory, worker)
                worker.ref = self.system.spawn(
                    factory,
                    mailbox_capacity=self.mailbox_capacity,
                    policy=self.policy,
                    parent=self.pool_ref,
                )
                self.system._watch(self.pool_ref, worker.ref)
                bisect.insort(self.workers, worker, key=lambda w: w.wid)
        finally:
            self._rebuild()

    def shrink(self, count: int) -> list[ActorRef]:
        """Remove the ``count`` workers with the highest ids from routing; return their refs."""
        removed = self.workers[len(self.workers) - count :]
        del self.workers[len(self.workers) - count :]
        for worker in removed:
            try:
                self.system._unwatch(self.pool_ref, worker.ref)
            except Exception:
                pass
        self._rebuild()
        return [w.ref for w in removed]

    def drop(self, ref: Any) -> None:
        kept = [w for w in self.workers if w.ref != ref]
        if len(kept) != len(self.workers):
            self.workers = kept
            self._rebuild()

    def _rebuild(self) -> None:
        if self.routing is not Routing.CONSISTENT_HASHING:
            return
        points = sorted(
            (_digest(f"papyra-pool:{w.wid}:{v}".encode()), w.wid, w)
            for w in self.workers
            for v in range(_VNODES)
        )
        self.ring = [p[0] for p in points]
        self.ring_owner = [p[2] for p in points]

    # -- routing ---------------------------------------------------------------------------------

    def _no_worker(self) -> ActorStopped:
        if not self.pool_ref.is_alive():
            return ActorStopped("The pool is not running.")
        return ActorStopped("The pool has no running worker.")

    def pick(self, message: Any) -> ActorRef:
        if not self.pool_ref.is_alive():
            raise self._no_worker()
        workers = self.workers
        n = len(workers)
        routing = self.routing
        if routing is Routing.CONSISTENT_HASHING:
            assert self.key is not None
            ring = self.ring
            if ring:
                at = bisect.bisect(ring, _digest(_key_bytes(self.key(message))))
                owners = self.ring_owner
                for step in range(len(ring)):  # the first running worker clockwise
                    worker = owners[(at + step) % len(ring)]
                    if worker.ref.is_alive():
                        return worker.ref
            raise self._no_worker()
        start = self.next
        if routing is Routing.SMALLEST_MAILBOX:
            best: _Worker | None = None
            best_load = 0
            for step in range(n):
                worker = workers[(start + step) % n]
                if not worker.ref.is_alive():
                    continue
                load = worker.load()
                if best is None or load < best_load:
                    best, best_load = worker, load
                    if load == 0:
                        break
            if best is None:
                raise self._no_worker()
            self.next = (workers.index(best) + 1) % n
            return best.ref
        for step in range(n):  # round robin
            worker = workers[(start + step) % n]
            if worker.ref.is_alive():
                self.next = (start + step + 1) % n
                return worker.ref
        raise self._no_worker()


@dataclass(frozen=True, eq=False, slots=True)
class PoolRef(Generic[_M, _R]):
    """The handle of a pool: send to it like to an :class:`~papyra.ref.ActorRef`.

    Made by :func:`spawn_pool`. ``tell``/``ask`` route each message to one worker (all of
    them for ``tell`` with :attr:`Routing.BROADCAST`); :attr:`ref` is the pool actor itself
    (stop it, watch it, or ``join`` it like any actor). The routing decision is made in the
    caller's task, at the call; use it from any task of the system's event loop.
    """

    _state: _PoolState

    def __repr__(self) -> str:
        return f"PoolRef({self.ref!r}, {self._state.routing.value}, size={self.size})"

    @property
    def ref(self) -> ActorRef:
        """The pool actor: the parent of the workers."""
        return self._state.pool_ref

    @property
    def routing(self) -> Routing:
        """How the pool picks a worker for each message."""
        return self._state.routing

    @property
    def size(self) -> int:
        """The number of workers currently in the routing table."""
        return len(self._state.workers)

    @property
    def workers(self) -> tuple[ActorRef[_M, _R], ...]:
        """The workers' refs, in routing order (for hashing: by ring id)."""
        return tuple(w.ref for w in self._state.workers)

    def is_alive(self) -> bool:
        """True while the pool actor (the parent of the workers) runs and accepts messages."""
        return self._state.pool_ref.is_alive()

    def route(self, message: _M) -> ActorRef[_M, _R]:
        """The worker that ``tell``/``ask`` would pick for ``message`` now (advances the turn).

        :raises TypeError: the pool broadcasts (it routes to no single worker).
        :raises ActorStopped: the pool is stopped or has no running worker.
        """
        if self._state.routing is Routing.BROADCAST:
            raise TypeError("A broadcast pool sends to every worker: it routes to no single one.")
        return self._state.pick(message)

    async def tell(self, message: _M) -> None:
        """Send ``message`` to the worker picked by the routing (every worker for BROADCAST).

        Back-pressure and dead letters as for ``ActorRef.tell``: returns once the message is
        enqueued (in every running worker, for BROADCAST). ``send`` is the same method.

        :raises ActorStopped: the pool is stopped or has no running worker, or the picked
            worker stopped before the message was enqueued.
        """
        if self._state.routing is Routing.BROADCAST:
            await self.broadcast(message)
            return
        await self._state.pick(message).tell(message)

    send = tell

    async def ask(self, message: _M, *, timeout: float | None = None) -> _R:
        """Send ``message`` to exactly one worker and return its reply (as ``ActorRef.ask``).

        The worker is picked at the call; the caller's task waits for the reply. A broadcast
        pool refuses: use :meth:`broadcast`, then ask workers individually through
        :attr:`workers` if replies are needed.

        :raises TypeError: the pool broadcasts; or a bad ``timeout`` (as ``ActorRef.ask``).
        :raises ActorStopped: the pool is stopped or has no running worker, or the worker
            stopped before handling the message.
        :raises AskTimeout: ``timeout`` elapsed first; and so on, as ``ActorRef.ask``.
        """
        if self._state.routing is Routing.BROADCAST:
            raise TypeError(
                "ask() through a broadcast pool is refused: it would reach every worker, "
                "and an ask has one reply. Use tell()/broadcast(), or ask a ref of .workers."
            )
        reply: _R = await self._state.pick(message).ask(message, timeout=timeout)
        return reply

    async def broadcast(self, message: _M) -> None:
        """``tell`` ``message`` to every running worker (whatever the routing), in order.

        Returns once it is enqueued in each (waiting for room in a full mailbox); a worker that
        stopped meanwhile is skipped (its copy becomes a dead letter).

        :raises ActorStopped: the pool is stopped.
        """
        if not self._state.pool_ref.is_alive():
            raise self._state._no_worker()
        for worker in list(self._state.workers):
            if worker.ref.is_alive():
                try:
                    await worker.ref.tell(message)
                except ActorStopped:
                    pass  # stopped meanwhile: a dead letter, like any send to a stopped actor

    async def resize(self, size: int) -> None:
        """Grow or shrink the pool to ``size`` (>= 1) workers.

        Growing spawns workers at once. Shrinking removes the most recently added workers from
        routing at once, then stops them gracefully: what they already have queued is still
        processed. Returns without waiting for them to terminate (``system.join(ref)`` does).
        A worker factory that raises while growing propagates its exception; the workers
        spawned before it stay in the pool and are routed to.

        :raises TypeError: ``size`` is not an int (a ``bool`` included).
        :raises ValueError: ``size`` is below 1.
        :raises ActorStopped: the pool is stopped.
        """
        size = _check_size(size, "size")
        state = self._state
        if not state.pool_ref.is_alive():
            raise ActorStopped("The pool is not running.")
        current = len(state.workers)
        if size > current:
            state.grow(size - current)
        elif size < current:
            for ref in state.shrink(current - size):
                await state.system.stop(ref)

    async def stop(self, *, wait: bool = False) -> None:
        """Stop the pool: its workers stop gracefully first, then the pool actor.

        :meth:`ActorSystem.stop <papyra.system.ActorSystem.stop>` of :attr:`ref`: returns once
        the requests are made, or with ``wait=True`` once the pool actor has terminated. A
        no-op for a stopped pool.

        :raises RuntimeError: ``wait=True`` from the pool actor's own task.
        """
        await self._state.system.stop(self._state.pool_ref, wait=wait)


def spawn_pool(
    system: ActorSystem,
    worker_factory: Callable[[], Actor[_M, _R]] | type[Actor[_M, _R]],
    *,
    size: int,
    routing: Routing | str = Routing.ROUND_ROBIN,
    key: Callable[[Any], Hashable] | None = None,
    policy: SupervisionPolicy | None = None,
    mailbox_capacity: int | None = 1024,
    name: str | None = None,
) -> PoolRef[_M, _R]:
    """Spawn a pool actor and ``size`` workers made by ``worker_factory``; return its ref.

    ``routing``: a :class:`Routing` or its value/name in any case. ``key`` (required for, and
    only accepted with, consistent hashing) maps a message to its routing key; keys are encoded
    as their bytes/str/int value or else their ``repr`` and hashed with BLAKE2b, so the mapping
    does not depend on the process. ``policy`` supervises each worker (default: RESTART, 3
    restarts a minute). ``mailbox_capacity`` is each worker's; ``name`` names the pool actor.
    Bad arguments are refused before anything is spawned.

    The pool actor and its workers are spawned now, in the caller's task (any task of the
    system's event loop, while the system runs). If a worker factory raises, the pool and
    the workers spawned so far are stopped and the exception propagates.

    :raises TypeError: ``size`` is not an int, ``routing`` is not a string or a
        :class:`Routing`, ``key`` is not callable, ``policy`` is not a
        ``SupervisionPolicy``, or the factory or ``mailbox_capacity`` is refused as by
        ``spawn``.
    :raises ValueError: ``size`` is below 1, ``routing`` names no routing, ``key`` is missing
        for (or given without) consistent hashing, ``mailbox_capacity`` is out of range, or
        ``name`` is already in use.
    :raises ActorStopped: the system is not running.
    """
    size = _check_size(size, "size")
    routing = enum_member(Routing, routing, "routing")
    if routing is Routing.CONSISTENT_HASHING:
        if key is None:
            raise ValueError(
                "Consistent hashing needs key=: a function message -> routing key."
            )
    elif key is not None:
        raise ValueError(f"key= is only used by consistent hashing, not by {routing.value}.")
    if key is not None and not callable(key):
        raise TypeError(f"key must be a function message -> routing key, not {key!r}.")
    if policy is None:
        policy = _DEFAULT_WORKER_POLICY
    elif not isinstance(policy, SupervisionPolicy):
        raise TypeError(f"policy must be a SupervisionPolicy, not {type(policy).__name__}.")
    check_factory(worker_factory)
    system._lifecycle.dispatch.check_capacity(mailbox_capacity)
    state = _PoolState(system, worker_factory, routing, key, policy, mailbox_capacity)
    state.pool_ref = system.spawn(lambda: _PoolActor(state), name=name)
    try:
        state.grow(size)
    except BaseException:
        # A worker factory that raised: stop the pool and the workers spawned so far.
        state.workers.clear()
        cell = system._lifecycle.cell_of(state.pool_ref)
        if cell is not None:
            system._lifecycle.stop_tree(cell)
        raise
    return PoolRef(state)

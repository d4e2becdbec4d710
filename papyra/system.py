"""The actor system: the public face of the runtime.

``ActorSystem`` holds the configuration and the public API (start and close, spawn and lookup,
stop, audit, events). The work is done by two private parts it owns:

* :class:`papyra._lifecycle.Lifecycle` -- the cell table and every actor's state machine:
  start, supervision, stop and termination (the dispatch kernel's host);
* :class:`papyra._facts.Facts` -- events, hooks, dead letters and their hand-off to the
  persistence backend.

The per-message path lives in the dispatch twin (:mod:`papyra._accel`). Everything here runs on
one event loop (any anyio backend) and is not thread-safe.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from papyra import _accel
from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope, Reply
from papyra._facts import Facts
from papyra._lifecycle import Lifecycle
from papyra._timers import LoopScheduler, TimeLine
from papyra._validate import (
    check_factory,
    check_hooks,
    check_persistence,
    check_recovery_config,
    check_startup_config,
)
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.clock import Clock, ManualClock, SystemClock
from papyra.events import ActorEvent, EventSubscription
from papyra.exceptions import ActorStopped
from papyra.hooks import DefaultHooks, SystemHooks
from papyra.metrics import RuntimeMetrics
from papyra.persistence.contract import safe_metrics_snapshot
from papyra.ref import ActorRef
from papyra.supervision import SupervisionPolicy

if TYPE_CHECKING:
    import anyio.abc

    from papyra._speedups.dispatch_py import ActorCell as Cell
    from papyra.persistence.base import PersistenceBackend
    from papyra.persistence.models import PersistenceRecoveryConfig
    from papyra.persistence.startup import PersistenceStartupConfig
    from papyra.typing import Priority

__all__ = (
    "STOP",
    "ActorSystem",
    "ActorTerminated",
    "DeadLetter",
    "DeadLetterMailbox",
    "Envelope",
    "Reply",
)

# The message and reply types of a spawned actor (``spawn(Counter)`` -> ``ActorRef[M, R]``).
_M = TypeVar("_M")
_R = TypeVar("_R")
_T = TypeVar("_T")

_log = logging.getLogger("papyra")


def _running_asyncio_loop() -> Any:
    """The running asyncio loop when the current anyio backend is asyncio, else None."""
    import asyncio

    return asyncio._get_running_loop()


class DeadLetterMailbox:
    """Messages that could not be delivered, newest last.

    Holds at most ``maxlen`` dead letters (the oldest are discarded first; ``None`` keeps all),
    so a long-running system does not grow without bound. The system makes one
    (``system.dead_letters``) and pushes to it in the task that failed to deliver.

    :raises ValueError: ``maxlen`` is negative.
    """

    def __init__(
        self,
        *,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        maxlen: int | None = 10_000,
    ) -> None:
        if maxlen is not None and maxlen < 0:
            raise ValueError("maxlen must be None or >= 0")
        self._messages: list[DeadLetter] = []
        self._on_dead_letter = on_dead_letter
        self._maxlen = maxlen
        self._total = 0
        self._waiters: list[Any] = []  # futures of wait_for_more(), completed by push()

    @property
    def messages(self) -> list[DeadLetter]:
        """The live list of retained dead letters, in arrival order."""
        return self._messages

    @property
    def total(self) -> int:
        """How many dead letters were pushed, including those no longer retained."""
        return self._total

    async def wait_for_more(self, total: int) -> None:
        """Return once more than ``total`` dead letters were pushed (at once if already so)."""
        if self._total > total:
            return
        fut = _accel.dispatch.create_future()
        self._waiters.append(fut)
        await fut

    def push(self, dl: DeadLetter) -> None:
        """Append ``dl`` then call ``on_dead_letter(dl)`` (its exceptions are swallowed)."""
        self._total += 1
        messages = self._messages
        messages.append(dl)
        if self._maxlen is not None and len(messages) > self._maxlen:
            del messages[: len(messages) - self._maxlen]
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        if self._on_dead_letter is not None:
            try:
                self._on_dead_letter(dl)
            except Exception:
                _log.debug("on_dead_letter callback failed", exc_info=True)


class ActorSystem:
    """Owns actors, their supervision tree, the event log and the persistence backend.

    The constructor does no I/O and starts nothing: ``await start()`` (or ``async with``)
    runs the persistence startup checks, then opens the task group the actors run in.
    ``aclose()`` stops every actor gracefully (queued messages are processed first), waits for
    them, flushes pending persistence writes, and closes the backend.

    Bounded memory: ``events()`` keeps the newest ``max_events`` events, ``dead_letters`` the
    newest ``max_dead_letters``, and the records of terminated actors are released once more
    than ``retain_terminated`` of them exist (``list_actors()``/``audit()`` then no longer show
    the oldest ones; ``audit().total_actors`` still counts every spawn).

    Every actor crash is logged on the ``papyra`` logger, at ERROR with its traceback, unless
    ``log_crashes=False``. A ``SystemExit``, ``KeyboardInterrupt`` or other base exception
    raised by an actor is not a crash: the system shuts down, the body of its ``async with``
    is interrupted, and ``aclose()`` -- hence ``async with`` -- raises it.

    ``clock``: a :class:`~papyra.clock.ManualClock` makes time (timestamps, restart windows,
    timers, restart backoffs) move only when a test advances it (docs/testing.md); not
    together with ``time_fn``. ``transport``: a cluster transport such as
    :class:`~papyra.cluster.RedisStreamsTransport` makes the system a member of a cluster;
    ``start()`` then joins it (docs/cluster.md).

    One event loop: the system runs on the loop ``start()`` is awaited on, and its methods are
    called from tasks of that loop (an actor's task included). Nothing here is thread-safe.

    :raises ValueError: an empty ``system_id``, a negative ``retain_terminated``, ``time_fn``
        together with ``clock``, or a ``shutdown_grace`` that is not ``None`` or a number of
        seconds >= 0.
    :raises TypeError: a ``time_fn``, ``clock``, ``hooks``, ``persistence``,
        ``persistence_startup``, ``persistence_recovery``, ``transport``, ``log_crashes`` or
        ``tracing`` of the wrong kind (docs/runtime.md, "Validation").
    :raises RuntimeError: ``tracing`` is on and ``opentelemetry-api`` is not installed.
    """

    def __init__(
        self,
        *,
        system_id: str = "local",
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        hooks: SystemHooks | Any | None = None,
        time_fn: Callable[[], float] | None = None,
        clock: Clock | None = None,
        persistence: PersistenceBackend | None = None,
        persistence_recovery: PersistenceRecoveryConfig | None = None,
        persistence_startup: PersistenceStartupConfig | None = None,
        max_events: int | None = 10_000,
        max_dead_letters: int | None = 10_000,
        retain_terminated: int = 1_000,
        shutdown_grace: float | None = 10.0,
        log_crashes: bool = True,
        tracing: bool | Any = False,
        transport: Any | None = None,
        _dispatch: ModuleType | None = None,
    ) -> None:
        if not isinstance(system_id, str) or not system_id:
            raise ValueError("system_id must be a non-empty string")
        if retain_terminated < 0:
            raise ValueError("retain_terminated must be >= 0")
        if time_fn is not None and not callable(time_fn):
            raise TypeError(
                "time_fn must be a callable returning the time in seconds (such as time.time), "
                f"not {time_fn!r}."
            )
        if clock is not None:
            if time_fn is not None:
                raise ValueError("pass time_fn or clock, not both (a clock brings its own time).")
            if not callable(getattr(clock, "now", None)):
                raise TypeError(f"clock must have a now() method (a papyra Clock), not {clock!r}.")
        if transport is not None and not all(
            callable(getattr(transport, name, None))
            for name in ("open", "send", "receive", "settle", "heartbeat", "members")
        ):
            raise TypeError(
                "transport must be a cluster transport such as "
                f"papyra.cluster.RedisStreamsTransport, not {transport!r}."
            )
        check_hooks(hooks)
        check_startup_config(persistence_startup)
        check_recovery_config(persistence_recovery, "persistence_recovery")
        if persistence is not None:
            check_persistence(persistence)
        if not isinstance(log_crashes, bool):
            raise TypeError(f"log_crashes must be a bool, not {type(log_crashes).__name__}.")
        if not isinstance(tracing, bool) and not callable(getattr(tracing, "get_tracer", None)):
            raise TypeError(
                "tracing must be True, False or an OpenTelemetry TracerProvider, "
                f"not {tracing!r}."
            )
        if persistence is None:
            from papyra.persistence.backends.memory import InMemoryPersistence

            persistence = InMemoryPersistence()
        dispatch: ModuleType = _accel.dispatch if _dispatch is None else _dispatch
        self.system_id = system_id
        self.dead_letters = DeadLetterMailbox(
            on_dead_letter=on_dead_letter, maxlen=max_dead_letters
        )
        self._hooks: Any = DefaultHooks() if hooks is None else hooks
        if clock is not None:
            time_fn = clock.now
        self._time_fn: Callable[[], float] = time.time if time_fn is None else time_fn
        self._clock = SystemClock(self._time_fn)
        # Timers and restart backoffs: on a manual clock when one was given, else real time.
        self._scheduler: LoopScheduler | None = None
        timeline: TimeLine
        if isinstance(clock, ManualClock):
            timeline = clock
        else:
            timeline = self._scheduler = LoopScheduler()
        self._persistence: PersistenceBackend = persistence
        self._persistence_recovery = persistence_recovery
        self._persistence_startup = persistence_startup
        if shutdown_grace is not None and (
            isinstance(shutdown_grace, bool)
            or not isinstance(shutdown_grace, (int, float))
            or not shutdown_grace >= 0
        ):
            raise ValueError(
                f"shutdown_grace must be None or a number of seconds >= 0, not {shutdown_grace!r}"
            )
        self._shutdown_grace: float | None = shutdown_grace
        self._transport = transport
        self._entity_kinds: dict[str, Callable[[], Any]] = {}
        self._node: Any = None  # papyra.cluster._node.ClusterNode once started with a transport
        self._started = False
        self._detached: set[Any] = set()  # strong references to the detached asyncio tasks
        self._release_host = anyio.Event()
        self._host_done = anyio.Event()
        self._close_done = anyio.Event()
        self._closing = False  # aclose() has begun (a fatal exception may close before it)
        # The body of ``async with``, cancelled when an actor raises a fatal base exception.
        self._owner_scope: anyio.CancelScope | None = None
        self._registrations: dict[
            str, tuple[Any, int | None, SupervisionPolicy | None, Priority | None, bool]
        ] = {}
        self._facts = Facts(
            system_id=system_id,
            hooks=self._hooks,
            time_fn=self._time_fn,
            dead_letters=self.dead_letters,
            persistence=persistence,
            max_events=max_events,
            create_future=dispatch.create_future,
        )
        self._lifecycle = Lifecycle(
            self, self._facts, dispatch, retain_terminated=retain_terminated,
            log_crashes=log_crashes, timeline=timeline,
        )
        if tracing is not False:
            from papyra.tracing import TracedActorRef, Tracing

            self._lifecycle.tracing = Tracing(
                system_id, None if tracing is True else tracing
            )
            self._lifecycle.ref_class = TracedActorRef
        # Semi-private names that upstream-style tests read (spec README): the same objects.
        self._by_id: dict[int, Cell] = self._lifecycle.by_id
        self._names: dict[str, int] = self._lifecycle.names

    @property
    def _actors(self) -> list[Cell]:
        """The runtime records still held, in spawn order (each has ``.actor``)."""
        return list(self._by_id.values())

    @property
    def _closed(self) -> bool:
        return self._lifecycle.closed

    # -- configuration ---------------------------------------------------------------------

    @property
    def persistence(self) -> PersistenceBackend:
        """The backend given to the constructor (the very object), or the in-memory default."""
        return self._persistence

    @property
    def persistence_startup(self) -> PersistenceStartupConfig | None:
        """The startup check ``start()`` runs on the backend (None: none).

        Settable; a new value is used by a ``start()`` that has not begun yet.

        :raises TypeError: (setter) a value that is not a ``PersistenceStartupConfig`` or None.
        """
        return self._persistence_startup

    @persistence_startup.setter
    def persistence_startup(self, value: PersistenceStartupConfig | None) -> None:
        check_startup_config(value)
        self._persistence_startup = value

    @property
    def persistence_recovery(self) -> PersistenceRecoveryConfig | None:
        """How the startup check recovers a damaged store when its own config says nothing
        (None: it does not).

        Settable, read when ``start()`` runs the check. The 0.3.0 spelling
        ``persistance_recovery`` is the same property.

        :raises TypeError: (setter) a value that is not a ``PersistenceRecoveryConfig`` or None
            (a bare mode such as ``"repair"``).
        """
        return self._persistence_recovery

    @persistence_recovery.setter
    def persistence_recovery(self, value: PersistenceRecoveryConfig | None) -> None:
        check_recovery_config(value, "persistence_recovery")
        self._persistence_recovery = value

    # The 0.3.0 spelling, kept as an alias.
    persistance_recovery = persistence_recovery

    @property
    def clock(self) -> SystemClock:
        """The system clock; ``clock.now()`` is ``now()``."""
        return self._clock

    def now(self) -> float:
        """The system time (epoch seconds unless a ``time_fn`` was injected)."""
        return self._time_fn()

    @property
    def run_id(self) -> str | None:
        """Identifies this run: a fresh random hex string (``uuid4``) made by ``start()``.

        Recorded with every fact persisted during the run (``PersistedEvent``,
        ``PersistedAudit``, ``PersistedDeadLetter``), so that the facts of two runs sharing a
        ``system_id`` and a log can be told apart. ``None`` until the system has started.
        """
        return self._facts.run_id

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``aclose()``."""
        return self._started and not self._closed

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the persistence startup checks, then start the system's own tasks.

        Returns once the system is running: ``spawn`` works from then on. Idempotent (a second
        call returns at once). With a transport, the system joins its cluster here. If the
        startup checks or the join raise (or are cancelled), the system is closed for good and
        the exception propagates.

        The actors and the persistence writer run in tasks the system owns, not in the
        caller's: ``start()`` and ``aclose()`` may be called from any task of the event loop,
        inside any cancel scope (``with anyio.fail_after(5): await system.start()``), and the
        system keeps running after that scope ends.

        :raises ActorStopped: the system is closed (also when it was closed during the checks).
        :raises RuntimeError: the startup check failed (``FAIL_ON_ANOMALY`` found anomalies,
            or ``RECOVER`` left some).
        :raises TimeoutError: the startup check took longer than its ``timeout_seconds``.
        """
        if self._closed:
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")
        if self._started:
            return
        try:
            await self._run_startup_checks()
            if self._transport is not None:
                from papyra.cluster._node import ClusterNode

                node = ClusterNode(self, self._transport)
                await node.open()
                self._node = self._lifecycle.cluster = node
        except BaseException:
            self._lifecycle.closed = True
            self._facts.end()
            self._close_done.set()  # closed for good; nothing was started
            raise
        if self._closed or self._started:  # closed or started while we were checking
            if self._closed:
                raise ActorStopped("ActorSystem is closed.", reason="shutdown")
            return
        self._started = True
        ready = anyio.Event()
        self._spawn_detached(self._host, ready, _running_asyncio_loop())
        with anyio.CancelScope(shield=True):
            await ready.wait()

    def _spawn_detached(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``fn(*args)`` in a task of its own, outside every cancel scope of the caller."""
        loop = _running_asyncio_loop()
        if loop is not None:
            task = loop.create_task(fn(*args))
            self._detached.add(task)
            task.add_done_callback(self._detached.discard)
        else:
            import trio

            trio.lowlevel.spawn_system_task(fn, *args)

    async def _host(self, ready: anyio.Event, loop: Any) -> None:
        """The system's own task: it owns the task groups of the writer, hooks and actors.

        It runs from ``start()`` until ``aclose()`` has stopped every actor and flushed the
        facts, independent of the cancel scopes of whoever called ``start()``. On asyncio the
        actors are plain loop tasks (cheaper than ``start_soon``); on other backends they run
        in the actor task group here. Never raises (on trio this is a system task).
        """
        try:
            async with anyio.create_task_group() as services:
                self._facts.open(services, anyio.get_cancelled_exc_class(), uuid.uuid4().hex)
                services.start_soon(self._facts.run_writer)
                if self._scheduler is not None:
                    self._scheduler.open(services)
                async with anyio.create_task_group() as actors:
                    self._lifecycle.open(actors, loop)
                    if self._node is not None:
                        services.start_soon(self._node.run)
                    ready.set()
                    await self._release_host.wait()
                if self._scheduler is not None:
                    self._scheduler.close()
                self._facts.close_writer()
        except Exception:
            _log.exception("the actor system's task failed")
        finally:
            ready.set()
            self._host_done.set()

    async def _run_startup_checks(self) -> None:
        """The startup check of ``persistence_startup`` (docs/persistence.md, "Startup checks").

        The procedure is :func:`~papyra.persistence.startup.run_startup_check`; the system
        raises when it fails, falls back to its own ``persistence_recovery``, bounds the whole
        check by ``timeout_seconds`` and shows each report to the hooks as it arrives.
        """
        config = self._persistence_startup
        if config is None:
            return
        from papyra.persistence.startup import run_startup_check

        recovery = config.recovery if config.recovery is not None else self._persistence_recovery
        with anyio.fail_after(config.timeout_seconds):  # None: no limit
            await run_startup_check(
                self._persistence, config.mode, recovery,
                step=self._startup_step, raise_on_failure=True,
            )

    async def _startup_step(self, label: str, call: Callable[[], Awaitable[_T]]) -> _T:
        """One backend call of the startup check; the hooks see each report it returns."""
        report = await call()
        if report is not None:
            hook = "on_persistence_recovery" if label == "recover" else "on_persistence_scan"
            await self._facts.call_hook_now(hook, report)
        return report

    def _interrupt_owner(self) -> None:
        """An actor raised a fatal base exception: end the ``async with`` body, if one runs.

        Not while ``aclose()`` runs: it raises the exception when done.
        """
        owner = self._owner_scope
        if owner is not None and not self._closing:
            owner.cancel()

    async def aclose(self) -> None:
        """Stop every actor, wait for them, flush the facts, close the backend.

        * Graceful: messages enqueued before the call are processed. Messages that can never
          be processed become dead letters and their ``ask`` callers get ``ActorStopped``.
        * Bounded: an actor still busy (in ``receive`` or ``on_stop``) ``shutdown_grace``
          seconds after the call is cancelled; its ``ActorStopped`` event says so.
        * Safe under a deadline: if the caller is cancelled (``anyio.fail_after``,
          ``move_on_after``), the remaining actors are cancelled at once and the rest of the
          shutdown (dead letters, flushing and closing the backend) still completes, shielded,
          before the cancellation propagates.
        * From any task. From inside one of this system's actors, ``aclose()`` begins the
          shutdown and returns at once (waiting would wait for the caller itself); the system
          finishes closing when that actor's current message is done.
          :meth:`wait_closed` waits for the end from any other task.
        * Idempotent: a second call waits until the first has finished (or returns at once
          from inside an actor).

        If an actor raised a base exception that is not an ``Exception`` (``SystemExit``,
        ``KeyboardInterrupt``...), the system was shut down then and there; ``aclose()`` ends
        the shutdown and raises the first such exception (once).

        :raises BaseException: that first fatal base exception of an actor, re-raised once
            the shutdown is complete.
        """
        lifecycle = self._lifecycle
        inside_actor = lifecycle.is_actor_task()
        if self._closing:
            if not inside_actor:
                await self._close_done.wait()
                self._raise_fatal()
            return
        self._closing = True
        lifecycle.close()
        if self._node is not None:
            self._node.stop_reading()
        if not self._started:
            await self._close_backend()
            self._raise_fatal()
            return
        if inside_actor:
            self._spawn_detached(self._shutdown)
            return
        await self._shutdown()
        self._raise_fatal()

    async def _shutdown(self) -> None:
        lifecycle = self._lifecycle
        try:
            grace = self._shutdown_grace
            deadline = math.inf if grace is None else anyio.current_time() + grace
            lifecycle.set_stop_deadline(deadline)
            with anyio.CancelScope(deadline=deadline):
                await lifecycle.wait_all_finished()
        finally:
            with anyio.CancelScope(shield=True):
                lifecycle.cancel_all()  # none left unless the grace ran out or we were cancelled
                await lifecycle.wait_all_finished()
                if self._node is not None:
                    await self._node.aclose()  # the last replies and acks, then leave
                self._release_host.set()
                await self._host_done.wait()
                await self._close_backend()

    async def _close_backend(self) -> None:
        self._facts.end()
        try:
            await self._persistence.aclose()
        except Exception:
            _log.warning("persistence backend failed to close", exc_info=True)
        finally:
            self._close_done.set()

    async def wait_closed(self) -> None:
        """Wait until the system is closed: every actor stopped, facts flushed, backend closed.

        Useful after ``aclose()`` was called from inside an actor; call it from any other task
        (from the actor that called ``aclose()`` it would wait for itself). Returns at once when
        the system has finished closing, or for one whose ``start()`` failed.

        :raises RuntimeError: the system was neither started nor closed.
        """
        if not self._started and not self._closed:
            raise RuntimeError("wait_closed() on a system that was neither started nor closed")
        await self._close_done.wait()

    def _raise_fatal(self) -> None:
        fatal = self._lifecycle.fatal_error
        if fatal is not None:
            self._lifecycle.fatal_error = None
            raise fatal

    async def __aenter__(self) -> ActorSystem:
        await self.start()
        owner = anyio.CancelScope()
        owner.__enter__()  # inside the task group; __aexit__ leaves it first
        self._owner_scope = owner
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """``aclose()``; a fatal base exception raised by an actor replaces the body's outcome."""
        owner = self._owner_scope
        caught = False
        if owner is not None:
            self._owner_scope = None
            caught = bool(owner.__exit__(exc_type, exc, tb))  # its own cancellation only
        await self.aclose()
        return caught

    # -- spawning ------------------------------------------------------------------------------

    def spawn(
        self,
        actor_factory: Callable[[], Actor[_M, _R]] | type[Actor[_M, _R]],
        *,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        parent: Any | None = None,
        name: str | None = None,
        priority: Priority | None = None,
        control_first: bool = False,
    ) -> ActorRef[_M, _R]:
        """Create an actor and schedule it; returns its ref at once.

        Call it from any task of the system's event loop, an actor's included (for a child,
        :meth:`ActorContext.spawn_child <papyra.context.ActorContext.spawn_child>`). The
        factory runs synchronously here, in the caller's task (its exceptions propagate).
        ``on_start`` runs in the actor's own task afterwards; messages sent meanwhile wait for
        it. The ref accepts messages at once. ``mailbox_capacity`` bounds the mailbox
        (``None``: unbounded). Named actors default to a RESTART policy, unnamed ones to STOP.
        Bad arguments are refused before anything is scheduled (docs/runtime.md,
        "Validation").

        ``priority`` lets marked messages jump the queue: a class or an iterable of classes
        (urgent: an instance of one of them) or a predicate ``message -> bool``, applied when
        a message is sent, in the sender's task. ``control_first=True`` also puts stop
        requests and ``ActorTerminated`` notices ahead of the backlog. Either option gives the
        actor a :class:`~papyra.mailbox.PriorityMailbox`; by default the mailbox is FIFO
        (docs/runtime.md, "Priority and control messages").

        :raises ActorStopped: the system is not running, or ``parent`` is stopping or stopped.
        :raises ValueError: ``name`` is empty or already in use, ``parent`` is a ref of another
            system, or ``mailbox_capacity`` is an int out of ``0..sys.maxsize``.
        :raises TypeError: an actor instance instead of its class or a factory, a factory
            whose actor has no ``async def receive``, a ``parent`` that is not an ``ActorRef``,
            a ``mailbox_capacity`` that is not ``None`` or an int, a ``policy`` that is not a
            ``SupervisionPolicy``, or a ``priority`` / ``control_first`` of the wrong kind.
        """
        if not self._started or self._closed:
            raise ActorStopped("ActorSystem is not running.", reason="shutdown")
        check_factory(actor_factory)
        if parent is not None:
            self._check_parent(parent)
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError("Actor name must be a non-empty string.")
            if name in self._names:
                raise ValueError(f"Actor name '{name}' already exists.")
        if policy is not None and not isinstance(policy, SupervisionPolicy):
            raise TypeError(f"policy must be a SupervisionPolicy, not {type(policy).__name__}.")
        if priority is not None or control_first is not False:
            # Normalised once: an iterator of classes is consumed here, a set copied.
            priority = self._lifecycle.dispatch.check_priority(priority, control_first)
        return self._lifecycle.spawn(
            actor_factory, mailbox_capacity=mailbox_capacity, policy=policy, parent=parent,
            name=name, priority=priority, control_first=control_first,
        )

    def register(
        self,
        name: str,
        actor_factory: Callable[[], Actor] | type[Actor],
        *,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        priority: Priority | None = None,
        control_first: bool = False,
    ) -> None:
        """Record what :meth:`actor` spawns under ``name``; spawns nothing itself.

        Allowed before or after ``start()``, from any task. The keyword arguments are those
        of :meth:`spawn` (``priority`` and ``control_first`` included), checked here the same
        way and used for every instance :meth:`actor` spawns.

        :raises ActorStopped: the system is closed.
        :raises ValueError: ``name`` is empty or already registered, or ``mailbox_capacity``
            is an int out of range.
        :raises TypeError: an actor instance or a non-callable factory, a ``mailbox_capacity``
            that is not ``None`` or an int, a ``policy`` that is not a ``SupervisionPolicy``,
            or a ``priority`` / ``control_first`` of the wrong kind.
        """
        if self._closed:
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")
        if not isinstance(name, str) or not name:
            raise ValueError("Actor name must be a non-empty string.")
        if name in self._registrations:
            raise ValueError(f"Actor name '{name}' is already registered.")
        check_factory(actor_factory)
        self._lifecycle.dispatch.check_capacity(mailbox_capacity)
        if policy is not None and not isinstance(policy, SupervisionPolicy):
            raise TypeError(f"policy must be a SupervisionPolicy, not {type(policy).__name__}.")
        priority = self._lifecycle.dispatch.check_priority(priority, control_first)
        self._registrations[name] = (
            actor_factory, mailbox_capacity, policy, priority, control_first
        )

    def actor(self, name: str) -> ActorRef:
        """A ref to the running actor named ``name``, spawning a registered one on first use.

        After a registered actor terminates for good, the next call spawns a fresh instance
        (in the caller's task, as :meth:`spawn`). Call it from any task of the system's loop.

        :raises ActorStopped: ``name`` is neither running nor registered, or a spawn is needed
            and the system is not running.
        """
        rid = self._names.get(name)
        if rid is not None:
            cell = self._by_id.get(rid)
            if cell is not None and cell.alive and not cell.stopping:
                return self._lifecycle.ref(cell)
        registration = self._registrations.get(name)
        if registration is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        if rid is not None:
            # The previous instance is still shutting down: its name is released at termination.
            del self._names[name]
        factory, capacity, policy, priority, control_first = registration
        return self.spawn(
            factory, name=name, mailbox_capacity=capacity, policy=policy, priority=priority,
            control_first=control_first,
        )

    # -- stopping and watching -----------------------------------------------------------------

    async def stop(self, ref: Any, *, wait: bool = False, immediate: bool = False) -> None:
        """Stop ``ref``'s actor and, first, all its descendants.

        * Graceful (default): what is already queued is processed, then the actor terminates.
        * ``immediate=True``: each actor ends after the message in progress; what is queued
          becomes dead letters (their ``ask`` callers get ``ActorStopped``).
        * ``wait=True``: return once the actor has terminated (its ``on_stop`` done, its name
          free for a new spawn, ``ActorStopped`` emitted); else return once the requests are
          made. Do not wait for an actor from its own task (``RuntimeError``).

        ``ref`` is not alive from the call on: later sends are dead letters and raise
        ``ActorStopped``. Call it from any task of the system's loop; from the actor's own task
        only without ``wait`` (as :meth:`ActorContext.stop_self
        <papyra.context.ActorContext.stop_self>` does). A no-op on a closed system, an unknown
        ref or a stopped actor (with ``wait=True``: returns once that actor has terminated).

        :raises RuntimeError: ``wait=True`` from the actor's own task.
        """
        cell = self._lifecycle.cell_of(ref)
        if cell is None:
            return
        if not self._closed:
            if immediate:
                self._lifecycle.abort_tree(cell)
            else:
                self._lifecycle.stop_tree(cell)
        if wait:
            await self.join(ref)

    async def join(self, ref: Any) -> None:
        """Wait until ``ref``'s actor has terminated (``on_stop`` done, name free).

        Returns at once for an actor that has terminated, or a ref this system does not know
        (e.g. one whose record was released). Stops nothing: see :meth:`stop`. Call it from
        any task but the actor's own.

        :raises RuntimeError: called from the actor's own task, which would wait for itself.
        """
        cell = self._lifecycle.cell_of(ref)
        if cell is None or cell.terminated:
            return
        if self._lifecycle.is_task_of(cell):
            raise RuntimeError(f"{cell.address} cannot wait for its own termination")
        await self._lifecycle.join(cell)

    async def stop_all(self) -> None:
        """Gracefully stop every root actor (and so every actor); the system stays open.

        Returns once the stop requests are made (each actor first processes what is queued);
        new actors can be spawned afterwards. Call it from any task of the system's loop.
        """
        self._lifecycle.stop_roots()

    def _watch(self, watcher: Any, target: Any) -> None:
        if self._node is not None and self._node.is_remote(target):
            self._node.watch(watcher, target)
            return
        self._lifecycle.watch(watcher, self._watch_target(target, "watch"))

    def _unwatch(self, watcher: Any, target: Any) -> None:
        if self._node is not None and self._node.is_remote(target):
            self._node.unwatch(watcher, target)
            return
        self._lifecycle.unwatch(watcher, self._watch_target(target, "unwatch"))

    def _is_foreign(self, ref: Any) -> bool:
        """True when ``ref`` (anything with an int ``_rid``) belongs to another system."""
        cell = getattr(ref, "_cell", None)
        if cell is not None:
            return cell.host is not self._lifecycle
        address = getattr(ref, "_address", None)
        return isinstance(address, ActorAddress) and address.system != self.system_id

    def _check_parent(self, parent: Any) -> None:
        if not isinstance(parent, ActorRef):
            raise TypeError(f"parent must be an ActorRef or None, not {type(parent).__name__}.")
        if self._is_foreign(parent):
            raise ValueError(f"parent {parent!r} is an actor of another system.")

    def _watch_target(self, target: Any, call: str) -> Any:
        """What ``Lifecycle.watch`` takes for ``target``: a ref of this system, or ``None``
        for an address of this system whose actor is unknown (a no-op, as in 0.3.0)."""
        if isinstance(target, (ActorAddress, str)):
            address = ActorAddress.parse(target) if isinstance(target, str) else target
            if address.system != self.system_id:
                raise ValueError(
                    f"{call}() target {str(address)!r} is not an address of this system "
                    f"({self.system_id!r})."
                )
            cell = self._by_id.get(address.actor_id)
            return None if cell is None else self._lifecycle.ref(cell)
        if type(getattr(target, "_rid", None)) is not int:
            raise TypeError(
                f"{call}() expects an ActorRef, an ActorAddress or an address string such as "
                f"'{self.system_id}:1', not {type(target).__name__}."
            )
        if self._is_foreign(target):
            raise ValueError(f"{call}() target {target!r} is an actor of another system.")
        return target


    # -- lookup ------------------------------------------------------------------------------------

    def ref_for(self, address: ActorAddress | str) -> ActorRef:
        """A fresh ref to a running actor of this system, from its address.

        ``address`` is an ``ActorAddress`` or its string (``"local:3"``). With a transport (a
        cluster member), also a ref to an actor of another member: an ``ActorAddress`` of that
        system, or a URI ``"papyra://<system>/<name>"`` (``/#<id>`` for an unnamed actor).
        Such a ref is not checked for liveness here. Liveness is checked now, in the caller's
        task: the actor may stop right after. Call it from any task of the system's loop.

        :raises ActorStopped: the actor is unknown, stopping or stopped; the address is of
            another system and this one has no transport; or a remote ref is asked for and
            the system is not running.
        :raises ValueError: an unparsable address string or URI.
        :raises TypeError: ``address`` is neither an ``ActorAddress`` nor a string.
        """
        if isinstance(address, str) and address.startswith("papyra://"):
            from papyra.cluster._node import parse_uri

            member, target = parse_uri(address)
            if member != self.system_id:
                return self._remote(member, target)
            if not target.startswith("#"):
                return self.ref_for_name(target)
            address = ActorAddress(member, int(target[1:].partition("~")[0]))
        if isinstance(address, str):
            address = ActorAddress.parse(address)
        if not isinstance(address, ActorAddress):
            raise TypeError(f"Expected an ActorAddress or str, not {type(address).__name__}.")
        if address.system != self.system_id:
            if self._transport is None:  # as in 0.3.0
                raise ActorStopped("Remote actor systems are not supported yet.",
                                   reason="shutdown")
            return self._remote(address.system, f"#{address.actor_id}")
        cell = self._by_id.get(address.actor_id)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        if not cell.alive or cell.stopping:
            raise ActorStopped("Actor is not running.", reason="shutdown")
        return self._lifecycle.ref(cell)

    def ref_for_name(self, name: str, *, system: str | None = None) -> ActorRef:
        """A fresh ref to the actor registered under ``name`` (no liveness check).

        A name is known from its ``spawn(name=...)`` until that actor has terminated, so the
        ref may be to an actor that is stopping (its sends raise ``ActorStopped``). Unlike
        :meth:`actor`, spawns nothing. ``system``: the id of another member of this system's
        cluster (needs a transport); the ref is then a
        :class:`~papyra.cluster.RemoteActorRef`, made without asking that member (a message to
        a name nobody has there becomes a dead letter on that side). Call it from any task of
        the system's loop.

        :raises ActorStopped: no actor of this system has that name, or ``system`` is another
            member and this system is not running.
        :raises ValueError: ``system`` is another member and this system has no transport,
            or ``name`` is empty then.
        """
        if system is not None and system != self.system_id:
            node = self._node
            if node is not None:  # running: a ref made before is handed out again
                cached: ActorRef | None = node.cached_ref(system, name)
                if cached is not None:
                    return cached
            return self._remote(system, name)
        rid = self._names.get(name)
        cell = None if rid is None else self._by_id.get(rid)
        if cell is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        return self._lifecycle.ref(cell)

    def register_entity(self, kind: str, factory: Callable[[], Actor] | type[Actor]) -> None:
        """Host entities of ``kind`` on this member: spawned on their first message.

        Needs a transport. Every member that registers a kind takes a share of the shards
        (docs/cluster.md, "Entities"); register the same kinds on those members. ``ValueError``
        for an empty kind, one with a ``/``, or one already registered; ``TypeError`` for a
        factory that is not an actor class or callable. Call it before ``start()``, so that
        this member takes its shards when it joins.

        :raises ValueError: no transport; an empty kind, one with a ``/``, or one already
            registered.
        :raises TypeError: ``factory`` is an actor instance or not callable.
        """
        if self._transport is None:
            raise ValueError(
                "entities live in a cluster: give this system a transport "
                "(ActorSystem(transport=RedisStreamsTransport(...)))."
            )
        if not isinstance(kind, str) or not kind or "/" in kind:
            raise ValueError(f"kind must be a non-empty name without '/', not {kind!r}.")
        if kind in self._entity_kinds:
            raise ValueError(f"entity kind {kind!r} is already registered.")
        check_factory(factory)
        self._entity_kinds[kind] = factory

    def entity(self, kind: str, key: str) -> ActorRef:
        """A ref to entity ``kind``/``key`` wherever it lives in the cluster (see
        :meth:`register_entity`); messages to it are routed by its shard.

        Made at once, without asking any member: the entity is spawned by the member that
        owns its shard when the first message arrives there. Call it from any task of the
        system's loop while the system runs.

        :raises ValueError: an empty ``kind``, one with a ``/``, an empty ``key``, or a
            system without a transport.
        :raises ActorStopped: the system is not running.
        """
        if not isinstance(kind, str) or not kind or "/" in kind:
            raise ValueError(f"kind must be a non-empty name without '/', not {kind!r}.")
        if not isinstance(key, str) or not key:
            raise ValueError(f"key must be a non-empty string, not {key!r}.")
        self._remote("*", "-")  # the checks: a transport, a running system
        ref: ActorRef = self._node.entity_ref(kind, key)
        return ref

    def _remote(self, member: str, target: str) -> ActorRef:
        """A ref to ``target`` on the cluster member ``member``."""
        if not isinstance(member, str) or not member:
            raise ValueError(f"system must be a non-empty system id, not {member!r}.")
        if not isinstance(target, str) or not target:
            raise ValueError(f"the actor name must be a non-empty string, not {target!r}.")
        if self._transport is None:
            raise ValueError(
                f"{member!r} is another actor system: give this one a transport "
                "(ActorSystem(transport=RedisStreamsTransport(...))) to reach it."
            )
        if self._node is None:
            raise ActorStopped("ActorSystem is not running.", reason="shutdown")
        ref: ActorRef = self._node.remote_ref(member, target)
        return ref

    def list_names(self) -> dict[str, ActorAddress]:
        """Each registered name of a live actor -> its address (a new dict, a snapshot).

        A name is listed from its ``spawn(name=...)`` until the actor has terminated.
        """
        return {
            name: ActorAddress(self.system_id, rid) for name, rid in self._names.items()
        }

    def list_actors(self, *, alive_only: bool = False) -> tuple[ActorAddress, ...]:
        """The addresses of the actors this system knows, in spawn order.

        Terminated actors are included (up to ``retain_terminated`` of them) unless
        ``alive_only``: then only actors that run and accept messages.
        """
        return tuple(
            cell.address
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        )

    def refs(self, *, alive_only: bool = True) -> tuple[ActorRef, ...]:
        """Fresh refs to the actors of this system, in spawn order (the running ones only,
        unless ``alive_only=False``: then also the retained records of stopping and
        terminated actors, whose refs dead-letter what they are sent)."""
        return tuple(
            self._lifecycle.ref(cell)
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        )

    def refs_by_type(
        self, actor_type: type[Actor] | str, *, alive_only: bool = True
    ) -> tuple[ActorRef, ...]:
        """:meth:`refs` of the actors whose current instance is of ``actor_type``.

        ``actor_type`` is a class (subclasses match) or a name: the class's ``__name__``,
        ``__qualname__`` or ``module.qualname``. A snapshot, taken now.

        :raises TypeError: ``actor_type`` is neither a class nor a string.
        """
        matches = _type_matcher(actor_type)
        return tuple(
            self._lifecycle.ref(cell)
            for cell in self._by_id.values()
            if (not alive_only or (cell.alive and not cell.stopping)) and matches(cell.actor)
        )

    async def broadcast(
        self,
        message: Any,
        *,
        actor_type: type[Actor] | str | None = None,
        alive_only: bool = True,
    ) -> int:
        """``tell`` ``message`` to every matching actor in spawn order; returns how many took it.

        The actors are those of :meth:`refs` (or :meth:`refs_by_type` for ``actor_type``),
        taken when the call starts. Each ``tell`` runs in the caller's task and waits for room
        in a full mailbox (back-pressure); an actor that stopped meanwhile is skipped (its
        message becomes a dead letter) and not counted. Returns once every message is
        enqueued, not processed.

        :raises TypeError: ``actor_type`` is neither a class, a string nor ``None``.
        """
        refs = (
            self.refs(alive_only=alive_only)
            if actor_type is None
            else self.refs_by_type(actor_type, alive_only=alive_only)
        )
        delivered = 0
        for ref in refs:
            try:
                await ref.tell(message)
            except ActorStopped:
                continue
            delivered += 1
        return delivered

    # -- introspection -----------------------------------------------------------------------------

    def _info(self, cell: Cell) -> ActorInfo:
        parent = cell.parent
        return ActorInfo(
            rid=cell.rid,
            address=cell.address,
            name=cell.name,
            parent_rid=None if parent is None else parent.rid,
            children_rids=tuple(cell.children),
            alive=cell.alive,
            stopping=cell.stopping,
            restarting=cell.restarting,
            actor_type=cell.actor_type,
            mailbox_depth=len(cell.mailbox),
            messages_processed=cell.processed,
        )

    def actor_info(self, target: Any) -> ActorInfo:
        """Describe one actor, given a ref, an rid, an ``ActorAddress`` or an address string.

        A snapshot of its state now (also for a stopped actor whose record is still retained,
        see ``retain_terminated``). An address of another system is looked up by its id only.

        :raises TypeError: ``target`` is none of those (a ``bool`` included).
        :raises ValueError: an unparsable address string.
        :raises ActorStopped: this system holds no record of that actor.
        """
        if isinstance(target, bool):
            raise TypeError("actor_info() expects a ref, an int rid or an address.")
        if isinstance(target, int):
            rid = target
        elif isinstance(target, ActorAddress):
            rid = target.actor_id
        elif isinstance(target, str):
            rid = ActorAddress.parse(target).actor_id
        elif type(getattr(target, "_rid", None)) is int:
            rid = target._rid
        else:
            raise TypeError(
                "actor_info() expects a ref, an int rid or an address, "
                f"not {type(target).__name__}."
            )
        cell = self._by_id.get(rid)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        return self._info(cell)

    def control_panel(self, *, alive_only: bool = False) -> tuple[str, ...]:
        """A text table of the actors (spawn order), for logs and terminals.

        One string per line: a header then one row per actor the system still holds (only
        the running ones with ``alive_only``), or ``("No actors.",)``. A snapshot; reports
        nothing to hooks or persistence.
        """
        infos = [
            self._info(cell)
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        ]
        if not infos:
            return ("No actors.",)
        rows = [("RID", "ADDRESS", "NAME", "ACTOR", "STATE", "PARENT", "CHILDREN")]
        for info in infos:
            rows.append(
                (
                    str(info.rid),
                    str(info.address),
                    info.name or "-",
                    info.actor_type or "-",
                    info.state,
                    "-" if info.parent_rid is None else str(info.parent_rid),
                    ",".join(map(str, info.children_rids)) or "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return tuple(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def audit(self, *, include_actor_details: bool = True) -> AuditReport:
        """Count actors by state and check the name registry; reported to hooks and persisted.

        Synchronous: the report is taken now. The ``on_audit`` hook is called in the caller's
        task (an awaitable it returns is awaited in a system task while the system runs); the
        report is handed to the persistence writer, unless the system is closed, and written
        when it next flushes.
        ``dead_letters_count`` is the number of retained dead letters (the newest
        ``max_dead_letters``), ``dead_letters_total`` the number ever recorded.
        """
        cells = list(self._by_id.values())
        names = self._names
        orphans = sorted(name for name, rid in names.items() if rid not in self._by_id)
        dead = sorted(
            name
            for name, rid in names.items()
            if rid in self._by_id and (not self._by_id[rid].alive or self._by_id[rid].stopping)
        )
        report = AuditReport(
            system_id=self.system_id,
            total_actors=self._lifecycle.spawned,
            alive_actors=sum(1 for c in cells if c.alive and not c.stopping),
            stopping_actors=sum(1 for c in cells if c.stopping),
            restarting_actors=sum(1 for c in cells if c.restarting),
            registry_size=len(names),
            registry_orphans=tuple(orphans),
            registry_dead=tuple(dead),
            dead_letters_count=len(self.dead_letters.messages),
            actors=tuple(self._info(c) for c in cells) if include_actor_details else (),
            dead_letters_total=self.dead_letters.total,
        )
        self._facts.audit(report, persist=not self._closed)
        return report

    def metrics(self) -> RuntimeMetrics:
        """A snapshot of the runtime metrics (:class:`papyra.metrics.RuntimeMetrics`).

        Counters count from the construction of the system; the gauges (actors alive,
        queued messages, the deepest mailbox) are computed now, over the actors the system
        still holds. Works in every state (new, running, closed), reports nothing to hooks or
        to persistence, and raises nothing: the persistence counters are those of
        ``backend.metrics.snapshot()``, empty when the backend has none or it fails.

        The one call of the system that may be made from another thread (a metrics server's):
        it only reads, and what it reads may be a moment old.
        """
        lifecycle = self._lifecycle
        processed = lifecycle.processed_released
        queued = 0
        deepest = 0
        # list() copies the table in one step of the interpreter: a scrape from another
        # thread (PapyraCollector under start_http_server) never sees it change mid-loop.
        for cell in list(self._by_id.values()):
            processed += cell.processed
            depth = len(cell.mailbox)
            queued += depth
            if depth > deepest:
                deepest = depth
        asks = lifecycle.ask_stats
        latency = asks.snapshot()
        return RuntimeMetrics(
            system_id=self.system_id,
            actors_spawned=lifecycle.spawned,
            actors_started=lifecycle.started_total,
            actors_stopped=lifecycle.stopped_total,
            actors_alive=lifecycle.spawned - lifecycle.stopped_total,
            messages_processed=processed,
            messages_queued=queued,
            mailbox_depth_max=deepest,
            asks=latency.count,
            ask_errors=asks.errors,
            ask_timeouts=asks.timeouts,
            ask_latency=latency,
            crashes=lifecycle.crashes,
            restarts=lifecycle.restarts,
            supervision_decisions=dict(lifecycle.decisions),
            dead_letters=self.dead_letters.total,
            events=self._facts.events_total,
            persistence=dict(safe_metrics_snapshot(self._persistence)),
        )

    def events(self) -> tuple[ActorEvent, ...]:
        """The retained lifecycle events (the newest ``max_events``), oldest first.

        A snapshot (a new tuple). Works in every state of the system.
        """
        return tuple(self._facts.events)

    @property
    def events_total(self) -> int:
        """How many events this system has emitted so far, including discarded ones.

        The index the next event will get: ``wait_for_event(..., start_index=n)`` and
        ``subscribe(start_index=n)`` with ``n = system.events_total`` only see events emitted
        from now on.
        """
        return self._facts.events_total

    def subscribe(self, *, start_index: int | None = None) -> EventSubscription:
        """An async iterator over the events emitted from ``start_index`` on (default: now).

        ``async for item in system.subscribe(): ...`` yields every event, in emission order,
        as an :class:`~papyra.events.ActorEvent`; if the consumer falls so far behind that
        events it has not seen leave the event buffer (the newest ``max_events``), it gets one
        :class:`~papyra.events.MissedEvents` with their count instead, never an unbounded
        backlog. The iteration ends once the system has closed and every event up to then was
        yielded. A ``start_index`` below ``events_total`` replays the retained events first.
        Iterate it in any task of the system's loop; each subscription has its own position.

        :raises TypeError: ``start_index`` is not an int (a ``bool`` included).
        :raises ValueError: ``start_index`` is negative.
        """
        if start_index is None:
            start_index = self._facts.events_total
        elif isinstance(start_index, bool) or not isinstance(start_index, int):
            raise TypeError(f"start_index must be an int, not {type(start_index).__name__}.")
        elif start_index < 0:
            raise ValueError("start_index must be >= 0.")
        return EventSubscription(self._facts, start_index)

    async def wait_for_event(
        self,
        predicate: Callable[[ActorEvent], bool] | type[ActorEvent],
        *,
        timeout: float | None = 1.0,
        start_index: int = 0,
        poll_interval: float = 0.0,
    ) -> ActorEvent:
        """Return the first event at index >= ``start_index`` that matches, waiting if needed.

        A class matches by ``isinstance``, a callable by truthiness. Indices count every event
        ever emitted (equal to positions in ``events()`` until the buffer starts discarding);
        pass ``start_index=system.events_total`` to wait for an event emitted after this
        point. Raises ``TimeoutError`` after ``timeout`` seconds: 1.0 by default, as in 0.3.0
        (``None``: no limit). Once the system has closed, no new event can come: when no
        retained one matches, :class:`~papyra.exceptions.EventNotEmitted` (a ``TimeoutError``)
        is raised at once, also while waiting. No retained event is ever missed.
        ``poll_interval`` is accepted for compatibility and unused.

        :raises TimeoutError: ``timeout`` elapsed without a matching event.
        :raises EventNotEmitted: the system has closed and no retained event matches.
        """
        if isinstance(predicate, type):
            cls = predicate

            def matches(event: ActorEvent) -> bool:
                return isinstance(event, cls)
        else:
            matches = predicate  # type: ignore[assignment]

        next_matching = self._facts.next_matching
        if timeout is None:
            return await next_matching(matches, start_index)
        with anyio.fail_after(timeout):
            return await next_matching(matches, start_index)

    async def compact(self) -> Any:
        """Compact the persistence backend; ``None`` if it failed.

        Runs the backend's ``compact()`` in the caller's task and returns its report. Raises
        nothing: a failure is logged on the ``papyra`` logger at WARNING.
        """
        try:
            return await self._persistence.compact()
        except Exception:
            _log.warning("persistence compaction failed", exc_info=True)
            return None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return f"<ActorSystem {self.system_id!r} {state} actors={len(self._by_id)}>"


def _type_matcher(actor_type: type[Actor] | str) -> Callable[[Any], bool]:
    if isinstance(actor_type, str):

        def by_name(actor: Any) -> bool:
            cls = type(actor)
            return actor_type in (
                cls.__name__,
                cls.__qualname__,
                f"{cls.__module__}.{cls.__qualname__}",
            )

        return by_name
    if isinstance(actor_type, type):
        return lambda actor: isinstance(actor, actor_type)
    raise TypeError("actor_type must be an Actor class or a class name.")


# -- argument checks (docs/runtime.md, "Validation") ---------------------------------------------

"""The actor system: spawning, supervision, lookup, dead letters, events and shutdown.

Everything here runs on one event loop (any anyio backend) and is not thread-safe. The
per-message path lives in the dispatch twin (:mod:`papyra._accel`); this module holds the rare
paths (lifecycle, failures, proxies) and the bookkeeping.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from papyra import _accel
from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope, Reply
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.clock import SystemClock
from papyra.context import ActorContext
from papyra.events import ActorCrashed, ActorEvent, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, MailboxClosed
from papyra.hooks import DefaultHooks, FailureInfo, SystemHooks
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision

if TYPE_CHECKING:
    from papyra.persistence.base import PersistenceBackend
    from papyra.persistence.models import PersistenceRecoveryConfig
    from papyra.persistence.startup import PersistenceStartupConfig

__all__ = (
    "STOP",
    "ActorSystem",
    "ActorTerminated",
    "DeadLetter",
    "DeadLetterMailbox",
    "Envelope",
    "Reply",
)

A = TypeVar("A", bound=Actor)
Cell = Any  # dispatch.ActorCell of the selected twin

log = logging.getLogger("papyra")

# Payloads of the lifecycle events whose fields are constants (saves dataclass introspection).
_NO_PAYLOAD: dict[str, object] = {}
_STOPPED_PAYLOAD: dict[str, object] = {"reason": "stopped"}
_RESTARTED_PAYLOAD: dict[str, object] = {"reason": "actor restarted"}

_RECORD_METHODS = {
    "event": "record_event",
    "audit": "record_audit",
    "dead_letter": "record_dead_letter",
}
_NAMED_DEFAULT = SupervisionPolicy(strategy=Strategy.RESTART)
_UNNAMED_DEFAULT = SupervisionPolicy(strategy=Strategy.STOP)


def _running_asyncio_loop() -> Any:
    """The running asyncio loop when the current anyio backend is asyncio, else None."""
    import asyncio

    return asyncio._get_running_loop()


def _overrides(actor: Any, hook: str) -> bool:
    """False when ``actor`` keeps the base class's no-op ``on_start`` / ``on_stop``."""
    method = getattr(type(actor), hook, None)
    return method is not None and method is not getattr(Actor, hook)


def _never_alive() -> bool:
    return False


async def _closed_put(env: Envelope) -> None:
    raise MailboxClosed("Mailbox is closed.")


class DeadLetterMailbox:
    """Messages that could not be delivered, newest last.

    Holds at most ``maxlen`` dead letters (the oldest are discarded first; ``None`` keeps all),
    so a long-running system does not grow without bound.
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

    @property
    def messages(self) -> list[DeadLetter]:
        """The live list of retained dead letters, in arrival order."""
        return self._messages

    def push(self, dl: DeadLetter) -> None:
        """Append ``dl`` then call ``on_dead_letter(dl)`` (its exceptions are swallowed)."""
        messages = self._messages
        messages.append(dl)
        if self._maxlen is not None and len(messages) > self._maxlen:
            del messages[: len(messages) - self._maxlen]
        if self._on_dead_letter is not None:
            try:
                self._on_dead_letter(dl)
            except Exception:
                log.debug("on_dead_letter callback failed", exc_info=True)


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
    """

    def __init__(
        self,
        *,
        system_id: str = "local",
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        hooks: SystemHooks | Any | None = None,
        time_fn: Callable[[], float] | None = None,
        persistence: PersistenceBackend | None = None,
        persistence_recovery: PersistenceRecoveryConfig | None = None,
        persistence_startup: PersistenceStartupConfig | None = None,
        max_events: int | None = 10_000,
        max_dead_letters: int | None = 10_000,
        retain_terminated: int = 1_000,
        _dispatch: ModuleType | None = None,
    ) -> None:
        if not isinstance(system_id, str) or not system_id:
            raise ValueError("system_id must be a non-empty string")
        if retain_terminated < 0:
            raise ValueError("retain_terminated must be >= 0")
        if persistence is None:
            from papyra.persistence.backends.memory import InMemoryPersistence

            persistence = InMemoryPersistence()
        self.system_id = system_id
        self.dead_letters = DeadLetterMailbox(on_dead_letter=on_dead_letter, maxlen=max_dead_letters)
        self._hooks: Any = DefaultHooks() if hooks is None else hooks
        self._time_fn: Callable[[], float] = time.time if time_fn is None else time_fn
        self._clock = SystemClock(self._time_fn)
        self._persistence: PersistenceBackend = persistence
        self._persistence_recovery = persistence_recovery
        self._persistence_startup = persistence_startup
        self._dispatch: Any = _accel.dispatch if _dispatch is None else _dispatch

        self._started = False
        self._closed = False
        self._tg: Any = None
        self._cancelled_exc: Any = BaseException
        self._next_rid = 1
        self._spawned = 0
        self._by_id: dict[int, Cell] = {}
        self._names: dict[str, int] = {}
        self._registrations: dict[str, tuple[Any, int | None, SupervisionPolicy | None]] = {}
        self._terminated: deque[int] = deque()
        self._retain_terminated = retain_terminated
        self._running_actors = 0
        # On asyncio, actor tasks are created with the loop directly (anyio's start_soon costs
        # ~25 us per task); they are tracked here so they can be cancelled if shutdown is.
        self._loop: Any = None
        self._actor_tasks: dict[int, Any] = {}
        self._actors_done: Any = None

        self._events: deque[ActorEvent] = deque(maxlen=max_events)
        self._events_total = 0
        self._event_waiters: list[Any] = []

        # Persisted records go through one writer task, in emission order.
        self._outbox: deque[tuple[str, Any]] = deque()
        self._outbox_waiter: Any = None
        self._outbox_open = False
        self._outbox_draining = False
        # Backends with record_nowait() take each fact synchronously, when it happens; the
        # writer then only calls flush() to get them written (and their errors logged).
        self._record_nowait: Callable[[str, Any], None] | None = getattr(
            persistence, "record_nowait", None
        )
        self._flush: Callable[[], Any] | None = getattr(persistence, "flush", None)
        if self._flush is None:
            self._record_nowait = None
        self._unflushed = False

    # -- configuration ---------------------------------------------------------------------

    @property
    def persistence(self) -> PersistenceBackend:
        return self._persistence

    @property
    def persistence_startup(self) -> PersistenceStartupConfig | None:
        return self._persistence_startup

    @persistence_startup.setter
    def persistence_startup(self, value: PersistenceStartupConfig | None) -> None:
        self._persistence_startup = value

    @property
    def persistence_recovery(self) -> PersistenceRecoveryConfig | None:
        return self._persistence_recovery

    @persistence_recovery.setter
    def persistence_recovery(self, value: PersistenceRecoveryConfig | None) -> None:
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
    def running(self) -> bool:
        """True between a successful ``start()`` and ``aclose()``."""
        return self._started and not self._closed

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the persistence startup checks, then open the actors' task group.

        Idempotent. Raises ``ActorStopped`` on a closed system. If the startup checks raise,
        the system is closed for good and the exception propagates.
        """
        if self._closed:
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")
        if self._started:
            return
        try:
            await self._run_startup_checks()
        except BaseException:
            self._closed = True
            raise
        if self._closed or self._started:  # closed or started while we were checking
            if self._closed:
                raise ActorStopped("ActorSystem is closed.", reason="shutdown")
            return
        self._cancelled_exc = anyio.get_cancelled_exc_class()
        self._loop = _running_asyncio_loop()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._started = True
        self._outbox_open = True
        tg.start_soon(self._persistence_writer)

    async def _run_startup_checks(self) -> None:
        config = self._persistence_startup
        if config is None:
            return
        from papyra.persistence.startup import PersistenceStartupMode

        if config.timeout_seconds is None:
            await self._startup_sequence(config, PersistenceStartupMode)
        else:
            with anyio.fail_after(config.timeout_seconds):
                await self._startup_sequence(config, PersistenceStartupMode)

    async def _startup_sequence(self, config: PersistenceStartupConfig, modes: Any) -> None:
        backend = self._persistence
        scan = await backend.scan()
        if scan is not None:
            await self._call_startup_hook("on_persistence_scan", scan)
        if scan is None or not scan.has_anomalies:
            return
        mode = config.mode
        if mode == modes.FAIL_ON_ANOMALY:
            raise RuntimeError(f"Persistence anomalies detected at startup: {scan.anomalies}")
        if mode != modes.RECOVER:
            return  # IGNORE / SCAN_ONLY: the scan ran and was reported, startup continues
        recovery = config.recovery if config.recovery is not None else self._persistence_recovery
        report = await backend.recover(recovery)
        if report is not None:
            await self._call_startup_hook("on_persistence_recovery", report)
        post = await backend.scan()
        if post is not None:
            await self._call_startup_hook("on_persistence_scan", post)
            if post.has_anomalies:
                raise RuntimeError("Persistence recovery completed but anomalies still exist")

    async def _call_startup_hook(self, name: str, report: Any) -> None:
        fn = getattr(self._hooks, name, None)
        if fn is None:
            return
        try:
            result = fn(report)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.debug("hook %s failed", name, exc_info=True)

    async def aclose(self) -> None:
        """Stop every actor gracefully, wait for them, flush persistence, close the backend.

        Messages enqueued before the call are processed; messages that can never be processed
        become dead letters and their ``ask`` callers get ``ActorStopped``. Idempotent. Must be
        awaited in the task that called ``start()``, and not from inside an actor.
        """
        if self._closed:
            return
        self._closed = True
        tg = self._tg
        if tg is not None:
            for cell in list(self._by_id.values()):
                cell.refresh()
            for cell in list(self._by_id.values()):
                if cell.parent is None:
                    self._stop_tree(cell)
            interrupted = True
            try:
                if self._running_actors:
                    self._actors_done = self._dispatch.create_future()
                    await self._actors_done
                interrupted = False
            finally:
                if interrupted:  # shutdown itself was cancelled: cancel the actors too
                    for task in list(self._actor_tasks.values()):
                        task.cancel()
                    tg.cancel_scope.cancel()
                self._close_outbox()
                try:
                    await tg.__aexit__(None, None, None)
                finally:
                    self._tg = None
        self._wake_event_waiters()
        try:
            await self._persistence.aclose()
        except Exception:
            log.debug("persistence backend failed to close", exc_info=True)

    async def __aenter__(self) -> ActorSystem:
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose()

    # -- spawning ------------------------------------------------------------------------------

    def spawn(
        self,
        actor_factory: Callable[[], A] | type[A],
        *,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        parent: Any | None = None,
        name: str | None = None,
    ) -> ActorRef:
        """Create an actor and schedule it; returns its ref at once.

        The factory runs synchronously here (its exceptions propagate). ``on_start`` runs in
        the actor's task afterwards; messages sent meanwhile wait for it. ``mailbox_capacity``
        bounds the mailbox (``None``: unbounded). Named actors default to a RESTART policy,
        unnamed ones to STOP. Raises ``ActorStopped`` if the system is not running and
        ``ValueError`` for a name already in use.
        """
        if not self._started or self._closed:
            raise ActorStopped("ActorSystem is not running.", reason="shutdown")
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError("Actor name must be a non-empty string.")
            if name in self._names:
                raise ValueError(f"Actor name '{name}' already exists.")
        if policy is not None and not isinstance(policy, SupervisionPolicy):
            raise TypeError(f"policy must be a SupervisionPolicy, not {type(policy).__name__}.")
        mailbox = self._dispatch.Mailbox(mailbox_capacity)
        parent_cell = self._cell_of(parent)
        rid = self._next_rid
        self._next_rid = rid + 1
        actor = actor_factory()
        if not callable(getattr(actor, "receive", None)):
            raise TypeError(
                f"The actor factory returned {type(actor).__name__!r}, which has no receive()."
            )
        if policy is None:
            policy = _NAMED_DEFAULT if name is not None else _UNNAMED_DEFAULT
        cell = self._dispatch.ActorCell(
            self, rid, ActorAddress(self.system_id, rid), name, actor_factory, mailbox, policy,
            parent_cell,
        )
        cell.actor = actor
        cell.actor_type = type(actor).__qualname__
        self._spawned += 1
        self._by_id[rid] = cell
        if parent_cell is not None:
            if parent_cell.children:
                parent_cell.children.append(rid)
            else:
                parent_cell.children = [rid]
        if name is not None:
            self._names[name] = rid
        ref = self._ref(cell)
        self._inject(cell, actor, ref)
        self._running_actors += 1
        loop = self._loop
        if loop is not None:
            self._actor_tasks[rid] = loop.create_task(cell.main())
        else:
            self._tg.start_soon(cell.main)
        return ref

    def register(
        self,
        name: str,
        actor_factory: Callable[[], Actor] | type[Actor],
        *,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
    ) -> None:
        """Record what :meth:`actor` spawns under ``name``; spawns nothing itself.

        Allowed before or after ``start()``. ``ValueError`` for an empty or already registered
        name; ``ActorStopped`` on a closed system.
        """
        if self._closed:
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")
        if not isinstance(name, str) or not name:
            raise ValueError("Actor name must be a non-empty string.")
        if name in self._registrations:
            raise ValueError(f"Actor name '{name}' is already registered.")
        if not callable(actor_factory):
            raise TypeError("actor_factory must be an Actor class or a callable returning an actor.")
        self._registrations[name] = (actor_factory, mailbox_capacity, policy)

    def actor(self, name: str) -> ActorRef:
        """A ref to the running actor named ``name``, spawning a registered one on first use.

        After a registered actor terminates for good, the next call spawns a fresh instance.
        Raises ``ActorStopped`` for an unknown name, or when a spawn is needed and the system
        is not running.
        """
        rid = self._names.get(name)
        if rid is not None:
            cell = self._by_id.get(rid)
            if cell is not None and cell.alive and not cell.stopping:
                return self._ref(cell)
        registration = self._registrations.get(name)
        if registration is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        if rid is not None:
            # The previous instance is still shutting down: its name is released at termination.
            del self._names[name]
        factory, capacity, policy = registration
        return self.spawn(factory, name=name, mailbox_capacity=capacity, policy=policy)

    def _inject(self, cell: Cell, actor: Any, ref: ActorRef) -> None:
        parent = cell.parent
        actor._context = ActorContext(
            system=self, self_ref=ref, parent=None if parent is None else self._ref(parent)
        )

    def _ref(self, cell: Cell) -> ActorRef:
        return ActorRef(
            cell.rid, cell.mailbox.put, cell.is_alive, self._dead_letter, cell.address, cell
        )

    def _inert_ref(self, cell: Cell) -> ActorRef:
        return ActorRef(cell.rid, _closed_put, _never_alive, self._dead_letter, cell.address)

    def _cell_of(self, target: Any) -> Cell | None:
        rid = getattr(target, "_rid", None)
        if type(rid) is not int:
            return None
        return self._by_id.get(rid)

    # -- the actor task --------------------------------------------------------------------------

    async def _finish(self, cell: Cell) -> None:
        """Terminate ``cell`` (runs in the actor's task, last, even when it is cancelled)."""
        self._terminate_begin(cell)
        if _overrides(cell.actor, "on_stop"):
            with anyio.CancelScope(shield=True):
                try:
                    await cell.actor.on_stop()
                except Exception:
                    log.debug("on_stop of %s failed", cell.address, exc_info=True)
        self._terminate_end(cell)
        self._actor_tasks.pop(cell.rid, None)
        self._running_actors -= 1
        if self._running_actors == 0 and self._actors_done is not None:
            if not self._actors_done.done():
                self._actors_done.set_result(None)

    def _start_now(self, cell: Cell) -> bool:
        """Start an actor that has no ``on_start`` of its own (True); False: await ``_first_start``."""
        if _overrides(cell.actor, "on_start"):
            return False
        self._emit(cell, ActorStarted(address=cell.address.to_dict()), _NO_PAYLOAD)
        return True

    async def _first_start(self, cell: Cell) -> bool:
        """Run the first ``on_start``; False if the actor must terminate without messages."""
        try:
            await cell.actor.on_start()
        except self._cancelled_exc:
            raise
        except BaseException as exc:
            error = RuntimeError("actor.on_start() failed")
            error.__cause__ = exc
            await self._handle_failure(cell, error)
            if cell.abort or not cell.alive:
                return False
        self._emit(cell, ActorStarted(address=cell.address.to_dict()), _NO_PAYLOAD)
        return True

    def _terminate_begin(self, cell: Cell) -> None:
        """The end of an actor, before ``on_stop``: dead-letter leftovers, notify watchers."""
        cell.alive = False
        cell.restarting = False
        cell.refresh()
        mailbox = cell.mailbox
        mailbox.close()
        if cell.name is not None and self._names.get(cell.name) == cell.rid:
            del self._names[cell.name]
        for item in mailbox.drain():
            if type(item) is Envelope:
                message, reply = item.message, item.reply
            else:
                message, reply = item, None
            if message is STOP:
                continue
            self._dead_letter(DeadLetter(self._ref(cell), message, reply is not None))
            if reply is not None and not reply.done():
                reply.set_exception(ActorStopped("Actor stopped before processing the message."))
        self._stop_children(cell)
        if cell.watchers:
            note = ActorTerminated(ref=self._inert_ref(cell))
            for watcher_rid in cell.watchers:
                watcher = self._by_id.get(watcher_rid)
                if watcher is not None and watcher.accepting:
                    watcher.mailbox.force(note)
            cell.watchers = ()

    def _terminate_end(self, cell: Cell) -> None:
        """The end of an actor, after ``on_stop``: ``ActorStopped``, then release the record."""
        self._emit(
            cell,
            ActorStoppedEvent(address=cell.address.to_dict(), reason="stopped"),
            _STOPPED_PAYLOAD,
        )
        cell.terminated = True
        self._release(cell)

    def _release(self, cell: Cell) -> None:
        """Forget the oldest terminated records beyond ``retain_terminated``."""
        terminated = self._terminated
        terminated.append(cell.rid)
        while len(terminated) > self._retain_terminated:
            old = self._by_id.pop(terminated.popleft(), None)
            if old is None:
                continue
            parent = old.parent
            if parent is not None and not parent.terminated and parent.children:
                try:
                    parent.children.remove(old.rid)
                except ValueError:
                    pass
            old.parent = None

    # -- stopping ----------------------------------------------------------------------------------

    def _request_stop(self, cell: Cell) -> None:
        """Graceful: everything already queued is processed, then the actor terminates."""
        if not cell.alive or cell.stopping:
            return
        cell.stopping = True
        cell.refresh()
        cell.mailbox.force(STOP)
        cell.mailbox.close()

    def _abort(self, cell: Cell) -> None:
        """Failure-driven: the actor terminates right after the message in progress."""
        if cell.terminated:
            return
        cell.abort = True
        cell.stopping = True
        cell.refresh()
        cell.mailbox.force(STOP)  # wakes a loop waiting on an empty mailbox
        cell.mailbox.close()

    def _stop_tree(self, cell: Cell) -> None:
        """Graceful stop of ``cell``'s descendants (depth first), then of ``cell``."""
        self._stop_children(cell)
        self._request_stop(cell)

    def _stop_children(self, cell: Cell) -> None:
        for child_rid in tuple(cell.children):
            child = self._by_id.get(child_rid)
            if child is not None:
                self._stop_tree(child)

    async def stop(self, ref: Any) -> None:
        """Request a graceful stop of ``ref``'s actor and, first, of all its descendants.

        Returns once the requests are made (it does not wait for termination); ``ref`` is not
        alive from then on. A no-op on a closed system, an unknown ref or a stopped actor.
        """
        if self._closed:
            return
        cell = self._cell_of(ref)
        if cell is not None:
            self._stop_tree(cell)

    async def stop_all(self) -> None:
        """Gracefully stop every root actor (and so every actor); the system stays open."""
        for cell in list(self._by_id.values()):
            if cell.parent is None:
                try:
                    self._stop_tree(cell)
                except Exception:
                    log.debug("stop of %s failed", cell.address, exc_info=True)

    # -- failures and supervision -----------------------------------------------------------------

    async def _handle_failure(self, cell: Cell, exc: BaseException) -> None:
        if cell.stopping:
            cell.abort = True  # already on its way out: just do not process anything else
            return
        self._call_hook("on_failure", FailureInfo(cell.address, exc, cell.policy.strategy, None))
        self._emit(
            cell,
            ActorCrashed(
                address=cell.address.to_dict(), error=exc, reason=f"{type(exc).__name__}: {exc}"
            ),
        )
        parent = cell.parent
        if parent is not None and parent.terminated:
            parent = None
        if parent is not None:
            decision = await self._ask_parent(parent, cell, exc)
            if decision is not None:
                self._call_hook(
                    "on_failure", FailureInfo(cell.address, exc, cell.policy.strategy, decision)
                )
                if decision is SupervisorDecision.RESTART:
                    await self._restart(cell)
                elif decision is SupervisorDecision.ESCALATE:
                    await self._handle_failure(parent, exc)
                    self._stop_children(cell)
                    self._abort(cell)
                else:  # STOP, and IGNORE (there is no resuming a failed message)
                    self._stop_children(cell)
                    self._abort(cell)
                return
        strategy = cell.policy.strategy
        self._stop_children(cell)
        if strategy == Strategy.RESTART:
            await self._restart(cell)
        elif strategy == Strategy.ESCALATE and parent is not None:
            await self._handle_failure(parent, exc)
            self._abort(cell)
        else:
            self._abort(cell)

    async def _ask_parent(
        self, parent: Cell, cell: Cell, exc: BaseException
    ) -> SupervisorDecision | None:
        handler = getattr(parent.actor, "on_child_failure", None)
        if handler is None:
            return None
        try:
            decision = await handler(self._ref(cell), exc)
        except self._cancelled_exc:
            raise
        except BaseException:
            log.debug("on_child_failure of %s failed", parent.address, exc_info=True)
            return None
        if decision is None:
            return None
        try:
            return SupervisorDecision(decision)
        except ValueError:
            log.warning("on_child_failure returned %r, not a SupervisorDecision", decision)
            return None

    async def _restart(self, cell: Cell) -> None:
        """Replace the instance, within the policy's restart budget; else stop for good."""
        policy = cell.policy
        now = self.now()
        cell.restarting = True
        cell.restart_times = [t for t in cell.restart_times if now - t <= policy.within_seconds]
        if len(cell.restart_times) >= policy.max_restarts:
            cell.restarting = False
            self._abort(cell)
            return
        if _overrides(cell.actor, "on_stop"):
            try:
                await cell.actor.on_stop()
            except self._cancelled_exc:
                raise
            except BaseException:
                log.debug("on_stop of %s failed during restart", cell.address, exc_info=True)
        cell.restart_times.append(now)
        try:
            actor = cell.factory()
        except Exception:
            log.exception("actor factory of %s failed during restart", cell.address)
            cell.restarting = False
            self._abort(cell)
            return
        cell.actor = actor
        cell.actor_type = type(actor).__qualname__
        self._inject(cell, actor, self._ref(cell))
        try:
            if _overrides(actor, "on_start"):
                await actor.on_start()
        except self._cancelled_exc:
            raise
        except BaseException as exc:
            cell.restarting = False
            error = RuntimeError("actor.on_start() failed")
            error.__cause__ = exc
            await self._handle_failure(cell, error)
            return
        cell.restarting = False
        self._emit(
            cell,
            ActorRestarted(address=cell.address.to_dict(), reason="actor restarted"),
            _RESTARTED_PAYLOAD,
        )

    async def _run_proxy(self, cell: Cell, message: Any) -> Any:
        """Execute a proxy message on the current instance (inside the actor's loop)."""
        path = message.attr_path
        if any(part.startswith("_") for part in path):
            raise AttributeError(
                f"Actor proxy does not expose private attribute '{'.'.join(path)}'"
            )
        target = cell.actor
        if type(message) is ProxySetAttr:
            if not path:
                raise AttributeError("Actor proxy cannot set an empty attribute path")
            for part in path[:-1]:
                target = getattr(target, part)
            setattr(target, path[-1], message.value)
            return None
        for part in path:
            target = getattr(target, part)
        if type(message) is ProxyGetAttr:
            return target
        assert type(message) is ProxyCall
        result = target(*message.args, **(message.kwargs or {}))
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- watch --------------------------------------------------------------------------------------

    def _watch(self, watcher: Any, target: Any) -> None:
        watcher_cell = self._cell_of(watcher)
        target_cell = self._cell_of(target)
        if watcher_cell is not None and target_cell is not None:
            if target_cell.watchers:
                target_cell.watchers.add(watcher_cell.rid)
            else:
                target_cell.watchers = {watcher_cell.rid}

    def _unwatch(self, watcher: Any, target: Any) -> None:
        watcher_cell = self._cell_of(watcher)
        target_cell = self._cell_of(target)
        if watcher_cell is not None and target_cell is not None:
            if target_cell.watchers:
                target_cell.watchers.discard(watcher_cell.rid)

    # -- facts: events, dead letters, hooks, persistence ----------------------------------------------

    def _emit(self, cell: Cell, event: ActorEvent, payload: dict[str, object] | None = None) -> None:
        """Record ``event``: log, hook, persistence, waiters. ``payload``: precomputed, if known."""
        self._events.append(event)
        self._events_total += 1
        self._call_hook("on_event", event)
        if self._outbox_open:
            self._persist(
                "event",
                PersistedEvent(
                    system_id=self.system_id,
                    actor_address=str(cell.address),
                    event_type=type(event).__name__,
                    payload=event.payload if payload is None else dict(payload),
                    timestamp=self._time_fn(),
                ),
            )
        if self._event_waiters:
            self._wake_event_waiters()

    def _wake_event_waiters(self) -> None:
        waiters, self._event_waiters = self._event_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _dead_letter(self, dl: DeadLetter) -> None:
        """The dead-letter sink of every ref this system hands out."""
        self.dead_letters.push(dl)
        self._call_hook("on_dead_letter", dl)
        if self._outbox_open:
            target = dl.target
            address = getattr(target, "_address", None)
            if address is not None:
                target_text: str | None = str(address)
            elif isinstance(target, (str, dict)):
                target_text = str(target)
            else:
                target_text = None
            self._persist(
                "dead_letter",
                PersistedDeadLetter(
                    system_id=self.system_id,
                    target=target_text,
                    message_type=type(dl.message).__name__,
                    payload=dl.message,
                    timestamp=self._time_fn(),
                ),
            )

    def _call_hook(self, name: str, argument: Any) -> None:
        fn = getattr(self._hooks, name, None)
        if fn is None:
            return
        try:
            result = fn(argument)
        except Exception:
            log.debug("hook %s failed", name, exc_info=True)
            return
        if result is None or not inspect.isawaitable(result):
            return
        if self._tg is not None and self._outbox_open:
            self._tg.start_soon(self._await_quietly, result)
        elif inspect.iscoroutine(result):
            result.close()

    @staticmethod
    async def _await_quietly(awaitable: Any) -> None:
        try:
            await awaitable
        except Exception:
            log.debug("async hook failed", exc_info=True)

    def _persist(self, kind: str, record: Any) -> None:
        record_nowait = self._record_nowait
        if record_nowait is not None:
            try:
                record_nowait(kind, record)
            except Exception:
                log.warning("persisting a %s record failed", kind, exc_info=True)
                return
            if self._unflushed:
                return  # the writer was already woken for an earlier record
            self._unflushed = True
        else:
            self._outbox.append((kind, record))
        waiter = self._outbox_waiter
        if waiter is not None:
            self._outbox_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _close_outbox(self) -> None:
        """Let the writer finish once it has written everything queued so far."""
        self._outbox_draining = True
        waiter = self._outbox_waiter
        if waiter is not None:
            self._outbox_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _persistence_writer(self) -> None:
        """Write queued records in emission order; backend errors are logged, never raised.

        A backend with ``record_nowait`` / ``flush`` (the built-in ones) already holds every
        fact in order; the writer only calls ``flush()`` to get them written. For any other
        backend, the records queued meanwhile are written one ``record_*`` call at a time.
        """
        outbox = self._outbox
        try:
            while True:
                if outbox:
                    batch = list(outbox)
                    outbox.clear()
                    await self._write_batch(batch)
                    batch.clear()  # do not keep the records alive while idle
                    continue
                if self._unflushed and self._flush is not None:
                    self._unflushed = False
                    try:
                        await self._flush()
                    except self._cancelled_exc:
                        raise
                    except Exception:
                        log.warning("persisting records failed", exc_info=True)
                    continue
                if self._outbox_draining:
                    return
                waiter = self._dispatch.create_future()
                self._outbox_waiter = waiter
                await waiter
        finally:
            self._outbox_open = False

    async def _write_batch(self, batch: list[tuple[str, Any]]) -> None:
        backend = self._persistence
        for kind, record in batch:
            try:
                await getattr(backend, _RECORD_METHODS[kind])(record)
            except self._cancelled_exc:
                raise
            except Exception:
                log.warning("persisting a %s record failed", kind, exc_info=True)

    # -- lookup ---------------------------------------------------------------------------------------

    def ref_for(self, address: ActorAddress | str) -> ActorRef:
        """A fresh ref to a running actor of this system (``ActorStopped`` otherwise)."""
        if isinstance(address, str):
            address = ActorAddress.parse(address)
        if not isinstance(address, ActorAddress):
            raise TypeError(f"Expected an ActorAddress or str, not {type(address).__name__}.")
        if address.system != self.system_id:
            raise ActorStopped("Remote actor systems are not supported yet.", reason="shutdown")
        cell = self._by_id.get(address.actor_id)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        if not cell.alive or cell.stopping:
            raise ActorStopped("Actor is not running.", reason="shutdown")
        return self._ref(cell)

    def ref_for_name(self, name: str) -> ActorRef:
        """A fresh ref to the actor registered under ``name`` (no liveness check)."""
        rid = self._names.get(name)
        cell = None if rid is None else self._by_id.get(rid)
        if cell is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        return self._ref(cell)

    def list_names(self) -> dict[str, ActorAddress]:
        return {
            name: ActorAddress(self.system_id, rid) for name, rid in self._names.items()
        }

    def list_actors(self, *, alive_only: bool = False) -> tuple[ActorAddress, ...]:
        return tuple(
            cell.address
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        )

    def refs(self, *, alive_only: bool = True) -> tuple[ActorRef, ...]:
        return tuple(
            self._ref(cell)
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        )

    def refs_by_type(
        self, actor_type: type[Actor] | str, *, alive_only: bool = True
    ) -> tuple[ActorRef, ...]:
        matches = _type_matcher(actor_type)
        return tuple(
            self._ref(cell)
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
        """``tell`` ``message`` to every matching actor in spawn order; returns how many took it."""
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

    # -- introspection ------------------------------------------------------------------------------

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
        )

    def actor_info(self, target: Any) -> ActorInfo:
        """Describe one actor, given a ref, an rid, an ``ActorAddress`` or an address string."""
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
                f"actor_info() expects a ref, an int rid or an address, not {type(target).__name__}."
            )
        cell = self._by_id.get(rid)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        return self._info(cell)

    def control_panel(self, *, alive_only: bool = False) -> tuple[str, ...]:
        """A text table of the actors (spawn order), for logs and terminals."""
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
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows
        )

    def audit(self, *, include_actor_details: bool = True) -> AuditReport:
        """Count actors by state and check the name registry; reported to hooks and persisted."""
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
            total_actors=self._spawned,
            alive_actors=sum(1 for c in cells if c.alive and not c.stopping),
            stopping_actors=sum(1 for c in cells if c.stopping),
            restarting_actors=sum(1 for c in cells if c.restarting),
            registry_size=len(names),
            registry_orphans=tuple(orphans),
            registry_dead=tuple(dead),
            dead_letters_count=len(self.dead_letters.messages),
            actors=tuple(self._info(c) for c in cells) if include_actor_details else (),
        )
        self._call_hook("on_audit", report)
        if self._outbox_open and not self._closed:
            self._persist(
                "audit",
                PersistedAudit(
                    system_id=report.system_id,
                    timestamp=self._time_fn(),
                    total_actors=report.total_actors,
                    alive_actors=report.alive_actors,
                    stopping_actors=report.stopping_actors,
                    restarting_actors=report.restarting_actors,
                    registry_size=report.registry_size,
                    registry_orphans=report.registry_orphans,
                    registry_dead=report.registry_dead,
                    dead_letters_count=report.dead_letters_count,
                ),
            )
        return report

    def events(self) -> tuple[ActorEvent, ...]:
        """The retained lifecycle events (the newest ``max_events``), oldest first."""
        return tuple(self._events)

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
        ever emitted (equal to positions in ``events()`` until the buffer starts discarding).
        Raises ``TimeoutError`` after ``timeout`` seconds (``None``: wait forever). No event
        is ever missed. ``poll_interval`` is accepted for compatibility and unused.
        """
        if isinstance(predicate, type):
            cls = predicate

            def matches(event: ActorEvent) -> bool:
                return isinstance(event, cls)
        else:
            matches = predicate  # type: ignore[assignment]

        async def scan() -> ActorEvent:
            index = max(start_index, 0)
            while True:
                events = self._events
                total = self._events_total
                base = total - len(events)
                for i in range(max(index, base), total):
                    event = events[i - base]
                    if matches(event):
                        return event
                index = total
                waiter = self._dispatch.create_future()
                self._event_waiters.append(waiter)
                await waiter

        if timeout is None:
            return await scan()
        with anyio.fail_after(timeout):
            return await scan()

    async def compact(self) -> Any:
        """Compact the persistence backend; ``None`` if it failed."""
        try:
            return await self._persistence.compact()
        except Exception:
            log.warning("persistence compaction failed", exc_info=True)
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

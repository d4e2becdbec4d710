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
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from papyra import _accel
from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope, Reply
from papyra._facts import Facts
from papyra._lifecycle import Lifecycle
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.clock import SystemClock
from papyra.events import ActorEvent
from papyra.exceptions import ActorStopped
from papyra.hooks import DefaultHooks, SystemHooks
from papyra.ref import ActorRef
from papyra.supervision import SupervisionPolicy

if TYPE_CHECKING:
    import anyio.abc

    from papyra._speedups.dispatch_py import ActorCell as Cell
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

_A = TypeVar("_A", bound=Actor)
_T = TypeVar("_T")

_log = logging.getLogger("papyra")


def _running_asyncio_loop() -> Any:
    """The running asyncio loop when the current anyio backend is asyncio, else None."""
    import asyncio

    return asyncio._get_running_loop()


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
        log_crashes: bool = True,
        _dispatch: ModuleType | None = None,
    ) -> None:
        if not isinstance(system_id, str) or not system_id:
            raise ValueError("system_id must be a non-empty string")
        if retain_terminated < 0:
            raise ValueError("retain_terminated must be >= 0")
        if not isinstance(log_crashes, bool):
            raise TypeError(f"log_crashes must be a bool, not {type(log_crashes).__name__}.")
        if persistence is None:
            from papyra.persistence.backends.memory import InMemoryPersistence

            persistence = InMemoryPersistence()
        dispatch: ModuleType = _accel.dispatch if _dispatch is None else _dispatch
        self.system_id = system_id
        self.dead_letters = DeadLetterMailbox(
            on_dead_letter=on_dead_letter, maxlen=max_dead_letters
        )
        self._hooks: Any = DefaultHooks() if hooks is None else hooks
        self._time_fn: Callable[[], float] = time.time if time_fn is None else time_fn
        self._clock = SystemClock(self._time_fn)
        self._persistence: PersistenceBackend = persistence
        self._persistence_recovery = persistence_recovery
        self._persistence_startup = persistence_startup
        self._started = False
        self._closing = False
        self._tg: anyio.abc.TaskGroup | None = None
        # The body of ``async with``, cancelled when an actor raises a fatal base exception.
        self._owner_scope: anyio.CancelScope | None = None
        self._registrations: dict[str, tuple[Any, int | None, SupervisionPolicy | None]] = {}
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
            log_crashes=log_crashes,
        )
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
            self._lifecycle.closed = True
            raise
        if self._closed or self._started:  # closed or started while we were checking
            if self._closed:
                raise ActorStopped("ActorSystem is closed.", reason="shutdown")
            return
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._started = True
        self._lifecycle.open(tg, _running_asyncio_loop())
        self._facts.open(tg, self._lifecycle.cancelled_exc)
        tg.start_soon(self._facts.run_writer)

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
        """Stop every actor gracefully, wait for them, flush persistence, close the backend.

        Messages enqueued before the call are processed; messages that can never be processed
        become dead letters and their ``ask`` callers get ``ActorStopped``. Idempotent. Must be
        awaited in the task that called ``start()``, and not from inside an actor.

        If an actor raised a base exception that is not an ``Exception`` (``SystemExit``,
        ``KeyboardInterrupt``...), the system was shut down then and there; ``aclose()`` ends
        the shutdown and raises the first such exception (once).
        """
        lifecycle = self._lifecycle
        if self._closing or (self._closed and self._tg is None):
            return
        self._closing = True
        owner = self._owner_scope
        if owner is not None:  # called inside the ``async with`` body: leave that scope first
            self._owner_scope = None
            owner.__exit__(None, None, None)
        lifecycle.close()
        tg = self._tg
        if tg is not None:
            interrupted = True
            try:
                await lifecycle.wait_all_finished()
                interrupted = False
            finally:
                if interrupted:  # shutdown itself was cancelled: cancel the actors too
                    lifecycle.cancel_all()
                    tg.cancel_scope.cancel()
                self._facts.close_writer()
                try:
                    await tg.__aexit__(None, None, None)
                finally:
                    self._tg = None
        self._facts.wake_event_waiters()
        try:
            await self._persistence.aclose()
        except Exception:
            _log.debug("persistence backend failed to close", exc_info=True)
        fatal = lifecycle.fatal_error
        if fatal is not None:
            lifecycle.fatal_error = None
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
        actor_factory: Callable[[], _A] | type[_A],
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
        return self._lifecycle.spawn(
            actor_factory, mailbox_capacity=mailbox_capacity, policy=policy, parent=parent,
            name=name,
        )

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
            raise TypeError(
                "actor_factory must be an Actor class or a callable returning an actor."
            )
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
                return self._lifecycle.ref(cell)
        registration = self._registrations.get(name)
        if registration is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        if rid is not None:
            # The previous instance is still shutting down: its name is released at termination.
            del self._names[name]
        factory, capacity, policy = registration
        return self.spawn(factory, name=name, mailbox_capacity=capacity, policy=policy)

    # -- stopping and watching -----------------------------------------------------------------

    async def stop(self, ref: Any) -> None:
        """Request a graceful stop of ``ref``'s actor and, first, of all its descendants.

        Returns once the requests are made (it does not wait for termination); ``ref`` is not
        alive from then on. A no-op on a closed system, an unknown ref or a stopped actor.
        """
        if self._closed:
            return
        cell = self._lifecycle.cell_of(ref)
        if cell is not None:
            self._lifecycle.stop_tree(cell)

    async def stop_all(self) -> None:
        """Gracefully stop every root actor (and so every actor); the system stays open."""
        self._lifecycle.stop_roots()

    def _watch(self, watcher: Any, target: Any) -> None:
        self._lifecycle.watch(watcher, target)

    def _unwatch(self, watcher: Any, target: Any) -> None:
        self._lifecycle.unwatch(watcher, target)


    # -- lookup ------------------------------------------------------------------------------------

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
        return self._lifecycle.ref(cell)

    def ref_for_name(self, name: str) -> ActorRef:
        """A fresh ref to the actor registered under ``name`` (no liveness check)."""
        rid = self._names.get(name)
        cell = None if rid is None else self._by_id.get(rid)
        if cell is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        return self._lifecycle.ref(cell)

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
            self._lifecycle.ref(cell)
            for cell in self._by_id.values()
            if not alive_only or (cell.alive and not cell.stopping)
        )

    def refs_by_type(
        self, actor_type: type[Actor] | str, *, alive_only: bool = True
    ) -> tuple[ActorRef, ...]:
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
                "actor_info() expects a ref, an int rid or an address, "
                f"not {type(target).__name__}."
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
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
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
            total_actors=self._lifecycle.spawned,
            alive_actors=sum(1 for c in cells if c.alive and not c.stopping),
            stopping_actors=sum(1 for c in cells if c.stopping),
            restarting_actors=sum(1 for c in cells if c.restarting),
            registry_size=len(names),
            registry_orphans=tuple(orphans),
            registry_dead=tuple(dead),
            dead_letters_count=len(self.dead_letters.messages),
            actors=tuple(self._info(c) for c in cells) if include_actor_details else (),
        )
        self._facts.audit(report, persist=not self._closed)
        return report

    def events(self) -> tuple[ActorEvent, ...]:
        """The retained lifecycle events (the newest ``max_events``), oldest first."""
        return tuple(self._facts.events)

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

        next_matching = self._facts.next_matching
        if timeout is None:
            return await next_matching(matches, start_index)
        with anyio.fail_after(timeout):
            return await next_matching(matches, start_index)

    async def compact(self) -> Any:
        """Compact the persistence backend; ``None`` if it failed."""
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

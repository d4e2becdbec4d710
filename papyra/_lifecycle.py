"""The life of every actor: its cell table, start, supervision, stop and termination.

:class:`Lifecycle` is the :class:`~papyra._speedups.dispatch_py.CellHost` of every cell of one
system: the dispatch kernel runs the message loop and calls back here for everything rare.

The state machine of a cell (flags of :class:`~papyra._speedups.dispatch_py.ActorCell`)::

    spawned --start--> running --stop requested--> stopping --queue drained--> terminated
                          |  ^                        ^
                 failure  |  | restarted              | failure decides STOP / budget spent
                          v  |                        |
                       restarting --------------------+

* ``alive`` is True from spawn until termination begins; ``stopping`` is set by a stop request
  (graceful: what is queued is processed first) or an abort (failure-driven: the loop leaves
  after the message in progress) and is never cleared; ``restarting`` only while a new instance
  is being made; ``terminated`` once ``on_stop`` is done and ``ActorStopped`` was emitted.
* ``accepting`` caches "alive, not stopping, system open" for the send fast path: every write
  of those flags (or of :attr:`Lifecycle.closed`) is followed by ``cell.refresh()``.
* Termination runs in the actor's own task, last (:meth:`Lifecycle.finish`): leftovers become
  dead letters and their ``ask`` callers get ``ActorStopped``, children are stopped, watchers
  get ``ActorTerminated`` and the actor leaves the watcher sets of the actors it watched (a
  watch link lives until either side terminates), then ``on_stop`` runs shielded, then
  ``ActorStopped`` is emitted and the record is released once more than
  ``retain_terminated`` terminated records exist.

Everything here runs on the system's event loop and is not thread-safe.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope
from papyra._validate import enum_member, is_coroutine_callable
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.context import ActorContext
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, MailboxClosed
from papyra.hooks import FailureInfo
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision

if TYPE_CHECKING:
    from types import ModuleType

    import anyio.abc

    from papyra._facts import Facts
    from papyra._speedups.dispatch_py import ActorCell as Cell
    from papyra._speedups.dispatch_py import CellHost
    from papyra.system import ActorSystem

__all__ = ("Lifecycle",)

log = logging.getLogger("papyra")

# Payloads of the lifecycle events whose fields are constants (saves dataclass introspection).
_NO_PAYLOAD: dict[str, object] = {}
_STOPPED_PAYLOAD: dict[str, object] = {"reason": "stopped"}
_RESTARTED_PAYLOAD: dict[str, object] = {"reason": "actor restarted"}
_FORCED_REASON = "cancelled: the shutdown grace period ran out"
_FORCED_PAYLOAD: dict[str, object] = {"reason": _FORCED_REASON}

_NAMED_DEFAULT = SupervisionPolicy(strategy=Strategy.RESTART)
_UNNAMED_DEFAULT = SupervisionPolicy(strategy=Strategy.STOP)


def _overrides(actor: Any, hook: str) -> bool:
    """False when ``actor`` keeps the base class's no-op ``on_start`` / ``on_stop``."""
    method = getattr(type(actor), hook, None)
    return method is not None and method is not getattr(Actor, hook)


def _never_alive() -> bool:
    return False


async def _closed_put(env: Envelope) -> None:
    raise MailboxClosed("Mailbox is closed.")


class Lifecycle:
    """The cell table of one system and every transition of its actors (see the module doc).

    ``by_id`` maps rid to cell in spawn order (``ActorSystem._by_id`` is the same dict) and
    ``names`` maps a registered name to its rid while the actor has not terminated.
    """

    def __init__(
        self,
        system: ActorSystem,
        facts: Facts,
        dispatch: ModuleType,
        *,
        retain_terminated: int,
    ) -> None:
        self.system = system
        self.facts = facts
        self.dispatch = dispatch
        self.retain_terminated = retain_terminated
        self.by_id: dict[int, Cell] = {}
        self.names: dict[str, int] = {}
        self.spawned = 0
        self.running = 0  # actor tasks that have not finished
        self._next_rid = 1
        self._terminated: deque[int] = deque()
        # watcher rid -> rids it watches: the reverse of ``cell.watchers``, so that a watcher
        # leaves every watcher set when it terminates. Empty unless some actor watches.
        self._watching: dict[int, set[int]] = {}
        # CellHost state read by the kernel.
        self.closed = False
        self.cancelled_exc: type[BaseException] = BaseException
        # On asyncio, actor tasks are created with the loop directly (anyio's start_soon costs
        # ~25 us per task); they are tracked here so they can be cancelled if shutdown is.
        # On other backends they run in the system's own actor task group.
        self._loop: Any = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._task_ids: dict[int, int] = {}  # rid -> anyio task id (non-asyncio loops)
        self._tasks: dict[int, Any] = {}
        self._all_done: Any = None
        # Shutdown: ``on_stop`` runs shielded, until this deadline (anyio time; inf: none).
        self._stop_deadline = math.inf
        self._stop_scopes: dict[int, anyio.CancelScope] = {}
        self._forced: set[int] = set()  # rids cancelled when the grace period ran out
        self._joiners: dict[int, list[Any]] = {}

    def open(self, tg: anyio.abc.TaskGroup, loop: Any) -> None:
        """Run actor tasks in ``tg`` (or straight on ``loop``, the running asyncio loop).

        Called by the task that owns ``tg``.
        """
        self._tg = tg
        self._loop = loop
        self.cancelled_exc = anyio.get_cancelled_exc_class()

    def is_actor_task(self) -> bool:
        """True when the current task is the task of one of this system's actors."""
        loop = self._loop
        if loop is not None:
            import asyncio

            current = asyncio.current_task()
            return any(task is current for task in self._tasks.values())
        return anyio.get_current_task().id in self._task_ids.values()

    def is_task_of(self, cell: Cell) -> bool:
        """True when the current task is ``cell``'s own task."""
        loop = self._loop
        if loop is not None:
            import asyncio

            task = self._tasks.get(cell.rid)
            return task is not None and task is asyncio.current_task()
        return self._task_ids.get(cell.rid) == anyio.get_current_task().id

    async def _run_tracked(self, cell: Cell) -> None:
        """``cell.main()`` in an actor task group, remembering the task (non-asyncio loops)."""
        rid = cell.rid
        self._task_ids[rid] = anyio.get_current_task().id
        try:
            await cell.main()
        finally:
            del self._task_ids[rid]

    # -- refs and cells ------------------------------------------------------------------------

    def ref(self, cell: Cell) -> ActorRef:
        """A fresh ref to ``cell`` with the allocation-free send path."""
        return ActorRef(
            cell.rid, cell.mailbox.put, cell.is_alive, self.facts.dead_letter, cell.address, cell
        )

    def inert_ref(self, cell: Cell) -> ActorRef:
        """A ref that only dead-letters (handed out after termination, e.g. to watchers)."""
        return ActorRef(cell.rid, _closed_put, _never_alive, self.facts.dead_letter, cell.address)

    def cell_of(self, target: Any) -> Cell | None:
        """The cell behind a ref (anything with an int ``_rid``) of this system, else None."""
        rid = getattr(target, "_rid", None)
        if type(rid) is not int:
            return None
        return self.by_id.get(rid)

    def is_running(self, cell: Cell) -> bool:
        return cell.alive and not cell.stopping

    # -- spawning ------------------------------------------------------------------------------

    def spawn(
        self,
        actor_factory: Callable[[], Any],
        *,
        mailbox_capacity: int | None,
        policy: SupervisionPolicy | None,
        parent: Any | None,
        name: str | None,
    ) -> ActorRef:
        """Make the cell, run the factory, schedule the actor's task (see ``ActorSystem.spawn``)."""
        mailbox = self.dispatch.Mailbox(mailbox_capacity)
        parent_cell = self.cell_of(parent)
        if parent_cell is not None and (not parent_cell.alive or parent_cell.stopping):
            raise ActorStopped(
                f"Cannot spawn a child of {parent_cell.address}: that actor is stopping or "
                "stopped.",
                reason="shutdown",
            )
        if parent is not None and parent_cell is None:
            raise ActorStopped(
                f"Cannot spawn a child of {parent!r}: that actor has stopped (its record was "
                "released).",
                reason="shutdown",
            )
        rid = self._next_rid
        self._next_rid = rid + 1
        actor = actor_factory()
        receive = getattr(actor, "receive", None)
        if not callable(receive):
            raise TypeError(
                f"The actor factory returned {type(actor).__name__!r}, which has no receive()."
            )
        if not is_coroutine_callable(receive):
            raise TypeError(
                f"{type(actor).__qualname__}.receive must be a coroutine function "
                "(async def receive(self, message)); the actor was not started."
            )
        if policy is None:
            policy = _NAMED_DEFAULT if name is not None else _UNNAMED_DEFAULT
        cell: Cell = self.dispatch.ActorCell(
            self, rid, ActorAddress(self.system.system_id, rid), name, actor_factory, mailbox,
            policy, parent_cell,
        )
        cell.actor = actor
        cell.actor_type = type(actor).__qualname__
        self.spawned += 1
        self.by_id[rid] = cell
        if parent_cell is not None:
            if parent_cell.children:
                parent_cell.children.append(rid)
            else:
                parent_cell.children = [rid]
        if name is not None:
            self.names[name] = rid
        ref = self.ref(cell)
        self._inject(cell, actor, ref)
        self.running += 1
        loop = self._loop
        if loop is not None:
            self._tasks[rid] = loop.create_task(cell.main())
        else:
            assert self._tg is not None
            self._tg.start_soon(self._run_tracked, cell)
        return ref

    def _inject(self, cell: Cell, actor: Any, ref: ActorRef) -> None:
        parent = cell.parent
        actor._context = ActorContext(
            system=self.system, self_ref=ref, parent=None if parent is None else self.ref(parent)
        )

    # -- CellHost: start ----------------------------------------------------------------------

    def has_on_start(self, cell: Cell) -> bool:
        return _overrides(cell.actor, "on_start")

    def started(self, cell: Cell) -> None:
        self.facts.emit(
            cell.address,
            ActorStarted(
                address=cell.address.to_dict(), actor_name=cell.name, actor_type=cell.actor_type
            ),
            _NO_PAYLOAD,
        )

    async def first_start(self, cell: Cell) -> bool:
        """Run the first ``on_start``; False if the actor must terminate without messages.

        A failing ``on_start`` is a failure of the actor (``RuntimeError`` caused by the
        original): supervision decides, and a restart runs the new instance's ``on_start``.
        """
        try:
            await cell.actor.on_start()
        except self.cancelled_exc:
            raise
        except BaseException as exc:
            error = RuntimeError("actor.on_start() failed")
            error.__cause__ = exc
            await self.handle_failure(cell, error)
            if cell.abort or not cell.alive:
                return False
        self.started(cell)
        return True

    # -- CellHost: termination ------------------------------------------------------------------

    async def finish(self, cell: Cell) -> None:
        """Terminate ``cell`` (runs in the actor's task, last, even when it is cancelled).

        ``on_stop`` runs shielded from cancellation, but only until the shutdown deadline
        (:meth:`set_stop_deadline`): an ``on_stop`` still running then is cancelled.
        """
        self._terminate_begin(cell)
        try:
            if _overrides(cell.actor, "on_stop"):
                await self._run_on_stop(cell)
        finally:  # also when a cancellation from outside ends on_stop early
            self._terminate_end(cell)
            self._finished(cell)

    async def _run_on_stop(self, cell: Cell) -> None:
        rid = cell.rid
        with anyio.CancelScope(shield=True, deadline=self._stop_deadline) as scope:
            self._stop_scopes[rid] = scope
            try:
                await cell.actor.on_stop()
            except Exception:
                log.debug("on_stop of %s failed", cell.address, exc_info=True)
            finally:
                del self._stop_scopes[rid]
        if scope.cancelled_caught:
            self._forced.add(rid)
            log.warning(
                "on_stop of %s was cancelled: the shutdown grace period ran out", cell.address
            )

    def _finished(self, cell: Cell) -> None:
        """The actor's task is done: wake joiners and, after the last one, ``aclose()``."""
        self._tasks.pop(cell.rid, None)
        joiners = self._joiners.pop(cell.rid, None)
        if joiners:
            for fut in joiners:
                if not fut.done():
                    fut.set_result(None)
        self.running -= 1
        if self.running == 0 and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)

    async def join(self, cell: Cell) -> None:
        """Wait until ``cell`` has terminated: ``on_stop`` done, ``ActorStopped`` emitted."""
        if cell.terminated:
            return
        fut = self.dispatch.create_future()
        self._joiners.setdefault(cell.rid, []).append(fut)
        try:
            await fut
        finally:
            waiting = self._joiners.get(cell.rid)
            if waiting is not None and fut in waiting and not fut.done():
                waiting.remove(fut)

    def _terminate_begin(self, cell: Cell) -> None:
        """The end of an actor, before ``on_stop``: dead-letter leftovers, notify watchers."""
        cell.alive = False
        cell.restarting = False
        cell.refresh()
        mailbox = cell.mailbox
        mailbox.close()
        if cell.name is not None and self.names.get(cell.name) == cell.rid:
            del self.names[cell.name]
        for item in mailbox.drain():
            if type(item) is Envelope:
                message, reply = item.message, item.reply
            else:
                message, reply = item, None
            if message is STOP:
                continue
            self.facts.dead_letter(DeadLetter(self.ref(cell), message, reply is not None))
            if reply is not None and not reply.done():
                reply.set_exception(ActorStopped("Actor stopped before processing the message."))
        self.stop_children(cell)
        if cell.watchers:
            note = ActorTerminated(ref=self.inert_ref(cell))
            watching = self._watching
            for watcher_rid in cell.watchers:
                watched = watching.get(watcher_rid)
                if watched is not None:
                    watched.discard(cell.rid)
                    if not watched:
                        del watching[watcher_rid]
                watcher = self.by_id.get(watcher_rid)
                if watcher is not None and watcher.accepting:
                    watcher.mailbox.force(note)
            cell.watchers = ()
        if self._watching:
            self._leave_watcher_sets(cell)

    def _terminate_end(self, cell: Cell) -> None:
        """The end of an actor, after ``on_stop``: ``ActorStopped``, then release the record."""
        forced = cell.rid in self._forced
        if forced:
            self._forced.discard(cell.rid)
        self.facts.emit(
            cell.address,
            ActorStoppedEvent(
                address=cell.address.to_dict(),
                reason=_FORCED_REASON if forced else "stopped",
                actor_name=cell.name,
                actor_type=cell.actor_type,
            ),
            _FORCED_PAYLOAD if forced else _STOPPED_PAYLOAD,
        )
        cell.terminated = True
        self._release(cell)

    def _release(self, cell: Cell) -> None:
        """Forget the oldest terminated records beyond ``retain_terminated``."""
        terminated = self._terminated
        terminated.append(cell.rid)
        while len(terminated) > self.retain_terminated:
            old = self.by_id.pop(terminated.popleft(), None)
            if old is None:
                continue
            parent = old.parent
            if parent is not None and not parent.terminated and parent.children:
                try:
                    parent.children.remove(old.rid)
                except ValueError:
                    pass
            old.parent = None

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self, cell: Cell) -> None:
        """Graceful: everything already queued is processed, then the actor terminates."""
        if not cell.alive or cell.stopping:
            return
        cell.stopping = True
        cell.refresh()
        cell.mailbox.force(STOP)
        cell.mailbox.close()

    def abort(self, cell: Cell) -> None:
        """Failure-driven: the actor terminates right after the message in progress."""
        if cell.terminated:
            return
        cell.abort = True
        cell.stopping = True
        cell.refresh()
        cell.mailbox.force(STOP)  # wakes a loop waiting on an empty mailbox
        cell.mailbox.close()

    def stop_tree(self, cell: Cell) -> None:
        """Graceful stop of ``cell``'s descendants (depth first), then of ``cell``."""
        self.stop_children(cell)
        self.request_stop(cell)

    def abort_tree(self, cell: Cell) -> None:
        """Immediate stop of ``cell``'s descendants (depth first), then of ``cell``.

        Each actor ends after the message in progress; what is queued becomes dead letters.
        """
        for child_rid in tuple(cell.children):
            child = self.by_id.get(child_rid)
            if child is not None:
                self.abort_tree(child)
        if cell.alive:
            self.abort(cell)

    def stop_children(self, cell: Cell) -> None:
        for child_rid in tuple(cell.children):
            child = self.by_id.get(child_rid)
            if child is not None:
                self.stop_tree(child)

    def stop_roots(self) -> None:
        """Graceful stop of every tree (a failing stop is logged and skipped)."""
        for cell in list(self.by_id.values()):
            if cell.parent is None:
                try:
                    self.stop_tree(cell)
                except Exception:
                    log.debug("stop of %s failed", cell.address, exc_info=True)

    def close(self) -> None:
        """The system is closing: no cell accepts messages any more, every tree is stopping."""
        self.closed = True
        for cell in list(self.by_id.values()):
            cell.refresh()
        for cell in list(self.by_id.values()):
            if cell.parent is None:
                self.stop_tree(cell)

    async def wait_all_finished(self) -> None:
        """Wait until every actor task has finished."""
        if self.running:
            if self._all_done is None or self._all_done.done():
                self._all_done = self.dispatch.create_future()
            await self._all_done

    def set_stop_deadline(self, deadline: float) -> None:
        """From now on ``on_stop`` (running or to come) is cancelled at ``deadline``."""
        self._stop_deadline = deadline
        for scope in self._stop_scopes.values():
            scope.deadline = min(scope.deadline, deadline)

    def cancel_all(self) -> None:
        """Cancel every actor task still running (the shutdown grace period ran out).

        Each one still terminates (dead letters, watchers, ``ActorStopped`` with a reason that
        says it was cancelled), and its ``on_stop`` is cancelled at once.
        """
        if not self.running:
            return
        self.set_stop_deadline(-math.inf)
        for cell in self.by_id.values():
            if not cell.terminated:
                self._forced.add(cell.rid)
        log.warning("cancelling %d actor(s): the shutdown grace period ran out", self.running)
        in_on_stop = self._stop_scopes  # those end at the stop deadline, set just above
        for rid, task in list(self._tasks.items()):
            if rid not in in_on_stop:
                task.cancel()
        if self._loop is None and self._tg is not None:
            self._tg.cancel_scope.cancel()

    # -- CellHost: failures and supervision -----------------------------------------------------

    async def handle_failure(self, cell: Cell, exc: BaseException) -> None:
        """Decide what a failure of ``cell`` leads to, and carry it out (in ``cell``'s task).

        The decision table, in order:

        1. ``cell`` is already stopping: it aborts (nothing else is processed); no hook, no event.
        2. Otherwise the ``on_failure`` hook sees ``FailureInfo(decision=None)`` and
           ``ActorCrashed`` is emitted.
        3. A live parent with ``on_child_failure`` is asked (awaited here; its exceptions and a
           ``None`` or invalid answer mean "no decision"). On a decision, ``on_failure`` is
           called again with it, then: RESTART restarts ``cell`` keeping its children;
           ESCALATE fails the parent with ``exc``, then stops ``cell``'s children and aborts
           ``cell``; STOP and IGNORE stop the children and abort ``cell`` (a failed message is
           never resumed).
        4. Without a decision, ``cell``'s own policy applies after its children were stopped:
           RESTART restarts within the policy's budget; ESCALATE (with a live parent) fails the
           parent, then aborts ``cell``; anything else aborts ``cell``.
        """
        if cell.stopping:
            cell.abort = True  # already on its way out: just do not process anything else
            return
        facts = self.facts
        facts.call_hook("on_failure", FailureInfo(cell.address, exc, cell.policy.strategy, None))
        facts.emit(
            cell.address,
            ActorCrashed(
                address=cell.address.to_dict(), error=exc, reason=f"{type(exc).__name__}: {exc}",
                actor_name=cell.name, actor_type=cell.actor_type,
            ),
        )
        parent = cell.parent
        if parent is not None and parent.terminated:
            parent = None
        if parent is not None:
            decision = await self._ask_parent(parent, cell, exc)
            if decision is not None:
                facts.call_hook(
                    "on_failure", FailureInfo(cell.address, exc, cell.policy.strategy, decision)
                )
                if decision is SupervisorDecision.RESTART:
                    await self._restart(cell)
                elif decision is SupervisorDecision.ESCALATE:
                    await self.handle_failure(parent, exc)
                    self.stop_children(cell)
                    self.abort(cell)
                else:  # STOP, and IGNORE (there is no resuming a failed message)
                    self.stop_children(cell)
                    self.abort(cell)
                return
        strategy = cell.policy.strategy
        self.stop_children(cell)
        if strategy == Strategy.RESTART:
            await self._restart(cell)
        elif strategy == Strategy.ESCALATE and parent is not None:
            await self.handle_failure(parent, exc)
            self.abort(cell)
        else:
            self.abort(cell)

    async def _ask_parent(
        self, parent: Cell, cell: Cell, exc: BaseException
    ) -> SupervisorDecision | None:
        handler = getattr(parent.actor, "on_child_failure", None)
        if handler is None:
            return None
        try:
            decision = await handler(self.ref(cell), exc)
        except self.cancelled_exc:
            raise
        except BaseException:
            log.debug("on_child_failure of %s failed", parent.address, exc_info=True)
            return None
        if decision is None:
            return None
        try:
            return enum_member(SupervisorDecision, decision, "on_child_failure decision")
        except (TypeError, ValueError) as error:
            log.warning("%s The child's own policy applies.", error)
            return None

    async def _restart(self, cell: Cell) -> None:
        """Replace the instance, within the policy's restart budget; else stop for good.

        The old instance's ``on_stop`` runs, then the factory makes a new one, then its
        ``on_start``; ``ActorRestarted`` is emitted once it has started. A failing factory
        aborts the actor; a failing ``on_start`` is a new failure (supervised again).
        """
        policy = cell.policy
        now = self.system.now()
        cell.restarting = True
        cell.restart_times = [t for t in cell.restart_times if now - t <= policy.within_seconds]
        if len(cell.restart_times) >= policy.max_restarts:
            cell.restarting = False
            self.abort(cell)
            return
        if _overrides(cell.actor, "on_stop"):
            try:
                await cell.actor.on_stop()
            except self.cancelled_exc:
                raise
            except BaseException:
                log.debug("on_stop of %s failed during restart", cell.address, exc_info=True)
        cell.restart_times.append(now)
        try:
            actor = cell.factory()
        except Exception:
            log.exception("actor factory of %s failed during restart", cell.address)
            cell.restarting = False
            self.abort(cell)
            return
        cell.actor = actor
        cell.actor_type = type(actor).__qualname__
        self._inject(cell, actor, self.ref(cell))
        try:
            if _overrides(actor, "on_start"):
                await actor.on_start()
        except self.cancelled_exc:
            raise
        except BaseException as exc:
            cell.restarting = False
            error = RuntimeError("actor.on_start() failed")
            error.__cause__ = exc
            await self.handle_failure(cell, error)
            return
        cell.restarting = False
        self.facts.emit(
            cell.address,
            ActorRestarted(
                address=cell.address.to_dict(), reason="actor restarted", actor_name=cell.name,
                actor_type=cell.actor_type,
            ),
            _RESTARTED_PAYLOAD,
        )

    # -- CellHost: proxies ----------------------------------------------------------------------

    async def run_proxy(
        self, cell: Cell, message: ProxyCall | ProxyGetAttr | ProxySetAttr
    ) -> object:
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

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, watcher: Any, target: Any) -> None:
        """``watcher`` gets one ``ActorTerminated`` when ``target`` (a ref of this system) ends.

        Idempotent while ``target`` runs. If ``target`` has already terminated (its record
        may even have been released by ``retain_terminated``), the notification is enqueued at
        once, once per call. A no-op when ``watcher`` is not a running actor of this system or
        ``target`` was never one of its actors.
        """
        watcher_cell = self.cell_of(watcher)
        if watcher_cell is None or not watcher_cell.alive:
            return  # a terminating watcher could never be released from the target's set
        target_cell = self.cell_of(target)
        if target_cell is None:
            address = self._released_address(target)
            if address is not None and watcher_cell.accepting:
                rid: int = target._rid
                note = ActorTerminated(
                    ref=ActorRef(rid, _closed_put, _never_alive, self.facts.dead_letter, address)
                )
                watcher_cell.mailbox.force(note)
            return
        if not target_cell.alive:
            # Termination has begun, so the watchers were already notified: this one now.
            if watcher_cell.accepting:
                watcher_cell.mailbox.force(ActorTerminated(ref=self.inert_ref(target_cell)))
            return
        if target_cell.watchers:
            target_cell.watchers.add(watcher_cell.rid)
        else:
            target_cell.watchers = {watcher_cell.rid}
        watched = self._watching.get(watcher_cell.rid)
        if watched is None:
            self._watching[watcher_cell.rid] = {target_cell.rid}
        else:
            watched.add(target_cell.rid)

    def unwatch(self, watcher: Any, target: Any) -> None:
        watcher_cell = self.cell_of(watcher)
        target_cell = self.cell_of(target)
        if watcher_cell is None or target_cell is None:
            return
        if target_cell.watchers:
            target_cell.watchers.discard(watcher_cell.rid)
            if not target_cell.watchers:
                target_cell.watchers = ()
        watched = self._watching.get(watcher_cell.rid)
        if watched is not None:
            watched.discard(target_cell.rid)
            if not watched:
                del self._watching[watcher_cell.rid]

    def _leave_watcher_sets(self, cell: Cell) -> None:
        """``cell`` terminates: remove it from the watcher set of every actor it watches."""
        watched = self._watching.pop(cell.rid, None)
        if not watched:
            return
        for rid in watched:
            target = self.by_id.get(rid)
            if target is not None and target.watchers:
                target.watchers.discard(cell.rid)
                if not target.watchers:
                    target.watchers = ()

    def _released_address(self, target: Any) -> ActorAddress | None:
        """The address of ``target`` if it is a ref to an actor of this system whose record
        was already released (so it has terminated); else None."""
        rid = getattr(target, "_rid", None)
        address = getattr(target, "_address", None)
        if (
            type(rid) is int
            and 0 < rid < self._next_rid
            and rid not in self.by_id
            and isinstance(address, ActorAddress)
            and address.system == self.system.system_id
            and address.actor_id == rid
        ):
            return address
        return None

if TYPE_CHECKING:

    def _is_a_cell_host(lifecycle: Lifecycle) -> CellHost:
        return lifecycle  # mypy checks that Lifecycle implements every call of the kernel

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

**Who carries out supervision.** Whatever replaces or ends an actor's instance -- its
``on_stop``, the factory, the new instance's ``on_start`` -- runs in that actor's own task,
between two of its messages, never concurrently with its ``receive``. A cell's own failures are
handled where they happen (its task, right after the failing message). A failure that reaches
a cell from elsewhere -- a child escalating -- is only *posted*: :meth:`Lifecycle._escalate`
appends it to ``cell.escalations``, raises ``cell.attention`` and wakes the cell's loop, which
calls :meth:`Lifecycle.attend` before its next message. So a restarted instance's ``on_start``
has ended before its first message, an instance's ``on_stop`` never overlaps its ``receive``,
and two escalations reaching one cell are handled one after the other. An escalation carries
the instance it was addressed to; if that instance was replaced meanwhile (by a restart that
already dealt with the failure), or a graceful stop was requested since (the cell drains its
queue and terminates), the escalation is dropped. Graceful and failure-driven stop
*requests* from other tasks (``request_stop``, ``abort``) only set flags and enqueue ``STOP``;
they never run actor code. The one exception is the parent's ``on_child_failure``, which runs
in the failing child's task (0.3.0 behaviour, kept).

**What is an actor failure.** Every ``Exception`` raised by actor code, and a *stray*
cancellation: a cancellation exception while the actor's task is not being cancelled (on
asyncio, e.g. awaiting a future someone cancelled; detected with ``Task.cancelling()``, or on
Python 3.10 with :class:`_ActorTask`). The task's own cancellation propagates. Any other base
exception (``SystemExit``, ``KeyboardInterrupt``, a custom ``BaseException``) is *fatal*
(:meth:`Lifecycle.fatal`): the system closes, every actor aborts, the body of the system's
``async with`` is interrupted, and ``ActorSystem.aclose()`` re-raises the first such exception.

Failure restarts are a loop, not a recursion (:meth:`Lifecycle.handle_failure`), so a restart
budget of any size ends in the policy's outcome.

Everything here runs on the system's event loop and is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import math
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from papyra import _crash
from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope, Traced, untraced
from papyra._speedups.dispatch_py import CANCELLED, FAILURE, FATAL
from papyra._timers import TimeLine, wait_until_set
from papyra._validate import enum_member, is_coroutine_callable
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.context import ActorContext
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, MailboxClosed
from papyra.hooks import FailureInfo, RestartBudgetExhausted
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
from papyra.metrics import SUPERVISION_DECISIONS, AskStats
from papyra.ref import ActorRef, _via_cell
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.timers import Timers

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

#: Python 3.11+: ``Task.cancelling()`` tells the actor task's own cancellation from a stray one.
_TASK_CANCELLING = sys.version_info >= (3, 11)
#: How anyio's cancel scopes label the cancellations they deliver (and catch themselves).
_ANYIO_SCOPE_MESSAGES = ("Cancelled via cancel scope", "Cancelled by cancel scope")


class _ActorTask(asyncio.Task):  # type: ignore[type-arg]
    """An actor's asyncio task that remembers whether it was asked to cancel (Python < 3.11).

    Before ``Task.cancelling()``, nothing on a task says whether a ``CancelledError`` it sees
    is its own cancellation or one raised by something it awaited. This task records every
    ``cancel()``, except the ones of anyio's cancel scopes: the actor task runs in no anyio
    scope of the system, so those come from scopes opened inside actor code, which catch
    their own cancellation.
    """

    papyra_cancel_requested = False

    def cancel(self, msg: Any = None) -> bool:
        if not (isinstance(msg, str) and msg.startswith(_ANYIO_SCOPE_MESSAGES)):
            self.papyra_cancel_requested = True
        return super().cancel(msg)


def _hands_back(reply: Any) -> bool:
    """True when ``reply`` (a reply slot that is not a future) takes its message back.

    A message that came over the cluster's wire is left unsettled when its member shuts down
    (or loses the shard) before handling it: it is delivered again, so it is no dead letter.
    """
    hand_back = getattr(reply, "hand_back", None)
    return hand_back is not None and bool(hand_back())


def _overrides(actor: Any, hook: str) -> bool:
    """False when ``actor`` keeps the base class's no-op ``on_start`` / ``on_stop``."""
    method = getattr(type(actor), hook, None)
    return method is not None and method is not getattr(Actor, hook)


def _shrink(table: dict[Any, Any], peak: int) -> int:
    """Rebuild ``table`` in place once it holds less than an eighth of ``peak`` entries.

    A dict never gives back the room it grew to: after a million actors have come and gone,
    the tables of ``by_id`` and ``_tasks`` would keep about 40 MB each. Returns the new peak.
    """
    size = len(table)
    if peak < 4096 or size > peak >> 3:
        return peak
    items = list(table.items())
    table.clear()  # frees the table; the update below builds one sized for what is left
    table.update(items)
    return size


def _never_alive() -> bool:
    return False


async def _closed_put(env: Envelope) -> None:
    raise MailboxClosed("Mailbox is closed.")


def log_fields(cell: Cell) -> dict[str, Any]:
    """Structured fields of a log record about ``cell`` (``extra=``): JSON formatters and
    structlog pick them up as ``system_id``, ``actor_address``, ``actor_name``, ``actor_type``
    (and ``message_type`` on a crash while handling a message)."""
    return {
        "system_id": cell.address.system,
        "actor_address": str(cell.address),
        "actor_name": cell.name,
        "actor_type": cell.actor_type,
    }


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
        log_crashes: bool = True,
        timeline: TimeLine,
    ) -> None:
        self.system = system
        #: Where timers and restart backoffs wait: the loop clock, or a ManualClock.
        self.timeline = timeline
        #: rid -> the actor's ``Timers``, made on first use of ``ctx.timers``.
        self.timers: dict[int, Timers] = {}
        #: The system's ``papyra.cluster`` member, when it has a transport (remote watchers).
        self.cluster: Any = None
        self.facts = facts
        self._dead_letter = facts.dead_letter  # one bound method for every ref
        self.dispatch = dispatch
        self.retain_terminated = retain_terminated
        #: Log every crash on the ``papyra`` logger (``ActorSystem(log_crashes=...)``).
        self.log_crashes = log_crashes
        #: The first fatal base exception raised by an actor (re-raised by ``aclose()``).
        self.fatal_error: BaseException | None = None
        self.by_id: dict[int, Cell] = {}
        self.names: dict[str, int] = {}
        self.spawned = 0
        self.running = 0  # actors that have not finished terminating (dormant ones included)
        # Metrics (papyra.metrics), counted on rare paths; the kernel counts cell.processed.
        self.started_total = 0
        self.stopped_total = 0
        self.crashes = 0
        self.restarts = 0
        self.decisions = dict.fromkeys(SUPERVISION_DECISIONS, 0)
        self.processed_released = 0  # cell.processed of the records released
        #: CellHost: read by ``ActorRef.ask`` of every ref to this system's actors.
        self.ask_stats = AskStats()
        #: ``papyra.tracing.Tracing`` when the system traces messages (set by the system;
        #: read by its ``TracedActorRef``s), else None and refs are plain ``ActorRef``s.
        self.tracing: Any = None
        self.ref_class: type[ActorRef] = ActorRef
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
        self._tasks: dict[int, Any] = {}
        # The most entries ``by_id`` / ``_tasks`` held since they were last shrunk (_shrink).
        self._by_id_peak = 0
        self._tasks_peak = 0
        self._all_done: Any = None
        # Actors spawned without a task whose ActorStarted is due, dormant actors whose
        # termination is due: each list is handled by one loop callback (asyncio only).
        self._starting: list[Cell] = []
        self._ending: list[Cell] = []
        # Shutdown: ``on_stop`` runs shielded, until this deadline (anyio time; inf: none).
        self._stop_deadline = math.inf
        self._stop_scopes: dict[int, anyio.CancelScope] = {}
        self._forced: set[int] = set()  # rids cancelled when the grace period ran out
        self._joiners: dict[int, list[Any]] = {}
        self._async_receives: set[Any] = set()  # receive functions known to be async
        # Restart backoff (SupervisionPolicy.backoff_*), only for cells that have restarted
        # with one: rid -> [consecutive restarts, system time the last restart completed]
        # (inf while none has completed since the last failure), and rid -> the event that
        # ends a backoff wait early (set by a stop request or an abort).
        self._backoff: dict[int, list[float]] = {}
        self._backoff_wakers: dict[int, anyio.Event] = {}

    def open(self, tg: anyio.abc.TaskGroup, loop: Any) -> None:
        """Run actor tasks in ``tg`` (or straight on ``loop``, the running asyncio loop).

        Called by the task that owns ``tg``.
        """
        self._tg = tg
        self._loop = loop
        self.cancelled_exc = anyio.get_cancelled_exc_class()

    def is_actor_task(self) -> bool:
        """True when the current task is the task of one of this system's actors (rare: O(n))."""
        current = self.dispatch.current_task()
        return any(cell.task is current for cell in self.by_id.values())

    def is_task_of(self, cell: Cell) -> bool:
        """True when the current task is ``cell``'s own task (recorded by the kernel)."""
        return cell.task is not None and cell.task is self.dispatch.current_task()

    # -- refs and cells ------------------------------------------------------------------------

    def ref(self, cell: Cell) -> ActorRef:
        """A fresh ref to ``cell`` with the allocation-free send path."""
        return self.ref_class(
            cell.rid, _via_cell, _via_cell, self._dead_letter, cell.address, cell
        )

    def inert_ref(self, cell: Cell) -> ActorRef:
        """A ref that only dead-letters (handed out after termination, e.g. to watchers)."""
        return ActorRef(cell.rid, _closed_put, _never_alive, self._dead_letter, cell.address)

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
        priority: Any = None,
        control_first: bool = False,
    ) -> ActorRef:
        """Make the cell, run the factory, schedule the actor's task (see ``ActorSystem.spawn``)."""
        if priority is None and not control_first:
            mailbox = self.dispatch.Mailbox(mailbox_capacity)
        else:
            mailbox = self.dispatch.PriorityMailbox(mailbox_capacity, priority, control_first)
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
        fn = getattr(receive, "__func__", None)  # checked once per receive function
        if fn is None or fn not in self._async_receives:
            if not is_coroutine_callable(receive):
                raise TypeError(
                    f"{type(actor).__qualname__}.receive must be a coroutine function "
                    "(async def receive(self, message)); the actor was not started."
                )
            if fn is not None:
                self._async_receives.add(fn)
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
        if len(self.by_id) > self._by_id_peak:
            self._by_id_peak = len(self.by_id)
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
        # Every task of the actor runs in a copy of the spawner's context, one for its life.
        cell.context = contextvars.copy_context()
        loop = self._loop
        if loop is None or _overrides(actor, "on_start"):
            self._schedule(cell, cell.main)
        else:
            # Nothing to await on start: no task until the actor has work. ``ActorStarted`` is
            # still emitted after spawn() returned, and before anything the actor does: by one
            # loop callback for all the actors spawned until it runs, scheduled at the first
            # of them (so before any task their messages schedule).
            mailbox.set_dormant(cell)
            starting = self._starting
            starting.append(cell)
            if len(starting) == 1:
                loop.call_soon(self._flush_starting)
        return ref

    def _flush_starting(self) -> None:
        """Emit ``ActorStarted`` for the actors spawned without a task (in spawn order)."""
        cells, self._starting = self._starting, []
        for cell in cells:
            self._in_context(cell, self.started)

    def _in_context(self, cell: Cell, step: Callable[[Cell], None]) -> None:
        """Run ``step(cell)`` in the actor's context, as its task would; log what it raises."""
        try:
            cell.context.run(step, cell)
        except Exception:
            log.exception("%s of %s failed", step.__name__, cell.address, extra=log_fields(cell))

    def _schedule(self, cell: Cell, run: Callable[[], Any]) -> None:
        """Start a task running ``run()`` (``cell.main`` or ``cell.resume``) for ``cell``."""
        loop = self._loop
        if loop is not None:
            tasks = self._tasks
            if _TASK_CANCELLING:
                tasks[cell.rid] = loop.create_task(run(), context=cell.context)
            else:  # Python 3.10: the task runs in a copy of the cell's context
                tasks[cell.rid] = cell.context.run(_ActorTask, run(), loop=loop)
            if len(tasks) > self._tasks_peak:
                self._tasks_peak = len(tasks)
        else:
            assert self._tg is not None
            cell.context.run(self._tg.start_soon, run)

    def activate(self, cell: Cell) -> None:
        """CellHost: the dormant ``cell`` has work again; schedule a task to resume it."""
        self._schedule(cell, cell.resume)

    def suspended(self, cell: Cell) -> None:
        """CellHost: ``cell``'s task ends, the cell is dormant."""
        self._tasks.pop(cell.rid, None)
        if self._tasks_peak > 4096:
            self._tasks_peak = _shrink(self._tasks, self._tasks_peak)

    def _inject(self, cell: Cell, actor: Any, ref: ActorRef) -> None:
        parent = cell.parent
        actor._context = ActorContext(
            system=self.system, self_ref=ref, parent=None if parent is None else self.ref(parent)
        )

    # -- CellHost: start ----------------------------------------------------------------------

    def has_on_start(self, cell: Cell) -> bool:
        return _overrides(cell.actor, "on_start")

    def started(self, cell: Cell) -> None:
        self.started_total += 1
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
        except BaseException as exc:
            verdict = self.triage(cell, exc)
            if verdict == CANCELLED:
                raise
            if verdict == FATAL:
                return False
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
        """``on_stop``, shielded until the stop deadline; its base exceptions are triaged."""
        rid = cell.rid
        cancelled: BaseException | None = None
        with anyio.CancelScope(shield=True, deadline=self._stop_deadline) as scope:
            self._stop_scopes[rid] = scope
            try:
                await cell.actor.on_stop()
            except BaseException as exc:
                if scope.cancel_called and isinstance(exc, self.cancelled_exc):
                    raise  # the stop deadline: this scope absorbs it
                verdict = self.triage(cell, exc)
                if verdict == CANCELLED:
                    cancelled = exc  # re-raised once the actor is accounted for
                elif verdict == FAILURE:
                    log.debug(
                        "on_stop of %s failed", cell.address, exc_info=True,
                        extra=log_fields(cell),
                    )
            finally:
                del self._stop_scopes[rid]
        if scope.cancelled_caught:
            self._forced.add(rid)
            log.warning(
                "on_stop of %s was cancelled: the shutdown grace period ran out", cell.address,
                extra=log_fields(cell),
            )
        if cancelled is not None:
            raise cancelled

    def _finished(self, cell: Cell) -> None:
        """The actor's task is done: wake joiners and, after the last one, ``aclose()``."""
        self._tasks.pop(cell.rid, None)
        if self._tasks_peak > 4096:
            self._tasks_peak = _shrink(self._tasks, self._tasks_peak)
        if self._backoff:
            self._backoff.pop(cell.rid, None)
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
        if self.timers:
            self.cancel_timers(cell)
        if self.cluster is not None:
            self.cluster.terminated(cell)
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
            if reply is not None and type(reply) is not Envelope and _hands_back(reply):
                continue  # a cluster delivery left for redelivery, not a dead letter
            self.facts.dead_letter(
                DeadLetter(self.ref(cell), untraced(message), reply is not None)
            )
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
        self.stopped_total += 1
        self._release(cell)

    def _release(self, cell: Cell) -> None:
        """Forget the oldest terminated records beyond ``retain_terminated``."""
        terminated = self._terminated
        terminated.append(cell.rid)
        if self._by_id_peak > 4096:
            self._by_id_peak = _shrink(self.by_id, self._by_id_peak)
        while len(terminated) > self.retain_terminated:
            old = self.by_id.pop(terminated.popleft(), None)
            if old is None:
                continue
            self.processed_released += old.processed
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
        if self.timers:
            self.cancel_timers(cell)
        if self._end_dormant(cell):
            return
        cell.mailbox.force(STOP)
        cell.mailbox.close()
        if self._backoff_wakers:
            self._wake_backoff(cell)

    def abort(self, cell: Cell) -> None:
        """Failure-driven: the actor terminates right after the message in progress."""
        if cell.terminated:
            return
        cell.abort = True
        cell.attention = True
        cell.stopping = True
        cell.refresh()
        if self.timers:
            self.cancel_timers(cell)
        if self._end_dormant(cell):
            return
        cell.mailbox.force(STOP)  # wakes a loop waiting on an empty mailbox
        cell.mailbox.close()
        if self._backoff_wakers:
            self._wake_backoff(cell)

    def _end_dormant(self, cell: Cell) -> bool:
        """Terminate a dormant actor without ``on_stop`` of its own in a loop callback.

        Its mailbox is empty and nothing of it runs, so its termination has nothing to
        await: on asyncio it runs as a callback (after everything already scheduled, like a
        task would) instead of a task of its own. False (nothing done) in any other case.
        """
        loop = self._loop
        mailbox = cell.mailbox
        if loop is None or mailbox._dormant is not cell or _overrides(cell.actor, "on_stop"):
            return False
        mailbox.set_dormant(None)
        mailbox.close()
        ending = self._ending
        ending.append(cell)
        if len(ending) == 1:
            loop.call_soon(self._flush_ending)
        return True

    def _flush_ending(self) -> None:
        """Terminate the dormant actors whose stop was requested (in request order)."""
        cells, self._ending = self._ending, []
        for cell in cells:
            self._in_context(cell, self._terminate_now)

    def _terminate_now(self, cell: Cell) -> None:
        """:meth:`finish` of an actor without a task and without ``on_stop``."""
        self._terminate_begin(cell)
        self._terminate_end(cell)
        self._finished(cell)

    def timers_for(self, cell: Cell) -> Timers:
        """``cell``'s timers (``ctx.timers``), made on first use."""
        timers = self.timers.get(cell.rid)
        if timers is None:
            timers = self.timers[cell.rid] = Timers(self, cell)
        return timers

    def cancel_timers(self, cell: Cell) -> None:
        """Cancel every timer of ``cell`` (a stop was requested, or it restarts)."""
        timers = self.timers.pop(cell.rid, None)
        if timers is not None:
            timers.cancel_all()

    def _wake_backoff(self, cell: Cell) -> None:
        """End the restart backoff ``cell`` is waiting out, if any (see :meth:`_backoff_wait`)."""
        waker = self._backoff_wakers.get(cell.rid)
        if waker is not None:
            waker.set()

    def stop_tree(self, cell: Cell) -> None:
        """Graceful stop of ``cell``'s descendants (depth first), then of ``cell``."""
        for node in self._post_order(cell):
            self.request_stop(node)

    def abort_tree(self, cell: Cell) -> None:
        """Immediate stop of ``cell``'s descendants (depth first), then of ``cell``.

        Each actor ends after the message in progress; what is queued becomes dead letters.
        """
        for node in self._post_order(cell):
            if node.alive:
                self.abort(node)

    def stop_children(self, cell: Cell) -> None:
        for node in self._post_order(cell)[:-1]:  # the last one is ``cell`` itself
            self.request_stop(node)

    def _post_order(self, cell: Cell) -> list[Cell]:
        """``cell``'s subtree, each actor after all of its descendants, children in spawn
        order. Iterative: a supervision tree may be deeper than Python's recursion limit."""
        if not cell.children:
            return [cell]  # most actors: no children
        order: list[Cell] = []
        stack: list[tuple[Cell, bool]] = [(cell, False)]
        by_id = self.by_id
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            stack.append((node, True))
            for child_rid in reversed(tuple(node.children)):
                child = by_id.get(child_rid)
                if child is not None:
                    stack.append((child, False))
        return order

    def stop_roots(self) -> None:
        """Graceful stop of every tree (a failing stop is logged and skipped)."""
        for cell in list(self.by_id.values()):
            if cell.parent is None and not (cell.stopping and not cell.children):
                try:
                    self.stop_tree(cell)
                except Exception:
                    log.debug("stop of %s failed", cell.address, exc_info=True)

    def close(self) -> None:
        """The system is closing: no cell accepts messages any more, every tree is stopping."""
        self.closed = True
        for cell in list(self.by_id.values()):
            cell.refresh()
        self.stop_roots()

    async def wait_all_finished(self) -> None:
        """Wait until every actor has terminated (its last task has finished)."""
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

    # -- what escaped actor code -----------------------------------------------------------------

    def triage(self, cell: Cell, exc: BaseException) -> int:
        """Classify ``exc``, raised by ``cell``'s actor code (see the module doc).

        Returns ``FAILURE`` (an ``Exception``, or a stray cancellation: supervise it),
        ``CANCELLED`` (the task's own cancellation, or its coroutine being closed: let it
        propagate) or ``FATAL`` (any other base exception, already handed to :meth:`fatal`).
        An exception group is judged by its members: fatal if one is, a cancellation if one is
        a real cancellation, else a failure.
        """
        if isinstance(exc, Exception):
            return FAILURE
        verdict = FAILURE
        for leaf in _leaves(exc):
            if isinstance(leaf, Exception):
                continue
            if isinstance(leaf, GeneratorExit):
                verdict = CANCELLED
            elif isinstance(leaf, (self.cancelled_exc, asyncio.CancelledError)):
                if self._cancelled_for_real(leaf):
                    verdict = CANCELLED
            else:
                self.fatal(cell, exc)
                return FATAL
        return verdict

    def _cancelled_for_real(self, exc: BaseException) -> bool:
        """Is the cancellation exception ``exc`` the current task's own cancellation?"""
        if self._loop is None:  # trio: its Cancelled only ever comes from a cancelled scope
            return isinstance(exc, self.cancelled_exc) and not isinstance(
                exc, asyncio.CancelledError
            )
        task = asyncio.current_task()
        if task is None:
            return True
        if _TASK_CANCELLING:
            cancelling: Callable[[], int] = task.cancelling  # type: ignore[attr-defined]
            return cancelling() > 0
        return bool(getattr(task, "papyra_cancel_requested", True))

    def fatal(self, cell: Cell, exc: BaseException) -> None:
        """A base exception escaped ``cell``'s actor: shut the system down, re-raise to its owner.

        The system closes and every actor aborts (leaves after the message in progress; what
        is queued becomes dead letters). The task that owns the system is interrupted (its
        ``async with`` body is cancelled) and ``aclose()`` raises the first such exception
        once the actors have ended. It is not an actor failure: no supervision, no event.
        """
        if self.log_crashes:
            log.error(
                "Actor %s (%s) raised %s: the actor system shuts down",
                cell.address, cell.actor_type or "?", _crash.reason(exc),
                extra=log_fields(cell),
            )
        if self.fatal_error is not None:
            return
        self.fatal_error = exc
        self.closed = True
        cells = list(self.by_id.values())
        for other in cells:
            other.refresh()
        for other in cells:
            self.abort(other)
        self.system._interrupt_owner()

    # -- CellHost: failures and supervision -----------------------------------------------------

    async def handle_failure(
        self,
        cell: Cell,
        exc: BaseException,
        escalated_from: ActorAddress | None = None,
        *,
        message: Any = None,
    ) -> None:
        """Decide what a failure of ``cell`` leads to, and carry it out (in ``cell``'s task).

        The decision table, in order:

        1. ``cell`` is already stopping: it aborts (nothing else is processed); no hook, no event.
        2. Otherwise the ``on_failure`` hook sees ``FailureInfo(decision=None)`` and
           ``ActorCrashed`` is emitted.
        3. A live parent with ``on_child_failure`` is asked (awaited here; its exceptions and a
           ``None`` or invalid answer mean "no decision"). On a decision, ``on_failure`` is
           called again with it, then: RESTART restarts ``cell`` keeping its children;
           ESCALATE stops ``cell``'s children, posts the failure to the parent (which fails
           with ``exc`` in its own task, see the module doc) and aborts ``cell``; STOP and
           IGNORE stop the children and abort ``cell`` (a failed message is never resumed).
        4. Without a decision, ``cell``'s own policy applies after its children were stopped:
           RESTART restarts within the policy's budget; ESCALATE (with a live parent) posts the
           failure to the parent, then aborts ``cell``; anything else aborts ``cell``.

        A restart whose new instance fails in ``on_start`` is a new failure
        (``RuntimeError("actor.on_start() failed")``), handled by the next turn of a loop.
        Every failure is logged once (``log_crashes``): at ERROR with its traceback where it
        happened, at INFO in an ancestor it was escalated to (``escalated_from``). ``message``:
        the message whose handling raised (the kernel passes it), for the log's
        ``message_type`` field.
        """
        failure: BaseException | None = exc
        while failure is not None:
            failure = await self._supervise(cell, failure, escalated_from, message)
            if failure is not None:
                escalated_from = message = None
                await self.dispatch.yield_now()  # a start that keeps failing hogs nothing

    async def _supervise(
        self,
        cell: Cell,
        exc: BaseException,
        escalated_from: ActorAddress | None,
        message: Any = None,
    ) -> BaseException | None:
        """One turn of :meth:`handle_failure`; returns the failure of a restart, if any."""
        if escalated_from is None:
            self.crashes += 1
        decisions = self.decisions
        if cell.stopping:
            decisions["stop"] += 1
            self._log_failure(cell, exc, escalated_from, " while stopping", message)
            cell.abort = True  # already on its way out: just do not process anything else
            cell.attention = True
            return None
        self._log_failure(cell, exc, escalated_from, "", message)
        facts = self.facts
        strategy = cell.policy.strategy
        facts.call_hook("on_failure", FailureInfo(cell.address, exc, strategy, None))
        crash = _crash.describe(exc)
        facts.emit(
            cell.address,
            ActorCrashed(
                address=cell.address.to_dict(),
                error=crash.error,
                reason=crash.reason,
                error_type=crash.type,
                error_message=crash.message,
                error_traceback=crash.traceback,
                actor_name=cell.name,
                actor_type=cell.actor_type,
            ),
            {
                "error": crash.reason,
                "reason": crash.reason,
                "error_type": crash.type,
                "error_message": crash.message,
                "error_traceback": crash.traceback,
            },
        )
        del crash
        parent = cell.parent
        if parent is not None and parent.terminated:
            parent = None
        if parent is not None:
            decision = await self._ask_parent(parent, cell, exc)
            if decision is not None:
                decisions[decision.value] += 1
                facts.call_hook("on_failure", FailureInfo(cell.address, exc, strategy, decision))
                if decision is SupervisorDecision.RESTART:
                    return await self._restart(cell, exc)
                self.stop_children(cell)
                if decision is SupervisorDecision.ESCALATE:
                    self._escalate(parent, cell, exc)
                # STOP and IGNORE (there is no resuming a failed message) end here too.
                self.abort(cell)
                return None
        self.stop_children(cell)
        if strategy == Strategy.RESTART:
            decisions["restart"] += 1
            return await self._restart(cell, exc)
        if strategy == Strategy.ESCALATE and parent is not None:
            decisions["escalate"] += 1
            self._escalate(parent, cell, exc)
        else:
            decisions["stop"] += 1
        self.abort(cell)
        return None

    def _log_failure(
        self,
        cell: Cell,
        exc: BaseException,
        escalated_from: ActorAddress | None,
        when: str,
        message: Any = None,
    ) -> None:
        if not self.log_crashes:
            return
        extra = log_fields(cell)
        if message is not None:
            extra["message_type"] = type(untraced(message)).__name__
        if escalated_from is not None:
            log.info(
                "Actor %s (%s) fails%s with the crash escalated by %s: %s",
                cell.address, cell.actor_type or "?", when, escalated_from, _crash.reason(exc),
                extra=extra,
            )
        else:
            log.error(
                "Actor %s (%s) crashed%s: %s",
                cell.address, cell.actor_type or "?", when, _crash.reason(exc),
                exc_info=exc, extra=extra,
            )

    def _escalate(self, parent: Cell, child: Cell, exc: BaseException) -> None:
        """Fail ``parent`` with its child's ``exc``: posted here, carried out in its own task.

        The parent's loop sees ``attention`` before its next message (it is woken if idle)
        and calls :meth:`attend`. A parent already stopping just aborts (rule 1 of
        :meth:`handle_failure`); a terminated one has nothing left to fail.
        """
        if parent.terminated or not parent.alive:
            return
        if parent.stopping:
            parent.abort = True
            parent.attention = True
            return
        pending = parent.escalations
        if not pending:
            pending = parent.escalations = []
        pending.append((exc, parent.actor, child.address))
        parent.attention = True
        parent.mailbox.wake()

    async def attend(self, cell: Cell) -> bool:
        """``cell``'s loop stopped for ``attention``: False to leave it, True to go on.

        Leaves on an abort. Otherwise handles the escalations posted to the cell, oldest first,
        each as a failure of the cell (:meth:`handle_failure`), except:

        * when the instance it reached has been replaced since: that restart dealt with it;
        * when a graceful stop was requested since it was posted: the actor is going away,
          and still processes what was queued before the request (a parent already stopping
          when the child escalates is aborted instead, by rule 1 of :meth:`handle_failure`).
        """
        while not cell.abort:
            pending = cell.escalations
            if not pending:
                cell.attention = False
                return True
            cell.escalations = ()
            for exc, instance, child_address in pending:
                if cell.abort:
                    break
                if cell.actor is not instance or cell.stopping:
                    log.debug(
                        "the crash escalated by %s to %s is dropped: %s",
                        child_address, cell.address,
                        "it is stopping" if cell.stopping else "its instance was replaced",
                    )
                    continue
                await self.handle_failure(cell, exc, child_address)
            del pending
        return False

    async def _ask_parent(
        self, parent: Cell, cell: Cell, exc: BaseException
    ) -> SupervisorDecision | None:
        handler = getattr(parent.actor, "on_child_failure", None)
        if handler is None:
            return None
        try:
            decision = await handler(self.ref(cell), exc)
        except BaseException as error:
            verdict = self.triage(parent, error)
            if verdict == CANCELLED:
                raise
            if verdict == FAILURE:
                log.debug("on_child_failure of %s failed", parent.address, exc_info=True)
            return None
        if decision is None:
            return None
        try:
            return enum_member(SupervisorDecision, decision, "on_child_failure decision")
        except (TypeError, ValueError) as error:
            log.warning("%s The child's own policy applies.", error)
            return None

    async def _restart(self, cell: Cell, exc: BaseException) -> BaseException | None:
        """Replace the instance, within the policy's restart budget; else stop for good.

        With the budget spent, the ``on_restart_budget_exhausted`` hook sees a
        :class:`~papyra.hooks.RestartBudgetExhausted` (when ``max_restarts > 0``) and the actor
        aborts. Otherwise the restart backoff of the policy is waited out (:meth:`_backoff_wait`),
        the old instance's ``on_stop`` runs, then the factory makes a new one, then its
        ``on_start``; ``ActorRestarted`` is emitted once it has started. A failing factory
        aborts the actor. A failing ``on_start`` is returned, as the next failure to supervise.
        """
        if cell.abort:  # on its way out already (e.g. the system is going down)
            return None
        if self.timers:
            self.cancel_timers(cell)  # timers belong to the failed instance
        policy = cell.policy
        now = self.system.now()
        cell.restarting = True
        times = cell.restart_times
        if not times:
            times = cell.restart_times = deque()
        within = policy.within_seconds
        while times and now - times[0] > within:  # oldest first: drop what left the window
            times.popleft()
        if len(times) >= policy.max_restarts:
            cell.restarting = False
            if policy.max_restarts > 0:
                self.facts.call_hook(
                    "on_restart_budget_exhausted",
                    RestartBudgetExhausted(
                        cell.address, exc, policy.max_restarts, policy.within_seconds
                    ),
                )
            self.abort(cell)
            return None
        if policy.backoff_min > 0:
            await self._backoff_wait(cell, policy, now)
            if cell.abort:  # aborted during the backoff: the old instance ends as it is
                cell.restarting = False
                return None
        if _overrides(cell.actor, "on_stop"):
            try:
                await cell.actor.on_stop()
            except BaseException as exc:
                verdict = self.triage(cell, exc)
                if verdict == CANCELLED:
                    raise
                if verdict == FATAL:
                    cell.restarting = False
                    return None
                log.debug(
                    "on_stop of %s failed during restart", cell.address, exc_info=True,
                    extra=log_fields(cell),
                )
        times.append(now)
        try:
            actor = cell.factory()
        except BaseException as exc:
            verdict = self.triage(cell, exc)
            if verdict == CANCELLED:
                raise
            if verdict == FAILURE and self.log_crashes:
                log.error(
                    "the actor factory of %s failed during a restart", cell.address,
                    exc_info=exc, extra=log_fields(cell),
                )
            cell.restarting = False
            self.abort(cell)
            return None
        cell.actor = actor
        cell.actor_type = type(actor).__qualname__
        self._inject(cell, actor, self.ref(cell))
        try:
            if _overrides(actor, "on_start"):
                await actor.on_start()
        except BaseException as exc:
            cell.restarting = False
            verdict = self.triage(cell, exc)
            if verdict == CANCELLED:
                raise
            if verdict == FATAL:
                return None
            error = RuntimeError("actor.on_start() failed")
            error.__cause__ = exc
            return error
        cell.restarting = False
        self.restarts += 1
        state = self._backoff.get(cell.rid)
        if state is not None:
            state[1] = self.system.now()  # healthy from now on
        self.facts.emit(
            cell.address,
            ActorRestarted(
                address=cell.address.to_dict(), reason="actor restarted", actor_name=cell.name,
                actor_type=cell.actor_type,
            ),
            _RESTARTED_PAYLOAD,
        )
        return None

    async def _backoff_wait(self, cell: Cell, policy: SupervisionPolicy, now: float) -> None:
        """Wait out the backoff before ``cell``'s next restart, in its own task.

        The consecutive-restart count starts over when the last restarted instance ran
        ``policy.reset_after`` seconds of the system clock (``now``) without failing. The
        wait itself is on the system's time line (the event loop's clock, or the manual clock
        of a test), and a stop request or an abort ends it at once; the mailbox keeps what
        arrives meanwhile.
        """
        state = self._backoff.get(cell.rid)
        if state is None:
            state = self._backoff[cell.rid] = [0, math.inf]
        elif now - state[1] >= policy.reset_after:
            state[0] = 0
        state[0] += 1
        state[1] = math.inf  # not healthy until a restart completes
        if cell.stopping:  # a stop was requested already: restart (and drain) without delay
            return
        delay = policy.backoff_delay(int(state[0]))
        if not delay > 0:
            return
        waker = anyio.Event()
        self._backoff_wakers[cell.rid] = waker
        try:
            await wait_until_set(self.timeline, waker, delay)
        finally:
            self._backoff_wakers.pop(cell.rid, None)

    # -- CellHost: proxies ----------------------------------------------------------------------

    async def run_proxy(
        self, cell: Cell, message: ProxyCall | ProxyGetAttr | ProxySetAttr | Traced
    ) -> object:
        """Execute a proxy message on the current instance (inside the actor's loop).

        A ``Traced`` message (tracing is on) is handled by ``receive`` inside its span.
        """
        if isinstance(message, Traced):
            return await self.tracing.process(cell, message)
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
                    ref=ActorRef(rid, _closed_put, _never_alive, self._dead_letter, address)
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

def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc`` if it is an exception group (recursively), else ``[exc]``."""
    members = _crash.group_members(exc)
    if members is None:
        return [exc]
    leaves: list[BaseException] = []
    for member in members:
        leaves.extend(_leaves(member))
    return leaves


if TYPE_CHECKING:

    def _is_a_cell_host(lifecycle: Lifecycle) -> CellHost:
        return lifecycle  # mypy checks that Lifecycle implements every call of the kernel

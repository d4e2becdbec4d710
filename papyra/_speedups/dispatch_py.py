"""Mailbox dispatch: the per-message hot path of the actor runtime (pure-Python reference).

This module is the readable specification of message delivery. ``setup.py`` compiles this very
file a second time, unchanged, as ``dispatch_c`` with the C types of ``dispatch_c.pxd``;
:mod:`papyra._accel` picks one of the two at import. Callers never notice which.

Design (numbers are what the layout saves per message, measured on CPython 3.11):

* A :class:`Mailbox` is a ``collections.deque`` plus two queues of parked waiters (consumers
  waiting for an item, producers waiting for room). Nothing is allocated per message: a ``tell``
  appends the bare message, an ``ask`` appends an :class:`~papyra._envelope.Envelope` carrying its
  reply future. A waiter (one future) is created only when a side actually has to block.
* Waiters are asyncio futures when the running backend is asyncio (about 3x cheaper to create
  and complete than ``anyio.Event``), and a tiny event-based future (:class:`AnyioFuture`) on any
  other anyio backend (trio). :func:`create_future` is the one seam that picks.
* :meth:`ActorCell.run` drains queued messages back to back without a scheduler round trip per
  message; it yields to the event loop only when the mailbox is empty or every
  :data:`BATCH` messages, so one busy actor cannot starve the others.
* Everything rare (starting, failures and supervision, proxies, termination) is delegated to
  the cell's *host*, in plain Python: only the loop and the queue are hot. :class:`CellHost`
  declares every call the kernel makes back into the runtime, and nothing else; the runtime's
  implementation is :class:`papyra._lifecycle.Lifecycle`.
* An actor holds a task only while it has work (:meth:`ActorCell.run`): when its mailbox
  stays empty for one scheduler pass, the loop makes the cell *dormant*
  (:meth:`Mailbox.set_dormant`) and the task ends. The next item, stop request or posted
  escalation makes the host schedule a new task (``CellHost.activate``) that resumes the
  loop. An idle actor is then its cell, mailbox, instance and ref: no task, coroutine,
  future or queue.
* The loop checks one flag per message, :attr:`ActorCell.attention`: the host raises it when
  the loop must leave (an abort) or when work was posted to the cell from another task (a
  child's escalation), which the host then carries out in this task, between two messages.
* :class:`Mailbox` and :class:`ActorCell` have ``__slots__`` here and are cdef classes in the
  compiled twin, so both twins reject an attribute that is not declared.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from papyra._envelope import STOP, Envelope, Traced, bare_yield
from papyra.exceptions import ActorStopped, AskDeadlock, MailboxClosed
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

if TYPE_CHECKING:
    from typing import Protocol

    from papyra.address import ActorAddress
    from papyra.metrics import AskStats
    from papyra.supervision import SupervisionPolicy

    class CellHost(Protocol):
        """What the kernel calls back into: the runtime behind every :class:`ActorCell`.

        The kernel calls nothing else on its host. Calls happen in the actor's own task:
        ``has_on_start`` then ``started`` or ``first_start`` once, at the beginning;
        ``run_proxy`` for each proxy message; ``triage`` when handling a message raised
        something that is not an ``Exception``, ``handle_failure`` when it is an actor
        failure; ``attend`` when the cell's ``attention`` flag is up between two messages;
        ``finish`` exactly once, last, even when the task is cancelled.
        """

        #: The system's ask counters and latency histogram. Read by ``ActorRef.ask``, never
        #: by the kernel (which counts only ``ActorCell.processed``).
        ask_stats: AskStats
        #: ``papyra.tracing.Tracing`` when the system traces messages, else None. Read by
        #: ``TracedActorRef``; the kernel only routes ``Traced`` messages to ``run_proxy``.
        tracing: Any

        @property
        def closed(self) -> bool:
            """True once the system is closing: no cell accepts messages any more."""

        def has_on_start(self, cell: ActorCell) -> bool:
            """True when the actor defines its own ``on_start`` (then ``first_start`` runs it)."""

        def started(self, cell: ActorCell) -> None:
            """Record that an actor without ``on_start`` has started (no await needed)."""

        async def first_start(self, cell: ActorCell) -> bool:
            """Run the first ``on_start``; False when the actor must end without messages."""

        async def run_proxy(
            self, cell: ActorCell, message: ProxyCall | ProxyGetAttr | ProxySetAttr | Traced
        ) -> object:
            """Execute a proxy message on the current instance; its value is the reply."""

        def triage(self, cell: ActorCell, exc: BaseException) -> int:
            """Classify ``exc``, raised by actor code but not an ``Exception``.

            :data:`FAILURE`: an actor failure all the same (a stray cancellation), supervise
            it; :data:`CANCELLED`: the task itself is being cancelled, propagate it;
            :data:`FATAL` (``SystemExit``, ``KeyboardInterrupt``...): the host has begun
            shutting the system down, which re-raises ``exc`` to its owner; the loop ends.
            """

        async def handle_failure(
            self, cell: ActorCell, exc: BaseException, *, message: Any = None
        ) -> None:
            """Supervise a failure of ``cell`` (restart, stop or escalate) before the reply."""

        async def attend(self, cell: ActorCell) -> bool:
            """``cell.attention`` is up: carry out what was posted to the cell; False: leave."""

        async def finish(self, cell: ActorCell) -> None:
            """Terminate ``cell``: dead-letter leftovers, ``on_stop``, events, release."""

        def activate(self, cell: ActorCell) -> None:
            """Schedule a task running ``cell.resume()``: the dormant cell has work again.

            Called by the cell's mailbox, in the task of whoever gave it work (a send, a stop
            request, a posted escalation), never while the cell has a task.
            """

        def suspended(self, cell: ActorCell) -> None:
            """``cell``'s task is ending without terminating it: the cell is dormant."""


__all__ = (
    "BATCH",
    "CANCELLED",
    "EMPTY",
    "FAILURE",
    "FATAL",
    "MAX_CAPACITY",
    "ActorCell",
    "AnyioFuture",
    "Mailbox",
    "PriorityMailbox",
    "check_capacity",
    "check_priority",
    "create_future",
    "current_task",
    "yield_now",
)

#: Messages an actor handles back to back before it lets other tasks run.
BATCH = 128

#: The largest mailbox capacity, in both twins (the compiled one stores it as a Py_ssize_t).
MAX_CAPACITY = sys.maxsize

#: Verdicts of :meth:`CellHost.triage` on a base exception raised by actor code.
FAILURE = 0  # an actor failure: supervised like any exception
CANCELLED = 1  # the actor's task is cancelled: propagate
FATAL = 2  # SystemExit, KeyboardInterrupt...: the system shuts down and re-raises it

_get_running_loop = asyncio._get_running_loop  # returns None instead of raising: no try/except
_bare_yield = bare_yield
_asyncio_current_task = asyncio.current_task
_trio_current_task: Any = None  # trio.lowlevel.current_task, imported on first use
#: Handed to ``host.run_proxy`` instead of ``actor.receive`` (Traced: tracing is on). Tested
#: by identity, one at a time: ``type(m) in (...)`` would compare the types with ``==``.
_PROXY_CALL = ProxyCall
_PROXY_GET = ProxyGetAttr
_PROXY_SET = ProxySetAttr
_TRACED = Traced


class _Empty:
    def __repr__(self) -> str:
        return "<empty mailbox>"


#: Returned by :meth:`Mailbox.poll` when there is nothing to take.
EMPTY = _Empty()

#: The queue of a mailbox whose consumer is dormant (:meth:`Mailbox.set_dormant`): an empty
#: ``deque`` costs 624 bytes, an actor waiting for its next message keeps none.
_NO_ITEMS: Any = ()


class AnyioFuture:
    """A one-shot future for anyio backends other than asyncio, built on ``anyio.Event``.

    It offers the subset of the ``asyncio.Future`` interface the runtime uses (``done``,
    ``cancelled``, ``cancel``, ``set_result``, ``set_exception``, ``result``, ``await``), so the
    rest of the code handles both kinds alike. Completing a done future is a no-op.
    """

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._state = 0  # 0 pending, 1 result, 2 exception, 3 cancelled
        self._value: Any = None

    def done(self) -> bool:
        return self._state != 0

    def cancelled(self) -> bool:
        return self._state == 3

    def cancel(self) -> bool:
        if self._state != 0:
            return False
        self._state = 3
        self._event.set()
        return True

    def set_result(self, value: Any) -> None:
        if self._state == 0:
            self._state = 1
            self._value = value
            self._event.set()

    def set_exception(self, exc: BaseException) -> None:
        if self._state == 0:
            self._state = 2
            self._value = exc
            self._event.set()

    def result(self) -> Any:
        if self._state == 1:
            return self._value
        if self._state == 2:
            raise self._value
        if self._state == 3:
            raise anyio.get_cancelled_exc_class()()
        raise RuntimeError("Result is not ready.")

    async def wait(self) -> Any:
        await self._event.wait()
        return self.result()

    def __await__(self) -> Any:
        return self.wait().__await__()


def create_future() -> Any:
    """A fresh one-shot future for the running event loop (asyncio's own when possible)."""
    loop = _get_running_loop()
    if loop is not None:
        return loop.create_future()
    return AnyioFuture()


def current_task() -> Any:
    """The task running the caller: an ``asyncio.Task``, or a trio ``Task`` on trio."""
    global _trio_current_task
    loop = _get_running_loop()
    if loop is not None:
        return _asyncio_current_task(loop)
    if _trio_current_task is None:
        from trio.lowlevel import current_task as trio_current_task

        _trio_current_task = trio_current_task
    return _trio_current_task()


def check_capacity(capacity: Any) -> None:
    """Refuse a mailbox capacity other than ``None`` or an int in ``0..MAX_CAPACITY``.

    The same rule and message in both twins: ``TypeError`` for anything but an int (``bool``
    included), ``ValueError`` for an int out of range.
    """
    if capacity is None:
        return
    if type(capacity) is not int:
        raise TypeError(
            f"mailbox_capacity must be None or an int from 0 to {MAX_CAPACITY}, "
            f"not {capacity!r}."
        )
    if capacity < 0 or capacity > MAX_CAPACITY:
        raise ValueError(
            f"mailbox_capacity must be None or an int from 0 to {MAX_CAPACITY}, "
            f"not {capacity!r}."
        )


async def yield_now() -> None:
    """Let other tasks run (a checkpoint), as cheaply as the running backend allows."""
    if _get_running_loop() is not None:
        await _bare_yield()
    else:
        await anyio.lowlevel.checkpoint()


def _wake_first(waiters: Any, value: Any) -> bool:
    """Complete the first waiter that is still pending; False if there was none."""
    while waiters:
        fut = waiters.popleft()
        if not fut.done():
            fut.set_result(value)
            return True
    return False


class Mailbox:
    """A FIFO of messages with an optional capacity, for one consumer task (the actor loop).

    ``capacity`` is the number of buffered items: ``None`` means unbounded; ``0`` is a
    rendezvous (a put completes only once the consumer is waiting for it). ``put`` waits while
    the mailbox is full, first come first served: when the consumer frees a slot it moves the
    first waiting producer's item into the queue itself, so no later producer can overtake.
    ``get`` waits while the mailbox is empty. Closing the send side (:meth:`close`) fails
    waiting and future puts with :class:`~papyra.MailboxClosed`; items already queued can still
    be taken, then ``get`` raises ``anyio.EndOfStream``.
    """

    __slots__ = (
        "_closed", "_dormant", "_getters", "_items", "_limit", "_putters", "_receive_closed",
        "capacity",
    )

    def __init__(self, capacity: int | None = 1024) -> None:
        check_capacity(capacity)
        self.capacity = capacity
        self._limit = -1 if capacity is None else capacity
        self._items: deque[Any] = deque()
        # Parked consumers / (future, item) of producers waiting for room; created on first use.
        self._getters: deque[Any] | None = None
        self._putters: deque[Any] | None = None
        self._closed = False
        self._receive_closed = False
        #: The consumer while it is dormant (see :meth:`set_dormant`), else None.
        self._dormant: Any = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Mailbox capacity={self.capacity} queued={len(self._items)} {state}>"

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once the send side is closed."""
        return self._closed

    def _has_room(self) -> bool:
        limit = self._limit
        return limit < 0 or len(self._items) < limit

    def _admit_waiting(self) -> None:
        """Move waiting producers' items into the free slots, oldest producer first."""
        putters = self._putters
        while putters and self._has_room():
            fut, item = putters.popleft()
            if not fut.done():
                self._items.append(item)
                fut.set_result(None)

    def set_dormant(self, consumer: Any) -> None:
        """The consumer (an empty mailbox's actor cell) leaves without waiting on the mailbox.

        Until something happens to the mailbox, nothing waits on it and it keeps no queue.
        The next item, :meth:`wake` or :meth:`close` calls ``consumer.host.activate(consumer)``
        once (in the caller's task, before the item is queued), which schedules the consumer
        again. Only for an empty mailbox nobody waits on.
        """
        self._items = _NO_ITEMS
        self._dormant = consumer

    def _rouse(self) -> None:
        """Give the dormant consumer its queue back and have its host schedule it."""
        consumer = self._dormant
        self._dormant = None
        self._items = deque()
        consumer.host.activate(consumer)

    # -- producers -----------------------------------------------------------------------

    def offer(self, item: Any) -> bool:
        """Enqueue ``item`` if there is room right now; False if the mailbox is full.

        Producers already waiting for room keep their turn: ``offer`` never overtakes them.
        Raises :class:`MailboxClosed` when the send side is closed.
        """
        if self._closed:
            raise MailboxClosed("Mailbox is closed.")
        if self._putters or not self._has_room():
            if self._limit == 0 and self._getters and not self._items and not self._putters:
                self._items.append(item)  # rendezvous with the waiting consumer
                _wake_first(self._getters, None)
                return True
            return False
        if self._dormant is not None:
            self._rouse()
        self._items.append(item)
        if self._getters:
            _wake_first(self._getters, None)
        return True

    def put_nowait(self, env: Any) -> None:
        """Enqueue without waiting: ``anyio.WouldBlock`` if full, ``MailboxClosed`` if closed."""
        if not self.offer(env):
            raise anyio.WouldBlock

    async def put(self, env: Any) -> None:
        """Enqueue ``env``, waiting (in FIFO order with other producers) while the mailbox is full.

        Raises :class:`MailboxClosed` if the send side is or becomes closed before the item was
        enqueued. If the wait is cancelled the item is not enqueued, unless the cancellation
        arrived just as the consumer had already moved it in (then it will be processed).
        """
        if not self.offer(env):
            await self._wait_for_room(env)

    def _putters_for(self, item: Any) -> deque[Any]:
        """The queue of producers ``item`` waits in for room (made on first use)."""
        if self._putters is None:
            self._putters = deque()
        putters: deque[Any] = self._putters
        return putters

    async def _wait_for_room(self, item: Any) -> None:
        putters = self._putters_for(item)
        fut = create_future()
        putters.append((fut, item))
        if self._limit == 0:  # rendezvous: let the consumer take it
            if self._getters:
                _wake_first(self._getters, None)
            elif self._dormant is not None:
                self._rouse()
        try:
            await fut
        except BaseException:
            if not fut.done() or fut.cancelled():
                fut.cancel()
                for i, (waiting, _) in enumerate(putters):
                    if waiting is fut:
                        del putters[i]
                        break
            raise

    def wake(self) -> None:
        """Wake a consumer parked on the empty mailbox (or dormant) without handing it anything."""
        if self._getters:
            _wake_first(self._getters, None)
        elif self._dormant is not None:
            self._rouse()

    def force(self, item: Any, control: bool = True) -> bool:
        """Enqueue ``item`` ignoring capacity (system messages: stop requests, notifications;
        ``control=False``: a message of the actor's own, such as a timer's, in its own lane
        where lanes differ).

        Returns False, enqueuing nothing, when the send side is closed.
        """
        if self._closed:
            return False
        if self._dormant is not None:
            self._rouse()
        self._items.append(item)
        if self._getters:
            _wake_first(self._getters, None)
        return True

    # -- the consumer --------------------------------------------------------------------

    def poll(self) -> Any:
        """Take the next item without waiting, or return :data:`EMPTY`."""
        items = self._items
        if items:
            item = items.popleft()
            if self._putters:
                self._admit_waiting()
            return item
        if self._limit == 0 and self._putters:
            fut, item = self._putters.popleft()  # rendezvous: take it straight from the producer
            if not fut.done():
                fut.set_result(None)
                return item
            return self.poll()
        return EMPTY

    async def wait(self) -> None:
        """Wait until an item is queued or the send side is closed."""
        if self._items or self._closed or (self._limit == 0 and self._putters):
            return
        fut = create_future()
        if self._getters is None:
            self._getters = deque()
        self._getters.append(fut)
        try:
            await fut
        except BaseException:
            fut.cancel()
            raise

    async def get(self) -> Envelope:
        """Take the next item as an :class:`Envelope`, waiting while the mailbox is empty.

        Raises ``anyio.EndOfStream`` once the send side is closed and everything was taken,
        ``anyio.ClosedResourceError`` after ``aclose(receive=True)``.
        """
        while True:
            if self._receive_closed:
                raise anyio.ClosedResourceError
            item = self.poll()
            if item is not EMPTY:
                return item if type(item) is Envelope else Envelope(item)
            if self._closed:
                raise anyio.EndOfStream
            await self.wait()

    def get_nowait(self) -> Envelope:
        """Take the next item without waiting (``anyio.WouldBlock`` / ``anyio.EndOfStream``)."""
        if self._receive_closed:
            raise anyio.ClosedResourceError
        item = self.poll()
        if item is EMPTY:
            raise anyio.EndOfStream if self._closed else anyio.WouldBlock
        return item if type(item) is Envelope else Envelope(item)

    def drain(self) -> list[Any]:
        """Remove and return every queued item (oldest first)."""
        items = list(self._items)
        if items:
            self._items.clear()
        return items

    def discard(self, item: Any) -> bool:
        """Take ``item`` (that very object) back out of the queue; False if it is not there.

        O(n): for rare retractions (a cancelled timer's queued message), never on a hot path.
        """
        items = self._items
        for i, queued in enumerate(items):
            if queued is item:
                del items[i]
                return True
        return False

    def close(self) -> None:
        """Close the send side (idempotent): waiting producers fail, the consumer wakes up."""
        if self._closed:
            return
        self._closed = True
        while _wake_first(self._getters, None):
            pass
        if self._dormant is not None:
            self._rouse()
        putters = self._putters
        while putters:
            fut, _ = putters.popleft()
            if not fut.done():
                fut.set_exception(MailboxClosed("Mailbox is closed."))

    async def aclose(self, *, receive: bool = False) -> None:
        """Close the send side; with ``receive=True`` also the receive side (idempotent)."""
        self.close()
        if receive:
            self._receive_closed = True


def check_priority(priority: Any, control_first: Any) -> Any:
    """Validate the priority options of a mailbox; return ``priority`` normalised.

    ``priority`` is ``None``, a class or an iterable of classes (returned as a tuple for
    ``isinstance``), or any other callable (a predicate ``message -> bool``, returned as is).
    A ``str``, a non-class element or anything else raises ``TypeError``, and so does a
    ``control_first`` that is not a bool. The same rule and messages in both twins.
    """
    if type(control_first) is not bool:
        raise TypeError(f"control_first must be a bool, not {control_first!r}.")
    if priority is None:
        return None
    if isinstance(priority, type):
        return (priority,)  # one class: a set of one type, not a predicate that builds one
    if callable(priority):
        return priority
    if isinstance(priority, (str, bytes)):
        raise TypeError(
            f"priority must be None, a predicate or an iterable of classes, not {priority!r}."
        )
    try:
        types = tuple(priority)
    except TypeError:
        raise TypeError(
            f"priority must be None, a predicate or an iterable of classes, not {priority!r}."
        ) from None
    for kind in types:
        if not isinstance(kind, type):
            raise TypeError(f"priority types must be classes; {kind!r} is not a class.")
    return types


def _message_of(item: Any) -> Any:
    """The message an item of the mailbox carries (unwrapping an ask's Envelope and Traced)."""
    message = item.message if type(item) is Envelope else item
    return message.message if type(message) is Traced else message


class PriorityMailbox(Mailbox):
    """A :class:`Mailbox` with a second, urgent lane polled before the ordinary one.

    A message is urgent when it is an instance of one of the ``priority`` classes, or when
    the ``priority`` predicate returns a true value for it; the classification happens when
    it is sent, in the sender's task (an exception of the predicate propagates to the sender,
    and nothing is enqueued). ``STOP`` and what the runtime forces in (:meth:`force`: stop
    requests, ``ActorTerminated`` notices) are never shown to the classifier: they are urgent
    exactly when ``control_first`` is true. Each lane is FIFO. ``capacity`` counts both
    lanes; when room appears, producers waiting with an urgent item are admitted before
    those waiting with an ordinary one (each lane first come, first served).
    """

    __slots__ = (
        "_control_first", "_predicate", "_priority", "_refused", "_refused_urgent", "_types",
        "_urgent", "_urgent_putters",
    )

    def __init__(
        self, capacity: int | None = 1024, priority: Any = None, control_first: bool = False
    ) -> None:
        Mailbox.__init__(self, capacity)
        normal = check_priority(priority, control_first)
        self._priority = normal
        self._control_first = control_first
        self._types = normal if type(normal) is tuple else None
        self._predicate = normal if normal is not None and type(normal) is not tuple else None
        self._urgent: deque[Any] = deque()
        self._urgent_putters: deque[Any] | None = None
        # The verdict on the message of the last refused offer: the slow path of the same
        # send (put, then _wait_for_room, with no suspension in between) reuses it, so the
        # predicate runs once per send. Consumed by the next classification, whatever it is.
        self._refused: Any = EMPTY
        self._refused_urgent = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<PriorityMailbox capacity={self.capacity} urgent={len(self._urgent)} "
            f"queued={len(self._items)} {state}>"
        )

    def __len__(self) -> int:
        return len(self._urgent) + len(self._items)

    @property
    def priority(self) -> Any:
        """The classifier: a tuple of classes, a predicate, or None (control messages only)."""
        return self._priority

    @property
    def control_first(self) -> bool:
        """True when stop requests and watch notices jump the queue."""
        return self._control_first

    def _classify(self, message: Any) -> bool:
        """Whether ``message`` (a sent message, never ``STOP``) is urgent."""
        if message is self._refused:
            self._refused = EMPTY
            return self._refused_urgent
        self._refused = EMPTY
        types = self._types
        if types is not None:
            return isinstance(message, types)
        predicate = self._predicate
        if predicate is not None:
            return bool(predicate(message))
        return False

    def _has_room(self) -> bool:
        limit = self._limit
        return limit < 0 or len(self._urgent) + len(self._items) < limit

    def _admit_waiting(self) -> None:
        """Move waiting producers' items into the free slots: urgent ones first, each FIFO."""
        putters = self._urgent_putters
        while putters and self._has_room():
            fut, item = putters.popleft()
            if not fut.done():
                self._urgent.append(item)
                fut.set_result(None)
        putters = self._putters
        while putters and self._has_room():
            fut, item = putters.popleft()
            if not fut.done():
                self._items.append(item)
                fut.set_result(None)

    def offer(self, item: Any) -> bool:
        """Like :meth:`Mailbox.offer`, in the lane of ``item``'s message.

        An urgent item waits only behind producers waiting with urgent items.
        """
        if self._closed:
            raise MailboxClosed("Mailbox is closed.")
        message = _message_of(item)
        urgent = self._control_first if message is STOP else self._classify(message)
        if (
            self._urgent_putters
            or (not urgent and self._putters)
            or not self._has_room()
        ):
            if (
                self._limit == 0 and self._getters and not self._items and not self._urgent
                and not self._putters and not self._urgent_putters
            ):
                (self._urgent if urgent else self._items).append(item)  # rendezvous
                _wake_first(self._getters, None)
                return True
            if message is not STOP:
                self._refused = message
                self._refused_urgent = urgent
            return False
        if self._dormant is not None:
            self._rouse()
        (self._urgent if urgent else self._items).append(item)
        if self._getters:
            _wake_first(self._getters, None)
        return True

    def _putters_for(self, item: Any) -> deque[Any]:
        """The urgent or the ordinary producers' queue, by ``item``'s lane."""
        message = _message_of(item)
        if self._control_first if message is STOP else self._classify(message):
            if self._urgent_putters is None:
                self._urgent_putters = deque()
            urgent: deque[Any] = self._urgent_putters
            return urgent
        return super()._putters_for(item)

    def force(self, item: Any, control: bool = True) -> bool:
        """Enqueue an item ignoring capacity: a runtime message (``control``) is urgent when
        ``control_first``; another (a timer's message) goes to the lane its message
        belongs to, classified as a sent one would be (the classifier's exception
        propagates)."""
        if self._closed:
            return False
        if control:
            urgent = self._control_first
        else:
            message = _message_of(item)
            urgent = self._control_first if message is STOP else self._classify(message)
        if self._dormant is not None:
            self._rouse()
        (self._urgent if urgent else self._items).append(item)
        if self._getters:
            _wake_first(self._getters, None)
        return True

    def poll(self) -> Any:
        """Take the next item (urgent lane first) without waiting, or return :data:`EMPTY`."""
        if self._urgent:
            item = self._urgent.popleft()
            if self._urgent_putters or self._putters:
                self._admit_waiting()
            return item
        if self._items:
            item = self._items.popleft()
            if self._urgent_putters or self._putters:
                self._admit_waiting()
            return item
        if self._limit == 0:
            # Rendezvous: take the item straight from the first live producer, urgent first.
            for putters in (self._urgent_putters, self._putters):
                while putters:
                    fut, item = putters.popleft()
                    if not fut.done():
                        fut.set_result(None)
                        return item
        return EMPTY

    async def wait(self) -> None:
        """Wait until an item is queued (in either lane) or the send side is closed."""
        if (
            self._urgent or self._items or self._closed
            or (self._limit == 0 and (self._urgent_putters or self._putters))
        ):
            return
        fut = create_future()
        if self._getters is None:
            self._getters = deque()
        self._getters.append(fut)
        try:
            await fut
        except BaseException:
            fut.cancel()
            raise

    def drain(self) -> list[Any]:
        """Remove and return every queued item, in the order they would have been taken."""
        items = list(self._urgent)
        items.extend(self._items)
        self._urgent.clear()
        if self._items:
            self._items.clear()
        return items

    def discard(self, item: Any) -> bool:
        """Take ``item`` (that very object) back out of either lane; False if not queued."""
        for lane in (self._urgent, self._items):
            for i, queued in enumerate(lane):
                if queued is item:
                    del lane[i]
                    return True
        return False

    def close(self) -> None:
        """Close the send side (idempotent): waiting producers of both lanes fail."""
        if self._closed:
            return
        Mailbox.close(self)
        putters = self._urgent_putters
        while putters:
            fut, _ = putters.popleft()
            if not fut.done():
                fut.set_exception(MailboxClosed("Mailbox is closed."))


class ActorCell:
    """Runtime record of one spawned actor; survives restarts (only ``actor`` is replaced).

    The flags follow actors.md: ``alive`` until termination, ``stopping`` once a stop was
    requested (kept afterwards), ``restarting`` during a restart. ``accepting`` caches
    "system running and alive and not stopping" for the send fast path and is kept current
    by the host through :meth:`refresh`. ``abort`` asks the loop to leave after the message
    in progress (failure-driven stops) instead of draining up to the stop request.
    ``terminated`` is set once the actor has fully ended (after ``on_stop``). ``task`` is the
    task running the actor (:meth:`main` or :meth:`resume`; ``None`` while it is dormant): an
    ``ask`` from that task to this cell could never be answered
    (:class:`~papyra.exceptions.AskDeadlock`). ``context`` is the ``contextvars.Context``
    every task of the actor runs in (a copy of its spawner's, made by the host).
    ``attention`` stops the loop between two messages to call the host's ``attend``: it is
    raised with ``abort`` and when ``escalations`` (children's failures posted to this cell
    from their tasks) are waiting.
    """

    __slots__ = (
        "abort", "accepting", "actor", "actor_type", "address", "alive", "attention",
        "children", "context", "escalations", "factory", "host", "mailbox", "name", "parent",
        "policy", "processed", "restart_times", "restarting", "rid", "stopping", "task",
        "terminated", "watchers",
    )

    def __init__(
        self,
        host: CellHost,
        rid: int,
        address: ActorAddress,
        name: str | None,
        factory: Callable[[], Any],
        mailbox: Mailbox,
        policy: SupervisionPolicy,
        parent: ActorCell | None,
    ) -> None:
        self.host = host
        self.rid = rid
        self.address = address
        self.name = name
        self.factory = factory
        self.mailbox = mailbox
        self.policy = policy
        self.parent = parent
        self.actor: Any = None
        self.actor_type = ""
        # Created on first use (most actors never get children, watchers or restarts): an
        # empty tuple until then, so an idle actor costs three container objects less.
        self.children: list[int] | tuple[()] = ()
        self.watchers: set[int] | tuple[()] = ()
        self.restart_times: deque[float] | tuple[()] = ()
        self.escalations: list[Any] | tuple[()] = ()
        self.alive = True
        self.stopping = False
        self.restarting = False
        self.abort = False
        self.attention = False
        self.accepting = True
        self.terminated = False
        self.task: Any = None
        self.context: Any = None
        #: Messages taken from the mailbox and handled (``receive`` or a proxy), failed ones
        #: included; ``STOP`` is not counted. The kernel's only counter: one integer add.
        self.processed = 0

    def __repr__(self) -> str:
        return f"<ActorCell {self.address} {self.actor_type or '?'}>"

    def refresh(self) -> None:
        """Recompute :attr:`accepting` after a flag or the system state changed."""
        self.accepting = self.alive and not self.stopping and not self.host.closed

    def is_alive(self) -> bool:
        return self.accepting

    def offer(self, message: Any, reply: Any) -> bool:
        """The send fast path: enqueue if accepting and there is room right now.

        False means "take the slow path" (not accepting, or full). Raises
        :class:`MailboxClosed` if the mailbox was closed under a still-accepting cell.
        An accepted ``STOP`` is a stop request (:meth:`stop_accepted`).
        """
        if not self.accepting:
            return False
        if reply is None and type(message) is not Envelope:
            if message is STOP:
                return self._offer_stop(message)
            return self.mailbox.offer(message)
        if message is STOP:
            return self._offer_stop(Envelope(message, reply))
        return self.mailbox.offer(Envelope(message, reply))

    def _offer_stop(self, item: Any) -> bool:
        if not self.mailbox.offer(item):
            return False
        self.stop_accepted()
        return True

    def stop_accepted(self) -> None:
        """A ``STOP`` told (or asked) to this cell was enqueued: it is a graceful stop request.

        From now on the cell accepts nothing (later sends are dead letters and raise
        ``ActorStopped``, as in 0.3.0); what was queued before the ``STOP`` is processed.
        """
        if self.stopping:
            return
        self.stopping = True
        self.refresh()
        self.mailbox.close()

    def request(self, message: Any) -> Any:
        """The ask fast path: enqueue ``message`` with a fresh reply future and return it.

        Returns None (enqueuing nothing) when not accepting or full: take the slow path.
        Raises :class:`MailboxClosed` like :meth:`offer`, and
        :class:`~papyra.exceptions.AskDeadlock` when called from the cell's own task. That
        check costs nothing while the loop is parked on an empty mailbox (it then cannot be
        running the caller): only an ask to a busy actor looks the current task up.
        """
        if not self.accepting:
            return None
        mailbox = self.mailbox
        if not mailbox._getters:  # the loop is not parked: it may be running the caller
            task = self.task
            if task is not None and task is current_task():
                raise AskDeadlock()
        loop = _get_running_loop()
        fut = loop.create_future() if loop is not None else AnyioFuture()
        if message is STOP:
            return fut if self._offer_stop(Envelope(message, fut)) else None
        if mailbox.offer(Envelope(message, fut)):
            return fut
        return None

    def reply_future(self) -> Any:
        """A fresh reply future of this twin, for an ``ask`` that has to wait for room."""
        return create_future()

    async def main(self) -> None:
        """The actor's first task: start, then process messages until dormant or ended.

        Lives here (not in the host) so that the task drives the compiled loop directly;
        starting and terminating are delegated to the host. (The host starts an actor without
        an ``on_start`` of its own without any task, and makes it dormant right away.)
        """
        host = self.host
        self.task = current_task()
        ended = True
        try:
            if host.has_on_start(self):
                if not await host.first_start(self):
                    return
            else:
                host.started(self)
            ended = await self.run()
        finally:
            if ended:
                await host.finish(self)

    async def resume(self) -> None:
        """A later task of the actor (``CellHost.activate``): process messages until dormant
        or ended, and terminate the actor if it ended."""
        self.task = current_task()
        ended = True
        try:
            ended = await self.run()
        finally:
            if ended:
                await self.host.finish(self)

    async def run(self) -> bool:
        """Process messages until a ``STOP``, an abort, or a closed and empty mailbox: True.

        Or until the mailbox stayed empty for one scheduler pass: then the cell becomes
        dormant (its task is to end; the next item has the host schedule a new one) and
        the result is False.

        Messages are handled strictly one at a time in FIFO order. Proxy messages are executed
        by the host; anything else goes to ``actor.receive``. On failure the host's
        supervision runs *before* the error is handed to an ``ask`` caller, so the caller
        observes the post-failure state. A reply nobody waits for any more is dropped.
        Between two messages, a raised :attr:`attention` hands over to the host's ``attend``.
        What is not an ``Exception`` is triaged by the host: the task's own cancellation
        propagates, a fatal base exception ends the loop (the host shuts the system down);
        either way the ``ask`` caller of the message in progress gets ``ActorStopped``.
        """
        mailbox = self.mailbox
        host = self.host
        actor: Any = None
        receive: Any = None
        budget = BATCH
        lingered = False
        while True:
            while not self.attention:
                item = mailbox.poll()
                if item is EMPTY:
                    if mailbox._closed:
                        return True
                    budget = BATCH
                    if mailbox._limit == 0 and mailbox._putters:
                        continue  # rendezvous: a producer is waiting to hand over
                    if not lingered:
                        # Let the other tasks run once: a conversation (ask after ask) goes
                        # on in this task instead of a new one per message.
                        lingered = True
                        if _get_running_loop() is not None:
                            await _bare_yield()
                        else:
                            await anyio.lowlevel.checkpoint()
                        continue
                    # Nothing came: go dormant. The next item, Mailbox.wake() (attention)
                    # or close() has the host schedule a new task.
                    self.task = None
                    mailbox.set_dormant(self)
                    host.suspended(self)
                    return False
                lingered = False
                if type(item) is Envelope:
                    message = item.message
                    reply = item.reply
                else:
                    message = item
                    reply = None
                if message is STOP:
                    if reply is not None and not reply.done():
                        reply.set_result(None)  # ask(STOP): everything before it was done
                    return True
                self.processed += 1
                try:
                    kind = type(message)
                    if (
                        kind is _PROXY_CALL or kind is _PROXY_GET or kind is _PROXY_SET
                        or kind is _TRACED
                    ):
                        value = await host.run_proxy(self, message)
                    else:
                        if self.actor is not actor:  # first message, or the actor restarted
                            actor = self.actor
                            receive = actor.receive
                        value = await receive(message)
                except BaseException as exc:
                    if not isinstance(exc, Exception):
                        verdict = host.triage(self, exc)
                        if verdict != FAILURE:
                            if reply is not None and not reply.done():
                                reply.set_exception(
                                    ActorStopped("Actor stopped while processing the message.")
                                )
                            if verdict == CANCELLED:
                                raise
                            return True  # FATAL: the system is shutting down
                    try:
                        await host.handle_failure(self, exc, message=message)
                    finally:
                        if reply is not None and not reply.done():
                            deliver_error(reply, exc)
                    # Keep nothing of the failed message: its reply holds the exception, whose
                    # traceback holds the failing frames.
                    item = message = reply = None
                    continue
                if reply is not None and not reply.done():
                    reply.set_result(value)
                budget -= 1
                if budget == 0:
                    budget = BATCH
                    await yield_now()
            if not await host.attend(self):
                return True


def deliver_error(reply: Any, exc: BaseException) -> None:
    """Complete ``reply`` with ``exc``; what cannot travel as itself is wrapped.

    asyncio futures refuse ``StopIteration``; a stray cancellation (not an ``Exception``)
    would look like the caller's own cancellation. Both reach the caller as a
    ``RuntimeError`` caused by ``exc``.
    """
    if isinstance(exc, Exception):
        try:
            reply.set_exception(exc)
            return
        except TypeError:  # e.g. StopIteration cannot travel through an asyncio future
            pass
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose __str__ raises is still delivered
        text = f"{type(exc).__name__}: <exception str() failed>"
    wrapped = RuntimeError(text)
    wrapped.__cause__ = exc
    reply.set_exception(wrapped)

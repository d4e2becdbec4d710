"""Actor references: the only way to talk to an actor."""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, overload

import anyio

from papyra import _accel
from papyra._envelope import STOP, DeadLetter, Envelope, _Stop
from papyra.actor import _M, _R
from papyra.exceptions import ActorStopped, AskTimeout, MailboxClosed

if TYPE_CHECKING:
    from papyra._speedups.dispatch_py import ActorCell
    from papyra.address import ActorAddress
    from papyra.proxy import ActorProxy

__all__ = ("ActorRef",)

#: The clock of the ask latency histogram (module-level, so tests can replace it).
_clock = time.perf_counter


def _check_timeout(timeout: object) -> None:
    """Refuse an ``ask`` timeout that is not ``None`` or a real number of seconds >= 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            f"ask() timeout must be None or a number of seconds >= 0, not {timeout!r}."
        )
    if not float(timeout) >= 0:  # negative, or NaN
        raise ValueError(
            f"ask() timeout must be None or a number of seconds >= 0, not {timeout!r}."
        )


def _via_cell(*args: Any) -> Any:
    """The send and liveness callables of a ref made by a system for one of its actors: such
    a ref reads its ``_cell`` instead, so these are never called. Shared by every such ref
    (bound methods of the cell would cost about 200 bytes per actor)."""
    raise AssertionError("a ref bound to a cell sends through the cell")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ActorRef(Generic[_M, _R]):
    """An immutable handle to one actor: cheap to create, safe to keep, compare and hash.

    ``ActorRef[M, R]`` points at an actor that accepts messages of type ``M`` and replies with
    ``R``: type checkers refuse ``tell``/``ask`` of anything else (``STOP`` is always
    accepted) and type ``await ref.ask(msg)`` as ``R``. The parameters cost nothing at run
    time; a bare ``ActorRef`` is ``ActorRef[Any, Any]``.

    Two refs are equal when they point at the same actor (same rid and address). Liveness is
    evaluated on every call: a ref to a stopped actor (or to a closed system) turns every send
    into a dead letter plus :class:`~papyra.exceptions.ActorStopped`.

    Refs are made by the system (``spawn``, ``ref_for``...), not by hand. Use them from any
    task of the system's event loop, an actor's included; they are not thread-safe. To stop
    the actor, ``tell(STOP)`` or :meth:`ActorSystem.stop <papyra.system.ActorSystem.stop>`.
    """

    _rid: int
    _mailbox_put: Callable[[Envelope], Any]
    _is_alive: Callable[[], bool]
    _dead_letter: Callable[[DeadLetter], Any] | None = None
    _address: ActorAddress | None = None
    # The runtime record, when the ref was made by a system: enables the allocation-free path.
    _cell: ActorCell | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return self._rid == other._rid and self._address == other._address

    def __hash__(self) -> int:
        return hash((self._rid, self._address))

    def __repr__(self) -> str:
        return f"ActorRef({self._address if self._address is not None else self._rid})"

    @property
    def address(self) -> ActorAddress:
        """Where the actor lives (``system:id``).

        :raises RuntimeError: the ref was built by hand without an address.
        """
        if self._address is None:
            raise RuntimeError("ActorRef has no address bound")
        return self._address

    def is_alive(self) -> bool:
        """True while the actor runs and accepts messages (no stop requested, system open).

        Evaluated now, in the caller's task: the answer may change right after, so a send can
        still raise ``ActorStopped``.
        """
        cell = self._cell
        if cell is not None:
            return bool(cell.accepting)
        return bool(self._is_alive())

    def _refuse(self, message: Any, expects_reply: bool) -> ActorStopped:
        sink = self._dead_letter
        if sink is not None:
            try:
                sink(DeadLetter(target=self, message=message, expects_reply=expects_reply))
            except Exception:
                pass
        return ActorStopped("Actor is not running.")

    async def _enqueue(self, message: Any, item: Any, expects_reply: bool) -> None:
        """Slow path of a send: liveness check, then wait for room (back-pressure)."""
        cell = self._cell
        try:
            if cell is not None:
                if not cell.accepting:
                    raise self._refuse(message, expects_reply)
                await cell.mailbox.put(item)
                if message is STOP:
                    cell.stop_accepted()
            else:
                if not self._is_alive():
                    raise self._refuse(message, expects_reply)
                env = item if type(item) is Envelope else Envelope(item)
                await self._mailbox_put(env)
        except MailboxClosed:
            raise self._refuse(message, expects_reply) from None

    async def tell(self, message: _M | _Stop) -> None:
        """Enqueue ``message`` without waiting for it to be processed.

        Returns once the message is in the mailbox; the actor handles it later, in its own
        task, after the messages queued before it (unless a priority mailbox lets it jump the
        queue). Waits while the mailbox is full (back-pressure); the message is never dropped:
        if the actor is not running (or stops while we wait for room) it becomes a dead letter
        and :class:`~papyra.exceptions.ActorStopped` is raised. ``tell(STOP)`` is a graceful
        stop: once it is enqueued the actor accepts nothing more (later sends are dead letters
        and raise ``ActorStopped``) and it stops after the messages queued before it.
        ``send`` is the same method.

        :raises ActorStopped: the actor is not running, or stopped while the call waited for
            room.
        """
        cell = self._cell
        if cell is not None:
            try:
                if cell.offer(message, None):
                    return
            except MailboxClosed:
                raise self._refuse(message, False) from None
        await self._enqueue(message, message, False)

    send = tell

    @overload
    async def ask(self, message: _Stop, *, timeout: float | None = None) -> None: ...

    @overload
    async def ask(self, message: _M, *, timeout: float | None = None) -> _R: ...

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the value ``receive`` returns for it.

        If handling the message raised, supervision runs first, then the same exception object
        is raised here. ``timeout`` (seconds) bounds the whole call, including any wait for room
        in a full mailbox: :class:`~papyra.exceptions.AskTimeout` when it elapses (the message,
        if already enqueued, is still processed; its reply is discarded). If the actor stops
        before processing the message, :class:`~papyra.exceptions.ActorStopped` is raised.

        ``timeout`` is ``None`` or a real number of seconds ``>= 0``. ``0`` never waits: the
        message is enqueued if there is room right now (and then processed, its reply
        discarded) and ``AskTimeout`` is raised, on every backend. Anything else (``True``,
        ``"5"``, ``-1``, NaN) raises ``TypeError`` / ``ValueError`` before anything is sent.
        An actor asking itself from its own task gets :class:`~papyra.exceptions.AskDeadlock`
        at once. ``ask(STOP)`` stops the actor like ``tell(STOP)`` and returns ``None`` once
        the messages queued before it were processed.

        The caller's task waits; ``receive`` runs in the actor's task. Cancelling the caller
        once the message is enqueued drops the reply, not the message.

        :raises AskTimeout: ``timeout`` elapsed first.
        :raises ActorStopped: the actor is not running, or stopped before it handled the
            message.
        :raises AskDeadlock: the actor asked itself from its own task.
        :raises TypeError: ``timeout`` is not ``None`` or a real number.
        :raises ValueError: ``timeout`` is negative or NaN.
        :raises Exception: whatever ``receive`` raised for this message (the same object).
        """
        if timeout is not None and (
            (type(timeout) is not float and type(timeout) is not int) or not timeout >= 0
        ):
            _check_timeout(timeout)  # raises unless another real type (a Fraction, numpy...)
        cell = self._cell
        start = _clock()  # the ask latency histogram: one clock read here, one at the end
        try:
            if timeout is None:
                fut = self._request_now(message)
                if fut is None:
                    fut = await self._request(message)
                return await fut
            fut = None
            if timeout == 0 and cell is not None:
                # Nothing can be had without waiting, so the same outcome on every backend (a
                # cancel scope that expired on entry raced the reply on asyncio): the message
                # is enqueued if there is room right now (and then processed), and AskTimeout.
                if not cell.accepting:
                    raise self._refuse(message, True)
                fut = self._request_now(message)
            else:
                with anyio.move_on_after(timeout):
                    fut = self._request_now(message)
                    if fut is None:
                        fut = await self._request(message)
                    return await fut
            if fut is not None:
                fut.cancel()  # the reply, if it ever comes, is dropped
            raise AskTimeout(f"ask() timed out after {timeout} seconds.")
        except BaseException as exc:
            if cell is not None:
                stats = cell.host.ask_stats
                stats.errors += 1
                if type(exc) is AskTimeout:
                    stats.timeouts += 1
            raise
        finally:
            if cell is not None:
                cell.host.ask_stats.observe(_clock() - start)

    def _request_now(self, message: Any) -> Any:
        """The ask fast path: the reply future of ``message`` if it was enqueued right away."""
        cell = self._cell
        if cell is None:
            return None
        try:
            return cell.request(message)
        except MailboxClosed:
            raise self._refuse(message, True) from None

    async def _request(self, message: Any) -> Any:
        """The ask slow path: liveness check and waiting for room; returns the reply future."""
        cell = self._cell
        fut = _accel.dispatch.create_future() if cell is None else cell.reply_future()
        await self._enqueue(message, Envelope(message, fut), True)
        return fut

    def proxy(self) -> ActorProxy:
        """A proxy that reads, writes and calls attributes of the actor inside its task.

        Each access through the proxy is an ``ask`` (a ``ProxyGetAttr``, ``ProxySetAttr`` or
        ``ProxyCall`` message) handled in the actor's own task between its other messages,
        so it raises what :meth:`ask` raises.

        :raises ActorStopped: the actor is not running now (a dead letter is recorded).
        """
        from papyra.proxy import ActorProxy

        if not self.is_alive():
            raise self._refuse("proxy", True)
        return ActorProxy(actor_ref=self)

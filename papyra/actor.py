"""The :class:`Actor` base class."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Generic

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:  # PEP 696 defaults: typing_extensions (a dependency below Python 3.13)
    from typing_extensions import TypeVar

if TYPE_CHECKING:
    from papyra.context import ActorContext
    from papyra.ref import ActorRef
    from papyra.supervisor import SupervisorDecision

__all__ = ("Actor",)

#: The messages an actor accepts and the replies it returns (``Actor[M, R]``, ``ActorRef[M, R]``).
#: Both default to ``Any``, so a bare ``Actor`` or ``ActorRef`` is ``Actor[Any, Any]``: anything
#: may be sent and every reply is ``Any``, as in Papyra 0.3.0. ``M`` is contravariant (a ref that
#: accepts more messages can stand in for one that accepts fewer), ``R`` covariant.
_M = TypeVar("_M", contravariant=True, default=Any)
_R = TypeVar("_R", covariant=True, default=Any)


class Actor(Generic[_M, _R]):
    """Subclass and implement :meth:`receive`.

    ``class Counter(Actor[Increment, int])`` declares that the actor receives ``Increment``
    messages and replies with ``int``; :meth:`ActorSystem.spawn
    <papyra.system.ActorSystem.spawn>` then returns an ``ActorRef[Increment, int]``. The
    parameters are for type checkers only (docs/runtime.md, "Typed actors and refs"); a bare
    ``Actor`` accepts anything, as before.

    The system builds every instance with its factory (for a class: called with no arguments),
    then injects :attr:`context` before :meth:`on_start`. One instance handles one message at a
    time, in the order messages were enqueued; a restart replaces the instance (state is not
    carried over) and injects a new context.
    """

    _context: ActorContext | None = None

    @property
    def context(self) -> ActorContext:
        """The actor's :class:`~papyra.context.ActorContext`.

        Available from ``on_start`` on; a restart injects a new one into the new instance.

        :raises RuntimeError: the system has not injected it yet (e.g. inside ``__init__``).
        """
        ctx = self._context
        if ctx is None:
            raise RuntimeError(
                "Actor context is not available yet: it is injected after construction, "
                "use it from on_start() onwards."
            )
        return ctx

    async def on_start(self) -> None:
        """Runs in the actor's task before the first message (and after each restart).

        Messages sent meanwhile are queued and handled after it returns. An exception here
        is an actor failure (``RuntimeError("actor.on_start() failed")``, chained to the
        original) handled by supervision. The default does nothing.
        """

    async def on_stop(self) -> None:
        """Runs once per instance when it is replaced by a restart or finally stopped.

        Runs in the actor's own task, never concurrently with ``receive``. On a final stop
        it runs after the watchers were notified and the leftover messages became dead
        letters, shielded from cancellation until ``aclose()`` gives up on it (its
        ``shutdown_grace`` ran out, or ``aclose()`` was cancelled). Exceptions are logged at
        DEBUG and otherwise ignored. The default does nothing.
        """

    async def receive(self, message: _M) -> _R:
        """Handle one message; the return value is the reply to an ``ask``.

        Must be ``async def``. Runs in the actor's own task, one message at a time, in the
        order messages were enqueued. An exception is an actor failure: supervision decides
        (restart, stop, escalate), and an ``ask`` caller gets the exception itself. The
        value returned for a ``tell`` is discarded.

        :raises NotImplementedError: a subclass did not override it.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement receive().")

    async def on_child_failure(
        self, child_ref: ActorRef, exc: BaseException
    ) -> SupervisorDecision | None:
        """Decide for a failed child; ``None`` lets the child's own policy apply.

        Called in the failing child's task, concurrently with this actor's own messages
        (so asking that child from here raises ``AskDeadlock``). A decision may also be given
        by name (``"restart"``); an invalid one is logged at WARNING and the child's policy
        applies. The default returns ``None``.
        """
        return None

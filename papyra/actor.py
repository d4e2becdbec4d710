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

        Raises :class:`RuntimeError` before the system injected it (e.g. inside ``__init__``).
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

        An exception here is an actor failure (``RuntimeError("actor.on_start() failed")``,
        chained to the original) handled by supervision.
        """

    async def on_stop(self) -> None:
        """Runs once per instance when it is replaced by a restart or finally stopped.

        Watchers have already been notified. Exceptions are ignored.
        """

    async def receive(self, message: _M) -> _R:
        """Handle one message; the return value is the reply to an ``ask``."""
        raise NotImplementedError(f"{type(self).__name__} must implement receive().")

    async def on_child_failure(
        self, child_ref: ActorRef, exc: BaseException
    ) -> SupervisorDecision | None:
        """Decide for a failed child; ``None`` lets the child's own policy apply.

        Called in the failing child's task, concurrently with this actor's own messages.
        """
        return None

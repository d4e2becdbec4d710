"""What an actor can reach: its system, itself, its parent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from papyra.exceptions import ActorStopped

if TYPE_CHECKING:
    from papyra.actor import Actor
    from papyra.ref import ActorRef
    from papyra.supervision import SupervisionPolicy
    from papyra.system import ActorSystem
    from papyra.timers import Timers
    from papyra.typing import Priority

__all__ = ("ActorContext",)

_M = TypeVar("_M")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class ActorContext:
    """Injected into every actor instance as ``self.context`` (a new one after each restart)."""

    system: ActorSystem
    self_ref: ActorRef
    parent: ActorRef | None = None

    def spawn_child(
        self,
        actor_factory: Callable[[], Actor[_M, _R]] | type[Actor[_M, _R]],
        *,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        priority: Priority | None = None,
        control_first: bool = False,
    ) -> ActorRef[_M, _R]:
        """Spawn an actor supervised by this one (unnamed; default policy STOP).

        Typed like ``ActorSystem.spawn``: the child's ``Actor[M, R]`` gives ``ActorRef[M, R]``.
        ``priority`` and ``control_first`` choose its mailbox ordering as in ``spawn``
        (checked before anything is spawned).
        """
        return self.system.spawn(
            actor_factory, mailbox_capacity=mailbox_capacity, policy=policy,
            parent=self.self_ref, priority=priority, control_first=control_first,
        )

    @property
    def timers(self) -> Timers[Any]:
        """This actor's timers (:class:`~papyra.timers.Timers`): messages to itself, later.

        ``ActorStopped`` once the actor has terminated.
        """
        lifecycle = self.system._lifecycle
        cell = lifecycle.cell_of(self.self_ref)
        if cell is None or cell.terminated:
            raise ActorStopped(f"{self.self_ref!r} has terminated: it has no timers.")
        return lifecycle.timers_for(cell)

    async def stop_self(self) -> None:
        """Gracefully stop this actor: messages already queued are processed first."""
        await self.system.stop(self.self_ref)

    async def stop(self, ref: ActorRef) -> None:
        """Gracefully stop ``ref`` (and its children)."""
        await self.system.stop(ref)

    async def watch(self, ref: Any) -> None:
        """Receive one ``ActorTerminated`` message when ``ref`` terminates permanently."""
        self.system._watch(self.self_ref, ref)

    async def unwatch(self, ref: Any) -> None:
        """Stop watching ``ref``."""
        self.system._unwatch(self.self_ref, ref)

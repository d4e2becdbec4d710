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
    """Injected into every actor instance as ``self.context`` (a new one after each restart).

    Meant for the actor's own code (``on_start``, ``receive``, ``on_stop``), which runs in the
    actor's task; its methods also work from any other task of the system's event loop.
    ``system`` is the actor's :class:`~papyra.system.ActorSystem`, ``self_ref`` a ref to this
    actor, ``parent`` its parent's ref (``None`` for a root actor).
    """

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

        :meth:`ActorSystem.spawn <papyra.system.ActorSystem.spawn>` with ``parent`` set to
        this actor: the factory runs now, in the caller's task, the child's ``on_start`` in
        its own task; the ref is returned at once. Typed like ``spawn``: the child's
        ``Actor[M, R]`` gives ``ActorRef[M, R]``. ``priority`` and ``control_first`` choose
        its mailbox ordering as in ``spawn`` (checked before anything is spawned). When this
        actor stops, its children are stopped first.

        :raises ActorStopped: this actor is stopping or stopped (e.g. from ``on_stop``), or
            the system is not running.
        :raises TypeError: an actor instance or a non-callable factory, an actor without an
            ``async def receive``, or an argument of the wrong kind (as ``spawn``).
        :raises ValueError: ``mailbox_capacity`` is an int out of range.
        """
        return self.system.spawn(
            actor_factory, mailbox_capacity=mailbox_capacity, policy=policy,
            parent=self.self_ref, priority=priority, control_first=control_first,
        )

    @property
    def timers(self) -> Timers[Any]:
        """This actor's timers (:class:`~papyra.timers.Timers`): messages to itself, later.

        Made on first use. The timers of an actor are cancelled when a stop is requested and
        when it restarts.

        :raises ActorStopped: the actor has terminated.
        """
        lifecycle = self.system._lifecycle
        cell = lifecycle.cell_of(self.self_ref)
        if cell is None or cell.terminated:
            raise ActorStopped(f"{self.self_ref!r} has terminated: it has no timers.")
        return lifecycle.timers_for(cell)

    async def stop_self(self) -> None:
        """Gracefully stop this actor: messages already queued are processed first.

        Returns at once, once the request is made (it does not wait for the termination,
        which needs the current message to end first): from then on the actor accepts no new
        messages, its children are stopped, and it terminates after its backlog. Call it from
        the actor's own code.
        """
        await self.system.stop(self.self_ref)

    async def stop(self, ref: ActorRef) -> None:
        """Gracefully stop ``ref`` (and its children first).

        :meth:`ActorSystem.stop <papyra.system.ActorSystem.stop>` without ``wait``: returns
        once the request is made; the actor terminates after the messages already queued. A
        no-op for an unknown or stopped actor.
        """
        await self.system.stop(ref)

    async def watch(self, ref: Any) -> None:
        """Receive one ``ActorTerminated`` message when ``ref`` terminates permanently.

        Takes effect at once. The notice arrives in this actor's mailbox like any message,
        before the terminated actor's ``on_stop`` runs; a restart is not a termination.
        Watching twice still gives one notice. If the target has already terminated (or is
        terminating), the notice is enqueued at once. A no-op when this actor is itself
        terminating, or for a ref or address of this system that never was one of its actors.
        ``ref`` is a ref, an ``ActorAddress`` or an address string (``"local:3"``); with a
        transport, also a ref to an actor of another member.

        :raises TypeError: ``ref`` is none of those.
        :raises ValueError: an unparsable address string, or an address or local ref of
            another system (a :class:`~papyra.cluster.RemoteActorRef` is watched through
            the cluster).
        """
        self.system._watch(self.self_ref, ref)

    async def unwatch(self, ref: Any) -> None:
        """Stop watching ``ref``: no ``ActorTerminated`` notice for it from now on.

        Takes effect at once; a notice already in this actor's mailbox is still delivered.
        A no-op when ``ref`` is not watched. Accepts what :meth:`watch` accepts.

        :raises TypeError: ``ref`` is not a ref, an ``ActorAddress`` or an address string.
        :raises ValueError: an unparsable address string, or an address or ref of another
            system.
        """
        self.system._unwatch(self.self_ref, ref)

"""Point-in-time views of a system's actors (``system.audit()``, ``system.actor_info()``)."""

from __future__ import annotations

from dataclasses import dataclass

from papyra.address import ActorAddress

__all__ = ("ActorInfo", "AuditReport")


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """One actor as ``system.actor_info(ref)`` and ``audit(include_actors=True)`` saw it.

    ``rid`` is its id in the system (``address.actor_id``), ``name`` its registered name,
    ``parent_rid`` / ``children_rids`` its place in the supervision tree; ``alive``,
    ``stopping`` and ``restarting`` are its flags at that moment (see :attr:`state`).
    """

    rid: int
    address: ActorAddress
    name: str | None
    parent_rid: int | None
    children_rids: tuple[int, ...]
    alive: bool
    stopping: bool
    restarting: bool
    actor_type: str = ""
    #: Messages waiting in the actor's mailbox when the info was taken.
    mailbox_depth: int = 0
    #: Messages the actor has handled so far (all its instances; failed ones included).
    messages_processed: int = 0

    @property
    def state(self) -> str:
        """``restarting``, ``stopping``, ``alive`` or ``stopped``, in that priority."""
        if self.restarting:
            return "restarting"
        if self.stopping:
            return "stopping"
        return "alive" if self.alive else "stopped"

    def panel_line(self) -> str:
        """One line for ``papyra inspect`` panels: ``rid=... address=... state=...``."""
        children = ",".join(map(str, self.children_rids)) or "-"
        parent = "-" if self.parent_rid is None else str(self.parent_rid)
        return (
            f"rid={self.rid} address={self.address} name={self.name or '-'} "
            f"actor={self.actor_type or '-'} state={self.state} parent={parent} children={children}"
        )


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What ``system.audit()`` returns: the system's actors and registry at one moment.

    ``total_actors`` counts every actor ever spawned; ``alive_actors``, ``stopping_actors``
    and ``restarting_actors`` those in each state now. ``registry_size`` is the number of
    registered names, ``registry_orphans`` the names pointing at no record any more and
    ``registry_dead`` those pointing at a stopped actor (both empty in a healthy system).
    ``actors`` has one :class:`ActorInfo` per retained actor when asked for.
    """

    system_id: str
    total_actors: int
    alive_actors: int
    stopping_actors: int
    restarting_actors: int
    registry_size: int
    registry_orphans: tuple[str, ...]
    registry_dead: tuple[str, ...]
    dead_letters_count: int
    actors: tuple[ActorInfo, ...] = ()
    #: Dead letters ever recorded, including those no longer retained (``dead_letters_count``
    #: counts the retained ones); ``None`` in a report built without it.
    dead_letters_total: int | None = None

    def summary_lines(self) -> tuple[str, ...]:
        """The counts as ``key=value`` lines (``system_id``, actors, registry, dead letters)."""
        return (
            f"system_id={self.system_id}",
            f"actors(total={self.total_actors}, alive={self.alive_actors}, "
            f"stopping={self.stopping_actors}, restarting={self.restarting_actors})",
            f"registry(size={self.registry_size}, orphans={len(self.registry_orphans)}, "
            f"dead={len(self.registry_dead)})",
            f"dead_letters={self.dead_letters_count}",
        )

    def panel_lines(self) -> tuple[str, ...]:
        """:meth:`summary_lines`, then one :meth:`ActorInfo.panel_line` per actor."""
        if not self.actors:
            return (*self.summary_lines(), "actors=<not included>")
        return (*self.summary_lines(), *(info.panel_line() for info in self.actors))

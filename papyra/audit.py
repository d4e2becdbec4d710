"""Point-in-time views of a system's actors (``system.audit()``, ``system.actor_info()``)."""

from __future__ import annotations

from dataclasses import dataclass

from papyra.address import ActorAddress

__all__ = ("ActorInfo", "AuditReport")


@dataclass(frozen=True, slots=True)
class ActorInfo:
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
        children = ",".join(map(str, self.children_rids)) or "-"
        parent = "-" if self.parent_rid is None else str(self.parent_rid)
        return (
            f"rid={self.rid} address={self.address} name={self.name or '-'} "
            f"actor={self.actor_type or '-'} state={self.state} parent={parent} children={children}"
        )


@dataclass(frozen=True, slots=True)
class AuditReport:
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
        return (
            f"system_id={self.system_id}",
            f"actors(total={self.total_actors}, alive={self.alive_actors}, "
            f"stopping={self.stopping_actors}, restarting={self.restarting_actors})",
            f"registry(size={self.registry_size}, orphans={len(self.registry_orphans)}, "
            f"dead={len(self.registry_dead)})",
            f"dead_letters={self.dead_letters_count}",
        )

    def panel_lines(self) -> tuple[str, ...]:
        if not self.actors:
            return (*self.summary_lines(), "actors=<not included>")
        return (*self.summary_lines(), *(info.panel_line() for info in self.actors))

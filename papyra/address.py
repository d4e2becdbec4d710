"""Actor addresses: the stable name of an actor inside a system, kept across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ("ActorAddress",)


@dataclass(frozen=True, slots=True)
class ActorAddress:
    """Where an actor lives: ``ActorAddress(system="local", actor_id=1)``, written ``local:1``.

    The system assigns ``actor_id`` from a per-system counter starting at 1; the address never
    changes when the actor restarts. Equality and hashing are by value.
    """

    system: str
    actor_id: int

    def __str__(self) -> str:
        return f"{self.system}:{self.actor_id}"

    @classmethod
    def parse(cls, raw: str) -> ActorAddress:
        """Parse ``"local:1"`` (or ``"local://1"``) back into an address.

        :raises ValueError: anything that is not a ``str`` holding a non-empty system name and
            an integer id separated by ``:`` or ``://``.
        """
        if not isinstance(raw, str) or ":" not in raw:
            raise ValueError(f"Invalid actor address {raw!r}: expected '<system>:<id>'.")
        system, _, actor_id = raw.partition("://") if "://" in raw else raw.partition(":")
        system = system.strip()
        if not system:
            raise ValueError(f"Invalid actor address {raw!r}: the system name is empty.")
        try:
            number = int(actor_id.strip())
        except ValueError:
            raise ValueError(
                f"Invalid actor address {raw!r}: the actor id is not an integer."
            ) from None
        return cls(system=system, actor_id=number)

    def to_dict(self) -> dict[str, object]:
        """``{"system": ..., "actor_id": ...}``: the form events carry (``event.address``)."""
        return {"system": self.system, "actor_id": self.actor_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActorAddress:
        """The address of a :meth:`to_dict` mapping; ``KeyError`` / ``ValueError`` when a
        field is missing or not convertible."""
        return cls(system=str(data["system"]), actor_id=int(data["actor_id"]))

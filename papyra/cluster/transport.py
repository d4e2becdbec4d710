"""The transport protocol: what a cluster member asks of the engine that carries its messages.

``ActorRef`` and the rest of the runtime never see the engine: a :class:`ClusterNode`
(``papyra.cluster._node``) turns sends into *frames* and hands them to a :class:`Transport`.
:class:`~papyra.cluster.redis.RedisStreamsTransport` is the engine shipped; another (NATS
JetStream, say) implements these methods and nothing else changes.

A frame is a flat ``dict[str, Any]``: header fields of text (``str``; a transport may add
``n``, the number of deliveries, as an ``int``) and the payload ``m`` as ``bytes``. The
transport guarantees, per target member:

* :meth:`Transport.send` returns once the engine has durably accepted the frames, in order
  (frames of one ``send`` stay together and in order, and two sends from one task arrive in the
  order they were made); it raises ``ConnectionError`` when the engine cannot be reached and
  waits while the target's backlog is at its bound.
* :meth:`Transport.receive` hands out frames addressed to this member (and to the shards
  whose lease it holds), each with a token; a frame is handed out again (after a restart of
  this member, or to a shard's next owner) until :meth:`Transport.settle` acknowledged its
  token: delivery is at least once.

An engine may also offer ``send_and_settle(outbox, done)``: :meth:`Transport.send` to each
member of ``outbox`` (a dict of frame lists), then :meth:`Transport.settle` ``done``, in one
round trip, removing each member from ``outbox`` once its frames are accepted; the node uses
it for its replies and acknowledgements when it is there. And ``try_send_many(batches)``: one
attempt of :meth:`Transport.send` / :meth:`Transport.send_shard` for several destinations
(``("member", id)``, ``("shard", n)``, each with its frames) in one round trip, that does not
wait for room: per destination True (accepted), False (its backlog is at its bound, nothing sent
there) or the exception that refused it. With it a member sends the frames queued for all its
destinations together, and a lone send goes from the caller's task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from papyra.cluster.codec import Codec

__all__ = ("Frame", "MemberInfo", "Token", "Transport")

#: One message (or reply, or control notice) on the wire.
Frame = dict[str, Any]

#: A transport's handle on a frame it handed out, given back to settle it: opaque to the
#: node, a tuple of hashable values, equal to the token of the same frame handed out again.
Token = tuple[Any, ...]


#: What a member announces about itself (``members()``): plain JSON data.
MemberInfo = dict[str, Any]


@runtime_checkable
class Transport(Protocol):
    """The engine under a cluster (see the module doc for the guarantees it must keep)."""

    #: The cluster's name: members with the same engine and name form one cluster.
    cluster: str
    #: How messages become bytes (the same types registered on every member).
    codec: Codec
    #: Seconds between two heartbeats of a member.
    heartbeat_interval: float
    #: How many shards entities are spread over (the same on every member).
    shards: int

    async def open(self, member: str) -> None:
        """Join as ``member`` (a system id): create its inbox, announce it."""

    async def send(self, member: str, frames: Sequence[Frame]) -> None:
        """Append ``frames`` to ``member``'s inbox; return once accepted (see module doc)."""

    async def receive(self, count: int) -> list[tuple[Token, Frame]]:
        """Up to ``count`` frames for this member as ``(token, frame)``, oldest first.

        Frames handed out before a restart and never settled come first. Waits a short while
        (well under a second) when there is nothing, then returns an empty list.
        """

    async def settle(self, done: Sequence[tuple[Token, str | None]]) -> None:
        """Acknowledge the frames of the ``(token, message id)`` pairs (they are done), and
        remember the message ids (where not None) as handled for the de-duplication window."""

    async def handled(self, items: Sequence[tuple[Token, str]]) -> set[str]:
        """Which message ids of the ``(token, message id)`` pairs were settled within the
        de-duplication window (a frame handed out again after a crash)."""

    async def heartbeat(self, info: MemberInfo) -> None:
        """Renew this member's lease (``info`` is shown by ``papyra cluster status``)."""

    async def members(self) -> dict[str, MemberInfo]:
        """The members whose lease is current, by system id."""

    def shard_of(self, kind: str, key: str) -> int:
        """The shard of entity ``kind``/``key``: a pure function, the same on every member."""

    async def send_shard(self, shard: int, frames: Sequence[Frame]) -> None:
        """Like :meth:`send`, to whichever member owns ``shard`` now or later."""

    @property
    def owned(self) -> frozenset[int]:
        """The shards whose lease this member holds."""

    async def acquire(self, shard: int) -> bool:
        """Take ``shard``'s lease if it is free; then read its frames, those its previous
        owner read and never settled first. False when another member holds it."""

    async def renew(self) -> frozenset[int]:
        """Extend the held leases; returns those still held (the others were lost)."""

    def pause(self, shard: int) -> None:
        """Read no more of ``shard`` (a hand-over begins; the lease is kept)."""

    async def release(self, shard: int) -> None:
        """Give ``shard``'s lease up."""

    async def owners(self) -> dict[int, str]:
        """Shard -> the member holding its lease."""

    async def leave(self) -> None:
        """End this member's lease now (a graceful shutdown)."""

    async def aclose(self) -> None:
        """Release the engine's connections (the member has left)."""

"""The cluster member inside one actor system: remote refs, the inbox reader, replies, watches.

A :class:`ClusterNode` exists when ``ActorSystem(transport=...)`` was given. It turns sends to
:class:`RemoteActorRef` into frames for the transport, hands inbound frames to local actors,
and sends back what their handlers returned. See docs/cluster.md for the guarantees.

Frames (``dict[str, Any]``: text header fields, the payload ``m`` as bytes; see
papyra.cluster.transport):

=====  ===========================================================================
field  meaning
=====  ===========================================================================
``k``  kind: ``t`` tell, ``a`` ask, ``r`` reply, ``e`` error reply, ``w`` watch,
       ``x`` terminated (the answer to a watch)
``i``  message id, ``{member}/{run}/{n}``: unique in the cluster, the de-duplication key
       (in frames to a shard, and asks; a tell to a member's inbox has none)
``f``  the sending member (where an answer goes: asks, watches; not in a tell)
``to`` the target on the receiving member: a name, or ``#{actor id}~{run}``
``m``  the payload (codec bytes; for ``e``: JSON ``{"type", "message"}``)
``d``  ask deadline, epoch milliseconds
``c``  ask correlation id (in ``a``, ``r`` and ``e``)
=====  ===========================================================================
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel
import orjson

from papyra import _accel
from papyra._envelope import STOP, ActorTerminated, DeadLetter, Envelope
from papyra.actor import _M, _R
from papyra.address import ActorAddress
from papyra.exceptions import (
    ActorStopped,
    AskTimeout,
    MailboxClosed,
    MessageNotSerializable,
    RemoteError,
)
from papyra.ref import ActorRef, _check_timeout

if TYPE_CHECKING:
    from papyra._speedups.dispatch_py import ActorCell
    from papyra.cluster.transport import Frame, MemberInfo, Token, Transport
    from papyra.system import ActorSystem

__all__ = ("ClusterNode", "EntityRef", "RemoteActorRef", "parse_uri", "shard_home")

log = logging.getLogger("papyra")

SCHEME = "papyra://"
_STOPPED_TYPE = "papyra.exceptions.ActorStopped"
#: How long a message for a name nobody has spawned yet waits before it is a dead letter.
PARK_SECONDS = 5.0
#: The most frames one send carries (group commit).
_BATCH = 512
#: How many remote refs a member keeps for reuse (see ClusterNode.remote_ref).
_REF_CACHE = 1024
#: Where frames go: ``("member", system_id)`` (its inbox) or ``("shard", n)``.
_Dest = tuple[str, Any]


def parse_uri(uri: str) -> tuple[str, str]:
    """``"papyra://shop.node-b/orders"`` -> ``("shop.node-b", "orders")``.

    A pure function: call it from anywhere.

    :raises ValueError: ``uri`` is not a str of the form ``papyra://<system>/<actor>``.
    """
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise ValueError(f"not a papyra URI (papyra://<system>/<actor>): {uri!r}")
    system, sep, target = uri[len(SCHEME):].partition("/")
    if not system or not sep or not target:
        raise ValueError(f"not a papyra URI (papyra://<system>/<actor>): {uri!r}")
    return system, target


def shard_home(shard: int, hosts: Collection[str]) -> str:
    """The member that should own ``shard`` among ``hosts`` (rendezvous hashing: the highest
    weight wins, so a member joining or leaving moves only the shards it gains or loses)."""
    return max(sorted(hosts), key=lambda member: zlib.crc32(f"{member}|{shard}".encode()))


def _never_put(item: Any) -> Any:
    raise ActorStopped("A remote ref has no local mailbox.")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RemoteActorRef(ActorRef[_M, _R]):
    """A ref to an actor of another member of the cluster; used like any :class:`ActorRef`.

    ``tell`` returns once the transport has accepted the message; ``ask`` needs a ``timeout``
    (``ValueError`` without one). Made by ``system.ref_for_name(name, system=...)``,
    ``system.ref_for("papyra://system/name")``, or received in a message. Two remote refs are
    equal when they name the same target on the same member.
    """

    _target: str = ""
    _node: Any = field(default=None, compare=False)
    #: where its frames go: ("member", system id), or ("shard", n) for an entity
    _dest: _Dest = field(default=("member", ""), compare=False)

    @property
    def system_id(self) -> str:
        """The member the actor lives on."""
        assert self._address is not None
        return self._address.system

    @property
    def uri(self) -> str:
        """``papyra://{system}/{name}`` (or ``/#{id}~{run}`` for an unnamed actor)."""
        return f"{SCHEME}{self.system_id}/{self._target}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteActorRef):
            return NotImplemented
        return self.uri == other.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def __repr__(self) -> str:
        return f"RemoteActorRef({self.uri})"

    def is_alive(self) -> bool:
        """True while the member holds a current lease (as of its last heartbeat seen here)."""
        return bool(self._node.member_alive(self.system_id))

    def tell(self, message: Any) -> Coroutine[Any, Any, None]:
        """Send ``message``; returns once the transport accepted it (see docs/cluster.md).

        Await it in any task of the system's event loop. The message is encoded at the call;
        sends made while one to the same member is under way go with the next (group commit),
        in call order. While the target's backlog is at ``max_backlog`` it waits, like a
        ``tell`` to a full local mailbox.

        :raises MessageNotSerializable: the codec cannot carry ``message`` (nothing is sent).
        :raises ActorStopped: the system is closed, or closes while the send waits.
        :raises ConnectionError: the transport cannot reach its engine (Redis).
        """
        return self._node.tell(self, message)  # type: ignore[no-any-return]

    send = tell

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the reply, at most ``timeout`` seconds (required).

        Await it in any task of the system's event loop. The deadline travels with the
        request: the receiving member skips it once the deadline has passed. An ask that
        timed out may still have run there.

        :raises ValueError: ``timeout`` is None, or not a positive finite number.
        :raises AskTimeout: no reply within ``timeout`` seconds.
        :raises RemoteError: the remote handler raised (its type name and message).
        :raises ActorStopped: the target does not exist or has stopped, or this system closed.
        :raises MessageNotSerializable: the codec cannot carry ``message``.
        """
        return await self._node.ask(self, message, timeout)

    def proxy(self) -> Any:
        """Not available for a remote actor: proxies call methods of a local actor object.

        :raises TypeError: always; send messages to a remote actor instead.
        """
        raise TypeError("proxies work on local actors only; send messages to a remote actor.")


ENTITY_SCHEME = "papyra-entity://"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class EntityRef(RemoteActorRef[_M, _R]):
    """A ref to entity ``kind``/``key``, wherever in the cluster it currently lives.

    Messages go to the entity's shard; the member holding that shard's lease spawns the
    entity on its first message. Made by ``system.entity(kind, key)``.
    """

    @property
    def kind(self) -> str:
        """The entity kind, as registered with ``system.register_entity(kind, factory)``."""
        return self._target[len("entity:"):].partition("/")[0]

    @property
    def key(self) -> str:
        """The entity's key within its kind (it picks the shard)."""
        return self._target[len("entity:"):].partition("/")[2]

    @property
    def uri(self) -> str:
        """``papyra-entity://{kind}/{key}``: the wire form, valid on every member."""
        return f"{ENTITY_SCHEME}{self.kind}/{self.key}"

    def __repr__(self) -> str:
        return f"EntityRef({self.kind!r}, {self.key!r})"

    def is_alive(self) -> bool:
        """Always True: an entity is spawned wherever its shard is, when a message comes."""
        return True


class CheckedActorRef(ActorRef[_M, _R]):
    """The local ref of a member whose transport has ``check_local=True``: every message is
    run through the cluster codec before it is sent, so one that could not cross the wire
    fails here, at the call, with ``MessageNotSerializable``."""

    __slots__ = ()

    def _check(self, message: Any) -> None:
        cell = self._cell
        node = None if cell is None else getattr(cell.host, "cluster", None)
        if node is not None and message is not STOP:
            node.transport.codec.decode(node._encode(message), node.ref_from_uri)

    async def tell(self, message: Any) -> None:
        self._check(message)
        await super().tell(message)

    send = tell

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        self._check(message)
        return await super().ask(message, timeout=timeout)


class _Delivery:
    """The reply slot of a message that came over the wire: the kernel completes it once the
    handler has finished, which settles the frame and, for an ask, sends the reply."""

    __slots__ = ("corr", "finished", "message_id", "node", "reply_to", "shard", "token")

    def __init__(
        self, node: ClusterNode, token: Token, message_id: str, reply_to: str,
        corr: str | None, shard: int | None = None,
    ) -> None:
        self.node = node
        self.shard = shard
        self.token = token
        self.message_id = message_id
        self.reply_to = reply_to
        self.corr = corr
        self.finished = False

    def done(self) -> bool:
        return self.finished

    def cancelled(self) -> bool:
        return False

    def set_result(self, value: Any) -> None:
        if not self.finished:
            self.finished = True
            self.node._handled(self, value, None)

    def set_exception(self, exc: BaseException) -> None:
        if not self.finished:
            if isinstance(exc, ActorStopped) and self.hand_back():
                return
            self.finished = True
            self.node._handled(self, None, exc)

    def hand_back(self) -> bool:
        """Leave the message unsettled, to be delivered again, when it could not be handled
        because this member is shutting down or no longer owns the message's shard."""
        if self.finished:
            return False
        node = self.node
        if not (node.closing or (
            self.shard is not None and self.shard not in node.transport.owned
        )):
            return False
        self.finished = True
        node._in_hand.discard(self.token)
        if self.shard is not None:
            node._inflight[self.shard] -= 1
        return True


class _Run:
    """The reply slot shared by the tells to one actor from this member's inbox that one read
    handed out (one ``Envelope`` each, one slot for all): each completion counts down, and once
    the read is over (:meth:`seal`) and all of them are done, their frames are settled
    together. Costs one object per actor per read instead of one per message."""

    __slots__ = ("cell", "finished", "left", "node", "sealed", "tokens")

    def __init__(self, node: ClusterNode, cell: ActorCell) -> None:
        self.node = node
        self.cell = cell  # the actor's
        self.tokens: list[Token] = []
        self.left = 0  # messages put into the mailbox and not completed yet
        self.sealed = False  # the read is over: no more messages join
        self.finished = False  # settled, or handed back

    def done(self) -> bool:
        return self.finished

    def cancelled(self) -> bool:
        return False

    def join(self, token: Token, message: Any) -> bool:
        """Put ``message`` into the actor's mailbox with this slot if there is room now; False
        when there is none (or the mailbox closed): the caller then delivers it on its own."""
        try:
            if not self.cell.mailbox.offer(Envelope(message, self)):
                return False
        except MailboxClosed:
            return False
        self.tokens.append(token)
        self.left += 1
        self.node._in_hand.add(token)
        return True

    def set_result(self, value: Any) -> None:
        self.left -= 1
        if self.left == 0 and self.sealed:
            self._finish()

    def set_exception(self, exc: BaseException) -> None:
        if isinstance(exc, ActorStopped) and self.hand_back():
            return
        self.set_result(None)  # a tell's failure is the actor's (its supervision): handled

    def seal(self) -> None:
        self.sealed = True
        if self.left == 0:
            self._finish()

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.node._settle_all(self.tokens)

    def hand_back(self) -> bool:
        """Leave the frames unsettled, to be delivered again, when this member is shutting
        down (``_Delivery.hand_back``); true for each of the run's messages left over."""
        if not self.node.closing:
            return False
        if not self.finished:
            self.finished = True
            self.node._in_hand.difference_update(self.tokens)
        return True


class ClusterNode:
    """One system's membership of a cluster (made by ``ActorSystem(transport=...)``).

    Internal to the system: user code reaches it through ``ActorSystem`` (``ref_for_name(...,
    system=...)``, ``ref_for``, ``entity``) and the refs it returns. Its methods run in the
    system's event loop; the reading, writing and heartbeat loops are tasks of the system
    (see :meth:`run`).
    """

    def __init__(self, system: ActorSystem, transport: Transport) -> None:
        self.system = system
        self.transport = transport
        self.member = system.system_id
        self.run_id = uuid.uuid4().hex[:12]
        self._id_prefix = f"{self.member}/{self.run_id}/"
        self._seq = itertools.count(1)
        self._asks: dict[str, Any] = {}
        self._refs: dict[tuple[str, str], RemoteActorRef] = {}  # see remote_ref
        # destination -> frames waiting to be sent there with their callers' futures (the
        # first entries are those in flight); see _enqueue
        self._sending: dict[_Dest, list[tuple[Frame, Any]]] = {}
        self._sender = False  # a sender (a caller, or the drain task) is at work
        # destinations at their backlog bound -> (when to try again, the pause after that)
        self._full: dict[_Dest, tuple[float, float]] = {}
        # a future of the running loop (asyncio's own method once run() knows the loop)
        self._new_future: Callable[[], Any] = _accel.dispatch.create_future
        self._outbox: dict[str, list[Frame]] = defaultdict(list)
        self._done: list[tuple[Token, str | None]] = []  # (token, message id) to settle
        # tokens handed to an actor and not settled yet: a re-read of the pending frames
        # (after a shard's frames were claimed) must not deliver them twice
        self._in_hand: set[Token] = set()
        self._wake = anyio.Event()
        self._flush_lock = anyio.Lock()
        self._parked: list[tuple[float, Token, Frame]] = []
        # watcher side: (member, target) -> rids of local watchers
        self._watching: dict[tuple[str, str], set[int]] = {}
        # target side: rid -> {(member, the target as that member named it)}
        self._watched_by: dict[int, set[tuple[str, str]]] = {}
        self._live: dict[str, MemberInfo] = {}
        # entities: kind -> factory; shard -> rids of the entities living here; shard ->
        # deliveries not yet handled; shards being handed over (not read any more).
        self.entity_kinds: dict[str, Callable[[], Any]] = system._entity_kinds
        # bound methods made once: the reader and every tell use them
        self._codec_encode = transport.codec.encode
        self._uri_of = self.uri_of
        self._decode = transport.codec.decode
        self._ref_from_uri = self.ref_from_uri
        self._shard_entities: dict[int, set[int]] = defaultdict(set)
        self._inflight: dict[int, int] = defaultdict(int)
        self._handing_over: set[int] = set()
        self._reader: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self.closed = False
        self.closing = False  # the system is shutting down: unhandled messages are handed back

    # -- identity -----------------------------------------------------------------------------

    def _message_id(self) -> str:
        return f"{self._id_prefix}{next(self._seq)}"

    def member_alive(self, member: str) -> bool:
        """Whether ``member`` is this member or held a current lease at the last heartbeat."""
        return member == self.member or member in self._live

    def cached_ref(self, member: str, target: str) -> RemoteActorRef | None:
        """The ref :meth:`remote_ref` made for ``member``/``target`` lately, if it kept it."""
        return self._refs.get((member, target))

    def remote_ref(self, member: str, target: str) -> RemoteActorRef:
        """A ref to ``target`` (a name, ``#id`` or ``#id~run``) on ``member``.

        Refs are immutable, so the last ones made are kept and handed out again (code that
        calls ``ref_for_name`` per message makes one, not one per message).

        :raises ValueError: ``target`` starts with ``#`` but holds no actor id.
        """
        ref = self._refs.get((member, target))
        if ref is not None:
            return ref
        actor_id = 0
        if target.startswith("#"):
            number = target[1:].partition("~")[0]
            if not number.isdigit():
                raise ValueError(f"not an actor id: {target!r}")
            actor_id = int(number)
        ref = RemoteActorRef(
            actor_id, _never_put, _always, None, ActorAddress(member, actor_id),
            _target=target, _node=self, _dest=("member", member),
        )
        if len(self._refs) >= _REF_CACHE:
            self._refs.clear()
        self._refs[(member, target)] = ref
        return ref

    def is_remote(self, ref: Any) -> bool:
        """Whether ``ref`` points to an actor of another member (or to an entity)."""
        return isinstance(ref, RemoteActorRef)

    def uri_of(self, obj: Any) -> str | None:
        """The wire form of an actor ref (the codec's ``refs``), None for anything else."""
        if isinstance(obj, RemoteActorRef):
            return obj.uri
        if isinstance(obj, ActorRef):
            cell = obj._cell
            if cell is not None and cell.host is self.system._lifecycle:
                return f"{SCHEME}{self.member}/#{cell.rid}~{self.run_id}"
        return None

    def entity_ref(self, kind: str, key: str) -> EntityRef:
        """A ref to entity ``kind``/``key`` (arguments checked by ``ActorSystem.entity``)."""
        return EntityRef(
            0, _never_put, _always, None, ActorAddress("*", 0),
            _target=f"entity:{kind}/{key}", _node=self,
            _dest=("shard", self.transport.shard_of(kind, key)),
        )

    def ref_from_uri(self, uri: str) -> ActorRef:
        """An actor ref from its wire form: a local ref when it points here and still runs."""
        if uri.startswith(ENTITY_SCHEME):
            kind, _, key = uri[len(ENTITY_SCHEME):].partition("/")
            return self.entity_ref(kind, key)
        member, target = parse_uri(uri)
        if member == self.member:
            cell = self._resolve(target)
            if cell is not None:
                return self.system._lifecycle.ref(cell)
        return self.remote_ref(member, target)

    def _resolve(self, target: str) -> ActorCell | None:
        lifecycle = self.system._lifecycle
        if target.startswith("#"):
            number, _, run = target[1:].partition("~")
            if run and run != self.run_id:
                return None  # an actor of an earlier run of this member
            return lifecycle.by_id.get(int(number)) if number.isdigit() else None
        rid = lifecycle.names.get(target)
        return None if rid is None else lifecycle.by_id.get(rid)

    # -- sending ------------------------------------------------------------------------------

    def _encode(self, message: Any) -> bytes:
        return _own(self._codec_encode(message, self._uri_of))

    async def tell(self, ref: RemoteActorRef, message: Any) -> None:
        """:meth:`RemoteActorRef.tell`: encode, queue for the destination, await acceptance.

        :raises ActorStopped: the system is closed, or closed while the send waited.
        :raises MessageNotSerializable: the codec cannot carry ``message``.
        :raises ConnectionError: the engine cannot be reached.
        """
        if self.closed:
            raise ActorStopped("The actor system is closed.", reason="shutdown")
        fut = self._enqueue(ref, {
            "k": "t", "to": ref._target, "m": self._encode(message),
        })
        if not self._sender:  # nothing is being sent: send it from here
            await self._send_now()
        await fut

    def _enqueue(self, ref: RemoteActorRef, frame: Frame) -> Any:
        """Queue ``frame`` for its destination; the future returned is done once the transport
        accepted the frame (or failed with why not).

        Group commit: what is queued while a send is under way goes in the next one, which
        carries the frames of every destination (a member's inbox, a shard) in one round trip,
        in call order per destination. The caller sends it itself when no sender is at work
        (:meth:`_send_now`), else only awaits the future.
        """
        dest = ref._dest
        if dest[0] == "shard":
            frame["s"] = str(dest[1])
            if "i" not in frame:  # the de-duplication key where the shard changes hands
                frame["i"] = f"{self._id_prefix}{next(self._seq)}"
        queue = self._sending.get(dest)
        if queue is None:
            queue = self._sending[dest] = []
        fut = self._new_future()
        queue.append((frame, fut))
        return fut

    async def _send_now(self) -> None:
        """Send what is queued from the calling task, once, when the engine can make one
        attempt that does not wait for room (``try_send_many``): a task switch less for a lone
        send. Everything else (callers' frames queued meanwhile, a target at its backlog
        bound) goes on with the member's sender task, which callers only wait for: a caller
        cancelled meanwhile does not cancel that send. Before the member's tasks run, the
        caller sends it all itself."""
        self._sender = True
        if self._tg is None:
            await self._drain()
            return
        handed = False
        try:
            if getattr(self.transport, "try_send_many", None) is not None:
                await self._send_round(cancelled="The send was cancelled.")
        finally:
            if self._sending and self._tg is not None:
                self._tg.start_soon(self._drain)
                handed = True
            if not handed:
                self._sender = False

    async def _send_round(self, *, cancelled: str = "") -> bool:
        """One round trip carrying up to ``_BATCH`` queued frames of every destination not
        waiting for room. Accepted frames leave their queue, their callers released; those of
        a destination at its backlog bound stay, and it is tried again after a pause that
        grows while it stays full. False when nothing could be sent (every destination with
        frames is waiting for room)."""
        now = anyio.current_time()
        full = self._full
        batches: dict[_Dest, list[tuple[Frame, Any]]] = {}
        for dest, queue in self._sending.items():
            if queue and (dest not in full or full[dest][0] <= now):
                batches[dest] = queue[:_BATCH]
        if not batches:
            return False
        frames = {dest: [frame for frame, _ in batch] for dest, batch in batches.items()}
        try:
            outcome = await self._send_many(frames)
        except Exception as exc:  # none was sent, or it cannot be known: the callers get why
            outcome = dict.fromkeys(batches, exc)
        except BaseException:
            if cancelled:  # the caller's task: the frames may or may not have gone
                outcome = dict.fromkeys(
                    batches, ActorStopped(cancelled, reason="shutdown")
                )
                self._done_with(batches, outcome)
            raise
        self._done_with(batches, outcome)
        return any(result is not False for result in outcome.values())

    def _done_with(
        self, batches: dict[_Dest, list[tuple[Frame, Any]]], outcome: dict[_Dest, Any]
    ) -> None:
        """Release the callers of each batch per its outcome (True: accepted, an exception:
        refused or unknown) and drop those frames; a batch whose target is full stays."""
        sending = self._sending
        for dest, batch in batches.items():
            result = outcome.get(dest, False)
            if result is False:
                pause = min(self._full[dest][1] * 2, 0.1) if dest in self._full else 0.001
                self._full[dest] = (anyio.current_time() + pause, pause)
                continue
            self._full.pop(dest, None)
            _settle_futures(batch, None if result is True else result)
            queue = sending.get(dest)
            if queue is not None:
                del queue[:len(batch)]
                if not queue:
                    del sending[dest]

    async def _send_many(self, frames: dict[_Dest, list[Frame]]) -> dict[_Dest, Any]:
        """``frames`` sent, per destination: True when accepted, False when its target is at
        its backlog bound (nothing sent there), or the exception that refused it. In one round
        trip where the engine can (``try_send_many``); else one ``send`` after another, each
        waiting for room."""
        many = getattr(self.transport, "try_send_many", None)
        if many is not None:
            return dict(await many(frames))
        outcome: dict[_Dest, Any] = {}
        for dest, batch in frames.items():
            try:
                if dest[0] == "shard":
                    await self.transport.send_shard(dest[1], batch)
                else:
                    await self.transport.send(dest[1], batch)
            except Exception as exc:
                outcome[dest] = exc
            else:
                outcome[dest] = True
        return outcome

    async def _drain(self) -> None:
        """Send what is queued, round after round, until nothing is (then no sender is at
        work).

        Runs as a task of the member (callers only wait for their futures: a caller cancelled
        meanwhile does not cancel the send, and its frame may still go, as with ``ask``).
        Later callers only append to the queues. After each round it lets the callers it
        released run before it looks again, so that their next frames go together rather than
        one by one. While every destination with frames waits for room, it sleeps until the
        first may be tried again (as a ``tell`` to a full mailbox waits).
        """
        try:
            while self._sending:
                if not await self._send_round():
                    waits = [self._full[d][0] for d in self._sending if d in self._full]
                    await anyio.sleep(max(0.0, min(waits) - anyio.current_time())
                                      if waits else 0.0)
                await anyio.lowlevel.checkpoint()
        except BaseException as exc:  # cancelled: the member is closing
            stopped = ActorStopped(
                f"The actor system is closed ({type(exc).__name__}).", reason="shutdown"
            )
            for queue in self._sending.values():
                _settle_futures(queue, stopped)
            self._sending.clear()
            raise
        finally:
            self._sender = False

    async def ask(self, ref: RemoteActorRef, message: Any, timeout: float | None) -> Any:
        """:meth:`RemoteActorRef.ask`: send the request with its deadline, await the reply.

        :raises ValueError: no ``timeout``, or one that is not a positive finite number.
        :raises AskTimeout: no reply within ``timeout`` seconds.
        :raises ActorStopped: the system is closed; or the target cannot take the message.
        :raises RemoteError: the remote handler raised.
        """
        if timeout is None:
            raise ValueError(
                f"ask() to {ref.uri} needs a timeout: a remote actor may never answer "
                "(its member may be gone)."
            )
        _check_timeout(timeout)
        if self.closed:
            raise ActorStopped("The actor system is closed.", reason="shutdown")
        payload = self._encode(message)
        corr = self._message_id()
        fut = _accel.dispatch.create_future()
        self._asks[corr] = fut
        frame = {
            "k": "a", "i": corr, "c": corr, "f": self.member, "to": ref._target, "m": payload,
            "d": str(int((time.time() + float(timeout)) * 1000)),
        }
        try:
            with anyio.move_on_after(timeout):
                sent = self._enqueue(ref, frame)
                if not self._sender:
                    await self._send_now()
                await sent
                return await fut
            raise AskTimeout(f"ask() to {ref.uri} timed out after {timeout} seconds.")
        finally:
            self._asks.pop(corr, None)

    def _queue(self, member: str, frame: Frame) -> None:
        self._outbox[member].append(frame)
        self._wake.set()

    def _settle(self, token: Token, message_id: str | None) -> None:
        self._in_hand.discard(token)
        self._done.append((token, message_id))
        self._wake.set()

    def _settle_all(self, tokens: list[Token]) -> None:
        """:meth:`_settle` the frames of ``tokens`` (a run: no message ids to remember)."""
        self._in_hand.difference_update(tokens)
        self._done += [(token, None) for token in tokens]
        self._wake.set()

    def _handled(self, delivery: _Delivery, value: Any, exc: BaseException | None) -> None:
        """A delivered message was handled (the kernel completed its reply slot)."""
        if delivery.shard is not None:
            self._inflight[delivery.shard] -= 1
        if delivery.corr is not None:
            if exc is None:
                try:
                    self._queue(delivery.reply_to, {
                        "k": "r", "c": delivery.corr, "m": self._encode(value),
                        "f": self.member,
                    })
                except MessageNotSerializable as error:
                    self._reply_error(delivery.reply_to, delivery.corr, error)
            else:
                self._reply_error(delivery.reply_to, delivery.corr, exc)
        # Marks of handled messages matter where another member may take the frames over
        # (a shard changing hands): only there are they written.
        self._settle(delivery.token, delivery.message_id if delivery.shard is not None else None)

    def _reply_error(self, member: str, corr: str, exc: BaseException) -> None:
        kind = type(exc)
        type_name = (
            _STOPPED_TYPE if isinstance(exc, ActorStopped)
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        try:
            text = str(exc)
        except Exception:
            text = "<str() failed>"
        self._queue(member, {
            "k": "e", "c": corr, "f": self.member,
            "m": orjson.dumps({"type": type_name, "message": text}),
        })

    # -- running ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Join the cluster (the system's ``start()``); raises when the engine is unreachable."""
        if getattr(self.transport, "check_local", False):
            lifecycle = self.system._lifecycle
            base = lifecycle.ref_class
            lifecycle.ref_class = CheckedActorRef if base is ActorRef else type(
                f"Checked{base.__name__}", (CheckedActorRef, base), {"__slots__": ()}
            )
        await self.transport.open(self.member)
        await self.transport.heartbeat(self._info())
        self._live = await self.transport.members()
        if self.entity_kinds:
            await self._rebalance(self._live)

    def _info(self) -> dict[str, Any]:
        return {
            "system_id": self.member, "run": self.run_id,
            "actors": len(self.system._lifecycle.by_id), "entities": sorted(self.entity_kinds),
            "dead_letters": self.system.dead_letters.total,
            "shards": getattr(self.transport, "shards", None),
        }

    async def run(self) -> None:
        """The member's tasks: read the inbox, write replies and acks, heartbeat."""
        loop = asyncio._get_running_loop()
        if loop is not None:
            self._new_future = loop.create_future
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._read_loop)
            tg.start_soon(self._write_loop)
            tg.start_soon(self._heartbeat_loop)

    def stop_reading(self) -> None:
        """Take no new message (the system is closing); what was delivered still runs."""
        self.closing = True
        if self._reader is not None:
            self._reader.cancel()

    async def aclose(self) -> None:
        """After the actors have finished: send the last replies and acks, leave the cluster."""
        self.closed = True
        self.stop_reading()
        try:
            with anyio.move_on_after(10):
                await self._flush()
            await self.transport.leave()
        except Exception:
            log.warning("the cluster member %s did not leave cleanly", self.member,
                        exc_info=True)
        finally:
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
            for fut in self._asks.values():
                if not fut.done():
                    fut.set_exception(ActorStopped("The actor system is closed.",
                                                   reason="shutdown"))
            await self.transport.aclose()

    async def _read_loop(self) -> None:
        pause = 0.05
        with anyio.CancelScope() as scope:
            self._reader = scope
            while True:
                try:
                    batch = await self.transport.receive(getattr(
                        self.transport, "read_batch", 256))
                    pause = 0.05
                    if batch:
                        await self._dispatch_batch(batch)
                    if self._parked:
                        await self._retry_parked()
                except (ConnectionError, OSError) as exc:
                    log.warning("cluster member %s cannot read its inbox: %s", self.member, exc)
                    await anyio.sleep(pause)
                    pause = min(pause * 2, 2.0)

    async def _dispatch_batch(self, batch: list[tuple[Token, Frame]]) -> None:
        # Only a frame of a shard ("s") handed out before (re-read: it carries its count "n")
        # can have been handled already, by the member that held the shard before.
        ids = [
            (token, frame["i"]) for token, frame in batch
            if "n" in frame and "s" in frame and frame.get("k") in ("t", "a")
        ]
        seen = await self.transport.handled(ids) if ids else set()
        in_hand = self._in_hand
        runs: dict[str, _Run] = {}  # target -> the tells of this read to it (see _Run)
        decode, refs = self._decode, self._ref_from_uri
        try:
            for token, frame in batch:
                if token in in_hand:
                    continue  # being handled right now: read again with the pending frames
                if seen and frame.get("i") in seen:
                    self._settle(token, None)  # handled before a crash: a duplicate
                    continue
                kind = frame.get("k")
                if kind == "t" and len(frame) == 3 and not self._parked:
                    # Most frames: a plain tell (only k, to, m) to an actor this read has
                    # already put tells into: straight into its mailbox, with its run.
                    run = runs.get(frame.get("to", ""))
                    if run is not None and run.cell.accepting:
                        try:
                            message = decode(frame.get("m", b""), refs)
                        except Exception:
                            pass  # _deliver decodes it again and says why it cannot
                        else:
                            if message is not STOP and run.join(token, message):
                                continue
                if kind == "t" or kind == "a":
                    wait = self._deliver(token, frame, runs=runs)
                    if wait is not None:
                        await wait  # the mailbox is full: reading waits with it
                else:
                    self._dispatch(token, frame, kind)
        finally:
            for run in runs.values():
                run.seal()

    def _dispatch(self, token: Token, frame: Frame, kind: Any) -> None:
        """A frame that is not a message for an actor: a reply, a watch, a notice."""
        if kind == "r" or kind == "e":
            self._reply_arrived(frame)
        elif kind == "w":
            self._watch_arrived(frame)
        elif kind == "x":
            self._terminated_arrived(frame)
        else:
            log.warning("cluster member %s dropped a frame of unknown kind %r", self.member, kind)
        self._settle(token, None)

    def _deliver(
        self, token: Token, frame: Frame, parked_since: float | None = None,
        runs: dict[str, _Run] | None = None,
    ) -> Coroutine[Any, Any, None] | None:
        """Hand a message frame to its actor: into the mailbox at once when there is room
        (None), else the wait for room, to be awaited by the reader (back-pressure). A tell
        from this member's inbox joins its actor's entry of ``runs``, if given (see _Run)."""
        target = frame.get("to", "")
        try:
            message = self._decode(frame.get("m", b"null"), self._ref_from_uri)
        except Exception as exc:
            self._undeliverable(frame, target, f"it could not be decoded: {exc}", token)
            return None
        if "n" in frame:  # handed out before
            deliveries = int(frame["n"])
            limit = getattr(self.transport, "max_deliveries", None)
            if limit is not None and deliveries > limit:
                self._undeliverable(
                    frame, target, f"it was handed out {deliveries} times without being handled",
                    token, message=message,
                )
                return None
        deadline = frame.get("d")
        if deadline is not None and time.time() * 1000 > int(deadline):
            self._undeliverable(frame, target, "its ask deadline passed before delivery", token,
                                reply=False, message=message)
            return None
        if target.startswith("entity:"):
            shard = int(frame.get("s", -1))
            if shard not in self.transport.owned:
                return None  # handed over meanwhile: left pending, its next owner claims it
            try:
                entity = self._entity(target, shard)
            except Exception as exc:
                self._undeliverable(frame, target, str(exc), token, message=message)
                return None
            return self._put(entity, token, frame, message, target, shard)
        cell = self._resolve(target)
        if parked_since is None and self._parked and any(
            f.get("to") == target for _, _, f in self._parked
        ):
            cell = None  # behind earlier messages to the same name: keep their order
        if cell is None:
            if not target.startswith("#") and parked_since is None:
                self._parked.append((anyio.current_time(), token, frame))
                return None
            self._undeliverable(frame, target, "no such actor", token, message=message)
            return None
        if runs is not None and frame.get("k") == "t" and message is not STOP and cell.accepting:
            run = runs.get(target)
            if run is None or run.cell is not cell:
                if run is not None:
                    run.seal()  # the name is another actor's now: that run is complete
                run = runs[target] = _Run(self, cell)
            if run.join(token, message):
                return None
            # no room (or closed): this one goes with its own slot, waited for (or a dead letter)
        return self._put(cell, token, frame, message, target, None)

    def _put(
        self, cell: ActorCell, token: Token, frame: Frame, message: Any, target: str,
        shard: int | None,
    ) -> Coroutine[Any, Any, None] | None:
        """Into the mailbox if it has room now (None); else the wait for room (the reader
        reads on only when there is)."""
        corr = frame.get("c") if frame.get("k") == "a" else None
        delivery = _Delivery(self, token, frame.get("i", ""), frame.get("f", ""), corr, shard)
        self._in_hand.add(token)
        if shard is not None:
            self._inflight[shard] += 1
        envelope = Envelope(message, delivery)
        try:
            if not cell.accepting:
                raise MailboxClosed
            if not cell.mailbox.offer(envelope):
                return self._wait_put(cell, envelope, token, frame, target, shard)
        except MailboxClosed:
            self._closed_mailbox(token, frame, message, target, shard)
            return None
        if message is STOP:
            cell.stop_accepted()
        return None

    async def _wait_put(
        self, cell: ActorCell, envelope: Envelope, token: Token, frame: Frame, target: str,
        shard: int | None,
    ) -> None:
        message = envelope.message
        try:
            await cell.mailbox.put(envelope)
        except MailboxClosed:
            self._closed_mailbox(token, frame, message, target, shard)
            return
        except BaseException:
            self._in_hand.discard(token)
            if shard is not None:
                self._inflight[shard] -= 1
            raise
        if message is STOP:
            cell.stop_accepted()

    def _closed_mailbox(
        self, token: Token, frame: Frame, message: Any, target: str, shard: int | None
    ) -> None:
        if shard is not None:
            self._inflight[shard] -= 1
        self._undeliverable(frame, target, "the actor has stopped", token, message=message)

    def _entity(self, target: str, shard: int) -> ActorCell:
        """The local cell of entity ``target`` (``entity:Kind/key``), spawned on first use."""
        lifecycle = self.system._lifecycle
        rid = lifecycle.names.get(target)
        cell = None if rid is None else lifecycle.by_id.get(rid)
        if cell is not None and cell.alive and not cell.stopping:
            return cell
        kind = target[len("entity:"):].partition("/")[0]
        factory = self.entity_kinds.get(kind)
        if factory is None:
            raise LookupError(f"no entity kind {kind!r} is registered on {self.member}")
        if rid is not None and (cell is None or not cell.alive or cell.stopping):
            lifecycle.names.pop(target, None)  # the previous one is still shutting down
        ref = self.system.spawn(factory, name=target)
        new = lifecycle.cell_of(ref)
        assert new is not None
        self._shard_entities[shard].add(new.rid)
        return new

    async def _retry_parked(self) -> None:
        now = anyio.current_time()
        parked, self._parked = self._parked, []
        for since, token, frame in parked:
            target = frame.get("to", "")
            if self._resolve(target) is not None or now - since >= PARK_SECONDS:
                wait = self._deliver(token, frame, parked_since=since)
                if wait is not None:
                    await wait
            else:
                self._parked.append((since, token, frame))

    def _undeliverable(
        self, frame: Frame, target: str, why: str, token: Token, *, reply: bool = True,
        message: Any = None,
    ) -> None:
        """A dead letter on this side; an asker gets ActorStopped at once (not a timeout)."""
        corr = frame.get("c") if frame.get("k") == "a" else None
        self.system._facts.dead_letter(DeadLetter(
            target=f"{SCHEME}{self.member}/{target}",
            message=message if message is not None else frame.get("m", b""),
            expects_reply=corr is not None,
        ))
        log.info("message to %s%s/%s is a dead letter: %s", SCHEME, self.member, target, why)
        if corr is not None and reply:
            self._reply_error(frame.get("f", ""), corr, ActorStopped(
                f"{SCHEME}{self.member}/{target} cannot take the message: {why}."
            ))
        self._settle(token, frame.get("i") if "s" in frame else None)

    def _reply_arrived(self, frame: Frame) -> None:
        fut = self._asks.get(frame.get("c", ""))
        if fut is None or fut.done():
            return  # timed out already: a late reply is dropped
        data = frame.get("m", b"null")
        sender = frame.get("f", "?")
        if frame.get("k") == "r":
            try:
                fut.set_result(self.transport.codec.decode(data, self.ref_from_uri))
            except Exception as exc:
                fut.set_exception(exc)
            return
        info = orjson.loads(data)
        if info.get("type") == _STOPPED_TYPE:
            fut.set_exception(ActorStopped(str(info.get("message"))))
        else:
            fut.set_exception(RemoteError(
                str(info.get("type")), str(info.get("message")), system=sender
            ))

    async def _write_loop(self) -> None:
        pause = 0.05
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            try:
                await self._flush()
                pause = 0.05
            except (ConnectionError, OSError) as exc:
                log.warning("cluster member %s cannot send: %s", self.member, exc)
                self._wake.set()
                await anyio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _flush(self) -> None:
        together = getattr(self.transport, "send_and_settle", None)
        async with self._flush_lock:
            while together is not None and (self._outbox or self._done):
                # replies and acknowledgements in one round trip, where the engine can
                outbox, self._outbox = self._outbox, defaultdict(list)
                done, self._done = self._done, []
                try:
                    await together(outbox, done)
                except BaseException:
                    for member, frames in outbox.items():  # those not accepted (see there)
                        self._outbox[member][:0] = frames  # sent again first, next time
                    self._done[:0] = done  # settling again is harmless
                    raise
            while self._outbox or self._done:
                outbox, self._outbox = self._outbox, defaultdict(list)
                for member, frames in outbox.items():
                    try:
                        await self.transport.send(member, frames)
                    except BaseException:
                        self._outbox[member][:0] = frames  # sent again first, next time
                        for rest, more in outbox.items():
                            if rest != member and rest not in self._outbox:
                                self._outbox[rest] = more
                        raise
                done, self._done = self._done, []
                try:
                    await self.transport.settle(done)
                except BaseException:
                    self._done[:0] = done
                    raise

    # -- membership and watches ---------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = self.transport.heartbeat_interval
        while True:
            await anyio.sleep(interval)
            try:
                await self.transport.heartbeat(self._info())
                live = await self.transport.members()
            except (ConnectionError, OSError) as exc:
                log.warning("cluster member %s missed a heartbeat: %s", self.member, exc)
                continue
            self._live = live
            lost = {key for key in self._watching if key[0] not in live}
            for key in lost:
                self._notify_watchers(key)
            if self.entity_kinds:
                try:
                    await self._rebalance(live)
                except (ConnectionError, OSError) as exc:
                    log.warning("cluster member %s could not rebalance its shards: %s",
                                self.member, exc)

    async def _rebalance(self, live: dict[str, MemberInfo]) -> None:
        """Hold the leases of the shards this member should own, and only those.

        Each shard belongs to the live member with the highest rendezvous weight among the
        members that host entities; a shard that should move is first read no more, then
        handed over once its messages in progress are handled (its entities stopped).
        """
        transport = self.transport
        hosts = {m for m, info in live.items() if info.get("entities")} | {self.member}
        desired = {
            shard for shard in range(transport.shards) if shard_home(shard, hosts) == self.member
        }
        owned = set(await transport.renew())
        for shard in list(self._shard_entities):
            if shard not in owned and shard not in self._handing_over:
                self._stop_entities(shard)  # the lease was lost: another member has it
        for shard in owned - desired:
            if shard not in self._handing_over:
                self._handing_over.add(shard)
                transport.pause(shard)
        for shard in list(self._handing_over):
            if self._inflight.get(shard, 0) <= 0:
                self._handing_over.discard(shard)
                self._stop_entities(shard)
                await transport.release(shard)
        for shard in desired - owned:
            await transport.acquire(shard)

    def _stop_entities(self, shard: int) -> None:
        lifecycle = self.system._lifecycle
        for rid in self._shard_entities.pop(shard, set()):
            cell = lifecycle.by_id.get(rid)
            if cell is not None and cell.alive:
                lifecycle.stop_tree(cell)

    def watch(self, watcher: Any, target: RemoteActorRef) -> None:
        """``watcher`` (a local actor) gets ``ActorTerminated`` when ``target`` ends or its
        member is lost."""
        cell = self.system._lifecycle.cell_of(watcher)
        if cell is None or not cell.alive:
            return
        key = (target.system_id, target._target)
        watchers = self._watching.setdefault(key, set())
        first = not watchers
        watchers.add(cell.rid)
        if not self.member_alive(target.system_id):
            self._notify_watchers(key)
        elif first:
            self._queue(target.system_id, {
                "k": "w", "f": self.member, "to": target._target,
            })

    def unwatch(self, watcher: Any, target: RemoteActorRef) -> None:
        """``watcher`` no longer gets ``ActorTerminated`` for ``target`` (no-op if it did
        not watch it)."""
        cell = self.system._lifecycle.cell_of(watcher)
        watchers = self._watching.get((target.system_id, target._target))
        if cell is not None and watchers is not None:
            watchers.discard(cell.rid)

    def _notify_watchers(self, key: tuple[str, str]) -> None:
        rids = self._watching.pop(key, set())
        if not rids:
            return
        note = ActorTerminated(ref=self.remote_ref(*key))
        by_id = self.system._lifecycle.by_id
        for rid in rids:
            cell = by_id.get(rid)
            if cell is not None and cell.accepting:
                cell.mailbox.force(note)

    def _watch_arrived(self, frame: Frame) -> None:
        member = frame.get("f", "")
        target = frame.get("to", "")
        cell = self._resolve(target)
        if cell is None or not cell.alive:
            self._queue(member, {"k": "x", "f": self.member, "to": target})
            return
        self._watched_by.setdefault(cell.rid, set()).add((member, target))

    def _terminated_arrived(self, frame: Frame) -> None:
        self._notify_watchers((frame.get("f", ""), frame.get("to", "")))

    def terminated(self, cell: ActorCell) -> None:
        """A local actor is terminating (called by the lifecycle): tell remote watchers."""
        watchers = self._watched_by.pop(cell.rid, None)
        if not watchers:
            return
        for member, target in watchers:
            self._queue(member, {"k": "x", "f": self.member, "to": target})


def _settle_futures(batch: list[tuple[Frame, Any]], exc: BaseException | None) -> None:
    """The callers of ``batch`` learn the outcome of its send (None: accepted)."""
    for _, fut in batch:
        if not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)


def _always() -> bool:
    return True


def _own(data: bytes) -> bytes:
    """``data``, copied into the interpreter's small-object memory when it is small.

    For codec output held until its batch is sent (hundreds at a time). orjson writes into a
    buffer it takes from the C allocator and then shrinks; many of those alive at once can
    make glibc trim and regrow its heap on every batch, which costs a sender 1 to 2 µs a
    message in some processes and not in others. The copy (about 60 ns) frees that buffer at
    once, for the next message to reuse.
    """
    return b"".join((data, b"")) if len(data) <= 512 else data

"""``RedisStreamsTransport``: a cluster's messages carried by Redis Streams.

Keys, under ``{cluster}`` (a prefix of your choosing, default ``"papyra"``):

* ``{cluster}:inbox:{member}``: a stream per member. Every frame sent to the member is an
  entry; the member reads it through the consumer group ``papyra`` as consumer ``{member}``,
  acknowledges it once handled, then deletes it, so the stream's length is the member's
  backlog (unread plus in progress).
* ``{cluster}:member:{member}``: the member's lease, renewed by its heartbeat, expiring
  ``member_ttl`` seconds after the last one; ``{cluster}:members``: a hash of what each member
  announced (for ``papyra cluster status``).
* ``{cluster}:done:{message id}``: marks of handled messages, kept ``dedup_window`` seconds,
  so that a frame handed out again after a crash is recognised as handled.

Uses Papyra's own Redis client (no dependency): every request is bounded by ``timeout`` and
never retried silently (a send that failed raises ``ConnectionError`` at the caller).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from typing import Any

import anyio
import orjson

from papyra._redis.client import RedisClient, RedisResponseError
from papyra._redis.resp import ReplyError
from papyra.cluster.codec import Codec, JsonCodec
from papyra.cluster.transport import Frame, MemberInfo

__all__ = ("RedisStreamsTransport",)

_GROUP = "papyra"

# XADD every frame of KEYS[1] unless its backlog (XLEN) is at the bound ARGV[1] (0: none).
# ARGV[2]: how many frames; then, per frame, its field count and its fields and values.
_SEND_SCRIPT = """
local bound = tonumber(ARGV[1])
if bound > 0 and redis.call('XLEN', KEYS[1]) >= bound then return 0 end
local i = 3
local ids = {}
for f = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[i]) * 2
  local args = {}
  for j = 1, n do args[j] = ARGV[i + j] end
  i = i + n + 1
  ids[f] = redis.call('XADD', KEYS[1], '*', unpack(args))
end
return ids
"""
_SEND_SHA = hashlib.sha1(_SEND_SCRIPT.encode()).hexdigest()


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{what} must be a positive number of seconds, not {value!r}.")
    return float(value)


class RedisStreamsTransport:
    """Members of a cluster exchanging messages through Redis Streams (docs/cluster.md).

    ``ActorSystem(system_id="shop.node-b", transport=RedisStreamsTransport(url,
    cluster="shop"))``. One transport per system. Arguments:

    * ``url``: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS), ``unix://``.
    * ``cluster``: the key prefix; systems with the same server and ``cluster`` form a cluster.
    * ``codec``: how messages cross the wire (:class:`~papyra.cluster.codec.JsonCodec` by
      default; register your message types on it, identically on every member).
    * ``timeout``: the bound of every Redis request, seconds.
    * ``heartbeat_interval`` / ``member_ttl``: a member renews its lease every
      ``heartbeat_interval`` seconds and is considered lost ``member_ttl`` seconds after its
      last renewal (``member_ttl`` must exceed ``heartbeat_interval``).
    * ``max_backlog``: a sender waits while the target member's backlog is this long (``None``:
      no bound).
    * ``read_batch``: frames read per request.
    * ``dedup_window``: seconds a handled message id is remembered (duplicates after a
      fail-over are dropped within it).

    ``ValueError`` for out-of-range arguments, at construction.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        cluster: str = "papyra",
        codec: Codec | None = None,
        timeout: float = 5.0,
        heartbeat_interval: float = 1.0,
        member_ttl: float = 5.0,
        max_backlog: int | None = 10_000,
        read_batch: int = 256,
        dedup_window: float = 600.0,
    ) -> None:
        if not isinstance(cluster, str) or not cluster or any(c in cluster for c in " \n\r"):
            raise ValueError(f"cluster must be a non-empty name without spaces, not {cluster!r}.")
        self.heartbeat_interval = _positive(heartbeat_interval, "heartbeat_interval")
        self.member_ttl = _positive(member_ttl, "member_ttl")
        if self.member_ttl <= self.heartbeat_interval:
            raise ValueError(
                f"member_ttl ({member_ttl}) must be longer than heartbeat_interval "
                f"({heartbeat_interval}): a live member would otherwise look lost."
            )
        if max_backlog is not None and (
            isinstance(max_backlog, bool) or not isinstance(max_backlog, int) or max_backlog < 1
        ):
            raise ValueError(f"max_backlog must be None or an int >= 1, not {max_backlog!r}.")
        if isinstance(read_batch, bool) or not isinstance(read_batch, int) or read_batch < 1:
            raise ValueError(f"read_batch must be an int >= 1, not {read_batch!r}.")
        self.dedup_window = _positive(dedup_window, "dedup_window")
        if codec is not None and not isinstance(codec, Codec):
            raise TypeError(f"codec must have encode() and decode() (a Codec), not {codec!r}.")
        self.cluster = cluster
        self.codec: Codec = JsonCodec() if codec is None else codec
        self.max_backlog = max_backlog
        self.read_batch = read_batch
        self._redis = RedisClient(url, timeout=timeout)
        self._member: str | None = None
        # Where the re-reading of frames handed out before a restart is (None: done).
        self._backlog_cursor: str | None = "0"

    @property
    def url(self) -> str:
        return self._redis.url

    def __repr__(self) -> str:
        return f"RedisStreamsTransport({self.url!r}, cluster={self.cluster!r})"

    def inbox_key(self, member: str) -> str:
        return f"{self.cluster}:inbox:{member}"

    def _lease_key(self, member: str) -> str:
        return f"{self.cluster}:member:{member}"

    @property
    def _members_key(self) -> str:
        return f"{self.cluster}:members"

    def _done_key(self, message_id: bytes) -> bytes:
        return f"{self.cluster}:done:".encode() + message_id

    # -- joining ------------------------------------------------------------------------------

    async def open(self, member: str) -> None:
        self._member = member
        self._backlog_cursor = "0"
        try:
            await self._redis.execute_command(
                "XGROUP", "CREATE", self.inbox_key(member), _GROUP, "0", "MKSTREAM"
            )
        except RedisResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # the group exists: this member has run before
                raise

    # -- sending ------------------------------------------------------------------------------

    async def send(self, member: str, frames: Sequence[Frame]) -> None:
        if not frames:
            return
        args: list[Any] = [self.max_backlog or 0, len(frames)]
        for frame in frames:
            args.append(len(frame))
            for field, value in frame.items():
                args.append(field)
                args.append(value)
        key = self.inbox_key(member)
        pause = 0.001
        while True:
            reply = await self._eval(key, args)
            if reply != 0:
                return
            # The target's backlog is at its bound: wait like a full mailbox would, until
            # the member has caught up (or the caller's deadline cancels the wait).
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def _eval(self, key: str, args: list[Any]) -> Any:
        for verb, script in (("EVALSHA", _SEND_SHA), ("EVAL", _SEND_SCRIPT)):
            (reply,) = await self._redis.request(((verb, script, 1, key, *args),))
            if isinstance(reply, ReplyError):
                if verb == "EVALSHA" and reply.message.startswith("NOSCRIPT"):
                    continue
                raise RedisResponseError(reply.message)
            return reply
        raise AssertionError("unreachable")

    # -- receiving ----------------------------------------------------------------------------

    async def receive(self, count: int) -> list[tuple[str, Frame]]:
        member = self._member
        if member is None:
            raise RuntimeError("the transport has not joined a cluster: call open() first")
        key = self.inbox_key(member)
        while self._backlog_cursor is not None:
            # Frames handed out to this member before a restart and never settled.
            reply = await self._redis.execute_command(
                "XREADGROUP", "GROUP", _GROUP, member, "COUNT", count, "STREAMS", key,
                self._backlog_cursor,
            )
            entries, last, gone = _entries(reply)
            if gone:  # deleted while still pending: nothing left to hand out
                await self._redis.execute_command("XACK", key, _GROUP, *gone)
            if last is None:
                self._backlog_cursor = None
                break
            self._backlog_cursor = last
            if entries:
                return entries
        reply = await self._redis.execute_command(
            "XREADGROUP", "GROUP", _GROUP, member, "COUNT", count, "BLOCK", 250,
            "STREAMS", key, ">", extra_time=0.25,
        )
        return _entries(reply)[0]

    async def settle(self, tokens: Sequence[str], message_ids: Sequence[bytes]) -> None:
        member = self._member
        if member is None or not tokens:
            return
        key = self.inbox_key(member)
        window = int(self.dedup_window * 1000)
        commands: list[tuple[Any, ...]] = [
            ("SET", self._done_key(mid), b"1", "PX", window) for mid in message_ids
        ]
        commands.append(("XACK", key, _GROUP, *tokens))
        commands.append(("XDEL", key, *tokens))
        for reply in await self._redis.request(commands):
            if isinstance(reply, ReplyError):
                raise RedisResponseError(reply.message)

    async def handled(self, message_ids: Sequence[bytes]) -> set[bytes]:
        if not message_ids:
            return set()
        replies = await self._redis.request(
            [("EXISTS", self._done_key(mid)) for mid in message_ids]
        )
        return {mid for mid, reply in zip(message_ids, replies, strict=True) if reply == 1}

    # -- membership ---------------------------------------------------------------------------

    async def heartbeat(self, info: MemberInfo) -> None:
        member = self._member
        if member is None:
            return
        data = orjson.dumps({**info, "heartbeat_at": time.time()})
        ttl = int(self.member_ttl * 1000)
        for reply in await self._redis.request(
            [("SET", self._lease_key(member), data, "PX", ttl),
             ("HSET", self._members_key, member, data)]
        ):
            if isinstance(reply, ReplyError):
                raise RedisResponseError(reply.message)

    async def members(self) -> dict[str, MemberInfo]:
        reply = await self._redis.execute_command("HKEYS", self._members_key)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in reply or ()]
        if not names:
            return {}
        leases = await self._redis.request([("GET", self._lease_key(n)) for n in names])
        live: dict[str, MemberInfo] = {}
        for name, lease in zip(names, leases, strict=True):
            if isinstance(lease, bytes):
                live[name] = orjson.loads(lease)
        return live

    async def backlog(self, member: str) -> int:
        """Frames in ``member``'s inbox not yet handled (unread plus in progress)."""
        return int(await self._redis.execute_command("XLEN", self.inbox_key(member)))

    async def leave(self) -> None:
        member = self._member
        if member is None:
            return
        await self._redis.request([("DEL", self._lease_key(member))])

    async def aclose(self) -> None:
        self._member = None
        await self._redis.aclose()


def _entries(reply: Any) -> tuple[list[tuple[str, Frame]], str | None, list[str]]:
    """``XREADGROUP``'s reply: the ``(entry id, fields)`` pairs, the last entry id (None when
    there was none), and the ids of entries deleted meanwhile (no fields)."""
    out: list[tuple[str, Frame]] = []
    last: str | None = None
    gone: list[str] = []
    for _key, items in reply or ():
        for raw_id, flat in items:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            last = entry_id
            if flat is None:
                gone.append(entry_id)
                continue
            fields = {
                (flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])): flat[i + 1]
                for i in range(0, len(flat), 2)
            }
            out.append((entry_id, fields))
    return out, last, gone

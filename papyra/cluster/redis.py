"""``RedisStreamsTransport``: a cluster's messages carried by Redis Streams.

Keys, under ``{cluster}`` (a prefix of your choosing, default ``"papyra"``):

* ``{cluster}:inbox:{member}``: a stream per member. Every send to the member (one frame, or
  the frames that callers queued for it while the previous send was under way) is one entry,
  one field per frame (the header) whose value is the frame's payload; the member reads it
  through the consumer group ``papyra`` as consumer ``{member}``, acknowledges and deletes
  it once every frame in it was handled.
* ``{stream}:n``: how many frames ``{stream}`` holds (unread plus in progress): raised by a
  send and lowered by the settle that deletes an entry, both atomically with the change to
  the stream (Lua). It is the backlog a sender's bound is checked against.
* ``{cluster}:member:{member}``: the member's lease, renewed by its heartbeat, expiring
  ``member_ttl`` seconds after the last one; ``{cluster}:members``: a hash of what each member
  announced (for ``papyra cluster status``).
* ``{stream}:done``: a sorted set of the ids of the messages handled from ``{stream}``
  (scored by time, kept ``dedup_window`` seconds), so that a frame handed out again after a
  crash is recognised as handled.

Uses Papyra's own Redis client (no dependency): every request is bounded by ``timeout`` and
never retried silently (a send that failed raises ``ConnectionError`` at the caller).
"""

from __future__ import annotations

import hashlib
import math
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import orjson

from papyra._redis.client import RedisClient, RedisResponseError
from papyra._redis.resp import (
    ReplyError,
    decode_frames,
    encode_command,
    encode_commands,
    encode_frames,
)
from papyra.cluster.codec import Codec, JsonCodec
from papyra.cluster.transport import Frame, MemberInfo, Token

__all__ = ("RedisStreamsTransport",)

_GROUP = "papyra"

# Append one entry to KEYS[1] holding ARGV[2] frames (ARGV[3..]: header, payload, header,
# payload, ...) and count them in KEYS[2], unless that count is at the bound ARGV[1] (0: none).
_SEND_SCRIPT = """
local bound = tonumber(ARGV[1])
if bound > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= bound then return 0 end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('INCRBY', KEYS[2], ARGV[2])
return tonumber(ARGV[2])
"""
_SEND_SHA = hashlib.sha1(_SEND_SCRIPT.encode()).hexdigest()

# Extend / delete a shard lease only if this member (ARGV[1]) holds it.
_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# Forget member ARGV[1] from the hash KEYS[2] if its inbox KEYS[1] is empty.
_FORGET_SCRIPT = """
if redis.call('XLEN', KEYS[1]) == 0 then return redis.call('HDEL', KEYS[2], ARGV[1]) end
return 0
"""
# Acknowledge the entries ARGV[1], ARGV[3], ... of stream KEYS[1] (group "papyra") and delete
# them; the count KEYS[2] goes down by the frames (ARGV[2], ARGV[4], ...) of those this call
# deleted (a settle sent again deletes nothing and counts nothing).
_SETTLE_SCRIPT = """
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', KEYS[1], 'papyra', unpack(ids))
local gone = 0
for i = 1, #ARGV, 2 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then gone = gone + tonumber(ARGV[i + 1]) end
end
if gone > 0 and redis.call('DECRBY', KEYS[2], gone) < 0 then redis.call('SET', KEYS[2], 0) end
return gone
"""
_SETTLE_SHA = hashlib.sha1(_SETTLE_SCRIPT.encode()).hexdigest()
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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
    * ``read_batch``: stream entries read per request (an entry holds the frames of one
      send: one, or up to 512 sent together).
    * ``dedup_window``: seconds a handled message id is remembered (duplicates after a
      fail-over are dropped within it).
    * ``max_deliveries``: a message handed out this many times without being handled (its
      member died each time) becomes a dead letter instead of being handed out again.
    * ``check_local``: a test mode: every message sent to a *local* actor of the member is
      encoded too (and the send fails with ``MessageNotSerializable`` when it cannot be), so
      a message type that could never cross the wire is caught before it has to.
    * ``shards``: how many shards the entities (``system.entity(kind, key)``) are spread
      over; the same number on every member.

    Nothing connects at construction: the system opens the transport when it starts, and
    its member tasks use it from then on (in the system's event loop).

    :raises ValueError: an argument is out of range (a non-positive duration, ``member_ttl``
        not above ``heartbeat_interval``, a bad ``cluster`` name, ...), or the URL is invalid.
    :raises TypeError: ``check_local`` is not a bool, or ``codec`` has no ``encode`` and
        ``decode``.
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
        shards: int = 64,
        max_deliveries: int = 5,
        check_local: bool = False,
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
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 16384:
            raise ValueError(f"shards must be an int from 1 to 16384, not {shards!r}.")
        self.shards = shards
        if isinstance(max_deliveries, bool) or not isinstance(max_deliveries, int) or (
            max_deliveries < 1
        ):
            raise ValueError(f"max_deliveries must be an int >= 1, not {max_deliveries!r}.")
        self.max_deliveries = max_deliveries
        if not isinstance(check_local, bool):
            raise TypeError(f"check_local must be a bool, not {check_local!r}.")
        self.check_local = check_local
        if codec is not None and not isinstance(codec, Codec):
            raise TypeError(f"codec must have encode() and decode() (a Codec), not {codec!r}.")
        self.cluster = cluster
        self.codec: Codec = JsonCodec() if codec is None else codec
        self.max_backlog = max_backlog
        self.read_batch = read_batch
        self._redis = RedisClient(url, timeout=timeout)
        self._member: str | None = None
        # The streams this member reads (its inbox, the shards it owns) -> where re-reading
        # the frames handed out before and never settled is (None: done, read new ones).
        self._streams: dict[str, str | None] = {}
        self._owned: set[int] = set()
        # Entries of several frames handed out and not settled in full: (key, entry id) ->
        # the indexes of their frames not settled yet (see _settle_commands).
        self._open: dict[tuple[str, str], set[int]] = {}

    @property
    def url(self) -> str:
        """The Redis URL, password masked."""
        return self._redis.url

    def __repr__(self) -> str:
        return f"RedisStreamsTransport({self.url!r}, cluster={self.cluster!r})"

    def inbox_key(self, member: str) -> str:
        """The stream holding ``member``'s inbox: ``{cluster}:inbox:{member}``."""
        return f"{self.cluster}:inbox:{member}"

    def _lease_key(self, member: str) -> str:
        return f"{self.cluster}:member:{member}"

    @property
    def _members_key(self) -> str:
        return f"{self.cluster}:members"

    def shard_key(self, shard: int) -> str:
        """The stream holding ``shard``'s entity messages: ``{cluster}:shard:{shard}``."""
        return f"{self.cluster}:shard:{shard}"

    @staticmethod
    def _count_key(stream: str) -> str:
        return f"{stream}:n"

    def _owner_key(self, shard: int) -> str:
        return f"{self.cluster}:owner:{shard}"

    def shard_of(self, kind: str, key: str) -> int:
        """The shard of entity ``kind``/``key`` (the same on every member)."""
        return zlib.crc32(f"{kind}/{key}".encode()) % self.shards

    # -- joining ------------------------------------------------------------------------------

    async def open(self, member: str) -> None:
        """Join as ``member``: create its inbox stream and the consumer group (Transport)."""
        self._member = member
        self._streams = {}
        self._open = {}
        await self._join_stream(self.inbox_key(member))

    async def _join_stream(self, key: str) -> None:
        """Read ``key`` through the group (created if need be), its unsettled frames first."""
        try:
            await self._redis.execute_command("XGROUP", "CREATE", key, _GROUP, "0", "MKSTREAM")
        except RedisResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # the group exists: read before
                raise
        self._streams[key] = "0"

    # -- sending ------------------------------------------------------------------------------

    async def send(self, member: str, frames: Sequence[Frame]) -> None:
        """Append ``frames`` to ``member``'s inbox in one script call; waits while its
        backlog is at ``max_backlog`` (Transport)."""
        await self._append(self.inbox_key(member), frames)

    async def send_shard(self, shard: int, frames: Sequence[Frame]) -> None:
        """Append ``frames`` to the stream of ``shard``, read by its owner (whoever that is)."""
        await self._append(self.shard_key(shard), frames)

    async def try_send_many(
        self, batches: Mapping[tuple[str, Any], Sequence[Frame]]
    ) -> dict[tuple[str, Any], bool | Exception]:
        """One attempt of :meth:`send` / :meth:`send_shard` for several destinations
        (``("member", id)``, ``("shard", n)``) in one round trip, that does not wait for room.

        Per destination: True when its frames were accepted (one entry), False when its
        backlog was at its bound (nothing sent there), or the ``RedisResponseError`` that
        refused them. The frames of one destination are appended in one script call, so a
        destination never receives part of its batch.

        :raises ConnectionError: Redis cannot be reached (then it cannot be known which
            batches went in).
        """
        items = [(dest, frames) for dest, frames in batches.items() if frames]
        keys = [
            self.shard_key(dest[1]) if dest[0] == "shard" else self.inbox_key(dest[1])
            for dest, _ in items
        ]
        payload = b"".join([
            self._eval_payload("EVALSHA", _SEND_SHA, key, len(frames), encode_frames(frames))
            for key, (_, frames) in zip(keys, items, strict=True)
        ])
        outcome: dict[tuple[str, Any], bool | Exception] = {dest: True for dest in batches}
        if not items:
            return outcome
        replies = await self._redis.request_encoded(payload, len(items))
        for key, (dest, frames), reply in zip(keys, items, replies, strict=True):
            if isinstance(reply, ReplyError):
                if reply.message.startswith("NOSCRIPT"):  # not loaded yet (a restart)
                    outcome[dest] = await self._append(key, frames, wait=False)
                else:
                    outcome[dest] = RedisResponseError(reply.message)
            else:
                outcome[dest] = reply != 0
        return outcome

    async def _append(self, key: str, frames: Sequence[Frame], *, wait: bool = True) -> bool:
        if not frames:
            return True
        # All the frames go in one entry: a field per frame, its header fields as a JSON
        # object, whose value is the payload bytes. They are RESP-encoded here, once, and
        # appended to the script call's head.
        body = encode_frames(frames)
        pause = 0.001
        while True:
            reply = await self._eval(key, len(frames), body)
            if reply != 0:
                return True
            if not wait:
                return False
            # The target's backlog is at its bound: wait like a full mailbox would, until
            # the member has caught up (or the caller's deadline cancels the wait).
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def send_and_settle(
        self, outbox: dict[str, list[Frame]], done: Sequence[tuple[Token, str | None]]
    ) -> None:
        """:meth:`send` to each member of ``outbox``, then :meth:`settle` ``done``, in one round
        trip (a member's replies and acknowledgements go together). A destination whose
        backlog is at its bound is then sent to as :meth:`send` does (waiting for room).
        Members are removed from ``outbox`` once their frames are accepted: after an error,
        what is left there was not (or may not have been) sent. Called by the member's
        writer task.

        :raises RedisResponseError: Redis refused a send or a settle command.
        :raises ConnectionError: Redis cannot be reached.
        """
        sends = [(member, frames) for member, frames in outbox.items() if frames]
        commands = [
            self._eval_payload("EVALSHA", _SEND_SHA, self.inbox_key(member), len(frames),
                               encode_frames(frames))
            for member, frames in sends
        ]
        settle = self._settle_commands(done) if self._member is not None and done else []
        if settle:
            commands.append(encode_commands(settle))
        if not commands:
            return
        replies = await self._redis.request_encoded(b"".join(commands), len(sends) + len(settle))
        await self._settled(settle, replies[len(sends):])
        for (member, frames), reply in zip(sends, replies, strict=False):
            if reply != len(frames):
                if isinstance(reply, ReplyError) and not reply.message.startswith("NOSCRIPT"):
                    raise RedisResponseError(reply.message)
                # at the bound (0), or the script is not loaded yet
                await self._append(self.inbox_key(member), frames)
            del outbox[member]

    def _eval_payload(self, verb: str, script: str, key: str, count: int, body: bytes) -> bytes:
        """The send script's call for ``count`` frames already RESP-encoded in ``body``."""
        head = encode_command(
            (verb, script, 2, key, self._count_key(key), self.max_backlog or 0, count)
        )
        return b"*%d%s" % (7 + 2 * count, head[head.index(b"\r\n"):]) + body

    async def _eval(self, key: str, count: int, body: bytes) -> Any:
        for verb, script in (("EVALSHA", _SEND_SHA), ("EVAL", _SEND_SCRIPT)):
            payload = self._eval_payload(verb, script, key, count, body)
            (reply,) = await self._redis.request_encoded(payload, 1)
            if isinstance(reply, ReplyError):
                if verb == "EVALSHA" and reply.message.startswith("NOSCRIPT"):
                    continue
                raise RedisResponseError(reply.message)
            return reply
        raise AssertionError("unreachable")

    # -- receiving ----------------------------------------------------------------------------

    async def receive(self, count: int) -> list[tuple[Token, Frame]]:
        """Frames from up to ``count`` entries of this member's inbox and owned shards, oldest
        first (Transport); waits up to 250 ms for new ones. Called by the member's reader task.

        :raises RuntimeError: before :meth:`open`.
        :raises ConnectionError: Redis cannot be reached.
        """
        member = self._member
        if member is None:
            raise RuntimeError("the transport has not joined a cluster: call open() first")
        backlog = {key: cursor for key, cursor in self._streams.items() if cursor is not None}
        if backlog:
            # Frames handed out to this member before (a restart, or a shard's previous
            # owner) and never settled: re-read them first, without waiting.
            reply = await self._redis.execute_command(
                "XREADGROUP", "GROUP", _GROUP, member, "COUNT", count, "STREAMS",
                *backlog.keys(), *backlog.values(),
            )
            out: list[tuple[Token, Frame]] = []
            seen: set[str] = set()
            for key, entries, last, gone in _entries(reply):
                seen.add(key)
                if gone:  # deleted while still pending: nothing left to hand out
                    await self._redis.execute_command("XACK", key, _GROUP, *gone)
                if key in self._streams:
                    self._streams[key] = last
                if entries:
                    await self._count_deliveries(key, entries)
                out.extend(self._tokens(key, entries))
            for key in backlog.keys() - seen:  # nothing pending there any more
                if key in self._streams:
                    self._streams[key] = None
            return out
        keys = list(self._streams)
        reply = await self._redis.execute_command(
            "XREADGROUP", "GROUP", _GROUP, member, "COUNT", count, "BLOCK", 250,
            "STREAMS", *keys, *([">"] * len(keys)), extra_time=0.25,
        )
        out = []
        for key, entries, _, _ in _entries(reply):
            out.extend(self._tokens(key, entries))
        return out

    def _tokens(
        self, key: str, entries: list[tuple[str, list[Frame]]]
    ) -> list[tuple[Token, Frame]]:
        """The frames of ``entries`` (read from ``key``) with their settle tokens.

        A token is the tuple ``(key, entry id)`` for an entry of one frame, ``(key, entry id,
        index, frames)`` for a frame of a larger one (equal when the frame is read again).
        Such an entry is remembered until each of its frames was settled (then it is
        acknowledged); read again meanwhile, it yields only the frames not settled yet.
        """
        out: list[tuple[Token, Frame]] = []
        open_ = self._open
        for entry_id, frames in entries:
            size = len(frames)
            if size == 1:
                out.append(((key, entry_id), frames[0]))
                continue
            left = open_.get((key, entry_id))
            if left is None:  # read for the first time: every frame
                open_[(key, entry_id)] = set(range(size))
                out += [((key, entry_id, index, size), frame)
                        for index, frame in enumerate(frames)]
            else:
                out += [((key, entry_id, index, size), frame)
                        for index, frame in enumerate(frames) if index in left]
        return out

    async def _count_deliveries(self, key: str, entries: list[tuple[str, list[Frame]]]) -> None:
        """Put into each re-read frame, as field ``n``, how often its entry was handed out."""
        member = self._member
        assert member is not None
        first, last = entries[0][0], entries[-1][0]
        reply = await self._redis.execute_command(
            "XPENDING", key, _GROUP, first, last, len(entries) * 2 + 10, member
        )
        counts = {_text(row[0]): int(row[3]) for row in reply or ()}
        for entry_id, frames in entries:
            times = counts.get(entry_id, 1)
            for frame in frames:
                frame["n"] = times

    async def settle(self, done: Sequence[tuple[Token, str | None]]) -> None:
        """Mark the frames of ``done`` handled: an entry is acknowledged and deleted once all
        its frames were; shard frames also mark their message id handled (Transport).

        :raises RedisResponseError: Redis refused a command (e.g. a key of another type).
        :raises ConnectionError: Redis cannot be reached (settling again later is harmless).
        """
        if self._member is None or not done:
            return
        commands = self._settle_commands(done)
        await self._settled(commands, await self._redis.request(commands))

    async def _settled(self, commands: list[tuple[Any, ...]], replies: list[Any]) -> None:
        """Check the replies of settle ``commands``; those the server refused because it does
        not hold the settle script yet (after a restart) are run again with its text."""
        again: list[tuple[Any, ...]] = []
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, ReplyError):
                if not reply.message.startswith("NOSCRIPT"):
                    raise RedisResponseError(reply.message)
                again.append(("EVAL", _SETTLE_SCRIPT, *command[2:]))
        for reply in await self._redis.request(again) if again else ():
            if isinstance(reply, ReplyError):
                raise RedisResponseError(reply.message)

    def _settle_commands(self, done: Sequence[tuple[Token, str | None]]) -> list[tuple[Any, ...]]:
        now = time.time()
        # key -> (entry id, frames, entry id, frames, ...) to delete, message ids to mark
        acks: defaultdict[str, list[Any]] = defaultdict(list)
        marks: defaultdict[str, list[Any]] = defaultdict(list)
        open_ = self._open
        entry: Any = None  # the entry of the last token, and its frames not settled yet
        left: set[int] | None = None
        for token, message_id in done:
            key = token[0]
            if message_id is not None:
                marks[key] += (now, message_id)
            if len(token) == 4:
                if entry is None or token[1] is not entry[1] or key is not entry[0]:
                    entry = token[:2]  # the frames of an entry mostly come one after another
                    left = open_.get(entry)
                if left is not None:
                    left.discard(token[2])
                    if left:
                        continue  # frames of the entry still in progress
                    del open_[entry]
                    left = None
                # the entry's last frame (or settled again after an error: deletes nothing)
                acks[key] += (token[1], token[3])
            else:
                acks[key] += (token[1], 1)
        commands: list[tuple[Any, ...]] = []
        for key in dict.fromkeys([*marks, *acks]):
            key_marks = marks.get(key)
            if key_marks:  # remembered first: a crash between the two leaves a mark, not a loss
                done_key = f"{key}:done"
                commands.append(("ZADD", done_key, *key_marks))
                commands.append(("ZREMRANGEBYSCORE", done_key, "-inf", now - self.dedup_window))
            key_acks = acks.get(key)
            if key_acks:
                commands.append(("EVALSHA", _SETTLE_SHA, 2, key, self._count_key(key), *key_acks))
        return commands

    async def handled(self, items: Sequence[tuple[Token, str]]) -> set[str]:
        """The message ids among ``items`` already handled on their shard (Transport).

        :raises RedisResponseError: Redis refused the lookup.
        :raises ConnectionError: Redis cannot be reached.
        """
        if not items:
            return set()
        by_key: dict[str, list[str]] = {}
        for token, message_id in items:
            by_key.setdefault(token[0], []).append(message_id)
        keys = list(by_key)
        replies = await self._redis.request(
            [("ZMSCORE", f"{key}:done", *by_key[key]) for key in keys]
        )
        found: set[str] = set()
        for key, reply in zip(keys, replies, strict=True):
            if isinstance(reply, ReplyError):
                raise RedisResponseError(reply.message)
            found.update(mid for mid, score in zip(by_key[key], reply, strict=True) if score)
        return found

    # -- membership ---------------------------------------------------------------------------

    async def heartbeat(self, info: MemberInfo) -> None:
        """Renew this member's lease and publish ``info`` (Transport); run by the member's
        heartbeat task every ``heartbeat_interval`` seconds.

        :raises RedisResponseError: Redis refused a command.
        :raises ConnectionError: Redis cannot be reached.
        """
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
        """The members whose lease is current, by system id (Transport)."""
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

    # -- shards -------------------------------------------------------------------------------

    @property
    def owned(self) -> frozenset[int]:
        """The shards this member holds the lease of."""
        return frozenset(self._owned)

    async def acquire(self, shard: int) -> bool:
        """Take the lease of ``shard`` if nobody holds it; then read its stream, first the
        frames its previous owner had read and not settled (claimed from it)."""
        member = self._member
        if member is None:
            return False
        ttl = int(self.member_ttl * 1000)
        if await self._redis.execute_command(
            "SET", self._owner_key(shard), member, "NX", "PX", ttl
        ) is None:
            return False
        key = self.shard_key(shard)
        try:
            await self._redis.execute_command("XGROUP", "CREATE", key, _GROUP, "0", "MKSTREAM")
        except RedisResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        start = "0-0"
        while True:  # every pending frame of the shard becomes this member's
            reply = await self._redis.execute_command(
                "XAUTOCLAIM", key, _GROUP, member, 0, start, "COUNT", 1000, "JUSTID"
            )
            start = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            if start == "0-0":
                break
        self._owned.add(shard)
        self._streams[key] = "0"
        return True

    async def renew(self) -> frozenset[int]:
        """Extend the leases this member holds; returns those it still holds (a lease that
        expired meanwhile may belong to another member now: it is dropped)."""
        member = self._member
        if member is None or not self._owned:
            return frozenset()
        ttl = int(self.member_ttl * 1000)
        shards = sorted(self._owned)
        replies = await self._redis.request([
            ("EVAL", _RENEW_SCRIPT, 1, self._owner_key(shard), member, ttl) for shard in shards
        ])
        for shard, reply in zip(shards, replies, strict=True):
            if reply != 1:
                self._drop(shard)
        await self._reclaim(member)
        return frozenset(self._owned)

    async def _reclaim(self, member: str) -> None:
        """Take over the frames of owned shards that another member read and left (it read
        them just as the shard changed hands): pending there for longer than ``member_ttl``."""
        shards = sorted(self._owned)
        if not shards:
            return
        idle = int(self.member_ttl * 1000)
        replies = await self._redis.request([
            ("XPENDING", self.shard_key(shard), _GROUP, "IDLE", idle, "-", "+", 1000)
            for shard in shards
        ])
        claims: list[tuple[Any, ...]] = []
        for shard, reply in zip(shards, replies, strict=True):
            if isinstance(reply, ReplyError) or not reply:
                continue
            foreign = [row[0] for row in reply if _text(row[1]) != member]
            if foreign:
                key = self.shard_key(shard)
                claims.append(("XCLAIM", key, _GROUP, member, idle, *foreign, "JUSTID"))
                if key in self._streams:
                    self._streams[key] = "0"  # re-read this member's pending frames there
        if claims:
            await self._redis.request(claims)

    def pause(self, shard: int) -> None:
        """Stop reading ``shard`` (its lease is kept until :meth:`release`)."""
        self._streams.pop(self.shard_key(shard), None)

    async def release(self, shard: int) -> None:
        """Give the lease of ``shard`` up (its next owner claims what is left pending)."""
        member = self._member
        self._drop(shard)
        if member is not None:
            await self._redis.request(
                [("EVAL", _RELEASE_SCRIPT, 1, self._owner_key(shard), member)]
            )

    def _drop(self, shard: int) -> None:
        self._owned.discard(shard)
        self._streams.pop(self.shard_key(shard), None)

    async def owners(self) -> dict[int, str]:
        """Shard -> the member holding its lease (shards nobody holds are left out)."""
        replies = await self._redis.execute_command(
            "MGET", *(self._owner_key(shard) for shard in range(self.shards))
        )
        return {
            shard: owner.decode() if isinstance(owner, bytes) else str(owner)
            for shard, owner in enumerate(replies) if owner is not None
        }

    async def announced(self) -> dict[str, MemberInfo]:
        """What every member that joined and has not left cleanly announced last, lease or
        not (a member whose lease ended without leaving, or that left frames behind)."""
        reply = await self._redis.execute_command("HGETALL", self._members_key)
        said: dict[str, MemberInfo] = {}
        for i in range(0, len(reply or ()), 2):
            try:
                info = orjson.loads(reply[i + 1])
            except orjson.JSONDecodeError:
                info = {}
            said[_text(reply[i])] = info if isinstance(info, dict) else {}
        return said

    async def backlogs(self, members: Sequence[str]) -> tuple[dict[str, int], list[int]]:
        """The backlog of each member's inbox, and of each shard (by shard number): the
        frames there not handled yet (unread plus in progress). Used by ``papyra cluster
        status``.

        :raises RedisResponseError: a count key holds something else.
        :raises ConnectionError: Redis cannot be reached.
        """
        streams = [self.inbox_key(m) for m in members]
        streams += [self.shard_key(n) for n in range(self.shards)]
        replies = await self._redis.request([("GET", self._count_key(k)) for k in streams])
        counts: list[int] = []
        for reply in replies:
            if isinstance(reply, ReplyError):  # e.g. WRONGTYPE: a key that is not a count
                raise RedisResponseError(reply.message)
            counts.append(_count(reply))
        return dict(zip(members, counts[:len(members)], strict=True)), counts[len(members):]

    async def backlog(self, member: str) -> int:
        """Frames in ``member``'s inbox not yet handled (unread plus in progress)."""
        key = self._count_key(self.inbox_key(member))
        return _count(await self._redis.execute_command("GET", key))

    async def leave(self) -> None:
        """End the lease now; forget what the member announced unless its inbox still holds
        frames (then ``papyra cluster status`` lists it among the gone members)."""
        member = self._member
        if member is None:
            return
        await self._redis.request([
            ("DEL", self._lease_key(member)),
            ("EVAL", _FORGET_SCRIPT, 2, self.inbox_key(member), self._members_key, member),
        ])

    async def aclose(self) -> None:
        """Give up the held shard leases and close the Redis connections (Transport)."""
        for shard in list(self._owned):
            try:
                await self.release(shard)
            except (ConnectionError, RedisResponseError):
                self._drop(shard)  # the lease expires by itself
        self._member = None
        await self._redis.aclose()


def _count(reply: Any) -> int:
    """A frame count as read with ``GET`` (none yet: 0)."""
    return 0 if reply is None else max(0, int(reply))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(
    reply: Any,
) -> list[tuple[str, list[tuple[str, list[Frame]]], str | None, list[str]]]:
    """``XREADGROUP``'s reply, per stream: its key, its entries as ``(entry id, frames)``, its
    last entry id (None when it had none), and the ids of its entries deleted meanwhile (no
    fields)."""
    out: list[tuple[str, list[tuple[str, list[Frame]]], str | None, list[str]]] = []
    for raw_key, items in reply or ():
        key = _text(raw_key)
        entries: list[tuple[str, list[Frame]]] = []
        last: str | None = None
        gone: list[str] = []
        for raw_id, flat in items:
            entry_id = _text(raw_id)
            last = entry_id
            if flat is None:
                gone.append(entry_id)
                continue
            entries.append((entry_id, decode_frames(flat)))
        out.append((key, entries, last, gone))
    return out

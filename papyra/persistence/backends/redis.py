"""``RedisStreamsPersistence``: system facts in three Redis streams, shared by many processes.

Each kind of fact has a stream of its own: ``{prefix}:{system_id}:events``, ``…:audits`` and
``…:dead_letters``. An entry has one field, ``data``, holding exactly the bytes a JSON-file
backend writes for the record (without the newline), so a fact reads the same from any backend.

**Writes** use the write protocol (``record_nowait`` + ``flush``; ``record_*`` for direct
writers) with group commit: whatever is queued when a write starts goes to Redis in one round
trip, as one Lua script that appends every record of the group (``XADD``) and then stores the
group's sequence number under this backend's writer key. A group whose reply was lost (server
gone, timeout) stays queued and is sent again, first, by the next write or flush; the script
skips a group whose number is already stored, so a retry never duplicates a record. While the
server is unavailable, writes raise :class:`RedisUnavailableError` (naming the URL, after at
most ``timeout`` seconds) and their records stay queued, in order, until a later write gets
through: they are written once, and must not be written again by the caller. At most
``max_pending`` records wait; past that a write is refused (and not queued).

Runs on asyncio and trio; needs no third-party client (see :mod:`papyra._redis.client`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import anyio.lowlevel

from papyra import _accel, _serial
from papyra._redis.client import (
    RedisClient,
    RedisError,
    RedisResponseError,
    RedisUnavailableError,
    parse_url,
)
from papyra._redis.resp import Arg, ReplyError, encode_command
from papyra.persistence._file.backend import recovery_mode
from papyra.persistence._file.read import NdjsonTwin
from papyra.persistence._records import (
    KINDS,
    ListsRecords,
    coerce,
    json_default_for,
    record_from_dict,
    record_to_dict,
    select_window,
    strict_error,
)
from papyra.persistence._retention import apply_retention
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    CompactionReport,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)

__all__ = (
    "RedisConsumerGroupConfig",
    "RedisError",
    "RedisResponseError",
    "RedisStreamEntry",
    "RedisStreamsConfig",
    "RedisStreamsPersistence",
    "RedisUnavailableError",
    "StreamKind",
)

_log = logging.getLogger("papyra")

StreamKind = Literal["events", "audits", "dead_letters"]

#: Record kind -> stream kind, in the order of the write script's KEYS.
_STREAM_OF: dict[str, StreamKind] = {
    "event": "events",
    "audit": "audits",
    "dead_letter": "dead_letters",
}
_KEY_INDEX = {kind: str(i).encode() for i, kind in enumerate(_STREAM_OF, start=1)}

#: A group is sealed (and later groups start) at this many records or bytes.
_GROUP_RECORDS = 2000
_GROUP_BYTES = 4 * 1024 * 1024
#: How long Redis keeps a writer's last group number: a group retried later than this after
#: its reply was lost could be written twice.
_WRITER_TTL_SECONDS = 7 * 24 * 3600

# KEYS: events, audits, dead_letters, writer key. ARGV: group number, writer TTL, then
# (stream index, data) pairs. Atomic: a group is written whole or not at all (barring an error
# inside the script, e.g. a stream key holding another type). replicate_commands: Redis 5 and
# 6 refuse writes after XADD * in a script without it; Redis 7 always replicates effects.
_WRITE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if seq <= last then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'data', ARGV[i + 1])
end
redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[2])
return #ARGV / 2 - 1
"""

_WRITE_SHA = hashlib.sha1(_WRITE_SCRIPT.encode()).hexdigest()

_BAD_DATA = "Missing 'data' field or non-string payload"
_BAD_JSON = "Invalid JSON payload in stream entry"
_NOT_OBJECT = "JSON payload is not an object/dict"


@dataclass(slots=True)
class RedisStreamsConfig:
    """Where the streams live and how they are read.

    ``url``: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
    ``unix:///path?db=N``. ``max_read``: ``list_*`` read at most this many newest entries per
    stream; ``scan_sample_size``: ``scan()`` checks this many newest entries per stream.
    ``approx_trim``: ``compact()`` trims with ``MAXLEN ~`` (cheaper, may keep a few more).
    ``quarantine_prefix``: base of the quarantine streams (default
    ``{prefix}:{system_id}:quarantine``).

    Added since 0.3.0: ``timeout`` bounds every call to the server (connect, send, reply), in
    seconds; ``max_pending`` caps the records kept for a later write while the server is
    unavailable.
    """

    url: str = "redis://localhost:6379/0"
    prefix: str = "papyra"
    system_id: str = "local"
    scan_sample_size: int = 1000
    max_read: int = 50_000
    approx_trim: bool = True
    quarantine_prefix: str | None = None
    timeout: float = 5.0
    max_pending: int = 100_000


@dataclass(frozen=True, slots=True)
class RedisConsumerGroupConfig:
    """How :meth:`RedisStreamsPersistence.consume` reads: group, consumer, batch and block time.

    ``block_ms`` is passed to ``XREADGROUP`` as is: ``None`` returns at once, ``0`` waits until an
    entry arrives, ``n`` waits up to ``n`` ms.
    """

    group: str
    consumer: str
    count: int = 100
    block_ms: int | None = 1000
    start_id: str = "0"
    ensure_group: bool = True


@dataclass(frozen=True, slots=True)
class RedisStreamEntry:
    """One decoded stream entry: its id and the JSON object of its ``data`` field."""

    id: str
    data: Mapping[str, Any]


class _Group:
    """Records written together, in one script call.

    Writers waiting for a group wait for the leader's turn to end (``_lead_done``), then read
    ``finished`` and ``error`` here.
    """

    __slots__ = ("error", "finished", "nbytes", "parts", "records", "seq")

    def __init__(self) -> None:
        #: The script arguments of each record (its stream index and data), RESP-encoded.
        self.parts: list[bytes] = []
        self.records = 0
        self.nbytes = 0
        self.seq = 0  # set when sealed
        self.error: BaseException | None = None
        self.finished = False

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.finished = True


def _check_config(config: RedisStreamsConfig) -> None:
    parse_url(config.url)
    for name in ("prefix", "system_id"):
        value = getattr(config, name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"RedisStreamsConfig.{name} must be a non-empty string, not {value!r}")
    for name in ("scan_sample_size", "max_read", "max_pending"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"RedisStreamsConfig.{name} must be an int >= 1, not {value!r}")
    t = config.timeout
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (t > 0 and math.isfinite(t)):
        raise ValueError(f"RedisStreamsConfig.timeout must be a positive number, not {t!r}")


def _data_field(fields: Any) -> Any:
    """The value of field ``data`` in a raw entry's flat field list, or ``None``."""
    if isinstance(fields, list):
        for i in range(0, len(fields) - 1, 2):
            if fields[i] == b"data":
                return fields[i + 1]
    return None


def _classify(fields: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``(decoded object, None)`` or ``(None, anomaly detail)`` for one raw entry."""
    raw = _data_field(fields)
    if not isinstance(raw, bytes):
        return None, _BAD_DATA
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, _BAD_DATA
    try:
        value = _serial.decode(text)
    except ValueError:
        return None, _BAD_JSON
    if not isinstance(value, dict):
        return None, _NOT_OBJECT
    return value, None


class RedisStreamsPersistence(ListsRecords, PersistenceBackend):
    """System facts in Redis streams (see the module doc for the write guarantees).

    Nothing connects at construction; the first command does. ``strict=True`` refuses records
    holding values without a JSON form (``TypeError`` naming the value, see
    :func:`papyra.persistence._records.strict_default`) instead of storing their ``str()``.
    Use it from the event loop of the system it serves.

    :raises TypeError: ``config`` is not a :class:`RedisStreamsConfig`.
    :raises ValueError: an unusable config (bad URL scheme, empty prefix, ...).
    """

    def __init__(
        self,
        config: RedisStreamsConfig | None = None,
        *,
        retention_policy: RetentionPolicy | None = None,
        strict: bool = False,
        _ndjson: NdjsonTwin = _accel.ndjson,
    ) -> None:
        super().__init__(retention_policy=retention_policy)
        cfg = RedisStreamsConfig() if config is None else config
        if not isinstance(cfg, RedisStreamsConfig):
            raise TypeError(f"config must be a RedisStreamsConfig, not {type(cfg).__name__}")
        _check_config(cfg)
        self._config = cfg
        self._redis = RedisClient(cfg.url, timeout=cfg.timeout)
        base = f"{cfg.prefix}:{cfg.system_id}"
        self._events_key = f"{base}:events"
        self._audits_key = f"{base}:audits"
        self._dead_letters_key = f"{base}:dead_letters"
        self._keys: tuple[str, str, str] = (
            self._events_key, self._audits_key, self._dead_letters_key,
        )
        self._writer_key = f"{base}:writer:{uuid.uuid4().hex}"
        self._encode_record = _ndjson.encode_record
        self._strict = bool(strict)
        self._default = json_default_for(self._strict)
        self._closed = False
        # The write queue: sealed groups not yet confirmed by the server (oldest first), then
        # the open group new records join.
        self._sealed: deque[_Group] = deque()
        self._open = _Group()
        self._seq = 0
        self._queued = 0
        self._leading = False
        self._lead_done: anyio.Event | None = None

    # -- properties -------------------------------------------------------------------------------

    @property
    def config(self) -> RedisStreamsConfig:
        """The configuration given at construction (the default one if none was)."""
        return self._config

    @property
    def url(self) -> str:
        """The server URL, password hidden."""
        return self._redis.url

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`, until the next write reopens the backend."""
        return self._closed

    @property
    def strict(self) -> bool:
        """True: records holding values without a JSON form are refused (``TypeError``)."""
        return self._strict

    @property
    def queued_records(self) -> int:
        """Records handed over but not yet confirmed by the server."""
        return self._queued

    def _stream_key(self, kind: StreamKind) -> str:
        if kind == "events":
            return self._events_key
        if kind == "audits":
            return self._audits_key
        if kind == "dead_letters":
            return self._dead_letters_key
        raise ValueError(f"Unknown stream kind: {kind}")

    def _quarantine_key(self, source_key: str) -> str:
        cfg = self._config
        base = cfg.quarantine_prefix or f"{cfg.prefix}:{cfg.system_id}:quarantine"
        return f"{base}:{source_key.replace(':', '_')}"

    def __repr__(self) -> str:
        cfg = self._config
        return (
            f"RedisStreamsPersistence(url={self.url!r}, prefix={cfg.prefix!r}, "
            f"system_id={cfg.system_id!r})"
        )

    # -- writes -----------------------------------------------------------------------------------

    def _take(self, kind: str, record: Any) -> _Group:
        """Encode ``record`` and add it to the open group; returns that group."""
        try:
            index = _KEY_INDEX[kind]
        except KeyError:
            coerce(kind, record)  # raises the ValueError naming the kinds
            raise
        try:
            data = record_to_dict(kind, coerce(kind, record))
            try:
                line = self._encode_record(data, self._default)
            except TypeError as exc:
                if not self._strict:
                    raise
                raise strict_error(kind, data, exc) from exc
        except Exception:
            self.metrics.write_errors += 1
            raise
        if self._queued >= self._config.max_pending:
            self.metrics.write_errors += 1
            raise RedisUnavailableError(
                f"Redis at {self.url}: {self._queued} records are already waiting for the "
                f"server (max_pending); this {kind} record was not kept",
                url=self.url,
            )
        if self._closed:
            self._closed = False  # a write after aclose() reopens (0.3.0 dropped it silently)
        group = self._open
        payload = line[:-1]
        group.parts.append(b"$1\r\n%s\r\n$%d\r\n%s\r\n" % (index, len(payload), payload))
        group.records += 1
        group.nbytes += len(payload)
        self._queued += 1
        if group.records >= _GROUP_RECORDS or group.nbytes >= _GROUP_BYTES:
            self._seal()
        return group

    def _seal(self) -> None:
        group = self._open
        if group.records:
            self._seq += 1
            group.seq = self._seq
            self._sealed.append(group)
            self._open = _Group()

    def record_nowait(self, kind: str, record: Any) -> None:
        """Queue one record for the next group commit, in call order; no I/O.

        Encoding errors (and a full queue) raise here; write errors surface from the next
        :meth:`flush` or ``record_*`` call.
        """
        self._take(kind, record)

    async def flush(self) -> None:
        """Write everything queued; raises :class:`RedisUnavailableError` if the server cannot
        take it (the records stay queued for the next write or flush)."""
        await self._write_through(None)

    async def record_event(self, event: Any) -> None:
        """Append one event (a ``PersistedEvent`` or a mapping of its fields)."""
        await self._write_through(self._take("event", event))

    async def record_audit(self, report: Any) -> None:
        """Append one audit snapshot; same guarantees as :meth:`record_event`."""
        await self._write_through(self._take("audit", report))

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Append one dead letter; same guarantees as :meth:`record_event`."""
        await self._write_through(self._take("dead_letter", dead_letter))

    async def _write_through(self, group: _Group | None) -> None:
        """Return once ``group`` (``None``: everything queued now) is written, or raise."""
        while self._leading:
            done = self._lead_done
            assert done is not None
            await done.wait()
            if group is not None and group.finished:
                break
        if group is None or not group.finished:
            if not (self._sealed or self._open.records):
                await anyio.lowlevel.checkpoint()
                return
            error = await self._lead()
            if group is None and error is not None:
                raise error
        if group is not None and group.error is not None:
            raise group.error

    async def _lead(self) -> BaseException | None:
        """Send the queued groups in order until none is left or one fails (then all fail)."""
        self._leading = True
        self._lead_done = anyio.Event()
        try:
            await anyio.lowlevel.checkpoint()  # let concurrent writers join the open group
            self._seal()
            while self._sealed:
                group = self._sealed[0]
                try:
                    with anyio.CancelScope(shield=True):
                        await self._send(group)
                except RedisError as exc:
                    self._seal()
                    failed = 0
                    for waiting in self._sealed:
                        failed += waiting.records
                        waiting.finish(exc)
                    self.metrics.write_errors += failed
                    return exc
                self._sealed.popleft()
                self._queued -= group.records
                self.metrics.records_written += group.records
                self.metrics.bytes_written += group.nbytes
                group.finish(None)
                self._seal()
            return None
        finally:
            self._leading = False
            self._lead_done.set()

    async def _send(self, group: _Group) -> None:
        # EVALSHA (the script is cached by the server); EVAL once the server says NOSCRIPT
        # (first use, or a restarted server). Arguments are encoded once, in _take.
        for verb, script in (("EVALSHA", _WRITE_SHA), ("EVAL", _WRITE_SCRIPT)):
            head = encode_command(
                (verb, script, 4, *self._keys, self._writer_key, group.seq, _WRITER_TTL_SECONDS)
            )
            count = 9 + 2 * group.records
            payload = b"*%d%s" % (count, head[head.index(b"\r\n"):]) + b"".join(group.parts)
            (reply,) = await self._redis.request_encoded(payload, 1)
            if isinstance(reply, ReplyError):
                if verb == "EVALSHA" and reply.message.startswith("NOSCRIPT"):
                    continue
                raise RedisResponseError(reply.message)
            if reply == 0:
                _log.info(
                    "Redis at %s had already stored group %d: not written twice",
                    self.url, group.seq,
                )
            return

    async def aclose(self) -> None:
        """Write what is queued (bounded by ``timeout``), then close the connections.

        Records the server could not take stay queued: they are written if this backend is used
        again; an error on the ``"papyra"`` logger says how many. Reads keep working after
        ``aclose()`` and the next write reopens the backend.
        """
        self._closed = True
        if self._queued:
            try:
                await self._write_through(None)
            except RedisError as exc:
                _log.error(
                    "%d records could not be written to Redis at %s and remain queued in this "
                    "backend (lost if the process ends): %s", self._queued, self.url, exc,
                )
        await self._redis.aclose()

    # -- reads ------------------------------------------------------------------------------------

    async def _newest(self, key: str, count: int) -> list[Any]:
        """The newest ``count`` raw entries of ``key``, oldest first."""
        reply = await self._redis.execute_command("XREVRANGE", key, "+", "-", "COUNT", count)
        reply.reverse()
        return list(reply)

    async def _list(self, kind: str, limit: int | None, since: float | None) -> tuple[Any, ...]:
        key = self._stream_key(_STREAM_OF[kind])
        raw = await self._newest(key, self._config.max_read)
        records: list[dict[str, Any]] = []
        for entry in raw:
            value, _ = _classify(entry[1])
            if value is not None:
                records.append(value)
        policy = self.retention
        if policy is not None:
            records = apply_retention(records, policy)  # no limits: a copy, unchanged
        system_id = self._config.system_id
        items = []
        for data in records:
            if data.get("kind") != kind:
                continue
            item = record_from_dict(kind, data, system_id=system_id)
            if item is not None:
                items.append(item)
        return select_window(items, since=since, limit=limit)

    # -- scan / recover / compact -----------------------------------------------------------------

    async def _bad_entries(self) -> list[tuple[str, list[tuple[bytes, Any, str]]]]:
        """Per stream key: ``(entry id, raw data, detail)`` of each bad sampled entry."""
        sample = max(1, self._config.scan_sample_size)
        out = []
        for key in self._keys:
            bad = []
            for entry_id, fields in await self._newest(key, sample):
                _, detail = _classify(fields)
                if detail is not None:
                    bad.append((entry_id, _data_field(fields), detail))
            out.append((key, bad))
        return out

    async def scan(self) -> PersistenceScanReport:
        """Check the newest ``scan_sample_size`` entries of each stream; changes nothing."""
        self.metrics.scans += 1
        try:
            found = await self._bad_entries()
        except Exception:
            self.metrics.scan_errors += 1
            raise
        anomalies = tuple(
            PersistenceAnomaly(type=PersistenceAnomalyType.CORRUPTED_LINE, path=key, detail=detail)
            for key, bad in found
            for _, _, detail in bad
        )
        if anomalies:
            self.metrics.anomalies_detected += len(anomalies)
        return PersistenceScanReport(backend="redis", anomalies=anomalies)

    async def recover(self, config: Any | None = None) -> PersistenceRecoveryReport:
        """Delete (REPAIR, REBUILD) or move then delete (QUARANTINE) the bad sampled entries.

        ``config=None`` or mode IGNORE only scans. Quarantined entries go to
        ``_quarantine_key(stream)`` with fields ``source``, ``data`` and ``timestamp``.
        Failures count in ``metrics.recovery_errors``.

        :raises RedisResponseError: the server refused a command of the repair.
        :raises RedisUnavailableError: the server could not be reached or did not answer in
            time.
        :raises ValueError: the config's ``mode`` names no recovery mode.
        """
        self.metrics.recoveries += 1
        mode = recovery_mode(config)
        report = await self.scan()
        if mode is PersistenceRecoveryMode.IGNORE or not report.has_anomalies:
            return PersistenceRecoveryReport(backend="redis", scan=report)
        try:
            found = await self._bad_entries()
            repaired: list[str] = []
            quarantined: list[str] = []
            for key, bad in found:
                if not bad:
                    continue
                ids = [entry_id for entry_id, _, _ in bad]
                commands: list[Sequence[Arg]] = []
                if mode is PersistenceRecoveryMode.QUARANTINE:
                    qkey = self._quarantine_key(key)
                    now = str(time.time())
                    for _, raw, _ in bad:
                        data = raw if isinstance(raw, bytes) else b""
                        commands.append(
                            ("XADD", qkey, "*", "source", key, "data", data, "timestamp", now)
                        )
                    quarantined.append(qkey)
                commands.append(("XDEL", key, *ids))
                for reply in await self._redis.request(commands):
                    if isinstance(reply, ReplyError):
                        raise RedisResponseError(reply.message)
                repaired.append(key)
        except Exception:
            self.metrics.recovery_errors += 1
            raise
        return PersistenceRecoveryReport(
            backend="redis",
            scan=report,
            repaired_files=tuple(repaired),
            quarantined_files=tuple(quarantined),
        )

    async def _total_length(self) -> int:
        replies = await self._redis.request([("XLEN", key) for key in self._keys])
        return sum(r for r in replies if isinstance(r, int))

    async def compact(self) -> CompactionReport:
        """Trim each stream to ``retention.max_records`` (``XTRIM MAXLEN [~]``).

        Other retention limits are applied when reading, not here. Counts are stream lengths
        before and after.
        """
        self.metrics.compactions += 1
        try:
            before = await self._total_length()
            policy = self.retention
            limit = policy.max_records if policy is not None else None
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                trim: list[Arg] = ["MAXLEN", "~"] if self._config.approx_trim else ["MAXLEN"]
                await self._redis.request([("XTRIM", key, *trim, limit) for key in self._keys])
            after = await self._total_length()
        except Exception:
            self.metrics.compaction_errors += 1
            raise
        return CompactionReport(
            backend="redis", before_records=before, after_records=after,
            before_bytes=None, after_bytes=None,
        )

    # -- consumer groups (for external tooling; the actor system never uses them) -----------------

    async def ensure_consumer_group(
        self, *, kind: StreamKind, group: str, start_id: str = "0"
    ) -> None:
        """Create ``group`` on the stream of ``kind`` (and the stream) unless it exists."""
        key = self._stream_key(kind)
        try:
            await self._redis.execute_command("XGROUP", "CREATE", key, group, start_id, "MKSTREAM")
        except RedisResponseError as exc:
            text = str(exc).lower()
            if "busygroup" not in text and "exists" not in text:
                raise

    async def consume(
        self, *, kind: StreamKind, cfg: RedisConsumerGroupConfig, read_id: str = ">"
    ) -> tuple[RedisStreamEntry, ...]:
        """Read up to ``cfg.count`` entries as ``cfg.consumer`` of ``cfg.group``; no ack.

        ``read_id=">"`` reads new entries, ``"0"`` this consumer's pending ones. Entries
        without a JSON object in ``data`` are skipped (they stay pending).
        """
        key = self._stream_key(kind)
        if cfg.ensure_group:
            await self.ensure_consumer_group(kind=kind, group=cfg.group, start_id=cfg.start_id)
        args: list[Arg] = ["XREADGROUP", "GROUP", cfg.group, cfg.consumer, "COUNT", cfg.count]
        extra = 0.0
        if cfg.block_ms is not None:
            args += ["BLOCK", cfg.block_ms]
            extra = math.inf if cfg.block_ms == 0 else cfg.block_ms / 1000
        args += ["STREAMS", key, read_id]
        reply = await self._redis.execute_command(*args, extra_time=extra)
        entries: list[RedisStreamEntry] = []
        for _, items in reply or ():
            entries.extend(self._entries(items))
        return tuple(entries)

    async def claim(
        self,
        kind: StreamKind,
        *,
        group: str,
        consumer: str,
        min_idle_ms: int,
        entry_ids: list[str],
    ) -> list[RedisStreamEntry]:
        """Take over pending entries idle for ``min_idle_ms`` (``XCLAIM``); malformed ones are
        claimed but not returned."""
        if not entry_ids:
            return []
        key = self._stream_key(kind)
        reply = await self._redis.execute_command(
            "XCLAIM", key, group, consumer, min_idle_ms, *entry_ids
        )
        return self._entries(reply)

    async def ack(
        self, *, kind: StreamKind, group: str, ids: list[str] | tuple[str, ...]
    ) -> int:
        """Acknowledge entries (``XACK``); the number acknowledged."""
        if not ids:
            return 0
        key = self._stream_key(kind)
        return int(await self._redis.execute_command("XACK", key, group, *ids))

    async def pending_summary(self, *, kind: StreamKind, group: str) -> dict[str, Any]:
        """``{"raw": {"pending", "min", "max", "consumers"}}`` (the ``XPENDING`` summary)."""
        return {"raw": await self._redis.xpending(self._stream_key(kind), group)}

    @staticmethod
    def _entries(items: Any) -> list[RedisStreamEntry]:
        out = []
        for item in items or ():
            if not item:
                continue
            entry_id, fields = item
            value, _ = _classify(fields)
            if value is not None:
                out.append(RedisStreamEntry(id=entry_id.decode("ascii"), data=value))
        return out


# The stream kinds must match the record kinds of the one KINDS table.
assert set(_STREAM_OF) == set(KINDS)

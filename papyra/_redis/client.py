"""A small Redis client on anyio: asyncio and trio, pipelining, bounded waits, no dependency.

Why not redis-py or coredis: redis-py's asyncio client does not run on trio, and coredis 6
needs its connection pool entered with ``async with`` by one task that outlives every use. A
persistence backend is built synchronously and used from any task (the system's writer, an
actor, a test) and, in test suites, from one event loop after another; Papyra 0.3.0 code also
calls ``backend._redis.xadd(...)`` on a backend nobody entered. So Papyra speaks RESP2 itself:
a pool of plain connections per event loop, opened on demand.

* **Connections.** Up to ``max_connections`` per event loop, each used by one request at a time
  (a request is one command or one pipeline: written with one send, replies read in order).
  A connection whose request failed or was cancelled half-way is closed, never reused: its
  reply stream is no longer in step. Used from another event loop (a second ``anyio.run``),
  the client drops the old loop's connections and opens new ones. On asyncio a plain TCP or
  Unix connection is an asyncio protocol that parses replies as they arrive; TLS, and every
  connection on trio, is an anyio stream.
* **Waits are bounded.** Connecting, sending and reading a request share one deadline
  (``timeout``; blocking reads such as ``XREADGROUP BLOCK`` add their own block time). Past it,
  or on any socket error, :class:`RedisUnavailableError` names the URL (password hidden).
* **No silent retry.** A request that failed is not re-sent here: a command whose reply was
  lost may have run. Callers that need retries make them idempotent first (the persistence
  backend numbers its batches for that).
* **Error replies** raise :class:`RedisResponseError` (in a pipeline: after all replies were
  read, so the connection stays usable).

:class:`RedisClient` also answers the redis-py-shaped calls (``xadd``, ``xlen``, ``delete``,
``xrange``, ...) that code written against Papyra 0.3.0 makes on ``backend._redis``, with
redis-py's ``decode_responses=True`` result shapes.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import anyio
import anyio.abc
import anyio.lowlevel

from papyra._redis.resp import Arg, ProtocolError, ReplyError, ReplyParser, encode_commands

__all__ = (
    "Pipeline",
    "RedisClient",
    "RedisError",
    "RedisResponseError",
    "RedisUnavailableError",
    "ServerAddress",
    "parse_url",
)

_READ_SIZE = 65536
_running_asyncio_loop = asyncio._get_running_loop  # None outside asyncio: no exception raised


class RedisError(Exception):
    """Base of the errors raised by Papyra's Redis client."""


class RedisUnavailableError(RedisError, ConnectionError):
    """The server could not be reached or did not answer in time; the message names the URL."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class RedisResponseError(RedisError):
    """The server answered a command with an error reply (``WRONGTYPE ...``, ``ERR ...``)."""


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where and how to connect, parsed from a ``redis://``, ``rediss://`` or ``unix://`` URL."""

    url: str  # the URL with any password replaced by ``***``: safe for messages
    host: str | None
    port: int
    unix_path: str | None
    tls: bool
    db: int
    username: str | None
    password: str | None


def parse_url(url: str) -> ServerAddress:
    """Parse a Redis URL; ``ValueError`` names what is wrong with it.

    ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS, same form) and
    ``unix://[[user]:password@]/path/to/socket[?db=N]``; ``?db=N`` works for every scheme.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"a Redis URL must be a non-empty string, not {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"unsupported Redis URL {url!r}: the scheme must be redis://, rediss:// or unix://"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    safe = url  # what messages show: the URL with its password masked
    if password is not None:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        user = f"{parts.username}:" if parts.username else ":"
        safe = urlunsplit((parts.scheme, f"{user}***@{netloc}", parts.path, parts.query, ""))
    query = parse_qs(parts.query)
    db_text = query.get("db", [""])[0]
    if scheme == "unix":
        host, port, unix_path = None, 0, parts.path
        if not unix_path:
            raise ValueError(f"unsupported Redis URL {safe!r}: unix:// needs a socket path")
    else:
        host = parts.hostname or "localhost"
        try:
            port = parts.port or 6379
        except ValueError:
            raise ValueError(f"invalid port in Redis URL {safe!r}") from None
        unix_path = None
        path_db = parts.path.strip("/")
        if path_db and not db_text:
            db_text = path_db
    try:
        db = int(db_text) if db_text else 0
    except ValueError:
        raise ValueError(f"invalid database number {db_text!r} in Redis URL {safe!r}") from None
    if db < 0:
        raise ValueError(f"invalid database number {db} in Redis URL {safe!r}")
    return ServerAddress(safe, host, port, unix_path, scheme == "rediss", db, username, password)


def _free_slot(pool: _Pool) -> bool:
    """Take one of the pool's slots if one is free now."""
    try:
        pool.slots.acquire_nowait()
    except anyio.WouldBlock:
        return False
    return True


def _loop_identity() -> object:
    """The running event loop (asyncio) or run (trio): connections belong to one of them."""
    loop = _running_asyncio_loop()  # what current_token() answers on asyncio, without its cost
    return loop if loop is not None else anyio.lowlevel.current_token().native_token


class _ProtocolConnection(asyncio.Protocol):
    """A connection on asyncio, without a stream between the socket and the parser: the bytes
    are parsed as they arrive (``data_received``) and the request's future completes once its
    last reply is in. Against anyio's stream this saves, per request, a scheduler round after
    the send and two ``epoll_ctl`` calls around the receive (plain TCP and Unix sockets on
    asyncio; TLS and trio connections use :class:`_Connection`)."""

    def __init__(self) -> None:
        self.parser = ReplyParser()
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.replies: list[Any] = []
        self.count = 0
        self.waiter: asyncio.Future[None] | None = None
        self.error: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport of the running loop; uvloop's do not derive from
        # asyncio.Transport, so no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        try:
            self.replies += self.parser.replies()
        except ProtocolError as exc:
            self.error = exc
        if len(self.replies) >= self.count or self.error is not None:
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.error is None:
            self.error = exc if exc is not None else anyio.EndOfStream()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def request(
        self, payload: bytes, count: int, timeout: float | None = None
    ) -> list[Any]:
        """Send ``payload``, wait for its ``count`` replies; ``TimeoutError`` after
        ``timeout`` seconds (None: the caller bounds the wait)."""
        transport = self.transport
        if self.error is not None or transport is None:
            raise self.error or anyio.EndOfStream()
        self.count = count
        transport.write(payload)
        if len(self.replies) < count and self.error is None:
            loop = asyncio.get_running_loop()
            waiter = self.waiter = loop.create_future()
            timer = None
            if timeout is not None and math.isfinite(timeout):
                timer = loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
        replies, self.replies, self.count = self.replies, [], 0
        if len(replies) < count:
            raise self.error or anyio.EndOfStream()
        if len(replies) > count:
            raise ProtocolError("the server sent more replies than requests")
        return replies

    def __del__(self) -> None:
        try:
            self.close_now()
        except Exception:
            pass

    def close_now(self) -> None:
        """Close the socket at once, without awaiting, even from outside its event loop."""
        if self.transport is not None:
            _close_transport(self.transport, self.loop)


def _close_transport(transport: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Close an asyncio transport's socket at once: ``abort()`` while its loop is open, else
    the socket itself (the transport's ``__del__`` would warn about an open one).

    ``loop`` is the transport's (asyncio's own transports also say it themselves; uvloop's do
    not: then the running loop is theirs). A uvloop transport outside its loop is left to
    that loop's ``close()``, which closes what is still open."""
    if loop is None:
        loop = getattr(transport, "_loop", None) or _running_asyncio_loop()
    if loop is not None and not loop.is_closed():
        transport.abort()
        return
    sock = getattr(transport, "_sock", None)
    if sock is not None:
        sock.close()
        transport._sock = None


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection:
    __slots__ = ("parser", "stream")

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.parser = ReplyParser()

    async def request(self, payload: bytes, count: int) -> list[Any]:
        await self.stream.send(payload)
        replies = self.parser.replies()
        while len(replies) < count:
            self.parser.feed(await self.stream.receive(_READ_SIZE))
            replies.extend(self.parser.replies())
        if len(replies) > count:
            raise ProtocolError("the server sent more replies than requests")
        return replies

    def __del__(self) -> None:
        # A client dropped without aclose() (or one whose event loop ended) must not leak its
        # sockets until interpreter exit.
        try:
            self.close_now()
        except Exception:
            pass

    def close_now(self) -> None:
        """Close the socket at once, without awaiting, from any event loop (even a closed one).

        anyio offers only ``await aclose()``, which must run on the stream's own loop; this is
        for the paths that cannot await there (a failed request being abandoned, connections
        of a loop that has ended), so it reaches into the backend stream objects.
        """
        stream: Any = self.stream
        while hasattr(stream, "transport_stream"):  # TLS wraps the socket stream
            stream = stream.transport_stream
        transport = getattr(stream, "_transport", None)  # anyio on asyncio
        if transport is not None:
            _close_transport(transport)
            return
        trio_socket = getattr(stream, "_trio_socket", None)  # anyio on trio
        if trio_socket is not None:
            try:
                trio_socket.close()
            except RuntimeError:  # outside its trio run: close the stdlib socket under it
                trio_socket._sock.close()


class _Pool:
    """The connections of one event loop."""

    def __init__(self, loop: object, max_connections: int) -> None:
        self.loop = loop
        self.idle: list[_Connection | _ProtocolConnection] = []
        self.slots = anyio.Semaphore(max_connections)

    def close_all(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close_now()


class RedisClient:
    """A Redis client for one server URL; see the module doc for its guarantees.

    Nothing connects until the first command. :meth:`aclose` closes the idle connections; the
    client stays usable (the next command connects again).
    """

    def __init__(self, url: str, *, timeout: float = 5.0, max_connections: int = 16) -> None:
        self.address = parse_url(url)
        if not (isinstance(timeout, (int, float)) and timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if not (isinstance(max_connections, int) and max_connections > 0):
            raise ValueError(f"max_connections must be a positive int, not {max_connections!r}")
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self._pool: _Pool | None = None

    @property
    def url(self) -> str:
        """The server URL, password hidden."""
        return self.address.url

    def __repr__(self) -> str:
        return f"RedisClient({self.url!r})"

    # -- requests -------------------------------------------------------------------------------

    def _current_pool(self) -> _Pool:
        loop = _loop_identity()
        pool = self._pool
        if pool is None or pool.loop is not loop:
            if pool is not None:
                pool.close_all()
            pool = self._pool = _Pool(loop, self.max_connections)
        return pool

    async def _connect(self) -> _Connection | _ProtocolConnection:
        a = self.address
        loop = _running_asyncio_loop()
        conn: _Connection | _ProtocolConnection
        if loop is not None and not a.tls:
            proto = _ProtocolConnection()
            if a.unix_path is not None:
                await loop.create_unix_connection(lambda: proto, a.unix_path)
            else:
                assert a.host is not None
                await loop.create_connection(lambda: proto, a.host, a.port)
            conn = proto
        else:
            stream: anyio.abc.ByteStream
            if a.unix_path is not None:
                stream = await anyio.connect_unix(a.unix_path)
            else:
                assert a.host is not None
                if a.tls:
                    stream = await anyio.connect_tcp(
                        a.host, a.port, ssl_context=ssl.create_default_context()
                    )
                else:
                    stream = await anyio.connect_tcp(a.host, a.port)
            conn = _Connection(stream)
        setup: list[Sequence[Arg]] = []
        if a.password is not None:
            setup.append(("AUTH", a.username, a.password) if a.username else ("AUTH", a.password))
        if a.db:
            setup.append(("SELECT", a.db))
        if setup:
            try:
                replies = await conn.request(encode_commands(setup), len(setup))
            except BaseException:
                conn.close_now()
                raise
            for reply in replies:
                if isinstance(reply, ReplyError):
                    conn.close_now()
                    raise RedisResponseError(f"Redis at {self.url} refused the connection: "
                                             f"{reply.message}")
        return conn

    async def request(
        self, commands: Sequence[Sequence[Arg]], *, extra_time: float = 0.0
    ) -> list[Any]:
        """Send ``commands`` as one pipeline and return their raw replies, in order.

        Error replies are returned as :class:`~papyra._redis.resp.ReplyError` values. Raises
        :class:`RedisUnavailableError` when the server cannot be reached or the whole request
        takes longer than ``timeout + extra_time`` seconds.
        """
        if not commands:
            return []
        return await self.request_encoded(
            encode_commands(commands), len(commands), extra_time=extra_time
        )

    async def request_encoded(
        self, payload: bytes, count: int, *, extra_time: float = 0.0
    ) -> list[Any]:
        """:meth:`request` for commands already encoded (``count`` of them in ``payload``)."""
        pool = self._current_pool()
        conn: _Connection | _ProtocolConnection | None = None
        try:
            if pool.idle and type(pool.idle[-1]) is _ProtocolConnection and _free_slot(pool):
                # the common case on asyncio: the connection keeps the deadline itself (a
                # timer), cheaper than a cancel scope
                conn = pool.idle.pop()
                try:
                    replies = await cast(_ProtocolConnection, conn).request(
                        payload, count, self.timeout + extra_time
                    )
                finally:
                    pool.slots.release()
            else:
                conn, replies = await self._request_slowly(pool, payload, count, extra_time)
        except TimeoutError:
            if conn is not None:
                conn.close_now()
            raise RedisUnavailableError(
                f"Redis at {self.url} did not answer within {self.timeout + extra_time:g} s",
                url=self.url,
            ) from None
        except (OSError, anyio.BrokenResourceError, anyio.EndOfStream, ProtocolError) as exc:
            if conn is not None:
                conn.close_now()
            cause = exc
            # anyio's connect_tcp says "All connection attempts failed" and chains the reason.
            while isinstance(cause.__cause__, OSError):
                cause = cause.__cause__
            errno = getattr(cause, "errno", None)
            if isinstance(cause, socket.gaierror):
                detail = f"cannot resolve the host ({cause.strerror})"
            elif isinstance(errno, int) and errno > 0:
                detail = os.strerror(errno)  # "Connection refused", not asyncio's wording
            else:
                detail = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
            if isinstance(exc, anyio.EndOfStream):
                detail = "the server closed the connection"
            raise RedisUnavailableError(
                f"Redis at {self.url} is unreachable: {detail}", url=self.url
            ) from exc
        except BaseException:
            if conn is not None:
                conn.close_now()
            raise
        if pool is self._pool:
            pool.idle.append(conn)
        else:
            conn.close_now()
        return replies

    async def _request_slowly(
        self, pool: _Pool, payload: bytes, count: int, extra_time: float
    ) -> tuple[_Connection | _ProtocolConnection, list[Any]]:
        """A request that may wait for a slot or a new connection, all under one deadline;
        the connection it used (to go back to the pool) and the replies."""
        conn: _Connection | _ProtocolConnection | None = None
        try:
            with anyio.fail_after(self.timeout + extra_time):
                # acquire_nowait first: `async with` would yield to the scheduler every time.
                try:
                    pool.slots.acquire_nowait()
                except anyio.WouldBlock:
                    await pool.slots.acquire()
                try:
                    conn = pool.idle.pop() if pool.idle else await self._connect()
                    return conn, await conn.request(payload, count)
                finally:
                    pool.slots.release()
        except BaseException:
            if conn is not None:
                conn.close_now()  # the caller does not know it: close it here
            raise

    async def execute_command(self, *args: Arg, extra_time: float = 0.0) -> Any:
        """Run one command; its raw reply (bytes for bulk strings), error replies raised."""
        (reply,) = await self.request((args,), extra_time=extra_time)
        if isinstance(reply, ReplyError):
            raise RedisResponseError(reply.message)
        return reply

    async def aclose(self) -> None:
        """Close the idle connections; a later command connects again."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close_all()
        await anyio.lowlevel.checkpoint()

    close = aclose

    def pipeline(self, transaction: bool = False) -> Pipeline:
        """Queue commands on the returned object, send them with one ``await execute()``."""
        return Pipeline(self, transaction=transaction)

    # -- redis-py-shaped calls (decode_responses=True shapes) ------------------------------------

    async def ping(self) -> bool:
        return bool(await self.execute_command("PING") == "PONG")

    async def xadd(
        self,
        name: str,
        fields: Mapping[str, Arg],
        id: str = "*",
        maxlen: int | None = None,
        approximate: bool = True,
    ) -> str:
        return _text(await self.execute_command(*_xadd_args(name, fields, id, maxlen, approximate)))

    async def xlen(self, name: str) -> int:
        return int(await self.execute_command("XLEN", name))

    async def delete(self, *names: str) -> int:
        return int(await self.execute_command("DEL", *names)) if names else 0

    async def exists(self, *names: str) -> int:
        return int(await self.execute_command("EXISTS", *names)) if names else 0

    async def get(self, name: str) -> str | None:
        value = await self.execute_command("GET", name)
        return None if value is None else _text(value)

    async def set(self, name: str, value: Arg) -> bool:
        return bool(await self.execute_command("SET", name, value) == "OK")

    async def flushdb(self) -> bool:
        return bool(await self.execute_command("FLUSHDB") == "OK")

    async def keys(self, pattern: str = "*") -> list[str]:
        return [_text(k) for k in await self.execute_command("KEYS", pattern)]

    async def xrange(
        self, name: str, min: str = "-", max: str = "+", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        args: list[Arg] = ["XRANGE", name, min, max]
        if count is not None:
            args += ["COUNT", count]
        return _entries(await self.execute_command(*args))

    async def xrevrange(
        self, name: str, max: str = "+", min: str = "-", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        args: list[Arg] = ["XREVRANGE", name, max, min]
        if count is not None:
            args += ["COUNT", count]
        return _entries(await self.execute_command(*args))

    async def xdel(self, name: str, *ids: str) -> int:
        return int(await self.execute_command("XDEL", name, *ids)) if ids else 0

    async def xtrim(self, name: str, maxlen: int, approximate: bool = True) -> int:
        args: list[Arg] = ["XTRIM", name, "MAXLEN"]
        if approximate:
            args.append("~")
        return int(await self.execute_command(*args, maxlen))

    async def xgroup_create(
        self, name: str, groupname: str, id: str = "$", mkstream: bool = False
    ) -> bool:
        args: list[Arg] = ["XGROUP", "CREATE", name, groupname, id]
        if mkstream:
            args.append("MKSTREAM")
        return bool(await self.execute_command(*args) == "OK")

    async def xreadgroup(
        self,
        groupname: str,
        consumername: str,
        streams: Mapping[str, str],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
    ) -> list[list[Any]]:
        args: list[Arg] = ["XREADGROUP", "GROUP", groupname, consumername]
        if count is not None:
            args += ["COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        if noack:
            args.append("NOACK")
        args += ["STREAMS", *streams.keys(), *streams.values()]
        # BLOCK 0 waits for ever: no deadline of ours may cut it short.
        extra = math.inf if block == 0 else (block or 0) / 1000
        reply = await self.execute_command(*args, extra_time=extra)
        if reply is None:
            return []
        return [[_text(key), _entries(items)] for key, items in reply]

    async def xack(self, name: str, groupname: str, *ids: str) -> int:
        return int(await self.execute_command("XACK", name, groupname, *ids)) if ids else 0

    async def xclaim(
        self,
        name: str,
        groupname: str,
        consumername: str,
        min_idle_time: int,
        message_ids: Sequence[str],
    ) -> list[tuple[str, dict[str, str]]]:
        if not message_ids:
            return []
        reply = await self.execute_command(
            "XCLAIM", name, groupname, consumername, min_idle_time, *message_ids
        )
        return _entries(reply)

    async def xpending(self, name: str, groupname: str) -> dict[str, Any]:
        count, low, high, consumers = await self.execute_command("XPENDING", name, groupname)
        return {
            "pending": int(count),
            "min": None if low is None else _text(low),
            "max": None if high is None else _text(high),
            "consumers": [
                {"name": _text(n), "pending": int(p)} for n, p in (consumers or [])
            ],
        }


class Pipeline:
    """Commands queued with the redis-py-shaped methods below, sent with one :meth:`execute`."""

    def __init__(self, client: RedisClient, *, transaction: bool = False) -> None:
        self._client = client
        self._transaction = transaction
        self._commands: list[tuple[Arg, ...]] = []

    def __len__(self) -> int:
        return len(self._commands)

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._commands.clear()

    def execute_command(self, *args: Arg) -> Pipeline:
        self._commands.append(args)
        return self

    def xadd(
        self,
        name: str,
        fields: Mapping[str, Arg],
        id: str = "*",
        maxlen: int | None = None,
        approximate: bool = True,
    ) -> Pipeline:
        return self.execute_command(*_xadd_args(name, fields, id, maxlen, approximate))

    def xlen(self, name: str) -> Pipeline:
        return self.execute_command("XLEN", name)

    def delete(self, *names: str) -> Pipeline:
        return self.execute_command("DEL", *names)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send the queued commands; their replies (bulk strings decoded as UTF-8 text)."""
        commands, self._commands = self._commands, []
        if not commands:
            return []
        if self._transaction:
            replies = await self._client.request([("MULTI",), *commands, ("EXEC",)])
            result = replies[-1]
            if isinstance(result, ReplyError) or result is None:
                failed = next((r for r in replies if isinstance(r, ReplyError)), result)
                raise RedisResponseError(getattr(failed, "message", "transaction aborted"))
            replies = result
        else:
            replies = await self._client.request(commands)
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, ReplyError):
                    raise RedisResponseError(reply.message)
        return [_decoded(r) for r in replies]


def _xadd_args(
    name: str, fields: Mapping[str, Arg], id: str, maxlen: int | None, approximate: bool
) -> list[Arg]:
    args: list[Arg] = ["XADD", name]
    if maxlen is not None:
        args += ["MAXLEN", "~", maxlen] if approximate else ["MAXLEN", maxlen]
    args.append(id)
    for key, value in fields.items():
        args += [key, value]
    return args


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _decoded(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """Stream entries ``[[id, [field, value, ...]], ...]`` as ``[(id, {field: value})]``."""
    out: list[tuple[str, dict[str, str]]] = []
    for item in reply or ():
        if not item:
            continue  # XCLAIM answers nil for an entry deleted meanwhile
        entry_id, flat = item
        fields = flat or []
        out.append(
            (_text(entry_id), {_text(fields[i]): _text(fields[i + 1])
                               for i in range(0, len(fields) - 1, 2)})
        )
    return out

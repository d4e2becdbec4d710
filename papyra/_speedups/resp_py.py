"""RESP2 hot paths: encoding commands, parsing replies incrementally (the reference twin).

Compiled twin: ``papyra._speedups.resp_c`` (``resp_c.pyx``), same names, signatures and
results; :mod:`papyra._accel` picks one at import, and :mod:`papyra._redis.resp` re-exports it.

A command is an array of bulk strings (``*<n>\\r\\n`` then ``$<len>\\r\\n<bytes>\\r\\n`` per
argument). Replies are simple strings (``+OK``), errors (``-ERR ...``), integers (``:1``), bulk
strings (``$<len>``, ``$-1`` for nil) and arrays (``*<n>``, ``*-1`` for nil), nested freely.

:class:`ReplyParser` is resumable: it keeps the arrays it is in the middle of between calls, so
a reply of many megabytes arriving in 64 KiB pieces is parsed once, not once per piece.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from papyra._redis.errors import ProtocolError, ReplyError

__all__ = ("ReplyParser", "decode_frames", "encode_command", "encode_commands", "encode_frames")

Arg = bytes | str | int | float


def _arg_bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8")
    if isinstance(arg, bool):
        raise TypeError("a Redis command argument cannot be a bool; pass 0/1 or a string")
    if isinstance(arg, (int, float)):
        return repr(arg).encode("ascii")
    raise TypeError(
        f"a Redis command argument must be bytes, str, int or float, not {type(arg).__name__}"
    )


def encode_command(args: Iterable[Arg]) -> bytes:
    """One command as RESP2 bytes (an array of bulk strings)."""
    parts: list[bytes] = []
    for arg in args:
        data = _arg_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"*%d\r\n" % len(parts) + b"".join(parts)


def encode_commands(commands: Iterable[Iterable[Arg]]) -> bytes:
    """Several commands back to back: a pipeline written with one send."""
    return b"".join(encode_command(c) for c in commands)


def encode_frames(frames: Sequence[dict[str, Any]]) -> bytes:
    """The field/value pairs of a cluster stream entry (``papyra.cluster.redis``), as bulk
    strings back to back with no array header (the caller appends them to an ``XADD``): per
    frame, its fields but ``m`` as one JSON object, then ``m``, the payload (``b""`` without).

    :raises TypeError: a frame is not a dict, or its ``m`` is not bytes.
    :raises orjson.JSONEncodeError: a header field orjson cannot write.
    """
    parts: list[bytes] = []
    dumps = orjson.dumps
    for frame in frames:
        if type(frame) is not dict:
            raise TypeError(f"a frame must be a dict, not {type(frame).__name__}")
        header = frame.copy()
        payload = header.pop("m", b"")
        if type(payload) is not bytes:
            raise TypeError(f"a frame's payload m must be bytes, not {type(payload).__name__}")
        text = dumps(header)
        parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(text), text, len(payload), payload))
    return b"".join(parts)


class ReplyParser:
    """Feed it bytes with :meth:`feed`; :meth:`replies` returns the complete replies so far.

    Bulk strings come back as ``bytes``, simple strings as ``str``, integers as ``int``, errors
    as :class:`~papyra._redis.errors.ReplyError`, nil as ``None`` and arrays as ``list``.
    Bytes that are not RESP2 raise :class:`~papyra._redis.errors.ProtocolError`.
    """

    __slots__ = ("_buf", "_pos", "_stack")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        #: Arrays being filled: [items so far, items still missing].
        self._stack: list[list[Any]] = []

    def feed(self, data: bytes) -> None:
        self._buf += data

    def replies(self) -> list[Any]:
        try:
            return self._replies()
        except ValueError as exc:  # int() of a length or an integer reply
            raise ProtocolError(f"not a RESP integer: {exc}") from None

    def _replies(self) -> list[Any]:
        buf = self._buf
        pos = self._pos
        stack = self._stack
        end = len(buf)
        out: list[Any] = []
        while pos < end:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                break
            kind = buf[pos]
            value: Any
            if kind == 36:  # '$' bulk string
                size = int(buf[pos + 1 : nl])
                if size < 0:
                    value = None
                    pos = nl + 2
                else:
                    stop = nl + 2 + size
                    if stop + 2 > end:
                        break
                    value = bytes(buf[nl + 2 : stop])
                    pos = stop + 2
            elif kind == 42:  # '*' array
                size = int(buf[pos + 1 : nl])
                pos = nl + 2
                if size > 0:
                    stack.append([[], size])
                    continue
                value = None if size < 0 else []
            elif kind == 58:  # ':' integer
                value = int(buf[pos + 1 : nl])
                pos = nl + 2
            elif kind == 43:  # '+' simple string
                value = buf[pos + 1 : nl].decode("utf-8", "replace")
                pos = nl + 2
            elif kind == 45:  # '-' error
                value = ReplyError(buf[pos + 1 : nl].decode("utf-8", "replace"))
                pos = nl + 2
            else:
                raise ProtocolError(f"unexpected RESP type byte {bytes([kind])!r}")
            while stack:
                top = stack[-1]
                top[0].append(value)
                top[1] -= 1
                if top[1]:
                    break
                value = stack.pop()[0]
            else:
                out.append(value)
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out


def decode_frames(flat: list[Any]) -> list[dict[str, Any]]:
    """The frames of a cluster stream entry from its flat field/value list, as read (the
    inverse of :func:`encode_frames`): each header's fields, with ``m`` set to its value.

    A field that is not a JSON object gives an empty frame (the node drops it as a frame of
    unknown kind: an entry that is not ours), and so does an entry with no field. An entry of
    an earlier version (one field ``f``: the header, a newline, the payload) is read as one
    frame.
    """
    if len(flat) == 2 and flat[0] == b"f":
        head, _, payload = flat[1].partition(b"\n")
        flat = [head, payload]
    frames: list[dict[str, Any]] = []
    loads = orjson.loads
    field: Any = None  # the last header read, and its fields (None: not a JSON object)
    header: dict[str, Any] | None = None
    for index in range(0, len(flat) - 1, 2):
        if flat[index] != field:  # frames sent together mostly share their header
            field = flat[index]
            try:
                header = loads(field)
            except orjson.JSONDecodeError:
                header = None
            if type(header) is not dict:
                header = None
        if header is not None:
            frame = header.copy()
            frame["m"] = flat[index + 1]
            frames.append(frame)
        else:
            frames.append({})
    return frames or [{}]

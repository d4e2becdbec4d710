"""NDJSON hot paths, pure-Python reference: encode one record, scan a buffer of lines.

This module is the specification of its compiled twin ``ndjson_c`` (a hand-written ``.pyx``
with a validating byte scanner). Both expose exactly the names and behaviour below; callers
(:mod:`papyra.persistence._file`) get one of them from :mod:`papyra._accel` and must not be
able to tell which. Results are compact (``array.array`` / ``bytearray``), never one Python
object per line; the caller decodes the few lines it actually wants as records.

Lines
-----
A *line* is a run of bytes terminated by ``b"\\n"`` (the terminator belongs to the line; a
``b"\\r"`` before it is JSON whitespace, so CRLF files read fine). When a scan is ``final``, the
bytes after the last ``b"\\n"`` (if any) form one more line, flagged :data:`F_NOEOL`. When it is
not final, they are left over: :attr:`LineTable.tail` points at them, and a streaming caller
prepends them to its next block.

Flags (one byte per line, :attr:`LineTable.flags`)
--------------------------------------------------
* :data:`F_JSON` (1) -- the line, terminator excluded, is exactly one valid JSON document with
  optional JSON whitespace around it (RFC 8259, UTF-8, no BOM, no ``NaN``; ``orjson.loads``
  accepts it). An empty or whitespace-only line is **not** valid.
* :data:`F_OBJECT` (2) -- valid and a JSON object (always set together with ``F_JSON``).
* :data:`F_STAMP` (4) -- an object whose top-level ``"timestamp"`` is a JSON number (not a bool,
  not ``null``, not a string); only computed when :data:`WANT_STAMP` was requested.
  :attr:`LineTable.stamps` then holds it as a double (``NaN`` on lines without the flag).
* :data:`F_NOEOL` (8) -- the final line of a ``final`` scan, which lacks its ``b"\\n"``.
* bits 4-5 (:data:`KIND_MASK`, shift :data:`KIND_SHIFT`) -- only with :data:`WANT_KIND`: the
  top-level ``"kind"`` of an object when it is exactly the string ``"event"`` (1), ``"audit"``
  (2) or ``"dead_letter"`` (3); 0 otherwise. Pre-shifted values: :data:`KIND_EVENT`,
  :data:`KIND_AUDIT`, :data:`KIND_DEAD_LETTER`.

Duplicate keys resolve as in orjson: the last occurrence wins.

API
---
``scan_lines(buf, start=0, end=-1, *, final=False, want=0) -> LineTable``
    Scan ``buf[start:end]`` (``end=-1``: ``len(buf)``). ``buf`` is ``bytes``, ``bytearray`` or
    a C-contiguous byte ``memoryview`` (which the reference copies once); it is not modified
    and must not change during the call. ``want`` is a bit set of :data:`WANT_KIND` /
    :data:`WANT_STAMP`; without them the kind bits are 0 and ``stamps`` is ``None``, and the
    scan may be cheaper. Never raises for any content; raises ``ValueError`` for out-of-range
    ``start``/``end``.

``LineTable`` (read-only attributes)
    ``start`` / ``end``: the scanned range; ``count``: number of lines; ``ends``:
    ``array('q')``, the offset in ``buf`` just past each line (past its ``b"\\n"``; for an
    ``F_NOEOL`` line, ``end``); line ``i`` spans ``[ends[i-1] if i else start, ends[i])``;
    ``flags``: ``bytearray`` of ``count`` flag bytes; ``stamps``: ``array('d')`` of ``count``
    doubles or ``None``; ``tail``: offset of the first byte not in any line (``end`` when the
    range ends with ``b"\\n"`` or the scan was final).

``line_ends(buf, start=0, end=-1, *, final=False) -> LineTable``
    Line boundaries only, for a range whose lines were already judged by an earlier scan: the
    same ``ends``/``tail``/``count`` as ``scan_lines``; flags carry only :data:`F_NOEOL`;
    ``stamps`` is ``None``. No decoding: a twin should run at memchr speed.

``invalid_lines(table) -> array('q')``
    Indices of the lines without :data:`F_JSON`, in order, the ``F_NOEOL`` line excluded.

``select_lines(table, mask, value, first=0) -> array('q')``
    Indices ``i >= first`` with ``flags[i] & mask == value``, in order.

``count_lines(table, mask, value, first=0) -> int``
    ``len(select_lines(table, mask, value, first))`` without building the array.

``spans(table, mask, value, first=0) -> array('q')``
    The lines ``i >= first`` with ``flags[i] & mask == value``, as maximal runs of consecutive
    lines, flattened into byte offsets ``[start0, end0, start1, end1, ...]`` (ends exclusive).
    Copying these ranges copies the selected lines byte for byte.

``encode_record(record, default=None) -> bytes``
    One record (a ``dict``, ``"kind"`` first) as its NDJSON line: compact JSON plus ``b"\\n"``,
    byte-identical to :func:`papyra._serial.encode_line` (whose contract it is); ``default``
    converts values JSON cannot represent. Raises ``TypeError`` for unencodable input.

``encode_records(records, default=None) -> bytes``
    The concatenated lines of an iterable of records.

``encode_fields(record, kind, schema, default=None) -> bytes``
    A record given as a plain mapping of its fields, straight to its line (no model object
    in between): the line of the ``dict`` ``{"kind": kind, <name>: <value>, ...}`` built from
    ``schema``, a tuple of ``(name, missing, fix, optional)`` entries in output order. The
    value of ``name`` is ``record.get(name, missing)``; ``fix`` (``None`` or a callable) then
    replaces it with ``fix(value)`` -- except that a value whose type is exactly ``str``,
    ``int`` or ``float`` is used as it is, so a ``fix`` must return such values unchanged; an
    ``optional`` entry whose value is then ``None`` is left out. Keys of ``record`` that the
    schema does not name are ignored. The line is encoded as :func:`encode_record` encodes
    that dict. ``record`` must be exactly a ``dict`` (``TypeError`` otherwise: a subclass may
    change ``get``), ``schema`` a tuple of 4-tuples (``TypeError`` / ``ValueError``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from papyra import _serial

__all__ = (
    "F_JSON",
    "F_NOEOL",
    "F_OBJECT",
    "F_STAMP",
    "KIND_AUDIT",
    "KIND_DEAD_LETTER",
    "KIND_EVENT",
    "KIND_MASK",
    "KIND_SHIFT",
    "WANT_KIND",
    "WANT_STAMP",
    "LineTable",
    "count_lines",
    "encode_fields",
    "encode_record",
    "encode_records",
    "invalid_lines",
    "is_plain",
    "line_ends",
    "scan_lines",
    "select_lines",
    "spans",
)

F_JSON = 1
F_OBJECT = 2
F_STAMP = 4
F_NOEOL = 8
KIND_SHIFT = 4
KIND_MASK = 0x30
KIND_EVENT = 1 << KIND_SHIFT
KIND_AUDIT = 2 << KIND_SHIFT
KIND_DEAD_LETTER = 3 << KIND_SHIFT
WANT_KIND = 1
WANT_STAMP = 2

_KIND_CODES = {"event": KIND_EVENT, "audit": KIND_AUDIT, "dead_letter": KIND_DEAD_LETTER}
_NAN = float("nan")


class LineTable:
    """Where the lines of a scanned range are and what they hold (see the module docstring)."""

    __slots__ = ("count", "end", "ends", "flags", "stamps", "start", "tail")

    def __init__(
        self,
        start: int,
        end: int,
        ends: array[int],
        flags: bytearray,
        stamps: array[float] | None,
        tail: int,
    ) -> None:
        self.start = start
        self.end = end
        self.count = len(flags)
        self.ends = ends
        self.flags = flags
        self.stamps = stamps
        self.tail = tail

    def __repr__(self) -> str:
        return f"<LineTable [{self.start}:{self.end}] {self.count} lines, tail at {self.tail}>"


def scan_lines(
    buf: bytes | bytearray | memoryview,
    start: int = 0,
    end: int = -1,
    *,
    final: bool = False,
    want: int = 0,
) -> LineTable:
    size = len(buf)
    if end < 0:
        end = size
    if not 0 <= start <= end <= size:
        raise ValueError(f"invalid range [{start}:{end}] for a buffer of {size} bytes")
    view = memoryview(buf)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    # Decoding is the cost of this reference; everything else is C-backed (bytes.find, array).
    decode = _serial.decode
    # bytes.find on the buffer itself; a memoryview is copied once (offsets are unchanged).
    find = buf.find if isinstance(buf, (bytes, bytearray)) else bytes(view).find
    ends: array[int] = array("q")
    flags = bytearray()
    stamps: array[float] | None = array("d") if want & WANT_STAMP else None
    add_end = ends.append
    add_flag = flags.append
    add_stamp = stamps.append if stamps is not None else None
    want_kind = want & WANT_KIND
    kinds = _KIND_CODES
    pos = start
    tail = end
    while pos < end:
        nl = find(b"\n", pos, end)
        if nl < 0:
            if not final:
                tail = pos
                break
            stop = end
            flag = F_NOEOL
        else:
            stop = nl + 1
            flag = 0
        try:
            value = decode(view[pos:stop])
        except ValueError:
            pass
        else:
            if type(value) is dict:
                flag |= F_JSON | F_OBJECT
                if want_kind:
                    kind = value.get("kind")
                    if type(kind) is str:
                        flag |= kinds.get(kind, 0)
                if add_stamp is not None:
                    ts = value.get("timestamp")
                    if type(ts) is float or type(ts) is int:
                        flag |= F_STAMP
                        add_stamp(float(ts))
                        add_end(stop)
                        add_flag(flag)
                        pos = stop
                        continue
            else:
                flag |= F_JSON
        if add_stamp is not None:
            add_stamp(_NAN)
        add_end(stop)
        add_flag(flag)
        pos = stop
    return LineTable(start, end, ends, flags, stamps, tail)


def line_ends(
    buf: bytes | bytearray | memoryview, start: int = 0, end: int = -1, *, final: bool = False
) -> LineTable:
    size = len(buf)
    if end < 0:
        end = size
    if not 0 <= start <= end <= size:
        raise ValueError(f"invalid range [{start}:{end}] for a buffer of {size} bytes")
    data = buf if isinstance(buf, (bytes, bytearray)) else bytes(buf)
    find = data.find
    ends: array[int] = array("q")
    add = ends.append
    pos = start
    nl = find(b"\n", pos, end)
    while nl >= 0:
        pos = nl + 1
        add(pos)
        nl = find(b"\n", pos, end)
    flags = bytearray(len(ends))
    tail = pos
    if pos < end and final:
        add(end)
        flags.append(F_NOEOL)
        tail = end
    elif pos == end:
        tail = end
    return LineTable(start, end, ends, flags, None, tail)


def _marks(table: LineTable, mask: int, value: int) -> bytearray:
    # One byte per line: 1 where ``flags & mask == value``. bytes.translate and bytes.find keep
    # the per-line work in C even for a million lines.
    lut = bytes(1 if (f & mask) == value else 0 for f in range(256))
    return table.flags.translate(lut)


def invalid_lines(table: LineTable) -> array[int]:
    return select_lines(table, F_JSON | F_NOEOL, 0)


def select_lines(table: LineTable, mask: int, value: int, first: int = 0) -> array[int]:
    marks = _marks(table, mask, value)
    out: array[int] = array("q")
    find = marks.find
    i = find(1, first)
    while i >= 0:
        out.append(i)
        i = find(1, i + 1)
    return out


def count_lines(table: LineTable, mask: int, value: int, first: int = 0) -> int:
    return _marks(table, mask, value).count(1, first)


def spans(table: LineTable, mask: int, value: int, first: int = 0) -> array[int]:
    marks = _marks(table, mask, value)
    ends = table.ends
    count = table.count
    out: array[int] = array("q")
    find = marks.find
    i = find(1, first)
    while i >= 0:
        j = find(0, i)
        if j < 0:
            j = count
        out.append(ends[i - 1] if i else table.start)
        out.append(ends[j - 1])
        if j == count:
            break
        i = find(1, j)
    return out


def encode_record(record: dict[str, Any], default: Callable[[Any], Any] | None = None) -> bytes:
    return _serial.encode_line(record, default)


def encode_records(
    records: Iterable[dict[str, Any]], default: Callable[[Any], Any] | None = None
) -> bytes:
    encode = _serial.encode_line
    return b"".join([encode(record, default) for record in records])


_AS_IS = (str, int, float)


def encode_fields(
    record: dict[str, Any],
    kind: str,
    schema: tuple[tuple[str, Any, Callable[[Any], Any] | None, bool], ...],
    default: Callable[[Any], Any] | None = None,
) -> bytes:
    if type(record) is not dict:
        raise TypeError(f"record must be a dict, not {type(record).__name__}")
    if type(schema) is not tuple:
        raise TypeError(f"schema must be a tuple, not {type(schema).__name__}")
    out: dict[str, Any] = {"kind": kind}
    get = record.get
    as_is = _AS_IS
    for entry in schema:
        if type(entry) is not tuple or len(entry) != 4:
            raise ValueError(f"schema entries are (name, missing, fix, optional), not {entry!r}")
        name, missing, fix, optional = entry
        value = get(name, missing)
        if fix is not None and type(value) not in as_is:
            value = fix(value)
        if optional and value is None:
            continue
        out[name] = value
    return _serial.encode_line(out, default)


#: How deep :func:`is_plain` looks into nested lists and dicts before it answers False.
PLAIN_DEPTH = 200
_SCALARS = frozenset((str, int, bool, type(None)))  # floats: finite ones only


def is_plain(value: Any, reserved: str) -> bool:
    """Whether ``value`` is plain JSON data: ``None``, or exactly a ``bool``, ``int``, ``str``
    or finite ``float`` (not a subclass; JSON has no NaN or infinity: orjson writes them as
    ``null``), or a ``list`` of plain values, or a ``dict`` whose keys are all
    ``str`` (exactly), none equal to ``reserved``, and whose values are plain; nested at most
    :data:`PLAIN_DEPTH` containers deep. Anything else (a tuple, a set, a subclass, a
    dataclass, ...) makes it False. The cluster codec hands a plain message to orjson as it is
    (its JSON reads back equal to it) and rebuilds any other."""
    return type(value) in _SCALARS or _plain(value, reserved, PLAIN_DEPTH)


def _plain(value: Any, reserved: str, depth: int) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth <= 0:
        return False
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or k == reserved or (
                type(v) not in _SCALARS and not _plain(v, reserved, depth - 1)
            ):
                return False
        return True
    if kind is list:
        for v in value:
            if type(v) not in _SCALARS and not _plain(v, reserved, depth - 1):
                return False
        return True
    return False

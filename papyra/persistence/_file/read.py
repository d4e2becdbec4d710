"""Streaming reads: block tables, the per-file scan and the backwards ``list_*`` read.

Everything here is synchronous, meant for a worker thread (``anyio.to_thread.run_sync``), and
takes the NDJSON twin as ``nd`` (:class:`NdjsonTwin`; the backends pass their ``_ndjson``).

Memory is bounded by the block size, not by the file: files are read in :data:`BLOCK` slices,
each slice is scanned by the twin into compact per-line arrays, and whatever must survive the
slice is an array of line numbers (the lines to drop, typically none) or a few counters.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from papyra import _serial
from papyra.persistence._records import KINDS, record_from_dict, timestamp_of
from papyra.persistence.backends.retention import RetentionPolicy

__all__ = (
    "BLOCK",
    "FIRST_BACKWARD_BLOCK",
    "NdjsonTwin",
    "ScanResult",
    "iter_tables",
    "read_progress",
    "read_records",
    "scan_file",
)

#: Read size of every streaming pass: large enough that per-block overhead vanishes
#: (a 150 MB log is ~36 blocks), small enough that a pass stays far below 64 MB.
BLOCK = 4 * 1024 * 1024
#: First block of a backwards read: ``list_events(limit=10)`` decodes a few hundred lines at most.
FIRST_BACKWARD_BLOCK = 64 * 1024


class NdjsonTwin(Protocol):
    """What the file engine uses of an NDJSON twin (``papyra._speedups.ndjson_py`` / ``_c``).

    Tables (``LineTable``) are opaque here: each twin reads back only its own.
    """

    F_OBJECT: int
    F_STAMP: int
    F_NOEOL: int
    KIND_MASK: int
    KIND_EVENT: int
    KIND_AUDIT: int
    KIND_DEAD_LETTER: int
    WANT_KIND: int
    WANT_STAMP: int

    def scan_lines(
        self,
        buf: bytes | bytearray,
        start: int = ...,
        end: int = ...,
        *,
        final: bool = ...,
        want: int = ...,
    ) -> Any: ...

    def line_ends(
        self, buf: bytes | bytearray, start: int = ..., end: int = ..., *, final: bool = ...
    ) -> Any: ...

    def invalid_lines(self, table: Any) -> array[int]: ...

    def select_lines(self, table: Any, mask: int, value: int, first: int = ...) -> array[int]: ...

    def count_lines(self, table: Any, mask: int, value: int, first: int = ...) -> int: ...

    def spans(self, table: Any, mask: int, value: int, first: int = ...) -> array[int]: ...

    def encode_record(
        self, record: dict[str, Any], default: Callable[[Any], Any] | None = ...
    ) -> bytes: ...

    def encode_fields(
        self,
        record: dict[str, Any],
        kind: str,
        schema: tuple[tuple[str, Any, Callable[[Any], Any] | None, bool], ...],
        default: Callable[[Any], Any] | None = ...,
    ) -> bytes: ...


#: Bytes-read reporter of the operation running in this context (see FileBackend.progress).
read_progress: ContextVar[Callable[[int], None] | None] = ContextVar(
    "papyra_read_progress", default=None
)


def _file_size(f: Any) -> int:
    return os.fstat(f.fileno()).st_size


def iter_tables(
    f: Any,
    limit: int,
    *,
    nd: NdjsonTwin,
    want: int = 0,
    block: int = BLOCK,
    validate: bool = True,
) -> Iterator[tuple[bytearray, Any]]:
    """Yield ``(buf, table)`` for the lines of ``f`` (a binary file, read from its start).

    Every table covers complete lines, except that the last one is a ``final`` scan (its last
    line may lack ``"\\n"``). Only ``limit`` bytes are read (a size snapshot). With
    ``validate=False`` only line boundaries are found (no JSON decoding).

    ``buf`` is one ``bytearray`` reused for every block (read into with ``readinto``; the
    unfinished last line of a block is moved to its front): use a table's lines before asking
    for the next one, slice what must outlive them, and keep no ``memoryview`` of ``buf``
    across iterations. A table covers ``buf[table.start:table.end]``, not all of ``buf``.
    """
    f.seek(0)
    pos = 0
    have = 0  # bytes at the front of buf: the unfinished line carried from the last block
    buf = bytearray(block)
    report = read_progress.get()
    while True:
        size = min(block, limit - pos) if pos < limit else 0
        if have + size > len(buf):
            # A line longer than a block: a bigger buffer (a new one: buf may be exported).
            bigger = bytearray(have + max(size, block))
            bigger[:have] = buf[:have]
            buf = bigger
        got = f.readinto(memoryview(buf)[have : have + size]) if size else 0
        pos += got
        if report is not None and got:
            report(got)
        final = not got or pos >= limit
        end = have + got
        if validate:
            table = nd.scan_lines(buf, 0, end, final=final, want=want)
        else:
            table = nd.line_ends(buf, 0, end, final=final)
        yield buf, table
        if final:
            return
        tail = table.tail
        have = end - tail
        if have:
            buf[:have] = buf[tail:end]


@dataclass
class ScanResult:
    """One file's scan: anomalies as ``(type name, detail)`` and the lines recovery drops."""

    anomalies: list[tuple[str, str]]
    #: 0-based numbers of the complete lines that are not JSON objects (invalid or not objects).
    drop: array[int]
    #: 0-based number of the final line lacking ``"\\n"`` (recovery drops it), or -1.
    torn_line: int
    size: int
    lines: int
    #: Where the lines of ``drop`` are in the file: ``[start0, end0, start1, end1, ...]``,
    #: ascending (ends exclusive; adjacent dropped lines of one read block are one span).
    drop_spans: array[int] = field(default_factory=lambda: array("q"))
    #: Where the lines recovery keeps end: the offset of the torn line, else the bytes scanned.
    keep_end: int = 0

    def kept_ranges(self) -> array[int]:
        """The bytes recovery keeps, ``[start0, end0, ...]``: every complete JSON-object line.

        The complement of :attr:`drop_spans` in ``[0, keep_end)``; copying these ranges
        copies the kept lines byte for byte (each ends with ``"\\n"``).
        """
        out: array[int] = array("q")
        spans = self.drop_spans
        pos = 0
        for k in range(0, len(spans), 2):
            if spans[k] > pos:
                out.append(pos)
                out.append(spans[k])
            pos = spans[k + 1]
        if self.keep_end > pos:
            out.append(pos)
            out.append(self.keep_end)
        return out


def scan_file(
    path: Path,
    limit: int | None = None,
    *,
    nd: NdjsonTwin,
    block: int = BLOCK,
    kept: Callable[[int, int], None] | None = None,
) -> ScanResult | None:
    """Scan ``path`` as the spec's JSON scan does; ``None`` when the file does not exist.

    ``block``: the read size (see :func:`iter_tables`). ``kept(start, end)``: told the byte
    ranges of :meth:`ScanResult.kept_ranges` while the scan runs (a recovery copies them
    meanwhile), in order and one block behind the scan -- but only from the first line the
    scan drops on: it is never called for a file without such a line. Once called, it has
    been told every kept range (some maybe empty) when the scan returns.
    """
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - `with f` below; try covers open only
    except FileNotFoundError:
        return None
    with f:
        size = _file_size(f) if limit is None else limit
        anomalies: list[tuple[str, str]] = []
        drop: array[int] = array("q")
        drop_spans: array[int] = array("q")
        line_no = 0
        torn = -1
        offset = 0  # file offset of the block's buf[0]
        keep_end = 0
        drop_mask = nd.F_OBJECT | nd.F_NOEOL
        handed = 0  # kept: the ranges before this offset were told
        told = 0  # kept: the spans before this index of drop_spans were accounted for

        def hand_over(upto: int) -> None:
            nonlocal handed, told
            assert kept is not None
            while told < len(drop_spans) and drop_spans[told] < upto:
                kept(handed, drop_spans[told])
                handed = drop_spans[told + 1]
                told += 2
            if upto > handed:
                kept(handed, upto)
                handed = upto

        for _, table in iter_tables(f, size, nd=nd, block=block):
            if kept is not None and drop_spans:
                hand_over(offset)  # every line before this block is decided
            count = table.count
            ends = table.ends
            keep_end = offset + table.tail
            if count and table.flags[count - 1] & nd.F_NOEOL:
                torn = line_no + count - 1
                keep_end = offset + (ends[count - 2] if count > 1 else 0)
            for i in nd.invalid_lines(table):
                anomalies.append(("CORRUPTED_LINE", f"Invalid JSON at line {line_no + i + 1}"))
            dropped = nd.select_lines(table, drop_mask, 0)
            if dropped:
                for i in dropped:
                    drop.append(line_no + i)
                spans = nd.spans(table, drop_mask, 0)
                for k in range(len(spans)):
                    drop_spans.append(offset + spans[k])
            line_no += count
            offset += table.tail
        if kept is not None and drop_spans:
            hand_over(keep_end)
        if torn >= 0:
            anomalies.append(("TRUNCATED_LINE", f"Line {torn + 1} missing newline"))
        return ScanResult(anomalies, drop, torn, size, line_no, drop_spans, keep_end)


# ----------------------------------------------------------------------------------------------
# list_*: newest first, stop as soon as the answer is known
# ----------------------------------------------------------------------------------------------


def _lines_backward(
    files: Sequence[tuple[Path, int]], want: int, nd: NdjsonTwin
) -> Iterator[tuple[int, float, bytes, int, int]]:
    """Yield ``(flags, stamp, buf, start, end)`` for every line, newest file and line first."""
    nan = float("nan")
    for path, limit in reversed(files):
        try:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - `with f` below; try covers open only
        except OSError:
            continue
        with f:
            pos = limit
            carry = b""
            block = FIRST_BACKWARD_BLOCK
            while pos > 0 or carry:
                lo = max(0, pos - block)
                if pos > lo:
                    f.seek(lo)
                    chunk = f.read(pos - lo)
                    if len(chunk) != pos - lo:  # the file shrank under us: stop reading it
                        break
                else:
                    chunk = b""
                pos = lo
                block = min(block * 2, BLOCK)
                buf = chunk + carry if carry else chunk
                head = 0
                if lo > 0:
                    nl = buf.find(b"\n")
                    if nl < 0 or nl + 1 == len(buf):
                        carry = buf
                        continue
                    head = nl + 1
                carry = buf[:head]
                table = nd.scan_lines(buf, head, final=True, want=want)
                ends = table.ends
                flags = table.flags
                stamps = table.stamps
                for i in range(table.count - 1, -1, -1):
                    yield (
                        flags[i],
                        stamps[i] if stamps is not None else nan,
                        buf,
                        ends[i - 1] if i else head,
                        ends[i],
                    )
                if lo == 0:
                    break


def read_records(
    files: Sequence[tuple[Path, int]],
    kind: str,
    policy: RetentionPolicy | None,
    *,
    nd: NdjsonTwin,
    since: float | None,
    limit: int | None,
    since_fallback: bool = False,
) -> list[Any]:
    """``list_*`` of the file backends, reading newest to oldest and stopping early.

    Equal to the full-read definition: all JSON-object lines of ``files`` (oldest first), then
    retention on the mixed stream, then kind, tolerant model build (no ``"timestamp"`` →
    skipped), ``since`` and the last ``limit``. Every step keeps a suffix or filters per record,
    so walking backwards lets each stop as soon as it is satisfied. ``since_fallback``: the
    rotating backend's ``since`` test reads ``timestamp or created_at`` from the raw record.
    """
    if limit is not None and limit <= 0:
        return []
    cutoff = max_records = max_bytes = None
    if policy is not None:
        if policy.max_age_seconds is not None:
            cutoff = time.time() - policy.max_age_seconds
        max_records = policy.max_records
        max_bytes = policy.max_total_bytes
    code = KINDS[kind].code
    f_object, f_stamp, kind_mask = nd.F_OBJECT, nd.F_STAMP, nd.KIND_MASK
    decode = _serial.decode
    taken = 0
    out: list[Any] = []
    for flag, stamp, buf, start, end in _lines_backward(files, nd.WANT_KIND | nd.WANT_STAMP, nd):
        if not flag & f_object:
            continue
        if cutoff is not None and not (flag & f_stamp and stamp >= cutoff):
            continue
        if max_records is not None:
            if taken >= max_records:
                break
            taken += 1
        record = None
        if max_bytes is not None:
            record = decode(buf[start:end])
            size = len(repr(record).encode("utf-8"))
            if size > max_bytes:
                break
            max_bytes -= size
        if flag & kind_mask != code:
            continue
        if record is None:
            record = decode(buf[start:end])
        if since is not None and since_fallback:
            raw_ts = record.get("timestamp") or record.get("created_at")
            if not _is_number(raw_ts) or raw_ts < since:
                continue
        model = record_from_dict(kind, record)
        if model is None:
            continue
        if since is not None and not since_fallback:
            ts = timestamp_of(model)
            if ts is None or ts < since:
                continue
        out.append(model)
        if limit is not None and len(out) >= limit:
            break
    out.reverse()
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


"""The machinery both NDJSON file backends share: appending, streaming reads, scans and rewrites.

Everything here is synchronous and meant to run either inline (short appends) or in a worker
thread (``anyio.to_thread.run_sync``: scans, reads, rewrites). The async backends own the locks,
the metrics and the reports; this module owns the bytes.

Memory is bounded by the block size, not by the file: files are read in :data:`BLOCK` slices,
each slice is scanned by the NDJSON twin (:mod:`papyra._accel`.ndjson) into compact per-line
arrays, and whatever must survive the slice is an array of line numbers (the lines to drop,
typically none) or a few counters.

Cross-process protocol (POSIX, ``fcntl.flock``): a writer holds a *shared* lock on its file
descriptor while it checks that the path still names its inode and appends; a rewriter
(recover / compact) holds an *exclusive* lock on the original inode from its final read until
after ``os.replace``. A writer that blocked on the lock then sees a new inode, reopens and
appends to the new file: no record is ever written into a replaced inode. Writers that do not
take the lock (Papyra 0.3.0) are not protected. Without ``fcntl`` (Windows) there is no locking.
"""

from __future__ import annotations

import errno
import os
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread

from papyra import _accel
from papyra import _serial
from papyra.persistence._records import (
    coerce,
    json_default,
    record_from_dict,
    record_to_dict,
    timestamp_of,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryMode,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = (
    "BLOCK",
    "AppendLog",
    "FileBackend",
    "FsyncMode",
    "GroupCommitter",
    "KeepPlan",
    "ScanResult",
    "copy_lines",
    "fsync_dir",
    "plan_keep",
    "read_records",
    "scan_file",
)

nd = _accel.ndjson

#: Read size of every streaming pass: large enough that per-block overhead vanishes
#: (a 150 MB log is ~36 blocks), small enough that a pass stays far below 64 MB.
BLOCK = 4 * 1024 * 1024
#: First block of a backwards read: ``list_events(limit=10)`` decodes a few hundred lines at most.
FIRST_BACKWARD_BLOCK = 64 * 1024

FsyncMode = Literal["always", "batch", "never"]
FSYNC_MODES: tuple[FsyncMode, ...] = ("always", "batch", "never")

KIND_CODES = {"event": nd.KIND_EVENT, "audit": nd.KIND_AUDIT, "dead_letter": nd.KIND_DEAD_LETTER}

_fsync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _lock(fd: int, exclusive: bool, blocking: bool = True) -> None:
    if fcntl is None:  # pragma: no cover
        return
    op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    fcntl.flock(fd, op if blocking else op | fcntl.LOCK_NB)


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------------------
# Appending
# ----------------------------------------------------------------------------------------------


class AppendLog:
    """One append-only NDJSON file, kept open between writes.

    * Opened lazily (``O_APPEND``; parent directories created) by the first write.
    * **Torn tail**: if the file does not end with ``"\\n"`` when it is (re)opened -- a crash in
      the middle of a write -- the next write starts with a ``"\\n"``, so the partial line stays
      a line of its own (a ``CORRUPTED_LINE`` for scans from then on, dropped by recovery) and
      the new record is intact.
    * **Replaced file**: before every write the path is checked to still name the open inode
      (and the file not to have shrunk); otherwise the file is reopened.
    * Every write is one ``os.write`` loop straight to the OS (no user-space buffer): when
      :meth:`write` returns, the bytes survive a crash of this process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._size = 0  # file size after our last write (O_APPEND: a lower bound)
        self._torn = False

    @property
    def is_open(self) -> bool:
        return self.fd is not None

    def _open(self) -> None:
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o644)
        try:
            st = os.fstat(fd)
            self._torn = st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n"
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self._ident = (st.st_dev, st.st_ino)
        self._size = st.st_size

    def _current(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == self._ident and st.st_size >= self._size

    def write(self, data: bytes, *, blocking: bool = True) -> int:
        """Append ``data`` (whole lines); return the bytes written, torn-tail newline included.

        With ``blocking=False`` a rewrite in progress in another process raises
        ``BlockingIOError`` instead of waiting (so an event loop thread never blocks on it).
        On an ``OSError`` part of ``data`` may be on disk: the file is then treated as torn, so
        the next write starts on a fresh line.
        """
        while True:
            if self.fd is None:
                self._open()
            fd = self.fd
            assert fd is not None
            _lock(fd, exclusive=False, blocking=blocking)
            try:
                if not self._current():
                    # Replaced (or shrunk) since we opened it, possibly while we waited for the
                    # lock: reopen and lock the new file. One stat per write is the whole cost.
                    self._open()
                    continue
                if self._torn:
                    data = b"\n" + data
                view = memoryview(data)
                total = len(data)
                done = 0
                try:
                    while done < total:
                        done += os.write(fd, view[done:])
                except BaseException:
                    if done:
                        self._torn = True
                    raise
                self._torn = False
                self._size += total  # a lower bound: other processes may append too
                return total
            finally:
                if fd == self.fd:
                    _unlock(fd)

    def sync(self) -> None:
        if self.fd is not None:
            _fsync(self.fd)

    def truncate(self) -> None:
        """Empty the file (the rotating backend's ``max_files=1`` rule)."""
        if self.fd is None or not self._current():
            self._open()
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        self._size = 0
        self._torn = False

    def size(self) -> int:
        """Current size of the file at ``path`` (0 when it does not exist)."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)


class _Group:
    """Lines written together. The event exists only if some caller has to wait for it."""

    __slots__ = ("_event", "error", "finished", "lines")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.error: BaseException | None = None
        self.finished = False
        self._event: anyio.Event | None = None

    async def wait(self) -> None:
        if not self.finished:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()

    def set(self) -> None:
        self.finished = True
        if self._event is not None:
            self._event.set()


class GroupCommitter:
    """Group commit for ``record_*`` calls: whoever finds no write in progress leads.

    A call appends its encoded line to the open group. If no leader is active it becomes the
    leader: it yields once (so concurrent callers can join), then repeatedly takes the open group
    and flushes it with one write, until no group is waiting. Other callers wait for their
    group's event. The flush runs shielded from cancellation: a write that started always
    finishes and is reported to all its callers (a cancelled caller may still have its record
    written -- it is just not told).

    ``flush(lines, blocking)`` writes a group (sync; raises on failure, and ``BlockingIOError``
    when ``blocking`` is false and it would have to wait); ``sync()`` fsyncs. Modes:

    * ``"never"``: flush inline; a call returns once its record is in the OS.
    * ``"batch"``: flush inline, release the group's callers, then fsync the group (in a worker
      thread) before the next group is written: one fsync per group, callers do not wait for it.
      If that fsync fails, the next group fails with the error (and is not written).
    * ``"always"``: flush + fsync in a worker thread; callers return after their group is synced.

    ``io_lock`` serialises flushes with rewrites (recover / compact) of the same backend.
    """

    def __init__(
        self,
        flush: Callable[[list[bytes], bool], int],
        sync: Callable[[], None],
        mode: FsyncMode,
        io_lock: anyio.Lock,
    ) -> None:
        self._flush = flush
        self._sync = sync
        self._mode = mode
        self._io_lock = io_lock
        self._open = _Group()
        self._leading = False
        self._idle: anyio.Event | None = None
        self._sync_error: OSError | None = None
        self.on_written: Callable[[int, int], None] = lambda records, nbytes: None
        self.on_failed: Callable[[int], None] = lambda records: None

    async def submit(self, line: bytes) -> None:
        """Add ``line`` to the open group and return once that group is written."""
        self._open.lines.append(line)
        await self.flush()

    def add_nowait(self, line: bytes) -> None:
        """Put ``line`` in the open group without waiting; a later submit or flush writes it."""
        self._open.lines.append(line)

    async def flush(self) -> None:
        """Write every line added so far (and raise the error of the group holding them)."""
        group = self._open
        if self._leading:
            await group.wait()
        else:
            await self._lead()
        if group.error is not None:
            raise group.error

    async def drain(self) -> None:
        """Wait until no group is being written or waiting to be."""
        while self._leading:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def _lead(self) -> None:
        self._leading = True
        try:
            await anyio.lowlevel.checkpoint()  # let concurrent callers join this group
            while self._open.lines:
                group = self._open
                self._open = _Group()
                # Fast path (the common case): lock free, nothing to wait for -> write inline,
                # without a scheduler round trip per group.
                if self._mode != "always" and self._sync_error is None:
                    try:
                        self._io_lock.acquire_nowait()
                    except anyio.WouldBlock:
                        pass
                    else:
                        try:
                            done = self._commit_inline(group)
                        finally:
                            self._io_lock.release()
                        if done:
                            if self._mode == "batch":
                                with anyio.CancelScope(shield=True):
                                    async with self._io_lock:
                                        await self._sync_after(group)
                            continue
                with anyio.CancelScope(shield=True):
                    async with self._io_lock:
                        await self._commit(group)
        finally:
            self._leading = False
            idle, self._idle = self._idle, None
            if idle is not None:
                idle.set()

    def _commit_inline(self, group: _Group) -> bool:
        """Write ``group`` without waiting; False if the file lock is taken (then nothing was written)."""
        lines = group.lines
        try:
            self._flush(lines, False)
        except BlockingIOError:
            return False
        except Exception as exc:
            group.error = exc
            self.on_failed(len(lines))
            group.set()
            return True
        self.on_written(len(lines), sum(map(len, lines)))
        group.set()
        return True

    async def _sync_after(self, group: _Group) -> None:
        if group.error is not None:
            return
        try:
            await anyio.to_thread.run_sync(self._sync)
        except OSError as exc:
            self._sync_error = exc

    async def _commit(self, group: _Group) -> None:
        lines = group.lines
        try:
            if self._sync_error is not None:
                error, self._sync_error = self._sync_error, None
                raise OSError(error.errno, f"an earlier fsync of this file failed: {error}")
            if self._mode == "always":
                await anyio.to_thread.run_sync(self._flush_and_sync, lines)
            else:
                try:
                    self._flush(lines, False)
                except BlockingIOError:
                    # Another process holds the rewrite lock: wait for it off the event loop.
                    await anyio.to_thread.run_sync(self._flush, lines, True)
        except Exception as exc:
            group.error = exc
            self.on_failed(len(lines))
            group.set()
            return
        self.on_written(len(lines), sum(map(len, lines)))
        group.set()
        if self._mode == "batch":
            # The callers are released; the next group waits for this fsync (io_lock is held).
            await self._sync_after(group)

    def _flush_and_sync(self, lines: list[bytes]) -> None:
        self._flush(lines, True)
        self._sync()


# ----------------------------------------------------------------------------------------------
# Streaming reads
# ----------------------------------------------------------------------------------------------


#: Bytes-read reporter of the operation running in this context (see FileBackend.progress).
_read_progress: ContextVar[Callable[[int], None] | None] = ContextVar(
    "papyra_read_progress", default=None
)


def _file_size(f: Any) -> int:
    return os.fstat(f.fileno()).st_size


def iter_tables(
    f: Any, limit: int, *, want: int = 0, block: int = BLOCK, validate: bool = True
) -> Iterator[tuple[bytes, Any]]:
    """Yield ``(buf, table)`` for the lines of ``f`` (a binary file, read from its start).

    Every table covers complete lines, except that the last one is a ``final`` scan (its last
    line may lack ``"\\n"``). Only ``limit`` bytes are read (a size snapshot). With
    ``validate=False`` only line boundaries are found (no JSON decoding).
    """
    f.seek(0)
    pos = 0
    carry = b""
    report = _read_progress.get()
    while True:
        chunk = f.read(min(block, limit - pos)) if pos < limit else b""
        pos += len(chunk)
        if report is not None and chunk:
            report(len(chunk))
        final = not chunk or pos >= limit
        buf = carry + chunk if carry else chunk
        if validate:
            table = nd.scan_lines(buf, final=final, want=want)
        else:
            table = nd.line_ends(buf, final=final)
        yield buf, table
        if final:
            return
        carry = buf[table.tail :]


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


def scan_file(path: Path, limit: int | None = None) -> ScanResult | None:
    """Scan ``path`` as the spec's JSON scan does; ``None`` when the file does not exist."""
    try:
        f = open(path, "rb", buffering=0)
    except FileNotFoundError:
        return None
    with f:
        size = _file_size(f) if limit is None else limit
        anomalies: list[tuple[str, str]] = []
        drop: array[int] = array("q")
        line_no = 0
        torn = -1
        for _, table in iter_tables(f, size):
            count = table.count
            if count and table.flags[count - 1] & nd.F_NOEOL:
                torn = line_no + count - 1
            for i in nd.invalid_lines(table):
                anomalies.append(("CORRUPTED_LINE", f"Invalid JSON at line {line_no + i + 1}"))
            for i in nd.select_lines(table, nd.F_OBJECT | nd.F_NOEOL, 0):
                drop.append(line_no + i)
            line_no += count
        if torn >= 0:
            anomalies.append(("TRUNCATED_LINE", f"Line {torn + 1} missing newline"))
        return ScanResult(anomalies, drop, torn, size, line_no)


# ----------------------------------------------------------------------------------------------
# Rewrites: which lines survive, then copy them byte for byte
# ----------------------------------------------------------------------------------------------


@dataclass
class KeepPlan:
    """Which lines of a file set survive a compaction (line numbers are global, 0-based)."""

    before_records: int
    after_records: int
    #: Lines that are never copied (non-objects; records failing the age limit), sorted.
    drop: array[int]
    #: Survivors are the lines from ``first_line`` on that are not in ``drop``, except the
    #: first ``skip_records`` of them (older survivors that retention removes).
    first_line: int
    skip_records: int
    total_lines: int


def plan_keep(
    files: Sequence[tuple[Path, int]], policy: RetentionPolicy | None, *, keep_noeol: bool = True
) -> KeepPlan:
    """Pass one of a compaction over ``files`` (oldest first, each with its size snapshot).

    Counts the JSON objects (``before_records``) and decides, by the retention rules of
    :func:`papyra.persistence._retention.apply_retention`, which of them survive. A final line
    without ``"\\n"`` counts when it is an object (compaction) unless ``keep_noeol`` is false
    (recovery drops it). Unreadable files count as empty.
    """
    cutoff = None
    max_records = max_bytes = None
    if policy is not None:
        if policy.max_age_seconds is not None:
            cutoff = time.time() - policy.max_age_seconds
        max_records = policy.max_records
        max_bytes = policy.max_total_bytes
    want = nd.WANT_STAMP if cutoff is not None else 0
    obj_mask = nd.F_OBJECT if keep_noeol else nd.F_OBJECT | nd.F_NOEOL
    drop: array[int] = array("q")
    # Per block: (global number of its first line, qualifying records in it); and, only for
    # max_total_bytes, the repr size of every qualifying record (8 bytes per record).
    blocks: list[tuple[int, int]] = []
    sizes: array[int] | None = array("q") if max_bytes is not None else None
    objects = 0
    qualifying = 0
    line_no = 0
    decode = _serial.decode
    for path, limit in files:
        try:
            f = open(path, "rb", buffering=0)
        except OSError:
            continue
        with f:
            for buf, table in iter_tables(f, limit, want=want):
                n_obj = nd.count_lines(table, obj_mask, nd.F_OBJECT)
                objects += n_obj
                if cutoff is None and sizes is None:
                    for i in nd.select_lines(table, nd.F_OBJECT, 0):
                        drop.append(line_no + i)
                    if not keep_noeol and table.count and table.flags[-1] & obj_mask == obj_mask:
                        drop.append(line_no + table.count - 1)
                    n_q = n_obj
                else:
                    n_q = 0
                    flags = table.flags
                    stamps = table.stamps
                    ends = table.ends
                    for i in range(table.count):
                        flag = flags[i]
                        if flag & obj_mask != nd.F_OBJECT or (
                            cutoff is not None
                            and not (flag & nd.F_STAMP and stamps[i] >= cutoff)
                        ):
                            drop.append(line_no + i)
                            continue
                        n_q += 1
                        if sizes is not None:
                            start = ends[i - 1] if i else 0
                            record = decode(buf[start : ends[i]])
                            sizes.append(len(repr(record).encode("utf-8")))
                blocks.append((line_no, n_q))
                qualifying += n_q
                line_no += table.count
    # max_records keeps the newest; max_total_bytes walks back from the newest.
    first = 0
    if max_records is not None and qualifying > max_records:
        first = qualifying - max_records
    if sizes is not None and max_bytes is not None:
        budget = max_bytes
        start = qualifying
        while start > first:
            size = sizes[start - 1]
            if size > budget:
                break
            budget -= size
            start -= 1
        first = start
    # "Skip the first `first` qualifying records" as a block start plus a residual skip.
    first_line = line_no
    skipped = 0
    for block_line, n_q in blocks:
        if skipped + n_q > first:
            first_line = block_line
            break
        skipped += n_q
    return KeepPlan(
        before_records=objects,
        after_records=qualifying - first,
        drop=drop,
        first_line=first_line,
        skip_records=max(first - skipped, 0),
        total_lines=line_no,
    )


def iter_kept_lines(
    files: Sequence[tuple[Path, int]],
    drop: array[int],
    first_line: int = 0,
    skip_records: int = 0,
    stop_line: int = -1,
) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(buf, start, end)`` byte ranges of the surviving lines, oldest first.

    Survivors are lines numbered ``>= first_line`` (and ``< stop_line`` when it is not -1), not
    in ``drop`` (sorted), minus the first ``skip_records`` of them. Only line boundaries are
    found here (no decoding): a scan took the decisions. Consecutive survivors come as one
    range. A final line without ``"\\n"`` is yielded as it is; the sink adds the newline.
    """
    line_no = 0
    d = 0  # next candidate in drop
    n_drop = len(drop)
    for path, limit in files:
        try:
            f = open(path, "rb", buffering=0)
        except OSError:
            continue
        with f:
            for buf, table in iter_tables(f, limit, validate=False):
                base = line_no
                count = table.count
                line_no += count
                if line_no <= first_line:
                    continue
                lo = max(first_line - base, 0)
                hi = count if stop_line < 0 else max(min(count, stop_line - base), 0)
                ends = table.ends
                while d < n_drop and drop[d] < base + lo:
                    d += 1
                i = lo
                while i < hi:
                    nxt = drop[d] - base if d < n_drop and drop[d] < base + hi else hi
                    if skip_records and i < nxt:
                        take = min(skip_records, nxt - i)
                        skip_records -= take
                        i += take
                    if i < nxt:
                        yield buf, (ends[i - 1] if i else 0), ends[nxt - 1]
                    if nxt < hi:
                        d += 1
                    i = nxt + 1
                if stop_line >= 0 and line_no >= stop_line:
                    return


class _Sink:
    """A temp file written with large writes; ``close()`` fsyncs it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f = open(path, "wb", buffering=1024 * 1024)
        self.size = 0
        self.lines = 0

    def write(self, buf: bytes, start: int, end: int) -> None:
        data = memoryview(buf)[start:end]
        self.f.write(data)
        self.size += end - start
        if buf[end - 1 : end] != b"\n":
            self.f.write(b"\n")
            self.size += 1

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()

    def abort(self) -> None:
        try:
            self.f.close()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def copy_lines(
    files: Sequence[tuple[Path, int]],
    dest: Path,
    drop: array[int],
    *,
    first_line: int = 0,
    skip_records: int = 0,
    stop_line: int = -1,
) -> int:
    """Write the surviving lines of ``files`` to ``dest`` (created, fsynced); return its size."""
    sink = _Sink(dest)
    try:
        for buf, start, end in iter_kept_lines(files, drop, first_line, skip_records, stop_line):
            sink.write(buf, start, end)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sink.size


def write_chunks(
    files: Sequence[tuple[Path, int]],
    plan: KeepPlan,
    *,
    max_bytes: int,
    max_files: int,
    tmp_dir: Path,
    tmp_stem: str,
) -> list[tuple[Path, int]]:
    """Copy the survivors of ``plan`` into chunk files of at most ``max_bytes`` each.

    A chunk starts when adding the next line would exceed ``max_bytes`` and the current chunk is
    not empty (so one oversized line makes a chunk of its own). Only the newest ``max_files``
    chunks are kept: older chunk files are deleted as soon as they fall out. Returns the kept
    chunk files (``tmp_dir/<tmp_stem>.<n>``, fsynced), oldest first, with their sizes.
    """
    chunks: list[tuple[Path, int]] = []
    sink: _Sink | None = None
    serial = 0
    try:
        for buf, start, end in iter_kept_lines(
            files, plan.drop, plan.first_line, plan.skip_records
        ):
            table = nd.line_ends(buf, start, end, final=True)
            ends = table.ends
            flags = table.flags
            lo = start
            for i in range(table.count):
                hi = ends[i]
                size = hi - lo + (1 if flags[i] & nd.F_NOEOL else 0)
                if sink is None or (sink.size and sink.size + size > max_bytes):
                    if sink is not None:
                        sink.close()
                        chunks.append((sink.path, sink.size))
                        if len(chunks) > max_files:
                            os.unlink(chunks.pop(0)[0])
                    serial += 1
                    sink = _Sink(tmp_dir / f"{tmp_stem}.{serial}")
                sink.write(buf, lo, hi)
                lo = hi
        if sink is not None:
            sink.close()
            chunks.append((sink.path, sink.size))
            sink = None
            if len(chunks) > max_files:
                os.unlink(chunks.pop(0)[0])
    except BaseException:
        if sink is not None:
            sink.abort()
        for path, _ in chunks:
            path.unlink(missing_ok=True)
        raise
    return chunks


def replace_file(tmp: Path, target: Path) -> None:
    """Atomically move ``tmp`` (already fsynced) over ``target`` and make it durable."""
    os.replace(tmp, target)
    fsync_dir(target.parent)


class ExclusiveFile:
    """Context manager: an exclusive ``flock`` on ``path`` (if it exists) for a rewrite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> ExclusiveFile:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return self
        _lock(self.fd, exclusive=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            try:
                _unlock(self.fd)
            finally:
                os.close(self.fd)


def quarantine(path: Path, directory: Path, stamp_ms: int) -> Path:
    """Put the current ``path`` at ``<directory>/<name>.quarantine.<ms>``, leaving ``path`` in place.

    A hard link when possible (so ``path`` is never missing; the caller replaces it next),
    else a fsynced copy (another filesystem). Returns the quarantine path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{path.name}.quarantine.{stamp_ms}"
    try:
        os.link(path, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EEXIST):
            raise
        tmp = target.with_name(target.name + ".tmp")
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(BLOCK):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    fsync_dir(directory)
    return target


# ----------------------------------------------------------------------------------------------
# list_*: newest first, stop as soon as the answer is known
# ----------------------------------------------------------------------------------------------


def _lines_backward(
    files: Sequence[tuple[Path, int]], want: int
) -> Iterator[tuple[int, float, bytes, int, int]]:
    """Yield ``(flags, stamp, buf, start, end)`` for every line, newest file and line first."""
    nan = float("nan")
    for path, limit in reversed(files):
        try:
            f = open(path, "rb", buffering=0)
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
    code = KIND_CODES[kind]
    decode = _serial.decode
    taken = 0
    out: list[Any] = []
    for flag, stamp, buf, start, end in _lines_backward(files, nd.WANT_KIND | nd.WANT_STAMP):
        if not flag & nd.F_OBJECT:
            continue
        if cutoff is not None and not (flag & nd.F_STAMP and stamp >= cutoff):
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
        if flag & nd.KIND_MASK != code:
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


# ----------------------------------------------------------------------------------------------
# The async half shared by both file backends
# ----------------------------------------------------------------------------------------------

#: Reads of files up to this size run inline; larger ones in a worker thread.
INLINE_READ_BYTES = 256 * 1024


def anomaly_objects(path: str, found: Sequence[tuple[str, str]]) -> list[PersistenceAnomaly]:
    return [
        PersistenceAnomaly(type=PersistenceAnomalyType[name], path=path, detail=detail)
        for name, detail in found
    ]


def recovery_mode(config: Any) -> PersistenceRecoveryMode:
    mode = getattr(config, "mode", PersistenceRecoveryMode.IGNORE)
    return mode if isinstance(mode, PersistenceRecoveryMode) else PersistenceRecoveryMode(mode)


class FileBackend(PersistenceBackend):
    """Writes through a :class:`GroupCommitter`; reads, scans and rewrites in worker threads.

    Subclasses provide ``_flush(lines, blocking)`` and ``_sync()`` (run with ``_io_lock`` held)
    and the file set (``_files()``, oldest first, with size snapshots).
    """

    _backend_name = "file"

    #: Optional ``progress(done_bytes, total_bytes)`` callable, called from a worker thread
    #: after every block that ``scan`` / ``recover`` / ``compact`` reads. ``total_bytes`` is
    #: the size of the files times the passes the operation makes over them (a repairing
    #: recovery or a rewriting compaction reads twice; ``done`` may stop short of ``total``
    #: when the second pass is not needed). Exceptions it raises are ignored. The CLI sets it
    #: to draw its progress bar.
    progress: Callable[[int, int], None] | None = None

    def __init__(
        self, path: str | Path, *, fsync: FsyncMode, retention_policy: RetentionPolicy | None
    ) -> None:
        super().__init__(retention_policy=retention_policy)
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {FSYNC_MODES}, got {fsync!r}")
        self._path = Path(path)
        self._fsync_mode: FsyncMode = fsync
        self._closed = False
        # Created lazily: anyio primitives must not be bound to a loop at construction time.
        self._lock: anyio.Lock | None = None
        self._committer: GroupCommitter | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def fsync_mode(self) -> FsyncMode:
        return self._fsync_mode

    @property
    def _io_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    def _get_committer(self) -> GroupCommitter:
        if self._committer is None:
            committer = GroupCommitter(self._flush, self._sync, self._fsync_mode, self._io_lock)
            metrics = self.metrics

            def written(records: int, nbytes: int) -> None:
                metrics.records_written += records
                metrics.bytes_written += nbytes

            def failed(records: int) -> None:
                metrics.write_errors += records

            committer.on_written = written
            committer.on_failed = failed
            self._committer = committer
        return self._committer

    async def _in_worker(self, passes: int, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker thread, reporting read progress when asked to."""
        callback = self.progress
        if callback is None:
            return await anyio.to_thread.run_sync(fn, *args)
        total = passes * sum(size for _, size in self._files())
        done = 0

        def report(nbytes: int) -> None:
            nonlocal done
            done += nbytes
            try:
                callback(done, total)
            except Exception:
                pass

        token = _read_progress.set(report)
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        finally:
            _read_progress.reset(token)

    # -- subclass hooks (sync; called with the io lock held) ------------------------------------

    def _flush(self, lines: list[bytes], blocking: bool) -> int:
        raise NotImplementedError

    def _sync(self) -> None:
        raise NotImplementedError

    def _close_files(self) -> None:
        raise NotImplementedError

    def _files(self) -> list[tuple[Path, int]]:
        raise NotImplementedError

    def files(self) -> list[Path]:
        """Every file of this backend's set, in read order (oldest first), existing or not.

        Read-only: nothing is opened or created. The JSON backend has its one path; the
        rotating backend the slots it owns, ``.{max_files-1}`` … ``.1`` then the active file.
        """
        raise NotImplementedError

    # -- writes ---------------------------------------------------------------------------------

    def _encode(self, kind: str, record: Any) -> bytes:
        """The record's line; a record that cannot be encoded counts as a write error."""
        try:
            return nd.encode_record(record_to_dict(kind, coerce(kind, record)), json_default)
        except Exception:
            self.metrics.write_errors += 1
            raise

    async def _record(self, kind: str, record: Any) -> None:
        if self._closed:
            await anyio.lowlevel.checkpoint()
            return
        await self._get_committer().submit(self._encode(kind, record))

    def record_nowait(self, kind: str, record: Any) -> None:
        """Queue one record for writing, in call order, without waiting (see :meth:`flush`).

        The actor system uses this so that its facts take their place in the file at the
        moment they happen: a record an actor writes itself right after (``record_event``)
        lands behind them. Encoding errors are raised here and counted; write errors surface
        from the next :meth:`flush` or ``record_*`` call that writes the group.
        """
        if self._closed:
            return
        self._get_committer().add_nowait(self._encode(kind, record))

    async def flush(self) -> None:
        """Write everything queued by :meth:`record_nowait` (synced per the fsync mode)."""
        if self._closed or self._committer is None:
            await anyio.lowlevel.checkpoint()
            return
        await self._committer.flush()

    async def record_event(self, event: Any) -> None:
        """Append one event; returns once it is written (``fsync="always"``: synced)."""
        await self._record("event", event)

    async def record_audit(self, report: Any) -> None:
        """Append one audit snapshot; same guarantees as :meth:`record_event`."""
        await self._record("audit", report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Append one dead letter; same guarantees as :meth:`record_event`."""
        await self._record("dead_letter", dead_letter)

    async def aclose(self) -> None:
        """Stop accepting writes, finish the ones in flight, sync (unless "never"), close."""
        if self._closed:
            return
        self._closed = True
        if self._committer is not None:
            await self._committer.drain()
        async with self._io_lock:
            if self._fsync_mode != "never":
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._sync)
            self._close_files()

    # -- reads ----------------------------------------------------------------------------------

    async def _list(self, kind: str, limit: int | None, since: float | None) -> tuple[Any, ...]:
        files = self._files()
        if not files:
            await anyio.lowlevel.checkpoint()
            return ()
        job = partial(
            read_records,
            files,
            kind,
            self.retention,
            since=since,
            limit=limit,
            since_fallback=self._backend_name == "rotating",
        )
        if sum(size for _, size in files) <= INLINE_READ_BYTES:
            await anyio.lowlevel.checkpoint()
            return tuple(job())
        return tuple(await anyio.to_thread.run_sync(job))

    async def list_events(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedEvent, ...]:
        """Events, oldest first: retention (mixed stream), ``since``, then the last ``limit``."""
        return await self._list("event", limit, since)

    async def list_audits(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedAudit, ...]:
        """Audits, oldest first; same rules as :meth:`list_events`."""
        return await self._list("audit", limit, since)

    async def list_dead_letters(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedDeadLetter, ...]:
        """Dead letters, oldest first; same rules as :meth:`list_events`."""
        return await self._list("dead_letter", limit, since)

"""Rewrites (recover / compact): which lines survive, copying them, installing the new files.

Everything here is synchronous and runs in a worker thread, under the backend's io lock and
the rewriter's exclusive ``flock`` locks (:class:`RewriteLock`, see :mod:`.append`). A rewrite
decides (:func:`plan_keep`, or a scan), copies the survivors byte for byte into fsynced temp
files (:func:`copy_lines`, :func:`write_chunks`; the JSON backend's recovery copies the byte
ranges its scan keeps with a :class:`RangeCopier`, while the scan runs) and ends with one
:func:`install`. Both operations of both file backends install the same way: the JSON
backend's :func:`rewrite_one` is :func:`install` of one file into a set of one slot.

Install order. ``chunks`` are the new files, complete and fsynced; ``slots`` name the set,
newest first (the active file, ``.1``, ...); ``<slot><suffix>`` is a slot's staged name
(``suffix``: ``.recovered.tmp`` or ``.compact.tmp``). Each step is durable (directory fsynced)
before the next one starts, and in steps 4 and 5 so is each file deleted or moved, so a crash
(``SIGKILL`` or power loss) leaves the state listed for the step it hit, with every file whole:

1. Write the chunks (the caller). *Crash*: the old set, untouched; partial temp files
   (``<name><suffix>`` or ``<name><suffix>.<n>``) are orphans, to be deleted.
2. QUARANTINE only: link (or copy) every existing set file, oldest first, to
   ``<dir>/<file name>.quarantine.<ms>``. *Crash*: the old set, untouched.
3. Stage: rename each chunk to its slot's staged name. *Crash*: the old set, untouched; the
   chunks, staged or not, are orphans.
4. Retire the set files that the new set does not use, oldest first. *Crash*: the old set
   without some of its oldest files; every staged file of the new set is present.
5. Install, newest first: move each staged file over its slot. *Crash*: the newest slots hold
   new files, the others still hold old files, and the staged files of the slots not yet
   installed are still there.

Reading what a crash left in a rotating set: while chunk files ``<name><suffix>.<n>`` remain,
the old set is intact (delete the temp files). Otherwise every staged file is complete and the
new set is the installed slots plus the staged files; finishing the operation is moving every
``<slot><suffix>`` onto ``<slot>`` and deleting the set files older than the oldest of them.
Until then the set can duplicate or lack records, but never silently: the next rotating
``scan()`` reports the staged files as ``ORPHANED_ROTATED_FILE``. The one exception is a
compaction that keeps nothing (no chunk, so nothing staged): a crash in step 4 leaves the
newest old files, i.e. the old set minus some of its oldest records, which the compaction was
removing anyway. For the JSON backend (one slot, its chunk written straight to the staged
name) steps 3 and 4 are empty: a crash leaves the old file or the new one, whole, and maybe a
``<path><suffix>`` to delete.

An error (not a crash) in steps 2-3 deletes the chunks and staged files and leaves the old set;
an error in steps 4-5 leaves the staged files in place, since they hold the new set.

:func:`clean_up` applies those rules (delete while chunk files remain, else finish) before
every compaction and recovery and at the startup check. It is only safe because a rewrite
runs entirely under :class:`RewriteLock`, whose directory lock excludes the other rewriters:
the temp files a lock holder finds cannot belong to a live rewrite.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import shutil
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from papyra import _serial
from papyra.persistence._file.append import fsync_dir, lock_file, unlock_file
from papyra.persistence._file.read import BLOCK, NdjsonTwin, iter_tables, read_progress
from papyra.persistence.backends.retention import RetentionPolicy

__all__ = (
    "SUFFIXES",
    "Chunk",
    "ExclusiveFile",
    "Installed",
    "KeepPlan",
    "RangeCopier",
    "RewriteLock",
    "clean_up",
    "copy_lines",
    "install",
    "iter_kept_lines",
    "plan_keep",
    "quarantine",
    "rewrite_one",
    "write_chunks",
)


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
    files: Sequence[tuple[Path, int]],
    policy: RetentionPolicy | None,
    *,
    nd: NdjsonTwin,
    keep_noeol: bool = True,
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
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - `with f` below; try covers open only
        except OSError:
            continue
        with f:
            for buf, table in iter_tables(f, limit, nd=nd, want=want):
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
    *,
    nd: NdjsonTwin,
) -> Iterator[tuple[bytearray, int, int]]:
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
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - `with f` below; try covers open only
        except OSError:
            continue
        with f:
            for buf, table in iter_tables(f, limit, nd=nd, validate=False):
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
    """A temp file written with large writes; ``close()`` fsyncs it.

    ``append=True`` continues an existing (complete) file of ``size`` bytes and ``lines`` lines.
    """

    def __init__(self, path: Path, *, append: bool = False, size: int = 0, lines: int = 0) -> None:
        self.path = path
        # Open across write() calls; close() or abort() closes it.
        self.f = open(path, "ab" if append else "wb", buffering=1024 * 1024)  # noqa: SIM115
        self.size = size
        self.lines = lines

    def write(self, buf: bytes | bytearray, start: int, end: int) -> None:
        data = memoryview(buf)[start:end]
        self.f.write(data)
        self.size += end - start
        if buf[end - 1 : end] != b"\n":
            self.f.write(b"\n")
            self.size += 1

    def append_file(self, chunk: Chunk) -> None:
        """Copy the whole of ``chunk`` (complete lines) to the end of this file."""
        with open(chunk.path, "rb") as src:
            shutil.copyfileobj(src, self.f, BLOCK)
        self.size += chunk.size
        self.lines += chunk.records

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
    nd: NdjsonTwin,
    first_line: int = 0,
    skip_records: int = 0,
    stop_line: int = -1,
) -> int:
    """Write the surviving lines of ``files`` to ``dest`` (created, fsynced); return its size."""
    sink = _Sink(dest)
    try:
        for buf, start, end in iter_kept_lines(
            files, drop, first_line, skip_records, stop_line, nd=nd
        ):
            sink.write(buf, start, end)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sink.size


class RangeCopier:
    """:func:`copy_ranges` in a background thread, fed while a scan is still running.

    ``add(start, end)`` queues a range of ``src`` (ranges in ascending order); the first call
    creates ``dest`` and starts the thread, so a copier that is never fed costs nothing. The
    copy runs in the kernel (``copy_file_range``, else ``sendfile``, else ``pread``/``write``
    in blocks) while the scan validates the next blocks: a recovery pays for the slower of the
    two, not their sum. A range past the end of ``src`` is copied as far as ``src`` goes.
    :meth:`finish` waits for the copy, fsyncs ``dest`` (created empty if nothing was queued)
    and returns its size, raising the copy's error, if any, after deleting ``dest``;
    :meth:`abort` stops and deletes ``dest`` unless :meth:`finish` succeeded (so it can sit in
    a ``finally``).

    Read progress: the thread reports the bytes it copies through the reporter of the thread
    that made the copier (:data:`read_progress` does not follow threads on its own).
    """

    def __init__(self, src: Path, dest: Path) -> None:
        self.src = src
        self.dest = dest
        self.started = False
        self.added = 0  # bytes queued
        self.copied = 0  # bytes copied
        self._report = read_progress.get()
        self._queue: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._fd_in = -1
        self._fd_out = -1
        self._finished = False

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        if not self.started:
            self._start()
        self.added += end - start
        self._queue.put((start, end))

    def _start(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        self._fd_in = os.open(self.src, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._fd_out = os.open(self.dest, flags, 0o644)
        except BaseException:
            os.close(self._fd_in)
            raise
        self.started = True
        self._thread = threading.Thread(target=self._run, name="papyra-recover-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        short = False
        unsynced = 0
        while (item := self._queue.get()) is not None:
            if self._error is not None or short:
                continue  # drain: the error is raised by finish()
            start, end = item
            try:
                done = _copy_range(self._fd_in, self._fd_out, start, end, self._report)
                unsynced += done
                if unsynced >= SYNC_AHEAD and self._queue.empty():
                    # Idle until the scan finds more: write back what is copied so far, so
                    # that the final fsync (which makes the file durable) has less to do.
                    _fsync(self._fd_out)
                    unsynced = 0
            except BaseException as exc:  # handed to finish()
                self._error = exc
                continue
            self.copied += done
            short = done < end - start  # src ends early: nothing more to copy

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self) -> int:
        """Wait for the queued ranges, fsync and close ``dest``; its size."""
        try:
            if not self.started:
                self._start()
            self._stop()
            if self._error is not None:
                raise self._error
            os.fsync(self._fd_out)
        except BaseException:
            self.abort()
            raise
        self._close()
        self._finished = True
        return self.copied

    def abort(self) -> None:
        """Stop copying and delete ``dest`` (nothing to do if never fed, or finished)."""
        if self._finished:
            return
        self._stop()
        if self.started:
            self._close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.dest)

    def _close(self) -> None:
        for fd in (self._fd_in, self._fd_out):
            if fd >= 0:
                os.close(fd)
        self._fd_in = self._fd_out = -1


#: RangeCopier: bytes copied between two early syncs (see RangeCopier._run).
SYNC_AHEAD = 32 * 1024 * 1024
_fsync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)

#: errnos meaning "this kernel or filesystem cannot do that copy": try the next method.
_NO_KERNEL_COPY = {
    getattr(errno, name)
    for name in ("ENOSYS", "EXDEV", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EPERM")
    if hasattr(errno, name)
}
_kernel_copy: list[str] = ["copy_file_range", "sendfile", "pread"]


def _copy_range(
    fd_in: int, fd_out: int, start: int, end: int, report: Callable[[int], None] | None
) -> int:
    """Append ``[start, end)`` of ``fd_in`` to ``fd_out``; the bytes copied (fewer at EOF)."""
    pos = start
    while pos < end:
        size = min(BLOCK, end - pos)
        method = _kernel_copy[0]
        try:
            if method == "copy_file_range":
                n = os.copy_file_range(fd_in, fd_out, size, pos)
            elif method == "sendfile":
                n = os.sendfile(fd_out, fd_in, pos, size)
            else:
                n = _write_all(fd_out, os.pread(fd_in, size, pos))
        except OSError as exc:
            if method == "pread" or exc.errno not in _NO_KERNEL_COPY:
                raise
            # Nothing was copied by the failed call: the next method starts at ``pos``.
            if _kernel_copy[0] == method:
                _kernel_copy.pop(0)
            continue
        if n == 0:
            if method != "pread" and os.fstat(fd_in).st_size > pos:
                # Nothing copied before the end of the file: some filesystems answer so
                # instead of failing. Copy the rest another way, never stop short silently.
                if _kernel_copy[0] == method:
                    _kernel_copy.pop(0)
                continue
            break
        pos += n
        if report is not None:
            report(n)
    return pos - start


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    done = 0
    while done < len(data):
        done += os.write(fd, view[done:])
    return done


class Chunk(NamedTuple):
    """One file written by :func:`write_chunks`: its path, size and number of records."""

    path: Path
    size: int
    records: int


def write_chunks(
    files: Sequence[tuple[Path, int]],
    plan: KeepPlan,
    *,
    nd: NdjsonTwin,
    max_bytes: int,
    max_files: int,
    tmp_dir: Path,
    tmp_stem: str,
    drop_overflow: bool = False,
) -> list[Chunk]:
    """Copy the survivors of ``plan`` into at most ``max_files`` chunk files; oldest first.

    Lines are cut into chunks of at most ``max_bytes``: a chunk starts when adding the next
    line would exceed ``max_bytes`` and the current chunk is not empty (so one oversized line
    makes a chunk of its own). When that makes more than ``max_files`` chunks, the oldest file
    takes the overflow: every chunk older than the newest ``max_files - 1`` is appended to it,
    so it holds more than ``max_bytes``, as the active file does once a set is full -- no
    record that retention keeps is lost. With ``drop_overflow`` those older chunks are deleted
    instead (bounded disk use; the caller reports what they held). Chunk files are
    ``tmp_dir/<tmp_stem>.<n>``, complete and fsynced.
    """
    chunks: list[Chunk] = []  # closed chunk files, oldest first
    overflow: _Sink | None = None  # the oldest file, kept open, once chunks outnumber slots
    sink: _Sink | None = None
    serial = 0

    def close(done: _Sink) -> None:
        nonlocal overflow
        done.close()
        chunks.append(Chunk(done.path, done.size, done.lines))
        while len(chunks) + (overflow is not None) > max_files:
            oldest = chunks.pop(0)
            if drop_overflow:
                os.unlink(oldest.path)
            elif overflow is None:
                overflow = _Sink(oldest.path, append=True, size=oldest.size, lines=oldest.records)
            else:
                overflow.append_file(oldest)
                os.unlink(oldest.path)

    try:
        for buf, start, end in iter_kept_lines(
            files, plan.drop, plan.first_line, plan.skip_records, nd=nd
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
                        close(sink)
                    serial += 1
                    sink = _Sink(tmp_dir / f"{tmp_stem}.{serial}")
                sink.write(buf, lo, hi)
                sink.lines += 1
                lo = hi
        if sink is not None:
            close(sink)
            sink = None
        if overflow is not None:
            overflow.close()
            chunks.insert(0, Chunk(overflow.path, overflow.size, overflow.lines))
            overflow = None
    except BaseException:
        for open_sink in (sink, overflow):
            if open_sink is not None:
                open_sink.abort()
        for chunk in chunks:
            chunk.path.unlink(missing_ok=True)
        raise
    return chunks


class ExclusiveFile:
    """Context manager: an exclusive ``flock`` on ``path`` (if it exists).

    Held by a rotation (the file is renamed away under it) and, inside a
    :class:`RewriteLock`, by every rewrite: writers of other processes take the shared lock
    on the same file, so they wait, then find the file replaced and reopen.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> ExclusiveFile:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return self
        lock_file(self.fd, exclusive=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            try:
                unlock_file(self.fd)
            finally:
                os.close(self.fd)


class RewriteLock(ExclusiveFile):
    """Context manager of a rewrite (recover, compact, :func:`clean_up`) of the set of ``path``.

    First an exclusive ``flock`` on the set's **directory**, then the :class:`ExclusiveFile`
    lock on ``path``. The directory lock is what rewrites exclude each other with: its inode
    never changes, whereas ``path`` is replaced by the install (a second rewriter that locked
    the old inode, or the new one while the first was still installing older slots, would run
    concurrently). Holding it, a rewriter knows that no other process is between writing its
    temp files and installing them -- so temp files it finds are left over from a crash. It
    serialises the rewrites of every set in that directory (they are rare); writers and
    rotations never take it. ``blocking=False`` raises ``BlockingIOError`` instead of waiting
    for another rewrite. A missing directory takes no lock (there is nothing to rewrite).
    """

    def __init__(self, path: Path, *, blocking: bool = True) -> None:
        super().__init__(path)
        self.blocking = blocking
        self.dir_fd: int | None = None

    def __enter__(self) -> RewriteLock:
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return self
        try:
            lock_file(dir_fd, exclusive=True, blocking=self.blocking)
        except BaseException:
            os.close(dir_fd)
            raise
        self.dir_fd = dir_fd
        try:
            super().__enter__()
        except BaseException:
            self._release_dir()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._release_dir()

    def _release_dir(self) -> None:
        fd, self.dir_fd = self.dir_fd, None
        if fd is not None:
            try:
                unlock_file(fd)
            finally:
                os.close(fd)


#: The suffixes of a rewrite's temp files: ``<slot><suffix>`` (staged) and
#: ``<name><suffix>.<n>`` (chunks).
SUFFIXES = (".compact.tmp", ".recovered.tmp")


def clean_up(slots: Sequence[Path], *, roll_forward: bool) -> list[Path]:
    """Finish or undo what a rewrite of the set ``slots`` (newest first) left when it was
    killed; return the temp files it removed or installed. Hold :class:`RewriteLock`.

    Per suffix (see the module docstring for the states a crash leaves):

    * chunk files ``<name><suffix>.<n>`` remain: the crash came before the set changed; they
      and the staged files are deleted;
    * otherwise, staged files ``<slot><suffix>`` (``roll_forward``, the rotating backend: they
      are renamed complete chunks) finish the install: set files older than the oldest staged
      slot are deleted, then each staged file is moved onto its slot, newest first. Without
      ``roll_forward`` (the JSON backend, whose staged file is written in place and may be
      partial; its install is one atomic rename, so the old file is whole) they are deleted.

    Copies of a QUARANTINE into the set's own directory that were interrupted
    (``<slot name>.quarantine.<ms>.tmp``) are deleted too. Only names derived from ``slots``
    are touched, never another set's files.
    """
    directory = slots[0].parent
    try:
        names = set(os.listdir(directory))
    except FileNotFoundError:
        return []
    handled: list[Path] = []
    for suffix in SUFFIXES:
        chunk_prefix = slots[0].name + suffix + "."
        chunks = [
            directory / n
            for n in names
            if n.startswith(chunk_prefix) and n[len(chunk_prefix) :].isdigit()
        ]
        staged = [
            (i, slot.with_name(slot.name + suffix))
            for i, slot in enumerate(slots)
            if slot.name + suffix in names
        ]
        if roll_forward and staged and not chunks:
            # Steps 4-5 again, for the slots not installed yet: they are the staged ones, a
            # contiguous run (step 5 installs newest first); the chunks are the staged files.
            first = staged[0][0]
            install([path for _, path in reversed(staged)], slots[first:], suffix)
        else:
            for path in chunks:
                path.unlink(missing_ok=True)
            for _, path in staged:
                path.unlink(missing_ok=True)
        handled += chunks
        handled += [path for _, path in staged]
    for slot in slots:
        prefix = slot.name + ".quarantine."
        for n in names:
            if n.startswith(prefix) and n.endswith(".tmp") and n[len(prefix) : -4].isdigit():
                (directory / n).unlink(missing_ok=True)
                handled.append(directory / n)
    if handled:
        fsync_dir(directory)
    return handled


def quarantine(path: Path, directory: Path, stamp_ms: int) -> Path:
    """Put the current ``path`` at ``<directory>/<name>.quarantine.<ms>``; ``path`` stays.

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



class Installed(NamedTuple):
    """What :func:`install` did: the slots it filled (newest first) and the quarantined copies."""

    slots: list[Path]
    quarantined: list[Path]


def install(
    chunks: Sequence[Path],
    slots: Sequence[Path],
    suffix: str,
    *,
    quarantine_dir: Path | None = None,
) -> Installed:
    """Make ``chunks`` (oldest first, fsynced) the set named by ``slots`` (newest first).

    The newest chunk becomes ``slots[0]``, the one before ``slots[1]``, and so on; the slots
    beyond the chunks are deleted. With ``quarantine_dir`` every existing slot file is first
    linked there (see :func:`quarantine`). Steps and crash states: the module docstring. All
    the paths share one directory.
    """
    if len(chunks) > len(slots):
        raise ValueError(f"{len(chunks)} files for a set of {len(slots)}")
    directory = slots[0].parent
    # (chunk, slot, staged name), newest first
    moves = [
        (chunk, slot, slot.with_name(slot.name + suffix))
        for chunk, slot in zip(reversed(chunks), slots, strict=False)
    ]
    quarantined: list[Path] = []
    try:
        if quarantine_dir is not None:
            stamp = int(time.time() * 1000)
            for path in reversed(slots):
                if path.exists():
                    quarantined.append(quarantine(path, quarantine_dir, stamp))
        renamed = False
        for chunk, _, staged in moves:
            if chunk != staged:
                os.replace(chunk, staged)
                renamed = True
        if renamed:
            fsync_dir(directory)
    except BaseException:
        for path in (*chunks, *(staged for _, _, staged in moves)):
            path.unlink(missing_ok=True)
        raise
    for slot in reversed(slots[len(moves) :]):
        try:
            slot.unlink()
        except FileNotFoundError:
            continue
        fsync_dir(directory)
    for _, slot, staged in moves:
        os.replace(staged, slot)
        fsync_dir(directory)
    return Installed([slot for _, slot, _ in moves], quarantined)


def rewrite_one(
    path: Path,
    size: int,
    drop: array[int],
    *,
    nd: NdjsonTwin,
    suffix: str,
    first_line: int = 0,
    skip_records: int = 0,
    stop_line: int = -1,
    quarantine_dir: Path | None = None,
) -> tuple[int, list[Path]]:
    """Rewrite ``path`` (its first ``size`` bytes) without the dropped lines.

    The survivors (those of :func:`iter_kept_lines`) are copied to ``<path><suffix>``, which
    :func:`install` moves over ``path``: a crash leaves the old file or the new one. Returns the
    new size and the quarantined copies.
    """
    tmp = path.with_name(path.name + suffix)
    new_size = copy_lines(
        [(path, size)],
        tmp,
        drop,
        nd=nd,
        first_line=first_line,
        skip_records=skip_records,
        stop_line=stop_line,
    )
    return new_size, install([tmp], [path], suffix, quarantine_dir=quarantine_dir).quarantined

"""Appending: the file lock, ``AppendLog`` (one open NDJSON file) and group commit.

Everything here but :class:`GroupCommitter` is synchronous and runs inline: an append is one
``os.write`` loop, cheap enough for the event loop thread. The fsync modes decide what a
returned write means (:data:`FsyncMode`); the async backends in :mod:`.backend` own the locks,
the metrics and the reports.

Cross-process protocol (POSIX, ``fcntl.flock``): a writer holds a *shared* lock on its file
descriptor while it checks that the path still names its inode and appends; a rewriter
(recover / compact, :class:`papyra.persistence._file.rewrite.RewriteLock`) holds an
*exclusive* lock on the original inode from its final read until after ``os.replace``. A
writer that blocked on the lock then sees a new inode, reopens and appends to the new file: no
record is ever written into a replaced inode. Rewriters also hold an exclusive lock on the
set's directory, which excludes each other (writers never take it). Writers that do not take
the lock (Papyra 0.3.0) are not protected. Without ``fcntl`` (Windows) there is no locking.
"""

from __future__ import annotations

import os
import types
from asyncio.events import _get_running_loop
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread

from papyra._accel import dispatch

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = (
    "FSYNC_MODES",
    "AppendLog",
    "FsyncMode",
    "GroupCommitter",
    "PartialWrite",
    "fsync_dir",
    "lock_file",
    "unlock_file",
)

FsyncMode = Literal["always", "batch", "never"]
FSYNC_MODES: tuple[FsyncMode, ...] = ("always", "batch", "never")

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


def lock_file(fd: int, *, exclusive: bool, blocking: bool = True) -> None:
    """Take the shared (writer) or exclusive (rewriter) ``flock`` on ``fd``.

    ``blocking=False`` raises ``BlockingIOError`` instead of waiting.
    """
    if fcntl is None:  # pragma: no cover
        return
    op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    fcntl.flock(fd, op if blocking else op | fcntl.LOCK_NB)


def unlock_file(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


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
    * **Failed writes leave nothing**: when the loop fails after part of the data reached the
      file (``ENOSPC``, ``EFBIG``, ``EIO``), the file is truncated back to its size before the
      write, so a record reported as failed is not in the file and a retry cannot duplicate
      it (see :meth:`write` for the one case where that is not safe).
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

    def _current_size(self) -> int | None:
        """The file's size if ``path`` still names the open file and it has not shrunk."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._size:
            return None
        return st.st_size

    def write(self, data: bytes, *, blocking: bool = True) -> int:
        """Append ``data`` (whole lines); return the bytes written, torn-tail newline included.

        With ``blocking=False`` a rewrite in progress in another process raises
        ``BlockingIOError`` instead of waiting (so an event loop thread never blocks on it).

        On an ``OSError`` after part of ``data`` reached the file, the file is truncated back
        to the size it had before this call, then the error is raised: nothing of ``data``
        stays. That is done only when it is provably safe: the bytes written are the file's
        last bytes and directly follow the size seen before the write, and the shared lock
        converts to an exclusive one without waiting (no writer in another process is in the
        middle of an append). Otherwise -- another process appended meanwhile -- the partial
        bytes stay and the file is treated as torn: the next write starts on a fresh line.
        """
        while True:
            if self.fd is None:
                self._open()
            fd = self.fd
            assert fd is not None
            lock_file(fd, exclusive=False, blocking=blocking)
            try:
                start = self._current_size()
                if start is None:
                    # Replaced (or shrunk) since we opened it, possibly while we waited for the
                    # lock: reopen and lock the new file. One stat per write is the whole cost.
                    self._open()
                    continue
                if self._torn:
                    # Look again: whatever made it torn, another writer may have ended the line.
                    self._torn = start > 0 and os.pread(fd, 1, start - 1) != b"\n"
                    if self._torn:
                        data = b"\n" + data
                view = memoryview(data)
                total = len(data)
                done = 0
                try:
                    while done < total:
                        done += os.write(fd, view[done:])
                except BaseException as exc:
                    if done and not (isinstance(exc, OSError) and self._take_back(fd, start, done)):
                        self._torn = True
                    raise
                self._torn = False
                self._size += total  # a lower bound: other processes may append too
                return total
            finally:
                if fd == self.fd:
                    unlock_file(fd)

    def _take_back(self, fd: int, start: int, done: int) -> bool:
        """Truncate the ``done`` bytes a failed write put after ``start``; False if unsafe.

        Called with our shared lock held. ``O_APPEND`` leaves the file offset just past our
        last byte, so ``offset - done == start`` proves nobody appended between the size check
        and our last byte; the exclusive lock (taken without waiting) and ``size == offset``
        prove nobody is appending or appended after it.
        """
        try:
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if end - done != start:
                return False
            lock_file(fd, exclusive=True, blocking=False)
            if os.fstat(fd).st_size != end:
                return False
            os.ftruncate(fd, start)
        except OSError:
            return False
        return True

    def sync(self) -> None:
        if self.fd is not None:
            _fsync(self.fd)

    def truncate(self) -> None:
        """Empty the file (the rotating backend's ``max_files=1`` rule)."""
        if self.fd is None or self._current_size() is None:
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


class PartialWrite(Exception):
    """A group flush wrote its first ``lines`` lines, then failed with ``error``.

    Raised by a flush that writes a group in several appends (the rotating backend, when a
    rotation falls inside the group): the lines before the failure are in the file, the
    others are not (a failed append takes its own bytes back, see :meth:`AppendLog.write`).
    """

    def __init__(self, lines: int, error: Exception) -> None:
        super().__init__(lines, error)
        self.lines = lines
        self.error = error


#: One scheduler pass (a cancellation point), as cheaply as the backend allows.
yield_now = dispatch.yield_now


class _Group:
    """Lines written together. The event exists only if some caller has to wait for it.

    ``written`` counts the lines at the start of ``lines`` that are in the file; ``error`` is
    set when the others failed. A caller whose line is among the first ``written`` succeeded.
    """

    __slots__ = ("_event", "error", "finished", "lines", "written")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.written = 0
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
    leader: it yields once (so concurrent callers can join), then repeatedly takes the open
    group and flushes it with one write, until no group is waiting. Other callers first yield
    once (the leader, queued before them, has usually written their group by then: no event
    is made), then wait for their group's event if it is still pending. The flush runs
    shielded from cancellation: a write that started always finishes and is reported to all
    its callers (a cancelled caller may still have its record written -- it is just not told).

    ``flush(lines, blocking)`` writes a group (sync; raises on failure, and ``BlockingIOError``
    when ``blocking`` is false and it would have to wait); ``sync()`` fsyncs. A flush that
    fails after writing the first lines of the group raises :class:`PartialWrite`: their
    callers succeed, the others get the error (and when that error is ``BlockingIOError``, the
    rest is written once the lock is free). Modes:

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
        self._writing: _Group | None = None  # the group the leader took last
        self._leading = False
        self._sync_error: OSError | None = None
        self.on_written: Callable[[int, int], None] = lambda records, nbytes: None
        self.on_failed: Callable[[int], None] = lambda records: None

    async def submit(self, line: bytes) -> None:
        """Add ``line`` to the open group and return once it is written (or raise its error)."""
        await self.commit(line)

    @types.coroutine
    def commit(self, line: bytes) -> Generator[Any, Any, None]:
        """:meth:`submit` as an awaitable for the hot path: ``await committer.commit(line)``.

        A generator-based coroutine (await it; it is not a coroutine function, so it cannot be
        handed to ``start_soon``), so that on asyncio a waiting caller yields with its own
        bare ``yield``: no coroutine frame between the caller and the event loop, on the path
        every record of every concurrent writer takes.
        """
        group = self._open
        index = len(group.lines)
        group.lines.append(line)
        if self._leading:
            # The leader writes this group once the ready tasks have run: usually that is
            # done when this task runs again, and no event is needed.
            if _get_running_loop() is not None:
                yield  # what asyncio.sleep(0) does
            else:
                yield from anyio.lowlevel.checkpoint().__await__()
            if not group.finished:
                yield from group.wait().__await__()
        else:
            yield from self._lead().__await__()
        if group.error is not None and index >= group.written:
            raise group.error

    def add_nowait(self, line: bytes) -> None:
        """Put ``line`` in the open group without waiting; a later submit or flush writes it."""
        self._open.lines.append(line)

    async def flush(self) -> None:
        """Write every line added so far (and raise the error of the group holding them).

        With nothing queued, wait for the group being written, if any: its lines were added
        before this call too.
        """
        group = self._open
        if group.lines:
            await self._wait(group)
        else:
            writing = self._writing
            if writing is None or writing.finished:
                await anyio.lowlevel.checkpoint()
                return
            group = writing
            await group.wait()
        if group.error is not None:
            raise group.error

    async def _wait(self, group: _Group) -> None:
        if self._leading:
            await yield_now()
            if not group.finished:
                await group.wait()
        else:
            await self._lead()

    async def _lead(self) -> None:
        self._leading = True
        try:
            await yield_now()  # let concurrent callers join this group
            while self._open.lines:
                group = self._writing = self._open
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
                            done = self._write_rest(group, False)
                        finally:
                            self._io_lock.release()
                        if done:
                            self._report(group)
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

    def _write_rest(self, group: _Group, blocking: bool) -> bool:
        """Flush the lines of ``group`` not written yet; False if the rest must wait for the
        file lock (only when not ``blocking``). Records the outcome in the group (sync: also
        runs in a worker thread; :meth:`_report` tells the callers)."""
        rest = group.lines[group.written :] if group.written else group.lines
        try:
            self._flush(rest, blocking)
        except Exception as exc:
            error = exc
            if isinstance(exc, PartialWrite):
                group.written += exc.lines
                error = exc.error
            if not blocking and isinstance(error, BlockingIOError):
                return False  # another process is rewriting the file: wait for it
            group.error = error
            return True
        group.written = len(group.lines)
        return True

    def _report(self, group: _Group) -> None:
        """Count the group's written and failed lines; release its callers."""
        if group.written:
            done = group.lines[: group.written] if group.error is not None else group.lines
            self.on_written(len(done), sum(map(len, done)))
        if group.error is not None:
            self.on_failed(len(group.lines) - group.written)
        group.set()

    async def _sync_after(self, group: _Group) -> None:
        if not group.written:
            return
        try:
            await anyio.to_thread.run_sync(self._sync)
        except OSError as exc:
            self._sync_error = exc

    async def _commit(self, group: _Group) -> None:
        if self._sync_error is not None:
            error, self._sync_error = self._sync_error, None
            group.error = OSError(error.errno, f"an earlier fsync of this file failed: {error}")
        elif self._mode == "always":
            await anyio.to_thread.run_sync(self._write_and_sync, group)
        elif not self._write_rest(group, False):
            # Another process holds the rewrite lock: wait for it off the event loop.
            await anyio.to_thread.run_sync(self._write_rest, group, True)
        # Lines an inline attempt wrote before it found the lock taken are counted here too.
        self._report(group)
        if self._mode == "batch":
            # The callers are released; the next group waits for this fsync (io_lock is held).
            await self._sync_after(group)

    def _write_and_sync(self, group: _Group) -> None:
        self._write_rest(group, True)
        if group.written:
            try:
                self._sync()
            except OSError as exc:
                # Not durable: the whole group fails (its lines stay in the OS's cache).
                group.written = 0
                group.error = exc

"""The async half shared by both file backends: :class:`FileBackend`.

Writes go through a :class:`~papyra.persistence._file.append.GroupCommitter` (inline appends);
reads, scans and rewrites run in worker threads (:mod:`.read`, :mod:`.rewrite`). This module
owns the locks, the metrics and the reports; the others own the bytes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from papyra import _accel
from papyra._validate import enum_member
from papyra.persistence._file.append import FSYNC_MODES, FsyncMode, GroupCommitter
from papyra.persistence._file.read import NdjsonTwin, read_progress, read_records
from papyra.persistence._file.rewrite import RewriteLock
from papyra.persistence._records import (
    WRITE_SCHEMAS,
    ListsRecords,
    coerce,
    json_default_for,
    record_to_dict,
    strict_error,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryMode,
)

__all__ = (
    "INLINE_READ_BYTES", "FileBackend", "anomaly_objects", "fsync_mode", "recovery_mode",
)

#: Reads of files up to this size run inline; larger ones in a worker thread.
INLINE_READ_BYTES = 256 * 1024

log = logging.getLogger("papyra")


def anomaly_objects(path: str, found: Sequence[tuple[str, str]]) -> list[PersistenceAnomaly]:
    return [
        PersistenceAnomaly(type=PersistenceAnomalyType[name], path=path, detail=detail)
        for name, detail in found
    ]


def recovery_mode(config: Any) -> PersistenceRecoveryMode:
    """The mode of ``config`` (any object with a ``mode``): a member, value or name."""
    mode = getattr(config, "mode", PersistenceRecoveryMode.IGNORE)
    return enum_member(PersistenceRecoveryMode, mode, "recovery mode")


def fsync_mode(value: object, *, bools: bool = False) -> FsyncMode:
    """``"always"``, ``"batch"`` or ``"never"`` in any case; anything else is refused.

    ``bools``: ``True`` also means ``"always"`` and ``False`` ``"never"`` (the rotating
    backend's 0.3.0 flag), and every refused value is a ``ValueError``. Without it a value
    that is not a string (``True`` included) is a ``TypeError``.
    """
    if isinstance(value, str):
        for mode in FSYNC_MODES:
            if value.lower() == mode:
                return mode
    elif bools and type(value) is bool:
        return "always" if value else "never"
    if bools:
        raise ValueError(
            "fsync must be True, False or one of 'always', 'batch', 'never' (any case), "
            f"not {value!r}."
        )
    error = ValueError if isinstance(value, str) else TypeError
    raise error(f"fsync must be one of 'always', 'batch', 'never' (any case), not {value!r}.")


class FileBackend(ListsRecords, PersistenceBackend):
    """Writes through a :class:`GroupCommitter`; reads, scans and rewrites in worker threads.

    Subclasses provide ``_flush(lines, blocking)`` and ``_sync()`` (run with ``_io_lock`` held)
    and the file set (``files()`` and ``_files()``, oldest first, the latter with size
    snapshots of the existing files). ``_ndjson`` (keyword, for tests and benchmarks) is the
    NDJSON twin that encodes, scans and reads; by default the one :mod:`papyra._accel` chose.
    """

    #: ``list_*`` with ``since``: True reads the raw ``timestamp or created_at`` of a record
    #: (the rotating backend's 0.3.0 rule) instead of the model's timestamp.
    since_fallback: ClassVar[bool] = False

    #: Optional ``progress(done_bytes, total_bytes)`` callable, called from a worker thread
    #: after every block that ``scan`` / ``recover`` / ``compact`` reads. ``total_bytes`` is
    #: the size of the files times the passes the operation makes over them (a repairing
    #: recovery or a rewriting compaction reads twice; ``done`` may stop short of ``total``
    #: when the second pass is not needed). Exceptions it raises are ignored. The CLI sets it
    #: to draw its progress bar.
    progress: Callable[[int, int], None] | None = None

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: FsyncMode,
        retention_policy: RetentionPolicy | None,
        strict: bool = False,
        _ndjson: NdjsonTwin = _accel.ndjson,
    ) -> None:
        super().__init__(retention_policy=retention_policy)
        self._strict = bool(strict)
        self._default = json_default_for(self._strict)
        self._path = Path(path)
        self._fsync_mode: FsyncMode = fsync_mode(fsync)
        self._closed = False
        self._closing = False  # aclose() is running
        # Created lazily: anyio primitives must not be bound to a loop at construction time.
        self._lock: anyio.Lock | None = None
        self._committer: GroupCommitter | None = None
        self._nd = _ndjson
        self._encode_record = _ndjson.encode_record
        self._encode_fields = _ndjson.encode_fields

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
    def strict(self) -> bool:
        """True: values without a JSON form are refused, not written as ``str(value)``."""
        return self._strict

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
        lock = threading.Lock()  # a recovery copies in a second thread while it scans

        def report(nbytes: int) -> None:
            nonlocal done
            with lock:
                done += nbytes
                try:
                    callback(done, total)
                except Exception:
                    pass

        token = read_progress.set(report)
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        finally:
            read_progress.reset(token)

    # -- subclass hooks (sync; called with the io lock held) ------------------------------------

    def _flush(self, lines: list[bytes], blocking: bool) -> int:
        raise NotImplementedError

    def _sync(self) -> None:
        raise NotImplementedError

    def _close_files(self) -> None:
        raise NotImplementedError

    def _files(self) -> list[tuple[Path, int]]:
        raise NotImplementedError

    def _clean_up(self) -> list[Path]:
        """Finish or undo an interrupted rewrite (:func:`.rewrite.clean_up`); lock held."""
        raise NotImplementedError

    def files(self) -> list[Path]:
        """Every file of this backend's set, in read order (oldest first), existing or not.

        Read-only: nothing is opened or created. The JSON backend has its one path; the
        rotating backend the slots it owns, ``.{max_files-1}`` … ``.1`` then the active file.
        """
        raise NotImplementedError

    # -- writes ---------------------------------------------------------------------------------

    def _encode(self, kind: str, record: Any) -> bytes:
        """The record's line; a record that cannot be encoded counts as a write error.

        ``strict``: a value without a JSON form is a ``TypeError`` naming it (see
        :func:`papyra.persistence._records.strict_default`) instead of its ``str()``.

        A plain ``dict`` goes straight to its line (``encode_fields`` of the twin, with the
        coercion rules of :data:`~papyra.persistence._records.WRITE_SCHEMAS`); should that
        fail, the general path below runs and raises its own, precise error.
        """
        if type(record) is dict:
            schema = WRITE_SCHEMAS.get(kind)
            if schema is not None:
                try:
                    return self._encode_fields(record, kind, schema, self._default)
                except Exception:
                    pass  # the general path raises the error (and counts it)
        try:
            data = record_to_dict(kind, coerce(kind, record))
            try:
                return self._encode_record(data, self._default)
            except TypeError as exc:
                if not self._strict:
                    raise
                raise strict_error(kind, data, exc) from exc
        except Exception:
            self.metrics.write_errors += 1
            raise

    def _reopen(self) -> None:
        """A write after :meth:`aclose`: accept writes again; the file is reopened on the write.

        The lock and the group committer are made afresh (the next system may run on another
        event loop, or another anyio backend); while ``aclose()`` is still running they are
        kept, as it holds them.
        """
        self._closed = False
        if not self._closing:
            self._lock = None
            self._committer = None

    async def _record(self, kind: str, record: Any) -> None:
        line = self._encode(kind, record)
        if self._closed:
            self._reopen()
        await (self._committer or self._get_committer()).commit(line)

    def record_nowait(self, kind: str, record: Any) -> None:
        """Queue one record for writing, in call order, without waiting (see :meth:`flush`).

        The actor system uses this so that its facts take their place in the file at the
        moment they happen: a record an actor writes itself right after (``record_event``)
        lands behind them. Encoding errors are raised here and counted; write errors surface
        from the next :meth:`flush` or ``record_*`` call that writes the group.
        """
        line = self._encode(kind, record)
        if self._closed:
            self._reopen()
        self._get_committer().add_nowait(line)

    async def flush(self) -> None:
        """Write everything queued by :meth:`record_nowait` (synced per the fsync mode)."""
        if self._closed or self._committer is None:
            await anyio.lowlevel.checkpoint()
            return
        await self._committer.flush()

    async def record_event(self, event: Any) -> None:
        """Append one event; returns once it is written (``fsync="always"``: synced)."""
        # _record inlined: this is the hot path of every writer (one coroutine frame less).
        line = self._encode("event", event)
        if self._closed:
            self._reopen()
        await (self._committer or self._get_committer()).commit(line)

    async def record_audit(self, report: Any) -> None:
        """Append one audit snapshot; same guarantees as :meth:`record_event`."""
        await self._record("audit", report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        """Append one dead letter; same guarantees as :meth:`record_event`."""
        await self._record("dead_letter", dead_letter)

    async def aclose(self) -> None:
        """Write what was handed over, sync (unless "never"), close the file. Idempotent.

        Reads keep working. A later write reopens the backend (and the file): one backend
        object can serve several systems one after another. A write error of records handed
        over with :meth:`record_nowait` and not flushed yet is raised here, after the close.
        """
        if self._closed:
            return
        self._closed = True
        self._closing = True
        try:
            if self._committer is not None:
                await self._committer.flush()
        finally:
            try:
                async with self._io_lock:
                    if self._fsync_mode != "never":
                        with anyio.CancelScope(shield=True):
                            await anyio.to_thread.run_sync(self._sync)
                    self._close_files()
            finally:
                self._closing = False

    # -- interrupted rewrites ----------------------------------------------------------------

    def _clean_up_logged(self) -> list[Path]:
        """:meth:`_clean_up` (the caller holds the :class:`RewriteLock`), logged when it acts."""
        handled = self._clean_up()
        if handled:
            log.warning(
                "persistence %s: an interrupted compaction or recovery was undone or finished "
                "(temp files removed or installed: %s)",
                self._path,
                ", ".join(p.name for p in handled),
            )
        return handled

    def _clean_up_unless_busy(self) -> list[Path]:
        try:
            with RewriteLock(self._path, blocking=False):
                return self._clean_up_logged()
        except BlockingIOError:
            return []  # a rewrite runs in another process: its temp files are live

    async def clean_up_rewrites(self) -> tuple[str, ...]:
        """Remove what a compaction or recovery of this backend left when it was killed.

        Temp files (``<name>.compact.tmp``, ``<name>.recovered.tmp``, the rotating backend's
        numbered chunks, an interrupted quarantine copy in the same directory) are deleted when
        the old files are still whole; a rotating install that had already begun replacing
        files is finished instead (see ``docs/persistence.md``). Only this backend's own file
        names are touched. The startup check calls it before its scan; :meth:`compact` and
        :meth:`recover` (except in ``IGNORE`` mode) do the same first.

        Runs under the rewrite lock of the directory (see :class:`.rewrite.RewriteLock`): if
        another process is rewriting a set in that directory right now, nothing is touched and
        ``()`` is returned -- its temp files may be live. Returns the paths it removed or
        installed (logged as a warning on the ``papyra`` logger).
        """
        async with self._io_lock:
            self._close_files()  # the active file may be replaced; writes reopen it
            handled = await anyio.to_thread.run_sync(self._clean_up_unless_busy)
        return tuple(map(str, handled))

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
            nd=self._nd,
            since=since,
            limit=limit,
            since_fallback=self.since_fallback,
        )
        if sum(size for _, size in files) <= INLINE_READ_BYTES:
            await anyio.lowlevel.checkpoint()
            return tuple(job())
        return tuple(await anyio.to_thread.run_sync(job))

"""``RotatingFilePersistence``: NDJSON records in a bounded set of rotated files.

Same line codec, write path and read rules as :mod:`papyra.persistence.json`; see
``docs/persistence.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from papyra import _accel
from papyra.persistence._file.append import AppendLog, FsyncMode, PartialWrite, fsync_dir
from papyra.persistence._file.backend import (
    FileBackend,
    anomaly_objects,
    fsync_mode,
    recovery_mode,
)
from papyra.persistence._file.read import NdjsonTwin, scan_file
from papyra.persistence._file.rewrite import (
    Chunk,
    ExclusiveFile,
    KeepPlan,
    RewriteLock,
    clean_up,
    install,
    plan_keep,
    write_chunks,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceScanReport,
    RotatingCompactionReport,
    RotatingRecoveryReport,
)

__all__ = ("RotatingFilePersistence",)


class RotatingFilePersistence(FileBackend):
    """Appends records to ``path`` and rotates it to ``path.1`` … ``path.{max_files-1}``.

    Rotation (checked per record, under the write lock): when the active file exists and the
    record would take it past ``max_bytes``, ``max_files == 1`` empties the active file; else,
    if the oldest slot exists, nothing rotates and the active file grows (rotation never deletes
    data); else every rotated file moves up one slot and the active file becomes ``.1``.

    ``fsync`` takes the JSON backend's modes, ``"never"`` (the default), ``"batch"`` and
    ``"always"`` (any case), with the same meaning; ``True`` is ``"always"`` and ``False``
    ``"never"`` (0.3.0's flag). Except with ``"never"``, a file is also fsynced before it is
    rotated away and after it is emptied. Any other value is a ``ValueError``. ``strict`` as
    for the JSON backend. After :meth:`aclose` the next write reopens the backend, as the JSON
    backend does.

    :meth:`compact` and :meth:`recover` keep every record that retention keeps: when the
    records need more than ``max_files`` files of ``max_bytes``, the oldest file holds the
    overflow, as the active file does for writes. ``drop_overflow=True`` (keyword-only) bounds
    the disk use instead: those two delete the oldest records that do not fit and report how
    many in ``overflow_dropped``. Writes are not affected by it.

    :raises ValueError: ``max_bytes`` or ``max_files`` is not > 0, or ``fsync`` is none of
        the modes above.
    """

    since_fallback = True

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = 50_000_000,
        max_files: int = 5,
        fsync: bool | FsyncMode = "never",
        retention_policy: RetentionPolicy | None = None,
        strict: bool = False,
        drop_overflow: bool = False,
        _ndjson: NdjsonTwin = _accel.ndjson,
    ) -> None:
        mode = fsync_mode(fsync, bools=True)
        if max_bytes <= 0:
            raise ValueError("max_bytes must be > 0")
        if max_files <= 0:
            raise ValueError("max_files must be > 0")
        super().__init__(
            path,
            fsync=mode,
            retention_policy=retention_policy,
            strict=strict,
            _ndjson=_ndjson,
        )
        self._max_bytes = int(max_bytes)
        self._max_files = int(max_files)
        self._drop_overflow = bool(drop_overflow)
        self._log = AppendLog(self._path)

    @property
    def max_bytes(self) -> int:
        """The size past which a write rotates the active file, in bytes."""
        return self._max_bytes

    @property
    def max_files(self) -> int:
        """How many files the log spans: the active file and ``max_files - 1`` rotated ones."""
        return self._max_files

    @property
    def drop_overflow(self) -> bool:
        """True: compaction and recovery delete the records that do not fit in the set."""
        return self._drop_overflow

    def _slot(self, index: int) -> Path:
        return self._path if index == 0 else self._path.with_name(f"{self._path.name}.{index}")

    def _slots(self) -> list[Path]:
        """The rotation set, newest first: active, ``.1`` … ``.{max_files-1}``."""
        return [self._slot(i) for i in range(self._max_files)]

    def _set_paths(self) -> list[Path]:
        """The rotation set, oldest first: ``.{max_files-1}`` … ``.1``, active."""
        return [self._slot(i) for i in range(self._max_files - 1, -1, -1)]

    def files(self) -> list[Path]:
        """The set's slots, oldest first (``.{max_files-1}`` … ``.1``, active), existing or not."""
        return self._set_paths()

    def _clean_up(self) -> list[Path]:
        # Staged files are renamed complete chunks: an interrupted install is finished.
        return clean_up(self._slots(), roll_forward=True)

    def _files(self) -> list[tuple[Path, int]]:
        files = []
        for p in self._set_paths():
            try:
                files.append((p, os.stat(p).st_size))
            except OSError:
                pass
        return files

    # -- writes (sync, io lock held) -------------------------------------------------------------

    def _flush(self, lines: list[bytes], blocking: bool) -> int:
        """Append ``lines``, rotating (per line) as the rule says; one append per file.

        A failure after some lines went into a file that has since been rotated away raises
        :class:`PartialWrite`: those lines are stored; the failed append took its own bytes
        back (see :meth:`AppendLog.write`).
        """
        log = self._log
        try:
            size: int | None = os.stat(self._path).st_size
        except FileNotFoundError:
            size = None
        start = 0  # first line not written yet
        written = 0
        try:
            for i, line in enumerate(lines):
                n = len(line)
                if size is not None and size + n > self._max_bytes:
                    if i > start:
                        written += log.write(b"".join(lines[start:i]), blocking=blocking)
                        start = i
                    size = self._make_room()
                size = (size or 0) + n
            if start < len(lines):
                written += log.write(b"".join(lines[start:]), blocking=blocking)
        except Exception as exc:
            if start:
                raise PartialWrite(start, exc) from exc
            raise
        return written

    def _make_room(self) -> int | None:
        """Apply the rotation rule; return the active file's size afterwards (None: absent)."""
        log = self._log
        if self._max_files == 1:
            log.truncate()
            if self._fsync_mode != "never":
                log.sync()
            return 0
        oldest = self._slot(self._max_files - 1)
        if oldest.exists():
            return os.stat(self._path).st_size  # P3: keep everything, the active file grows
        if self._fsync_mode != "never":
            log.sync()
        with ExclusiveFile(self._path):
            for i in range(self._max_files - 2, 0, -1):
                src = self._slot(i)
                if src.exists():
                    os.replace(src, self._slot(i + 1))
            os.replace(self._path, self._slot(1))
        log.close()
        if self._fsync_mode != "never":
            fsync_dir(self._path.parent)
        return None

    def _sync(self) -> None:
        self._log.sync()

    def _close_files(self) -> None:
        self._log.close()

    async def clear(self) -> None:
        """Delete the active file and every rotated file."""
        async with self._io_lock:
            self._log.close()
            for p in self._set_paths():
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass

    # -- scan / recover / compact -----------------------------------------------------------------

    def _scan_sync(self) -> list[PersistenceAnomaly]:
        members = {str(p) for p in self._set_paths()}
        directory = self._path.parent
        prefix = self._path.name
        anomalies: list[PersistenceAnomaly] = []
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            names = []
        for name in names:
            candidate = directory / name
            if name.startswith(prefix) and str(candidate) not in members:
                anomalies.append(
                    PersistenceAnomaly(
                        type=PersistenceAnomalyType.ORPHANED_ROTATED_FILE,
                        path=str(candidate),
                        detail="Unexpected file in rotation set",
                    )
                )
        anomalies.sort(key=lambda a: a.path)
        for p in self._set_paths():
            if not p.exists():
                continue
            try:
                result = scan_file(p, nd=self._nd)
            except OSError:
                anomalies.append(
                    PersistenceAnomaly(
                        type=PersistenceAnomalyType.PARTIAL_WRITE,
                        path=str(p),
                        detail="File could not be read fully",
                    )
                )
                continue
            if result is not None:
                anomalies.extend(anomaly_objects(str(p), result.anomalies))
        return anomalies

    async def _counted_scan(self) -> PersistenceScanReport:
        await self._metrics_on_scan_start()
        try:
            anomalies = await self._in_worker(1, self._scan_sync)
        except Exception:
            await self._metrics_on_scan_error()
            raise
        await self._metrics_on_anomalies_detected(len(anomalies))
        return PersistenceScanReport(backend="rotating", anomalies=tuple(anomalies))

    async def scan(self) -> PersistenceScanReport:
        """Orphans (files named ``<name>*`` outside the set, sorted) then each file's lines,
        oldest file first, with the JSON backend's line rules; unreadable → ``PARTIAL_WRITE``."""
        async with self._io_lock:
            return await self._counted_scan()

    async def recover(
        self, config: PersistenceRecoveryConfig | None = None
    ) -> RotatingRecoveryReport:
        """Scan; then rebuild the set from its surviving lines (REPAIR / REBUILD / QUARANTINE).

        Survivors: complete JSON-object lines of every file, oldest first, byte for byte, then
        retention. They are cut into chunks of at most ``max_bytes`` that become active, ``.1``,
        … (each staged as ``<target>.recovered.tmp``); with more chunks than ``max_files`` the
        oldest file takes the overflow (``drop_overflow=True``: the overflow is deleted and
        counted in ``overflow_dropped``). Set files beyond the rebuilt ones are deleted (0.3.0
        left them: duplicates). QUARANTINE first links every set file to
        ``<dir>/<name>.quarantine.<ms>``. Orphans are left alone. The new set is installed as
        compaction installs it (the steps and what a crash between them leaves:
        :mod:`papyra.persistence._file.rewrite`). Writers in other processes wait on the active
        file's lock, then reopen.
        """
        config = config if config is not None else PersistenceRecoveryConfig()
        mode = recovery_mode(config)
        await self._metrics_on_recover_start()
        try:
            async with self._io_lock:
                report = await self._counted_scan()
                if mode is PersistenceRecoveryMode.IGNORE or not report.anomalies:
                    return RotatingRecoveryReport(backend="rotating", scan=report)
                self._log.close()
                repaired, quarantined, dropped = await self._in_worker(
                    2, self._rebuild, mode, config.quarantine_dir
                )
        except Exception:
            await self._metrics_on_recover_error()
            raise
        return RotatingRecoveryReport(
            backend="rotating",
            scan=report,
            repaired_files=repaired,
            quarantined_files=quarantined,
            overflow_dropped=dropped,
        )

    def _write_chunks(
        self, files: list[tuple[Path, int]], plan: KeepPlan, suffix: str
    ) -> list[Chunk]:
        return write_chunks(
            files,
            plan,
            nd=self._nd,
            max_bytes=self._max_bytes,
            max_files=self._max_files,
            tmp_dir=self._path.parent,
            tmp_stem=self._path.name + suffix,
            drop_overflow=self._drop_overflow,
        )

    def _rebuild(
        self, mode: PersistenceRecoveryMode, quarantine_dir: str | None
    ) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        directory = self._path.parent
        directory.mkdir(parents=True, exist_ok=True)
        suffix = ".recovered.tmp"
        with RewriteLock(self._path):
            self._clean_up_logged()
            files = self._files()
            plan = plan_keep(files, self.retention, nd=self._nd, keep_noeol=False)
            chunks = self._write_chunks(files, plan, suffix)
            if not chunks:  # nothing survives: an empty active file
                empty = directory / f"{self._path.name}{suffix}.1"
                empty.write_bytes(b"")
                chunks = [Chunk(empty, 0, 0)]
            qdir = None
            if mode is PersistenceRecoveryMode.QUARANTINE:
                qdir = Path(quarantine_dir) if quarantine_dir else directory
            done = install([c.path for c in chunks], self._slots(), suffix, quarantine_dir=qdir)
        dropped = plan.after_records - sum(c.records for c in chunks)
        return tuple(map(str, done.slots)), tuple(map(str, done.quarantined)), dropped

    async def compact(self) -> RotatingCompactionReport:
        """Physically apply retention and drop unparsable lines across the whole set.

        Survivors are re-chunked into files of at most ``max_bytes`` (newest → active); with
        more chunks than ``max_files`` the oldest file takes the overflow, or, with
        ``drop_overflow=True``, the overflow is deleted and counted in ``overflow_dropped``.
        The chunks are staged as ``<target>.compact.tmp`` and installed as :meth:`recover`
        installs them; with no survivors no file remains. ``after_records`` and
        ``after_bytes`` count what was written.
        """
        await self._metrics_on_compact_start()
        try:
            async with self._io_lock:
                self._log.close()
                return await self._in_worker(2, self._compact_sync)  # type: ignore[no-any-return]
        except Exception:
            await self._metrics_on_compact_error()
            raise

    def _compact_sync(self) -> RotatingCompactionReport:
        suffix = ".compact.tmp"
        with RewriteLock(self._path):
            self._clean_up_logged()
            files = self._files()
            if not files:
                return RotatingCompactionReport("rotating", 0, 0, 0, 0)
            plan = plan_keep(files, self.retention, nd=self._nd)
            chunks = self._write_chunks(files, plan, suffix)
            install([c.path for c in chunks], self._slots(), suffix)
        after_records = sum(c.records for c in chunks)
        return RotatingCompactionReport(
            "rotating",
            plan.before_records,
            after_records,
            before_bytes=sum(size for _, size in files),
            after_bytes=sum(c.size for c in chunks),
            overflow_dropped=plan.after_records - after_records,
        )

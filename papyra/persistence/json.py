"""``JsonFilePersistence``: every record as one line of one NDJSON file.

See ``docs/persistence.md`` for the format, the durability options and the recovery rules.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from papyra import _accel
from papyra.persistence._file.append import AppendLog, FsyncMode
from papyra.persistence._file.backend import FileBackend, anomaly_objects, recovery_mode
from papyra.persistence._file.read import NdjsonTwin, ScanResult, read_progress, scan_file
from papyra.persistence._file.rewrite import (
    RangeCopier,
    RewriteLock,
    clean_up,
    install,
    plan_keep,
    rewrite_one,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.models import (
    CompactionReport,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)

__all__ = ("JsonFilePersistence",)


class JsonFilePersistence(FileBackend):
    """Appends events, audits and dead letters to one NDJSON file (``kind`` first, compact).

    The constructor does no I/O; the file (and its parent directories) is created by the first
    write and then kept open.

    ``record_*`` accepts the ``Persisted*`` model or a mapping of its fields. Concurrent calls
    are written together (group commit); each returns only once its own record is written --
    a record is never reported written when it was not, and a failed write raises (counted in
    ``metrics.write_errors``). ``fsync`` (keyword-only) sets what "written" means:

    * ``"never"`` (default, as in 0.3.0): handed to the OS with ``write(2)``. Survives a crash
      of the process (even ``SIGKILL``), not a crash of the machine.
    * ``"batch"``: as ``"never"`` when the call returns, and every group is then fsynced before
      the next one is written (one fsync per group; at most the records of the last group are
      at risk on a machine crash). A failed fsync fails the next group.
    * ``"always"``: the call returns after an fsync that covers its record (one fsync per group:
      with 16 concurrent writers that is one fsync for 16 records). Survives a machine crash.

    ``strict`` (keyword-only, default ``False``): a value JSON cannot hold natively is written
    as ``str(value)`` (dataclasses and ``ActorAddress`` as objects of their fields, paths as
    their text). With ``strict=True`` only those structured conversions remain, and any other
    such value makes ``record_*`` raise ``TypeError`` naming it (``payload['when']:
    datetime.datetime``); nothing is written, and the error counts in ``metrics.write_errors``.

    After :meth:`aclose` reads keep working, and the next write reopens the backend and the
    file (one backend object can serve several systems one after another).

    :raises ValueError: ``fsync`` is a string that names no mode.
    :raises TypeError: ``fsync`` is not a string.
    """

    def __init__(
        self,
        path: str | Path,
        retention_policy: RetentionPolicy | None = None,
        *,
        fsync: FsyncMode = "never",
        strict: bool = False,
        _ndjson: NdjsonTwin = _accel.ndjson,
    ) -> None:
        super().__init__(
            path, fsync=fsync, retention_policy=retention_policy, strict=strict, _ndjson=_ndjson
        )
        self._log = AppendLog(self._path)

    # -- FileBackend hooks --------------------------------------------------------------------

    def _flush(self, lines: list[bytes], blocking: bool) -> int:
        return self._log.write(b"".join(lines), blocking=blocking)

    def _sync(self) -> None:
        self._log.sync()

    def _close_files(self) -> None:
        self._log.close()

    def files(self) -> list[Path]:
        """The one file of this backend (whether or not it exists yet)."""
        return [self._path]

    def _clean_up(self) -> list[Path]:
        # The staged file is written in place (maybe partly): delete it, never install it.
        return clean_up([self._path], roll_forward=False)

    def _files(self) -> list[tuple[Path, int]]:
        try:
            return [(self._path, os.stat(self._path).st_size)]
        except FileNotFoundError:
            return []

    # -- scan / recover / compact -------------------------------------------------------------

    def _report(self, result: ScanResult | None) -> PersistenceScanReport:
        found = result.anomalies if result is not None else []
        return PersistenceScanReport(
            backend="json", anomalies=tuple(anomaly_objects(str(self._path), found))
        )

    async def _counted_scan_report(self, result: ScanResult | None) -> PersistenceScanReport:
        report = self._report(result)
        await self._metrics_on_anomalies_detected(len(report.anomalies))
        return report

    async def scan(self) -> PersistenceScanReport:
        """Report damaged lines without changing anything (read in blocks, in a worker thread).

        Every complete line that is not valid JSON -- an empty line included -- is a
        ``CORRUPTED_LINE`` (``"Invalid JSON at line N"``); a final line without ``"\\n"`` is a
        ``TRUNCATED_LINE`` (``"Line N missing newline"``). Valid JSON that is not an object is
        not an anomaly. After this backend appended behind a torn line, that line has become a
        complete invalid line: a ``CORRUPTED_LINE``. The scan covers the file as it was when
        the scan started.
        """
        await self._metrics_on_scan_start()
        try:
            async with self._io_lock:
                files = self._files()  # a size snapshot between two of our own writes
            result = None
            if files:
                result = await self._in_worker(
                    1, partial(scan_file, self._path, files[0][1], nd=self._nd)
                )
        except Exception:
            await self._metrics_on_scan_error()
            raise
        return await self._counted_scan_report(result)

    async def recover(
        self, config: PersistenceRecoveryConfig | None = None
    ) -> PersistenceRecoveryReport:
        """Scan, then (REPAIR / REBUILD / QUARANTINE) rewrite the file without its damage.

        Kept: every complete line that is a JSON object, byte for byte; dropped: invalid lines,
        valid non-objects and a final line without ``"\\n"``. The new file is written to
        ``<path>.recovered.tmp`` (copied while the scan runs, from the first dropped line
        on), fsynced and moved over the original (then the directory is fsynced): a crash
        leaves the old or the new file, whole. QUARANTINE first links (or
        copies) the original to ``<dir>/<name>.quarantine.<ms>``. Writes of this backend wait;
        cooperating writers in other processes wait on the file lock and then reopen.
        """
        config = config if config is not None else PersistenceRecoveryConfig()
        mode = recovery_mode(config)
        await self._metrics_on_recover_start()
        try:
            async with self._io_lock:
                await self._metrics_on_scan_start()
                try:
                    result, repaired, quarantined = await self._in_worker(
                        2, self._recover_sync, mode, config.quarantine_dir
                    )
                except _ScanFailed as failed:
                    await self._metrics_on_scan_error()
                    raise failed.error from None
                report = await self._counted_scan_report(result)
        except Exception:
            await self._metrics_on_recover_error()
            raise
        return PersistenceRecoveryReport(
            backend="json", scan=report, repaired_files=repaired, quarantined_files=quarantined
        )

    def _recover_sync(
        self, mode: PersistenceRecoveryMode, quarantine_dir: str | None
    ) -> tuple[ScanResult | None, tuple[str, ...], tuple[str, ...]]:
        path = self._path
        suffix = ".recovered.tmp"
        with RewriteLock(path) as held:
            if mode is not PersistenceRecoveryMode.IGNORE:
                self._clean_up_logged()
            if held.fd is None:
                return None, (), ()
            # A repairing mode copies the kept lines while the scan runs, from the first line
            # the scan drops on (a clean file is never copied): one pass, not scan then copy.
            copier = None
            if mode is not PersistenceRecoveryMode.IGNORE:
                copier = RangeCopier(path, path.with_name(path.name + suffix))
            try:
                try:
                    result = scan_file(
                        path,
                        os.fstat(held.fd).st_size,
                        nd=self._nd,
                        kept=copier.add if copier is not None else None,
                    )
                except Exception as exc:
                    raise _ScanFailed(exc) from exc
                if result is None or copier is None or not result.anomalies:
                    return result, (), ()
                if not copier.started:
                    ranges = result.kept_ranges()  # damage, but no dropped line: a torn tail
                    for k in range(0, len(ranges), 2):
                        copier.add(ranges[k], ranges[k + 1])
                copied = copier.finish()
            finally:
                if copier is not None:
                    copier.abort()  # a no-op after finish()
            report = read_progress.get()
            if report is not None and result.size > copied:
                report(result.size - copied)  # the dropped bytes: read, not copied
            qdir = None
            if mode is PersistenceRecoveryMode.QUARANTINE:
                qdir = Path(quarantine_dir) if quarantine_dir else path.parent
            installed = install([copier.dest], [path], suffix, quarantine_dir=qdir)
            return result, (str(path),), tuple(map(str, installed.quarantined))

    async def compact(self) -> CompactionReport:
        """Physically apply retention and drop every line that is not a JSON object.

        Two streaming passes (count and decide; copy the survivors byte for byte into
        ``<path>.compact.tmp``), then fsync + atomic replace, as :meth:`recover`. A final line
        without ``"\\n"`` that is an object is kept (and terminated). When nothing would change,
        the file is left untouched. A missing file yields an all-zero report (an empty file is
        created when its directory exists, as in 0.3.0). Not a scan: reports no anomalies.
        """
        await self._metrics_on_compact_start()
        try:
            async with self._io_lock:
                return await self._in_worker(2, self._compact_sync)  # type: ignore[no-any-return]
        except Exception:
            await self._metrics_on_compact_error()
            raise

    def _compact_sync(self) -> CompactionReport:
        path = self._path
        with RewriteLock(path) as held:
            self._clean_up_logged()
            if held.fd is None:
                if path.parent.is_dir():
                    path.touch()
                return CompactionReport("json", 0, 0, 0, 0)
            size = os.fstat(held.fd).st_size
            plan = plan_keep([(path, size)], self.retention, nd=self._nd)
            unchanged = (
                not plan.drop
                and plan.first_line == 0
                and plan.skip_records == 0
                and (size == 0 or os.pread(held.fd, 1, size - 1) == b"\n")
            )
            if unchanged:
                return CompactionReport("json", plan.before_records, plan.after_records, size, size)
            after_bytes, _ = rewrite_one(
                path,
                size,
                plan.drop,
                nd=self._nd,
                suffix=".compact.tmp",
                first_line=plan.first_line,
                skip_records=plan.skip_records,
            )
            return CompactionReport(
                "json", plan.before_records, plan.after_records, size, after_bytes
            )


class _ScanFailed(Exception):
    """Carries an exception of the scan inside ``recover`` (it counts as a scan error too)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error

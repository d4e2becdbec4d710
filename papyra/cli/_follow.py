"""``--follow``: print the records a backend gains while the command runs, until Ctrl-C.

Two ways to notice new records, both printing each record once:

* **Any backend** (:func:`poll_since`): every interval, ``list_*(since=<newest timestamp
  printed>)``. Records at exactly that timestamp may already have been printed; a
  :class:`Watermark` remembers how many of each it printed there, so a poll skips those and
  prints the rest. A record written later with an *older* timestamp than one already printed
  is not seen this way (other clocks, other systems).
* **A JSON file** (:class:`FileTail`): only the bytes appended since the last read are read
  (the offset of the first incomplete line is kept), so a large log costs nothing per poll and
  every appended record is printed in file order, whatever its timestamp. When the file is
  replaced (a compaction or recovery moves a new file into place) or shrinks, it is read again
  from the start and the watermark decides what is new, as for any backend: records already
  printed are not printed again.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from papyra import _serial
from papyra.persistence._records import record_from_dict, timestamp_of
from papyra.persistence.json import JsonFilePersistence

__all__ = ("DEFAULT_INTERVAL", "FileTail", "Watermark", "follow", "poll_since")

#: Seconds between two polls when ``--interval`` is not given.
DEFAULT_INTERVAL = 0.5

#: ``list_*`` method of each record kind.
_LIST_METHOD = {"event": "list_events", "audit": "list_audits", "dead_letter": "list_dead_letters"}


def _key(record: Any) -> str:
    """Identity of a record for de-duplication: all of its fields (payloads are not hashable)."""
    return repr(record)


class Watermark:
    """The newest timestamp printed and how many copies of each record were printed at it."""

    def __init__(self, floor: float | None = None) -> None:
        self.last: float | None = floor
        self.at_last: Counter[str] = Counter()

    def note(self, record: Any) -> None:
        """``record`` has been printed."""
        ts = timestamp_of(record)
        if ts is None:
            return
        if self.last is None or ts > self.last:
            self.last = ts
            self.at_last = Counter()
        if ts == self.last:
            self.at_last[_key(record)] += 1

    def fresh(self, records: Iterable[Any]) -> list[Any]:
        """Those of ``records`` (a re-read from the watermark on) that were not printed yet."""
        printed = Counter(self.at_last)
        out = []
        for record in records:
            ts = timestamp_of(record)
            if ts is None or (self.last is not None and ts < self.last):
                continue
            if ts == self.last:
                key = _key(record)
                if printed[key] > 0:
                    printed[key] -= 1
                    continue
            out.append(record)
        return out


async def poll_since(backend: Any, kind: str, mark: Watermark) -> list[Any]:
    """New records of any backend, by timestamp; they are noted on ``mark``."""
    records = await getattr(backend, _LIST_METHOD[kind])(since=mark.last)
    new = mark.fresh(records)
    for record in new:
        mark.note(record)
    return new


class FileTail:
    """Reads the records of ``kind`` appended to an NDJSON file since the last read.

    Blocking (file reads): call :meth:`read` in a worker thread.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.offset = 0
        self.ident: tuple[int, int] | None = None
        # Bytes [start, end) that the first listing may have shown too (the file grew while it
        # was read): records there that the listing returned are skipped once.
        self._overlap: tuple[int, Counter[str]] | None = None

    def _stat(self) -> os.stat_result | None:
        try:
            return os.stat(self.path)
        except FileNotFoundError:
            return None

    def size(self) -> int:
        st = self._stat()
        return 0 if st is None else st.st_size

    def begin(self, size_before: int, listed: Iterable[Any]) -> None:
        """Start after the first listing: it was read while the file had grown from
        ``size_before`` to at most its size now."""
        st = self._stat()
        self.offset = size_before
        self.ident = None if st is None else (st.st_dev, st.st_ino)
        if st is not None and st.st_size > size_before:
            self._overlap = (st.st_size, Counter(_key(r) for r in listed))

    def read(self, mark: Watermark) -> list[Any]:
        """The new complete records, noted on ``mark``; an incomplete last line waits."""
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below, fstat needs the descriptor
        except FileNotFoundError:
            return []  # removed (or between the two steps of a replacement): nothing yet
        with f:
            st = os.fstat(f.fileno())
            ident = (st.st_dev, st.st_ino)
            reread = (self.ident is not None and ident != self.ident) or st.st_size < self.offset
            if reread:
                self.offset = 0
                self._overlap = None
            self.ident = ident
            if st.st_size <= self.offset:
                return []
            f.seek(self.offset)
            data = f.read(st.st_size - self.offset)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        start = self.offset
        self.offset += end
        records = self._decode(data[:end], start)
        new = mark.fresh(records) if reread else records
        for record in new:
            mark.note(record)
        return new

    def _decode(self, chunk: bytes, start: int) -> list[Any]:
        out = []
        pos = start
        overlap = self._overlap
        for line in chunk.split(b"\n")[:-1]:
            line_start = pos
            pos += len(line) + 1
            try:
                data = _serial.decode(line)
            except Exception:
                continue  # a damaged line, as list_* skips it
            if not isinstance(data, dict) or data.get("kind") != self.kind:
                continue
            record = record_from_dict(self.kind, data)
            if record is None:
                continue
            if overlap is not None and line_start < overlap[0]:
                key = _key(record)
                if overlap[1][key] > 0:
                    overlap[1][key] -= 1
                    continue
            out.append(record)
        if overlap is not None and pos >= overlap[0]:
            self._overlap = None
        return out


async def follow(
    backend: Any,
    kind: str,
    *,
    limit: int | None,
    since: float | None,
    interval: float,
    emit: Callable[[Any], None],
) -> None:
    """Emit the records of ``kind`` (``list_*(limit, since)`` first), then every new one, for
    ever: the caller ends it (Ctrl-C, a cancel scope)."""
    mark = Watermark(since)
    tail = FileTail(backend.path, kind) if isinstance(backend, JsonFilePersistence) else None
    size_before = tail.size() if tail is not None else 0
    listed = tuple(await getattr(backend, _LIST_METHOD[kind])(limit=limit, since=since))
    for record in listed:
        emit(record)
        mark.note(record)
    if tail is not None:
        tail.begin(size_before, listed)
    while True:
        await anyio.sleep(interval)
        if tail is not None:
            new = await anyio.to_thread.run_sync(tail.read, mark)
        else:
            new = await poll_since(backend, kind, mark)
        for record in new:
            emit(record)

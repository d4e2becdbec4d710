"""RotatingFilePersistence: rotation rule, fsync=True, scans, recovery without duplicates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from papyra import _serial
from papyra.persistence._records import coerce, record_to_dict
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)

from .conftest import SpyTwin, full_read

pytestmark = pytest.mark.anyio
T = PersistenceAnomalyType


def rec(i: int) -> dict[str, object]:
    return {"event_type": f"e{i}", "timestamp": float(i)}


LINE = len(orjson.dumps({
    "kind": "event",
    "system_id": "local",
    "actor_address": None,
    "event_type": "e1",
    "payload": {},
    "timestamp": 1.0,
})) + 1


async def test_validation() -> None:
    with pytest.raises(ValueError, match="max_bytes must be > 0"):
        RotatingFilePersistence("x", max_bytes=0)
    with pytest.raises(ValueError, match="max_files must be > 0"):
        RotatingFilePersistence("x", max_files=0)


async def test_twelve_records_in_a_four_file_set_all_read_back(tmp_path: Path, impl: Any) -> None:
    p = tmp_path / "r.ndjson"
    b = RotatingFilePersistence(p, max_bytes=LINE + 5, max_files=4, _ndjson=impl.ndjson)
    for i in range(12):
        await b.record_event(rec(i))
    assert sorted(os.listdir(tmp_path)) == ["r.ndjson", "r.ndjson.1", "r.ndjson.2", "r.ndjson.3"]
    assert [e.event_type for e in await b.list_events()] == [f"e{i}" for i in range(12)]
    paths = [p.with_name("r.ndjson.3"), p.with_name("r.ndjson.2"), p.with_name("r.ndjson.1"), p]
    assert await b.list_events(limit=3, since=2) == full_read(paths, "event", since=2, limit=3)
    # one codec: kind first, compact
    assert p.read_bytes().startswith(b'{"kind":"event","system_id":"local"')


async def test_single_file_set_truncates(tmp_path: Path) -> None:
    b = RotatingFilePersistence(tmp_path / "one.ndjson", max_bytes=LINE + 5, max_files=1)
    for i in range(5):
        await b.record_event(rec(i))
    assert [e.event_type for e in await b.list_events()] == ["e4"]


async def test_fsync_true_works_and_syncs_per_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from papyra.persistence._file import append

    calls: list[int] = []
    real = append._fsync
    monkeypatch.setattr(append, "_fsync", lambda fd: (calls.append(fd), real(fd))[1])
    b = RotatingFilePersistence(tmp_path / "f.ndjson", max_bytes=LINE * 3, max_files=3, fsync=True)
    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(b.record_event, rec(i))
    assert len(await b.list_events()) == 6
    assert calls
    await b.aclose()


@pytest.mark.parametrize("mode", ["never", "batch", "always"])
async def test_fsync_modes_sync_every_file_of_the_set_unless_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from papyra.persistence._file import append

    synced: set[int] = set()
    real = append._fsync

    def spy(fd: int) -> None:
        synced.add(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(append, "_fsync", spy)
    p = tmp_path / "m.ndjson"
    b = RotatingFilePersistence(p, max_bytes=LINE * 2 + 1, max_files=3, fsync=mode)
    for i in range(6):  # one group, rotated twice while it is written
        b.record_nowait("event", rec(i))
    await b.flush()
    await b.aclose()
    inodes = {x.stat().st_ino for x in tmp_path.iterdir()}
    assert len(inodes) == 3  # the active file, .1 and .2
    # "batch" and "always" sync a file before it is rotated away, not only the active file
    # once the group is written.
    assert synced == (set() if mode == "never" else inodes)
    assert [e.event_type for e in await b.list_events()] == [f"e{i}" for i in range(6)]


async def test_reads_tolerate_partial_records_and_created_at(tmp_path: Path, impl: Any) -> None:
    p = tmp_path / "t.ndjson"
    p.with_name("t.ndjson.1").write_bytes(
        b'{"event_type": "old", "timestamp": 1, "kind": "event"}\n'  # 0.3.0 rotating layout
        b'{"kind":"event"}\n'
        b"junk\n"
    )
    p.write_bytes(b'{"kind":"event","timestamp":0,"created_at":50}\n{"kind":"event","timestamp":60}\n')
    b = RotatingFilePersistence(p, max_files=3, _ndjson=impl.ndjson)
    assert [e.timestamp for e in await b.list_events()] == [1, 0, 60]
    assert [e.timestamp for e in await b.list_events(since=40)] == [0, 60]


async def test_scan_reports_orphans_sorted_then_lines(tmp_path: Path, impl: Any) -> None:
    p = tmp_path / "s.ndjson"
    b = RotatingFilePersistence(p, max_files=3, _ndjson=impl.ndjson)
    await b.record_event(rec(1))
    p.with_name("s.ndjson.2").write_bytes(b'{"kind":"event","timestamp":0}\nbad\n{"x')
    for orphan in ("s.ndjson.7", "s.ndjson.compact.tmp", "s.ndjson.quarantine.1"):
        p.with_name(orphan).write_bytes(b"")
    (tmp_path / "unrelated.txt").write_bytes(b"")
    report = await b.scan()
    assert report.backend == "rotating"
    assert [(a.type, Path(a.path).name, a.detail) for a in report.anomalies] == [
        (T.ORPHANED_ROTATED_FILE, "s.ndjson.7", "Unexpected file in rotation set"),
        (T.ORPHANED_ROTATED_FILE, "s.ndjson.compact.tmp", "Unexpected file in rotation set"),
        (T.ORPHANED_ROTATED_FILE, "s.ndjson.quarantine.1", "Unexpected file in rotation set"),
        (T.CORRUPTED_LINE, "s.ndjson.2", "Invalid JSON at line 2"),
        (T.TRUNCATED_LINE, "s.ndjson.2", "Line 3 missing newline"),
    ]
    assert b.metrics.anomalies_detected == 5


async def test_repair_leaves_no_duplicates(tmp_path: Path, impl: Any) -> None:
    p = tmp_path / "d.ndjson"
    b = RotatingFilePersistence(p, max_bytes=LINE * 2 + 1, max_files=4, _ndjson=impl.ndjson)
    for i in range(8):
        await b.record_event(rec(i))
    assert sorted(os.listdir(tmp_path)) == ["d.ndjson", "d.ndjson.1", "d.ndjson.2", "d.ndjson.3"]
    with open(p.with_name("d.ndjson.2"), "ab") as f:
        f.write(b"garbage\n")
    report = await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files[0] == str(p)
    events = [e.event_type for e in await b.list_events()]
    assert events == sorted(set(events), key=lambda s: int(s[1:]))  # no duplicates, in order
    assert events[-1] == "e7"
    assert (await b.scan()).anomalies == ()
    # lines were kept byte for byte
    lines = b"".join(x.read_bytes() for x in sorted(tmp_path.iterdir()))
    assert b"garbage" not in lines


async def test_repair_with_few_survivors_deletes_stale_rotated_files(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "s.ndjson"
    p.with_name("s.ndjson.2").write_bytes(b'{"kind":"event","timestamp":1}\n')
    p.with_name("s.ndjson.1").write_bytes(b"junk\n")
    p.write_bytes(b'{"kind":"event","timestamp":2}\n')
    b = RotatingFilePersistence(p, max_files=3, _ndjson=impl.ndjson)
    report = await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files == (str(p),)
    assert sorted(os.listdir(tmp_path)) == ["s.ndjson"]
    assert [e.timestamp for e in await b.list_events()] == [1, 2]


async def test_quarantine_moves_every_set_file_and_leaves_orphans(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "q.ndjson"
    p.with_name("q.ndjson.1").write_bytes(b'{"kind":"event","timestamp":1}\nbad\n')
    p.write_bytes(b'{"kind":"event","timestamp":2}\n')
    p.with_name("q.ndjson.9").write_bytes(b"")
    qdir = tmp_path / "quarantine"
    b = RotatingFilePersistence(p, max_files=3, _ndjson=impl.ndjson)
    config = PersistenceRecoveryConfig(PersistenceRecoveryMode.QUARANTINE, str(qdir))
    report = await b.recover(config)
    moved = [Path(q).name.rsplit(".", 2)[0] for q in report.quarantined_files]
    assert moved == ["q.ndjson.1", "q.ndjson"]
    assert p.with_name("q.ndjson.9").exists()
    assert [e.timestamp for e in await b.list_events()] == [1, 2]


async def test_recover_with_nothing_left_writes_an_empty_active_file(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "e.ndjson"
    p.write_bytes(b"junk\n")
    b = RotatingFilePersistence(p, _ndjson=impl.ndjson)
    report = await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files == (str(p),) and p.read_bytes() == b""


async def test_compact_rechunks_and_applies_retention(tmp_path: Path, impl: Any) -> None:
    p = tmp_path / "c.ndjson"
    b = RotatingFilePersistence(
        p,
        max_bytes=LINE * 2 + 1,
        max_files=5,
        retention_policy=RetentionPolicy(max_records=3),
        _ndjson=impl.ndjson,
    )
    for i in range(8):
        await b.record_event(rec(i))
    with open(p, "ab") as f:
        f.write(b"junk\n")
    report = await b.compact()
    assert (report.backend, report.before_records, report.after_records) == ("rotating", 8, 3)
    assert report.after_bytes == sum(x.stat().st_size for x in tmp_path.iterdir())
    assert sorted(os.listdir(tmp_path)) == ["c.ndjson", "c.ndjson.1"]
    assert [e.event_type for e in await b.list_events()] == ["e5", "e6", "e7"]
    await b.record_event(rec(8))
    b2 = RotatingFilePersistence(
        p, retention_policy=RetentionPolicy(max_records=0), _ndjson=impl.ndjson
    )
    await b2.compact()
    assert os.listdir(tmp_path) == []


def wide(i: int) -> dict[str, object]:
    """Records whose lines all have the same length, ``W``."""
    return {"event_type": f"e{i:04d}", "timestamp": 1000.0 + i}


def wide_line(i: int) -> bytes:
    return _serial.encode_line(record_to_dict("event", coerce("event", wide(i))))


W = len(wide_line(0))


def files_of(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir())}


async def fill(b: RotatingFilePersistence, n: int) -> list[str]:
    """Write ``n`` records as one group; return their event types."""
    for i in range(n):
        b.record_nowait("event", wide(i))
    await b.flush()
    return [f"e{i:04d}" for i in range(n)]


async def test_compact_keeps_every_record_the_oldest_file_taking_the_overflow(
    tmp_path: Path, impl: Any
) -> None:
    # 300 records, 3 files of 10 lines: 0.3.0 kept the newest 90 and reported 300 kept.
    p = tmp_path / "o.ndjson"
    b = RotatingFilePersistence(p, max_bytes=W * 10, max_files=3, _ndjson=impl.ndjson)
    written = await fill(b, 300)
    before = sum(files_of(tmp_path).values())
    report = await b.compact()
    assert [e.event_type for e in await b.list_events()] == written
    sizes = files_of(tmp_path)
    assert sizes == {"o.ndjson": W * 10, "o.ndjson.1": W * 10, "o.ndjson.2": W * 280}
    assert (report.before_records, report.after_records, report.removed_records) == (300, 300, 0)
    assert (report.before_bytes, report.after_bytes) == (before, sum(sizes.values()))
    assert report.overflow_dropped == 0


async def test_drop_overflow_bounds_the_set_and_reports_what_it_dropped(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "o.ndjson"
    b = RotatingFilePersistence(
        p,
        max_bytes=W * 10,
        max_files=3,
        retention_policy=RetentionPolicy(max_records=255),
        drop_overflow=True,
        _ndjson=impl.ndjson,
    )
    assert b.drop_overflow
    written = await fill(b, 300)
    report = await b.compact()
    # The 255 survivors of retention are cut 10, 10, ..., 10, 5 (oldest first): the newest
    # three chunks hold 25 of them.
    assert files_of(tmp_path) == {"o.ndjson": W * 5, "o.ndjson.1": W * 10, "o.ndjson.2": W * 10}
    assert [e.event_type for e in await b.list_events()] == written[-25:]
    # Retention removed 45, the overflow 230: both in removed_records, counted apart.
    assert (report.after_records, report.overflow_dropped, report.removed_records) == (
        25,
        230,
        275,
    )
    assert report.after_bytes == W * 25


async def test_a_single_file_set_keeps_everything_in_it_when_compacted(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "one.ndjson"
    b = RotatingFilePersistence(p, max_bytes=W * 2, max_files=1, _ndjson=impl.ndjson)
    p.write_bytes(b"".join(wide_line(i) for i in range(7)))
    report = await b.compact()
    assert (report.after_records, report.overflow_dropped) == (7, 0)
    assert files_of(tmp_path) == {"one.ndjson": W * 7}
    assert [e.event_type for e in await b.list_events()] == [f"e{i:04d}" for i in range(7)]


@pytest.mark.parametrize("drop_overflow", [False, True])
async def test_recovery_keeps_the_overflow_unless_told_to_drop_it(
    tmp_path: Path, impl: Any, drop_overflow: bool
) -> None:
    p = tmp_path / "r.ndjson"
    b = RotatingFilePersistence(
        p, max_bytes=W * 10, max_files=3, drop_overflow=drop_overflow, _ndjson=impl.ndjson
    )
    written = await fill(b, 100)
    with open(p.with_name("r.ndjson.1"), "ab") as f:
        f.write(b"junk\n")
    report = await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files == (str(p), str(p) + ".1", str(p) + ".2")
    kept = 30 if drop_overflow else 100
    assert [e.event_type for e in await b.list_events()] == written[-kept:]
    assert report.overflow_dropped == 100 - kept
    assert files_of(tmp_path)["r.ndjson.2"] == W * (kept - 20)
    assert (await b.scan()).anomalies == ()


async def test_clear_removes_the_set(tmp_path: Path) -> None:
    p = tmp_path / "x.ndjson"
    b = RotatingFilePersistence(p, max_bytes=LINE, max_files=3)
    for i in range(3):
        await b.record_event(rec(i))
    await b.clear()
    assert os.listdir(tmp_path) == []
    await b.record_event(rec(9))
    assert [e.event_type for e in await b.list_events()] == ["e9"]


async def test_files_lists_every_slot_in_read_order_without_io(tmp_path: Path) -> None:
    p = tmp_path / "d" / "r.ndjson"
    b = RotatingFilePersistence(p, max_bytes=LINE + 5, max_files=3)
    expected = [p.with_name("r.ndjson.2"), p.with_name("r.ndjson.1"), p]
    assert b.files() == expected
    assert not p.parent.exists()  # read-only: nothing created
    for i in range(2):
        await b.record_event(rec(i))
    assert b.files() == expected  # ".2" still missing, still listed
    assert RotatingFilePersistence(p, max_files=1).files() == [p]
    await b.aclose()


async def test_the_twin_passed_in_scans_reads_and_rewrites_the_set(
    tmp_path: Path, impl: Any
) -> None:
    p = tmp_path / "t.ndjson"
    twin = SpyTwin(impl.ndjson)
    b = RotatingFilePersistence(p, max_bytes=LINE * 2 + 1, max_files=4, _ndjson=twin)
    for i in range(6):
        await b.record_event(rec(i))
    assert twin.take() == {"encode_fields"}  # dicts go straight to their lines
    with open(p.with_name("t.ndjson.1"), "ab") as f:
        f.write(b"junk\n")
    assert len((await b.scan()).anomalies) == 1
    assert twin.take() >= {"scan_lines", "invalid_lines"}
    assert [e.event_type for e in await b.list_events(since=4)] == ["e4", "e5"]
    assert twin.take() == {"scan_lines"}
    await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    assert twin.take() >= {"scan_lines", "line_ends"}  # scan, plan, then chunk
    assert (await b.compact()).after_records == 6
    assert twin.take() >= {"count_lines", "line_ends"}
    await b.aclose()

"""What a killed compaction or recovery leaves, and who cleans it up (and who must not).

The files are laid out by hand, as a SIGKILL at a given step leaves them (the states are
listed in ``papyra.persistence._file.rewrite``; ``test_crash.py`` produces them with real
killed processes at every step).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence._file.append import lock_file, unlock_file
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.startup import StartupStatus, run_startup_check

pytestmark = pytest.mark.anyio


def line(i: int) -> bytes:
    return b'{"kind":"event","timestamp":%d,"event_type":"e%d"}\n' % (i, i)


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))



async def types(backend: Any) -> list[str]:
    return [e.event_type for e in await backend.list_events()]


# -- the rotating backend ---------------------------------------------------------------------


def killed_before_install(d: Path) -> Path:
    """Old set r, r.1, r.2 (e0..e5) plus the chunk files of a compaction killed while it was
    writing them (step 1): the old set is whole, the chunks are garbage."""
    (d / "r.ndjson.2").write_bytes(line(0) + line(1))
    (d / "r.ndjson.1").write_bytes(line(2) + line(3))
    (d / "r.ndjson").write_bytes(line(4) + line(5))
    (d / "r.ndjson.compact.tmp.1").write_bytes(line(4))
    (d / "r.ndjson.compact.tmp.2").write_bytes(line(5)[:7])  # partly written
    return d / "r.ndjson"


def killed_while_installing(d: Path) -> Path:
    """A recovery rebuilding the old set (e0 junk | e1 e2 e3 | e4 e5) as r.1 (e0-e2) and r
    (e3-e5), killed in step 5: r is installed, r.1's new content is still staged, the old r.1
    and r.2 are still there."""
    (d / "r.ndjson.2").write_bytes(line(0) + b"junk\n")
    (d / "r.ndjson.1").write_bytes(line(1) + line(2) + line(3))
    (d / "r.ndjson").write_bytes(line(3) + line(4) + line(5))  # installed
    (d / "r.ndjson.1.recovered.tmp").write_bytes(line(0) + line(1) + line(2))
    return d / "r.ndjson"


def rotating(path: Path, **kw: Any) -> RotatingFilePersistence:
    return RotatingFilePersistence(path, max_bytes=3 * len(line(0)), max_files=3, **kw)


async def test_a_kill_before_the_set_changed_is_undone(tmp_path: Path) -> None:
    b = rotating(killed_before_install(tmp_path))
    handled = await b.clean_up_rewrites()
    assert sorted(Path(p).name for p in handled) == [
        "r.ndjson.compact.tmp.1",
        "r.ndjson.compact.tmp.2",
    ]
    assert names(tmp_path) == ["r.ndjson", "r.ndjson.1", "r.ndjson.2"]
    assert await types(b) == [f"e{i}" for i in range(6)]
    assert await b.clean_up_rewrites() == ()  # nothing left to do


async def test_a_kill_during_the_install_is_finished(tmp_path: Path) -> None:
    b = rotating(killed_while_installing(tmp_path))
    assert await types(b) == ["e0", "e1", "e2", "e3", "e3", "e4", "e5"]  # meanwhile
    assert [Path(p).name for p in await b.clean_up_rewrites()] == ["r.ndjson.1.recovered.tmp"]
    # The staged file took its slot and the old r.2, beyond the new set, is gone.
    assert names(tmp_path) == ["r.ndjson", "r.ndjson.1"]
    assert await types(b) == [f"e{i}" for i in range(6)]
    assert (await b.scan()).anomalies == ()


@pytest.mark.parametrize("operation", ["compact", "recover", "startup"])
async def test_compaction_recovery_and_the_startup_check_clean_up_first(
    tmp_path: Path, operation: str
) -> None:
    b = rotating(killed_while_installing(tmp_path))
    if operation == "compact":
        report = await b.compact()
        assert (report.before_records, report.after_records) == (6, 6)  # no duplicate counted
    elif operation == "recover":
        report = await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
        # The scan before the recovery saw the staged file; the rebuild started from the
        # finished set.
        assert [a.type for a in report.scan.anomalies] == [
            PersistenceAnomalyType.ORPHANED_ROTATED_FILE,
            PersistenceAnomalyType.CORRUPTED_LINE,
        ]
    else:
        # Without the clean-up this scan would find the staged file (an orphan) and the junk.
        outcome = await run_startup_check(b, "fail_on_anomaly")
        assert outcome.status is StartupStatus.HEALTHY
    assert names(tmp_path) == ["r.ndjson", "r.ndjson.1"]
    assert await types(b) == [f"e{i}" for i in range(6)]


async def test_a_recovery_in_ignore_mode_changes_nothing(tmp_path: Path) -> None:
    b = rotating(killed_before_install(tmp_path))
    before = names(tmp_path)
    report = await b.recover()  # IGNORE: report only
    assert len(report.scan.anomalies) == 2 and names(tmp_path) == before


@pytest.fixture
def rewrite_in_another_process(tmp_path: Path) -> Iterator[None]:
    """The directory's rewrite lock, held as another process's compaction would hold it."""
    fd = os.open(tmp_path, os.O_RDONLY)
    lock_file(fd, exclusive=True)
    try:
        yield
    finally:
        unlock_file(fd)
        os.close(fd)


async def test_temp_files_of_a_rewrite_in_progress_are_left_alone(
    tmp_path: Path, rewrite_in_another_process: None
) -> None:
    b = rotating(killed_before_install(tmp_path))
    before = names(tmp_path)
    assert await b.clean_up_rewrites() == ()
    outcome = await run_startup_check(b, "scan_only")
    assert outcome.status is StartupStatus.IGNORED  # the live temp files are orphans for now
    assert names(tmp_path) == before


async def test_only_the_backends_own_temp_files_are_touched(tmp_path: Path) -> None:
    path = killed_before_install(tmp_path)
    foreign = [
        "other.ndjson.compact.tmp",  # another backend in the same directory
        "r.ndjson.compact.tmp.x",  # not a chunk name
        "r.ndjson.7",  # an orphan, but not a temp file (kept, as documented)
        "r.ndjson.quarantine.123",  # a quarantine copy: the operator's
        "r.ndjson.9.compact.tmp",  # a slot this set (max_files=3) does not have
    ]
    for name in foreign:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "r.ndjson.1.quarantine.123.tmp").write_bytes(line(2))  # an interrupted copy
    await rotating(path).clean_up_rewrites()
    assert names(tmp_path) == sorted([*foreign, "r.ndjson", "r.ndjson.1", "r.ndjson.2"])


# -- the JSON backend -------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["compact", "recover", "startup"])
async def test_json_temp_files_are_deleted_never_installed(tmp_path: Path, operation: str) -> None:
    path = tmp_path / "j.ndjson"
    path.write_bytes(line(0) + line(1))
    # A compaction killed while copying (its temp file is partial), and a recovery killed
    # before its rename, copying the original into the quarantine directory.
    (tmp_path / "j.ndjson.compact.tmp").write_bytes(line(1)[:9])
    (tmp_path / "j.ndjson.recovered.tmp").write_bytes(line(1))
    (tmp_path / "j.ndjson.quarantine.1700000000000.tmp").write_bytes(line(0))
    b = JsonFilePersistence(path)
    if operation == "compact":
        await b.compact()
    elif operation == "recover":
        await b.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
    else:
        await run_startup_check(b, "ignore")
    assert names(tmp_path) == ["j.ndjson"]
    assert await types(b) == ["e0", "e1"]

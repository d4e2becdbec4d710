"""FileBackend.progress: bytes read by scan / recover / compact, reported per block."""

from __future__ import annotations

from pathlib import Path

import pytest

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

pytestmark = pytest.mark.anyio

LINE = (
    b'{"kind":"event","system_id":"local","actor_address":"local:1","event_type":"E",'
    b'"payload":{},"timestamp":1.0}\n'
)


def _write_log(path: Path, lines: int, *, damage: bool) -> int:
    body = LINE * lines
    if damage:
        body += b'{"kind":"event"\n' + LINE
    path.write_bytes(body)
    return len(body)


@pytest.mark.parametrize("backend_type", [JsonFilePersistence, RotatingFilePersistence])
async def test_scan_reports_every_byte_once(tmp_path: Path, backend_type: type) -> None:
    path = tmp_path / "log.ndjson"
    size = _write_log(path, 60_000, damage=False)  # several read blocks
    backend = backend_type(path)
    calls: list[tuple[int, int]] = []
    backend.progress = lambda done, total: calls.append((done, total))
    await backend.scan()
    assert len(calls) > 1
    assert all(total == size for _, total in calls)
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and dones[-1] == size


async def test_repair_reads_twice_and_ignores_a_failing_callback(tmp_path: Path) -> None:
    path = tmp_path / "log.ndjson"
    size = _write_log(path, 30_000, damage=True)
    backend = JsonFilePersistence(path)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        raise RuntimeError("a broken progress bar must not break recovery")

    backend.progress = progress
    report = await backend.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files == (str(path),)
    assert calls[-1] == (2 * size, 2 * size)


async def test_no_progress_by_default(tmp_path: Path) -> None:
    path = tmp_path / "log.ndjson"
    _write_log(path, 10, damage=False)
    backend = JsonFilePersistence(path)
    assert backend.progress is None
    assert (await backend.compact()).after_records == 10

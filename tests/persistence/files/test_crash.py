"""Crash safety with real processes: SIGKILL mid-stream, and a compaction in another process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import orjson
import pytest

from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)

CHILD = Path(__file__).with_name("_child.py")
ROOT = Path(__file__).resolve().parents[3]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, env=env, cwd=str(ROOT)
    )


def ids_in(path: Path) -> set[int]:
    found = set()
    for line in path.read_bytes().split(b"\n"):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.add(value["payload"]["id"])
    return found


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "crash.ndjson"
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    for round_no in range(6):
        child = spawn("write", str(path), str(round_no * 1_000_000))
        assert child.stdout is not None
        wanted = rng.randint(50, 400)
        got = 0
        try:
            while got < wanted:
                line = child.stdout.readline()
                assert line, "writer exited early"
                acknowledged.add(int(line))
                got += 1
        finally:
            child.send_signal(signal.SIGKILL)
            # Acknowledgements already in the pipe were returned calls as well.
            rest = child.communicate()[0]
            acknowledged.update(int(x) for x in rest.split())
        backend = JsonFilePersistence(path)
        report = anyio.run(backend.scan)
        # At most a truncated last line: never a corrupted line in the middle.
        assert all(a.type is PersistenceAnomalyType.TRUNCATED_LINE for a in report.anomalies)
        assert len(report.anomalies) <= 1
        assert acknowledged <= ids_in(path)
        if report.anomalies:
            anyio.run(backend.recover, PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
            assert acknowledged <= ids_in(path)


@pytest.mark.slow
def test_compaction_in_another_process_does_not_lose_our_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.ndjson"
    backend = JsonFilePersistence(path)
    total = 3000

    async def main() -> None:
        await backend.record_event({"payload": {"id": -1}, "timestamp": 0.0})
        child = spawn("compact", str(path), "40")
        try:
            for i in range(total):
                await backend.record_event({"payload": {"id": i}, "timestamp": float(i)})
                if i % 64 == 0:
                    await anyio.sleep(0.001)  # let the other process interleave, not a sync point
        finally:
            out, _ = await anyio.to_thread.run_sync(child.communicate)
        assert out.strip() == b"done"

    anyio.run(main)
    assert set(range(total)) | {-1} <= ids_in(path)
    assert len(anyio.run(backend.list_events)) == total + 1

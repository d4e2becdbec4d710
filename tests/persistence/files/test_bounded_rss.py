"""Bounded memory: scan / recover / compact / list of a 1,000,000-line log stay < 64 MB extra.

Each operation runs in a fresh child process, which reports its own peak RSS (``ru_maxrss``)
before and after: the honest measure of what the operation needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("_child.py")
ROOT = Path(__file__).resolve().parents[3]
LIMIT_KIB = 64 * 1024

pytestmark = pytest.mark.slow


def measure(path: Path, op: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, str(CHILD), "measure", str(path), op],
        env=env, check=True, capture_output=True, timeout=110,
    ).stdout.split()
    baseline, peak = int(out[0]), int(out[1])
    return peak - baseline, out[2].decode()


@pytest.mark.parametrize("op", ["scan", "list"])
def test_read_only_operations(big_log: Path, op: str) -> None:
    size = big_log.stat().st_size
    assert size > 140_000_000
    extra, result = measure(big_log, op)
    assert extra < LIMIT_KIB, f"{op} used {extra} KiB above baseline"
    assert result == "10"  # list: 10 events; scan: 9 corrupted lines + the torn tail
    assert big_log.stat().st_size == size


@pytest.mark.parametrize("op", ["recover", "compact"])
def test_rewrites(big_log: Path, tmp_path: Path, op: str) -> None:
    copy = tmp_path / "copy.ndjson"
    shutil.copyfile(big_log, copy)
    extra, result = measure(copy, op)
    assert extra < LIMIT_KIB, f"{op} used {extra} KiB above baseline"
    assert result == ("1" if op == "recover" else "100000")
    with open(copy, "rb") as f:
        f.seek(-200, os.SEEK_END)
        assert f.read().endswith(b"\n")

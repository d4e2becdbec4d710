"""``make demo``'s second half: the quickstart demo runs end to end and checks itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .support import PAPYRA_BIN

DEMO = Path(__file__).resolve().parents[2] / "examples" / "quickstart_demo.py"


@pytest.mark.slow
@pytest.mark.skipif(PAPYRA_BIN is None, reason="console script not installed (pip install -e .)")
def test_quickstart_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PAPYRA_SETTINGS_MODULE"}
    proc = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for expected in (
        "$ papyra persistence inspect",
        "backend: JsonFilePersistence",
        "✖ - CORRUPTED_LINE: events.ndjson (Invalid JSON at line",
        "(exit code 1)",
        "start() refused: Persistence anomalies detected at startup",
        "ℹ Recovery successful",
        "ℹ Compaction completed",
        "Quickstart demo finished.",
    ):
        assert expected in out
    assert list(tmp_path.iterdir()) == []  # everything happened in its own temporary directory

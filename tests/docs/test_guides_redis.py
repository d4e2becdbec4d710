"""The Redis guide's example runs against a real redis-server and prints what the guide shows.

Skips without ``redis-server`` on PATH (fails instead under ``PAPYRA_REQUIRE_REDIS=1``), like
the other Redis tests (``tests/redis_server.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.docs.test_guides import _blocks
from tests.redis_server import shared_server

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "redis.md"
EXAMPLE = ROOT / "examples" / "guides" / "redis_facts.py"


def test_redis_guide_example_runs_and_prints_what_the_guide_shows() -> None:
    url = shared_server().url  # skips (or fails) when redis-server is missing
    page = GUIDE.read_text(encoding="utf-8")
    source = EXAMPLE.read_text(encoding="utf-8")
    assert source in _blocks(page, "python"), "redis.md does not quote redis_facts.py in full"
    outputs = _blocks(page, "text")
    assert len(outputs) == 1, "redis.md must have exactly one ```text block (the output)"

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPYRA_REDIS_URL": url}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE.relative_to(ROOT))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == outputs[0].splitlines()

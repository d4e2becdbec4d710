"""The web-services guide's example serves a real uvicorn and prints what the guide shows.

Same contract as ``test_guides.py``: the guide quotes the example's whole source in a ```python
block and its output in its one ```text block.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.docs.test_guides import ROOT, _blocks

GUIDE = "web-services.md"
EXAMPLE = "web_service.py"

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("opentelemetry.sdk")


def test_web_service_guide_example_runs_and_prints_what_the_guide_shows() -> None:
    page = (ROOT / "docs" / "guides" / GUIDE).read_text(encoding="utf-8")
    source = (ROOT / "examples" / "guides" / EXAMPLE).read_text(encoding="utf-8")
    assert source in _blocks(page, "python"), f"{GUIDE} does not quote {EXAMPLE} in full"
    outputs = _blocks(page, "text")
    assert len(outputs) == 1, f"{GUIDE} must have exactly one ```text block (the output)"

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, f"examples/guides/{EXAMPLE}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == outputs[0].splitlines()

"""Every guide's example runs, prints what the guide says it prints, and is quoted in full.

A guide in ``docs/guides/`` names its example in ``GUIDES``; the guide holds the example's
whole source in a ```python block and its expected output in the one ```text block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GUIDES = {
    "first-actor.md": "first_actor.py",
    "request-response.md": "request_response.py",
    "supervision.md": "supervision.py",
    "shutdown.md": "shutdown.py",
}

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(text: str, lang: str) -> list[str]:
    return [body for kind, body in _FENCE.findall(text) if kind == lang]


@pytest.mark.parametrize(("guide", "example"), sorted(GUIDES.items()))
def test_guide_example_runs_and_prints_what_the_guide_shows(guide: str, example: str) -> None:
    page = (ROOT / "docs" / "guides" / guide).read_text(encoding="utf-8")
    source = (ROOT / "examples" / "guides" / example).read_text(encoding="utf-8")
    assert source in _blocks(page, "python"), f"{guide} does not quote {example} in full"
    outputs = _blocks(page, "text")
    assert len(outputs) == 1, f"{guide} must have exactly one ```text block (the output)"

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, f"examples/guides/{example}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == outputs[0].splitlines()

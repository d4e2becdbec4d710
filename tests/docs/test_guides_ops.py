"""The runnable examples of the operations guides: each runs, and prints what its guide shows.

A guide quotes its example in a ```python block followed by a ```text block with the output.
The test checks that the quoted code is the example file and that the output is what it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GUIDES = [
    ("docs/guides/pipelines.md", "examples/guides/pipeline.py"),
    ("docs/guides/persistence-operations.md", "examples/guides/persistence_ops.py"),
]

_BLOCKS = re.compile(r"```python\n(.*?)```\n.*?```text\n(.*?)```", re.S)


def _quoted(guide: str) -> tuple[str, str]:
    """The code and the output quoted by ``guide`` for its example."""
    found = _BLOCKS.findall((ROOT / guide).read_text(encoding="utf-8"))
    examples = [(code, output) for code, output in found if "async def main" in code]
    assert len(examples) == 1, f"{guide}: expected one example followed by its output"
    return examples[0]


@pytest.mark.parametrize(("guide", "example"), GUIDES, ids=[e for _, e in GUIDES])
def test_example_runs_and_prints_what_the_guide_shows(guide: str, example: str) -> None:
    code, output = _quoted(guide)
    assert code == (ROOT / example).read_text(encoding="utf-8"), f"{guide} quotes an old {example}"

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, example],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == output

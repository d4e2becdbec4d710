"""A large NDJSON log for the memory tests and benchmarks (written once, streamed)."""

from __future__ import annotations

from pathlib import Path

import orjson

LINES = 1_000_000
CORRUPT_EVERY = 100_003  # a few damaged lines so that recovery has to rewrite


def write_big_log(path: Path, lines: int = LINES) -> Path:
    """``lines`` records of ~150 bytes (mixed kinds), a few corrupted lines, a torn tail."""
    kinds = ("event", "event", "event", "dead_letter", "audit")
    with open(path, "wb", buffering=4 * 1024 * 1024) as f:
        for i in range(lines):
            if i % CORRUPT_EVERY == CORRUPT_EVERY - 1:
                f.write(b'{"kind":"event","oops\n')
                continue
            f.write(
                orjson.dumps(
                    {
                        "kind": kinds[i % 5],
                        "system_id": "local",
                        "actor_address": f"local:{i % 977}",
                        "event_type": "ActorStarted",
                        "payload": {"n": i, "note": "x" * (i % 13)},
                        "timestamp": 1763800000.0 + i * 0.001,
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )
        f.write(b'{"kind":"event","tor')
    return path

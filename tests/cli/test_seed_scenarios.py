"""The seeds' operator steps, verbatim, against real files and the installed ``papyra`` script.

Quickstart: sections 2-6 (a system writing ``events.ndjson``) and 7 (a restart) run as scripts
in child processes; then section 8 (``papyra persistence inspect`` through
``PAPYRA_SETTINGS_MODULE``) and section 9 (corrupt with ``echo``, ``papyra doctor run``, repair)
run as shell commands, exactly as the quickstart prints them. Minimal example: section 3 writes
``./papyra.ndjson``, then ``papyra persistence compact --path ./papyra.ndjson``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .support import PAPYRA_BIN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PAPYRA_BIN is None, reason="console script not installed (pip install -e .)"
    ),
]

QUICKSTART_SYSTEM = '''
from papyra.system import ActorSystem
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.startup import (
    PersistenceStartupConfig,
    PersistenceStartupMode,
)

system = ActorSystem(
    persistence=JsonFilePersistence("events.ndjson"),
    persistence_startup=PersistenceStartupConfig(
        mode=PersistenceStartupMode.FAIL_ON_ANOMALY,
    ),
)
'''

QUICKSTART_ACTOR = '''
from papyra.actor import Actor

class Counter(Actor):
    async def on_start(self) -> None:
        self.total = 0

    async def receive(self, message: dict) -> None:
        if message["type"] == "increment":
            value = message.get("value", 1)
            self.total += value

            # This is NOT application state persistence
            # This records a system event
            await self.context.system.persistence.record_event({
                "system_id": "local",
                "actor_address": self.context.self_ref.address,
                "event_type": "counter.incremented",
                "payload": {"value": value, "total": self.total},
                "timestamp": self.context.system.clock.now(),
            })
'''

# Sections 3, 5 and 6 in order, inside one coroutine; the system is closed at the end.
QUICKSTART_RUN = '''
import anyio

async def main() -> None:
    await system.start()

    system.register("counter", Counter)
    await system.start()

    counter = system.actor("counter")

    await counter.send({"type": "increment", "value": 5})
    await counter.send({"type": "increment", "value": 2})

    await system.aclose()

anyio.run(main)
'''

# Section 7: a new process, the same configuration, start again.
QUICKSTART_RESTART = '''
import anyio

async def main() -> None:
    await system.start()
    print("restarted")
    await system.aclose()

anyio.run(main)
'''

QUICKSTART_SETTINGS = '''
from papyra.conf.global_settings import Settings
from papyra.persistence.json import JsonFilePersistence


class QuickstartSettings(Settings):
    persistence = JsonFilePersistence("events.ndjson")
'''


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PAPYRA_SETTINGS_MODULE"}
    assert PAPYRA_BIN is not None
    env["PATH"] = os.path.dirname(PAPYRA_BIN) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def python(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def shell(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one line exactly as an operator types it (``/bin/sh -c``)."""
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_quickstart_operator_steps(tmp_path: Path) -> None:
    (tmp_path / "quickstart_app.py").write_text(
        QUICKSTART_SYSTEM + QUICKSTART_ACTOR + QUICKSTART_RUN
    )
    (tmp_path / "quickstart_restart.py").write_text(QUICKSTART_SYSTEM + QUICKSTART_RESTART)
    (tmp_path / "quickstart_settings.py").write_text(QUICKSTART_SETTINGS)
    settings = {"PAPYRA_SETTINGS_MODULE": "quickstart_settings.QuickstartSettings"}
    log = tmp_path / "events.ndjson"

    # Sections 2-6: the actors write the file.
    proc = python(tmp_path / "quickstart_app.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = records(log)
    counter = [r for r in written if r["event_type"] == "counter.incremented"]
    assert [r["payload"] for r in counter] == [{"value": 5, "total": 5}, {"value": 2, "total": 7}]
    assert all(r["kind"] == "event" and r["actor_address"] == "local:1" for r in counter)
    assert {"ActorStarted", "ActorStopped"} <= {r["event_type"] for r in written}

    # Section 7: restart; the clean file passes the FAIL_ON_ANOMALY start-up check.
    proc = python(tmp_path / "quickstart_restart.py", tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "restarted\n"), proc.stderr
    written = records(log)

    # Section 8: papyra persistence inspect (settings.persistence is the file).
    proc = shell("papyra persistence inspect", tmp_path, **settings)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Persistence Inspect",
        "------------------",
        "backend: JsonFilePersistence",
        "retention: max_records=None max_age_seconds=None max_total_bytes=None",
        f"events_sampled: {len(written)}",
        "audits_sampled: 0",
        "dead_letters_sampled: 0",
    ]
    assert proc.stderr == ""

    # Section 9: simulate corruption.
    good_bytes = log.read_bytes()
    proc = shell("""echo '{"kind":"event"' >> events.ndjson""", tmp_path)
    assert proc.returncode == 0
    corrupt_bytes = log.read_bytes()
    assert corrupt_bytes == good_bytes + b'{"kind":"event"\n'
    bad_line = len(written) + 1

    proc = shell("papyra doctor run", tmp_path, **settings)
    assert proc.returncode == 1
    out = proc.stdout.splitlines()
    assert out[0].startswith("✖ Persistence anomalies detected: (PersistenceAnomaly(")
    assert out[1:] == [f"✖ - CORRUPTED_LINE: events.ndjson (Invalid JSON at line {bad_line})"]
    assert log.read_bytes() == corrupt_bytes

    # The acceptance sketch: scan says 2, and a new system refuses to start.
    proc = shell("papyra persistence scan", tmp_path, **settings)
    assert proc.returncode == 2 and "CORRUPTED_LINE" in proc.stdout
    proc = python(tmp_path / "quickstart_restart.py", tmp_path)
    assert proc.returncode != 0
    assert "Persistence anomalies detected at startup" in proc.stderr
    assert log.read_bytes() == corrupt_bytes

    # Recover explicitly.
    proc = shell("papyra doctor run --mode recover --recovery-mode repair", tmp_path, **settings)
    assert (proc.returncode, proc.stdout) == (0, "ℹ Recovery successful\n"), proc.stderr
    assert records(log) == written  # every earlier record intact, the bad line gone
    proc = shell("papyra doctor run", tmp_path, **settings)
    assert (proc.returncode, proc.stdout) == (0, "ℹ Persistence is healthy\n")

    # And compaction of the same file.
    proc = shell("papyra persistence compact --path events.ndjson", tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[:3] == [
        "ℹ Compaction completed",
        "ℹ   backend: json",
        f"ℹ   before_records: {len(written)}",
    ]
    assert records(log) == written


MINIMAL_EXAMPLE = '''
from __future__ import annotations
from dataclasses import dataclass
from papyra.actor import Actor


@dataclass(slots=True)
class Increment:
    by: int = 1


class Counter(Actor):
    def __init__(self) -> None:
        self.value = 0

    async def on_start(self) -> None:
        _ = self.context.system.system_id

    async def receive(self, message):
        if isinstance(message, Increment):
            self.value += message.by
            return self.value
        if message == "get":
            return self.value
        return None


import anyio

from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem


async def main() -> None:
    persistence = JsonFilePersistence("./papyra.ndjson")
    async with ActorSystem(persistence=persistence) as system:
        system.spawn(Counter, name="counter")


if __name__ == "__main__":
    anyio.run(main)
'''


def test_minimal_example_compact(tmp_path: Path) -> None:
    script = tmp_path / "minimal.py"
    script.write_text(textwrap.dedent(MINIMAL_EXAMPLE))
    proc = python(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "papyra.ndjson"
    before = records(log)
    assert before, "the system recorded its lifecycle events"
    size = log.stat().st_size

    proc = shell("papyra persistence compact --path ./papyra.ndjson", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "ℹ Compaction completed",
        "ℹ   backend: json",
        f"ℹ   before_records: {len(before)}",
        f"ℹ   after_records: {len(before)}",
        f"ℹ   before_bytes: {size}",
        f"ℹ   after_bytes: {size}",
    ]
    assert records(log) == before

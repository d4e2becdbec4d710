"""A JSON log: startup checks, recovery, compaction, the CLI (persistence-operations.md)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

from papyra import Actor, ActorSystem
from papyra.persistence import JsonFilePersistence
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.models import PersistenceRecoveryConfig
from papyra.persistence.startup import PersistenceStartupConfig


class Echo(Actor):
    async def receive(self, message):
        return message


def papyra_cli(*args: str, log: Path) -> None:
    """Run ``papyra <args>`` and print its output (masked) and exit code."""
    command = [sys.executable, "-m", "papyra", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    print(f"$ papyra {' '.join(args)}".replace(str(log), "events.ndjson"))
    output = done.stdout.replace(str(log), "events.ndjson").rstrip()
    print(re.sub(r"_bytes: \d+", "_bytes: <n>", output))  # sizes vary with the timestamps
    print("exit code", done.returncode)


async def run_once(log: Path, startup: PersistenceStartupConfig | None = None) -> None:
    """Start a system on the log, use one actor, close it (which writes the facts)."""
    system = ActorSystem(persistence=JsonFilePersistence(log), persistence_startup=startup)
    async with system:
        await system.spawn(Echo).ask("hello")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.ndjson"

        await run_once(log)
        events = await JsonFilePersistence(log).list_events()
        print("events:", [event.event_type for event in events])

        # A crash in the middle of a write leaves a torn last line.
        with log.open("a") as file:
            file.write('{"kind":"event","system_id":"loc')

        try:
            await run_once(log, PersistenceStartupConfig(mode="fail_on_anomaly"))
        except RuntimeError as exc:
            print("fail_on_anomaly:", str(exc).split(":")[0])

        papyra_cli("persistence", "scan", "--path", str(log), log=log)

        await run_once(
            log,
            PersistenceStartupConfig(
                mode="recover", recovery=PersistenceRecoveryConfig(mode="repair")
            ),
        )
        print("recover: started; the torn line was dropped")
        papyra_cli("persistence", "scan", "--path", str(log), log=log)

        # Retention: keep only the newest 3 records, physically, with compact().
        backend = JsonFilePersistence(log, RetentionPolicy(max_records=3))
        report = await backend.compact()
        print(f"compact: {report.before_records} -> {report.after_records} records")
        await backend.aclose()

        papyra_cli("persistence", "compact", "--path", str(log), "--max-records", "2", log=log)


if __name__ == "__main__":
    anyio.run(main)

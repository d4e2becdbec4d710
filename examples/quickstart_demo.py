"""The quickstart, end to end: actors write a JSON log, an operator inspects, breaks and repairs it.

Library steps run in this process; operator steps run the installed ``papyra`` console script
in a child process, exactly as the quickstart prints them. Everything happens in a temporary
directory, which is removed at the end. Run with ``make demo`` (after ``examples/demo.py``).

Exits non-zero if any step does not behave as the quickstart says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

from papyra import _accel
from papyra.actor import Actor
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import ActorSystem

SETTINGS = '''\
from papyra.conf.global_settings import Settings
from papyra.persistence.json import JsonFilePersistence


class QuickstartSettings(Settings):
    persistence = JsonFilePersistence("events.ndjson")
'''


class Counter(Actor):
    async def on_start(self) -> None:
        self.total = 0

    async def receive(self, message: dict) -> None:  # type: ignore[type-arg]
        if message["type"] == "increment":
            value = message.get("value", 1)
            self.total += value
            # A system fact, not a snapshot of the actor's state.
            await self.context.system.persistence.record_event({
                "system_id": "local",
                "actor_address": self.context.self_ref.address,
                "event_type": "counter.incremented",
                "payload": {"value": value, "total": self.total},
                "timestamp": self.context.system.clock.now(),
            })


def new_system() -> ActorSystem:
    return ActorSystem(
        persistence=JsonFilePersistence("events.ndjson"),
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.FAIL_ON_ANOMALY),
    )


def step(number: int, title: str) -> None:
    print(f"\n== {number}. {title}")


def find_papyra() -> str:
    beside = Path(sys.executable).with_name("papyra")
    found = str(beside) if beside.exists() else shutil.which("papyra")
    if found is None:
        sys.exit("The 'papyra' console script is not installed (pip install -e .).")
    return found


class Operator:
    """Runs ``papyra …`` lines in a child process and checks their exit codes."""

    def __init__(self, workdir: Path) -> None:
        self.papyra = find_papyra()
        self.env = dict(os.environ, PAPYRA_SETTINGS_MODULE="quickstart_settings.QuickstartSettings")
        self.workdir = workdir

    def run(self, line: str, expect: int) -> None:
        print(f"$ {line}")
        args = line.split()
        proc = subprocess.run(
            [self.papyra, *args[1:]], cwd=self.workdir, env=self.env, capture_output=True, text=True
        )
        for out in (proc.stdout, proc.stderr):
            if out:
                print(out, end="" if out.endswith("\n") else "\n")
        print(f"(exit code {proc.returncode})")
        if proc.returncode != expect:
            sys.exit(f"unexpected exit code {proc.returncode} for {line!r} (expected {expect})")


def show_log(path: Path) -> None:
    for line in path.read_text().splitlines():
        print(f"  {line}")


async def write_facts() -> None:
    system = new_system()
    await system.start()
    system.register("counter", Counter)
    await system.start()  # a no-op: already running
    counter = system.actor("counter")
    await counter.send({"type": "increment", "value": 5})
    await counter.send({"type": "increment", "value": 2})
    await system.aclose()


async def restart(expect_ok: bool) -> None:
    system = new_system()
    try:
        await system.start()
    except RuntimeError as exc:
        print(f"start() refused: {exc}")
        if expect_ok:
            raise
        return
    finally:
        await system.aclose()
    print("start() passed the FAIL_ON_ANOMALY check; actors start fresh")
    if not expect_ok:
        sys.exit("the corrupted log should have stopped the start-up")


async def main(workdir: Path) -> None:
    log = workdir / "events.ndjson"
    (workdir / "quickstart_settings.py").write_text(SETTINGS)
    operator = Operator(workdir)
    print(f"Quickstart demo in {workdir} ({_accel.IMPLEMENTATION}, compiled speedups active: "
          f"{_accel.EXTENSIONS_ACTIVE})")
    print("settings: PAPYRA_SETTINGS_MODULE=quickstart_settings.QuickstartSettings "
          "(persistence = JsonFilePersistence('events.ndjson'))")

    step(1, "start a system, register 'counter', send two increments, close (library)")
    await write_facts()
    show_log(log)

    step(2, "restart the system: state is not restored, only facts remain (library)")
    await restart(expect_ok=True)

    step(3, "inspect persistence (operator)")
    operator.run("papyra persistence inspect", expect=0)

    step(4, "simulate corruption")
    print("""$ echo '{"kind":"event"' >> events.ndjson""")
    async with await anyio.open_file(log, "a", encoding="utf-8") as f:
        await f.write('{"kind":"event"\n')

    step(5, "the doctor finds it (operator)")
    operator.run("papyra doctor run", expect=1)

    step(6, "and the system refuses to start on it (library)")
    await restart(expect_ok=False)

    step(7, "recover explicitly (operator)")
    operator.run("papyra doctor run --mode recover --recovery-mode repair", expect=0)
    operator.run("papyra doctor run", expect=0)

    step(8, "compact the log (operator)")
    operator.run("papyra persistence compact --path events.ndjson", expect=0)

    step(9, "every earlier record is intact (library)")
    backend = JsonFilePersistence("events.ndjson")
    for record in await backend.list_events():
        print(f"  {record.actor_address}  {record.event_type:<20} {dict(record.payload)}")
    await backend.aclose()
    await restart(expect_ok=True)


if __name__ == "__main__":
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="papyra-quickstart-") as tmp:
        os.chdir(tmp)
        try:
            anyio.run(main, Path(tmp))
        finally:
            os.chdir(home)
    print("\nQuickstart demo finished.")

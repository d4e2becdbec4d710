"""Guide: shutting down (docs/guides/shutdown.md)."""

from __future__ import annotations

import anyio

from papyra import Actor, ActorStopped, ActorSystem
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.system import STOP


class Printer(Actor):
    async def receive(self, message: str) -> None:
        await anyio.sleep(0.05)
        print(f"printed {message}")

    async def on_stop(self) -> None:
        print("printer stopped")


class Job(Actor):
    async def receive(self, message: str) -> None:
        print(f"job {message}")
        if message == "last":
            await self.context.stop_self()  # graceful: what is queued still runs


class Stuck(Actor):
    async def receive(self, message: str) -> None:
        await anyio.sleep_forever()


async def main() -> None:
    async with ActorSystem() as system:
        # Graceful: tell(STOP) is handled after the messages queued before it.
        printer = system.spawn(Printer)
        for name in ("a", "b"):
            await printer.tell(name)
        await printer.tell(STOP)
        try:
            await printer.tell("c")  # refused at once: a dead letter
        except ActorStopped:
            print("c refused")
        await system.join(printer)

        # Immediate: the message in progress ends, the backlog becomes dead letters.
        printer = system.spawn(Printer)
        for name in ("d", "e", "f"):
            await printer.tell(name)
        await anyio.sleep(0.01)  # "d" is in progress
        before = system.dead_letters.total
        await system.stop(printer, immediate=True, wait=True)
        print(f"dead letters: {system.dead_letters.total - before}")

        # From inside: stop_self() after "last"; "extra" was queued before it, so it runs.
        job = system.spawn(Job)
        await job.tell("last")
        await job.tell("extra")
        await system.join(job)
        print(f"job alive: {job.is_alive()}")

    # A deadline: shutdown_grace bounds how long aclose() waits for busy actors.
    system = ActorSystem(shutdown_grace=0.1, log_crashes=False)
    await system.start()
    stuck = system.spawn(Stuck)
    await stuck.tell("work")
    await anyio.sleep(0.01)
    with anyio.fail_after(5):
        await system.aclose()
    stopped = [e for e in system.events() if isinstance(e, ActorStoppedEvent)]
    print(f"stuck actor: {stopped[-1].reason}")


if __name__ == "__main__":
    anyio.run(main)

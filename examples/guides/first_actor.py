"""Guide: your first actor (docs/guides/first-actor.md)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from papyra import Actor, ActorSystem


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Total:
    pass


class Counter(Actor[Add | Total, int | None]):
    async def on_start(self) -> None:
        self.total = 0
        print("counter started")

    async def receive(self, message: Add | Total) -> int | None:
        if isinstance(message, Add):
            self.total += message.amount
            return None
        return self.total

    async def on_stop(self) -> None:
        print(f"counter stopped at {self.total}")


async def main() -> None:
    async with ActorSystem() as system:
        counter = system.spawn(Counter)
        await counter.tell(Add(2))  # returns once queued
        await counter.tell(Add(3))
        total = await counter.ask(Total())  # waits for the reply
        print(f"total: {total}")
    # Leaving the block closed the system: every actor was stopped gracefully.
    print(f"alive after close: {counter.is_alive()}")


if __name__ == "__main__":
    anyio.run(main)

"""Guide: request/response with deadlines (docs/guides/request-response.md)."""

from __future__ import annotations

import anyio

from papyra import Actor, ActorStopped, ActorSystem, AskTimeout


class Slow(Actor):
    """Replies to a number of seconds after sleeping that long."""

    async def on_start(self) -> None:
        self.handled: list[float] = []

    async def receive(self, message: float) -> str:
        await anyio.sleep(message)
        self.handled.append(message)
        return f"slept {message}"


class Picky(Actor):
    async def receive(self, message: str) -> str:
        if message != "ok":
            raise ValueError(f"cannot handle {message!r}")
        return "fine"


async def main() -> None:
    async with ActorSystem(log_crashes=False) as system:
        slow = system.spawn(Slow)

        # 1. A reply within the deadline.
        print(await slow.ask(0.01, timeout=1))

        # 2. A deadline that runs out: AskTimeout in the caller...
        try:
            await slow.ask(0.2, timeout=0.05)
        except AskTimeout as exc:
            print(f"AskTimeout: {exc}")
        # ...but the message was queued, so the actor still handles it; its reply is dropped.
        await slow.ask(0, timeout=1)  # queued after it: handled once it is done
        print(f"handled anyway: {await slow.proxy().handled}")

        # 3. An error raised by the handler reaches the caller, as the same exception.
        picky = system.spawn(Picky)
        try:
            await picky.ask("nope")
        except ValueError as exc:
            print(f"ValueError: {exc}")
        # Unnamed actors stop on failure by default, so the next ask is refused.
        try:
            await picky.ask("ok")
        except ActorStopped as exc:
            print(f"ActorStopped: {exc}")

        # 4. Asking an actor that was stopped.
        await system.stop(slow, wait=True)
        try:
            await slow.ask(0)
        except ActorStopped as exc:
            print(f"ActorStopped: {exc}")


if __name__ == "__main__":
    anyio.run(main)

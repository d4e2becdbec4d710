"""A two-stage pipeline with back-pressure and a watched stage (docs/guides/pipelines.md)."""

from __future__ import annotations

import anyio

from papyra import Actor, ActorSystem
from papyra.system import ActorTerminated


class Store(Actor):
    """The slow last stage: it holds each item until its gate opens."""

    def __init__(self, gate: anyio.Event) -> None:
        self.gate = gate
        self.items: list[int] = []

    async def receive(self, message: int) -> None:
        await self.gate.wait()
        if message < 0:
            raise ValueError(f"negative item {message}")
        self.items.append(message)


class Double(Actor):
    """The first stage: doubles each item and tells the next stage; watches it."""

    def __init__(self, store, store_gone: anyio.Event) -> None:
        self.store = store
        self.store_gone = store_gone

    async def on_start(self) -> None:
        await self.context.watch(self.store)

    async def receive(self, message) -> None:
        if isinstance(message, ActorTerminated):
            print("double: the store stage terminated")
            self.store_gone.set()
            return
        await self.store.tell(message * 2)


async def main() -> None:
    gate = anyio.Event()
    async with ActorSystem() as system:
        store = system.spawn(lambda: Store(gate), mailbox_capacity=2)
        store_gone = anyio.Event()
        double = system.spawn(lambda: Double(store, store_gone), mailbox_capacity=2)
        sent = 0

        async def produce() -> None:
            nonlocal sent
            for item in range(1, 11):
                await double.tell(item)
                sent = item

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            await anyio.sleep(0.2)
            print(f"producer: {sent} items sent, waiting for room")
            gate.set()
        print(f"producer: all {sent} items sent")

        await double.ask(0)  # returns once Double has passed on every item before it
        print("store:", await store.proxy().items)

        await double.tell(-1)  # the store fails on it and stops (unnamed actors stop)
        with anyio.fail_after(5):
            await store_gone.wait()
        print("store alive:", store.is_alive())


if __name__ == "__main__":
    anyio.run(main)

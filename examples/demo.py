"""Papyra demo: the minimal example, then a look at the facts the system recorded.

Run with ``make demo`` (which sets up the virtualenv first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from papyra import _accel
from papyra.actor import Actor
from papyra.system import ActorSystem


@dataclass(slots=True)
class Increment:
    by: int = 1


class Counter(Actor):
    def __init__(self) -> None:
        self.value = 0

    async def on_start(self) -> None:
        _ = self.context.system.system_id

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Increment):
            self.value += message.by
            return self.value
        if message == "get":
            return self.value
        return None


def step(title: str) -> None:
    print(f"\n== {title}")


async def main() -> None:
    print(f"Papyra demo ({_accel.IMPLEMENTATION} dispatch, compiled speedups active: "
          f"{_accel.EXTENSIONS_ACTIVE})")
    system = ActorSystem()
    async with system:
        step("spawn a Counter named 'counter', tell it Increment(), ask it 'get'")
        ref = system.spawn(Counter, name="counter")
        await ref.tell(Increment())
        value = await ref.ask("get")
        print("counter =", value)

        step("the control panel")
        for line in system.control_panel():
            print(line)

        step("an audit")
        for line in system.audit().summary_lines():
            print(line)
    step("after shutdown: lifecycle events kept in memory")
    for event in system.events():
        print(f"{type(event).__name__:<15} {event.address} {event.payload}")

    step("after shutdown: facts recorded by the (in-memory) persistence backend")
    for record in await system.persistence.list_events():
        print(f"event  {record.actor_address}  {record.event_type:<13} {record.payload}")
    for audit in await system.persistence.list_audits():
        print(f"audit  total={audit.total_actors} alive={audit.alive_actors}")


if __name__ == "__main__":
    anyio.run(main)

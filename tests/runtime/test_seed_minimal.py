"""The minimal example's first two snippets, verbatim, on asyncio and trio."""

from __future__ import annotations

import sys
import textwrap
import types
from typing import Any

import anyio
import pytest

SNIPPET_1 = textwrap.dedent(
    '''
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
            # `self.context` becomes available only after the actor is spawned.
            # You can inspect system metadata from here.
            _ = self.context.system.system_id
        async def receive(self, message):
            if isinstance(message, Increment):
                self.value += message.by
                return self.value
            if message == "get":
                return self.value
            return None
    '''
)

SNIPPET_2 = textwrap.dedent(
    '''
    import anyio
    from papyra.system import ActorSystem
    # from your_module import Counter, Increment
    async def main() -> None:
        # The system can be used as an async context manager.
        # It will start automatically on enter and close on exit.
        async with ActorSystem() as system:
            ref = system.spawn(Counter, name="counter")
            # Fire-and-forget (no result expected)
            # Depending on your ActorRef API, this is typically `tell(...)`.
            await ref.tell(Increment())
            # Request/reply (returns the value from `receive`)
            # Depending on your ActorRef API, this is typically `ask(...)`.
            value = await ref.ask("get")
            print("counter =", value)
    '''
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_minimal_example_runs_as_written(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = types.ModuleType("minimal_example")
    sys.modules[module.__name__] = module  # dataclass(slots=True) looks its module up
    try:
        exec(compile(SNIPPET_1 + SNIPPET_2, "minimal-example", "exec"), module.__dict__)
        anyio.run(module.main, backend=backend)
    finally:
        del sys.modules[module.__name__]
    assert capsys.readouterr().out == "counter = 1\n"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_context_is_unavailable_in_init_and_available_in_on_start(backend: str) -> None:
    from papyra.actor import Actor
    from papyra.system import ActorSystem

    seen: dict[str, Any] = {}

    class Probe(Actor):
        def __init__(self) -> None:
            try:
                self.context
            except RuntimeError as exc:
                seen["init"] = exc

        async def on_start(self) -> None:
            seen["system_id"] = self.context.system.system_id
            seen["address"] = str(self.context.self_ref.address)
            seen["persistence"] = self.context.system.persistence

        async def receive(self, message: Any) -> Any:
            return None

    async def main() -> None:
        async with ActorSystem() as system:
            ref = system.spawn(Probe, name="probe")
            await ref.ask("sync")
            seen["backend"] = system.persistence

    anyio.run(main, backend=backend)
    assert isinstance(seen["init"], RuntimeError)
    assert seen["system_id"] == "local" and seen["address"] == "local:1"
    assert seen["persistence"] is seen["backend"]
    assert type(seen["backend"]).__name__ == "InMemoryPersistence"

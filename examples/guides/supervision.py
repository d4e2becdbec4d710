"""Guide: supervision and restart budgets (docs/guides/supervision.md)."""

from __future__ import annotations

import anyio

from papyra import Actor, ActorStopped, ActorSystem, Strategy, SupervisionPolicy
from papyra.events import ActorRestarted
from papyra.hooks import DefaultHooks, RestartBudgetExhausted


class Flaky(Actor):
    instances = 0

    async def on_start(self) -> None:
        Flaky.instances += 1
        print(f"flaky instance {Flaky.instances} started")

    async def receive(self, message: str) -> str:
        if message == "fail":
            raise RuntimeError("boom")
        return f"instance {Flaky.instances} says {message}"


class Hooks(DefaultHooks):
    def on_restart_budget_exhausted(self, info: RestartBudgetExhausted) -> None:
        print(
            f"budget spent: {info.max_restarts} restarts within {info.within_seconds}s"
            f" ({info.error!r})"
        )


class Fragile(Actor):
    async def receive(self, message: str) -> None:
        raise RuntimeError("child failed")


class Manager(Actor):
    instances = 0

    async def on_start(self) -> None:
        Manager.instances += 1
        escalate = SupervisionPolicy(strategy=Strategy.ESCALATE)
        self.worker = self.context.spawn_child(Fragile, policy=escalate)

    async def receive(self, message: str) -> object:
        return self.worker


async def main() -> None:
    policy = SupervisionPolicy(
        strategy=Strategy.RESTART,
        max_restarts=2,
        within_seconds=60,
        backoff_min=0.05,  # first restart waits 0.05 s, the second 0.1 s
        backoff_factor=2.0,
    )
    async with ActorSystem(hooks=Hooks(), log_crashes=False) as system:
        # RESTART: a new instance after each failure, the same ref, the same mailbox.
        flaky = system.spawn(Flaky, name="flaky", policy=policy)
        for _ in range(2):
            try:
                await flaky.ask("fail")
            except RuntimeError as exc:
                print(f"caller got {exc!r}")
        print(await flaky.ask("hello"))  # waits out the backoff, then the new instance replies

        # The third failure within 60 s finds the budget spent: the hook, then a stop.
        try:
            await flaky.ask("fail")
        except RuntimeError as exc:
            print(f"caller got {exc!r}")
        print(f"flaky alive: {flaky.is_alive()}")

        # STOP: the default for unnamed actors.
        once = system.spawn(Flaky)
        try:
            await once.ask("fail")
        except RuntimeError:
            pass
        try:
            await once.ask("hello")
        except ActorStopped:
            print("unnamed actor stopped after its failure")

        # ESCALATE: the child stops and its parent fails with the same error; the manager is
        # named, so its default policy restarts it.
        manager = system.spawn(Manager, name="manager")
        worker = await manager.ask("worker?")
        mark = system.events_total
        try:
            await worker.ask("work")
        except RuntimeError as exc:
            print(f"caller got {exc!r}")
        await system.wait_for_event(ActorRestarted, start_index=mark)
        print(f"worker alive: {worker.is_alive()}, manager alive: {manager.is_alive()}")
        print(f"manager instances: {Manager.instances}")


if __name__ == "__main__":
    anyio.run(main)

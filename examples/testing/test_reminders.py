"""Testing actors with Papyra's pytest plugin: a timer and a supervisor.

Run with ``pytest examples/testing``. The fixtures ``papyra_kit``, ``papyra_system`` and
``papyra_clock`` come from Papyra's pytest plugin (installed with Papyra); the tests run on the
anyio backends that ``anyio_backend`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from papyra import Actor, ActorRef, Strategy, SupervisionPolicy
from papyra.events import ActorRestarted
from papyra.testing import TestKit

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the code under test ------------------------------------------------------------------------


@dataclass(frozen=True)
class Remind:
    text: str
    after: float  # seconds
    to: ActorRef


@dataclass(frozen=True)
class Cancel:
    text: str


class Reminders(Actor):
    """Sends each reminder's text to its recipient once its delay has passed."""

    def __init__(self) -> None:
        self.recipients: dict[str, ActorRef] = {}

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Remind):
            self.recipients[message.text] = message.to
            self.context.timers.start_single(message.text, ("due", message.text), message.after)
        elif isinstance(message, Cancel):
            self.context.timers.cancel(message.text)
        elif isinstance(message, tuple) and message[0] == "due":
            await self.recipients.pop(message[1]).tell(message[1])


class Flaky(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "fail":
            raise RuntimeError("flaky")
        return message


class Supervisor(Actor):
    """Runs one Flaky child, restarted after 10 s, at most 3 times a minute."""

    async def on_start(self) -> None:
        self.child = self.context.spawn_child(
            Flaky,
            policy=SupervisionPolicy(
                strategy=Strategy.RESTART, max_restarts=3, within_seconds=60,
                backoff_min=10, backoff_max=10,
            ),
        )

    async def receive(self, message: Any) -> Any:
        return self.child


# -- the tests ----------------------------------------------------------------------------------


async def test_a_reminder_arrives_after_its_delay(papyra_kit: TestKit) -> None:
    probe = papyra_kit.probe()
    reminders = papyra_kit.system.spawn(Reminders)
    await reminders.tell(Remind("stand up", after=600, to=probe.ref))

    await papyra_kit.clock.advance(599)  # ten minutes, in milliseconds
    await probe.expect_no_message()
    await papyra_kit.clock.advance(1)
    await probe.expect("stand up")


async def test_a_cancelled_reminder_never_arrives(papyra_kit: TestKit) -> None:
    probe = papyra_kit.probe()
    reminders = papyra_kit.system.spawn(Reminders)
    await reminders.tell(Remind("tea", after=60, to=probe.ref))
    await reminders.tell(Cancel("tea"))
    await papyra_kit.clock.advance(3600)
    await probe.expect_no_message()


async def test_the_supervisor_restarts_its_child_after_the_backoff(papyra_kit: TestKit) -> None:
    supervisor = papyra_kit.system.spawn(Supervisor)
    child = await supervisor.ask("child?")
    probe = papyra_kit.probe()

    await child.tell("fail")
    await papyra_kit.clock.advance(9)
    await papyra_kit.expect_no_event(ActorRestarted)  # still backing off
    await papyra_kit.clock.advance(1)
    restarted = await papyra_kit.expect_event(ActorRestarted)
    assert restarted.address == child.address.to_dict()
    assert await child.ask("still there?") == "still there?"

    # Three restarts a minute at most: the fourth failure within it stops the child.
    for _ in range(3):
        await child.tell("fail")
        await papyra_kit.clock.advance(10)
    await probe.expect_terminated(child)

"""The test kit (papyra.testing): probes, event and dead-letter expectations, deterministic time.

The kits here wrap systems made by ``make_system`` so that every test runs on both twins and
both backends; tests/testing/test_plugin.py covers the pytest fixtures.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from papyra._envelope import STOP, ActorTerminated
from papyra.actor import Actor
from papyra.clock import ManualClock
from papyra.events import ActorRestarted, ActorStarted
from papyra.exceptions import ActorStopped
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.testing import Probe, TestKit
from tests.conftest import MakeSystem

pytestmark = pytest.mark.anyio


async def make_kit(make_system: MakeSystem, **kwargs: Any) -> TestKit:
    clock = ManualClock()
    system = await make_system(clock=clock, **kwargs)
    return TestKit(system, clock=clock, within=2.0)


class Echo(Actor):
    """Forwards every message to ``to`` (a ref, in the message) with a tag."""

    async def receive(self, message: Any) -> Any:
        to, payload = message
        await to.tell(("echo", payload))
        return payload


async def test_a_probe_receives_what_is_sent_to_its_ref(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe("p")
    echo = kit.system.spawn(Echo)
    await echo.tell((probe.ref, 1))
    await echo.tell((probe.ref, 2))
    assert await probe.expect(("echo", 1)) == ("echo", 1)
    assert await probe.expect(tuple) == ("echo", 2)
    await echo.tell((probe.ref, 3))
    assert await probe.expect(lambda m: m[1] == 3) == ("echo", 3)
    await probe.expect_no_message()
    assert kit.system.list_names()["p"] == probe.ref.address


async def test_a_probe_answers_asks_with_its_reply_function(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe(reply=lambda m: m * 2)
    assert await probe.ref.ask(21) == 42
    assert await probe.receive() == 21
    silent = kit.probe()
    assert await silent.ref.ask("x") is None
    with pytest.raises(TypeError, match="reply must be a callable"):
        kit.probe(reply=5)  # type: ignore[arg-type]


async def test_a_wrong_message_fails_saying_what_was_expected_and_what_came(
    make_system: MakeSystem,
) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe("p")
    await probe.ref.tell("surprise")
    with pytest.raises(AssertionError) as info:
        await probe.expect(int)
    assert str(info.value) == "probe 'p': expected an instance of int; got 'surprise'."
    await probe.ref.tell(3)
    with pytest.raises(AssertionError, match="expected 4; got 3"):
        await probe.expect(4)


async def test_nothing_arriving_fails_at_the_deadline(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe()
    with pytest.raises(AssertionError) as info:
        await probe.expect("never", within=0.01)
    assert str(info.value) == "probe: expected 'never' within 0.01 s; no message arrived."
    with pytest.raises(ValueError, match="within"):
        await probe.receive(within=-1)


async def test_expect_no_message_sees_what_in_process_work_sends(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe()
    echo = kit.system.spawn(Echo)
    await echo.tell((probe.ref, "late"))  # not handled yet when tell returns
    with pytest.raises(AssertionError, match="expected no message; got \\('echo', 'late'\\)"):
        await probe.expect_no_message()
    assert probe.queued == (("echo", "late"),)


async def test_expect_terminated_watches_the_actor(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    probe = kit.probe()
    target = kit.system.spawn(Echo)
    await target.tell(STOP)
    notice = await probe.expect_terminated(target)
    assert isinstance(notice, ActorTerminated) and notice.ref == target
    # already terminated: the notice comes at once
    assert (await probe.expect_terminated(target)).ref == target
    other = kit.system.spawn(Echo)
    with pytest.raises(AssertionError, match="ActorTerminated of"):
        await probe.expect_terminated(other, within=0.01)


async def test_expect_event_takes_matching_events_in_order(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    first = kit.system.spawn(Echo)
    second = kit.system.spawn(Echo)
    one = await kit.expect_event(ActorStarted)
    two = await kit.expect_event(ActorStarted)
    started = [one.address["actor_id"], two.address["actor_id"]]
    assert sorted(started) == sorted([first.address.actor_id, second.address.actor_id])
    with pytest.raises(AssertionError) as info:
        await kit.expect_event(ActorRestarted, within=0.01)
    assert "expected an event: an instance of ActorRestarted within 0.01 s" in str(info.value)


async def test_expect_dead_letter(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    target = kit.system.spawn(Echo)
    await kit.system.stop(target, wait=True)
    with pytest.raises(ActorStopped):
        await target.tell("lost")
    with pytest.raises(ActorStopped):
        await target.tell("lost too")
    letter = await kit.expect_dead_letter("lost too", target=target)
    assert letter.message == "lost too"
    with pytest.raises(AssertionError, match="expected a dead letter: any message within"):
        await kit.expect_dead_letter(within=0.01)


async def test_expect_dead_letter_waits_for_one_to_come(make_system: MakeSystem) -> None:
    kit = await make_kit(make_system)
    target = kit.system.spawn(Echo)
    await kit.system.stop(target, wait=True)

    async def send_later() -> None:
        with pytest.raises(ActorStopped):
            await target.tell("later")

    async with anyio.create_task_group() as tg:
        waiter = tg.start_soon
        result: list[Any] = []

        async def expect() -> None:
            result.append(await kit.expect_dead_letter(str))

        waiter(expect)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(send_later)
    assert result[0].message == "later"


async def test_a_supervised_restart_with_backoff_runs_on_the_manual_clock(
    make_system: MakeSystem,
) -> None:
    kit = await make_kit(make_system)
    policy = SupervisionPolicy(strategy=Strategy.RESTART, backoff_min=30.0, backoff_max=30.0)

    class Fragile(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise RuntimeError("crash")
            return message

    ref = kit.system.spawn(Fragile, policy=policy)
    await ref.tell("crash")
    await kit.advance(29.0)
    with pytest.raises(AssertionError):
        await kit.expect_event(ActorRestarted, within=0.0)
    await kit.advance(1.0)
    await kit.expect_event(ActorRestarted)
    assert await ref.ask("alive") == "alive"


async def test_a_kit_without_a_clock_says_so(make_system: MakeSystem) -> None:
    system = await make_system()
    kit = TestKit(system)
    with pytest.raises(RuntimeError, match="no manual clock"):
        kit.clock
    with pytest.raises(TypeError, match="ManualClock"):
        TestKit(system, clock=object())  # type: ignore[arg-type]


async def test_start_makes_and_closes_a_system_on_a_manual_clock() -> None:
    async with TestKit.start(system_id="kit") as kit:
        assert kit.system.running and kit.system.system_id == "kit"
        assert kit.clock.now() == 0.0
        probe: Probe = kit.probe()
        await probe.ref.tell("hi")
        assert await probe.expect("hi") == "hi"
    assert not kit.system.running


async def test_expect_no_event_fails_on_a_match_and_consumes_nothing(
    make_system: MakeSystem,
) -> None:
    kit = await make_kit(make_system)
    await kit.expect_no_event(ActorStarted)
    ref = kit.system.spawn(Echo)
    with pytest.raises(AssertionError, match="expected no event: an instance of ActorStarted"):
        await kit.expect_no_event(ActorStarted)
    await kit.expect_no_event(ActorRestarted)
    started = await kit.expect_event(ActorStarted)
    assert started.address == ref.address.to_dict()
    await kit.expect_no_event(ActorStarted)

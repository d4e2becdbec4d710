"""Facts tell actors and runs apart, and audits count every dead letter.

* lifecycle events carry the actor's name and class (``actor_name`` / ``actor_type``), in
  memory and persisted, without changing their equality or ``payload``;
* ``system.run_id`` is a fresh id per start, persisted with every event, audit and dead letter;
* ``audit().dead_letters_total`` counts the dead letters ever recorded, beside the retained
  ``dead_letters_count``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

ADDRESS = {"system": "local", "actor_id": 1}


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


class Other(Echo):
    pass


async def stopped(system: ActorSystem, ref: Any) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


# -- actor name and class -------------------------------------------------------------------------


async def test_lifecycle_events_name_their_actor(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend)
    classes = iter([Echo, Other])
    named = system.spawn(lambda: next(classes)(), name="e")  # restarted as an Other
    unnamed = system.spawn(Echo)
    with pytest.raises(RuntimeError):
        await named.ask(RuntimeError("crash"))
    await system.aclose()

    identities = {
        (type(e).__name__, e.address["actor_id"], e.actor_name, e.actor_type)
        for e in system.events()
    }
    assert identities == {
        ("ActorStarted", named._rid, "e", "Echo"),
        ("ActorCrashed", named._rid, "e", "Echo"),
        ("ActorRestarted", named._rid, "e", "Other"),
        ("ActorStopped", named._rid, "e", "Other"),
        ("ActorStarted", unnamed._rid, None, "Echo"),
        ("ActorStopped", unnamed._rid, None, "Echo"),
    }
    persisted = {
        (e.event_type, e.actor_address, e.actor_name, e.actor_type) for e in backend.events
    }
    assert persisted == {
        (kind, f"local:{rid}", name, actor_type) for kind, rid, name, actor_type in identities
    }


def test_identity_takes_no_part_in_equality_or_payload() -> None:
    plain = ActorStarted(address=ADDRESS)
    named = ActorStarted(address=ADDRESS, actor_name="e", actor_type="Echo")
    assert named == plain
    assert named.payload == {}
    assert (named.actor_name, named.actor_type) == ("e", "Echo")
    assert (plain.actor_name, plain.actor_type) == (None, None)
    stopped_event = ActorStoppedEvent(ADDRESS, "stopped", actor_name="e", actor_type="Echo")
    assert stopped_event.payload == {"reason": "stopped"}
    assert ActorRestarted(ADDRESS, "r", actor_type="X") == ActorRestarted(ADDRESS, "r")
    error = ValueError("v")
    crashed = ActorCrashed(ADDRESS, error, "ValueError: v", actor_name="e")
    assert crashed.payload == {
        "error": "ValueError: v",
        "reason": "ValueError: v",
        "error_type": "ValueError",
        "error_message": "v",
        "error_traceback": "",
    }


# -- run id ---------------------------------------------------------------------------------------


async def test_each_start_gets_a_fresh_run_id(make_system: Any) -> None:
    first = await make_system(start=False)
    assert first.run_id is None
    await first.start()
    run_id = first.run_id
    assert run_id is not None and re.fullmatch(r"[0-9a-f]{32}", run_id)
    await first.start()  # idempotent: the same run
    assert first.run_id == run_id
    await first.aclose()
    assert first.run_id == run_id  # still names the run its facts belong to

    second = await make_system()
    assert second.run_id is not None and second.run_id != run_id


async def test_every_persisted_fact_carries_the_run_id(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend)
    ref = system.spawn(Echo)
    await system.stop(ref)
    with pytest.raises(ActorStopped):
        await ref.tell("late")
    system.audit()
    await system.aclose()

    records = [*backend.events, *backend.audits, *backend.dead_letters]
    assert len(records) == 4
    assert {r.run_id for r in records} == {system.run_id}


async def test_two_runs_in_one_log_can_be_told_apart(tmp_path: Path, impl: Any) -> None:
    path = tmp_path / "facts.ndjson"
    run_ids = []
    for _ in range(2):
        async with ActorSystem(
            persistence=JsonFilePersistence(path), _dispatch=impl.dispatch
        ) as system:
            system.spawn(Echo, name="e")
            run_ids.append(system.run_id)

    events = await JsonFilePersistence(path).list_events()
    assert [(e.event_type, e.actor_address, e.actor_name) for e in events] == [
        ("ActorStarted", "local:1", "e"),
        ("ActorStopped", "local:1", "e"),
    ] * 2
    assert [e.run_id for e in events] == [run_ids[0]] * 2 + [run_ids[1]] * 2
    assert run_ids[0] != run_ids[1]


# -- dead letters ever recorded -------------------------------------------------------------------


async def test_audit_counts_dead_letters_ever_recorded(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, max_dead_letters=2)
    ref = system.spawn(Echo)
    await system.stop(ref)
    await stopped(system, ref)
    for i in range(5):
        with pytest.raises(ActorStopped):
            await ref.tell(i)

    report = system.audit()

    assert report.dead_letters_count == 2  # retained
    assert report.dead_letters_total == 5  # ever recorded
    assert system.dead_letters.total == 5
    await anyio.wait_all_tasks_blocked()
    [audit] = backend.audits
    assert (audit.dead_letters_count, audit.dead_letters_total) == (2, 5)
    assert report.summary_lines()[-1] == "dead_letters=2"  # the 0.3.0 text is unchanged

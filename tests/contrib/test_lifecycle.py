"""``papyra_lifecycle`` and the helpers' ``lifespan()`` on a real system (spec §4, §5 lifespan).

The log is a real ``JsonFilePersistence`` file: "facts flushed" is checked by reading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from papyra.actor import Actor
from papyra.contrib.asgi import PapyraASGIConfig, papyra_lifecycle
from papyra.contrib.asgi.lifecycle import papyra_lifecycle as correctly_spelled
from papyra.contrib.asgi.lifesycle import papyra_lifecycle as kept_spelling
from papyra.contrib.starlette import StarlettePapyra
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import ActorSystem
from tests.contrib.support import CORRUPT_LINE, GOOD_LINE, events_of, write_damaged_log

pytestmark = pytest.mark.anyio

REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
FAIL = PersistenceStartupConfig(mode=PersistenceStartupMode.FAIL_ON_ANOMALY)


class Echo(Actor):
    async def receive(self, message: object) -> object:
        return message


def factory(log: Path, made: list[ActorSystem] | None = None) -> Any:
    def make() -> ActorSystem:
        system = ActorSystem(persistence=JsonFilePersistence(log))
        if made is not None:
            made.append(system)
        return system

    return make


def test_both_module_spellings_are_the_same_function() -> None:
    assert kept_spelling is correctly_spelled is papyra_lifecycle


async def test_starts_yields_and_closes_with_facts_flushed(tmp_path: Path) -> None:
    log = tmp_path / "facts.ndjson"
    async with papyra_lifecycle(factory(log)) as system:
        assert system.running
        ref = system.spawn(Echo, name="echo")
        assert await ref.ask("hi") == "hi"

    assert not system.running
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


async def test_recovery_runs_before_start(tmp_path: Path) -> None:
    log = write_damaged_log(tmp_path / "facts.ndjson")
    async with papyra_lifecycle(factory(log), persistence_recovery=REPAIR) as system:
        assert (await system.persistence.scan()).anomalies == ()
    assert log.read_bytes().startswith(GOOD_LINE)
    assert CORRUPT_LINE not in log.read_bytes()


async def test_startup_config_is_applied_and_start_errors_propagate(tmp_path: Path) -> None:
    log = write_damaged_log(tmp_path / "facts.ndjson")
    made: list[ActorSystem] = []

    async def run() -> None:
        async with papyra_lifecycle(factory(log, made), persistence_startup=FAIL):
            pytest.fail("the body must not run when start() fails")

    with pytest.raises(RuntimeError, match="Persistence anomalies detected at startup"):
        await run()
    assert made[0].persistence_startup is FAIL
    assert not made[0].running


async def test_errors_of_the_preparation_and_of_aclose_are_swallowed(tmp_path: Path) -> None:
    log = tmp_path / "facts.ndjson"

    class Backend(JsonFilePersistence):
        async def recover(self, config: Any = None) -> Any:
            raise OSError("recovery exploded")

    class Fussy(ActorSystem):
        async def aclose(self) -> None:
            await super().aclose()
            raise RuntimeError("aclose exploded")

    async with papyra_lifecycle(
        lambda: Fussy(persistence=Backend(log)), persistence_recovery=REPAIR
    ) as system:
        assert system.running
    assert not system.running


async def test_the_body_exception_propagates_and_the_system_is_closed(tmp_path: Path) -> None:
    log = tmp_path / "facts.ndjson"
    made: list[ActorSystem] = []

    async def run() -> None:
        async with papyra_lifecycle(factory(log, made)) as system:
            system.spawn(Echo, name="echo")
            raise LookupError("from the body")

    with pytest.raises(LookupError, match="from the body"):
        await run()
    assert not made[0].running
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


async def test_usable_under_deadlines_like_a_server_lifespan(tmp_path: Path) -> None:
    # Entered and left under different (short) cancel scopes, as a server's lifespan task does.
    log = tmp_path / "facts.ndjson"
    cm = papyra_lifecycle(factory(log))
    with anyio.fail_after(5):
        system = await cm.__aenter__()
    ref = system.spawn(Echo, name="echo")
    with anyio.fail_after(5):
        assert await ref.ask("still running") == "still running"
    with anyio.fail_after(5):
        await cm.__aexit__(None, None, None)
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


# -- the helpers' lifespan() -----------------------------------------------------------------


async def test_helper_lifespan_as_async_with_yields_the_system(tmp_path: Path) -> None:
    log = write_damaged_log(tmp_path / "facts.ndjson")
    integ = StarlettePapyra(factory(log), PapyraASGIConfig(persistence_recovery=REPAIR))
    async with integ.lifespan() as system:
        assert isinstance(system, ActorSystem)
        assert system.running
        system.spawn(Echo, name="echo")
    assert not system.running
    assert CORRUPT_LINE not in log.read_bytes()
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


async def test_helper_lifespan_is_awaitable_for_0_3_0_code(tmp_path: Path) -> None:
    integ = StarlettePapyra(factory(tmp_path / "facts.ndjson"))
    lifespan = integ.lifespan()
    assert await lifespan is lifespan
    async with lifespan as system:
        assert system.running
    with pytest.raises(RuntimeError, match="already entered"):
        await lifespan.__aenter__()


async def test_each_helper_lifespan_runs_a_new_system(tmp_path: Path) -> None:
    made: list[ActorSystem] = []
    integ = StarlettePapyra(factory(tmp_path / "facts.ndjson", made))
    async with integ.lifespan() as first:
        assert made == [first]
    # called by a framework (Ravyn passes app=None): state None, a new system all the same
    async with integ.lifespan()(None) as state:
        assert state is None
        assert made[1] is not first
        assert made[1].running
    assert not first.running and not made[1].running


async def test_helper_lifespan_called_with_an_app_stores_the_system_on_its_state(
    tmp_path: Path,
) -> None:
    from starlette.datastructures import State

    app = type("App", (), {"state": State()})()
    integ = StarlettePapyra(factory(tmp_path / "facts.ndjson"))
    async with integ.lifespan(app) as state:
        assert state is None  # frameworks accept a mapping or None as lifespan state
        assert app.state.papyra.running
    assert not app.state.papyra.running

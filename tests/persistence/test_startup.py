"""The persistence startup sequence inside ActorSystem.start() (persistence.md §10-§11)."""

from __future__ import annotations

from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

ANOMALY = PersistenceAnomaly(PersistenceAnomalyType.CORRUPTED_LINE, "log", "Invalid JSON at line 2")


class Damaged(InMemoryPersistence):
    """A backend whose scan finds one anomaly until a REPAIR recovery fixes it."""

    def __init__(self, *, repairable: bool = True) -> None:
        super().__init__()
        self.damaged = True
        self.repairable = repairable
        self.calls: list[Any] = []

    async def scan(self) -> PersistenceScanReport:
        self.calls.append("scan")
        return PersistenceScanReport("damaged", (ANOMALY,) if self.damaged else ())

    async def recover(self, config: Any = None) -> PersistenceRecoveryReport:
        self.calls.append(("recover", config))
        mode = config.mode if config is not None else PersistenceRecoveryMode.IGNORE
        if self.repairable and mode is not PersistenceRecoveryMode.IGNORE:
            self.damaged = False
        return PersistenceRecoveryReport("damaged", PersistenceScanReport("damaged", (ANOMALY,)))


class Hooks:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def on_persistence_scan(self, report: Any) -> None:
        self.seen.append(("scan", report))

    def on_persistence_recovery(self, report: Any) -> None:  # sync hooks work too
        self.seen.append(("recovery", report))


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def test_no_startup_config_means_no_scan() -> None:
    backend = Damaged()
    async with ActorSystem(persistence=backend):
        pass
    assert backend.calls == []


@pytest.mark.parametrize("mode", [PersistenceStartupMode.IGNORE, PersistenceStartupMode.SCAN_ONLY, "scan_only"])
async def test_ignore_and_scan_only_report_and_continue(mode: Any) -> None:
    backend, hooks = Damaged(), Hooks()
    system = ActorSystem(
        persistence=backend, hooks=hooks, persistence_startup=PersistenceStartupConfig(mode=mode)
    )
    async with system:
        assert await system.spawn(Echo).ask("up") == "up"
    assert backend.calls == ["scan"]
    assert [kind for kind, _ in hooks.seen] == ["scan"]
    assert hooks.seen[0][1].anomalies == (ANOMALY,)


async def test_fail_on_anomaly_refuses_to_start_and_closes_the_system() -> None:
    backend = Damaged()
    system = ActorSystem(
        persistence=backend,
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.FAIL_ON_ANOMALY),
    )
    with pytest.raises(RuntimeError, match="^Persistence anomalies detected at startup: "):
        await system.start()
    with pytest.raises(ActorStopped, match="ActorSystem is not running."):
        system.spawn(Echo)
    with pytest.raises(ActorStopped, match="ActorSystem is closed."):
        await system.start()


async def test_fail_on_anomaly_starts_when_clean() -> None:
    backend = Damaged()
    backend.damaged = False
    system = ActorSystem(
        persistence=backend,
        persistence_startup=PersistenceStartupConfig(mode="fail_on_anomaly"),
    )
    async with system:
        assert await system.spawn(Echo).ask(1) == 1


async def test_recover_repairs_then_rescans() -> None:
    backend, hooks = Damaged(), Hooks()
    repair = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
    system = ActorSystem(
        persistence=backend,
        hooks=hooks,
        persistence_startup=PersistenceStartupConfig(
            mode=PersistenceStartupMode.RECOVER, recovery=repair
        ),
    )
    async with system:
        system.spawn(Echo)
    assert backend.calls == ["scan", ("recover", repair), "scan"]
    assert [kind for kind, _ in hooks.seen] == ["scan", "recovery", "scan"]
    assert not hooks.seen[2][1].has_anomalies


async def test_recover_falls_back_to_the_system_recovery_config() -> None:
    backend = Damaged()
    repair = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
    system = ActorSystem(
        persistence=backend,
        persistence_recovery=repair,
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.RECOVER),
    )
    await system.start()
    await system.aclose()
    assert backend.calls[1] == ("recover", repair)


async def test_recover_that_leaves_anomalies_fails_startup() -> None:
    backend = Damaged(repairable=False)
    system = ActorSystem(
        persistence=backend,
        persistence_startup=PersistenceStartupConfig(
            mode=PersistenceStartupMode.RECOVER,
            recovery=PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR),
        ),
    )
    with pytest.raises(RuntimeError, match="Persistence recovery completed but anomalies still exist"):
        await system.start()
    with pytest.raises(ActorStopped):
        await system.start()


async def test_hook_errors_do_not_break_startup() -> None:
    class Broken:
        async def on_persistence_scan(self, report: Any) -> None:
            raise RuntimeError("hook failed")

    system = ActorSystem(
        persistence=Damaged(),
        hooks=Broken(),
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.SCAN_ONLY),
    )
    async with system:
        assert system.running


async def test_persistence_recovery_properties_and_misspelled_alias() -> None:
    system = ActorSystem()
    config = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)
    system.persistance_recovery = config
    assert system.persistence_recovery is config
    system.persistence_recovery = None
    assert system.persistance_recovery is None
    startup = PersistenceStartupConfig()
    system.persistence_startup = startup
    assert system.persistence_startup is startup


async def test_startup_timeout_is_enforced() -> None:
    import anyio

    class Hanging(InMemoryPersistence):
        async def scan(self) -> PersistenceScanReport:
            await anyio.Event().wait()  # never set
            raise AssertionError("unreachable")

    system = ActorSystem(
        persistence=Hanging(),
        persistence_startup=PersistenceStartupConfig(mode="scan_only", timeout_seconds=0.01),
    )
    with pytest.raises(TimeoutError):
        await system.start()
    with pytest.raises(ActorStopped, match="ActorSystem is closed."):
        await system.start()

"""The persistence startup sequence inside ActorSystem.start() (persistence.md §10-§11), and
``run_startup_check``, the one procedure behind it and the CLI's startup-check and doctor run."""

from __future__ import annotations

from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import (
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.startup import (
    PersistenceStartupConfig,
    PersistenceStartupMode,
    StartupStatus,
    run_startup_check,
)
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


@pytest.mark.parametrize(
    "mode", [PersistenceStartupMode.IGNORE, PersistenceStartupMode.SCAN_ONLY, "scan_only"]
)
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
    with pytest.raises(RuntimeError, match=r"^Persistence anomalies detected at startup: "):
        await system.start()
    with pytest.raises(ActorStopped, match=r"ActorSystem is not running."):
        system.spawn(Echo)
    with pytest.raises(ActorStopped, match=r"ActorSystem is closed."):
        await system.start()


@pytest.mark.parametrize("mode", ["fail-on-anomaly", "later", ""])
async def test_a_mistyped_mode_is_refused_when_the_config_is_made(mode: str) -> None:
    with pytest.raises(ValueError, match="Invalid persistence startup mode") as info:
        PersistenceStartupConfig(mode=mode)
    assert "'ignore', 'scan_only', 'recover', 'fail_on_anomaly'" in str(info.value)


async def test_a_mode_changed_to_a_typo_later_refuses_to_start() -> None:
    backend = InMemoryPersistence()
    config = PersistenceStartupConfig()
    config.mode = "fail-on-anomaly"  # a plain (not frozen) dataclass: checked again at start
    system = ActorSystem(persistence=backend, persistence_startup=config)
    with pytest.raises(ValueError, match="Invalid persistence startup mode"):
        await system.start()
    assert backend.metrics.snapshot()["scans"] == 0  # refused before touching the backend
    with pytest.raises(ActorStopped, match=r"ActorSystem is closed\."):
        await system.start()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("recover", PersistenceStartupMode.RECOVER),
        ("Recover", PersistenceStartupMode.RECOVER),
        ("FAIL_ON_ANOMALY", PersistenceStartupMode.FAIL_ON_ANOMALY),
        (PersistenceStartupMode.SCAN_ONLY, PersistenceStartupMode.SCAN_ONLY),
    ],
)
async def test_mode_accepts_the_member_its_value_or_its_name_in_any_case(
    given: Any, expected: PersistenceStartupMode
) -> None:
    config = PersistenceStartupConfig(mode=given)
    assert config.mode is expected
    assert config.mode == expected.value  # a str enum: 0.3.0 code comparing to "recover" works


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
    with pytest.raises(
        RuntimeError, match="Persistence recovery completed but anomalies still exist"
    ):
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
    with pytest.raises(ActorStopped, match=r"ActorSystem is closed."):
        await system.start()


# -- run_startup_check: the one procedure behind start(), startup-check and doctor run -----------


class Steps:
    """A ``step`` that records each label with the result of the call it wrapped."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, label: str, call: Any) -> Any:
        result = await call()
        self.seen.append((label, result))
        return result


class Unsupported(PersistenceBackend):
    """The no-op base: ``scan()`` and ``recover()`` return ``None``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Any] = []

    async def scan(self) -> PersistenceScanReport | None:
        self.calls.append("scan")
        return None


class ScanGoesAway(Damaged):
    """Finds damage, then cannot scan any more (the verifying scan returns ``None``)."""

    async def scan(self) -> PersistenceScanReport | None:
        report = await super().scan()
        return report if len(self.calls) == 1 else None


REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)


async def test_check_unsupported_and_healthy_touch_nothing_else() -> None:
    backend = Unsupported()
    outcome = await run_startup_check(backend, PersistenceStartupMode.RECOVER, REPAIR)
    assert (outcome.status, outcome.scan, outcome.anomalies, outcome.ok) == (
        StartupStatus.UNSUPPORTED, None, (), True
    )
    assert backend.calls == ["scan"]
    clean = Damaged()
    clean.damaged = False
    outcome = await run_startup_check(clean, "fail_on_anomaly", raise_on_failure=True)
    assert outcome.status is StartupStatus.HEALTHY and outcome.status == "healthy"
    assert outcome.mode is PersistenceStartupMode.FAIL_ON_ANOMALY
    assert clean.calls == ["scan"]


@pytest.mark.parametrize(
    "mode", [PersistenceStartupMode.IGNORE, "ignore", PersistenceStartupMode.SCAN_ONLY, "scan_only"]
)
async def test_check_scan_only_is_ignore(mode: Any) -> None:
    backend = Damaged()
    outcome = await run_startup_check(backend, mode, REPAIR, raise_on_failure=True)
    assert (outcome.status, outcome.anomalies, outcome.recovery, outcome.ok) == (
        StartupStatus.IGNORED, (ANOMALY,), None, True
    )
    assert backend.calls == ["scan"]


async def test_check_fail_on_anomaly_returns_or_raises() -> None:
    backend = Damaged()
    outcome = await run_startup_check(backend, PersistenceStartupMode.FAIL_ON_ANOMALY, REPAIR)
    assert (outcome.status, outcome.anomalies, outcome.ok) == (
        StartupStatus.FAILED, (ANOMALY,), False
    )
    assert backend.calls == ["scan"]
    steps = Steps()
    with pytest.raises(RuntimeError) as raised:
        await run_startup_check(Damaged(), "fail_on_anomaly", step=steps, raise_on_failure=True)
    assert str(raised.value) == f"Persistence anomalies detected at startup: {(ANOMALY,)}"
    assert [label for label, _ in steps.seen] == ["scan"]  # the step saw the scan before the raise


async def test_check_recover_verifies_by_default() -> None:
    backend, steps = Damaged(), Steps()
    outcome = await run_startup_check(backend, "recover", REPAIR, step=steps)
    assert outcome.status is StartupStatus.RECOVERED and outcome.ok
    assert backend.calls == ["scan", ("recover", REPAIR), "scan"]
    assert [label for label, _ in steps.seen] == ["scan", "recover", "verify"]
    assert outcome.scan is steps.seen[0][1] and outcome.anomalies == (ANOMALY,)
    assert outcome.recovery is steps.seen[1][1]
    assert outcome.verification is steps.seen[2][1] and outcome.remaining == ()


async def test_check_recovery_incomplete_returns_or_raises() -> None:
    backend = Damaged(repairable=False)
    outcome = await run_startup_check(backend, PersistenceStartupMode.RECOVER, REPAIR)
    assert (outcome.status, outcome.remaining, outcome.ok) == (
        StartupStatus.RECOVERY_INCOMPLETE, (ANOMALY,), False
    )
    with pytest.raises(RuntimeError) as raised:
        await run_startup_check(Damaged(repairable=False), "recover", REPAIR, raise_on_failure=True)
    assert str(raised.value) == "Persistence recovery completed but anomalies still exist"


async def test_check_without_verify_trusts_the_recovery() -> None:
    # persistence startup-check (0.3.0): no second scan, so the backend default (recovery=None,
    # which repairs nothing) still ends as RECOVERED.
    backend = Damaged()
    outcome = await run_startup_check(backend, "recover", verify=False, raise_on_failure=True)
    assert (outcome.status, outcome.verification, outcome.remaining) == (
        StartupStatus.RECOVERED, None, ()
    )
    assert backend.calls == ["scan", ("recover", None)]
    assert backend.damaged


async def test_check_verifying_scan_unsupported_counts_as_recovered() -> None:
    backend = ScanGoesAway(repairable=False)
    outcome = await run_startup_check(backend, "recover", REPAIR, raise_on_failure=True)
    assert (outcome.status, outcome.verification) == (StartupStatus.RECOVERED, None)
    assert backend.calls == ["scan", ("recover", REPAIR), "scan"]


@pytest.mark.parametrize("mode", ["fail-on-anomaly", "later", ""])
async def test_check_refuses_other_mode_strings_before_scanning(mode: str) -> None:
    backend = Damaged()
    with pytest.raises(ValueError, match="Invalid persistence startup mode"):
        await run_startup_check(backend, mode)
    assert backend.calls == []


async def test_check_accepts_mode_names_in_any_case() -> None:
    outcome = await run_startup_check(Damaged(), "Scan_Only")
    assert outcome.status is StartupStatus.IGNORED
    assert outcome.mode is PersistenceStartupMode.SCAN_ONLY


async def test_check_step_sees_none_results_and_its_errors_end_the_check() -> None:
    backend, steps = Unsupported(), Steps()
    await run_startup_check(backend, "recover", step=steps)
    assert steps.seen == [("scan", None)]

    async def failing(label: str, call: Any) -> Any:
        result = await call()
        if label == "recover":
            raise OSError("disk gone")
        return result

    damaged = Damaged()
    with pytest.raises(OSError, match="disk gone"):
        await run_startup_check(damaged, "recover", REPAIR, step=failing)
    assert damaged.calls == ["scan", ("recover", REPAIR)]  # no verifying scan


async def test_check_with_a_hook_step_as_the_system_uses_it() -> None:
    """The shape of ``ActorSystem``'s step: hooks get every non-``None`` report, in order."""
    hooks = Hooks()

    async def step(label: str, call: Any) -> Any:
        report = await call()
        name = "on_persistence_recovery" if label == "recover" else "on_persistence_scan"
        if report is not None:
            result = getattr(hooks, name)(report)
            if result is not None:
                await result
        return report

    await run_startup_check(Damaged(), "recover", REPAIR, step=step, raise_on_failure=True)
    assert [kind for kind, _ in hooks.seen] == ["scan", "recovery", "scan"]
    assert not hooks.seen[2][1].has_anomalies

"""Runtime metrics (issue 12 §2): ``system.metrics()``, ``actor_info`` depths and counts,
the OpenMetrics text of ``papyra.metrics.prometheus_text`` and ``PapyraCollector``.

Every async test runs on asyncio and trio, with both dispatch twins (``make_system``). Waiting
is done on events, joins and replies, never on sleeps; ask latencies are made deterministic by
replacing the clock ``ActorRef.ask`` reads.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from typing import Any

import anyio
import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_0_0_4_families

import papyra.ref
from papyra.actor import Actor
from papyra.events import ActorRestarted
from papyra.exceptions import ActorStopped, AskTimeout
from papyra.metrics import (
    ASK_LATENCY_BUCKETS,
    OPENMETRICS_CONTENT_TYPE,
    AskStats,
    PapyraCollector,
    RuntimeMetrics,
    prometheus_text,
)
from papyra.persistence.contract import safe_metrics_snapshot
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import STOP, ActorSystem
from tests.conftest import MakeSystem
from tests.support import REPO_ROOT, Gate

pytestmark = pytest.mark.anyio

RESTART = SupervisionPolicy(strategy=Strategy.RESTART)
STOP_POLICY = SupervisionPolicy(strategy=Strategy.STOP)
ESCALATE = SupervisionPolicy(strategy=Strategy.ESCALATE)
NO_BUDGET = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=0)


class Echo(Actor):
    """Replies with the message; ``"crash"`` raises."""

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return message


class Parent(Actor):
    """Spawns one child on ``("spawn", policy)``; answers failures with ``decision``."""

    decision: SupervisorDecision | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "spawn":
            return self.context.system.spawn(Echo, parent=self.context.self_ref, policy=message[1])
        return message

    async def on_child_failure(self, child: Any, exc: BaseException) -> Any:
        return type(self).decision


class StepClock:
    """Every read moves time ``step`` seconds: a sequential ask lasts exactly ``step``."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def decisions(**counts: int) -> dict[str, int]:
    return {"restart": 0, "stop": 0, "escalate": 0, "ignore": 0, **counts}


# -- the snapshot ---------------------------------------------------------------------------------


async def test_a_new_system_counts_nothing_and_a_closed_one_keeps_its_counts(
    make_system: MakeSystem,
) -> None:
    system = await make_system(start=False)
    m = system.metrics()
    assert isinstance(m, RuntimeMetrics)
    assert m.system_id == "local"
    assert (m.actors_spawned, m.actors_started, m.actors_stopped, m.actors_alive) == (0, 0, 0, 0)
    assert (m.messages_processed, m.messages_queued, m.mailbox_depth_max) == (0, 0, 0)
    assert (m.asks, m.ask_errors, m.ask_timeouts, m.crashes, m.restarts) == (0, 0, 0, 0, 0)
    assert m.supervision_decisions == decisions()
    assert m.ask_latency.count == 0 and m.ask_latency.sum == 0.0
    assert m.ask_latency.bounds == ASK_LATENCY_BUCKETS
    assert (m.dead_letters, m.events) == (0, 0)

    await system.start()
    ref = system.spawn(Echo)
    assert await ref.ask("hi") == "hi"
    await system.aclose()
    m = system.metrics()
    assert (m.actors_spawned, m.actors_started, m.actors_stopped, m.actors_alive) == (1, 1, 1, 0)
    assert (m.messages_processed, m.asks) == (1, 1)


async def test_actors_spawned_started_stopped_and_alive(system: ActorSystem) -> None:
    refs = [system.spawn(Echo) for _ in range(3)]
    m = system.metrics()
    assert (m.actors_spawned, m.actors_alive) == (3, 3)
    for ref in refs:
        await ref.ask("ping")  # answered, so started
    m = system.metrics()
    assert (m.actors_started, m.actors_stopped, m.actors_alive) == (3, 0, 3)

    await system.stop(refs[0], wait=True)
    m = system.metrics()
    assert (m.actors_spawned, m.actors_started, m.actors_stopped, m.actors_alive) == (3, 3, 1, 2)

    await system.stop(refs[1], immediate=True, wait=True)
    await refs[2].tell(STOP)
    await system.join(refs[2])
    m = system.metrics()
    assert (m.actors_stopped, m.actors_alive) == (3, 0)


async def test_messages_processed_counts_handled_messages_only(system: ActorSystem) -> None:
    ref = system.spawn(Echo, policy=RESTART)
    for i in range(5):
        await ref.tell(i)
    with pytest.raises(RuntimeError):
        await ref.ask("crash")  # a failed message is processed too
    assert system.actor_info(ref).messages_processed == 6
    assert system.metrics().messages_processed == 6
    await ref.ask(STOP)  # STOP is not a message the actor handles
    await system.join(ref)
    assert system.metrics().messages_processed == 6

    other = system.spawn(Echo)
    await other.ask("x")
    assert system.actor_info(other).messages_processed == 1
    assert system.metrics().messages_processed == 7


async def test_processed_messages_outlive_the_released_records(make_system: MakeSystem) -> None:
    system = await make_system(retain_terminated=0)
    ref = system.spawn(Echo)
    for i in range(4):
        await ref.ask(i)
    await system.stop(ref, wait=True)
    assert ref._rid not in system._by_id  # the record was released
    assert system.metrics().messages_processed == 4


async def test_proxy_calls_are_counted(system: ActorSystem) -> None:
    class Box(Actor):
        value = 1

        async def receive(self, message: Any) -> Any:
            return message

    ref = system.spawn(Box)
    proxy = ref.proxy()
    assert await proxy.value == 1
    assert system.actor_info(ref).messages_processed == 1


# -- mailbox depth --------------------------------------------------------------------------------


async def test_mailbox_depth_of_a_blocked_actor(system: ActorSystem, gate: type[Gate]) -> None:
    blocked = system.spawn(Gate)
    other = system.spawn(Gate)
    await blocked.tell("block")
    await gate.entered.wait()  # it handles "block" now; what follows waits in its mailbox
    for i in range(3):
        await blocked.tell(i)
    assert system.actor_info(blocked).mailbox_depth == 3
    assert system.actor_info(other).mailbox_depth == 0
    m = system.metrics()
    assert (m.messages_queued, m.mailbox_depth_max) == (3, 3)

    gate.release.set()
    assert await blocked.ask("seen") == [0, 1, 2]
    assert system.actor_info(blocked).mailbox_depth == 0
    assert system.actor_info(blocked).messages_processed == 5
    m = system.metrics()
    assert (m.messages_queued, m.mailbox_depth_max) == (0, 0)


async def test_the_max_is_taken_over_every_actor(
    system: ActorSystem, make_gate: Any
) -> None:
    gates = [make_gate(), make_gate()]
    entered = [anyio.Event(), anyio.Event()]

    class Blocker(Actor):
        def __init__(self, n: int) -> None:
            self.n = n

        async def receive(self, message: Any) -> Any:
            if message == "block":
                entered[self.n].set()
                await gates[self.n].wait()
            return message

    a = system.spawn(lambda: Blocker(0))
    b = system.spawn(lambda: Blocker(1))
    await a.tell("block")
    await b.tell("block")
    await entered[0].wait()
    await entered[1].wait()
    for i in range(2):
        await a.tell(i)
    for i in range(5):
        await b.tell(i)
    m = system.metrics()
    assert (m.messages_queued, m.mailbox_depth_max) == (7, 5)
    gates[1].set()
    assert await b.ask("done") == "done"
    m = system.metrics()
    assert (m.messages_queued, m.mailbox_depth_max) == (2, 2)


# -- crashes and supervision ----------------------------------------------------------------------


async def test_a_crash_with_restart(system: ActorSystem) -> None:
    ref = system.spawn(Echo, policy=RESTART)
    with pytest.raises(RuntimeError):
        await ref.ask("crash")  # supervision ran before the caller sees the error
    m = system.metrics()
    assert (m.crashes, m.restarts) == (1, 1)
    assert m.supervision_decisions == decisions(restart=1)
    assert (m.actors_started, m.actors_stopped, m.actors_alive) == (1, 0, 1)


async def test_a_crash_with_stop(system: ActorSystem) -> None:
    ref = system.spawn(Echo, policy=STOP_POLICY)
    await ref.tell("crash")
    await system.join(ref)
    m = system.metrics()
    assert (m.crashes, m.restarts) == (1, 0)
    assert m.supervision_decisions == decisions(stop=1)
    assert (m.actors_stopped, m.actors_alive) == (1, 0)


async def test_a_spent_restart_budget_stops_the_actor(system: ActorSystem) -> None:
    ref = system.spawn(Echo, policy=NO_BUDGET)
    await ref.tell("crash")
    await system.join(ref)
    m = system.metrics()
    assert (m.crashes, m.restarts, m.actors_stopped) == (1, 0, 1)
    assert m.supervision_decisions == decisions(restart=1)


async def test_an_escalated_crash_counts_once_and_is_decided_twice(system: ActorSystem) -> None:
    Parent.decision = None
    parent = system.spawn(Parent, policy=RESTART)
    child = await parent.ask(("spawn", ESCALATE))
    index = system.events_total
    await child.tell("crash")
    await system.wait_for_event(ActorRestarted, start_index=index)  # the parent restarted
    await system.join(child)
    m = system.metrics()
    assert (m.crashes, m.restarts) == (1, 1)
    assert m.supervision_decisions == decisions(escalate=1, restart=1)


@pytest.mark.parametrize(
    ("decision", "key"),
    [
        (SupervisorDecision.RESTART, "restart"),
        (SupervisorDecision.STOP, "stop"),
        (SupervisorDecision.IGNORE, "ignore"),
    ],
)
async def test_a_parents_decision_is_counted(
    system: ActorSystem, decision: SupervisorDecision, key: str
) -> None:
    Parent.decision = decision
    try:
        parent = system.spawn(Parent)
        child = await parent.ask(("spawn", STOP_POLICY))
        with pytest.raises(RuntimeError):
            await child.ask("crash")
    finally:
        Parent.decision = None
    m = system.metrics()
    assert m.crashes == 1
    assert m.supervision_decisions == decisions(**{key: 1})
    assert m.restarts == (1 if key == "restart" else 0)


# -- dead letters ---------------------------------------------------------------------------------


async def test_dead_letters_are_counted(system: ActorSystem, gate: type[Gate]) -> None:
    ref = system.spawn(Gate)
    await ref.tell("block")
    await gate.entered.wait()
    await ref.tell("left over")
    await system.stop(ref, immediate=True)  # what is queued becomes a dead letter
    gate.release.set()
    await system.join(ref)
    assert system.metrics().dead_letters == 1
    with pytest.raises(ActorStopped):
        await ref.tell("late")
    assert system.metrics().dead_letters == 2 == system.dead_letters.total


# -- asks -----------------------------------------------------------------------------------------


async def test_asks_and_their_latency_buckets(
    system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papyra.ref, "_clock", StepClock(0.003))
    ref = system.spawn(Echo, policy=RESTART)
    for i in range(4):
        assert await ref.ask(i) == i
    with pytest.raises(RuntimeError):
        await ref.ask("crash")
    m = system.metrics()
    assert (m.asks, m.ask_errors, m.ask_timeouts) == (5, 1, 0)
    buckets = dict(m.ask_latency.cumulative())
    assert buckets[0.0025] == 0
    assert buckets[0.005] == 5  # 3 ms each: the first bound >= 0.003
    assert buckets[math.inf] == 5 == m.ask_latency.count
    assert m.ask_latency.sum == pytest.approx(5 * 0.003)


async def test_tells_are_not_asks(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    for i in range(3):
        await ref.tell(i)
    await system.stop(ref, wait=True)
    assert system.metrics().asks == 0


async def test_timeouts_and_refused_asks_are_errors(
    system: ActorSystem, gate: type[Gate]
) -> None:
    ref = system.spawn(Gate)
    await ref.tell("block")
    await gate.entered.wait()
    with pytest.raises(AskTimeout):
        await ref.ask("slow", timeout=0)
    m = system.metrics()
    assert (m.asks, m.ask_errors, m.ask_timeouts) == (1, 1, 1)
    with pytest.raises(TypeError):
        await ref.ask("bad", timeout="5")  # refused before anything is sent: not an ask
    gate.release.set()
    await system.stop(ref, wait=True)
    with pytest.raises(ActorStopped):
        await ref.ask("late")
    m = system.metrics()
    assert (m.asks, m.ask_errors, m.ask_timeouts) == (2, 2, 1)


def test_the_histogram_bounds_are_inclusive() -> None:
    stats = AskStats((0.001, 0.01))
    for seconds in (0.0, 0.001, 0.0011, 0.01, 0.5):
        stats.observe(seconds)
    snapshot = stats.snapshot()
    assert snapshot.counts == (2, 2, 1)
    assert snapshot.cumulative() == ((0.001, 2), (0.01, 4), (math.inf, 5))
    assert snapshot.count == 5
    assert snapshot.sum == pytest.approx(0.5121)
    assert stats.snapshot().counts == (2, 2, 1)  # a snapshot is a copy
    stats.observe(1.0)
    assert snapshot.counts == (2, 2, 1)


# -- persistence and the dict form ----------------------------------------------------------------


async def test_persistence_counters_are_the_backends(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    await ref.ask("x")  # ActorStarted was emitted and handed to the backend
    m = system.metrics()
    assert m.persistence == safe_metrics_snapshot(system.persistence)
    assert m.persistence["records_written"] >= 1


async def test_a_backend_without_metrics_reports_none(
    make_system: MakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = await make_system(start=False)
    monkeypatch.setattr(type(system.persistence), "metrics", None)
    assert system.metrics().persistence == {}
    assert "papyra_persistence" not in prometheus_text(system)


async def test_as_dict_is_plain_json(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    await ref.ask(1)
    data = system.metrics().as_dict()
    assert orjson.loads(orjson.dumps(data)) == data
    assert data["asks"] == 1 and data["ask_latency"]["count"] == 1
    assert data["supervision_decisions"] == decisions()
    assert set(data) == set(RuntimeMetrics.__dataclass_fields__)


# -- OpenMetrics text -----------------------------------------------------------------------------


def families_of(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value_of(family: Any, sample_name: str, **labels: str) -> float:
    for sample in family.samples:
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {sample_name} {labels} in {family.name}")


async def test_prometheus_text_parses_with_the_right_types_and_units(
    system: ActorSystem, gate: type[Gate], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(papyra.ref, "_clock", StepClock(0.02))
    ref = system.spawn(Gate, policy=RESTART)
    await ref.ask("a")
    with pytest.raises(RuntimeError):
        await ref.ask("crash")
    await ref.tell("block")
    await gate.entered.wait()
    await ref.tell("queued")

    text = prometheus_text(system)
    assert text.endswith("# EOF\n")
    assert OPENMETRICS_CONTENT_TYPE == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    families = families_of(text)
    expected_types = {
        "papyra_actors_spawned": "counter",
        "papyra_actors_started": "counter",
        "papyra_actors_stopped": "counter",
        "papyra_actors_alive": "gauge",
        "papyra_messages_processed": "counter",
        "papyra_mailbox_queued": "gauge",
        "papyra_mailbox_depth_max": "gauge",
        "papyra_ask_duration_seconds": "histogram",
        "papyra_ask_errors": "counter",
        "papyra_ask_timeouts": "counter",
        "papyra_actor_crashes": "counter",
        "papyra_actor_restarts": "counter",
        "papyra_supervision_decisions": "counter",
        "papyra_dead_letters": "counter",
        "papyra_events": "counter",
        "papyra_persistence_records_written": "counter",
        "papyra_persistence_written_bytes": "counter",
    }
    for name, kind in expected_types.items():
        assert families[name].type == kind, name
    assert families["papyra_ask_duration_seconds"].unit == "seconds"
    assert families["papyra_persistence_written_bytes"].unit == "bytes"
    for family in families.values():
        assert family.name.startswith("papyra_")
        assert family.documentation
        for sample in family.samples:
            assert sample.labels["system"] == "local"
            if family.type == "counter":
                assert sample.name == f"{family.name}_total"

    assert value_of(families["papyra_actors_spawned"], "papyra_actors_spawned_total") == 1
    assert value_of(families["papyra_mailbox_queued"], "papyra_mailbox_queued") == 1
    assert value_of(families["papyra_actor_crashes"], "papyra_actor_crashes_total") == 1
    decided = families["papyra_supervision_decisions"]
    assert value_of(decided, "papyra_supervision_decisions_total", decision="restart") == 1
    assert value_of(decided, "papyra_supervision_decisions_total", decision="stop") == 0

    hist = families["papyra_ask_duration_seconds"]
    les = [s.labels["le"] for s in hist.samples if s.name.endswith("_bucket")]
    assert les[-1] == "+Inf"
    assert [float(le) for le in les[:-1]] == list(ASK_LATENCY_BUCKETS)
    name = "papyra_ask_duration_seconds"
    assert value_of(hist, f"{name}_bucket", le="0.01") == 0
    assert value_of(hist, f"{name}_bucket", le="0.025") == 2  # 20 ms each
    assert value_of(hist, f"{name}_bucket", le="+Inf") == 2
    assert value_of(hist, f"{name}_count") == 2
    assert value_of(hist, f"{name}_sum") == pytest.approx(0.04)


async def test_label_values_are_escaped(make_system: MakeSystem) -> None:
    system = await make_system(system_id='a "quoted"\\ id\nhere')
    families = families_of(prometheus_text(system))
    sample = families["papyra_actors_alive"].samples[0]
    assert sample.labels["system"] == 'a "quoted"\\ id\nhere'


def test_prometheus_text_refuses_what_is_not_a_system() -> None:
    with pytest.raises(TypeError):
        prometheus_text(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PapyraCollector("local")  # type: ignore[arg-type]


# -- the prometheus_client collector --------------------------------------------------------------


async def test_the_collector_in_a_registry(system: ActorSystem) -> None:
    registry = CollectorRegistry()
    registry.register(PapyraCollector(system))
    ref = system.spawn(Echo)
    await ref.ask("x")
    await ref.ask("y")

    families = {f.name: f for f in text_0_0_4_families(generate_latest(registry).decode())}
    assert value_of(families["papyra_actors_spawned"], "papyra_actors_spawned_total") == 1
    assert value_of(
        families["papyra_messages_processed"], "papyra_messages_processed_total"
    ) == 2
    hist = families["papyra_ask_duration_seconds"]
    assert hist.type == "histogram"
    assert value_of(hist, "papyra_ask_duration_seconds_count") == 2
    assert value_of(hist, "papyra_ask_duration_seconds_bucket", le="+Inf") == 2

    # Each scrape is a fresh snapshot; the OpenMetrics exposition of the client parses too.
    await ref.ask("z")
    families = families_of(generate_openmetrics(registry).decode())
    assert families["papyra_ask_duration_seconds"].unit == "seconds"
    assert value_of(
        families["papyra_messages_processed"], "papyra_messages_processed_total"
    ) == 3
    assert registry.get_sample_value("papyra_asks_total", {"system": "local"}) is None
    assert registry.get_sample_value(
        "papyra_ask_duration_seconds_count", {"system": "local"}
    ) == 3


def test_the_collector_needs_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.setitem(sys.modules, "prometheus_client.metrics_core", None)
    with pytest.raises(ImportError, match=r"papyra\[prometheus\]"):
        PapyraCollector(ActorSystem())


def test_importing_papyra_metrics_does_not_import_prometheus_client() -> None:
    code = (
        "import sys, papyra.metrics, papyra.system; "
        "print('prometheus_client' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


async def test_metrics_can_be_taken_from_another_thread_while_actors_come_and_go(
    make_system: MakeSystem,
) -> None:
    """``PapyraCollector`` under ``start_http_server`` calls ``metrics()`` from the server's
    thread while the event loop spawns and stops actors."""
    system = await make_system()
    stop = threading.Event()
    errors: list[BaseException] = []
    taken = 0

    def scrape() -> None:
        nonlocal taken
        while not stop.is_set():
            try:
                system.metrics()
            except BaseException as exc:  # whatever it is, the test reports it
                errors.append(exc)
                return
            taken += 1

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for _ in range(200):
            refs = [system.spawn(Echo) for _ in range(50)]
            for ref in refs:
                await system.stop(ref)
            await anyio.lowlevel.checkpoint()
    finally:
        stop.set()
        scraper.join()
    assert errors == []
    assert taken > 0

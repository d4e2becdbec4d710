"""``papyra inspect …`` (cli.md §9) and ``papyra metrics …`` (§10), on ``settings.persistence``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from click.testing import Result

from papyra.address import ActorAddress
from papyra.persistence.backends.memory import InMemoryPersistence

from .support import UnsupportedBackend, audit, dead_letter, event

Invoke = Callable[..., Result]
UseBackend = Callable[[Any], Any]


async def _store(backend: InMemoryPersistence, records: list[tuple[str, Any]]) -> None:
    for kind, record in records:
        await getattr(backend, f"record_{kind}")(record)


@pytest.fixture
def backend(use_backend: UseBackend) -> InMemoryPersistence:
    b: InMemoryPersistence = use_backend(InMemoryPersistence())
    anyio.run(
        _store,
        b,
        [
            ("event", event(100.0, "ActorStarted", "local:1")),
            ("event", event(101.5, "counter.incremented", "local:1")),
            ("event", event(102.25, "ActorStopped", "local:2")),
            ("audit", audit(50.0, total=3, dead=1)),
            ("audit", audit(60.0, total=5, dead=2)),
            ("dead_letter", dead_letter(42.0, "local://1", "hello")),
            ("dead_letter", dead_letter(43.0, "local://2", {"n": 1})),
        ],
    )
    return b


# -- inspect events -----------------------------------------------------------------------------


def test_events(invoke: Invoke, backend: InMemoryPersistence) -> None:
    result = invoke("inspect", "events")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ℹ [100.000] ActorStarted local:1",
        "ℹ [101.500] counter.incremented local:1",
        "ℹ [102.250] ActorStopped local:2",
    ]


def test_events_limit_since_reverse_type(invoke: Invoke, backend: InMemoryPersistence) -> None:
    assert invoke("inspect", "events", "--limit", "2").stdout.splitlines() == [
        "ℹ [101.500] counter.incremented local:1",
        "ℹ [102.250] ActorStopped local:2",
    ]
    assert invoke("inspect", "events", "--since", "101.5", "--reverse").stdout.splitlines() == [
        "ℹ [102.250] ActorStopped local:2",
        "ℹ [101.500] counter.incremented local:1",
    ]
    # The type filter runs after the limit: the newest record is not an ActorStarted.
    result = invoke("inspect", "events", "--limit", "1", "--event-type", "ActorStarted")
    assert (result.exit_code, result.stdout) == (0, "ℹ No events recorded.\n")
    assert invoke("inspect", "events", "--event-type", "ActorStarted").stdout == (
        "ℹ [100.000] ActorStarted local:1\n"
    )


def test_events_actor_address_object(invoke: Invoke, use_backend: UseBackend) -> None:
    b = use_backend(InMemoryPersistence())
    anyio.run(_store, b, [("event", event(1.0))])
    b._events[0] = event(1.0, "ActorStarted", ActorAddress("local", 7))  # type: ignore[arg-type]
    assert invoke("inspect", "events").stdout == "ℹ [1.000] ActorStarted local:7\n"
    doc = json.loads(invoke("inspect", "events", "--json").stdout)
    assert doc["events"][0]["actor_address"] == {"system": "local", "actor_id": 7}


def test_events_empty(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    result = invoke("inspect", "events")
    assert (result.exit_code, result.stdout) == (0, "ℹ No events recorded.\n")


def test_events_json(invoke: Invoke, backend: InMemoryPersistence) -> None:
    result = invoke("inspect", "events", "--json", "--reverse", "--limit", "2")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "events": [
            {
                "system_id": "local",
                "actor_address": "local:2",
                "event_type": "ActorStopped",
                "payload": {},
                "timestamp": 102.25,
            },
            {
                "system_id": "local",
                "actor_address": "local:1",
                "event_type": "counter.incremented",
                "payload": {},
                "timestamp": 101.5,
            },
        ]
    }


# -- inspect audits / dead-letters / summary ------------------------------------------------------


def test_audits(invoke: Invoke, backend: InMemoryPersistence) -> None:
    assert invoke("inspect", "audits").stdout.splitlines() == [
        "ℹ [50.000] total=3 alive=2 stopping=1 restarting=0 dead_letters=1",
        "ℹ [60.000] total=5 alive=4 stopping=1 restarting=0 dead_letters=2",
    ]
    assert invoke("inspect", "audits", "--since", "55").stdout.splitlines() == [
        "ℹ [60.000] total=5 alive=4 stopping=1 restarting=0 dead_letters=2",
    ]
    doc = json.loads(invoke("inspect", "audits", "--json", "--limit", "1").stdout)
    assert [a["total_actors"] for a in doc["audits"]] == [5]
    assert doc["audits"][0]["registry_orphans"] == []


def test_audits_empty(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    assert invoke("inspect", "audits").stdout == "ℹ No audit reports recorded.\n"
    assert json.loads(invoke("inspect", "audits", "--json").stdout) == {"audits": []}


def test_dead_letters(invoke: Invoke, backend: InMemoryPersistence) -> None:
    assert invoke("inspect", "dead-letters").stdout.splitlines() == [
        "ℹ [42.000] target=local://1 type=str payload='hello'",
        "ℹ [43.000] target=local://2 type=dict payload={'n': 1}",
    ]
    newest_first = invoke("inspect", "dead-letters", "--reverse", "--limit", "2").stdout
    assert newest_first.splitlines()[0].startswith("ℹ [43.000]")
    assert invoke("inspect", "dead-letters", "--target", "local://1").stdout == (
        "ℹ [42.000] target=local://1 type=str payload='hello'\n"
    )
    assert invoke("inspect", "dead-letters", "--target", "local://9").stdout == (
        "ℹ No dead letters recorded.\n"
    )
    assert invoke("inspect", "dead-letters", "--since", "42.5").stdout.count("\n") == 1
    doc = json.loads(invoke("inspect", "dead-letters", "--json", "--target", "local://2").stdout)
    assert doc == {
        "dead_letters": [
            {
                "system_id": "local",
                "target": "local://2",
                "message_type": "dict",
                "payload": {"n": 1},
                "timestamp": 43.0,
            }
        ]
    }


def test_summary(invoke: Invoke, backend: InMemoryPersistence) -> None:
    result = invoke("inspect", "summary")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ℹ Actors: total=5 alive=4 stopping=1 restarting=0",
        "ℹ Dead letters: 2",
    ]
    assert json.loads(invoke("inspect", "summary", "--json").stdout) == {
        "available": True,
        "actors": {"total": 5, "alive": 4, "stopping": 1, "restarting": 0},
        "dead_letters": 2,
        "timestamp": 60.0,
    }


def test_summary_without_audits(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    assert invoke("inspect", "summary").stdout == "ℹ No audit data available.\n"
    assert json.loads(invoke("inspect", "summary", "--json").stdout)["available"] is False


# -- metrics --------------------------------------------------------------------------------------


def _rows(output: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in output.splitlines():
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        rows[cells[0]] = cells[1]
    return rows


def test_metrics_table(invoke: Invoke, backend: InMemoryPersistence) -> None:
    result = invoke("metrics", "persistence")
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[0] == "     Persistence Metrics"
    assert out[1] == "┏━━━━━━━━━━━━━━━━━━━━┳━━━━━━━┓"
    assert out[2] == "┃ Key                ┃ Value ┃"
    assert out[3] == "┡━━━━━━━━━━━━━━━━━━━━╇━━━━━━━┩"
    assert out[4] == "│ records_written    │ 7     │"
    assert out[-1] == "└────────────────────┴───────┘"
    assert list(_rows(result.stdout)) == list(backend.metrics.snapshot())
    assert _rows(result.stdout)["records_written"] == "7"


def test_metrics_json(invoke: Invoke, backend: InMemoryPersistence) -> None:
    result = invoke("metrics", "persistence", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == backend.metrics.snapshot()
    assert result.stdout == json.dumps(backend.metrics.snapshot(), indent=2) + "\n"


class NoMetrics:
    """A backend object with no ``metrics`` attribute at all."""


class EmptyMetrics(UnsupportedBackend):
    @property
    def metrics(self) -> Any:
        class Empty:
            def snapshot(self) -> dict[str, int]:
                return {}

            def reset(self) -> None:
                pass

        return Empty()


def test_metrics_unavailable(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(NoMetrics())
    for args in (("metrics", "persistence"), ("metrics", "reset")):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (
            0, "ℹ Persistence backend does not expose metrics.\n"
        )
    assert json.loads(invoke("metrics", "persistence", "--json").stdout) == {}
    use_backend(EmptyMetrics())
    assert invoke("metrics", "persistence").stdout == "ℹ No metrics available.\n"
    assert json.loads(invoke("metrics", "persistence", "--json").stdout) == {}


def test_metrics_reset_keeps_error_counters(invoke: Invoke, backend: InMemoryPersistence) -> None:
    backend.metrics.write_errors = 4
    result = invoke("metrics", "reset")
    assert (result.exit_code, result.stdout) == (0, "ℹ Metrics reset\n")
    snap = backend.metrics.snapshot()
    assert snap["records_written"] == 0 and snap["write_errors"] == 4

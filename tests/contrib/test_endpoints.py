"""The raw ASGI endpoints ``healthz`` and ``metrics`` (spec §4), on a real system and backend.

Each test calls the endpoint as a server would (scope, receive, send) and checks the two ASGI
messages it sent: status, headers, body. Runs on asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from papyra.actor import Actor
from papyra.contrib.asgi import healthz, metrics
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import ActorSystem
from tests.contrib.support import CORRUPT_LINE, GOOD_LINE, call, write_damaged_log

pytestmark = pytest.mark.anyio

REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)


class Echo(Actor):
    async def receive(self, message: object) -> object:
        return message


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "facts.ndjson"


@pytest.fixture
async def system(log: Path) -> AsyncIterator[ActorSystem]:
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        yield system


def anomaly(log: Path) -> dict[str, object]:
    return {"type": "3", "path": str(log), "detail": "Invalid JSON at line 2"}


# -- healthz: scan ---------------------------------------------------------------------------


async def test_scan_of_a_healthy_log_is_200_with_exact_headers(system: ActorSystem) -> None:
    reply = await call(healthz, system=system)

    assert reply.status == 200
    assert reply.body == (
        b'{"ok":true,"mode":"scan","backend":"JsonFilePersistence",'
        b'"scan_supported":true,"anomalies":[]}'
    )
    assert reply.messages[0]["type"] == "http.response.start"
    assert reply.messages[1]["type"] == "http.response.body"
    assert len(reply.messages) == 2
    assert reply.headers == {
        b"content-type": b"application/json; charset=utf-8",
        b"content-length": str(len(reply.body)).encode(),
    }


async def test_scan_of_a_damaged_log_is_503_with_the_anomaly(log: Path) -> None:
    write_damaged_log(log)
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        reply = await call(healthz, system=system)

    assert reply.status == 503
    assert reply.json() == {
        "ok": False,
        "mode": "scan",
        "backend": "JsonFilePersistence",
        "scan_supported": True,
        "anomalies": [anomaly(log)],
    }


async def test_scan_unsupported_by_the_backend_is_200() -> None:
    class NoScan(InMemoryPersistence):
        async def scan(self) -> None:  # type: ignore[override]
            return None

    async with ActorSystem(persistence=NoScan()) as system:
        reply = await call(healthz, system=system)

    assert reply.status == 200
    assert reply.json() == {
        "ok": True, "mode": "scan", "backend": "NoScan", "scan_supported": False,
    }


# -- healthz: startup-check ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["startup-check", "startup_check"])
async def test_startup_check_on_a_healthy_log_is_200(system: ActorSystem, mode: str) -> None:
    reply = await call(healthz, system=system, mode=mode)

    assert reply.status == 200
    assert reply.json() == {
        "ok": True, "mode": mode, "backend": "JsonFilePersistence", "anomalies": [],
    }


@pytest.mark.parametrize("mode", ["startup-check", "startup_check"])
async def test_startup_check_fails_on_anomaly_by_default(log: Path, mode: str) -> None:
    write_damaged_log(log)
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        reply = await call(healthz, system=system, mode=mode)

    assert reply.status == 503
    assert reply.json() == {
        "ok": False, "mode": mode, "backend": "JsonFilePersistence",
        "anomalies": [anomaly(log)],
    }
    assert log.read_bytes() == GOOD_LINE + CORRUPT_LINE  # nothing was touched


@pytest.mark.parametrize(
    "config",
    [
        PersistenceStartupConfig(mode=PersistenceStartupMode.RECOVER, recovery=REPAIR),
        PersistenceStartupConfig(mode="recover", recovery=REPAIR),
        # a config built elsewhere, whose mode stayed a plain string: compared by value
        SimpleNamespace(mode="recover", recovery=REPAIR),
    ],
    ids=["enum", "string-in-config", "plain-string-mode"],
)
async def test_startup_check_recover_repairs_the_log(log: Path, config: object) -> None:
    write_damaged_log(log)
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        reply = await call(healthz, system=system, mode="startup-check", startup_config=config)
        again = await call(healthz, system=system)

    assert reply.status == 200
    body = reply.json()
    assert body["ok"] is True
    assert body["anomalies"] == [anomaly(log)]
    assert body["post_anomalies"] == []
    assert body["recovery"] == {
        "backend": "json",
        "scan": {"backend": "json", "anomalies": [anomaly(log)]},
        "repaired_files": [str(log)],
        "quarantined_files": [],
    }
    assert log.read_bytes().startswith(GOOD_LINE)
    assert CORRUPT_LINE not in log.read_bytes()
    assert again.status == 200


async def test_startup_check_recover_that_repairs_nothing_is_503(log: Path) -> None:
    # RECOVER without a recovery config uses the backend's default (IGNORE): damage remains.
    write_damaged_log(log)
    config = PersistenceStartupConfig(mode=PersistenceStartupMode.RECOVER)
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        reply = await call(healthz, system=system, mode="startup-check", startup_config=config)

    assert reply.status == 503
    body = reply.json()
    assert body["ok"] is False
    assert body["post_anomalies"] == [anomaly(log)]
    assert body["recovery"]["repaired_files"] == []


@pytest.mark.parametrize(
    "mode", [PersistenceStartupMode.IGNORE, PersistenceStartupMode.SCAN_ONLY, "scan_only"]
)
async def test_startup_check_ignore_and_scan_only_report_but_pass(log: Path, mode: str) -> None:
    write_damaged_log(log)
    config = SimpleNamespace(mode=mode, recovery=None)
    async with ActorSystem(persistence=JsonFilePersistence(log)) as system:
        reply = await call(healthz, system=system, mode="startup_check", startup_config=config)

    assert reply.status == 200
    body = reply.json()
    assert body["ok"] is True
    assert body["anomalies"] == [anomaly(log)]
    assert "recovery" not in body


# -- healthz: errors -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bogus", "SCAN", "startup check", ""])
async def test_an_invalid_mode_is_400(system: ActorSystem, mode: str) -> None:
    reply = await call(healthz, system=system, mode=mode)

    assert reply.status == 400
    assert reply.json() == {"ok": False, "error": f"invalid mode: {mode!r}"}


@pytest.mark.parametrize("mode", ["scan", "startup-check"])
async def test_an_exception_is_500_with_its_class_and_message(tmp_path: Path, mode: str) -> None:
    # A log path that is a directory: the scan itself fails.
    system = ActorSystem(persistence=JsonFilePersistence(tmp_path))
    reply = await call(healthz, system=system, mode=mode)
    await system.aclose()

    assert reply.status == 500
    assert reply.json() == {
        "ok": False,
        "error": "IsADirectoryError",
        "message": f"[Errno 21] Is a directory: '{tmp_path}'",
    }


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_json_is_the_backend_snapshot(system: ActorSystem) -> None:
    ref = system.spawn(Echo, name="echo")
    assert await ref.ask("ping") == "ping"
    await system.stop(ref, wait=True)
    # the system's writer flushes facts asynchronously: the snapshot is read as it is
    reply = await call(metrics, system=system)

    assert reply.status == 200
    assert reply.headers[b"content-type"] == b"application/json; charset=utf-8"
    assert reply.json() == dict(system.persistence.metrics.snapshot())
    assert {"records_written", "write_errors"} <= set(reply.json())


async def test_metrics_text_is_raw_utf8_text(system: ActorSystem) -> None:
    reply = await call(metrics, system=system, format="text")
    snap = system.persistence.metrics.snapshot()

    assert reply.status == 200
    assert reply.headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert reply.headers[b"content-length"] == str(len(reply.body)).encode()
    expected = "Persistence Metrics\n-------------------\n" + "\n".join(
        f"{key}: {value}" for key, value in snap.items()
    )
    assert reply.body.decode("utf-8") == expected
    assert reply.body.startswith(b"Persistence Metrics\n---")  # not a JSON string


@pytest.mark.parametrize(
    ("format", "body"),
    [
        ("json", b"{}"),
        ("anything-else", b"{}"),
        ("text", b"Persistence Metrics\n-------------------\nmetrics: <unavailable>"),
    ],
)
async def test_metrics_without_backend_metrics_is_still_200(format: str, body: bytes) -> None:
    # The endpoints only need ``system.persistence``: a backend object without ``metrics``.
    system = SimpleNamespace(persistence=SimpleNamespace())
    reply = await call(metrics, system=system, format=format)

    assert reply.status == 200
    assert reply.body == body


async def test_metrics_prometheus_is_openmetrics_text(system: ActorSystem) -> None:
    from papyra.metrics import prometheus_text

    reply = await call(metrics, system=system, format="prometheus")

    assert reply.status == 200
    assert reply.headers[b"content-type"] == (
        b"application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert reply.body.decode("utf-8").rstrip("\n").endswith("# EOF")
    assert reply.body.decode().splitlines()[0] == prometheus_text(system).splitlines()[0]


# -- not HTTP --------------------------------------------------------------------------------


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_non_http_scopes_get_no_response(system: ActorSystem, scope_type: str) -> None:
    assert (await call(healthz, system=system, scope_type=scope_type)).messages == []
    assert (await call(metrics, system=system, scope_type=scope_type)).messages == []

"""End to end: a real uvicorn server on 127.0.0.1, started by the test, hit with httpx.

The server runs ``tests/contrib/e2e_app.py`` in a subprocess (as in production: its own
process, its own event loop and signal handling) on a free port. Readiness is polled with a
deadline: uvicorn only listens once the lifespan startup -- and so ``ActorSystem.start()`` --
has completed. Stopping sends SIGINT, uvicorn's graceful shutdown, which runs the lifespan
shutdown: the facts of the shutdown must then be in the log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.contrib.support import (
    CORRUPT_LINE,
    GOOD_LINE,
    events_of,
    write_damaged_log,
)
from tests.redis_server import free_port
from tests.support import REPO_ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGINT")

READY_TIMEOUT = 30.0


class Server:
    """``uvicorn tests.contrib.e2e_app:app`` in a subprocess."""

    def __init__(self, log: Path, framework: str, output: Path) -> None:
        self.log = log
        self.framework = framework
        self.output = output
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PAPYRA_E2E_LOG": str(self.log),
            "PAPYRA_E2E_FRAMEWORK": self.framework,
        }
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "tests.contrib.e2e_app:app",
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--lifespan", "on", "--log-level", "info",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"uvicorn exited at start:\n{self.output.read_text()}")
            try:
                httpx.get(self.url + "/", timeout=1.0)
                return  # any answer: the server listens, so its lifespan startup is done
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not listen in time:\n{self.output.read_text()}")
            time.sleep(0.05)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10.0, follow_redirects=True)

    def stop(self) -> int:
        """SIGINT (graceful shutdown, lifespan shutdown included); the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"uvicorn ignored SIGINT:\n{self.output.read_text()}") from None


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def start(log: Path, framework: str = "fastapi") -> Server:
        server = Server(log, framework, tmp_path / f"uvicorn-{len(servers)}.out")
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait(10)


@pytest.mark.parametrize("framework", ["fastapi", "starlette", "lilya", "ravyn"])
def test_healthy_log_and_the_lifespan_flushes_facts_on_shutdown(
    serve, tmp_path: Path, framework: str
) -> None:
    log = tmp_path / "facts.ndjson"
    server = serve(log, framework)

    health = server.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "ok": True, "mode": "scan", "backend": "JsonFilePersistence",
        "scan_supported": True, "anomalies": [],
    }
    metrics = server.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"] == "application/json; charset=utf-8"
    assert metrics.json()["write_errors"] == 0
    assert metrics.json()["records_written"] >= 1  # the greeter's ActorStarted at least
    assert events_of(log, "greeter") == ["ActorStarted"]  # still running

    assert server.stop() == 0, server.output.read_text()
    assert events_of(log, "greeter") == ["ActorStarted", "ActorStopped"]
    assert "Application shutdown complete" in server.output.read_text()


def test_damaged_log_is_503_then_startup_check_recover_repairs_it(
    serve, tmp_path: Path
) -> None:
    log = write_damaged_log(tmp_path / "facts.ndjson")
    server = serve(log)
    anomaly = {"type": "3", "path": str(log), "detail": "Invalid JSON at line 2"}

    damaged = server.get("/healthz")
    assert damaged.status_code == 503
    assert damaged.json()["ok"] is False
    assert damaged.json()["anomalies"] == [anomaly]

    recovered = server.get("/healthz-recover")
    assert recovered.status_code == 200, recovered.text
    body = recovered.json()
    assert body["ok"] is True
    assert body["mode"] == "startup-check"
    assert body["anomalies"] == [anomaly]
    assert body["post_anomalies"] == []
    assert body["recovery"]["repaired_files"] == [str(log)]
    assert CORRUPT_LINE not in log.read_bytes()
    assert log.read_bytes().startswith(GOOD_LINE)

    assert server.get("/healthz").status_code == 200
    assert server.stop() == 0, server.output.read_text()
    # the system kept writing to the repaired file: the shutdown's facts are there
    assert events_of(log, "greeter") == ["ActorStarted", "ActorStopped"]
    assert CORRUPT_LINE not in log.read_bytes()


def test_metrics_in_json_and_text(serve, tmp_path: Path) -> None:
    server = serve(tmp_path / "facts.ndjson")

    as_json = server.get("/metrics").json()
    text = server.get("/metrics-text")
    assert text.status_code == 200
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    lines = text.text.split("\n")
    assert lines[:2] == ["Persistence Metrics", "-------------------"]
    pairs = dict(line.split(": ", 1) for line in lines[2:])
    assert list(pairs) == list(as_json)
    assert pairs["write_errors"] == "0"
    assert server.stop() == 0


def test_metrics_in_prometheus_format(serve, tmp_path: Path) -> None:
    server = serve(tmp_path / "facts.ndjson")
    reply = server.get("/metrics-prometheus")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert reply.text.rstrip("\n").endswith("# EOF")
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    assert families["papyra_actors_alive"].type == "gauge"
    assert families["papyra_messages_processed"].type == "counter"
    assert families["papyra_ask_duration_seconds"].unit == "seconds"
    assert server.stop() == 0

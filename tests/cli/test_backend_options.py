"""Backend selection: --path / --url / --prefix / --system-id on every command that opens a
backend; --url against a real redis-server (tests/redis_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import Result

from papyra.cli.doctor.app import NOTHING_CONFIGURED
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.redis import RedisStreamsPersistence
from papyra.persistence.json import JsonFilePersistence
from tests.redis_server import free_port, redis_backend, shared_server

from .support import write_log

Invoke = Callable[..., Result]
UseBackend = Callable[[Any], Any]

#: Every command that opens a backend, with the arguments it needs to succeed on a clean one.
BACKEND_COMMANDS = [
    ("persistence", "scan"),
    ("persistence", "recover"),
    ("persistence", "startup-check"),
    ("persistence", "compact"),
    ("persistence", "inspect"),
    ("doctor", "run"),
    ("inspect", "events"),
    ("inspect", "audits"),
    ("inspect", "dead-letters"),
    ("inspect", "summary"),
    ("metrics", "persistence"),
]


def assert_one_line_error(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


# -- a real Redis server for --url -------------------------------------------------------------


@dataclass
class Streams:
    """A prefix of our own on the session's redis-server, and a backend to set it up."""

    url: str
    prefix: str
    backend: RedisStreamsPersistence

    def args(self, *extra: str) -> tuple[str, ...]:
        return ("--url", self.url, "--prefix", self.prefix, *extra)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return anyio.run(fn, *args)


@pytest.fixture
def streams() -> Iterator[Streams]:
    backend: RedisStreamsPersistence = redis_backend()
    yield Streams(shared_server().url, backend.config.prefix, backend)
    anyio.run(backend.aclose)


def event(name: str, ts: float) -> dict[str, Any]:
    return {"system_id": "local", "actor_address": "local:1", "event_type": name,
            "payload": {}, "timestamp": ts}


# -- combinations ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
def test_path_and_url_together_is_a_usage_error(
    invoke: Invoke, tmp_path: Path, command: tuple[str, str]
) -> None:
    path = tmp_path / "ev.ndjson"
    result = invoke(*command, "--path", str(path), "--url", "redis://127.0.0.1:6379/0")
    assert_one_line_error(result, 2, "--path and --url cannot be used together")
    assert not path.exists()


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("option", ["--prefix", "--system-id"])
def test_stream_names_without_url_are_a_usage_error(
    invoke: Invoke, use_backend: UseBackend, command: tuple[str, str], option: str
) -> None:
    use_backend(InMemoryPersistence())
    assert_one_line_error(invoke(*command, option, "x"), 2, f"{option} needs --url")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--url", ""), "--url must not be empty"),
        (("--url", "redis://h/0", "--prefix", " "), "--prefix must not be empty"),
        (("--url", "redis://h/0", "--system-id", ""), "--system-id must not be empty"),
        (("--url", "localhost:6379"), "is not a Redis URL"),
        (("--url", "http://h:6379/0"), "is not a Redis URL"),
        (("--url", "redis://h:6379/x"), "invalid database number"),
    ],
)
def test_bad_redis_options_exit_1(invoke: Invoke, args: tuple[str, ...], needle: str) -> None:
    assert_one_line_error(invoke("persistence", "scan", *args), 1, needle)


def test_password_is_not_echoed(invoke: Invoke) -> None:
    result = invoke("persistence", "scan", "--url", "http://admin:hunter2@h:6379/0")
    assert_one_line_error(result, 1, "http://admin:***@h:6379/0")
    assert "hunter2" not in result.stderr


# -- --url works on the Redis backend ----------------------------------------------------------


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
def test_every_command_works_on_redis(
    invoke: Invoke, streams: Streams, command: tuple[str, str]
) -> None:
    streams.run(streams.backend.record_event, event("Started", 1.0))
    result = invoke(*command, *streams.args())
    assert result.exit_code == 0, result.output
    assert NOTHING_CONFIGURED not in result.stderr


def test_inspect_reads_the_streams_of_prefix_and_system_id(
    invoke: Invoke, streams: Streams
) -> None:
    other = redis_backend(prefix=streams.prefix, system_id="billing")
    streams.run(other.record_event, event("BillingStarted", 2.0))
    streams.run(streams.backend.record_event, event("LocalStarted", 1.0))
    anyio.run(other.aclose)
    billing = invoke("inspect", "events", *streams.args("--system-id", "billing"))
    assert billing.exit_code == 0, billing.output
    assert "BillingStarted" in billing.stdout and "LocalStarted" not in billing.stdout
    local = invoke("inspect", "events", *streams.args())
    assert "LocalStarted" in local.stdout and "BillingStarted" not in local.stdout


def test_url_scan_and_recover_report_stream_anomalies(invoke: Invoke, streams: Streams) -> None:
    b = streams.backend
    streams.run(b.record_event, event("Good", 1.0))
    streams.run(b._redis.xadd, b._events_key, {"data": "{broken"})
    result = invoke("persistence", "startup-check", *streams.args())
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        f"✖ CORRUPTED_LINE  {b._events_key}  Invalid JSON payload in stream entry"
    )
    result = invoke("persistence", "recover", *streams.args("--mode", "quarantine"))
    assert result.exit_code == 0, result.output
    assert streams.run(b._redis.xlen, b._quarantine_key(b._events_key)) == 1
    assert invoke("persistence", "scan", *streams.args()).stdout == "✔ Persistence is healthy.\n"


@pytest.mark.parametrize(
    "command",
    [("persistence", "scan"), ("doctor", "run"), ("persistence", "inspect"), ("inspect", "events")],
    ids=" ".join,
)
def test_unreachable_server_is_one_line(invoke: Invoke, command: tuple[str, str]) -> None:
    url = f"redis://user:secret@127.0.0.1:{free_port()}/0"
    result = invoke(*command, "--url", url)
    assert_one_line_error(result, 1, "Cannot reach Redis", "127.0.0.1", "unreachable")
    assert "secret" not in result.stderr


def test_a_key_of_another_type_is_one_line(invoke: Invoke, streams: Streams) -> None:
    b = streams.backend
    streams.run(b._redis.set, b._events_key, "not a stream")
    result = invoke("persistence", "scan", *streams.args())
    assert_one_line_error(result, 1, "refused a command", "WRONGTYPE")


# -- compact with a retention policy ---------------------------------------------------------


def _events(path: Path, timestamps: list[float]) -> None:
    path.write_bytes(
        b"".join(
            b'{"kind":"event","system_id":"local","actor_address":"local:1",'
            b'"event_type":"E%d","payload":{},"timestamp":%r}\n' % (i, ts)
            for i, ts in enumerate(timestamps)
        )
    )


def _types(path: Path) -> list[str]:
    import anyio

    async def read() -> list[str]:
        return [e.event_type for e in await JsonFilePersistence(path).list_events()]

    return anyio.run(read)


def test_compact_max_records(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    _events(path, [1.0, 2.0, 3.0, 4.0])
    result = invoke("persistence", "compact", "--path", str(path), "--max-records", "2")
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[:4] == [
        "ℹ Compaction completed", "ℹ   backend: json", "ℹ   before_records: 4",
        "ℹ   after_records: 2",
    ]
    assert _types(path) == ["E2", "E3"]


def test_compact_max_age_and_max_bytes(invoke: Invoke, tmp_path: Path) -> None:
    import time

    path = tmp_path / "ev.ndjson"
    now = time.time()
    _events(path, [now - 7200, now - 3600, now - 10, now - 5])
    assert invoke("persistence", "compact", "--path", str(path), "--max-age", "600").exit_code == 0
    assert _types(path) == ["E2", "E3"]
    # One record (its repr, as retention measures it) is about 134 bytes: 200 keeps one.
    result = invoke("persistence", "compact", "--path", str(path), "--max-bytes", "200")
    assert result.exit_code == 0
    assert _types(path) == ["E3"]


def test_compact_without_retention_keeps_everything(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    _events(path, [1.0, 2.0, 3.0])
    assert invoke("persistence", "compact", "--path", str(path)).exit_code == 0
    assert _types(path) == ["E0", "E1", "E2"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-records", "0"), ("--max-records", "-3"), ("--max-records", "ten"),
        ("--max-records", "1.5"), ("--max-bytes", "0"), ("--max-bytes", "1k"),
        ("--max-age", "0"), ("--max-age", "-1"), ("--max-age", "nan"), ("--max-age", "inf"),
        ("--max-age", "soon"),
    ],
)
def test_compact_bad_retention_values(
    invoke: Invoke, tmp_path: Path, option: str, value: str
) -> None:
    path = tmp_path / "ev.ndjson"
    _events(path, [1.0, 2.0])
    before = path.read_bytes()
    result = invoke("persistence", "compact", "--path", str(path), option, value)
    assert_one_line_error(result, 2, option)
    assert path.read_bytes() == before


def test_compact_retention_needs_path_or_url(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    result = invoke("persistence", "compact", "--max-records", "5")
    assert_one_line_error(result, 2, "need --path or --url")


def test_compact_retention_with_url(invoke: Invoke, streams: Streams) -> None:
    b = streams.backend

    async def fill() -> None:
        for i in range(300):
            b.record_nowait("event", event(f"E{i}", float(i)))
        await b.flush()

    streams.run(fill)
    result = invoke("persistence", "compact", *streams.args("--max-records", "100"))
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    # MAXLEN ~ trims whole stream nodes: at least 100 stay, and some went.
    assert 100 <= streams.run(b._redis.xlen, b._events_key) < 300
    result = invoke("persistence", "compact", *streams.args("--max-age", "60"))
    assert result.exit_code == 0
    assert "trims by --max-records only" in result.stderr


# -- doctor without a configured store -----------------------------------------------------------


def test_doctor_says_when_it_checked_an_empty_memory_store(invoke: Invoke) -> None:
    # Default settings: an in-memory backend, empty in the papyra process.
    result = invoke("doctor", "run")
    assert (result.exit_code, result.stdout) == (0, "ℹ Persistence is healthy\n")
    assert result.stderr == NOTHING_CONFIGURED + "\n"
    for needle in ("--path", "--url", "PAPYRA_SETTINGS_MODULE", "in-memory"):
        assert needle in result.stderr
    assert invoke("doctor", "run", "--json").stderr == NOTHING_CONFIGURED + "\n"


def test_doctor_is_quiet_about_real_stores(
    invoke: Invoke, tmp_path: Path, use_backend: UseBackend
) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path)
    result = invoke("doctor", "run", "--path", str(path))
    assert (result.exit_code, result.stderr) == (0, "")
    use_backend(JsonFilePersistence(path))
    result = invoke("doctor", "run")
    assert (result.exit_code, result.stderr) == (0, "")

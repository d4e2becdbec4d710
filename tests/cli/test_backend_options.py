"""Backend selection: --path / --url / --prefix / --system-id on every command that opens a
backend, without a Redis server (a stand-in module plays papyra.persistence.backends.redis)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import Result

from papyra.cli._backend import REDIS_MODULE
from papyra.cli.doctor.app import NOTHING_CONFIGURED
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.json import JsonFilePersistence

from .support import CLEAN, anomalous, write_log

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


# -- a stand-in for the Redis backend module --------------------------------------------------


@dataclass
class FakeConfig:
    """The spec'd RedisStreamsConfig fields the CLI sets (persistence.md §9)."""

    url: str = "redis://localhost:6379/0"
    prefix: str = "papyra"
    system_id: str = "local"


class FakeRedis(InMemoryPersistence):
    """Records how it was built; reads and writes in memory."""

    built: ClassVar[list[FakeRedis]] = []
    scan_error: ClassVar[Exception | None] = None

    def __init__(
        self, config: FakeConfig | None = None, *, retention_policy: RetentionPolicy | None = None
    ) -> None:
        super().__init__(retention_policy)
        self.config = config
        self.compacted = False
        FakeRedis.built.append(self)

    async def scan(self) -> Any:
        if FakeRedis.scan_error is not None:
            raise FakeRedis.scan_error
        return CLEAN

    async def list_events(self, *, limit: int | None = None, since: float | None = None) -> Any:
        if FakeRedis.scan_error is not None:
            raise FakeRedis.scan_error
        return await super().list_events(limit=limit, since=since)

    async def compact(self) -> Any:
        self.compacted = True
        return await super().compact()


@pytest.fixture
def fake_redis(monkeypatch: pytest.MonkeyPatch) -> type[FakeRedis]:
    module = types.ModuleType(REDIS_MODULE)
    module.RedisStreamsConfig = FakeConfig  # type: ignore[attr-defined]
    module.RedisStreamsPersistence = FakeRedis  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, REDIS_MODULE, module)
    monkeypatch.setattr(FakeRedis, "built", [])
    monkeypatch.setattr(FakeRedis, "scan_error", None)
    return FakeRedis


# -- combinations ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
def test_path_and_url_together_is_a_usage_error(
    invoke: Invoke, tmp_path: Path, fake_redis: type[FakeRedis], command: tuple[str, str]
) -> None:
    path = tmp_path / "ev.ndjson"
    result = invoke(*command, "--path", str(path), "--url", "redis://127.0.0.1:6379/0")
    assert_one_line_error(result, 2, "--path and --url cannot be used together")
    assert fake_redis.built == [] and not path.exists()


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
    ],
)
def test_bad_redis_options_exit_1(
    invoke: Invoke, fake_redis: type[FakeRedis], args: tuple[str, ...], needle: str
) -> None:
    assert_one_line_error(invoke("persistence", "scan", *args), 1, needle)
    assert fake_redis.built == []


def test_password_is_not_echoed(invoke: Invoke) -> None:
    result = invoke("persistence", "scan", "--url", "http://admin:hunter2@h:6379/0")
    assert_one_line_error(result, 1, "http://admin:***@h:6379/0")
    assert "hunter2" not in result.stderr


# -- --url builds the Redis backend --------------------------------------------------------


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
def test_url_builds_redis_streams_backend(
    invoke: Invoke, fake_redis: type[FakeRedis], command: tuple[str, str]
) -> None:
    result = invoke(*command, "--url", "redis://127.0.0.1:6379/3")
    assert result.exit_code == 0, result.output
    [backend] = fake_redis.built
    assert backend.config == FakeConfig("redis://127.0.0.1:6379/3", "papyra", "local")
    assert backend.closed
    assert NOTHING_CONFIGURED not in result.stderr


def test_url_prefix_and_system_id(invoke: Invoke, fake_redis: type[FakeRedis]) -> None:
    result = invoke(
        "persistence", "scan", "--url", "rediss://h:6380/1", "--prefix", "acme",
        "--system-id", "billing",
    )
    assert (result.exit_code, result.stdout) == (0, "✔ Persistence is healthy.\n")
    [backend] = fake_redis.built
    assert backend.config == FakeConfig("rediss://h:6380/1", "acme", "billing")
    assert backend.retention == RetentionPolicy()


def test_url_scan_reports_stream_anomalies(
    invoke: Invoke, fake_redis: type[FakeRedis], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = anomalous("Invalid JSON payload in stream entry")
    report = type(report)(
        "redis",
        tuple(type(a)(a.type, "papyra:local:events", a.detail) for a in report.anomalies),
    )

    async def scan(self: FakeRedis) -> Any:
        return report

    monkeypatch.setattr(FakeRedis, "scan", scan)
    result = invoke("persistence", "startup-check", "--url", "redis://h/0")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        "✖ CORRUPTED_LINE  papyra:local:events  Invalid JSON payload in stream entry"
    )


def test_backend_module_missing_is_one_line(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, REDIS_MODULE, None)  # import raises ImportError
    result = invoke("doctor", "run", "--url", "redis://127.0.0.1:6379/0")
    assert_one_line_error(result, 1, "the Redis backend is not available")


def test_client_library_missing_is_one_line(
    invoke: Invoke, fake_redis: type[FakeRedis], monkeypatch: pytest.MonkeyPatch
) -> None:
    message = (
        "Redis backend requires optional dependency 'redis'. Install with: "
        "pip install papyra[redis] or pip install redis"
    )

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message)

    monkeypatch.setattr(sys.modules[REDIS_MODULE], "RedisStreamsPersistence", missing)
    result = invoke("persistence", "inspect", "--url", "redis://127.0.0.1:6379/0")
    assert_one_line_error(result, 1, message)


#: Stands for a client library's connection error (redis-py's, coredis's): same class name,
#: not an OSError.
ClientConnectionError: type[Exception] = type("ConnectionError", (Exception,), {})


@pytest.mark.parametrize(
    "exc",
    [
        ClientConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["client-error", "os-error"],
)
@pytest.mark.parametrize(
    "command",
    [("persistence", "scan"), ("doctor", "run"), ("persistence", "inspect"), ("inspect", "events")],
    ids=" ".join,
)
def test_unreachable_server_is_one_line(
    invoke: Invoke, fake_redis: type[FakeRedis], exc: Exception, command: tuple[str, str]
) -> None:
    fake_redis.scan_error = exc
    result = invoke(*command, "--url", "redis://user:secret@127.0.0.1:1/0")
    assert_one_line_error(
        result, 1, "Cannot reach Redis at redis://user:***@127.0.0.1:1/0", "refused"
    )
    assert "secret" not in result.stderr
    assert all(b.closed for b in fake_redis.built)


def test_other_backend_errors_still_propagate(
    invoke: Invoke, fake_redis: type[FakeRedis]
) -> None:
    fake_redis.scan_error = ValueError("a bug")
    with pytest.raises(ValueError, match="a bug"):
        invoke("persistence", "scan", "--url", "redis://h/0")


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


def test_compact_retention_with_url(invoke: Invoke, fake_redis: type[FakeRedis]) -> None:
    result = invoke("persistence", "compact", "--url", "redis://h/0", "--max-records", "100")
    assert result.exit_code == 0
    assert result.stderr == ""
    [backend] = fake_redis.built
    assert backend.retention == RetentionPolicy(max_records=100)
    assert backend.compacted
    result = invoke(
        "persistence", "compact", "--url", "redis://h/0", "--max-age", "60", "--max-bytes", "10"
    )
    assert result.exit_code == 0
    assert fake_redis.built[1].retention == RetentionPolicy(
        max_age_seconds=60.0, max_total_bytes=10
    )
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

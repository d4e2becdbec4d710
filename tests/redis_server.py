"""Real ``redis-server`` processes for the tests: started on 127.0.0.1 on a free port, stopped
afterwards. No fakes: the Redis backend is tested against the server it will meet.

``redis-server`` must be on ``PATH`` (Debian/Ubuntu: ``apt-get install redis-server``; macOS:
``brew install redis``). Without it the Redis tests skip, saying so; with
``PAPYRA_REQUIRE_REDIS=1`` (set by ``.ci/run``) they fail instead, so CI cannot pass without
having run them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any

import pytest

REQUIRE_REDIS = os.environ.get("PAPYRA_REQUIRE_REDIS", "") not in ("", "0")
HOW_TO_GET_IT = (
    "redis-server not found on PATH: install it (apt-get install redis-server / "
    "brew install redis) to run the Redis tests"
)


def no_server() -> None:
    """Skip the calling test (fail it under ``PAPYRA_REQUIRE_REDIS=1``)."""
    if REQUIRE_REDIS:
        pytest.fail(HOW_TO_GET_IT + " (PAPYRA_REQUIRE_REDIS=1 makes this an error)")
    pytest.skip(HOW_TO_GET_IT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process without persistence, bound to 127.0.0.1."""

    def __init__(self, port: int | None = None, *, durable: bool = False) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            no_server()
        assert exe is not None
        self.exe = exe
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="papyra-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        # durable: an append-only file synced on every write, so a killed server keeps every
        # write it acknowledged (the fault tests restart it and count records).
        self.durable = durable

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and return once it answers ``PING``."""
        self.proc = subprocess.Popen(
            [
                self.exe, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", self.dir, "--loglevel", "warning",
                "--enable-debug-command", "local",
                *(["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                  else ["--appendonly", "no"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def answers(self, timeout: float = 0.5) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server (SIGKILL: a crash, nothing flushed) and wait for it to exit."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self, seconds: float) -> socket.socket:
        """Keep the server busy for ``seconds`` (``DEBUG SLEEP``): it accepts bytes but runs
        nothing. Returns once it has stopped answering, with the socket that will get the
        ``+OK`` when it wakes (``recv`` on it waits for that)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=seconds + 10)
        sock.sendall(_encode("DEBUG", "SLEEP", str(seconds)))
        deadline = time.monotonic() + 5
        while self.answers(timeout=0.05):
            if time.monotonic() > deadline:
                raise RuntimeError("DEBUG SLEEP did not take effect")
        return sock

    def command(self, *args: str) -> bytes:
        """Run one command over a plain socket (independent of Papyra's client)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(_encode(*args))
            return s.recv(65536)


def _encode(*args: str) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args
    )


_shared: RedisServer | None = None


def shared_server() -> RedisServer:
    """The session's server, started on first use and killed when the interpreter exits."""
    global _shared
    if _shared is None or _shared.proc is None:
        server = RedisServer()
        server.start()
        atexit.register(server.stop)
        _shared = server
    return _shared


def unique_prefix() -> str:
    """A key prefix no other test uses: tests share the server, never each other's streams."""
    return f"t{uuid.uuid4().hex[:12]}"


def redis_backend(url: str | None = None, **config: Any) -> Any:
    """A ``RedisStreamsPersistence`` on the shared server (or ``url``), under a fresh prefix.

    Keyword arguments go to ``RedisStreamsConfig``, except ``retention_policy``, ``strict`` and
    ``_ndjson`` which go to the backend.
    """
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    backend_kwargs = {k: config.pop(k) for k in ("retention_policy", "strict", "_ndjson")
                      if k in config}
    config.setdefault("prefix", unique_prefix())
    cfg = RedisStreamsConfig(url=url or shared_server().url, **config)
    return RedisStreamsPersistence(cfg, **backend_kwargs)

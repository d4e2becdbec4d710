"""``papyra inspect events --follow``: new events are printed once each, until Ctrl-C (exit 0).

The command runs as the installed console script in a child process; the test appends to the
file, waits (polling with a deadline) until the output shows what it expects, then sends
SIGINT. The poller for other backends runs in-process under a cancel scope.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import Result

from papyra.cli._follow import FileTail, Watermark, follow
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.json import JsonFilePersistence

from .support import PAPYRA_BIN, event

Invoke = Callable[..., Result]

DEADLINE = 15.0


def line(i: int, ts: float, event_type: str | None = None) -> bytes:
    return (
        b'{"kind":"event","system_id":"local","actor_address":"local:1",'
        b'"event_type":"%s","payload":{},"timestamp":%r}\n'
        % ((event_type or f"E{i}").encode(), ts)
    )


def shown(i: int, ts: float, event_type: str | None = None) -> str:
    return f"ℹ [{ts:.3f}] {event_type or f'E{i}'} local:1"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds; fail after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class Follower:
    """``papyra inspect events --follow ...`` in a child process, its stdout read by a thread."""

    def __init__(self, *args: str, cwd: Path) -> None:
        assert PAPYRA_BIN is not None
        env = {k: v for k, v in os.environ.items() if k != "PAPYRA_SETTINGS_MODULE"}
        self.proc = subprocess.Popen(
            [PAPYRA_BIN, "inspect", "events", "--follow", "--interval", "0.02", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            with self._lock:
                self._lines.append(text.rstrip("\n"))

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def wait_for(self, expected: list[str]) -> None:
        """Wait until the output is at least ``expected`` lines long, then compare all of it."""
        wait_until(lambda: len(self.lines) >= len(expected) or self.proc.poll() is not None,
                   f"{expected[len(self.lines):]} in the output")
        assert self.lines == expected

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and stderr."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


needs_script = pytest.mark.skipif(
    PAPYRA_BIN is None, reason="console script not installed (pip install -e .)"
)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Follower]]:
    followers: list[Follower] = []

    def run(*args: str) -> Follower:
        follower = Follower(*args, cwd=tmp_path)
        followers.append(follower)
        return follower

    yield run
    for follower in followers:
        follower.close()


@needs_script
def test_follow_prints_new_events_until_ctrl_c(
    tmp_path: Path, start: Callable[..., Follower]
) -> None:
    path = tmp_path / "ev.ndjson"
    path.write_bytes(line(0, 1.0) + line(1, 2.0))
    follower = start("--path", "ev.ndjson")
    follower.wait_for([shown(0, 1.0), shown(1, 2.0)])

    # A record written by the JSON backend itself, then raw lines: one with the timestamp
    # already shown (a different record: printed), one with an older timestamp (appended
    # later: printed, in file order), one torn in two writes (printed once complete).
    async def write() -> None:
        backend = JsonFilePersistence(path)
        await backend.record_event(event(3.0, "E2"))
        await backend.aclose()

    anyio.run(write)
    follower.wait_for([shown(0, 1.0), shown(1, 2.0), shown(2, 3.0)])
    append(path, line(3, 3.0) + line(4, 0.5))
    follower.wait_for([shown(0, 1.0), shown(1, 2.0), shown(2, 3.0), shown(3, 3.0), shown(4, 0.5)])
    whole = line(5, 4.0)
    append(path, whole[:30])
    append(path, whole[30:] + b"not json\n" + line(6, 5.0))
    expected = [shown(i, ts) for i, ts in enumerate([1.0, 2.0, 3.0, 3.0, 0.5, 4.0, 5.0])]
    follower.wait_for(expected)

    code, stderr = follower.interrupt()
    assert (code, stderr) == (0, "")
    assert follower.lines == expected


@needs_script
def test_follow_event_type_limit_and_other_kinds(
    tmp_path: Path, start: Callable[..., Follower]
) -> None:
    path = tmp_path / "ev.ndjson"
    path.write_bytes(line(0, 1.0, "Tick") + line(1, 2.0, "Tock") + line(2, 3.0, "Tick"))
    follower = start("--path", "ev.ndjson", "--event-type", "Tick", "--limit", "1")
    follower.wait_for([shown(2, 3.0, "Tick")])
    append(
        path,
        line(3, 4.0, "Tock")
        + b'{"kind":"dead_letter","system_id":"local","target":"local:1",'
        b'"message_type":"str","payload":"x","timestamp":4.5}\n'
        + line(4, 5.0, "Tick"),
    )
    follower.wait_for([shown(2, 3.0, "Tick"), shown(4, 5.0, "Tick")])
    assert follower.interrupt() == (0, "")
    assert follower.lines == [shown(2, 3.0, "Tick"), shown(4, 5.0, "Tick")]


@needs_script
def test_follow_across_compaction_does_not_reprint(
    tmp_path: Path, start: Callable[..., Follower], invoke: Invoke
) -> None:
    path = tmp_path / "ev.ndjson"
    path.write_bytes(b"".join(line(i, float(i)) for i in range(4)))
    inode = path.stat().st_ino
    follower = start("--path", "ev.ndjson")
    first = [shown(i, float(i)) for i in range(4)]
    follower.wait_for(first)
    result = invoke("persistence", "compact", "--path", str(path), "--max-records", "2")
    assert result.exit_code == 0
    assert path.stat().st_ino != inode  # a new file was moved into place
    append(path, line(4, 4.0))
    follower.wait_for([*first, shown(4, 4.0)])
    assert follower.interrupt() == (0, "")
    assert follower.lines == [*first, shown(4, 4.0)]


@needs_script
def test_follow_after_truncation_and_a_missing_file(
    tmp_path: Path, start: Callable[..., Follower]
) -> None:
    path = tmp_path / "ev.ndjson"
    follower = start("--path", "ev.ndjson")  # no file yet: an empty log
    path.write_bytes(b"".join(line(i, float(i)) for i in range(1, 4)))
    first = [shown(i, float(i)) for i in range(1, 4)]
    follower.wait_for(first)
    with open(path, "r+b") as f:  # the same file, emptied, then a newer record
        f.truncate(0)
    append(path, line(9, 9.0))
    follower.wait_for([*first, shown(9, 9.0)])
    assert follower.interrupt() == (0, "")
    assert follower.lines == [*first, shown(9, 9.0)]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--follow", "--json"), "--json cannot be used with --follow"),
        (("--follow", "--reverse"), "--reverse cannot be used with --follow"),
        (("--interval", "1"), "--interval needs --follow"),
        (("--follow", "--interval", "0"), "--interval"),
        (("--follow", "--interval", "-1"), "--interval"),
        (("--follow", "--interval", "often"), "--interval"),
    ],
)
def test_follow_usage_errors(invoke: Invoke, args: tuple[str, ...], needle: str) -> None:
    result = invoke("inspect", "events", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and needle in result.stderr


def test_follow_ctrl_c_in_process_exits_0(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command turns KeyboardInterrupt (what asyncio raises on SIGINT) into exit code 0."""
    import papyra.cli.inspect.app as module

    path = tmp_path / "ev.ndjson"
    path.write_bytes(line(0, 1.0))

    async def interrupted(backend: Any, kind: str, **kwargs: Any) -> None:
        kwargs["emit"](event(1.0, "E0"))
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "follow", interrupted)
    result = invoke("inspect", "events", "--follow", "--path", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (0, shown(0, 1.0) + "\n", "")


# -- the poller itself --------------------------------------------------------------------------


async def _collect_while(
    backend: Any, out: list[Any], steps: list[tuple[Callable[[], Any], int]], **kwargs: Any
) -> None:
    """Run ``follow`` and, for each step, do it and wait until ``out`` holds ``n`` records."""
    changed = anyio.Event()

    def emit(record: Any) -> None:
        out.append(record)
        changed.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: follow(
                backend, "event", emit=emit, interval=0.005,
                **{"limit": None, "since": None, **kwargs},
            )
        )
        with anyio.fail_after(DEADLINE):
            for action, n in steps:
                await action()
                while len(out) < n:
                    await changed.wait()
                    changed = anyio.Event()
        tg.cancel_scope.cancel()


def test_poller_on_any_backend_prints_each_record_once() -> None:
    backend = InMemoryPersistence()
    out: list[Any] = []
    a, b = event(1.0, "A"), event(2.0, "B")
    same_time, duplicate, older = event(2.0, "C"), event(2.0, "B"), event(1.5, "old")
    later = event(3.0, "D")

    async def first() -> None:
        await backend.record_event(a)
        await backend.record_event(b)

    async def more() -> None:
        for e in (same_time, duplicate, older):
            await backend.record_event(e)

    async def last() -> None:
        await backend.record_event(later)

    async def main() -> None:
        await first()
        await _collect_while(backend, out, [(anyio.lowlevel.checkpoint, 2), (more, 4), (last, 5)])

    anyio.run(main)
    # A new record at the newest timestamp shown (C, and a second B) is printed; one written
    # later with an older timestamp is not (documented: timestamps are all a backend offers).
    assert [e.event_type for e in out] == ["A", "B", "C", "B", "D"]


def test_poller_since_and_limit() -> None:
    backend = InMemoryPersistence()
    out: list[Any] = []

    async def main() -> None:
        for ts in (1.0, 2.0, 3.0, 4.0):
            await backend.record_event(event(ts, f"E{ts:g}"))

        async def add() -> None:
            await backend.record_event(event(2.5, "late"))
            await backend.record_event(event(5.0, "E5"))

        await _collect_while(
            backend, out, [(anyio.lowlevel.checkpoint, 1), (add, 2)], limit=1, since=2.0
        )

    anyio.run(main)
    assert [e.event_type for e in out] == ["E4", "E5"]


def test_file_tail_skips_what_the_first_listing_already_showed(tmp_path: Path) -> None:
    """The file grew while the first listing read it: those records are not printed twice."""
    path = tmp_path / "ev.ndjson"
    path.write_bytes(line(0, 1.0))
    tail = FileTail(path, "event")
    before = tail.size()
    append(path, line(1, 2.0))

    async def listing() -> Any:
        return await JsonFilePersistence(path).list_events()

    listed = anyio.run(listing)
    assert [e.event_type for e in listed] == ["E0", "E1"]
    tail.begin(before, listed)
    mark = Watermark()
    for e in listed:
        mark.note(e)
    append(path, line(2, 3.0))
    assert [e.event_type for e in tail.read(mark)] == ["E2"]
    append(path, line(1, 2.0))  # the same record again, after the overlap: a new one
    assert [e.event_type for e in tail.read(mark)] == ["E1"]
    assert tail.read(mark) == []


def test_file_tail_reread_after_replacement(tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    path.write_bytes(line(0, 1.0) + line(1, 2.0) + line(2, 2.0))
    tail = FileTail(path, "event")
    tail.begin(0, ())
    mark = Watermark()
    assert [e.event_type for e in tail.read(mark)] == ["E0", "E1", "E2"]

    async def compact() -> None:
        await JsonFilePersistence(path, RetentionPolicy(max_records=2)).compact()

    anyio.run(compact)
    append(path, line(3, 2.0) + line(4, 3.0))
    # E1 and E2 survive the compaction and were printed; E3 shares their timestamp but is new.
    assert [e.event_type for e in tail.read(mark)] == ["E3", "E4"]


@needs_script
def test_follow_on_redis_prints_new_events_until_ctrl_c(start: Callable[..., Follower]) -> None:
    from tests.redis_server import redis_backend, shared_server

    backend = redis_backend()

    async def record(*stamps: float) -> None:
        for ts in stamps:
            await backend.record_event(event(ts, f"R{ts:g}"))

    anyio.run(record, 1.0, 2.0)
    follower = start("--url", shared_server().url, "--prefix", backend.config.prefix)
    first = [shown(0, 1.0, "R1"), shown(0, 2.0, "R2")]
    follower.wait_for(first)
    anyio.run(record, 3.0, 4.0)
    follower.wait_for([*first, shown(0, 3.0, "R3"), shown(0, 4.0, "R4")])
    code, stderr = follower.interrupt()
    assert (code, stderr) == (0, "")
    anyio.run(backend.aclose)

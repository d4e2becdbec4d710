"""``GroupCommitter`` with a scripted flush: what each caller of a partly written group learns."""

from __future__ import annotations

import anyio
import pytest

from papyra.persistence._file.append import FsyncMode, GroupCommitter, PartialWrite

pytestmark = pytest.mark.anyio


class Script:
    """A flush that stores lines, failing the way it is told to, once."""

    def __init__(self, fail_after: int, error: Exception) -> None:
        self.stored: list[bytes] = []
        self.calls: list[tuple[list[bytes], bool]] = []
        self.fail_after = fail_after
        self.error: Exception | None = error
        self.synced = 0

    def flush(self, lines: list[bytes], blocking: bool) -> int:
        self.calls.append((list(lines), blocking))
        if self.error is not None:
            error, self.error = self.error, None
            self.stored += lines[: self.fail_after]
            raise PartialWrite(self.fail_after, error)
        self.stored += lines
        return sum(map(len, lines))

    def sync(self) -> None:
        self.synced += 1


async def run_group(committer: GroupCommitter, lines: list[bytes]) -> dict[bytes, str]:
    outcome: dict[bytes, str] = {}

    async def submit(line: bytes) -> None:
        try:
            await committer.submit(line)
        except Exception as exc:
            outcome[line] = type(exc).__name__
        else:
            outcome[line] = "ok"

    async with anyio.create_task_group() as tg:
        for line in lines:
            tg.start_soon(submit, line)
    return outcome


@pytest.mark.parametrize("mode", ["never", "batch", "always"])
async def test_callers_of_stored_lines_succeed_and_the_others_get_the_error(
    mode: FsyncMode,
) -> None:
    script = Script(2, OSError(28, "No space left on device"))
    committer = GroupCommitter(script.flush, script.sync, mode, anyio.Lock())
    counted: list[tuple[str, int]] = []
    committer.on_written = lambda records, nbytes: counted.append(("written", records))
    committer.on_failed = lambda records: counted.append(("failed", records))
    outcome = await run_group(committer, [b"a\n", b"b\n", b"c\n"])
    group = script.calls[0][0]  # the order the tasks joined (trio starts them in any order)
    assert len(group) == 3 and script.stored == group[:2]
    assert outcome == {group[0]: "ok", group[1]: "ok", group[2]: "OSError"}
    assert counted == [("written", 2), ("failed", 1)]
    # "batch" and "always" sync what was stored before the callers can rely on it.
    assert script.synced == (0 if mode == "never" else 1)
    committer.add_nowait(b"d\n")
    script.error, script.fail_after = OSError(28, "No space left on device"), 0
    with pytest.raises(OSError, match="No space"):
        await committer.flush()  # the system's path: it learns that the group failed


async def test_the_rest_of_a_group_waits_for_the_lock_instead_of_failing() -> None:
    # The first append went in; the second found another process's rewrite lock.
    script = Script(1, BlockingIOError())
    committer = GroupCommitter(script.flush, script.sync, "never", anyio.Lock())
    outcome = await run_group(committer, [b"a\n", b"b\n", b"c\n"])
    assert outcome == dict.fromkeys([b"a\n", b"b\n", b"c\n"], "ok")
    group = script.calls[0][0]
    assert sorted(group) == [b"a\n", b"b\n", b"c\n"]
    assert script.stored == group  # each once, in order
    # Only the rest is written again (another non-blocking attempt first: the lock is free).
    assert script.calls == [(group, False), (group[1:], False)]


async def test_flush_with_nothing_queued_waits_for_the_group_being_written() -> None:
    import threading

    script = Script(0, OSError())
    script.error = None
    entered, release = threading.Event(), threading.Event()

    def slow_sync() -> None:
        entered.set()
        release.wait()

    committer = GroupCommitter(script.flush, slow_sync, "always", anyio.Lock())
    flushed = False

    async def flush() -> None:
        nonlocal flushed
        await committer.flush()
        flushed = True

    with anyio.fail_after(10):  # a flush that waited only for the empty open group hung
        async with anyio.create_task_group() as tg:
            tg.start_soon(committer.submit, b"a\n")
            await anyio.to_thread.run_sync(entered.wait)  # the write is in its fsync
            tg.start_soon(flush)
            await anyio.wait_all_tasks_blocked()
            assert not flushed  # the record it covers is not synced yet
            release.set()
    assert flushed and script.stored == [b"a\n"]

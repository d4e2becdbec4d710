"""Real processes: SIGKILL mid-stream or mid-rewrite, a compaction in another process, and a
file that cannot grow (RLIMIT_FSIZE, standing in for a full disk)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import orjson
import pytest

from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)

CHILD = Path(__file__).with_name("_child.py")
ROOT = Path(__file__).resolve().parents[3]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, env=env, cwd=str(ROOT)
    )


def ids_in(path: Path) -> set[int]:
    found = set()
    for line in path.read_bytes().split(b"\n"):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.add(value["payload"]["id"])
    return found


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "crash.ndjson"
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    for round_no in range(6):
        child = spawn("write", str(path), str(round_no * 1_000_000))
        assert child.stdout is not None
        wanted = rng.randint(50, 400)
        got = 0
        try:
            while got < wanted:
                line = child.stdout.readline()
                assert line, "writer exited early"
                acknowledged.add(int(line))
                got += 1
        finally:
            child.send_signal(signal.SIGKILL)
            # Acknowledgements already in the pipe were returned calls as well.
            rest = child.communicate()[0]
            acknowledged.update(int(x) for x in rest.split())
        backend = JsonFilePersistence(path)
        report = anyio.run(backend.scan)
        # At most a truncated last line: never a corrupted line in the middle.
        assert all(a.type is PersistenceAnomalyType.TRUNCATED_LINE for a in report.anomalies)
        assert len(report.anomalies) <= 1
        assert acknowledged <= ids_in(path)
        if report.anomalies:
            anyio.run(backend.recover, PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
            assert acknowledged <= ids_in(path)


@pytest.mark.slow
def test_compaction_in_another_process_does_not_lose_our_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.ndjson"
    backend = JsonFilePersistence(path)
    total = 3000

    async def main() -> None:
        await backend.record_event({"payload": {"id": -1}, "timestamp": 0.0})
        child = spawn("compact", str(path), "40")
        try:
            for i in range(total):
                await backend.record_event({"payload": {"id": i}, "timestamp": float(i)})
                if i % 64 == 0:
                    await anyio.sleep(0.001)  # let the other process interleave, not a sync point
        finally:
            out, _ = await anyio.to_thread.run_sync(child.communicate)
        assert out.strip() == b"done"

    anyio.run(main)
    assert set(range(total)) | {-1} <= ids_in(path)
    assert len(anyio.run(backend.list_events)) == total + 1


# -- a write that fails halfway (a full disk) leaves nothing behind ------------------------------


def lines_of(*paths: Path) -> list[str]:
    """The event types of every line of ``paths``, in order (fails on a line that is not JSON)."""
    return [orjson.loads(line)["event_type"] for p in paths for line in p.read_bytes().splitlines()]


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ")
def test_a_failed_append_is_taken_back_so_a_retry_stores_the_record_once(tmp_path: Path) -> None:
    path = tmp_path / "full.ndjson"
    out, _ = spawn("diskfull", str(path), "json").communicate()
    assert orjson.loads(out) == {"b": "EFBIG"}  # the write was reported failed ...
    assert lines_of(path) == ["a", "b"]  # ... left no partial line, and the retry added one
    assert anyio.run(JsonFilePersistence(path).scan).anomalies == ()


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ")
def test_a_group_split_by_a_rotation_fails_only_for_the_records_not_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "full.ndjson"
    out, _ = spawn("diskfull", str(path), "rotating").communicate()
    # a and b went into the file that was then rotated away: their callers were told so.
    assert orjson.loads(out) == {"a": "ok", "b": "ok", "c": "EFBIG"}
    assert lines_of(path.with_name("full.ndjson.1")) == ["a", "b"]
    assert lines_of(path) == ["c"]  # the failed attempt left nothing; the retry stored it once


# -- a crash at every step of a rewrite's install (see papyra.persistence._file.rewrite) -------


def record(i: int) -> bytes:
    return b'{"kind":"event","timestamp":%d,"event_type":"e%d"}\n' % (i, i)


L = len(record(0))
ROTATING_OLD = {  # slot suffix -> content; max_bytes=2*L+1 holds two records per file
    ".3": record(0) + b"junk\n",
    ".2": record(1) + b"junk\n",
    ".1": record(2) + record(3),
    "": record(4) + record(5) + b"junk\n",
}
JSON_OLD = record(0) + b"junk\n" + record(1) + record(2) + b'{"kind":"ev'


def run_rewrite(path: Path, kind: str, op: str, step: int, keep: int, qdir: Path | None) -> bool:
    """Run the operation in a child killed before its ``step``-th file change.

    True if the child finished.
    """
    args = ["rewrite", str(path), kind, op, str(step), str(2 * L + 1), "4", str(keep)]
    if qdir is not None:
        args.append(str(qdir))
    out, _ = spawn(*args).communicate()
    return out.strip() == b"done"


def seed(directory: Path, kind: str) -> tuple[Path, list[Path]]:
    """Write the old set; return the backend path and its slots, newest first."""
    directory.mkdir()
    if kind == "json":
        path = directory / "j.ndjson"
        path.write_bytes(JSON_OLD)
        return path, [path]
    path = directory / "r.ndjson"
    for suffix, content in ROTATING_OLD.items():
        path.with_name(path.name + suffix).write_bytes(content)
    return path, [path, *(path.with_name(f"r.ndjson.{i}") for i in (1, 2, 3))]


def backend_for(kind: str, path: Path, keep: int) -> JsonFilePersistence | RotatingFilePersistence:
    """The backend the child of :func:`run_rewrite` uses."""
    policy = RetentionPolicy(max_records=keep) if keep >= 0 else None
    if kind == "json":
        return JsonFilePersistence(path, policy)
    return RotatingFilePersistence(path, max_bytes=2 * L + 1, max_files=4, retention_policy=policy)


def contents(slots: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in slots if p.exists()}


def finish_by_hand(slots: list[Path], suffix: str) -> dict[str, bytes]:
    """The set once the documented roll-forward is done (staged files moved onto their slots)."""
    staged = [i for i, p in enumerate(slots) if p.with_name(p.name + suffix).exists()]
    if not staged:
        return contents(slots)
    state = {}
    for slot in slots[: staged[-1] + 1]:
        name = slot.with_name(slot.name + suffix)
        source = name if name.exists() else slot
        if source.exists():
            state[slot.name] = source.read_bytes()
    return state


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "op", "keep"),
    [
        ("rotating", "compact", 3),  # 4 files -> 2
        ("rotating", "compact", 0),  # 4 files -> none
        ("rotating", "quarantine", -1),  # 4 files -> 3, old files linked first
        ("json", "quarantine", -1),
        ("json", "compact", 2),
    ],
)
def test_a_crash_at_any_step_of_an_install_leaves_a_documented_state(
    tmp_path: Path, kind: str, op: str, keep: int
) -> None:
    suffix = ".compact.tmp" if op == "compact" else ".recovered.tmp"
    # The expected new set: the same operation, run to the end.
    path, slots = seed(tmp_path / "expected", kind)
    expected_q = tmp_path / "expected-q" if op == "quarantine" else None
    assert run_rewrite(path, kind, op, -1, keep, expected_q)
    new = contents(slots)
    old_files = sorted(contents(seed(tmp_path / "old", kind)[1]).values())
    states = []
    for step in range(50):
        work = tmp_path / f"step{step}"
        qdir = tmp_path / f"q{step}" if op == "quarantine" else None
        path, slots = seed(work, kind)
        old = contents(slots)
        finished = run_rewrite(path, kind, op, step, keep, qdir)
        current = contents(slots)
        chunk_files = [n for n in os.listdir(work) if n.startswith(path.name + suffix + ".")]
        if finished:
            assert current == new and not chunk_files
            assert not [n for n in os.listdir(work) if n.endswith(suffix)]
            states.append("new")
            break
        if current == old:
            states.append("old")
        elif not new:  # a compaction keeping nothing: the newest old files remain, whole
            present = [p.name for p in slots if p.name in current]
            assert present == [p.name for p in slots[: len(present)]]
            assert all(current[name] == old[name] for name in present)
            states.append("old minus its oldest files")
        else:
            assert not chunk_files
            assert finish_by_hand(slots, suffix) == new
            states.append("mixed, flagged by staged files")
        if qdir is not None and current != old:
            assert sorted(p.read_bytes() for p in qdir.iterdir()) == old_files
        # What the next startup check (or compaction, or recovery) does with it: a crash
        # before the set changed is undone, one after is finished; no temp file remains.
        staged = [p for p in slots if p.with_name(p.name + suffix).exists()]
        handled = anyio.run(backend_for(kind, path, keep).clean_up_rewrites)
        assert not [n for n in os.listdir(work) if suffix in n]
        if kind == "rotating" and staged and not chunk_files:
            assert contents(slots) == new
        else:
            assert contents(slots) == current
        assert bool(handled) == bool(staged or chunk_files)
    else:
        pytest.fail("the operation never finished")
    assert states[0] == "old" and states[-1] == "new"
    if kind == "rotating":
        assert len(set(states)) == 3, states

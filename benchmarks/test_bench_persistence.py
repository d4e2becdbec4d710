"""Persistence throughput beside same-run baselines.

Run: ``pytest benchmarks --benchmark-only --benchmark-enable``.

Each benchmark runs the Papyra operation and a plain baseline doing the least work that gives
the same answer, and reports ``ratio = papyra / baseline`` (lower is better; 1.0 = as fast as
the baseline) in ``benchmark.extra_info`` and on stdout, with the peak RSS of the process.

* write: ``record_event`` of N records (plain dicts), one writer and 16 concurrent writers,
  every record flushed to the OS before its call returns -- baseline: orjson encode + buffered
  write loop;
* write with ``fsync="batch"`` / ``"always"`` -- baseline: the same loop paying the same syncs
  (16 writers: one ``fdatasync`` per 16 records, what a group of 16 waiting writers costs; one
  writer with ``"always"``: one per record);
* scan of a 1,000,000-line log -- baseline: counting its lines, ``bytes.count(b"\n")`` over
  the blocks of a streaming read (the least work that touches every byte);
* repair of that log -- baseline: an unvalidated copy of the whole file (``shutil.copyfile``,
  a kernel copy on Linux), fsynced as recovery must be;
* compaction of that log to 100,000 records -- baseline: raw copy of the last N lines;
* ``list_events(limit=10)`` -- baseline: split + ``orjson.loads`` of every line;
* Redis, on a real ``redis-server``: ``record_event`` from 16 concurrent writers, and facts
  handed over with ``record_nowait`` + one ``flush`` -- baseline: the same entry bytes sent as
  pipelined ``XADD``s by the same client, 16 per round trip (what 16 waiting writers can have
  in flight) and 1,000 per round trip (the client's ceiling).
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

WRITES = 20_000
#: Records of the fsync rows: a sync costs ~0.1-10 ms, so fewer records keep a round short.
SYNC_WRITES = 2_000
KEEP = 100_000
BLOCK = 4 * 1024 * 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_runs(fn: Callable[[], Any], rounds: int) -> list[float]:
    """Seconds taken by each of ``rounds`` calls of ``fn``."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def timed(fn: Callable[[], Any], rounds: int = 2) -> float:
    """The shortest of ``rounds`` timed calls of ``fn``, seconds."""
    return min(timed_runs(fn, rounds))


#: Goals of the issue, as throughput relative to the same-run baseline (higher is better).
GOALS = {
    "write 16 writer(s)": 0.5,
    "redis write 16 writers": 0.5,
    "redis facts vs x1000": 0.5,
    "scan 1M lines": 0.5,
    "repair 1M lines": 0.5,
    "compact 1M -> 100k": 1.0,
}

#: Where report() adds its summary row (set per test by the fixture below).
_summary: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _summary_target(baselines: Any, impl: Any) -> None:
    _summary["store"] = baselines
    _summary["impl"] = impl.name


def report(benchmark: Any, name: str, baseline_s: float, units: int, unit: str) -> None:
    """Record ``papyra time / baseline time`` and add a row to the session's ratio table.

    The table (benchmarks/conftest.py) states throughput relative to the baseline, like the
    runtime rows: ``baseline time / papyra time``, higher is better. Nothing to report when
    benchmarking is disabled (the ``pytest benchmarks`` smoke run: one untimed round).
    """
    if benchmark.stats is None:
        return
    ours = benchmark.stats.stats.min
    ratio = ours / baseline_s
    store = _summary.get("store")
    if store is not None:
        store.add_row(
            name, _summary["impl"], unit, units / ours, units / baseline_s, baseline_s / ours,
            GOALS.get(name),
        )
    benchmark.extra_info.update(
        baseline_s=round(baseline_s, 4),
        ratio=round(ratio, 2),
        rate=f"{units / ours:,.0f} {unit}/s",
        baseline_rate=f"{units / baseline_s:,.0f} {unit}/s",
        peak_rss_mb=round(peak_rss_mb(), 1),
    )
    print(
        f"\n{name}: papyra {ours:.3f}s ({units / ours:,.0f} {unit}/s), "
        f"baseline {baseline_s:.3f}s -> ratio {ratio:.2f}, peak RSS {peak_rss_mb():.0f} MB"
    )


@pytest.fixture
def twin(impl: Any) -> Any:
    """The NDJSON twin the backends of a test run on (``_ndjson=``): ``impl``'s."""
    return impl.ndjson


RECORD = {
    "system_id": "local",
    "actor_address": "local:1",
    "event_type": "ActorStarted",
    "payload": {"n": 1, "note": "hello"},
    "timestamp": 1763800000.0,
}


def baseline_writes(path: Path, count: int = WRITES, sync_every: int = 0) -> None:
    """Encode + buffered append of ``count`` records; ``sync_every``: flush + fdatasync after
    every that many records (and at the end)."""
    sync = getattr(os, "fdatasync", os.fsync)
    with open(path, "wb") as f:
        for n in range(1, count + 1):
            f.write(orjson.dumps({"kind": "event", **RECORD}, option=orjson.OPT_APPEND_NEWLINE))
            if sync_every and n % sync_every == 0:
                f.flush()
                sync(f.fileno())
        if sync_every:
            f.flush()
            sync(f.fileno())


def papyra_writes(path: Path, twin: Any, writers: int, count: int, fsync: str) -> None:
    backend = JsonFilePersistence(path, fsync=fsync, _ndjson=twin)  # type: ignore[arg-type]
    per = count // writers

    async def writer() -> None:
        for _ in range(per):
            await backend.record_event(RECORD)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(writers):
                tg.start_soon(writer)
        await backend.aclose()

    anyio.run(main)


@pytest.mark.parametrize("writers", [1, 16])
def test_write_records(benchmark: Any, tmp_path: Path, twin: Any, writers: int) -> None:
    base = timed(lambda: baseline_writes(tmp_path / "base.ndjson"))
    counter = iter(range(10**9))

    def run() -> None:
        papyra_writes(tmp_path / f"w{next(counter)}.ndjson", twin, writers, WRITES, "never")

    benchmark.group = f"write x{writers}"
    benchmark.pedantic(run, rounds=3, iterations=1)
    report(benchmark, f"write {writers} writer(s)", base, WRITES, "records")


@pytest.mark.parametrize(
    ("fsync", "writers", "sync_every"), [("batch", 16, 16), ("always", 16, 16), ("always", 1, 1)]
)
def test_write_records_fsync(
    benchmark: Any, tmp_path: Path, twin: Any, fsync: str, writers: int, sync_every: int
) -> None:
    base = timed(lambda: baseline_writes(tmp_path / "base.ndjson", SYNC_WRITES, sync_every))
    counter = iter(range(10**9))

    def run() -> None:
        papyra_writes(tmp_path / f"w{next(counter)}.ndjson", twin, writers, SYNC_WRITES, fsync)

    name = f"write {writers} writer(s) fsync={fsync} (baseline: sync per {sync_every})"
    benchmark.group = name
    benchmark.pedantic(run, rounds=3, iterations=1)
    report(benchmark, name, base, SYNC_WRITES, "records")


def baseline_count(path: Path) -> int:
    """The lines of ``path``, counted block by block: every byte read, none validated."""
    lines = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(BLOCK):
            lines += chunk.count(b"\n")
    return lines


def baseline_scan(path: Path) -> int:
    bad = 0
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
    return bad


def test_scan_1m(benchmark: Any, big_log: Path, twin: Any) -> None:
    base = timed(lambda: baseline_count(big_log))
    backend = JsonFilePersistence(big_log, _ndjson=twin)
    benchmark.group = "scan 1M"
    result = benchmark.pedantic(lambda: anyio.run(backend.scan), rounds=3, iterations=1)
    assert len(result.anomalies) == 10
    report(benchmark, "scan 1M lines", base, 1_000_000, "lines")


def baseline_repair(src: Path, dst: Path) -> None:
    """An unvalidated copy of the whole file, fsynced (what a rewrite must at least pay)."""
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())


def test_repair_1m(benchmark: Any, big_log: Path, tmp_path: Path, twin: Any) -> None:
    work = tmp_path / "repair.ndjson"
    base = timed(lambda: baseline_repair(big_log, tmp_path / "base.out"))
    config = PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR)

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        shutil.copyfile(big_log, work)
        return (), {}

    def run() -> None:
        report_ = anyio.run(JsonFilePersistence(work, _ndjson=twin).recover, config)
        assert report_.repaired_files

    benchmark.group = "repair 1M"
    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    report(benchmark, "repair 1M lines", base, 1_000_000, "lines")


def baseline_tail_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    with open(dst, "wb") as out:
        out.write(b"\n".join(lines[-KEEP - 1 : -1]) + b"\n")


def test_compact_1m_to_100k(benchmark: Any, big_log: Path, tmp_path: Path, twin: Any) -> None:
    work = tmp_path / "compact.ndjson"
    base = timed(lambda: baseline_tail_copy(big_log, tmp_path / "base.out"))

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        shutil.copyfile(big_log, work)
        return (), {}

    def run() -> None:
        backend = JsonFilePersistence(work, RetentionPolicy(max_records=KEEP), _ndjson=twin)
        assert anyio.run(backend.compact).after_records == KEEP

    benchmark.group = "compact 1M -> 100k"
    benchmark.pedantic(run, setup=setup, rounds=2, iterations=1)
    report(benchmark, "compact 1M -> 100k", base, 1_000_000, "lines")


def test_list_tail_of_1m(benchmark: Any, big_log: Path, twin: Any) -> None:
    backend = JsonFilePersistence(big_log, _ndjson=twin)
    base = timed(lambda: baseline_scan(big_log))
    benchmark.group = "list_events(limit=10) of 1M"
    result = benchmark.pedantic(
        lambda: anyio.run(lambda: backend.list_events(limit=10)), rounds=5, iterations=1
    )
    assert len(result) == 10
    name = "list_events(limit=10) of 1M (baseline: full split+loads)"
    report(benchmark, name, base, 10, "records")


# -- Redis Streams: 16 writers through record_event vs raw pipelined XADDs ---------------------
#
# Sixteen writers that each wait for their record's acknowledgement can have at most sixteen
# records in flight, so the comparable baseline sends the same entry bytes as pipelines of 16
# XADDs ("x16"). The "x1000" baseline (1,000 per round trip) is the client's ceiling, reached by
# the system's own facts: record_nowait hands them over without waiting and one flush writes
# the whole group (the "facts" row).

REDIS_WRITERS = 16


def redis_baseline(url: str, key: str, twin: Any, depth: int) -> None:
    """The same entry bytes (encoded per record) as pipelined ``XADD``s, ``depth`` per trip."""
    from papyra._redis.client import RedisClient
    from papyra.persistence._records import json_default

    async def main() -> None:
        client = RedisClient(url)
        for start in range(0, WRITES, depth):
            pipe = client.pipeline()
            for _ in range(min(depth, WRITES - start)):
                data = twin.encode_record({"kind": "event", **RECORD}, json_default)[:-1]
                pipe.xadd(key, {"data": data})
            await pipe.execute()
        await client.execute_command("DEL", key)
        await client.aclose()

    anyio.run(main)


def redis_run(url: str, twin: Any, writers: int | None) -> None:
    """``WRITES`` events: from ``writers`` tasks awaiting ``record_event``, or (``None``) as
    facts handed over with ``record_nowait`` and written by one ``flush``."""
    from tests.redis_server import redis_backend

    backend = redis_backend(url=url, _ndjson=twin)

    async def writer(count: int) -> None:
        for _ in range(count):
            await backend.record_event(RECORD)

    async def main() -> None:
        if writers is None:
            for _ in range(WRITES):
                backend.record_nowait("event", RECORD)
            await backend.flush()
        else:
            async with anyio.create_task_group() as tg:
                for _ in range(writers):
                    tg.start_soon(writer, WRITES // writers)
        assert backend.metrics.records_written == WRITES
        await backend._redis.delete(*backend._keys, backend._writer_key)
        await backend.aclose()

    anyio.run(main)


@pytest.mark.parametrize(
    ("row", "writers", "depth"),
    [("redis write 16 writers", REDIS_WRITERS, REDIS_WRITERS),
     ("redis write 16 writers vs x1000", REDIS_WRITERS, 1000),
     ("redis facts vs x1000", None, 1000)],
)
def test_redis_write_records(
    benchmark: Any, twin: Any, row: str, writers: int | None, depth: int
) -> None:
    from tests.redis_server import shared_server, unique_prefix

    url = shared_server().url
    base = timed(lambda: redis_baseline(url, unique_prefix(), twin, depth))
    benchmark.group = row
    benchmark.pedantic(lambda: redis_run(url, twin, writers), rounds=3, iterations=1)
    report(benchmark, row, base, WRITES, "records")

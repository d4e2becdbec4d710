"""Child processes of the crash and cross-process tests (run as ``python _child.py MODE PATH``).

``write``: 4 concurrent tasks record events with ``fsync="always"`` forever, printing each
record id (flushed) once its ``record_event`` call has returned.
``compact N``: N times, append a non-record line and compact the file (forcing a rewrite).
``measure OP``: run one operation (scan, recover, compact, list) on the file and print
``<baseline maxrss KiB> <peak maxrss KiB> <result>``: the peak RSS the operation added.
``rewrite KIND OP STEP MAX_BYTES MAX_FILES KEEP [QDIR]``: run ``OP`` (``compact``, ``repair``
or ``quarantine``) on a ``json`` or ``rotating`` backend (retention ``max_records=KEEP``, none
when negative) and SIGKILL itself just before its ``STEP``-th (0-based) rename, link or unlink
of a file; print ``done`` if the operation finished first.
``diskfull KIND``: with ``RLIMIT_FSIZE`` lowered (and ``SIGXFSZ`` ignored, so that ``write(2)``
stores what fits and then fails with ``EFBIG``, as on a full disk), write records to a
``json`` or ``rotating`` backend as one group, restore the limit, retry the failed records as
a caller would, and print the outcome of each first attempt as JSON (``{"b": "EFBIG"}``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio

from papyra.persistence.json import JsonFilePersistence


async def write(path: str, start: int) -> None:
    backend = JsonFilePersistence(path, fsync="always")
    out = sys.stdout

    async def worker(w: int) -> None:
        i = 0
        while True:
            rid = start + i * 4 + w
            await backend.record_event(
                {
                    "event_type": "tick",
                    "payload": {"id": rid, "pad": "x" * (rid % 300)},
                    "timestamp": float(rid),
                }
            )
            out.write(f"{rid}\n")
            out.flush()
            i += 1

    async with anyio.create_task_group() as tg:
        for w in range(4):
            tg.start_soon(worker, w)


async def compact(path: str, rounds: int) -> None:
    backend = JsonFilePersistence(path)
    for _ in range(rounds):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, b"[0]\n")
        finally:
            os.close(fd)
        await backend.compact()
    print("done", flush=True)


async def measure(path: str, op: str) -> None:
    import resource

    from papyra.persistence.backends.retention import RetentionPolicy
    from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

    policy = RetentionPolicy(max_records=100_000) if op == "compact" else None
    backend = JsonFilePersistence(path, policy)
    await backend.list_events(limit=1)  # warm up imports and the worker thread pool
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if op == "scan":
        result: object = len((await backend.scan()).anomalies)
    elif op == "recover":
        report = await backend.recover(PersistenceRecoveryConfig(PersistenceRecoveryMode.REPAIR))
        result = len(report.repaired_files)
    elif op == "compact":
        result = (await backend.compact()).after_records
    else:
        result = len(await backend.list_events(limit=10))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(baseline, peak, result, flush=True)


def crash_before(step: int) -> None:
    """Patch ``os`` so that the ``step``-th file rename, link or unlink kills the process."""
    import signal

    count = 0

    def guard(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            if count == step:
                os.kill(os.getpid(), signal.SIGKILL)
            count += 1
            return real(*args, **kwargs)

        return call

    for name in ("replace", "rename", "link", "unlink"):
        setattr(os, name, guard(getattr(os, name)))


async def rewrite(path: str, args: list[str]) -> None:
    from papyra.persistence.backends.retention import RetentionPolicy
    from papyra.persistence.backends.rotating import RotatingFilePersistence
    from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

    kind, op, step, max_bytes, max_files, keep = args[0], args[1], *map(int, args[2:6])
    policy = RetentionPolicy(max_records=keep) if keep >= 0 else None
    backend: Any
    if kind == "json":
        backend = JsonFilePersistence(path, policy)
    else:
        backend = RotatingFilePersistence(
            path, max_bytes=max_bytes, max_files=max_files, retention_policy=policy
        )
    crash_before(step)
    if op == "compact":
        await backend.compact()
    else:
        mode = (
            PersistenceRecoveryMode.REPAIR if op == "repair" else PersistenceRecoveryMode.QUARANTINE
        )
        qdir = args[6] if len(args) > 6 else None
        await backend.recover(PersistenceRecoveryConfig(mode, qdir))
    print("done", flush=True)


async def disk_full(path: str, kind: str) -> None:
    import errno
    import json
    import resource
    import signal

    from papyra.persistence.backends.rotating import RotatingFilePersistence

    def rec(name: str, pad: int) -> dict[str, Any]:
        return {"event_type": name, "payload": {"pad": "x" * pad}, "timestamp": 1.0}

    backend: Any
    if kind == "json":
        backend = JsonFilePersistence(path)
        await backend.record_event(rec("a", 100))
        limit = os.stat(path).st_size + 50  # room for part of the next line only
        attempts = [rec("b", 200)]
    else:
        # a and b (~310 bytes each) fill the active file; c (~710) rotates it and, above the
        # limit, fails in the fresh file: a group split by a rotation, failing in its second half.
        backend = RotatingFilePersistence(path, max_bytes=1000, max_files=3)
        limit = 650
        attempts = [rec("a", 200), rec("b", 200), rec("c", 600)]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    outcome: dict[str, str] = {}

    async def attempt(record: dict[str, Any]) -> None:
        try:
            await backend.record_event(record)
        except OSError as exc:
            outcome[record["event_type"]] = errno.errorcode[exc.errno or 0]
        else:
            outcome[record["event_type"]] = "ok"

    async with anyio.create_task_group() as tg:  # concurrent calls: one group
        for record in attempts:
            tg.start_soon(attempt, record)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for record in attempts:
        if outcome[record["event_type"]] != "ok":
            await backend.record_event(record)
    await backend.aclose()
    print(json.dumps(outcome, sort_keys=True), flush=True)


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "rewrite":
        anyio.run(rewrite, target, sys.argv[3:])
    elif mode == "write":
        anyio.run(write, target, int(sys.argv[3]))
    elif mode == "measure":
        anyio.run(measure, target, sys.argv[3])
    elif mode == "diskfull":
        anyio.run(disk_full, target, sys.argv[3])
    else:
        anyio.run(compact, target, int(sys.argv[3]))

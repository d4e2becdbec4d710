"""Fail-over with real processes: members hosting entities, one killed with SIGKILL mid-stream.

Two member processes host ``Order`` entities; the test process is a member that hosts none and
sends. Half-way through, one member is killed (SIGKILL: no goodbye, its leases just expire). Every
message whose ``tell`` returned must be handled at least once by the end; the test reports the
counts (sent, handled, duplicates, lost) in its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from papyra.cluster import RedisStreamsTransport
from papyra.system import ActorSystem
from tests.cluster.conftest import poll_until
from tests.redis_server import shared_server, unique_prefix
from tests.support import REPO_ROOT

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEYS = 16
MESSAGES = 400


def start_member(
    url: str, cluster: str, name: str, out: Path, backend: str
) -> subprocess.Popen[str]:
    errors = out.with_suffix(".err")
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.member_proc", url, cluster, name, str(out),
             backend],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise AssertionError(f"member {name} did not start: {line!r} {errors.read_text()}")
    return proc


def handled_in_order(path: Path) -> dict[str, list[int]]:
    """Per key, the sequence numbers in the order ``path``'s member first handled them."""
    order: dict[str, list[int]] = {}
    seen: set[tuple[str, int]] = set()
    for line in path.read_text().splitlines() if path.exists() else ():
        key, seq, _ = line.split()
        if (key, int(seq)) not in seen:
            seen.add((key, int(seq)))
            order.setdefault(key, []).append(int(seq))
    return order


def handled(paths: list[Path]) -> Counter[tuple[str, int]]:
    seen: Counter[tuple[str, int]] = Counter()
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                key, seq, _ = line.split()
                seen[(key, int(seq))] += 1
    return seen


async def test_a_killed_member_loses_no_acknowledged_message(
    tmp_path: Path, anyio_backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = shared_server().url
    cluster = unique_prefix()
    outs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [
        start_member(url, cluster, "node-a", outs[0], anyio_backend_name),
        start_member(url, cluster, "node-b", outs[1], anyio_backend_name),
    ]
    try:
        transport = RedisStreamsTransport(
            url, cluster=cluster, heartbeat_interval=0.2, member_ttl=1.0, shards=8
        )
        sent: list[tuple[str, int]] = []
        async with ActorSystem(system_id="client", transport=transport) as client:
            async def both_hold_shards() -> bool:
                return set((await transport.owners()).values()) == {"node-a", "node-b"}

            await poll_until(both_hold_shards)
            for seq in range(MESSAGES):
                key = str(seq % KEYS)
                await client.entity("Order", key).tell((key, seq))
                sent.append((key, seq))
                if seq == MESSAGES // 2:
                    procs[1].send_signal(signal.SIGKILL)  # node-b dies mid-stream
            async def all_handled() -> bool:
                return set(sent) <= set(handled(outs))

            await poll_until(all_handled, timeout=20)
            owners = await transport.owners()
        seen = handled(outs)
        duplicates = sum(count - 1 for count in seen.values())
        lost = set(sent) - set(seen)
        with capsys.disabled():
            print(
                f"\n[fail-over {anyio_backend_name}] sent={len(sent)} handled={len(seen)} "
                f"duplicates={duplicates} lost={len(lost)} "
                f"shard owners after={set(owners.values())}"
            )
        assert not lost
        assert set(owners.values()) == {"node-a"}
        # FIFO per sender and entity: each member handled each key's messages in send order
        for path in outs:
            for key, seqs in handled_in_order(path).items():
                assert seqs == sorted(seqs), (path.name, key, seqs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

"""``examples/cluster/orders.py`` runs as its README says: two members and a client, then a
member killed with SIGKILL and its orders still answered by the other (so the example cannot
rot). Real processes on the shared test Redis, a cluster name of the test's own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from papyra.cluster import RedisStreamsTransport
from papyra.cluster._node import shard_home
from tests.redis_server import shared_server, unique_prefix

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "examples" / "cluster" / "orders.py"
PRICES = {"coffee": 350, "bagel": 275, "juice": 420, "muffin": 300}  # as in the example
REPLY = re.compile(
    r"^(order-\d) \+(\w+): (\d+) item\(s\), (\d+\.\d\d) total \(on (\S+)\)$"
)


def run(*args: str, cluster: str) -> subprocess.Popen[str]:
    env = {**os.environ, "REDIS_URL": shared_server().url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args, "--cluster", cluster],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def client(cluster: str, count: int) -> list[str]:
    proc = run("client", "--count", str(count), "--interval", "0", cluster=cluster)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[-1] == f"{count} item(s) sent", out
    assert len(lines) == count + 1, out
    return lines[:-1]


def owners(cluster: str) -> dict[int, str]:
    async def read() -> dict[int, str]:
        transport = RedisStreamsTransport(shared_server().url, cluster=cluster)
        try:
            return await transport.owners()
        finally:
            await transport.aclose()

    return anyio.run(read)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def members() -> Iterator[tuple[str, dict[str, subprocess.Popen[str]]]]:
    cluster = unique_prefix()
    procs = {name: run(name, cluster=cluster) for name in ("node-a", "node-b")}
    try:
        for name, proc in procs.items():
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line == f"{cluster}.{name} ready: hosting Order entities (Ctrl-C to stop)\n"
        yield cluster, procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def test_orders_are_served_by_both_members_and_survive_a_killed_one(
    members: tuple[str, dict[str, subprocess.Popen[str]]],
) -> None:
    cluster, procs = members
    node_a, node_b = f"{cluster}.node-a", f"{cluster}.node-b"
    # every shard with the member it belongs to (no hand-over left under way)
    shards = RedisStreamsTransport(shared_server().url).shards
    homes_of_shards = {shard: shard_home(shard, {node_a, node_b}) for shard in range(shards)}
    wait_for(lambda: owners(cluster) == homes_of_shards, "the shards to settle")

    replies = [REPLY.match(line) for line in client(cluster, 20)]
    assert all(replies), replies
    seen: dict[str, int] = {}
    totals: dict[str, int] = {}
    homes: dict[str, set[str]] = {}
    for i, match in enumerate(replies):
        assert match is not None
        order, item, items, total, served_by = match.groups()
        assert (order, item) == (f"order-{i % 5}", list(PRICES)[i % 4])
        seen[order] = seen.get(order, 0) + 1
        totals[order] = totals.get(order, 0) + PRICES[item]
        # one home per order: its items accumulate
        assert (int(items), total) == (seen[order], f"{totals[order] / 100:.2f}")
        homes.setdefault(order, set()).add(served_by)
    # each order lives where its shard belongs (the member names are random per test, so
    # which member hosts which order is too)
    transport = RedisStreamsTransport(shared_server().url)
    assert homes == {
        order: {homes_of_shards[transport.shard_of("Order", order)]} for order in homes
    }

    procs["node-a"].send_signal(signal.SIGKILL)
    procs["node-a"].wait(5)

    # Orders node-a hosted wait in their shards until its lease expires (member_ttl = 3 s),
    # then node-b takes the shards over: every order is still reachable, now all on node-b.
    after = [REPLY.match(line) for line in client(cluster, 5)]
    assert all(after), after
    assert {m.group(5) for m in after if m is not None} == {node_b}
    assert procs["node-b"].poll() is None

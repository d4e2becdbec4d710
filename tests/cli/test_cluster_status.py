"""``papyra cluster status`` against a real Redis server and real members.

The members run in this test's event loop; the command runs in a worker thread (it starts an
event loop of its own, as from a terminal), so both are live at the same time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from click.testing import Result

from papyra.actor import Actor
from papyra.cluster import RedisStreamsTransport
from papyra.system import ActorSystem
from tests.cluster.conftest import poll_until
from tests.conftest import MakeSystem
from tests.redis_server import free_port, shared_server, unique_prefix

Invoke = Callable[..., Result]


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


async def start_members(make_system: MakeSystem, cluster: str) -> tuple[ActorSystem, ...]:
    url = shared_server().url
    members = []
    for name in ("node-a", "node-b"):
        transport = RedisStreamsTransport(
            url, cluster=cluster, heartbeat_interval=0.2, member_ttl=1.0, shards=8
        )
        system = await make_system(system_id=f"{cluster}.{name}", transport=transport)
        system.register_entity("Order", Echo)
        members.append(system)
    first = members[0]._transport
    assert isinstance(first, RedisStreamsTransport)

    async def settled() -> bool:  # both own shards: the leases follow the heartbeats
        owners = await first.owners()
        return len(owners) == 8 and set(owners.values()) == {m.system_id for m in members}

    await poll_until(settled)
    return tuple(members)


async def status(invoke: Invoke, *args: str) -> Result:
    return await anyio.to_thread.run_sync(
        lambda: invoke("cluster", "status", "--url", shared_server().url, *args)
    )


@pytest.mark.anyio
async def test_live_members_and_their_shards_are_listed(
    make_system: MakeSystem, invoke: Invoke
) -> None:
    cluster = unique_prefix()
    a, b = await start_members(make_system, cluster)
    assert await a.entity("Order", "42").ask("hi", timeout=5) == "hi"

    async def settled() -> bool:  # the reply is settled (deleted) just after ask returns
        return all([await m._transport.backlog(m.system_id) == 0 for m in (a, b)])

    await poll_until(settled)
    result = await status(invoke, "--cluster", cluster, "--shards", "8")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"ℹ Cluster {cluster!r} at {shared_server().url}: 2 live members"
    assert lines[2].split() == [
        "┃", "Member", "┃", "Run", "┃", "Actors", "┃", "Entities", "┃", "Dead", "letters", "┃",
        "Heartbeat", "┃", "Backlog", "┃", "Shards", "┃",
    ]
    rows = {line.split()[1]: line.split() for line in lines if line.startswith("│")}
    assert set(rows) == {a.system_id, b.system_id}
    for system in (a, b):
        row = rows[system.system_id]
        assert row[3] == system._node.run_id  # the cluster run, not the system's run_id
        assert row[7] == "Order"
        assert row[9] == "0"  # dead letters
        assert row[11].endswith("s") and row[12] == "ago"
        assert row[14] == "0"  # inbox backlog
        assert int(row[16]) > 0  # shards held
    assert sum(int(row[16]) for row in rows.values()) == 8
    assert lines[-1].startswith("ℹ Shards: 8 (")
    assert lines[-1].endswith("; unowned 0; backlog 0")
    assert result.stderr == ""


@pytest.mark.anyio
async def test_json_document(make_system: MakeSystem, invoke: Invoke) -> None:
    cluster = unique_prefix()
    a, b = await start_members(make_system, cluster)

    result = await status(invoke, "--cluster", cluster, "--json")  # shards: as announced

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"cluster", "url", "members", "shards", "gone"}
    assert doc["cluster"] == cluster and doc["url"] == shared_server().url
    assert [m["system_id"] for m in doc["members"]] == sorted([a.system_id, b.system_id])
    for member in doc["members"]:
        assert set(member) == {
            "system_id", "run", "actors", "entities", "dead_letters", "heartbeat_at",
            "heartbeat_age", "backlog", "shards",
        }
        assert member["entities"] == ["Order"]
        assert member["dead_letters"] == 0 and member["backlog"] == 0
        assert 0 <= member["heartbeat_age"] < 5
    # the members announce the 8 shards they were made with, and hold them all
    assert doc["shards"]["total"] == 8
    assert sum(doc["shards"]["owners"].values()) == 8
    assert doc["shards"]["unowned"] == 0
    assert doc["gone"] == []


def test_an_empty_cluster(invoke: Invoke) -> None:
    cluster = unique_prefix()
    result = invoke("cluster", "status", "--url", shared_server().url, "--cluster", cluster)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"ℹ Cluster {cluster!r} at {shared_server().url}: 0 live members",
        "ℹ Shards: 64 (none owned); unowned 64; backlog 0",
    ]
    as_json = invoke(
        "cluster", "status", "--url", shared_server().url, "--cluster", cluster, "--json"
    )
    assert json.loads(as_json.stdout) == {
        "cluster": cluster,
        "url": shared_server().url,
        "members": [],
        "shards": {"total": 64, "owners": {}, "unowned": 64, "backlog": 0,
                   "unowned_backlog": 0},
        "gone": [],
    }


def test_a_gone_member_with_frames_left_and_shards_nobody_reads(invoke: Invoke) -> None:
    server = shared_server()
    cluster = unique_prefix()
    # What a member leaves behind when it is killed and nobody takes over: its last
    # announcement (its lease has expired), frames in its inbox and in a shard.
    server.command("HSET", f"{cluster}:members", f"{cluster}.gone",
                   '{"system_id":"x","run":"r1","heartbeat_at":1.0}')
    frame = {"k": "t", "i": "x/r1/1", "f": "x", "to": "sink", "m": b"1"}

    async def leave_frames() -> None:
        sender = RedisStreamsTransport(server.url, cluster=cluster, shards=4)
        await sender.open("sender")
        try:
            await sender.try_send_many({
                ("member", f"{cluster}.gone"): [frame] * 3, ("shard", 2): [frame],
            })
        finally:
            await sender.leave()
            await sender.aclose()

    anyio.run(leave_frames)

    result = invoke("cluster", "status", "--url", server.url, "--cluster", cluster,
                    "--shards", "4")

    assert result.exit_code == 0
    doc = json.loads(_json(invoke, cluster, "--shards", "4"))
    assert doc["members"] == []
    assert doc["shards"]["backlog"] == 1 and doc["shards"]["unowned_backlog"] == 1
    [gone] = doc["gone"]
    assert gone["system_id"] == f"{cluster}.gone" and gone["run"] == "r1"
    assert gone["backlog"] == 3 and gone["heartbeat_at"] == 1.0
    lines = result.stdout.splitlines()
    assert lines[-1].startswith(f"✖ {cluster}.gone is not live (last heartbeat ")
    assert lines[-1].endswith("s ago) and has 3 frame(s) in its inbox")
    assert lines[-2] == (
        "✖ 1 frame(s) wait in shards nobody owns "
        "(read once a member hosting entities takes them)"
    )
    assert lines[-3] == "ℹ Shards: 4 (none owned); unowned 4; backlog 1"


def _json(invoke: Invoke, cluster: str, *args: str) -> str:
    result = invoke("cluster", "status", "--url", shared_server().url, "--cluster", cluster,
                    "--json", *args)
    assert result.exit_code == 0
    return result.stdout


def test_a_server_that_cannot_be_reached_is_one_line_exit_1(invoke: Invoke) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    for extra in ((), ("--json",)):
        result = invoke("cluster", "status", "--url", url, *extra)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("Cannot reach Redis: ")
        assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "http://localhost/"), "is not a Redis URL"),
        (("--url", ""), "--url must not be empty"),
        (("--url", "redis://127.0.0.1:99999/0"), "invalid port"),
        (("--url", "redis://127.0.0.1:6379/x"), "invalid database number"),
        (("--cluster", "has space"), "cluster must be a non-empty name"),
    ],
)
def test_bad_options_are_one_line_exit_1(invoke: Invoke, args: tuple[str, ...],
                                         message: str) -> None:
    result = invoke("cluster", "status", *args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_password_is_not_shown_in_a_bad_url(invoke: Invoke) -> None:
    result = invoke("cluster", "status", "--url", "redis://:hunter2@127.0.0.1:99999/0")
    assert result.exit_code == 1
    assert "invalid port" in result.stderr and "hunter2" not in result.stderr


def test_a_key_of_another_type_is_a_refused_command(invoke: Invoke) -> None:
    server = shared_server()
    cluster = unique_prefix()
    server.command("SET", f"{cluster}:members", "not a hash")
    result = invoke("cluster", "status", "--url", server.url, "--cluster", cluster)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Redis at {server.url} refused a command: WRONGTYPE")

"""Entities: location-transparent actors spread over the members by shard."""

from __future__ import annotations

from typing import Any

import pytest

from papyra.actor import Actor
from papyra.cluster import RemoteActorRef
from papyra.cluster._node import EntityRef, shard_home
from tests.cluster.conftest import MakeMember, poll_until

pytestmark = pytest.mark.anyio


class Counter(Actor):
    """An entity counting its messages; answers with (its member, its count)."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return (self.context.system.system_id, self.count)


async def owners_settled(*members: Any) -> None:
    """Wait until every shard is owned by the member it belongs to (leases move on heartbeats)."""
    transport = members[0]._transport

    hosts = {m.system_id for m in members}
    homes = {shard: shard_home(shard, hosts) for shard in range(transport.shards)}

    async def settled() -> bool:  # every shard with the member it belongs to, none moving
        return await transport.owners() == homes and not any(
            m._node._handing_over for m in members
        )

    await poll_until(settled)


async def test_an_entity_lives_on_one_member_and_keeps_its_state(
    make_member: MakeMember,
) -> None:
    a = await make_member("node-a", shards=8)
    b = await make_member("node-b", shards=8)
    client = await make_member("client", shards=8)
    for member in (a, b):
        member.register_entity("Counter", Counter)
    await owners_settled(a, b)

    homes: dict[str, str] = {}
    for key in [str(k) for k in range(20)]:
        ref = client.entity("Counter", key)
        assert isinstance(ref, EntityRef) and isinstance(ref, RemoteActorRef)
        first = await ref.ask("hit", timeout=5)
        second = await ref.ask("hit", timeout=5)
        assert first[1] == 1 and second == (first[0], 2)
        homes[key] = first[0]
    assert set(homes.values()) == {"node-a", "node-b"}  # 20 keys over 8 shards, 2 members
    assert client.entity("Counter", "3") == client.entity("Counter", "3")
    assert client.entity("Counter", "3").uri == "papyra-entity://Counter/3"


async def test_entities_move_to_the_survivor_when_a_member_leaves(
    make_member: MakeMember,
) -> None:
    a = await make_member("node-a", shards=4)
    b = await make_member("node-b", shards=4)
    for member in (a, b):
        member.register_entity("Counter", Counter)
    await owners_settled(a, b)
    on_b = [k for k in map(str, range(30))
            if (await a.entity("Counter", k).ask("hit", timeout=5))[0] == "node-b"]
    assert on_b
    await b.aclose()
    await owners_settled(a)
    for key in on_b:
        assert await a.entity("Counter", key).ask("hit", timeout=5) == ("node-a", 1)


async def test_entity_argument_errors(make_member: MakeMember, make_system: Any) -> None:
    a = await make_member("node-a")
    with pytest.raises(ValueError, match="kind must be"):
        a.entity("a/b", "1")
    with pytest.raises(ValueError, match="key must be"):
        a.entity("Counter", "")
    a.register_entity("Counter", Counter)
    with pytest.raises(ValueError, match="already registered"):
        a.register_entity("Counter", Counter)
    with pytest.raises(TypeError):
        a.register_entity("Other", Counter())  # type: ignore[arg-type]
    plain = await make_system()
    with pytest.raises(ValueError, match="give this system a transport"):
        plain.register_entity("Counter", Counter)

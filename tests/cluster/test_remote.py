"""Remote tell and ask between two members of one cluster, on a real Redis server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from papyra._envelope import STOP, ActorTerminated
from papyra.actor import Actor
from papyra.cluster import JsonCodec, RemoteActorRef
from papyra.exceptions import ActorStopped, AskTimeout, MessageNotSerializable, RemoteError
from papyra.ref import ActorRef
from papyra.system import ActorSystem
from tests.cluster.conftest import MakeMember

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Deposit:
    account: str
    amount: int


class Bank(Actor):
    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.log: list[Any] = []

    async def receive(self, message: Any) -> Any:
        self.log.append(message)
        if isinstance(message, Deposit):
            if message.amount < 0:
                raise ValueError("negative deposit")
            self.balances[message.account] = self.balances.get(message.account, 0) + message.amount
            return self.balances[message.account]
        if message == "log":
            return list(self.log)
        if isinstance(message, tuple) and message[0] == "call me":
            await message[1].tell(("called", message[2]))
            return None
        return message


class Collector(Actor):
    def __init__(self, seen: list[Any], done: anyio.Event, count: int) -> None:
        self.seen = seen
        self.done = done
        self.count = count

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        if len(self.seen) >= self.count:
            self.done.set()


async def with_bank(make_member: MakeMember) -> tuple[ActorSystem, ActorSystem, Any]:
    """Members node-a and node-b, a ``Bank`` named "bank" on node-b, and node-a's ref to it."""
    a = await make_member("node-a")
    b = await make_member("node-b")
    b.spawn(Bank, name="bank")
    return a, b, a.ref_for_name("bank", system="node-b")


async def test_tell_and_ask_reach_a_named_actor_of_another_member(
    make_member: MakeMember, codec: JsonCodec
) -> None:
    codec.register(Deposit)
    a, _, bank = await with_bank(make_member)
    assert isinstance(bank, RemoteActorRef) and isinstance(bank, ActorRef)
    assert bank.uri == "papyra://node-b/bank" and bank == a.ref_for("papyra://node-b/bank")

    await bank.tell(Deposit("alice", 10))
    assert await bank.ask(Deposit("alice", 5), timeout=5) == 15
    assert await bank.ask((1, b"\x00", None, [1.5]), timeout=5) == (1, b"\x00", None, [1.5])
    log = await bank.ask("log", timeout=5)
    assert log[:2] == [Deposit("alice", 10), Deposit("alice", 5)]


async def test_messages_from_one_sender_arrive_in_order(make_member: MakeMember) -> None:
    a = await make_member("node-a")
    b = await make_member("node-b")
    seen: list[Any] = []
    done = anyio.Event()
    b.spawn(lambda: Collector(seen, done, 200), name="sink")
    sink = a.ref_for_name("sink", system="node-b")
    for i in range(200):
        await sink.tell(i)
    with anyio.fail_after(10):
        await done.wait()
    assert seen == list(range(200))


async def test_an_error_raised_remotely_reaches_the_asker_as_remote_error(
    make_member: MakeMember, codec: JsonCodec
) -> None:
    codec.register(Deposit)
    _, _, bank = await with_bank(make_member)
    with pytest.raises(RemoteError) as info:
        await bank.ask(Deposit("bob", -1), timeout=5)
    assert info.value.type_name == "builtins.ValueError"
    assert info.value.message == "negative deposit" and info.value.system == "node-b"


async def test_an_unknown_name_is_a_dead_letter_there_and_actor_stopped_here(
    make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("papyra.cluster._node.PARK_SECONDS", 0.0)
    a = await make_member("node-a")
    b = await make_member("node-b")
    nobody = a.ref_for_name("nobody", system="node-b")
    with pytest.raises(ActorStopped, match="papyra://node-b/nobody"):
        await nobody.ask("hello?", timeout=5)
    letters = b.dead_letters.messages
    assert [(d.target, d.message, d.expects_reply) for d in letters] == [
        ("papyra://node-b/nobody", "hello?", True)
    ]


async def test_remote_ask_needs_a_timeout_and_times_out(make_member: MakeMember) -> None:
    a = await make_member("node-a")
    await make_member("node-b")
    far = a.ref_for_name("slow", system="node-b")
    with pytest.raises(ValueError, match="needs a timeout"):
        await far.ask("x")
    with pytest.raises(AskTimeout):
        await far.ask("x", timeout=0.05)  # nobody named "slow": parked, then too late


async def test_a_message_the_codec_cannot_carry_fails_at_the_call(
    make_member: MakeMember,
) -> None:
    @dataclass
    class Unregistered:
        x: int

    a = await make_member("node-a")
    await make_member("node-b")
    far = a.ref_for_name("bank", system="node-b")
    with pytest.raises(MessageNotSerializable, match=r"codec\.register\(Unregistered\)"):
        await far.tell(Unregistered(1))
    with pytest.raises(MessageNotSerializable, match="set"):
        await far.tell({1, 2})
    with pytest.raises(MessageNotSerializable, match="key 1 that is not a str"):
        await far.ask({1: "x"}, timeout=1)


async def test_refs_cross_the_wire_and_stay_usable(make_member: MakeMember) -> None:
    a, _, bank = await with_bank(make_member)
    seen: list[Any] = []
    done = anyio.Event()
    local = a.spawn(lambda: Collector(seen, done, 1))
    await bank.ask(("call me", local, "back"), timeout=5)
    with anyio.fail_after(5):
        await done.wait()
    assert seen == [("called", "back")]


async def test_watching_a_remote_actor_delivers_actor_terminated(
    make_member: MakeMember,
) -> None:
    a, _, bank = await with_bank(make_member)
    seen: list[Any] = []
    done = anyio.Event()

    class Watcher(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, RemoteActorRef):
                await self.context.watch(message)
                return "watching"
            seen.append(message)
            done.set()

    watcher = a.spawn(Watcher)
    assert await watcher.ask(bank) == "watching"
    assert await bank.ask("ping", timeout=5) == "ping"  # the watch frame went before it
    await bank.tell(STOP)
    with anyio.fail_after(5):
        await done.wait()
    assert isinstance(seen[0], ActorTerminated) and seen[0].ref == bank


async def test_a_lost_member_terminates_its_watched_actors(make_member: MakeMember) -> None:
    a, b, _ = await with_bank(make_member)
    seen: list[Any] = []
    done = anyio.Event()

    class Watcher(Actor):
        async def on_start(self) -> None:
            await self.context.watch(self.context.system.ref_for_name("bank", system="node-b"))

        async def receive(self, message: Any) -> Any:
            seen.append(message)
            done.set()

    a.spawn(Watcher)
    await anyio.wait_all_tasks_blocked()
    await b.aclose()  # leaves the cluster: its lease ends
    with anyio.fail_after(5):
        await done.wait()
    assert isinstance(seen[0], ActorTerminated)
    assert seen[0].ref == a.ref_for_name("bank", system="node-b")


async def test_without_a_transport_another_system_is_unreachable(make_system: Any) -> None:
    system = await make_system()
    with pytest.raises(ValueError, match="give this one a transport"):
        system.ref_for_name("x", system="elsewhere")
    with pytest.raises(ValueError, match="give this one a transport"):
        system.ref_for("papyra://elsewhere/x")


async def test_check_local_mode_encodes_local_messages_too(
    make_member: MakeMember, codec: JsonCodec
) -> None:
    codec.register(Deposit)
    a = await make_member("node-a", check_local=True)
    bank = a.spawn(Bank)
    assert await bank.ask(Deposit("x", 1)) == 1  # registered: fine
    await bank.tell((1, 2))
    with pytest.raises(MessageNotSerializable, match="set"):
        await bank.tell({1, 2})
    with pytest.raises(MessageNotSerializable, match="set"):
        await bank.ask({3})
    assert await bank.ask("log") == [Deposit("x", 1), (1, 2), "log"]


async def test_without_check_local_local_messages_are_not_encoded(
    make_member: MakeMember,
) -> None:
    a = await make_member("node-a")
    bank = a.spawn(Bank)
    assert await bank.ask({1, 2}) == {1, 2}


async def test_a_reply_the_codec_cannot_carry_reaches_the_asker_as_an_error(
    make_member: MakeMember,
) -> None:
    class Odd(Actor):
        async def receive(self, message: Any) -> Any:
            return {1, 2}  # a set: not carried by the JSON codec

    a = await make_member("node-a")
    b = await make_member("node-b")
    b.spawn(Odd, name="odd")
    with pytest.raises(RemoteError) as info:
        await a.ref_for_name("odd", system="node-b").ask("?", timeout=5)
    assert info.value.type_name == "papyra.exceptions.MessageNotSerializable"


async def test_start_fails_and_the_system_stays_closed_when_redis_is_unreachable(
    make_system: Any,
) -> None:
    from papyra.cluster import RedisStreamsTransport
    from tests.redis_server import free_port

    transport = RedisStreamsTransport(f"redis://127.0.0.1:{free_port()}/0", timeout=1.0)
    system = await make_system(transport=transport, start=False)
    with pytest.raises(ConnectionError, match="unreachable"):
        await system.start()
    assert not system.running
    with pytest.raises(ActorStopped):
        await system.start()


async def test_a_stray_entry_in_an_inbox_does_not_stop_its_reader(
    make_member: MakeMember, codec: JsonCodec
) -> None:
    codec.register(Deposit)
    _, b, bank = await with_bank(make_member)
    transport = b._transport
    await bank.tell(Deposit("alice", 1))
    # written by something else: tell-like headers without a target or a payload field
    await transport._redis.execute_command(
        "XADD", transport.inbox_key("node-b"), "*",
        b'{"k":"t","x":1}', b"1", b'{"k":"t","to":"bank","x":2}', b"2",
    )
    await bank.tell(Deposit("alice", 2))
    assert await bank.ask(Deposit("alice", 3), timeout=5) == 6

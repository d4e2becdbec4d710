"""An order service on a two-member Papyra cluster (see README.md next to this file).

    python examples/cluster/orders.py node-a       # terminal 1: a member hosting orders
    python examples/cluster/orders.py node-b       # terminal 2: another one
    python examples/cluster/orders.py client       # terminal 3: sends items, prints replies

Every process joins the cluster ``shop`` on the Redis server of ``$REDIS_URL`` (default
``redis://127.0.0.1:6379/0``). ``Order`` entities live on node-a or node-b, by shard; the client
does not know or care which. Stop either member (Ctrl-C, or ``kill -9``) and the orders it
hosted are served by the other one, after its lease has expired when it was killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import anyio

from papyra.actor import Actor
from papyra.cluster import JsonCodec, RedisStreamsTransport
from papyra.exceptions import AskTimeout
from papyra.system import ActorSystem

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ITEMS = (("coffee", 350), ("bagel", 275), ("juice", 420), ("muffin", 300))
ORDERS = 5  # the client spreads its items over order-0 .. order-4


# -- the messages: the same dataclasses, registered under the same names, in every process ----


@dataclass(frozen=True)
class AddItem:
    order_id: str
    item: str
    price_cents: int


@dataclass(frozen=True)
class GetTotal:
    order_id: str


@dataclass(frozen=True)
class OrderTotal:
    order_id: str
    items: int
    total_cents: int
    served_by: str


def make_codec() -> JsonCodec:
    codec = JsonCodec()
    for cls in (AddItem, GetTotal, OrderTotal):
        codec.register(cls, name=f"shop.{cls.__name__}")  # not "__main__.AddItem"
    return codec


def make_transport(cluster: str) -> RedisStreamsTransport:
    # A member renews its lease every half second; one silent for 3 s is considered gone and
    # its shards (with the messages waiting in them) are taken over by the other members.
    return RedisStreamsTransport(
        REDIS_URL, cluster=cluster, codec=make_codec(), heartbeat_interval=0.5, member_ttl=3.0
    )


# -- the entity -------------------------------------------------------------------------------


class Order(Actor):
    """One order: the items added to it and their total.

    The state is in this process's memory: when the member hosting the order goes away, the
    order is spawned afresh on another member (empty) at its next message. It stays
    reachable; to keep its items too, it would rebuild them (from a database, an event log).
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, AddItem):
            self.items.append((message.item, message.price_cents))
        if isinstance(message, (AddItem, GetTotal)):
            return OrderTotal(
                order_id=message.order_id,
                items=len(self.items),
                total_cents=sum(price for _, price in self.items),
                served_by=self.context.system.system_id,
            )
        return None


# -- the processes ----------------------------------------------------------------------------


async def run_member(name: str, cluster: str) -> None:
    system_id = f"{cluster}.{name}"
    async with ActorSystem(system_id=system_id, transport=make_transport(cluster)) as system:
        system.register_entity("Order", Order)
        print(f"{system_id} ready: hosting Order entities (Ctrl-C to stop)", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        print(f"{system_id} leaving the cluster", flush=True)


async def run_client(cluster: str, count: int | None, interval: float) -> None:
    system_id = f"{cluster}.client-{os.getpid()}"
    async with ActorSystem(system_id=system_id, transport=make_transport(cluster)) as system:
        sent = 0
        while count is None or sent < count:
            order_id = f"order-{sent % ORDERS}"
            item, price = ITEMS[sent % len(ITEMS)]
            try:
                # Generous timeout: a message to a member that just died waits in its
                # shard until another member has taken the shard over (member_ttl).
                reply = await system.entity("Order", order_id).ask(
                    AddItem(order_id, item, price), timeout=15
                )
            except AskTimeout:
                print(f"{order_id} +{item}: no reply within 15 s", flush=True)
            else:
                print(
                    f"{reply.order_id} +{item}: {reply.items} item(s), "
                    f"{reply.total_cents / 100:.2f} total (on {reply.served_by})",
                    flush=True,
                )
            sent += 1
            if interval:
                await anyio.sleep(interval)
        print(f"{sent} item(s) sent", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", help="node-a, node-b (any name: a member) or client")
    parser.add_argument("--cluster", default="shop", help="cluster name (default: shop)")
    parser.add_argument("--count", type=int, default=None,
                        help="client: send this many items, then exit (default: until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="client: seconds between two items (default: 0.5)")
    args = parser.parse_args(argv)
    try:
        if args.role == "client":
            anyio.run(run_client, args.cluster, args.count, args.interval)
        else:
            anyio.run(run_member, args.role, args.cluster)
    except KeyboardInterrupt:  # Ctrl-C in the client
        sys.exit(130)


if __name__ == "__main__":
    main()

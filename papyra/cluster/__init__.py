"""Actor systems in several processes or hosts, one cluster (docs/cluster.md).

``ActorSystem(system_id="shop.node-b", transport=RedisStreamsTransport(url, cluster="shop"))``
makes the system a member of the cluster ``shop``; ``system.ref_for_name("orders",
system="shop.node-a")`` is then a ref to an actor of another member, used like a local one.
Nothing here is imported by a system without a transport.
"""

from __future__ import annotations

from papyra.cluster._node import ClusterNode, RemoteActorRef, parse_uri
from papyra.cluster.codec import Codec, JsonCodec
from papyra.cluster.redis import RedisStreamsTransport
from papyra.cluster.transport import Frame, MemberInfo, Transport

__all__ = (
    "ClusterNode",
    "Codec",
    "Frame",
    "JsonCodec",
    "MemberInfo",
    "RedisStreamsTransport",
    "RemoteActorRef",
    "Transport",
    "parse_uri",
)

"""``papyra cluster``: look at a cluster of actor systems joined over Redis Streams.

``cluster status`` only reads (the lease keys, the members hash, the shard owners and the
lengths of the streams); it never joins the cluster, so it can run anywhere the server is
reachable. Exit 0; a server that cannot be reached, or refuses a command, is a one-line error
with exit code 1, as for the other commands.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import click

from papyra.cli._backend import redact_url
from papyra.cli._base import POSITIVE_INT, PapyraGroup, echo_json, error, fail, info, run_async

__all__ = ("DEFAULT_CLUSTER", "DEFAULT_SHARDS", "DEFAULT_URL", "cluster", "render_grid", "status")

#: The defaults of ``RedisStreamsTransport`` (a member built without arguments uses these).
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_CLUSTER = "papyra"
DEFAULT_SHARDS = 64
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def render_grid(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A table with a heavy head and a light body, as ``metrics persistence`` draws it,
    with any number of columns. Lines are never wrapped."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(sep: str, values: Sequence[str]) -> str:
        return sep + sep.join(f" {v.ljust(w)} " for v, w in zip(values, widths, strict=True)) + sep

    out = [line("┏", "━", "┳", "┓"), row("┃", headers), line("┡", "━", "╇", "┩")]
    out.extend(row("│", r) for r in cells)
    out.append(line("└", "─", "┴", "┘"))
    return out


@click.group(cls=PapyraGroup)
def cluster() -> None:
    """Look at a cluster of actor systems joined over Redis Streams"""


@cluster.command("status")
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="Redis server the cluster's members use.",
)
@click.option(
    "--cluster",
    "name",
    default=DEFAULT_CLUSTER,
    show_default=True,
    metavar="NAME",
    help="The cluster's name (RedisStreamsTransport(cluster=...), its key prefix).",
)
@click.option(
    "--shards",
    type=POSITIVE_INT,
    default=None,
    metavar="N",
    help="How many shards the cluster has (RedisStreamsTransport(shards=...)); "
    f"default: what the members announce, else {DEFAULT_SHARDS}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
def status(url: str, name: str, shards: int | None, as_json: bool) -> None:
    """Show the live members, who owns the shards, inbox backlogs and dead letters."""
    if not url.strip():
        fail("--url must not be empty")
    if urlsplit(url).scheme.lower() not in _REDIS_SCHEMES:
        fail(
            f"--url {redact_url(url)!r} is not a Redis URL: "
            "give redis://HOST:PORT/DB, rediss://HOST:PORT/DB or unix:///PATH/TO/SOCKET"
        )
    document = run_async(_gather, url, name, shards)
    if as_json:
        echo_json(document)
    else:
        for kind, text in _describe(document):
            {"info": info, "finding": error, "table": click.echo}[kind](text)


async def _gather(url: str, name: str, shards: int | None) -> dict[str, Any]:
    """Everything ``status`` shows, read from the server in a handful of round trips."""
    from papyra._redis.client import RedisError, RedisUnavailableError
    from papyra.cluster.redis import RedisStreamsTransport

    try:
        transport = RedisStreamsTransport(url, cluster=name, shards=shards or DEFAULT_SHARDS)
    except ValueError as exc:  # a bad cluster name, port or database number
        text = str(exc).replace(url, redact_url(url))
        fail(text if text.startswith("cluster ") else f"--url {redact_url(url)!r}: {text}")
    try:
        return await _read(transport, name, shards)
    except RedisUnavailableError as exc:
        fail(f"Cannot reach Redis: {exc}")  # the message names the URL
    except RedisError as exc:
        fail(f"Redis at {redact_url(url)} refused a command: {exc}")
    except (OSError, TimeoutError) as exc:
        fail(f"Cannot reach Redis at {redact_url(url)}: {exc}")
    finally:
        await transport.aclose()


async def _read(transport: Any, name: str, shards: int | None) -> dict[str, Any]:
    live = await transport.members()
    if shards is None:  # members that announce their shard count settle it
        announced = {int(i["shards"]) for i in live.values() if isinstance(i.get("shards"), int)}
        if len(announced) == 1:
            transport.shards = announced.pop()
    count = transport.shards
    owners = await transport.owners()
    # What members said last stays until they leave cleanly; those without a lease are gone,
    # and only matter while their inbox holds frames.
    last_said = await transport.announced()
    names = sorted(set(live) | set(last_said))
    inbox, shard_backlog = await transport.backlogs(names)

    now = time.time()
    by_owner: dict[str, int] = {}
    for owner in owners.values():
        by_owner[owner] = by_owner.get(owner, 0) + 1

    def age(said: dict[str, Any]) -> float | None:
        at = said.get("heartbeat_at")
        return round(max(now - float(at), 0.0), 3) if isinstance(at, (int, float)) else None

    members = [
        {
            "system_id": member,
            "run": said.get("run"),
            "actors": said.get("actors"),
            "entities": list(said.get("entities") or ()),
            "dead_letters": said.get("dead_letters"),
            "heartbeat_at": said.get("heartbeat_at"),
            "heartbeat_age": age(said),
            "backlog": inbox.get(member, 0),
            "shards": by_owner.get(member, 0),
        }
        for member, said in sorted(live.items())
    ]
    gone = [
        {
            "system_id": member,
            "run": last_said[member].get("run"),
            "heartbeat_at": last_said[member].get("heartbeat_at"),
            "heartbeat_age": age(last_said[member]),
            "backlog": inbox[member],
        }
        for member in names
        if member not in live and inbox[member] > 0
    ]
    return {
        "cluster": name,
        "url": redact_url(transport.url),
        "members": members,
        "shards": {
            "total": count,
            "owners": dict(sorted(by_owner.items())),
            "unowned": count - len(owners),
            "backlog": sum(shard_backlog),
            "unowned_backlog": sum(
                n for shard, n in enumerate(shard_backlog) if shard not in owners
            ),
        },
        "gone": gone,
    }


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _describe(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The text of ``status`` as ``(kind, line)``: ``info`` and ``finding`` status lines,
    ``table`` lines printed as they are."""
    members = doc["members"]
    plural = "" if len(members) == 1 else "s"
    lines = [
        ("info", f"Cluster {doc['cluster']!r} at {doc['url']}: {len(members)} live member{plural}")
    ]
    if members:
        lines.extend(("table", text) for text in render_grid(
            ("Member", "Run", "Actors", "Entities", "Dead letters", "Heartbeat", "Backlog",
             "Shards"),
            [
                (
                    m["system_id"], m["run"] or "-", m["actors"] if m["actors"] is not None
                    else "-", ", ".join(m["entities"]) or "-",
                    m["dead_letters"] if m["dead_letters"] is not None else "-",
                    f"{_seconds(m['heartbeat_age'])} ago", m["backlog"], m["shards"],
                )
                for m in members
            ],
        ))
    shards = doc["shards"]
    owned = ", ".join(f"{owner} {n}" for owner, n in shards["owners"].items()) or "none owned"
    lines.append((
        "info",
        f"Shards: {shards['total']} ({owned}); unowned {shards['unowned']}; "
        f"backlog {shards['backlog']}",
    ))
    if shards["unowned"] and shards["unowned_backlog"]:
        lines.append((
            "finding",
            f"{shards['unowned_backlog']} frame(s) wait in shards nobody owns "
            "(read once a member hosting entities takes them)",
        ))
    for g in doc["gone"]:
        lines.append((
            "finding",
            f"{g['system_id']} is not live (last heartbeat {_seconds(g['heartbeat_age'])} ago) "
            f"and has {g['backlog']} frame(s) in its inbox",
        ))
    return lines

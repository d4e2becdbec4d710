"""Papyra: a fast, trustworthy async actor runtime.

Layout::

    papyra.system        ActorSystem, DeadLetterMailbox: spawning, supervision, lookup, shutdown
    papyra.actor         Actor base class            papyra.context   ActorContext
    papyra.ref           ActorRef (tell / ask)        papyra.proxy     ActorProxy, ProxyAccessor
    papyra.mailbox       Mailbox                      papyra._envelope STOP, Envelope, Reply, ...
    papyra.supervision   Strategy, SupervisionPolicy  papyra.supervisor SupervisorDecision
    papyra.events        lifecycle events             papyra.audit     ActorInfo, AuditReport
    papyra.hooks         SystemHooks, FailureInfo     papyra.clock     SystemClock, ManualClock
    papyra.persistence   record models and backends   papyra.cli       the ``papyra`` command
    papyra.conf          settings                     papyra._accel    compiled vs pure-Python twins
    papyra.pool          spawn_pool, PoolRef, Routing: N workers behind one ref
    papyra.timers        Timers (``ctx.timers``)      papyra.testing   TestKit, Probe, pytest plugin

Public names are resolved lazily, so ``import papyra`` stays cheap and never imports the CLI.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

logging.getLogger("papyra").addHandler(logging.NullHandler())

_LAZY: dict[str, str] = {
    "Actor": "papyra.actor",
    "ActorContext": "papyra.context",
    "ActorRef": "papyra.ref",
    "ActorProxy": "papyra.proxy",
    "ProxyAccessor": "papyra.proxy",
    "ActorSystem": "papyra.system",
    "ActorInfo": "papyra.audit",
    "AuditReport": "papyra.audit",
    "PapyraError": "papyra.exceptions",
    "ActorStopped": "papyra.exceptions",
    "AskTimeout": "papyra.exceptions",
    "AskDeadlock": "papyra.exceptions",
    "MailboxClosed": "papyra.exceptions",
    "Strategy": "papyra.supervision",
    "SupervisionPolicy": "papyra.supervision",
    "SupervisorDecision": "papyra.supervisor",
    "DeadLetter": "papyra._envelope",
    "ProxyCall": "papyra.messages",
    "ProxyGetAttr": "papyra.messages",
    "ProxySetAttr": "papyra.messages",
    "Receives": "papyra.typing",
    "ReceivesAny": "papyra.typing",
    "Settings": "papyra.conf.global_settings",
    "settings": "papyra.conf",
    "SystemHooks": "papyra.hooks",
    "FailureInfo": "papyra.hooks",
    "monkay": "papyra.conf",
    "PoolRef": "papyra.pool",
    "Routing": "papyra.pool",
    "spawn_pool": "papyra.pool",
}

# Spelled out (not built from _LAZY) so that type checkers see the re-exports:
# ``from papyra import Actor`` passes ``mypy --strict``. A test keeps it equal to _LAZY.
__all__ = (
    "Actor",
    "ActorContext",
    "ActorInfo",
    "ActorProxy",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "AskDeadlock",
    "AskTimeout",
    "AuditReport",
    "DeadLetter",
    "FailureInfo",
    "MailboxClosed",
    "PapyraError",
    "PoolRef",
    "ProxyAccessor",
    "ProxyCall",
    "ProxyGetAttr",
    "ProxySetAttr",
    "Receives",
    "ReceivesAny",
    "Routing",
    "Settings",
    "Strategy",
    "SupervisionPolicy",
    "SupervisorDecision",
    "SystemHooks",
    "__version__",
    "monkay",
    "settings",
    "spawn_pool",
)

if TYPE_CHECKING:
    from papyra._envelope import DeadLetter
    from papyra.actor import Actor
    from papyra.audit import ActorInfo, AuditReport
    from papyra.conf import monkay, settings
    from papyra.conf.global_settings import Settings
    from papyra.context import ActorContext
    from papyra.exceptions import (
        ActorStopped,
        AskDeadlock,
        AskTimeout,
        MailboxClosed,
        PapyraError,
    )
    from papyra.hooks import FailureInfo, SystemHooks
    from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
    from papyra.pool import PoolRef, Routing, spawn_pool
    from papyra.proxy import ActorProxy, ProxyAccessor
    from papyra.ref import ActorRef
    from papyra.supervision import Strategy, SupervisionPolicy
    from papyra.supervisor import SupervisorDecision
    from papyra.system import ActorSystem
    from papyra.typing import Receives, ReceivesAny


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'papyra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

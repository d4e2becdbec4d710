"""Persistence of system facts: record models, backends, retention, scans and recovery.

Layout::

    models.py     PersistedEvent / PersistedAudit / PersistedDeadLetter and report types
    base.py       PersistenceBackend (no-op base, default write protocol)
    contract.py   Protocol + capability probes
    metrics.py    PersistenceMetrics + mixin
    startup.py    startup-check configuration and the one startup check (run_startup_check)
    json.py       JsonFilePersistence (NDJSON file)
    backends/     memory, rotating, redis (Redis Streams), retention
    redis.py      short alias of backends/redis
    _records.py   the record kinds; coercion, serialisation and tolerant reading rules
    _outbox.py    the queue behind the default write protocol, as_writer
    _retention.py apply_retention
    _file/        the file engine: append + group commit, reads and scans, rewrites, the async base
    _utils.py     old helper names, kept for compatibility

Public names are resolved on first access, so importing this package never imports a backend
that is not used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "InMemoryPersistence": "papyra.persistence.backends.memory",
    "JsonFilePersistence": "papyra.persistence.json",
    "PersistenceBackendCapabilities": "papyra.persistence.contract",
    "PersistenceBackendContract": "papyra.persistence.contract",
    "backend_capabilities": "papyra.persistence.contract",
    "safe_metrics_snapshot": "papyra.persistence.contract",
    "RedisStreamsConfig": "papyra.persistence.backends.redis",
    "RedisStreamsPersistence": "papyra.persistence.backends.redis",
}

__all__ = (
    "InMemoryPersistence",
    "JsonFilePersistence",
    "PersistenceBackendCapabilities",
    "PersistenceBackendContract",
    "RedisStreamsConfig",
    "RedisStreamsPersistence",
    "backend_capabilities",
    "safe_metrics_snapshot",
)

if TYPE_CHECKING:
    from papyra.persistence.backends.memory import InMemoryPersistence
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
    from papyra.persistence.contract import (
        PersistenceBackendCapabilities,
        PersistenceBackendContract,
        backend_capabilities,
        safe_metrics_snapshot,
    )
    from papyra.persistence.json import JsonFilePersistence


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first access and cache the value.

    A name whose module is absent from this installation raises ``ImportError`` naming it.
    """
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'papyra.persistence' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing *backend module* is reported this way; a missing third-party import
        # inside an existing module, or any other error, propagates unchanged.
        missing = exc.name or ""
        if not (missing and (module_name == missing or module_name.startswith(missing + "."))):
            raise
        raise ImportError(
            f"papyra.persistence.{name} is unavailable: module {module_name!r} is not installed",
            name=module_name,
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

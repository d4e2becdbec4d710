"""The backend contract, the capability probe, the base class and the package's public names."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

import papyra.persistence
from papyra.persistence import (
    InMemoryPersistence,
    PersistenceBackendCapabilities,
    PersistenceBackendContract,
    backend_capabilities,
    safe_metrics_snapshot,
)
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.metrics import PersistenceMetrics

ALL = (False, False, False, False)


def flags(caps: PersistenceBackendCapabilities) -> tuple[bool, ...]:
    return (caps.supports_scan, caps.supports_recover, caps.supports_compact, caps.supports_metrics)


def test_builtin_backends_support_everything_and_satisfy_the_protocol() -> None:
    for backend in (PersistenceBackend(), InMemoryPersistence()):
        caps = backend_capabilities(backend)
        assert flags(caps) == (True, True, True, True)
        assert caps.supports_record_nowait
        assert isinstance(backend, PersistenceBackendContract)


class DuckBackend:
    """Every member of the contract except the write protocol."""

    retention = None

    async def record_event(self, event: Any) -> None: ...
    async def record_audit(self, report: Any) -> None: ...
    async def record_dead_letter(self, dead_letter: Any) -> None: ...
    async def aclose(self) -> None: ...
    async def scan(self) -> Any: ...
    async def recover(self, config: Any | None = None) -> Any: ...
    async def compact(self) -> Any: ...


def test_the_write_protocol_is_part_of_the_contract() -> None:
    class WithWriter(DuckBackend):
        def record_nowait(self, kind: str, record: Any) -> None: ...
        async def flush(self) -> None: ...

    assert not isinstance(DuckBackend(), PersistenceBackendContract)
    assert not backend_capabilities(DuckBackend()).supports_record_nowait
    assert isinstance(WithWriter(), PersistenceBackendContract)
    assert backend_capabilities(WithWriter()).supports_record_nowait


def test_record_nowait_needs_flush_too() -> None:
    class OnlyNowait(DuckBackend):
        def record_nowait(self, kind: str, record: Any) -> None: ...

    class OnlyFlush(DuckBackend):
        async def flush(self) -> None: ...

    for backend in (OnlyNowait(), OnlyFlush()):
        assert not backend_capabilities(backend).supports_record_nowait


def test_capabilities_keep_their_four_positional_fields() -> None:
    caps = PersistenceBackendCapabilities(True, False, True, False)
    assert flags(caps) == (True, False, True, False)
    assert caps.supports_record_nowait is False


def test_capabilities_follow_callable_members() -> None:
    class Partial:
        scan = None
        recover = 3

        def compact(self) -> None: ...

    assert flags(backend_capabilities(Partial())) == (False, False, True, False)
    assert flags(backend_capabilities(object())) == ALL
    assert not isinstance(object(), PersistenceBackendContract)


def test_metrics_need_a_callable_snapshot() -> None:
    class NoSnapshot:
        metrics = object()

    class NoneMetrics:
        metrics = None

    assert not backend_capabilities(NoSnapshot()).supports_metrics
    assert not backend_capabilities(NoneMetrics()).supports_metrics


def test_capabilities_never_raise() -> None:
    class Exploding:
        @property
        def metrics(self) -> Any:
            raise RuntimeError("boom")

        async def scan(self) -> None: ...

    caps = backend_capabilities(Exploding())
    assert flags(caps) == ALL
    assert caps.supports_record_nowait is False


def test_capabilities_are_frozen() -> None:
    caps = backend_capabilities(InMemoryPersistence())
    with pytest.raises(AttributeError):
        caps.supports_scan = False  # type: ignore[misc]


def test_safe_metrics_snapshot() -> None:
    backend = InMemoryPersistence()
    snap = safe_metrics_snapshot(backend)
    assert snap == PersistenceMetrics().snapshot()

    class Raising:
        class metrics:  # lower case: stands in for the ``metrics`` attribute
            @staticmethod
            def snapshot() -> Any:
                raise RuntimeError("boom")

    class NotADict:
        class metrics:
            @staticmethod
            def snapshot() -> Any:
                return [("records_written", 1)]

    class PropertyRaises:
        @property
        def metrics(self) -> Any:
            raise OSError("gone")

    for broken in (object(), Raising(), NotADict(), PropertyRaises()):
        assert safe_metrics_snapshot(broken) == {}


pytest_anyio = pytest.mark.anyio


@pytest_anyio
async def test_base_backend_is_a_no_op() -> None:
    backend = PersistenceBackend()
    await backend.record_event(object())
    await backend.record_audit({"x": 1})
    await backend.record_dead_letter(None)
    assert await backend.scan() is None
    assert await backend.recover() is None
    assert await backend.compact() is None
    await backend.aclose()
    assert backend.metrics.snapshot()["records_written"] == 0


def test_base_retention_is_never_none() -> None:
    assert PersistenceBackend().retention == RetentionPolicy()
    policy = RetentionPolicy(max_records=3)
    assert PersistenceBackend(retention_policy=policy).retention is policy
    assert InMemoryPersistence(policy).retention is policy


def test_retention_policy_is_keyword_only_on_the_base() -> None:
    with pytest.raises(TypeError):
        PersistenceBackend(RetentionPolicy())  # type: ignore[call-arg]


def test_package_exports() -> None:
    assert papyra.persistence.__all__ == (
        "InMemoryPersistence", "JsonFilePersistence", "PersistenceBackendCapabilities",
        "PersistenceBackendContract", "RedisStreamsConfig", "RedisStreamsPersistence",
        "backend_capabilities", "safe_metrics_snapshot",
    )
    assert set(papyra.persistence.__all__) <= set(dir(papyra.persistence))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        papyra.persistence.nope


def test_star_import_resolves_every_exported_name() -> None:
    # Every name in __all__ must resolve: a name whose module does not exist makes
    # ``from papyra.persistence import *`` raise ImportError.
    namespace: dict[str, Any] = {}
    exec("from papyra.persistence import *", namespace)
    assert set(papyra.persistence.__all__) <= set(namespace)
    for name in papyra.persistence.__all__:
        assert hasattr(papyra.persistence, name)


def test_the_redis_names_resolve_lazily() -> None:
    import sys

    code = (
        "import sys, papyra.persistence as p; "
        "assert 'papyra.persistence.backends.redis' not in sys.modules; "
        "from papyra.persistence.backends.redis import RedisStreamsPersistence as R; "
        "assert p.RedisStreamsPersistence is R"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_backends_resolve_from_their_own_modules() -> None:
    mod = importlib.import_module("papyra.persistence.json")
    assert papyra.persistence.JsonFilePersistence is mod.JsonFilePersistence


def _fail_import(exc: ModuleNotFoundError) -> SimpleNamespace:
    def fake_import(name: str) -> Any:
        raise exc

    return SimpleNamespace(import_module=fake_import)


def test_a_missing_backend_module_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module = "papyra.persistence.json"
    missing = ModuleNotFoundError(f"No module named {module!r}", name=module)
    monkeypatch.setattr(papyra.persistence, "importlib", _fail_import(missing))
    monkeypatch.delitem(vars(papyra.persistence), "JsonFilePersistence", raising=False)
    with pytest.raises(ImportError, match=r"JsonFilePersistence is unavailable.*persistence\.json"):
        papyra.persistence.JsonFilePersistence


def test_a_broken_backend_module_is_not_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the absence of the backend module itself becomes the friendly ImportError; a missing
    # dependency *inside* an existing module propagates as it is.
    missing = ModuleNotFoundError("No module named 'somedep'", name="somedep")
    monkeypatch.setattr(papyra.persistence, "importlib", _fail_import(missing))
    monkeypatch.delitem(vars(papyra.persistence), "JsonFilePersistence", raising=False)
    with pytest.raises(ModuleNotFoundError, match="somedep"):
        papyra.persistence.JsonFilePersistence

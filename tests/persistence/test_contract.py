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
        assert flags(backend_capabilities(backend)) == (True, True, True, True)
        assert isinstance(backend, PersistenceBackendContract)


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

    assert flags(backend_capabilities(Exploding())) == ALL


def test_capabilities_are_frozen() -> None:
    caps = backend_capabilities(InMemoryPersistence())
    with pytest.raises(AttributeError):
        caps.supports_scan = False  # type: ignore[misc]


def test_safe_metrics_snapshot() -> None:
    backend = InMemoryPersistence()
    snap = safe_metrics_snapshot(backend)
    assert snap == PersistenceMetrics().snapshot()

    class Raising:
        class metrics:  # noqa: N801 - mimics an attribute
            @staticmethod
            def snapshot() -> Any:
                raise RuntimeError("boom")

    class NotADict:
        class metrics:  # noqa: N801
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
        "PersistenceBackendContract", "backend_capabilities", "safe_metrics_snapshot",
        "RedisStreamsConfig", "RedisStreamsPersistence",
    )
    assert set(papyra.persistence.__all__) <= set(dir(papyra.persistence))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        papyra.persistence.nope  # noqa: B018


@pytest.mark.parametrize(
    ("name", "module"),
    [("JsonFilePersistence", "papyra.persistence.json"),
     ("RedisStreamsConfig", "papyra.persistence.backends.redis"),
     ("RedisStreamsPersistence", "papyra.persistence.backends.redis")],
)
def test_backends_resolve_from_their_own_modules(name: str, module: str) -> None:
    # Other parts of the tree may not be present yet; either the name resolves to the object
    # its module defines, or the failure is an ImportError that names the missing module.
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        with pytest.raises(ImportError, match=module.replace(".", r"\.")):
            getattr(papyra.persistence, name)
    else:
        assert getattr(papyra.persistence, name) is getattr(mod, name)


def test_a_broken_backend_module_is_not_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the absence of the backend module itself becomes the friendly ImportError; a missing
    # dependency *inside* an existing module propagates as it is.
    def fake_import(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'somedep'", name="somedep")

    monkeypatch.setattr(papyra.persistence, "importlib", SimpleNamespace(import_module=fake_import))
    monkeypatch.delitem(vars(papyra.persistence), "RedisStreamsConfig", raising=False)
    with pytest.raises(ModuleNotFoundError, match="somedep"):
        papyra.persistence.RedisStreamsConfig  # noqa: B018

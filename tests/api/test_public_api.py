"""The public module map of the spec: every module imports and exposes its names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT

MODULE_MAP = {
    "papyra.actor": ["Actor"],
    "papyra.address": ["ActorAddress"],
    "papyra.audit": ["ActorInfo", "AuditReport"],
    "papyra.context": ["ActorContext"],
    "papyra.ref": ["ActorRef"],
    "papyra.proxy": ["ActorProxy", "ProxyAccessor"],
    "papyra.messages": ["AttrPath", "ProxyCall", "ProxyGetAttr", "ProxySetAttr"],
    "papyra._envelope": ["STOP", "Envelope", "Reply", "ActorTerminated", "DeadLetter"],
    "papyra.mailbox": ["Mailbox"],
    "papyra.events": [
        "ActorEvent", "ActorStarted", "ActorRestarted", "ActorStopped", "ActorCrashed",
    ],
    "papyra.exceptions": ["PapyraError", "ActorStopped", "AskTimeout", "MailboxClosed"],
    "papyra.hooks": ["FailureInfo", "SystemHooks", "DefaultHooks", "MaybeAwaitable"],
    "papyra.supervision": ["Strategy", "SupervisionPolicy"],
    "papyra.supervisor": ["SupervisorDecision"],
    "papyra.system": [
        "ActorSystem", "DeadLetterMailbox", "STOP", "DeadLetter", "ActorTerminated", "Envelope",
        "Reply",
    ],
    "papyra.typing": ["Receives", "ReceivesAny"],
    "papyra.clock": ["Clock", "SystemClock"],
    "papyra.persistence.models": [
        "PersistedEvent", "PersistedAudit", "PersistedDeadLetter", "CompactionReport",
        "PersistenceAnomalyType", "PersistenceAnomaly", "PersistenceScanReport",
        "PersistenceRecoveryMode", "PersistenceRecoveryConfig", "PersistenceRecoveryReport",
        "RotatingCompactionReport", "RotatingRecoveryReport",
    ],
    "papyra.persistence.base": ["PersistenceBackend"],
    "papyra.persistence.contract": [
        "PersistenceBackendCapabilities", "PersistenceBackendContract", "backend_capabilities",
        "safe_metrics_snapshot",
    ],
    "papyra.persistence.startup": ["PersistenceStartupMode", "PersistenceStartupConfig"],
    "papyra.persistence.metrics": ["PersistenceMetrics", "PersistenceMetricsMixin"],
    "papyra.persistence.backends.memory": ["InMemoryPersistence"],
    "papyra.persistence.backends.retention": ["RetentionPolicy"],
    "papyra.contrib.asgi": ["healthz", "metrics", "papyra_lifecycle", "PapyraASGIConfig"],
    "papyra.contrib.asgi.endpoints": ["healthz", "metrics"],
    "papyra.contrib.asgi.lifesycle": ["papyra_lifecycle"],
    "papyra.contrib.asgi.lifecycle": ["papyra_lifecycle"],
    "papyra.contrib.asgi.types": ["PapyraASGIConfig", "ActorSystemFactory", "JsonDict"],
    "papyra.contrib.fastapi": ["FastAPIPapyra"],
    "papyra.contrib.starlette": ["StarlettePapyra"],
    "papyra.contrib.lilya": ["LilyaPapyra"],
    "papyra.contrib.ravyn": ["RavynPapyra"],
}


@pytest.mark.parametrize("module", sorted(MODULE_MAP))
def test_module_exposes_its_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    for name in MODULE_MAP[module]:
        assert hasattr(mod, name), f"{module}.{name} is missing"


def test_package_root_names_resolve_lazily() -> None:
    import papyra

    assert papyra.__version__ == "0.3.0"
    for name in papyra.__all__:
        assert getattr(papyra, name) is not None
    from papyra import ActorStopped
    from papyra.exceptions import ActorStopped as ActorStoppedError

    assert ActorStopped is ActorStoppedError  # the exception, not the event


def test_importing_papyra_is_cheap() -> None:
    code = (
        "import sys, papyra; "
        "heavy = [m for m in ('papyra.cli', 'papyra.system', 'papyra.contrib', 'click', "
        "'redis', 'trio', 'fastapi', 'starlette', 'lilya', 'ravyn', 'uvicorn', 'httpx') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_unknown_root_attribute_raises_attribute_error() -> None:
    import papyra

    with pytest.raises(AttributeError):
        papyra.DoesNotExist


def test_the_root_all_is_spelled_out_and_matches_the_lazy_table() -> None:
    import papyra

    # Written out for type checkers (``from papyra import Actor`` under mypy --strict).
    assert sorted(papyra.__all__) == sorted(("__version__", *papyra._LAZY))

"""The four framework helpers through each framework's own test client (spec §5).

``install(app)`` mounts ``/healthz`` and ``/metrics`` and ties the system to the app's
lifespan; ``lifespan`` plugs into the framework's ``lifespan=``. The test clients run the
lifespan when used as context managers, on their own event loop.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.contrib.asgi import PapyraASGIConfig
from papyra.contrib.fastapi import FastAPIPapyra
from papyra.contrib.lilya import LilyaPapyra
from papyra.contrib.ravyn import RavynPapyra
from papyra.contrib.starlette import StarlettePapyra
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem
from tests.contrib.support import events_of, write_damaged_log


class Echo(Actor):
    async def receive(self, message: object) -> object:
        return message


@dataclass
class Framework:
    name: str
    integration: type[Any]
    #: app(lifespan=None, **kwargs) -> a new app of the framework
    make_app: Callable[..., Any]
    client: Callable[[Any], Any]
    #: The test client leaves unclosed anyio memory streams behind (Lilya's TestClient, which
    #: Ravyn's extends, does so with any app): collected, without warnings, after each test.
    leaky_client: bool = False


def _fastapi(**kwargs: Any) -> Any:
    from fastapi import FastAPI

    return FastAPI(**kwargs)


def _starlette(**kwargs: Any) -> Any:
    from starlette.applications import Starlette

    return Starlette(**kwargs)


def _lilya(**kwargs: Any) -> Any:
    from lilya.apps import Lilya

    return Lilya(**kwargs)


def _ravyn(**kwargs: Any) -> Any:
    from ravyn import Ravyn

    return Ravyn(**kwargs)


def _starlette_client(app: Any) -> Any:
    from starlette.testclient import TestClient

    return TestClient(app)


def _lilya_client(app: Any) -> Any:
    from lilya.testclient import TestClient

    return TestClient(app)


def _ravyn_client(app: Any) -> Any:
    from ravyn.testclient import RavynTestClient

    return RavynTestClient(app)


FRAMEWORKS = [
    Framework("fastapi", FastAPIPapyra, _fastapi, _starlette_client),
    Framework("starlette", StarlettePapyra, _starlette, _starlette_client),
    Framework("lilya", LilyaPapyra, _lilya, _lilya_client, leaky_client=True),
    Framework("ravyn", RavynPapyra, _ravyn, _ravyn_client, leaky_client=True),
]


@pytest.fixture(params=FRAMEWORKS, ids=[f.name for f in FRAMEWORKS])
def fw(request: pytest.FixtureRequest) -> Iterator[Framework]:
    framework: Framework = request.param
    yield framework
    if framework.leaky_client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "facts.ndjson"


@pytest.fixture
def factory(log: Path) -> Iterator[Callable[[], ActorSystem]]:
    made: list[ActorSystem] = []

    def make() -> ActorSystem:
        system = ActorSystem(persistence=JsonFilePersistence(log))
        made.append(system)
        return system

    yield make
    assert all(not s.running for s in made), "a test left a system running"


def test_install_serves_healthz_and_metrics_and_runs_the_system(
    fw: Framework, factory: Callable[[], ActorSystem], log: Path
) -> None:
    app = fw.make_app()
    system = fw.integration(factory).install(app)
    assert not system.running  # started by the app's lifespan, not by install()

    with fw.client(app) as client:
        assert system.running
        system.spawn(Echo, name="echo")
        health = client.get("/healthz", follow_redirects=True)
        assert health.status_code == 200
        assert health.headers["content-type"] == "application/json; charset=utf-8"
        assert health.json()["mode"] == "scan"
        assert health.json()["ok"] is True
        metrics = client.get("/metrics", follow_redirects=True)
        assert metrics.status_code == 200
        assert {"records_written", "write_errors"} <= set(metrics.json())

    assert not system.running
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


def test_install_reports_a_damaged_log_as_503(
    fw: Framework, factory: Callable[[], ActorSystem], log: Path
) -> None:
    write_damaged_log(log)
    app = fw.make_app()
    fw.integration(factory).install(app)
    with fw.client(app) as client:
        health = client.get("/healthz", follow_redirects=True)
    assert health.status_code == 503
    assert health.json()["anomalies"][0]["type"] == "3"


def test_install_honours_the_config_paths_and_formats(
    fw: Framework, factory: Callable[[], ActorSystem]
) -> None:
    config = PapyraASGIConfig(
        health_path="/ops/health", metrics_path="/ops/stats", metrics_format="text",
        health_mode="startup-check",
    )
    app = fw.make_app()
    fw.integration(factory, config).install(app)
    with fw.client(app) as client:
        health = client.get("/ops/health", follow_redirects=True)
        stats = client.get("/ops/stats", follow_redirects=True)
    assert health.status_code == 200
    assert health.json()["mode"] == "startup-check"
    assert stats.headers["content-type"] == "text/plain; charset=utf-8"
    assert stats.text.startswith("Persistence Metrics\n-------------------\nrecords_written: ")


def test_install_calls_the_factory_once_immediately(fw: Framework, log: Path) -> None:
    calls: list[ActorSystem] = []

    def make() -> ActorSystem:
        calls.append(ActorSystem(persistence=JsonFilePersistence(log)))
        return calls[-1]

    app = fw.make_app()
    system = fw.integration(make).install(app)
    assert calls == [system]
    with fw.client(app) as client:
        client.get("/healthz", follow_redirects=True)
    assert calls == [system]


def test_install_keeps_the_apps_own_lifespan_and_runs_it_inside_the_system(
    fw: Framework, factory: Callable[[], ActorSystem], log: Path
) -> None:
    # Appending on_startup handlers would be skipped here (the app has a lifespan=): the
    # helpers wrap the router's lifespan instead. The app's lifespan can use the system.
    seen: list[str] = []
    holder: dict[str, ActorSystem] = {}

    @asynccontextmanager
    async def app_lifespan(app: Any) -> AsyncIterator[None]:
        seen.append(f"enter running={holder['system'].running}")
        ref = holder["system"].spawn(Echo, name="from-app-lifespan")
        assert await ref.ask("up") == "up"
        yield
        seen.append(f"exit running={holder['system'].running}")

    app = fw.make_app(lifespan=app_lifespan)
    holder["system"] = fw.integration(factory).install(app)
    with fw.client(app) as client:
        assert client.get("/healthz", follow_redirects=True).status_code == 200
    assert seen == ["enter running=True", "exit running=True"]
    assert events_of(log, "from-app-lifespan") == ["ActorStarted", "ActorStopped"]


def test_install_keeps_handlers_the_app_was_built_with(
    fw: Framework, factory: Callable[[], ActorSystem]
) -> None:
    if fw.name in ("starlette",):
        pytest.skip("Starlette 1.x has no on_startup/on_shutdown")
    seen: list[str] = []
    app = fw.make_app(
        on_startup=[lambda: seen.append("startup")], on_shutdown=[lambda: seen.append("down")]
    )
    system = fw.integration(factory).install(app)
    with fw.client(app):
        assert system.running
    assert seen == ["startup", "down"]
    assert not system.running


def test_lifespan_plugs_into_the_framework_lifespan_argument(
    fw: Framework, factory: Callable[[], ActorSystem], log: Path
) -> None:
    made: list[ActorSystem] = []

    def make() -> ActorSystem:
        made.append(factory())
        return made[-1]

    integ = fw.integration(make)
    app = fw.make_app(lifespan=integ.lifespan)
    with fw.client(app):
        [system] = made
        assert system.running
        if fw.name != "ravyn":  # Ravyn calls its lifespan without the app
            assert app.state.papyra is system
        system.spawn(Echo, name="echo")
    assert not system.running
    assert events_of(log, "echo") == ["ActorStarted", "ActorStopped"]


def test_install_into_an_app_that_cannot_mount_raises(
    fw: Framework, factory: Callable[[], ActorSystem]
) -> None:
    label = {"fastapi": "FastAPI", "starlette": "Starlette", "lilya": "Lilya", "ravyn": "Ravyn"}
    with pytest.raises(RuntimeError, match=f"Could not auto-install Papyra endpoints into the "
                                           f"{label[fw.name]} app"):
        fw.integration(factory).install(object())

"""The app the end-to-end tests serve with uvicorn (``uvicorn tests.contrib.e2e_app:app``).

Configured by environment variables, read at import:

* ``PAPYRA_E2E_LOG``: the JSON log file of the system (required);
* ``PAPYRA_E2E_FRAMEWORK``: ``fastapi`` (default), ``starlette``, ``lilya`` or ``ravyn``.

The helper's ``install()`` mounts ``/healthz`` (scan) and ``/metrics`` (JSON). Three more raw
endpoints share the same system: ``/metrics-text``, ``/metrics-prometheus`` and
``/healthz-recover`` (startup-check mode, RECOVER with REPAIR). The app's own lifespan spawns
the actor ``greeter`` and asks it once, so the log must show its ``ActorStarted`` and -- after
a graceful shutdown -- its ``ActorStopped``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from papyra.actor import Actor
from papyra.contrib.asgi import healthz, metrics
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import ActorSystem

LOG = os.environ["PAPYRA_E2E_LOG"]
FRAMEWORK = os.environ.get("PAPYRA_E2E_FRAMEWORK", "fastapi")
RECOVER = PersistenceStartupConfig(
    mode=PersistenceStartupMode.RECOVER,
    recovery=PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR),
)


class Greeter(Actor):
    async def receive(self, message: Any) -> Any:
        return f"hello, {message}"


@asynccontextmanager
async def app_lifespan(app: Any) -> AsyncIterator[None]:
    ref = system.spawn(Greeter, name="greeter")
    assert await ref.ask("server") == "hello, server"
    yield


def _make_app() -> tuple[Any, Any]:
    if FRAMEWORK == "fastapi":
        from fastapi import FastAPI

        from papyra.contrib.fastapi import FastAPIPapyra

        return FastAPI(lifespan=app_lifespan), FastAPIPapyra
    if FRAMEWORK == "starlette":
        from starlette.applications import Starlette

        from papyra.contrib.starlette import StarlettePapyra

        return Starlette(lifespan=app_lifespan), StarlettePapyra
    if FRAMEWORK == "lilya":
        from lilya.apps import Lilya

        from papyra.contrib.lilya import LilyaPapyra

        return Lilya(lifespan=app_lifespan), LilyaPapyra
    if FRAMEWORK == "ravyn":
        from ravyn import Ravyn

        from papyra.contrib.ravyn import RavynPapyra

        return Ravyn(lifespan=app_lifespan), RavynPapyra
    raise ValueError(f"unknown PAPYRA_E2E_FRAMEWORK {FRAMEWORK!r}")


app, integration = _make_app()

def _factory() -> ActorSystem:
    return ActorSystem(persistence=JsonFilePersistence(LOG))


system: ActorSystem = integration(_factory).install(app)
_extra = {
    "/metrics-text": functools.partial(metrics, system=system, format="text"),
    "/metrics-prometheus": functools.partial(metrics, system=system, format="prometheus"),
    "/healthz-recover": functools.partial(
        healthz, system=system, mode="startup-check", startup_config=RECOVER
    ),
}
for _path, _endpoint in _extra.items():
    if FRAMEWORK in ("fastapi", "starlette"):
        app.mount(_path, _endpoint)
    elif FRAMEWORK == "lilya":
        app.include(_path, _endpoint)
    else:
        from ravyn import Include

        app.add_include(Include(_path, app=_endpoint))

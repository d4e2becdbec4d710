"""What the four framework helpers share: ``lifespan()``, ``install()`` and hook registration.

Each helper module (``papyra.contrib.fastapi`` ...) imports its framework and subclasses
:class:`PapyraIntegration`, supplying only how endpoints are mounted.

Startup/shutdown hooks are registered, in order of preference:

1. by wrapping the router's ``lifespan_context`` (Starlette >= 0.26, FastAPI, Lilya, Ravyn):
   the system starts first, then the app's own lifespan (or its ``on_startup`` handlers) runs,
   so they can already spawn actors; on shutdown the app's lifespan exits first (it can still
   talk to its actors), then the system closes and flushes its facts. This is the only
   registration that runs whatever the app was built with: appended ``on_startup`` handlers
   are silently skipped when the app has a ``lifespan=`` (Starlette, FastAPI, Lilya) or was
   built with ``on_startup=`` (Lilya and Ravyn copy the list), and Starlette 1.x has no
   ``on_startup`` at all;
2. by appending to ``app.on_startup`` / ``app.on_shutdown`` (0.3.0's way; older Starlette);
3. by appending to ``app.router.on_startup`` / ``on_shutdown``;
4. through ``app.add_event_handler("startup" | "shutdown", ...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from papyra.contrib.asgi._lifecycle import (
    NO_APP,
    PapyraLifespan,
    papyra_lifecycle,
    prepare_and_start,
)
from papyra.contrib.asgi.endpoints import healthz, metrics
from papyra.contrib.asgi.types import PapyraASGIConfig

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ("ASGIApp", "PapyraIntegration")

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
Hook = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class PapyraIntegration:
    """Base of ``FastAPIPapyra``, ``StarlettePapyra``, ``LilyaPapyra`` and ``RavynPapyra``."""

    system_factory: Callable[[], ActorSystem]
    config: PapyraASGIConfig = PapyraASGIConfig()  # noqa: RUF009 - frozen, shared safely

    #: The framework's name, for error messages.
    framework: ClassVar[str] = "ASGI"
    #: Lilya (and Ravyn) call a lifespan that is a bound method with no arguments to get the
    #: real one (settings-provided lifespans); the wrapper does the same.
    resolve_method_lifespan: ClassVar[bool] = False

    def lifespan(self, app: Any = NO_APP) -> PapyraLifespan:
        """An async context manager running a new system (see :class:`PapyraLifespan`):
        ``FastAPI(lifespan=integ.lifespan)``, ``async with integ.lifespan() as system:``, or
        (0.3.0 code) ``await integ.lifespan()``. Each call builds a new system."""
        factory, config = self.system_factory, self.config

        def make() -> AbstractAsyncContextManager[ActorSystem]:
            return papyra_lifecycle(
                factory,
                persistence_startup=config.persistence_startup,
                persistence_recovery=config.persistence_recovery,
            )

        return PapyraLifespan(make, app)

    def install(self, app: Any) -> ActorSystem:
        """Build the system now (one ``system_factory()`` call), start it with the app and
        close it when the app shuts down, and mount the health and metrics endpoints.

        Returns that system. Call it before the app starts. The endpoints are mounted apps:
        they answer under ``config.health_path`` and ``config.metrics_path`` with a trailing
        slash (``/healthz/``), and the framework redirects the bare path there (Starlette and
        FastAPI 307, Lilya and Ravyn 303). The system is started in the app's lifespan
        startup, before the app's own lifespan, and closed after it at shutdown; a failed
        ``start()`` (a ``FAIL_ON_ANOMALY`` startup check, say) fails the app's startup.

        :raises RuntimeError: the app cannot mount an ASGI app or register startup/shutdown
            hooks (raised before ``system_factory()`` is called and the app is changed).
        """
        mount = self._mounter(app)
        register = self._hook_registrar(app)
        config = self.config
        system = self.system_factory()

        async def startup() -> None:
            await prepare_and_start(
                system, config.persistence_startup, config.persistence_recovery
            )

        async def shutdown() -> None:
            await system.aclose()

        async def health_endpoint(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
            send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        ) -> None:
            await healthz(
                scope,
                receive,
                send,
                system=system,
                mode=config.health_mode,
                startup_config=config.persistence_startup,
            )

        async def metrics_endpoint(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
            send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        ) -> None:
            await metrics(scope, receive, send, system=system, format=config.metrics_format)

        mount(config.health_path, health_endpoint)
        mount(config.metrics_path, metrics_endpoint)
        register(startup, shutdown)
        return system

    # -- per framework ---------------------------------------------------------------------

    def _mounter(self, app: Any) -> Callable[[str, ASGIApp], None]:
        """``mount(path, asgi_app)`` for this app; ``RuntimeError`` if it has no way to."""
        mount = getattr(app, "mount", None)
        if not callable(mount):
            raise self._cannot_mount("mount")

        def do(path: str, endpoint: ASGIApp) -> None:
            mount(path, endpoint)

        return do

    def _cannot_mount(self, method: str) -> RuntimeError:
        return RuntimeError(
            f"Could not auto-install Papyra endpoints into the {self.framework} app. "
            f"The app has no {method}() method; mount papyra.contrib.asgi.healthz and "
            "metrics yourself."
        )

    # -- hooks -----------------------------------------------------------------------------

    def _hook_registrar(self, app: Any) -> Callable[[Hook, Hook], None]:
        router = getattr(app, "router", None)
        if router is not None and getattr(router, "lifespan_context", None) is not None:
            resolve = self.resolve_method_lifespan

            def wrap(startup: Hook, shutdown: Hook) -> None:
                router.lifespan_context = _wrapped_lifespan(
                    router.lifespan_context, startup, shutdown, resolve
                )

            return wrap
        for owner in (app, router):
            if _has_hook_lists(owner):

                def append(startup: Hook, shutdown: Hook, owner: Any = owner) -> None:
                    owner.on_startup.append(startup)
                    owner.on_shutdown.append(shutdown)

                return append
        add = getattr(app, "add_event_handler", None)
        if callable(add):

            def via_handler_api(startup: Hook, shutdown: Hook) -> None:
                add("startup", startup)
                add("shutdown", shutdown)

            return via_handler_api
        raise RuntimeError(
            f"Could not register Papyra startup/shutdown hooks on the {self.framework} app: "
            "it has no router lifespan, no on_startup/on_shutdown lists and no "
            "add_event_handler(). Use the integration's lifespan() instead."
        )


def _has_hook_lists(owner: Any) -> bool:
    return owner is not None and all(
        isinstance(getattr(owner, name, None), list) for name in ("on_startup", "on_shutdown")
    )


def _wrapped_lifespan(
    original: Callable[[Any], Any], startup: Hook, shutdown: Hook, resolve_method: bool
) -> Callable[[Any], Any]:
    """A lifespan that runs ``original`` inside the Papyra hooks (and keeps its state)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        inner = original
        if resolve_method and inspect.ismethod(inner):
            resolved = inner()
            if resolved is not None:
                inner = resolved
        await startup()
        try:
            async with inner(app) as state:
                yield state
        finally:
            await shutdown()

    return lifespan

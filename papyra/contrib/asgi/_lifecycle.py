"""``papyra_lifecycle``: start an actor system for the lifetime of an ASGI app.

Public through :mod:`papyra.contrib.asgi.lifesycle` (0.3.0's misspelled name, kept) and
:mod:`papyra.contrib.asgi.lifecycle` (the correct spelling); both re-export this module.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from papyra.persistence.models import PersistenceRecoveryConfig
from papyra.persistence.startup import PersistenceStartupConfig

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ("NO_APP", "PapyraLifespan", "papyra_lifecycle", "prepare_and_start")

_log = logging.getLogger("papyra.contrib.asgi")


async def prepare_and_start(
    system: Any,
    persistence_startup: PersistenceStartupConfig | None,
    persistence_recovery: PersistenceRecoveryConfig | None,
) -> None:
    """What every Papyra startup hook does: apply the startup configuration (errors are
    logged and swallowed), run the recovery (same), then ``await system.start()``, whose
    errors propagate (a failed startup check stops the app from starting)."""
    if persistence_startup is not None:
        try:
            system.persistence_startup = persistence_startup
        except Exception:
            _log.warning("could not set persistence_startup on %r", system, exc_info=True)
    if persistence_recovery is not None:
        try:
            await system.persistence.recover(persistence_recovery)
        except Exception:
            _log.warning("persistence recovery before start failed", exc_info=True)
    await system.start()


@asynccontextmanager
async def papyra_lifecycle(
    system_factory: Callable[[], ActorSystem],
    *,
    persistence_startup: PersistenceStartupConfig | None = None,
    persistence_recovery: PersistenceRecoveryConfig | None = None,
) -> AsyncIterator[ActorSystem]:
    """Build a system with ``system_factory``, start it, yield it, close it on exit.

    Before ``start()``: ``persistence_startup`` is assigned to ``system.persistence_startup``
    and ``persistence_recovery`` is passed to ``system.persistence.recover()``; errors in
    these two steps are logged and swallowed. Errors of ``start()`` propagate (nothing is
    yielded). On exit ``aclose()`` runs -- also when the body raised or was cancelled -- and
    its errors are logged and swallowed, so the body's own outcome is what the caller sees.

    Works with any object that has ``persistence``, ``start()`` and ``aclose()``. The system
    owns its tasks, so this may be entered and left in different cancel scopes (an ASGI
    server's lifespan task) and under deadlines.
    """
    system = system_factory()
    await prepare_and_start(system, persistence_startup, persistence_recovery)
    try:
        yield system
    finally:
        try:
            await system.aclose()
        except Exception:
            _log.warning("ActorSystem.aclose() failed", exc_info=True)


#: ``lifespan()`` called by user code (no app): the context yields the system.
NO_APP: Any = object()


class PapyraLifespan:
    """What the framework helpers' ``lifespan()`` returns: an async context manager that runs
    :func:`papyra_lifecycle` (a new system each time it is entered).

    * ``async with integ.lifespan() as system:`` -- yields the started system.
    * ``FastAPI(lifespan=integ.lifespan)`` -- the framework calls ``lifespan(app)``; then the
      context yields ``None`` (frameworks require lifespan state to be a mapping or ``None``)
      and the system is stored as ``app.state.papyra`` when the app has a ``state`` (Ravyn
      passes no app to its lifespan: keep the system from ``install()`` there).
    * Calling it with an app (``lifespan()(app)``, what Lilya does with a bound-method
      lifespan) returns a new one for that app, like Starlette's default lifespan.
    * ``await integ.lifespan()`` -- 0.3.0 code awaited it; this resolves to the same object.
    """

    __slots__ = ("_app", "_cm", "_make")

    def __init__(
        self, make: Callable[[], AbstractAsyncContextManager[Any]], app: Any = NO_APP
    ) -> None:
        self._make = make
        self._app = app
        self._cm: AbstractAsyncContextManager[Any] | None = None

    def __call__(self, app: Any = None) -> PapyraLifespan:
        return PapyraLifespan(self._make, app)

    async def __aenter__(self) -> Any:
        if self._cm is not None:
            raise RuntimeError("this lifespan was already entered; call lifespan() again")
        self._cm = self._make()
        system = await self._cm.__aenter__()
        if self._app is NO_APP:
            return system
        state = getattr(self._app, "state", None)
        if state is not None:
            try:
                state.papyra = system
            except Exception:
                _log.debug("could not store the system on app.state", exc_info=True)
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._cm is None:
            raise RuntimeError("this lifespan was not entered")
        return await self._cm.__aexit__(exc_type, exc, tb)

    def __await__(self) -> Generator[Any, None, PapyraLifespan]:
        return self._itself().__await__()

    async def _itself(self) -> PapyraLifespan:
        return self

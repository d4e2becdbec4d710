"""The ``papyra`` logger proxy and the hook that configures logging.

Papyra is a library first: ``import papyra`` only attaches a ``NullHandler`` to the
``papyra`` logger and never touches the handlers or levels of the host application. Output
appears on the console only when the application asks for it, either through its own
``logging`` configuration or by calling :func:`setup_logging`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any

__all__ = ("InvalidLoggingLevel", "LoggerProxy", "LoggingConfig", "logger", "setup_logging")

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class InvalidLoggingLevel(ValueError, AssertionError):
    """Raised for a level outside ``DEBUG, INFO, WARNING, ERROR, CRITICAL``.

    Papyra 0.3.0 used a bare ``assert`` (``AssertionError``, and no check at all under
    ``python -O``); this is also a ``ValueError`` and is raised even under ``-O``.
    """


class LoggingConfig(ABC):
    """How to configure logging and which logger :data:`logger` should forward to.

    ``level`` is upper-cased and must name a standard level. Extra keyword arguments are
    kept in :attr:`options` for subclasses. With ``skip_setup_configure=True``,
    :func:`setup_logging` binds :meth:`get_logger` without calling :meth:`configure`.

    :raises InvalidLoggingLevel: ``level`` names no standard level.
    """

    def __init__(
        self,
        level: str = "DEBUG",
        *,
        skip_setup_configure: bool = False,
        name: str = "papyra",
        **options: Any,
    ) -> None:
        normalized = str(level).upper()
        if normalized not in _LEVELS:
            raise InvalidLoggingLevel(
                f"Invalid logging level {level!r}; expected one of {', '.join(_LEVELS)}."
            )
        self.level = normalized
        self.skip_setup_configure = skip_setup_configure
        self.name = name
        self.options: dict[str, Any] = options

    @abstractmethod
    def configure(self) -> None:
        """Install handlers/formatters (called by :func:`setup_logging` unless skipped)."""

    @abstractmethod
    def get_logger(self) -> Any:
        """Return the logger object that :data:`logger` forwards to."""


class LoggerProxy:
    """Forwards attribute access (``info``, ``warning``, ``setLevel``, ...) to a bound logger.

    Until a logger is bound, the first attribute access binds ``logging.getLogger("papyra")``
    *without* configuring any handler, so a library user who never calls
    :func:`setup_logging` gets the usual library behaviour (records propagate to whatever the
    application configured; the ``NullHandler`` silences them otherwise). Binding is
    thread-safe; forwarding returns the bound logger's own method, so ``%(module)s`` and
    ``%(lineno)d`` in records point at the caller, not at this proxy.
    """

    __slots__ = ("_lock", "_logger")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logger: Any | None = None

    def bind_logger(self, logger: Any | None) -> None:
        """Forward to ``logger`` from now on; ``None`` unbinds (the next use binds the default)."""
        with self._lock:
            self._logger = logger

    def _bound(self) -> Any:
        bound = self._logger
        if bound is None:
            with self._lock:
                bound = self._logger
                if bound is None:
                    bound = self._logger = logging.getLogger("papyra")
        return bound

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the proxy itself lacks. Dunder probes (copy, pickle,
        # inspect) must not bind a logger as a side effect.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._bound(), name)

    def __repr__(self) -> str:
        return f"<LoggerProxy bound to {self._logger!r}>"


logger = LoggerProxy()


def setup_logging(logging_config: LoggingConfig | None = None) -> None:
    """Configure logging with ``logging_config`` and bind its logger to :data:`logger`.

    ``None`` means ``StandardLoggingConfig()`` (a console handler on the root logger at
    level ``DEBUG``). Calling it again reconfigures; it never stacks duplicate handlers
    for the standard config. Takes effect at the call, process-wide (Python's logging is
    global); call it once at start-up, before the systems log.

    :raises ValueError: ``logging_config`` is not a :class:`LoggingConfig`.
    """
    if logging_config is None:
        from papyra.utils.logging import StandardLoggingConfig

        logging_config = StandardLoggingConfig()
    elif not isinstance(logging_config, LoggingConfig):
        raise ValueError(
            "`logging_config` must be an instance of papyra.logging.LoggingConfig, "
            f"not {type(logging_config).__name__}."
        )
    if not logging_config.skip_setup_configure:
        logging_config.configure()
    logger.bind_logger(logging_config.get_logger())

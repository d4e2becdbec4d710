"""The shape of :data:`papyra.logging.logger`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ("LoggerProtocol",)


@runtime_checkable
class LoggerProtocol(Protocol):
    """A logger that can be re-pointed at another logger object.

    ``isinstance(obj, LoggerProtocol)`` only checks that the six names exist; it does not
    check signatures.
    """

    def bind_logger(self, logger: Any | None) -> None:
        """Forward to ``logger`` from now on (``None``: back to the default)."""
        ...

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at DEBUG level."""
        ...

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at INFO level."""
        ...

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at WARNING level."""
        ...

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at ERROR level."""
        ...

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at CRITICAL level."""
        ...

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

    def bind_logger(self, logger: Any | None) -> None: ...

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None: ...

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None: ...

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None: ...

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None: ...

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None: ...

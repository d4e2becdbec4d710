"""The default :class:`~papyra.logging.LoggingConfig`, built on ``logging.config.dictConfig``."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from papyra.logging import LoggingConfig

__all__ = ("DEFAULT_FORMAT", "StandardLoggingConfig")

DEFAULT_FORMAT = "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"


class StandardLoggingConfig(LoggingConfig):
    """One console (stderr) handler on the root logger, root level = ``level``.

    Pass ``config`` to use your own ``dictConfig`` dictionary instead. The default
    dictionary keeps existing loggers enabled (``disable_existing_loggers=False``), so
    loggers created by other libraries before the call keep working.
    """

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config: dict[str, Any] = config if config is not None else self._default_config()

    def _default_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"default": {"format": DEFAULT_FORMAT}},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "default",
                    "level": self.level,
                }
            },
            "root": {"level": self.level, "handlers": ["console"]},
        }

    def configure(self) -> None:
        """Apply :attr:`config` with ``logging.config.dictConfig`` (process-wide).

        :func:`~papyra.logging.setup_logging` calls it unless ``skip_setup_configure``.
        ``dictConfig`` raises ``ValueError`` for a dictionary it cannot apply.
        """
        logging.config.dictConfig(self.config)

    def get_logger(self) -> logging.Logger:
        """The standard library logger named ``name`` (``"papyra"`` by default)."""
        return logging.getLogger(self.name)

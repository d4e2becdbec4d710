"""``papyra.logging``, ``papyra.utils.logging`` and ``papyra.protocols.logging``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import papyra.logging as papyra_logging
from papyra.logging import LoggerProxy, LoggingConfig, logger, setup_logging
from papyra.protocols import LoggerProtocol
from papyra.utils.logging import StandardLoggingConfig


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root logger, the ``papyra`` logger and the global proxy binding."""
    root = logging.getLogger()
    papyra = logging.getLogger("papyra")
    saved = (root.handlers[:], root.level, papyra.handlers[:], papyra.level, papyra.disabled)
    bound = logger._logger
    yield
    root.handlers[:], papyra.handlers[:] = saved[0], saved[2]
    root.setLevel(saved[1])
    papyra.setLevel(saved[3])
    papyra.disabled = saved[4]
    logger.bind_logger(bound)


class RecordingConfig(LoggingConfig):
    def __init__(self, target: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.configured = 0

    def configure(self) -> None:
        self.configured += 1

    def get_logger(self) -> Any:
        return self.target


class ListLogger:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def info(self, msg: str) -> None:
        self.calls.append(("info", msg))


# -- LoggingConfig --------------------------------------------------------------------


def test_logging_config_is_abstract() -> None:
    with pytest.raises(TypeError):
        LoggingConfig()  # type: ignore[abstract]


def test_logging_config_defaults() -> None:
    config = RecordingConfig()
    assert config.level == "DEBUG"
    assert config.skip_setup_configure is False
    assert config.name == "papyra"
    assert config.options == {}


def test_level_is_upper_cased_and_options_are_kept() -> None:
    config = RecordingConfig(level="warning", name="app", colour=True)
    assert config.level == "WARNING"
    assert config.name == "app"
    assert config.options == {"colour": True}


@pytest.mark.parametrize("level", ["TRACE", "verbose", "", "NOTSET"])
def test_unknown_level_is_rejected(level: str) -> None:
    with pytest.raises(ValueError, match="Invalid logging level") as info:
        RecordingConfig(level=level)
    # 0.3.0 used ``assert``; callers catching AssertionError keep working.
    assert isinstance(info.value, AssertionError)


# -- setup_logging --------------------------------------------------------------------


def test_setup_logging_rejects_other_objects() -> None:
    with pytest.raises(ValueError, match="LoggingConfig"):
        setup_logging({"level": "INFO"})  # type: ignore[arg-type]


def test_setup_logging_configures_and_binds() -> None:
    target = ListLogger()
    config = RecordingConfig(target)
    setup_logging(config)
    assert config.configured == 1
    logger.info("hello")
    assert target.calls == [("info", "hello")]


def test_setup_logging_can_skip_configure() -> None:
    target = ListLogger()
    config = RecordingConfig(target, skip_setup_configure=True)
    setup_logging(config)
    assert config.configured == 0
    logger.info("bound anyway")
    assert target.calls == [("info", "bound anyway")]


def test_default_setup_installs_one_console_handler_on_root() -> None:
    setup_logging()
    root = logging.getLogger()
    assert root.level == logging.DEBUG
    assert len(root.handlers) == 1
    handler = root.handlers[0]
    assert type(handler) is logging.StreamHandler
    assert handler.formatter is not None
    assert handler.formatter._fmt == "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"
    assert logger._logger is logging.getLogger("papyra")


def test_repeated_setup_does_not_duplicate_handlers() -> None:
    setup_logging(StandardLoggingConfig(level="INFO"))
    setup_logging(StandardLoggingConfig(level="WARNING"))
    root = logging.getLogger()
    assert len(root.handlers) == 1
    assert root.level == logging.WARNING


def test_standard_setup_prints_formatted_records(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(StandardLoggingConfig(level="INFO"))
    logger.debug("hidden")
    logger.info("visible")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert "INFO in test_logging: visible" in err


def test_standard_setup_keeps_existing_loggers_enabled() -> None:
    other = logging.getLogger("papyra_tests.other_library")
    setup_logging(StandardLoggingConfig(level="INFO"))
    assert other.disabled is False


def test_standard_config_accepts_a_custom_dict_config() -> None:
    custom = {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {"papyra": {"level": "ERROR"}},
    }
    config = StandardLoggingConfig(config=custom, name="papyra")
    assert config.config is custom
    setup_logging(config)
    assert logging.getLogger("papyra").level == logging.ERROR


def test_standard_config_logger_follows_name() -> None:
    assert StandardLoggingConfig().get_logger() is logging.getLogger("papyra")
    assert StandardLoggingConfig(name="myapp").get_logger() is logging.getLogger("myapp")


# -- the proxy ------------------------------------------------------------------------


def test_library_users_who_never_set_up_logging_are_left_alone() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    fresh = LoggerProxy()
    fresh.warning("quiet unless the application configured logging")
    assert root.handlers == handlers
    assert root.level == level
    assert fresh._logger is logging.getLogger("papyra")


def test_proxy_records_reach_the_application_configuration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fresh = LoggerProxy()
    with caplog.at_level(logging.INFO, logger="papyra"):
        fresh.info("spawned %s", "worker")
    (record,) = caplog.records
    assert record.name == "papyra"
    assert record.getMessage() == "spawned worker"
    # Forwarded methods are the logger's own: the record points at the caller.
    assert record.module == "test_logging"


def test_proxy_forwards_any_attribute() -> None:
    fresh = LoggerProxy()
    fresh.bind_logger(logging.getLogger("papyra_tests.forward"))
    assert fresh.name == "papyra_tests.forward"
    assert fresh.isEnabledFor(logging.CRITICAL) is True


def test_unbinding_returns_to_the_default_logger() -> None:
    fresh = LoggerProxy()
    fresh.bind_logger(ListLogger())
    fresh.bind_logger(None)
    assert fresh.name == "papyra"


def test_proxy_does_not_bind_on_dunder_probes() -> None:
    fresh = LoggerProxy()
    assert not hasattr(fresh, "__deepcopy__")
    assert fresh._logger is None


def test_proxy_satisfies_the_logger_protocol() -> None:
    assert isinstance(logger, LoggerProtocol)
    assert isinstance(LoggerProxy(), LoggerProtocol)
    assert not isinstance(logging.getLogger("papyra"), LoggerProtocol)  # no bind_logger


def test_module_exports() -> None:
    assert papyra_logging.__all__ == (
        "InvalidLoggingLevel", "LoggerProxy", "LoggingConfig", "logger", "setup_logging",
    )

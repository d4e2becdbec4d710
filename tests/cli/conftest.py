"""Fixtures of the CLI tests: fresh settings per test, a runner, backends to point the CLI at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from papyra.cli.app import app
from papyra.conf import monkay


@pytest.fixture(autouse=True)
def fresh_papyra_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PAPYRA_SETTINGS_MODULE", raising=False)
    del monkay.settings
    yield
    del monkay.settings


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """``invoke(*args)``: run ``papyra *args`` in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def run(*args: str, **kwargs: Any) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False, **kwargs)

    return run


@pytest.fixture
def use_backend(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Make ``settings.persistence`` the given backend for this test."""

    def use(backend: Any) -> Any:
        monkeypatch.setattr(monkay.settings, "persistence", backend)
        return backend

    return use

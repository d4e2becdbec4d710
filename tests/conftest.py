"""Shared fixtures: both anyio backends, and both twins of every hot path."""

from __future__ import annotations

import os
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest

REQUIRE_EXTENSIONS = os.environ.get("PAPYRA_REQUIRE_EXTENSIONS", "") not in ("", "0")
NO_EXTENSIONS = os.environ.get("PAPYRA_NO_EXTENSIONS", "") not in ("", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-extensions",
        action="store_true",
        default=False,
        help="deselect the tests that run against the compiled twins",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not (config.getoption("--no-extensions") or NO_EXTENSIONS):
        return
    skip = pytest.mark.skip(reason="compiled speedups disabled (PAPYRA_NO_EXTENSIONS)")
    for item in items:
        if "speedups" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _load_twins(suffix: str) -> SimpleNamespace:
    return SimpleNamespace(
        name="python" if suffix == "py" else "cython",
        dispatch=import_module(f"papyra._speedups.dispatch_{suffix}"),
    )


@pytest.fixture(
    scope="session",
    params=["python", pytest.param("cython", marks=pytest.mark.speedups)],
)
def impl(request: pytest.FixtureRequest) -> Any:
    """The twins of one implementation: ``impl.dispatch`` (and more as hot paths are added)."""
    suffix = "py" if request.param == "python" else "c"
    try:
        return _load_twins(suffix)
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        pytest.skip("compiled speedups are not built")

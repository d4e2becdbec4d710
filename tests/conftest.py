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


class _Twins(SimpleNamespace):
    """``impl.<hot path>``; a twin that is not built yet skips only the tests that touch it."""

    def __getattr__(self, name: str) -> Any:
        missing = self.__dict__.get("_missing", {})
        if name in missing:
            if REQUIRE_EXTENSIONS:
                raise missing[name]
            pytest.skip(f"papyra._speedups.{name}_c is not built ({missing[name]})")
        raise AttributeError(name)


def _load_twins(suffix: str) -> SimpleNamespace:
    twins = _Twins(
        name="python" if suffix == "py" else "cython",
        dispatch=import_module(f"papyra._speedups.dispatch_{suffix}"),
    )
    # Hot paths whose compiled twin may not exist yet: the python param always has the
    # reference; the cython param skips (or fails under PAPYRA_REQUIRE_EXTENSIONS) on access.
    missing: dict[str, ImportError] = {}
    for stem in ("ndjson",):
        try:
            setattr(twins, stem, import_module(f"papyra._speedups.{stem}_{suffix}"))
        except ImportError as exc:
            if suffix == "py":
                raise
            missing[stem] = exc
    twins._missing = missing
    return twins


@pytest.fixture(
    scope="session",
    params=["python", pytest.param("cython", marks=pytest.mark.speedups)],
)
def impl(request: pytest.FixtureRequest) -> Any:
    """The twins of one implementation: ``impl.dispatch``, ``impl.ndjson`` (and more as hot paths are added)."""
    suffix = "py" if request.param == "python" else "c"
    try:
        return _load_twins(suffix)
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        pytest.skip("compiled speedups are not built")

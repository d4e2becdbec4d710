"""Fixtures shared by ``tests/`` and ``benchmarks/``: both anyio backends and both twins.

``impl`` is the one harness that runs a test against both implementations of every hot path
(``impl.dispatch``, ``impl.ndjson``, ``impl.resp``): the pure-Python ``_py`` references and
the compiled ``_c`` twins. The compiled param is marked ``speedups``; it is skipped when the
twins are not built or ``PAPYRA_NO_EXTENSIONS`` is set, and a missing build is an error under
``PAPYRA_REQUIRE_EXTENSIONS=1``. A new twin joins by adding its stem to :data:`HOT_PATHS`.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

_OFF = ("", "0")
REQUIRE_EXTENSIONS = os.environ.get("PAPYRA_REQUIRE_EXTENSIONS", "") not in _OFF
NO_EXTENSIONS = os.environ.get("PAPYRA_NO_EXTENSIONS", "") not in _OFF

#: The hot paths with a ``papyra._speedups.<stem>_py`` reference and a ``<stem>_c`` twin.
HOT_PATHS = ("dispatch", "ndjson", "resp")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-extensions",
        action="store_true",
        default=False,
        help="skip the tests that run against the compiled twins",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "speedups: runs against the compiled Cython twins")


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


def load_twins(name: str) -> SimpleNamespace:
    """The modules of one implementation (``"python"`` or ``"cython"``) as a namespace."""
    suffix = "py" if name == "python" else "c"
    twins = SimpleNamespace(name=name)
    for stem in HOT_PATHS:
        setattr(twins, stem, import_module(f"papyra._speedups.{stem}_{suffix}"))
    return twins


@pytest.fixture(
    scope="session",
    params=["python", pytest.param("cython", marks=pytest.mark.speedups)],
)
def impl(request: pytest.FixtureRequest) -> Any:
    """One implementation's twins: ``impl.name``, ``impl.dispatch``, ``impl.ndjson``,
    ``impl.resp``."""
    name = str(request.param)
    if name == "cython" and NO_EXTENSIONS:
        pytest.skip("compiled speedups disabled (PAPYRA_NO_EXTENSIONS)")
    try:
        return load_twins(name)
    except ImportError:
        if REQUIRE_EXTENSIONS or name == "python":
            raise
        pytest.skip("compiled speedups are not built (run `make ext`)")


# -- a large NDJSON log, for the bounded-memory tests and the persistence benchmarks ------------

LINES = 1_000_000
CORRUPT_EVERY = 100_003  # a few damaged lines so that recovery has to rewrite


def write_big_log(path: Path, lines: int = LINES) -> Path:
    """``lines`` records of ~150 bytes (mixed kinds), a few corrupted lines, a torn tail."""
    kinds = ("event", "event", "event", "dead_letter", "audit")
    with open(path, "wb", buffering=4 * 1024 * 1024) as f:
        for i in range(lines):
            if i % CORRUPT_EVERY == CORRUPT_EVERY - 1:
                f.write(b'{"kind":"event","oops\n')
                continue
            f.write(
                orjson.dumps(
                    {
                        "kind": kinds[i % 5],
                        "system_id": "local",
                        "actor_address": f"local:{i % 977}",
                        "event_type": "ActorStarted",
                        "payload": {"n": i, "note": "x" * (i % 13)},
                        "timestamp": 1763800000.0 + i * 0.001,
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )
        f.write(b'{"kind":"event","tor')
    return path


@pytest.fixture(scope="session")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000,000-line log with a few damaged lines and a torn tail, written once per session."""
    return write_big_log(tmp_path_factory.mktemp("big") / "big.ndjson")

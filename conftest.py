"""Fixtures shared by ``tests/`` and ``benchmarks/``: the anyio backends and both twins.

``impl`` is the one harness that runs a test against both implementations of every hot path
(``impl.dispatch``, ``impl.ndjson``, ``impl.resp``): the pure-Python ``_py`` references and
the compiled ``_c`` twins. The compiled param is marked ``speedups``; it is skipped when the
twins are not built or ``PAPYRA_NO_EXTENSIONS`` is set, and a missing build is an error under
``PAPYRA_REQUIRE_EXTENSIONS=1``. A new twin joins by adding its stem to :data:`HOT_PATHS`.

``anyio_backend`` runs async tests on asyncio and trio everywhere, and on asyncio with uvloop's
event loop (param ``uvloop``) in the runtime-level directories of :data:`UVLOOP_SCOPE`; with
``PAPYRA_UVLOOP=all`` the uvloop param runs everywhere. Without uvloop installed the uvloop
params are deselected and the run ends with one line saying how to get it;
``PAPYRA_REQUIRE_UVLOOP=1`` (set by ``.ci/run``) keeps them, and each fails instead.
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
REQUIRE_UVLOOP = os.environ.get("PAPYRA_REQUIRE_UVLOOP", "") not in _OFF
UVLOOP_EVERYWHERE = os.environ.get("PAPYRA_UVLOOP", "") == "all"

#: Directories (relative to this file) whose async tests also run on uvloop: the runtime and its
#: public surface. The rest (persistence, cluster, CLI, contrib: I/O-bound and slow) runs on
#: asyncio and trio only, unless ``PAPYRA_UVLOOP=all``.
#: Where the uvloop param runs by default: the runtime, and the Redis client under the Redis
#: backend and the cluster (uvloop's transports are not asyncio's: the client once failed there).
UVLOOP_SCOPE = (
    "tests/runtime", "tests/api", "tests/testing", "tests/speedups",
    "tests/persistence/redis", "tests/cluster",
)
_ROOT = Path(__file__).parent
HOW_TO_GET_UVLOOP = (
    "uvloop is not installed: `pip install uvloop` (or the `test` extra) "
    "to run the tests on uvloop's event loop"
)
_UVLOOP_MISSING = pytest.StashKey[int]()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True

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
    config.addinivalue_line("markers", "uvloop: runs on asyncio with uvloop's event loop")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _deselect_uvloop(config, items)
    if not (config.getoption("--no-extensions") or NO_EXTENSIONS):
        return
    skip = pytest.mark.skip(reason="compiled speedups disabled (PAPYRA_NO_EXTENSIONS)")
    for item in items:
        if "speedups" in item.keywords:
            item.add_marker(skip)


def _deselect_uvloop(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the uvloop params outside :data:`UVLOOP_SCOPE`, and all of them without uvloop."""
    scope = tuple(_ROOT / path for path in UVLOOP_SCOPE)
    missing = not REQUIRE_UVLOOP and not _has_uvloop()
    keep: list[pytest.Item] = []
    out_of_scope: list[pytest.Item] = []
    not_installed: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("anyio_backend") != "uvloop":
            keep.append(item)
        elif not UVLOOP_EVERYWHERE and not any(item.path.is_relative_to(p) for p in scope):
            out_of_scope.append(item)
        elif missing:
            not_installed.append(item)
        else:
            keep.append(item)
    if out_of_scope or not_installed:
        config.hook.pytest_deselected(items=out_of_scope + not_installed)
        items[:] = keep
    if not_installed:
        config.stash[_UVLOOP_MISSING] = len(not_installed)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    missing = config.stash.get(_UVLOOP_MISSING, 0)
    if missing:
        terminalreporter.write_line(
            f"{missing} uvloop params not run (deselected): {HOW_TO_GET_UVLOOP}"
        )


@pytest.fixture(params=["asyncio", "trio", pytest.param("uvloop", marks=pytest.mark.uvloop)])
def anyio_backend(request: pytest.FixtureRequest) -> str | tuple[str, dict[str, Any]]:
    """``"asyncio"``, ``"trio"``, or uvloop's loop: ``("asyncio", {"use_uvloop": True})``.

    Tests that need the backend's name (e.g. to pass it to a subprocess) use
    ``anyio_backend_name``, from anyio's plugin.
    """
    if request.param != "uvloop":
        return str(request.param)
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if REQUIRE_UVLOOP:
            pytest.fail(HOW_TO_GET_UVLOOP + " (PAPYRA_REQUIRE_UVLOOP=1 makes this an error)")
        pytest.skip(HOW_TO_GET_UVLOOP)
    return ("asyncio", {"use_uvloop": True})


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

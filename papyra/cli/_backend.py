"""Which persistence backend a command works on, and the checks made before touching it.

* ``--path PATH`` → a new ``JsonFilePersistence(PATH)`` (always the JSON backend, as in 0.3.0),
  closed when the command ends. The path is checked first: a directory, a missing parent
  directory or a file this process may not read (or, for commands that rewrite it, write) is
  a one-line error with exit code 1 -- nothing is created or changed.
* no ``--path`` → ``papyra.monkay.settings.persistence``: the backend of the active settings
  (``PAPYRA_SETTINGS_MODULE``, see ``docs/settings.md``). It belongs to the settings and is
  left open. Settings that cannot be loaded are a one-line error, exit code 1.

While the settings are loaded the current directory is on ``sys.path`` (at the end, so it never
shadows an installed module): ``PAPYRA_SETTINGS_MODULE=mysettings.Settings papyra ...`` works
from the project directory, as ``python -m`` would, without setting ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from papyra import conf
from papyra.cli._base import fail
from papyra.persistence.models import PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupMode

__all__ = (
    "check_path",
    "configured_backend",
    "open_backend",
    "parse_recovery_mode",
    "parse_startup_mode",
    "prepare_quarantine_dir",
)


def parse_recovery_mode(value: str) -> PersistenceRecoveryMode:
    """``ignore`` / ``repair`` / ``quarantine`` / ``rebuild``, any case; else exit 1."""
    try:
        return PersistenceRecoveryMode(value.strip().lower())
    except ValueError:
        fail(f"Invalid recovery mode: {value}")


def parse_startup_mode(value: str, *, label: str = "startup mode") -> PersistenceStartupMode:
    """``ignore`` / ``scan_only`` / ``recover`` / ``fail_on_anomaly``, any case, ``-`` for ``_``."""
    try:
        return PersistenceStartupMode(value.strip().lower().replace("-", "_"))
    except ValueError:
        fail(f"Invalid {label}: {value}")


def prepare_quarantine_dir(directory: str) -> str:
    """Create the quarantine directory (``mkdir -p``); an unusable one is exit 1."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        fail(f"Cannot create the quarantine directory {directory!r}: {exc.strerror or exc}")
    return directory


def check_path(path: str, *, writes: bool = False) -> None:
    """Refuse a ``--path`` the JSON backend cannot use, before anything is opened.

    A missing file is fine (the commands treat it as empty); its directory must exist.
    ``writes``: the command may rewrite the file (recover, compact), so the file and its
    directory must be writable too.
    """
    if not path:
        fail("--path must not be empty")
    if os.path.isdir(path):
        fail(f"--path {path!r} is a directory; give the NDJSON file inside it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        fail(f"--path {path!r}: the directory {parent!r} does not exist")
    exists = os.path.lexists(path)
    if exists and not os.path.exists(path):
        fail(f"--path {path!r} is a broken symbolic link")
    if exists and not os.access(path, os.R_OK):
        fail(f"--path {path!r} is not readable (permission denied)")
    if writes:
        if exists and not os.access(path, os.W_OK):
            fail(f"--path {path!r} is not writable (permission denied)")
        if not os.access(parent, os.W_OK | os.X_OK):
            fail(f"--path {path!r}: the directory {parent!r} is not writable (permission denied)")


@contextmanager
def _cwd_importable() -> Iterator[None]:
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            try:
                sys.path.remove(cwd)
            except ValueError:
                pass


def configured_backend() -> Any:
    """``papyra.monkay.settings.persistence``; settings that cannot be loaded → exit 1."""
    try:
        with _cwd_importable():
            settings = conf.monkay.settings
    except conf.ImproperlyConfigured as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"Cannot load the Papyra settings: {type(exc).__name__}: {exc}")
    try:
        return settings.persistence
    except AttributeError:
        fail(f"The Papyra settings ({type(settings).__name__}) define no 'persistence' backend")


@asynccontextmanager
async def open_backend(
    path: str | None, factory: Callable[[str], Any], *, writes: bool = False
) -> AsyncIterator[Any]:
    """The backend for one command; OS errors while using it become one-line errors (exit 1).

    ``factory`` builds the backend for ``--path``: the commands pass the class
    ``JsonFilePersistence`` itself, looked up in their module when they run (so a test can
    substitute it there).
    """
    if path is not None:
        check_path(path, writes=writes)
        backend = factory(path)
    else:
        backend = configured_backend()
    try:
        yield backend
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        fail(f"Persistence I/O failed{where}: {exc.strerror or exc}")
    finally:
        if path is not None:
            await backend.aclose()


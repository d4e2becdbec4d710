"""Which persistence backend a command uses, and the checks made before touching it.

Every command that opens a backend takes the same options (:func:`backend_options`):

* ``--path PATH`` → a new ``JsonFilePersistence(PATH)`` (always the JSON backend, as in 0.3.0).
  The path is checked first: a directory, a missing parent directory or a file this process
  may not read (or, for commands that rewrite it, write) is a one-line error with exit code
  1 -- nothing is created or changed.
* ``--url URL [--prefix P] [--system-id S]`` → a new ``RedisStreamsPersistence`` on the streams
  ``P:S:events`` / ``P:S:audits`` / ``P:S:dead_letters`` (defaults ``papyra`` and ``local``).
  The module is imported only then. A server that cannot be reached, or refuses a command, is
  a one-line error (exit 1).
* neither → ``papyra.monkay.settings.persistence``: the backend of the active settings
  (``PAPYRA_SETTINGS_MODULE``, see ``docs/settings.md``). It belongs to the settings and is
  left open. Settings that cannot be loaded are a one-line error, exit code 1.

``--path`` with ``--url``, and ``--prefix`` / ``--system-id`` without ``--url``, are usage
errors (exit 2). A backend built from options is closed when the command ends. All
construction happens in :func:`build_backend`, here and nowhere else.

While the settings are loaded the current directory is on ``sys.path`` (at the end, so it never
shadows an installed module): ``PAPYRA_SETTINGS_MODULE=mysettings.Settings papyra ...`` works
from the project directory, as ``python -m`` would, without setting ``PYTHONPATH``.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from papyra import conf
from papyra.cli._base import POSITIVE_INT, POSITIVE_SECONDS, fail
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupMode

__all__ = (
    "DEFAULT_PREFIX",
    "DEFAULT_SYSTEM_ID",
    "BackendSource",
    "backend_options",
    "build_backend",
    "check_path",
    "configured_backend",
    "is_connection_error",
    "open_backend",
    "parse_recovery_mode",
    "parse_startup_mode",
    "prepare_quarantine_dir",
    "retention_options",
)

F = TypeVar("F", bound=Callable[..., Any])

#: Where ``--url`` finds the Redis Streams backend (imported only when ``--url`` is given).
DEFAULT_PREFIX = "papyra"
DEFAULT_SYSTEM_ID = "local"
_REDIS_SCHEMES = ("redis", "rediss", "unix")


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


# -- choosing the backend ---------------------------------------------------------------------


@dataclass(frozen=True)
class BackendSource:
    """What the backend options of one invocation asked for.

    ``path``: the JSON file of ``--path``; ``url``, ``prefix``, ``system_id``: the Redis streams
    of ``--url``; neither: the configured ``settings.persistence``.
    """

    path: str | None = None
    url: str | None = None
    prefix: str = DEFAULT_PREFIX
    system_id: str = DEFAULT_SYSTEM_ID

    @property
    def explicit(self) -> bool:
        """``True`` when the command builds (and closes) its own backend from options."""
        return self.path is not None or self.url is not None

    @classmethod
    def from_options(
        cls,
        path: str | None,
        url: str | None,
        prefix: str | None,
        system_id: str | None,
    ) -> BackendSource:
        """Check how the options combine; a contradiction is a usage error (exit 2)."""
        if path is not None and url is not None:
            raise click.UsageError(
                "--path and --url cannot be used together: --path names a JSON file, "
                "--url a Redis server.",
                ctx=click.get_current_context(silent=True),
            )
        if url is None and (prefix is not None or system_id is not None):
            given = "--prefix" if prefix is not None else "--system-id"
            raise click.UsageError(
                f"{given} needs --url (it names the Redis streams to use).",
                ctx=click.get_current_context(silent=True),
            )
        for name, value in (("--url", url), ("--prefix", prefix), ("--system-id", system_id)):
            if value is not None and not value.strip():
                fail(f"{name} must not be empty")
        if url is not None and urlsplit(url).scheme.lower() not in _REDIS_SCHEMES:
            fail(
                f"--url {redact_url(url)!r} is not a Redis URL: "
                "give redis://HOST:PORT/DB, rediss://HOST:PORT/DB or unix:///PATH/TO/SOCKET"
            )
        return cls(
            path=path,
            url=url,
            prefix=DEFAULT_PREFIX if prefix is None else prefix,
            system_id=DEFAULT_SYSTEM_ID if system_id is None else system_id,
        )


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://user:***@host``), for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return url


_PATH_HELP = (
    "NDJSON file to use (a JsonFilePersistence); default: the configured settings.persistence."
)


def backend_options(fn: F) -> F:
    """Add ``--path``, ``--url``, ``--prefix`` and ``--system-id`` to a command.

    The command receives them as one keyword argument ``source`` (a :class:`BackendSource`),
    checked before the command body runs. Put it directly under ``@<group>.command(...)``.
    """

    @functools.wraps(fn)
    def command(
        *args: Any,
        path: str | None,
        url: str | None,
        prefix: str | None,
        system_id: str | None,
        **kwargs: Any,
    ) -> Any:
        source = BackendSource.from_options(path, url, prefix, system_id)
        return fn(*args, source=source, **kwargs)

    options = (
        click.option("--path", type=click.Path(readable=False), default=None, help=_PATH_HELP),
        click.option(
            "--url",
            default=None,
            metavar="URL",
            help="Redis server to use (a RedisStreamsPersistence), e.g. "
            "redis://localhost:6379/0; not together with --path.",
        ),
        click.option(
            "--prefix",
            default=None,
            metavar="P",
            help=f"With --url: key prefix of the streams (default: {DEFAULT_PREFIX}).",
        ),
        click.option(
            "--system-id",
            default=None,
            metavar="S",
            help=f"With --url: system id in the stream keys (default: {DEFAULT_SYSTEM_ID}).",
        ),
    )
    decorated: Any = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def retention_options(fn: F) -> F:
    """Add ``--max-records``, ``--max-age`` and ``--max-bytes`` to a command.

    The command receives them as one keyword argument ``retention``: a
    :class:`RetentionPolicy`, or ``None`` when none of them is given.
    """

    @functools.wraps(fn)
    def command(
        *args: Any,
        max_records: int | None,
        max_age: float | None,
        max_bytes: int | None,
        **kwargs: Any,
    ) -> Any:
        retention = None
        if (max_records, max_age, max_bytes) != (None, None, None):
            retention = RetentionPolicy(
                max_records=max_records, max_age_seconds=max_age, max_total_bytes=max_bytes
            )
        return fn(*args, retention=retention, **kwargs)

    options = (
        click.option(
            "--max-records",
            type=POSITIVE_INT,
            default=None,
            metavar="N",
            help="Keep only the newest N records (retention max_records).",
        ),
        click.option(
            "--max-age",
            type=POSITIVE_SECONDS,
            default=None,
            metavar="SECONDS",
            help="Keep only records at most SECONDS old (retention max_age_seconds).",
        ),
        click.option(
            "--max-bytes",
            type=POSITIVE_INT,
            default=None,
            metavar="N",
            help="Keep the newest records that fit in N bytes (retention max_total_bytes).",
        ),
    )
    decorated: Any = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def build_backend(
    source: BackendSource, *, writes: bool = False, retention: RetentionPolicy | None = None
) -> Any:
    """The backend ``source`` names: the one place where the CLI constructs backends.

    ``retention`` is the policy of a backend built from ``--path`` / ``--url``; the configured
    backend keeps its own (the commands refuse retention options without ``--path`` / ``--url``).
    """
    if source.path is not None:
        check_path(source.path, writes=writes)
        return JsonFilePersistence(source.path, retention_policy=retention)
    if source.url is not None:
        from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

        config = RedisStreamsConfig(
            url=source.url, prefix=source.prefix, system_id=source.system_id
        )
        try:
            return RedisStreamsPersistence(config, retention_policy=retention)
        except ValueError as exc:  # a URL the scheme check let through (bad port, database)
            fail(f"--url {redact_url(source.url)!r}: {exc}")
    return configured_backend()


def is_connection_error(exc: BaseException) -> bool:
    """A failure to reach a server: ``OSError`` (``RedisUnavailableError`` is a
    ``ConnectionError``, hence one) or a timeout."""
    return isinstance(exc, (OSError, TimeoutError))


@asynccontextmanager
async def open_backend(
    source: BackendSource, *, writes: bool = False, retention: RetentionPolicy | None = None
) -> AsyncIterator[Any]:
    """The backend for one command; OS and connection errors while using it become one-line
    errors (exit 1). A backend built from options is closed at the end."""
    backend = build_backend(source, writes=writes, retention=retention)
    try:
        yield backend
    except Exception as exc:
        if source.url is not None:
            from papyra._redis.client import RedisError, RedisUnavailableError

            if isinstance(exc, RedisUnavailableError):
                fail(f"Cannot reach Redis: {exc}")  # the message names the URL
            if isinstance(exc, RedisError):
                fail(f"Redis at {redact_url(source.url)} refused a command: {exc}")
            if is_connection_error(exc):
                fail(f"Cannot reach Redis at {redact_url(source.url)}: {exc}")
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            fail(f"Persistence I/O failed{where}: {exc.strerror or exc}")
        raise
    finally:
        if source.explicit:
            await backend.aclose()

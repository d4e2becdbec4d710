"""Papyra's settings manager: finds, builds and caches the active settings object.

The active settings come from, in order of precedence:

1. an explicit ``manager.settings = value`` (an instance, a class, or a dotted path);
2. the environment variable (``PAPYRA_SETTINGS_MODULE``), read when the settings are first
   needed, naming a settings *class* as ``package.module.ClassName`` (``package.module:ClassName``
   is accepted too);
3. the default path (``papyra.conf.global_settings.Settings``).

The result is built once and cached; ``del manager.settings`` forgets both the cache and any
explicit value, so the next access starts again from the environment.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ("ImproperlyConfigured", "SettingsImportError", "SettingsManager")

_UNSET: Any = object()


class ImproperlyConfigured(Exception):
    """The settings source is unusable (a module instead of a class, a bad value, ...)."""


class SettingsImportError(ImproperlyConfigured, ImportError):
    """The settings path could not be imported (also an ``ImportError``)."""


class SettingsManager:
    """Lazily loads and caches one settings object.

    Thread-safe: concurrent first accesses build the settings once. Accessing the settings
    from inside the settings class's own ``__init__`` raises :class:`ImproperlyConfigured`
    instead of recursing.
    """

    def __init__(self, *, env_var: str, default_path: str) -> None:
        self.env_var = env_var
        self.default_path = default_path
        self._lock = threading.RLock()
        self._loading = False
        # One attribute, so the lock-free read in ``settings`` sees either the old or the new
        # state, never a mix; _UNSET means "not loaded".
        self._cached: Any = _UNSET
        # Explicit source: a dotted path or a class; None = use the environment.
        self._source: str | type | None = None
        self._loaded_from: str | None = None  # the path the cached object was built from

    # -- the settings object -------------------------------------------------------------

    @property
    def settings(self) -> Any:
        """The active settings object, built on first access and then cached."""
        cached = self._cached
        if cached is not _UNSET:
            return cached
        with self._lock:
            if self._cached is _UNSET:
                self._cached = self._guarded(self._build)
            return self._cached

    @settings.setter
    def settings(self, value: Any) -> None:
        if isinstance(value, str):
            path = value.strip()
            if not path:
                raise ImproperlyConfigured("The settings path must not be empty.")
            with self._lock:  # imported lazily, on the next access
                self._source = path
                self._cached = _UNSET
        elif isinstance(value, type):
            with self._lock:
                # Built now, so a broken class fails at the assignment and the previous
                # settings stay active.
                where = f"settings class {value.__module__}.{value.__qualname__}"
                instance = self._guarded(lambda: self._instantiate(value, where))
                self._source = value
                self._loaded_from = None
                self._cached = instance
        elif value is None or isinstance(value, types.ModuleType):
            raise TypeError(
                "Papyra settings must be a settings instance, a settings class or a dotted "
                f"path to a settings class, not {value!r}; use `del monkay.settings` to "
                "return to the environment/default settings."
            )
        else:
            with self._lock:
                self._source = None
                self._loaded_from = None
                self._cached = value

    @settings.deleter
    def settings(self) -> None:
        with self._lock:
            self._source = None
            self._cached = _UNSET

    @property
    def settings_path(self) -> str | None:
        """The dotted path the active settings come (or will come) from; ``None`` when an
        instance or a class was assigned directly."""
        with self._lock:
            if self._cached is not _UNSET:
                return self._loaded_from
            if isinstance(self._source, str):
                return self._source
            return self._env_path()

    @property
    def settings_loaded(self) -> bool:
        """Whether the settings object has been built (or assigned) and cached."""
        return self._cached is not _UNSET

    def evaluate_settings(
        self,
        *,
        ignore_import_errors: bool = False,
        ignore_preload_import_errors: bool = True,
        onetime: bool = True,
    ) -> bool:
        """Load the settings now if they are not loaded yet; return whether they are loaded.

        With ``ignore_import_errors=True`` a settings path that cannot be imported returns
        ``False`` instead of raising :class:`SettingsImportError` (the next access tries
        again). Other errors always propagate. ``ignore_preload_import_errors`` and
        ``onetime`` are accepted for call compatibility with Papyra 0.3.0's manager: there
        are no preloads, and loading always happens once per cache.
        """
        del ignore_preload_import_errors, onetime
        try:
            _ = self.settings  # builds and caches them on first access
        except SettingsImportError:
            if ignore_import_errors:
                return False
            raise
        return True

    def __repr__(self) -> str:
        state = "loaded" if self._cached is not _UNSET else "not loaded"
        return f"<SettingsManager {self._describe_source()} ({state})>"

    # -- loading -------------------------------------------------------------------------

    def _env_path(self) -> str:
        return os.environ.get(self.env_var, "").strip() or self.default_path

    def _describe_source(self) -> str:
        if isinstance(self._source, str):
            return f"settings path {self._source!r}"
        if isinstance(self._source, type):
            return f"settings class {self._source.__module__}.{self._source.__qualname__}"
        if os.environ.get(self.env_var, "").strip():
            return f"{self.env_var}={self._env_path()!r}"
        return f"default settings {self.default_path!r}"

    def _guarded(self, build: Callable[[], Any]) -> Any:
        # Called with the lock held; the RLock lets the same thread re-enter, so a
        # settings class reading papyra.settings while being built is caught here.
        if self._loading:
            raise ImproperlyConfigured(
                "Papyra settings were accessed while they were being created "
                f"({self._describe_source()}); a settings class must not read "
                "papyra.settings in __init__ or post_init."
            )
        self._loading = True
        try:
            return build()
        finally:
            self._loading = False

    def _build(self) -> Any:
        # A class assigned directly is built by the setter, so only paths get here.
        path = self._source if isinstance(self._source, str) else self._env_path()
        self._loaded_from = path
        where = self._describe_source()
        target = self._import(path, where)
        if isinstance(target, types.ModuleType):
            raise ImproperlyConfigured(
                f"{where} names a module, not a settings class. "
                f"Point it at the class instead{_suggest_classes(target)}."
            )
        if isinstance(target, type):
            return self._instantiate(target, where)
        if _is_settings_instance(target):
            return target
        raise ImproperlyConfigured(
            f"{where} names {type(target).__name__} {target!r}, not a settings class."
        )

    @staticmethod
    def _instantiate(cls: type, where: str) -> Any:
        if not _is_settings_class(cls):
            raise ImproperlyConfigured(
                f"{where} is not a settings class (a subclass of "
                "papyra.conf.global_settings.BaseSettings)."
            )
        return cls()

    @staticmethod
    def _import(path: str, where: str) -> Any:
        if ":" in path:
            module_path, _, attr = path.partition(":")
        else:
            module_path, _, attr = path.rpartition(".")
        if not module_path:  # a bare name can only be a module; import it to say so
            module_path, attr = attr, ""
        module = _import_module(module_path, where)
        if not attr:
            return module
        try:
            return getattr(module, attr)
        except AttributeError:
            pass
        if ":" not in path:
            try:  # ``pkg.settings`` naming a submodule: reported as "names a module"
                return importlib.import_module(path)
            except ImportError:
                pass
        raise SettingsImportError(
            f"Cannot import the Papyra settings ({where}): "
            f"module {module_path!r} has no attribute {attr!r}"
        )


def _import_module(name: str, where: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise SettingsImportError(f"Cannot import the Papyra settings ({where}): {exc}") from exc
    except Exception as exc:
        raise ImproperlyConfigured(
            f"Importing the Papyra settings failed ({where}): {type(exc).__name__}: {exc}"
        ) from exc


def _is_settings_class(cls: type) -> bool:
    from papyra.conf.global_settings import BaseSettings

    return issubclass(cls, BaseSettings)


def _is_settings_instance(value: Any) -> bool:
    from papyra.conf.global_settings import BaseSettings

    return isinstance(value, BaseSettings)


def _suggest_classes(module: types.ModuleType) -> str:
    try:
        from papyra.conf.global_settings import BaseSettings
    except Exception:
        return ""
    found = [
        f"{module.__name__}.{name}"
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    if not found:
        return ""
    return ", e.g. " + " or ".join(repr(path) for path in found[:3])

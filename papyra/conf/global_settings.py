"""Settings classes: plain attributes with defaults, overridable from the environment.

A field is every annotated attribute whose name does not start with ``_`` and that is not a
``ClassVar``, collected over the MRO (base classes first). A subclass may change a default
without re-annotating it::

    class ProductionSettings(Settings):
        debug = True
        persistence = JsonFilePersistence("/var/lib/app/papyra.ndjson")

At construction, an environment variable named after a field in upper case (``DEBUG``,
``LOGGING_LEVEL``, ...) overrides keyword arguments and class defaults, cast to the field's
type (see :meth:`BaseSettings.__init__`).
"""

from __future__ import annotations

import builtins
import enum
import functools
import inspect
import os
import re
import sys
import types
import typing
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePath
from typing import Any, ClassVar, Literal, Union

from papyra import __version__
from papyra.logging import LoggingConfig
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.serializers import SerializerConfig, StandardSerializerConfig
from papyra.utils.logging import StandardLoggingConfig

__all__ = ("BaseSettings", "Settings", "safe_get_type_hints")

# Types built from a string by calling ``T(value)``; subclasses count too. Anything else
# (``Any``, containers, backends and other custom classes) cannot come from a string, so an
# environment variable for such a field is ignored instead of failing construction
# (0.3.0 raised for e.g. ``PERSISTENCE=...``).
_CASTABLE: builtins.tuple[type, ...] = (str, int, float, complex, Decimal, Fraction, PurePath)
_CLASSVAR_STRING = re.compile(r"^\s*(?:typing\.|t\.)?ClassVar\b")
_IGNORE = object()  # "no usable value from the environment"


def safe_get_type_hints(cls: type) -> builtins.dict[str, Any]:
    """Return the type hints of ``cls`` and its bases (base classes first).

    Uses :func:`typing.get_type_hints`; if that fails (an annotation names something that
    does not exist at runtime), falls back to each class's own annotations, resolving string
    annotations against that class's module and then the builtins, and keeping the raw
    string when even that fails.
    """
    try:
        return typing.get_type_hints(cls)
    except Exception:
        pass
    hints: builtins.dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        try:
            own = inspect.get_annotations(base)
        except Exception:
            continue
        module = sys.modules.get(base.__module__)
        namespace = builtins.dict(vars(module)) if module is not None else {}
        for name, hint in own.items():
            if isinstance(hint, str):
                try:
                    hint = eval(hint, namespace)  # same evaluation get_type_hints performs
                except Exception:
                    pass
            hints[name] = hint
    return hints


def _is_classvar(hint: Any) -> bool:
    if isinstance(hint, str):
        return _CLASSVAR_STRING.match(hint) is not None
    return hint is ClassVar or typing.get_origin(hint) is ClassVar


def _type_name(hint: Any) -> str:
    return str(getattr(hint, "__name__", None) or hint)


def _cast_error(value: str, hint: Any) -> ValueError:
    return ValueError(f"Cannot cast value '{value}' to type '{_type_name(hint)}'")


def _can_cast(hint: Any) -> bool:
    if hint is bool:
        return True
    if typing.get_origin(hint) is Literal:
        return True
    if isinstance(hint, type):
        return issubclass(hint, (*_CASTABLE, enum.Enum))
    return False


def _cast(value: str, hint: Any, truthy: set[str]) -> Any:
    """Convert an environment string to ``hint``; ``_IGNORE`` when the type cannot be built."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if not any(_can_cast(arg) for arg in members):
            return _IGNORE
        if len(members) > 1:
            raise _cast_error(value, hint)
        hint = members[0]
        origin = typing.get_origin(hint)
    if not _can_cast(hint):
        return _IGNORE
    if hint is bool:
        return value.strip().lower() in truthy
    if origin is Literal:
        for choice in typing.get_args(hint):
            if str(choice) == value:
                return choice
        raise _cast_error(value, hint)
    try:
        return hint(value)
    except Exception as exc:
        if isinstance(hint, type) and issubclass(hint, enum.Enum) and value in hint.__members__:
            return hint.__members__[value]
        raise _cast_error(value, hint) from exc


class BaseSettings:
    """Base class of every settings class; see the module docstring for what a field is."""

    __type_hints__: ClassVar[builtins.dict[str, Any]] = {}
    __truthy__: ClassVar[set[str]] = {"true", "1", "yes", "on", "y"}
    _field_hints_: ClassVar[builtins.dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__type_hints__ = safe_get_type_hints(cls)
        cls._field_hints_ = {
            name: hint
            for name, hint in cls.__type_hints__.items()
            if not name.startswith("_") and not _is_classvar(hint)
        }

    def __init__(self, **kwargs: Any) -> None:
        """Set ``kwargs`` as attributes, apply environment overrides, then :meth:`post_init`.

        For each field whose upper-cased name is an environment variable, the value is cast
        to the field's type: ``X | None`` is treated as ``X``; ``bool`` is true when the
        lower-cased value is in ``__truthy__``; ``str``, numbers, paths, enums and
        ``Literal`` choices are built from the string. Fields of other types (``Any``,
        containers, custom classes) ignore the environment. Raises ``ValueError``
        (``Cannot cast value '...' to type '...'``) when the cast fails or the field is a
        union of several castable types.
        """
        for name, value in kwargs.items():
            setattr(self, name, value)
        truthy = type(self).__truthy__
        for name, hint in type(self)._field_hints_.items():
            raw = os.environ.get(name.upper())
            if raw is None:
                continue
            value = _cast(raw, hint, truthy)
            if value is not _IGNORE:
                setattr(self, name, value)
        self.post_init()

    def post_init(self) -> None:
        """Called at the end of ``__init__``; override to derive or validate values."""

    def dict(
        self,
        exclude_none: bool = False,
        upper: bool = False,
        exclude: set[str] | None = None,
        include_properties: bool = False,
    ) -> builtins.dict[str, Any]:
        """Return ``{field: value}`` in declaration order (base classes first).

        ``exclude_none`` drops ``None`` values, ``upper`` upper-cases the keys, ``exclude``
        names fields (original spelling) to leave out, and ``include_properties`` adds the
        public ``property``/``cached_property`` values that can be computed without raising.
        Fields without any value (annotated, no default, not set) are left out.
        """
        skip = exclude or set()
        result: builtins.dict[str, Any] = {}

        def add(name: str, value: Any) -> None:
            if name in skip or (exclude_none and value is None):
                return
            result[name.upper() if upper else name] = value

        missing = object()
        fields = type(self)._field_hints_
        for name in fields:
            value = getattr(self, name, missing)
            if value is not missing:
                add(name, value)
        if include_properties:
            for name in self._property_names():
                if name in fields:
                    continue
                try:
                    value = getattr(self, name)
                except Exception:
                    continue
                add(name, value)
        return result

    def tuple(
        self,
        exclude_none: bool = False,
        upper: bool = False,
        exclude: set[str] | None = None,
        include_properties: bool = False,
    ) -> list[builtins.tuple[str, Any]]:
        """``list(self.dict(...).items())`` with the same options."""
        return list(
            self.dict(
                exclude_none=exclude_none,
                upper=upper,
                exclude=exclude,
                include_properties=include_properties,
            ).items()
        )

    @classmethod
    def _property_names(cls) -> list[str]:
        names: builtins.dict[str, None] = {}
        for base in reversed(cls.__mro__):
            for name in vars(base):
                if not name.startswith("_"):
                    names[name] = None
        return [
            name
            for name in names
            if isinstance(
                inspect.getattr_static(cls, name, None), (property, functools.cached_property)
            )
        ]


class Settings(BaseSettings):
    """Papyra's default settings (``PAPYRA_SETTINGS_MODULE`` unset).

    ``persistence`` is one :class:`InMemoryPersistence` created when this module is first
    imported and shared by every ``Settings()``; set a backend per instance or per subclass
    to change it.
    """

    debug: bool = False
    version: str = __version__
    secret_key: str | None = None
    logging_level: str = "INFO"
    persistence: Any = InMemoryPersistence()

    @property
    def logging_config(self) -> LoggingConfig | None:
        """``StandardLoggingConfig(level=self.logging_level)``; pass it to ``setup_logging``."""
        return StandardLoggingConfig(level=self.logging_level)

    @property
    def serializer_config(self) -> SerializerConfig | None:
        """``StandardSerializerConfig()``; pass it to ``setup_serializer``."""
        return StandardSerializerConfig()

"""Checks shared by the public entry points: enum-valued options and coroutine functions.

A leaf module (it imports nothing from Papyra), so the runtime and the persistence layer can
both use it. Each check raises one line naming the argument and what it accepts.
"""

from __future__ import annotations

import inspect
import os
from enum import Enum
from typing import Any, TypeVar

__all__ = ("check_recovery_config", "choices", "enum_member", "is_coroutine_callable")

_E = TypeVar("_E", bound=Enum)


def choices(enum_cls: type[Enum]) -> str:
    """The accepted spellings of ``enum_cls``'s members, for error messages.

    The value where it is a string that spells the name (``'restart'``), else the name
    (``CORRUPTED_LINE``, whose value is ``'3'``).
    """
    shown = []
    for member in enum_cls:
        value = member.value
        if isinstance(value, str) and value.lower() == member.name.lower():
            shown.append(repr(value))
        else:
            shown.append(member.name)
    return ", ".join(shown)


def enum_member(enum_cls: type[_E], value: object, what: str) -> _E:
    """The member of ``enum_cls`` that ``value`` designates.

    Accepted: a member; its value (exactly, or a string in any case); its name in any case.
    Anything else raises ``ValueError`` (a string or a value of the wrong kind) or
    ``TypeError`` (not a string), with ``what`` and the choices in the message, e.g.
    ``Invalid supervision strategy 'restrat': expected a Strategy or one of 'stop', ...``.
    """
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        try:
            return enum_cls(value)
        except ValueError:
            pass
        folded = value.lower()
        for member in enum_cls:
            if member.name.lower() == folded or (
                isinstance(member.value, str) and member.value.lower() == folded
            ):
                return member
        error: type[Exception] = ValueError
    else:
        error = TypeError
    raise error(
        f"Invalid {what} {value!r}: expected a {enum_cls.__name__} or one of "
        f"{choices(enum_cls)} (any case)."
    )


def is_coroutine_callable(fn: Any) -> bool:
    """True when calling ``fn`` returns a coroutine: an ``async def`` function or method, a
    ``functools.partial`` of one, or an object whose ``__call__`` is ``async def``."""
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isroutine(fn) or isinstance(fn, type):
        return False
    for klass in type(fn).__mro__:
        if "__call__" in klass.__dict__:
            return inspect.iscoroutinefunction(klass.__dict__["__call__"])
    return False


def check_recovery_config(value: object, what: str) -> None:
    """Refuse what cannot be a recovery config: ``None`` or an object with a ``mode``.

    A bare mode (``"repair"``, ``PersistenceRecoveryMode.REPAIR``) is the likely mistake: a
    backend would read it as "no config" and repair nothing.
    """
    if value is None or (not isinstance(value, (str, Enum)) and hasattr(value, "mode")):
        return
    raise TypeError(
        f"{what} must be a PersistenceRecoveryConfig or None, not {value!r} "
        "(e.g. PersistenceRecoveryConfig(mode='repair'))."
    )


_HOOK_NAMES = (
    "on_event",
    "on_dead_letter",
    "on_failure",
    "on_audit",
    "on_persistence_scan",
    "on_persistence_recovery",
)


def check_hooks(hooks: Any) -> None:
    """``None`` or any object (missing hook methods are not called, as in 0.3.0); refused: a
    class instead of an instance, and a hook attribute that is not callable."""
    if hooks is None:
        return
    if isinstance(hooks, type):
        raise TypeError(
            f"hooks must be an object, not the class {hooks.__name__}: pass an instance "
            f"({hooks.__name__}())."
        )
    for name in _HOOK_NAMES:
        if hasattr(hooks, name) and not callable(getattr(hooks, name)):
            raise TypeError(f"hooks.{name} must be callable, not {getattr(hooks, name)!r}.")


def check_startup_config(config: Any) -> None:
    """``None`` or a ``PersistenceStartupConfig``-shaped object; a bare mode is refused."""
    if config is None or (
        not isinstance(config, (str, Enum))
        and all(hasattr(config, name) for name in ("mode", "recovery", "timeout_seconds"))
    ):
        return
    raise TypeError(
        f"persistence_startup must be a PersistenceStartupConfig or None, not {config!r} "
        "(e.g. PersistenceStartupConfig(mode='recover'))."
    )


def check_persistence(backend: Any) -> None:
    """A backend object: not a path, not a class, with the three ``record_*`` coroutines."""
    if isinstance(backend, (str, bytes, os.PathLike)):
        raise TypeError(
            f"persistence must be a backend object, not the path {backend!r}: "
            "use JsonFilePersistence(path) (papyra.persistence)."
        )
    if isinstance(backend, type):
        raise TypeError(
            f"persistence must be a backend object, not the class {backend.__name__}: "
            f"pass an instance ({backend.__name__}(...))."
        )
    from papyra.persistence._records import KINDS  # not at import: _records imports this

    for name in (kind.method for kind in KINDS.values()):
        method = getattr(backend, name, None)
        if not callable(method):
            raise TypeError(
                "persistence must have async record_event, record_audit and "
                f"record_dead_letter methods; {type(backend).__name__} has no {name}() "
                "(subclass papyra.persistence.base.PersistenceBackend)."
            )
        if not is_coroutine_callable(method):
            raise TypeError(
                f"persistence.{name} must be a coroutine function (async def), "
                f"not {method!r}."
            )


def check_factory(actor_factory: Any) -> None:
    """An actor class or a callable returning an actor; an actor instance is refused."""
    if isinstance(actor_factory, type):
        return  # the instance it makes is checked when it is made
    if hasattr(actor_factory, "receive"):  # an Actor (or duck-typed actor) instance
        name = type(actor_factory).__name__
        raise TypeError(
            f"actor_factory must be an actor class or a factory, not a {name} instance: "
            f"pass the class ({name}) or a factory (lambda: {name}(...))."
        )
    if not callable(actor_factory):
        raise TypeError(
            "actor_factory must be an actor class or a callable returning an actor, "
            f"not {actor_factory!r}."
        )

"""Checks shared by the public entry points: enum-valued options and coroutine functions.

A leaf module (it imports nothing from Papyra), so the runtime and the persistence layer can
both use it. Each check raises one line naming the argument and what it accepts.
"""

from __future__ import annotations

import inspect
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

"""Describing a failure without keeping it alive: safe text, a bounded traceback, a detached copy.

Every place where the runtime turns an exception into text goes through here, because an
exception may fail to print (its ``__str__`` raises, or returns something that is not text)
and must still be an ordinary crash. What the event log keeps of a failure (``ActorCrashed``,
and the persisted record made from it) is what :func:`describe` returns: strings of bounded
size, and a :func:`detached` copy of the exception that references no traceback, so the log
never keeps the failing frames -- and every object their locals hold -- alive.
"""

from __future__ import annotations

import builtins
import importlib
import traceback
from typing import Any, NamedTuple

__all__ = (
    "MAX_MESSAGE",
    "MAX_TRACEBACK",
    "UNPRINTABLE",
    "Description",
    "describe",
    "detached",
    "format_traceback",
    "group_members",
    "message",
    "reason",
    "type_name",
)

#: The longest exception message kept (longer ones are cut, ending in "...").
MAX_MESSAGE = 2_000
#: The longest formatted traceback kept (longer ones keep their end: the raising frames).
MAX_TRACEBACK = 8_000
#: Frames kept per exception of a traceback (the innermost ones).
TRACEBACK_FRAMES = 32
#: The longest entry (one frame, or an exception's text) of a formatted traceback.
MAX_ENTRY = 1_000
#: What stands for the text of an exception that cannot be printed (as in ``traceback``).
UNPRINTABLE = "<exception str() failed>"
#: How far ``__cause__`` / ``__context__`` chains and exception groups are copied.
_DETACH_DEPTH = 8

_BaseExceptionGroup: Any = getattr(builtins, "BaseExceptionGroup", None)
if _BaseExceptionGroup is None:  # Python 3.10: the backport anyio depends on provides it
    try:
        _BaseExceptionGroup = importlib.import_module("exceptiongroup").BaseExceptionGroup
    except ImportError:  # pragma: no cover - anyio requires it on 3.10
        pass


class Description(NamedTuple):
    """What the runtime keeps of one failure."""

    error: BaseException  # a detached copy (see :func:`detached`)
    type: str
    message: str
    reason: str  # "TypeName: message", the 0.3.0 text
    traceback: str


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(exc: BaseException) -> str:
    """The exception's class as ``traceback`` names it: ``module.QualName`` (bare for builtins)."""
    cls = type(exc)
    try:
        name = str(cls.__qualname__)
        module = cls.__module__
    except Exception:
        return "<unknown exception type>"
    if module in ("builtins", "__main__") or not isinstance(module, str):
        return name
    return f"{module}.{name}"


def message(exc: BaseException) -> str:
    """``str(exc)``, at most :data:`MAX_MESSAGE` characters, or :data:`UNPRINTABLE`."""
    try:
        text = str(exc)
    except Exception:
        return UNPRINTABLE
    if type(text) is not str:  # a str subclass whose methods might misbehave too
        try:
            text = str.__str__(text)
        except Exception:
            return UNPRINTABLE
    return _clip(text, MAX_MESSAGE)


def reason(exc: BaseException) -> str:
    """``f"{type(exc).__name__}: {exc}"`` (the 0.3.0 text), safe and bounded."""
    try:
        name = str(type(exc).__name__)
    except Exception:
        name = "<unknown exception type>"
    return f"{name}: {message(exc)}"


def format_traceback(exc: BaseException) -> str:
    """The traceback ``traceback`` would print for ``exc``, at most :data:`MAX_TRACEBACK` long.

    Chained exceptions are included; each keeps its innermost :data:`TRACEBACK_FRAMES` frames,
    and each entry (a frame, an exception's text) at most :data:`MAX_ENTRY` characters. A
    traceback still too long keeps its beginning and, mostly, its end (where it was raised).
    """
    try:
        entries = traceback.format_exception(
            type(exc), exc, exc.__traceback__, limit=-TRACEBACK_FRAMES
        )
    except Exception:  # formatting must never turn a crash into a second one
        entries = [f"{type_name(exc)}: {message(exc)}\n(the traceback could not be formatted)\n"]
    text = "".join(
        entry if len(entry) <= MAX_ENTRY else entry[: MAX_ENTRY - 4] + "...\n"
        for entry in entries
    )
    if len(text) > MAX_TRACEBACK:
        head = MAX_TRACEBACK // 4
        marker = f"\n[... {len(text) - MAX_TRACEBACK} characters omitted ...]\n"
        tail = MAX_TRACEBACK - head - len(marker)
        text = text[:head] + marker + text[len(text) - tail :]
    return text


def group_members(exc: BaseException) -> tuple[BaseException, ...] | None:
    """The exceptions inside an exception group, or None for any other exception."""
    if _BaseExceptionGroup is not None and isinstance(exc, _BaseExceptionGroup):
        return tuple(exc.exceptions)
    return None


def detached(exc: BaseException) -> BaseException:
    """A copy of ``exc`` that references no traceback, hence no frame.

    Same class, same ``args``, a shallow copy of the instance ``__dict__``; its ``__cause__``,
    ``__context__``, the members of a group and exceptions among its ``args`` or attributes are
    detached the same way. The copy is made without calling the class's ``__init__`` (only
    builtin exception types are instantiated normally). If the class cannot be instantiated
    like that, the copy is a ``RuntimeError`` carrying :func:`reason`.
    """
    return _detach(exc, {}, 0)


def _detach(exc: BaseException, memo: dict[int, BaseException], depth: int) -> BaseException:
    copy = memo.get(id(exc))
    if copy is not None:
        return copy
    if depth > _DETACH_DEPTH:  # deeper than anyone reads: a stand-in, not a copy
        return RuntimeError(reason(exc))
    cls = type(exc)
    members = group_members(exc)
    copy = None
    try:
        if members is not None:
            parts = [_detach(m, memo, depth + 1) for m in members]
            copy = cls.__new__(cls, str(exc.message), parts)  # type: ignore[attr-defined]
        else:
            args = tuple(
                _detach(a, memo, depth + 1) if isinstance(a, BaseException) else a
                for a in exc.args
            )
            if cls.__module__ == "builtins":
                copy = cls(*args)
            else:
                copy = cls.__new__(cls, *args)
                copy.args = args
    except Exception:
        copy = None
    if copy is None:
        copy = RuntimeError(reason(exc))
    memo[id(exc)] = copy
    state = getattr(exc, "__dict__", None)
    if state and copy.__class__ is cls:
        try:
            copy.__dict__.update(
                {
                    key: _detach(value, memo, depth + 1)
                    if isinstance(value, BaseException)
                    else value
                    for key, value in state.items()
                }
            )
        except Exception:
            pass
    if depth < _DETACH_DEPTH:  # chains deeper than this end here
        if exc.__cause__ is not None:
            copy.__cause__ = _detach(exc.__cause__, memo, depth + 1)
        if exc.__context__ is not None:
            copy.__context__ = _detach(exc.__context__, memo, depth + 1)
    copy.__suppress_context__ = exc.__suppress_context__
    return copy


def describe(exc: BaseException) -> Description:
    """Everything the runtime keeps of the failure ``exc`` (no traceback object)."""
    text = message(exc)
    try:
        name = str(type(exc).__name__)
    except Exception:
        name = "<unknown exception type>"
    return Description(
        error=detached(exc),
        type=type_name(exc),
        message=text,
        reason=f"{name}: {text}",
        traceback=format_traceback(exc),
    )
